//! Terraform (cty) values and types, and their wire encodings.
//!
//! Terraform sends every value as a `DynamicValue` (msgpack, or JSON for stored state) whose
//! meaning depends on the schema type. This module decodes those bytes into [`Value`] using the
//! [`Type`] from the schema, and encodes them back; it knows nothing of any particular resource.
//!
//! Error messages produced here name the attribute path and the kind of problem, never the value.

mod codec;
mod number;

use std::collections::BTreeMap;

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
