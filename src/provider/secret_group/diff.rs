//! The heart of the resource: which keys get a value sent, and the full-list PUT body.
//!
//! The plan decides, key by key, whether a value must be sent, and records the decision by
//! planning that key's `secret_versions` entry as unknown (the server will make a new version).
//! The PUT body is then a pure function of (prior state, planned state, config): every planned
//! key is listed, with its value only when its version is planned unknown; keys left out are
//! deleted by the server. Nothing else in the provider builds a secrets payload.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Private, ValueMode, mode_of, secrets_of, versions_of};
use crate::client::{SecretUpdate, SecretValue};
use crate::value::Value;

/// The per-key outcome of planning `secrets` against the prior state.
#[derive(Debug, Default, PartialEq)]
pub struct SecretsPlan {
    /// Planned `secret_versions`: the prior version, or unknown when a value will be sent.
    pub versions: BTreeMap<String, Value>,
    /// Keys in the prior state that the apply will delete.
    pub deleted: Vec<String>,
    /// New keys that have no value to create them with.
    pub missing_values: Vec<String>,
}

/// Plans `secret_versions` for `config_secrets` given the prior state (null on create).
pub fn plan_secrets(
    prior: &Value,
    config_secrets: &BTreeMap<String, Value>,
    private: &Private,
) -> SecretsPlan {
    let empty = BTreeMap::new();
    let prior_secrets = secrets_of(prior).unwrap_or(&empty);
    let prior_versions = versions_of(prior);
    let mut plan = SecretsPlan::default();

    for (key, config_entry) in config_secrets {
        let send = match prior_secrets.get(key) {
            None => {
                if mode_of(config_entry) == ValueMode::Unmanaged {
                    plan.missing_values.push(key.clone());
                }
                true
            }
            Some(prior_entry) => {
                let mode = mode_of(config_entry);
                let changed = match (mode_of(prior_entry), mode) {
                    (ValueMode::Value, ValueMode::Value) => {
                        config_entry.get("value") != prior_entry.get("value")
                    }
                    (ValueMode::WriteOnly, ValueMode::WriteOnly) => {
                        config_entry.get("value_wo_version") != prior_entry.get("value_wo_version")
                    }
                    // A switch between modes sends nothing: the server keeps the value.
                    _ => false,
                };
                let prior_version = prior_versions.get(key).copied().flatten();
                let drifted = mode != ValueMode::Unmanaged
                    && prior_version.is_some()
                    && private
                        .synced_versions
                        .get(key)
                        .is_some_and(|v| Some(*v) != prior_version);
                changed || drifted || (mode != ValueMode::Unmanaged && prior_version.is_none())
            }
        };
        let version = match (send, prior_versions.get(key).copied().flatten()) {
            (false, Some(version)) => Value::from(version),
            _ => Value::Unknown,
        };
        plan.versions.insert(key.clone(), version);
    }
    plan.deleted = prior_secrets
        .keys()
        .filter(|key| !config_secrets.contains_key(*key))
        .cloned()
        .collect();
    plan
}

/// Keys whose planned version is unknown: the ones a value is sent for. When the whole map is
/// unknown, every planned key is.
pub fn keys_to_send(planned: &Value) -> BTreeSet<String> {
    if planned.get("secret_versions").is_unknown() {
        return secrets_of(planned)
            .map(|secrets| secrets.keys().cloned().collect())
            .unwrap_or_default();
    }
    versions_of(planned)
        .into_iter()
        .filter(|(_, version)| version.is_none())
        .map(|(key, _)| key)
        .collect()
}

/// A key that must be sent but whose config holds no value.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingValue(pub String);

/// The body of `PUT /v1/secret-groups/{id}`: every planned key, with a value only when it must
/// change. `config` supplies the values (write-only ones exist only there).
pub fn secrets_put_body(
    planned: &Value,
    config: &Value,
) -> Result<Vec<SecretUpdate>, MissingValue> {
    let empty = BTreeMap::new();
    let planned_secrets = secrets_of(planned).unwrap_or(&empty);
    let config_secrets = secrets_of(config).unwrap_or(&empty);
    let send = keys_to_send(planned);
    planned_secrets
        .keys()
        .map(|key| {
            let value = if send.contains(key) {
                let entry = config_secrets.get(key).unwrap_or(&Value::Null);
                let text = entry
                    .get("value")
                    .as_str()
                    .or_else(|| entry.get("value_wo").as_str())
                    .ok_or_else(|| MissingValue(key.clone()))?;
                Some(SecretValue::new(text))
            } else {
                None
            };
            Ok(SecretUpdate {
                key: key.clone(),
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::provider::secret_group::model::{secret_entry, versions_value};

    fn state(secrets: &[(&str, Value)], versions: &[(&str, i64)]) -> Value {
        let mut object = BTreeMap::new();
        object.insert(
            "secrets".to_owned(),
            Value::Map(
                secrets
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            ),
        );
        object.insert(
            "secret_versions".to_owned(),
            versions_value(
                &versions
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), *v))
                    .collect(),
            ),
        );
        Value::Object(object)
    }

    fn value(v: &str) -> Value {
        secret_entry(Value::string(v), Value::Null)
    }

    fn write_only(v: &str, version: &str) -> Value {
        let mut entry = secret_entry(Value::Null, Value::string(version));
        entry.set("value_wo", Value::string(v));
        entry
    }

    fn unmanaged() -> Value {
        secret_entry(Value::Null, Value::Null)
    }

    fn config_map(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn only_changed_values_are_planned_for_sending() {
        let prior = state(
            &[
                ("A", value("a")),
                ("B", value("b")),
                ("C", unmanaged()),
                ("GONE", value("g")),
            ],
            &[("A", 1), ("B", 4), ("C", 2), ("GONE", 1)],
        );
        let config = config_map(&[
            ("A", value("a")),
            ("B", value("b2")),
            ("C", unmanaged()),
            ("NEW", value("n")),
        ]);
        let plan = plan_secrets(&prior, &config, &Private::default());
        assert_eq!(plan.versions["A"], Value::from(1));
        assert_eq!(plan.versions["B"], Value::Unknown);
        assert_eq!(plan.versions["C"], Value::from(2));
        assert_eq!(plan.versions["NEW"], Value::Unknown);
        assert_eq!(plan.deleted, vec!["GONE".to_owned()]);
        assert!(plan.missing_values.is_empty());
    }

    #[test]
    fn write_only_values_are_sent_when_their_version_changes() {
        let mut prior_entry = write_only("x", "1");
        prior_entry.set("value_wo", Value::Null);
        let prior = state(&[("W", prior_entry)], &[("W", 3)]);
        let same = plan_secrets(
            &prior,
            &config_map(&[("W", write_only("other", "1"))]),
            &Private::default(),
        );
        assert_eq!(same.versions["W"], Value::from(3));
        let bumped = plan_secrets(
            &prior,
            &config_map(&[("W", write_only("other", "2"))]),
            &Private::default(),
        );
        assert_eq!(bumped.versions["W"], Value::Unknown);
    }

    #[test]
    fn mode_switches_send_nothing() {
        let prior = state(&[("K", value("v"))], &[("K", 2)]);
        for config in [write_only("v", "1"), unmanaged()] {
            let plan = plan_secrets(&prior, &config_map(&[("K", config)]), &Private::default());
            assert_eq!(plan.versions["K"], Value::from(2));
        }
        let prior = state(&[("K", unmanaged())], &[("K", 2)]);
        let plan = plan_secrets(
            &prior,
            &config_map(&[("K", value("v"))]),
            &Private::default(),
        );
        assert_eq!(plan.versions["K"], Value::from(2));
    }

    #[test]
    fn a_version_moved_elsewhere_is_sent_again_unless_unmanaged() {
        let prior = state(
            &[
                ("W", secret_entry(Value::Null, Value::string("1"))),
                ("U", unmanaged()),
            ],
            &[("W", 5), ("U", 9)],
        );
        let private = Private {
            synced_versions: BTreeMap::from([("W".to_owned(), 4), ("U".to_owned(), 1)]),
            ..Private::default()
        };
        let config = config_map(&[("W", write_only("w", "1")), ("U", unmanaged())]);
        let plan = plan_secrets(&prior, &config, &private);
        assert_eq!(plan.versions["W"], Value::Unknown);
        assert_eq!(plan.versions["U"], Value::from(9));
    }

    #[test]
    fn new_keys_without_a_value_are_reported() {
        let plan = plan_secrets(
            &Value::Null,
            &config_map(&[("EMPTY", unmanaged())]),
            &Private::default(),
        );
        assert_eq!(plan.missing_values, vec!["EMPTY".to_owned()]);
    }

    #[test]
    fn unknown_values_are_planned_for_sending() {
        let prior = state(&[("K", value("v"))], &[("K", 2)]);
        let plan = plan_secrets(
            &prior,
            &config_map(&[("K", secret_entry(Value::Unknown, Value::Null))]),
            &Private::default(),
        );
        assert_eq!(plan.versions["K"], Value::Unknown);
    }

    #[test]
    fn the_body_lists_every_planned_key_and_only_sent_values() {
        let mut planned = state(
            &[
                ("A", value("a")),
                ("B", value("b2")),
                ("W", secret_entry(Value::Null, Value::string("2"))),
            ],
            &[],
        );
        planned.set(
            "secret_versions",
            Value::Map(BTreeMap::from([
                ("A".to_owned(), Value::from(1)),
                ("B".to_owned(), Value::Unknown),
                ("W".to_owned(), Value::Unknown),
            ])),
        );
        let config = state(
            &[
                ("A", value("a")),
                ("B", value("b2")),
                ("W", write_only("w", "2")),
            ],
            &[],
        );
        let body = secrets_put_body(&planned, &config).unwrap();
        let rendered: Vec<(String, Option<String>)> = body
            .iter()
            .map(|u| {
                (
                    u.key.clone(),
                    u.value.as_ref().map(|v| v.expose().to_owned()),
                )
            })
            .collect();
        assert_eq!(
            rendered,
            vec![
                ("A".to_owned(), None),
                ("B".to_owned(), Some("b2".to_owned())),
                ("W".to_owned(), Some("w".to_owned())),
            ]
        );
    }

    /// The server's full-list PUT rules, as the API documents them: (value, version) per key.
    fn server_apply(
        server: &BTreeMap<String, (String, i64)>,
        body: &[SecretUpdate],
    ) -> BTreeMap<String, (String, i64)> {
        body.iter()
            .map(|update| {
                let current = server.get(&update.key);
                let next = match (&update.value, current) {
                    (None, Some(current)) => current.clone(),
                    (Some(v), Some((old, version))) if v.expose() == old => (old.clone(), *version),
                    (Some(v), Some((_, version))) => (v.expose().to_owned(), version + 1),
                    (Some(v), None) => (v.expose().to_owned(), 1),
                    (None, None) => panic!("a new key was sent without a value"),
                };
                (update.key.clone(), next)
            })
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Desired {
        Value(String),
        WriteOnly(String, u8),
        Unmanaged,
    }

    fn desired() -> impl Strategy<Value = Desired> {
        prop_oneof![
            "[ab]{1,2}".prop_map(Desired::Value),
            ("[ab]{1,2}", 0u8..3).prop_map(|(v, n)| Desired::WriteOnly(v, n)),
            Just(Desired::Unmanaged),
        ]
    }

    fn entry(d: &Desired, in_config: bool) -> Value {
        match d {
            Desired::Value(v) => value(v),
            Desired::WriteOnly(v, n) if in_config => write_only(v, &n.to_string()),
            Desired::WriteOnly(_, n) => secret_entry(Value::Null, Value::string(n.to_string())),
            Desired::Unmanaged => unmanaged(),
        }
    }

    proptest! {
        /// For arbitrary prior and desired maps: the server ends with exactly the planned keys;
        /// keys whose value must change end with the config's value; no unchanged value is sent.
        #[test]
        fn applying_the_body_yields_exactly_the_plan(
            prior in proptest::collection::btree_map("[A-E]", ("[ab]{1,2}", desired()), 0..5),
            config in proptest::collection::btree_map("[A-E]", desired(), 0..5),
        ) {
            // The server holds each prior key at version 1 with the prior value; the state agrees.
            let server: BTreeMap<String, (String, i64)> =
                prior.iter().map(|(k, (v, _))| (k.clone(), (v.clone(), 1))).collect();
            let prior_state_secrets: Vec<(String, Value)> = prior
                .iter()
                .map(|(k, (v, mode))| {
                    let e = match mode {
                        Desired::Value(_) => value(v),
                        other => entry(other, false),
                    };
                    (k.clone(), e)
                })
                .collect();
            let prior_state = {
                let refs: Vec<(&str, Value)> = prior_state_secrets.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                let versions: Vec<(&str, i64)> = prior.keys().map(|k| (k.as_str(), 1)).collect();
                state(&refs, &versions)
            };
            let config_secrets: BTreeMap<String, Value> =
                config.iter().map(|(k, d)| (k.clone(), entry(d, true))).collect();
            let plan = plan_secrets(&prior_state, &config_secrets, &Private::default());
            prop_assume!(plan.missing_values.is_empty());

            let mut planned = Value::Object(BTreeMap::new());
            let planned_secrets: BTreeMap<String, Value> =
                config.iter().map(|(k, d)| (k.clone(), entry(d, false))).collect();
            planned.set("secrets", Value::Map(planned_secrets));
            planned.set("secret_versions", Value::Map(plan.versions.clone()));
            let mut config_value = Value::Object(BTreeMap::new());
            config_value.set("secrets", Value::Map(config_secrets));

            let body = secrets_put_body(&planned, &config_value).unwrap();
            let after = server_apply(&server, &body);

            let after_keys: Vec<&String> = after.keys().collect();
            let planned_keys: Vec<&String> = config.keys().collect();
            prop_assert_eq!(after_keys, planned_keys);
            for update in &body {
                let prior_entry = prior.get(&update.key);
                let desired = &config[&update.key];
                if let Some(sent) = &update.value {
                    // A value is sent only for a new key, a changed value or a bumped version.
                    let justified = match (prior_entry, desired) {
                        (None, _) => true,
                        (Some((old, Desired::Value(_))), Desired::Value(new)) => old != new,
                        (Some((_, Desired::WriteOnly(_, a))), Desired::WriteOnly(_, b)) => a != b,
                        _ => false,
                    };
                    prop_assert!(justified, "value sent for {} without a reason", update.key);
                    prop_assert_eq!(&after[&update.key].0, sent.expose());
                }
                if let (Some((old, Desired::Value(_))), Desired::Value(new)) = (prior_entry, desired) {
                    // Values managed in state end equal to the config.
                    prop_assert_eq!(&after[&update.key].0, new);
                    prop_assert_eq!(after[&update.key].1, if old == new { 1 } else { 2 });
                }
            }
        }
    }
}
