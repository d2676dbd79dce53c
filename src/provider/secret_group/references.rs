//! What the plan checks about deployments: they reference a group's secrets by
//! `tfy-secret://<tenant>:<group>:<key>`, and the API reports per secret how many do. A plan that
//! deletes keys in use fails (unless `delete_in_use = true`); a plan that replaces the group
//! warns that every reference changes. One request, made only for such plans. The apply checks
//! again, so a plan that could not ask the server still deletes nothing in use.

use super::model::Group;
use super::remote::{ServerSecrets, keys_in_use, list_keys};
use crate::client::Client;
use crate::diag::AttributePath;
use crate::provider::in_use::{self, DELETE_IN_USE, InUse, Refused};
use crate::server::{PlanRequest, PlanResponse};

/// Checks a plan that deletes keys (`deleted`) or replaces the group against what deployments
/// use.
pub async fn check_references(
    client: &Client,
    request: &PlanRequest,
    deleted: &[String],
    response: &mut PlanResponse,
) {
    let prior_state = &request.prior_state;
    if prior_state.is_null() || response.planned_state.is_null() {
        return;
    }
    let replacing = !response.requires_replace.is_empty();
    let deletes_checked_keys = !deleted.is_empty() && !in_use::allowed(&response.planned_state);
    if !replacing && !deletes_checked_keys {
        return;
    }
    let prior = Group::of(prior_state);
    // Unreadable now (gone, or the server did not answer): the apply reads and checks again.
    let server = list_keys(client, &prior.id).await.ok();
    if replacing {
        warn_about_replacement(&prior, server.as_ref(), request, response);
        return;
    }
    let Some(server) = server else { return };
    let used = keys_in_use(&server, |key| deleted.iter().any(|gone| gone == key));
    if !used.is_empty() {
        in_use::refuse(
            &mut response.diagnostics,
            Some(AttributePath::root(DELETE_IN_USE)),
            &format!("the secret group {}", prior.label()),
            &used,
            Refused::Plan,
        );
    }
}

/// The replacement warning: the group's keys get new references. When deployments use some of
/// them and the state does not allow deleting them, the destroy half would be refused: the plan
/// fails instead.
fn warn_about_replacement(
    prior: &Group,
    server: Option<&ServerSecrets>,
    request: &PlanRequest,
    response: &mut PlanResponse,
) {
    let key_count = match server {
        Some(server) => server.len(),
        None => prior.server_keys().len(),
    };
    if key_count == 0 {
        return;
    }
    let used: Vec<InUse> = server
        .map(|server| keys_in_use(server, |_| true))
        .unwrap_or_default();
    let label = prior.label();
    let tenant = prior.tenant.as_deref().unwrap_or("<tenant>");
    let old_name = prior.name.as_deref().unwrap_or("<name>");
    let new_name = response
        .planned_state
        .get("name")
        .as_str()
        .unwrap_or("<new name>");
    let changed: Vec<String> = response
        .requires_replace
        .iter()
        .map(|path| format!("`{path}`"))
        .collect();
    let keys = if key_count == 1 { "key" } else { "keys" };
    let old_refs = format!("`tfy-secret://{tenant}:{old_name}:<key>`");
    let what_changes = if new_name == old_name {
        // Same name, new secret store: the text stays, the secrets behind it are new.
        format!(
            "The references {old_refs} keep their text, but between the delete and the create they \
             resolve to nothing, and keys that none of the secret maps holds are not created again."
        )
    } else {
        format!(
            "The reference of each key changes from {old_refs} to \
             `tfy-secret://{tenant}:{new_name}:<key>` (see `secret_fqns`)."
        )
    };
    let mut detail = format!(
        "Changing {} replaces the secret group {label}: it is deleted with its {key_count} {keys} and \
         created again. {what_changes} Deployments that reference these secrets must be updated, or \
         they break.",
        changed.join(" and ")
    );
    if !used.is_empty() {
        detail.push_str(&format!(
            " TrueFoundry reports deployments using: {}.",
            in_use::describe(&used)
        ));
    }
    let path = response.requires_replace.first().cloned();
    let summary = "Secret References Will Change";
    match path {
        Some(path) => response.diagnostics.warning_at(path, summary, detail),
        None => response.diagnostics.warning(summary, detail),
    }
    if !used.is_empty() && !in_use::allowed(&request.prior_state) {
        in_use::refuse(
            &mut response.diagnostics,
            Some(AttributePath::root(DELETE_IN_USE)),
            &format!("the secret group {label}"),
            &used,
            Refused::Replace,
        );
    }
}
