//! The emulator over real sockets, driven by a plain HTTP client (not `client/`): full-list
//! rules and versions, paging, persistence across a restart, fault injection, the request log.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use truefoundry_provider::emulator::{
    DEMO_INTEGRATION, DEMO_SUBJECT, DEMO_TENANT, EmulatorConfig, EmulatorOptions, Faults,
    RunningEmulator,
};

use crate::support::emulator::in_process;

const KEY: &str = "it-emulator-key";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(running: &RunningEmulator) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            base: format!("{}/api/svc/v1", running.base_url()),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.send(method, path, body).await.unwrap();
        assert_eq!(status, StatusCode::OK, "{method} {path}: {body}");
        body
    }

    async fn create_group(&self, name: &str) -> String {
        let manifest = json!({"manifest": {
            "type": "secret-group", "name": name,
            "integration_fqn": DEMO_INTEGRATION, "collaborators": []
        }});
        let body = self.ok("PUT", "/secret-groups", Some(manifest)).await;
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn put_secrets(&self, group: &str, secrets: Value) -> (StatusCode, Value) {
        self.send(
            "PUT",
            &format!("/secret-groups/{group}"),
            Some(json!({"secrets": secrets})),
        )
        .await
        .unwrap()
    }

    /// `{key: (version, value)}` of a group, read in one call with values.
    async fn state(&self, group: &str) -> Vec<(String, u64, String)> {
        let body = self
            .ok(
                "POST",
                "/secrets",
                Some(json!({"secretGroupId": group, "withValue": true, "limit": 1000})),
            )
            .await;
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|secret| {
                let versions = secret["secretVersions"].as_array().unwrap();
                let numbers: Vec<u64> = versions
                    .iter()
                    .map(|v| v["version"].as_u64().unwrap())
                    .collect();
                assert!(
                    numbers.windows(2).all(|w| w[0] < w[1]),
                    "ascending: {numbers:?}"
                );
                assert!(
                    versions.iter().all(|v| v.get("value").is_none()),
                    "versions never carry values"
                );
                (
                    secret["name"].as_str().unwrap().to_owned(),
                    *numbers.last().unwrap(),
                    secret["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn options() -> EmulatorOptions {
    EmulatorOptions::new(EmulatorConfig::demo(KEY))
}

fn entry(key: &str, version: u64, value: &str) -> (String, u64, String) {
    (key.to_owned(), version, value.to_owned())
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn full_list_updates_version_keep_and_delete_keys() {
    let running = in_process(options()).await;
    let api = Api::new(&running);
    let group = api.create_group("full-list").await;

    let (status, _) = api
        .put_secrets(
            &group,
            json!([{"key": "A", "value": "a1"}, {"key": "B", "value": "b1"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.state(&group).await,
        [entry("A", 1, "a1"), entry("B", 1, "b1")]
    );

    // Same value: no new version. No value: kept. New value: a new version of that key only.
    let (_, body) = api
        .put_secrets(
            &group,
            json!([{"key": "A", "value": "a1"}, {"key": "B", "value": "b2"}]),
        )
        .await;
    assert!(
        body["data"]["associatedSecrets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("value").is_none())
    );
    assert_eq!(
        api.state(&group).await,
        [entry("A", 1, "a1"), entry("B", 2, "b2")]
    );
    api.put_secrets(
        &group,
        json!([{"key": "A"}, {"key": "B"}, {"key": "C", "value": "c1"}]),
    )
    .await;
    assert_eq!(
        api.state(&group).await,
        [
            entry("A", 1, "a1"),
            entry("B", 2, "b2"),
            entry("C", 1, "c1")
        ]
    );

    // Absent keys go, with their versions: re-creating one starts again at version 1.
    api.put_secrets(&group, json!([{"key": "C"}])).await;
    assert_eq!(api.state(&group).await, [entry("C", 1, "c1")]);
    api.put_secrets(
        &group,
        json!([{"key": "C"}, {"key": "B", "value": "b-new"}]),
    )
    .await;
    assert_eq!(
        api.state(&group).await,
        [entry("C", 1, "c1"), entry("B", 1, "b-new")]
    );

    // Rejected lists change nothing.
    for (secrets, expected) in [
        (json!([]), StatusCode::BAD_REQUEST),
        (
            json!([{"key": "C", "value": "x"}, {"key": "C"}]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!([{"key": "C"}, {"key": "NEW"}]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, body) = api.put_secrets(&group, secrets.clone()).await;
        assert_eq!(status, expected, "{secrets}: {body}");
        assert_eq!(body["statusCode"], expected.as_u16());
    }
    assert_eq!(
        api.state(&group).await,
        [entry("C", 1, "c1"), entry("B", 1, "b-new")]
    );

    // One secret by id: value and versions; deleting it answers a bare 1.
    let listed = api
        .ok("POST", "/secrets", Some(json!({"secretGroupId": group})))
        .await;
    let c_id = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let one = api.ok("GET", &format!("/secrets/{c_id}"), None).await;
    assert_eq!(one["data"]["value"], "c1");
    assert_eq!(one["data"]["fqn"], "tfy-secret://demo:full-list:C");
    assert_eq!(
        one["data"]["secretVersions"][0]["fqn"],
        "tfy-secret://demo:full-list:C:1"
    );
    assert_eq!(
        api.ok("DELETE", &format!("/secrets/{c_id}"), None).await,
        json!(1)
    );
    let (status, _) = api
        .send("GET", &format!("/secrets/{c_id}"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(
        api.ok("DELETE", &format!("/secret-groups/{group}"), None)
            .await,
        json!({})
    );
    let (status, _) = api
        .send("GET", &format!("/secret-groups/{group}"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_group_lose_nothing() {
    let running = in_process(options()).await;
    let api = std::sync::Arc::new(Api::new(&running));
    let group = api.create_group("busy").await;
    api.put_secrets(&group, json!([{"key": "A", "value": "v0"}]))
        .await;
    let writers: Vec<_> = (1..=20)
        .map(|i| {
            let (api, group) = (api.clone(), group.clone());
            tokio::spawn(async move {
                let (status, _) = api
                    .put_secrets(&group, json!([{"key": "A", "value": format!("v{i}")}]))
                    .await;
                assert_eq!(status, StatusCode::OK);
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    // Every write differed from the value before it, so each added exactly one version.
    let state = api.state(&group).await;
    assert_eq!(state.len(), 1);
    assert_eq!(state[0].1, 21);
    running.shutdown().await;
}

#[tokio::test]
async fn secrets_page_until_an_empty_page() {
    let running = in_process(options()).await;
    let api = Api::new(&running);
    let group = api.create_group("paged").await;
    let secrets: Vec<Value> = (0..250)
        .map(|i| json!({"key": format!("K{i:03}"), "value": format!("v{i}")}))
        .collect();
    api.put_secrets(&group, Value::Array(secrets)).await;

    // The SDKs' pager: advance by the page size until a page comes back empty.
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    let mut offset = 0;
    loop {
        let page = api
            .ok(
                "POST",
                "/secrets",
                Some(json!({"secretGroupId": group, "limit": 100, "offset": offset})),
            )
            .await;
        assert_eq!(page["pagination"]["total"], 250);
        let data = page["data"].as_array().unwrap();
        sizes.push(data.len());
        if data.is_empty() {
            break;
        }
        names.extend(data.iter().map(|s| s["name"].as_str().unwrap().to_owned()));
        offset += 100;
    }
    assert_eq!(sizes, [100, 100, 50, 0]);
    let expected: Vec<String> = (0..250).map(|i| format!("K{i:03}")).collect();
    assert_eq!(names, expected, "every key once, in a stable order");
    running.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart_with_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let with_dir = || EmulatorOptions {
        data_dir: Some(dir.path().to_owned()),
        ..options()
    };
    let running = in_process(with_dir()).await;
    let api = Api::new(&running);
    let group = api.create_group("durable").await;
    api.put_secrets(&group, json!([{"key": "A", "value": "a1"}]))
        .await;
    api.put_secrets(
        &group,
        json!([{"key": "A", "value": "a2"}, {"key": "B", "value": "b1"}]),
    )
    .await;
    let before = api
        .ok("GET", &format!("/secret-groups/{group}"), None)
        .await;
    running.shutdown().await;

    let running = in_process(with_dir()).await;
    let api = Api::new(&running);
    let after = api
        .ok("GET", &format!("/secret-groups/{group}"), None)
        .await;
    assert_eq!(after, before);
    assert_eq!(
        api.state(&group).await,
        [entry("A", 2, "a2"), entry("B", 1, "b1")]
    );
    running.shutdown().await;

    // Without a data dir nothing is kept.
    let running = in_process(options()).await;
    let (status, _) = Api::new(&running)
        .send("GET", &format!("/secret-groups/{group}"), None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    running.shutdown().await;
}

#[tokio::test]
async fn injected_faults_reach_the_client() {
    let faulty = |faults: Faults| EmulatorOptions {
        faults,
        ..options()
    };

    // Every request dropped: the client sees a transport error, not a status.
    let running = in_process(faulty(Faults {
        rate_drop: 1.0,
        ..Faults::default()
    }))
    .await;
    let error = Api::new(&running)
        .send("GET", "/secret-groups", None)
        .await
        .unwrap_err();
    assert!(error.status().is_none(), "{error}");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    // Routes outside the API are never faulted.
    let health = reqwest::get(format!("{}/health", running.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    running.shutdown().await;

    // 429 carries Retry-After.
    let running = in_process(faulty(Faults {
        rate_429: 1.0,
        retry_after_secs: 3,
        ..Faults::default()
    }))
    .await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/svc/v1/secret-groups", running.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "3");
    running.shutdown().await;

    // Mixed, seeded rates are roughly honoured over real connections.
    let faults = Faults {
        rate_429: 0.2,
        rate_503: 0.2,
        rate_drop: 0.1,
        latency: Duration::from_millis(1),
        seed: 9,
        ..Faults::default()
    };
    let running = in_process(faulty(faults)).await;
    let api = Api::new(&running);
    let (mut ok, mut limited, mut unavailable, mut dropped) = (0u32, 0u32, 0u32, 0u32);
    for _ in 0..300 {
        match api.send("GET", "/secret-groups", None).await {
            Ok((StatusCode::OK, _)) => ok += 1,
            Ok((StatusCode::TOO_MANY_REQUESTS, _)) => limited += 1,
            Ok((StatusCode::SERVICE_UNAVAILABLE, _)) => unavailable += 1,
            Ok((status, body)) => panic!("unexpected {status}: {body}"),
            Err(_) => dropped += 1,
        }
    }
    for (name, got, expected) in [
        ("ok", ok, 150),
        ("429", limited, 60),
        ("503", unavailable, 60),
        ("drop", dropped, 30),
    ] {
        assert!(
            got.abs_diff(expected) <= expected / 2,
            "{name}: {got} of 300, expected ~{expected}"
        );
    }
    running.shutdown().await;
}

#[tokio::test]
async fn the_request_log_names_keys_but_never_values_or_the_key() {
    const CANARY: &str = "canary-5c1e7d";
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.log");
    let running = in_process(EmulatorOptions {
        request_log: Some(log.clone()),
        data_dir: Some(dir.path().join("data")),
        ..options()
    })
    .await;
    let api = Api::new(&running);
    let group = api.create_group("canary").await;

    // Values through every write and every read that returns them, and through failures.
    api.put_secrets(&group, json!([{"key": "A", "value": format!("{CANARY}-a")}, {"key": "B", "value": format!("{CANARY}-b")}])).await;
    api.put_secrets(
        &group,
        json!([{"key": "A", "value": format!("{CANARY}-a2")}, {"key": "B"}]),
    )
    .await;
    let (status, _) = api
        .put_secrets(
            &group,
            json!([{"key": "A", "value": CANARY}, {"key": "A", "value": CANARY}]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api.put_secrets(&group, json!(CANARY)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let integration_id = api
        .ok("GET", &format!("/secret-groups/{group}"), None)
        .await["data"]["integrationId"]
        .clone();
    let simple = json!({"name": "canary-simple", "integrationId": integration_id,
                        "secrets": [{"key": "S", "value": CANARY}]});
    let created = api.ok("POST", "/secret-groups", Some(simple)).await;
    assert!(
        !created.to_string().contains(CANARY),
        "group objects never carry values"
    );
    let listed = api
        .ok(
            "POST",
            "/secrets",
            Some(json!({"secretGroupId": group, "withValue": true})),
        )
        .await;
    assert_eq!(listed["data"][0]["value"], format!("{CANARY}-a2"));
    let id = listed["data"][0]["id"].as_str().unwrap();
    api.ok("GET", &format!("/secrets/{id}"), None).await;
    running.shutdown().await;

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(CANARY), "a value reached the request log");
    assert!(!text.contains(KEY), "the API key reached the request log");

    let lines = log_lines(&log);
    let puts: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            line["method"] == "PUT" && line["path"] == format!("/api/svc/v1/secret-groups/{group}")
        })
        .collect();
    assert_eq!(puts.len(), 4);
    assert_eq!(puts[0]["keys"], json!(["A", "B"]));
    assert_eq!(puts[0]["keys_with_value"], json!(["A", "B"]));
    assert_eq!(
        puts[1]["keys_with_value"],
        json!(["A"]),
        "a kept key sends no value"
    );
    assert_eq!(puts[1]["status"], 200);
    assert_eq!(puts[1]["subject"], "user:admin@demo");
    assert_eq!(puts[2]["status"], 422);
    let list = lines
        .iter()
        .find(|line| line["path"] == "/api/svc/v1/secrets")
        .unwrap();
    assert_eq!(list["keys"], json!(["A", "B"]));
    assert_eq!(
        list["keys_with_value"],
        json!([]),
        "keys_with_value counts values sent, not returned"
    );
    assert_eq!(
        list["values_returned"],
        json!(["A", "B"]),
        "a listing with values names the keys whose values it returned"
    );
    let simple = lines
        .iter()
        .find(|line| line["method"] == "POST" && line["path"] == "/api/svc/v1/secret-groups")
        .unwrap();
    assert_eq!(simple["keys_with_value"], json!(["S"]));

    // The snapshot necessarily holds values; it is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/state.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "snapshot mode {mode:o}");
    }
}

/// The emulator binary as a command, before its arguments: these tests try its command line
/// itself, which `support::emulator` always fills in.
fn emulator_binary() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"));
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Starts `command` and waits for the address the emulator announces on its first line.
async fn announced(mut command: tokio::process::Command) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;

    let mut child = command.spawn().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .expect("the emulator announces itself")
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("listening on ").expect(&line).to_owned();
    (child, base)
}

#[tokio::test]
async fn the_binary_announces_its_address_and_serves() {
    let mut command = emulator_binary();
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("TFY_API_KEY", KEY);
    let (mut child, base) = announced(command).await;
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let response = reqwest::Client::new()
        .get(format!("{base}/api/svc/v1/secret-groups?fqn=demo:none"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["data"], json!([]));
    child.kill().await.unwrap();

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--fault-drop-rate"));
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
        .arg("--lisen")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
}

#[tokio::test]
async fn the_binary_reads_a_config_file_and_fault_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("emulator.json");
    let log = dir.path().join("requests.log");
    let text = json!({
        "tenants": [{"name": "acme"}],
        "integrations": [{"tenant": "acme", "fqn": "acme:aws:aws-1:secret-store:ssm"}],
        "api_keys": [{"token": "acme-key", "tenant": "acme", "subject": "user:alice@acme", "tenant_admin": true}],
        "faults": {"rate_503": 1.0}
    });
    std::fs::write(&config, text.to_string()).unwrap();
    let mut command = emulator_binary();
    command
        .arg("--listen=127.0.0.1:0")
        .arg("--config")
        .arg(&config)
        .arg("--request-log")
        .arg(&log)
        // Flags override the file: all 429, none 503.
        .args([
            "--fault-503-rate",
            "0",
            "--fault-429-rate",
            "1",
            "--fault-retry-after",
            "2",
        ]);
    let (mut child, base) = announced(command).await;
    let response = reqwest::Client::new()
        .get(format!("{base}/api/svc/v1/secret-groups"))
        .bearer_auth("acme-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "2");
    child.kill().await.unwrap();
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["fault"], "429");

    // A config with a typo does not start.
    std::fs::write(
        &config,
        r#"{"tenants": [], "api_keys": [], "tennants": []}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("tennants"));
}

#[tokio::test]
async fn the_binary_refuses_a_snapshot_that_breaks_a_rule() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Parses, but its secret has no version: no value to answer a read with.
    let stamp = "2024-01-01T00:00:00.000Z";
    let snapshot = json!({
        "format": 1,
        "groups": [{
            "id": "sg-broken", "tenant": DEMO_TENANT,
            "manifest": {
                "type": "secret-group", "name": "payments",
                "integration_fqn": DEMO_INTEGRATION, "collaborators": []
            },
            "created_by": DEMO_SUBJECT, "created_at": stamp, "updated_at": stamp,
            "secrets": [{
                "id": "sc-broken", "key": "DB_PASSWORD", "created_by": DEMO_SUBJECT,
                "created_at": stamp, "updated_at": stamp, "versions": []
            }]
        }]
    });
    std::fs::write(data.join("state.json"), snapshot.to_string()).unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("TFY_API_KEY", KEY)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the emulator exits instead of serving a broken snapshot")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{:?}", output.status);
    assert!(!stdout.contains("listening on"), "{stdout}");
    for fragment in [
        "state.json",
        "demo:payments",
        "\"DB_PASSWORD\"",
        "no versions",
    ] {
        assert!(stderr.contains(fragment), "{fragment:?} not in: {stderr}");
    }
}
