//! ReadResource (refresh): the group as the server has it, without ever reading a value that is
//! not kept in state.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Group, GroupPrivate, StringMap, visible_to_as_known};
use super::refresh::{own_access, refresh_group, refresh_secrets};
use super::schema::attr;
use crate::client::{self, Client, Collaborator};
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::identity::{NotFound, not_visible};
use crate::provider::remote::group::group_name;
use crate::provider::remote::group::visible_to;
use crate::provider::remote::secrets::{ServerSecrets, in_use_counts, list_keys, read_values};
use crate::server::{ReadRequest, ReadResponse};
use crate::value::Value;

/// A group as read from the server.
pub struct GroupRead {
    pub state: Value,
    pub server: ServerSecrets,
    /// Who can see the group, for the next "not found".
    pub visible_to: BTreeSet<String>,
    /// The API key's own collaborator entries left out of the state (see `remote::own_access`).
    pub own_access: Vec<Collaborator>,
}

/// How keys come in that the state does not manage a value for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Only for the keys of `secrets` in the prior state (refresh).
    OfManagedKeys,
    /// For every key, all into `secrets` (import).
    OfEveryKey,
    /// For none (the write-only import form).
    None,
}

pub async fn read(context: &ProviderContext, request: ReadRequest) -> ReadResponse {
    let mut response = ReadResponse {
        private: request.private.clone(),
        ..ReadResponse::default()
    };
    let Some(client) = context.client_or_report(&mut response.diagnostics) else {
        return response;
    };
    let current = &request.current_state;
    let group = Group::of(current);
    let identity = context.identity();
    let tenant = group.tenant.as_deref().unwrap_or_default();
    if !identity.check_tenant(&group.label(), tenant, &mut response.diagnostics) {
        response.new_state = request.current_state;
        return response;
    }
    let mut private = GroupPrivate::decode(&request.private);
    let own_subject = identity.subject();
    match read_group_state(
        client,
        &group.id,
        current,
        Values::OfManagedKeys,
        own_subject,
    )
    .await
    {
        Ok(Some(read)) => {
            response.new_state = read.state;
            private.visible_to = read.visible_to;
            private.own_access = read.own_access;
            private.in_use = in_use_counts(&read.server);
            response.private = private.encode();
        }
        Ok(None) => match identity.not_found(&visible_to_as_known(&group, &private)) {
            // Gone: removed from state, so the next plan creates it again.
            NotFound::Deleted => response.new_state = Value::Null,
            NotFound::Unproven(why) => {
                not_visible(&mut response.diagnostics, &group.label(), &group.id, &why);
                response.new_state = request.current_state;
            }
        },
        Err(err) => {
            api_error(
                &mut response.diagnostics,
                &format!("reading secret group {}", group.id),
                &err,
            );
            response.new_state = request.current_state;
        }
    }
    response
}

/// Reads a group, its keys and versions, and the values `values` asks for. A refresh makes its
/// three requests at once (group, key listing, values of the `secrets` keys), so it waits for one
/// round trip. `None` when the API says "not found", which may or may not mean deleted.
pub async fn read_group_state(
    client: &Client,
    id: &str,
    prior: &Value,
    values: Values,
    own_subject: Option<&str>,
) -> Result<Option<GroupRead>, client::Error> {
    let before = Group::of(prior);
    let mut maps = before.maps.clone();
    let managed: BTreeSet<String> = match values {
        Values::OfManagedKeys => maps
            .secrets
            .entries()
            .into_iter()
            .flat_map(BTreeMap::keys)
            .cloned()
            .collect(),
        _ => BTreeSet::new(),
    };
    let early_values = async {
        match (&before.tenant, &before.name) {
            (Some(tenant), Some(name)) => read_values(client, id, (tenant, name), &managed).await,
            _ => Ok(BTreeMap::new()),
        }
    };
    let (group, listed, early_values) = tokio::join!(
        client.get_secret_group(id),
        list_keys(client, id),
        early_values
    );
    let group = match group {
        Ok(group) => group,
        // Whatever the listing said, a group that is gone has no secrets.
        Err(client::Error::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let server = listed?;
    let read = match values {
        Values::OfManagedKeys => early_values?,
        Values::OfEveryKey => {
            let every: BTreeSet<String> = server.keys().cloned().collect();
            let name = group_name(&group);
            let read = read_values(client, id, (&group.tenant_name, &name), &every).await?;
            // Keys whose value could not be read (a viewer's import) stay out of `secrets`.
            maps.secrets = StringMap::Known(read.keys().map(|key| (key.clone(), None)).collect());
            read
        }
        Values::None => BTreeMap::new(),
    };
    let adopt = values != Values::OfManagedKeys;
    let mut state = refresh_group(&group, prior, adopt, own_subject);
    refresh_secrets(&mut state, &maps, &server, &read);
    let own_access = match (
        &group.manifest,
        adopt || !prior.get(attr::COLLABORATORS).is_null(),
    ) {
        (Some(manifest), true) => own_access(&manifest.collaborators, prior, own_subject),
        _ => Vec::new(),
    };
    Ok(Some(GroupRead {
        state,
        server,
        visible_to: visible_to(&group),
        own_access,
    }))
}
