//! The rules stored groups keep, checked when a snapshot is loaded: the handlers create and
//! change groups only within them, and rely on them (a secret has a current version, ids and
//! names find one thing). A snapshot that breaks one is refused with the rule and the group or
//! secret that breaks it, never a value.

use std::collections::HashSet;

use super::config::{EmulatorConfig, is_valid_subject};
use super::store::{Group, Secret, key_problem, manifest_problems};

/// The ids and names seen so far, across all groups.
#[derive(Default)]
struct Seen<'a> {
    group_ids: HashSet<&'a str>,
    names: HashSet<(&'a str, &'a str)>,
    secret_ids: HashSet<&'a str>,
    version_ids: HashSet<&'a str>,
}

/// The first rule `groups` break under `config`, naming where.
pub(crate) fn check(groups: &[Group], config: &EmulatorConfig) -> Result<(), String> {
    let mut seen = Seen::default();
    for group in groups {
        let at = format!("secret group {} (id {:?})", group.fqn(), group.id);
        check_group(group, config, &mut seen).map_err(|rule| format!("{at}: {rule}"))?;
        let mut keys = HashSet::new();
        for secret in &group.secrets {
            check_secret(secret, config.subject_kinds(), &mut keys, &mut seen).map_err(|rule| {
                format!("{at}: secret {:?} (id {:?}): {rule}", secret.key, secret.id)
            })?;
        }
    }
    Ok(())
}

fn check_group<'a>(
    group: &'a Group,
    config: &EmulatorConfig,
    seen: &mut Seen<'a>,
) -> Result<(), String> {
    unique_id(&group.id, &mut seen.group_ids, "group")?;
    if !config
        .tenants
        .iter()
        .any(|tenant| tenant.name == group.tenant)
    {
        return Err(format!("its tenant {:?} is not configured", group.tenant));
    }
    if let Some((field, message)) = manifest_problems(&group.manifest, config.subject_kinds())
        .into_iter()
        .next()
    {
        return Err(format!("{field} {message}"));
    }
    let integration = &group.manifest.integration_fqn;
    if !config
        .integrations
        .iter()
        .any(|known| known.tenant == group.tenant && &known.fqn == integration)
    {
        return Err(format!(
            "its integration {integration:?} is not configured for tenant {:?}",
            group.tenant
        ));
    }
    if !seen.names.insert((group.tenant.as_str(), group.name())) {
        return Err("another group of its tenant has the same name".into());
    }
    subject("created_by", &group.created_by, config.subject_kinds())
}

fn check_secret<'a>(
    secret: &'a Secret,
    subject_kinds: &[&str],
    keys: &mut HashSet<&'a str>,
    seen: &mut Seen<'a>,
) -> Result<(), String> {
    unique_id(&secret.id, &mut seen.secret_ids, "secret")?;
    if let Some(problem) = key_problem(&secret.key) {
        return Err(problem.into());
    }
    if !keys.insert(&secret.key) {
        return Err("the key appears more than once in the group".into());
    }
    subject("created_by", &secret.created_by, subject_kinds)?;
    if secret.versions.is_empty() {
        return Err("it has no versions".into());
    }
    let mut previous = 0;
    for version in &secret.versions {
        if version.version <= previous {
            let found = match previous {
                0 => format!("the first is {}", version.version),
                _ => format!("{} comes after {previous}", version.version),
            };
            return Err(format!("version numbers must ascend from 1; {found}"));
        }
        previous = version.version;
        unique_id(&version.id, &mut seen.version_ids, "version")
            .map_err(|rule| format!("version {}: {rule}", version.version))?;
    }
    if previous == u64::MAX {
        return Err("its last version number leaves no room for another version".into());
    }
    Ok(())
}

fn unique_id<'a>(id: &'a str, seen: &mut HashSet<&'a str>, kind: &str) -> Result<(), String> {
    if id.is_empty() {
        Err("it has an empty id".into())
    } else if !seen.insert(id) {
        Err(format!("another {kind} has the id {id:?}"))
    } else {
        Ok(())
    }
}

fn subject(field: &str, subject: &str, kinds: &[&str]) -> Result<(), String> {
    if is_valid_subject(subject, kinds) {
        Ok(())
    } else {
        Err(format!("{field} {subject:?} is not a subject"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::*;

    const INTEGRATION: &str = "acme:aws:aws-1:secret-store:ssm";
    const CANARY: &str = "canary-value-7c1";

    fn config() -> EmulatorConfig {
        let text = json!({
            "tenants": [{"name": "acme"}],
            "integrations": [{"tenant": "acme", "fqn": INTEGRATION}],
            "api_keys": [
                {"token": "t-admin", "tenant": "acme", "subject": "user:root@acme", "tenant_admin": true}
            ]
        });
        EmulatorConfig::from_json(&text.to_string()).unwrap()
    }

    fn version(id: &str, number: u64) -> Value {
        json!({"id": id, "version": number, "value": CANARY, "created_at": "2024-01-01T00:00:00.000Z"})
    }

    fn secret(id: &str, key: &str, versions: Vec<Value>) -> Value {
        json!({
            "id": id, "key": key, "created_by": "user:root@acme",
            "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z",
            "versions": versions
        })
    }

    fn group(id: &str, name: &str, secrets: Vec<Value>) -> Value {
        json!({
            "id": id, "tenant": "acme",
            "manifest": {
                "type": "secret-group", "name": name, "integration_fqn": INTEGRATION,
                "collaborators": [{"subject": "user:editor@acme", "role_id": "secret-group-editor"}]
            },
            "created_by": "user:root@acme",
            "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z",
            "secrets": secrets
        })
    }

    /// Two groups of tenant `acme`: `payments` with two keys (one with two versions), and an
    /// empty `billing`.
    fn snapshot() -> Value {
        json!({
            "format": 1,
            "groups": [
                group("sg-a", "payments", vec![
                    secret("sc-a", "DB_PASSWORD", vec![version("sv-a1", 1), version("sv-a2", 2)]),
                    secret("sc-b", "DB_HOST", vec![version("sv-b1", 1)]),
                ]),
                group("sg-b", "billing", vec![]),
            ]
        })
    }

    fn load_snapshot(snapshot: &Value) -> anyhow::Result<AppState> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state.json"), snapshot.to_string()).unwrap();
        let mut options = EmulatorOptions::new(config());
        options.data_dir = Some(dir.path().to_owned());
        options.request_log = Some(dir.path().join("requests.log"));
        AppState::new(options)
    }

    /// The message a snapshot changed by `breaking` is refused with.
    fn refusal(breaking: impl FnOnce(&mut Value)) -> String {
        let mut snapshot = snapshot();
        breaking(&mut snapshot);
        match load_snapshot(&snapshot) {
            Ok(_) => panic!("a snapshot breaking a rule was loaded"),
            Err(error) => {
                let message = format!("{error:#}");
                assert!(message.contains("state.json"), "{message}");
                assert!(!message.contains(CANARY), "a value in {message}");
                message
            }
        }
    }

    #[track_caller]
    fn assert_names(message: &str, fragments: &[&str]) {
        for fragment in fragments {
            assert!(message.contains(fragment), "{fragment:?} not in: {message}");
        }
    }

    #[test]
    fn a_snapshot_keeping_every_rule_loads() {
        load_snapshot(&snapshot()).unwrap();
    }

    #[test]
    fn a_secret_without_versions_is_refused() {
        let message = refusal(|s| s["groups"][0]["secrets"][1]["versions"] = json!([]));
        assert_names(&message, &["acme:payments", "\"DB_HOST\"", "no versions"]);
    }

    #[test]
    fn versions_must_ascend_from_one() {
        let message = refusal(|s| {
            s["groups"][0]["secrets"][0]["versions"] =
                json!([version("sv-a1", 2), version("sv-a2", 1)]);
        });
        assert_names(&message, &["acme:payments", "\"DB_PASSWORD\"", "ascend"]);
        let message = refusal(|s| {
            s["groups"][0]["secrets"][0]["versions"] =
                json!([version("sv-a1", 1), version("sv-a2", 1)]);
        });
        assert_names(&message, &["\"DB_PASSWORD\"", "ascend"]);
        let message = refusal(|s| {
            s["groups"][0]["secrets"][1]["versions"] = json!([version("sv-b1", 0)]);
        });
        assert_names(&message, &["\"DB_HOST\"", "ascend from 1"]);
    }

    #[test]
    fn the_last_version_number_is_refused() {
        // Another value would need a version after it.
        let message = refusal(|s| {
            s["groups"][0]["secrets"][1]["versions"] = json!([version("sv-b1", u64::MAX)]);
        });
        assert_names(&message, &["\"DB_HOST\"", "version"]);
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let message = refusal(|s| s["groups"][1]["id"] = json!("sg-a"));
        assert_names(&message, &["acme:billing", "id \"sg-a\"", "another group"]);
        let message = refusal(|s| s["groups"][0]["secrets"][1]["id"] = json!("sc-a"));
        assert_names(&message, &["\"DB_HOST\"", "id \"sc-a\"", "another secret"]);
        let message =
            refusal(|s| s["groups"][0]["secrets"][1]["versions"][0]["id"] = json!("sv-a2"));
        assert_names(
            &message,
            &["\"DB_HOST\"", "id \"sv-a2\"", "another version"],
        );
        let message = refusal(|s| s["groups"][1]["id"] = json!(""));
        assert_names(&message, &["acme:billing", "empty id"]);
    }

    #[test]
    fn a_group_of_an_unconfigured_tenant_is_refused() {
        let message = refusal(|s| s["groups"][1]["tenant"] = json!("gone"));
        assert_names(
            &message,
            &["gone:billing", "tenant \"gone\"", "not configured"],
        );
    }

    #[test]
    fn a_group_on_an_unconfigured_integration_is_refused() {
        let message = refusal(|s| {
            s["groups"][1]["manifest"]["integration_fqn"] = json!("acme:aws:x:secret-store:gone");
        });
        assert_names(
            &message,
            &[
                "acme:billing",
                "acme:aws:x:secret-store:gone",
                "not configured",
            ],
        );
    }

    #[test]
    fn keys_must_keep_the_key_rules_and_be_unique() {
        let message = refusal(|s| s["groups"][0]["secrets"][1]["key"] = json!("DB HOST"));
        assert_names(&message, &["acme:payments", "\"DB HOST\"", "whitespace"]);
        let message = refusal(|s| s["groups"][0]["secrets"][1]["key"] = json!("DB\u{202E}HOST"));
        assert_names(&message, &["acme:payments", "bidirectional"]);
        let message = refusal(|s| s["groups"][0]["secrets"][1]["key"] = json!("DB_PASSWORD"));
        assert_names(
            &message,
            &["acme:payments", "\"DB_PASSWORD\"", "more than once"],
        );
    }

    #[test]
    fn manifests_must_keep_the_manifest_rules() {
        let message = refusal(|s| s["groups"][1]["manifest"]["name"] = json!("bill ing"));
        assert_names(&message, &["\"sg-b\"", "manifest.name"]);
        let message = refusal(|s| s["groups"][1]["manifest"]["name"] = json!("payments"));
        assert_names(&message, &["acme:payments", "another group", "name"]);
        let message = refusal(|s| {
            s["groups"][0]["manifest"]["collaborators"][0]["role_id"] = json!("owner");
        });
        assert_names(
            &message,
            &["acme:payments", "manifest.collaborators[0].role_id"],
        );
        let message = refusal(|s| s["groups"][0]["created_by"] = json!("root"));
        assert_names(&message, &["acme:payments", "created_by", "\"root\""]);
    }

    /// Data that got past the load (an emulator bug, a snapshot edited under it) gives an error
    /// answer, never a panic that would end the process.
    #[tokio::test]
    async fn requests_on_a_secret_without_versions_answer_an_error() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt as _;

        let state = load_snapshot(&snapshot()).unwrap();
        state
            .store()
            .commit(|groups| {
                for index in 0..groups.groups().len() {
                    for secret in &mut groups.group_mut(index).secrets {
                        secret.versions.clear();
                    }
                }
                Ok(((), false))
            })
            .unwrap();
        let app = app(state);
        for (method, uri, body) in [
            ("GET", "/secrets/sc-a", None),
            ("POST", "/secrets", Some(json!({"withValue": true}))),
            (
                "PUT",
                "/secret-groups/sg-a",
                Some(json!({"secrets": [{"key": "DB_PASSWORD", "value": "new"}]})),
            ),
        ] {
            let request = Request::builder()
                .method(method)
                .uri(format!("{API_PREFIX}{uri}"))
                .header("authorization", "Bearer t-admin")
                .header("content-type", "application/json")
                .body(body.map_or_else(Body::empty, |body| Body::from(body.to_string())))
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 500, "{method} {uri}");
        }
    }
}
