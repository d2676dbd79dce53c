//! Handler tests through the router, without sockets.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

pub(super) const INTEGRATION: &str = "acme:aws:aws-1:secret-store:ssm";

/// Tenant `acme` with one key per role under test, plus an admin of another tenant.
pub(super) fn config() -> EmulatorConfig {
    let text = json!({
        "tenants": [{"name": "acme"}, {"name": "other"}],
        "integrations": [
            {"tenant": "acme", "fqn": INTEGRATION},
            {"tenant": "acme", "fqn": "acme:aws:aws-1:secret-store:second"},
            {"tenant": "other", "fqn": "other:aws:x:secret-store:ssm"}
        ],
        "api_keys": [
            {"token": "t-admin", "tenant": "acme", "subject": "user:root@acme", "tenant_admin": true},
            {"token": "t-owner", "tenant": "acme", "subject": "user:owner@acme"},
            {"token": "t-editor", "tenant": "acme", "subject": "user:editor@acme"},
            {"token": "t-viewer", "tenant": "acme", "subject": "user:viewer@acme"},
            {"token": "t-stranger", "tenant": "acme", "subject": "user:stranger@acme"},
            {"token": "t-other", "tenant": "other", "subject": "user:root@other", "tenant_admin": true}
        ]
    });
    EmulatorConfig::from_json(&text.to_string()).unwrap()
}

/// The request log goes to a file deleted right after it is opened (the open handle stays
/// writable), so tests neither flood stderr nor leave files behind.
pub(super) fn router_with(mut options: EmulatorOptions) -> Router {
    let dir = tempfile::tempdir().unwrap();
    options.request_log = Some(dir.path().join("requests.log"));
    app(AppState::new(options).unwrap())
}

fn router() -> Router {
    router_with(EmulatorOptions::new(config()))
}

pub(super) async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, body) = call_raw(app, method, uri, token, body).await;
    (status, body)
}

async fn call_raw(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("{API_PREFIX}{uri}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

pub(super) fn manifest(name: &str, collaborators: Value) -> Value {
    json!({"manifest": {
        "type": "secret-group",
        "name": name,
        "integration_fqn": INTEGRATION,
        "collaborators": collaborators,
    }})
}

/// A group created by the tenant admin with one collaborator per role; returns its id.
async fn shared_group(app: &Router) -> String {
    let collaborators = json!([
        {"subject": "user:owner@acme", "role_id": "secret-group-admin"},
        {"subject": "user:editor@acme", "role_id": "secret-group-editor"},
        {"subject": "user:viewer@acme", "role_id": "secret-group-viewer"},
    ]);
    let (status, body) = call(
        app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest("payments", collaborators)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let secrets = json!({"secrets": [{"key": "A", "value": "va"}, {"key": "B", "value": "vb"}]});
    let (status, body) = call(
        app,
        "PUT",
        &format!("/secret-groups/{id}"),
        Some("t-admin"),
        Some(secrets),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    id
}

fn assert_http_error(body: &Value, status: u16) {
    assert_eq!(body["statusCode"], status, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_or_missing_keys_get_401() {
    let app = router();
    for token in [None, Some("nope")] {
        let (status, body) = call(&app, "GET", "/secret-groups", token, None).await;
        assert_eq!(status, 401);
        assert_http_error(&body, 401);
    }
    let (status, _) = call(&app, "GET", "/secret-groups", Some("t-admin"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn manifest_validation_reports_every_problem() {
    let app = router();
    let (status, body) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(json!({"manifest": {}})),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "manifest.type",
            "manifest.name",
            "manifest.integration_fqn",
            "manifest.collaborators"
        ]
    );

    let cases = [
        // camelCase inside the manifest is a client mistake, not an ignored field
        json!({"manifest": {"type": "secret-group", "name": "g", "integrationFqn": INTEGRATION, "integration_fqn": INTEGRATION, "collaborators": []}}),
        json!({"manifest": {"type": "secret", "name": "g", "integration_fqn": INTEGRATION, "collaborators": []}}),
        manifest(
            "g",
            json!([{"subject": "alice@acme", "role_id": "secret-group-viewer"}]),
        ),
        manifest(
            "g",
            json!([{"subject": "group:x", "role_id": "secret-group-viewer"}]),
        ),
        manifest("g", json!([{"subject": "user:a@acme", "role_id": "owner"}])),
        manifest("bad:name", json!([])),
        json!({"manifest": {"type": "secret-group", "name": "g", "integration_fqn": INTEGRATION, "collaborators": []}, "dry_run": true}),
    ];
    for case in cases {
        let (status, body) = call(
            &app,
            "PUT",
            "/secret-groups",
            Some("t-admin"),
            Some(case.clone()),
        )
        .await;
        assert_eq!(status, 422, "{case} → {body}");
        assert_http_error(&body, 422);
    }

    let mut unknown = manifest("g", json!([]));
    unknown["manifest"]["integration_fqn"] = json!("acme:nope");
    let (status, _) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(unknown),
    )
    .await;
    assert_eq!(status, 404);

    // Another tenant's integration is unknown here.
    let mut foreign = manifest("g", json!([]));
    foreign["manifest"]["integration_fqn"] = json!("other:aws:x:secret-store:ssm");
    let (status, _) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(foreign),
    )
    .await;
    assert_eq!(status, 404);

    let (status, body) = call_raw_text(&app, "PUT", "/secret-groups", "{not json").await;
    assert_eq!(status, 400, "{body}");
}

/// A request of the tenant admin with `body` sent as is.
async fn call_raw_text(
    app: &Router,
    method: &str,
    uri: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    call_with_header(app, method, uri, "Bearer t-admin", body.into()).await
}

#[tokio::test]
async fn manifest_put_upserts_by_name_and_keeps_the_integration() {
    let app = router();
    let (_, created) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest("g", json!([]))),
    )
    .await;
    let data = &created["data"];
    assert_eq!(data["fqn"], "acme:g");
    assert_eq!(data["name"], "g");
    assert_eq!(data["tenantName"], "acme");
    assert_eq!(data["associatedSecrets"], json!([]));
    assert_eq!(data["createdBySubject"]["subjectType"], "user");
    assert_eq!(data["createdBySubject"]["subjectSlug"], "root@acme");
    for field in ["id", "accountId", "integrationId", "createdAt", "updatedAt"] {
        assert!(
            data[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {data}"
        );
    }

    let mut update = manifest(
        "g",
        json!([{"subject": "team:payments", "role_id": "secret-group-viewer"}]),
    );
    update["manifest"]["ownedBy"] = json!({"account": "acme-account"});
    let (status, updated) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(update.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["data"]["id"], data["id"], "matching is by name");
    assert_eq!(
        updated["data"]["manifest"], update["manifest"],
        "the stored manifest is returned as sent"
    );

    let mut moved = manifest("g", json!([]));
    moved["manifest"]["integration_fqn"] = json!("acme:aws:aws-1:secret-store:second");
    let (status, body) = call(&app, "PUT", "/secret-groups", Some("t-admin"), Some(moved)).await;
    assert_eq!(status, 409);
    assert_http_error(&body, 409);

    // Same name in another tenant is another group.
    let mut elsewhere = manifest("g", json!([]));
    elsewhere["manifest"]["integration_fqn"] = json!("other:aws:x:secret-store:ssm");
    let (status, body) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-other"),
        Some(elsewhere),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["fqn"], "other:g");
    assert_ne!(body["data"]["id"], data["id"]);
}

#[tokio::test]
async fn dry_run_validates_without_persisting() {
    let app = router();
    let mut request = manifest("dry", json!([]));
    request["dryRun"] = json!(true);
    let (status, body) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(request),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["fqn"], "acme:dry");
    let (_, list) = call(
        &app,
        "GET",
        "/secret-groups?fqn=acme:dry",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(list["data"], json!([]), "a dry run creates nothing");

    let (_, created) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest("dry", json!([]))),
    )
    .await;
    let mut change = manifest(
        "dry",
        json!([{"subject": "user:viewer@acme", "role_id": "secret-group-viewer"}]),
    );
    change["dryRun"] = json!(true);
    let (status, body) = call(&app, "PUT", "/secret-groups", Some("t-admin"), Some(change)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["manifest"]["collaborators"][0]["subject"],
        "user:viewer@acme"
    );
    let id = created["data"]["id"].as_str().unwrap();
    let (_, stored) = call(
        &app,
        "GET",
        &format!("/secret-groups/{id}"),
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(stored["data"]["manifest"]["collaborators"], json!([]));

    // A dry run still checks rights and conflicts.
    let mut forbidden = manifest("dry", json!([]));
    forbidden["dryRun"] = json!(true);
    let (status, _) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-viewer"),
        Some(forbidden),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn roles_decide_what_each_caller_sees_and_does() {
    let app = router();
    let id = shared_group(&app).await;
    let group = format!("/secret-groups/{id}");
    let (_, listed) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupId": id})),
    )
    .await;
    let secret_id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let secret = format!("/secrets/{secret_id}");
    let keep_both = json!({"secrets": [{"key": "A"}, {"key": "B"}]});
    let by_id = json!({"secretGroupId": id});
    let with_values = json!({"secretGroupId": id, "withValue": true});

    // Invisible to a stranger and to another tenant, even its admin.
    for token in ["t-stranger", "t-other"] {
        let (_, list) = call(&app, "GET", "/secret-groups", Some(token), None).await;
        assert_eq!(list["data"], json!([]), "{token}");
        for (method, uri, body) in [
            ("GET", group.as_str(), None),
            ("PUT", group.as_str(), Some(keep_both.clone())),
            ("DELETE", group.as_str(), None),
            ("GET", secret.as_str(), None),
            ("DELETE", secret.as_str(), None),
            ("POST", "/secrets", Some(by_id.clone())),
        ] {
            let (status, body) = call(&app, method, uri, Some(token), body).await;
            assert_eq!(status, 404, "{token} {method} {uri}");
            assert_http_error(&body, 404);
        }
        let (_, all) = call(&app, "POST", "/secrets", Some(token), Some(json!({}))).await;
        assert_eq!(all["data"], json!([]), "{token}");
    }

    // A viewer sees the group and its keys, never values, and changes nothing.
    let (_, list) = call(&app, "GET", "/secret-groups", Some("t-viewer"), None).await;
    assert_eq!(list["data"][0]["id"], id);
    let (status, _) = call(&app, "GET", &group, Some("t-viewer"), None).await;
    assert_eq!(status, 200);
    let (status, keys) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-viewer"),
        Some(by_id.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(keys["data"].as_array().unwrap().len(), 2);
    assert!(keys["data"][0].get("value").is_none());
    for (method, uri, body) in [
        ("POST", "/secrets", Some(with_values.clone())),
        ("GET", secret.as_str(), None),
        ("PUT", group.as_str(), Some(keep_both.clone())),
        ("DELETE", secret.as_str(), None),
        ("DELETE", group.as_str(), None),
        (
            "PUT",
            "/secret-groups",
            Some(manifest("payments", json!([]))),
        ),
    ] {
        let (status, body) = call(&app, method, uri, Some("t-viewer"), body).await;
        assert_eq!(status, 403, "viewer {method} {uri}");
        assert_http_error(&body, 403);
    }

    // An editor reads values and edits secrets, but not the manifest or the group's existence.
    let (status, values) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-editor"),
        Some(with_values.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(values["data"][0]["value"], "va");
    let (status, one) = call(&app, "GET", &secret, Some("t-editor"), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["data"]["value"], "va");
    let (status, _) = call(
        &app,
        "PUT",
        &group,
        Some("t-editor"),
        Some(json!({"secrets": [{"key": "A", "value": "va2"}, {"key": "B"}]})),
    )
    .await;
    assert_eq!(status, 200);
    for (method, uri, body) in [
        ("DELETE", group.as_str(), None),
        (
            "PUT",
            "/secret-groups",
            Some(manifest("payments", json!([]))),
        ),
    ] {
        let (status, _) = call(&app, method, uri, Some("t-editor"), body).await;
        assert_eq!(status, 403, "editor {method} {uri}");
    }
    let (status, count) = call(&app, "DELETE", &secret, Some("t-editor"), None).await;
    assert_eq!((status, count), (StatusCode::OK, json!(1)));

    // A group admin changes the manifest (and can lock itself out of nothing: it stays listed).
    let owner_only = json!([{"subject": "user:owner@acme", "role_id": "secret-group-admin"}]);
    let (status, _) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-owner"),
        Some(manifest("payments", owner_only)),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, "GET", &group, Some("t-viewer"), None).await;
    assert_eq!(status, 404, "removed collaborators lose sight of the group");
    let (status, deleted) = call(
        &app,
        "DELETE",
        &format!("{group}?forceDelete=false"),
        Some("t-owner"),
        None,
    )
    .await;
    assert_eq!((status, deleted), (StatusCode::OK, json!({})));
    let (status, _) = call(&app, "GET", &group, Some("t-admin"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_creator_of_a_group_administers_it_without_being_listed() {
    let app = router();
    let (status, created) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-owner"),
        Some(manifest("mine", json!([]))),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(created["data"]["manifest"]["collaborators"], json!([]));
    let id = created["data"]["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        "PUT",
        &format!("/secret-groups/{id}"),
        Some("t-owner"),
        Some(json!({"secrets": [{"key": "K", "value": "v"}]})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        "GET",
        &format!("/secret-groups/{id}"),
        Some("t-stranger"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // The name is taken even for callers who cannot see the group.
    let (status, _) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-stranger"),
        Some(manifest("mine", json!([]))),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/secret-groups/{id}"),
        Some("t-owner"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn group_list_filters_and_pages() {
    let app = router();
    for name in ["alpha", "beta", "alphabet"] {
        call(
            &app,
            "PUT",
            "/secret-groups",
            Some("t-admin"),
            Some(manifest(name, json!([]))),
        )
        .await;
    }
    let names = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, body) = call(
        &app,
        "GET",
        "/secret-groups?fqn=acme:alpha",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(names(&body), ["alpha"]);
    let (_, body) = call(
        &app,
        "GET",
        "/secret-groups?search=ALPHA&attributes=id,name&attributes=fqn",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(names(&body), ["alpha", "alphabet"]);
    let (status, body) = call(
        &app,
        "GET",
        "/secret-groups?fqn=acme:missing",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!([]));

    let (_, first) = call(&app, "GET", "/secret-groups?limit=2", Some("t-admin"), None).await;
    assert_eq!(names(&first), ["alpha", "beta"]);
    assert_eq!(
        first["pagination"],
        json!({"total": 3, "offset": 0, "limit": 2})
    );
    let (_, second) = call(
        &app,
        "GET",
        "/secret-groups?limit=2&offset=2",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(names(&second), ["alphabet"]);
    let (status, past) = call(
        &app,
        "GET",
        "/secret-groups?limit=2&offset=4",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(past["data"], json!([]));
    assert_eq!(past["pagination"]["total"], 3);

    for query in ["limit=0", "limit=1001", "offset=-1", "limit=ten"] {
        let (status, body) = call(
            &app,
            "GET",
            &format!("/secret-groups?{query}"),
            Some("t-admin"),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}");
        assert_http_error(&body, 400);
    }
    let (status, _) = call(
        &app,
        "GET",
        "/secret-groups?limit=1000",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn secret_list_filters_by_fqn_with_or_without_prefix() {
    let app = router();
    let id = shared_group(&app).await;
    for fqn in ["tfy-secret://acme:payments:B", "acme:payments:B"] {
        let (_, body) = call(
            &app,
            "POST",
            "/secrets",
            Some("t-admin"),
            Some(json!({"secretFqns": [fqn]})),
        )
        .await;
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{fqn}");
        assert_eq!(data[0]["name"], "B");
        assert_eq!(data[0]["fqn"], "tfy-secret://acme:payments:B");
        assert_eq!(data[0]["secretGroupId"], id);
        assert!(data[0].get("value").is_none(), "values only on request");
    }
    // SDK callers passing `None` explicitly send nulls.
    let nulls = json!({"secretGroupId": id, "withValue": null, "secretFqns": null, "limit": null, "offset": null});
    let (status, body) = call(&app, "POST", "/secrets", Some("t-admin"), Some(nulls)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"][0].get("value").is_none());
    let (status, body) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupId": id, "limit": 0})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupID": id})),
    )
    .await;
    assert_eq!(status, 422, "misspelt fields are refused");
    let (status, body) = call(&app, "POST", "/secrets", Some("t-admin"), None).await;
    assert_eq!(status, 200, "an empty body lists everything visible");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn value_view_can_be_disabled() {
    let mut config = config();
    config.disable_secret_value_view = true;
    let app = router_with(EmulatorOptions::new(config));
    let id = shared_group(&app).await;
    let (status, body) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupId": id, "withValue": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["data"][0].get("value").is_none());
    let secret_id = body["data"][0]["id"].as_str().unwrap();
    let (status, body) = call(
        &app,
        "GET",
        &format!("/secrets/{secret_id}"),
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["data"].get("value").is_none());
    assert_eq!(body["data"]["secretVersions"][0]["version"], 1);
}

#[tokio::test]
async fn secrets_put_body_errors_never_quote_values() {
    let app = router();
    let id = shared_group(&app).await;
    let uri = format!("/secret-groups/{id}");
    for body in [
        json!({"secrets": "canary-77"}),
        json!({"secrets": [{"key": "A", "value": ["canary-77"]}]}),
        json!({"secrets": [{"key": "A", "value": "canary-77", "extra": 1}]}),
        json!({"secrets": [{"key": "A", "value": "canary-77"}, {"key": 5, "value": "canary-77"}]}),
    ] {
        let (status, error) = call(&app, "PUT", &uri, Some("t-admin"), Some(body)).await;
        assert_eq!(status, 422);
        let message = error["message"].as_str().unwrap();
        assert!(!message.contains("canary-77"), "{message}");
    }
    let (status, error) = call(
        &app,
        "PUT",
        &uri,
        Some("t-admin"),
        Some(json!({"secrets": [{"key": "A", "valeu": "x"}]})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        error["message"].as_str().unwrap().contains("valeu"),
        "field names are named"
    );
    let (status, _) = call(
        &app,
        "PUT",
        &uri,
        Some("t-admin"),
        Some(json!({"secrets": []})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn injected_faults_follow_the_seed_and_rates() {
    let statuses = |seed: u64| async move {
        let mut options = EmulatorOptions::new(config());
        options.faults = Faults {
            rate_429: 0.2,
            rate_503: 0.1,
            rate_drop: 0.1,
            retry_after_secs: 7,
            seed,
            ..Faults::default()
        };
        let app = router_with(options);
        let mut seen = Vec::new();
        for _ in 0..1000 {
            let (status, headers, _) =
                call_raw(&app, "GET", "/secret-groups", Some("t-admin"), None).await;
            if status == 429 {
                assert_eq!(headers["retry-after"], "7");
            }
            seen.push(status.as_u16());
        }
        seen
    };
    let first = statuses(42).await;
    assert_eq!(first, statuses(42).await, "same seed, same faults");
    assert_ne!(first, statuses(43).await);
    let count = |code: u16| first.iter().filter(|s| **s == code).count();
    // Without a socket a dropped connection shows as 502.
    for (code, expected) in [(429, 200), (503, 100), (502, 100), (200, 600)] {
        let got = count(code);
        assert!(
            got.abs_diff(expected) < expected / 4,
            "{code}: {got} of 1000, expected ~{expected}"
        );
    }

    // Faults stay off routes outside the API.
    let mut options = EmulatorOptions::new(config());
    options.faults.rate_503 = 1.0;
    let app = router_with(options);
    let response = app
        .clone()
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, _) = call(&app, "GET", "/secret-groups", Some("t-admin"), None).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn the_simple_create_form_makes_a_group_with_its_secrets() {
    let app = router();
    // The integration id is what groups created by manifest report.
    let (_, probe) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest("probe", json!([]))),
    )
    .await;
    let integration_id = probe["data"]["integrationId"].clone();
    let create = json!({"name": "simple", "integrationId": integration_id, "secrets": [{"key": "K", "value": "v"}]});
    let (status, body) = call(
        &app,
        "POST",
        "/secret-groups",
        Some("t-owner"),
        Some(create.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["fqn"], "acme:simple");
    assert_eq!(body["data"]["manifest"]["integration_fqn"], INTEGRATION);
    assert_eq!(body["data"]["associatedSecrets"][0]["name"], "K");
    assert!(body["data"]["associatedSecrets"][0].get("value").is_none());
    let id = body["data"]["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        "GET",
        &format!("/secret-groups/{id}"),
        Some("t-owner"),
        None,
    )
    .await;
    assert_eq!(status, 200, "the creator administers the group");

    let (status, _) = call(
        &app,
        "POST",
        "/secret-groups",
        Some("t-admin"),
        Some(create),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = call(
        &app,
        "POST",
        "/secret-groups",
        Some("t-admin"),
        Some(json!({"name": "x", "integrationId": "int0", "secrets": []})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        "POST",
        "/secret-groups",
        Some("t-admin"),
        Some(json!({"name": "x", "secrets": []})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = call(
        &app,
        "POST",
        "/secret-groups",
        Some("t-admin"),
        Some(json!({"name": "y", "integrationId": integration_id, "secrets": [{"key": "K"}]})),
    )
    .await;
    assert_eq!(status, 422, "a new key needs a value");
}

#[tokio::test]
async fn large_full_lists_are_accepted() {
    let app = router();
    let id = shared_group(&app).await;
    let value = "x".repeat(1024);
    let secrets: Vec<Value> = (0..5000)
        .map(|i| json!({"key": format!("KEY_{i}"), "value": value}))
        .collect();
    let (status, body) = call(
        &app,
        "PUT",
        &format!("/secret-groups/{id}"),
        Some("t-admin"),
        Some(json!({"secrets": secrets})),
    )
    .await;
    assert_eq!(status, 200, "{}", body["message"]);
    assert_eq!(
        body["data"]["associatedSecrets"].as_array().unwrap().len(),
        5000
    );
    let (status, _) = call(
        &app,
        "DELETE",
        "/secrets/whatever?forceDelete=yes",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn latency_is_added_to_api_requests() {
    let mut options = EmulatorOptions::new(config());
    options.faults.latency = std::time::Duration::from_millis(60);
    let app = router_with(options);
    let started = std::time::Instant::now();
    let (status, _) = call(&app, "GET", "/secret-groups", Some("t-admin"), None).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(60));
}

#[tokio::test]
async fn the_session_endpoint_tells_each_key_who_it_is() {
    let app = router();
    let (status, admin) = call(&app, "GET", "/x/users/info", Some("t-admin"), None).await;
    assert_eq!(status, 200, "{admin}");
    assert_eq!(admin["subjectType"], "user");
    assert_eq!(admin["subjectSlug"], "root@acme");
    assert_eq!(admin["tenantName"], "acme");
    assert_eq!(admin["roles"], json!(["tenant-admin"]));
    assert_eq!(admin["email"], "root@acme");
    assert!(admin["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(admin["id"], admin["effectiveUserId"]);
    // The SDK parses the session from the whole body: no `data` envelope.
    assert!(admin.get("data").is_none());
    // The SDK's model requires both lists, each entry an object `{name, id}`.
    assert_eq!(admin["teams"], json!([]));
    assert_eq!(admin["accounts"][0]["name"], "acme");
    assert!(
        admin["accounts"][0]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    let (_, viewer) = call(&app, "GET", "/x/users/info", Some("t-viewer"), None).await;
    assert_eq!(viewer["subjectSlug"], "viewer@acme");
    assert_eq!(viewer["roles"], json!(["tenant-member"]));
    let (_, other) = call(&app, "GET", "/x/users/info", Some("t-other"), None).await;
    assert_eq!(other["tenantName"], "other");

    for token in [None, Some("nope")] {
        let (status, body) = call(&app, "GET", "/x/users/info", token, None).await;
        assert_eq!(status, 401);
        assert_http_error(&body, 401);
    }
}

/// Sends `body` with the `Authorization` header given verbatim; the status and the parsed body.
async fn call_with_header(
    app: &Router,
    method: &str,
    uri: &str,
    authorization: &str,
    body: Body,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(format!("{API_PREFIX}{uri}"))
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The status expected, with the API's error body.
fn assert_api_error((status, body): &(StatusCode, Value), expected: u16, case: &str) {
    assert_eq!(*status, expected, "{case}: {body}");
    assert_http_error(body, expected);
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_the_token_must_match_whole() {
    let app = router();
    for header in [
        "Bearer t-admin",
        "bearer t-admin",
        "BEARER t-admin",
        "bEaReR t-admin",
        "Bearer   t-admin ",
    ] {
        let (status, body) =
            call_with_header(&app, "GET", "/x/users/info", header, Body::empty()).await;
        assert_eq!(status, 200, "{header}: {body}");
        assert_eq!(body["subjectSlug"], "root@acme", "{header}");
    }
    for header in [
        "Bearer",
        "Bearert-admin",
        "Basic t-admin",
        "Bearer t-admi",
        "Bearer t-admin2",
        "Bearer T-ADMIN",
        "Bearer ",
    ] {
        let answer = call_with_header(&app, "GET", "/x/users/info", header, Body::empty()).await;
        assert_api_error(&answer, 401, header);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_the_api_error_body() {
    let app = router();
    let id = shared_group(&app).await;
    let oversized = vec![b' '; api::MAX_BODY_BYTES + 1];
    let answer = call_raw_text(&app, "PUT", &format!("/secret-groups/{id}"), oversized).await;
    assert_api_error(&answer, 413, "oversized");
}

#[tokio::test]
async fn an_id_that_is_not_utf8_gets_the_api_error_body() {
    let app = router();
    let secrets = json!({"secrets": [{"key": "A", "value": "v"}]}).to_string();
    for (method, uri, body) in [
        ("GET", "/secret-groups/%FF", String::new()),
        ("DELETE", "/secret-groups/a%C3", String::new()),
        ("PUT", "/secret-groups/%FF", secrets),
        ("GET", "/secrets/%80x", String::new()),
        ("DELETE", "/secrets/%FE%FF", String::new()),
    ] {
        let answer = call_raw_text(&app, method, uri, body).await;
        assert_api_error(&answer, 400, &format!("{method} {uri}"));
    }
}

#[tokio::test]
async fn group_names_with_control_bidi_or_invisible_characters_or_too_long_are_refused() {
    let app = router();
    let create = async |name: &str| {
        let manifest = Some(manifest(name, json!([])));
        call(&app, "PUT", "/secret-groups", Some("t-admin"), manifest).await
    };
    let long = "a".repeat(super::store::MAX_NAME_CHARS + 1);
    for name in [
        "\u{1b}]0;TITLE\u{7}db-acme",
        "db\u{1b}[2J-acme",
        "db-\u{202e}emca",
        "db\u{2066}-acme",
        "db\u{200b}-acme",
        "db\u{feff}-acme",
        "db\u{85}-acme",
        long.as_str(),
    ] {
        let (status, body) = create(name).await;
        assert_eq!(status, 422, "{name:?}: {body}");
        assert_eq!(body["details"][0]["field"], "manifest.name", "{name:?}");
    }
    let (status, body) = create(&"a".repeat(super::store::MAX_NAME_CHARS)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn keys_with_control_or_bidirectional_override_characters_are_refused() {
    let app = router();
    let id = shared_group(&app).await;
    let uri = format!("/secret-groups/{id}");
    for key in [
        "A\u{0}B",
        "\u{0}",
        "A\u{7}",
        "A\u{1b}[31m",
        "A\u{7f}",
        "A\u{85}",
        "A\u{202A}B",
        "ADMIN\u{202E}exe",
        "\u{2066}A",
        "A\u{2069}",
    ] {
        let secrets = json!({"secrets": [{"key": "A", "value": "va"}, {"key": key, "value": "v"}]});
        let (status, body) = call(&app, "PUT", &uri, Some("t-admin"), Some(secrets)).await;
        assert_api_error(&(status, body.clone()), 422, &format!("{key:?}"));
        assert_eq!(body["details"][0]["field"], "secrets[1].key", "{key:?}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(!message.contains(key), "the key is escaped: {message:?}");
    }
    let (_, group) = call(&app, "GET", &uri, Some("t-admin"), None).await;
    let keys: Vec<&str> = group["data"]["associatedSecrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|secret| secret["name"].as_str())
        .collect();
    assert_eq!(keys, ["A", "B"], "nothing was written");
    let (status, body) = call(
        &app,
        "PUT",
        &uri,
        Some("t-admin"),
        Some(json!({"secrets": [{"key": "A"}, {"key": "B"}, {"key": "Ä-ok.1", "value": "v"}]})),
    )
    .await;
    assert_eq!(status, 200, "other non-ASCII keys stay accepted: {body}");
}

#[tokio::test]
async fn active_deployments_from_the_config_are_reported_wherever_secrets_are() {
    let mut config = config();
    config
        .active_deployments
        .insert("tfy-secret://acme:payments:A".to_owned(), 3);
    let app = router_with(EmulatorOptions::new(config));
    let id = shared_group(&app).await;
    let count_of = |secrets: &Value, key: &str| {
        let secret = secrets
            .as_array()
            .unwrap()
            .iter()
            .find(|secret| secret["name"] == key)
            .unwrap_or_else(|| panic!("{key} is listed: {secrets}"))
            .clone();
        secret["activeDeploymentsCount"].clone()
    };

    let (_, group) = call(
        &app,
        "GET",
        &format!("/secret-groups/{id}"),
        Some("t-admin"),
        None,
    )
    .await;
    let associated = &group["data"]["associatedSecrets"];
    assert_eq!(count_of(associated, "A"), 3);
    assert_eq!(count_of(associated, "B"), 0);

    let (_, groups) = call(&app, "GET", "/secret-groups", Some("t-admin"), None).await;
    assert_eq!(count_of(&groups["data"][0]["associatedSecrets"], "A"), 3);

    let (_, listed) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupId": id})),
    )
    .await;
    assert_eq!(count_of(&listed["data"], "A"), 3);
    assert_eq!(count_of(&listed["data"], "B"), 0);

    let a_id = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|secret| secret["name"] == "A")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, one) = call(
        &app,
        "GET",
        &format!("/secrets/{a_id}"),
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["data"]["activeDeploymentsCount"], 3);
}
