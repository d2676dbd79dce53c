//! Fuzz harnesses, proptest-based: cargo-fuzz needs a nightly toolchain and this project builds
//! on stable only. Three targets, each fed arbitrary bytes and mutations of valid inputs:
//!
//! - `dynamic_value`: the DynamicValue decoders (`decode_msgpack`, `decode_json`) with the real
//!   resource schema type; whatever decodes must encode and decode back to the same value.
//! - `upgrade_state`: stored state JSON through UpgradeResourceState, served in-process by the
//!   real provider, as Terraform sends it on every run.
//! - `api_response`: any status and body from a stub server, through the client's operations;
//!   errors must never carry the API key or a value the request sent.
//!
//! No input may panic. The default `cargo test` run tries a few hundred inputs per target with a
//! fixed seed; `scripts/fuzz [SECONDS]` runs each target for a time with random seeds and prints
//! executions per target. Every file in `fuzz/corpus/<target>/` is replayed first, and a failing
//! input is saved there (shrunk) so it stays a regression test once fixed.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use truefoundry_provider::client::{
    Client, ClientConfig, ListGroupsQuery, ListSecretsQuery, SecretUpdate, SecretValue,
};
use truefoundry_provider::provider::resources::secret_group::schema::resource_schema;
use truefoundry_provider::value::{self, Type, Value};

use crate::bad_input::responses::{API_KEY_CANARY, prior_state};
use crate::support::stub::{Canned, Stub};
use crate::support::tfclient::{ImitatedTerraform, TfClient};

const SENT_CANARY: &str = "CANARY-fuzz-sent-5e0f";
const STATE_CANARY: &str = "CANARY-fuzz-state-a7b3";

/// How long each target runs: `PROPTEST_CASES` inputs per round (256 by default), one round
/// with a fixed seed, or rounds with fresh seeds until `TFY_FUZZ_SECONDS` have passed.
fn budget() -> (u32, Option<Duration>) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let seconds = std::env::var("TFY_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    (cases, seconds)
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The corpus files of a target, sorted.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir(target))
        .map(|dir| {
            dir.map(|entry| entry.unwrap().path())
                .map(|path| {
                    (
                        path.file_name().unwrap().to_string_lossy().into_owned(),
                        std::fs::read(&path).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// One way of damaging a valid input.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
    Repeat(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Repeat(a, b)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match m {
            Mutation::Flip(i, bit) => bytes[i.index(len)] ^= 1 << bit,
            Mutation::Set(i, b) => bytes[i.index(len)] = *b,
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::Delete(i) => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
            Mutation::Repeat(a, b) => {
                let (a, b) = (a.index(len), b.index(len));
                let (start, end) = (a.min(b), a.max(b) + 1);
                let copy = bytes[start..end.min(start + 64)].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

/// Arbitrary bytes, or a seed (valid input or corpus file) with a few mutations.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        3 => (
            prop::sample::select(seeds),
            prop::collection::vec(mutation(), 0..6)
        )
            .prop_map(|(seed, mutations)| mutate(seed, &mutations)),
    ]
}

/// Replays the corpus, then runs the target for its budget; returns the executions.
fn run_target(
    target: &str,
    valid: Vec<Vec<u8>>,
    check: impl Fn(&[u8]) -> Result<(), String>,
) -> u64 {
    let corpus = corpus(target);
    for (name, bytes) in &corpus {
        if let Err(problem) = check(bytes) {
            panic!("{target}: corpus file {name}: {problem}");
        }
    }
    let mut seeds = valid;
    seeds.extend(corpus.iter().map(|(_, bytes)| bytes.clone()));
    let strategy = inputs(seeds);

    let (cases, seconds) = budget();
    let started = Instant::now();
    let executions = std::cell::Cell::new(corpus.len() as u64);
    loop {
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 2000,
            ..Config::default()
        };
        let mut runner = match seconds {
            None => {
                TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
            }
            Some(_) => TestRunner::new(config),
        };
        let outcome = runner.run(&strategy, |input| {
            executions.set(executions.get() + 1);
            check(&input).map_err(TestCaseError::fail)
        });
        if let Err(error) = outcome {
            let (reason, input) = match error {
                TestError::Fail(reason, input) => (reason.to_string(), input),
                TestError::Abort(reason) => panic!("{target}: aborted: {reason}"),
            };
            let name = format!("crash-{:016x}", fnv(&input));
            let _ = std::fs::create_dir_all(corpus_dir(target));
            std::fs::write(corpus_dir(target).join(&name), &input).unwrap();
            panic!("{target}: {reason}; input saved as fuzz/corpus/{target}/{name}");
        }
        if seconds.is_none_or(|limit| started.elapsed() >= limit) {
            break;
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "fuzz target {target}: {} executions in {:.1?} ({:.0}/s), corpus {} files",
        executions.get(),
        elapsed,
        executions.get() as f64 / elapsed.as_secs_f64(),
        corpus.len()
    );
    executions.get()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

fn resource_type() -> Type {
    resource_schema().value_type()
}

/// Valid states and plans of the resource, with unknowns and canary values.
fn valid_values(ty: &Type) -> Vec<Value> {
    let prior = prior_state(ty);
    let mut planned = prior.clone();
    planned.set("secrets", Value::map([("K", Value::string(STATE_CANARY))]));
    // As a configuration holds it: write-only values are in configs only, unknown until apply.
    planned.set("secrets_wo", Value::map([("W", Value::Unknown)]));
    planned.set(
        "secrets_wo_versions",
        Value::map([("W", Value::string("2"))]),
    );
    planned.set(
        "initial_secrets",
        Value::map([("P", Value::string(STATE_CANARY))]),
    );
    planned.set(
        "secret_versions",
        Value::map([
            ("K", Value::Unknown),
            ("P", Value::Number(1.into())),
            ("W", Value::Number(3.into())),
        ]),
    );
    planned.set(
        "collaborators",
        Value::Set(vec![Value::object([
            ("subject", Value::string("team:payments")),
            ("role_id", Value::string("secret-group-admin")),
        ])]),
    );
    let mut unknown_secrets = prior.clone();
    unknown_secrets.set("secrets", Value::Unknown);
    unknown_secrets.set("id", Value::Unknown);
    vec![prior, planned, unknown_secrets, Value::Null]
}

fn leaks(text: &str) -> bool {
    [STATE_CANARY, SENT_CANARY, API_KEY_CANARY]
        .iter()
        .any(|canary| text.contains(canary))
}

/// decode → encode → decode gives the same value, for both encodings.
fn check_dynamic_value(bytes: &[u8], ty: &Type) -> Result<(), String> {
    match value::decode_msgpack(bytes, ty) {
        Ok(decoded) => {
            let again = value::encode_msgpack(&decoded, ty)
                .map_err(|e| format!("msgpack re-encode failed at {}: {}", e.path, e.message))?;
            let back = value::decode_msgpack(&again, ty)
                .map_err(|e| format!("msgpack re-decode failed: {}", e.message))?;
            if back != decoded {
                return Err(format!(
                    "msgpack round trip changed {decoded:?} to {back:?}"
                ));
            }
        }
        Err(error) if leaks(&error.message) || leaks(&error.path.to_string()) => {
            return Err("a msgpack decode error quotes a value".into());
        }
        Err(_) => {}
    }
    match value::decode_json(bytes, ty) {
        Ok(decoded) => {
            // Stored state is wholly known; JSON has no unknowns to carry.
            if decoded.is_wholly_known() {
                let again = value::encode_json(&decoded, ty)
                    .map_err(|e| format!("JSON re-encode failed at {}: {}", e.path, e.message))?;
                let back = value::decode_json(&again, ty)
                    .map_err(|e| format!("JSON re-decode failed: {}", e.message))?;
                if back != decoded {
                    return Err(format!("JSON round trip changed {decoded:?} to {back:?}"));
                }
            }
        }
        Err(error) if leaks(&error.message) || leaks(&error.path.to_string()) => {
            return Err("a JSON decode error quotes a value".into());
        }
        Err(_) => {}
    }
    Ok(())
}

#[test]
fn fuzz_dynamic_value_decoder() {
    let ty = resource_type();
    let mut valid = Vec::new();
    for v in valid_values(&ty) {
        valid.push(value::encode_msgpack(&v, &ty).unwrap());
        if v.is_wholly_known() {
            valid.push(value::encode_json(&v, &ty).unwrap());
        }
    }
    let dynamic = Type::Dynamic;
    run_target("dynamic_value", valid, |bytes| {
        check_dynamic_value(bytes, &ty)?;
        // The same bytes read as `dynamic`: the type travels with the value.
        check_dynamic_value(bytes, &dynamic)
    });
}

#[test]
fn fuzz_upgrade_resource_state() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = RefCell::new(runtime.block_on(async {
        let provider =
            std::sync::Arc::new(truefoundry_provider::provider::TrueFoundryProvider::new());
        let mut client = TfClient::in_process(provider, ImitatedTerraform::V1_11).await;
        client.get_schema().await.unwrap();
        client
    }));
    let ty = client.borrow().resource_type("truefoundry_secret_group");
    let mut valid: Vec<Vec<u8>> = valid_values(&ty)
        .iter()
        .filter(|v| v.is_wholly_known())
        .map(|v| value::encode_json(v, &ty).unwrap())
        .collect();
    // What schema version 0 really stored: the committed state fixture's attributes.
    let fixture = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/fixtures/state-v0/terraform-1.11.tfstate"),
    )
    .unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    valid.push(
        fixture["resources"][0]["instances"][0]["attributes"]
            .to_string()
            .into_bytes(),
    );
    run_target("upgrade_state", valid, |bytes| {
        let json = String::from_utf8_lossy(bytes);
        for version in [0, 1] {
            let result = runtime
                .block_on(
                    client
                        .borrow_mut()
                        .upgrade("truefoundry_secret_group", version, &json),
                )
                .map_err(|e| format!("UpgradeResourceState failed as a call: {e}"))?;
            for d in result.diagnostics.iter() {
                if leaks(&d.summary) || leaks(&d.detail) {
                    return Err(format!("a diagnostic quotes a value: {d:?}"));
                }
            }
            if result.diagnostics.has_errors()
                && result.state.as_ref().is_some_and(|s| !s.is_null())
            {
                return Err("a state came back with an error".into());
            }
        }
        Ok(())
    });
}

const STATUSES: [u16; 16] = [
    200, 200, 200, 200, 201, 204, 302, 400, 401, 403, 404, 409, 422, 424, 429, 500,
];

/// Input layout: status selector, operation selector, then the body.
fn check_api_response(
    runtime: &tokio::runtime::Runtime,
    stub: &Stub,
    client: &Client,
    bytes: &[u8],
) -> Result<(), String> {
    let (status, operation, body) = match bytes {
        [s, o, body @ ..] => (STATUSES[*s as usize % STATUSES.len()], *o % 7, body),
        _ => (200, 0, bytes),
    };
    let content_type = if body.first() == Some(&b'<') {
        "text/html"
    } else {
        "application/json"
    };
    stub.answer_everything(Some(Canned::raw(status, content_type, body.to_vec())));
    let outcome: Result<(), String> = runtime.block_on(async {
        let e = |e: truefoundry_provider::client::Error| e.to_string();
        match operation {
            0 => client.get_secret_group("sg-1").await.map(drop).map_err(e),
            1 => client
                .list_secret_groups(&ListGroupsQuery {
                    fqn: None,
                    search: Some("payments".into()),
                })
                .await
                .map(drop)
                .map_err(e),
            2 => client
                .find_secret_group_by_fqn("acme:payments-acme")
                .await
                .map(drop)
                .map_err(e),
            3 => client
                .list_secrets(&ListSecretsQuery {
                    secret_group_id: Some("sg-1".into()),
                    secret_fqns: Vec::new(),
                    with_value: true,
                })
                .await
                .map(drop)
                .map_err(e),
            4 => client
                .set_secrets(
                    "sg-1",
                    &[
                        SecretUpdate {
                            key: "K".into(),
                            value: Some(SecretValue::new(SENT_CANARY)),
                        },
                        SecretUpdate {
                            key: "L".into(),
                            value: None,
                        },
                    ],
                )
                .await
                .map(drop)
                .map_err(e),
            5 => client.delete_secret_group("sg-1", false).await.map_err(e),
            _ => client
                .delete_secret("s-1", false)
                .await
                .map(drop)
                .map_err(e),
        }
    });
    if let Err(text) = outcome {
        // The key goes with every request; the value only with the write (op 4). A value that
        // comes back in the answer to another request is just text to this client.
        if text.contains(API_KEY_CANARY) || (operation == 4 && text.contains(SENT_CANARY)) {
            return Err(format!(
                "an error quotes the API key or a sent value: {text}"
            ));
        }
    }
    Ok(())
}

#[test]
fn fuzz_api_response_decoder() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stub = Stub::start();
    // The stub's task runs on this current-thread runtime whenever a call is driven by it.
    let client = Client::new(ClientConfig {
        host: stub.base_url.clone(),
        api_key: SecretValue::new(API_KEY_CANARY),
        max_retries: 0,
        request_timeout: Duration::from_secs(10),
        ca_cert_pem: None,
        terraform_version: "fuzz".into(),
    })
    .unwrap();
    let with = |status: u8, op: u8, body: String| {
        let mut bytes = vec![status, op];
        bytes.extend(body.into_bytes());
        bytes
    };
    let group = crate::support::stub::group_json().to_string();
    let secret = crate::support::stub::secret_json().to_string();
    let valid = vec![
        with(0, 0, format!("{{\"data\": {group}}}")),
        with(
            0,
            1,
            format!("{{\"data\": [{group}], \"pagination\": {{\"total\": 1}}}}"),
        ),
        with(
            0,
            3,
            format!("{{\"data\": [{secret}], \"pagination\": {{\"total\": 1}}}}"),
        ),
        with(0, 4, format!("{{\"data\": {group}}}")),
        with(0, 5, "{}".into()),
        with(0, 6, "1".into()),
        // Error bodies that echo the request: the key and the sent value must be redacted.
        with(
            12,
            4,
            format!(
                "{{\"statusCode\": 422, \"message\": \"bad value {SENT_CANARY} for K\", \"details\": [{{\"field\": \"{SENT_CANARY}\"}}]}}"
            ),
        ),
        with(
            15,
            4,
            format!("<html><title>token {API_KEY_CANARY} {SENT_CANARY}</title></html>"),
        ),
        with(
            8,
            0,
            format!("{{\"error\": \"Bearer {API_KEY_CANARY} rejected\"}}"),
        ),
        with(
            0,
            4,
            format!("{{\"statusCode\": 400, \"message\": \"{SENT_CANARY}\"}}"),
        ),
    ];
    run_target("api_response", valid, |bytes| {
        check_api_response(&runtime, &stub, &client, bytes)
    });
}
