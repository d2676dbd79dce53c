//! The lookup of one secret group by FQN, name or id, read as the `truefoundry_secret_group`
//! data source and ephemeral resource show it: their shared attributes, the check that exactly
//! one lookup attribute is set, and the read itself (the data source reads values on request, the
//! ephemeral resource always).

use std::collections::BTreeMap;

use super::group::{collaborators_type, collaborators_value, fqns_value, group_name};
use super::secrets::{ValuesAskedBy, value_hidden, values_forbidden};
use crate::client::{self, Client, ListGroupsQuery, SecretGroup};
use crate::diag::{AttributePath, Diagnostics};
use crate::provider::errors::api_error;
use crate::provider::identity::Identity;
use crate::schema::Attribute;
use crate::value::{Type, Value};

/// The attributes the data source and the ephemeral resource share, for their schemas and the
/// model below.
pub mod attr {
    pub const FQN: &str = "fqn";
    pub const NAME: &str = "name";
    pub const ID: &str = "id";
    pub const TENANT_NAME: &str = "tenant_name";
    pub const INTEGRATION_ID: &str = "integration_id";
    /// Its entries' fields: `remote::group::collaborator`.
    pub const COLLABORATORS: &str = "collaborators";
    pub const KEYS: &str = "keys";
    pub const SECRET_FQNS: &str = "secret_fqns";
    pub const SECRET_VERSIONS: &str = "secret_versions";
    pub const SECRET_VALUES: &str = "secret_values";

    /// Every shared attribute, in schema order.
    pub const ALL: [&str; 10] = [
        FQN,
        NAME,
        ID,
        TENANT_NAME,
        INTEGRATION_ID,
        COLLABORATORS,
        KEYS,
        SECRET_FQNS,
        SECRET_VERSIONS,
        SECRET_VALUES,
    ];
}

/// The lookup attributes, one of which names the group.
const LOOKUPS: [&str; 3] = [attr::FQN, attr::NAME, attr::ID];

/// How a configuration names its group: the first of `fqn`, `name` and `id` that is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupBy {
    Fqn(String),
    Name(String),
    Id(String),
}

impl LookupBy {
    /// "fqn `acme:db`", for messages.
    fn describe(&self) -> String {
        let (attribute, text) = match self {
            LookupBy::Fqn(text) => (attr::FQN, text),
            LookupBy::Name(text) => (attr::NAME, text),
            LookupBy::Id(text) => (attr::ID, text),
        };
        format!("{attribute} `{text}`")
    }
}

/// What the lookup reads of a configuration.
#[derive(Clone, Debug)]
pub struct LookupConfig {
    /// The lookup attributes set (unknown counts as set), in the order of `LOOKUPS`.
    pub set: Vec<&'static str>,
    /// `None` while none is known.
    pub by: Option<LookupBy>,
}

impl LookupConfig {
    pub fn of(config: &Value) -> LookupConfig {
        let known = |name: &str| config.get(name).as_str().map(str::to_owned);
        let by = known(attr::FQN)
            .map(LookupBy::Fqn)
            .or_else(|| known(attr::NAME).map(LookupBy::Name))
            .or_else(|| known(attr::ID).map(LookupBy::Id));
        LookupConfig {
            set: LOOKUPS
                .into_iter()
                .filter(|name| !config.get(name).is_null())
                .collect(),
            by,
        }
    }

    /// The FQN, when the group is looked up by one.
    fn fqn(&self) -> Option<&str> {
        match &self.by {
            Some(LookupBy::Fqn(fqn)) => Some(fqn),
            _ => None,
        }
    }
}

/// Attributes shared by the data source and the ephemeral resource.
pub fn common_attributes(values_description: &str) -> Vec<Attribute> {
    vec![
        Attribute::optional_computed(
            attr::FQN,
            Type::String,
            "Look the group up by FQN, `<tenant>:<name>`. Exactly one of `fqn`, `name` and `id` must be set.",
        ),
        Attribute::optional_computed(
            attr::NAME,
            Type::String,
            "Look the group up by name, in the tenant of the API key.",
        ),
        Attribute::optional_computed(attr::ID, Type::String, "Look the group up by id."),
        Attribute::computed(
            attr::TENANT_NAME,
            Type::String,
            "The tenant the group belongs to.",
        ),
        Attribute::computed(
            attr::INTEGRATION_ID,
            Type::String,
            "Id of the secret-store integration holding the values.",
        ),
        Attribute::computed(
            attr::COLLABORATORS,
            collaborators_type(),
            "The group's collaborators (`subject`, `role_id`), when the API key may see them; null otherwise.",
        ),
        Attribute::computed(
            attr::KEYS,
            Type::Set(Box::new(Type::String)),
            "The group's secret keys.",
        ),
        Attribute::computed(
            attr::SECRET_FQNS,
            Type::Map(Box::new(Type::String)),
            "Reference of each secret, by key: `tfy-secret://<tenant>:<group>:<key>`, as deployments use it.",
        ),
        Attribute::computed(
            attr::SECRET_VERSIONS,
            Type::Map(Box::new(Type::Number)),
            "The current version of each secret, by key.",
        ),
        Attribute::computed(
            attr::SECRET_VALUES,
            Type::Map(Box::new(Type::String)),
            values_description,
        )
        .sensitive(),
    ]
}

/// Exactly one lookup attribute must be set (unknown counts as set).
pub fn validate_lookup(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let lookup = LookupConfig::of(config);
    let set = &lookup.set;
    if set.len() != 1 {
        diags.error_at(
            AttributePath::root(set.get(1).copied().unwrap_or(attr::FQN)),
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
    if let Some(fqn) = lookup.fqn()
        && fqn
            .split_once(':')
            .is_none_or(|(tenant, name)| tenant.is_empty() || name.is_empty())
    {
        diags.error_at(
            AttributePath::root(attr::FQN),
            "Invalid Secret Group FQN",
            "A secret group FQN is `<tenant>:<name>`, such as `acme:payments-prod`.",
        );
    }
    diags
}

async fn lookup(
    client: &Client,
    by: Option<&LookupBy>,
) -> Result<Option<SecretGroup>, client::Error> {
    let id = match by {
        Some(LookupBy::Fqn(fqn)) => return client.find_secret_group_by_fqn(fqn).await,
        Some(LookupBy::Name(name)) => {
            let groups = client
                .list_secret_groups(&ListGroupsQuery {
                    fqn: None,
                    search: Some(name.to_owned()),
                })
                .await?;
            return Ok(groups.into_iter().find(|g| group_name(g) == *name));
        }
        Some(LookupBy::Id(id)) => id.as_str(),
        None => "",
    };
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
pub async fn read_group(
    client: &Client,
    identity: &Identity,
    config: &Value,
    values: Option<ValuesAskedBy>,
) -> (Value, Diagnostics) {
    let with_values = values.is_some();
    let mut diags = Diagnostics::new();
    let mut state = config.clone();
    let asked = LookupConfig::of(config);
    let what = asked
        .by
        .as_ref()
        .map(LookupBy::describe)
        .unwrap_or_default();
    if let Some(fqn) = asked.fqn()
        && let Some((tenant, _)) = fqn.split_once(':')
        && !identity.check_tenant(fqn, tenant, &mut diags)
    {
        return (Value::Null, diags);
    }
    let group = match lookup(client, asked.by.as_ref()).await {
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
    state.set(attr::ID, Value::string(&group.id));
    state.set(attr::FQN, Value::string(&group.fqn));
    state.set(attr::NAME, Value::string(&name));
    state.set(attr::TENANT_NAME, Value::string(&group.tenant_name));
    state.set(
        attr::INTEGRATION_ID,
        group
            .integration_id
            .as_deref()
            .map_or(Value::Null, Value::string),
    );
    state.set(
        attr::COLLABORATORS,
        group
            .manifest
            .as_ref()
            .map_or(Value::Null, |m| collaborators_value(&m.collaborators)),
    );
    state.set(
        attr::KEYS,
        Value::Set(keys.iter().map(Value::string).collect()),
    );
    state.set(
        attr::SECRET_FQNS,
        fqns_value(&group.tenant_name, &name, keys.iter()),
    );
    let versions: BTreeMap<String, Value> = secrets
        .iter()
        .map(|s| (s.name.clone(), Value::from(s.latest_version.unwrap_or(0))))
        .collect();
    state.set(attr::SECRET_VERSIONS, Value::Map(versions));
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
    state.set(attr::SECRET_VALUES, secret_values);
    (state, diags)
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
