//! Checks of a `truefoundry_secret_group` configuration that need no API call.
//!
//! Every problem is a diagnostic with the attribute path; unknown values (from other resources)
//! are skipped here and checked again at plan time, when more may be known.

use std::collections::{BTreeMap, BTreeSet};

use super::model::describe_collaborators;
use super::schema::{KNOWN_ROLES, attr};
use crate::client::Collaborator;
use crate::diag::{AttributePath, Diagnostics};
use crate::printable;
use crate::provider::secret_keys::{is_valid_key, key_rule, quoted_key};
use crate::value::Value;

/// Longest group name accepted, in characters. DECISION: the API's limit is not public; a name
/// is a segment of the same FQNs a key ends, so it gets the key's cap (the emulator refuses
/// longer names with 422).
pub const MAX_NAME_CHARS: usize = 128;
/// Subject kinds a collaborator may be: every `SubjectType` of the API definition. No value
/// size limit is checked here: each secret store has its own (AWS SSM 4–8 KB, Azure 25 KB), so
/// the API's refusal is reported instead, naming the key (see `errors::secrets_write_error`).
pub const SUBJECT_KINDS: [&str; 8] = [
    "user",
    "team",
    "serviceaccount",
    "virtualaccount",
    "agent-identity",
    "agent",
    "agent-channel-identity",
    "role",
];

pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    validate_name(config.get(attr::NAME), &mut diags);
    if let Some(fqn) = config.get(attr::INTEGRATION_FQN).as_str()
        && (fqn.split(':').count() < 2
            || fqn.split(':').any(str::is_empty)
            || fqn.chars().any(char::is_whitespace))
    {
        diags.error_at(
                AttributePath::root(attr::INTEGRATION_FQN),
                "Invalid Integration FQN",
                "An integration FQN looks like `<tenant>:<provider>:<account>:secret-store:<name>`, with no \
                 spaces. Copy it from the integration's page in TrueFoundry.",
            );
    }
    if let Some(collaborators) = config.get(attr::COLLABORATORS).as_elements() {
        validate_collaborators(collaborators, &mut diags);
    }
    validate_secret_maps(config, &mut diags);
    diags
}

fn validate_name(name: &Value, diags: &mut Diagnostics) {
    let Some(name) = name.as_str() else { return };
    let path = AttributePath::root(attr::NAME);
    if name.is_empty() {
        diags.error_at(
            path,
            "Empty Secret Group Name",
            "Give the secret group a name.",
        );
    } else if let Some(c) = name.chars().find(|c| printable::is_unsafe(*c)) {
        diags.error_at(
            path,
            "Invalid Secret Group Name",
            format!(
                "The name holds U+{:04X}, a control, bidirectional or invisible character: such a \
                 name prints as another, or changes the terminal that shows it. Use letters, \
                 digits and dashes.",
                c as u32
            ),
        );
    } else if name.chars().count() > MAX_NAME_CHARS {
        diags.error_at(
            path,
            "Secret Group Name Too Long",
            format!(
                "The name has {} characters; a secret group name may have at most \
                 {MAX_NAME_CHARS}. Shorten it.",
                name.chars().count()
            ),
        );
    } else if name.contains(':') || name.chars().any(char::is_whitespace) {
        diags.error_at(
            path,
            "Invalid Secret Group Name",
            "A secret group name may not contain `:` or white space, since it becomes part of FQNs \
             such as `tenant:name`. Use letters, digits and dashes.",
        );
    } else if name.chars().count() <= 5 {
        diags.warning_at(
            path,
            "Short Secret Group Name",
            "Secret group names are unique across a tenant, and TrueFoundry recommends a suffix naming the \
             tenant to avoid collisions, such as `db-acme` rather than `db`.",
        );
    }
}

/// Each problem names the entry it is about and points at `collaborators`: the attribute is a
/// set, which reaches the provider in Terraform's order, not the configuration's, and Terraform
/// places a path with an index into a set at the whole resource block.
fn validate_collaborators(collaborators: &[Value], diags: &mut Diagnostics) {
    let path = || AttributePath::root(attr::COLLABORATORS);
    let mut seen = BTreeSet::new();
    for collaborator in collaborators {
        let subject_text = collaborator
            .get(attr::collaborator::SUBJECT)
            .as_str()
            .unwrap_or("?");
        let role_text = collaborator
            .get(attr::collaborator::ROLE_ID)
            .as_str()
            .unwrap_or("?");
        let entry = describe_collaborators(&[Collaborator {
            subject: subject_text.to_owned(),
            role_id: role_text.to_owned(),
        }]);
        if let Some(subject) = collaborator.get(attr::collaborator::SUBJECT).as_str() {
            let kind_ok = subject
                .split_once(':')
                .is_some_and(|(kind, rest)| SUBJECT_KINDS.contains(&kind) && !rest.is_empty());
            if !kind_ok {
                diags.error_at(
                    path(),
                    "Invalid Collaborator Subject",
                    format!(
                        "The collaborator {entry} has no valid subject. A subject is `<kind>:<name>` with \
                         kind one of {}, such as `user:alice@example.com` or `team:payments`.",
                        SUBJECT_KINDS.join(", ")
                    ),
                );
            }
            if !seen.insert(subject.to_owned()) {
                diags.error_at(
                    path(),
                    "Duplicate Collaborator",
                    format!(
                        "The subject `{subject}` is listed more than once. A subject holds one role: keep \
                         one entry for it."
                    ),
                );
            }
        }
        if let Some(role) = collaborator.get(attr::collaborator::ROLE_ID).as_str() {
            if role.is_empty() {
                diags.error_at(
                    path(),
                    "Empty Role",
                    format!(
                        "The collaborator `{subject_text}` has an empty `role_id`. Set it to a role such \
                         as {}.",
                        KNOWN_ROLES.join(", ")
                    ),
                );
            } else if !KNOWN_ROLES.contains(&role) {
                // An error, not a warning: TrueFoundry refuses any other role, and finding out at
                // apply time may be after a replacement destroyed the old group.
                diags.error_at(
                    path(),
                    "Invalid Role",
                    format!(
                        "The collaborator {entry} has `{role}`, which is not a secret-group role. Use one of \
                         the roles TrueFoundry documents: {}.",
                        KNOWN_ROLES.join(", ")
                    ),
                );
            }
        }
    }
}

/// Keys as a list in a message, each in backticks (so an empty key still shows).
fn quoted(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| quoted_key(key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The map attributes that hold values (sensitive): `secrets_wo_versions` is checked with them.
const VALUE_MAPS: [&str; 3] = [attr::SECRETS, attr::SECRETS_WO, attr::INITIAL_SECRETS];

/// Checks the secret maps. Every diagnostic names the keys in its text and points at the
/// resource, never into a map: Terraform prints the configuration lines around a path, and
/// these lines hold secret values.
fn validate_secret_maps(config: &Value, diags: &mut Diagnostics) {
    let mut home: BTreeMap<&str, &str> = BTreeMap::new();
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    for map in VALUE_MAPS {
        let Some(entries) = config.get(map).as_entries() else {
            continue;
        };
        let mut bad_keys = Vec::new();
        let mut null_values = Vec::new();
        for (key, value) in entries {
            if !is_valid_key(key) {
                bad_keys.push(key.as_str());
            }
            if value.is_null() {
                null_values.push(key.as_str());
            }
            if let Some(first) = home.insert(key, map) {
                diags.error(
                    "Secret Key In Two Maps",
                    format!(
                        "The key `{key}` is in both `{first}` and `{map}`. A key's value is managed one way: \
                         keep it in one of `secrets`, `secrets_wo` and `initial_secrets`."
                    ),
                );
            } else if let Some(other) = folded.insert(key.to_lowercase(), key) {
                diags.warning(
                    "Secret Keys Differ Only In Case",
                    format!(
                        "The keys `{other}` and `{key}` differ only in case. Some secret stores and most \
                         environments treat them as one; rename one of them."
                    ),
                );
            }
        }
        if !bad_keys.is_empty() {
            diags.error(
                "Invalid Secret Key",
                format!(
                    "These keys of `{map}` are not valid secret keys: {}. {}",
                    quoted(&bad_keys),
                    key_rule()
                ),
            );
        }
        if !null_values.is_empty() {
            diags.error(
                "Secret Value Is Null",
                format!(
                    "These keys of `{map}` have a null value: {}. Give each a value, or remove the key.",
                    quoted(&null_values)
                ),
            );
        }
    }
    if let Some(versions) = config.get(attr::SECRETS_WO_VERSIONS).as_entries() {
        let write_only = config.get(attr::SECRETS_WO);
        let orphans: Vec<&str> = versions
            .keys()
            .filter(|key| match write_only {
                Value::Map(entries) => !entries.contains_key(*key),
                // Unknown keys are checked again at plan time.
                Value::Unknown => false,
                _ => true,
            })
            .map(String::as_str)
            .collect();
        if !orphans.is_empty() {
            diags.error(
                "Version Without Write-Only Secret",
                format!(
                    "These keys of `secrets_wo_versions` are not keys of `secrets_wo`: {}. A version \
                     says when to send a write-only value again; add the key to `secrets_wo`, or remove \
                     its version.",
                    quoted(&orphans)
                ),
            );
        }
        let empty: Vec<&str> = versions
            .iter()
            .filter(|(_, version)| version.as_str().is_some_and(str::is_empty) || version.is_null())
            .map(|(key, _)| key.as_str())
            .collect();
        if !empty.is_empty() {
            diags.error(
                "Empty Write-Only Version",
                format!(
                    "These keys of `secrets_wo_versions` have an empty version: {}. Use a non-empty \
                     label such as `\"1\"`, and change it whenever the value changes.",
                    quoted(&empty)
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Severity;

    fn config(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    fn collaborator(subject: &str, role: &str) -> Value {
        Value::Object(BTreeMap::from([
            (
                attr::collaborator::SUBJECT.to_owned(),
                Value::string(subject),
            ),
            (attr::collaborator::ROLE_ID.to_owned(), Value::string(role)),
        ]))
    }

    fn found(diags: &Diagnostics) -> Vec<(Severity, String, String)> {
        diags
            .iter()
            .map(|d| {
                (
                    d.severity,
                    d.summary.clone(),
                    d.path.as_ref().map(ToString::to_string).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn names_are_checked() {
        let e = |s: &str| (Severity::Error, s.to_owned(), attr::NAME.to_owned());
        assert_eq!(
            found(&validate(&config(&[(attr::NAME, "".into())]))),
            vec![e("Empty Secret Group Name")]
        );
        assert_eq!(
            found(&validate(&config(&[(attr::NAME, "a:b-acme".into())]))),
            vec![e("Invalid Secret Group Name")]
        );
        assert_eq!(
            found(&validate(&config(&[(attr::NAME, "a b-acme".into())]))),
            vec![e("Invalid Secret Group Name")]
        );
        for hostile in [
            "\u{1b}]0;TITLE\u{7}db-acme",
            "db\u{1b}[2J-acme",
            "db-\u{202e}emca",
            "db\u{2066}-acme",
            "db\u{200b}-acme",
            "db\u{85}-acme",
        ] {
            assert_eq!(
                found(&validate(&config(&[(attr::NAME, hostile.into())]))),
                vec![e("Invalid Secret Group Name")],
                "{hostile:?}"
            );
        }
        let long = "a".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(
            found(&validate(&config(&[(attr::NAME, long.as_str().into())]))),
            vec![e("Secret Group Name Too Long")]
        );
        assert!(validate(&config(&[(attr::NAME, "a".repeat(MAX_NAME_CHARS).into())])).is_empty());
        assert_eq!(
            found(&validate(&config(&[(attr::NAME, "db".into())]))),
            vec![(
                Severity::Warning,
                "Short Secret Group Name".to_owned(),
                attr::NAME.to_owned()
            )]
        );
        assert!(
            validate(&config(&[
                (attr::NAME, "payments-acme".into()),
                ("x", Value::Unknown)
            ]))
            .is_empty()
        );
        assert!(validate(&config(&[(attr::NAME, Value::Unknown)])).is_empty());
    }

    #[test]
    fn collaborators_are_checked() {
        let collaborators = Value::Set(vec![
            collaborator("user:a@example.com", "secret-group-admin"),
            collaborator("robot:x", "secret-group-viewer"),
            collaborator("team:ops", "owner"),
            collaborator("user:a@example.com", "secret-group-viewer"),
            collaborator("team:x", ""),
            // Every kind of the API definition is a subject, not only the four common ones.
            collaborator("agent-channel-identity:slack", "secret-group-viewer"),
            collaborator("role:auditors", "secret-group-viewer"),
        ]);
        let diags = validate(&config(&[(attr::COLLABORATORS, collaborators)]));
        assert_eq!(
            found(&diags),
            vec![
                (
                    Severity::Error,
                    "Invalid Collaborator Subject".to_owned(),
                    attr::COLLABORATORS.to_owned()
                ),
                (
                    Severity::Error,
                    "Invalid Role".to_owned(),
                    attr::COLLABORATORS.to_owned()
                ),
                (
                    Severity::Error,
                    "Duplicate Collaborator".to_owned(),
                    attr::COLLABORATORS.to_owned()
                ),
                (
                    Severity::Error,
                    "Empty Role".to_owned(),
                    attr::COLLABORATORS.to_owned()
                ),
            ]
        );
        assert!(diags.0[1].detail.contains("secret-group-editor"));
        // Each names the entry it is about: the set's order is not the configuration's.
        assert!(
            diags.0[0]
                .detail
                .starts_with("The collaborator `robot:x` (secret-group-viewer)")
        );
        assert!(diags.0[1].detail.contains("`team:ops` (owner) has `owner`"));
        assert!(
            diags.0[3]
                .detail
                .starts_with("The collaborator `team:x` has an empty")
        );
    }

    fn string_map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn secret_maps_are_checked_without_pointing_into_them() {
        // No size limit of its own: a megabyte passes, the API decides.
        let big = "x".repeat(1024 * 1024);
        let diags = validate(&config(&[
            (
                attr::SECRETS,
                string_map(&[
                    ("OK", "v-canary".into()),
                    ("BAD KEY", "v".into()),
                    ("BIG", Value::string(&big)),
                    ("TWICE", "v".into()),
                    ("NULL", Value::Null),
                ]),
            ),
            (
                attr::SECRETS_WO,
                string_map(&[("TWICE", "w".into()), ("ok", Value::Unknown)]),
            ),
            (
                attr::SECRETS_WO_VERSIONS,
                string_map(&[
                    ("ok", "1".into()),
                    ("ORPHAN", "1".into()),
                    ("EMPTY", "".into()),
                ]),
            ),
            (attr::INITIAL_SECRETS, string_map(&[("P", "set-me".into())])),
        ]));
        let summaries: Vec<(Severity, &str)> = diags
            .iter()
            .map(|d| (d.severity, d.summary.as_str()))
            .collect();
        assert_eq!(
            summaries,
            vec![
                (Severity::Error, "Invalid Secret Key"),
                (Severity::Error, "Secret Value Is Null"),
                (Severity::Error, "Secret Key In Two Maps"),
                (Severity::Warning, "Secret Keys Differ Only In Case"),
                (Severity::Error, "Version Without Write-Only Secret"),
                (Severity::Error, "Empty Write-Only Version"),
            ]
        );
        assert!(diags.iter().all(|d| d.path.is_none()), "{diags:?}");
        let text: String = diags.iter().map(|d| d.detail.as_str()).collect();
        for named in ["BAD KEY", "NULL", "TWICE", "ORPHAN", "EMPTY"] {
            assert!(
                text.contains(&format!("`{named}`")) || text.contains(named),
                "{named}"
            );
        }
        // Diagnostics never carry values.
        assert!(!text.contains("xxxx") && !text.contains("v-canary") && !text.contains("set-me"));
    }

    #[test]
    fn keys() {
        assert!(is_valid_key("DB_PASSWORD") && is_valid_key("a.b-c"));
        assert!(!is_valid_key("") && !is_valid_key("a/b") && !is_valid_key(&"k".repeat(129)));
        // Letters are ASCII ones, and the message says so.
        assert!(!is_valid_key("CLÉ") && key_rule().contains("ASCII letter"));
    }

    #[test]
    fn an_empty_key_is_said_to_be_empty() {
        let diags = validate(&config(&[(
            attr::SECRETS,
            string_map(&[("", "v".into()), ("a b", "v".into())]),
        )]));
        let [invalid] = diags.0.as_slice() else {
            panic!("one diagnostic expected: {diags:?}");
        };
        assert!(
            invalid
                .detail
                .contains("not valid secret keys: `\"\"` (empty), `a b`."),
            "{}",
            invalid.detail
        );
    }
}
