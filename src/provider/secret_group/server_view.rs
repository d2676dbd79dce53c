//! What the server holds, turned into the resource's state.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{ValueMode, mode_of, secret_entry, set_secret_fqns, versions_value};
use super::schema::{DEFAULT_INTEGRATION_FQN, resource_schema};
use crate::client::{self, Client, Collaborator, ListSecretsQuery, SecretGroup, SecretValue};
use crate::value::Value;

/// One key as the server has it.
#[derive(Clone, Debug)]
pub struct ServerSecret {
    pub id: String,
    pub version: i64,
    /// `None` when values were not asked for, not allowed, or hidden by the control plane.
    pub value: Option<SecretValue>,
}

pub type ServerSecrets = BTreeMap<String, ServerSecret>;

/// Lists a group's secrets in one paged call. With `with_values`, a caller that may not read
/// values (viewer role) gets the keys and versions instead of an error.
pub async fn list_group_secrets(
    client: &Client,
    group_id: &str,
    with_values: bool,
) -> Result<ServerSecrets, client::Error> {
    let mut query = ListSecretsQuery {
        secret_group_id: Some(group_id.to_owned()),
        secret_fqns: Vec::new(),
        with_value: with_values,
    };
    let secrets = match client.list_secrets(&query).await {
        Err(client::Error::Forbidden { .. }) if with_values => {
            query.with_value = false;
            client.list_secrets(&query).await?
        }
        other => other?,
    };
    Ok(secrets
        .into_iter()
        .map(|secret| {
            let entry = ServerSecret {
                id: secret.id,
                version: secret.latest_version.unwrap_or(0),
                value: secret.value,
            };
            (secret.name, entry)
        })
        .collect())
}

pub fn server_versions(secrets: &ServerSecrets) -> BTreeMap<String, i64> {
    secrets
        .iter()
        .map(|(k, s)| (k.clone(), s.version))
        .collect()
}

/// The group's name: the `name` field where the server sends it, else the part of its FQN after
/// the tenant.
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

pub fn group_name(group: &SecretGroup) -> String {
    group.name.clone().unwrap_or_else(|| {
        group
            .fqn
            .split_once(':')
            .map_or(group.fqn.clone(), |(_, name)| name.to_owned())
    })
}

pub fn collaborators_value(collaborators: &[Collaborator]) -> Value {
    Value::Set(
        collaborators
            .iter()
            .map(|c| {
                Value::Object(BTreeMap::from([
                    ("subject".to_owned(), Value::string(&c.subject)),
                    ("role_id".to_owned(), Value::string(&c.role_id)),
                ]))
            })
            .collect(),
    )
}

pub fn collaborators_of(value: &Value) -> Option<Vec<Collaborator>> {
    value.as_elements().map(|items| {
        items
            .iter()
            .map(|c| Collaborator {
                subject: c.get("subject").as_str().unwrap_or_default().to_owned(),
                role_id: c.get("role_id").as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    })
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

/// How keys that the state does not know yet come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewKeys {
    /// With their values when readable (refresh, import).
    WithValues,
    /// Without values: the write-only import form, so values never reach state.
    WithoutValues,
}

/// The `secrets`, `secret_versions` and `secret_fqns` attributes as the server has them, keeping
/// each known key's mode from `prior_secrets`.
pub fn refresh_secrets(
    state: &mut Value,
    prior_secrets: &BTreeMap<String, Value>,
    server: &ServerSecrets,
    new_keys: NewKeys,
) {
    let entries: BTreeMap<String, Value> = server
        .iter()
        .map(|(key, secret)| {
            let server_value = || secret.value.as_ref().map(|v| Value::string(v.expose()));
            let entry = match prior_secrets.get(key) {
                Some(prior) => match mode_of(prior) {
                    ValueMode::Value => secret_entry(
                        server_value().unwrap_or_else(|| prior.get("value").clone()),
                        Value::Null,
                    ),
                    ValueMode::WriteOnly => {
                        secret_entry(Value::Null, prior.get("value_wo_version").clone())
                    }
                    ValueMode::Unmanaged => secret_entry(Value::Null, Value::Null),
                },
                None => match new_keys {
                    NewKeys::WithValues => {
                        secret_entry(server_value().unwrap_or(Value::Null), Value::Null)
                    }
                    NewKeys::WithoutValues => secret_entry(Value::Null, Value::Null),
                },
            };
            (key.clone(), entry)
        })
        .collect();
    set_secret_fqns(state, entries.keys());
    state.set("secret_versions", versions_value(&server_versions(server)));
    state.set("secrets", Value::Map(entries));
}
