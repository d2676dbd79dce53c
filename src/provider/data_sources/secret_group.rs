//! The `truefoundry_secret_group` data source: look a group up by FQN, name or id and read its
//! keys, references and (with `include_values`) values. The lookup and the attributes it shares
//! with the ephemeral resource of the same name are in `remote/group_lookup.rs`.

use std::sync::Arc;

use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
use crate::provider::remote::group_lookup::{common_attributes, read_group, validate_lookup};
use crate::provider::remote::secrets::ValuesAskedBy;
use crate::schema::{Attribute, Schema};
use crate::server::DataSource;
use crate::value::{Type, Value};

/// The data source's attribute names: the lookup's shared ones (`ALL`) and `include_values`.
pub mod attr {
    pub use crate::provider::remote::group_lookup::attr::*;

    pub const INCLUDE_VALUES: &str = "include_values";
}

pub fn data_source_schema() -> Schema {
    let mut attributes = common_attributes(
        "The value of each secret, by key, when `include_values` is true; null otherwise. Values read \
         here are stored in Terraform state (marked sensitive): prefer the ephemeral resource of the \
         same name on Terraform 1.10 or later.",
    );
    attributes.push(Attribute::optional(
        attr::INCLUDE_VALUES,
        Type::Bool,
        "Read the secrets' values into `secret_values`. Needs the `secret-group-editor` role or higher. \
         Defaults to false.",
    ));
    Schema::new(
        0,
        "Reads a TrueFoundry secret group: its keys, the references deployments use for them, their \
         versions, and optionally their values. Costs two requests whatever the number of keys (one \
         more per 1,000 keys).",
        attributes,
    )
}

pub struct SecretGroupDataSource {
    context: Arc<ProviderContext>,
}

impl SecretGroupDataSource {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupDataSource { context }
    }
}

#[async_trait::async_trait]
impl DataSource for SecretGroupDataSource {
    fn schema(&self) -> Schema {
        data_source_schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_lookup(config)
    }

    async fn read(&self, config: Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(client) = self.context.client_or_report(&mut diags) else {
            return (Value::Null, diags);
        };
        let values = (config.get(attr::INCLUDE_VALUES).as_bool() == Some(true))
            .then_some(ValuesAskedBy::GroupDataSource);
        read_group(client, self.context.identity(), &config, values).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        let table = [&attr::ALL[..], &[attr::INCLUDE_VALUES]].concat();
        crate::provider::assert_schema_names(&data_source_schema(), &table);
    }
}
