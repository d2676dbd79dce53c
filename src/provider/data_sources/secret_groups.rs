//! The `truefoundry_secret_groups` data source: the groups the API key can see, optionally those
//! whose name contains `search`, with their keys. Every page of the list is read, whatever the
//! number of groups; the keys come with the groups (`associatedSecrets`), so no request per group.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::{ListGroupsQuery, SecretGroup};
use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::remote::group::group_name;
use crate::schema::{Attribute, Schema};
use crate::server::DataSource;
use crate::value::{Type, Value};

/// The data source's attribute names, for the schema and the model alike.
pub mod attr {
    pub const SEARCH: &str = "search";
    pub const GROUPS: &str = "groups";

    /// Every attribute, in schema order.
    pub const ALL: [&str; 2] = [SEARCH, GROUPS];

    /// The fields of one entry of `groups`.
    pub mod group {
        pub const ID: &str = "id";
        pub const FQN: &str = "fqn";
        pub const NAME: &str = "name";
        pub const INTEGRATION_FQN: &str = "integration_fqn";
        pub const KEYS: &str = "keys";

        pub const ALL: [&str; 5] = [ID, FQN, NAME, INTEGRATION_FQN, KEYS];
    }
}

fn group_type() -> Type {
    use attr::group;
    Type::Object(BTreeMap::from([
        (group::ID.to_owned(), Type::String),
        (group::FQN.to_owned(), Type::String),
        (group::NAME.to_owned(), Type::String),
        (group::INTEGRATION_FQN.to_owned(), Type::String),
        (group::KEYS.to_owned(), Type::Set(Box::new(Type::String))),
    ]))
}

pub fn data_source_schema() -> Schema {
    Schema::new(
        0,
        "Lists the TrueFoundry secret groups the API key can see in its tenant, optionally only those \
         whose name contains a search text, with each group's keys (never values). Reads every page of \
         the list, whatever the number of groups.",
        vec![
            Attribute::optional(
                attr::SEARCH,
                Type::String,
                "Only groups whose name contains this text (TrueFoundry's `search`; the emulator \
                 matches it case-insensitively). Omit it to list every group.",
            ),
            Attribute::computed(
                attr::GROUPS,
                Type::List(Box::new(group_type())),
                "The groups, ordered by FQN: `id`, `fqn` (`<tenant>:<name>`), `name`, `integration_fqn` \
                 (the secret store; null when the server does not return the group's manifest) and \
                 `keys`, the group's secret keys.",
            ),
        ],
    )
}

fn group_value(group: &SecretGroup) -> Value {
    use attr::group as field;
    let integration = group.manifest.as_ref().map_or(Value::Null, |manifest| {
        Value::string(&manifest.integration_fqn)
    });
    let keys = group
        .associated_secrets
        .iter()
        .map(|secret| Value::string(&secret.name))
        .collect();
    Value::object([
        (field::ID, Value::string(&group.id)),
        (field::FQN, Value::string(&group.fqn)),
        (field::NAME, Value::string(group_name(group))),
        (field::INTEGRATION_FQN, integration),
        (field::KEYS, Value::Set(keys)),
    ])
}

pub struct SecretGroupsDataSource {
    context: Arc<ProviderContext>,
}

impl SecretGroupsDataSource {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupsDataSource { context }
    }
}

#[async_trait::async_trait]
impl DataSource for SecretGroupsDataSource {
    fn schema(&self) -> Schema {
        data_source_schema()
    }

    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn read(&self, config: Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(client) = self.context.client_or_report(&mut diags) else {
            return (Value::Null, diags);
        };
        let search = config.get(attr::SEARCH).as_str().map(str::to_owned);
        let query = ListGroupsQuery { fqn: None, search };
        let mut groups = match client.list_secret_groups(&query).await {
            Ok(groups) => groups,
            Err(err) => {
                api_error(&mut diags, "listing the secret groups", &err);
                return (Value::Null, diags);
            }
        };
        groups.sort_by(|a, b| a.fqn.cmp(&b.fqn));
        let mut state = config;
        state.set(
            attr::GROUPS,
            Value::List(groups.iter().map(group_value).collect()),
        );
        (state, diags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(&data_source_schema(), &attr::ALL);
        let Type::Object(fields) = group_type() else {
            panic!("a group is an object")
        };
        let fields: Vec<&str> = fields.keys().map(String::as_str).collect();
        let mut table = attr::group::ALL;
        table.sort();
        assert_eq!(fields, table);
    }
}
