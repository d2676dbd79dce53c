//! What an apply writes, as one pure value computed from the prior state, the planned state, the
//! configuration and what the server holds at apply time. The apply only carries it out, so
//! this is where "never delete a key nobody asked to delete, never re-send a value that did not
//! change" is decided, and where it is property tested.
//!
//! The plan's decision is read from the planned `secret_versions` (see `keys.rs`): its keys are
//! the group's keys after the apply, and an unknown version marks a key whose value is sent.
//! This module is the only place that builds this resource's full-list PUT body
//! (`truefoundry_secret` builds its own, in `secret/body.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Group, SecretMaps};
use crate::client::SecretUpdate;
use crate::provider::remote::secrets::{ServerSecrets, server_versions};

/// The secrets part of an apply.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretsWrite {
    Nothing,
    /// `PUT /v1/secret-groups/{id}` with this complete list: a value only where it must change.
    FullList(Vec<SecretUpdate>),
    /// The API refuses an empty list: the group's last keys are deleted one by one (by id).
    DeleteEach(Vec<String>),
}

/// Why an apply must not write.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// These keys were added, deleted or rewritten on the server since the plan.
    ChangedSincePlan(Vec<String>),
    /// This key must be written but the configuration holds no value for it.
    MissingValue(String),
}

/// Decides the secrets write of an apply. `prior` is `None` on create, when every planned key
/// is new and `server` is what the new group holds.
pub fn secrets_write(
    prior: Option<&Group>,
    planned: &Group,
    config: &SecretMaps,
    server: &ServerSecrets,
) -> Result<SecretsWrite, Refusal> {
    if !writes_secrets(prior, planned, config) {
        return Ok(SecretsWrite::Nothing);
    }
    let Some(planned_versions) = &planned.versions else {
        return Ok(SecretsWrite::Nothing);
    };
    let to_send: BTreeSet<&String> = planned_versions
        .iter()
        .filter(|(_, version)| version.is_none())
        .map(|(key, _)| key)
        .collect();
    let expected = prior.map(Group::server_keys).unwrap_or_default();
    // Before writing, the group must be what the plan was computed against.
    if prior.is_some() {
        let changed = changed_keys(&expected, &server_versions(server));
        if !changed.is_empty() {
            return Err(Refusal::ChangedSincePlan(changed));
        }
    }
    if planned_versions.is_empty() {
        return Ok(SecretsWrite::DeleteEach(
            server.values().map(|secret| secret.id.clone()).collect(),
        ));
    }
    let body = planned_versions
        .keys()
        .map(|key| {
            let value = match to_send.contains(key) {
                true => Some(
                    config
                        .value_of(key)
                        .cloned()
                        .ok_or_else(|| Refusal::MissingValue(key.clone()))?,
                ),
                false => None,
            };
            Ok(SecretUpdate {
                key: key.clone(),
                value,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(SecretsWrite::FullList(body))
}

/// Whether the plan writes any secret: a value to send, or a key to add or delete. Decided from
/// the plan alone, so an apply knows whether to re-read the group before writing.
pub fn writes_secrets(prior: Option<&Group>, planned: &Group, config: &SecretMaps) -> bool {
    let Some(planned_versions) = &planned.versions else {
        return false;
    };
    if planned.maps.unmanaged() && config.unmanaged() {
        return false;
    }
    let expected = prior.map(Group::server_keys).unwrap_or_default();
    let same_keys = expected.len() == planned_versions.len()
        && planned_versions
            .keys()
            .all(|key| expected.contains_key(key));
    !same_keys || planned_versions.values().any(Option::is_none)
}

/// Keys whose presence or version differs between what the plan expected and the server.
pub fn changed_keys(
    expected: &BTreeMap<String, i64>,
    actual: &BTreeMap<String, i64>,
) -> Vec<String> {
    let keys: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .filter(|key| expected.get(*key) != actual.get(*key))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::client::SecretValue;
    use crate::provider::api_model::{Held, put_full_list};
    use crate::provider::remote::secrets::ServerSecret;
    use crate::provider::resources::secret_group::keys::plan_keys;
    use crate::provider::resources::secret_group::model::{GroupPrivate, StringMap};
    use crate::value::Number;

    /// The API's semantics on a model group.
    fn apply_to_model(held: &mut Held, write: &SecretsWrite) {
        match write {
            SecretsWrite::Nothing => {}
            SecretsWrite::DeleteEach(_) => held.clear(),
            SecretsWrite::FullList(body) => put_full_list(held, body),
        }
    }

    fn known(entries: &BTreeMap<String, String>) -> StringMap {
        StringMap::Known(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), Some(SecretValue::new(v.clone()))))
                .collect(),
        )
    }

    /// A group in state after a refresh of `held`, managing `maps`.
    fn refreshed(held: &BTreeMap<String, (String, i64)>, maps: SecretMaps) -> Group {
        Group::refreshed(maps, held.iter().map(|(k, (_, v))| (k.clone(), *v)))
    }

    /// A group holding `A = "a"` at version 1 and managing it in `secrets`, with the config
    /// that changes `secrets` to `wanted`; returns what was held, the prior group and config.
    fn holding_a(wanted: &[(&str, &str)]) -> (BTreeMap<String, (String, i64)>, Group, SecretMaps) {
        let held = BTreeMap::from([("A".to_owned(), ("a".to_owned(), 1))]);
        let values = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let prior = refreshed(
            &held,
            SecretMaps {
                secrets: known(&values(&[("A", "a")])),
                ..SecretMaps::default()
            },
        );
        let config = SecretMaps {
            secrets: known(&values(wanted)),
            ..SecretMaps::default()
        };
        (held, prior, config)
    }

    fn server_of(held: &BTreeMap<String, (String, i64)>) -> ServerSecrets {
        held.iter()
            .map(|(k, (_, v))| {
                let secret = ServerSecret {
                    id: format!("id-{k}"),
                    version: *v,
                    active_deployments: None,
                };
                (k.clone(), secret)
            })
            .collect()
    }

    /// Config maps: each key goes to `secrets`, `secrets_wo` or `initial_secrets` (0, 1, 2).
    fn config_of(keys: &BTreeMap<String, (u8, String)>, wo_version: &str) -> SecretMaps {
        let pick = |which: u8| -> BTreeMap<String, String> {
            keys.iter()
                .filter(|(_, (w, _))| *w == which)
                .map(|(k, (_, v))| (k.clone(), v.clone()))
                .collect()
        };
        let wo = pick(1);
        let versions = wo
            .keys()
            .map(|k| (k.clone(), wo_version.to_owned()))
            .collect();
        SecretMaps {
            secrets: known(&pick(0)),
            secrets_wo: known(&wo),
            wo_versions: known(&versions),
            initial: known(&pick(2)),
        }
    }

    fn planned_group(prior: &Group, config: &SecretMaps) -> Group {
        let plan = plan_keys(
            Some(prior),
            config,
            &GroupPrivate::default(),
            Some("acme"),
            Some("g"),
        );
        let mut planned = prior.clone();
        planned.maps = SecretMaps {
            // The plan never holds write-only values.
            secrets_wo: StringMap::Null,
            ..config.clone()
        };
        planned.versions = plan.versions.as_entries().map(|entries| {
            entries
                .iter()
                .map(|(k, v)| (k.clone(), v.as_number().and_then(Number::as_i64)))
                .collect()
        });
        planned
    }

    proptest! {
        /// Any prior group, refreshed, planned against any configuration: the write leaves the
        /// group holding exactly the planned keys; every key planned with a known version is
        /// untouched (same value, same version); `secrets` and write-only keys hold their
        /// configured values; initial keys that existed keep theirs; and no value is sent that
        /// the plan did not mark.
        #[test]
        fn the_write_does_exactly_what_the_plan_shows(
            held in proptest::collection::btree_map("[A-E]", ("[a-c]{1,2}", 1i64..4), 0..5),
            wanted in proptest::collection::btree_map("[A-G]", (0u8..3, "[a-c]{1,2}"), 0..6),
            prior_wo in proptest::collection::btree_map("[A-G]", 0u8..1, 0..3),
            wo_version in "[12]",
        ) {
            let mut held = held;
            let prior_maps = SecretMaps {
                secrets: known(&held.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect()),
                wo_versions: known(&prior_wo.keys().map(|k| (k.clone(), "1".to_owned())).collect()),
                ..SecretMaps::default()
            };
            let prior = refreshed(&held, prior_maps);
            let config = config_of(&wanted, &wo_version);
            let planned = planned_group(&prior, &config);
            let before = held.clone();
            let write = secrets_write(Some(&prior), &planned, &config, &server_of(&held));
            let write = write.expect("a write against the refreshed server");
            apply_to_model(&mut held, &write);

            let planned_versions = planned.versions.clone().unwrap();
            prop_assert_eq!(
                held.keys().collect::<Vec<_>>(),
                planned_versions.keys().collect::<Vec<_>>()
            );
            for (key, planned_version) in &planned_versions {
                let (value, version) = &held[key];
                if let Some(planned_version) = planned_version {
                    prop_assert_eq!(Some(&before[key]), Some(&(value.clone(), *planned_version)));
                }
                // `secrets` values are compared, so they always end as configured; a write-only or
                // initial value ends as configured when it was sent (it is left alone otherwise,
                // which the known-version check above covers).
                let (which, configured) = &wanted[key];
                if *which == 0 || planned_version.is_none() {
                    prop_assert_eq!(value, configured);
                }
                prop_assert!(*version >= 1);
            }
            let sent: BTreeSet<&String> = match &write {
                SecretsWrite::FullList(body) => body.iter().filter(|u| u.value.is_some()).map(|u| &u.key).collect(),
                _ => BTreeSet::new(),
            };
            let marked: BTreeSet<&String> = planned_versions.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
            prop_assert_eq!(sent, marked);
        }
    }

    #[test]
    fn a_server_changed_since_the_plan_is_not_written() {
        let (held, prior, config) = holding_a(&[("A", "a2")]);
        let planned = planned_group(&prior, &config);
        let mut server = server_of(&held);
        server.insert(
            "THEIRS".into(),
            ServerSecret {
                id: "x".into(),
                version: 1,
                active_deployments: None,
            },
        );
        assert_eq!(
            secrets_write(Some(&prior), &planned, &config, &server),
            Err(Refusal::ChangedSincePlan(vec!["THEIRS".to_owned()]))
        );
    }

    #[test]
    fn emptying_a_group_deletes_its_keys_one_by_one() {
        let (held, prior, config) = holding_a(&[]);
        let planned = planned_group(&prior, &config);
        assert_eq!(
            secrets_write(Some(&prior), &planned, &config, &server_of(&held)),
            Ok(SecretsWrite::DeleteEach(vec!["id-A".to_owned()]))
        );
    }

    #[test]
    fn changed_keys_lists_added_removed_and_moved_keys() {
        let expected = BTreeMap::from([
            ("A".to_owned(), 1),
            ("B".to_owned(), 2),
            ("C".to_owned(), 1),
        ]);
        let actual = BTreeMap::from([
            ("A".to_owned(), 1),
            ("B".to_owned(), 3),
            ("D".to_owned(), 1),
        ]);
        assert_eq!(changed_keys(&expected, &actual), vec!["B", "C", "D"]);
        assert!(changed_keys(&expected, &expected).is_empty());
    }
}
