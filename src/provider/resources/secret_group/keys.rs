//! The plan's decision, key by key: which keys the apply writes a value for, which it deletes.
//!
//! The decision is recorded in the planned `secret_versions`: a key the apply writes is planned
//! unknown (the server makes a new version), every other kept key keeps its known version, and a
//! deleted key is dropped. The apply reads the decision back from there (see `write.rs`), so what
//! the plan showed is what happens.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Group, GroupPrivate, SecretMaps, Source, versions_value};
use crate::provider::remote::group::fqns_value;
use crate::value::Value;

/// What the plan says about the group's keys.
#[derive(Debug, PartialEq)]
pub struct KeysPlan {
    /// Planned `secret_versions`.
    pub versions: Value,
    /// Planned `secret_fqns`.
    pub fqns: Value,
    /// Keys of the group that the apply deletes.
    pub deleted: Vec<String>,
    /// Keys the apply writes a value for.
    pub written: BTreeSet<String>,
}

/// Plans the keys of `config` against `prior` (`None` on create). `tenant` and `name` make the
/// FQNs; an unknown tenant (a create whose API key's tenant the session did not say) or name
/// leaves them unknown.
pub fn plan_keys(
    prior: Option<&Group>,
    config: &SecretMaps,
    private: &GroupPrivate,
    tenant: Option<&str>,
    name: Option<&str>,
) -> KeysPlan {
    let prior_keys = prior.map(Group::server_keys).unwrap_or_default();
    let fqns = |keys: &mut dyn Iterator<Item = &String>| match (tenant, name) {
        (Some(tenant), Some(name)) => fqns_value(tenant, name, keys),
        _ => Value::Unknown,
    };
    if config.keys_unknown() {
        return KeysPlan {
            versions: Value::Unknown,
            fqns: Value::Unknown,
            deleted: Vec::new(),
            written: BTreeSet::new(),
        };
    }
    if config.unmanaged() {
        // Nothing is written or deleted: the group's keys stay as last read.
        return KeysPlan {
            versions: versions_value(prior_keys.iter().map(|(k, v)| (k, Some(*v)))),
            fqns: if prior_keys.is_empty() {
                Value::Map(BTreeMap::new())
            } else {
                fqns(&mut prior_keys.keys())
            },
            deleted: Vec::new(),
            written: BTreeSet::new(),
        };
    }
    let managed = config.managed_keys();
    let written: BTreeSet<String> = managed
        .iter()
        .filter(|(key, source)| match prior {
            None => true,
            Some(prior) => must_write(key, **source, prior, &prior_keys, config, private),
        })
        .map(|(key, _)| key.clone())
        .collect();
    let versions = versions_value(managed.keys().map(|key| {
        let version = match written.contains(key) {
            true => None,
            false => prior_keys.get(key).copied(),
        };
        (key, version)
    }));
    KeysPlan {
        versions,
        fqns: if managed.is_empty() {
            Value::Map(BTreeMap::new())
        } else {
            fqns(&mut managed.keys())
        },
        deleted: prior_keys
            .keys()
            .filter(|key| !managed.contains_key(*key))
            .cloned()
            .collect(),
        written,
    }
}

/// Whether the apply must send the value of an existing `key` managed in `source`.
fn must_write(
    key: &str,
    source: Source,
    prior: &Group,
    prior_keys: &BTreeMap<String, i64>,
    config: &SecretMaps,
    private: &GroupPrivate,
) -> bool {
    let Some(version) = prior_keys.get(key) else {
        // Not in the group (new, or deleted elsewhere): created with its value, whatever map.
        return true;
    };
    // The server's version moved past the one this provider last wrote: changed elsewhere.
    let changed_elsewhere = private
        .synced_versions
        .get(key)
        .is_some_and(|synced| synced != version);
    match source {
        Source::Secrets => {
            changed_elsewhere
                || match (prior.maps.secrets.get(key), config.secrets.get(key)) {
                    (Some(Some(before)), Some(Some(now))) => before != now,
                    // Unknown until apply, or new to `secrets` with no server value the plan
                    // could read to compare (see `Group::add_values_read`): send it; the API
                    // makes no new version for an unchanged value.
                    _ => true,
                }
        }
        Source::WriteOnly => {
            // A key that was not write-only before (an import, a move between maps) keeps the
            // value it has: nothing says it differs.
            changed_elsewhere
                || (!prior.maps.wo_versions.is_null()
                    && prior.maps.wo_versions.get(key) != config.wo_versions.get(key))
        }
        // The value belongs to someone else once the key exists.
        Source::Initial => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SecretValue;
    use crate::provider::resources::secret_group::model::StringMap;

    pub fn map(entries: &[(&str, &str)]) -> StringMap {
        StringMap::Known(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Some(SecretValue::new(*v))))
                .collect(),
        )
    }

    fn prior(maps: SecretMaps, versions: &[(&str, i64)]) -> Group {
        Group::refreshed(maps, versions.iter().map(|(k, v)| ((*k).to_owned(), *v)))
    }

    fn planned_versions(plan: &KeysPlan) -> BTreeMap<String, Option<i64>> {
        plan.versions
            .as_entries()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_number().and_then(|n| n.as_i64())))
            .collect()
    }

    #[test]
    fn only_changed_new_and_moved_keys_are_written_and_others_keep_their_versions() {
        let before = prior(
            SecretMaps {
                secrets: map(&[("A", "a"), ("B", "b")]),
                wo_versions: map(&[("W", "1")]),
                initial: map(&[("I", "seed")]),
                ..SecretMaps::default()
            },
            &[("A", 1), ("B", 4), ("W", 2), ("I", 3), ("GONE", 1)],
        );
        let config = SecretMaps {
            secrets: map(&[("A", "a"), ("B", "b2"), ("NEW", "n")]),
            secrets_wo: map(&[("W", "w")]),
            wo_versions: map(&[("W", "1")]),
            initial: map(&[("I", "changed seed")]),
        };
        let plan = plan_keys(
            Some(&before),
            &config,
            &GroupPrivate::default(),
            Some("acme"),
            Some("g"),
        );
        assert_eq!(
            planned_versions(&plan),
            BTreeMap::from([
                ("A".to_owned(), Some(1)),
                ("B".to_owned(), None),
                ("I".to_owned(), Some(3)),
                ("NEW".to_owned(), None),
                ("W".to_owned(), Some(2)),
            ])
        );
        assert_eq!(plan.deleted, vec!["GONE"]);
        assert_eq!(
            plan.fqns.get("NEW").as_str(),
            Some("tfy-secret://acme:g:NEW")
        );
    }

    #[test]
    fn write_only_keys_are_sent_on_a_new_version_or_after_a_change_elsewhere() {
        let before = prior(
            SecretMaps {
                wo_versions: map(&[("W", "1"), ("V", "1")]),
                ..SecretMaps::default()
            },
            &[("W", 5), ("V", 9)],
        );
        let config = SecretMaps {
            secrets_wo: map(&[("W", "w"), ("V", "v")]),
            wo_versions: map(&[("W", "2"), ("V", "1")]),
            ..SecretMaps::default()
        };
        let private = GroupPrivate {
            synced_versions: BTreeMap::from([("V".to_owned(), 9)]),
            ..GroupPrivate::default()
        };
        let plan = plan_keys(Some(&before), &config, &private, Some("acme"), Some("g"));
        assert_eq!(plan.written, BTreeSet::from(["W".to_owned()]));

        let moved = GroupPrivate {
            synced_versions: BTreeMap::from([("V".to_owned(), 8)]),
            ..GroupPrivate::default()
        };
        let plan = plan_keys(Some(&before), &config, &moved, Some("acme"), Some("g"));
        assert_eq!(
            plan.written,
            BTreeSet::from(["V".to_owned(), "W".to_owned()])
        );
    }

    #[test]
    fn a_key_moved_into_secrets_is_sent_only_when_the_server_holds_another_value() {
        let before = prior(
            SecretMaps {
                wo_versions: map(&[("HOST", "1")]),
                initial: map(&[("SEED", "")]),
                ..SecretMaps::default()
            },
            &[("HOST", 1), ("SEED", 4)],
        );
        let config = SecretMaps {
            secrets: map(&[("HOST", "db"), ("SEED", "s")]),
            ..SecretMaps::default()
        };
        assert_eq!(
            before.values_to_compare(&config),
            BTreeSet::from(["HOST".to_owned(), "SEED".to_owned()])
        );
        let plan_with = |read: &[(&str, &str)]| {
            let mut before = before.clone();
            before.add_values_read(
                read.iter()
                    .map(|(k, v)| ((*k).to_owned(), SecretValue::new(*v)))
                    .collect(),
            );
            let plan = plan_keys(
                Some(&before),
                &config,
                &GroupPrivate::default(),
                Some("acme"),
                Some("g"),
            );
            plan.written
        };
        assert!(plan_with(&[("HOST", "db"), ("SEED", "s")]).is_empty());
        assert_eq!(
            plan_with(&[("HOST", "db"), ("SEED", "other")]),
            BTreeSet::from(["SEED".to_owned()])
        );
        // Not read (a viewer's key): sent, since nothing says it is the same.
        assert_eq!(plan_with(&[]).len(), 2);
    }

    #[test]
    fn an_initial_value_is_sent_only_to_create_its_key() {
        let config = SecretMaps {
            initial: map(&[("P", "set-me")]),
            ..SecretMaps::default()
        };
        let present = prior(config.clone(), &[("P", 7)]);
        let changed_elsewhere = GroupPrivate {
            synced_versions: BTreeMap::from([("P".to_owned(), 1)]),
            ..GroupPrivate::default()
        };
        let kept = plan_keys(
            Some(&present),
            &config,
            &changed_elsewhere,
            Some("acme"),
            Some("g"),
        );
        assert!(kept.written.is_empty());
        let deleted_elsewhere = prior(config.clone(), &[]);
        let recreated = plan_keys(
            Some(&deleted_elsewhere),
            &config,
            &GroupPrivate::default(),
            Some("acme"),
            Some("g"),
        );
        assert_eq!(recreated.written, BTreeSet::from(["P".to_owned()]));
    }

    #[test]
    fn unmanaged_secrets_keep_the_listing_and_write_nothing() {
        let before = prior(SecretMaps::default(), &[("A", 2), ("B", 1)]);
        let plan = plan_keys(
            Some(&before),
            &SecretMaps::default(),
            &GroupPrivate::default(),
            Some("acme"),
            Some("g"),
        );
        assert!(plan.written.is_empty() && plan.deleted.is_empty());
        assert_eq!(
            planned_versions(&plan),
            BTreeMap::from([("A".to_owned(), Some(2)), ("B".to_owned(), Some(1))])
        );
        assert_eq!(plan.fqns.as_entries().map(BTreeMap::len), Some(2));
    }

    #[test]
    fn a_create_writes_every_key_and_leaves_fqns_unknown() {
        let config = SecretMaps {
            secrets: map(&[("A", "a")]),
            initial: map(&[("I", "i")]),
            ..SecretMaps::default()
        };
        let plan = plan_keys(None, &config, &GroupPrivate::default(), None, Some("g"));
        assert_eq!(plan.written.len(), 2);
        assert_eq!(plan.fqns, Value::Unknown);
        let unknown = SecretMaps {
            secrets: StringMap::Unknown,
            ..SecretMaps::default()
        };
        let plan = plan_keys(None, &unknown, &GroupPrivate::default(), None, Some("g"));
        assert_eq!(plan.versions, Value::Unknown);
    }
}
