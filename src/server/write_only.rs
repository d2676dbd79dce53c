//! Write-only attributes, enforced once here for every resource: they are never returned in a
//! plan or state, and a Terraform too old to know them must not be handed one silently.

use crate::diag::{AttributePath, Diagnostics};
use crate::schema::{Attribute, AttributeType, Nesting};
use crate::value::Value;

/// Sets every write-only attribute (at any depth) of an object value of `attributes` to null.
pub fn null_write_only(value: &mut Value, attributes: &[Attribute]) {
    let Some(entries) = value.as_entries_mut() else {
        return;
    };
    for attribute in attributes {
        let Some(slot) = entries.get_mut(&attribute.name) else {
            continue;
        };
        if attribute.write_only {
            *slot = Value::Null;
        } else if let AttributeType::Nested {
            nesting,
            attributes: nested,
        } = &attribute.ty
        {
            for_each_nested_object(slot, *nesting, |object| null_write_only(object, nested));
        }
    }
}

fn for_each_nested_object(value: &mut Value, nesting: Nesting, mut visit: impl FnMut(&mut Value)) {
    match (nesting, value) {
        (_, Value::Dynamic(_, inner)) => for_each_nested_object(inner, nesting, visit),
        (Nesting::Single, object) => visit(object),
        (Nesting::List | Nesting::Set, Value::List(items) | Value::Set(items)) => {
            items.iter_mut().for_each(visit)
        }
        (Nesting::Map, Value::Map(entries)) => entries.values_mut().for_each(visit),
        _ => {}
    }
}

/// Paths of write-only attributes that are set (known or unknown) in `config`.
pub fn set_write_only_paths(config: &Value, attributes: &[Attribute]) -> Vec<AttributePath> {
    let mut found = Vec::new();
    collect_set_write_only(config, attributes, &AttributePath::default(), &mut found);
    found
}

fn collect_set_write_only(
    object: &Value,
    attributes: &[Attribute],
    at: &AttributePath,
    found: &mut Vec<AttributePath>,
) {
    for attribute in attributes {
        let value = object.get(&attribute.name);
        if value.is_null() {
            continue;
        }
        let path = at.clone().attr(attribute.name.clone());
        if attribute.write_only {
            found.push(path);
            continue;
        }
        let AttributeType::Nested {
            nesting,
            attributes: nested,
        } = &attribute.ty
        else {
            continue;
        };
        match nesting {
            Nesting::Single => collect_set_write_only(value, nested, &path, found),
            Nesting::List | Nesting::Set => {
                for (index, item) in value.as_elements().unwrap_or_default().iter().enumerate() {
                    // Sets have no stable index; Terraform shows the attribute path either way.
                    let item_path = if *nesting == Nesting::List {
                        path.clone().index(index as i64)
                    } else {
                        path.clone()
                    };
                    collect_set_write_only(item, nested, &item_path, found);
                }
            }
            Nesting::Map => {
                if let Some(entries) = value.as_entries() {
                    for (key, item) in entries {
                        collect_set_write_only(item, nested, &path.clone().key(key.clone()), found);
                    }
                }
            }
        }
    }
}

/// The refusal for a Terraform that did not announce write-only support (before 1.11).
pub fn refuse_unsupported(config: &Value, attributes: &[Attribute]) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    for path in set_write_only_paths(config, attributes) {
        // No attribute path: Terraform would print the configuration lines around it, and a
        // write-only attribute's lines hold the very values that must not be shown.
        diagnostics.error(
            "Write-Only Attribute Not Supported",
            format!(
                "{path} is a write-only attribute, which needs Terraform 1.11 or later; this \
                 Terraform does not support write-only attributes. Upgrade Terraform, or use the \
                 attribute that stores its value in state instead."
            ),
        );
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Type;
    use std::collections::BTreeMap;

    fn attributes() -> Vec<Attribute> {
        vec![
            Attribute::optional("token_wo", Type::String, "").write_only(),
            Attribute::optional("name", Type::String, ""),
            Attribute::nested(
                "secrets",
                Nesting::Map,
                vec![
                    Attribute::optional("value", Type::String, ""),
                    Attribute::optional("value_wo", Type::String, "").write_only(),
                ],
                "",
            )
            .with_optional(),
            Attribute::nested(
                "items",
                Nesting::List,
                vec![Attribute::optional("pin_wo", Type::String, "").write_only()],
                "",
            )
            .with_optional(),
        ]
    }

    fn object(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn sample() -> Value {
        object(&[
            ("token_wo", Value::string("t")),
            ("name", Value::string("n")),
            (
                "secrets",
                Value::Map(BTreeMap::from([
                    (
                        "A".to_owned(),
                        object(&[("value", "a".into()), ("value_wo", Value::Null)]),
                    ),
                    (
                        "B".to_owned(),
                        object(&[("value", Value::Null), ("value_wo", Value::Unknown)]),
                    ),
                ])),
            ),
            (
                "items",
                Value::List(vec![object(&[("pin_wo", "p".into())])]),
            ),
        ])
    }

    #[test]
    fn nulls_write_only_attributes_at_every_depth() {
        let mut value = sample();
        null_write_only(&mut value, &attributes());
        assert!(value.get("token_wo").is_null());
        assert_eq!(value.get("name"), &Value::string("n"));
        let secrets = value.get("secrets");
        assert_eq!(secrets.get("A").get("value"), &Value::string("a"));
        assert!(secrets.get("B").get("value_wo").is_null());
        assert!(
            value.get("items").as_elements().unwrap()[0]
                .get("pin_wo")
                .is_null()
        );
        assert!(set_write_only_paths(&value, &attributes()).is_empty());
    }

    #[test]
    fn finds_set_write_only_values_with_their_paths() {
        let paths = set_write_only_paths(&sample(), &attributes());
        let rendered: Vec<String> = paths.iter().map(ToString::to_string).collect();
        assert_eq!(
            rendered,
            ["token_wo", "secrets[\"B\"].value_wo", "items[0].pin_wo"]
        );
        let diagnostics = refuse_unsupported(&sample(), &attributes());
        assert_eq!(diagnostics.iter().count(), 3);
        let first = diagnostics.iter().next().unwrap();
        assert_eq!(first.summary, "Write-Only Attribute Not Supported");
        assert!(first.detail.contains("Terraform 1.11"));
        assert!(
            first
                .detail
                .starts_with("token_wo is a write-only attribute")
        );
        assert_eq!(first.path, None, "no path, so Terraform prints no value");
    }
}
