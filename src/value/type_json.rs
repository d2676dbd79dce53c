//! A [`Type`] as the compact JSON Terraform uses in schemas and in dynamic values.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::Type;

/// Type JSON nests no deeper than values do; deeper input is refused rather than recursed into.
const MAX_TYPE_DEPTH: usize = 64;

impl Type {
    /// `"string"`, `["list","number"]`, `["object",{"a":"bool"}]`, …
    pub fn to_json(&self) -> Json {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(element) => json!(["list", element.to_json()]),
            Type::Set(element) => json!(["set", element.to_json()]),
            Type::Map(element) => json!(["map", element.to_json()]),
            Type::Tuple(elements) => {
                json!([
                    "tuple",
                    elements.iter().map(Type::to_json).collect::<Vec<_>>()
                ])
            }
            Type::Object(attributes) => {
                let attributes: serde_json::Map<String, Json> = attributes
                    .iter()
                    .map(|(name, ty)| (name.clone(), ty.to_json()))
                    .collect();
                json!(["object", attributes])
            }
        }
    }

    /// Parses schema type JSON. An object's optional third element (its optional attribute
    /// names, written by newer Terraform) is accepted and ignored.
    pub fn from_json(json: &Json) -> Result<Type, String> {
        type_from_json(json, 0)
    }
}

fn type_from_json(json: &Json, depth: usize) -> Result<Type, String> {
    if depth > MAX_TYPE_DEPTH {
        return Err("type nests too deeply".into());
    }
    let nested = |json: &Json| type_from_json(json, depth + 1);
    match json {
        Json::String(name) => match name.as_str() {
            "bool" => Ok(Type::Bool),
            "number" => Ok(Type::Number),
            "string" => Ok(Type::String),
            "dynamic" => Ok(Type::Dynamic),
            _ => Err(format!("unknown primitive type {name:?}")),
        },
        Json::Array(parts) => {
            let Some(kind) = parts.first().and_then(Json::as_str) else {
                return Err("a type array must start with its kind".into());
            };
            let argument_count = if kind == "object" { 1..=2 } else { 1..=1 };
            if !argument_count.contains(&(parts.len() - 1)) {
                return Err(format!("wrong number of elements in {kind:?} type"));
            }
            let argument = &parts[1];
            match kind {
                "list" => Ok(Type::List(Box::new(nested(argument)?))),
                "set" => Ok(Type::Set(Box::new(nested(argument)?))),
                "map" => Ok(Type::Map(Box::new(nested(argument)?))),
                "tuple" => {
                    let Json::Array(elements) = argument else {
                        return Err("a tuple type needs an array of element types".into());
                    };
                    Ok(Type::Tuple(
                        elements.iter().map(nested).collect::<Result<_, _>>()?,
                    ))
                }
                "object" => {
                    let Json::Object(attributes) = argument else {
                        return Err("an object type needs a map of attribute types".into());
                    };
                    if parts.get(2).is_some_and(|optional| !optional.is_array()) {
                        return Err("an object type's optional attributes must be an array".into());
                    }
                    let attributes = attributes
                        .iter()
                        .map(|(name, ty)| Ok((name.clone(), nested(ty)?)))
                        .collect::<Result<BTreeMap<_, _>, String>>()?;
                    Ok(Type::Object(attributes))
                }
                _ => Err(format!("unknown type kind {kind:?}")),
            }
        }
        _ => Err("a type must be a string or an array".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Type, String> {
        Type::from_json(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn every_kind_round_trips_through_its_json() {
        let ty = Type::Object(BTreeMap::from([
            ("a".into(), Type::List(Box::new(Type::String))),
            ("b".into(), Type::Set(Box::new(Type::Number))),
            ("c".into(), Type::Map(Box::new(Type::Bool))),
            ("d".into(), Type::Tuple(vec![Type::Dynamic, Type::String])),
        ]));
        let json = ty.to_json();
        assert_eq!(
            json.to_string(),
            r#"["object",{"a":["list","string"],"b":["set","number"],"c":["map","bool"],"d":["tuple",["dynamic","string"]]}]"#
        );
        assert_eq!(Type::from_json(&json), Ok(ty));
    }

    #[test]
    fn optional_attribute_list_is_accepted_and_ignored() {
        assert_eq!(
            parse(r#"["object",{"x":"string"},["x"]]"#),
            Ok(Type::Object(BTreeMap::from([("x".into(), Type::String)])))
        );
    }

    #[test]
    fn malformed_types_are_refused() {
        for text in [
            r#""str""#,
            "3",
            "[]",
            r#"["list"]"#,
            r#"["list","string","string"]"#,
            r#"["tuple","string"]"#,
            r#"["object",["x"]]"#,
            r#"["object",{},"x"]"#,
            r#"["bag","string"]"#,
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        let deep = format!("{}\"string\"{}", "[\"list\",".repeat(100), "]".repeat(100));
        assert!(parse(&deep).is_err());
    }
}
