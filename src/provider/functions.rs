//! Provider functions (Terraform 1.8+): `provider::truefoundry::secret_fqn(group_fqn, key)` builds
//! the reference a deployment uses for a secret, `parse_secret_fqn(reference)` takes one apart.
//! Both are pure: no API call, no provider configuration needed.
//!
//! Errors never quote an argument: a sensitive value passed by mistake must not be printed.
//! Terraform prints an error as `Invalid value for "<parameter>" parameter: <text>.`, so the
//! texts here start in lower case and end without a full stop.

use std::collections::BTreeMap;

use super::secret_keys::{MAX_KEY_LEN, is_valid_key};
use crate::provider::remote::group::{SECRET_FQN_PREFIX, parse_secret_fqn, secret_fqn};
use crate::server::{Function, FunctionError, FunctionParameter, FunctionSignature};
use crate::value::{Type, Value};

pub const SECRET_FQN: &str = "secret_fqn";
pub const PARSE_SECRET_FQN: &str = "parse_secret_fqn";

/// `secret_fqn(group_fqn, key)`.
pub struct SecretFqn;

/// `parse_secret_fqn(reference)`.
pub struct ParseSecretFqn;

/// The fields of the object `parse_secret_fqn` returns, for its type and its value alike.
pub mod part {
    pub const TENANT: &str = "tenant";
    pub const GROUP: &str = "group";
    pub const KEY: &str = "key";
}

fn parts_type() -> Type {
    Type::Object(BTreeMap::from([
        (part::TENANT.to_owned(), Type::String),
        (part::GROUP.to_owned(), Type::String),
        (part::KEY.to_owned(), Type::String),
    ]))
}

impl Function for SecretFqn {
    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            summary: "The reference of one secret, as deployments use it",
            description: "Returns `tfy-secret://<tenant>:<group>:<key>` for the key `key` of the \
                          secret group `group_fqn` (`<tenant>:<group>`, the `fqn` attribute of a \
                          `truefoundry_secret_group`). Needs no API call: the key does not have to \
                          exist yet.",
            parameters: vec![
                FunctionParameter {
                    name: "group_fqn",
                    ty: Type::String,
                    description: "FQN of the secret group: `<tenant>:<group>`.",
                },
                FunctionParameter {
                    name: "key",
                    ty: Type::String,
                    description: "The secret's key: letters, digits, `_`, `-` and `.`.",
                },
            ],
            returns: Type::String,
        }
    }

    fn call(&self, arguments: &[Value]) -> Result<Value, FunctionError> {
        let [group_fqn, key] = arguments else {
            unreachable!("the server checks the argument count against the signature")
        };
        let (Some(group_fqn), Some(key)) = (group_fqn.as_str(), key.as_str()) else {
            unreachable!("the server decodes both arguments as known strings")
        };
        let (tenant, group) = split_group_fqn(group_fqn).ok_or_else(|| FunctionError {
            text: format!(
                "expected the FQN of a secret group, `<tenant>:<group>` (two non-empty parts \
                 without white space, separated by one `:`), and found {}; pass the group's `fqn` \
                 attribute, such as `my-tenant:my-group`",
                shape_of(group_fqn)
            ),
            argument: Some(0),
        })?;
        check_key(key).map_err(|problem| FunctionError {
            text: problem,
            argument: Some(1),
        })?;
        Ok(Value::string(secret_fqn(tenant, group, key)))
    }
}

impl Function for ParseSecretFqn {
    fn signature(&self) -> FunctionSignature {
        FunctionSignature {
            summary: "The tenant, group and key of a secret reference",
            description: "Takes a secret reference, `tfy-secret://<tenant>:<group>:<key>` or the same \
                          without the `tfy-secret://` prefix, and returns the object `{ tenant, group, \
                          key }`. The inverse of `secret_fqn`.",
            parameters: vec![FunctionParameter {
                name: "reference",
                ty: Type::String,
                description: "A secret reference: `tfy-secret://<tenant>:<group>:<key>`.",
            }],
            returns: parts_type(),
        }
    }

    fn call(&self, arguments: &[Value]) -> Result<Value, FunctionError> {
        let [reference] = arguments else {
            unreachable!("the server checks the argument count against the signature")
        };
        let Some(reference) = reference.as_str() else {
            unreachable!("the server decodes the argument as a known string")
        };
        let refuse = |why: String| FunctionError {
            text: format!(
                "expected a secret reference, `{SECRET_FQN_PREFIX}<tenant>:<group>:<key>` such as \
                 `{SECRET_FQN_PREFIX}my-tenant:my-group:MY_KEY`, and {why}"
            ),
            argument: Some(0),
        };
        let (tenant, group, key) = parse_secret_fqn(reference)
            .filter(|(tenant, group, _)| split_group_fqn(&format!("{tenant}:{group}")).is_some())
            .ok_or_else(|| {
                let bare = reference
                    .strip_prefix(SECRET_FQN_PREFIX)
                    .unwrap_or(reference);
                refuse(format!(
                    "found {} where three non-empty parts without white space, separated by `:`, \
                     belong",
                    shape_of(bare)
                ))
            })?;
        check_key(key).map_err(|problem| refuse(format!("in its key part, {problem}")))?;
        Ok(Value::object([
            (part::TENANT, Value::string(tenant)),
            (part::GROUP, Value::string(group)),
            (part::KEY, Value::string(key)),
        ]))
    }
}

/// `(tenant, group)` of `<tenant>:<group>` with both parts non-empty and free of white space.
fn split_group_fqn(fqn: &str) -> Option<(&str, &str)> {
    let (tenant, group) = fqn.split_once(':')?;
    let clean =
        |part: &str| !part.is_empty() && !part.contains(':') && !part.contains(char::is_whitespace);
    (clean(tenant) && clean(group)).then_some((tenant, group))
}

/// The problem with a key, in the form of the function error texts.
fn check_key(key: &str) -> Result<(), String> {
    if is_valid_key(key) {
        return Ok(());
    }
    Err(if key.is_empty() {
        "the key is empty; give the secret's key, such as `MY_KEY`".to_owned()
    } else if key.len() > MAX_KEY_LEN {
        format!(
            "the key is {} bytes long, and a key has at most {MAX_KEY_LEN}",
            key.len()
        )
    } else {
        "the key holds a character other than letters, digits, `_`, `-` and `.`; use a key made \
         of those, such as `MY_KEY`"
            .to_owned()
    })
}

/// How a string is built, without its contents: the number of `:`-separated parts and which
/// are empty or hold white space.
fn shape_of(text: &str) -> String {
    let parts: Vec<&str> = text.split(':').collect();
    let empty = parts.iter().filter(|part| part.is_empty()).count();
    let spaced = parts
        .iter()
        .filter(|part| part.contains(char::is_whitespace))
        .count();
    let mut shape = format!(
        "{} part{}",
        parts.len(),
        if parts.len() == 1 { "" } else { "s" }
    );
    if empty > 0 {
        shape.push_str(&format!(", {empty} empty"));
    }
    if spaced > 0 {
        shape.push_str(&format!(", {spaced} with white space"));
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_fqn_of(group_fqn: &str, key: &str) -> Result<Value, FunctionError> {
        SecretFqn.call(&[Value::string(group_fqn), Value::string(key)])
    }

    fn parse(reference: &str) -> Result<Value, FunctionError> {
        ParseSecretFqn.call(&[Value::string(reference)])
    }

    #[test]
    fn secret_fqn_builds_the_reference() {
        assert_eq!(
            secret_fqn_of("acme:payments", "DB_PASSWORD"),
            Ok(Value::string("tfy-secret://acme:payments:DB_PASSWORD"))
        );
    }

    #[test]
    fn secret_fqn_names_the_argument_at_fault_without_quoting_it() {
        for bad_group in [
            "acme",
            "acme:",
            ":payments",
            "acme:pay:extra",
            "acme:pay ments",
            "",
        ] {
            let error = secret_fqn_of(bad_group, "DB").unwrap_err();
            assert_eq!(error.argument, Some(0), "{bad_group:?}");
            assert!(
                error.text.contains("FQN of a secret group"),
                "{}",
                error.text
            );
            if !bad_group.is_empty() {
                assert!(!error.text.contains(bad_group), "{}", error.text);
            }
        }
        for bad_key in ["", "has space", "sl/ash", &"K".repeat(MAX_KEY_LEN + 1)] {
            let error = secret_fqn_of("acme:payments", bad_key).unwrap_err();
            assert_eq!(error.argument, Some(1), "{bad_key:?}");
            assert!(error.text.contains("the key "), "{}", error.text);
            if !bad_key.is_empty() {
                assert!(!error.text.contains(bad_key), "{}", error.text);
            }
        }
    }

    #[test]
    fn parse_secret_fqn_inverts_secret_fqn() {
        let parts = Value::object([
            ("tenant", Value::string("acme")),
            ("group", Value::string("payments")),
            ("key", Value::string("DB.PASSWORD-2")),
        ]);
        assert_eq!(
            parse("tfy-secret://acme:payments:DB.PASSWORD-2"),
            Ok(parts.clone())
        );
        assert_eq!(parse("acme:payments:DB.PASSWORD-2"), Ok(parts));
    }

    #[test]
    fn parse_secret_fqn_refuses_what_is_not_a_reference_without_quoting_it() {
        for bad in [
            "tfy-secret://acme:payments",
            "acme:payments:DB:extra",
            "tfy-secret://acme::DB",
            "acme:pay ments:DB",
            "acme:payments:sl/ash",
            "s3cr3t-value-canary",
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.argument, Some(0), "{bad:?}");
            assert!(
                error.text.starts_with("expected a secret reference"),
                "{}",
                error.text
            );
            assert!(!error.text.contains(bad), "{}", error.text);
        }
    }
}
