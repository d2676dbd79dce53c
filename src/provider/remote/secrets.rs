//! A group's keys as the API lists them (ids, versions, deployments using them) and the values
//! of chosen keys, and one key with or without its value: what the resources, data sources and
//! list resources read about a group's secrets; the errors for values the API key may not read.

use std::collections::{BTreeMap, BTreeSet};

use super::group::secret_fqn;
use crate::client::{self, Client, ListSecretsQuery, Secret, SecretValue};
use crate::diag::Diagnostics;
use crate::provider::remote::in_use::{self, InUse};

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

/// One key of a group, from a listing selected by its reference (or of all keys when the
/// reference is not known); the answer is also filtered by name, so a server that ignores the
/// selection cannot make another key pass for this one.
pub async fn list_one_secret(
    client: &Client,
    group_id: &str,
    fqn: Option<&str>,
    key: &str,
    with_value: bool,
) -> Result<Option<Secret>, client::Error> {
    let query = ListSecretsQuery {
        secret_group_id: Some(group_id.to_owned()),
        secret_fqns: fqn.map(str::to_owned).into_iter().collect(),
        with_value,
    };
    let listed = client.list_secrets(&query).await?;
    Ok(listed.into_iter().find(|secret| secret.name == key))
}

/// [`list_one_secret`], with its value when `with_value` and the API key may read it: a viewer
/// sees keys, not values, and gets the key without.
pub async fn find_secret(
    client: &Client,
    group_id: &str,
    fqn: Option<&str>,
    key: &str,
    with_value: bool,
) -> Result<Option<Secret>, client::Error> {
    match list_one_secret(client, group_id, fqn, key, with_value).await {
        Err(client::Error::Forbidden { .. }) if with_value => {
            list_one_secret(client, group_id, fqn, key, false).await
        }
        other => other,
    }
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

/// Whether the server listed no versions (a key without one is recorded at 0, which no real
/// version is): drift and staleness are then judged by value, where values are read.
pub fn lists_no_versions(secrets: &ServerSecrets) -> bool {
    !secrets.is_empty() && secrets.values().all(|secret| secret.version == 0)
}

/// Of the keys `deleting` selects, those deployments still use.
pub fn listed_keys_in_use(server: &ServerSecrets, deleting: impl Fn(&str) -> bool) -> Vec<InUse> {
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

/// The warning for write-only `keys` of `group` on a server that lists no versions; `resent`
/// completes "Their values are sent again only when …".
pub fn warn_write_only_drift_unseen(
    diags: &mut Diagnostics,
    group: &str,
    keys: &[&str],
    resent: &str,
) {
    diags.warning(
        "Write-Only Drift Not Detected",
        format!(
            "TrueFoundry lists no versions for the secrets of the secret group {group}, so a change \
             made outside Terraform to these write-only keys cannot be seen: {}. Their values are \
             sent again only when {resent}.",
            keys.join(", ")
        ),
    );
}

/// Where values were asked for, so the advice in an error fits the block it appears on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValuesAskedBy {
    /// The `truefoundry_secret_group` data source, with `include_values = true`.
    GroupDataSource,
    /// The `truefoundry_secret` data source, with `include_value = true`.
    SecretDataSource,
    /// The ephemeral `truefoundry_secret_group`, which always reads values.
    Ephemeral,
}

impl ValuesAskedBy {
    /// How to get what can be read without values, from where the values were asked for.
    fn without_values(self) -> &'static str {
        match self {
            ValuesAskedBy::GroupDataSource => {
                "or leave `include_values` unset to read the keys and their references only"
            }
            ValuesAskedBy::SecretDataSource => {
                "or leave `include_value` unset to read the key and its reference only"
            }
            ValuesAskedBy::Ephemeral => {
                "or, for the keys and their references only, use the `truefoundry_secret_group` \
                 data source without `include_values` (the ephemeral resource always reads values)"
            }
        }
    }
}

/// The error for a key that may see secrets but not their values (a viewer).
pub fn values_forbidden(diags: &mut Diagnostics, err: &client::Error, asked: ValuesAskedBy) {
    diags.error(
        "Permission Denied Reading Secret Values",
        format!(
            "The API key may see the group's keys but not its values ({err}). Reading values needs the \
             `secret-group-editor` role or higher: ask an admin of the group for it, {}.",
            asked.without_values()
        ),
    );
}

/// The error for a value the control plane left out (value view disabled on it).
pub fn value_hidden(diags: &mut Diagnostics, key: &str, asked: ValuesAskedBy) {
    diags.error(
        "Secret Values Hidden By TrueFoundry",
        format!(
            "The control plane did not return the value of `{key}` (value view is disabled on it). Ask \
             the control plane's administrators, {}.",
            asked.without_values()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_versions_means_every_key_at_zero() {
        let held = |versions: &[i64]| -> ServerSecrets {
            versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let secret = ServerSecret {
                        id: format!("s{i}"),
                        version: *v,
                        active_deployments: None,
                    };
                    (format!("K{i}"), secret)
                })
                .collect()
        };
        assert!(lists_no_versions(&held(&[0, 0])));
        assert!(!lists_no_versions(&held(&[0, 3])));
        assert!(!lists_no_versions(&held(&[])));
    }
}
