//! Malformed API responses: a stub (not the emulator) answers the provider's client with wrong
//! types, missing fields, HTML pages, truncated JSON, 200 with an error body, empty and huge
//! bodies. The real provider, in-process, goes through read, apply (create, update, delete),
//! import and the data source: each call must end in a clear error diagnostic, without a panic,
//! with the prior state kept, and without quoting a secret value or the API key.

use std::sync::Arc;

use axum::http::Method;
use serde_json::json;
use truefoundry_provider::diag::{Diagnostics, Severity};
use truefoundry_provider::provider::TrueFoundryProvider;
use truefoundry_provider::value::{Type, Value};

use crate::support::canaries::assert_no_canary_in_diagnostics;
use crate::support::hcl::conform;
use crate::support::stub::{
    Canned, GROUP, GROUP_ID, GROUP_NAME, GROUPS, SECRETS, STORED_CANARY, Stub, group_json,
    secret_json,
};
use crate::support::tfclient::{ImitatedTerraform, TfClient};

const SECRET_GROUP: &str = "truefoundry_secret_group";
pub const API_KEY_CANARY: &str = "tfy-CANARY-api-key-8d21";
const SENT_CANARY: &str = "CANARY-sent-value-c4d1";
/// A secret value a broken server sends as a number (serde quotes numbers with backticks).
const NUMBER_CANARY: &str = "31337424242";

fn canaries() -> [&'static str; 4] {
    [API_KEY_CANARY, SENT_CANARY, STORED_CANARY, NUMBER_CANARY]
}

pub fn assert_clean(context: &str, diags: &Diagnostics) {
    assert_no_canary_in_diagnostics(&canaries(), context, diags);
}

/// The provider configured against `base_url`, with no retries and short timeouts.
pub async fn provider_client(base_url: &str) -> TfClient {
    let mut client = TfClient::in_process(
        Arc::new(TrueFoundryProvider::new()),
        ImitatedTerraform::V1_11,
    )
    .await;
    client.get_schema().await.unwrap();
    let config = conform(
        &Value::object([
            ("host", Value::string(base_url)),
            ("api_key", Value::string(API_KEY_CANARY)),
            ("max_retries", Value::Number(0.into())),
            ("request_timeout", Value::Number(10.into())),
        ]),
        &client.provider_type(),
    );
    let diags = client.configure(&config).await.unwrap();
    assert!(!diags.has_errors(), "{diags:?}");
    client
}

/// A `map(string)` of secret values, as `secrets` holds them.
pub fn secrets(entries: &[(&str, &str)]) -> Value {
    Value::map(entries.iter().map(|(k, v)| (*k, Value::string(*v))))
}

/// The state of group sg-1 with key K, as the last apply left it.
pub fn prior_state(ty: &Type) -> Value {
    conform(
        &Value::object([
            ("id", Value::string(GROUP_ID)),
            ("name", Value::string(GROUP_NAME)),
            (
                "integration_fqn",
                Value::string("internal:aws:aws-1:secret-store:internal-secret-store"),
            ),
            ("fqn", Value::string(format!("acme:{GROUP_NAME}"))),
            ("tenant_name", Value::string("acme")),
            ("secrets", secrets(&[("K", "prior-value")])),
            (
                "secret_fqns",
                Value::map([(
                    "K",
                    Value::string(format!("tfy-secret://acme:{GROUP_NAME}:K")),
                )]),
            ),
            (
                "secret_versions",
                Value::map([("K", Value::Number(1.into()))]),
            ),
        ]),
        ty,
    )
}

/// Sg-1 with K's value changed: the plan's answer for an update.
fn planned_update(ty: &Type) -> (Value, Value) {
    let mut planned = prior_state(ty);
    planned.set("secrets", secrets(&[("K", SENT_CANARY)]));
    planned.set("secret_versions", Value::map([("K", Value::Unknown)]));
    let config = conform(
        &Value::object([
            ("name", Value::string(GROUP_NAME)),
            ("secrets", secrets(&[("K", SENT_CANARY)])),
        ]),
        ty,
    );
    (planned, config)
}

fn planned_create(ty: &Type) -> (Value, Value) {
    let config = conform(
        &Value::object([
            ("name", Value::string("new-acme")),
            ("secrets", secrets(&[("N", SENT_CANARY)])),
        ]),
        ty,
    );
    let mut planned = config.clone();
    for name in ["id", "fqn", "tenant_name", "secret_fqns"] {
        planned.set(name, Value::Unknown);
    }
    planned.set(
        "integration_fqn",
        Value::string("internal:aws:aws-1:secret-store:internal-secret-store"),
    );
    planned.set("secret_versions", Value::map([("N", Value::Unknown)]));
    (planned, config)
}

/// A way of being broken, as the answer each route would give.
struct Malformation {
    name: &'static str,
    answer: fn(&Method, &str) -> Canned,
}

fn cut(body: &str, at: usize) -> Vec<u8> {
    body.as_bytes()[..at.min(body.len())].to_vec()
}

fn malformations() -> Vec<Malformation> {
    vec![
        Malformation {
            name: "wrong types",
            answer: |method, path| match (method.as_str(), path) {
                (_, GROUPS) if method == Method::GET => Canned::json(
                    200,
                    json!({"data": [{"id": 7, "fqn": ["acme", "x"], "associatedSecrets": "K"}]}),
                ),
                ("POST", _) => Canned::json(
                    200,
                    json!({"data": [{
                        "id": "s-1", "fqn": "tfy-secret://acme:payments-acme:K", "name": "K",
                        "secretGroupId": GROUP_ID, "value": NUMBER_CANARY.parse::<u64>().unwrap(),
                        "secretVersions": [{"version": 1}],
                    }]}),
                ),
                ("DELETE", _) => Canned::json(200, json!([STORED_CANARY])),
                _ => Canned::json(
                    200,
                    json!({"data": {"id": 7, "fqn": false, "associatedSecrets": {"K": STORED_CANARY}}}),
                ),
            },
        },
        Malformation {
            name: "missing fields",
            answer: |method, path| match (method.as_str(), path) {
                ("GET", GROUPS) => Canned::json(200, json!({"data": [{"fqn": "acme:x"}]})),
                ("POST", _) => Canned::json(
                    200,
                    json!({"data": [{"name": "K", "value": STORED_CANARY}], "pagination": {"total": 1}}),
                ),
                ("DELETE", _) => Canned::json(200, json!(null)),
                _ => Canned::json(200, json!({"data": {"name": GROUP_NAME}})),
            },
        },
        Malformation {
            name: "no data envelope",
            answer: |method, _| match method.as_str() {
                "DELETE" => Canned::json(200, json!("deleted")),
                "POST" => Canned::json(200, json!([secret_json()])),
                _ => Canned::json(200, group_json()),
            },
        },
        Malformation {
            name: "HTML page with 200",
            answer: |_, _| {
                Canned::raw(
                    200,
                    "text/html",
                    "<!DOCTYPE html><html><head><title>Sign in - Acme SSO</title></head>\
                     <body><form>login</form></body></html>",
                )
            },
        },
        Malformation {
            name: "HTML error page 502",
            answer: |_, _| {
                Canned::raw(
                    502,
                    "text/html",
                    "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>",
                )
            },
        },
        Malformation {
            name: "truncated JSON",
            answer: |method, path| {
                let body = match (method.as_str(), path) {
                    ("GET", GROUPS) => json!({"data": [group_json()]}).to_string(),
                    // Cut in the middle of the stored value: the rest of the body must not leak.
                    ("POST", _) => json!({"data": [secret_json()]}).to_string(),
                    _ => json!({"data": group_json()}).to_string(),
                };
                let at = body
                    .find(STORED_CANARY)
                    .map(|at| at + 12)
                    .unwrap_or(body.len() / 2);
                Canned::raw(200, "application/json", cut(&body, at))
            },
        },
        Malformation {
            name: "200 with an error body",
            answer: |_, _| {
                Canned::json(
                    200,
                    json!({"statusCode": 500, "message": "Internal server error", "error": "Internal Server Error"}),
                )
            },
        },
        Malformation {
            name: "empty body",
            answer: |_, _| Canned::raw(200, "application/json", Vec::new()),
        },
        Malformation {
            name: "not JSON text",
            answer: |_, _| Canned::raw(200, "text/plain", "OK"),
        },
        Malformation {
            name: "huge body",
            answer: |_, _| {
                let mut body = b"{\"data\": [".to_vec();
                body.extend(std::iter::repeat_n(b' ', 8 * 1024 * 1024));
                body.extend(format!("\"{STORED_CANARY}\" }}").as_bytes());
                Canned::raw(200, "application/json", body)
            },
        },
        Malformation {
            name: "JSON of another API",
            answer: |method, _| match method.as_str() {
                "DELETE" => Canned::json(200, json!([])),
                _ => Canned::json(
                    200,
                    json!({"items": [], "kind": "List", "apiVersion": "v1"}),
                ),
            },
        },
    ]
}

fn errors(diags: &Diagnostics) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect()
}

/// One outcome per operation, for the report.
struct Outcome {
    operation: &'static str,
    errors: Vec<String>,
}

/// Runs every operation against the stub as it stands; asserts the states are untouched.
async fn every_operation(client: &mut TfClient, stub: &Stub, context: &str) -> Vec<Outcome> {
    let ty = client.resource_type(SECRET_GROUP);
    let prior = prior_state(&ty);
    let mut outcomes = Vec::new();

    let read = client.read(SECRET_GROUP, &prior, Vec::new()).await.unwrap();
    assert_eq!(
        read.state.as_ref(),
        Some(&prior),
        "{context}: read changed the state"
    );
    outcomes.push(Outcome {
        operation: "read",
        errors: errors(&read.diagnostics),
    });
    assert_clean(context, &read.diagnostics);

    let before = stub.request_count();
    let (planned, config) = planned_update(&ty);
    let plan = client
        .plan(SECRET_GROUP, &prior, &planned, &config, Vec::new())
        .await
        .unwrap();
    assert!(
        !plan.diagnostics.has_errors(),
        "{context}: {:?}",
        plan.diagnostics
    );
    assert_eq!(stub.request_count(), before, "plan calls no API");

    let update = client
        .apply(SECRET_GROUP, &prior, &planned, &config, Vec::new())
        .await
        .unwrap();
    assert_eq!(update.state.as_ref(), Some(&prior), "{context}: update");
    outcomes.push(Outcome {
        operation: "update",
        errors: errors(&update.diagnostics),
    });
    assert_clean(context, &update.diagnostics);

    let (planned, config) = planned_create(&ty);
    let create = client
        .apply(SECRET_GROUP, &Value::Null, &planned, &config, Vec::new())
        .await
        .unwrap();
    assert!(
        create.state.as_ref().is_none_or(Value::is_null),
        "{context}: create stored {:?}",
        create.state
    );
    outcomes.push(Outcome {
        operation: "create",
        errors: errors(&create.diagnostics),
    });
    assert_clean(context, &create.diagnostics);

    let delete = client
        .apply(SECRET_GROUP, &prior, &Value::Null, &Value::Null, Vec::new())
        .await
        .unwrap();
    assert_eq!(delete.state.as_ref(), Some(&prior), "{context}: delete");
    outcomes.push(Outcome {
        operation: "delete",
        errors: errors(&delete.diagnostics),
    });
    assert_clean(context, &delete.diagnostics);

    let import = client.import(SECRET_GROUP, GROUP_ID).await.unwrap();
    assert!(import.states.is_empty(), "{context}: import");
    outcomes.push(Outcome {
        operation: "import",
        errors: errors(&import.diagnostics),
    });
    assert_clean(context, &import.diagnostics);

    for lookup in [("id", GROUP_ID), ("fqn", "acme:payments-acme")] {
        let config = conform(
            &Value::object([
                (lookup.0, Value::string(lookup.1)),
                ("include_values", Value::Bool(true)),
            ]),
            &client.data_source_type(SECRET_GROUP),
        );
        let data = client
            .read_data_source(SECRET_GROUP, &config)
            .await
            .unwrap();
        assert!(
            data.state.as_ref().is_none_or(Value::is_null),
            "{context}: data source"
        );
        outcomes.push(Outcome {
            operation: "data source",
            errors: errors(&data.diagnostics),
        });
        assert_clean(context, &data.diagnostics);
    }
    outcomes
}

#[tokio::test]
async fn malformed_responses_are_clear_errors_and_keep_the_state() {
    let stub = Stub::start();
    let mut client = provider_client(&stub.base_url).await;

    // The stub's own answers are well-formed: every operation works.
    let ty = client.resource_type(SECRET_GROUP);
    let read = client
        .read(SECRET_GROUP, &prior_state(&ty), Vec::new())
        .await
        .unwrap();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);

    let mut calls = 0;
    for malformation in malformations() {
        stub.reset();
        for (method, path) in [
            (Method::GET, GROUPS),
            (Method::GET, GROUP),
            (Method::PUT, GROUPS),
            (Method::PUT, GROUP),
            (Method::POST, SECRETS),
            (Method::DELETE, GROUP),
        ] {
            stub.answer(method.clone(), path, (malformation.answer)(&method, path));
        }
        let outcomes = every_operation(&mut client, &stub, malformation.name).await;
        for outcome in &outcomes {
            assert!(
                !outcome.errors.is_empty(),
                "{} / {}: no error",
                malformation.name,
                outcome.operation
            );
            // A clear error: one of the API summaries, naming the call that failed.
            let first = &outcome.errors[0];
            assert!(
                first.starts_with("Unexpected TrueFoundry Response")
                    || first.starts_with("TrueFoundry Server Error"),
                "{} / {}: {first}",
                malformation.name,
                outcome.operation
            );
            assert!(first.contains("/v1/"), "{first}");
        }
        eprintln!(
            "{:<24} {}",
            malformation.name,
            outcomes
                .iter()
                .map(|o| o.errors[0]
                    .split(". ")
                    .next()
                    .unwrap_or_default()
                    .to_owned())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        calls += outcomes.len();
    }
    eprintln!(
        "malformed responses: {} kinds, {calls} provider calls, {} HTTP requests",
        malformations().len(),
        stub.request_count()
    );
}

#[tokio::test]
async fn a_malformed_answer_to_a_write_keeps_what_the_state_knows() {
    let stub = Stub::start();
    let mut client = provider_client(&stub.base_url).await;
    let ty = client.resource_type(SECRET_GROUP);
    let prior = prior_state(&ty);
    for malformation in malformations() {
        stub.reset();
        // Reads are fine; only the answer to the secrets PUT is broken.
        stub.answer(
            Method::PUT,
            GROUP,
            (malformation.answer)(&Method::PUT, GROUP),
        );
        let (planned, config) = planned_update(&ty);
        let update = client
            .apply(SECRET_GROUP, &prior, &planned, &config, Vec::new())
            .await
            .unwrap();
        assert!(update.diagnostics.has_errors(), "{}", malformation.name);
        assert_eq!(update.state.as_ref(), Some(&prior), "{}", malformation.name);
        assert_clean(malformation.name, &update.diagnostics);

        // A create whose secrets PUT answer is broken deletes the group it has just made
        // (nothing references it yet) and records nothing.
        let (planned, config) = planned_create(&ty);
        let create = client
            .apply(SECRET_GROUP, &Value::Null, &planned, &config, Vec::new())
            .await
            .unwrap();
        assert!(create.diagnostics.has_errors(), "{}", malformation.name);
        assert!(
            create.state.as_ref().is_none_or(Value::is_null),
            "{}: {:?}",
            malformation.name,
            create.state
        );
        assert!(
            stub.requests()
                .contains(&(Method::DELETE, GROUP.to_owned())),
            "{}: the new group is deleted again",
            malformation.name
        );
        assert_clean(malformation.name, &create.diagnostics);
    }
}
