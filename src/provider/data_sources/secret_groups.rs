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

fn group_type() -> Type {
    Type::Object(BTreeMap::from([
        ("id".to_owned(), Type::String),
        ("fqn".to_owned(), Type::String),
        ("name".to_owned(), Type::String),
        ("integration_fqn".to_owned(), Type::String),
        ("keys".to_owned(), Type::Set(Box::new(Type::String))),
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
                "search",
                Type::String,
                "Only groups whose name contains this text (TrueFoundry's `search`; the emulator \
                 matches it case-insensitively). Omit it to list every group.",
            ),
            Attribute::computed(
                "groups",
                Type::List(Box::new(group_type())),
                "The groups, ordered by FQN: `id`, `fqn` (`<tenant>:<name>`), `name`, `integration_fqn` \
                 (the secret store; null when the server does not return the group's manifest) and \
                 `keys`, the group's secret keys.",
            ),
        ],
    )
}

fn group_value(group: &SecretGroup) -> Value {
    let integration = group.manifest.as_ref().map_or(Value::Null, |manifest| {
        Value::string(&manifest.integration_fqn)
    });
    let keys = group
        .associated_secrets
        .iter()
        .map(|secret| Value::string(&secret.name))
        .collect();
    Value::object([
        ("id", Value::string(&group.id)),
        ("fqn", Value::string(&group.fqn)),
        ("name", Value::string(group_name(group))),
        ("integration_fqn", integration),
        ("keys", Value::Set(keys)),
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
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diags) => return (Value::Null, diags),
        };
        let search = config.get("search").as_str().map(str::to_owned);
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
            "groups",
            Value::List(groups.iter().map(group_value).collect()),
        );
        (state, diags)
    }
}
