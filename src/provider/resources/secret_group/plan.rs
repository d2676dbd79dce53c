//! PlanResourceChange: the planned state, with `secret_versions` unknown exactly for the keys the
//! apply writes, and warnings that say what the apply will do to keys and collaborators.

use super::dry_run::check_planned_manifest;
use super::keys::plan_keys;
use std::collections::BTreeMap;

use super::model::{Group, GroupPrivate, SecretMaps, collaborators_of, describe_collaborators};
use super::references::{check_references, warn_about_destroy};
use super::schema::{DEFAULT_INTEGRATION_FQN, attr};
use super::validate;
use crate::client::{Client, Collaborator, SecretValue};
use crate::diag::{AttributePath, Diagnostics, Severity};
use crate::provider::ProviderContext;
use crate::provider::remote::group::group_fqn;
use crate::provider::remote::secrets::{read_values, warn_write_only_drift_unseen};
use crate::server::{PlanRequest, PlanResponse};
use crate::value::Value;

pub async fn plan(context: &ProviderContext, request: PlanRequest) -> PlanResponse {
    let key_tenant = context.identity().tenant();
    if request.proposed_new_state.is_null() && request.prior_state.is_null() {
        return plan_offline(&request, key_tenant, BTreeMap::new());
    }
    // The tenant is checked before anything is read of the group.
    let mut tenant_diags = Diagnostics::new();
    let mut tenant_ok = true;
    let mut values_read = BTreeMap::new();
    if !request.prior_state.is_null() {
        let prior = Group::of(&request.prior_state);
        let tenant = prior.tenant.as_deref().unwrap_or_default();
        tenant_ok = context
            .identity()
            .check_tenant(&prior.label(), tenant, &mut tenant_diags);
        if tenant_ok && let Ok(client) = context.client() {
            values_read = read_values_to_compare(client, &prior, &request.config).await;
        }
    }
    let mut response = plan_offline(&request, key_tenant, values_read);
    response.diagnostics.0.extend(tenant_diags.0);
    if !tenant_ok {
        return response;
    }
    if !request.prior_state.is_null() && !response.planned_state.is_null() {
        warn_about_own_access(&request, context.identity().subject(), &mut response);
    }
    if !response.diagnostics.has_errors()
        && let Ok(client) = context.client()
    {
        check_planned_manifest(
            client,
            context.identity().subject(),
            &request,
            &mut response,
        )
        .await;
    }
    response
}

/// The server's values of the keys new to `secrets` that it already holds (see
/// [`Group::values_to_compare`]), in one paged call. None when the key may not read values or
/// the read fails: those keys are then sent, as before the plan could compare them.
async fn read_values_to_compare(
    client: &Client,
    prior: &Group,
    config: &Value,
) -> BTreeMap<String, SecretValue> {
    let keys = prior.values_to_compare(&SecretMaps::of(config));
    let (Some(tenant), Some(name)) = (&prior.tenant, &prior.name) else {
        return BTreeMap::new();
    };
    if keys.is_empty() {
        return BTreeMap::new();
    }
    read_values(client, &prior.id, (tenant, name), &keys)
        .await
        .unwrap_or_default()
}

/// Everything the plan decides without asking the API. `key_tenant` is the API key's tenant,
/// where a create lands, when the session said; `values_read`: server values of keys new to
/// `secrets`, read by the plan to compare them.
fn plan_offline(
    request: &PlanRequest,
    key_tenant: Option<&str>,
    values_read: BTreeMap<String, SecretValue>,
) -> PlanResponse {
    let mut response = PlanResponse {
        planned_private: request.prior_private.clone(),
        ..PlanResponse::default()
    };
    if request.proposed_new_state.is_null() {
        warn_about_destroy(request, &mut response);
        return response;
    }
    let config_value = &request.config;
    let prior_value = &request.prior_state;
    let private = GroupPrivate::decode(&request.prior_private);
    let mut planned = request.proposed_new_state.clone();

    // Values unknown at validate time may be known now: check again, errors only.
    for diag in validate::validate(config_value).0 {
        if diag.severity == Severity::Error {
            response.diagnostics.0.push(diag);
        }
    }

    let create = prior_value.is_null();
    let name = planned.get(attr::NAME).as_str().map(str::to_owned);
    if create {
        // A new group lands in the API key's tenant under its configured name, so its references
        // are known now (a module's `for_each` over them plans on the first run); only the
        // server's id is not. Without the key's tenant they stay unknown until the apply.
        planned.set(attr::ID, Value::Unknown);
        let (fqn, tenant_name) = match (key_tenant, &name) {
            (Some(tenant), Some(name)) => (
                Value::string(group_fqn(tenant, name)),
                Value::string(tenant),
            ),
            _ => (Value::Unknown, Value::Unknown),
        };
        planned.set(attr::FQN, fqn);
        planned.set(attr::TENANT_NAME, tenant_name);
        if config_value.get(attr::INTEGRATION_FQN).is_null() {
            planned.set(
                attr::INTEGRATION_FQN,
                Value::string(DEFAULT_INTEGRATION_FQN),
            );
        }
    } else {
        if config_value.get(attr::INTEGRATION_FQN).is_null() {
            planned.set(
                attr::INTEGRATION_FQN,
                prior_value.get(attr::INTEGRATION_FQN).clone(),
            );
        }
        for forces_replacement in [attr::NAME, attr::INTEGRATION_FQN] {
            if planned.get(forces_replacement) != prior_value.get(forces_replacement) {
                response
                    .requires_replace
                    .push(AttributePath::root(forces_replacement));
            }
        }
    }

    let prior = (!create).then(|| {
        let mut prior = Group::of(prior_value);
        prior.add_values_read(values_read);
        prior
    });
    if let Some(prior) = prior
        .as_ref()
        .filter(|_| !response.requires_replace.is_empty())
    {
        let replacing = GroupPrivate {
            replacing: Some(prior.id.clone()),
            ..private.clone()
        };
        response.planned_private = replacing.encode();
    }
    let config = SecretMaps::of(config_value);
    let tenant = match &prior {
        Some(prior) => prior.tenant.as_deref(),
        None => key_tenant,
    };
    let keys = plan_keys(prior.as_ref(), &config, &private, tenant, name.as_deref());
    if let Some(prior) = &prior {
        warn_about_what_is_released_or_deleted(
            prior,
            &config,
            prior_value,
            config_value,
            &keys.deleted,
            &mut response,
        );
    }
    if let Some(prior) = &prior {
        warn_about_missing_versions(prior, &config, &mut response);
    }
    planned.set(attr::SECRET_VERSIONS, keys.versions);
    planned.set(attr::SECRET_FQNS, keys.fqns);
    response.planned_state = planned;
    check_references(request, &keys.deleted, &mut response);
    response
}

/// A server that lists no versions (every key recorded at 0) leaves write-only values without
/// any way to see a change made outside Terraform: said in the plan, naming the keys.
fn warn_about_missing_versions(prior: &Group, config: &SecretMaps, response: &mut PlanResponse) {
    let held = prior.server_keys();
    if held.is_empty() || held.values().any(|version| *version != 0) {
        return;
    }
    let blind: Vec<&str> = config
        .secrets_wo
        .entries()
        .into_iter()
        .flat_map(BTreeMap::keys)
        .filter(|key| held.contains_key(*key))
        .map(String::as_str)
        .collect();
    if blind.is_empty() {
        return;
    }
    warn_write_only_drift_unseen(
        &mut response.diagnostics,
        &prior.label(),
        &blind,
        "their `secrets_wo_versions` entry changes. Keys of `secrets` are still compared by value",
    );
}

/// What a collaborator change does to the API key's own access: entries the configuration
/// never named are kept (said here, since `collaborators` is otherwise authoritative), and
/// dropping the key's own subject from `collaborators` is never silent.
fn warn_about_own_access(request: &PlanRequest, own: Option<&str>, response: &mut PlanResponse) {
    let (Some(own), Some(prior), Some(planned)) = (
        own,
        collaborators_of(request.prior_state.get(attr::COLLABORATORS)),
        collaborators_of(response.planned_state.get(attr::COLLABORATORS)),
    ) else {
        return;
    };
    if prior == planned {
        return;
    }
    let label = Group::of(&request.prior_state).label();
    let kept = GroupPrivate::decode(&request.prior_private).own_access;
    if !kept.is_empty() {
        response.diagnostics.warning(
            "API Key Keeps Its Own Access",
            format!(
                "Applying this plan writes the collaborators of the secret group {label}, and keeps \
                 these entries of the API key's own subject that the server holds and `collaborators` \
                 does not name: {}. `collaborators` is authoritative for every other subject; name \
                 the key's subject in it to manage this entry too.",
                describe_collaborators(&kept)
            ),
        );
    }
    let named = |list: &[Collaborator]| list.iter().any(|c| c.subject == own);
    if named(&prior) && !named(&planned) {
        response.diagnostics.warning_at(
            AttributePath::root(attr::COLLABORATORS),
            "API Key Loses Its Access",
            format!(
                "Applying this plan removes `{own}`, the API key's own subject, from the collaborators \
                 of the secret group {label}. Unless the key has access otherwise (as a tenant admin or \
                 through a team), later plans and applies with this key cannot read or change the \
                 group. Keep `{own}` in `collaborators` if that is not intended."
            ),
        );
    }
}

/// The plan's own words for what a reader of `- ... -> null` or a dropped key could misread.
/// No path into a secrets map: Terraform would print the configured values around it.
fn warn_about_what_is_released_or_deleted(
    prior: &Group,
    config: &SecretMaps,
    prior_value: &Value,
    config_value: &Value,
    deleted: &[String],
    response: &mut PlanResponse,
) {
    if !deleted.is_empty() {
        response.diagnostics.warning(
            "Secrets Will Be Deleted",
            format!(
                "Applying this plan deletes these keys, with all their versions, from the secret group \
                 {}: {}. They are in the group but in none of `secrets`, `secrets_wo` and \
                 `initial_secrets` (keys added outside Terraform show up here too, and so do keys of \
                 `truefoundry_secret` resources: these maps own every key of the group). Add them to \
                 one of those maps to keep them, or leave all three maps unset when \
                 `truefoundry_secret` resources manage the group's keys.",
                prior.label(),
                deleted.join(", ")
            ),
        );
    }
    if !prior.maps.unmanaged() && config.unmanaged() {
        response.diagnostics.warning(
            "Secrets No Longer Managed",
            format!(
                "`secrets`, `secrets_wo` and `initial_secrets` are no longer set for the secret group {}, \
                 so this provider stops managing its keys: applying deletes nothing and writes no value, \
                 and the keys keep their values on the server. `secret_versions` and `secret_fqns` go on \
                 listing the group's keys.",
                prior.label()
            ),
        );
    }
    if !prior_value.get(attr::COLLABORATORS).is_null()
        && config_value.get(attr::COLLABORATORS).is_null()
    {
        response.diagnostics.warning(
            "Collaborators No Longer Managed",
            format!(
                "`collaborators` is no longer set for the secret group {}, so this provider stops \
                 managing them: applying changes nobody's access, and the group keeps its collaborators.",
                prior.label()
            ),
        );
    }
}
