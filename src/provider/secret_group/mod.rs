//! The `truefoundry_secret_group` resource: plan/apply diffs become exact full-list PUTs.

pub mod diff;
mod dry_run;
pub mod model;
pub mod schema;
pub mod server_view;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use diff::{keys_to_send, plan_secrets, secrets_put_body};
use model::{Private, fqns_value, secrets_of, set_secret_fqns, versions_of, versions_value};
use server_view::{
    NewKeys, ServerSecrets, collaborators_of, list_group_secrets, refresh_group, refresh_secrets,
    server_versions, visible_to,
};

use super::ProviderContext;
use super::errors::api_error;
use super::identity::{Identity, NotFound, not_visible};
use crate::client::{self, Client, ListGroupsQuery, OwnedBy, SecretGroup, SecretGroupManifest};
use crate::diag::{AttributePath, Diagnostics};
use crate::schema::Schema;
use crate::server::{
    ApplyRequest, ApplyResponse, ClientCapabilities, ImportResponse, PlanRequest, PlanResponse,
    ReadRequest, ReadResponse, Resource,
};
use crate::value::Value;

/// The import id prefix that brings keys in without their values.
pub const WRITE_ONLY_IMPORT_PREFIX: &str = "write-only:";

pub struct SecretGroupResource {
    context: Arc<ProviderContext>,
}

impl SecretGroupResource {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupResource { context }
    }
}

#[async_trait::async_trait]
impl Resource for SecretGroupResource {
    fn schema(&self) -> Schema {
        schema::resource_schema()
    }

    async fn validate(&self, config: &Value, _capabilities: ClientCapabilities) -> Diagnostics {
        validate::validate(config)
    }

    async fn read(&self, request: ReadRequest) -> ReadResponse {
        let mut response = ReadResponse {
            private: request.private.clone(),
            ..ReadResponse::default()
        };
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diags) => {
                response.diagnostics = diags;
                return response;
            }
        };
        let current = &request.current_state;
        let id = current.get("id").as_str().unwrap_or_default().to_owned();
        let identity = self.context.identity();
        let tenant = current.get("tenant_name").as_str().unwrap_or_default();
        if !identity.check_tenant(&group_label(current), tenant, &mut response.diagnostics) {
            response.new_state = request.current_state;
            return response;
        }
        let mut private = Private::decode(&request.private);
        match read_group_state(client, &id, current, NewKeys::WithValues, false).await {
            Ok(Some(read)) => {
                response.new_state = read.state;
                private.visible_to = read.visible_to;
                response.private = private.encode();
            }
            Ok(None) => match identity.not_found(&who_could_see(current, &private)) {
                // Gone: removed from state, so the next plan creates it again.
                NotFound::Deleted => response.new_state = Value::Null,
                NotFound::Unproven(why) => {
                    not_visible(&mut response.diagnostics, &group_label(current), &id, &why);
                    response.new_state = request.current_state;
                }
            },
            Err(err) => {
                api_error(
                    &mut response.diagnostics,
                    &format!("reading secret group {id}"),
                    &err,
                );
                response.new_state = request.current_state;
            }
        }
        response
    }

    async fn plan(&self, request: PlanRequest) -> PlanResponse {
        let mut response = plan(&request);
        if request.prior_state.is_null() && request.proposed_new_state.is_null() {
            return response;
        }
        let identity = self.context.identity();
        if !request.prior_state.is_null() {
            let prior = &request.prior_state;
            let tenant = prior.get("tenant_name").as_str().unwrap_or_default();
            if !identity.check_tenant(&group_label(prior), tenant, &mut response.diagnostics) {
                return response;
            }
        }
        if !response.diagnostics.has_errors()
            && let Ok(client) = self.context.client()
        {
            dry_run::check_planned_manifest(client, &request, &mut response).await;
        }
        response
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        let mut response = ApplyResponse::default();
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diags) => {
                response.diagnostics = diags;
                response.new_state = request.prior_state;
                return response;
            }
        };
        let prior = &request.prior_state;
        if !prior.is_null() {
            let tenant = prior.get("tenant_name").as_str().unwrap_or_default();
            if !self.context.identity().check_tenant(
                &group_label(prior),
                tenant,
                &mut response.diagnostics,
            ) {
                response.new_state = request.prior_state;
                return response;
            }
        }
        if request.planned_state.is_null() {
            delete(client, self.context.identity(), &request, &mut response).await;
        } else if request.prior_state.is_null() {
            create(client, &request, &mut response).await;
        } else {
            let id = request
                .prior_state
                .get("id")
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let _guard = self.context.lock_group(&id).await;
            update(
                client,
                self.context.identity(),
                &id,
                &request,
                &mut response,
            )
            .await;
        }
        response
    }

    async fn import(&self, id: &str) -> ImportResponse {
        let mut response = ImportResponse::default();
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diags) => {
                response.diagnostics = diags;
                return response;
            }
        };
        let (lookup, new_keys) = match id.strip_prefix(WRITE_ONLY_IMPORT_PREFIX) {
            Some(rest) => (rest, NewKeys::WithoutValues),
            None => (id, NewKeys::WithValues),
        };
        let identity = self.context.identity();
        if let Some((tenant, _)) = lookup.split_once(':')
            && !identity.check_tenant(lookup, tenant, &mut response.diagnostics)
        {
            return response;
        }
        let group = match find_group(client, lookup).await {
            Ok(Some(group))
                if !identity.check_tenant(
                    &group.fqn,
                    &group.tenant_name,
                    &mut response.diagnostics,
                ) =>
            {
                return response;
            }
            Ok(Some(group)) => group,
            Ok(None) => {
                response.diagnostics.error(
                    "Secret Group Not Found",
                    format!(
                        "No secret group `{lookup}` is visible to this API key. Import by id, or by FQN \
                         `<tenant>:<name>`, of a group the key's subject can see."
                    ),
                );
                return response;
            }
            Err(err) => {
                api_error(
                    &mut response.diagnostics,
                    &format!("looking up secret group {lookup}"),
                    &err,
                );
                return response;
            }
        };
        // Import adopts everything: collaborators and every key (values unless write-only form).
        let mut prior = server_view::empty_state();
        prior.set("secrets", Value::Map(BTreeMap::new()));
        match read_group_state(client, &group.id, &prior, new_keys, true).await {
            Ok(Some(read)) => {
                let private = Private {
                    synced_versions: server_versions(&read.server),
                    visible_to: read.visible_to,
                };
                response.states.push((read.state, private.encode()));
            }
            Ok(None) => response.diagnostics.error(
                "Secret Group Not Found",
                format!("The secret group `{lookup}` was deleted while it was being imported."),
            ),
            Err(err) => api_error(
                &mut response.diagnostics,
                &format!("reading secret group {lookup}"),
                &err,
            ),
        }
        response
    }
}

/// A group by id, or by FQN (`tenant:name`) when the text has a colon.
async fn find_group(
    client: &Client,
    id_or_fqn: &str,
) -> Result<Option<SecretGroup>, client::Error> {
    if id_or_fqn.contains(':') {
        return client.find_secret_group_by_fqn(id_or_fqn).await;
    }
    match client.get_secret_group(id_or_fqn).await {
        Ok(group) => Ok(Some(group)),
        Err(client::Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A group as read from the server.
struct GroupRead {
    state: Value,
    server: ServerSecrets,
    /// Who can see the group, for the next "not found".
    visible_to: BTreeSet<String>,
}

/// Reads a group (one request) and, when `prior` manages secrets, its secrets with values in one
/// paged call. `None` when the API says "not found", which may or may not mean deleted.
async fn read_group_state(
    client: &Client,
    id: &str,
    prior: &Value,
    new_keys: NewKeys,
    adopt: bool,
) -> Result<Option<GroupRead>, client::Error> {
    // Two independent reads: made at once, a refresh waits for one round trip, not two.
    let prior_secrets = secrets_of(prior);
    let listing = async {
        match prior_secrets {
            Some(_) => Some(list_group_secrets(client, id, new_keys == NewKeys::WithValues).await),
            None => None,
        }
    };
    let (group, listed) = tokio::join!(client.get_secret_group(id), listing);
    let group = match group {
        Ok(group) => group,
        // Whatever the listing said, a group that is gone has no secrets.
        Err(client::Error::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut state = refresh_group(&group, prior, adopt);
    let mut server = ServerSecrets::new();
    if let (Some(prior_secrets), Some(listed)) = (prior_secrets, listed) {
        server = listed?;
        refresh_secrets(&mut state, prior_secrets, &server, new_keys);
    }
    Ok(Some(GroupRead {
        state,
        server,
        visible_to: visible_to(&group),
    }))
}

/// `tenant:name` of a group in state, for messages (its id when it has no FQN yet).
fn group_label(state: &Value) -> String {
    match state.get("fqn").as_str() {
        Some(fqn) if !fqn.is_empty() => fqn.to_owned(),
        _ => state.get("id").as_str().unwrap_or_default().to_owned(),
    }
}

/// Subjects known to see a group in state: as last read, and its managed collaborators.
fn who_could_see(state: &Value, private: &Private) -> BTreeSet<String> {
    let mut subjects = private.visible_to.clone();
    subjects.extend(
        collaborators_of(state.get("collaborators"))
            .unwrap_or_default()
            .into_iter()
            .map(|collaborator| collaborator.subject),
    );
    subjects
}

fn plan(request: &PlanRequest) -> PlanResponse {
    let mut response = PlanResponse {
        planned_private: request.prior_private.clone(),
        ..PlanResponse::default()
    };
    if request.proposed_new_state.is_null() {
        return response;
    }
    let config = &request.config;
    let prior = &request.prior_state;
    let private = Private::decode(&request.prior_private);
    let mut planned = request.proposed_new_state.clone();

    // Values unknown at validate time may be known now: check again, errors only.
    for diag in validate::validate(config).0 {
        if diag.severity == crate::diag::Severity::Error {
            response.diagnostics.0.push(diag);
        }
    }

    let create = prior.is_null();
    if create {
        for computed in ["id", "fqn", "tenant_name"] {
            planned.set(computed, Value::Unknown);
        }
        if config.get("integration_fqn").is_null() {
            planned.set(
                "integration_fqn",
                Value::string(schema::DEFAULT_INTEGRATION_FQN),
            );
        }
    } else {
        if config.get("integration_fqn").is_null() {
            planned.set("integration_fqn", prior.get("integration_fqn").clone());
        }
        for forces_replacement in ["name", "integration_fqn"] {
            if planned.get(forces_replacement) != prior.get(forces_replacement) {
                response
                    .requires_replace
                    .push(AttributePath::root(forces_replacement));
            }
        }
    }

    // Terraform 1.0.x proposes null for a map-nested attribute configured as an empty map
    // (`secrets = {}`), then rejects a plan that keeps that null ("planned for absence but config
    // wants existence"). A non-computed attribute is planned as configured: take it from there.
    if planned.get("secrets").is_null()
        && config
            .get("secrets")
            .as_entries()
            .is_some_and(BTreeMap::is_empty)
    {
        planned.set("secrets", Value::Map(BTreeMap::new()));
    }
    match config.get("secrets") {
        Value::Map(config_secrets) => {
            let secrets_plan = plan_secrets(prior, config_secrets, &private);
            for key in &secrets_plan.missing_values {
                response.diagnostics.error_at(
                    AttributePath::root("secrets").key(key.clone()),
                    "Secret Key Needs A Value",
                    format!(
                        "The key `{key}` does not exist in the group yet, and TrueFoundry cannot create a \
                         key without a value. Set `value` or `value_wo` for it, or create the key \
                         elsewhere first and leave its value unmanaged."
                    ),
                );
            }
            if !secrets_plan.deleted.is_empty() && !create {
                response.diagnostics.warning_at(
                    AttributePath::root("secrets"),
                    "Secrets Will Be Deleted",
                    format!(
                        "Applying this plan deletes these keys, with all their versions, from the group: {}. \
                         They are in the group but not in `secrets` (keys added outside Terraform show up \
                         here too). Add them to `secrets` to keep them.",
                        secrets_plan.deleted.join(", ")
                    ),
                );
            }
            planned.set("secret_versions", Value::Map(secrets_plan.versions));
            if create {
                // The tenant, and so the FQNs, are known once the group exists.
                planned.set("secret_fqns", Value::Unknown);
            } else {
                let tenant = prior.get("tenant_name").as_str().unwrap_or_default();
                let name = planned.get("name").as_str().unwrap_or_default();
                planned.set(
                    "secret_fqns",
                    fqns_value(tenant, name, config_secrets.keys()),
                );
            }
        }
        Value::Unknown => {
            planned.set("secret_versions", Value::Unknown);
            planned.set("secret_fqns", Value::Unknown);
        }
        _ => {
            planned.set("secret_versions", Value::Null);
            planned.set("secret_fqns", Value::Null);
        }
    }
    response.planned_state = planned;
    response
}

fn manifest_of(planned: &Value, collaborators: Vec<client::Collaborator>) -> SecretGroupManifest {
    SecretGroupManifest {
        kind: "secret-group".to_owned(),
        name: planned.get("name").as_str().unwrap_or_default().to_owned(),
        integration_fqn: planned
            .get("integration_fqn")
            .as_str()
            .unwrap_or(schema::DEFAULT_INTEGRATION_FQN)
            .to_owned(),
        collaborators,
        owned_by: planned
            .get("owned_by_account")
            .as_str()
            .map(|account| OwnedBy {
                account: account.to_owned(),
            }),
    }
}

async fn delete(
    client: &Client,
    identity: &Identity,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let prior = &request.prior_state;
    let id = prior.get("id").as_str().unwrap_or_default();
    match client.delete_secret_group(id, false).await {
        Ok(()) => response.new_state = Value::Null,
        // Already gone is success, but only for a key that could have seen the group: for any
        // other key the group may well still be there.
        Err(client::Error::NotFound { .. }) => {
            let private = Private::decode(&request.planned_private);
            match identity.not_found(&who_could_see(prior, &private)) {
                NotFound::Deleted => response.new_state = Value::Null,
                NotFound::Unproven(why) => {
                    not_visible(&mut response.diagnostics, &group_label(prior), id, &why);
                    response.new_state = prior.clone();
                }
            }
        }
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("deleting secret group {id}"),
                &err,
            );
            response.new_state = prior.clone();
        }
    }
}

async fn create(client: &Client, request: &ApplyRequest, response: &mut ApplyResponse) {
    let planned = &request.planned_state;
    let name = planned.get("name").as_str().unwrap_or_default();
    // The manifest PUT upserts by name: refuse to silently adopt a group that already exists,
    // unless it is exactly what an interrupted earlier apply of this configuration left behind.
    let existing = client
        .list_secret_groups(&ListGroupsQuery {
            fqn: None,
            search: Some(name.to_owned()),
        })
        .await;
    let existing = match existing {
        Ok(groups) => groups
            .into_iter()
            .find(|g| server_view::group_name(g) == name),
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("checking whether secret group {name} exists"),
                &err,
            );
            return;
        }
    };
    let collaborators = collaborators_of(planned.get("collaborators")).unwrap_or_default();
    let manifest = manifest_of(planned, collaborators);
    let group = match existing {
        Some(group) => {
            match interrupted_create_leftover(client, &group, &manifest, request).await {
                Ok(()) => {
                    response.diagnostics.warning(
                    "Secret Group Taken Over From An Interrupted Apply",
                    format!(
                        "A secret group named `{name}` ({}) already existed with exactly this configuration's \
                         integration, owner and collaborators, and no key or value this configuration does \
                         not set: what an apply interrupted after creating the group leaves behind. It is \
                         now managed by this resource instead of being reported as a conflict; nothing the \
                         group held was changed or deleted.",
                        group.fqn
                    ),
                );
                    group
                }
                Err(reason) => {
                    response.diagnostics.error_at(
                    AttributePath::root("name"),
                    "Secret Group Already Exists",
                    format!(
                        "A secret group named `{name}` already exists ({}) and {reason}. Import it with \
                         `terraform import <address> {}` to manage it, or choose another name.",
                        group.fqn, group.id
                    ),
                );
                    return;
                }
            }
        }
        None => match client.apply_secret_group_manifest(&manifest, false).await {
            Ok(group) => group,
            Err(err) => {
                api_error(
                    &mut response.diagnostics,
                    &format!("creating secret group {name}"),
                    &err,
                );
                return;
            }
        },
    };
    response.private = Private {
        visible_to: visible_to(&group),
        ..Private::default()
    }
    .encode();
    let mut state = planned.clone();
    let refreshed = refresh_group(&group, planned, false);
    for computed in ["id", "fqn", "tenant_name", "name"] {
        state.set(computed, refreshed.get(computed).clone());
    }
    let Some(planned_secrets) = secrets_of(planned) else {
        response.new_state = state;
        return;
    };
    if !planned_secrets.is_empty() {
        let written = match secrets_put_body(planned, &request.config) {
            Ok(body) => client.set_secrets(&group.id, &body).await.map(|_| ()),
            Err(missing) => {
                response.diagnostics.error_at(
                    AttributePath::root("secrets").key(missing.0.clone()),
                    "Secret Key Needs A Value",
                    format!(
                        "The new key `{}` has no value to create it with.",
                        missing.0
                    ),
                );
                Ok(())
            }
        };
        if let Err(err) = written {
            api_error(
                &mut response.diagnostics,
                &format!(
                    "writing the secrets of the new secret group {name}; the group itself was created and is \
                     kept in state, so the next apply writes the secrets again"
                ),
                &err,
            );
        }
    }
    finish_with_server_secrets(client, &group.id, state, planned_secrets, response).await;
}

/// Whether an existing group with the planned name is what an interrupted create of this very
/// resource left behind (the provider died, or the state could not be saved, between the
/// manifest PUT and the end of the apply): the same integration, owner and collaborators as the
/// manifest this create sends, and only keys this configuration sets, each already holding the
/// configured value. Taking such a group over changes nothing anyone else wrote; anything else
/// is someone else's group. `Err` says why it is not a leftover.
async fn interrupted_create_leftover(
    client: &Client,
    group: &SecretGroup,
    manifest: &SecretGroupManifest,
    request: &ApplyRequest,
) -> Result<(), String> {
    let Some(held) = &group.manifest else {
        return Err("its manifest cannot be read".to_owned());
    };
    let same_collaborators = held.collaborators.len() == manifest.collaborators.len()
        && manifest
            .collaborators
            .iter()
            .all(|c| held.collaborators.contains(c));
    if held.integration_fqn != manifest.integration_fqn
        || held.owned_by != manifest.owned_by
        || !same_collaborators
    {
        return Err(
            "its integration, owner or collaborators differ from this configuration".into(),
        );
    }
    let server = list_group_secrets(client, &group.id, true)
        .await
        .map_err(|_| "its secrets could not be read to compare them".to_owned())?;
    if server.is_empty() {
        return Ok(());
    }
    let wanted: BTreeMap<String, Option<String>> =
        secrets_put_body(&request.planned_state, &request.config)
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.key, u.value.map(|v| v.expose().to_owned())))
            .collect();
    let foreign = server
        .iter()
        .any(|(key, secret)| match (wanted.get(key), &secret.value) {
            (Some(Some(want)), Some(have)) => want != have.expose(),
            _ => true,
        });
    if foreign {
        return Err("it holds keys or values this configuration does not set".to_owned());
    }
    Ok(())
}

/// After a successful write the group should hold exactly the planned keys. When it does not,
/// another writer changed it between this apply's re-read and its read-back (the API has no
/// conditional write to rule that out): say so, naming the keys, rather than let it pass.
fn warn_about_concurrent_change(
    planned_secrets: &BTreeMap<String, Value>,
    server: &ServerSecrets,
    response: &mut ApplyResponse,
) {
    let missing: Vec<&str> = planned_secrets
        .keys()
        .filter(|key| !server.contains_key(*key))
        .map(String::as_str)
        .collect();
    let unexpected: Vec<&str> = server
        .keys()
        .filter(|key| !planned_secrets.contains_key(*key))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        return;
    }
    let mut detail = String::from(
        "Another writer changed the secret group while this apply wrote it (two Terraform runs, or a \
         change outside Terraform, at the same moment).",
    );
    if !missing.is_empty() {
        detail.push_str(&format!(
            " These keys this apply wrote are gone again: {}.",
            missing.join(", ")
        ));
    }
    if !unexpected.is_empty() {
        detail.push_str(&format!(
            " These keys appeared that this configuration does not have: {}.",
            unexpected.join(", ")
        ));
    }
    detail.push_str(" Run `terraform plan` to see the difference, and make sure only one configuration manages this group.");
    response.diagnostics.warning_at(
        AttributePath::root("secrets"),
        "Secret Group Changed During Apply",
        detail,
    );
}

/// Reads versions after a write and completes the new state and private data. When the write
/// failed part-way, the state records what the server holds, so nothing is orphaned.
async fn finish_with_server_secrets(
    client: &Client,
    id: &str,
    mut state: Value,
    planned_secrets: &BTreeMap<String, Value>,
    response: &mut ApplyResponse,
) {
    match list_group_secrets(client, id, false).await {
        Ok(server) => {
            let versions = server_versions(&server);
            if response.diagnostics.has_errors() {
                // Keep only what the server holds, in the planned modes.
                let kept: BTreeMap<String, Value> = planned_secrets
                    .iter()
                    .filter(|(key, _)| server.contains_key(*key))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                refresh_secrets(&mut state, &kept, &server, NewKeys::WithoutValues);
            } else {
                warn_about_concurrent_change(planned_secrets, &server, response);
                let versions_of_planned: BTreeMap<String, i64> = planned_secrets
                    .keys()
                    .map(|key| (key.clone(), versions.get(key).copied().unwrap_or(0)))
                    .collect();
                state.set("secret_versions", versions_value(&versions_of_planned));
                set_secret_fqns(&mut state, planned_secrets.keys());
            }
            let mut private = Private::decode(&response.private);
            private.synced_versions = versions;
            response.private = private.encode();
        }
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("reading the secrets of secret group {id}"),
                &err,
            );
            // Without versions, record no keys: the next refresh reads them all back.
            state.set("secrets", Value::Map(BTreeMap::new()));
            state.set("secret_versions", Value::Map(BTreeMap::new()));
            state.set("secret_fqns", Value::Map(BTreeMap::new()));
        }
    }
    response.new_state = state;
}

async fn update(
    client: &Client,
    identity: &Identity,
    id: &str,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let prior = &request.prior_state;
    let planned = &request.planned_state;
    let mut state = planned.clone();
    response.private = request.planned_private.clone();

    let planned_secrets = secrets_of(planned);
    let prior_secrets = secrets_of(prior);
    let secrets_change = planned_secrets.is_some_and(|planned_secrets| {
        let prior_keys: BTreeSet<&String> = prior_secrets
            .map(|p| p.keys().collect())
            .unwrap_or_default();
        let planned_keys: BTreeSet<&String> = planned_secrets.keys().collect();
        prior_keys != planned_keys || !keys_to_send(planned).is_empty()
    });
    let manifest_change = (!planned.get("collaborators").is_null()
        && planned.get("collaborators") != prior.get("collaborators"))
        || planned.get("owned_by_account") != prior.get("owned_by_account");

    // Before writing, make sure the group is what the plan was computed against.
    let mut server = ServerSecrets::new();
    if secrets_change {
        server = match list_group_secrets(client, id, false).await {
            Ok(server) => server,
            Err(client::Error::NotFound { .. }) => {
                let private = Private::decode(&request.planned_private);
                match identity.not_found(&who_could_see(prior, &private)) {
                    NotFound::Deleted => response.diagnostics.error(
                        "Secret Group Deleted Outside Terraform",
                        format!(
                            "The secret group {id} was deleted since the plan was made. Run `terraform \
                             plan` again: it will plan to create the group."
                        ),
                    ),
                    NotFound::Unproven(why) => {
                        not_visible(&mut response.diagnostics, &group_label(prior), id, &why)
                    }
                }
                response.new_state = prior.clone();
                return;
            }
            Err(err) => {
                api_error(
                    &mut response.diagnostics,
                    &format!("re-reading secret group {id} before writing"),
                    &err,
                );
                response.new_state = prior.clone();
                return;
            }
        };
        let expected: BTreeMap<String, i64> = match prior_secrets {
            Some(_) => versions_of(prior)
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or(0)))
                .collect(),
            // Taking over a group's secrets: keys the plan could not show must not be deleted.
            None => planned_secrets
                .into_iter()
                .flat_map(|p| p.keys())
                .filter_map(|k| server.get(k).map(|s| (k.clone(), s.version)))
                .collect(),
        };
        let changed = changed_keys(&expected, &server_versions(&server));
        if !changed.is_empty() {
            response.diagnostics.error_at(
                AttributePath::root("secrets"),
                "Secrets Changed Outside Terraform",
                format!(
                    "These keys of the secret group changed outside Terraform since the plan: {}. Nothing \
                     was written. Run `terraform plan` again to see the change, then apply.",
                    changed.join(", ")
                ),
            );
            response.new_state = prior.clone();
            return;
        }
    }

    if manifest_change {
        let collaborators = match collaborators_of(planned.get("collaborators")) {
            Some(collaborators) => Ok(collaborators),
            // Collaborators are not managed: send the server's own, so they stay as they are.
            None => client
                .get_secret_group(id)
                .await
                .map(|g| g.manifest.map(|m| m.collaborators).unwrap_or_default()),
        };
        let result = match collaborators {
            Ok(collaborators) => client
                .apply_secret_group_manifest(&manifest_of(planned, collaborators), false)
                .await
                .map(|_| ()),
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            api_error(
                &mut response.diagnostics,
                &format!("updating secret group {id}"),
                &err,
            );
            response.new_state = prior.clone();
            return;
        }
    }

    let Some(planned_secrets) = planned_secrets.filter(|_| secrets_change) else {
        response.new_state = state;
        return;
    };
    let written = if planned_secrets.is_empty() {
        // The API refuses an empty list: remove the keys one by one.
        let mut result = Ok(());
        for secret in server.values() {
            if let Err(err) = client.delete_secret(&secret.id, false).await {
                result = Err(err);
                break;
            }
        }
        result
    } else {
        match secrets_put_body(planned, &request.config) {
            Ok(body) => client.set_secrets(id, &body).await.map(|_| ()),
            Err(missing) => {
                response.diagnostics.error_at(
                    AttributePath::root("secrets").key(missing.0.clone()),
                    "Secret Key Needs A Value",
                    format!(
                        "The key `{}` must be written but has no value in the configuration.",
                        missing.0
                    ),
                );
                response.new_state = prior.clone();
                return;
            }
        }
    };
    if let Err(err) = written {
        api_error(
            &mut response.diagnostics,
            &format!("writing the secrets of secret group {id}"),
            &err,
        );
        // The state stays as before; the next refresh shows whatever did reach the server.
        response.new_state = prior.clone();
        return;
    }
    state.set("id", Value::string(id));
    finish_with_server_secrets(client, id, state, planned_secrets, response).await;
}

/// Keys whose presence or version differs between what the plan expected and the server.
fn changed_keys(expected: &BTreeMap<String, i64>, actual: &BTreeMap<String, i64>) -> Vec<String> {
    let keys: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .filter(|key| expected.get(*key) != actual.get(*key))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_lists_added_removed_and_moved_keys() {
        let expected = BTreeMap::from([
            ("A".to_owned(), 1),
            ("B".to_owned(), 2),
            ("C".to_owned(), 1),
        ]);
        let actual = BTreeMap::from([
            ("A".to_owned(), 1),
            ("B".to_owned(), 3),
            ("D".to_owned(), 1),
        ]);
        assert_eq!(changed_keys(&expected, &actual), vec!["B", "C", "D"]);
        assert!(changed_keys(&expected, &expected).is_empty());
    }

    #[test]
    fn a_read_back_that_differs_from_the_plan_warns_with_the_key_names() {
        let planned: BTreeMap<String, Value> = ["A", "MINE"]
            .iter()
            .map(|k| ((*k).to_owned(), Value::Null))
            .collect();
        let held = |keys: &[&str]| -> ServerSecrets {
            keys.iter()
                .map(|k| {
                    let secret = server_view::ServerSecret {
                        id: format!("id-{k}"),
                        version: 1,
                        value: None,
                    };
                    ((*k).to_owned(), secret)
                })
                .collect()
        };
        let mut clean = ApplyResponse::default();
        warn_about_concurrent_change(&planned, &held(&["A", "MINE"]), &mut clean);
        assert!(clean.diagnostics.0.is_empty());

        let mut raced = ApplyResponse::default();
        warn_about_concurrent_change(&planned, &held(&["A", "THEIRS"]), &mut raced);
        let [warning] = raced.diagnostics.0.as_slice() else {
            panic!("one warning expected: {:?}", raced.diagnostics.0);
        };
        assert_eq!(warning.severity, crate::diag::Severity::Warning);
        assert!(
            warning.detail.contains("gone again: MINE."),
            "{}",
            warning.detail
        );
        assert!(
            warning.detail.contains("does not have: THEIRS."),
            "{}",
            warning.detail
        );
    }
}
