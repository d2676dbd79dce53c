//! The bad-configuration corpus (`tests/it/fixtures/bad-configs/`): every file is a malformed
//! configuration with its expected diagnostics in header lines:
//!
//! - `# expect: <Summary> [| <attribute path>]`: an error the provider raises. Checked exactly
//!   through the protocol (the real provider in-process, as Terraform 1.0.3 and 1.11 call it:
//!   validate, then configure or plan when validation passed), and by summary in the output of
//!   the real `terraform plan`, which must fail without any request that writes. Errors about
//!   entries of the secret maps have no path (Terraform would print the lines around it, values
//!   and all): they name the keys in their text instead,
//! - which `# expect-named: <key>` lists: each must be in the detail of a diagnostic, and in the
//!   output of `terraform plan`.
//! - `# expect-terraform: <Summary> [| <attribute>]`: ImitatedTerraform itself refuses the file (wrong
//!   types, unknown arguments). In `.tf.json` files the header is the `"//"` comment property.
//!   The provider is also sent the ill-typed value directly and must refuse it.
//! - `# expect-warning: …` (files in `accepted/`): configurations that must be accepted, with
//!   at most the warnings listed — keys differing only in case, unknown roles, unknown values.

mod echo_corpus;
mod leaks;
mod listings;
pub mod responses;
mod role_shapes;
mod terminal;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;
use truefoundry_provider::diag::{Diagnostics, Severity};
use truefoundry_provider::provider::TrueFoundryProvider;
use truefoundry_provider::server::proto::tfplugin6 as pb;
use truefoundry_provider::value::{Type, Value};

use crate::support::canaries::{assert_no_canary, assert_no_canary_in_diagnostics};
use crate::support::emulator::Emulator;
use crate::support::hcl;
use crate::support::terraform::{Terraform, Workspace, terraform_binaries};
use crate::support::tfclient::{ImitatedTerraform, TfClient};

const SECRET_GROUP: &str = "truefoundry_secret_group";
/// Canaries some corpus files carry in values; no diagnostic may quote them.
const CANARIES: [&str; 2] = ["CANARY-oversize-7f3a", "CANARY-oversize-wo-91c2"];

/// (summary, attribute path as displayed; None when the header names none).
type Expected = (String, Option<String>);

struct Case {
    name: String,
    text: String,
    json: bool,
    errors: Vec<Expected>,
    terraform_errors: Vec<Expected>,
    warnings: Vec<Expected>,
    /// Keys the diagnostics must name in their text.
    named: Vec<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/bad-configs")
}

fn headers(text: &str, tag: &str) -> Vec<Expected> {
    let marker = format!("{tag}: ");
    let mut found = Vec::new();
    for line in text.lines() {
        let Some(at) = line.find(&marker) else {
            continue;
        };
        // Preceded by `# ` in HCL, or inside the `"//"` string in JSON (ends at its quote).
        let rest = &line[at + marker.len()..];
        let rest = if line.trim_start().starts_with('#') {
            rest
        } else {
            rest.split('"').next().unwrap_or(rest)
        };
        let (summary, path) = match rest.split_once(" | ") {
            Some((summary, path)) => (summary, Some(path.trim().to_owned())),
            None => (rest, None),
        };
        found.push((summary.trim().to_owned(), path));
    }
    found
}

fn load(dir: &Path) -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            Case {
                json: name.ends_with(".tf.json"),
                errors: headers(&text, "# expect"),
                terraform_errors: headers(&text, "expect-terraform"),
                warnings: headers(&text, "expect-warning"),
                named: headers(&text, "expect-named")
                    .into_iter()
                    .map(|(name, _)| name)
                    .collect(),
                name,
                text,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

fn bad_cases() -> Vec<Case> {
    let cases = load(&corpus_dir());
    for case in &cases {
        assert!(
            !case.errors.is_empty() || !case.terraform_errors.is_empty(),
            "{}: a bad configuration names the error it expects",
            case.name
        );
    }
    cases
}

fn accepted_cases() -> Vec<Case> {
    load(&corpus_dir().join("accepted"))
}

fn shown(diags: &Diagnostics, severity: Severity) -> Vec<Expected> {
    let mut found: Vec<Expected> = diags
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| (d.summary.clone(), d.path.as_ref().map(ToString::to_string)))
        .collect();
    found.sort();
    found
}

/// Text with every run of white space made one space, as Terraform's line wrapping leaves it.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Computed attributes a create plan does not know yet, as Terraform proposes them.
fn proposed_create(config: &Value, ty: &Type) -> Value {
    let mut proposed = config.clone();
    if let Type::Object(attributes) = ty {
        for name in attributes.keys() {
            let computed = matches!(
                name.as_str(),
                "id" | "fqn" | "tenant_name" | "secret_fqns" | "secret_versions"
            ) || (name == "integration_fqn" && config.get(name).is_null());
            if computed {
                proposed.set(name, Value::Unknown);
            }
        }
    }
    proposed
}

/// What the provider says about a corpus file, called as Terraform would call it.
async fn protocol_diagnostics(case: &Case, terraform: ImitatedTerraform) -> Diagnostics {
    let provider = Arc::new(TrueFoundryProvider::new());
    let mut client = TfClient::in_process(provider, terraform).await;
    client.get_schema().await.unwrap();
    let mut all = Diagnostics::new();
    let blocks = if case.json {
        json_blocks(&case.text)
    } else {
        hcl::parse(&case.text)
    };
    for block in &blocks {
        match (
            block.kind.as_str(),
            block.labels.first().map(String::as_str),
        ) {
            ("provider", _) => {
                let config = hcl::block_value(block, &client.provider_type());
                let diags = client.validate_provider(&config).await.unwrap();
                let failed = diags.has_errors();
                all.extend(diags);
                if !failed {
                    all.extend(client.configure(&config).await.unwrap());
                }
            }
            ("resource", Some(SECRET_GROUP)) => {
                let ty = client.resource_type(SECRET_GROUP);
                let config = hcl::block_value(block, &ty);
                let diags = client
                    .validate_resource(SECRET_GROUP, &config)
                    .await
                    .unwrap();
                let failed = diags.has_errors();
                all.extend(diags);
                if !failed {
                    let plan = client
                        .plan(
                            SECRET_GROUP,
                            &Value::Null,
                            &proposed_create(&config, &ty),
                            &config,
                            Vec::new(),
                        )
                        .await
                        .unwrap();
                    all.extend(plan.diagnostics);
                }
            }
            ("data", Some(SECRET_GROUP)) => {
                let config = hcl::block_value(block, &client.data_source_type(SECRET_GROUP));
                all.extend(
                    client
                        .validate_data_source(SECRET_GROUP, &config)
                        .await
                        .unwrap(),
                );
            }
            (kind, label) => panic!("{}: unexpected block {kind} {label:?}", case.name),
        }
    }
    assert_no_canary_in_diagnostics(&CANARIES, &case.name, &all);
    all
}

/// The blocks of a JSON configuration, as the HCL reader would give them (typed values only).
fn json_blocks(text: &str) -> Vec<hcl::Block> {
    let json: Json = serde_json::from_str(text).unwrap();
    let mut blocks = Vec::new();
    for (kind, labelled) in json.as_object().unwrap() {
        let bodies: Vec<(Vec<String>, &Json)> = match kind.as_str() {
            "//" => continue,
            "provider" => labelled
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, body)| (vec![name.clone()], body))
                .collect(),
            _ => labelled
                .as_object()
                .unwrap()
                .iter()
                .flat_map(|(ty, named)| {
                    named
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(move |(name, body)| (vec![ty.clone(), name.clone()], body))
                })
                .collect(),
        };
        for (labels, body) in bodies {
            blocks.push(hcl::Block {
                kind: kind.clone(),
                labels,
                attributes: body
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), json_expr(v)))
                    .collect(),
                blocks: Vec::new(),
            });
        }
    }
    blocks
}

/// JSON as an HCL expression, converting scalars as Terraform's type conversion would.
fn json_expr(json: &Json) -> hcl::Expr {
    match json {
        Json::Null => hcl::Expr::Null,
        Json::Bool(b) => hcl::Expr::Bool(*b),
        Json::Number(n) => hcl::Expr::Num(n.to_string()),
        Json::String(s) => hcl::Expr::Str(s.clone()),
        Json::Array(items) => hcl::Expr::Tuple(items.iter().map(json_expr).collect()),
        Json::Object(entries) => hcl::Expr::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), json_expr(v)))
                .collect(),
        ),
    }
}

/// msgpack of a JSON value as it stands: the ill-typed value Terraform would have refused.
fn raw_msgpack(json: &Json) -> rmpv::Value {
    match json {
        Json::Null => rmpv::Value::Nil,
        Json::Bool(b) => rmpv::Value::from(*b),
        Json::Number(n) => n
            .as_i64()
            .map(rmpv::Value::from)
            .unwrap_or_else(|| rmpv::Value::from(n.as_f64().unwrap())),
        Json::String(s) => rmpv::Value::from(s.as_str()),
        Json::Array(items) => rmpv::Value::Array(items.iter().map(raw_msgpack).collect()),
        Json::Object(entries) => rmpv::Value::Map(
            entries
                .iter()
                .map(|(k, v)| (rmpv::Value::from(k.as_str()), raw_msgpack(v)))
                .collect(),
        ),
    }
}

/// Sends the ill-typed block of a `.tf.json` file straight to the provider, skipping the type
/// check Terraform makes: the provider's decoder must refuse it, naming where.
async fn ill_typed_diagnostics(case: &Case) -> Diagnostics {
    let mut client = TfClient::in_process(
        Arc::new(TrueFoundryProvider::new()),
        ImitatedTerraform::V1_11,
    )
    .await;
    let schema = client.get_schema().await.unwrap();
    let json: Json = serde_json::from_str(&case.text).unwrap();
    let mut all = Diagnostics::new();
    let complete = |body: &Json, schema: &pb::Schema| {
        let mut body = body.as_object().unwrap().clone();
        for attribute in &schema.block.as_ref().unwrap().attributes {
            body.entry(attribute.name.clone()).or_insert(Json::Null);
        }
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &raw_msgpack(&Json::Object(body))).unwrap();
        Some(pb::DynamicValue {
            msgpack: bytes,
            json: Vec::new(),
        })
    };
    if let Some(body) = json.pointer("/provider/truefoundry") {
        let config = complete(body, schema.provider.as_ref().unwrap());
        let response = client
            .provider
            .validate_provider_config(pb::validate_provider_config::Request { config })
            .await
            .unwrap()
            .into_inner();
        all.extend(
            truefoundry_provider::server::convert::diagnostics_from_proto(&response.diagnostics),
        );
    } else if let Some(body) = json.pointer("/resource/truefoundry_secret_group/g") {
        let config = complete(body, &schema.resource_schemas[SECRET_GROUP]);
        let response = client
            .provider
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: SECRET_GROUP.into(),
                config,
                client_capabilities: None,
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(
            truefoundry_provider::server::convert::diagnostics_from_proto(&response.diagnostics),
        );
    } else if let Some(body) = json.pointer("/data/truefoundry_secret_group/d") {
        let config = complete(body, &schema.data_source_schemas[SECRET_GROUP]);
        let response = client
            .provider
            .validate_data_resource_config(pb::validate_data_resource_config::Request {
                type_name: SECRET_GROUP.into(),
                config,
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(
            truefoundry_provider::server::convert::diagnostics_from_proto(&response.diagnostics),
        );
    }
    all
}

#[tokio::test]
async fn corpus_diagnostics_through_the_protocol_have_exact_paths() {
    let cases = bad_cases();
    assert!(cases.len() >= 40, "the corpus has {} files", cases.len());
    let env_set = ["TFY_HOST", "TFY_API_KEY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    let mut checked = 0;
    for case in &cases {
        if !case.errors.is_empty() {
            if env_set && case.text.contains("provider \"truefoundry\"") {
                eprintln!(
                    "{}: skipped, TFY_HOST/TFY_API_KEY set in this shell",
                    case.name
                );
                continue;
            }
            for terraform in [ImitatedTerraform::V1_0_3, ImitatedTerraform::V1_11] {
                let diags = protocol_diagnostics(case, terraform).await;
                let mut errors = shown(&diags, Severity::Error);
                if terraform == ImitatedTerraform::V1_0_3 {
                    // Without the capability, any write-only value is refused as well.
                    errors.retain(|(summary, _)| summary != "Write-Only Attribute Not Supported");
                }
                let mut expected = case.errors.clone();
                expected.sort();
                assert_eq!(
                    errors, expected,
                    "{} with {terraform:?}: {diags:#?}",
                    case.name
                );
                for name in &case.named {
                    assert!(
                        diags.iter().any(|d| d.detail.contains(name.as_str())),
                        "{}: no diagnostic names {name:?}: {diags:#?}",
                        case.name
                    );
                }
                checked += 1;
            }
        } else if case.json {
            let diags = ill_typed_diagnostics(case).await;
            let errors: Vec<_> = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            assert!(
                !errors.is_empty(),
                "{}: accepted ill-typed value",
                case.name
            );
            for (_, attribute) in &case.terraform_errors {
                let attribute = attribute.as_deref().unwrap_or_default();
                assert!(
                    errors
                        .iter()
                        .any(|d| d.summary == "Invalid Value From Terraform"
                            && d.detail.contains(attribute)),
                    "{}: the decoder's error does not name {attribute}: {diags:#?}",
                    case.name
                );
            }
            checked += 1;
        }
    }
    eprintln!(
        "bad-config corpus: {} files, {checked} protocol checks",
        cases.len()
    );
}

#[tokio::test]
async fn accepted_configurations_raise_only_their_warnings() {
    let cases = accepted_cases();
    for case in &cases {
        for terraform in [ImitatedTerraform::V1_0_3, ImitatedTerraform::V1_11] {
            let diags = protocol_diagnostics(case, terraform).await;
            assert!(
                shown(&diags, Severity::Error).is_empty(),
                "{} with {terraform:?}: {diags:#?}",
                case.name
            );
            let mut expected = case.warnings.clone();
            expected.sort();
            assert_eq!(
                shown(&diags, Severity::Warning),
                expected,
                "{} with {terraform:?}",
                case.name
            );
        }
    }
    eprintln!("accepted corpus: {} files", cases.len());
}

/// The Terraform clients the corpus runs with: 1.0.3 by default, every one with
/// `TFY_LONG_TESTS=1`.
fn corpus_clients() -> Vec<&'static Terraform> {
    let all = terraform_binaries();
    if std::env::var_os("TFY_LONG_TESTS").is_some() {
        all.iter().collect()
    } else {
        all.iter().take(1).collect()
    }
}

fn workspace_for(terraform: &Terraform, emulator: &Emulator, case: &Case) -> Workspace {
    let file = if case.json { "main.tf.json" } else { "main.tf" };
    let mut ws = Workspace::with_files(terraform, &[(file, &case.text)]);
    let has_provider = if case.json {
        case.text.contains("\"provider\"")
    } else {
        case.text.contains("provider \"truefoundry\"")
    };
    if !has_provider {
        emulator.set_provider_env(&mut ws);
    }
    ws
}

/// Runs `body` over `cases` on two threads (the runs are independent Terraform processes).
fn in_parallel<'a>(cases: &'a [Case], body: impl Fn(&'a Case) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(at) else { break };
                    body(case);
                }
            });
        }
    });
}

#[test]
fn terraform_plan_refuses_every_corpus_file_without_writing() {
    let cases = bad_cases();
    let emulator = Emulator::start();
    let started = std::time::Instant::now();
    let mut runs = 0;
    for terraform in corpus_clients() {
        eprintln!("corpus with {terraform}");
        in_parallel(&cases, |case| {
            let ws = workspace_for(terraform, &emulator, case);
            let run = ws.run(&["plan"]);
            assert!(
                run.code.is_some_and(|code| code != 0),
                "{}: plan did not fail\n{run}",
                case.name
            );
            let output = run.output();
            for (summary, _) in case.errors.iter().chain(&case.terraform_errors) {
                assert!(
                    output.contains(summary.as_str()),
                    "{}: {summary:?} not in the output\n{run}",
                    case.name
                );
            }
            for (_, attribute) in &case.terraform_errors {
                if let Some(attribute) = attribute {
                    assert!(output.contains(attribute.as_str()), "{}\n{run}", case.name);
                }
            }
            for name in &case.named {
                assert!(
                    one_line(&output).contains(&one_line(name)),
                    "{}: {name:?} not named in the output\n{run}",
                    case.name
                );
            }
            let place = format!("{}: the output of `terraform plan`", case.name);
            assert_no_canary(&CANARIES, &place, &output);
        });
        runs += cases.len();
    }
    let requests = emulator.requests();
    let writes: Vec<_> = requests.iter().filter(|r| r.is_write()).collect();
    assert!(writes.is_empty(), "requests that write: {writes:?}");
    eprintln!(
        "corpus: {runs} failing `terraform plan` runs in {:?}, {} API requests, 0 writes",
        started.elapsed(),
        requests.len()
    );
}

#[test]
fn terraform_plan_accepts_the_accepted_configurations() {
    let cases = accepted_cases();
    let emulator = Emulator::start();
    let mut runs = 0;
    for terraform in corpus_clients() {
        in_parallel(&cases, |case| {
            let ws = workspace_for(terraform, &emulator, case);
            let run = ws.run(&["plan"]).expect_success();
            let output = run.output();
            for (summary, _) in &case.warnings {
                assert!(
                    output.contains(summary.as_str()),
                    "{}: warning {summary:?} not shown\n{run}",
                    case.name
                );
            }
        });
        runs += cases.len();
    }
    let writes: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "a plan wrote: {writes:?}");
    eprintln!("accepted corpus: {runs} successful `terraform plan` runs");
}

#[test]
fn corpus_headers_parse() {
    let text = "# expect: Invalid Role | collaborators[0].role_id\n# expect: Invalid Secret Key\n# expect-named: BAD KEY\n";
    assert_eq!(
        headers(text, "# expect"),
        vec![
            (
                "Invalid Role".to_owned(),
                Some("collaborators[0].role_id".to_owned())
            ),
            ("Invalid Secret Key".to_owned(), None)
        ]
    );
    assert_eq!(
        headers(text, "expect-named"),
        vec![("BAD KEY".to_owned(), None)]
    );
    let json = r#"{"//": "expect-terraform: Incorrect attribute value type | secrets", "x": 1}"#;
    assert_eq!(
        headers(json, "expect-terraform"),
        vec![(
            "Incorrect attribute value type".to_owned(),
            Some("secrets".to_owned())
        )]
    );
}
