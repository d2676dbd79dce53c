//! The plan asks TrueFoundry, with the manifest PUT's `dryRun`, whether it would accept the
//! manifest an apply is about to write. A replacement destroys the old group before it creates
//! the new one: a typo that only the server can see (an integration that does not exist, a
//! subject it does not know) must fail `terraform plan`, not leave the group destroyed and the
//! new one refused.

use super::create::{find_by_name, interrupted_create_leftover, name_taken};
use super::model::{Group, GroupPrivate, SecretMaps, describe_collaborators, manifest_of};
use super::pending::PendingCreate;
use super::schema::attr;
use crate::client::{self, Client, SecretGroupManifest};
use crate::diag::AttributePath;
use crate::server::{PlanRequest, PlanResponse};

/// Dry-runs the planned manifest when the plan creates the group, replaces it, or changes its
/// collaborators or owner in place, and every manifest attribute is known. A refusal is a plan
/// error at the attribute the server blamed; a server that cannot be asked is a warning.
pub async fn check_planned_manifest(
    client: &Client,
    own_subject: Option<&str>,
    request: &PlanRequest,
    response: &mut PlanResponse,
) {
    let planned = &response.planned_state;
    let prior = &request.prior_state;
    if planned.is_null() {
        return;
    }
    let creating = prior.is_null();
    let replacing = !creating && !response.requires_replace.is_empty();
    let collaborators = planned.get(attr::COLLABORATORS);
    let in_place_change = !creating
        && !replacing
        && !collaborators.is_null()
        && (collaborators != prior.get(attr::COLLABORATORS)
            || planned.get(attr::OWNED_BY_ACCOUNT) != prior.get(attr::OWNED_BY_ACCOUNT));
    if !(creating || replacing || in_place_change) {
        return;
    }
    let all_known = [
        attr::NAME,
        attr::INTEGRATION_FQN,
        attr::OWNED_BY_ACCOUNT,
        attr::COLLABORATORS,
    ]
    .iter()
    .all(|name| planned.get(name).is_wholly_known());
    if !all_known {
        return;
    }
    // A new group starts with the configured collaborators, or none when they are not managed.
    let planned_group = Group::of(planned);
    let collaborators = planned_group.collaborators.clone().unwrap_or_default();
    let manifest = manifest_of(&planned_group, collaborators);
    let outcome = client.apply_secret_group_manifest(&manifest, true).await;
    let err = match outcome {
        // The manifest PUT upserts by name, so a dry run accepts a create under a name another
        // group holds: a create looks the name up itself.
        Ok(_) if creating => {
            return check_name_free(client, own_subject, request, &manifest, response).await;
        }
        Ok(_) => return,
        // A conflict is the dry run seeing a group of this name that is still there: the one a
        // replacement under the same name destroys first, or someone else's, which the name
        // check tells apart. Everything else in the manifest was checked before the server got
        // that far.
        Err(client::Error::Conflict { .. }) if creating => {
            return check_name_free(client, own_subject, request, &manifest, response).await;
        }
        Err(client::Error::Conflict { .. }) => return,
        Err(err) => err,
    };
    let consequence = if replacing {
        "Nothing was changed: applying this plan would have destroyed the existing group and then \
         failed to create its replacement."
    } else {
        "Nothing was changed: applying this plan would fail."
    };
    let summary = "Secret Group Refused By TrueFoundry";
    let detail = |fix: &str| {
        format!(
            "TrueFoundry's dry run of the planned secret group refused it: {err}. {consequence} {fix}"
        )
    };
    match &err {
        client::Error::NotFound { details, .. }
        | client::Error::Conflict { details, .. }
        | client::Error::Validation { details, .. }
        | client::Error::Forbidden { details, .. } => {
            match details.iter().find_map(|field| attribute_of(field)) {
                Some((path, entry)) => {
                    let fix = match entry.and_then(|index| manifest.collaborators.get(index)) {
                        Some(entry) => format!(
                            "It names the collaborator {}: fix that entry of `collaborators`, then \
                             plan again.",
                            describe_collaborators(std::slice::from_ref(entry))
                        ),
                        None => "Fix the attribute the server named, then plan again.".to_owned(),
                    };
                    response.diagnostics.error_at(path, summary, detail(&fix))
                }
                None => response.diagnostics.error(summary, detail(unnamed_fix(&err, creating))),
            }
        }
        client::Error::Unauthorized { .. } => response.diagnostics.error(
            summary,
            detail("Check the API key (`api_key` or TFY_API_KEY)."),
        ),
        // The server could not be asked (network, overload): say so, and let the plan stand.
        _ => response.diagnostics.warning(
            "Secret Group Not Checked By TrueFoundry",
            format!(
                "The plan could not ask TrueFoundry whether it accepts this secret group ({err}), so a \
                 mistake only the server can see (an unknown integration or collaborator) would show \
                 only when applying{}. Plan again once the control plane answers.",
                if replacing {
                    ", after the existing group is destroyed"
                } else {
                    ""
                }
            ),
        ),
    }
}

/// How to fix a refusal that names no attribute. A create refused as forbidden is most often a
/// name held by a group this key cannot manage (the API does not say which group it is).
fn unnamed_fix(err: &client::Error, creating: bool) -> &'static str {
    match err {
        client::Error::Forbidden { .. } if creating => {
            "The API key lacks a permission this group needs: another group may already hold this \
             `name` (one the key cannot manage), or the key may not create groups or grant these \
             collaborators. Choose another `name`, or ask a tenant admin for access, then plan again."
        }
        client::Error::Forbidden { .. } => {
            "The API key lacks a permission this change needs: it must be a tenant admin or hold \
             `secret-group-admin` on the group. Use such a key, or ask for the role, then plan again."
        }
        _ => "Change the configuration as the server's answer says, then plan again.",
    }
}

/// For a create: an error at `name` when another group holds the name, unless it is the group
/// a replacement destroys first (Terraform plans the create half of a replacement with no prior
/// state; a tainted group's replacement with no private data either) or what an interrupted create in this working directory left behind (which the apply
/// takes over). A lookup that fails leaves the decision to the apply.
async fn check_name_free(
    client: &Client,
    own_subject: Option<&str>,
    request: &PlanRequest,
    manifest: &SecretGroupManifest,
    response: &mut PlanResponse,
) {
    let Ok(Some(existing)) = find_by_name(client, &manifest.name).await else {
        return;
    };
    if GroupPrivate::decode(&request.prior_private)
        .replacing
        .as_deref()
        == Some(existing.id.as_str())
    {
        return;
    }
    // Terraform plans the replacement of a tainted group as a create, with neither prior state
    // nor private data: the record of the create that left it tainted tells it apart.
    if PendingCreate::load(&existing.tenant_name, &manifest.name)
        .is_some_and(|record| record.is_tainted(&existing.id))
    {
        return;
    }
    // Unknown values cannot be compared with what the group holds: the apply decides then.
    if !request.config.is_wholly_known() {
        return;
    }
    let config = SecretMaps::of(&request.config);
    match interrupted_create_leftover(client, &existing, manifest, &config, own_subject).await {
        Ok(()) => response.diagnostics.warning(
            "Secret Group Will Be Taken Over",
            format!(
                "A secret group named `{}` already exists ({}). An earlier apply in this working \
                 directory was cut off while creating it: its record is still here, this API key \
                 created the group after that apply started, nothing changed it since, and it \
                 holds exactly this configuration's integration, owner, collaborators and values. \
                 Applying this plan manages it from now on; nothing it holds is changed.",
                manifest.name, existing.fqn
            ),
        ),
        Err(reason) => name_taken(&mut response.diagnostics, &existing, &reason),
    }
}

/// The resource attribute behind a field the server blamed (`manifest.integration_fqn`,
/// `manifest.collaborators[2].role_id`, ...), and for a collaborator the index of its entry in
/// the manifest sent. `collaborators` is a set, whose order is Terraform's, not the
/// configuration's (and Terraform shows a path with an index into a set at the whole resource):
/// the diagnostic points at the attribute and names the entry instead.
fn attribute_of(field: &str) -> Option<(AttributePath, Option<usize>)> {
    let field = field.strip_prefix("manifest.").unwrap_or(field);
    let (head, rest) = match field.split_once(['.', '[']) {
        Some((head, _)) => (head, &field[head.len()..]),
        None => (field, ""),
    };
    let path = |name: &str| Some((AttributePath::root(name), None));
    // The manifest's field names, as the API spells them (three happen to be the attributes').
    match head {
        "name" => path(attr::NAME),
        "integration_fqn" => path(attr::INTEGRATION_FQN),
        "ownedBy" => path(attr::OWNED_BY_ACCOUNT),
        "collaborators" => {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(index, _)| index.parse::<usize>().ok());
            Some((AttributePath::root(attr::COLLABORATORS), index))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blamed_manifest_fields_become_resource_attributes() {
        let cases = [
            (
                "manifest.integration_fqn",
                Some((attr::INTEGRATION_FQN, None)),
            ),
            ("manifest.name", Some((attr::NAME, None))),
            (
                "manifest.ownedBy.account",
                Some((attr::OWNED_BY_ACCOUNT, None)),
            ),
            ("manifest.collaborators", Some((attr::COLLABORATORS, None))),
            (
                "manifest.collaborators[2].role_id",
                Some((attr::COLLABORATORS, Some(2))),
            ),
            (
                "manifest.collaborators[0]",
                Some((attr::COLLABORATORS, Some(0))),
            ),
            ("manifest.type", None),
            ("secrets[0].value", None),
        ];
        for (field, expected) in cases {
            assert_eq!(
                attribute_of(field).map(|(path, index)| (path.to_string(), index)),
                expected.map(|(path, index)| (path.to_owned(), index)),
                "{field}"
            );
        }
    }
}
