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

/// The data source's attribute names, for the schema and the model alike.
pub mod attr {
    pub const FQN: &str = "fqn";
    pub const INCLUDE_VALUE: &str = "include_value";
    pub const ID: &str = "id";
    pub const KEY: &str = "key";
    pub const SECRET_GROUP_ID: &str = "secret_group_id";
    pub const VERSION: &str = "version";
    pub const VALUE: &str = "value";

    /// Every attribute, in schema order.
    pub const ALL: [&str; 7] = [FQN, INCLUDE_VALUE, ID, KEY, SECRET_GROUP_ID, VERSION, VALUE];
}

/// What the data source reads of its configuration.
struct SecretConfig {
    /// `fqn`; `None` while unknown.
    fqn: Option<String>,
    include_value: bool,
}

impl SecretConfig {
    fn of(config: &Value) -> SecretConfig {
        SecretConfig {
            fqn: config.get(attr::FQN).as_str().map(str::to_owned),
            include_value: config.get(attr::INCLUDE_VALUE).as_bool().unwrap_or(false),
        }
    }
}

pub fn data_source_schema() -> Schema {
    Schema::new(
        0,
        "Reads one TrueFoundry secret by its reference, `tfy-secret://<tenant>:<group>:<key>`: its key, \
         version and group, and its value only when `include_value` is true. Only secrets of the API \
         key's tenant are read.",
        vec![
            Attribute::required(
                attr::FQN,
                Type::String,
                "The secret's reference, `tfy-secret://<tenant>:<group>:<key>` (as in `secret_fqns` of a \
                 `truefoundry_secret_group`); the `tfy-secret://` prefix may be left out.",
            ),
            Attribute::optional(
                attr::INCLUDE_VALUE,
                Type::Bool,
                "Read the secret's value into `value`. Needs the `secret-group-editor` role or higher. \
                 Defaults to false.",
            ),
            Attribute::computed(attr::ID, Type::String, "The secret's id."),
            Attribute::computed(attr::KEY, Type::String, "The secret's key."),
            Attribute::computed(
                attr::SECRET_GROUP_ID,
                Type::String,
                "Id of the secret group holding the secret.",
            ),
            Attribute::computed(
                attr::VERSION,
                Type::Number,
                "The secret's current version.",
            ),
            Attribute::computed(
                attr::VALUE,
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
        AttributePath::root(attr::FQN),
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
        if let Some(fqn) = SecretConfig::of(config).fqn
            && parse_secret_fqn(&fqn).is_none()
        {
            invalid_fqn(&mut diags);
        }
        diags
    }

    async fn read(&self, config: Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(client) = self.context.client_or_report(&mut diags) else {
            return (Value::Null, diags);
        };
        let asked = SecretConfig::of(&config);
        let fqn = asked.fqn.as_deref().unwrap_or_default();
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
                    AttributePath::root(attr::FQN),
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
        let with_value = asked.include_value;
        let reference = secret_fqn(tenant, group_name, key);
        let listed = list_one_secret(client, &group.id, Some(&reference), key, with_value).await;
        let secret = match listed {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                diags.error_at(
                    AttributePath::root(attr::FQN),
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
        let mut state = config;
        state.set(attr::ID, Value::string(&secret.id));
        state.set(attr::KEY, Value::string(&secret.name));
        state.set(attr::SECRET_GROUP_ID, Value::string(&group.id));
        let version = secret.latest_version.unwrap_or(0);
        state.set(attr::VERSION, Value::from(version));
        state.set(attr::VALUE, value);
        (state, diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(&data_source_schema(), &attr::ALL);
    }
}
