//! The JSON form of values (stored state, `raw_state.json`).
//!
//! Parsed by hand rather than through `serde_json::Value`, which would round big integers and
//! long decimals through f64: numbers keep their literal text here.

use std::collections::BTreeMap;

use super::codec::{DecodeError, EncodeError, INVALID_DYNAMIC_TYPE, MAX_DEPTH, Walk};
use super::{Number, Type, Value};
use crate::diag::{AttributePath, PathStep};

/// A parsed JSON document; numbers are kept as their literal text.
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in document order (duplicates are caught when decoding).
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// For the `type` member of a dynamic value, which [`Type::from_json`] reads. Types contain
    /// no numbers, so a number becomes null (and is then refused as a type).
    fn into_serde(self) -> serde_json::Value {
        match self {
            Json::Null | Json::Number(_) => serde_json::Value::Null,
            Json::Bool(b) => b.into(),
            Json::String(s) => s.into(),
            Json::Array(items) => items.into_iter().map(Json::into_serde).collect(),
            Json::Object(members) => serde_json::Value::Object(
                members
                    .into_iter()
                    .map(|(key, value)| (key, value.into_serde()))
                    .collect(),
            ),
        }
    }
}

pub(super) fn decode(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let syntax_error = |message: &str| DecodeError {
        path: AttributePath::default(),
        message: message.into(),
    };
    let text = std::str::from_utf8(bytes).map_err(|_| syntax_error("JSON is not valid UTF-8"))?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let json = Parser::new(text).document().map_err(syntax_error)?;
    Walk::default().decode_json(json, ty)
}

pub(super) fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut out = String::new();
    Walk::default().encode_json(value, ty, &mut out)?;
    Ok(out.into_bytes())
}

/// A recursive-descent JSON parser (RFC 8259) over validated UTF-8, refusing deep nesting.
struct Parser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

// Error messages name the problem, never the surrounding text (it may be a secret).
const MALFORMED: &str = "malformed JSON";

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            at: 0,
            depth: 0,
        }
    }

    fn document(mut self) -> Result<Json, &'static str> {
        let json = self.value()?;
        self.skip_whitespace();
        if self.at != self.text.len() {
            return Err("unexpected text after the JSON value");
        }
        Ok(json)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), &'static str> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(MALFORMED)
        }
    }

    fn keyword(&mut self, word: &str, json: Json) -> Result<Json, &'static str> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(json)
        } else {
            Err(MALFORMED)
        }
    }

    fn value(&mut self) -> Result<Json, &'static str> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'n') => self.keyword("null", Json::Null),
            Some(b't') => self.keyword("true", Json::Bool(true)),
            Some(b'f') => self.keyword("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[' | b'{') => {
                // Leave room above the value depth so the decoder's error (with a path) fires.
                self.depth += 1;
                if self.depth > MAX_DEPTH + 8 {
                    return Err("JSON nests too deeply");
                }
                let json = if self.peek() == Some(b'[') {
                    self.array()
                } else {
                    self.object()
                };
                self.depth -= 1;
                json
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Number),
            _ => Err(MALFORMED),
        }
    }

    fn array(&mut self) -> Result<Json, &'static str> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(MALFORMED),
            }
        }
    }

    fn object(&mut self) -> Result<Json, &'static str> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(MALFORMED);
            }
            let key = self.string()?;
            self.expect(b':')?;
            members.push((key, self.value()?));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(MALFORMED),
            }
        }
    }

    /// A number literal, checked against JSON's grammar and returned as written.
    fn number(&mut self) -> Result<String, &'static str> {
        let start = self.at;
        let digits = |parser: &mut Self| {
            let from = parser.at;
            while matches!(parser.peek(), Some(b'0'..=b'9')) {
                parser.at += 1;
            }
            parser.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let whole_start = self.at;
        let whole = digits(self);
        if whole == 0 || (whole > 1 && self.text.as_bytes()[whole_start] == b'0') {
            return Err(MALFORMED);
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(MALFORMED);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(MALFORMED);
            }
        }
        Ok(self.text[start..self.at].to_owned())
    }

    fn string(&mut self) -> Result<String, &'static str> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            // Copy the run up to the next quote, backslash or control character in one go.
            let run = rest
                .find(|c: char| c == '"' || c == '\\' || c < ' ')
                .ok_or("unterminated JSON string")?;
            out.push_str(&rest[..run]);
            self.at += run;
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    out.push(self.escape()?);
                }
                _ => return Err("control character in JSON string"),
            }
        }
    }

    fn escape(&mut self) -> Result<char, &'static str> {
        let byte = self.peek().ok_or(MALFORMED)?;
        self.at += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = match first {
                    0xd800..=0xdbff => {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if !self.text[self.at..].starts_with("\\u") {
                            return Err("unpaired surrogate in JSON string");
                        }
                        self.at += 2;
                        let second = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&second) {
                            return Err("unpaired surrogate in JSON string");
                        }
                        0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                    }
                    0xdc00..=0xdfff => return Err("unpaired surrogate in JSON string"),
                    _ => first,
                };
                char::from_u32(code).ok_or(MALFORMED)?
            }
            _ => return Err("invalid escape in JSON string"),
        })
    }

    fn hex4(&mut self) -> Result<u32, &'static str> {
        let hex = self.text.get(self.at..self.at + 4).ok_or(MALFORMED)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MALFORMED);
        }
        self.at += 4;
        u32::from_str_radix(hex, 16).map_err(|_| MALFORMED)
    }
}

impl Walk {
    fn json_mismatch(&self, ty: &Type, json: &Json) -> DecodeError {
        let (want, got) = (ty.kind(), json.kind());
        self.error(format!("expected {want}, got JSON {got}"))
    }

    /// Like Terraform's JSON decoder, primitives are converted leniently (a number may arrive as
    /// a string and the other way round), since old states were written by other versions.
    fn decode_json(&mut self, json: Json, ty: &Type) -> Result<Value, DecodeError> {
        if json == Json::Null {
            return Ok(Value::Null);
        }
        match ty {
            Type::Bool => match json {
                Json::Bool(b) => Ok(Value::Bool(b)),
                Json::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
                other => Err(self.json_mismatch(ty, &other)),
            },
            Type::Number => match json {
                Json::Number(text) | Json::String(text) => Number::parse(&text)
                    .map(Value::Number)
                    .map_err(|problem| self.error(problem)),
                other => Err(self.json_mismatch(ty, &other)),
            },
            Type::String => match json {
                Json::String(s) | Json::Number(s) => Ok(Value::String(s)),
                Json::Bool(b) => Ok(Value::String(b.to_string())),
                other => Err(self.json_mismatch(ty, &other)),
            },
            Type::List(element) => self
                .decode_json_elements(json, ty, element)
                .map(Value::List),
            Type::Set(element) => self.decode_json_elements(json, ty, element).map(Value::Set),
            Type::Tuple(elements) => {
                let Json::Array(items) = json else {
                    return Err(self.json_mismatch(ty, &json));
                };
                self.check_tuple_length(elements.len(), items.len())?;
                let mut decoded = Vec::with_capacity(items.len());
                for (index, (item, element)) in items.into_iter().zip(elements).enumerate() {
                    let step = PathStep::Index(index as i64);
                    decoded.push(self.nested(step, |walk| walk.decode_json(item, element))?);
                }
                Ok(Value::Tuple(decoded))
            }
            Type::Map(element) => {
                let mut decoded = BTreeMap::new();
                for (key, item) in self.json_members(json, ty)? {
                    let step = PathStep::Key(key.clone());
                    let value = self.nested(step, |walk| walk.decode_json(item, element))?;
                    decoded.insert(key, value);
                }
                Ok(Value::Map(decoded))
            }
            Type::Object(attributes) => {
                let mut decoded = BTreeMap::new();
                for (name, item) in self.json_members(json, ty)? {
                    let step = PathStep::Attribute(name.clone());
                    let value = self.nested(step, |walk| match attributes.get(&name) {
                        Some(attribute) => walk.decode_json(item, attribute),
                        None => Err(walk.error("unexpected attribute")),
                    })?;
                    decoded.insert(name, value);
                }
                // Stored state from an older schema may lack attributes added since: null.
                for name in attributes.keys() {
                    decoded.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(decoded))
            }
            Type::Dynamic => {
                let mut concrete = None;
                let mut inner = None;
                for (key, item) in self.json_members(json, ty)? {
                    match key.as_str() {
                        "type" => concrete = Some(item),
                        "value" => inner = Some(item),
                        _ => {
                            let step = PathStep::Key(key);
                            return self.nested(step, |walk| {
                                Err(walk.error("unexpected key in a dynamic value"))
                            });
                        }
                    }
                }
                let (Some(concrete), Some(inner)) = (concrete, inner) else {
                    return Err(self.error("a dynamic value needs both \"type\" and \"value\""));
                };
                let concrete = Type::from_json(&concrete.into_serde())
                    .map_err(|_| self.error::<DecodeError>(INVALID_DYNAMIC_TYPE))?;
                let inner = self.decode_json(inner, &concrete)?;
                Ok(Value::Dynamic(concrete, Box::new(inner)))
            }
        }
    }

    fn decode_json_elements(
        &mut self,
        json: Json,
        ty: &Type,
        element: &Type,
    ) -> Result<Vec<Value>, DecodeError> {
        let Json::Array(items) = json else {
            return Err(self.json_mismatch(ty, &json));
        };
        let mut decoded = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let step = PathStep::Index(index as i64);
            decoded.push(self.nested(step, |walk| walk.decode_json(item, element))?);
        }
        Ok(decoded)
    }

    /// The members of a JSON object, checked to have distinct keys.
    fn json_members(&mut self, json: Json, ty: &Type) -> Result<Vec<(String, Json)>, DecodeError> {
        let Json::Object(members) = json else {
            return Err(self.json_mismatch(ty, &json));
        };
        let mut seen = std::collections::HashSet::with_capacity(members.len());
        for (key, _) in &members {
            if !seen.insert(key.as_str()) {
                let step = PathStep::Key(key.clone());
                return self.nested(step, |walk| Err(walk.error("duplicate key")));
            }
        }
        Ok(members)
    }

    fn encode_json(
        &mut self,
        value: &Value,
        ty: &Type,
        out: &mut String,
    ) -> Result<(), EncodeError> {
        match (ty, value) {
            (_, Value::Unknown) => Err(self.error("unknown values cannot be written as JSON")),
            (_, Value::Null) => {
                out.push_str("null");
                Ok(())
            }
            (Type::Dynamic, Value::Dynamic(concrete, inner)) => {
                self.encode_json_dynamic(concrete, inner, out)
            }
            (Type::Dynamic, _) => self.encode_json_dynamic(&value.infer_type(), value, out),
            (_, Value::Dynamic(_, inner)) => self.encode_json(inner, ty, out),
            (Type::Bool, Value::Bool(b)) => {
                out.push_str(if *b { "true" } else { "false" });
                Ok(())
            }
            (Type::Number, Value::Number(n)) => {
                let valid = match n {
                    Number::Float(f) => f.is_finite(),
                    Number::Decimal(text) => Number::parse(text).is_ok(),
                    Number::Int(_) => true,
                };
                if !valid {
                    return Err(self.error("number cannot be written as JSON"));
                }
                out.push_str(&n.canonical());
                Ok(())
            }
            (Type::String, Value::String(s)) => {
                push_json_string(out, s);
                Ok(())
            }
            (Type::List(element), Value::List(items)) | (Type::Set(element), Value::Set(items)) => {
                self.encode_json_array(items.iter().map(|item| (item, &**element)), out)
            }
            (Type::Tuple(elements), Value::Tuple(items)) => {
                self.check_tuple_length(elements.len(), items.len())?;
                self.encode_json_array(items.iter().zip(elements), out)
            }
            (Type::Map(element), Value::Map(entries)) => {
                let members = entries.iter().map(|(key, item)| {
                    (PathStep::Key(key.clone()), key.as_str(), item, &**element)
                });
                self.encode_json_object(members, out)
            }
            (Type::Object(attributes), Value::Object(entries)) => {
                if let Some(extra) = entries.keys().find(|name| !attributes.contains_key(*name)) {
                    let step = PathStep::Attribute(extra.clone());
                    return self.nested(step, |walk| Err(walk.error("unexpected attribute")));
                }
                let members = attributes.iter().map(|(name, attribute)| {
                    let item = entries.get(name).unwrap_or(&Value::Null);
                    (
                        PathStep::Attribute(name.clone()),
                        name.as_str(),
                        item,
                        attribute,
                    )
                });
                self.encode_json_object(members, out)
            }
            _ => {
                let (want, got) = (ty.kind(), value.kind());
                Err(self.error(format!("expected {want}, got {got}")))
            }
        }
    }

    fn encode_json_dynamic(
        &mut self,
        concrete: &Type,
        inner: &Value,
        out: &mut String,
    ) -> Result<(), EncodeError> {
        out.push_str("{\"value\":");
        self.encode_json(inner, concrete, out)?;
        out.push_str(",\"type\":");
        out.push_str(&concrete.to_json().to_string());
        out.push('}');
        Ok(())
    }

    fn encode_json_array<'v>(
        &mut self,
        items: impl Iterator<Item = (&'v Value, &'v Type)>,
        out: &mut String,
    ) -> Result<(), EncodeError> {
        out.push('[');
        for (index, (item, element)) in items.enumerate() {
            if index > 0 {
                out.push(',');
            }
            let step = PathStep::Index(index as i64);
            self.nested(step, |walk| walk.encode_json(item, element, out))?;
        }
        out.push(']');
        Ok(())
    }

    fn encode_json_object<'v>(
        &mut self,
        members: impl Iterator<Item = (PathStep, &'v str, &'v Value, &'v Type)>,
        out: &mut String,
    ) -> Result<(), EncodeError> {
        out.push('{');
        for (index, (step, key, item, ty)) in members.enumerate() {
            if index > 0 {
                out.push(',');
            }
            push_json_string(out, key);
            out.push(':');
            self.nested(step, |walk| walk.encode_json(item, ty, out))?;
        }
        out.push('}');
        Ok(())
    }
}

fn push_json_string(out: &mut String, s: &str) {
    // Writing a str to a String cannot fail; serde_json does the escaping.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{decode_json, encode_json};

    fn parse(text: &str) -> Result<Json, &'static str> {
        Parser::new(text).document()
    }

    #[test]
    fn parser_reads_every_json_form() {
        assert_eq!(
            parse(r#" {"a": [1, -2.5e+3, true, false, null], "b\u00e9\ud83d\ude00": "x\n\"y\""} "#),
            Ok(Json::Object(vec![
                (
                    "a".into(),
                    Json::Array(vec![
                        Json::Number("1".into()),
                        Json::Number("-2.5e+3".into()),
                        Json::Bool(true),
                        Json::Bool(false),
                        Json::Null,
                    ])
                ),
                ("bé😀".into(), Json::String("x\n\"y\"".into())),
            ]))
        );
    }

    #[test]
    fn parser_refuses_malformed_json() {
        for text in [
            "{",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "+1",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\u12\"",
            "\"a\u{1}\"",
            "[1] 2",
            "{1:2}",
            "NaN",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert!(parse(&"[".repeat(10_000)).is_err());
    }

    fn object_type(attributes: &[(&str, Type)]) -> Type {
        Type::Object(
            attributes
                .iter()
                .map(|(name, ty)| (name.to_string(), ty.clone()))
                .collect(),
        )
    }

    #[test]
    fn big_numbers_keep_every_digit() {
        let text = br#"[123456789012345678901234567890, 0.1000000000000000000000000001, -7]"#;
        let ty = Type::List(Box::new(Type::Number));
        let value = decode_json(text, &ty).unwrap();
        let rendered: Vec<String> = value
            .as_elements()
            .unwrap()
            .iter()
            .map(|n| n.as_number().unwrap().to_string())
            .collect();
        assert_eq!(
            rendered,
            [
                "123456789012345678901234567890",
                "0.1000000000000000000000000001",
                "-7"
            ]
        );
        assert_eq!(
            encode_json(&value, &ty).unwrap(),
            b"[123456789012345678901234567890,0.1000000000000000000000000001,-7]"
        );
    }

    #[test]
    fn stored_objects_fill_missing_attributes_and_refuse_unknown_ones() {
        let ty = object_type(&[("a", Type::String), ("b", Type::Number)]);
        let value = decode_json(br#"{"a":"x"}"#, &ty).unwrap();
        assert_eq!(
            value,
            Value::object([("a", Value::string("x")), ("b", Value::Null)])
        );
        let error = decode_json(br#"{"a":"x","old":1}"#, &ty).unwrap_err();
        assert_eq!(error.path, AttributePath::root("old"));
        assert!(decode_json(br#"{"a":"x","a":"y"}"#, &ty).is_err());
    }

    #[test]
    fn primitives_convert_leniently_like_terraform() {
        assert_eq!(
            decode_json(br#""12""#, &Type::Number).unwrap(),
            Value::from(12)
        );
        assert_eq!(
            decode_json(b"12", &Type::String).unwrap(),
            Value::string("12")
        );
        assert_eq!(
            decode_json(br#""true""#, &Type::Bool).unwrap(),
            Value::from(true)
        );
        assert_eq!(
            decode_json(b"true", &Type::String).unwrap(),
            Value::string("true")
        );
        let error = decode_json(br#""secret-ish""#, &Type::Number).unwrap_err();
        assert!(!error.to_string().contains("secret"));
        assert!(decode_json(b"[]", &Type::Bool).is_err());
    }

    #[test]
    fn empty_input_is_null_and_garbage_is_an_error() {
        assert!(decode_json(b"", &Type::String).unwrap().is_null());
        assert!(decode_json(b" \n", &Type::String).unwrap().is_null());
        assert!(decode_json(b"\xff", &Type::String).is_err());
        assert!(decode_json(b"{", &object_type(&[])).is_err());
    }

    #[test]
    fn objects_and_maps_are_written_sorted_with_escaped_strings() {
        let ty = object_type(&[
            ("z", Type::Map(Box::new(Type::String))),
            ("a", Type::Set(Box::new(Type::Bool))),
        ]);
        let value = Value::object([
            (
                "z",
                Value::map([("k\"2", Value::string("v\n")), ("k1", Value::Null)]),
            ),
            ("a", Value::Set(vec![Value::from(true)])),
        ]);
        let bytes = encode_json(&value, &ty).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"a":[true],"z":{"k\"2":"v\n","k1":null}}"#
        );
        assert_eq!(decode_json(&bytes, &ty).unwrap(), value);
    }

    #[test]
    fn dynamic_values_are_type_and_value_objects() {
        let value = Value::Dynamic(Type::Number, Box::new(Value::from(3)));
        let bytes = encode_json(&value, &Type::Dynamic).unwrap();
        assert_eq!(bytes, br#"{"value":3,"type":"number"}"#);
        assert_eq!(decode_json(&bytes, &Type::Dynamic).unwrap(), value);
        assert!(decode_json(br#"{"value":3}"#, &Type::Dynamic).is_err());
        assert!(decode_json(br#"{"value":3,"type":"number","x":1}"#, &Type::Dynamic).is_err());
        assert!(decode_json(br#"{"value":3,"type":7}"#, &Type::Dynamic).is_err());
        let misplaced = br#"{"value":3,"type":"hunter2"}"#;
        let error = decode_json(misplaced, &Type::Dynamic).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn unknowns_cannot_be_written_as_json() {
        let ty = object_type(&[("a", Type::String)]);
        let error = encode_json(&Value::object([("a", Value::Unknown)]), &ty).unwrap_err();
        assert_eq!(error.path, AttributePath::root("a"));
        let infinite = Value::Number(Number::Float(f64::INFINITY));
        assert!(encode_json(&infinite, &Type::Number).is_err());
    }
}
