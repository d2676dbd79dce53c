//! `list "truefoundry_secret_group"`: the secret groups the API key can see, optionally those
//! whose name contains `search` (as the `truefoundry_secret_groups` data source), each with its
//! identity and, when asked, the state an import in the write-only form makes (no secret map, no
//! value).

use std::sync::Arc;

use crate::client::{ListGroupsQuery, SecretGroup};
use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
use crate::provider::errors::{api_error, of_api_error};
use crate::provider::remote::group::{group_fqn, group_name};
use crate::provider::resources::resource_identity;
use crate::provider::resources::secret_group::read::{Values, read_group_state};
use crate::provider::resources::secret_group::refresh::empty_state;
use crate::schema::{Attribute, Schema};
use crate::server::{ListRequest, ListResource, ListedObject};
use crate::value::{Type, Value};

/// The list resource's attribute names, for the schema and the model alike.
pub mod attr {
    pub const SEARCH: &str = "search";

    /// Every attribute, in schema order.
    pub const ALL: [&str; 1] = [SEARCH];
}

/// `list "truefoundry_secret_group"`: every group the key can see, ordered by FQN.
pub struct SecretGroupList {
    context: Arc<ProviderContext>,
}

impl SecretGroupList {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupList { context }
    }
}

#[async_trait::async_trait]
impl ListResource for SecretGroupList {
    fn schema(&self) -> Schema {
        Schema::new(
            0,
            "Lists the secret groups the API key can see in its tenant, optionally only those whose \
             name contains a search text. With `include_resource` (or `-generate-config-out`), each \
             group comes without secret maps: its keys stay unmanaged and no value is read.",
            vec![Attribute::optional(
                attr::SEARCH,
                Type::String,
                "Only groups whose name contains this text (as `search` of the \
                 `truefoundry_secret_groups` data source). Omit it to list every group.",
            )],
        )
    }

    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn list(&self, request: ListRequest) -> (Vec<ListedObject>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(client) = self.context.client_or_report(&mut diags) else {
            return (Vec::new(), diags);
        };
        let search = request.config.get(attr::SEARCH).as_str().map(str::to_owned);
        let query = ListGroupsQuery { fqn: None, search };
        let mut groups = match client.list_secret_groups(&query).await {
            Ok(groups) => groups,
            Err(err) => {
                api_error(&mut diags, "listing the secret groups", &err);
                return (Vec::new(), diags);
            }
        };
        groups.sort_by(|a, b| a.fqn.cmp(&b.fqn));
        groups.truncate(request.limit);
        let identity = self.context.identity();
        let mut listed = Vec::new();
        for group in groups {
            // A server answering for another tenant lists nothing of it.
            if !identity.check_tenant(&group.fqn, &group.tenant_name, &mut diags) {
                return (Vec::new(), diags);
            }
            let name = group_name(&group);
            let resource = if request.include_resource {
                match group_object(&self.context, &group).await {
                    Ok(Some(state)) => Some(state),
                    // Deleted between the listing and its read: no longer there to list.
                    Ok(None) => continue,
                    Err(errors) => return (Vec::new(), errors),
                }
            } else {
                None
            };
            listed.push(ListedObject {
                identity: resource_identity::group(&group.tenant_name, &name),
                display_name: group_fqn(&group.tenant_name, &name),
                resource,
            });
        }
        (listed, diags)
    }
}

/// A group's state as an import in the write-only form makes it: collaborators and every key's
/// version, no secret map, no value.
async fn group_object(
    context: &ProviderContext,
    group: &SecretGroup,
) -> Result<Option<Value>, Diagnostics> {
    let client = context.client()?;
    let own_subject = context.identity().subject();
    match read_group_state(client, &group.id, &empty_state(), Values::None, own_subject).await {
        Ok(read) => Ok(read.map(|read| read.state)),
        Err(err) => Err(of_api_error(
            &format!("reading secret group {}", group.fqn),
            &err,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(
            &SecretGroupList::new(Arc::new(ProviderContext::default())).schema(),
            &attr::ALL,
        );
    }
}
