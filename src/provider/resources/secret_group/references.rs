//! What the plan checks about deployments: they reference a group's secrets by
//! `tfy-secret://<tenant>:<group>:<key>`, and the API reports per secret how many do. A plan that
//! deletes keys in use fails (unless `delete_in_use = true`); a plan that replaces the group
//! warns that every reference changes. The counts are those of the last refresh (kept in the
//! private state), so the plan makes no request of its own; the apply checks again against its
//! re-read, so counts that grew since (or a plan with `-refresh=false`) still delete nothing in
//! use.

use std::collections::BTreeMap;

use super::model::{Group, GroupPrivate};
use super::schema::attr;
use crate::diag::AttributePath;
use crate::provider::remote::in_use::{self, InUse, Refused};
use crate::server::{PlanRequest, PlanResponse};

/// Checks a plan that deletes keys (`deleted`) or replaces the group against what deployments
/// used at the last refresh.
pub fn check_references(request: &PlanRequest, deleted: &[String], response: &mut PlanResponse) {
    let prior_state = &request.prior_state;
    if prior_state.is_null() || response.planned_state.is_null() {
        return;
    }
    let prior = Group::of(prior_state);
    let counts = GroupPrivate::decode(&request.prior_private).in_use;
    if !response.requires_replace.is_empty() {
        warn_about_replacement(&prior, &counts, request, response);
        return;
    }
    if in_use::allowed(&response.planned_state) {
        return;
    }
    let used = in_use_among(&counts, |key| deleted.iter().any(|gone| gone == key));
    if !used.is_empty() {
        in_use::refuse(
            &mut response.diagnostics,
            &prior.label(),
            &used,
            Refused::Plan,
        );
    }
}

/// A destroy plan (`terraform plan -destroy`, Terraform 1.3 or later asks the provider) of a
/// group whose keys deployments used at the last refresh, while the state does not allow
/// deleting them: the apply will refuse it, so the plan says so now, at `delete_in_use`.
pub fn warn_about_destroy(request: &PlanRequest, response: &mut PlanResponse) {
    let prior_state = &request.prior_state;
    if prior_state.is_null() || in_use::allowed(prior_state) {
        return;
    }
    let counts = GroupPrivate::decode(&request.prior_private).in_use;
    let used = in_use_among(&counts, |_| true);
    if used.is_empty() {
        return;
    }
    response.diagnostics.warning_at(
        AttributePath::root(attr::DELETE_IN_USE),
        "Destroy Will Be Refused",
        format!(
            "At the last refresh, deployments still used these secrets of the secret group {}: {}. \
             Applying this destroy will stop with an error and delete nothing, since the state does \
             not set `delete_in_use = true`. Update those deployments first, or set \
             `delete_in_use = true` on the resource and apply that before destroying.",
            Group::of(prior_state).label(),
            in_use::describe_keys_in_use(&used)
        ),
    );
}

fn in_use_among(counts: &BTreeMap<String, u64>, deleting: impl Fn(&str) -> bool) -> Vec<InUse> {
    in_use::keys_in_use(
        counts
            .iter()
            .map(|(key, count)| (key.as_str(), Some(*count))),
        deleting,
    )
}

/// The replacement warning: the group's keys get new references. When deployments use some of
/// them and the state does not allow deleting them, the destroy half would be refused: the plan
/// fails instead.
fn warn_about_replacement(
    prior: &Group,
    counts: &BTreeMap<String, u64>,
    request: &PlanRequest,
    response: &mut PlanResponse,
) {
    let key_count = prior.server_keys().len();
    if key_count == 0 {
        return;
    }
    let used = in_use_among(counts, |_| true);
    let label = prior.label();
    let tenant = prior.tenant.as_deref().unwrap_or("<tenant>");
    let old_name = prior.name.as_deref().unwrap_or("<name>");
    let new_name = response
        .planned_state
        .get(attr::NAME)
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
            in_use::describe_keys_in_use(&used)
        ));
    }
    let summary = "Secret References Will Change";
    match response.requires_replace.first().cloned() {
        Some(path) => response.diagnostics.warning_at(path, summary, detail),
        None => response.diagnostics.warning(summary, detail),
    }
    if !used.is_empty() && !in_use::allowed(&request.prior_state) {
        in_use::refuse(&mut response.diagnostics, &label, &used, Refused::Replace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Severity;
    use crate::value::Value;

    /// Group `acme:<name>` holding keys A and B, read when deployments used `in_use`.
    fn request(name: &str, in_use: &[(&str, u64)], delete_in_use: bool) -> PlanRequest {
        let state = Value::object([
            (attr::ID, Value::string("sg1")),
            (attr::NAME, Value::string(name)),
            (attr::TENANT_NAME, Value::string("acme")),
            (attr::FQN, Value::string(format!("acme:{name}"))),
            (attr::DELETE_IN_USE, Value::Bool(delete_in_use)),
            (
                attr::SECRET_VERSIONS,
                Value::Map(
                    [("A", 1), ("B", 2)]
                        .map(|(k, v)| (k.to_owned(), Value::from(v)))
                        .into(),
                ),
            ),
        ]);
        let private = GroupPrivate {
            in_use: in_use.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
            ..GroupPrivate::default()
        };
        PlanRequest {
            prior_state: state.clone(),
            proposed_new_state: state.clone(),
            config: state,
            prior_private: private.encode(),
        }
    }

    fn planned(name: &str, delete_in_use: bool, replace: Option<&str>) -> PlanResponse {
        PlanResponse {
            planned_state: Value::object([
                (attr::NAME, Value::string(name)),
                (attr::DELETE_IN_USE, Value::Bool(delete_in_use)),
            ]),
            requires_replace: replace.map(AttributePath::root).into_iter().collect(),
            ..PlanResponse::default()
        }
    }

    fn texts(response: &PlanResponse, severity: Severity) -> Vec<String> {
        response
            .diagnostics
            .0
            .iter()
            .filter(|d| d.severity == severity)
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect()
    }

    #[test]
    fn dropping_a_key_in_use_is_an_error_unless_delete_in_use() {
        let request = request("g", &[("A", 2)], false);
        let mut refused = planned("g", false, None);
        check_references(&request, &["A".to_owned()], &mut refused);
        let [error] = &refused.diagnostics.0[..] else {
            panic!("one error: {:?}", refused.diagnostics.0)
        };
        assert_eq!(error.severity, Severity::Error);
        assert_eq!(error.path, Some(AttributePath::root(attr::DELETE_IN_USE)));
        assert!(
            error.detail.contains("A (2 deployments)"),
            "{}",
            error.detail
        );

        let mut unused_key = planned("g", false, None);
        check_references(&request, &["B".to_owned()], &mut unused_key);
        assert!(unused_key.diagnostics.0.is_empty());

        let mut allowed = planned("g", true, None);
        check_references(&request, &["A".to_owned()], &mut allowed);
        assert!(allowed.diagnostics.0.is_empty());
    }

    #[test]
    fn a_rename_warns_that_references_change_and_fails_while_the_state_forbids_the_delete() {
        let mut plain = planned("new", false, Some(attr::NAME));
        check_references(&request("old", &[], false), &[], &mut plain);
        let [warning] = &texts(&plain, Severity::Warning)[..] else {
            panic!("one warning: {:?}", plain.diagnostics.0)
        };
        assert!(warning.contains("deleted with its 2 keys"), "{warning}");
        assert!(
            warning.contains("from `tfy-secret://acme:old:<key>` to `tfy-secret://acme:new:<key>`"),
            "{warning}"
        );
        assert!(texts(&plain, Severity::Error).is_empty());

        let mut in_use = planned("new", true, Some(attr::NAME));
        check_references(&request("old", &[("B", 1)], false), &[], &mut in_use);
        assert!(texts(&in_use, Severity::Warning)[0].contains("using: B (1 deployment)."));
        let [error] = &texts(&in_use, Severity::Error)[..] else {
            panic!("one error: {:?}", in_use.diagnostics.0)
        };
        assert!(error.contains("apply that alone first"), "{error}");

        let mut allowed_in_state = planned("new", false, Some(attr::NAME));
        check_references(
            &request("old", &[("B", 1)], true),
            &[],
            &mut allowed_in_state,
        );
        assert!(texts(&allowed_in_state, Severity::Error).is_empty());
    }

    #[test]
    fn a_destroy_plan_warns_of_keys_in_use_unless_the_state_allows_deleting_them() {
        let destroy = |in_use: &[(&str, u64)], delete_in_use: bool| {
            let mut request = request("g", in_use, delete_in_use);
            request.proposed_new_state = Value::Null;
            request.config = Value::Null;
            let mut response = PlanResponse::default();
            warn_about_destroy(&request, &mut response);
            response
        };
        let warned = destroy(&[("A", 2)], false);
        let [warning] = &warned.diagnostics.0[..] else {
            panic!("one warning: {:?}", warned.diagnostics.0)
        };
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!(warning.path, Some(AttributePath::root(attr::DELETE_IN_USE)));
        assert!(warning.detail.contains("acme:g"), "{}", warning.detail);
        assert!(
            warning.detail.contains("A (2 deployments)"),
            "{}",
            warning.detail
        );
        assert!(destroy(&[("A", 2)], true).diagnostics.0.is_empty());
        assert!(destroy(&[], false).diagnostics.0.is_empty());
    }

    #[test]
    fn a_new_store_keeps_the_references_text() {
        let mut moved = planned("g", false, Some(attr::INTEGRATION_FQN));
        check_references(&request("g", &[], false), &[], &mut moved);
        let [warning] = &texts(&moved, Severity::Warning)[..] else {
            panic!("one warning: {:?}", moved.diagnostics.0)
        };
        assert!(warning.contains("Changing `integration_fqn`"), "{warning}");
        assert!(warning.contains("keep their text"), "{warning}");
    }
}
