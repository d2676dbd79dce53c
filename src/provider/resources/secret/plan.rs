//! PlanResourceChange: `version` unknown exactly when the apply writes the value.

use super::model::{Computed, SecretConfig, SecretPrivate, SecretState};
use super::schema::attr;
use super::validate;
use crate::diag::{AttributePath, Severity};
use crate::provider::ProviderContext;
use crate::provider::remote::in_use::{self, Refused};
use crate::provider::remote::secrets::warn_write_only_drift_unseen;
use crate::server::{PlanRequest, PlanResponse};
use crate::value::Value;

const FORCE_REPLACEMENT: [&str; 2] = [attr::SECRET_GROUP_ID, attr::KEY];

pub fn plan(context: &ProviderContext, request: PlanRequest) -> PlanResponse {
    let mut response = PlanResponse {
        planned_private: request.prior_private.clone(),
        ..PlanResponse::default()
    };
    if request.proposed_new_state.is_null() {
        return response;
    }
    // Values unknown at validate time may be known now: check again, errors only.
    for diag in validate::validate(&request.config).0 {
        if diag.severity == Severity::Error {
            response.diagnostics.0.push(diag);
        }
    }
    let config = SecretConfig::of(&request.config);
    let mut planned = request.proposed_new_state.clone();
    let prior_value = &request.prior_state;
    if prior_value.is_null() {
        refuse_creating_unmanaged(&config, &mut response);
        Computed::plan_unknown(&mut planned);
        response.planned_state = planned;
        return response;
    }
    let prior = SecretState::of(prior_value);
    if !context.identity().check_tenant(
        &prior.group_label(),
        prior.tenant(),
        &mut response.diagnostics,
    ) {
        return response;
    }
    for name in FORCE_REPLACEMENT {
        if planned.get(name) != prior_value.get(name) {
            response.requires_replace.push(AttributePath::root(name));
        }
    }
    if !response.requires_replace.is_empty() {
        // A replacement deletes the key first: refused at plan when there is nothing to create
        // the new one with.
        refuse_creating_unmanaged(&config, &mut response);
        refuse_replacing_in_use(&request, &prior, &mut response);
        Computed::plan_unknown(&mut planned);
    } else if must_write(
        &prior,
        &config,
        &SecretPrivate::decode(&request.prior_private),
    ) {
        planned.set(attr::VERSION, Value::Unknown);
    }
    // A server that lists no versions (recorded as 0, which no real version is) hides a change
    // made elsewhere to a write-only value: said, as the group resource says it.
    if prior.version == Some(0) && config.value.is_null() {
        warn_write_only_drift_unseen(
            &mut response.diagnostics,
            &prior.group_label(),
            &[prior.key.as_str()],
            "`value_wo_version` changes",
        );
    }
    response.planned_state = planned;
    response
}

/// A new `key` (or group) deletes the old key: refused while deployments use it, unless the
/// state already allows it (the delete reads `delete_in_use` from the state), as the group's
/// maps are.
fn refuse_replacing_in_use(
    request: &PlanRequest,
    prior: &SecretState,
    response: &mut PlanResponse,
) {
    let deployments = SecretPrivate::decode(&request.prior_private).deployments;
    let used = in_use::keys_in_use([(prior.key.as_str(), deployments)], |_| true);
    if used.is_empty() || in_use::allowed(&request.prior_state) {
        return;
    }
    in_use::refuse_at(
        &mut response.diagnostics,
        response.requires_replace.first().cloned(),
        &prior.group_label(),
        &used,
        Refused::Replace,
    );
}

/// A key cannot be created without a value: the unmanaged form only keeps an existing one.
fn refuse_creating_unmanaged(config: &SecretConfig, response: &mut PlanResponse) {
    if config.value_unmanaged() {
        let key = config.key.as_deref().unwrap_or_default();
        response.diagnostics.error(
            "Secret Value Missing",
            format!(
                "The key `{key}` must be created, but neither `value` nor `value_wo` is set. Set one \
                 of them. Without both, a `truefoundry_secret` only keeps a key that exists (such as \
                 one imported from `terraform query -generate-config-out`) and leaves its value alone."
            ),
        );
    }
}

/// Whether an apply must send the value of a secret that exists. Never when the value is
/// unmanaged: a change made elsewhere is then the owner's, not drift.
fn must_write(prior: &SecretState, config: &SecretConfig, private: &SecretPrivate) -> bool {
    if config.value_unmanaged() {
        return false;
    }
    let version = prior.version;
    // The server's version moved past the one this provider last wrote or saw: changed elsewhere.
    let changed_elsewhere = version.is_none()
        || private
            .synced_version
            .is_some_and(|synced| Some(synced) != version);
    changed_elsewhere
        || if !config.value.is_null() {
            // Unknown until apply, changed, or new to `value` (never compared): sent. The API
            // makes no new version for an unchanged value.
            config.value != prior.value
        } else {
            config.value_wo_version != prior.value_wo_version
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::must_write`] of a prior state and a configuration as Terraform sends them.
    fn must_write(prior: &Value, config: &Value, private: &SecretPrivate) -> bool {
        super::must_write(&SecretState::of(prior), &SecretConfig::of(config), private)
    }

    /// A state or config; a config with a `value_wo_version` has a write-only value too.
    fn state(value: Value, wo_version: Value, version: i64) -> Value {
        let value_wo = if wo_version.is_null() {
            Value::Null
        } else {
            Value::string("w")
        };
        Value::object([
            ("value", value),
            ("value_wo", value_wo),
            ("value_wo_version", wo_version),
            ("version", Value::from(version)),
        ])
    }

    fn synced(version: i64) -> SecretPrivate {
        SecretPrivate {
            synced_version: Some(version),
            ..SecretPrivate::default()
        }
    }

    #[test]
    fn a_value_is_written_when_it_changed_here_or_elsewhere() {
        let prior = state("a".into(), Value::Null, 2);
        assert!(!must_write(
            &prior,
            &state("a".into(), Value::Null, 0),
            &synced(2)
        ));
        assert!(must_write(
            &prior,
            &state("b".into(), Value::Null, 0),
            &synced(2)
        ));
        assert!(must_write(
            &prior,
            &state(Value::Unknown, Value::Null, 0),
            &synced(2)
        ));
        // A version that moved without a value read (viewer key, write-only): changed elsewhere.
        assert!(must_write(
            &prior,
            &state("a".into(), Value::Null, 0),
            &synced(1)
        ));
        // No private state (an older state): nothing to compare the version with.
        assert!(!must_write(
            &prior,
            &state("a".into(), Value::Null, 0),
            &SecretPrivate::default()
        ));
    }

    #[test]
    fn an_unmanaged_value_is_never_written() {
        let prior = state(Value::Null, Value::Null, 3);
        let config = state(Value::Null, Value::Null, 0);
        assert!(!must_write(&prior, &config, &synced(3)));
        // Changed elsewhere (version moved) or never synced: still the owner's value.
        assert!(!must_write(&prior, &config, &synced(1)));
        assert!(!must_write(&prior, &config, &SecretPrivate::default()));
    }

    #[test]
    fn a_new_key_for_a_key_in_use_is_refused_unless_the_state_allows_it() {
        let refusals = |deployments: Option<u64>, delete_in_use: bool| {
            let prior = Value::object([
                ("secret_group_id", Value::string("sg1")),
                ("key", Value::string("USED")),
                ("fqn", Value::string("tfy-secret://acme:pay:USED")),
                ("delete_in_use", Value::Bool(delete_in_use)),
            ]);
            let private = SecretPrivate {
                deployments,
                ..SecretPrivate::default()
            };
            let request = PlanRequest {
                prior_state: prior.clone(),
                proposed_new_state: prior.clone(),
                config: prior,
                prior_private: private.encode(),
            };
            let mut response = PlanResponse {
                requires_replace: vec![AttributePath::root("key")],
                ..PlanResponse::default()
            };
            refuse_replacing_in_use(
                &request,
                &SecretState::of(&request.prior_state),
                &mut response,
            );
            response.diagnostics.0
        };
        let refused = refusals(Some(2), false);
        let [error] = refused.as_slice() else {
            panic!("one error: {refused:?}")
        };
        assert_eq!(error.severity, Severity::Error);
        assert_eq!(error.path, Some(AttributePath::root("key")));
        assert!(error.detail.contains("acme:pay"), "{}", error.detail);
        assert!(
            error.detail.contains("USED (2 deployments)"),
            "{}",
            error.detail
        );
        assert!(refusals(Some(2), true).is_empty(), "the state allows it");
        assert!(refusals(Some(0), false).is_empty(), "not in use");
        assert!(refusals(None, false).is_empty(), "not reported");
    }

    #[test]
    fn a_write_only_value_is_written_when_its_version_changes() {
        let prior = state(Value::Null, "1".into(), 3);
        assert!(!must_write(
            &prior,
            &state(Value::Null, "1".into(), 0),
            &synced(3)
        ));
        assert!(must_write(
            &prior,
            &state(Value::Null, "2".into(), 0),
            &synced(3)
        ));
        assert!(must_write(
            &prior,
            &state(Value::Null, "1".into(), 0),
            &synced(4)
        ));
        let from_value = state("a".into(), Value::Null, 3);
        assert!(must_write(
            &from_value,
            &state(Value::Null, "1".into(), 0),
            &synced(3)
        ));
    }
}
