//! ReadResource (refresh): the key as the server has it. Two requests at once: the group (for the
//! tenant and proven deletions) and this one key, with its value when the state keeps one.

use super::model::{Computed, SecretPrivate, SecretState};
use super::schema::attr;
use crate::client;
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::identity::{NotFound, not_visible};
use crate::provider::remote::group::visible_to;
use crate::provider::remote::group::{group_name, secret_fqn};
use crate::provider::remote::secrets::find_secret;
use crate::server::{ReadRequest, ReadResponse};
use crate::value::Value;

pub async fn read(context: &ProviderContext, request: ReadRequest) -> ReadResponse {
    let mut response = ReadResponse {
        private: request.private.clone(),
        new_state: request.current_state.clone(),
        ..ReadResponse::default()
    };
    let Some(client) = context.client_or_report(&mut response.diagnostics) else {
        return response;
    };
    let current = SecretState::of(&request.current_state);
    let identity = context.identity();
    let label = current.group_label();
    if !identity.check_tenant(&label, current.tenant(), &mut response.diagnostics) {
        return response;
    }
    let mut private = SecretPrivate::decode(&request.private);
    let keeps_value = !current.value.is_null();
    let (group, secret) = tokio::join!(
        client.get_secret_group(&current.group_id),
        find_secret(
            client,
            &current.group_id,
            current.fqn.as_deref(),
            &current.key,
            keeps_value
        )
    );
    let group = match group {
        Ok(group) => group,
        Err(client::Error::NotFound { .. }) => {
            match identity.not_found(&private.visible_to) {
                // The group is gone, and its keys with it.
                NotFound::Deleted => response.new_state = Value::Null,
                NotFound::Unproven(why) => {
                    not_visible(&mut response.diagnostics, &label, &current.group_id, &why)
                }
            }
            return response;
        }
        Err(err) => {
            let action = format!("reading secret group {}", current.group_id);
            api_error(&mut response.diagnostics, &action, &err);
            return response;
        }
    };
    let secret = match secret {
        Ok(Some(secret)) => secret,
        // Deleted elsewhere: removed from state, so the next plan creates it again.
        Ok(None) => {
            response.new_state = Value::Null;
            return response;
        }
        Err(err) => {
            let action = format!("reading the key `{}` of secret group {label}", current.key);
            api_error(&mut response.diagnostics, &action, &err);
            return response;
        }
    };
    let version = secret.latest_version.unwrap_or(0);
    let state = &mut response.new_state;
    let computed = Computed {
        id: secret.id,
        fqn: secret_fqn(&group.tenant_name, &group_name(&group), &current.key),
        version,
    };
    computed.set_into(state);
    if let Some(value) = secret.value.filter(|_| keeps_value) {
        // The value itself is compared: the version need not be.
        state.set(attr::VALUE, Value::string(value.expose()));
        private.synced_version = Some(version);
    }
    private.visible_to = visible_to(&group);
    private.deployments = secret.active_deployments;
    response.private = private.encode();
    response
}
