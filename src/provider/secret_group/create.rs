//! ApplyResourceChange for a new group: the manifest PUT, then one full-list PUT with every key.

use super::model::{Group, Private, SecretMaps};
use super::remote::{ServerSecrets, list_keys, own_access, read_values, refresh_group, visible_to};
use super::write::{SecretsWrite, secrets_write};
use super::{describe, finish_with_server_keys, manifest_of, report_refusal};
use crate::client::{
    self, Client, Collaborator, ListGroupsQuery, SecretGroup, SecretGroupManifest,
};
use crate::diag::AttributePath;
use crate::diag::Diagnostics;
use crate::provider::errors::{api_error, secrets_write_error};
use crate::provider::group_values::group_name;
use crate::provider::identity::Identity;
use crate::server::{ApplyRequest, ApplyResponse};

pub async fn create(
    client: &Client,
    identity: &Identity,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let planned_state = &request.planned_state;
    let planned = Group::of(planned_state);
    let config = SecretMaps::of(&request.config);
    let name = planned.name.clone().unwrap_or_default();
    // The manifest PUT upserts by name: refuse to silently adopt a group that already exists,
    // unless it is exactly what an interrupted earlier apply of this configuration left behind.
    let existing = match find_by_name(client, &name).await {
        Ok(existing) => existing,
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("checking whether secret group {name} exists"),
                &err,
            );
            return;
        }
    };
    let manifest = manifest_of(
        planned_state,
        planned.collaborators.clone().unwrap_or_default(),
    );
    let group = match existing {
        Some(group) => {
            match interrupted_create_leftover(client, &group, &manifest, &config).await {
                Ok(()) => {
                    response.diagnostics.warning(
                    "Secret Group Taken Over From An Interrupted Apply",
                    format!(
                        "A secret group named `{name}` ({}) already existed with exactly this \
                         configuration's integration, owner and collaborators, and no key or value this \
                         configuration does not set: what an apply interrupted after creating the group \
                         leaves behind. It is now managed by this resource instead of being reported as \
                         a conflict; nothing the group held was changed or deleted.",
                        group.fqn
                    ),
                );
                    group
                }
                Err(reason) => {
                    name_taken(&mut response.diagnostics, &group, &reason);
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
    let own_access = match (&group.manifest, &planned.collaborators) {
        (Some(held), Some(_)) => own_access(&held.collaborators, planned_state, identity.subject()),
        _ => Vec::new(),
    };
    if !own_access.is_empty() {
        response.diagnostics.warning(
            "API Key Listed As A Collaborator",
            format!(
                "TrueFoundry lists the API key's own subject as a collaborator of the new secret group \
                 `{name}` ({}), though `collaborators` does not name it. The provider keeps this entry: \
                 it stays out of `collaborators` in state, so plans show no change for it, and applies \
                 never remove it, so the key keeps its access. Name it in `collaborators` to manage it \
                 like any other.",
                describe(&own_access)
            ),
        );
    }
    response.private = Private {
        visible_to: visible_to(&group),
        own_access,
        ..Private::default()
    }
    .encode();
    let mut state = planned_state.clone();
    let refreshed = refresh_group(&group, planned_state, false, identity.subject());
    for computed in ["id", "fqn", "tenant_name", "name"] {
        state.set(computed, refreshed.get(computed).clone());
    }
    let write = secrets_write(None, &planned, &config, &ServerSecrets::new());
    let (written, body) = match &write {
        Ok(SecretsWrite::FullList(body)) => (
            client.set_secrets(&group.id, body).await.map(|_| ()),
            body.as_slice(),
        ),
        Ok(_) => (Ok(()), &[][..]),
        Err(refusal) => {
            report_refusal(response, refusal);
            (Ok(()), &[][..])
        }
    };
    if let Err(err) = written {
        secrets_write_error(
            &mut response.diagnostics,
            &format!(
                "writing the secrets of the new secret group {name}; the group itself was created and is \
                 kept in state, so the next apply writes the secrets again"
            ),
            &err,
            body,
        );
    }
    finish_with_server_keys(client, &group.id, state, &planned, response).await;
}

/// The group of the API key's tenant named `name`, if the key can see one.
pub(super) async fn find_by_name(
    client: &Client,
    name: &str,
) -> Result<Option<SecretGroup>, client::Error> {
    let groups = client
        .list_secret_groups(&ListGroupsQuery {
            fqn: None,
            search: Some(name.to_owned()),
        })
        .await?;
    Ok(groups.into_iter().find(|g| group_name(g) == name))
}

/// The error for a create whose name another group holds; `reason` says why it is not this
/// configuration's own leftover.
pub(super) fn name_taken(diags: &mut Diagnostics, group: &SecretGroup, reason: &str) {
    diags.error_at(
        AttributePath::root("name"),
        "Secret Group Already Exists",
        format!(
            "A secret group named `{}` already exists ({}) and {reason}. Nothing was changed. Import it \
             with `terraform import <address> {}` to manage it, or choose another name.",
            group_name(group),
            group.fqn,
            group.id
        ),
    );
}

/// Whether an existing group with the planned name is what an interrupted create of this very
/// resource left behind (the provider died, or the state could not be saved, between the
/// manifest PUT and the end of the apply): the same integration, owner and collaborators as the
/// manifest this create sends, and only keys this configuration sets, each already holding the
/// configured value. Taking such a group over changes nothing anyone else wrote; anything else
/// is someone else's group. `Err` says why it is not a leftover.
pub(super) async fn interrupted_create_leftover(
    client: &Client,
    group: &SecretGroup,
    manifest: &SecretGroupManifest,
    config: &SecretMaps,
) -> Result<(), String> {
    let Some(held) = &group.manifest else {
        return Err("its manifest cannot be read".to_owned());
    };
    // A server may list the creator as admin though the manifest did not: that entry is the
    // interrupted apply's own doing, not someone else's.
    let held_collaborators: Vec<&Collaborator> = held
        .collaborators
        .iter()
        .filter(|c| {
            manifest.collaborators.contains(c) || group.created_by.as_ref() != Some(&c.subject)
        })
        .collect();
    let same_collaborators = held_collaborators.len() == manifest.collaborators.len()
        && manifest
            .collaborators
            .iter()
            .all(|c| held_collaborators.contains(&c));
    if held.integration_fqn != manifest.integration_fqn
        || held.owned_by != manifest.owned_by
        || !same_collaborators
    {
        return Err(
            "its integration, owner or collaborators differ from this configuration".into(),
        );
    }
    let unreadable = || "its secrets could not be read to compare them".to_owned();
    let server = list_keys(client, &group.id)
        .await
        .map_err(|_| unreadable())?;
    if server.is_empty() {
        return Ok(());
    }
    let keys = server.keys().cloned().collect();
    let values = read_values(
        client,
        &group.id,
        (&group.tenant_name, &group_name(group)),
        &keys,
    )
    .await
    .map_err(|_| unreadable())?;
    let foreign = server
        .keys()
        .any(|key| match (config.value_of(key), values.get(key)) {
            (Some(want), Some(have)) => want != have,
            _ => true,
        });
    if foreign {
        return Err("it holds keys or values this configuration does not set".to_owned());
    }
    Ok(())
}
