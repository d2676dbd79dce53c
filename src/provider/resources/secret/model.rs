//! The resource's `Value`s read once into Rust types, through the attribute table of
//! `schema.rs`: the configuration ([`SecretConfig`]), a state or planned state ([`SecretState`]),
//! what only the server knows of a key ([`Computed`]), and the private state Terraform keeps
//! beside the state ([`SecretPrivate`]).
//!
//! A configuration and a state differ: only a configuration holds `value_wo` (Terraform nulls
//! write-only attributes everywhere else), and only a state holds the computed `id`, `fqn` and
//! `version`. A planned state is a state: same attributes, and the plan's unknowns read as absent
//! (`version` unknown is how a plan says the apply writes the value), so one type serves both.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::schema::{attr, resource_schema};
use crate::client::SecretValue;
use crate::provider::remote::group::parse_secret_fqn;
use crate::value::{Number, Value};

fn text(object: &Value, name: &str) -> Option<String> {
    object.get(name).as_str().map(str::to_owned)
}

/// What the lifecycle code reads of a configuration.
#[derive(Clone, Debug, Default)]
pub struct SecretConfig {
    /// `secret_group_id`; `None` while unknown (or null).
    pub group_id: Option<String>,
    /// `key`; `None` while unknown (or null).
    pub key: Option<String>,
    /// `value`, as given; `Value::Unknown` or null when it is.
    pub value: Value,
    /// `value_wo`, as given (only a configuration has it).
    pub value_wo: Value,
    pub value_wo_version: Value,
}

impl SecretConfig {
    pub fn of(config: &Value) -> SecretConfig {
        SecretConfig {
            group_id: text(config, attr::SECRET_GROUP_ID),
            key: text(config, attr::KEY),
            value: config.get(attr::VALUE).clone(),
            value_wo: config.get(attr::VALUE_WO).clone(),
            value_wo_version: config.get(attr::VALUE_WO_VERSION).clone(),
        }
    }

    /// Whether the configuration leaves the value alone: neither `value` nor `value_wo` is set
    /// (the form `terraform query -generate-config-out` writes). The resource then keeps an
    /// existing key and never reads, stores or sends its value.
    pub fn value_unmanaged(&self) -> bool {
        self.value.is_null() && self.value_wo.is_null()
    }

    /// The value an apply sends: from `value`, else from `value_wo`.
    pub fn value_to_send(&self) -> Option<SecretValue> {
        self.value
            .as_str()
            .or_else(|| self.value_wo.as_str())
            .map(SecretValue::new)
    }
}

/// What the lifecycle code reads of a state or a planned state.
#[derive(Clone, Debug, Default)]
pub struct SecretState {
    pub group_id: String,
    pub key: String,
    /// `value`, as kept; null when the state keeps none.
    pub value: Value,
    pub value_wo_version: Value,
    pub fqn: Option<String>,
    /// `None` while unknown: a plan that writes the value.
    pub version: Option<i64>,
}

impl SecretState {
    pub fn of(object: &Value) -> SecretState {
        SecretState {
            group_id: text(object, attr::SECRET_GROUP_ID).unwrap_or_default(),
            key: text(object, attr::KEY).unwrap_or_default(),
            value: object.get(attr::VALUE).clone(),
            value_wo_version: object.get(attr::VALUE_WO_VERSION).clone(),
            fqn: text(object, attr::FQN).filter(|fqn| !fqn.is_empty()),
            version: object
                .get(attr::VERSION)
                .as_number()
                .and_then(Number::as_i64),
        }
    }

    /// A state for the key `key` of group `group_id` that the server knows as `computed`; no
    /// value, no settings (what an import or a listing makes).
    pub fn new_state(group_id: &str, key: &str, computed: &Computed) -> Value {
        let mut state = resource_schema().null_object();
        state.set(attr::SECRET_GROUP_ID, Value::string(group_id));
        state.set(attr::KEY, Value::string(key));
        computed.set_into(&mut state);
        state
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
}

/// What only the server knows of a key: its id, its reference and its version.
#[derive(Clone, Debug)]
pub struct Computed {
    pub id: String,
    pub fqn: String,
    pub version: i64,
}

impl Computed {
    /// The computed attributes, which a plan that creates or writes leaves unknown.
    pub const ATTRIBUTES: [&str; 3] = [attr::ID, attr::FQN, attr::VERSION];

    fn values(&self) -> [(&'static str, Value); 3] {
        [
            (attr::ID, Value::string(&self.id)),
            (attr::FQN, Value::string(&self.fqn)),
            (attr::VERSION, Value::from(self.version)),
        ]
    }

    /// Writes all three into `state` (a refresh).
    pub fn set_into(&self, state: &mut Value) {
        for (name, value) in self.values() {
            state.set(name, value);
        }
    }

    /// Writes those `state` plans unknown: Terraform insists that what the plan knew stays as
    /// planned (a refresh updates it).
    pub fn fill_unknown(&self, state: &mut Value) {
        for (name, value) in self.values() {
            if state.get(name).is_unknown() {
                state.set(name, value);
            }
        }
    }

    /// Leaves all three unknown in a plan: the apply learns them.
    pub fn plan_unknown(state: &mut Value) {
        for name in Computed::ATTRIBUTES {
            state.set(name, Value::Unknown);
        }
    }
}

/// The private state of a `truefoundry_secret`, kept by Terraform beside the state (never shown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretPrivate {
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

impl SecretPrivate {
    pub fn decode(bytes: &[u8]) -> SecretPrivate {
        // Unreadable private state (written by another version) only costs a drift check.
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
