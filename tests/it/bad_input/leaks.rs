//! Secrets never leak through error paths: the provider binary, launched as Terraform launches
//! it with `TF_LOG=trace`, is driven against a stub that echoes request bodies (and the API key)
//! in its error messages, given an oversize value and undecodable DynamicValues holding canaries.
//! No canary may appear in any diagnostic or in any line the provider writes to stderr.

use axum::http::Method;
use serde_json::json;
use truefoundry_provider::diag::Diagnostics;
use truefoundry_provider::server::convert::diagnostics_from_proto;
use truefoundry_provider::server::proto::tfplugin6 as pb;
use truefoundry_provider::value::Value;

use super::responses::{API_KEY_CANARY, prior_state, secrets};
use crate::support::canaries::{assert_no_canary, assert_no_canary_in_diagnostics};
use crate::support::hcl::conform;
use crate::support::stub::{
    Canned, GROUP, GROUP_ID, GROUP_NAME, GROUPS, REQUEST_BODY, STORED_CANARY, Stub,
};
use crate::support::tfclient::{ImitatedTerraform, Launch, PluginProcess, TfClient};

const SECRET_GROUP: &str = "truefoundry_secret_group";
const SECRET: &str = "truefoundry_secret";
const SENT_CANARY: &str = "CANARY-leak-sent-0d4e";
const OVERSIZE_CANARY: &str = "CANARY-leak-oversize-62f1";
const DECODE_CANARY: &str = "CANARY-leak-decode-b8a0";

fn canaries() -> [&'static str; 5] {
    [
        API_KEY_CANARY,
        SENT_CANARY,
        OVERSIZE_CANARY,
        DECODE_CANARY,
        STORED_CANARY,
    ]
}

fn raw(entries: &[(&str, rmpv::Value)]) -> Option<pb::DynamicValue> {
    let map = rmpv::Value::Map(
        entries
            .iter()
            .map(|(k, v)| (rmpv::Value::from(*k), v.clone()))
            .collect(),
    );
    let mut msgpack = Vec::new();
    rmpv::encode::write_value(&mut msgpack, &map).unwrap();
    Some(pb::DynamicValue {
        msgpack,
        json: Vec::new(),
    })
}

#[tokio::test]
async fn canaries_reach_no_diagnostic_and_no_log_line_at_trace() {
    let stub = Stub::start();
    let process = PluginProcess::start(Launch {
        env: vec![("TF_LOG".into(), "trace".into())],
        ..Launch::default()
    })
    .await
    .unwrap();
    let mut client: TfClient = process.connect(ImitatedTerraform::V1_11).await.unwrap();
    client.get_schema().await.unwrap();
    let mut all = Diagnostics::new();
    let mut paths = Vec::new();

    let config = conform(
        &Value::object([
            ("host", Value::string(stub.base_url.clone())),
            ("api_key", Value::string(API_KEY_CANARY)),
            ("max_retries", Value::Number(0.into())),
        ]),
        &client.provider_type(),
    );
    assert!(client.configure(&config).await.unwrap().is_empty());
    let ty = client.resource_type(SECRET_GROUP);

    // 1. A large value, stored or write-only, is the API's to judge (each secret store has its
    // own limit): validation says nothing about it, so nothing can quote it.
    let big = format!("{}{OVERSIZE_CANARY}", "x".repeat(70_000));
    for map in ["secrets", "secrets_wo"] {
        let oversize = conform(
            &Value::object([
                ("name", Value::string("payments-acme")),
                (map, secrets(&[("BIG", &big)])),
            ]),
            &ty,
        );
        let diags = client
            .validate_resource(SECRET_GROUP, &oversize)
            .await
            .unwrap();
        assert!(diags.is_empty(), "{map}: {diags:?}");
    }

    // 2. DynamicValues that do not decode, holding canaries where values go.
    let canary = rmpv::Value::from(DECODE_CANARY);
    let undecodable = [
        raw(&[("name", canary.clone()), ("secrets", canary.clone())]),
        raw(&[
            ("name", canary.clone()),
            (
                "secrets",
                rmpv::Value::Map(vec![(
                    rmpv::Value::from("K"),
                    rmpv::Value::Array(vec![canary.clone()]),
                )]),
            ),
        ]),
        raw(&[("name", rmpv::Value::Array(vec![canary.clone()]))]),
    ];
    for config in undecodable {
        let response = client
            .provider
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: SECRET_GROUP.into(),
                config: config.clone(),
                client_capabilities: None,
            })
            .await
            .unwrap()
            .into_inner();
        let diags = diagnostics_from_proto(&response.diagnostics);
        assert_eq!(diags.0[0].summary, "Invalid Value From Terraform");
        all.extend(diags);
        let response = client
            .provider
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: SECRET_GROUP.into(),
                prior_state: config.clone(),
                planned_state: config.clone(),
                config,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(diagnostics_from_proto(&response.diagnostics));
        paths.push("undecodable DynamicValue");
    }

    // 3. An update the API refuses, echoing the request body (with the new value).
    let echo = format!(
        "{{\"statusCode\": 422, \"message\": \"cannot store {REQUEST_BODY}\", \"details\": [{{\"field\": \"{REQUEST_BODY}\"}}]}}"
    );
    stub.answer(
        Method::PUT,
        GROUP,
        Canned::raw(422, "application/json", echo.clone()),
    );
    let prior = prior_state(&ty);
    let mut planned = prior.clone();
    planned.set("secrets", secrets(&[("K", SENT_CANARY)]));
    planned.set("secret_versions", Value::map([("K", Value::Unknown)]));
    let update_config = conform(
        &Value::object([
            ("name", Value::string("payments-acme")),
            ("secrets", secrets(&[("K", SENT_CANARY)])),
        ]),
        &ty,
    );
    let update = client
        .apply(SECRET_GROUP, &prior, &planned, &update_config, Vec::new())
        .await
        .unwrap();
    assert!(update.diagnostics.has_errors());
    assert!(
        update.diagnostics.0[0]
            .detail
            .contains("not shown because it repeats a secret"),
        "{:?}",
        update.diagnostics
    );
    all.extend(update.diagnostics);
    paths.push("update refused with an echo");

    // The same refusal of a `truefoundry_secret` write, which goes through the group's queue.
    let secret_config = conform(
        &Value::object([
            ("secret_group_id", Value::string(GROUP_ID)),
            ("key", Value::string("S")),
            ("value", Value::string(SENT_CANARY)),
        ]),
        &client.resource_type(SECRET),
    );
    let mut secret_planned = secret_config.clone();
    for name in ["id", "fqn", "version"] {
        secret_planned.set(name, Value::Unknown);
    }
    let secret_create = client
        .apply(
            SECRET,
            &Value::Null,
            &secret_planned,
            &secret_config,
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(
        secret_create.diagnostics.0[0]
            .detail
            .contains("not shown because it repeats a secret"),
        "the PUT was refused with the echo: {:?}",
        secret_create.diagnostics
    );
    all.extend(secret_create.diagnostics);
    paths.push("truefoundry_secret write refused with an echo");

    // 4. A create whose secrets write fails with an HTML page echoing the body.
    stub.answer(
        Method::PUT,
        GROUP,
        Canned::raw(
            500,
            "text/html",
            format!("<html><title>failed {REQUEST_BODY}</title></html>"),
        ),
    );
    let create_config = conform(
        &Value::object([
            ("name", Value::string("new-acme")),
            ("secrets", secrets(&[("N", SENT_CANARY)])),
        ]),
        &ty,
    );
    let mut create_planned = create_config.clone();
    for name in ["id", "fqn", "tenant_name", "secret_fqns"] {
        create_planned.set(name, Value::Unknown);
    }
    create_planned.set(
        "integration_fqn",
        Value::string("internal:aws:aws-1:secret-store:internal-secret-store"),
    );
    create_planned.set("secret_versions", Value::map([("N", Value::Unknown)]));
    let create = client
        .apply(
            SECRET_GROUP,
            &Value::Null,
            &create_planned,
            &create_config,
            Vec::new(),
        )
        .await
        .unwrap();
    assert!(create.diagnostics.has_errors());
    all.extend(create.diagnostics);
    paths.push("create with a failing secrets write");

    // 5. The API echoing the API key.
    stub.answer(
        Method::GET,
        GROUP,
        Canned::json(
            401,
            json!({"statusCode": 401, "message": format!("token Bearer {API_KEY_CANARY} is revoked")}),
        ),
    );
    let read = client.read(SECRET_GROUP, &prior, Vec::new()).await.unwrap();
    assert_eq!(
        read.diagnostics.0[0].summary,
        "TrueFoundry Authentication Failed"
    );
    all.extend(read.diagnostics);
    paths.push("401 echoing the key");
    stub.reset();

    // 6. Reads that succeed with values: state gets them, logs do not.
    let read = client.read(SECRET_GROUP, &prior, Vec::new()).await.unwrap();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    let state = read.state.unwrap();
    assert_eq!(state.get("secrets"), &secrets(&[("K", STORED_CANARY)]));
    all.extend(read.diagnostics);
    let import = client.import(SECRET_GROUP, GROUP_ID).await.unwrap();
    assert_eq!(import.states.len(), 1, "{:?}", import.diagnostics);
    all.extend(import.diagnostics);
    let missing = client.import(SECRET_GROUP, "sg-missing").await.unwrap();
    assert!(missing.diagnostics.has_errors());
    all.extend(missing.diagnostics);
    let data_config = conform(
        &Value::object([
            ("id", Value::string(GROUP_ID)),
            ("include_values", Value::Bool(true)),
        ]),
        &client.data_source_type(SECRET_GROUP),
    );
    let data = client
        .read_data_source(SECRET_GROUP, &data_config)
        .await
        .unwrap();
    assert!(!data.diagnostics.has_errors(), "{:?}", data.diagnostics);
    all.extend(data.diagnostics);
    let ephemeral_config = conform(
        &Value::object([("id", Value::string(GROUP_ID))]),
        &client.ephemeral_type(SECRET_GROUP),
    );
    let opened = client
        .open_ephemeral(SECRET_GROUP, &ephemeral_config)
        .await
        .unwrap();
    assert!(!opened.diagnostics.has_errors(), "{:?}", opened.diagnostics);
    all.extend(opened.diagnostics);
    let secret_data_config = conform(
        &Value::object([
            (
                "fqn",
                Value::string(format!("tfy-secret://acme:{GROUP_NAME}:K")),
            ),
            ("include_value", Value::Bool(true)),
        ]),
        &client.data_source_type(SECRET),
    );
    let secret_data = client
        .read_data_source(SECRET, &secret_data_config)
        .await
        .unwrap();
    assert!(
        !secret_data.diagnostics.has_errors(),
        "{:?}",
        secret_data.diagnostics
    );
    assert_eq!(
        secret_data
            .state
            .as_ref()
            .map(|state| state.get("value").clone()),
        Some(Value::string(STORED_CANARY)),
        "the data source read the value"
    );
    all.extend(secret_data.diagnostics);
    paths.push("read, import, data sources and ephemeral with values");
    // A group lookup by list (GET /v1/secret-groups) for the create above went through too.
    assert!(
        stub.requests()
            .iter()
            .any(|(m, p)| *m == Method::GET && p == GROUPS)
    );

    // Nothing in any diagnostic.
    assert_no_canary_in_diagnostics(&canaries(), "any answer", &all);
    // Nothing in any log line, at trace level.
    client.shutdown().await.ok();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stderr = process.stderr();
    let lines = stderr.lines().count();
    assert!(
        stderr.contains("TrueFoundry API call"),
        "trace logging was not on: {stderr}"
    );
    assert_no_canary(&canaries(), "the provider's stderr", &stderr);
    eprintln!(
        "leaks: {} paths, {} diagnostics and {lines} stderr lines at TF_LOG=trace checked for {} canaries: 0 found",
        paths.len(),
        all.0.len(),
        canaries().len()
    );
}
