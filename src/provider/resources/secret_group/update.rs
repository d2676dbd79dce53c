//! ApplyResourceChange for an existing group: re-read, then the manifest PUT and the secrets
//! write that `write.rs` decided, each only when something changed.

use std::collections::BTreeMap;

use super::apply::{finish_with_server_keys, report_refusal};
use super::model::{Group, GroupPrivate, SecretMaps, manifest_of, visible_to_as_known};
use super::refresh::{own_access, values_changed_since_plan};
use super::schema::attr;
use super::write::{Refusal, SecretsWrite, changed_keys, secrets_write, writes_secrets};
use crate::client::{self, Client, SecretUpdate};
use crate::provider::errors::{api_error, secrets_write_error};
use crate::provider::identity::{Identity, NotFound, not_visible};
use crate::provider::remote::in_use::{self, Refused};
use crate::provider::remote::secrets::{
    ServerSecrets, list_keys, listed_keys_in_use, server_versions,
};
use crate::server::{ApplyRequest, ApplyResponse};

pub async fn update(
    client: &Client,
    identity: &Identity,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let prior_state = &request.prior_state;
    let planned_state = &request.planned_state;
    let prior = Group::of(prior_state);
    let planned = Group::of(planned_state);
    let config = SecretMaps::of(&request.config);
    let id = prior.id.clone();
    response.private = request.planned_private.clone();
    response.new_state = prior_state.clone();

    // What the server holds now, when a secrets write follows: the write is decided against it.
    let mut server = ServerSecrets::new();
    if writes_secrets(Some(&prior), &planned, &config) {
        server = match list_keys(client, &id).await {
            Ok(server) => server,
            Err(client::Error::NotFound { .. }) => {
                let private = GroupPrivate::decode(&request.planned_private);
                match identity.not_found(&visible_to_as_known(&prior, &private)) {
                    NotFound::Deleted => response.diagnostics.error(
                        "Secret Group Deleted Outside Terraform",
                        format!(
                            "The secret group {id} was deleted since the plan was made. Run `terraform \
                             plan` again: it will plan to create the group."
                        ),
                    ),
                    NotFound::Unproven(why) => {
                        not_visible(&mut response.diagnostics, &prior.label(), &id, &why)
                    }
                }
                return;
            }
            Err(err) => {
                api_error(
                    &mut response.diagnostics,
                    &format!("re-reading secret group {id} before writing"),
                    &err,
                );
                return;
            }
        };
    }
    let write = match secrets_write(Some(&prior), &planned, &config, &server) {
        Ok(write) => write,
        Err(refusal) => {
            // Nothing is written, the manifest included: the plan no longer holds.
            report_refusal(&mut response.diagnostics, &refusal);
            return;
        }
    };
    match values_changed_since_plan(client, &prior, &planned, &server).await {
        Ok(changed) if changed.is_empty() => {}
        Ok(changed) => {
            return report_refusal(
                &mut response.diagnostics,
                &Refusal::ChangedSincePlan(changed),
            );
        }
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("re-reading the values of secret group {id} before writing"),
                &err,
            );
            return;
        }
    }
    // Deployment counts may have moved since the plan checked them: the keys this write deletes
    // are checked again against the re-read.
    if write != SecretsWrite::Nothing && !in_use::allowed(planned_state) {
        let kept = planned.versions.clone().unwrap_or_default();
        let used = listed_keys_in_use(&server, |key| !kept.contains_key(key));
        if !used.is_empty() {
            in_use::refuse(
                &mut response.diagnostics,
                &prior.label(),
                &used,
                Refused::Apply,
            );
            return;
        }
    }

    let manifest_change = (planned.collaborators.is_some()
        && planned_state.get(attr::COLLABORATORS) != prior_state.get(attr::COLLABORATORS))
        || planned_state.get(attr::OWNED_BY_ACCOUNT) != prior_state.get(attr::OWNED_BY_ACCOUNT);
    if manifest_change {
        let collaborators = match planned.collaborators.clone() {
            // The API key's own entries the configuration never named stay (see
            // `remote::own_access`), as the server holds them now.
            Some(mut collaborators) => match identity.subject() {
                Some(own) => client.get_secret_group(&id).await.map(|group| {
                    let held = group.manifest.map(|m| m.collaborators).unwrap_or_default();
                    let named_before = own_access(&held, prior_state, Some(own));
                    collaborators.extend(own_access(&named_before, planned_state, Some(own)));
                    collaborators
                }),
                None => Ok(collaborators),
            },
            // Collaborators are not managed: send the server's own, so they stay as they are.
            None => client
                .get_secret_group(&id)
                .await
                .map(|g| g.manifest.map(|m| m.collaborators).unwrap_or_default()),
        };
        let result = match collaborators {
            Ok(collaborators) => client
                .apply_secret_group_manifest(&manifest_of(&planned, collaborators), false)
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
            return;
        }
    }

    let written = match &write {
        SecretsWrite::Nothing => {
            // The keys stay as they were read: the planned state holds them already.
            response.new_state = planned_state.clone();
            return;
        }
        SecretsWrite::FullList(body) => match put_full_list(client, &id, body, &server).await {
            Ok(()) => Ok(()),
            Err(Retry::Refused(refusal)) => {
                // Nothing of this write landed; the manifest change, if any, did.
                report_refusal(&mut response.diagnostics, &refusal);
                return;
            }
            Err(Retry::Failed(err)) => Err(err),
        },
        SecretsWrite::DeleteEach(ids) => {
            let mut result = Ok(());
            for secret_id in ids {
                if let Err(err) = client.delete_secret(secret_id, false).await {
                    result = Err(err);
                    break;
                }
            }
            result
        }
    };
    if let Err(err) = written {
        let body = match &write {
            SecretsWrite::FullList(body) => body.as_slice(),
            _ => &[],
        };
        secrets_write_error(
            &mut response.diagnostics,
            &format!("writing the secrets of secret group {id}"),
            &err,
            body,
        );
        // The state stays as before; the next refresh shows whatever did reach the server.
        return;
    }
    finish_with_server_keys(client, &id, planned_state.clone(), &planned, response).await;
}

/// Why [`put_full_list`] stopped.
enum Retry {
    Refused(Refusal),
    Failed(client::Error),
}

/// The full-list PUT, sent once per attempt. After a failure that may pass, the group is listed
/// again first (a list checked before a wait proves nothing after it): the same keys and
/// versions as `listed` (the re-read the write was checked against) mean nothing landed, so the
/// PUT goes again; exactly what `body` makes of them mean it landed after all; anything else is
/// another writer's change, refused as before the first attempt.
async fn put_full_list(
    client: &Client,
    id: &str,
    body: &[SecretUpdate],
    listed: &ServerSecrets,
) -> Result<(), Retry> {
    let expected = server_versions(listed);
    let mut retries = 0;
    loop {
        let err = match client.set_secrets_once(id, body).await {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if !Client::is_transient(&err) || retries >= client.max_retries() {
            return Err(Retry::Failed(err));
        }
        retries += 1;
        tokio::time::sleep(Client::retry_wait(retries)).await;
        let now = server_versions(&list_keys(client, id).await.map_err(Retry::Failed)?);
        if now == expected {
            continue;
        }
        if landed(body, &expected, &now) {
            return Ok(());
        }
        return Err(Retry::Refused(Refusal::ChangedSincePlan(changed_keys(
            &expected, &now,
        ))));
    }
}

/// Whether `now` is what `body` makes of a group holding `before`: exactly its keys, each key
/// sent without a value at its old version.
fn landed(
    body: &[SecretUpdate],
    before: &BTreeMap<String, i64>,
    now: &BTreeMap<String, i64>,
) -> bool {
    body.len() == now.len()
        && body
            .iter()
            .all(|entry| match (&entry.value, now.get(&entry.key)) {
                (None, Some(version)) => before.get(&entry.key) == Some(version),
                (Some(_), Some(_)) => true,
                (_, None) => false,
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SecretValue;

    #[test]
    fn a_write_landed_when_the_group_is_what_its_body_makes() {
        let before = BTreeMap::from([("KEPT".to_owned(), 2), ("GONE".to_owned(), 1)]);
        let body = [
            SecretUpdate {
                key: "KEPT".into(),
                value: None,
            },
            SecretUpdate {
                key: "NEW".into(),
                value: Some(SecretValue::new("v")),
            },
        ];
        let now = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        assert!(landed(&body, &before, &now(&[("KEPT", 2), ("NEW", 1)])));
        assert!(
            !landed(&body, &before, &now(&[("KEPT", 3), ("NEW", 1)])),
            "KEPT moved"
        );
        assert!(!landed(&body, &before, &now(&[("KEPT", 2)])), "NEW missing");
        assert!(
            !landed(
                &body,
                &before,
                &now(&[("KEPT", 2), ("NEW", 1), ("OTHER", 1)])
            ),
            "another writer's key"
        );
    }
}
