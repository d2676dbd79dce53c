//! ApplyResourceChange for a destroy: `DELETE /v1/secret-groups/{id}`, unless deployments still
//! use its secrets and the state does not say `delete_in_use = true`. Terraform 1.0 plans no
//! destroy with the provider, so this is checked here, when applying.

use super::model::{Group, GroupPrivate, visible_to_as_known};
use crate::client::{self, Client};
use crate::provider::errors::api_error;
use crate::provider::identity::{Identity, NotFound, not_visible};
use crate::provider::remote::in_use::{self, Refused};
use crate::provider::remote::secrets::{list_keys, listed_keys_in_use};
use crate::server::{ApplyRequest, ApplyResponse};
use crate::value::Value;

pub async fn delete(
    client: &Client,
    identity: &Identity,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let prior = Group::of(&request.prior_state);
    if !in_use::allowed(&request.prior_state) {
        match list_keys(client, &prior.id).await {
            Ok(server) => {
                let used = listed_keys_in_use(&server, |_| true);
                if !used.is_empty() {
                    in_use::refuse(
                        &mut response.diagnostics,
                        &prior.label(),
                        &used,
                        Refused::Destroy,
                    );
                    response.new_state = request.prior_state.clone();
                    return;
                }
            }
            // Gone already: the delete below sorts out whether that is success.
            Err(client::Error::NotFound { .. }) => {}
            Err(err) => {
                api_error(
                    &mut response.diagnostics,
                    &format!(
                        "checking whether deployments use the secrets of secret group {} before \
                         deleting it (nothing was deleted)",
                        prior.id
                    ),
                    &err,
                );
                response.new_state = request.prior_state.clone();
                return;
            }
        }
    }
    match client.delete_secret_group(&prior.id, false).await {
        Ok(()) => response.new_state = Value::Null,
        // Already gone is success, but only for a key that could have seen the group: for any
        // other key the group may well still be there.
        Err(client::Error::NotFound { .. }) => {
            let private = GroupPrivate::decode(&request.planned_private);
            match identity.not_found(&visible_to_as_known(&prior, &private)) {
                NotFound::Deleted => response.new_state = Value::Null,
                NotFound::Unproven(why) => {
                    not_visible(&mut response.diagnostics, &prior.label(), &prior.id, &why);
                    response.new_state = request.prior_state.clone();
                }
            }
        }
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("deleting secret group {}", prior.id),
                &err,
            );
            response.new_state = request.prior_state.clone();
        }
    }
}
