//! The `truefoundry_secret` data source: one secret by its reference,
//! `tfy-secret://<tenant>:<group>:<key>`. Two requests: the group by FQN, then its secrets
//! selected by that reference (with the value only when `include_value` is true). Looking the
//! group up first keeps the answer right whatever form the server gives `Secret.fqn`, and tells a
//! missing group from a missing key.

use std::sync::Arc;

use crate::client;
use crate::diag::{AttributePath, Diagnostics};
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::remote::group::{parse_secret_fqn, secret_fqn};
use crate::provider::remote::secrets::{
    ValuesAskedBy, list_one_secret, value_hidden, values_forbidden,
};
use crate::schema::{Attribute, Schema};
use crate::server::DataSource;
use crate::value::{Type, Value};

pub fn data_source_schema() -> Schema {
    Schema::new(
        0,
        "Reads one TrueFoundry secret by its reference, `tfy-secret://<tenant>:<group>:<key>`: its key, \
         version and group, and its value only when `include_value` is true. Only secrets of the API \
         key's tenant are read.",
        vec![
            Attribute::required(
                "fqn",
                Type::String,
                "The secret's reference, `tfy-secret://<tenant>:<group>:<key>` (as in `secret_fqns` of a \
                 `truefoundry_secret_group`); the `tfy-secret://` prefix may be left out.",
            ),
            Attribute::optional(
                "include_value",
                Type::Bool,
                "Read the secret's value into `value`. Needs the `secret-group-editor` role or higher. \
                 Defaults to false.",
            ),
            Attribute::computed("id", Type::String, "The secret's id."),
            Attribute::computed("key", Type::String, "The secret's key."),
            Attribute::computed(
                "secret_group_id",
                Type::String,
                "Id of the secret group holding the secret.",
            ),
            Attribute::computed(
                "version",
                Type::Number,
                "The secret's current version.",
            ),
            Attribute::computed(
                "value",
                Type::String,
                "The secret's value when `include_value` is true; null otherwise. A value read here is \
                 stored in Terraform state (marked sensitive).",
            )
            .sensitive(),
        ],
    )
}

fn invalid_fqn(diags: &mut Diagnostics) {
    diags.error_at(
        AttributePath::root("fqn"),
        "Invalid Secret FQN",
        "A secret reference is `tfy-secret://<tenant>:<group>:<key>`, such as \
         `tfy-secret://acme:payments-prod:DB_PASSWORD`.",
    );
}

pub struct SecretDataSource {
    context: Arc<ProviderContext>,
}

impl SecretDataSource {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretDataSource { context }
    }
}

#[async_trait::async_trait]
impl DataSource for SecretDataSource {
    fn schema(&self) -> Schema {
        data_source_schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if let Some(fqn) = config.get("fqn").as_str()
            && parse_secret_fqn(fqn).is_none()
        {
            invalid_fqn(&mut diags);
        }
        diags
    }

    async fn read(&self, config: Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diags) => return (Value::Null, diags),
        };
        let fqn = config.get("fqn").as_str().unwrap_or_default();
        let Some((tenant, group_name, key)) = parse_secret_fqn(fqn) else {
            invalid_fqn(&mut diags);
            return (Value::Null, diags);
        };
        let group_fqn = format!("{tenant}:{group_name}");
        // Another tenant's secret is refused before any request.
        if !self
            .context
            .identity()
            .check_tenant(&group_fqn, tenant, &mut diags)
        {
            return (Value::Null, diags);
        }
        let group = match client.find_secret_group_by_fqn(&group_fqn).await {
            Ok(Some(group)) => group,
            Ok(None) => {
                diags.error_at(
                    AttributePath::root("fqn"),
                    "Secret Group Not Found",
                    format!(
                        "No secret group `{group_fqn}` is visible to this API key, so the secret `{key}` \
                         cannot be read. Check the spelling and the tenant, and that the key's subject is \
                         a collaborator of the group."
                    ),
                );
                return (Value::Null, diags);
            }
            Err(err) => {
                api_error(
                    &mut diags,
                    &format!("looking up the secret group {group_fqn}"),
                    &err,
                );
                return (Value::Null, diags);
            }
        };
        let with_value = config.get("include_value").as_bool().unwrap_or(false);
        let reference = secret_fqn(tenant, group_name, key);
        let listed = list_one_secret(client, &group.id, Some(&reference), key, with_value).await;
        let secret = match listed {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                diags.error_at(
                    AttributePath::root("fqn"),
                    "Secret Not Found",
                    format!(
                        "The secret group `{group_fqn}` has no key `{key}`. Check the key's spelling (keys \
                         are case-sensitive); `keys` of the `truefoundry_secret_group` data source lists the \
                         group's keys."
                    ),
                );
                return (Value::Null, diags);
            }
            Err(err @ client::Error::Forbidden { .. }) if with_value => {
                values_forbidden(&mut diags, &err, ValuesAskedBy::SecretDataSource);
                return (Value::Null, diags);
            }
            Err(err) => {
                api_error(
                    &mut diags,
                    &format!("reading the secrets of secret group {group_fqn}"),
                    &err,
                );
                return (Value::Null, diags);
            }
        };
        let value = match (&secret.value, with_value) {
            (_, false) => Value::Null,
            (Some(value), true) => Value::string(value.expose()),
            (None, true) => {
                value_hidden(&mut diags, key, ValuesAskedBy::SecretDataSource);
                return (Value::Null, diags);
            }
        };
        let mut state = config.clone();
        state.set("id", Value::string(&secret.id));
        state.set("key", Value::string(&secret.name));
        state.set("secret_group_id", Value::string(&group.id));
        state.set("version", Value::from(secret.latest_version.unwrap_or(0)));
        state.set("value", value);
        (state, diags)
    }
}
