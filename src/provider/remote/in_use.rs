//! Deletes that would break deployments. The API reports `activeDeploymentsCount` on each secret;
//! a key that deployments still reference is deleted only when the resource sets
//! `delete_in_use = true`. Shared by every resource that deletes secrets: each finds the keys it
//! is about to delete, asks [`keys_in_use`] which of them are in use, and reports with
//! [`refuse`].
//!
//! A server that does not report the count says nothing about a key, which is then taken as not
//! in use: refusing every delete on such a server would leave no way to delete anything.

use std::fmt::Write;

use crate::client::Secret;
use crate::diag::{AttributePath, Diagnostics};
use crate::value::Value;

/// The resource attribute that allows deleting keys in use.
pub const DELETE_IN_USE: &str = "delete_in_use";

/// A key about to be deleted that deployments still reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InUse {
    pub key: String,
    pub deployments: u64,
}

/// Of the secrets the server reported, as (key, `activeDeploymentsCount`), those `deleting`
/// selects that deployments reference, sorted by key.
pub fn keys_in_use<'a>(
    reported: impl IntoIterator<Item = (&'a str, Option<u64>)>,
    deleting: impl Fn(&str) -> bool,
) -> Vec<InUse> {
    let mut in_use: Vec<InUse> = reported
        .into_iter()
        .filter(|(key, _)| deleting(key))
        .filter_map(|(key, count)| {
            let deployments = count.filter(|count| *count > 0)?;
            Some(InUse {
                key: key.to_owned(),
                deployments,
            })
        })
        .collect();
    in_use.sort_by(|a, b| a.key.cmp(&b.key));
    in_use
}

/// [`keys_in_use`] for secrets as the client lists them.
pub fn secrets_in_use(secrets: &[Secret], deleting: impl Fn(&str) -> bool) -> Vec<InUse> {
    keys_in_use(
        secrets
            .iter()
            .map(|secret| (secret.name.as_str(), secret.active_deployments)),
        deleting,
    )
}

/// Whether a resource's config, plan or state allows deleting keys in use (default false).
pub fn allowed(object: &Value) -> bool {
    object.get(DELETE_IN_USE).as_bool() == Some(true)
}

/// `A (2 deployments), B (1 deployment)`.
pub fn describe_keys_in_use(in_use: &[InUse]) -> String {
    let mut text = String::new();
    for (index, entry) in in_use.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        let noun = if entry.deployments == 1 {
            "deployment"
        } else {
            "deployments"
        };
        let _ = write!(text, "{} ({} {noun})", entry.key, entry.deployments);
    }
    text
}

/// When a delete of keys in use is refused: this decides what the error says happened and how
/// `delete_in_use` gets to where it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The plan removes the keys (from the maps, or by replacing their group).
    Plan,
    /// An apply found keys in use that were not when it was planned.
    Apply,
    /// A destroy, which reads `delete_in_use` from the state, not from the configuration.
    Destroy,
    /// A plan that replaces the group: its destroy half, too, reads the state's setting.
    Replace,
}

/// Adds the error for deleting `in_use` keys of `group` (its `tenant:name` or id) at the
/// resource's `delete_in_use`, the setting that lets them go (Terraform 1.11+ then prints the
/// resource's address with it).
pub fn refuse(diags: &mut Diagnostics, group: &str, in_use: &[InUse], when: Refused) {
    let at_setting = AttributePath::root(DELETE_IN_USE);
    refuse_at(diags, Some(at_setting), group, in_use, when);
}

/// Adds the error for deleting `in_use` keys of `group` (its `tenant:name` or id), at `path`
/// when one applies. Names every key with its count and both ways out.
pub fn refuse_at(
    diags: &mut Diagnostics,
    path: Option<AttributePath>,
    group: &str,
    in_use: &[InUse],
    when: Refused,
) {
    let (done, fix) = match when {
        Refused::Plan => (
            "The plan stops here; nothing was changed.",
            "or set `delete_in_use = true` on the resource to delete them anyway.",
        ),
        Refused::Apply => (
            "Nothing was written.",
            "or set `delete_in_use = true` on the resource, then plan and apply again.",
        ),
        Refused::Destroy => (
            "Nothing was deleted.",
            "or set `delete_in_use = true` on the resource and apply that first (a destroy reads the \
             setting from the state), then destroy again.",
        ),
        Refused::Replace => (
            "The plan stops here; nothing was changed.",
            "or set `delete_in_use = true` on the resource and apply that alone first (replacing \
             deletes the old group with the setting its state holds), then plan the change again.",
        ),
    };
    let detail = format!(
        "These secrets of the secret group {group} are still referenced by deployments, which would break if they \
         were deleted: {}. {done} Update those deployments to stop using the secrets' \
         `tfy-secret://` references first, {fix}",
        describe_keys_in_use(in_use)
    );
    let summary = "Secrets In Use By Deployments";
    match path {
        Some(path) => diags.error_at(path, summary, detail),
        None => diags.error(summary, detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deleted_keys_with_deployments_are_in_use() {
        let reported = [
            ("B", Some(1)),
            ("A", Some(3)),
            ("KEPT", Some(5)),
            ("UNUSED", Some(0)),
            ("UNREPORTED", None),
        ];
        let in_use = keys_in_use(reported, |key| key != "KEPT");
        assert_eq!(
            in_use,
            [
                InUse {
                    key: "A".into(),
                    deployments: 3
                },
                InUse {
                    key: "B".into(),
                    deployments: 1
                },
            ]
        );
        assert_eq!(
            describe_keys_in_use(&in_use),
            "A (3 deployments), B (1 deployment)"
        );
        assert!(keys_in_use(reported, |_| false).is_empty());
    }

    #[test]
    fn listed_secrets_are_checked_by_key() {
        let secret = |name: &str, count: Option<u64>| Secret {
            id: format!("id-{name}"),
            fqn: format!("tfy-secret://acme:pay:{name}"),
            name: name.to_owned(),
            secret_group_id: "sg1".into(),
            value: None,
            latest_version: Some(1),
            active_deployments: count,
        };
        let listed = [secret("MINE", Some(4)), secret("THEIRS", Some(9))];
        assert_eq!(
            secrets_in_use(&listed, |key| key == "MINE"),
            [InUse {
                key: "MINE".into(),
                deployments: 4
            }]
        );
    }

    #[test]
    fn the_error_names_keys_counts_and_both_ways_out() {
        let in_use = [InUse {
            key: "DB".into(),
            deployments: 2,
        }];
        for when in [
            Refused::Plan,
            Refused::Apply,
            Refused::Destroy,
            Refused::Replace,
        ] {
            let mut diags = Diagnostics::new();
            refuse_at(&mut diags, None, "acme:pay", &in_use, when);
            let [diag] = diags.0.as_slice() else {
                panic!("one diagnostic: {:?}", diags.0)
            };
            assert_eq!(diag.severity, crate::diag::Severity::Error);
            assert_eq!(diag.summary, "Secrets In Use By Deployments");
            for needle in [
                "acme:pay",
                "DB (2 deployments)",
                "delete_in_use = true",
                "deployments",
            ] {
                assert!(diag.detail.contains(needle), "{when:?}: {}", diag.detail);
            }
        }
    }

    #[test]
    fn delete_in_use_defaults_to_false() {
        let with = |value: Value| Value::object([(DELETE_IN_USE, value)]);
        assert!(allowed(&with(Value::Bool(true))));
        assert!(!allowed(&with(Value::Bool(false))));
        assert!(!allowed(&with(Value::Null)));
        assert!(!allowed(&Value::Null));
    }
}
