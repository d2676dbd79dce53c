//! How a secret group from the API reads as Terraform values: shared by the resource, the data
//! source and the ephemeral resource, so none of them reaches into another's code.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::{Collaborator, SecretGroup};
use crate::value::{Type, Value};

/// The fields of one entry of a `collaborators` attribute, wherever it appears.
pub mod collaborator {
    pub const SUBJECT: &str = "subject";
    pub const ROLE_ID: &str = "role_id";
}

/// `set(object({subject = string, role_id = string}))`. A plain attribute rather than a nested
/// one: Terraform 1.0.x crashes rendering the create plan of a set-nested attribute.
pub fn collaborators_type() -> Type {
    Type::Set(Box::new(Type::Object(BTreeMap::from([
        (collaborator::SUBJECT.to_owned(), Type::String),
        (collaborator::ROLE_ID.to_owned(), Type::String),
    ]))))
}

pub fn collaborators_value(collaborators: &[Collaborator]) -> Value {
    Value::Set(
        collaborators
            .iter()
            .map(|c| {
                Value::object([
                    (collaborator::SUBJECT, Value::string(&c.subject)),
                    (collaborator::ROLE_ID, Value::string(&c.role_id)),
                ])
            })
            .collect(),
    )
}

/// The group's name: the `name` field where the server sends it, else the part of its FQN after
/// the tenant.
pub fn group_name(group: &SecretGroup) -> String {
    group.name.clone().unwrap_or_else(|| {
        group
            .fqn
            .split_once(':')
            .map_or(group.fqn.clone(), |(_, name)| name.to_owned())
    })
}

/// A group's FQN, `<tenant>:<name>`, as the API names it.
pub fn group_fqn(tenant: &str, name: &str) -> String {
    format!("{tenant}:{name}")
}

/// The reference deployments use for a secret. Computed here rather than taken from the server,
/// whose `Secret.fqn` format is not documented; this one is.
pub fn secret_fqn(tenant: &str, group: &str, key: &str) -> String {
    format!("{SECRET_FQN_PREFIX}{tenant}:{group}:{key}")
}

/// `secret_fqns`: the reference of each key.
pub fn fqns_value<'a>(tenant: &str, group: &str, keys: impl Iterator<Item = &'a String>) -> Value {
    Value::Map(
        keys.map(|key| (key.clone(), Value::string(secret_fqn(tenant, group, key))))
            .collect(),
    )
}

/// The prefix of a secret's reference.
pub const SECRET_FQN_PREFIX: &str = "tfy-secret://";

/// `(tenant, group, key)` of a secret reference, `tfy-secret://<tenant>:<group>:<key>` or the
/// same without the prefix; `None` for anything else.
pub fn parse_secret_fqn(fqn: &str) -> Option<(&str, &str, &str)> {
    let bare = fqn.strip_prefix(SECRET_FQN_PREFIX).unwrap_or(fqn);
    match bare.split(':').collect::<Vec<_>>()[..] {
        [tenant, group, key] if !tenant.is_empty() && !group.is_empty() && !key.is_empty() => {
            Some((tenant, group, key))
        }
        _ => None,
    }
}

/// The subjects the server says can see the group: its collaborators and its creator.
pub fn visible_to(group: &SecretGroup) -> BTreeSet<String> {
    group
        .manifest
        .iter()
        .flat_map(|manifest| &manifest.collaborators)
        .map(|collaborator| collaborator.subject.clone())
        .chain(group.created_by.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collaborator_has_exactly_the_fields_of_its_table() {
        let Type::Set(entry) = collaborators_type() else {
            panic!("collaborators are a set")
        };
        let Type::Object(fields) = *entry else {
            panic!("a collaborator is an object")
        };
        let fields: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(fields, [collaborator::ROLE_ID, collaborator::SUBJECT]);
    }

    #[test]
    fn secret_references_parse_with_or_without_their_prefix() {
        let parsed = Some(("acme", "pay", "DB"));
        assert_eq!(parse_secret_fqn("tfy-secret://acme:pay:DB"), parsed);
        assert_eq!(parse_secret_fqn("acme:pay:DB"), parsed);
        for bad in [
            "tfy-secret://acme:pay",
            "acme:pay:DB:extra",
            "tfy-secret://:pay:DB",
            "acme::DB",
            "acme:pay:",
            "",
        ] {
            assert_eq!(parse_secret_fqn(bad), None, "{bad}");
        }
        assert_eq!(
            parse_secret_fqn(&secret_fqn("acme", "pay", "DB")),
            parsed,
            "what secret_fqn writes parses back"
        );
    }
}
