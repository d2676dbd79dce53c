//! The echo corpus: a server that repeats a secret in its answer, in every encoding a server,
//! proxy or framework may give it, never gets it shown. Each resource of one `terraform apply`
//! (real CLI, `TF_LOG=trace`) meets one case: encoding × (a value being written, the API key) ×
//! (an error body, a success status with an error body). No form of any canary may reach
//! Terraform's output or its trace log (which holds the provider's own log lines too), and every
//! case must end in the sentence that says the server's text was withheld.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::support::hostile::{Hostile, Reply, Request, plain_answer};
use crate::support::terraform::{Workspace, for_each_terraform};

/// The API key; `/` and `+` so that escaping and form encoding change it.
const KEY_CANARY: &str = "CanaryKey-Q7w/Zx9+AbQ3";
const WITHHELD: &str = "not shown because it repeats a secret value or the API key";

const ENCODINGS: [&str; 9] = [
    "raw",
    "json-slash",
    "unicode",
    "go-html",
    "html-entities",
    "percent",
    "base64",
    "base64url",
    "lowercase",
];

/// The value written to the group of case `n`: `/`, `<ü&>` so that every encoding changes it.
fn value_canary(n: usize) -> String {
    format!("CANARY-v{n}/<ü&>x")
}

fn encode(encoding: &str, text: &str) -> String {
    let json_inner = || {
        let quoted = serde_json::to_string(text).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    };
    match encoding {
        "raw" => text.to_owned(),
        "json-slash" => json_inner().replace('/', "\\/"),
        "unicode" => text
            .encode_utf16()
            .map(|unit| match char::from_u32(unit.into()) {
                Some(c) if c.is_ascii_alphanumeric() => c.to_string(),
                _ => format!("\\u{unit:04x}"),
            })
            .collect(),
        "go-html" => json_inner()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
        "html-entities" => text
            .chars()
            .map(|c| match c {
                '&' => "&amp;".to_owned(),
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                c if c.is_ascii_alphanumeric() || c == '-' => c.to_string(),
                c => format!("&#{};", c as u32),
            })
            .collect(),
        "percent" => text
            .bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect(),
        "base64" => STANDARD.encode(format!("{{\"value\":\"{text}\"}}")),
        "base64url" => URL_SAFE_NO_PAD.encode(format!("ab{text}")),
        "lowercase" => text.to_lowercase(),
        other => panic!("unknown encoding {other}"),
    }
}

/// (group name, encoding, whose secret, which body) for every case. A value lower-cased is
/// another value, so `lowercase` applies to the API key only.
fn cases() -> Vec<(String, &'static str, &'static str, &'static str)> {
    let mut cases = Vec::new();
    for encoding in ENCODINGS {
        for who in ["value", "key"] {
            if encoding == "lowercase" && who == "value" {
                continue;
            }
            for kind in ["error", "success"] {
                cases.push((format!("leak-{encoding}-{who}-{kind}"), encoding, who, kind));
            }
        }
    }
    cases
}

/// What the API told a viewer key writing a value, whatever the value: a value of `editor` or
/// `v` must not change how much of it is shown, or where.
const VIEWER_REFUSAL: &str = "user:viewer@acme.example cannot write acme:viewgrp-acme: it needs \
                              the role secret-group-editor";
/// Groups whose write is refused with [`VIEWER_REFUSAL`], and the value each writes.
const VIEWER_CASES: [(&str, &str); 3] = [
    ("viewer-editor", "editor"),
    ("viewer-v", "v"),
    ("viewer-q", "q"),
];

/// The secrets write of group `leak-<encoding>-<who>-<kind>` answers with an echo; that of a
/// `viewer-*` group with [`VIEWER_REFUSAL`].
fn echoing_server(request: &Request) -> Reply {
    let Some(id) = request.path.strip_prefix("/v1/secret-groups/") else {
        return plain_answer(request);
    };
    if request.method.as_str() != "PUT" {
        return plain_answer(request);
    }
    if id.starts_with("viewer-") {
        return Reply::json(403, json!({"statusCode": 403, "message": VIEWER_REFUSAL}));
    }
    let Some((_, encoding, who, kind)) = cases().into_iter().find(|case| case.0 == id) else {
        return plain_answer(request);
    };
    let secret = match who {
        "value" => request.json()["secrets"][0]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        _ => request.token.clone(),
    };
    let echo = encode(encoding, &secret);
    match kind {
        "error" => Reply::json(
            403,
            json!({"statusCode": 403, "message": format!("cannot store {echo} for {id}")}),
        ),
        _ => Reply::json(
            200,
            json!({"statusCode": 200, "message": format!("stored {echo} for {id}")}),
        ),
    }
}

#[test]
fn no_encoding_of_an_echoed_secret_reaches_terraform_output_or_its_trace_log() {
    let cases = cases();
    let server = Hostile::start(echoing_server);
    let main_tf: String = cases
        .iter()
        .enumerate()
        .map(|(n, (name, ..))| {
            format!(
                "resource \"truefoundry_secret_group\" \"c{n}\" {{\n  name    = \"{name}\"\n  \
                 secrets = {{ K = \"{}\" }}\n}}\n",
                value_canary(n)
            )
        })
        .chain(VIEWER_CASES.iter().map(|(name, value)| {
            format!(
                "resource \"truefoundry_secret_group\" \"{name}\" {{\n  name    = \"{name}\"\n  \
                 secrets = {{ K = \"{value}\" }}\n}}\n"
            )
        }))
        .collect();
    let mut forbidden: Vec<String> = ENCODINGS
        .iter()
        .map(|encoding| encode(encoding, KEY_CANARY))
        .collect();
    for n in 0..cases.len() {
        forbidden.extend(
            ENCODINGS[..ENCODINGS.len() - 1]
                .iter()
                .map(|encoding| encode(encoding, &value_canary(n))),
        );
    }
    for_each_terraform(|terraform| {
        let mut ws = Workspace::with_main(terraform, &main_tf);
        ws.set_env("TFY_HOST", &server.base_url)
            .set_env("TFY_API_KEY", KEY_CANARY);
        let log = ws.trace_log();
        let run = ws.run(&["apply", "-auto-approve"]).expect_failure();
        let output = run.output();
        let trace = std::fs::read_to_string(&log).expect("the trace log");
        assert!(
            trace.contains("TrueFoundry API call"),
            "the provider's trace lines are in the log"
        );
        let flat = output.split_whitespace().collect::<Vec<_>>().join(" ");
        for (name, ..) in &cases {
            assert!(
                flat.contains(&format!("/v1/secret-groups/{name}:")),
                "{name} failed at its secrets write:\n{output}"
            );
        }
        assert_eq!(
            flat.matches(WITHHELD).count(),
            cases.len() + 1,
            "every case is withheld, and the refusal that names `editor`:\n{output}"
        );
        // The refusals for `v` and `q` are shown whole, alike: `v` inside words is no echo.
        let refusal = |name: &str| {
            let marker = format!("/v1/secret-groups/{name}:");
            let start = flat.find(&marker).expect("the group's error") + marker.len();
            flat[start..]
                .split(" Error: ")
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(refusal("viewer-editor").contains(WITHHELD));
        // Nothing of the server's text is left (the provider's own advice names roles).
        assert!(
            !refusal("viewer-editor").contains("viewgrp"),
            "{}",
            refusal("viewer-editor")
        );
        assert!(
            refusal("viewer-v").contains(VIEWER_REFUSAL),
            "{}",
            refusal("viewer-v")
        );
        // The group's own name (which the case names after its value) is the one difference the
        // provider's text may hold: its half-made-create sentence names the group.
        let without_group = |name: &str| refusal(name).replace(name, "<group>");
        assert_eq!(without_group("viewer-v"), without_group("viewer-q"));
        for form in &forbidden {
            assert!(!output.contains(form.as_str()), "{form} in the output");
            assert!(!trace.contains(form.as_str()), "{form} in the trace log");
        }
        eprintln!(
            "{terraform}: {} echo cases, {} forms of {} canaries checked in {} output and {} trace \
             log bytes: none found",
            cases.len(),
            forbidden.len(),
            cases.len() + 1,
            output.len(),
            trace.len()
        );
    });
}
