//! The `truefoundry_secret_group` data source and ephemeral resource: look a group up by FQN,
//! name or id and read its keys, references and (on request) values.
//!
//! Both share the lookup and the attributes; the ephemeral resource always returns values and
//! Terraform (1.10 or later) keeps them out of plan and state.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::{self, Client, ListGroupsQuery, SecretGroup};
use crate::diag::{AttributePath, Diagnostics};
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::identity::Identity;
use crate::provider::remote::group::{
    collaborators_type, collaborators_value, fqns_value, group_name,
};
use crate::schema::{Attribute, Schema};
use crate::server::{
    ClientCapabilities, DataSource, EphemeralResource, OpenEphemeralResponse,
    RenewEphemeralResponse,
};
use crate::value::{Type, Value};

const LOOKUPS: [&str; 3] = ["fqn", "name", "id"];

/// Attributes shared by the data source and the ephemeral resource.
fn common_attributes(values_description: &str) -> Vec<Attribute> {
    vec![
        Attribute::optional_computed(
            "fqn",
            Type::String,
            "Look the group up by FQN, `<tenant>:<name>`. Exactly one of `fqn`, `name` and `id` must be set.",
        ),
        Attribute::optional_computed(
            "name",
            Type::String,
            "Look the group up by name, in the tenant of the API key.",
        ),
        Attribute::optional_computed("id", Type::String, "Look the group up by id."),
        Attribute::computed(
            "tenant_name",
            Type::String,
            "The tenant the group belongs to.",
        ),
        Attribute::computed(
            "integration_id",
            Type::String,
            "Id of the secret-store integration holding the values.",
        ),
        Attribute::computed(
            "collaborators",
            collaborators_type(),
            "The group's collaborators (`subject`, `role_id`), when the API key may see them; null otherwise.",
        ),
        Attribute::computed(
            "keys",
            Type::Set(Box::new(Type::String)),
            "The group's secret keys.",
        ),
        Attribute::computed(
            "secret_fqns",
            Type::Map(Box::new(Type::String)),
            "Reference of each secret, by key: `tfy-secret://<tenant>:<group>:<key>`, as deployments use it.",
        ),
        Attribute::computed(
            "secret_versions",
            Type::Map(Box::new(Type::Number)),
            "The current version of each secret, by key.",
        ),
        Attribute::computed(
            "secret_values",
            Type::Map(Box::new(Type::String)),
            values_description,
        )
        .sensitive(),
    ]
}

pub fn data_source_schema() -> Schema {
    let mut attributes = common_attributes(
        "The value of each secret, by key, when `include_values` is true; null otherwise. Values read \
         here are stored in Terraform state (marked sensitive): prefer the ephemeral resource of the \
         same name on Terraform 1.10 or later.",
    );
    attributes.push(Attribute::optional(
        "include_values",
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

pub fn ephemeral_schema() -> Schema {
    Schema::new(
        0,
        "Reads a TrueFoundry secret group with its values, without storing anything in Terraform plan or \
         state (Terraform 1.10 or later). Feed `secret_values` to write-only arguments, such as \
         `secrets_wo` of another `truefoundry_secret_group`, or to provider configurations.",
        common_attributes("The value of each secret, by key. Never stored in plan or state."),
    )
}

/// Exactly one lookup attribute must be set (unknown counts as set).
fn validate_lookup(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let set: Vec<&str> = LOOKUPS
        .into_iter()
        .filter(|a| !config.get(a).is_null())
        .collect();
    if set.len() != 1 {
        diags.error_at(
            AttributePath::root(set.get(1).copied().unwrap_or("fqn")),
            "Ambiguous Secret Group Lookup",
            format!(
                "Set exactly one of `fqn`, `name` and `id` to say which secret group to read{}.",
                if set.is_empty() {
                    String::new()
                } else {
                    format!(" (set: {})", set.join(", "))
                }
            ),
        );
    }
    if let Some(fqn) = config.get("fqn").as_str()
        && fqn
            .split_once(':')
            .is_none_or(|(tenant, name)| tenant.is_empty() || name.is_empty())
    {
        diags.error_at(
            AttributePath::root("fqn"),
            "Invalid Secret Group FQN",
            "A secret group FQN is `<tenant>:<name>`, such as `acme:payments-prod`.",
        );
    }
    diags
}

async fn lookup(client: &Client, config: &Value) -> Result<Option<SecretGroup>, client::Error> {
    if let Some(fqn) = config.get("fqn").as_str() {
        return client.find_secret_group_by_fqn(fqn).await;
    }
    if let Some(name) = config.get("name").as_str() {
        let groups = client
            .list_secret_groups(&ListGroupsQuery {
                fqn: None,
                search: Some(name.to_owned()),
            })
            .await?;
        return Ok(groups.into_iter().find(|g| group_name(g) == name));
    }
    let id = config.get("id").as_str().unwrap_or_default();
    match client.get_secret_group(id).await {
        Ok(group) => Ok(Some(group)),
        Err(client::Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Looks the group up and reads its attributes: two requests (group, then secrets in one paged
/// call that carries values when asked).
/// Only groups of the API key's tenant are read: an FQN naming another tenant is refused before
/// any request.
async fn read_group(
    client: &Client,
    identity: &Identity,
    config: &Value,
    values: Option<ValuesAskedBy>,
) -> (Value, Diagnostics) {
    let with_values = values.is_some();
    let mut diags = Diagnostics::new();
    let mut state = config.clone();
    let what = LOOKUPS
        .into_iter()
        .find_map(|a| config.get(a).as_str().map(|v| format!("{a} `{v}`")))
        .unwrap_or_default();
    if let Some(fqn) = config.get("fqn").as_str()
        && let Some((tenant, _)) = fqn.split_once(':')
        && !identity.check_tenant(fqn, tenant, &mut diags)
    {
        return (Value::Null, diags);
    }
    let group = match lookup(client, config).await {
        Ok(Some(group)) if !identity.check_tenant(&group.fqn, &group.tenant_name, &mut diags) => {
            return (Value::Null, diags);
        }
        Ok(Some(group)) => group,
        Ok(None) => {
            diags.error(
                "Secret Group Not Found",
                format!(
                    "No secret group with {what} is visible to this API key. Check the spelling and the \
                     tenant, and that the key's subject is a collaborator of the group."
                ),
            );
            return (Value::Null, diags);
        }
        Err(err) => {
            api_error(
                &mut diags,
                &format!("looking up the secret group with {what}"),
                &err,
            );
            return (Value::Null, diags);
        }
    };
    let secrets = match client
        .list_secrets(&client::ListSecretsQuery {
            secret_group_id: Some(group.id.clone()),
            secret_fqns: Vec::new(),
            with_value: with_values,
        })
        .await
    {
        Ok(list) => list,
        Err(err @ client::Error::Forbidden { .. }) if let Some(asked) = values => {
            values_forbidden(&mut diags, &err, asked);
            return (Value::Null, diags);
        }
        Err(err) => {
            api_error(
                &mut diags,
                &format!("reading the secrets of secret group {}", group.fqn),
                &err,
            );
            return (Value::Null, diags);
        }
    };
    let name = group_name(&group);
    let keys: Vec<String> = secrets.iter().map(|s| s.name.clone()).collect();
    state.set("id", Value::string(&group.id));
    state.set("fqn", Value::string(&group.fqn));
    state.set("name", Value::string(&name));
    state.set("tenant_name", Value::string(&group.tenant_name));
    state.set(
        "integration_id",
        group
            .integration_id
            .as_deref()
            .map_or(Value::Null, Value::string),
    );
    state.set(
        "collaborators",
        group
            .manifest
            .as_ref()
            .map_or(Value::Null, |m| collaborators_value(&m.collaborators)),
    );
    state.set("keys", Value::Set(keys.iter().map(Value::string).collect()));
    state.set(
        "secret_fqns",
        fqns_value(&group.tenant_name, &name, keys.iter()),
    );
    let versions: BTreeMap<String, Value> = secrets
        .iter()
        .map(|s| (s.name.clone(), Value::from(s.latest_version.unwrap_or(0))))
        .collect();
    state.set("secret_versions", Value::Map(versions));
    let secret_values = if let Some(asked) = values {
        let mut values = BTreeMap::new();
        for secret in &secrets {
            match &secret.value {
                Some(v) => {
                    values.insert(secret.name.clone(), Value::string(v.expose()));
                }
                None => {
                    value_hidden(&mut diags, &secret.name, asked);
                    return (Value::Null, diags);
                }
            }
        }
        Value::Map(values)
    } else {
        Value::Null
    };
    state.set("secret_values", secret_values);
    (state, diags)
}

/// Where values were asked for, so the advice in an error fits the block it appears on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValuesAskedBy {
    /// The `truefoundry_secret_group` data source, with `include_values = true`.
    GroupDataSource,
    /// The `truefoundry_secret` data source, with `include_value = true`.
    SecretDataSource,
    /// The ephemeral `truefoundry_secret_group`, which always reads values.
    Ephemeral,
}

impl ValuesAskedBy {
    /// How to get what can be read without values, from where the values were asked for.
    fn without_values(self) -> &'static str {
        match self {
            ValuesAskedBy::GroupDataSource => {
                "or leave `include_values` unset to read the keys and their references only"
            }
            ValuesAskedBy::SecretDataSource => {
                "or leave `include_value` unset to read the key and its reference only"
            }
            ValuesAskedBy::Ephemeral => {
                "or, for the keys and their references only, use the `truefoundry_secret_group` \
                 data source without `include_values` (the ephemeral resource always reads values)"
            }
        }
    }
}

/// The error for a key that may see secrets but not their values (a viewer).
pub(crate) fn values_forbidden(diags: &mut Diagnostics, err: &client::Error, asked: ValuesAskedBy) {
    diags.error(
        "Permission Denied Reading Secret Values",
        format!(
            "The API key may see the group's keys but not its values ({err}). Reading values needs the \
             `secret-group-editor` role or higher: ask an admin of the group for it, {}.",
            asked.without_values()
        ),
    );
}

/// The error for a value the control plane left out (value view disabled on it).
pub(crate) fn value_hidden(diags: &mut Diagnostics, key: &str, asked: ValuesAskedBy) {
    diags.error(
        "Secret Values Hidden By TrueFoundry",
        format!(
            "The control plane did not return the value of `{key}` (value view is disabled on it). Ask \
             the control plane's administrators, {}.",
            asked.without_values()
        ),
    );
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
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diags) => return (Value::Null, diags),
        };
        let values = (config.get("include_values").as_bool() == Some(true))
            .then_some(ValuesAskedBy::GroupDataSource);
        read_group(client, self.context.identity(), &config, values).await
    }
}

pub struct SecretGroupEphemeral {
    context: Arc<ProviderContext>,
}

impl SecretGroupEphemeral {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupEphemeral { context }
    }
}

#[async_trait::async_trait]
impl EphemeralResource for SecretGroupEphemeral {
    fn schema(&self) -> Schema {
        ephemeral_schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_lookup(config)
    }

    async fn open(
        &self,
        config: Value,
        _capabilities: ClientCapabilities,
    ) -> OpenEphemeralResponse {
        let client = match self.context.client() {
            Ok(client) => client,
            Err(diagnostics) => {
                return OpenEphemeralResponse {
                    diagnostics,
                    ..OpenEphemeralResponse::default()
                };
            }
        };
        let (result, diagnostics) = read_group(
            client,
            self.context.identity(),
            &config,
            Some(ValuesAskedBy::Ephemeral),
        )
        .await;
        // Nothing is leased: no renewal, and closing has nothing to release.
        OpenEphemeralResponse {
            result,
            diagnostics,
            ..OpenEphemeralResponse::default()
        }
    }

    async fn renew(&self, _private: Vec<u8>) -> RenewEphemeralResponse {
        RenewEphemeralResponse::default()
    }

    async fn close(&self, _private: Vec<u8>) -> Diagnostics {
        Diagnostics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    #[test]
    fn exactly_one_lookup_is_required() {
        assert!(validate_lookup(&config(&[("fqn", "acme:db".into())])).is_empty());
        assert!(validate_lookup(&config(&[("id", Value::Unknown)])).is_empty());
        let none = validate_lookup(&config(&[]));
        assert_eq!(none.0[0].summary, "Ambiguous Secret Group Lookup");
        let two = validate_lookup(&config(&[("fqn", "acme:db".into()), ("name", "db".into())]));
        assert_eq!(two.0[0].path, Some(AttributePath::root("name")));
        assert!(two.0[0].detail.contains("fqn, name"));
        let bad = validate_lookup(&config(&[("fqn", "db".into())]));
        assert_eq!(bad.0[0].summary, "Invalid Secret Group FQN");
    }
}
