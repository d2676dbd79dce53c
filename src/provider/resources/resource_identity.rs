//! Resource identity (Terraform 1.12+): what names a group or a secret for good, returned with
//! every state and plan, and accepted by `import` blocks (`identity = { … }`) in place of an id.
//! Version 0 is the only one so far. Terraform before 1.12 never asks for it.

use crate::provider::remote::group::{group_fqn, parse_secret_fqn};
use crate::server::IdentitySchema;
use crate::value::Value;

const TENANT: (&str, &str) = ("tenant", "The tenant the secret group belongs to.");

pub fn group_schema() -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![TENANT, ("name", "The secret group's name.")],
    }
}

pub fn secret_schema() -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![
            TENANT,
            ("group", "The name of the secret group holding the secret."),
            ("key", "The secret's key."),
        ],
    }
}

/// The identity of the group `name` of `tenant`.
pub fn group(tenant: &str, name: &str) -> Value {
    Value::object([
        ("tenant", Value::string(tenant)),
        ("name", Value::string(name)),
    ])
}

/// The identity of the key `key` of the group `group` of `tenant`.
pub fn secret(tenant: &str, group: &str, key: &str) -> Value {
    Value::object([
        ("tenant", Value::string(tenant)),
        ("group", Value::string(group)),
        ("key", Value::string(key)),
    ])
}

/// `{ tenant, name }` of a `truefoundry_secret_group` state or plan, once both are known.
pub fn of_group(state: &Value) -> Option<Value> {
    Some(group(
        state.get("tenant_name").as_str()?,
        state.get("name").as_str()?,
    ))
}

/// `{ tenant, group, key }` of a `truefoundry_secret` state, from its reference.
pub fn of_secret(state: &Value) -> Option<Value> {
    let (tenant, group, key) = parse_secret_fqn(state.get("fqn").as_str()?)?;
    Some(secret(tenant, group, key))
}

/// The import id of a group's identity: `<tenant>:<name>`.
pub fn group_import_id(identity: &Value) -> Option<String> {
    let [tenant, name] = non_empty(identity, ["tenant", "name"])?;
    Some(group_fqn(tenant, name))
}

/// The import id of a secret's identity: `<tenant>:<group>:<key>`.
pub fn secret_import_id(identity: &Value) -> Option<String> {
    let [tenant, group, key] = non_empty(identity, ["tenant", "group", "key"])?;
    Some(format!("{}:{key}", group_fqn(tenant, group)))
}

fn non_empty<'a, const N: usize>(identity: &'a Value, names: [&str; N]) -> Option<[&'a str; N]> {
    let mut found = [""; N];
    for (slot, name) in found.iter_mut().zip(names) {
        *slot = identity
            .get(name)
            .as_str()
            .filter(|text| !text.is_empty())?;
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_their_import_ids() {
        let group = Value::object([
            ("tenant_name", Value::string("acme")),
            ("name", Value::string("payments")),
        ]);
        let identity = of_group(&group).unwrap();
        assert_eq!(group_import_id(&identity).as_deref(), Some("acme:payments"));

        let secret = Value::object([("fqn", Value::string("tfy-secret://acme:payments:DB"))]);
        let identity = of_secret(&secret).unwrap();
        assert_eq!(
            secret_import_id(&identity).as_deref(),
            Some("acme:payments:DB")
        );
    }

    #[test]
    fn unknown_or_empty_parts_give_no_identity_and_no_import_id() {
        let planned = Value::object([
            ("tenant_name", Value::Unknown),
            ("name", Value::string("x")),
        ]);
        assert_eq!(of_group(&planned), None);
        let empty = Value::object([("tenant", Value::string("")), ("name", Value::string("x"))]);
        assert_eq!(group_import_id(&empty), None);
    }
}
