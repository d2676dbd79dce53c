//! A group's keys as the API lists them (ids, versions, deployments using them) and the values
//! of chosen keys: what both resources and the list resources read about a group's secrets.

use std::collections::{BTreeMap, BTreeSet};

use super::group::secret_fqn;
use crate::client::{self, Client, ListSecretsQuery, SecretValue};
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
