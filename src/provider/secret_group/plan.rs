//! PlanResourceChange: the planned state, with `secret_versions` unknown exactly for the keys the
//! apply writes, and warnings that say what the apply will do to keys and collaborators.

use super::dry_run::check_planned_manifest;
use super::keys::plan_keys;
use super::model::{Group, Private, SecretMaps};
use super::schema::DEFAULT_INTEGRATION_FQN;
use super::validate;
use crate::diag::{AttributePath, Severity};
use crate::provider::ProviderContext;
use crate::server::{PlanRequest, PlanResponse};
use crate::value::Value;

pub async fn plan(context: &ProviderContext, request: PlanRequest) -> PlanResponse {
    let mut response = plan_offline(&request);
    if request.proposed_new_state.is_null() && request.prior_state.is_null() {
        return response;
    }
    if !request.prior_state.is_null() {
        let prior = Group::of(&request.prior_state);
        let tenant = prior.tenant.as_deref().unwrap_or_default();
        if !context
            .identity()
            .check_tenant(&prior.label(), tenant, &mut response.diagnostics)
        {
            return response;
        }
    }
    if !response.diagnostics.has_errors()
        && let Ok(client) = context.client()
    {
        check_planned_manifest(client, &request, &mut response).await;
    }
    response
}

/// Everything the plan decides without asking the API.
fn plan_offline(request: &PlanRequest) -> PlanResponse {
    let mut response = PlanResponse {
        planned_private: request.prior_private.clone(),
        ..PlanResponse::default()
    };
    if request.proposed_new_state.is_null() {
        return response;
    }
    let config_value = &request.config;
    let prior_value = &request.prior_state;
    let private = Private::decode(&request.prior_private);
    let mut planned = request.proposed_new_state.clone();

    // Values unknown at validate time may be known now: check again, errors only.
    for diag in validate::validate(config_value).0 {
        if diag.severity == Severity::Error {
            response.diagnostics.0.push(diag);
        }
    }

    let create = prior_value.is_null();
    if create {
        for computed in ["id", "fqn", "tenant_name"] {
            planned.set(computed, Value::Unknown);
        }
        if config_value.get("integration_fqn").is_null() {
            planned.set("integration_fqn", Value::string(DEFAULT_INTEGRATION_FQN));
        }
    } else {
        if config_value.get("integration_fqn").is_null() {
            planned.set(
                "integration_fqn",
                prior_value.get("integration_fqn").clone(),
            );
        }
        for forces_replacement in ["name", "integration_fqn"] {
            if planned.get(forces_replacement) != prior_value.get(forces_replacement) {
                response
                    .requires_replace
                    .push(AttributePath::root(forces_replacement));
            }
        }
    }

    let prior = (!create).then(|| Group::of(prior_value));
    let config = SecretMaps::of(config_value);
    let tenant = prior.as_ref().and_then(|p| p.tenant.clone());
    let name = planned.get("name").as_str().map(str::to_owned);
    let keys = plan_keys(
        prior.as_ref(),
        &config,
        &private,
        tenant.as_deref(),
        name.as_deref(),
    );
    if let Some(prior) = &prior {
        warn_about_what_is_released_or_deleted(
            prior,
            &config,
            prior_value,
            config_value,
            &keys.deleted,
            &mut response,
        );
    }
    planned.set("secret_versions", keys.versions);
    planned.set("secret_fqns", keys.fqns);
    response.planned_state = planned;
    response
}

/// The plan's own words for what a reader of `- ... -> null` or a dropped key could misread.
/// No path into a secrets map: Terraform would print the configured values around it.
fn warn_about_what_is_released_or_deleted(
    prior: &Group,
    config: &SecretMaps,
    prior_value: &Value,
    config_value: &Value,
    deleted: &[String],
    response: &mut PlanResponse,
) {
    if !deleted.is_empty() {
        response.diagnostics.warning(
            "Secrets Will Be Deleted",
            format!(
                "Applying this plan deletes these keys, with all their versions, from the secret group \
                 {}: {}. They are in the group but in none of `secrets`, `secrets_wo` and \
                 `initial_secrets` (keys added outside Terraform show up here too, and so do keys of \
                 `truefoundry_secret` resources: these maps own every key of the group). Add them to \
                 one of those maps to keep them, or leave all three maps unset when \
                 `truefoundry_secret` resources manage the group's keys.",
                prior.label(),
                deleted.join(", ")
            ),
        );
    }
    if !prior.maps.unmanaged() && config.unmanaged() {
        response.diagnostics.warning(
            "Secrets No Longer Managed",
            format!(
                "`secrets`, `secrets_wo` and `initial_secrets` are no longer set for the secret group {}, \
                 so this provider stops managing its keys: applying deletes nothing and writes no value, \
                 and the keys keep their values on the server. `secret_versions` and `secret_fqns` go on \
                 listing the group's keys.",
                prior.label()
            ),
        );
    }
    if !prior_value.get("collaborators").is_null() && config_value.get("collaborators").is_null() {
        response.diagnostics.warning(
            "Collaborators No Longer Managed",
            format!(
                "`collaborators` is no longer set for the secret group {}, so this provider stops \
                 managing them: applying changes nobody's access, and the group keeps its collaborators.",
                prior.label()
            ),
        );
    }
}
