//! A model of the API's full-list PUT for property tests: what a group holds after a body.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::SecretUpdate;

/// A group as the model holds it: key → (value, version).
pub type Held = BTreeMap<String, (String, i64)>;

/// `PUT /v1/secret-groups/{id}`: listed keys stay (a value makes a new version when it differs,
/// a new key starts at version 1), unlisted keys are deleted. A new key without a value is a
/// request the API refuses, so the model fails the test.
pub fn put_full_list(held: &mut Held, body: &[SecretUpdate]) {
    let listed: BTreeSet<&String> = body.iter().map(|u| &u.key).collect();
    assert_eq!(listed.len(), body.len(), "a key listed twice");
    held.retain(|key, _| listed.contains(key));
    for update in body {
        let Some(value) = &update.value else {
            assert!(held.contains_key(&update.key), "a new key without a value");
            continue;
        };
        match held.get_mut(&update.key) {
            Some((old, version)) if old != value.expose() => {
                *old = value.expose().to_owned();
                *version += 1;
            }
            Some(_) => {}
            None => {
                held.insert(update.key.clone(), (value.expose().to_owned(), 1));
            }
        }
    }
}
