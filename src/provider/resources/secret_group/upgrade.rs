//! UpgradeResourceState from schema version 0, read from its raw JSON: version 0 kept `secrets`
//! as a map of objects (`value`, `value_wo`, `value_wo_version`), which the current schema's
//! `map(string)` cannot decode.
//!
//! Each key keeps its meaning: a `value` goes to `secrets`, a `value_wo_version` to
//! `secrets_wo_versions` (the key is write-only; its value was never in state), and a key with
//! neither, whose value was set elsewhere, to `initial_secrets`. Version 0 did not know an initial
//! value, so it is recorded as empty: `initial_secrets` values are never sent for a key that
//! exists, so nothing is written because of it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::diag::Diagnostics;
use crate::value::{self, Value};

use super::schema::{attr, resource_schema};

/// The attribute names of schema version 0, as its stored states spell them: a table of its own,
/// since the current one (`schema::attr`) may change and these never do.
mod version_0 {
    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const INTEGRATION_FQN: &str = "integration_fqn";
    pub const OWNED_BY_ACCOUNT: &str = "owned_by_account";
    pub const COLLABORATORS: &str = "collaborators";
    pub const FQN: &str = "fqn";
    pub const TENANT_NAME: &str = "tenant_name";
    pub const SECRET_FQNS: &str = "secret_fqns";
    pub const SECRET_VERSIONS: &str = "secret_versions";
    /// A map of objects with the fields below.
    pub const SECRETS: &str = "secrets";
    pub const VALUE: &str = "value";
    pub const VALUE_WO_VERSION: &str = "value_wo_version";
}

/// The attributes version 0 shared with version 1, copied as they are: (version 0's name, the
/// current one).
const UNCHANGED: [(&str, &str); 9] = [
    (version_0::ID, attr::ID),
    (version_0::NAME, attr::NAME),
    (version_0::INTEGRATION_FQN, attr::INTEGRATION_FQN),
    (version_0::OWNED_BY_ACCOUNT, attr::OWNED_BY_ACCOUNT),
    (version_0::COLLABORATORS, attr::COLLABORATORS),
    (version_0::FQN, attr::FQN),
    (version_0::TENANT_NAME, attr::TENANT_NAME),
    (version_0::SECRET_FQNS, attr::SECRET_FQNS),
    (version_0::SECRET_VERSIONS, attr::SECRET_VERSIONS),
];

pub fn from_version_0(raw_json: &[u8]) -> Result<Value, Diagnostics> {
    let unreadable = |why: &str| {
        Diagnostics::of_error(
            "Unreadable Stored State",
            format!(
                "The state stored for this truefoundry_secret_group by an earlier provider version \
                 cannot be upgraded: {why}. Remove the resource from state and import it again."
            ),
        )
    };
    let old: Json =
        serde_json::from_slice(raw_json).map_err(|_| unreadable("it is not a JSON object"))?;
    let Some(old) = old.as_object() else {
        return Err(unreadable("it is not a JSON object"));
    };
    let mut new = serde_json::Map::new();
    for (old_name, name) in UNCHANGED {
        new.insert(
            name.to_owned(),
            old.get(old_name).cloned().unwrap_or(Json::Null),
        );
    }
    match old.get(version_0::SECRETS) {
        None | Some(Json::Null) => {}
        Some(Json::Object(entries)) => {
            let mut secrets = BTreeMap::new();
            let mut wo_versions = BTreeMap::new();
            let mut initial = BTreeMap::new();
            for (key, entry) in entries {
                let field = |name: &str| entry.get(name).and_then(Json::as_str).map(str::to_owned);
                if let Some(value) = field(version_0::VALUE) {
                    secrets.insert(key.clone(), value);
                } else if let Some(version) = field(version_0::VALUE_WO_VERSION) {
                    wo_versions.insert(key.clone(), version);
                } else {
                    initial.insert(key.clone(), String::new());
                }
            }
            // An empty `secrets = {}` meant "the group holds no keys": keep the map set.
            let keep_secrets =
                !secrets.is_empty() || (wo_versions.is_empty() && initial.is_empty());
            if keep_secrets {
                new.insert(
                    attr::SECRETS.into(),
                    serde_json::to_value(secrets).unwrap_or_default(),
                );
            }
            if !wo_versions.is_empty() {
                new.insert(
                    attr::SECRETS_WO_VERSIONS.into(),
                    serde_json::to_value(wo_versions).unwrap_or_default(),
                );
            }
            if !initial.is_empty() {
                new.insert(
                    attr::INITIAL_SECRETS.into(),
                    serde_json::to_value(initial).unwrap_or_default(),
                );
            }
        }
        Some(_) => return Err(unreadable("its `secrets` is not a map")),
    }
    let json = serde_json::to_vec(&Json::Object(new)).unwrap_or_default();
    value::decode_json(&json, &resource_schema().value_type())
        .map_err(|_| unreadable("an attribute does not have the expected type"))
}

/// Where the upgrade guide lives, for the diagnostics that point to it.
pub const UPGRADE_GUIDE: &str = "the provider's guide \"Upgrading from the first schema\" (docs/guides/upgrading-from-the-first-schema.md)";

/// The warning that a state of schema version 0 was upgraded (shown until an apply saves the
/// upgraded state): the configuration must change the same way, and the guide shows how.
pub fn upgraded_from_version_0(state: &Value) -> Diagnostics {
    let group = state
        .get(attr::FQN)
        .as_str()
        .or(state.get(attr::ID).as_str())
        .unwrap_or_default()
        .to_owned();
    let mut diags = Diagnostics::new();
    diags.warning(
        "Secret Group State Upgraded From The First Schema",
        format!(
            "The state of the secret group {group} was written by this provider's first schema, \
             where `secrets` was a map of objects, and was read into the flat maps: a key with a \
             `value` into `secrets`, a key with a `value_wo_version` into `secrets_wo_versions` \
             (its value belongs in `secrets_wo`), any other key into `initial_secrets`. Write the \
             configuration the same way, as {UPGRADE_GUIDE} shows; an apply then saves the \
             upgraded state and sends no value that did not change."
        ),
    );
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_keeps_its_meaning() {
        let old = serde_json::json!({
            "id": "sg1", "name": "legacy", "fqn": "acme:legacy", "tenant_name": "acme",
            "integration_fqn": "internal:aws:aws-1:secret-store:internal-secret-store",
            "owned_by_account": null,
            "collaborators": [{"subject": "team:payments", "role_id": "secret-group-editor"}],
            "secret_fqns": {"A": "tfy-secret://acme:legacy:A"},
            "secret_versions": {"A": 1, "W": 2, "P": 1},
            "secrets": {
                "A": {"value": "a-value", "value_wo": null, "value_wo_version": null},
                "W": {"value": null, "value_wo": null, "value_wo_version": "3"},
                "P": {"value": null, "value_wo": null, "value_wo_version": null}
            }
        });
        let new = from_version_0(old.to_string().as_bytes()).unwrap();
        assert_eq!(new.get(attr::SECRETS).get("A").as_str(), Some("a-value"));
        assert_eq!(
            new.get(attr::SECRETS).as_entries().map(BTreeMap::len),
            Some(1)
        );
        assert_eq!(
            new.get(attr::SECRETS_WO_VERSIONS).get("W").as_str(),
            Some("3")
        );
        assert_eq!(new.get(attr::INITIAL_SECRETS).get("P").as_str(), Some(""));
        assert!(new.get(attr::SECRETS_WO).is_null());
        assert_eq!(new.get(attr::ID).as_str(), Some("sg1"));
        assert_eq!(
            new.get(attr::COLLABORATORS)
                .as_elements()
                .map(<[Value]>::len),
            Some(1)
        );
        assert!(
            new.get(attr::SECRET_VERSIONS)
                .get("W")
                .as_number()
                .is_some()
        );
    }

    #[test]
    fn empty_and_absent_secrets_keep_their_meaning() {
        let empty = from_version_0(br#"{"id": "sg1", "name": "g", "secrets": {}}"#).unwrap();
        assert_eq!(
            empty.get(attr::SECRETS).as_entries().map(BTreeMap::len),
            Some(0)
        );
        let absent = from_version_0(br#"{"id": "sg1", "name": "g", "secrets": null}"#).unwrap();
        assert!(absent.get(attr::SECRETS).is_null() && absent.get(attr::INITIAL_SECRETS).is_null());
        assert!(from_version_0(br#"{"secrets": ["A"]}"#).is_err());
        assert!(from_version_0(b"[1]").is_err());
    }
}
