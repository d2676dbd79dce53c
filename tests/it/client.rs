//! The TrueFoundry client against scripted stub servers on 127.0.0.1: the wire shape of every
//! operation, every error class, retries, timeouts, TLS roots and redaction of echoed values.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use truefoundry_provider::client::{
    Client, ClientConfig, Collaborator, Error, ListGroupsQuery, ListSecretsQuery, OwnedBy,
    SecretGroupManifest, SecretUpdate, SecretValue,
};
use truefoundry_provider::emulator::{
    self, EmulatorConfig, EmulatorOptions, Faults, RunningEmulator,
};

use crate::support::pki::{Pki, TlsListener};

const API_KEY: &str = "tfy-test-key-0001";

/// One scripted answer of a stub server.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
    /// Answer with the message `echo: <request body>` instead of `body`, as a careless server might.
    echo_request: bool,
}

impl Reply {
    fn json(status: u16, body: Json) -> Self {
        Reply::text(status, &body.to_string())
    }

    fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            body: body.to_owned(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            echo_request: false,
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Reply::json(status, json!({"statusCode": status, "message": message}))
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn echoing(mut self) -> Self {
        self.echo_request = true;
        self
    }
}

/// What the stub saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    /// The client's end of the TCP connection the request came on.
    peer: SocketAddr,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn answer(
    State(script): State<Script>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = script.replies.lock().unwrap().pop_front();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    script.seen.lock().unwrap().push(Seen {
        peer,
        method,
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body: body.to_vec(),
    });
    let Some(reply) = reply else {
        return (StatusCode::IM_A_TEAPOT, "the stub has no more replies").into_response();
    };
    tokio::time::sleep(reply.delay).await;
    let body = if reply.echo_request {
        let message = format!("echo: {} {auth}", String::from_utf8_lossy(&body));
        json!({"statusCode": reply.status, "message": message}).to_string()
    } else {
        reply.body
    };
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), body).into_response();
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("header value"),
    );
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    response
}

/// A stub server answering every request with the next scripted reply.
struct Stub {
    addr: SocketAddr,
    script: Script,
}

impl Stub {
    async fn start(replies: Vec<Reply>) -> Stub {
        let script = Script::default();
        script.replies.lock().unwrap().extend(replies);
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        Stub { addr, script }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn client(&self) -> Client {
        Client::new(config(&self.url())).expect("client")
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }
}

fn config(host: &str) -> ClientConfig {
    ClientConfig {
        host: host.to_owned(),
        api_key: SecretValue::new(API_KEY),
        max_retries: 2,
        request_timeout: Duration::from_secs(5),
        ca_cert_pem: None,
        terraform_version: "1.11.2".to_owned(),
    }
}

fn group_json(id: &str, name: &str) -> Json {
    json!({
        "id": id, "fqn": format!("acme:{name}"), "tenantName": "acme", "accountId": "acc1",
        "integrationId": "int1", "createdBySubject": {"subjectId": "u1", "subjectType": "user"},
        "associatedSecrets": [{"id": format!("{id}-s1"), "fqn": format!("tfy-secret://acme:{name}:K"),
                               "name": "K", "secretGroupId": id}],
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"
    })
}

fn secret_json(id: &str, key: &str, value: Option<&str>, versions: &[i64]) -> Json {
    let mut secret = json!({
        "id": id, "fqn": format!("tfy-secret://acme:g:{key}"), "name": key, "secretGroupId": "sg1",
        "secretVersions": versions.iter().map(|v| json!({"id": format!("{id}v{v}"), "fqn": "x", "version": v})).collect::<Vec<_>>(),
    });
    if let Some(value) = value {
        secret["value"] = json!(value);
    }
    secret
}

fn page(items: Vec<Json>, total: Option<u64>) -> Reply {
    let mut body = json!({"data": items});
    if let Some(total) = total {
        body["pagination"] = json!({"total": total, "offset": 0, "limit": 1000});
    }
    Reply::json(200, body)
}

fn manifest() -> SecretGroupManifest {
    SecretGroupManifest {
        kind: "secret-group".into(),
        name: "payments".into(),
        integration_fqn: "acme:aws:main:secret-store:ssm".into(),
        collaborators: vec![Collaborator {
            subject: "team:payments".into(),
            role_id: "secret-group-editor".into(),
        }],
        owned_by: Some(OwnedBy {
            account: "acme-account".into(),
        }),
    }
}

#[tokio::test]
async fn a_call_carries_auth_user_agent_and_the_api_prefix() {
    let stub = Stub::start(vec![Reply::json(
        200,
        json!({"data": group_json("sg/1", "pay")}),
    )])
    .await;
    let client = Client::new(ClientConfig {
        host: format!("{}/", stub.url()),
        ..config("")
    })
    .expect("client");
    let group = client.get_secret_group("sg/1").await.expect("group");
    assert_eq!(group.id, "sg/1");
    assert_eq!(group.name.as_deref(), Some("pay"));
    assert_eq!(group.associated_secrets[0].name, "K");

    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].path, "/api/svc/v1/secret-groups/sg%2F1");
    assert_eq!(seen[0].header("authorization"), format!("Bearer {API_KEY}"));
    assert_eq!(seen[0].header("accept"), "application/json");
    let agent = seen[0].header("user-agent");
    assert!(
        agent.starts_with(
            "Terraform/1.11.2 (+https://www.terraform.io) terraform-provider-truefoundry/"
        ),
        "{agent}"
    );
    assert_eq!(client.request_count(), 1);
}

#[tokio::test]
async fn calls_and_clones_share_one_connection() {
    let ok = Reply::json(200, json!({"data": group_json("sg1", "g")}));
    let stub = Stub::start(vec![ok.clone(), ok.clone(), ok]).await;
    let client = stub.client();
    client.get_secret_group("sg1").await.expect("first");
    client.get_secret_group("sg1").await.expect("second");
    client
        .clone()
        .get_secret_group("sg1")
        .await
        .expect("from a clone");
    let peers: Vec<_> = stub.seen().iter().map(|seen| seen.peer).collect();
    assert_eq!(peers, [peers[0]; 3], "one kept-alive connection");
}

#[tokio::test]
async fn listing_groups_follows_pages_until_the_total() {
    let stub = Stub::start(vec![
        page(
            vec![group_json("a", "pay-a"), group_json("b", "pay-b")],
            Some(3),
        ),
        page(vec![group_json("c", "pay-c")], Some(3)),
    ])
    .await;
    let query = ListGroupsQuery {
        fqn: None,
        search: Some("pay &x".into()),
    };
    let groups = stub
        .client()
        .list_secret_groups(&query)
        .await
        .expect("list");
    let ids: Vec<_> = groups.iter().map(|group| group.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let queries: Vec<_> = stub.seen().iter().map(|seen| seen.query.clone()).collect();
    assert_eq!(
        queries,
        [
            "search=pay+%26x&limit=1000&offset=0",
            "search=pay+%26x&limit=1000&offset=2"
        ]
    );
}

#[tokio::test]
async fn listing_without_a_total_stops_at_the_first_empty_page() {
    let stub = Stub::start(vec![
        page(vec![group_json("a", "a")], None),
        page(vec![group_json("b", "b")], None),
        page(vec![], None),
    ])
    .await;
    let query = ListGroupsQuery {
        fqn: Some("acme:a".into()),
        search: None,
    };
    let groups = stub
        .client()
        .list_secret_groups(&query)
        .await
        .expect("list");
    assert_eq!(groups.len(), 2);
    let seen = stub.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].query, "fqn=acme%3Aa&limit=1000&offset=2");
}

#[tokio::test]
async fn a_server_that_ignores_offset_is_not_paged_forever() {
    let same = page(vec![group_json("a", "a")], None);
    let stub = Stub::start(vec![same.clone(), same.clone(), same]).await;
    let error = stub
        .client()
        .list_secret_groups(&ListGroupsQuery::default())
        .await
        .expect_err("repeated page");
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn finding_by_fqn_asks_for_one_item_and_checks_it() {
    let stub = Stub::start(vec![
        page(vec![group_json("sg1", "payments")], Some(1)),
        page(vec![], Some(0)),
        // An old server ignoring the filter answers with some other group.
        page(vec![group_json("sg2", "other")], Some(9)),
    ])
    .await;
    let client = stub.client();
    let found = client.find_secret_group_by_fqn("acme:payments").await;
    assert_eq!(found.expect("found").map(|g| g.id), Some("sg1".to_owned()));
    assert_eq!(
        client
            .find_secret_group_by_fqn("acme:gone")
            .await
            .expect("none"),
        None
    );
    assert_eq!(
        client
            .find_secret_group_by_fqn("acme:x")
            .await
            .expect("none"),
        None
    );
    assert_eq!(stub.seen()[0].query, "fqn=acme%3Apayments&limit=1");
}

#[tokio::test]
async fn the_manifest_put_sends_the_manifest_and_dry_run() {
    let mut stored = group_json("sg1", "payments");
    stored["manifest"] = serde_json::to_value(manifest()).expect("manifest json");
    let stub = Stub::start(vec![Reply::json(200, json!({ "data": stored }))]).await;
    let group = stub
        .client()
        .apply_secret_group_manifest(&manifest(), true)
        .await
        .expect("apply");
    assert_eq!(group.manifest, Some(manifest()));
    let seen = &stub.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("PUT", "/api/svc/v1/secret-groups")
    );
    assert_eq!(seen.header("content-type"), "application/json");
    assert_eq!(
        seen.json(),
        json!({"manifest": {"type": "secret-group", "name": "payments",
            "integration_fqn": "acme:aws:main:secret-store:ssm",
            "collaborators": [{"subject": "team:payments", "role_id": "secret-group-editor"}],
            "ownedBy": {"account": "acme-account"}}, "dryRun": true})
    );
}

#[tokio::test]
async fn setting_secrets_sends_the_full_list_with_values_only_where_given() {
    let stub = Stub::start(vec![Reply::json(
        200,
        json!({"data": group_json("sg1", "g")}),
    )])
    .await;
    let updates = [
        SecretUpdate {
            key: "KEEP".into(),
            value: None,
        },
        SecretUpdate {
            key: "NEW".into(),
            value: Some(SecretValue::new("v\"1")),
        },
    ];
    stub.client()
        .set_secrets("sg1", &updates)
        .await
        .expect("set");
    let seen = &stub.seen()[0];
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("PUT", "/api/svc/v1/secret-groups/sg1")
    );
    assert_eq!(
        seen.json(),
        json!({"secrets": [{"key": "KEEP"}, {"key": "NEW", "value": "v\"1"}]})
    );
}

#[tokio::test]
async fn deleting_a_group_sends_force_only_when_asked_and_wants_an_object() {
    let stub = Stub::start(vec![
        Reply::json(200, json!({})),
        Reply::json(200, json!({})),
        Reply::text(200, "<html><title>Sign in</title></html>"),
    ])
    .await;
    let client = stub.client();
    client
        .delete_secret_group("sg1", false)
        .await
        .expect("delete");
    client
        .delete_secret_group("sg1", true)
        .await
        .expect("force");
    let error = client
        .delete_secret_group("sg1", false)
        .await
        .expect_err("an HTML page is no deletion");
    assert!(
        matches!(&error, Error::Decode { message, .. } if message.contains("Sign in")),
        "{error}"
    );
    let seen = stub.seen();
    assert_eq!(seen[0].method, Method::DELETE);
    assert_eq!(seen[0].path, "/api/svc/v1/secret-groups/sg1");
    assert_eq!(seen[0].query, "");
    assert_eq!(seen[1].query, "forceDelete=true");
}

#[tokio::test]
async fn listing_secrets_posts_the_filter_and_reads_all_pages() {
    let stub = Stub::start(vec![
        page(
            vec![
                secret_json("s1", "A", Some("va"), &[1, 3, 2]),
                secret_json("s2", "B", Some("vb"), &[]),
            ],
            Some(3),
        ),
        page(vec![secret_json("s3", "C", None, &[1])], Some(3)),
    ])
    .await;
    let query = ListSecretsQuery {
        secret_group_id: Some("sg1".into()),
        secret_fqns: vec![],
        with_value: true,
    };
    let secrets = stub.client().list_secrets(&query).await.expect("list");
    let summary: Vec<_> = secrets
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.value.as_ref().map(SecretValue::expose),
                s.latest_version,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("A", Some("va"), Some(3)),
            ("B", Some("vb"), None),
            ("C", None, Some(1))
        ]
    );
    let seen = stub.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/api/svc/v1/secrets")
    );
    assert_eq!(
        seen[0].json(),
        json!({"secretGroupId": "sg1", "withValue": true, "limit": 1000, "offset": 0})
    );
    assert_eq!(seen[1].json()["offset"], json!(2));
}

#[tokio::test]
async fn one_secret_is_read_and_deleted_by_id() {
    let stub = Stub::start(vec![
        Reply::json(
            200,
            json!({"data": secret_json("s1", "A", Some("va"), &[1, 2])}),
        ),
        Reply::text(200, "1"),
        Reply::text(200, "1.0"),
        Reply::text(200, r#"{"deleted": 1}"#),
    ])
    .await;
    let client = stub.client();
    let secret = client.get_secret("s1").await.expect("get");
    assert_eq!(secret.value, Some(SecretValue::new("va")));
    assert_eq!(secret.latest_version, Some(2));
    assert_eq!(client.delete_secret("s1", true).await.expect("delete"), 1);
    assert_eq!(client.delete_secret("s1", false).await.expect("float"), 1);
    let error = client.delete_secret("s1", false).await.expect_err("object");
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    let seen = stub.seen();
    assert_eq!(seen[0].path, "/api/svc/v1/secrets/s1");
    assert_eq!(
        (seen[1].method.as_str(), seen[1].query.as_str()),
        ("DELETE", "forceDelete=true")
    );
    assert_eq!(seen[2].query, "");
}

#[tokio::test]
async fn ids_that_name_no_object_are_refused_without_a_request() {
    let stub = Stub::start(vec![]).await;
    let client = stub.client();
    for id in ["", ".", ".."] {
        let error = client.get_secret_group(id).await.expect_err("refused");
        assert!(matches!(error, Error::NotFound { .. }), "{error}");
    }
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn each_status_becomes_its_error_class_without_retrying_final_answers() {
    let details = json!({"statusCode": 422, "message": "invalid manifest",
        "details": [{"field": "collaborators[0].subject", "value": "nobody"}]});
    let stub = Stub::start(vec![
        Reply::error(401, "bad token"),
        Reply::error(403, "not yours"),
        Reply::text(404, "no such thing"),
        Reply::error(409, "integration differs"),
        Reply::json(422, details),
        Reply::text(
            400,
            "<html><head><title>400 Bad Request</title></head></html>",
        ),
        Reply::error(424, "the store is down"),
        Reply::error(500, "boom"),
    ])
    .await;
    let client = stub.client();
    let mut errors = Vec::new();
    for _ in 0..8 {
        errors.push(client.get_secret_group("sg1").await.expect_err("an error"));
    }
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected = [
        "GET /v1/secret-groups/sg1: unauthorized (401): bad token",
        "GET /v1/secret-groups/sg1: forbidden (403): not yours",
        "GET /v1/secret-groups/sg1: not an answer of the TrueFoundry API (404): no such thing",
        "GET /v1/secret-groups/sg1: conflict (409): integration differs",
        "GET /v1/secret-groups/sg1: rejected (422): invalid manifest (fields: collaborators[0].subject)",
        "GET /v1/secret-groups/sg1: rejected (400): an HTML page (400 Bad Request)",
        "GET /v1/secret-groups/sg1: the secret store failed (424): the store is down",
        "GET /v1/secret-groups/sg1: server error (500) after 1 attempts: boom",
    ];
    assert_eq!(text, expected);
    assert!(
        matches!(&errors[4], Error::Validation { details, .. } if details == &["collaborators[0].subject"])
    );
    assert_eq!(stub.seen().len(), 8, "none of these is retried");
}

#[tokio::test]
async fn gateway_errors_are_retried_until_max_retries() {
    let stub = Stub::start(vec![
        Reply::error(502, "bad gateway"),
        Reply::text(503, "<html><title>Service Unavailable</title></html>"),
        Reply::error(504, "gateway timeout"),
        Reply::json(200, json!({"data": group_json("sg1", "g")})),
    ])
    .await;
    let client = stub.client();
    let error = client.get_secret_group("sg1").await.expect_err("gives up");
    assert_eq!(
        error.to_string(),
        "GET /v1/secret-groups/sg1: server error (504) after 3 attempts: gateway timeout"
    );
    assert_eq!(stub.seen().len(), 3);
    // The next call starts afresh and gets the success.
    client.get_secret_group("sg1").await.expect("then success");
}

#[tokio::test]
async fn rate_limiting_honours_retry_after_in_seconds() {
    let stub = Stub::start(vec![
        Reply::error(429, "slow down").header("retry-after", "1"),
        Reply::json(200, json!({"data": group_json("sg1", "g")})),
    ])
    .await;
    let started = Instant::now();
    stub.client()
        .get_secret_group("sg1")
        .await
        .expect("after waiting");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn rate_limiting_honours_retry_after_as_an_http_date() {
    let at = std::time::SystemTime::now() + Duration::from_secs(1);
    let stub = Stub::start(vec![
        Reply::error(429, "slow down").header("retry-after", httpdate::fmt_http_date(at)),
        Reply::json(200, json!({"data": group_json("sg1", "g")})),
    ])
    .await;
    let started = Instant::now();
    stub.client()
        .get_secret_group("sg1")
        .await
        .expect("after waiting");
    // The date has whole-second resolution, so the wait is anywhere up to one second.
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn rate_limiting_gives_up_after_max_retries() {
    let limited = Reply::error(429, "slow down").header("retry-after", "0");
    let stub = Stub::start(vec![
        limited.clone(),
        limited.clone(),
        limited.clone(),
        limited,
    ])
    .await;
    let client = Client::new(ClientConfig {
        max_retries: 1,
        ..config(&stub.url())
    })
    .expect("client");
    let error = client.get_secret("s1").await.expect_err("still limited");
    assert_eq!(
        error.to_string(),
        "GET /v1/secrets/s1: rate limited (429) after 2 attempts"
    );
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn a_slow_answer_times_out_each_attempt() {
    let slow =
        Reply::json(200, json!({"data": group_json("sg1", "g")})).delayed(Duration::from_secs(1));
    let stub = Stub::start(vec![slow.clone(), slow]).await;
    let client = Client::new(ClientConfig {
        max_retries: 1,
        request_timeout: Duration::from_millis(200),
        ..config(&stub.url())
    })
    .expect("client");
    let started = Instant::now();
    let error = client.get_secret_group("sg1").await.expect_err("timeout");
    assert!(
        matches!(&error, Error::Transport { attempts: 2, message, .. } if message.contains("200ms")),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = Client::new(ClientConfig {
        max_retries: 1,
        ..config(&format!("http://{addr}"))
    })
    .expect("client");
    let error = client.get_secret_group("sg1").await.expect_err("refused");
    assert!(
        matches!(&error, Error::Transport { attempts: 2, message, .. } if message.starts_with("could not connect")),
        "{error}"
    );
    assert_eq!(client.request_count(), 2);
}

#[tokio::test]
async fn a_success_status_with_the_wrong_body_is_a_decode_error() {
    let stub = Stub::start(vec![
        Reply::json(
            200,
            json!({"statusCode": 500, "message": "internal failure"}),
        ),
        Reply::text(200, "<!doctype html><html><title>Welcome</title></html>"),
        Reply::json(200, json!({"data": {"id": 7}})),
        Reply::text(200, ""),
    ])
    .await;
    let client = stub.client();
    let mut messages = Vec::new();
    for _ in 0..4 {
        match client.get_secret_group("sg1").await {
            Err(Error::Decode { message, .. }) => messages.push(message),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
    assert_eq!(
        messages[0],
        "an error body with status 200: internal failure"
    );
    assert_eq!(messages[1], "not JSON: an HTML page (Welcome)");
    assert!(
        messages[2].starts_with("the JSON does not have the expected shape: invalid type"),
        "{}",
        messages[2]
    );
    assert_eq!(messages[3], "an empty body where JSON was expected");
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let stub = Stub::start(vec![Reply::text(308, "").header(
        "location",
        "https://elsewhere.invalid/api/svc/v1/secrets/s1",
    )])
    .await;
    let error = stub.client().get_secret("s1").await.expect_err("redirect");
    assert!(
        matches!(&error, Error::Decode { message, .. } if message.contains("redirect (308)")),
        "{error}"
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn an_echoing_server_cannot_leak_sent_values_or_the_key_into_errors() {
    const CANARY: &str = "CANARY-echo-7f3a";
    let stub = Stub::start(vec![
        Reply::error(422, "").echoing(),
        Reply::error(503, "").echoing(),
        Reply::error(503, "").echoing(),
        Reply::error(503, "").echoing(),
    ])
    .await;
    let updates = [SecretUpdate {
        key: "TOKEN".into(),
        value: Some(SecretValue::new(format!("{CANARY} \"quoted\"\n"))),
    }];
    let client = stub.client();
    for _ in 0..2 {
        let error = client.set_secrets("sg1", &updates).await.expect_err("echo");
        let text = format!("{error} {error:?}");
        assert!(!text.contains(CANARY), "{text}");
        assert!(!text.contains(API_KEY), "{text}");
        assert!(
            text.contains("message is not shown because it repeats a secret value"),
            "withheld whole, not redacted in place: {text}"
        );
        assert!(
            !text.contains("TOKEN"),
            "nothing of the echo is left: {text}"
        );
    }
}

#[test]
fn bad_configuration_is_refused_up_front() {
    let cases = [
        ClientConfig {
            host: "acme.truefoundry.cloud".into(),
            ..config("")
        },
        ClientConfig {
            api_key: SecretValue::new(""),
            ..config("https://acme.example")
        },
        ClientConfig {
            request_timeout: Duration::ZERO,
            ..config("https://acme.example")
        },
        ClientConfig {
            ca_cert_pem: Some("not a certificate".into()),
            ..config("https://acme.example")
        },
    ];
    for case in cases {
        let error = Client::new(case).expect_err("refused");
        assert!(matches!(error, Error::Config(_)), "{error}");
    }
}

/// A private CA's PEM and an HTTPS stub on 127.0.0.1 whose certificate that CA signed.
async fn tls_stub(replies: Vec<Reply>) -> (String, String) {
    let pki = Pki::generate("Stub CA", &["127.0.0.1"]);
    let script = Script::default();
    script.replies.lock().unwrap().extend(replies);
    // The handler wants the peer address, which only plain TCP serving provides; a fixed one
    // stands in (these tests do not look at it).
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(script)
        .layer(axum::extract::connect_info::MockConnectInfo(
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ));
    let listener = TlsListener::bind(pki.acceptor()).await;
    let url = format!("https://{}", listener.addr());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (pki.ca_pem, url)
}

#[tokio::test]
async fn tls_is_verified_and_a_private_ca_can_be_trusted() {
    let ok = Reply::json(200, json!({"data": group_json("sg1", "g")}));
    let (ca_pem, url) = tls_stub(vec![ok]).await;

    let untrusting = Client::new(ClientConfig {
        max_retries: 0,
        ..config(&url)
    })
    .expect("client");
    let error = untrusting
        .get_secret_group("sg1")
        .await
        .expect_err("unknown CA");
    assert!(
        matches!(&error, Error::Transport { .. }),
        "an unknown CA must fail the handshake: {error}"
    );

    let trusting = Client::new(ClientConfig {
        ca_cert_pem: Some(ca_pem),
        ..config(&url)
    })
    .expect("client with the CA");
    let group = trusting.get_secret_group("sg1").await.expect("trusted");
    assert_eq!(group.id, "sg1");
}

/// Every event and span field that reaches the subscriber, one formatted line each.
#[derive(Clone, Default)]
struct CapturedLog {
    lines: Arc<Mutex<Vec<String>>>,
}

struct FieldWriter<'a>(&'a mut String);

impl tracing::field::Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CapturedLog {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let metadata = event.metadata();
        let mut line = format!("{} {}", metadata.level(), metadata.target());
        event.record(&mut FieldWriter(&mut line));
        self.lines.lock().unwrap().push(line);
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = format!("span {}", attrs.metadata().name());
        attrs.record(&mut FieldWriter(&mut line));
        self.lines.lock().unwrap().push(line);
    }
}

impl CapturedLog {
    /// Captures at every level on this thread (the test runtime is single-threaded, so the
    /// client's tasks and the servers' run here too) until the guard is dropped.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::layer::SubscriberExt;
        // tracing caches per call site whether anyone listens, and while at most one subscriber
        // is registered it asks only the calling thread's default: a call site first hit by
        // another test thread would then be cached as unwanted and this capture would miss it.
        // A second registered subscriber, kept for the whole run, turns that shortcut off.
        static SECOND_SUBSCRIBER: std::sync::OnceLock<tracing::Dispatch> =
            std::sync::OnceLock::new();
        SECOND_SUBSCRIBER
            .get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()));
        // Call sites cached before this subscriber existed are asked again.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// Lines the client logged for one HTTP attempt (answered or failed).
fn attempt_lines(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|line| line.contains(" message=TrueFoundry API call"))
        .count() as u64
}

/// Fails naming the place when a canary shows up in a text.
fn assert_no_canary(canaries: &[&str], place: &str, text: &str) {
    for canary in canaries {
        assert!(
            !text.contains(canary),
            "canary {canary:?} leaked into {place}: {text}"
        );
    }
}

#[tokio::test]
async fn canary_values_reach_no_error_text_and_no_log_line() {
    const SENT: &str = "CANARY-sent-91c2";
    const STORED: &str = "CANARY-stored-55e0";
    let canaries = [SENT, STORED, API_KEY];
    let log = CapturedLog::default();
    let _guard = log.install();
    let echo = Reply::error(503, "").echoing();
    let stub = Stub::start(vec![
        Reply::json(200, json!({"data": group_json("sg1", "g")})),
        page(
            vec![
                secret_json("s1", "A", Some(STORED), &[1]),
                secret_json("s2", "B", Some(SENT), &[2]),
            ],
            Some(2),
        ),
        Reply::json(
            200,
            json!({"data": secret_json("s1", "A", Some(STORED), &[1])}),
        ),
        Reply::error(422, "").echoing(),
        echo.clone(),
        echo.clone(),
        echo,
        // Malformed successes that carry a stored value where another type belongs, which
        // serde would quote in its message.
        Reply::json(
            200,
            json!({"data": {"id": "s1", "fqn": "f", "name": "A", "secretGroupId": "sg1",
                            "value": STORED, "secretVersions": STORED}}),
        ),
        Reply::json(200, json!({ "data": STORED })),
    ])
    .await;
    let client = stub.client();
    let updates = [SecretUpdate {
        key: "B".into(),
        value: Some(SecretValue::new(SENT)),
    }];
    let mut texts = Vec::new();
    let group = client.set_secrets("sg1", &updates).await.expect("set");
    texts.push(format!("{group:?}"));
    let query = ListSecretsQuery {
        secret_group_id: Some("sg1".into()),
        with_value: true,
        ..ListSecretsQuery::default()
    };
    let secrets = client.list_secrets(&query).await.expect("list");
    assert_eq!(
        secrets[1].value.as_ref().map(SecretValue::expose),
        Some(SENT)
    );
    texts.push(format!("{secrets:?}"));
    texts.push(format!("{:?}", client.get_secret("s1").await.expect("get")));
    for _ in 0..2 {
        let error = client.set_secrets("sg1", &updates).await.expect_err("echo");
        texts.push(format!("{error} {error:?}"));
    }
    let error = client.get_secret("s1").await.expect_err("malformed");
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    texts.push(format!("{error} {error:?}"));
    let error = client.get_secret_group("sg1").await.expect_err("malformed");
    assert!(matches!(error, Error::Decode { .. }), "{error}");
    texts.push(format!("{error} {error:?}"));
    texts.push(format!("{client:?}"));

    for text in &texts {
        assert_no_canary(&canaries, "a result or error", text);
    }
    let lines = log.lines();
    assert_eq!(
        attempt_lines(&lines),
        client.request_count(),
        "the capture saw every attempt: {lines:#?}"
    );
    for line in &lines {
        assert_no_canary(&canaries, "a log line", line);
    }
}

// ---- Against the emulator: the same client, an independent implementation of the API. ----

const ADMIN_KEY: &str = "tfy-emu-admin-key";
const VIEWER_KEY: &str = "tfy-emu-viewer-key";
const INTEGRATION: &str = "acme:aws:aws-1:secret-store:ssm";
const OTHER_INTEGRATION: &str = "acme:aws:aws-2:secret-store:ssm";
const VIEWER: &str = "user:viewer@acme.example";

/// A tenant with an admin key and a key whose subject holds no role until a manifest names it.
fn emulator_config() -> EmulatorConfig {
    let config = json!({
        "tenants": [{"name": "acme"}],
        "integrations": [{"tenant": "acme", "fqn": INTEGRATION},
                         {"tenant": "acme", "fqn": OTHER_INTEGRATION}],
        "api_keys": [
            {"token": ADMIN_KEY, "tenant": "acme", "subject": "user:admin@acme.example", "tenant_admin": true},
            {"token": VIEWER_KEY, "tenant": "acme", "subject": VIEWER, "tenant_admin": false}
        ]
    });
    EmulatorConfig::from_json(&config.to_string()).expect("emulator config")
}

/// An emulator on 127.0.0.1:0 with its request log in `log_dir` (keeps test output quiet).
async fn start_emulator(faults: Faults, log_dir: &tempfile::TempDir) -> RunningEmulator {
    let options = EmulatorOptions {
        faults,
        request_log: Some(log_dir.path().join("requests.jsonl")),
        ..EmulatorOptions::new(emulator_config())
    };
    emulator::spawn(options).await.expect("emulator")
}

fn emulator_client(emulator: &RunningEmulator, key: &str) -> Client {
    Client::new(ClientConfig {
        api_key: SecretValue::new(key),
        ..config(&emulator.base_url())
    })
    .expect("client")
}

fn group_manifest(name: &str, viewer_role: Option<&str>) -> SecretGroupManifest {
    SecretGroupManifest {
        kind: "secret-group".into(),
        name: name.into(),
        integration_fqn: INTEGRATION.into(),
        collaborators: viewer_role
            .map(|role| Collaborator {
                subject: VIEWER.into(),
                role_id: role.into(),
            })
            .into_iter()
            .collect(),
        owned_by: None,
    }
}

fn set(key: &str, value: Option<&str>) -> SecretUpdate {
    SecretUpdate {
        key: key.into(),
        value: value.map(SecretValue::new),
    }
}

/// Key, value and latest version of each secret, in the server's order.
fn summarize(
    secrets: &[truefoundry_provider::client::Secret],
) -> Vec<(String, Option<String>, Option<i64>)> {
    secrets
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.value.as_ref().map(|v| v.expose().to_owned()),
                s.latest_version,
            )
        })
        .collect()
}

fn row(key: &str, value: Option<&str>, version: i64) -> (String, Option<String>, Option<i64>) {
    (key.to_owned(), value.map(str::to_owned), Some(version))
}

#[tokio::test]
async fn emulator_every_operation_round_trips() {
    let logs = tempfile::tempdir().expect("tempdir");
    let emulator = start_emulator(Faults::default(), &logs).await;
    let client = emulator_client(&emulator, ADMIN_KEY);
    let manifest = SecretGroupManifest {
        owned_by: Some(OwnedBy {
            account: "acme-account".into(),
        }),
        ..group_manifest("payments", Some("secret-group-viewer"))
    };

    let dry = client
        .apply_secret_group_manifest(&manifest, true)
        .await
        .expect("dry run");
    assert_eq!(dry.name.as_deref(), Some("payments"));
    assert_eq!(
        client
            .find_secret_group_by_fqn("acme:payments")
            .await
            .expect("find"),
        None
    );

    let created = client
        .apply_secret_group_manifest(&manifest, false)
        .await
        .expect("create");
    assert_eq!(
        (created.fqn.as_str(), created.tenant_name.as_str()),
        ("acme:payments", "acme")
    );
    assert_eq!(created.manifest.as_ref(), Some(&manifest));
    assert!(created.associated_secrets.is_empty());
    let found = client
        .find_secret_group_by_fqn("acme:payments")
        .await
        .expect("find");
    assert_eq!(found.map(|g| g.id), Some(created.id.clone()));
    let fetched = client.get_secret_group(&created.id).await.expect("get");
    assert_eq!(fetched.manifest.as_ref(), Some(&manifest));

    let group = client
        .set_secrets(&created.id, &[set("A", Some("a1")), set("B", Some("b1"))])
        .await
        .expect("first secrets");
    let mut keys: Vec<_> = group
        .associated_secrets
        .iter()
        .map(|s| s.name.clone())
        .collect();
    keys.sort();
    assert_eq!(keys, ["A", "B"]);

    // Keep A, change B, add C, and so learn every version in one list call.
    client
        .set_secrets(
            &created.id,
            &[set("A", None), set("B", Some("b2")), set("C", Some("c1"))],
        )
        .await
        .expect("second secrets");
    let query = ListSecretsQuery {
        secret_group_id: Some(created.id.clone()),
        with_value: true,
        ..ListSecretsQuery::default()
    };
    let before = client.request_count();
    let mut secrets = client.list_secrets(&query).await.expect("list");
    assert_eq!(
        client.request_count() - before,
        1,
        "one group's values come in one request"
    );
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        summarize(&secrets),
        [
            row("A", Some("a1"), 1),
            row("B", Some("b2"), 2),
            row("C", Some("c1"), 1)
        ]
    );
    assert!(secrets.iter().all(|s| s.secret_group_id == created.id));

    let by_fqn = ListSecretsQuery {
        secret_fqns: vec![secrets[1].fqn.clone()],
        ..ListSecretsQuery::default()
    };
    let only_b = client.list_secrets(&by_fqn).await.expect("by fqn");
    assert_eq!(summarize(&only_b), [row("B", None, 2)]);

    let b = client.get_secret(&secrets[1].id).await.expect("get secret");
    assert_eq!(
        (b.value, b.latest_version),
        (Some(SecretValue::new("b2")), Some(2))
    );
    assert_eq!(
        client
            .delete_secret(&secrets[2].id, false)
            .await
            .expect("delete secret"),
        1
    );
    let left = client.list_secrets(&query).await.expect("list");
    let mut left: Vec<_> = left.iter().map(|s| s.name.as_str()).collect();
    left.sort();
    assert_eq!(left, ["A", "B"]);

    let listed = client
        .list_secret_groups(&ListGroupsQuery {
            fqn: None,
            search: Some("pay".into()),
        })
        .await
        .expect("search");
    assert_eq!(
        listed.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [created.id.as_str()]
    );

    client
        .delete_secret_group(&created.id, true)
        .await
        .expect("delete group");
    let error = client
        .get_secret_group(&created.id)
        .await
        .expect_err("gone");
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    assert_eq!(
        client
            .find_secret_group_by_fqn("acme:payments")
            .await
            .expect("find"),
        None
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn emulator_lists_of_many_secrets_come_in_pages_of_a_thousand() {
    let logs = tempfile::tempdir().expect("tempdir");
    let emulator = start_emulator(Faults::default(), &logs).await;
    let client = emulator_client(&emulator, ADMIN_KEY);
    let group = client
        .apply_secret_group_manifest(&group_manifest("big", None), false)
        .await
        .expect("group");
    let updates: Vec<SecretUpdate> = (0..2100)
        .map(|n| set(&format!("KEY_{n:04}"), Some(&format!("v{n}"))))
        .collect();
    client
        .set_secrets(&group.id, &updates)
        .await
        .expect("2100 secrets");
    let before = client.request_count();
    let secrets = client
        .list_secrets(&ListSecretsQuery {
            secret_group_id: Some(group.id.clone()),
            with_value: true,
            ..ListSecretsQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(secrets.len(), 2100);
    let mut keys: Vec<_> = secrets.iter().map(|s| s.name.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2100, "no secret twice, none missed");
    assert_eq!(
        client.request_count() - before,
        3,
        "three pages, stopped by the total"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn emulator_errors_map_to_their_classes() {
    let logs = tempfile::tempdir().expect("tempdir");
    let emulator = start_emulator(Faults::default(), &logs).await;
    let admin = emulator_client(&emulator, ADMIN_KEY);
    let viewer = emulator_client(&emulator, VIEWER_KEY);
    let stranger = emulator_client(&emulator, "tfy-unknown-key");
    let group = admin
        .apply_secret_group_manifest(
            &group_manifest("shared", Some("secret-group-viewer")),
            false,
        )
        .await
        .expect("group");
    admin
        .set_secrets(&group.id, &[set("A", Some("a1"))])
        .await
        .expect("secrets");

    let error = stranger.get_secret_group(&group.id).await.expect_err("401");
    assert!(matches!(error, Error::Unauthorized { .. }), "{error}");

    // The viewer sees the group and its keys, never the values.
    let seen = viewer
        .get_secret_group(&group.id)
        .await
        .expect("viewer reads the group");
    assert_eq!(seen.associated_secrets[0].name, "A");
    let with_values = ListSecretsQuery {
        secret_group_id: Some(group.id.clone()),
        with_value: true,
        ..ListSecretsQuery::default()
    };
    let error = viewer.list_secrets(&with_values).await.expect_err("403");
    assert!(matches!(error, Error::Forbidden { .. }), "{error}");
    let error = viewer
        .get_secret(&seen.associated_secrets[0].id)
        .await
        .expect_err("403");
    assert!(matches!(error, Error::Forbidden { .. }), "{error}");
    let error = viewer
        .set_secrets(&group.id, &[set("A", Some("x"))])
        .await
        .expect_err("403");
    assert!(matches!(error, Error::Forbidden { .. }), "{error}");

    let error = admin
        .get_secret_group("sg-does-not-exist")
        .await
        .expect_err("404");
    assert!(matches!(error, Error::NotFound { .. }), "{error}");
    let elsewhere = SecretGroupManifest {
        integration_fqn: "acme:aws:aws-1:secret-store:nowhere".into(),
        ..group_manifest("other", None)
    };
    let error = admin
        .apply_secret_group_manifest(&elsewhere, false)
        .await
        .expect_err("404");
    assert!(matches!(error, Error::NotFound { .. }), "{error}");

    // Moving an existing group to another (known) integration is refused.
    let moved = SecretGroupManifest {
        integration_fqn: OTHER_INTEGRATION.into(),
        ..group_manifest("shared", None)
    };
    let error = admin
        .apply_secret_group_manifest(&moved, false)
        .await
        .expect_err("409");
    assert!(matches!(error, Error::Conflict { .. }), "{error}");

    let error = admin
        .set_secrets(&group.id, &[set("NEW", None)])
        .await
        .expect_err("422");
    assert!(
        matches!(&error, Error::Validation { status: 422, .. }),
        "{error}"
    );
    let error = admin
        .set_secrets(&group.id, &[set("D", Some("1")), set("D", Some("2"))])
        .await
        .expect_err("duplicate keys");
    assert!(
        matches!(&error, Error::Validation { status: 422, .. }),
        "{error}"
    );
    let error = admin.set_secrets(&group.id, &[]).await.expect_err("400");
    assert!(
        matches!(&error, Error::Validation { status: 400, .. }),
        "{error}"
    );
    let bad_subject = SecretGroupManifest {
        collaborators: vec![Collaborator {
            subject: "nobody".into(),
            role_id: "secret-group-viewer".into(),
        }],
        ..group_manifest("bad-subject", None)
    };
    let error = admin
        .apply_secret_group_manifest(&bad_subject, false)
        .await
        .expect_err("422");
    assert!(
        matches!(&error, Error::Validation { status: 422, details, .. } if !details.is_empty()),
        "{error}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn emulator_rate_limits_are_waited_out_as_retry_after_asks() {
    let logs = tempfile::tempdir().expect("tempdir");
    let faults = Faults {
        rate_429: 0.3,
        retry_after_secs: 1,
        seed: 7,
        ..Faults::default()
    };
    let emulator = start_emulator(faults, &logs).await;
    let client = Client::new(ClientConfig {
        api_key: SecretValue::new(ADMIN_KEY),
        max_retries: 10,
        ..config(&emulator.base_url())
    })
    .expect("client");
    let started = Instant::now();
    const CALLS: u64 = 4;
    for _ in 0..CALLS {
        client
            .list_secret_groups(&ListGroupsQuery::default())
            .await
            .expect("eventually served");
    }
    let retries = client.request_count() - CALLS;
    assert!(retries >= 1, "the seed gives at least one 429");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(950) * retries as u32,
        "{retries} retries in {waited:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn emulator_faults_exhaust_max_retries() {
    let logs = tempfile::tempdir().expect("tempdir");
    type IsExpected = fn(&Error) -> bool;
    let cases: [(Faults, IsExpected); 3] = [
        (
            Faults {
                rate_429: 1.0,
                retry_after_secs: 0,
                ..Faults::default()
            },
            |e| matches!(e, Error::RateLimited { attempts: 3, .. }),
        ),
        (
            Faults {
                rate_503: 1.0,
                ..Faults::default()
            },
            |e| {
                matches!(
                    e,
                    Error::Server {
                        status: 503,
                        attempts: 3,
                        ..
                    }
                )
            },
        ),
        (
            Faults {
                rate_drop: 1.0,
                ..Faults::default()
            },
            |e| matches!(e, Error::Transport { attempts: 3, .. }),
        ),
    ];
    for (faults, is_expected) in cases {
        let emulator = start_emulator(faults, &logs).await;
        let client = emulator_client(&emulator, ADMIN_KEY);
        let error = client
            .get_secret_group("sg1")
            .await
            .expect_err("always failing");
        assert!(is_expected(&error), "{error:?}");
        assert_eq!(
            client.request_count(),
            3,
            "max_retries 2 means three attempts"
        );
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn emulator_latency_beyond_the_timeout_fails_each_attempt() {
    let logs = tempfile::tempdir().expect("tempdir");
    let faults = Faults {
        latency: Duration::from_millis(600),
        ..Faults::default()
    };
    let emulator = start_emulator(faults, &logs).await;
    let client = Client::new(ClientConfig {
        api_key: SecretValue::new(ADMIN_KEY),
        max_retries: 1,
        request_timeout: Duration::from_millis(200),
        ..config(&emulator.base_url())
    })
    .expect("client");
    let error = client.get_secret_group("sg1").await.expect_err("too slow");
    assert!(
        matches!(error, Error::Transport { attempts: 2, .. }),
        "{error}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn emulator_canaries_reach_no_error_log_or_request_log() {
    const FIRST: &str = "CANARY-emu-first-3b71";
    const SECOND: &str = "CANARY-emu-second-d0c4";
    const ECHOED: &str = "CANARY-emu-echoed-88aa";
    let canaries = [FIRST, SECOND, ECHOED, ADMIN_KEY, VIEWER_KEY];
    let log = CapturedLog::default();
    let _guard = log.install();
    let logs = tempfile::tempdir().expect("tempdir");
    let emulator = start_emulator(Faults::default(), &logs).await;
    let admin = emulator_client(&emulator, ADMIN_KEY);
    let viewer = emulator_client(&emulator, VIEWER_KEY);
    let mut texts: Vec<String> = Vec::new();
    let mut record = |text: String| texts.push(text);

    let group = admin
        .apply_secret_group_manifest(
            &group_manifest("canary", Some("secret-group-viewer")),
            false,
        )
        .await
        .expect("group");
    record(format!(
        "{:?}",
        admin.set_secrets(&group.id, &[set("A", Some(FIRST))]).await
    ));
    record(format!(
        "{:?}",
        admin
            .set_secrets(&group.id, &[set("A", Some(SECOND)), set("B", Some(FIRST))])
            .await
    ));
    let query = ListSecretsQuery {
        secret_group_id: Some(group.id.clone()),
        with_value: true,
        ..ListSecretsQuery::default()
    };
    let secrets = admin.list_secrets(&query).await.expect("list");
    assert_eq!(secrets.len(), 2);
    record(format!("{secrets:?}"));
    record(format!("{:?}", admin.get_secret(&secrets[0].id).await));
    record(format!(
        "{:?}",
        admin.list_secret_groups(&ListGroupsQuery::default()).await
    ));
    record(format!("{:?}", admin.get_secret_group(&group.id).await));
    // Error paths that carry values: refused writes, a viewer's reads, a duplicate key.
    for result in [
        viewer
            .set_secrets(&group.id, &[set("A", Some(FIRST))])
            .await,
        admin
            .set_secrets(&group.id, &[set("A", Some(FIRST)), set("A", Some(SECOND))])
            .await,
        admin
            .set_secrets("sg-missing", &[set("A", Some(SECOND))])
            .await,
    ] {
        let error = result.expect_err("refused");
        record(format!("{error} {error:?}"));
    }
    let error = viewer.list_secrets(&query).await.expect_err("viewer");
    record(format!("{error} {error:?}"));
    let error = viewer.get_secret(&secrets[0].id).await.expect_err("viewer");
    record(format!("{error} {error:?}"));
    // A server that echoes the request body into its error message.
    let echo = Stub::start(vec![Reply::error(422, "").echoing()]).await;
    let echo_client = echo.client();
    let error = echo_client
        .set_secrets("sg1", &[set("A", Some(ECHOED))])
        .await
        .expect_err("echo");
    record(format!("{error} {error:?}"));
    record(format!(
        "{:?}",
        admin.delete_secret(&secrets[1].id, false).await
    ));
    record(format!(
        "{:?}",
        admin.delete_secret_group(&group.id, false).await
    ));
    emulator.shutdown().await;
    let attempts = admin.request_count() + viewer.request_count() + echo_client.request_count();

    for text in &texts {
        assert_no_canary(&canaries, "a result or error", text);
    }
    let lines = log.lines();
    assert_eq!(
        attempt_lines(&lines),
        attempts,
        "the capture saw every attempt: {lines:#?}"
    );
    for line in &lines {
        assert_no_canary(&canaries, "a log line", line);
    }
    let request_log =
        std::fs::read_to_string(logs.path().join("requests.jsonl")).expect("request log");
    assert!(request_log.lines().count() >= 10, "{request_log}");
    assert_no_canary(&canaries, "the emulator's request log", &request_log);
}
