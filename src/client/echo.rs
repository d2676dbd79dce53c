//! Whether a server's text echoes a secret, in any of the forms a server, proxy or framework may
//! have given it on the way.
//!
//! The rule (ARCHITECTURE.md, "Secrets"): server text is shown whole or not at all. Replacing a
//! value inside the text tells the value by where the marker lands (`secret-group-<redacted>`
//! for the value `editor`) and garbles the message, so a text that echoes any value being sent or
//! read, or the API key, is withheld as a whole by the caller.
//!
//! Forms looked for: the text as it came, and the text with JSON escapes (`\/`, `\uXXXX`,
//! including Go's HTML-safe `\u003c`), HTML character references and percent-encoding undone,
//! up to two layers deep; in each, the value itself and its base64 and base64url encodings at
//! every byte alignment (so a value inside an encoded request body is found too). The API key is
//! also looked for case-insensitively.
//!
//! DECISION (short values): a value of fewer than [`SHORT`] characters counts as echoed only when
//! it stands as a whole token (no letter or digit on either side), and its base64 forms are not
//! looked for. Looking for `v` anywhere would withhold nearly every message, and its base64 form
//! is two characters that occur by chance in any token; an echo of a request body quotes the value
//! as a whole token, which is what this catches. A short value that occurs inside a word therefore
//! leaves the message shown, and the message then reads the same whatever the value is.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Values shorter than this many characters are looked for as whole tokens only.
pub(super) const SHORT: usize = 8;

/// Layers of encoding undone (JSON inside percent-encoding, say).
const DECODE_DEPTH: usize = 2;

/// The secrets one call must never show back: the values it sent or read, and the API key.
/// Holds borrowed secrets, so it deliberately has no `Debug`.
pub(super) struct Secrets<'a> {
    values: Vec<&'a str>,
    api_key: Option<&'a str>,
}

impl<'a> Secrets<'a> {
    /// Blank values are left out: white space tells nothing, and would match nearly any text.
    pub fn new(values: impl IntoIterator<Item = &'a str>, api_key: Option<&'a str>) -> Self {
        Secrets {
            values: values.into_iter().filter(|v| !is_blank(v)).collect(),
            api_key: api_key.filter(|key| !is_blank(key)),
        }
    }

    /// The same secrets plus `more` (values read from the answer at hand).
    pub fn with(&self, more: &'a [String]) -> Secrets<'a> {
        Secrets {
            values: self
                .values
                .iter()
                .copied()
                .chain(more.iter().map(String::as_str).filter(|v| !is_blank(v)))
                .collect(),
            api_key: self.api_key,
        }
    }

    /// True when `text` holds any of the secrets in any form this module knows.
    pub fn echoed_in(&self, text: &str) -> bool {
        if self.values.is_empty() && self.api_key.is_none() {
            return false;
        }
        let forms = decoded_forms(text);
        if self
            .values
            .iter()
            .any(|value| forms.iter().any(|form| holds(form, value)))
        {
            return true;
        }
        let Some(key) = self.api_key else {
            return false;
        };
        let key_lower = key.to_lowercase();
        forms
            .iter()
            .any(|form| holds(form, key) || holds(&form.to_lowercase(), &key_lower))
    }
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Whether `form` holds `value`, raw or (for a value that is not short) base64-encoded.
fn holds(form: &str, value: &str) -> bool {
    if value.chars().count() < SHORT {
        return holds_as_token(form, value);
    }
    form.contains(value)
        || base64_fragments(value)
            .iter()
            .any(|fragment| form.contains(fragment.as_str()))
}

/// An occurrence of `value` with no letter or digit right before or after it.
fn holds_as_token(form: &str, value: &str) -> bool {
    form.match_indices(value).any(|(at, _)| {
        let before = form[..at].chars().next_back();
        let after = form[at + value.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The base64 and base64url characters that depend on `value`'s bytes alone, for each of the
/// three byte offsets it may start at inside a longer encoded text.
fn base64_fragments(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut fragments = Vec::with_capacity(6);
    for offset in 0..3 {
        let mut shifted = vec![0u8; offset];
        shifted.extend_from_slice(bytes);
        // Characters wholly inside the value's bits: from the first 6-bit group starting at or
        // after its first bit to the last group ending at or before its last bit.
        let first = (8 * offset).div_ceil(6);
        let last = 8 * (offset + bytes.len()) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&shifted);
            if let Some(fragment) = encoded.get(first..last) {
                fragments.push(fragment.to_owned());
            }
        }
    }
    fragments.sort();
    fragments.dedup();
    fragments
}

/// `text` and every distinct text got by undoing up to [`DECODE_DEPTH`] layers of encoding.
fn decoded_forms(text: &str) -> Vec<String> {
    let decoders: [fn(&str) -> String; 4] = [
        json_unescape,
        html_unescape,
        |text| percent_decode(text, false),
        |text| percent_decode(text, true),
    ];
    let mut forms = vec![text.to_owned()];
    let mut layer = vec![text.to_owned()];
    for _ in 0..DECODE_DEPTH {
        let mut next = Vec::new();
        for form in &layer {
            for decode in decoders {
                let decoded = decode(form);
                if !forms.contains(&decoded) {
                    forms.push(decoded.clone());
                    next.push(decoded);
                }
            }
        }
        layer = next;
    }
    forms
}

/// Undoes backslash escapes wherever they stand: JSON's (`\"`, `\/`, `\n`, `\uXXXX` with
/// surrogate pairs) and `\xHH`. Anything else is kept as it is.
fn json_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (decoded, used) = backslash_escape(rest);
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[..used]),
        }
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

/// The character a backslash escape at the start of `text` stands for, and its length in bytes.
fn backslash_escape(text: &str) -> (Option<char>, usize) {
    let simple = match text.as_bytes().get(1) {
        Some(b'"') => Some('"'),
        Some(b'\\') => Some('\\'),
        Some(b'/') => Some('/'),
        Some(b'\'') => Some('\''),
        Some(b'n') => Some('\n'),
        Some(b't') => Some('\t'),
        Some(b'r') => Some('\r'),
        Some(b'b') => Some('\u{8}'),
        Some(b'f') => Some('\u{c}'),
        _ => None,
    };
    if simple.is_some() {
        return (simple, 2);
    }
    let hex = |range: std::ops::Range<usize>| {
        text.get(range)
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
    };
    match text.as_bytes().get(1) {
        Some(b'x') => match hex(2..4) {
            Some(byte) => (char::from_u32(byte), 4),
            None => (None, 1),
        },
        Some(b'u') => match hex(2..6) {
            Some(high @ 0xD800..=0xDBFF) => {
                let low = text
                    .get(6..8)
                    .filter(|next| *next == "\\u")
                    .and_then(|_| hex(8..12))
                    .filter(|low| (0xDC00..=0xDFFF).contains(low));
                match low {
                    Some(low) => (
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)),
                        12,
                    ),
                    None => (Some(char::REPLACEMENT_CHARACTER), 6),
                }
            }
            Some(unit) => (
                Some(char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)),
                6,
            ),
            None => (None, 1),
        },
        _ => (None, 1),
    }
}

/// Undoes HTML character references: the five named ones and numeric `&#NN;` / `&#xHH;`.
fn html_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // The longest reference read is `&#x10FFFF;`.
        let reference = rest[1..]
            .find(';')
            .filter(|end| *end <= 8)
            .map(|end| &rest[1..1 + end]);
        let decoded = reference.and_then(|name| match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let number = name.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (decoded, reference) {
            (Some(c), Some(name)) => {
                out.push(c);
                rest = &rest[name.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Undoes percent-encoding; with `plus_is_space`, as an HTML form encodes (`+` for a space).
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let text = if plus_is_space {
        text.replace('+', " ")
    } else {
        text.to_owned()
    };
    percent_encoding::percent_decode_str(&text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echoes(text: &str, value: &str) -> bool {
        Secrets::new([value], None).echoed_in(text)
    }

    #[test]
    fn every_known_encoding_of_a_value_is_found() {
        let value = "CANARY/<ü&>\"x";
        let json = serde_json::to_string(value).unwrap_or_default();
        let forms = [
            value.to_owned(),
            json.clone(),
            json.replace('/', "\\/"),
            r#""CANARY\/\u003c\u00fc\u0026\u003e\"x""#.to_owned(),
            "CANARY&#x2F;&lt;&#252;&amp;&gt;&quot;x".to_owned(),
            "CANARY%2F%3C%C3%BC%26%3E%22x".to_owned(),
            STANDARD_NO_PAD.encode(format!("{{\"value\":\"{value}\"}}")),
            URL_SAFE_NO_PAD.encode(format!("ab{value}cd")),
            // Percent-encoding inside a JSON string.
            r#"{"echo":"CANARY%2F%3C%C3%BC%26%3E%22x"}"#.to_owned(),
        ];
        for form in forms {
            assert!(echoes(&format!("refused: {form} (sorry)"), value), "{form}");
        }
        assert!(!echoes("refused: CANARY only", value));
    }

    #[test]
    fn the_api_key_is_found_whatever_its_case() {
        let secrets = Secrets::new([], Some("TfyKey-AbCdEf-0123"));
        assert!(secrets.echoed_in("token tfykey-abcdef-0123 revoked"));
        assert!(secrets.echoed_in(&STANDARD_NO_PAD.encode("Bearer TfyKey-AbCdEf-0123")));
        assert!(!secrets.echoed_in("token tfykey-abcdef revoked"));
    }

    #[test]
    fn short_values_count_only_as_whole_tokens() {
        assert!(!echoes(
            "user:viewer@acme.example needs acme:viewgrp-acme",
            "v"
        ));
        assert!(echoes(r#"{"secrets":[{"key":"K","value":"v"}]}"#, "v"));
        assert!(echoes("needs the role secret-group-editor", "editor"));
        assert!(!echoes("a message. (with punctuation)", " "));
        assert!(!echoes("needs the role secret-group-editors", "editor"));
    }

    proptest::proptest! {
        /// A value inside any longer text, base64-encoded whole in either alphabet, is found.
        #[test]
        fn a_value_inside_any_base64_text_is_found(
            before in proptest::collection::vec(proptest::num::u8::ANY, 0..7),
            value in "[ -~]{8,20}",
            after in proptest::collection::vec(proptest::num::u8::ANY, 0..7),
        ) {
            let mut bytes = before;
            bytes.extend_from_slice(value.as_bytes());
            bytes.extend(after);
            for encoded in [STANDARD_NO_PAD.encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes)] {
                proptest::prop_assert!(echoes(&encoded, &value), "{value:?} in {encoded}");
            }
        }
    }
}
