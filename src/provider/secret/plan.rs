//! PlanResourceChange: `version` unknown exactly when the apply writes the value.

use super::model::{Private, SecretState};
use super::validate;
use crate::diag::{AttributePath, Severity};
use crate::provider::ProviderContext;
use crate::provider::secret_group::plan::warn_write_only_drift_unseen;
use crate::server::{PlanRequest, PlanResponse};
use crate::value::Value;

const COMPUTED: [&str; 3] = ["id", "fqn", "version"];
const FORCE_REPLACEMENT: [&str; 2] = ["secret_group_id", "key"];

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
    let mut planned = request.proposed_new_state.clone();
    let prior_value = &request.prior_state;
    if prior_value.is_null() {
        refuse_creating_unmanaged(&request.config, &mut response);
        COMPUTED
            .iter()
            .for_each(|name| planned.set(name, Value::Unknown));
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
        refuse_creating_unmanaged(&request.config, &mut response);
        COMPUTED
            .iter()
            .for_each(|name| planned.set(name, Value::Unknown));
    } else if must_write(
        prior_value,
        &request.config,
        &Private::decode(&request.prior_private),
    ) {
        planned.set("version", Value::Unknown);
    }
    // A server that lists no versions (recorded as 0, which no real version is) hides a change
    // made elsewhere to a write-only value: said, as the group resource says it.
    if prior.version == Some(0) && request.config.get("value").is_null() {
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

/// A key cannot be created without a value: the unmanaged form only keeps an existing one.
fn refuse_creating_unmanaged(config: &Value, response: &mut PlanResponse) {
    if validate::value_unmanaged(config) {
        let key = config.get("key").as_str().unwrap_or_default();
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
fn must_write(prior: &Value, config: &Value, private: &Private) -> bool {
    if validate::value_unmanaged(config) {
        return false;
    }
    let version = SecretState::of(prior).version;
    // The server's version moved past the one this provider last wrote or saw: changed elsewhere.
    let changed_elsewhere = version.is_none()
        || private
            .synced_version
            .is_some_and(|synced| Some(synced) != version);
    let value = config.get("value");
    changed_elsewhere
        || if !value.is_null() {
            // Unknown until apply, changed, or new to `value` (never compared): sent. The API
            // makes no new version for an unchanged value.
            value != prior.get("value")
        } else {
            config.get("value_wo_version") != prior.get("value_wo_version")
        }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn synced(version: i64) -> Private {
        Private {
            synced_version: Some(version),
            ..Private::default()
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
            &Private::default()
        ));
    }

    #[test]
    fn an_unmanaged_value_is_never_written() {
        let prior = state(Value::Null, Value::Null, 3);
        let config = state(Value::Null, Value::Null, 0);
        assert!(!must_write(&prior, &config, &synced(3)));
        // Changed elsewhere (version moved) or never synced: still the owner's value.
        assert!(!must_write(&prior, &config, &synced(1)));
        assert!(!must_write(&prior, &config, &Private::default()));
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
