//! What TrueFoundry holds for a group, read from the API and turned into the resource's state.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{SecretMaps, StringMap, versions_value};
use super::schema::{DEFAULT_INTEGRATION_FQN, resource_schema};
use crate::client::{self, Client, ListSecretsQuery, SecretGroup, SecretValue};
use crate::provider::group_values::{collaborators_value, fqns_value, group_name, secret_fqn};
use crate::provider::in_use::{self, InUse};
use crate::value::Value;

/// One key as the server has it.
#[derive(Clone, Debug)]
pub struct ServerSecret {
    pub id: String,
    pub version: i64,
    /// `activeDeploymentsCount`, when the server reports it.
    pub active_deployments: Option<u64>,
}

pub type ServerSecrets = BTreeMap<String, ServerSecret>;

/// Lists a group's keys and versions, without values, in one paged call.
pub async fn list_keys(client: &Client, group_id: &str) -> Result<ServerSecrets, client::Error> {
    let secrets = client
        .list_secrets(&ListSecretsQuery {
            secret_group_id: Some(group_id.to_owned()),
            secret_fqns: Vec::new(),
            with_value: false,
        })
        .await?;
    Ok(secrets
        .into_iter()
        .map(|secret| {
            let entry = ServerSecret {
                id: secret.id,
                version: secret.latest_version.unwrap_or(0),
                active_deployments: secret.active_deployments,
            };
            (secret.name, entry)
        })
        .collect())
}

/// Reads the values of exactly `keys` of group `group_id` (`tenant:name`), selected by FQN, in
/// one paged call: the values of other keys (write-only, people-owned) never reach the provider.
/// A caller that may not read values (viewer role) gets no values instead of an error.
pub async fn read_values(
    client: &Client,
    group_id: &str,
    (tenant, name): (&str, &str),
    keys: &BTreeSet<String>,
) -> Result<BTreeMap<String, SecretValue>, client::Error> {
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let query = ListSecretsQuery {
        secret_group_id: Some(group_id.to_owned()),
        secret_fqns: keys
            .iter()
            .map(|key| secret_fqn(tenant, name, key))
            .collect(),
        with_value: true,
    };
    let secrets = match client.list_secrets(&query).await {
        Err(client::Error::Forbidden { .. }) => return Ok(BTreeMap::new()),
        other => other?,
    };
    // A server that ignored the selection must not hand other keys' values to the state.
    Ok(secrets
        .into_iter()
        .filter(|secret| keys.contains(&secret.name))
        .filter_map(|secret| Some((secret.name, secret.value?)))
        .collect())
}

/// Of the keys `deleting` selects, those deployments still use.
pub fn keys_in_use(server: &ServerSecrets, deleting: impl Fn(&str) -> bool) -> Vec<InUse> {
    in_use::keys_in_use(
        server
            .iter()
            .map(|(key, secret)| (key.as_str(), secret.active_deployments)),
        deleting,
    )
}

/// The keys deployments use, with their counts, for the private state.
pub fn in_use_counts(server: &ServerSecrets) -> BTreeMap<String, u64> {
    server
        .iter()
        .filter_map(|(key, secret)| {
            Some((key.clone(), secret.active_deployments.filter(|n| *n > 0)?))
        })
        .collect()
}

pub fn server_versions(secrets: &ServerSecrets) -> BTreeMap<String, i64> {
    secrets
        .iter()
        .map(|(k, s)| (k.clone(), s.version))
        .collect()
}

/// The subjects the server says can see the group: its collaborators and its creator.
pub fn visible_to(group: &SecretGroup) -> BTreeSet<String> {
    group
        .manifest
        .iter()
        .flat_map(|manifest| &manifest.collaborators)
        .map(|collaborator| collaborator.subject.clone())
        .chain(group.created_by.clone())
        .collect()
}

/// A state object with every attribute null.
pub fn empty_state() -> Value {
    Value::Object(
        resource_schema()
            .block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null))
            .collect(),
    )
}

/// The group-level attributes as the server has them, over `prior`. Collaborators are read only
/// when managed (non-null in `prior`) or when `adopt` (import).
pub fn refresh_group(group: &SecretGroup, prior: &Value, adopt: bool) -> Value {
    let mut state = if prior.is_null() {
        empty_state()
    } else {
        prior.clone()
    };
    state.set("id", Value::string(&group.id));
    state.set("name", Value::string(group_name(group)));
    state.set("fqn", Value::string(&group.fqn));
    state.set("tenant_name", Value::string(&group.tenant_name));
    let integration = match &group.manifest {
        Some(manifest) => Value::string(&manifest.integration_fqn),
        None if prior.get("integration_fqn").is_null() => Value::string(DEFAULT_INTEGRATION_FQN),
        None => prior.get("integration_fqn").clone(),
    };
    state.set("integration_fqn", integration);
    if let Some(manifest) = &group.manifest {
        let owner = manifest
            .owned_by
            .as_ref()
            .map_or(Value::Null, |o| Value::string(&o.account));
        state.set("owned_by_account", owner);
        if adopt || !prior.get("collaborators").is_null() {
            state.set(
                "collaborators",
                collaborators_value(&manifest.collaborators),
            );
        }
    }
    state
}

/// Sets the secret attributes of `state` to what the server holds: every key with its version
/// and FQN; `secrets` keeps the keys it had that still exist, with the server's value where it
/// was read. The other maps belong to the configuration and stay as they were; write-only
/// values are never in state.
pub fn refresh_secrets(
    state: &mut Value,
    prior: &SecretMaps,
    server: &ServerSecrets,
    values: &BTreeMap<String, SecretValue>,
) {
    let secrets = match prior.secrets.entries() {
        Some(entries) => StringMap::Known(
            entries
                .iter()
                .filter(|(key, _)| server.contains_key(*key))
                .map(|(key, before)| {
                    let value = values.get(key).cloned().or_else(|| before.clone());
                    (key.clone(), value)
                })
                .collect(),
        ),
        None => prior.secrets.clone(),
    };
    state.set("secrets", secrets.to_value());
    state.set("secrets_wo", Value::Null);
    set_server_keys(state, server);
}

/// `secret_versions` and `secret_fqns` for every key the server holds.
pub fn set_server_keys(state: &mut Value, server: &ServerSecrets) {
    let tenant = state.get("tenant_name").as_str().unwrap_or_default();
    let name = state.get("name").as_str().unwrap_or_default();
    let fqns = fqns_value(tenant, name, server.keys());
    state.set("secret_fqns", fqns);
    state.set(
        "secret_versions",
        versions_value(
            server
                .iter()
                .map(|(key, secret)| (key, Some(secret.version))),
        ),
    );
}
