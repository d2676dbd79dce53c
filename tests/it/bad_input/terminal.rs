//! What the provider prints cannot drive the terminal: a server's key named with an OSC title
//! sequence, a colour and a right-to-left override, and a server message that clears the screen,
//! reach the real CLI's output visibly escaped.

use serde_json::json;

use crate::support::hostile::{Hostile, Reply, Request, group, plain_answer};
use crate::support::terraform::{Workspace, for_each_terraform};

const EVIL_KEY: &str = "\u{1b}]0;TITLE\u{7}\u{1b}[31mRED\u{202e}evil";
const EVIL_KEY_SHOWN: &str = "\\u{1b}]0;TITLE\\u{7}\\u{1b}[31mRED\\u{202e}evil";
const CLEAR_SCREEN: &str = "\u{1b}[2Jwiped";
const CLEAR_SCREEN_SHOWN: &str = "\\u{1b}[2Jwiped";

fn secret(name: &str, value: &str) -> serde_json::Value {
    json!({
        "id": format!("s-{}", name.len()),
        "fqn": format!("tfy-secret://acme:term-acme:{name}"),
        "name": name,
        "secretGroupId": "term-acme",
        "value": value,
        "secretVersions": [{"version": 1}],
    })
}

fn server(request: &Request) -> Reply {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/secret-groups/term-acme") => {
            let mut group = group("term-acme");
            group["associatedSecrets"] = json!([
                {"id": "s-1", "fqn": "tfy-secret://acme:term-acme:K", "name": "K"},
                {"id": format!("s-{}", EVIL_KEY.len()), "fqn": format!("tfy-secret://acme:term-acme:{EVIL_KEY}"), "name": EVIL_KEY},
            ]);
            Reply::json(200, json!({"data": group}))
        }
        ("POST", "/v1/secrets") if request.json()["secretGroupId"] == "term-acme" => Reply::json(
            200,
            json!({"data": [secret("K", "kv"), secret(EVIL_KEY, "ev")], "pagination": {"total": 2}}),
        ),
        ("GET", "/v1/secret-groups/screen-acme") => {
            Reply::json(200, json!({"statusCode": 500, "message": CLEAR_SCREEN}))
        }
        _ => plain_answer(request),
    }
}

const MAIN_TF: &str = r#"
resource "truefoundry_secret_group" "t" {
  name    = "term-acme"
  secrets = { K = "kv" }
}
"#;

/// The part of `output` from the line holding `summary` to the next blank line after it.
fn block<'a>(output: &'a str, summary: &str) -> &'a str {
    let start = output
        .find(summary)
        .unwrap_or_else(|| panic!("{summary} not in:\n{output}"));
    let rest = &output[start..];
    let end = rest.find("\n\n\n").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn server_strings_reach_the_cli_escaped() {
    let server = Hostile::start(server);
    for_each_terraform(|terraform| {
        let mut ws = Workspace::with_main(terraform, MAIN_TF);
        ws.set_env("TFY_HOST", &server.base_url)
            .set_env("TFY_API_KEY", "tfy-term-key");
        let log = ws.trace_log();

        let import = ws
            .import("truefoundry_secret_group.t", "term-acme")
            .expect_success();
        assert!(!import.output().contains('\u{1b}'), "{import}");

        let plan = ws.run(&["plan"]).expect_success();
        let warning = block(&plan.stdout, "Secrets Will Be Deleted");
        assert!(warning.contains(EVIL_KEY_SHOWN), "{warning}");
        for raw in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!warning.contains(raw), "{raw:?} raw in:\n{warning}");
        }

        ws.write(
            "screen.tf",
            "resource \"truefoundry_secret_group\" \"s\" { name = \"screen-acme\" }\n",
        );
        let import = ws
            .run(&["import", "truefoundry_secret_group.s", "screen-acme"])
            .expect_failure();
        let error = block(&import.stderr, "Unexpected TrueFoundry Response");
        assert!(error.contains(CLEAR_SCREEN_SHOWN), "{error}");
        assert!(!import.output().contains(CLEAR_SCREEN), "{import}");
        ws.remove("screen.tf");

        let trace = std::fs::read_to_string(&log).expect("the trace log");
        let provider_lines: Vec<&str> = trace
            .lines()
            .filter(|line| line.contains("terraform-provider-truefoundry"))
            .collect();
        assert!(!provider_lines.is_empty(), "the provider logged");
        for line in provider_lines {
            assert!(
                !line.contains('\u{1b}') && !line.contains('\u{202e}'),
                "{line}"
            );
        }
    });
}
