//! msgpack and JSON codecs for [`Value`], driven by the schema [`Type`].
//!
//! Follows Terraform's object wire format: null is nil, any extension is unknown, objects carry
//! exactly their type's attributes (keys sorted when written), numbers are ints, floats or
//! decimal strings, and `dynamic` values travel as `[type JSON, value]`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Cursor;

use rmpv::Value as Msgpack;

use super::{Number, Type, Value, json};
use crate::diag::{AttributePath, PathStep};

/// Values nest no deeper than this; deeper input is refused so hostile bytes cannot exhaust the
/// stack. Real schemas nest a handful of levels.
pub(super) const MAX_DEPTH: usize = 64;

/// Why a dynamic value's type was refused is left out: misread bytes could put a secret string
/// where the type belongs, and the parser's message would quote it.
pub(super) const INVALID_DYNAMIC_TYPE: &str = "invalid type in a dynamic value";

/// The extension Terraform writes for a plain unknown: fixext1, type 0, body 0 (`d4 00 00`).
const UNKNOWN_EXT_TYPE: i8 = 0;

/// A value on the wire did not match its type. The message names the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    pub path: AttributePath,
    pub message: String,
}

/// A value could not be written with the given type (a provider bug, reported as a diagnostic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EncodeError {
    pub path: AttributePath,
    pub message: String,
}

fn write_located(f: &mut fmt::Formatter<'_>, message: &str, path: &AttributePath) -> fmt::Result {
    if path.is_empty() {
        f.write_str(message)
    } else {
        write!(f, "{message} at {path}")
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.message, &self.path)
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.message, &self.path)
    }
}

/// The attribute path being walked, shared by the msgpack and JSON codecs.
#[derive(Default)]
pub(super) struct Walk {
    path: AttributePath,
}

impl Walk {
    /// Runs `f` one step deeper, refusing to go past [`MAX_DEPTH`].
    pub(super) fn nested<T, E: From<(AttributePath, String)>>(
        &mut self,
        step: PathStep,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E> {
        self.path.0.push(step);
        let result = if self.path.0.len() > MAX_DEPTH {
            Err(self.error("value nests too deeply"))
        } else {
            f(self)
        };
        self.path.0.pop();
        result
    }

    /// The error converts into a decode or encode error with `?`.
    pub(super) fn check_tuple_length(
        &self,
        want: usize,
        got: usize,
    ) -> Result<(), (AttributePath, String)> {
        if want == got {
            Ok(())
        } else {
            Err(self.error(format!("expected a tuple of {want} elements, got {got}")))
        }
    }

    pub(super) fn error<E: From<(AttributePath, String)>>(&self, message: impl Into<String>) -> E {
        E::from((self.path.clone(), message.into()))
    }
}

impl From<(AttributePath, String)> for DecodeError {
    fn from((path, message): (AttributePath, String)) -> Self {
        DecodeError { path, message }
    }
}

impl From<(AttributePath, String)> for EncodeError {
    fn from((path, message): (AttributePath, String)) -> Self {
        EncodeError { path, message }
    }
}

/// Decodes a msgpack DynamicValue. Empty bytes are a null (Terraform sends them for absent
/// objects).
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut reader = Cursor::new(bytes);
    // rmpv counts about two levels per container and one more for strings; leave room so our own
    // depth check (which names the path) is the one that fires.
    let raw = rmpv::decode::read_value_with_max_depth(&mut reader, 2 * MAX_DEPTH + 8).map_err(
        |error| {
            let message = match error {
                rmpv::decode::Error::DepthLimitExceeded => "value nests too deeply",
                _ => "truncated or malformed msgpack",
            };
            DecodeError {
                path: AttributePath::default(),
                message: message.into(),
            }
        },
    )?;
    if reader.position() != bytes.len() as u64 {
        return Err(DecodeError {
            path: AttributePath::default(),
            message: "unexpected bytes after the msgpack value".into(),
        });
    }
    Walk::default().decode_msgpack(raw, ty)
}

/// Encodes a value as a msgpack DynamicValue. Unknown is `d4 00 00`; an object attribute missing
/// from the value is written as null, an attribute the type lacks is an error.
pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let raw = Walk::default().encode_msgpack(value, ty)?;
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &raw).map_err(|_| EncodeError {
        path: AttributePath::default(),
        message: "could not write msgpack".into(),
    })?;
    Ok(bytes)
}

/// Decodes a JSON DynamicValue (stored state). Missing object attributes are null; attributes
/// the type lacks are an error. Empty bytes are a null.
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    json::decode(bytes, ty)
}

/// Encodes a value as JSON. JSON cannot hold unknowns, so they are an error.
pub fn encode_json(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    json::encode(value, ty)
}

fn msgpack_kind(raw: &Msgpack) -> &'static str {
    match raw {
        Msgpack::Nil => "null",
        Msgpack::Boolean(_) => "bool",
        Msgpack::Integer(_) => "integer",
        Msgpack::F32(_) | Msgpack::F64(_) => "float",
        Msgpack::String(_) => "string",
        Msgpack::Binary(_) => "binary",
        Msgpack::Array(_) => "array",
        Msgpack::Map(_) => "map",
        Msgpack::Ext(..) => "extension",
    }
}

impl Walk {
    fn mismatch(&self, ty: &Type, raw: &Msgpack) -> DecodeError {
        let (want, got) = (ty.kind(), msgpack_kind(raw));
        self.error(format!("expected {want}, got msgpack {got}"))
    }

    fn decode_msgpack(&mut self, raw: Msgpack, ty: &Type) -> Result<Value, DecodeError> {
        match raw {
            // Terraform treats every extension as unknown; type 12 adds refinements we ignore.
            Msgpack::Ext(..) => return Ok(Value::Unknown),
            Msgpack::Nil => return Ok(Value::Null),
            _ => {}
        }
        match ty {
            Type::Bool => match raw {
                Msgpack::Boolean(b) => Ok(Value::Bool(b)),
                other => Err(self.mismatch(ty, &other)),
            },
            Type::Number => self.decode_msgpack_number(raw).map(Value::Number),
            Type::String => match raw {
                Msgpack::String(s) => match s.into_str() {
                    Some(s) => Ok(Value::String(s)),
                    None => Err(self.error("string is not valid UTF-8")),
                },
                other => Err(self.mismatch(ty, &other)),
            },
            Type::List(element) => self
                .decode_msgpack_elements(raw, ty, element)
                .map(Value::List),
            Type::Set(element) => self
                .decode_msgpack_elements(raw, ty, element)
                .map(Value::Set),
            Type::Tuple(elements) => {
                let Msgpack::Array(items) = raw else {
                    return Err(self.mismatch(ty, &raw));
                };
                self.check_tuple_length(elements.len(), items.len())?;
                let mut decoded = Vec::with_capacity(items.len());
                for (index, (item, element)) in items.into_iter().zip(elements).enumerate() {
                    let step = PathStep::Index(index as i64);
                    decoded.push(self.nested(step, |walk| walk.decode_msgpack(item, element))?);
                }
                Ok(Value::Tuple(decoded))
            }
            Type::Map(element) => {
                let entries = self.decode_msgpack_entries(raw, ty)?;
                let mut decoded = BTreeMap::new();
                for (key, item) in entries {
                    let step = PathStep::Key(key.clone());
                    let value = self.nested(step, |walk| walk.decode_msgpack(item, element))?;
                    decoded.insert(key, value);
                }
                Ok(Value::Map(decoded))
            }
            Type::Object(attributes) => {
                let entries = self.decode_msgpack_entries(raw, ty)?;
                let mut decoded = BTreeMap::new();
                for (name, item) in entries {
                    let step = PathStep::Attribute(name.clone());
                    let value = self.nested(step, |walk| match attributes.get(&name) {
                        Some(attribute) => walk.decode_msgpack(item, attribute),
                        None => Err(walk.error("unexpected attribute")),
                    })?;
                    decoded.insert(name, value);
                }
                if let Some(missing) = attributes.keys().find(|name| !decoded.contains_key(*name)) {
                    let step = PathStep::Attribute(missing.clone());
                    return self.nested(step, |walk| Err(walk.error("missing attribute")));
                }
                Ok(Value::Object(decoded))
            }
            Type::Dynamic => {
                let Msgpack::Array(mut parts) = raw else {
                    return Err(self.error(format!(
                        "expected a [type, value] pair for a dynamic value, got msgpack {}",
                        msgpack_kind(&raw)
                    )));
                };
                if parts.len() != 2 {
                    return Err(self.error("a dynamic value must be a [type, value] pair"));
                }
                let raw_value = parts.pop().unwrap_or(Msgpack::Nil);
                let type_json = match parts.pop() {
                    Some(Msgpack::Binary(bytes)) => bytes,
                    Some(Msgpack::String(s)) => s.into_bytes(),
                    _ => return Err(self.error("a dynamic value's type must be JSON bytes")),
                };
                let concrete = serde_json::from_slice(&type_json)
                    .ok()
                    .and_then(|json| Type::from_json(&json).ok())
                    .ok_or_else(|| self.error::<DecodeError>(INVALID_DYNAMIC_TYPE))?;
                let inner = self.decode_msgpack(raw_value, &concrete)?;
                Ok(Value::Dynamic(concrete, Box::new(inner)))
            }
        }
    }

    fn decode_msgpack_number(&self, raw: Msgpack) -> Result<Number, DecodeError> {
        match raw {
            Msgpack::Integer(i) => match (i.as_i64(), i.as_u64()) {
                (Some(i), _) => Ok(Number::Int(i)),
                (None, Some(u)) => Ok(Number::from(u)),
                (None, None) => Err(self.error("integer out of range")),
            },
            Msgpack::F32(f) => self.finite_float(f.into()),
            Msgpack::F64(f) => self.finite_float(f),
            Msgpack::String(s) => match s.as_str() {
                Some(text) => Number::parse(text).map_err(|problem| self.error(problem)),
                None => Err(self.error("number string is not valid UTF-8")),
            },
            other => Err(self.mismatch(&Type::Number, &other)),
        }
    }

    fn finite_float(&self, f: f64) -> Result<Number, DecodeError> {
        Number::from_f64(f).ok_or_else(|| self.error("number is NaN"))
    }

    fn decode_msgpack_elements(
        &mut self,
        raw: Msgpack,
        ty: &Type,
        element: &Type,
    ) -> Result<Vec<Value>, DecodeError> {
        let Msgpack::Array(items) = raw else {
            return Err(self.mismatch(ty, &raw));
        };
        let mut decoded = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let step = PathStep::Index(index as i64);
            decoded.push(self.nested(step, |walk| walk.decode_msgpack(item, element))?);
        }
        Ok(decoded)
    }

    /// The entries of a msgpack map, checked to have distinct string keys.
    fn decode_msgpack_entries(
        &mut self,
        raw: Msgpack,
        ty: &Type,
    ) -> Result<Vec<(String, Msgpack)>, DecodeError> {
        let Msgpack::Map(entries) = raw else {
            return Err(self.mismatch(ty, &raw));
        };
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        let mut keyed = Vec::with_capacity(entries.len());
        for (key, item) in entries {
            let key = match key {
                Msgpack::String(s) => s
                    .into_str()
                    .ok_or_else(|| self.error::<DecodeError>("key is not valid UTF-8"))?,
                other => {
                    let got = msgpack_kind(&other);
                    return Err(self.error(format!("expected a string key, got msgpack {got}")));
                }
            };
            if !seen.insert(key.clone()) {
                let step = PathStep::Key(key);
                return self.nested(step, |walk| Err(walk.error("duplicate key")));
            }
            keyed.push((key, item));
        }
        Ok(keyed)
    }

    fn encode_msgpack(&mut self, value: &Value, ty: &Type) -> Result<Msgpack, EncodeError> {
        let mismatch = |walk: &Self| -> EncodeError {
            let (want, got) = (ty.kind(), value.kind());
            walk.error(format!("expected {want}, got {got}"))
        };
        match (ty, value) {
            (_, Value::Unknown) => Ok(Msgpack::Ext(UNKNOWN_EXT_TYPE, vec![0])),
            (_, Value::Null) => Ok(Msgpack::Nil),
            (Type::Dynamic, Value::Dynamic(concrete, inner)) => {
                self.encode_msgpack_dynamic(concrete, inner)
            }
            (Type::Dynamic, _) => self.encode_msgpack_dynamic(&value.infer_type(), value),
            // A concrete schema type decides the encoding; the recorded type is only a hint.
            (_, Value::Dynamic(_, inner)) => self.encode_msgpack(inner, ty),
            (Type::Bool, Value::Bool(b)) => Ok(Msgpack::Boolean(*b)),
            (Type::Number, Value::Number(n)) => self.encode_msgpack_number(n),
            (Type::String, Value::String(s)) => Ok(Msgpack::from(s.as_str())),
            (Type::List(element), Value::List(items)) | (Type::Set(element), Value::Set(items)) => {
                let mut encoded = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let step = PathStep::Index(index as i64);
                    encoded.push(self.nested(step, |walk| walk.encode_msgpack(item, element))?);
                }
                Ok(Msgpack::Array(encoded))
            }
            (Type::Tuple(elements), Value::Tuple(items)) => {
                self.check_tuple_length(elements.len(), items.len())?;
                let mut encoded = Vec::with_capacity(items.len());
                for (index, (item, element)) in items.iter().zip(elements).enumerate() {
                    let step = PathStep::Index(index as i64);
                    encoded.push(self.nested(step, |walk| walk.encode_msgpack(item, element))?);
                }
                Ok(Msgpack::Array(encoded))
            }
            (Type::Map(element), Value::Map(entries)) => {
                let mut encoded = Vec::with_capacity(entries.len());
                for (key, item) in entries {
                    let step = PathStep::Key(key.clone());
                    let item = self.nested(step, |walk| walk.encode_msgpack(item, element))?;
                    encoded.push((Msgpack::from(key.as_str()), item));
                }
                Ok(Msgpack::Map(encoded))
            }
            (Type::Object(attributes), Value::Object(entries)) => {
                if let Some(extra) = entries.keys().find(|name| !attributes.contains_key(*name)) {
                    let step = PathStep::Attribute(extra.clone());
                    return self.nested(step, |walk| Err(walk.error("unexpected attribute")));
                }
                let mut encoded = Vec::with_capacity(attributes.len());
                for (name, attribute) in attributes {
                    let item = entries.get(name).unwrap_or(&Value::Null);
                    let step = PathStep::Attribute(name.clone());
                    let item = self.nested(step, |walk| walk.encode_msgpack(item, attribute))?;
                    encoded.push((Msgpack::from(name.as_str()), item));
                }
                Ok(Msgpack::Map(encoded))
            }
            _ => Err(mismatch(self)),
        }
    }

    fn encode_msgpack_dynamic(
        &mut self,
        concrete: &Type,
        inner: &Value,
    ) -> Result<Msgpack, EncodeError> {
        let type_json = concrete.to_json().to_string().into_bytes();
        let inner = self.encode_msgpack(inner, concrete)?;
        Ok(Msgpack::Array(vec![Msgpack::Binary(type_json), inner]))
    }

    /// Terraform's rule: an int when the value is an exact integer, a float64 when one holds it
    /// exactly, otherwise the decimal text.
    fn encode_msgpack_number(&self, number: &Number) -> Result<Msgpack, EncodeError> {
        if let Some(i) = number.as_i64() {
            return Ok(Msgpack::from(i));
        }
        if let Some(u) = number.as_u64() {
            return Ok(Msgpack::from(u));
        }
        match number {
            Number::Float(f) if f.is_nan() => Err(self.error("number is NaN")),
            Number::Decimal(text) if Number::parse(text).is_err() => {
                Err(self.error("number is not a valid decimal"))
            }
            _ => Ok(match number.exact_f64() {
                Some(f) => Msgpack::F64(f),
                None => Msgpack::from(number.canonical()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_type(attributes: &[(&str, Type)]) -> Type {
        Type::Object(
            attributes
                .iter()
                .map(|(name, ty)| (name.to_string(), ty.clone()))
                .collect(),
        )
    }

    fn round_trip(value: &Value, ty: &Type) -> Value {
        let bytes = encode_msgpack(value, ty).unwrap();
        decode_msgpack(&bytes, ty).unwrap()
    }

    #[test]
    fn unknown_and_null_have_terraforms_exact_bytes() {
        assert_eq!(
            encode_msgpack(&Value::Unknown, &Type::String).unwrap(),
            [0xd4, 0, 0]
        );
        assert_eq!(
            encode_msgpack(&Value::Null, &Type::Dynamic).unwrap(),
            [0xc0]
        );
        assert!(
            decode_msgpack(&[0xd4, 0, 0], &Type::Number)
                .unwrap()
                .is_unknown()
        );
        assert!(
            decode_msgpack(&[0xc0], &object_type(&[]))
                .unwrap()
                .is_null()
        );
        assert!(
            decode_msgpack(&[], &object_type(&[("a", Type::String)]))
                .unwrap()
                .is_null()
        );
    }

    #[test]
    fn any_extension_is_unknown_including_refined_ones() {
        // Type 12 with a map payload {1: false, 2: "pre"}: a refined, non-null unknown.
        let mut refined = vec![0xc7, 0, 12, 0x82, 0x01, 0xc2, 0x02, 0xa3, b'p', b'r', b'e'];
        refined[1] = (refined.len() - 3) as u8;
        let ty = object_type(&[("a", Type::String)]);
        assert!(decode_msgpack(&refined, &ty).unwrap().is_unknown());
        // Inside an object, and another extension type.
        let bytes = [0x81, 0xa1, b'a', 0xd5, 0x05, 0x01, 0x02];
        assert!(decode_msgpack(&bytes, &ty).unwrap().get("a").is_unknown());
    }

    #[test]
    fn objects_are_written_with_sorted_keys() {
        let ty = object_type(&[("b", Type::Bool), ("a", Type::Number), ("c", Type::String)]);
        let value = Value::object([
            ("c", Value::string("x")),
            ("b", Value::Bool(true)),
            ("a", Value::from(1)),
        ]);
        let bytes = encode_msgpack(&value, &ty).unwrap();
        assert_eq!(
            bytes,
            [
                0x83, 0xa1, b'a', 0x01, 0xa1, b'b', 0xc3, 0xa1, b'c', 0xa1, b'x'
            ]
        );
        assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), value);
    }

    #[test]
    fn object_attributes_missing_from_a_value_are_written_as_null() {
        let ty = object_type(&[("a", Type::Number), ("b", Type::String)]);
        let bytes = encode_msgpack(&Value::object([("a", Value::from(2))]), &ty).unwrap();
        assert_eq!(bytes, [0x82, 0xa1, b'a', 0x02, 0xa1, b'b', 0xc0]);
    }

    #[test]
    fn missing_or_extra_attributes_are_errors_naming_them() {
        let ty = object_type(&[("a", Type::String), ("b", Type::String)]);
        let missing = [0x81, 0xa1, b'a', 0xc0];
        let error = decode_msgpack(&missing, &ty).unwrap_err();
        assert_eq!(error.path, AttributePath::root("b"));
        assert_eq!(error.to_string(), "missing attribute at b");

        let extra = [0x83, 0xa1, b'a', 0xc0, 0xa1, b'b', 0xc0, 0xa1, b'z', 0xc0];
        let error = decode_msgpack(&extra, &ty).unwrap_err();
        assert_eq!(error.path, AttributePath::root("z"));
        assert!(error.message.contains("unexpected attribute"));

        let encode_error = encode_msgpack(&Value::object([("z", Value::Null)]), &ty).unwrap_err();
        assert_eq!(encode_error.path, AttributePath::root("z"));
    }

    #[test]
    fn nested_errors_carry_the_full_path_and_not_the_value() {
        let ty = object_type(&[(
            "secrets",
            Type::Map(Box::new(object_type(&[("value", Type::String)]))),
        )]);
        // {"secrets": {"DB": {"value": 42}}}: a number where the secret string belongs.
        let bytes = [
            0x81, 0xa7, b's', b'e', b'c', b'r', b'e', b't', b's', 0x81, 0xa2, b'D', b'B', 0x81,
            0xa5, b'v', b'a', b'l', b'u', b'e', 0x2a,
        ];
        let error = decode_msgpack(&bytes, &ty).unwrap_err();
        assert_eq!(
            error.path,
            AttributePath::root("secrets").key("DB").attr("value")
        );
        assert_eq!(
            error.to_string(),
            "expected string, got msgpack integer at secrets[\"DB\"].value"
        );
        assert!(!error.to_string().contains("42"));
    }

    #[test]
    fn truncated_garbage_and_trailing_bytes_are_errors() {
        let ty = object_type(&[("a", Type::String)]);
        for bytes in [
            &[0x81, 0xa1][..],
            &[0x81, 0xa1, b'a', 0xa5, b'x'],
            &[0xd9],
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0xc6, 0xff, 0xff, 0xff, 0xff, 0x00],
            &[0xc0, 0xc0],
        ] {
            assert!(decode_msgpack(bytes, &ty).is_err(), "{bytes:02x?}");
        }
    }

    #[test]
    fn invalid_utf8_and_duplicate_keys_are_errors() {
        assert!(decode_msgpack(&[0xa2, 0xff, 0xfe], &Type::String).is_err());
        let ty = Type::Map(Box::new(Type::Bool));
        let error = decode_msgpack(&[0x82, 0xa1, b'k', 0xc3, 0xa1, b'k', 0xc2], &ty).unwrap_err();
        assert_eq!(error.path, AttributePath(vec![PathStep::Key("k".into())]));
        assert!(decode_msgpack(&[0x81, 0x01, 0xc3], &ty).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let nested_lists = |levels: usize| {
            let ty = (0..levels).fold(Type::String, |ty, _| Type::List(Box::new(ty)));
            let mut bytes = vec![0x91; levels];
            bytes.push(0xa0);
            decode_msgpack(&bytes, &ty)
        };
        assert!(nested_lists(MAX_DEPTH).is_ok());
        // Just past the limit our own check names where it stopped; far past it rmpv stops first.
        let error = nested_lists(MAX_DEPTH + 1).unwrap_err();
        assert_eq!(error.path.0.len(), MAX_DEPTH + 1);
        let error = nested_lists(1000).unwrap_err();
        assert!(error.message.contains("nests too deeply"), "{error}");
        // Deep input against a shallow dynamic type is refused too.
        let nested_dynamic = [0x92, 0xc4, 0x09].iter().chain(b"\"dynamic\"").copied();
        let bytes: Vec<u8> = nested_dynamic.clone().cycle().take(12 * 300).collect();
        assert!(decode_msgpack(&bytes, &Type::Dynamic).is_err());
    }

    #[test]
    fn numbers_follow_terraforms_encoding_rule() {
        let encode = |n: Number| encode_msgpack(&Value::Number(n), &Type::Number).unwrap();
        assert_eq!(encode(Number::Int(5)), [0x05]);
        assert_eq!(encode(Number::Float(-2.0)), [0xfe]);
        assert_eq!(
            encode(Number::from(u64::MAX)),
            [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let mut half = vec![0xcb];
        half.extend(0.5f64.to_be_bytes());
        assert_eq!(encode(Number::Decimal("0.5".into())), half);
        let mut tenth = vec![0xa3];
        tenth.extend(b"0.1");
        assert_eq!(encode(Number::Decimal("1e-1".into())), tenth);
        let big = "123456789012345678901234567890";
        let decoded = decode_msgpack(&encode(Number::Decimal(big.into())), &Type::Number).unwrap();
        assert_eq!(decoded.as_number().unwrap().to_string(), big);
    }

    #[test]
    fn numbers_of_every_msgpack_width_decode() {
        let cases: [(&[u8], &str); 8] = [
            (&[0x7f], "127"),
            (&[0xe0], "-32"),
            (&[0xcc, 0xff], "255"),
            (&[0xd1, 0x80, 0x00], "-32768"),
            (&[0xce, 0xff, 0xff, 0xff, 0xff], "4294967295"),
            (
                &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                "18446744073709551615",
            ),
            (&[0xca, 0x3f, 0xc0, 0x00, 0x00], "1.5"),
            (&[0xa4, b'1', b'e', b'2', b'0'], "100000000000000000000"),
        ];
        for (bytes, want) in cases {
            let value = decode_msgpack(bytes, &Type::Number).unwrap();
            assert_eq!(value.as_number().unwrap().to_string(), want, "{bytes:02x?}");
        }
        assert!(decode_msgpack(&[0xa3, b'a', b'b', b'c'], &Type::Number).is_err());
        let mut nan = vec![0xcb];
        nan.extend(f64::NAN.to_be_bytes());
        assert!(decode_msgpack(&nan, &Type::Number).is_err());
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let value = Value::Dynamic(
            Type::List(Box::new(Type::String)),
            Box::new(Value::List(vec![Value::string("a")])),
        );
        let bytes = encode_msgpack(&value, &Type::Dynamic).unwrap();
        let mut want = vec![0x92, 0xc4, 17];
        want.extend(br#"["list","string"]"#);
        want.extend([0x91, 0xa1, b'a']);
        assert_eq!(bytes, want);
        let decoded = decode_msgpack(&bytes, &Type::Dynamic).unwrap();
        assert!(matches!(&decoded, Value::Dynamic(Type::List(_), _)));
        assert_eq!(decoded, value);
        // The type may also arrive as a msgpack string.
        let as_str = [0x92, 0xa8]
            .iter()
            .chain(b"\"string\"")
            .chain(&[0xa1, b'x']);
        let decoded = decode_msgpack(&as_str.copied().collect::<Vec<_>>(), &Type::Dynamic);
        assert_eq!(decoded.unwrap().as_str(), Some("x"));
        // A refused type is not quoted: these bytes might have been a secret.
        let misplaced = [0x92, 0xa7].iter().chain(b"hunter2").chain(&[0xc0]);
        let error = decode_msgpack(&misplaced.copied().collect::<Vec<_>>(), &Type::Dynamic);
        assert_eq!(error.unwrap_err().message, INVALID_DYNAMIC_TYPE);
        // A plain value under a dynamic type is written with its inferred type.
        assert_eq!(
            round_trip(&Value::from(true), &Type::Dynamic),
            Value::from(true)
        );
    }

    #[test]
    fn tuples_must_have_their_exact_length() {
        let ty = Type::Tuple(vec![Type::Bool, Type::String]);
        let error = decode_msgpack(&[0x91, 0xc3], &ty).unwrap_err();
        assert_eq!(error.message, "expected a tuple of 2 elements, got 1");
        let value = decode_msgpack(&[0x92, 0xc3, 0xa1, b's'], &ty).unwrap();
        assert_eq!(
            value,
            Value::Tuple(vec![Value::from(true), Value::string("s")])
        );
    }

    #[test]
    fn type_mismatches_on_encode_are_errors() {
        let ty = Type::List(Box::new(Type::Number));
        let error = encode_msgpack(&Value::List(vec![Value::string("x")]), &ty).unwrap_err();
        assert_eq!(error.path, AttributePath(vec![PathStep::Index(0)]));
        assert_eq!(error.message, "expected number, got string");
        assert!(encode_msgpack(&Value::Set(vec![]), &ty).is_err());
        let tuple = Type::Tuple(vec![Type::Bool]);
        assert!(encode_msgpack(&Value::Tuple(vec![]), &tuple).is_err());
    }
}
