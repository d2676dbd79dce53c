//! Checks of a `truefoundry_secret` configuration that need no API call. Unknown values are
//! skipped here and checked again at plan time.
//!
//! No diagnostic about `value` or `value_wo` carries their path: Terraform would print the
//! configuration line, and with it a literal value.

use super::model::SecretConfig;
use super::schema::attr;
use crate::diag::{AttributePath, Diagnostics};
use crate::provider::secret_keys::{is_valid_key, key_rule, quoted_key};
use crate::value::Value;

pub fn validate(config: &Value) -> Diagnostics {
    let config = SecretConfig::of(config);
    let mut diags = Diagnostics::new();
    if let Some(key) = config.key.as_deref()
        && !is_valid_key(key)
    {
        diags.error_at(
            AttributePath::root(attr::KEY),
            "Invalid Secret Key",
            format!(
                "{} is not a valid secret key. {}",
                quoted_key(key),
                key_rule()
            ),
        );
    }
    if config.group_id.as_deref() == Some("") {
        diags.error_at(
            AttributePath::root(attr::SECRET_GROUP_ID),
            "Empty Secret Group Id",
            "Set `secret_group_id` to the id of a secret group, such as \
             `truefoundry_secret_group.shared.id`.",
        );
    }
    // Neither is allowed: the value is then unmanaged (`SecretConfig::value_unmanaged`), which
    // only an existing key can be; the plan refuses creating one so.
    if !config.value.is_null() && !config.value_wo.is_null() {
        diags.error(
            "Conflicting Secret Values",
            "Both `value` and `value_wo` are set. Set at most one: `value` keeps the value in state, \
             `value_wo` (Terraform 1.11 or later) never stores it.",
        );
    }
    let version = &config.value_wo_version;
    if !version.is_null() {
        let path = AttributePath::root(attr::VALUE_WO_VERSION);
        if config.value_wo.is_null() {
            diags.error_at(
                path,
                "Version Without Write-Only Value",
                "`value_wo_version` says when to send `value_wo` again, but `value_wo` is not set. Set \
                 `value_wo`, or remove `value_wo_version`.",
            );
        } else if version.as_str() == Some("") {
            diags.error_at(
                path,
                "Empty Write-Only Version",
                "`value_wo_version` is empty. Use a non-empty label such as `\"1\"`, and change it \
                 whenever the value changes.",
            );
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_unmanaged(config: &Value) -> bool {
        SecretConfig::of(config).value_unmanaged()
    }

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut object = Value::object([
            ("secret_group_id", Value::string("sg1")),
            ("key", Value::string("K")),
            ("value", Value::Null),
            ("value_wo", Value::Null),
            ("value_wo_version", Value::Null),
        ]);
        for (name, value) in pairs {
            object.set(name, value.clone());
        }
        object
    }

    fn summaries(diags: &Diagnostics) -> Vec<&str> {
        diags.0.iter().map(|d| d.summary.as_str()).collect()
    }

    #[test]
    fn at_most_one_value_and_no_path_into_it() {
        assert!(validate(&config(&[("value", "v".into())])).0.is_empty());
        assert!(
            validate(&config(&[
                ("value_wo", "v".into()),
                ("value_wo_version", "1".into())
            ]))
            .0
            .is_empty()
        );
        assert!(validate(&config(&[("value", Value::Unknown)])).0.is_empty());
        let both = validate(&config(&[
            ("value", "hunter2".into()),
            ("value_wo", "x".into()),
        ]));
        assert_eq!(summaries(&both), ["Conflicting Secret Values"]);
        assert_eq!(both.0[0].path, None);
        // Neither: the value is unmanaged, which the plan allows for an existing key only.
        assert!(validate(&config(&[])).0.is_empty());
        assert!(value_unmanaged(&config(&[])));
        assert!(!value_unmanaged(&config(&[("value_wo", Value::Unknown)])));
    }

    #[test]
    fn keys_and_versions_are_checked_with_their_paths() {
        let bad = validate(&config(&[("key", "BAD KEY".into()), ("value", "v".into())]));
        assert_eq!(summaries(&bad), ["Invalid Secret Key"]);
        assert_eq!(bad.0[0].path, Some(AttributePath::root("key")));
        let orphan = validate(&config(&[
            ("value", "v".into()),
            ("value_wo_version", "1".into()),
        ]));
        assert_eq!(summaries(&orphan), ["Version Without Write-Only Value"]);
        let empty = validate(&config(&[
            ("value_wo", "v".into()),
            ("value_wo_version", "".into()),
        ]));
        assert_eq!(summaries(&empty), ["Empty Write-Only Version"]);
        let no_group = validate(&config(&[
            ("secret_group_id", "".into()),
            ("value", "v".into()),
        ]));
        assert_eq!(summaries(&no_group), ["Empty Secret Group Id"]);
    }
}
