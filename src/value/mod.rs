//! Terraform (cty) values and types, and their wire encodings.
//!
//! Terraform sends every value as a `DynamicValue` (msgpack, or JSON for stored state) whose
//! meaning depends on the schema type. This module decodes those bytes into [`Value`] using the
//! [`Type`] from the schema, and encodes them back; it knows nothing of any particular resource.
//!
//! Error messages produced here name the attribute path and the kind of problem, never the value.

mod codec;
mod json;
mod number;
#[cfg(test)]
mod proptests;
mod type_json;

use std::collections::BTreeMap;

use crate::diag::{AttributePath, PathStep};

pub use codec::{
    DecodeError, EncodeError, decode_json, decode_msgpack, encode_json, encode_msgpack,
};
pub use number::Number;

/// A Terraform type, as written in a schema's `type` JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// Any type; values carry their concrete type on the wire.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    Object(BTreeMap<String, Type>),
}

impl Type {
    /// The name of this type's kind (`list`, `object`, …), for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Number => "number",
            Type::String => "string",
            Type::Dynamic => "dynamic",
            Type::List(_) => "list",
            Type::Set(_) => "set",
            Type::Map(_) => "map",
            Type::Tuple(_) => "tuple",
            Type::Object(_) => "object",
        }
    }
}

/// A Terraform value. Unknown and null may stand where any type is expected.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    /// Not known until apply (any msgpack extension on the wire).
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Elements in no particular order; equality ignores order.
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    Object(BTreeMap<String, Value>),
    /// A value decoded where the schema said `dynamic`: it keeps its concrete type.
    Dynamic(Type, Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Self {
        Value::String(s.into())
    }

    /// An object from `(attribute, value)` pairs.
    pub fn object<K: Into<String>>(attributes: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Object(attributes.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Self {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// What kind of value this is, for error messages that must not show the value itself.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Tuple(_) => "tuple",
            Value::Object(_) => "object",
            Value::Dynamic(_, inner) => inner.kind(),
        }
    }

    /// The type this value most plausibly has, for writing it where the schema says `dynamic`.
    /// Null and unknown give `dynamic`; a collection takes its element type from its first
    /// element that has a concrete type.
    pub fn infer_type(&self) -> Type {
        fn element_type<'a>(mut items: impl Iterator<Item = &'a Value>) -> Box<Type> {
            let concrete = items.find_map(|item| match item.infer_type() {
                Type::Dynamic => None,
                ty => Some(ty),
            });
            Box::new(concrete.unwrap_or(Type::Dynamic))
        }
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(items) => Type::List(element_type(items.iter())),
            Value::Set(items) => Type::Set(element_type(items.iter())),
            Value::Map(entries) => Type::Map(element_type(entries.values())),
            Value::Tuple(items) => Type::Tuple(items.iter().map(Value::infer_type).collect()),
            Value::Object(entries) => Type::Object(
                entries
                    .iter()
                    .map(|(name, value)| (name.clone(), value.infer_type()))
                    .collect(),
            ),
            Value::Dynamic(ty, _) => ty.clone(),
        }
    }

    /// The value one step down: an object attribute, a map key, or a list, tuple or set index.
    fn step(&self, step: &PathStep) -> Option<&Value> {
        match (self, step) {
            (Value::Dynamic(_, inner), _) => inner.step(step),
            (Value::Object(entries), PathStep::Attribute(name))
            | (Value::Map(entries), PathStep::Key(name)) => entries.get(name),
            (Value::List(items) | Value::Tuple(items) | Value::Set(items), PathStep::Index(i)) => {
                usize::try_from(*i).ok().and_then(|i| items.get(i))
            }
            _ => None,
        }
    }

    fn step_mut(&mut self, step: &PathStep) -> Option<&mut Value> {
        match (self, step) {
            (Value::Dynamic(_, inner), _) => inner.step_mut(step),
            (Value::Object(entries), PathStep::Attribute(name))
            | (Value::Map(entries), PathStep::Key(name)) => entries.get_mut(name),
            (Value::List(items) | Value::Tuple(items) | Value::Set(items), PathStep::Index(i)) => {
                usize::try_from(*i).ok().and_then(|i| items.get_mut(i))
            }
            _ => None,
        }
    }

    /// The value at `path`, if every step exists (the empty path is the value itself).
    pub fn get_path(&self, path: &AttributePath) -> Option<&Value> {
        path.0.iter().try_fold(self, |value, step| value.step(step))
    }

    pub fn get_path_mut(&mut self, path: &AttributePath) -> Option<&mut Value> {
        path.0
            .iter()
            .try_fold(self, |value, step| value.step_mut(step))
    }

    /// Replaces the value at `path`. A missing last attribute or map key is inserted; returns
    /// false (changing nothing) when the path does not lead into this value.
    pub fn set_path(&mut self, path: &AttributePath, new: Value) -> bool {
        let Some((last, parent_path)) = path.0.split_last() else {
            *self = new;
            return true;
        };
        let parent = parent_path
            .iter()
            .try_fold(self, |value, step| value.step_mut(step));
        let Some(parent) = parent else {
            return false;
        };
        if let Some(slot) = parent.step_mut(last) {
            *slot = new;
            return true;
        }
        let entries = match (parent, last) {
            (Value::Object(entries), PathStep::Attribute(name))
            | (Value::Map(entries), PathStep::Key(name)) => Some((entries, name)),
            (Value::Dynamic(_, inner), _) => match (inner.as_mut(), last) {
                (Value::Object(entries), PathStep::Attribute(name))
                | (Value::Map(entries), PathStep::Key(name)) => Some((entries, name)),
                _ => None,
            },
            _ => None,
        };
        match entries {
            Some((entries, name)) => {
                entries.insert(name.clone(), new);
                true
            }
            None => false,
        }
    }

    /// True when the value at `path` is unknown or contains an unknown, or when the walk to it
    /// meets an unknown (everything below an unknown is unknown too).
    pub fn contains_unknown_at(&self, path: &AttributePath) -> bool {
        let mut value = self;
        for step in &path.0 {
            if value.is_unknown() {
                return true;
            }
            match value.step(step) {
                Some(next) => value = next,
                None => return false,
            }
        }
        !value.is_wholly_known()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().all(Value::is_wholly_known)
            }
            Value::Map(entries) | Value::Object(entries) => {
                entries.values().all(Value::is_wholly_known)
            }
            Value::Dynamic(_, inner) => inner.is_wholly_known(),
            _ => true,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Dynamic(_, inner) => inner.as_str(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Dynamic(_, inner) => inner.as_bool(),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            Value::Dynamic(_, inner) => inner.as_number(),
            _ => None,
        }
    }

    /// Entries of an object or a map.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(entries) | Value::Map(entries) => Some(entries),
            Value::Dynamic(_, inner) => inner.as_entries(),
            _ => None,
        }
    }

    pub fn as_entries_mut(&mut self) -> Option<&mut BTreeMap<String, Value>> {
        match self {
            Value::Object(entries) | Value::Map(entries) => Some(entries),
            Value::Dynamic(_, inner) => inner.as_entries_mut(),
            _ => None,
        }
    }

    /// Elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => Some(items),
            Value::Dynamic(_, inner) => inner.as_elements(),
            _ => None,
        }
    }

    /// The attribute `name` of an object (or entry of a map); null when absent or not an object.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.as_entries()
            .and_then(|entries| entries.get(name))
            .unwrap_or(&NULL)
    }

    /// Sets attribute `name` of an object or map; does nothing on other values.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Some(entries) = self.as_entries_mut() {
            entries.insert(name.to_owned(), value);
        }
    }
}

/// Semantic equality: sets compare without order, numbers by value, dynamic by inner value.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Dynamic(_, a), b) => a.as_ref() == b,
            (a, Value::Dynamic(_, b)) => a == b.as_ref(),
            (Value::Null, Value::Null) | (Value::Unknown, Value::Unknown) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.contains(x))
                    && b.iter().all(|y| a.contains(y))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(Number::from(n))
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        Value::object([
            ("name", Value::string("g")),
            (
                "secrets",
                Value::map([
                    ("A", Value::object([("value", Value::Unknown)])),
                    ("B", Value::object([("value", Value::string("b"))])),
                ]),
            ),
            (
                "tags",
                Value::List(vec![Value::string("x"), Value::string("y")]),
            ),
        ])
    }

    #[test]
    fn paths_walk_attributes_keys_and_indexes() {
        let value = sample();
        let b = AttributePath::root("secrets").key("B").attr("value");
        assert_eq!(value.get_path(&b), Some(&Value::string("b")));
        let tag = AttributePath::root("tags").index(1);
        assert_eq!(value.get_path(&tag), Some(&Value::string("y")));
        assert_eq!(value.get_path(&AttributePath::root("tags").index(2)), None);
        assert_eq!(
            value.get_path(&AttributePath::root("secrets").attr("B")),
            None
        );
        assert_eq!(value.get_path(&AttributePath::default()), Some(&value));
    }

    #[test]
    fn set_path_replaces_or_inserts_the_last_step_only() {
        let mut value = sample();
        let c = AttributePath::root("secrets").key("C");
        assert!(value.set_path(&c, Value::object([("value", Value::Null)])));
        assert!(value.get_path(&c.clone().attr("value")).unwrap().is_null());
        assert!(value.set_path(&AttributePath::root("tags").index(0), Value::string("z")));
        assert_eq!(
            value.get("tags").as_elements().unwrap()[0],
            Value::string("z")
        );
        let before = value.clone();
        assert!(!value.set_path(&AttributePath::root("missing").attr("x"), Value::Null));
        assert!(!value.set_path(&AttributePath::root("tags").index(9), Value::Null));
        assert_eq!(value, before);
    }

    #[test]
    fn unknowns_are_found_along_and_below_a_path() {
        let value = sample();
        assert!(value.contains_unknown_at(&AttributePath::root("secrets")));
        assert!(value.contains_unknown_at(&AttributePath::root("secrets").key("A")));
        assert!(!value.contains_unknown_at(&AttributePath::root("secrets").key("B")));
        assert!(!value.contains_unknown_at(&AttributePath::root("name")));
        let unknown_map = Value::object([("secrets", Value::Unknown)]);
        let below = AttributePath::root("secrets").key("A").attr("value");
        assert!(unknown_map.contains_unknown_at(&below));
    }

    #[test]
    fn inferred_types_follow_the_value() {
        let value = Value::object([
            ("a", Value::List(vec![Value::Null, Value::from(1)])),
            ("b", Value::Map(BTreeMap::new())),
        ]);
        assert_eq!(
            value.infer_type(),
            Type::Object(BTreeMap::from([
                ("a".into(), Type::List(Box::new(Type::Number))),
                ("b".into(), Type::Map(Box::new(Type::Dynamic))),
            ]))
        );
    }
}
