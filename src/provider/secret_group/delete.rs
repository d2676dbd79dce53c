//! ApplyResourceChange for a destroy: `DELETE /v1/secret-groups/{id}`.

use super::model::{Group, Private};
use super::who_could_see;
use crate::client::{self, Client};
use crate::provider::errors::api_error;
use crate::provider::identity::{Identity, NotFound, not_visible};
use crate::server::{ApplyRequest, ApplyResponse};
use crate::value::Value;

pub async fn delete(
    client: &Client,
    identity: &Identity,
    request: &ApplyRequest,
    response: &mut ApplyResponse,
) {
    let prior = Group::of(&request.prior_state);
    match client.delete_secret_group(&prior.id, false).await {
        Ok(()) => response.new_state = Value::Null,
        // Already gone is success, but only for a key that could have seen the group: for any
        // other key the group may well still be there.
        Err(client::Error::NotFound { .. }) => {
            let private = Private::decode(&request.planned_private);
            match identity.not_found(&who_could_see(&prior, &private)) {
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
