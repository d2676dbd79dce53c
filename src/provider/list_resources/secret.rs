//! `list "truefoundry_secret"`: the keys of one group, each with its identity and, when asked,
//! a `truefoundry_secret` state without `value` or `value_wo`.

use std::sync::Arc;

use crate::diag::{AttributePath, Diagnostics};
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::remote::group::{group_fqn, group_name, secret_fqn};
use crate::provider::remote::secrets::list_keys;
use crate::provider::resources::resource_identity;
use crate::provider::resources::secret::model::{Computed, SecretState};
use crate::schema::{Attribute, Schema};
use crate::server::{ListRequest, ListResource, ListedObject};
use crate::value::{Type, Value};

/// The list resource's attribute names, for the schema and the model alike.
pub mod attr {
    pub const GROUP: &str = "group";

    /// Every attribute, in schema order.
    pub const ALL: [&str; 1] = [GROUP];
}

/// `list "truefoundry_secret"`: the keys of one group, ordered by key.
pub struct SecretList {
    context: Arc<ProviderContext>,
}

impl SecretList {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretList { context }
    }
}

/// `(tenant, name)` of a group FQN `<tenant>:<name>`.
fn parse_group_fqn(fqn: &str) -> Option<(&str, &str)> {
    let (tenant, name) = fqn.split_once(':')?;
    (!tenant.is_empty() && !name.is_empty() && !name.contains(':')).then_some((tenant, name))
}

fn invalid_group(diags: &mut Diagnostics) {
    diags.error_at(
        AttributePath::root(attr::GROUP),
        "Invalid Secret Group FQN",
        "A secret group is named by its FQN, `<tenant>:<group>`, such as `acme:payments-prod`.",
    );
}

#[async_trait::async_trait]
impl ListResource for SecretList {
    fn schema(&self) -> Schema {
        Schema::new(
            0,
            "Lists the keys of one secret group (never their values). With `include_resource` (or \
             `-generate-config-out`), each key comes as a `truefoundry_secret` without `value` or \
             `value_wo`: the resource then keeps the key and leaves its value alone.",
            vec![Attribute::required(
                attr::GROUP,
                Type::String,
                "The group's FQN, `<tenant>:<group>`, such as `acme:payments-prod`.",
            )],
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(group) = config.get(attr::GROUP).as_str()
            && parse_group_fqn(group).is_none()
        {
            invalid_group(&mut diags);
        }
        diags
    }

    async fn list(&self, request: ListRequest) -> (Vec<ListedObject>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(client) = self.context.client_or_report(&mut diags) else {
            return (Vec::new(), diags);
        };
        let Some((tenant, name)) = request
            .config
            .get(attr::GROUP)
            .as_str()
            .and_then(parse_group_fqn)
        else {
            invalid_group(&mut diags);
            return (Vec::new(), diags);
        };
        let fqn = group_fqn(tenant, name);
        let identity = self.context.identity();
        if !identity.check_tenant(&fqn, tenant, &mut diags) {
            return (Vec::new(), diags);
        }
        let group = match client.find_secret_group_by_fqn(&fqn).await {
            Ok(Some(group))
                if identity.check_tenant(&group.fqn, &group.tenant_name, &mut diags) =>
            {
                group
            }
            Ok(Some(_)) => return (Vec::new(), diags),
            Ok(None) => {
                diags.error_at(
                    AttributePath::root(attr::GROUP),
                    "Secret Group Not Found",
                    format!(
                        "No secret group `{fqn}` is visible to this API key. Check the FQN, and that \
                         the key is a tenant admin or a collaborator of the group."
                    ),
                );
                return (Vec::new(), diags);
            }
            Err(err) => {
                api_error(&mut diags, &format!("looking up secret group {fqn}"), &err);
                return (Vec::new(), diags);
            }
        };
        let keys = match list_keys(client, &group.id).await {
            Ok(keys) => keys,
            Err(err) => {
                api_error(&mut diags, &format!("listing the keys of {fqn}"), &err);
                return (Vec::new(), diags);
            }
        };
        let name = group_name(&group);
        let listed = keys
            .into_iter()
            .take(request.limit)
            .map(|(key, secret)| {
                let reference = secret_fqn(&group.tenant_name, &name, &key);
                let resource = request.include_resource.then(|| {
                    let computed = Computed {
                        id: secret.id,
                        fqn: reference.clone(),
                        version: secret.version,
                    };
                    SecretState::new_state(&group.id, &key, &computed)
                });
                ListedObject {
                    identity: resource_identity::secret(&group.tenant_name, &name, &key),
                    display_name: reference,
                    resource,
                }
            })
            .collect();
        (listed, diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_fqns_need_a_tenant_and_one_name() {
        assert_eq!(parse_group_fqn("acme:pay"), Some(("acme", "pay")));
        for bad in ["acme", ":pay", "acme:", "acme:pay:DB", ""] {
            assert_eq!(parse_group_fqn(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(
            &SecretList::new(Arc::new(ProviderContext::default())).schema(),
            &attr::ALL,
        );
    }

    #[tokio::test]
    async fn a_bad_group_fqn_is_refused_at_its_path() {
        let list = SecretList::new(Arc::new(ProviderContext::default()));
        let config = Value::object([("group", Value::string("acme/pay"))]);
        let diags = list.validate(&config).await;
        let diag = diags.iter().next().unwrap();
        assert_eq!(diag.summary, "Invalid Secret Group FQN");
        assert_eq!(diag.path, Some(AttributePath::root("group")));
        assert!(
            list.validate(&Value::object([("group", Value::Unknown)]))
                .await
                .is_empty()
        );
    }
}
