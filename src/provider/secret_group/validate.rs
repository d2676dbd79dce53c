//! Checks of a `truefoundry_secret_group` configuration that need no API call.
//!
//! Every problem is a diagnostic with the attribute path; unknown values (from other resources)
//! are skipped here and checked again at plan time, when more may be known.

use std::collections::{BTreeMap, BTreeSet};

use super::schema::KNOWN_ROLES;
use crate::diag::{AttributePath, Diagnostics};
use crate::value::Value;

/// Longest secret key accepted.
pub const MAX_KEY_LEN: usize = 128;
/// Largest value accepted: the smallest limit among the secret stores TrueFoundry writes to
/// (GCP Secret Manager's 64 KiB) would reject more anyway, and a clear error beats a 4xx later.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Subject kinds a collaborator may be.
pub const SUBJECT_KINDS: [&str; 4] = ["user", "team", "serviceaccount", "virtualaccount"];

pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    validate_name(config.get("name"), &mut diags);
    if let Some(fqn) = config.get("integration_fqn").as_str()
        && (fqn.split(':').count() < 2
            || fqn.split(':').any(str::is_empty)
            || fqn.chars().any(char::is_whitespace))
    {
        diags.error_at(
                AttributePath::root("integration_fqn"),
                "Invalid Integration FQN",
                "An integration FQN looks like `<tenant>:<provider>:<account>:secret-store:<name>`, with no \
                 spaces. Copy it from the integration's page in TrueFoundry.",
            );
    }
    if let Some(collaborators) = config.get("collaborators").as_elements() {
        validate_collaborators(collaborators, &mut diags);
    }
    if let Some(secrets) = config.get("secrets").as_entries() {
        validate_secrets(secrets, &mut diags);
    }
    diags
}

fn validate_name(name: &Value, diags: &mut Diagnostics) {
    let Some(name) = name.as_str() else { return };
    let path = AttributePath::root("name");
    if name.is_empty() {
        diags.error_at(
            path,
            "Empty Secret Group Name",
            "Give the secret group a name.",
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

fn validate_collaborators(collaborators: &[Value], diags: &mut Diagnostics) {
    let mut seen = BTreeSet::new();
    for (index, collaborator) in collaborators.iter().enumerate() {
        let path = AttributePath::root("collaborators").index(index as i64);
        if let Some(subject) = collaborator.get("subject").as_str() {
            let kind_ok = subject
                .split_once(':')
                .is_some_and(|(kind, rest)| SUBJECT_KINDS.contains(&kind) && !rest.is_empty());
            if !kind_ok {
                diags.error_at(
                    path.clone().attr("subject"),
                    "Invalid Collaborator Subject",
                    format!(
                        "A subject is `<kind>:<name>` with kind one of {}, such as `user:alice@example.com` \
                         or `team:payments`.",
                        SUBJECT_KINDS.join(", ")
                    ),
                );
            }
            if !seen.insert(subject.to_owned()) {
                diags.error_at(
                    path.clone().attr("subject"),
                    "Duplicate Collaborator",
                    format!(
                        "The subject `{subject}` is listed more than once. A subject holds one role: keep \
                         one entry for it."
                    ),
                );
            }
        }
        if let Some(role) = collaborator.get("role_id").as_str() {
            if role.is_empty() {
                diags.error_at(
                    path.attr("role_id"),
                    "Empty Role",
                    format!(
                        "Set `role_id` to a role such as {}.",
                        KNOWN_ROLES.join(", ")
                    ),
                );
            } else if !KNOWN_ROLES.contains(&role) {
                // An error, not a warning: TrueFoundry refuses any other role, and finding out at
                // apply time may be after a replacement destroyed the old group.
                diags.error_at(
                    path.attr("role_id"),
                    "Invalid Role",
                    format!(
                        "`{role}` is not a secret-group role. Use one of the roles TrueFoundry documents: \
                         {}.",
                        KNOWN_ROLES.join(", ")
                    ),
                );
            }
        }
    }
}

/// True for keys made of letters, digits, `_`, `-` and `.`, as environment-style secret names are.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn validate_secrets(secrets: &BTreeMap<String, Value>, diags: &mut Diagnostics) {
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    for (key, entry) in secrets {
        let path = AttributePath::root("secrets").key(key.clone());
        if !is_valid_key(key) {
            diags.error_at(
                path.clone(),
                "Invalid Secret Key",
                format!(
                    "A secret key must be 1 to {MAX_KEY_LEN} characters of letters, digits, `_`, `-` and \
                     `.`, such as `DB_PASSWORD`."
                ),
            );
        }
        if let Some(first) = folded.insert(key.to_lowercase(), key) {
            diags.warning_at(
                path.clone(),
                "Secret Keys Differ Only In Case",
                format!(
                    "The keys `{first}` and `{key}` differ only in case. Some secret stores and most \
                     environments treat them as one; rename one of them."
                ),
            );
        }
        let value = entry.get("value");
        let value_wo = entry.get("value_wo");
        let version = entry.get("value_wo_version");
        if !value.is_null() && !value_wo.is_null() {
            diags.error_at(
                path.clone(),
                "Conflicting Secret Values",
                "Set either `value` (kept in state) or `value_wo` (write-only), not both.",
            );
        }
        if !value_wo.is_null() && version.is_null() {
            diags.error_at(
                path.clone().attr("value_wo_version"),
                "Missing Write-Only Version",
                "Set `value_wo_version` together with `value_wo`, and change it whenever the value \
                 changes: Terraform cannot see changes to a write-only value, so the version is what \
                 tells the provider to send it.",
            );
        }
        if value_wo.is_null() && !version.is_null() && value.is_null() {
            // Allowed in state (write-only keys are stored this way), but not in config.
            diags.error_at(
                path.clone().attr("value_wo"),
                "Missing Write-Only Value",
                "`value_wo_version` has meaning only with `value_wo`. Set `value_wo`, or remove \
                 `value_wo_version`.",
            );
        }
        if let Some(version) = version.as_str()
            && version.is_empty()
        {
            diags.error_at(
                path.clone().attr("value_wo_version"),
                "Empty Write-Only Version",
                "Set `value_wo_version` to a non-empty string such as `\"1\"`.",
            );
        }
        for (name, v) in [("value", value), ("value_wo", value_wo)] {
            if v.as_str().is_some_and(|s| s.len() > MAX_VALUE_BYTES) {
                diags.error_at(
                    path.clone().attr(name),
                    "Secret Value Too Large",
                    format!(
                        "A secret value may be at most {} KiB. Store large files elsewhere and keep a \
                         reference here.",
                        MAX_VALUE_BYTES / 1024
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Severity;
    use crate::provider::secret_group::model::secret_entry;

    fn config(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    fn collaborator(subject: &str, role: &str) -> Value {
        Value::Object(BTreeMap::from([
            ("subject".to_owned(), Value::string(subject)),
            ("role_id".to_owned(), Value::string(role)),
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
        let e = |s: &str| (Severity::Error, s.to_owned(), "name".to_owned());
        assert_eq!(
            found(&validate(&config(&[("name", "".into())]))),
            vec![e("Empty Secret Group Name")]
        );
        assert_eq!(
            found(&validate(&config(&[("name", "a:b-acme".into())]))),
            vec![e("Invalid Secret Group Name")]
        );
        assert_eq!(
            found(&validate(&config(&[("name", "a b-acme".into())]))),
            vec![e("Invalid Secret Group Name")]
        );
        assert_eq!(
            found(&validate(&config(&[("name", "db".into())]))),
            vec![(
                Severity::Warning,
                "Short Secret Group Name".to_owned(),
                "name".to_owned()
            )]
        );
        assert!(
            validate(&config(&[
                ("name", "payments-acme".into()),
                ("x", Value::Unknown)
            ]))
            .is_empty()
        );
        assert!(validate(&config(&[("name", Value::Unknown)])).is_empty());
    }

    #[test]
    fn collaborators_are_checked() {
        let collaborators = Value::Set(vec![
            collaborator("user:a@example.com", "secret-group-admin"),
            collaborator("robot:x", "secret-group-viewer"),
            collaborator("team:ops", "owner"),
            collaborator("user:a@example.com", "secret-group-viewer"),
            collaborator("team:x", ""),
        ]);
        let diags = validate(&config(&[("collaborators", collaborators)]));
        assert_eq!(
            found(&diags),
            vec![
                (
                    Severity::Error,
                    "Invalid Collaborator Subject".to_owned(),
                    "collaborators[1].subject".to_owned()
                ),
                (
                    Severity::Error,
                    "Invalid Role".to_owned(),
                    "collaborators[2].role_id".to_owned()
                ),
                (
                    Severity::Error,
                    "Duplicate Collaborator".to_owned(),
                    "collaborators[3].subject".to_owned()
                ),
                (
                    Severity::Error,
                    "Empty Role".to_owned(),
                    "collaborators[4].role_id".to_owned()
                ),
            ]
        );
        assert!(diags.0[1].detail.contains("secret-group-editor"));
    }

    #[test]
    fn secrets_are_checked() {
        let mut both = secret_entry(Value::string("a"), Value::string("1"));
        both.set("value_wo", Value::string("b"));
        let mut wo_without_version = secret_entry(Value::Null, Value::Null);
        wo_without_version.set("value_wo", Value::string("b"));
        let secrets = Value::Map(BTreeMap::from([
            (
                "OK".to_owned(),
                secret_entry(Value::string("v"), Value::Null),
            ),
            ("ok".to_owned(), secret_entry(Value::Unknown, Value::Null)),
            ("BAD KEY".to_owned(), secret_entry(Value::Null, Value::Null)),
            ("BOTH".to_owned(), both),
            ("WO".to_owned(), wo_without_version),
            (
                "VERSION_ONLY".to_owned(),
                secret_entry(Value::Null, Value::string("1")),
            ),
            (
                "BIG".to_owned(),
                secret_entry(Value::string("x".repeat(MAX_VALUE_BYTES + 1)), Value::Null),
            ),
        ]));
        let diags = validate(&config(&[("secrets", secrets)]));
        assert_eq!(
            found(&diags),
            vec![
                (
                    Severity::Error,
                    "Invalid Secret Key".to_owned(),
                    "secrets[\"BAD KEY\"]".to_owned()
                ),
                (
                    Severity::Error,
                    "Secret Value Too Large".to_owned(),
                    "secrets[\"BIG\"].value".to_owned()
                ),
                (
                    Severity::Error,
                    "Conflicting Secret Values".to_owned(),
                    "secrets[\"BOTH\"]".to_owned()
                ),
                (
                    Severity::Error,
                    "Missing Write-Only Value".to_owned(),
                    "secrets[\"VERSION_ONLY\"].value_wo".to_owned()
                ),
                (
                    Severity::Error,
                    "Missing Write-Only Version".to_owned(),
                    "secrets[\"WO\"].value_wo_version".to_owned()
                ),
                (
                    Severity::Warning,
                    "Secret Keys Differ Only In Case".to_owned(),
                    "secrets[\"ok\"]".to_owned()
                ),
            ]
        );
        // Diagnostics never carry values.
        assert!(diags.iter().all(|d| !d.detail.contains("xxxx")));
    }

    #[test]
    fn keys() {
        assert!(is_valid_key("DB_PASSWORD") && is_valid_key("a.b-c"));
        assert!(!is_valid_key("") && !is_valid_key("a/b") && !is_valid_key(&"k".repeat(129)));
    }
}
