//! ApplyResourceChange for an existing group: re-read, then the manifest PUT and the secrets
//! write that `write.rs` decided, each only when something changed.

use super::model::{Group, Private, SecretMaps};
use super::remote::{ServerSecrets, keys_in_use, list_keys, own_access, values_changed_since_plan};
use super::write::{Refusal, SecretsWrite, secrets_write, writes_secrets};
use super::{finish_with_server_keys, manifest_of, report_refusal, who_could_see};
use crate::client::{self, Client};
use crate::provider::errors::{api_error, secrets_write_error};
use crate::provider::identity::{Identity, NotFound, not_visible};
use crate::provider::in_use::{self, Refused};
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
                let private = Private::decode(&request.planned_private);
                match identity.not_found(&who_could_see(&prior, &private)) {
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
        let used = keys_in_use(&server, |key| !kept.contains_key(key));
        if !used.is_empty() {
            in_use::refuse(
                &mut response.diagnostics,
                None,
                &prior.label(),
                &used,
                Refused::Apply,
            );
            return;
        }
    }

    let manifest_change = (planned.collaborators.is_some()
        && planned_state.get("collaborators") != prior_state.get("collaborators"))
        || planned_state.get("owned_by_account") != prior_state.get("owned_by_account");
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
                .apply_secret_group_manifest(&manifest_of(planned_state, collaborators), false)
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
        SecretsWrite::FullList(body) => client.set_secrets(&id, body).await.map(|_| ()),
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
