//! ApplyResourceChange: a create or an update writes through the group's coalescing queue
//! (`batch.rs`); a destroy deletes only this key, with the per-secret DELETE.

use std::sync::Arc;

use super::batch::write_secret;
use super::model::{Computed, SecretConfig, SecretPrivate, SecretState};
use crate::client;
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::identity::{NotFound, not_visible};
use crate::provider::remote::in_use::{self, Refused};
use crate::provider::remote::secrets::find_secret;
use crate::server::{ApplyRequest, ApplyResponse};
use crate::value::Value;

pub async fn apply(context: &Arc<ProviderContext>, request: ApplyRequest) -> ApplyResponse {
    let mut response = ApplyResponse {
        new_state: request.prior_state.clone(),
        private: request.planned_private.clone(),
        ..ApplyResponse::default()
    };
    if !request.prior_state.is_null() {
        let prior = SecretState::of(&request.prior_state);
        if !context.identity().check_tenant(
            &prior.group_label(),
            prior.tenant(),
            &mut response.diagnostics,
        ) {
            return response;
        }
    }
    if request.planned_state.is_null() {
        delete(context, &request, &mut response).await;
    } else {
        write(context, &request, &mut response).await;
    }
    response
}

async fn write(
    context: &Arc<ProviderContext>,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let planned = SecretState::of(&request.planned_state);
    if !request.prior_state.is_null() && planned.version.is_some() {
        // Planned with a known version: nothing to send (`value_wo_version` alone may change).
        response.new_state = request.planned_state.clone();
        return;
    }
    let Some(value) = SecretConfig::of(&request.config).value_to_send() else {
        response.diagnostics.error(
            "Secret Value Missing",
            format!(
                "The key `{}` must be written but its value is not known. Set `value` or `value_wo` \
                 to a known value.",
                planned.key
            ),
        );
        return;
    };
    match write_secret(context, &planned.group_id, &planned.key, value).await {
        Ok(written) => {
            response.diagnostics.extend(written.warnings.clone());
            let mut state = request.planned_state.clone();
            let learnt = Computed {
                id: written.secret.id.clone(),
                fqn: written.fqn.clone(),
                version: written.secret.version,
            };
            learnt.fill_unknown(&mut state);
            response.new_state = state;
            response.private = SecretPrivate {
                synced_version: Some(written.secret.version),
                visible_to: written.visible_to,
                deployments: written.secret.active_deployments,
            }
            .encode();
        }
        Err(diags) => response.diagnostics.extend(diags),
    }
}

/// Deletes this key only. Under the group's write lock, so that no full-list PUT of this
/// provider lists the key after it is gone (which the API would refuse).
async fn delete(context: &ProviderContext, request: &ApplyRequest, response: &mut ApplyResponse) {
    let Some(client) = context.client_or_report(&mut response.diagnostics) else {
        return;
    };
    let prior = SecretState::of(&request.prior_state);
    let label = prior.group_label();
    let _guard = context.lock_group(&prior.group_id).await;
    let found = find_secret(
        client,
        &prior.group_id,
        prior.fqn.as_deref(),
        &prior.key,
        false,
    )
    .await;
    let deleted = match found {
        // Already gone is success: the group was listed, so this key could see it.
        Ok(None) => Ok(()),
        Ok(Some(secret)) => {
            // A destroy reads `delete_in_use` from the state: Terraform plans no destroy with us.
            let used = in_use::secrets_in_use(std::slice::from_ref(&secret), |_| true);
            if !used.is_empty() && !in_use::allowed(&request.prior_state) {
                in_use::refuse(&mut response.diagnostics, &label, &used, Refused::Destroy);
                return;
            }
            match client.delete_secret(&secret.id, false).await {
                Ok(_) | Err(client::Error::NotFound { .. }) => Ok(()),
                Err(err) => Err(err),
            }
        }
        Err(client::Error::NotFound { .. }) => {
            // The group is not found: gone with its keys, but only for a key that could see it.
            let private = SecretPrivate::decode(&request.planned_private);
            match context.identity().not_found(&private.visible_to) {
                NotFound::Deleted => Ok(()),
                NotFound::Unproven(why) => {
                    not_visible(&mut response.diagnostics, &label, &prior.group_id, &why);
                    return;
                }
            }
        }
        Err(err) => Err(err),
    };
    match deleted {
        Ok(()) => response.new_state = Value::Null,
        Err(err) => {
            let action = format!("deleting the key `{}` of secret group {label}", prior.key);
            api_error(&mut response.diagnostics, &action, &err);
        }
    }
}
