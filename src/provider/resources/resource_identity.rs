//! Resource identity (Terraform 1.12+): what names a group or a secret for good, returned with
//! every state and plan, and accepted by `import` blocks (`identity = { … }`) in place of an id.
//! Version 0 is the only one so far. Terraform before 1.12 never asks for it.

use crate::provider::remote::group::{group_fqn, parse_secret_fqn};
use crate::provider::resources::secret::schema::attr as secret_state;
use crate::provider::resources::secret_group::schema::attr as group_state;
use crate::server::IdentitySchema;
use crate::value::Value;

/// The identities' attribute names, one table per resource.
pub mod attr {
    /// Both identities name the tenant alike.
    pub const TENANT: &str = "tenant";

    /// `truefoundry_secret_group`'s identity.
    pub mod group {
        pub use super::TENANT;
        pub const NAME: &str = "name";

        /// Every attribute, in schema order.
        pub const ALL: [&str; 2] = [TENANT, NAME];
    }

    /// `truefoundry_secret`'s identity.
    pub mod secret {
        pub use super::TENANT;
        pub const GROUP: &str = "group";
        pub const KEY: &str = "key";

        /// Every attribute, in schema order.
        pub const ALL: [&str; 3] = [TENANT, GROUP, KEY];
    }
}

const TENANT: (&str, &str) = (attr::TENANT, "The tenant the secret group belongs to.");

pub fn group_schema() -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![TENANT, (attr::group::NAME, "The secret group's name.")],
    }
}

pub fn secret_schema() -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![
            TENANT,
            (
                attr::secret::GROUP,
                "The name of the secret group holding the secret.",
            ),
            (attr::secret::KEY, "The secret's key."),
        ],
    }
}

/// The identity of the group `name` of `tenant`.
pub fn group(tenant: &str, name: &str) -> Value {
    Value::object([
        (attr::group::TENANT, Value::string(tenant)),
        (attr::group::NAME, Value::string(name)),
    ])
}

/// The identity of the key `key` of the group `group` of `tenant`.
pub fn secret(tenant: &str, group: &str, key: &str) -> Value {
    Value::object([
        (attr::secret::TENANT, Value::string(tenant)),
        (attr::secret::GROUP, Value::string(group)),
        (attr::secret::KEY, Value::string(key)),
    ])
}

/// `{ tenant, name }` of a `truefoundry_secret_group` state or plan, once both are known. (The
/// two names are the group resource's `tenant_name` and `name`.)
pub fn of_group(state: &Value) -> Option<Value> {
    Some(group(
        state.get(group_state::TENANT_NAME).as_str()?,
        state.get(group_state::NAME).as_str()?,
    ))
}

/// `{ tenant, group, key }` of a `truefoundry_secret` state, from its reference.
pub fn of_secret(state: &Value) -> Option<Value> {
    let (tenant, group, key) = parse_secret_fqn(state.get(secret_state::FQN).as_str()?)?;
    Some(secret(tenant, group, key))
}

/// The import id of a group's identity: `<tenant>:<name>`.
pub fn group_import_id(identity: &Value) -> Option<String> {
    let [tenant, name] = non_empty(identity, attr::group::ALL)?;
    Some(group_fqn(tenant, name))
}

/// The import id of a secret's identity: `<tenant>:<group>:<key>`.
pub fn secret_import_id(identity: &Value) -> Option<String> {
    let [tenant, group, key] = non_empty(identity, attr::secret::ALL)?;
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
    fn the_schemas_name_exactly_the_attribute_tables() {
        let names = |schema: IdentitySchema| -> Vec<&str> {
            schema
                .attributes
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        };
        assert_eq!(names(group_schema()), attr::group::ALL);
        assert_eq!(names(secret_schema()), attr::secret::ALL);
    }

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
