//! Who the API key is, as the provider learns it when configured, against a stub control plane
//! whose session endpoint answers as a test needs: a tenant admin, a plain member, no endpoint at
//! all, or a web page. Driven over tfplugin6 as Terraform drives it.

use axum::http::Method;
use serde_json::json;
use truefoundry_provider::diag::{AttributePath, Diagnostics, Severity};
use truefoundry_provider::value::Value;

use crate::support::stub::{self, Canned, Stub};
use crate::support::tfclient::{ImitatedTerraform, Launch, PluginProcess, TfClient, null_object};

const GROUP: &str = "truefoundry_secret_group";
const NOT_VISIBLE: &str = "Secret Group Not Visible To This API Key";

/// A provider process configured for the stub; the configuration's diagnostics, whatever they are.
async fn configured(stub: &Stub) -> (PluginProcess, TfClient, Diagnostics) {
    let plugin = PluginProcess::start(Launch::default()).await.unwrap();
    let mut client = plugin.connect(ImitatedTerraform::V1_0_3).await.unwrap();
    client.get_schema().await.unwrap();
    let config = Value::object([
        ("host", Value::string(&stub.base_url)),
        ("api_key", Value::string("stub-key")),
        ("max_retries", Value::Null),
        ("request_timeout", Value::Null),
        ("ca_cert_pem", Value::Null),
    ]);
    let diags = client.configure(&config).await.unwrap();
    (plugin, client, diags)
}

/// The stub's group as it would sit in state, without managed secrets or collaborators.
fn group_in_state(client: &TfClient) -> Value {
    stub::group_state(&client.resource_type(GROUP))
}

fn session(subject_slug: &str, roles: &[&str]) -> Canned {
    Canned::json(
        200,
        json!({"id": "u-2", "subjectSlug": subject_slug, "subjectType": "user",
               "tenantName": "acme", "roles": roles, "effectiveUserId": "u-2"}),
    )
}

fn api_not_found() -> Canned {
    Canned::json(
        404,
        json!({"statusCode": 404, "message": "Secret group not found"}),
    )
}

fn summaries(diags: &Diagnostics, severity: Severity) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| d.summary.clone())
        .collect()
}

#[tokio::test]
async fn configuring_asks_who_the_key_is_once() {
    let stub = Stub::start();
    let (_plugin, _client, diags) = configured(&stub).await;
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        stub.requests(),
        vec![(Method::GET, stub::SESSION.to_owned())]
    );
}

/// A control plane without the session endpoint still works, more cautiously, and says so: a
/// group reported as not found is an error that keeps it in state, never a deletion.
#[tokio::test]
async fn without_the_session_endpoint_a_missing_group_is_an_error_not_a_deletion() {
    let stub = Stub::start();
    stub.answer(
        Method::GET,
        stub::SESSION,
        Canned::json(
            404,
            json!({"statusCode": 404, "message": "Cannot GET /api/svc/v1/x/users/info"}),
        ),
    );
    let (_plugin, mut client, diags) = configured(&stub).await;
    assert_eq!(
        summaries(&diags, Severity::Warning),
        vec!["TrueFoundry API Key Identity Unknown"],
        "{diags:?}"
    );
    assert!(!diags.has_errors(), "{diags:?}");
    // The secret-group API answered, so the host is right and only the endpoint is missing.
    assert_eq!(
        stub.requests(),
        vec![
            (Method::GET, stub::SESSION.to_owned()),
            (Method::GET, stub::GROUPS.to_owned()),
        ]
    );

    stub.answer(Method::GET, stub::GROUP, api_not_found());
    let prior = group_in_state(&client);
    let read = client.read(GROUP, &prior, Vec::new()).await.unwrap();
    assert_eq!(
        summaries(&read.diagnostics, Severity::Error),
        vec![NOT_VISIBLE]
    );
    assert_eq!(
        read.state.as_ref(),
        Some(&prior),
        "the group stays in state"
    );
}

#[tokio::test]
async fn a_web_page_where_the_api_should_be_is_a_host_error() {
    let stub = Stub::start();
    stub.answer(
        Method::GET,
        stub::SESSION,
        Canned::raw(200, "text/html", "<html><title>Acme Console</title></html>"),
    );
    let (_plugin, _client, diags) = configured(&stub).await;
    let [error] = diags.0.as_slice() else {
        panic!("one diagnostic expected: {diags:?}");
    };
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(error.summary, "TrueFoundry Host Is Not The API");
    assert_eq!(error.path, Some(AttributePath::root("host")));
    assert!(error.detail.contains("without a path"), "{}", error.detail);
}

#[tokio::test]
async fn a_tenant_admins_not_found_is_a_deletion() {
    let stub = Stub::start();
    let (_plugin, mut client, diags) = configured(&stub).await;
    assert!(diags.is_empty(), "{diags:?}");
    stub.answer(Method::GET, stub::GROUP, api_not_found());
    let read = client
        .read(GROUP, &group_in_state(&client), Vec::new())
        .await
        .unwrap();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    assert_eq!(read.state, Some(Value::Null), "the group leaves state");
}

/// A member who created the group without listing itself can see it; the provider remembers
/// that from the last read, so a later "not found" for that member proves the deletion.
#[tokio::test]
async fn the_creator_learned_at_the_last_read_proves_a_deletion() {
    let stub = Stub::start();
    stub.answer(
        Method::GET,
        stub::SESSION,
        session("creator@acme.example", &["tenant-member"]),
    );
    let mut group = stub::group_json();
    group["createdBySubject"] =
        json!({"subjectId": "u-2", "subjectType": "user", "subjectSlug": "creator@acme.example"});
    stub.answer(
        Method::GET,
        stub::GROUP,
        Canned::json(200, json!({"data": group})),
    );
    let (_plugin, mut client, diags) = configured(&stub).await;
    assert!(diags.is_empty(), "{diags:?}");

    let prior = group_in_state(&client);
    let seen = client.read(GROUP, &prior, Vec::new()).await.unwrap();
    assert!(seen.diagnostics.is_empty(), "{:?}", seen.diagnostics);

    stub.answer(Method::GET, stub::GROUP, api_not_found());
    let without_memory = client.read(GROUP, &prior, Vec::new()).await.unwrap();
    assert_eq!(
        summaries(&without_memory.diagnostics, Severity::Error),
        vec![NOT_VISIBLE]
    );
    assert!(
        without_memory.diagnostics.0[0]
            .detail
            .contains("`user:creator@acme.example`"),
        "{:?}",
        without_memory.diagnostics
    );
    let with_memory = client.read(GROUP, &prior, seen.private).await.unwrap();
    assert!(
        with_memory.diagnostics.is_empty(),
        "{:?}",
        with_memory.diagnostics
    );
    assert_eq!(with_memory.state, Some(Value::Null));
}

/// Import and the data source refuse a group of another tenant before asking for it.
#[tokio::test]
async fn import_and_data_source_refuse_another_tenants_group_without_a_request() {
    let stub = Stub::start();
    let (_plugin, mut client, diags) = configured(&stub).await;
    assert!(diags.is_empty(), "{diags:?}");
    let before = stub.request_count();

    let imported = client.import(GROUP, "globex:payments").await.unwrap();
    assert_eq!(
        summaries(&imported.diagnostics, Severity::Error),
        vec!["Secret Group Belongs To Another Tenant"]
    );
    assert!(imported.states.is_empty());

    let mut lookup = null_object(&client.data_source_type(GROUP));
    lookup.set("fqn", Value::string("globex:payments"));
    let read = client.read_data_source(GROUP, &lookup).await.unwrap();
    let errors: Vec<_> = read
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", read.diagnostics);
    assert_eq!(errors[0].summary, "Secret Group Belongs To Another Tenant");
    assert!(
        errors[0].detail.contains("`globex`") && errors[0].detail.contains("`acme`"),
        "{}",
        errors[0].detail
    );
    assert_eq!(stub.request_count(), before, "{:?}", stub.requests());
}

/// Issue 25, item 9: when the session endpoint is missing and the probe of the secret groups
/// then finds no API, the error says it listed the secret groups, matching the request it quotes.
#[tokio::test]
async fn a_failed_probe_after_a_missing_session_endpoint_says_what_it_asked() {
    let stub = Stub::start();
    stub.answer(Method::GET, stub::SESSION, api_not_found());
    stub.answer(
        Method::GET,
        stub::GROUPS,
        Canned::raw(404, "text/html", "<html><title>Not Found</title></html>"),
    );
    let (_plugin, _client, diags) = configured(&stub).await;
    let [error] = diags.0.as_slice() else {
        panic!("one diagnostic expected: {diags:?}");
    };
    assert_eq!(error.summary, "TrueFoundry Host Is Not The API");
    assert!(
        error.detail.contains("listing the secret groups of")
            && error.detail.contains("GET /v1/secret-groups")
            && error.detail.contains("GET /v1/x/users/info"),
        "{}",
        error.detail
    );
    assert!(
        !error.detail.contains("who the API key is failed"),
        "{}",
        error.detail
    );
}

/// A create's references are known at plan when the session names the API key's tenant, where
/// the group will land; without the session they stay unknown until the apply.
#[tokio::test]
async fn a_creates_references_are_known_at_plan_only_when_the_keys_tenant_is() {
    for session_answers in [true, false] {
        let stub = Stub::start();
        if !session_answers {
            stub.answer(Method::GET, stub::SESSION, api_not_found());
        }
        let (_plugin, mut client, _) = configured(&stub).await;
        let ty = client.resource_type(GROUP);
        let mut config = null_object(&ty);
        config.set("name", Value::string("new-group"));
        config.set(
            "secrets",
            Value::Map([("DB".to_owned(), Value::string("v"))].into()),
        );
        let plan = client
            .plan(GROUP, &Value::Null, &config, &config, Vec::new())
            .await
            .unwrap();
        let planned = plan.planned_state.expect("a planned state");
        let (fqn, tenant, refs) = (
            planned.get("fqn"),
            planned.get("tenant_name"),
            planned.get("secret_fqns"),
        );
        assert!(
            planned.get("id").is_unknown(),
            "the server's id: {planned:?}"
        );
        if session_answers {
            assert_eq!(fqn, &Value::string("acme:new-group"));
            assert_eq!(tenant, &Value::string("acme"));
            assert_eq!(
                refs,
                &Value::Map(
                    [(
                        "DB".to_owned(),
                        Value::string("tfy-secret://acme:new-group:DB")
                    )]
                    .into()
                )
            );
        } else {
            for unknown in [fqn, tenant, refs] {
                assert!(unknown.is_unknown(), "{planned:?}");
            }
        }
    }
}
