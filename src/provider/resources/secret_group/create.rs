//! ApplyResourceChange for a new group: the manifest PUT, then one full-list PUT with every key.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::apply::{finish_with_server_keys, report_refusal};
use super::model::{Group, GroupPrivate, SecretMaps, describe_collaborators, manifest_of};
use super::pending::PendingCreate;
use super::refresh::{own_access, refresh_group};
use super::schema::attr;
use super::write::{SecretsWrite, secrets_write};
use crate::client::{
    self, Client, Collaborator, ListGroupsQuery, SecretGroup, SecretGroupManifest,
};
use crate::diag::AttributePath;
use crate::diag::Diagnostics;
use crate::provider::errors::{api_error, secrets_write_error};
use crate::provider::identity::Identity;
use crate::provider::remote::group::group_name;
use crate::provider::remote::group::visible_to;
use crate::provider::remote::secrets::{ServerSecrets, list_keys, read_values};
use crate::server::{ApplyRequest, ApplyResponse};
use crate::value::Value;

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
    let manifest = manifest_of(&planned, planned.collaborators.clone().unwrap_or_default());
    let created_now = existing.is_none();
    let group = match existing {
        Some(group) => {
            let leftover =
                interrupted_create_leftover(client, &group, &manifest, &config, identity.subject())
                    .await;
            match leftover {
                Ok(()) => {
                    response.diagnostics.warning(
                    "Secret Group Taken Over From An Interrupted Apply",
                    format!(
                        "A secret group named `{name}` ({}) already existed: an earlier apply in this \
                         working directory was cut off while creating it (its record was still here), \
                         this API key created the group after that apply started and nothing changed it \
                         since, and it has exactly this configuration's integration, owner and \
                         collaborators, and no key or value this configuration does not set. It is now \
                         managed by this resource instead of being reported as a conflict; nothing the \
                         group held was changed or deleted.",
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
        None => {
            // The evidence a later apply needs should this one be cut off after the PUT.
            let mut record = match (identity.tenant(), identity.subject()) {
                (Some(tenant), Some(subject)) => {
                    let record = PendingCreate::new(tenant, &name, subject);
                    record.save();
                    Some(record)
                }
                _ => None,
            };
            match client.apply_secret_group_manifest(&manifest, false).await {
                Ok(group) => {
                    if let Some(record) = &mut record {
                        record.group_id = Some(group.id.clone());
                        record.save();
                    }
                    group
                }
                Err(err) => {
                    // A refusal made nothing; after any other failure the group may exist, and
                    // the record lets the next apply take it over.
                    if let Some(record) = record.filter(|_| is_refusal(&err)) {
                        PendingCreate::remove(&record.tenant, &record.name);
                    }
                    api_error(
                        &mut response.diagnostics,
                        &format!("creating secret group {name}"),
                        &err,
                    );
                    return;
                }
            }
        }
    };
    // From here on the create returns a state (or deletes the group again): the record of an
    // unfinished create of this group, this one's or a taken-over one's, has served.
    let tenant = identity.tenant().unwrap_or(&group.tenant_name).to_owned();
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
                describe_collaborators(&own_access)
            ),
        );
    }
    response.private = GroupPrivate {
        visible_to: visible_to(&group),
        own_access,
        ..GroupPrivate::default()
    }
    .encode();
    let mut state = planned_state.clone();
    let refreshed = refresh_group(&group, planned_state, false, identity.subject());
    for computed in [attr::ID, attr::FQN, attr::TENANT_NAME, attr::NAME] {
        state.set(computed, refreshed.get(computed).clone());
    }
    // The diagnostics of a secrets write that failed: the group is then half made.
    let mut failed = Diagnostics::new();
    match secrets_write(None, &planned, &config, &ServerSecrets::new()) {
        Ok(SecretsWrite::FullList(body)) => {
            if let Err(err) = client.set_secrets(&group.id, &body).await {
                let action = format!("writing the secrets of the new secret group {name}");
                secrets_write_error(&mut failed, &action, &err, &body);
            }
        }
        Ok(_) => {}
        Err(refusal) => report_refusal(&mut failed, &refusal),
    }
    if failed.has_errors() {
        let removed = created_now && remove_half_made(client, &group, &mut failed).await;
        if !created_now {
            append_to_last(
                &mut failed,
                &format!(
                    " The group {} existed before this apply (taken over as an interrupted apply's \
                     leftover) and was left as it is. Terraform records it as tainted: the next \
                     `terraform apply` replaces it (destroys it and creates it anew).",
                    group.fqn
                ),
            );
        }
        response.diagnostics.extend(failed);
        if removed {
            response.new_state = Value::Null;
            response.private = Vec::new();
            PendingCreate::remove(&tenant, &name);
            return;
        }
    }
    finish_with_server_keys(client, &group.id, state, &planned, response).await;
    // An error with a new state taints the group: the next plan replaces it.
    match identity.subject() {
        Some(subject) if response.diagnostics.has_errors() => {
            let mut record = PendingCreate::new(&tenant, &name, subject);
            record.group_id = Some(group.id.clone());
            record.tainted = true;
            record.save();
        }
        _ => PendingCreate::remove(&tenant, &name),
    }
}

/// The server answered that it would not act: nothing was created.
fn is_refusal(err: &client::Error) -> bool {
    matches!(
        err,
        client::Error::NotFound { .. }
            | client::Error::NotTheApi { .. }
            | client::Error::Unauthorized { .. }
            | client::Error::Forbidden { .. }
            | client::Error::Conflict { .. }
            | client::Error::Validation { .. }
    )
}

/// After the secrets of a group created seconds ago could not be written: deletes the group
/// again (nothing references it yet), so that the failed apply leaves nothing behind, and says
/// in the last diagnostic of `diags` what the next plan shows. False when the group stays.
async fn remove_half_made(client: &Client, group: &SecretGroup, diags: &mut Diagnostics) -> bool {
    match client.delete_secret_group(&group.id, false).await {
        Ok(()) | Err(client::Error::NotFound { .. }) => {
            append_to_last(
                diags,
                &format!(
                    " The group {} had just been created for this apply; it was deleted again, so \
                     nothing was created: the next `terraform plan` shows the group as one to create.",
                    group.fqn
                ),
            );
            true
        }
        Err(err) => {
            append_to_last(
                diags,
                &format!(
                    " The group {} was created, but deleting it again failed too ({err}). Terraform \
                     records it as tainted: the next `terraform apply` replaces it (destroys it and \
                     creates it anew).",
                    group.fqn
                ),
            );
            false
        }
    }
}

/// Adds `text` to the detail of the last diagnostic (the error it completes).
fn append_to_last(diags: &mut Diagnostics, text: &str) {
    if let Some(last) = diags.0.last_mut() {
        last.detail.push_str(text);
    }
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
        AttributePath::root(attr::NAME),
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

/// How long the record of an unfinished create stays evidence: long enough to run an apply cut
/// off overnight again; an older record says nothing about a group of that name today.
const RECORD_LIFETIME: Duration = Duration::hours(24);
/// How much earlier than the record's start the server may date the group it created: clock
/// rounding between this machine and the control plane, nothing more (the record is written
/// just before the manifest PUT).
const CLOCK_TOLERANCE: Duration = Duration::seconds(2);
/// A create's own writes (the manifest PUT, then the secrets PUT, with their retries) land within
/// this time of each other; a later change is someone else's.
const CREATE_SPAN: Duration = Duration::seconds(60);

/// Whether an existing group with the planned name is what an interrupted create of this very
/// resource left behind (the provider died, or the state could not be saved, between the
/// manifest PUT and the end of the apply). The API marks no group with who it belongs to, and a
/// second directory applying the same configuration with the same key makes a group that looks
/// the same; so the evidence starts with this working directory's record of its own unfinished
/// create ([`PendingCreate`]), which the API's fields must then agree with
/// ([`creation_evidence`]): this API key created the group, after the record's start, and
/// nothing changed it after the create's own writes. The group must also have the same
/// integration, owner and collaborators as the manifest this create sends, and hold only keys
/// this configuration sets, each with the configured value. Taking such a group over changes
/// nothing anyone else wrote; anything else is someone else's group. `Err` says why it is not a
/// leftover.
pub(super) async fn interrupted_create_leftover(
    client: &Client,
    group: &SecretGroup,
    manifest: &SecretGroupManifest,
    config: &SecretMaps,
    own_subject: Option<&str>,
) -> Result<(), String> {
    let record = PendingCreate::load(&group.tenant_name, &manifest.name);
    creation_evidence(
        group,
        own_subject,
        record.as_ref(),
        OffsetDateTime::now_utc(),
    )?;
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

/// The part of [`interrupted_create_leftover`] the group's own fields and this working
/// directory's `record` decide: the record is there, of `own_subject`, younger than
/// [`RECORD_LIFETIME`] and (once the PUT answered) of this very group; the group was created by
/// `own_subject` no earlier than the record's start, and not updated after [`CREATE_SPAN`].
/// `Err` completes "A secret group named … already exists and …".
fn creation_evidence(
    group: &SecretGroup,
    own_subject: Option<&str>,
    record: Option<&PendingCreate>,
    now: OffsetDateTime,
) -> Result<(), String> {
    let Some(own) = own_subject else {
        return Err(
            "the API key's identity is unknown, so the group cannot be shown to be \
                    what an interrupted apply of this configuration left behind"
                .to_owned(),
        );
    };
    match group.created_by.as_deref() {
        Some(creator) if creator == own => {}
        Some(creator) => {
            return Err(format!(
                "it was created by `{creator}`, not by this API key (`{own}`)"
            ));
        }
        None => return Err("the server does not say who created it".to_owned()),
    }
    let Some(record) = record else {
        return Err(
            "this working directory holds no record of an unfinished create of it, so another \
             configuration (or an apply whose working directory is gone) created it"
                .to_owned(),
        );
    };
    let Some(started) = record
        .started()
        .filter(|started| now - *started <= RECORD_LIFETIME)
    else {
        return Err(format!(
            "the unfinished create recorded in this working directory started at {}, more than \
             {} hours ago",
            record.started_at,
            RECORD_LIFETIME.whole_hours()
        ));
    };
    if record.subject != own {
        return Err(format!(
            "the unfinished create recorded in this working directory ran with another API key \
             (`{}`)",
            record.subject
        ));
    }
    if record.is_tainted(&group.id) {
        return Err(
            "it is the group this working directory's state holds as tainted, which Terraform \
             must destroy before creating its replacement (a replacement created before the \
             destroy cannot take the same `name`)"
                .to_owned(),
        );
    }
    if let Some(made) = record.group_id.as_deref().filter(|made| *made != group.id) {
        return Err(format!(
            "the unfinished create recorded in this working directory made another group ({made})"
        ));
    }
    let parse = |at: &Option<String>| {
        at.as_deref()
            .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
    };
    let (Some(created), Some(updated)) = (parse(&group.created_at), parse(&group.updated_at))
    else {
        return Err("the server does not say when it was created and last changed".to_owned());
    };
    let created_text = group.created_at.as_deref().unwrap_or_default();
    if created < started - CLOCK_TOLERANCE {
        return Err(format!(
            "it was created at {created_text}, before the unfinished create recorded in this \
             working directory started ({})",
            record.started_at
        ));
    }
    if updated - created > CREATE_SPAN {
        return Err(format!(
            "it was changed at {} after its creation at {created_text}: someone has written to it",
            group.updated_at.as_deref().unwrap_or_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn group(creator: Option<&str>, created: &str, updated: &str) -> SecretGroup {
        SecretGroup {
            id: "sg1".into(),
            fqn: "acme:g".into(),
            name: None,
            tenant_name: "acme".into(),
            integration_id: None,
            created_by: creator.map(str::to_owned),
            manifest: None,
            associated_secrets: Vec::new(),
            created_at: Some(created.to_owned()),
            updated_at: Some(updated.to_owned()),
        }
    }

    fn record(subject: &str, started: &str, group_id: Option<&str>) -> PendingCreate {
        PendingCreate {
            tenant: "acme".into(),
            name: "g".into(),
            subject: subject.into(),
            started_at: started.into(),
            group_id: group_id.map(str::to_owned),
            tainted: false,
        }
    }

    #[test]
    fn only_this_directorys_own_unfinished_create_is_a_leftover() {
        let now = datetime!(2026-12-06 10:10:00 UTC);
        let me = Some("user:me@x");
        let fresh = group(me, "2026-12-06T10:08:00.000Z", "2026-12-06T10:08:01.500Z");
        let mine = record("user:me@x", "2026-12-06T10:07:59.500Z", None);
        let evidence = |g: &SecretGroup, own: Option<&str>, r: Option<&PendingCreate>| {
            creation_evidence(g, own, r, now)
        };
        assert_eq!(evidence(&fresh, me, Some(&mine)), Ok(()));
        let answered = record("user:me@x", "2026-12-06T10:07:59.500Z", Some("sg1"));
        assert_eq!(evidence(&fresh, me, Some(&answered)), Ok(()));
        // Hours later, the record still tells: the window is the record's, not the group's age.
        let overnight = datetime!(2026-12-06 22:00:00 UTC);
        assert_eq!(
            creation_evidence(&fresh, me, Some(&mine), overnight),
            Ok(())
        );

        let reason = |g: &SecretGroup, own: Option<&str>, r: Option<&PendingCreate>| {
            evidence(g, own, r).unwrap_err()
        };
        // A second directory, same key, same configuration, seconds later: no record there.
        assert!(reason(&fresh, me, None).contains("holds no record of an unfinished create"));
        let theirs = group(
            Some("user:other@x"),
            "2026-12-06T10:08:00.000Z",
            "2026-12-06T10:08:00.000Z",
        );
        assert!(reason(&theirs, me, Some(&mine)).contains("`user:other@x`, not by this API key"));
        assert!(reason(&fresh, None, Some(&mine)).contains("identity is unknown"));
        let other_key = record("user:other@x", "2026-12-06T10:07:59.500Z", None);
        assert!(reason(&fresh, me, Some(&other_key)).contains("ran with another API key"));
        let stale = record("user:me@x", "2026-12-05T09:00:00.000Z", None);
        assert!(reason(&fresh, me, Some(&stale)).contains("more than 24 hours ago"));
        let garbled = record("user:me@x", "yesterday", None);
        assert!(reason(&fresh, me, Some(&garbled)).contains("more than 24 hours ago"));
        let another_group = record("user:me@x", "2026-12-06T10:07:59.500Z", Some("sg0"));
        assert!(reason(&fresh, me, Some(&another_group)).contains("made another group (sg0)"));
        let tainted = PendingCreate {
            tainted: true,
            ..answered.clone()
        };
        assert!(reason(&fresh, me, Some(&tainted)).contains("holds as tainted"));
        // A group that was there before this directory's create started is not its making.
        let later = record("user:me@x", "2026-12-06T10:09:00.000Z", None);
        assert!(reason(&fresh, me, Some(&later)).contains("before the unfinished create"));
        let touched = group(me, "2026-12-06T10:08:00.000Z", "2026-12-06T10:09:30.000Z");
        assert!(reason(&touched, me, Some(&mine)).contains("someone has written to it"));
        let mut undated = fresh.clone();
        undated.created_at = None;
        assert!(reason(&undated, me, Some(&mine)).contains("does not say when"));
    }
}
