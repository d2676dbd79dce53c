//! Reading the resource's `Value`s as the things they mean: per-key value modes, versions, FQNs,
//! and the private state Terraform keeps for us between runs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::value::{Number, Value};

/// How the value of one key is managed, as read from a `secrets` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueMode {
    /// `value` is set: kept in state and compared on every refresh.
    Value,
    /// `value_wo` with `value_wo_version`: never in state; sent when the version changes.
    WriteOnly,
    /// Neither: the key exists, its value is set elsewhere and never read or sent.
    Unmanaged,
}

/// The mode of a `secrets` entry. In plans and state `value_wo` is always null, so the version
/// is what marks a write-only key there.
pub fn mode_of(entry: &Value) -> ValueMode {
    if !entry.get("value").is_null() {
        ValueMode::Value
    } else if !entry.get("value_wo_version").is_null() || !entry.get("value_wo").is_null() {
        ValueMode::WriteOnly
    } else {
        ValueMode::Unmanaged
    }
}

/// A `secrets` entry with the given attributes; the others null.
pub fn secret_entry(value: Value, value_wo_version: Value) -> Value {
    Value::Object(BTreeMap::from([
        ("value".to_owned(), value),
        ("value_wo".to_owned(), Value::Null),
        ("value_wo_version".to_owned(), value_wo_version),
    ]))
}

/// The `secrets` map of a config, plan or state; `None` when null or unknown (not managed).
pub fn secrets_of(object: &Value) -> Option<&BTreeMap<String, Value>> {
    match object.get("secrets") {
        Value::Map(entries) => Some(entries),
        _ => None,
    }
}

/// `secret_versions` of a plan or state: `None` for an unknown (to be sent) version.
pub fn versions_of(object: &Value) -> BTreeMap<String, Option<i64>> {
    object
        .get("secret_versions")
        .as_entries()
        .map(|entries| {
            entries
                .iter()
                .map(|(key, version)| (key.clone(), version.as_number().and_then(Number::as_i64)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn versions_value(versions: &BTreeMap<String, i64>) -> Value {
    Value::Map(
        versions
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(*v)))
            .collect(),
    )
}

/// The reference deployments use for a secret. Computed here rather than taken from the server,
/// whose `Secret.fqn` format is not documented; this one is.
pub fn secret_fqn(tenant: &str, group: &str, key: &str) -> String {
    format!("tfy-secret://{tenant}:{group}:{key}")
}

pub fn fqns_value<'a>(tenant: &str, group: &str, keys: impl Iterator<Item = &'a String>) -> Value {
    Value::Map(
        keys.map(|key| (key.clone(), Value::string(secret_fqn(tenant, group, key))))
            .collect(),
    )
}

/// Sets `secret_fqns` for `keys`, from the tenant and group name `state` holds.
pub fn set_secret_fqns<'a>(state: &mut Value, keys: impl Iterator<Item = &'a String>) {
    let tenant = state.get("tenant_name").as_str().unwrap_or_default();
    let name = state.get("name").as_str().unwrap_or_default();
    let fqns = fqns_value(tenant, name, keys);
    state.set("secret_fqns", fqns);
}

/// Kept by Terraform beside the state (never shown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    /// The server version of each key as of the last time this provider wrote or adopted it. A
    /// key whose server version moved past it was changed elsewhere, which is how drift is seen
    /// for values that cannot be compared.
    #[serde(default)]
    pub synced_versions: BTreeMap<String, i64>,
    /// The subjects that could see the group when it was last read (its collaborators and its
    /// creator): a "not found" for one of them proves the group was deleted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub visible_to: BTreeSet<String>,
}

impl Private {
    pub fn decode(bytes: &[u8]) -> Private {
        // Unreadable private state (written by another version) only costs a drift check.
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
