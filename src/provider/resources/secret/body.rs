//! The full-list PUT of `truefoundry_secret`: pure, so that "never deletes, and never sends a
//! value for, any other key" is decided in one place and property tested.

use std::collections::BTreeMap;

use crate::client::{SecretUpdate, SecretValue};
use crate::provider::remote::secrets::ServerSecrets;

/// The body of `PUT /v1/secret-groups/{id}` that writes `writes` (key → value) into a group
/// holding `held`: every held key without a value (the server keeps it), then each written key
/// with its value (created when new).
pub fn put_body(held: &ServerSecrets, writes: &BTreeMap<String, SecretValue>) -> Vec<SecretUpdate> {
    let kept = held
        .keys()
        .filter(|key| !writes.contains_key(*key))
        .map(|key| SecretUpdate {
            key: key.clone(),
            value: None,
        });
    let written = writes.iter().map(|(key, value)| SecretUpdate {
        key: key.clone(),
        value: Some(value.clone()),
    });
    kept.chain(written).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::provider::api_model::{Held, put_full_list};
    use crate::provider::remote::secrets::ServerSecret;

    fn server_of(held: &Held) -> ServerSecrets {
        held.iter()
            .map(|(key, (_, version))| {
                let secret = ServerSecret {
                    id: format!("id-{key}"),
                    version: *version,
                    active_deployments: None,
                };
                (key.clone(), secret)
            })
            .collect()
    }

    proptest! {
        /// Any group, any set of writes: afterwards every other key holds the value and version
        /// it had, each written key holds its value, nothing else exists, and the body carries a
        /// value for the written keys only.
        #[test]
        fn a_write_changes_its_own_keys_and_nothing_else(
            held in proptest::collection::btree_map("[A-H]", ("[a-c]{1,2}", 1i64..4), 0..7),
            writes in proptest::collection::btree_map("[A-J]", "[a-c]{1,2}", 1..5),
        ) {
            let writes: BTreeMap<String, SecretValue> =
                writes.into_iter().map(|(k, v)| (k, SecretValue::new(v))).collect();
            let body = put_body(&server_of(&held), &writes);
            let mut after = held.clone();
            put_full_list(&mut after, &body);

            for (key, before) in &held {
                if !writes.contains_key(key) {
                    prop_assert_eq!(after.get(key), Some(before), "{} was touched", key);
                }
            }
            for (key, value) in &writes {
                prop_assert_eq!(after.get(key).map(|(v, _)| v.as_str()), Some(value.expose()));
            }
            prop_assert!(after.keys().all(|key| held.contains_key(key) || writes.contains_key(key)));
            let with_value: Vec<&String> =
                body.iter().filter(|u| u.value.is_some()).map(|u| &u.key).collect();
            prop_assert_eq!(with_value, writes.keys().collect::<Vec<_>>());
        }
    }

    #[test]
    fn an_unchanged_group_gets_each_key_once() {
        let held: Held = BTreeMap::from([("THEIRS".to_owned(), ("t".to_owned(), 3))]);
        let writes = BTreeMap::from([("THEIRS".to_owned(), SecretValue::new("t"))]);
        let body = put_body(&server_of(&held), &writes);
        assert_eq!(body.len(), 1);
        let mut after = held.clone();
        put_full_list(&mut after, &body);
        assert_eq!(after, held, "the same value makes no new version");
    }
}
