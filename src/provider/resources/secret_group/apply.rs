//! What the two applies that write a group, create and update, share: the diagnostic for a write
//! the plan no longer allows, and the read-back that completes the new state after a write.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Group, GroupPrivate, set_keys};
use super::refresh::refresh_secrets;
use super::schema::attr;
use super::write::Refusal;
use crate::client::Client;
use crate::diag::Diagnostics;
use crate::provider::errors::api_error;
use crate::provider::remote::secrets::{ServerSecrets, in_use_counts, list_keys, server_versions};
use crate::server::ApplyResponse;
use crate::value::Value;

/// The diagnostic for an apply that must not write. No path into a secrets map: Terraform would
/// print the configured values around it.
pub(super) fn report_refusal(diagnostics: &mut Diagnostics, refusal: &Refusal) {
    match refusal {
        Refusal::ChangedSincePlan(keys) => diagnostics.error(
            "Secrets Changed Outside Terraform",
            format!(
                "These keys of the secret group changed outside Terraform since the plan: {}. Nothing \
                 was written. Run `terraform plan` again with refresh (not `-refresh=false`, which \
                 does not read the group) to see the change, then apply.",
                keys.join(", ")
            ),
        ),
        Refusal::MissingValue(key) => diagnostics.error(
            "Secret Key Needs A Value",
            format!(
                "The key `{key}` must be written but has no value in the configuration. Give it a value \
                 in `secrets`, `secrets_wo` or `initial_secrets`."
            ),
        ),
    }
}

/// After a successful write the group should hold exactly the planned keys. When it does not,
/// another writer changed it between this apply's re-read and its read-back (the API has no
/// conditional write to rule that out): say so, naming the keys, rather than let it pass.
fn warn_about_concurrent_change(
    planned_keys: &BTreeSet<&String>,
    server: &ServerSecrets,
    response: &mut ApplyResponse,
) {
    let missing: Vec<&str> = planned_keys
        .iter()
        .filter(|key| !server.contains_key(**key))
        .map(|key| key.as_str())
        .collect();
    let unexpected: Vec<&str> = server
        .keys()
        .filter(|key| !planned_keys.contains(key))
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
    detail.push_str(
        " Run `terraform plan` with refresh (not `-refresh=false`) to see the difference, and make \
         sure only one configuration manages this group.",
    );
    response
        .diagnostics
        .warning("Secret Group Changed During Apply", detail);
}

/// Reads the keys back after a write and completes the new state and private data: the planned
/// keys with the versions the server gave them. When the write failed part-way, the state
/// records what the server holds instead, so nothing is orphaned and the next plan writes again.
pub(super) async fn finish_with_server_keys(
    client: &Client,
    id: &str,
    mut state: Value,
    planned: &Group,
    response: &mut ApplyResponse,
) {
    state.set(attr::ID, Value::string(id));
    state.set(attr::SECRETS_WO, Value::Null);
    let planned_keys: BTreeSet<&String> =
        planned.versions.iter().flat_map(BTreeMap::keys).collect();
    match list_keys(client, id).await {
        Ok(server) => {
            if response.diagnostics.has_errors() {
                refresh_secrets(&mut state, &planned.maps, &server, &BTreeMap::new());
            } else {
                warn_about_concurrent_change(&planned_keys, &server, response);
                let versions = planned_keys
                    .iter()
                    .map(|key| (*key, server.get(*key).map_or(0, |s| s.version)));
                set_keys(&mut state, versions);
            }
            let mut private = GroupPrivate::decode(&response.private);
            private.synced_versions = server_versions(&server);
            private.in_use = in_use_counts(&server);
            response.private = private.encode();
        }
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("reading the secrets of secret group {id}"),
                &err,
            );
            // Without versions, record no keys: the next refresh reads them all back.
            state.set(attr::SECRET_VERSIONS, Value::Map(BTreeMap::new()));
            state.set(attr::SECRET_FQNS, Value::Map(BTreeMap::new()));
        }
    }
    response.new_state = state;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::remote::secrets::ServerSecret;

    #[test]
    fn a_read_back_that_differs_from_the_plan_warns_with_the_key_names() {
        let planned: Vec<String> = vec!["A".into(), "MINE".into()];
        let planned: BTreeSet<&String> = planned.iter().collect();
        let held = |keys: &[&str]| -> ServerSecrets {
            keys.iter()
                .map(|k| {
                    let secret = ServerSecret {
                        id: format!("id-{k}"),
                        version: 1,
                        active_deployments: None,
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
