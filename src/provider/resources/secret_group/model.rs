//! The resource's `Value`s read once into Rust types: the secret maps, versions, the group's
//! identity, and the private state Terraform keeps for us between runs. Lifecycle code works on
//! these, not on attribute lookups; where it must read or write a `Value` itself (a state it
//! sets attribute by attribute, a whole attribute compared as Terraform sees it, a configuration
//! validated entry by entry), it names the attribute through `schema::attr`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::schema::{DEFAULT_INTEGRATION_FQN, attr};
use crate::client::{Collaborator, OwnedBy, SecretGroupManifest, SecretValue};
use crate::provider::remote::group::fqns_value;
use crate::value::{Number, Value};

/// A `map(string)` attribute: `secrets`, `secrets_wo`, `secrets_wo_versions` or
/// `initial_secrets`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StringMap {
    #[default]
    Null,
    /// Wholly unknown at plan time.
    Unknown,
    /// Known keys; a value is `None` while it is unknown.
    Known(BTreeMap<String, Option<SecretValue>>),
}

impl StringMap {
    pub fn of(value: &Value) -> StringMap {
        match value {
            Value::Unknown => StringMap::Unknown,
            Value::Map(entries) => StringMap::Known(
                entries
                    .iter()
                    .map(|(key, value)| (key.clone(), value.as_str().map(SecretValue::new)))
                    .collect(),
            ),
            _ => StringMap::Null,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            StringMap::Null => Value::Null,
            StringMap::Unknown => Value::Unknown,
            StringMap::Known(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(key, value)| {
                        let value = value
                            .as_ref()
                            .map_or(Value::Unknown, |v| Value::string(v.expose()));
                        (key.clone(), value)
                    })
                    .collect(),
            ),
        }
    }

    pub fn entries(&self) -> Option<&BTreeMap<String, Option<SecretValue>>> {
        match self {
            StringMap::Known(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        *self == StringMap::Null
    }

    /// The key's entry: `None` when absent, `Some(None)` when its value is unknown.
    pub fn get(&self, key: &str) -> Option<Option<&SecretValue>> {
        self.entries()?.get(key).map(Option::as_ref)
    }
}

/// Which map a key is managed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `secrets`: the value is in state and compared on every refresh.
    Secrets,
    /// `secrets_wo`: sent on creation, on a version change, and after a change elsewhere.
    WriteOnly,
    /// `initial_secrets`: sent only to create the key.
    Initial,
}

/// The four secret maps of a config, plan or state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretMaps {
    pub secrets: StringMap,
    pub secrets_wo: StringMap,
    pub wo_versions: StringMap,
    pub initial: StringMap,
}

impl SecretMaps {
    pub fn of(object: &Value) -> SecretMaps {
        SecretMaps {
            secrets: StringMap::of(object.get(attr::SECRETS)),
            secrets_wo: StringMap::of(object.get(attr::SECRETS_WO)),
            wo_versions: StringMap::of(object.get(attr::SECRETS_WO_VERSIONS)),
            initial: StringMap::of(object.get(attr::INITIAL_SECRETS)),
        }
    }

    fn value_maps(&self) -> [(&StringMap, Source); 3] {
        [
            (&self.secrets, Source::Secrets),
            (&self.secrets_wo, Source::WriteOnly),
            (&self.initial, Source::Initial),
        ]
    }

    /// No map is set: the group's secrets are neither read nor written.
    pub fn unmanaged(&self) -> bool {
        self.value_maps().iter().all(|(map, _)| map.is_null())
    }

    /// Some map is wholly unknown, so the managed keys are not known yet.
    pub fn keys_unknown(&self) -> bool {
        self.value_maps()
            .iter()
            .any(|(map, _)| *map == &StringMap::Unknown)
    }

    /// Every managed key with the map it is in; a key in several maps (refused by validation)
    /// counts in the first.
    pub fn managed_keys(&self) -> BTreeMap<String, Source> {
        let mut keys = BTreeMap::new();
        for (map, source) in self.value_maps() {
            for key in map.entries().into_iter().flat_map(BTreeMap::keys) {
                keys.entry(key.clone()).or_insert(source);
            }
        }
        keys
    }

    /// The configured value of a managed key, from its map; `None` when absent or unknown.
    pub fn value_of(&self, key: &str) -> Option<&SecretValue> {
        self.value_maps()
            .into_iter()
            .find_map(|(map, _)| map.get(key))
            .flatten()
    }
}

/// `secret_versions` of a plan or state: `None` for a null or unknown map, and a `None`
/// version for a key planned to be written.
pub fn versions_of(object: &Value) -> Option<BTreeMap<String, Option<i64>>> {
    object
        .get(attr::SECRET_VERSIONS)
        .as_entries()
        .map(|entries| {
            entries
                .iter()
                .map(|(key, version)| (key.clone(), version.as_number().and_then(Number::as_i64)))
                .collect()
        })
}

/// `secret_versions` as a value; `None` entries are unknown.
pub fn versions_value<'a>(versions: impl IntoIterator<Item = (&'a String, Option<i64>)>) -> Value {
    Value::Map(
        versions
            .into_iter()
            .map(|(key, version)| (key.clone(), version.map_or(Value::Unknown, Value::from)))
            .collect(),
    )
}

/// Sets `secret_versions` and `secret_fqns` of a state to `keys`, each at its version; the
/// references are made from the state's `tenant_name` and `name`.
pub fn set_keys<'a>(state: &mut Value, keys: impl IntoIterator<Item = (&'a String, i64)>) {
    let keys: Vec<(&String, i64)> = keys.into_iter().collect();
    let (tenant, name) = (
        text_of(state, attr::TENANT_NAME),
        text_of(state, attr::NAME),
    );
    let fqns = fqns_value(&tenant, &name, keys.iter().map(|(key, _)| *key));
    state.set(attr::SECRET_FQNS, fqns);
    let versions = keys.into_iter().map(|(key, version)| (key, Some(version)));
    state.set(attr::SECRET_VERSIONS, versions_value(versions));
}

/// What the lifecycle code reads of a plan or state, read once. A configuration is read only for
/// its secret maps ([`SecretMaps`]): its other attributes are what the plan copies.
#[derive(Clone, Debug)]
pub struct Group {
    /// Empty until the group exists.
    pub id: String,
    pub name: Option<String>,
    pub tenant: Option<String>,
    pub fqn: Option<String>,
    /// As set: `None` when null or unknown (a manifest then sends the default store).
    pub integration_fqn: Option<String>,
    pub owned_by_account: Option<String>,
    /// `None` when collaborators are not managed (null) or not known yet.
    pub collaborators: Option<Vec<Collaborator>>,
    pub maps: SecretMaps,
    /// `secret_versions`: every key of the group as last read, or as planned.
    pub versions: Option<BTreeMap<String, Option<i64>>>,
}

impl Group {
    pub fn of(object: &Value) -> Group {
        let text = |name: &str| object.get(name).as_str().map(str::to_owned);
        Group {
            id: text(attr::ID).unwrap_or_default(),
            name: text(attr::NAME),
            tenant: text(attr::TENANT_NAME).filter(|tenant| !tenant.is_empty()),
            fqn: text(attr::FQN).filter(|fqn| !fqn.is_empty()),
            integration_fqn: text(attr::INTEGRATION_FQN),
            owned_by_account: text(attr::OWNED_BY_ACCOUNT),
            collaborators: collaborators_of(object.get(attr::COLLABORATORS)),
            maps: SecretMaps::of(object),
            versions: versions_of(object),
        }
    }

    /// `tenant:name` for messages (the id when the group has no FQN yet).
    pub fn label(&self) -> String {
        self.fqn.clone().unwrap_or_else(|| self.id.clone())
    }

    /// The group's keys as last read (with a known version), empty when unknown.
    pub fn server_keys(&self) -> BTreeMap<String, i64> {
        self.versions
            .iter()
            .flatten()
            .filter_map(|(key, version)| version.map(|v| (key.clone(), v)))
            .collect()
    }

    /// The keys of `config`'s `secrets` that the state holds no value for although the server
    /// holds the key (moved from `secrets_wo` or `initial_secrets`, or imported without
    /// values): the plan reads their values to compare them instead of sending them blindly.
    pub fn values_to_compare(&self, config: &SecretMaps) -> BTreeSet<String> {
        let held = self.server_keys();
        config
            .secrets
            .entries()
            .into_iter()
            .flatten()
            .filter(|(key, value)| {
                value.is_some() && held.contains_key(*key) && self.maps.secrets.get(key).is_none()
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Adds the server's values that the plan read (see [`Self::values_to_compare`]) to
    /// `secrets`, so they are compared like the values the state already keeps.
    pub fn add_values_read(&mut self, read: BTreeMap<String, SecretValue>) {
        if read.is_empty() {
            return;
        }
        let mut entries = self.maps.secrets.entries().cloned().unwrap_or_default();
        entries.extend(read.into_iter().map(|(key, value)| (key, Some(value))));
        self.maps.secrets = StringMap::Known(entries);
    }
}

#[cfg(test)]
impl Group {
    /// Group `acme:g` as a refresh leaves it: managing `maps`, holding keys at `versions`.
    pub fn refreshed(maps: SecretMaps, versions: impl IntoIterator<Item = (String, i64)>) -> Group {
        Group {
            id: "sg1".into(),
            name: Some("g".into()),
            tenant: Some("acme".into()),
            fqn: Some("acme:g".into()),
            integration_fqn: None,
            owned_by_account: None,
            collaborators: None,
            maps,
            versions: Some(versions.into_iter().map(|(k, v)| (k, Some(v))).collect()),
        }
    }
}

/// A string attribute of `object`, empty when null or unknown.
fn text_of(object: &Value, name: &str) -> String {
    object.get(name).as_str().unwrap_or_default().to_owned()
}

/// The entries of a `collaborators` value; `None` when it is null or not wholly known.
pub fn collaborators_of(value: &Value) -> Option<Vec<Collaborator>> {
    if !value.is_wholly_known() {
        return None;
    }
    value.as_elements().map(|items| {
        items
            .iter()
            .map(|c| Collaborator {
                subject: text_of(c, attr::collaborator::SUBJECT),
                role_id: text_of(c, attr::collaborator::ROLE_ID),
            })
            .collect()
    })
}

/// `user:a (secret-group-admin), team:b (…)`: collaborator entries in a diagnostic.
pub fn describe_collaborators(collaborators: &[Collaborator]) -> String {
    collaborators
        .iter()
        .map(|c| format!("`{}` ({})", c.subject, c.role_id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The manifest a create or update sends for the `planned` group, with `collaborators`.
pub fn manifest_of(planned: &Group, collaborators: Vec<Collaborator>) -> SecretGroupManifest {
    SecretGroupManifest {
        kind: "secret-group".to_owned(),
        name: planned.name.clone().unwrap_or_default(),
        integration_fqn: planned
            .integration_fqn
            .clone()
            .unwrap_or_else(|| DEFAULT_INTEGRATION_FQN.to_owned()),
        collaborators,
        owned_by: planned
            .owned_by_account
            .clone()
            .map(|account| OwnedBy { account }),
    }
}

/// Kept by Terraform beside the state (never shown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPrivate {
    /// The server version of each key as of the last time this provider wrote or adopted it. A
    /// key whose server version moved past it was changed elsewhere, which is how drift is seen
    /// for values that are not compared (write-only ones, or any when values cannot be read).
    #[serde(default)]
    pub synced_versions: BTreeMap<String, i64>,
    /// The subjects that could see the group when it was last read (its collaborators and its
    /// creator): a "not found" for one of them proves the group was deleted.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub visible_to: BTreeSet<String>,
    /// The API key's own collaborator entries the server holds and the configuration does not
    /// name (a server that lists a group's creator, say): kept out of `collaborators` and never
    /// removed by an apply, so the key cannot silently lock itself out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_access: Vec<Collaborator>,
    /// Set by the plan of a replacement: the id of the group it destroys. Terraform plans the
    /// create half with no prior state but with this private data, and that group holding the
    /// name is then no conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacing: Option<String>,
    /// The keys deployments used when the group was last read, with their counts (the API's
    /// `activeDeploymentsCount`): what the plan checks a delete against without a request of its
    /// own. The apply checks again against its re-read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub in_use: BTreeMap<String, u64>,
}

impl GroupPrivate {
    pub fn decode(bytes: &[u8]) -> GroupPrivate {
        // Unreadable private state (written by another version) only costs a drift check.
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Subjects known to see a group in state: as last read, and its managed collaborators.
pub fn visible_to_as_known(group: &Group, private: &GroupPrivate) -> BTreeSet<String> {
    let mut subjects = private.visible_to.clone();
    subjects.extend(
        group
            .collaborators
            .iter()
            .flatten()
            .map(|collaborator| collaborator.subject.clone()),
    );
    subjects
}
