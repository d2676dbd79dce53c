//! Each variant of the API through the router: what changes, and that everything else does not.

use axum::Router;
use serde_json::{Value, json};

use super::tests::{INTEGRATION, call, config, manifest, router_with};
use super::*;

fn router_playing(variants: &[Variant]) -> Router {
    let mut config = config();
    config.variants.extend(variants.iter().copied());
    router_with(EmulatorOptions::new(config))
}

/// Creates group `name` as the tenant admin with `secrets`; returns the manifest PUT's answer.
async fn create(app: &Router, name: &str, collaborators: Value, secrets: Value) -> Value {
    let (status, body) = call(
        app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest(name, collaborators)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let group = body["data"].clone();
    if secrets.as_array().is_some_and(|s| !s.is_empty()) {
        let id = group["id"].as_str().unwrap();
        put_secrets(app, id, secrets).await;
    }
    group
}

async fn put_secrets(app: &Router, id: &str, secrets: Value) -> Value {
    let (status, body) = call(
        app,
        "PUT",
        &format!("/secret-groups/{id}"),
        Some("t-admin"),
        Some(json!({ "secrets": secrets })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn list_secrets(app: &Router, id: &str) -> Vec<Value> {
    let (status, body) = call(
        app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupId": id})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

fn versions_of(secret: &Value) -> Vec<u64> {
    secret["secretVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|version| version["version"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn no_list_versions_leaves_versions_out_of_lists_only() {
    let app = router_playing(&[Variant::NoListVersions]);
    let group = create(&app, "g", json!([]), json!([{"key": "A", "value": "1"}])).await;
    let id = group["id"].as_str().unwrap();
    let listed = list_secrets(&app, id).await;
    assert_eq!(listed[0]["name"], "A");
    assert!(listed[0].get("secretVersions").is_none(), "{listed:?}");
    let secret_id = listed[0]["id"].as_str().unwrap();
    let (status, one) = call(
        &app,
        "GET",
        &format!("/secrets/{secret_id}"),
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(versions_of(&one["data"]), [1]);

    let plain = router_playing(&[]);
    let group = create(&plain, "g", json!([]), json!([{"key": "A", "value": "1"}])).await;
    let listed = list_secrets(&plain, group["id"].as_str().unwrap()).await;
    assert_eq!(versions_of(&listed[0]), [1], "the default lists versions");
}

#[tokio::test]
async fn sparse_versions_jump_on_every_write_and_only_on_a_changed_value() {
    let app = router_playing(&[Variant::SparseVersions]);
    let group = create(&app, "g", json!([]), json!([{"key": "A", "value": "1"}])).await;
    let id = group["id"].as_str().unwrap();
    for value in ["2", "3", "3"] {
        put_secrets(&app, id, json!([{"key": "A", "value": value}])).await;
    }
    let versions = versions_of(&list_secrets(&app, id).await[0]);
    assert_eq!(versions.len(), 3, "an unchanged value makes no version");
    assert!(versions[0] >= 2, "{versions:?}");
    assert!(
        versions.windows(2).all(|pair| pair[1] >= pair[0] + 2),
        "not consecutive: {versions:?}"
    );
}

#[tokio::test]
async fn creator_collaborator_lists_the_creator_as_admin_once() {
    let app = router_playing(&[Variant::CreatorCollaborator]);
    let group = create(
        &app,
        "g",
        json!([{"subject": "team:payments", "role_id": "secret-group-viewer"}]),
        json!([]),
    )
    .await;
    assert_eq!(
        group["manifest"]["collaborators"],
        json!([
            {"subject": "team:payments", "role_id": "secret-group-viewer"},
            {"subject": "user:root@acme", "role_id": "secret-group-admin"}
        ])
    );
    // Already listed: not added again, whatever role it was given.
    let listed = json!([{"subject": "user:root@acme", "role_id": "secret-group-editor"}]);
    let group = create(&app, "h", listed.clone(), json!([])).await;
    assert_eq!(group["manifest"]["collaborators"], listed);
    // Only a create adds it: an update replaces the collaborators as sent.
    let group = create(&app, "g", json!([]), json!([])).await;
    assert_eq!(group["manifest"]["collaborators"], json!([]));
}

#[tokio::test]
async fn server_owned_by_fills_a_missing_owner_and_keeps_a_given_one() {
    let app = router_playing(&[Variant::ServerOwnedBy]);
    let group = create(&app, "g", json!([]), json!([])).await;
    assert_eq!(group["manifest"]["ownedBy"], json!({"account": "acme"}));
    let mut body = manifest("h", json!([]));
    body["manifest"]["ownedBy"] = json!({"account": "finance"});
    let (status, answer) = call(&app, "PUT", "/secret-groups", Some("t-admin"), Some(body)).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["data"]["manifest"]["ownedBy"],
        json!({"account": "finance"})
    );
}

#[tokio::test]
async fn no_group_name_sends_groups_with_an_fqn_and_no_name() {
    let app = router_playing(&[Variant::NoGroupName]);
    let group = create(&app, "g", json!([]), json!([])).await;
    assert!(group.get("name").is_none(), "{group}");
    assert_eq!(group["fqn"], "acme:g");
    let (_, listed) = call(
        &app,
        "GET",
        "/secret-groups?fqn=acme:g",
        Some("t-admin"),
        None,
    )
    .await;
    assert!(listed["data"][0].get("name").is_none());
    assert_eq!(listed["data"][0]["manifest"]["name"], "g");
    // `search` still matches the name.
    let (_, found) = call(
        &app,
        "GET",
        "/secret-groups?search=G",
        Some("t-admin"),
        None,
    )
    .await;
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1));
}

/// Whether every object inside `value` carries the extra `etag` field.
fn every_object_has_extras(value: &Value) -> bool {
    match value {
        Value::Object(object) => {
            object.contains_key("etag")
                && object
                    .iter()
                    .filter(|(name, _)| *name != "labels")
                    .all(|(_, child)| every_object_has_extras(child))
        }
        Value::Array(items) => items.iter().all(every_object_has_extras),
        _ => true,
    }
}

#[tokio::test]
async fn extra_fields_reach_every_object_of_every_answer() {
    let app = router_playing(&[Variant::ExtraFields]);
    let group = create(
        &app,
        "g",
        json!([{"subject": "team:x", "role_id": "secret-group-viewer"}]),
        json!([{"key": "A", "value": "1"}]),
    )
    .await;
    assert!(every_object_has_extras(&group), "{group}");
    assert!(every_object_has_extras(&group["manifest"]["collaborators"]));
    let id = group["id"].as_str().unwrap();
    let (_, listed) = call(&app, "GET", "/secret-groups", Some("t-admin"), None).await;
    assert!(every_object_has_extras(&listed), "{listed}");
    assert!(listed["pagination"].get("etag").is_some());
    let (_, secrets) = call(
        &app,
        "POST",
        "/secrets",
        Some("t-admin"),
        Some(json!({"secretGroupId": id, "withValue": true})),
    )
    .await;
    assert!(every_object_has_extras(&secrets), "{secrets}");
    assert_eq!(
        secrets["data"][0]["value"], "1",
        "known fields are untouched"
    );
    let (status, error) = call(&app, "GET", "/secret-groups/nope", Some("t-admin"), None).await;
    assert_eq!(status, 404);
    assert!(every_object_has_extras(&error), "{error}");
    assert_eq!(error["statusCode"], 404);
    let (_, session) = call(&app, "GET", "/x/users/info", Some("t-admin"), None).await;
    assert!(every_object_has_extras(&session), "{session}");
}

#[tokio::test]
async fn lenient_manifest_takes_no_collaborators_and_every_subject_kind() {
    let kinds = json!([
        {"subject": "agent-identity:bot", "role_id": "secret-group-viewer"},
        {"subject": "agent:helper", "role_id": "secret-group-viewer"},
        {"subject": "agent-channel-identity:slack", "role_id": "secret-group-viewer"},
        {"subject": "role:auditors", "role_id": "secret-group-viewer"},
    ]);
    let strict = router_playing(&[]);
    let (status, body) = call(
        &strict,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest("g", kinds.clone())),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let mut without = manifest("g", json!([]));
    without["manifest"]
        .as_object_mut()
        .unwrap()
        .remove("collaborators");
    let (status, _) = call(
        &strict,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(without.clone()),
    )
    .await;
    assert_eq!(status, 422);

    let app = router_playing(&[Variant::LenientManifest]);
    let group = create(&app, "g", kinds.clone(), json!([])).await;
    assert_eq!(group["manifest"]["collaborators"], kinds);
    let (status, body) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(without),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["manifest"].get("collaborators").is_none(),
        "a manifest without collaborators is answered without them: {body}"
    );
    assert_eq!(body["data"]["manifest"]["integration_fqn"], INTEGRATION);
    let (status, _) = call(
        &app,
        "PUT",
        "/secret-groups",
        Some("t-admin"),
        Some(manifest(
            "h",
            json!([{"subject": "robot:x", "role_id": "secret-group-viewer"}]),
        )),
    )
    .await;
    assert_eq!(status, 422, "a kind the API does not know is still refused");
}

#[tokio::test]
async fn a_store_limit_refuses_a_longer_value_by_position_and_changes_nothing() {
    let mut config = config();
    config.integrations[0].max_value_bytes = Some(8);
    let app = router_with(EmulatorOptions::new(config));
    let group = create(
        &app,
        "g",
        json!([]),
        json!([{"key": "A", "value": "12345678"}]),
    )
    .await;
    let id = group["id"].as_str().unwrap();
    let (status, body) = call(
        &app,
        "PUT",
        &format!("/secret-groups/{id}"),
        Some("t-admin"),
        Some(json!({"secrets": [{"key": "A"}, {"key": "B", "value": "canary-123456789"}]})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"][0]["field"], "secrets[1].value");
    assert!(!body.to_string().contains("canary"), "{body}");
    let listed = list_secrets(&app, id).await;
    assert_eq!(listed.len(), 1, "nothing changed");
}

#[test]
fn variants_combine_and_the_config_lists_them() {
    let mut config = config();
    config.variants.extend(Variant::ALL);
    config.validate().unwrap();
    assert!(Variant::ALL.iter().all(|variant| config.has(*variant)));
}
