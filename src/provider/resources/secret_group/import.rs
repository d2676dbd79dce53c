//! ImportResourceState: `<id>`, `<tenant>:<name>`, or either behind `write-only:` to bring the
//! keys in without their values.

use super::model::GroupPrivate;
use super::read::{Values, read_group_state};
use super::refresh::empty_state;
use crate::client::{self, Client, SecretGroup};
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::remote::secrets::{in_use_counts, server_versions};
use crate::server::ImportResponse;

/// The import id prefix that brings keys in without their values.
pub const WRITE_ONLY_IMPORT_PREFIX: &str = "write-only:";

pub async fn import(context: &ProviderContext, id: &str) -> ImportResponse {
    let mut response = ImportResponse::default();
    let Some(client) = context.client_or_report(&mut response.diagnostics) else {
        return response;
    };
    let (lookup, values) = match id.strip_prefix(WRITE_ONLY_IMPORT_PREFIX) {
        Some(rest) => (rest, Values::None),
        None => (id, Values::OfEveryKey),
    };
    let identity = context.identity();
    if let Some((tenant, _)) = lookup.split_once(':')
        && !identity.check_tenant(lookup, tenant, &mut response.diagnostics)
    {
        return response;
    }
    let group = match find_group(client, lookup).await {
        Ok(Some(group))
            if !identity.check_tenant(
                &group.fqn,
                &group.tenant_name,
                &mut response.diagnostics,
            ) =>
        {
            return response;
        }
        Ok(Some(group)) => group,
        Ok(None) => {
            response.diagnostics.error(
                "Secret Group Not Found",
                format!(
                    "No secret group `{lookup}` is visible to this API key. Import by id, or by FQN \
                     `<tenant>:<name>`, of a group the key's subject can see."
                ),
            );
            return response;
        }
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("looking up secret group {lookup}"),
                &err,
            );
            return response;
        }
    };
    // Import adopts the collaborators, and every key: with its value in `secrets`, or (the
    // write-only form) only in `secret_versions`, for the configuration to sort into its maps.
    let own_subject = context.identity().subject();
    match read_group_state(client, &group.id, &empty_state(), values, own_subject).await {
        Ok(Some(read)) => {
            let private = GroupPrivate {
                synced_versions: server_versions(&read.server),
                visible_to: read.visible_to,
                own_access: read.own_access,
                in_use: in_use_counts(&read.server),
                ..GroupPrivate::default()
            };
            response.states.push((read.state, private.encode()));
        }
        Ok(None) => response.diagnostics.error(
            "Secret Group Not Found",
            format!("The secret group `{lookup}` was deleted while it was being imported."),
        ),
        Err(err) => api_error(
            &mut response.diagnostics,
            &format!("reading secret group {lookup}"),
            &err,
        ),
    }
    response
}

/// A group by id, or by FQN (`tenant:name`) when the text has a colon.
async fn find_group(
    client: &Client,
    id_or_fqn: &str,
) -> Result<Option<SecretGroup>, client::Error> {
    if id_or_fqn.contains(':') {
        return client.find_secret_group_by_fqn(id_or_fqn).await;
    }
    match client.get_secret_group(id_or_fqn).await {
        Ok(group) => Ok(Some(group)),
        Err(client::Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}
