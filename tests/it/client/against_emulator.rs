//! The TrueFoundry client against the emulator: the same client, an independent implementation
//! of the API.

use std::time::{Duration, Instant};

use serde_json::json;
use truefoundry_provider::client::{
    Client, ClientConfig, Collaborator, Error, ListGroupsQuery, ListSecretsQuery, OwnedBy,
    SecretGroupManifest, SecretUpdate, SecretValue,
};
use truefoundry_provider::emulator::{EmulatorConfig, EmulatorOptions, Faults, RunningEmulator};

use crate::support::canaries::assert_no_canary;
use crate::support::emulator::in_process;

use super::*;

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
    in_process(options).await
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
    let echo = Stub::start(vec![Reply::error(422, "").echoing()]);
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
