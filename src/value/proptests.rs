//! Property tests: arbitrary values of arbitrary types survive both codecs, and no input bytes
//! make the decoders panic.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::{Number, Type, Value, decode_json, decode_msgpack, encode_json, encode_msgpack};

fn arb_name() -> impl Strategy<Value = String> {
    // Mostly identifier-like, sometimes anything (quotes, escapes, non-ASCII).
    prop_oneof![3 => "[a-z_][a-z0-9_]{0,8}", 1 => any::<String>()]
}

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Type::List(Box::new(t))),
            inner.clone().prop_map(|t| Type::Set(Box::new(t))),
            inner.clone().prop_map(|t| Type::Map(Box::new(t))),
            vec(inner.clone(), 0..4).prop_map(Type::Tuple),
            btree_map(arb_name(), inner, 0..4).prop_map(Type::Object),
        ]
    })
}

/// A concrete type for a dynamic value to carry (Terraform never records `dynamic` itself).
fn arb_concrete_type() -> impl Strategy<Value = Type> {
    arb_type().prop_filter("dynamic values carry a concrete type", |t| {
        *t != Type::Dynamic
    })
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        any::<u64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", |f| f.is_finite().then_some(Number::Float(f))),
        prop_oneof![
            Just(0.5),
            Just(-2.375),
            Just(0.1),
            Just(1e300),
            Just(5e-324)
        ]
        .prop_map(Number::Float),
        "-?[0-9]{1,40}(\\.[0-9]{1,40})?([eE][-+]?[0-9]{1,3})?".prop_map(Number::Decimal),
    ]
}

/// A value of type `ty`; `unknowns` says whether unknown may appear (JSON cannot hold it).
fn arb_value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
    let known = match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::List(element) => vec(arb_value(element, unknowns), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(element) => vec(arb_value(element, unknowns), 0..4)
            .prop_map(|mut items| {
                // A set holds each value once.
                let mut distinct: Vec<Value> = Vec::new();
                items.retain(|item| {
                    let fresh = !distinct.contains(item);
                    if fresh {
                        distinct.push(item.clone());
                    }
                    fresh
                });
                Value::Set(items)
            })
            .boxed(),
        Type::Map(element) => btree_map(arb_name(), arb_value(element, unknowns), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(elements) => elements
            .iter()
            .map(|element| arb_value(element, unknowns))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object(attributes) => {
            let names: Vec<String> = attributes.keys().cloned().collect();
            attributes
                .values()
                .map(|attribute| arb_value(attribute, unknowns))
                .collect::<Vec<_>>()
                .prop_map(move |values| Value::Object(names.iter().cloned().zip(values).collect()))
                .boxed()
        }
        Type::Dynamic => arb_concrete_type()
            .prop_flat_map(move |concrete| {
                arb_value(&concrete, unknowns)
                    .prop_map(move |inner| Value::Dynamic(concrete.clone(), Box::new(inner)))
            })
            .boxed(),
    };
    if unknowns {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => known].boxed()
    }
}

fn typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |ty| {
        let value = arb_value(&ty, unknowns);
        (Just(ty), value)
    })
}

/// A copy with every set's elements reversed, to show that order does not matter.
fn reverse_sets(value: &Value) -> Value {
    match value {
        Value::Set(items) => Value::Set(items.iter().rev().map(reverse_sets).collect()),
        Value::List(items) => Value::List(items.iter().map(reverse_sets).collect()),
        Value::Tuple(items) => Value::Tuple(items.iter().map(reverse_sets).collect()),
        Value::Map(entries) => Value::Map(map_values(entries, reverse_sets)),
        Value::Object(entries) => Value::Object(map_values(entries, reverse_sets)),
        Value::Dynamic(ty, inner) => Value::Dynamic(ty.clone(), Box::new(reverse_sets(inner))),
        other => other.clone(),
    }
}

fn map_values(
    entries: &BTreeMap<String, Value>,
    f: fn(&Value) -> Value,
) -> BTreeMap<String, Value> {
    entries.iter().map(|(k, v)| (k.clone(), f(v))).collect()
}

// 256 cases each by default; set PROPTEST_CASES for a longer run.
proptest! {
    #[test]
    fn msgpack_round_trips((ty, value) in typed_value(true)) {
        let bytes = encode_msgpack(&value, &ty).unwrap();
        let decoded = decode_msgpack(&bytes, &ty).unwrap();
        prop_assert_eq!(&decoded, &value);
        prop_assert_eq!(&reverse_sets(&decoded), &value);
        // Re-encoding what we decoded gives the same bytes: the encoding is canonical.
        prop_assert_eq!(encode_msgpack(&decoded, &ty).unwrap(), bytes);
    }

    #[test]
    fn json_round_trips((ty, value) in typed_value(false)) {
        let bytes = encode_json(&value, &ty).unwrap();
        let decoded = decode_json(&bytes, &ty).unwrap();
        prop_assert_eq!(&decoded, &value);
        prop_assert_eq!(&encode_json(&decoded, &ty).unwrap(), &bytes);
    }

    #[test]
    fn types_round_trip_through_json(ty in arb_type()) {
        prop_assert_eq!(Type::from_json(&ty.to_json()), Ok(ty));
    }

    #[test]
    fn numbers_round_trip_in_both_codecs(number in arb_number()) {
        let value = Value::Number(number.clone());
        let msgpack = encode_msgpack(&value, &Type::Number).unwrap();
        prop_assert_eq!(&decode_msgpack(&msgpack, &Type::Number).unwrap(), &value);
        let json = encode_json(&value, &Type::Number).unwrap();
        prop_assert_eq!(&decode_json(&json, &Type::Number).unwrap(), &value);
        // The canonical text parses back to an equal number and is a fixed point.
        let canonical = number.to_string();
        let reparsed = Number::parse(&canonical).unwrap();
        prop_assert_eq!(&reparsed, &number);
        prop_assert_eq!(reparsed.to_string(), canonical);
    }

    #[test]
    fn integers_keep_every_digit(digits in "[1-9][0-9]{0,60}", negative in any::<bool>()) {
        let text = if negative { format!("-{digits}") } else { digits };
        let number = Number::parse(&text).unwrap();
        prop_assert_eq!(number.to_string(), text.clone());
        let bytes = encode_msgpack(&Value::Number(number), &Type::Number).unwrap();
        let decoded = decode_msgpack(&bytes, &Type::Number).unwrap();
        prop_assert_eq!(decoded.as_number().unwrap().to_string(), text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(ty in arb_type(), bytes in vec(any::<u8>(), 0..64)) {
        let _ = decode_msgpack(&bytes, &ty);
        let _ = decode_json(&bytes, &ty);
    }

    #[test]
    fn json_like_text_never_panics(
        ty in arb_type(),
        text in "[\\[\\]{}\",:\\\\/nultrsu0-9a-fA-F.eE+\\- \n\t\u{e9}\u{1F600}]{0,48}",
    ) {
        let _ = decode_json(text.as_bytes(), &ty);
    }

    #[test]
    fn damaged_encodings_never_panic(
        (ty, value) in typed_value(true),
        cut in any::<prop::sample::Index>(),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let bytes = encode_msgpack(&value, &ty).unwrap();
        let truncated = &bytes[..cut.index(bytes.len())];
        // A strict prefix of one msgpack value is never a whole value.
        prop_assert!(truncated.is_empty() || decode_msgpack(truncated, &ty).is_err());
        let mut flipped = bytes.clone();
        let at = flip.0.index(flipped.len());
        flipped[at] ^= flip.1;
        let _ = decode_msgpack(&flipped, &ty);
        if value.is_wholly_known() {
            let json = encode_json(&value, &ty).unwrap();
            let mut flipped = json.clone();
            let at = flip.0.index(flipped.len());
            flipped[at] ^= flip.1;
            let _ = decode_json(&flipped, &ty);
            let _ = decode_json(&json[..cut.index(json.len())], &ty);
        }
    }
}
