//! The TrueFoundry client against scripted stub servers on 127.0.0.1: the wire shape of every
//! operation, every error class, retries, timeouts, TLS roots and redaction of echoed values.

use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value as Json, json};
use truefoundry_provider::client::{
    Client, ClientConfig, Collaborator, Error, ListGroupsQuery, ListSecretsQuery, OwnedBy,
    SecretGroupManifest, SecretUpdate, SecretValue,
};

use crate::support::canaries::assert_no_canary;

use super::*;

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
    )]);
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
    let stub = Stub::start(vec![ok.clone(), ok.clone(), ok]);
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
    ]);
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
    ]);
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
    let stub = Stub::start(vec![same.clone(), same.clone(), same]);
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
    ]);
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
    let stub = Stub::start(vec![Reply::json(200, json!({ "data": stored }))]);
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
    )]);
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
    ]);
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
    ]);
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
    ]);
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
    let stub = Stub::start(vec![]);
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
    ]);
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
    ]);
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
    ]);
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
    ]);
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
    ]);
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
    let stub = Stub::start(vec![slow.clone(), slow]);
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
    ]);
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
    )]);
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
    ]);
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
fn tls_stub(replies: Vec<Reply>) -> (String, Stub) {
    let pki = Pki::generate("Stub CA", &["127.0.0.1"]);
    let stub = Stub::start_tls(replies, &pki);
    (pki.ca_pem, stub)
}

#[tokio::test]
async fn tls_is_verified_and_a_private_ca_can_be_trusted() {
    let ok = Reply::json(200, json!({"data": group_json("sg1", "g")}));
    let (ca_pem, stub) = tls_stub(vec![ok]);
    let url = stub.url();

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
    ]);
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
