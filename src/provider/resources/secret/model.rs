//! The resource's `Value`s read once into Rust types, and the private state Terraform keeps for
//! it between runs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::client::SecretValue;
use crate::provider::remote::group::parse_secret_fqn;
use crate::value::{Number, Value};

/// What the lifecycle code reads of a config, plan or state.
#[derive(Clone, Debug, Default)]
pub struct SecretState {
    pub group_id: String,
    pub key: String,
    /// `value`, as given; `Value::Unknown` or null when it is.
    pub value: Value,
    pub value_wo: Value,
    pub fqn: Option<String>,
    pub version: Option<i64>,
}

impl SecretState {
    pub fn of(object: &Value) -> SecretState {
        let text = |name: &str| object.get(name).as_str().map(str::to_owned);
        SecretState {
            group_id: text("secret_group_id").unwrap_or_default(),
            key: text("key").unwrap_or_default(),
            value: object.get("value").clone(),
            value_wo: object.get("value_wo").clone(),
            fqn: text("fqn").filter(|fqn| !fqn.is_empty()),
            version: object.get("version").as_number().and_then(Number::as_i64),
        }
    }

    /// The tenant, from the FQN; empty before the secret exists.
    pub fn tenant(&self) -> &str {
        self.fqn
            .as_deref()
            .and_then(parse_secret_fqn)
            .map_or("", |(tenant, _, _)| tenant)
    }

    /// The group as `tenant:name` for messages (its id before the secret exists).
    pub fn group_label(&self) -> String {
        match self.fqn.as_deref().and_then(parse_secret_fqn) {
            Some((tenant, group, _)) => format!("{tenant}:{group}"),
            None => self.group_id.clone(),
        }
    }

    /// The value an apply sends: from `value`, else from `value_wo` (only the config has it).
    pub fn value_to_send(&self) -> Option<SecretValue> {
        self.value
            .as_str()
            .or_else(|| self.value_wo.as_str())
            .map(SecretValue::new)
    }
}

/// Kept by Terraform beside the state (never shown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    /// The server version of the key when this provider last wrote it or saw its value: a later
    /// version means someone else changed it, which is how drift is seen when the value is not
    /// compared (write-only, or an API key that may not read values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_version: Option<i64>,
    /// Who could see the group when it was last read (its collaborators and creator): a "not
    /// found" for one of them proves it was deleted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub visible_to: BTreeSet<String>,
    /// The key's `activeDeploymentsCount` when last read or written, for a plan that replaces
    /// it (a new `key` deletes the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<u64>,
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
