//! Turning a failed call into an [`Error`] whose text is safe to show anywhere.
//!
//! The server's words are untrusted: an error page may echo the request. A text that holds a
//! secret this call sent or read, or the API key, in any form `echo` knows, is withheld whole
//! (see `echo.rs` for why nothing is replaced in place); a text that is shown is cut short.

use serde_json::Value as Json;

use super::Error;
pub(super) use super::echo::Secrets;

/// Longest server message kept in an error, in characters.
const MESSAGE_LIMIT: usize = 200;
/// Longest server text checked for echoes; a longer one is no message and is not shown.
const CHECK_LIMIT: usize = 64 * 1024;
/// Said in place of server text that echoed a secret.
pub(super) const WITHHELD: &str =
    "the server's message is not shown because it repeats a secret value or the API key";
/// Field names spelled out in a validation message; `details` keeps them all.
const FIELDS_NAMED: usize = 8;

/// Which call failed, for the method and path every error names.
#[derive(Clone, Copy)]
pub(super) struct CallSite<'a> {
    pub method: &'a str,
    pub path: &'a str,
}

impl Secrets<'_> {
    /// `text` cut to [`MESSAGE_LIMIT`] characters, or [`WITHHELD`] when it echoes a secret.
    /// The check comes first: cutting could leave half a secret behind.
    pub fn screen(&self, text: &str) -> String {
        match self.withheld(text) {
            Some(reason) => reason,
            None => truncate(text.trim()),
        }
    }

    /// Why `text` may not be shown, if it may not.
    fn withheld(&self, text: &str) -> Option<String> {
        if text.len() > CHECK_LIMIT {
            return Some(format!(
                "the server's message is not shown: at {} bytes it is too long to check for \
                 repeated secrets",
                text.len()
            ));
        }
        self.echoed_in(text).then(|| WITHHELD.to_owned())
    }
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// What a non-success response said, reduced to a message and the names of the fields it blamed.
struct ServerReport {
    message: String,
    fields: Vec<String>,
}

fn read_report(status: u16, body: &[u8], secrets: &Secrets<'_>) -> ServerReport {
    let text = String::from_utf8_lossy(body);
    let (message, fields) = match serde_json::from_slice::<Json>(body) {
        Ok(json) => (json_message(&json), detail_fields(&json)),
        Err(_) => (text_message(&text), Vec::new()),
    };
    // The whole body is checked, not just the message: the server's text is shown whole or not
    // at all. The fields it blamed are kept when they echo nothing themselves.
    let fields = fields
        .iter()
        .filter(|field| secrets.withheld(field).is_none())
        .map(|field| truncate(field))
        .collect();
    if let Some(reason) = secrets.withheld(&text) {
        return ServerReport {
            message: reason,
            fields,
        };
    }
    let message = match message {
        Some(message) if !message.trim().is_empty() => secrets.screen(&message),
        _ => reason(status),
    };
    ServerReport { message, fields }
}

/// `message` of the API's error body; `error` is what proxies and gateways tend to send.
fn json_message(json: &Json) -> Option<String> {
    ["message", "error"]
        .iter()
        .find_map(|name| json.get(name).and_then(Json::as_str))
        .map(str::to_owned)
}

/// The names of the fields in `details`, never their values: a detail object may quote input.
fn detail_fields(json: &Json) -> Vec<String> {
    let Some(details) = json.get("details").and_then(Json::as_array) else {
        return Vec::new();
    };
    details
        .iter()
        .filter_map(Json::as_object)
        .flat_map(|detail| {
            match ["field", "path", "property"]
                .iter()
                .find_map(|name| detail.get(*name).and_then(Json::as_str))
            {
                Some(field) => vec![field.to_owned()],
                None => detail.keys().cloned().collect(),
            }
        })
        .collect()
}

/// A plain-text body as one line; an HTML page by its title, since its markup says nothing.
fn text_message(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        let title = html_title(trimmed).unwrap_or("no title");
        return Some(format!("an HTML page ({})", collapse_whitespace(title)));
    }
    Some(collapse_whitespace(text))
}

fn html_title(html: &str) -> Option<&str> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    Some(&html[start..end])
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("no message")
        .to_owned()
}

/// Whether a body is the API's `HttpError` (a JSON object with `statusCode` or `message`). A
/// 404 that is not cannot be taken to mean "this object does not exist".
/// DECISION: the API definition types 404 bodies as "any"; every control plane answer seen
/// carries at least `message`, so anything less is a route, a proxy or another server.
fn is_api_error_body(body: &[u8]) -> bool {
    serde_json::from_slice::<Json>(body).is_ok_and(|json| {
        json.as_object().is_some_and(|object| {
            object.contains_key("statusCode") || object.contains_key("message")
        })
    })
}

/// The error for a final (not retried, or out of retries) non-success status.
pub(super) fn status_error(
    site: CallSite<'_>,
    status: u16,
    attempts: u32,
    body: &[u8],
    secrets: &Secrets<'_>,
) -> Error {
    let method = site.method.to_owned();
    let path = site.path.to_owned();
    if status == 429 {
        return Error::RateLimited {
            method,
            path,
            attempts,
        };
    }
    let ServerReport { message, fields } = read_report(status, body, secrets);
    if status == 404 && !is_api_error_body(body) {
        return Error::NotTheApi {
            method,
            path,
            message,
        };
    }
    match status {
        401 => Error::Unauthorized {
            method,
            path,
            message,
        },
        403 => Error::Forbidden {
            method,
            path,
            message,
            details: fields,
        },
        404 => Error::NotFound {
            method,
            path,
            message,
            details: fields,
        },
        409 => Error::Conflict {
            method,
            path,
            message,
            details: fields,
        },
        424 => Error::DependencyFailed {
            method,
            path,
            message,
        },
        500.. => Error::Server {
            method,
            path,
            status,
            attempts,
            message,
        },
        // 400, 422 and any other refusal of the request itself.
        _ => {
            let message = match fields.len() {
                0 => message,
                count if count <= FIELDS_NAMED => {
                    format!("{message} (fields: {})", fields.join(", "))
                }
                count => format!(
                    "{message} (fields: {} and {} more)",
                    fields[..FIELDS_NAMED].join(", "),
                    count - FIELDS_NAMED
                ),
            };
            Error::Validation {
                method,
                path,
                status,
                message,
                details: fields,
            }
        }
    }
}

/// A success status whose body is not what the operation expects.
pub(super) fn decode_error(
    site: CallSite<'_>,
    body: &[u8],
    error: &serde_json::Error,
    secrets: &Secrets<'_>,
) -> Error {
    let text = String::from_utf8_lossy(body);
    let json = serde_json::from_slice::<Json>(body).ok();
    // Values this answer carries are values being read: no text from it may show them. The body
    // itself holds them, so only the text to be shown is checked against them.
    let read = json.as_ref().map(read_values).unwrap_or_default();
    let with_read = secrets.with(&read);
    let shown = |message: &str| match secrets.withheld(&text) {
        Some(reason) => reason,
        None => with_read.screen(message),
    };
    let message = match json {
        // Some gateways answer 200 with an error body; its message is the useful part.
        Some(json) if json.get("statusCode").is_some() => match json_message(&json) {
            Some(message) => format!("an error body with status 200: {}", shown(&message)),
            None => "an error body with status 200".to_owned(),
        },
        Some(_) => {
            let shape = error.to_string();
            // A missing field's name is the client's own, never the answer's text.
            let shape = match shape.starts_with("missing field `") {
                true => shape,
                false => without_quoted_text(&shape),
            };
            format!(
                "the JSON does not have the expected shape: {}",
                shown(&shape)
            )
        }
        None if body.is_empty() => "an empty body where JSON was expected".to_owned(),
        // Broken JSON (cut off, say) of a success may be a list of secrets with their values:
        // none of its text is quoted.
        None if matches!(body.trim_ascii_start().first(), Some(b'{' | b'[')) => format!(
            "JSON that is cut off or malformed ({} bytes; not shown, as it may hold secret values)",
            body.len()
        ),
        None => match text_message(&text) {
            Some(message) => format!("not JSON: {}", shown(&message)),
            None => "not JSON".to_owned(),
        },
    };
    Error::Decode {
        method: site.method.to_owned(),
        path: site.path.to_owned(),
        message,
    }
}

/// Every string under a `value` field, at any depth: the secret values an answer carries.
fn read_values(json: &Json) -> Vec<String> {
    let mut values = Vec::new();
    let mut stack = vec![json];
    while let Some(node) = stack.pop() {
        match node {
            Json::Object(object) => {
                for (name, inner) in object {
                    match inner {
                        Json::String(value) if name == "value" => values.push(value.clone()),
                        _ => stack.push(inner),
                    }
                }
            }
            Json::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    values
}

/// serde quotes the offending input (`invalid type: string "…"`), which may be a secret value
/// from the response; keep the shape of the message and drop what was inside the quotes.
fn without_quoted_text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c == '`' {
            // Numbers and other scalars come in backticks (`invalid type: integer `42``).
            out.push_str("`…`");
            chars.by_ref().find(|inner| *inner == '`');
            continue;
        }
        if c != '"' {
            out.push(c);
            continue;
        }
        out.push_str("\"…\"");
        let mut escaped = false;
        for inner in chars.by_ref() {
            match (escaped, inner) {
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => escaped = false,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: CallSite<'static> = CallSite {
        method: "PUT",
        path: "/v1/secret-groups/sg1",
    };

    fn error_text(status: u16, body: &str, sent: &[&str]) -> String {
        status_error(
            SITE,
            status,
            1,
            body.as_bytes(),
            &Secrets::new(sent.iter().copied(), None),
        )
        .to_string()
    }

    #[test]
    fn a_text_echoing_a_value_is_withheld_whole_never_in_part() {
        let secrets = Secrets::new(["s3cr\"et", "s3cr", "", "key-12345"], None);
        for text in [
            r#"got s3cr\"et"#,
            "got key-12345 back",
            "the s3cr field",
            "got s3cr",
        ] {
            assert_eq!(secrets.screen(text), WITHHELD, "{text}");
        }
        assert_eq!(secrets.screen(" the s3cret field "), "the s3cret field");
    }

    /// The message a viewer key got for the value `editor`, and for `v`: neither may tell the
    /// value by what is left of the text.
    #[test]
    fn the_shown_text_does_not_depend_on_a_short_values_characters() {
        let message = "user:viewer@acme.example cannot write acme:viewgrp-acme: it needs the role \
                       secret-group-editor";
        let body = serde_json::json!({"statusCode": 403, "message": message}).to_string();
        let with_value = |value: &str| error_text(403, &body, &[value]);
        assert!(with_value("editor").ends_with(WITHHELD));
        assert!(!with_value("editor").contains("editor"));
        assert_eq!(
            with_value("v"),
            with_value("q"),
            "a short value inside words"
        );
        assert!(with_value("v").ends_with(message));
    }

    proptest::proptest! {
        /// Whatever a server wraps around or between the values, none survives, in raw or
        /// JSON-escaped form, even once the message is cut short.
        #[test]
        fn no_sent_value_survives(
            values in proptest::collection::vec("[A-Z0-9\"\\\n ]{1,12}", 1..4),
            fillers in proptest::collection::vec("[a-z :{}\"]{0,40}", 1..6),
            picks in proptest::collection::vec(0usize..8, 1..10),
        ) {
            let mut text = String::new();
            for (n, pick) in picks.iter().enumerate() {
                text.push_str(&fillers[n % fillers.len()]);
                let value = &values[pick % values.len()];
                if pick % 2 == 0 {
                    text.push_str(value);
                } else {
                    text.push_str(&serde_json::to_string(value).unwrap_or_default());
                }
            }
            let secrets = Secrets::new(values.iter().map(String::as_str), None);
            let shown = secrets.screen(&text);
            for value in &values {
                let value = value.trim();
                if value.chars().count() >= super::super::echo::SHORT {
                    proptest::prop_assert!(!shown.contains(value), "{value:?} in {shown:?}");
                }
            }
        }
    }

    #[test]
    fn the_echo_check_happens_before_truncation() {
        let secret = "CANARY-0123456789";
        let message = format!("{}{secret}", "x".repeat(MESSAGE_LIMIT - 5));
        let body = serde_json::json!({"statusCode": 422, "message": message}).to_string();
        let text = error_text(422, &body, &[secret]);
        assert!(text.ends_with(WITHHELD), "{text}");
        assert!(
            error_text(422, &body, &[]).ends_with('…'),
            "cut short when shown"
        );
    }

    #[test]
    fn statuses_map_to_their_error_classes() {
        let body = r#"{"statusCode": 0, "message": "the reason"}"#;
        type IsExpected = fn(&Error) -> bool;
        let cases: [(u16, IsExpected); 9] = [
            (401, |e| matches!(e, Error::Unauthorized { .. })),
            (403, |e| matches!(e, Error::Forbidden { .. })),
            (404, |e| matches!(e, Error::NotFound { .. })),
            (409, |e| matches!(e, Error::Conflict { .. })),
            (400, |e| matches!(e, Error::Validation { status: 400, .. })),
            (422, |e| matches!(e, Error::Validation { status: 422, .. })),
            (424, |e| matches!(e, Error::DependencyFailed { .. })),
            (429, |e| matches!(e, Error::RateLimited { attempts: 1, .. })),
            (500, |e| matches!(e, Error::Server { status: 500, .. })),
        ];
        for (status, is_expected) in cases {
            let error = status_error(SITE, status, 1, body.as_bytes(), &Secrets::new([], None));
            assert!(is_expected(&error), "{status} gave {error:?}");
            let text = error.to_string();
            assert!(text.starts_with("PUT /v1/secret-groups/sg1: "), "{text}");
            if status != 429 {
                assert!(text.contains("the reason"), "{text}");
            }
        }
    }

    #[test]
    fn validation_details_are_field_names_only() {
        let body = r#"{"statusCode":422,"message":"invalid","details":[
            {"field":"secrets[1].key","value":"leaked"},{"property":"name"},{"other":"x"},"free text"]}"#;
        let error = status_error(SITE, 422, 1, body.as_bytes(), &Secrets::new([], None));
        let Error::Validation {
            details, message, ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(details, &["secrets[1].key", "name", "other"]);
        assert_eq!(message, "invalid (fields: secrets[1].key, name, other)");
        assert!(!error.to_string().contains("leaked"));
    }

    #[test]
    fn a_long_list_of_blamed_fields_is_shortened_in_the_message_only() {
        let details: Vec<_> = (0..10)
            .map(|n| serde_json::json!({"field": format!("f{n}")}))
            .collect();
        let body = serde_json::json!({"statusCode": 422, "message": "bad", "details": details});
        let error = status_error(
            SITE,
            422,
            1,
            body.to_string().as_bytes(),
            &Secrets::new([], None),
        );
        let Error::Validation {
            details, message, ..
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(details.len(), 10);
        assert_eq!(
            message,
            "bad (fields: f0, f1, f2, f3, f4, f5, f6, f7 and 2 more)"
        );
    }

    #[test]
    fn a_404_without_the_apis_error_body_is_not_a_missing_object() {
        let not_the_api = |body: &str| {
            let error = status_error(SITE, 404, 1, body.as_bytes(), &Secrets::new([], None));
            matches!(error, Error::NotTheApi { .. })
        };
        assert!(not_the_api("<html><title>Not Found</title></html>"));
        assert!(not_the_api(""));
        assert!(not_the_api("404 page not found"));
        assert!(not_the_api(r#"["not", "an", "object"]"#));
        assert!(not_the_api(r#"{"error": "no route"}"#));
        assert!(!not_the_api(
            r#"{"statusCode": 404, "message": "Secret group not found"}"#
        ));
        assert!(!not_the_api(r#"{"message": "Secret group not found"}"#));
    }

    #[test]
    fn non_json_bodies_give_a_short_readable_message() {
        let html = "<!DOCTYPE html><html><head><TITLE>502 Bad\n Gateway</TITLE></head><body>...</body></html>";
        assert!(error_text(502, html, &[]).ends_with(": an HTML page (502 Bad Gateway)"));
        assert!(error_text(503, "  upstream\n\tdown ", &[]).ends_with(": upstream down"));
        assert!(error_text(404, "", &[]).ends_with(": Not Found"));
        assert!(error_text(400, r#"{"statusCode":400}"#, &[]).ends_with(": Bad Request"));
    }

    #[test]
    fn decode_errors_drop_quoted_response_text() {
        let body = br#"{"data": "RESPONSE-SECRET"}"#;
        let serde_error = serde_json::from_slice::<super::super::wire::Envelope<Vec<u8>>>(body)
            .err()
            .expect("a type error");
        assert!(serde_error.to_string().contains("RESPONSE-SECRET"));
        let text = decode_error(SITE, body, &serde_error, &Secrets::new([], None)).to_string();
        assert!(
            text.contains("does not have the expected shape: invalid type"),
            "{text}"
        );
        assert!(!text.contains("RESPONSE-SECRET"), "{text}");
        assert_eq!(
            without_quoted_text(r#"invalid type: string "a\"b", expected u64 at "x""#),
            r#"invalid type: string "…", expected u64 at "…""#
        );
    }

    #[test]
    fn decode_errors_drop_numbers_and_cut_off_json() {
        let body = br#"{"data": [31337424242]}"#;
        let serde_error = serde_json::from_slice::<super::super::wire::Envelope<Vec<String>>>(body)
            .err()
            .expect("a type error");
        assert!(serde_error.to_string().contains("31337424242"));
        let text = decode_error(SITE, body, &serde_error, &Secrets::new([], None)).to_string();
        assert!(!text.contains("31337424242"), "{text}");
        assert!(text.contains("integer `…`"), "{text}");

        let cut = br#" {"data": [{"name": "K", "value": "RESPONSE-SECR"#;
        let serde_error = serde_json::from_slice::<u8>(cut).expect_err("cut off");
        let text = decode_error(SITE, cut, &serde_error, &Secrets::new([], None)).to_string();
        assert!(!text.contains("RESPONSE-SECR"), "{text}");
        assert!(text.contains("cut off or malformed"), "{text}");
    }

    #[test]
    fn a_200_error_body_is_reported_by_its_message() {
        let body = br#"{"statusCode": 500, "message": "backend exploded"}"#;
        let serde_error = serde_json::from_slice::<u8>(b"x").expect_err("not JSON");
        let text = decode_error(SITE, body, &serde_error, &Secrets::new([], None)).to_string();
        assert!(
            text.ends_with("an error body with status 200: backend exploded"),
            "{text}"
        );
    }
}
