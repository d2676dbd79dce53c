//! `truefoundry_secret` over tfplugin6, driven as Terraform drives the real provider binary:
//! write-only values with and without the client capability, and many applies at once, as
//! Terraform's parallel walk sends them, coalesced into few full-list PUTs.

use std::collections::BTreeMap;

use truefoundry_provider::client::SecretGroupManifest;
use truefoundry_provider::diag::Diagnostics;
use truefoundry_provider::value::{Number, Value};

use crate::support::emulator::{ACME_KEY, ACME_VIEWER_KEY, Emulator, full_list_puts, seed_group};
use crate::support::tfclient::{ImitatedTerraform, Launch, PluginProcess, TfClient, null_object};

const SECRET: &str = "truefoundry_secret";

/// The real provider, configured for `emulator` with `api_key`.
async fn provider(
    terraform: ImitatedTerraform,
    emulator: &Emulator,
    api_key: &str,
) -> (PluginProcess, TfClient) {
    let plugin = PluginProcess::start(Launch::default()).await.unwrap();
    let mut client = plugin.connect(terraform).await.unwrap();
    client.get_schema().await.unwrap();
    let config = Value::object([
        ("host", Value::string(&emulator.base_url)),
        ("api_key", Value::string(api_key)),
        ("max_retries", Value::Null),
        ("request_timeout", Value::Null),
        ("ca_cert_pem", Value::Null),
    ]);
    let diags = client.configure(&config).await.unwrap();
    assert!(diags.is_empty(), "configure: {diags:?}");
    (plugin, client)
}

fn config(client: &TfClient, group_id: &str, key: &str, value: &[(&str, &str)]) -> Value {
    let mut config = null_object(&client.resource_type(SECRET));
    config.set("secret_group_id", Value::string(group_id));
    config.set("key", Value::string(key));
    for (name, text) in value {
        config.set(name, Value::string(*text));
    }
    config
}

/// Plans the creation of `config`, as Terraform does before it applies.
async fn plan_create(client: &mut TfClient, config: &Value) -> (Value, Vec<u8>) {
    let plan = client
        .plan(SECRET, &Value::Null, config, config, Vec::new())
        .await
        .unwrap();
    assert!(plan.diagnostics.is_empty(), "plan: {:?}", plan.diagnostics);
    let planned = plan.planned_state.unwrap();
    for computed in ["id", "fqn", "version"] {
        assert!(planned.get(computed).is_unknown(), "{computed} is known");
    }
    (planned, plan.planned_private)
}

/// The plan of a create as the provider makes it, for a config its validation would refuse.
fn unchecked_create(config: &Value) -> (Value, Vec<u8>) {
    let mut planned = config.clone();
    for computed in ["id", "fqn", "version"] {
        planned.set(computed, Value::Unknown);
    }
    (planned, Vec::new())
}

/// Applies every planned create at once; each answer with the key it was for.
async fn apply_all_at_once(
    client: &TfClient,
    creates: Vec<(Value, (Value, Vec<u8>))>,
) -> BTreeMap<String, (Option<Value>, Diagnostics)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (config, (planned, private)) in creates {
        let mut client = client.clone();
        tasks.spawn(async move {
            let key = config.get("key").as_str().unwrap().to_owned();
            let applied = client
                .apply(SECRET, &Value::Null, &planned, &config, private)
                .await
                .unwrap();
            (key, (applied.state, applied.diagnostics))
        });
    }
    tasks.join_all().await.into_iter().collect()
}

fn version(state: &Value) -> Option<i64> {
    state.get("version").as_number().and_then(Number::as_i64)
}

#[test]
fn fifty_applies_at_once_share_a_few_puts_and_each_gets_its_own_result() {
    let emulator = Emulator::start();
    block_on(async {
        let admin = emulator.client(ACME_KEY);
        let group_id = seed_group(&admin, "coalesced", &[("THEIRS", "their-value")]).await;
        let (_plugin, mut client) = provider(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        let mut creates = Vec::new();
        for i in 0..50 {
            let key = format!("KEY_{i:02}");
            let config = config(&client, &group_id, &key, &[("value", &format!("v{i}"))]);
            let plan = plan_create(&mut client, &config).await;
            creates.push((config, plan));
        }
        let mark = emulator.mark();
        let results = apply_all_at_once(&client, creates).await;

        let puts_len = full_list_puts(&emulator.requests_since(mark)).len();
        eprintln!("50 concurrent applies: {puts_len} full-list PUTs");
        assert!((1..=10).contains(&puts_len), "{puts_len} PUTs");
        assert_eq!(results.len(), 50);
        let mut ids = std::collections::BTreeSet::new();
        for (key, (state, diags)) in &results {
            assert!(!diags.has_errors(), "{key}: {diags:?}");
            let state = state.as_ref().unwrap();
            assert!(state.is_wholly_known(), "{key}: {state:?}");
            assert_eq!(state.get("key").as_str(), Some(key.as_str()));
            assert_eq!(
                state.get("fqn").as_str(),
                Some(format!("tfy-secret://acme:coalesced:{key}").as_str())
            );
            assert_eq!(version(state), Some(1), "{key}");
            ids.insert(state.get("id").as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 50, "each resource has its own secret id");
    });
    let held = emulator.secret_values("coalesced").unwrap();
    assert_eq!(held.len(), 51);
    assert_eq!(held["THEIRS"], "their-value");
    assert!((0..50).all(|i| held[&format!("KEY_{i:02}")] == format!("v{i}")));
}

#[test]
fn a_bad_key_fails_alone_while_the_others_are_written() {
    let emulator = Emulator::start();
    block_on(async {
        let admin = emulator.client(ACME_KEY);
        let group_id = seed_group(&admin, "one-bad-key", &[("THEIRS", "their-value")]).await;
        let (_plugin, mut client) = provider(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        // Validation refuses such a key before any plan; sent anyway, the API refuses it, and
        // only its own resource may fail for it.
        let bad = config(&client, &group_id, "BAD KEY", &[("value", "x")]);
        let mut creates = vec![(bad.clone(), unchecked_create(&bad))];
        for i in 0..9 {
            let config = config(&client, &group_id, &format!("GOOD_{i}"), &[("value", "g")]);
            let plan = plan_create(&mut client, &config).await;
            creates.push((config, plan));
        }
        let results = apply_all_at_once(&client, creates).await;
        let (state, diags) = &results["BAD KEY"];
        assert!(state.as_ref().is_none_or(Value::is_null), "{state:?}");
        let error = diags
            .iter()
            .find(|d| d.severity == truefoundry_provider::diag::Severity::Error);
        let error = error.expect("the bad key fails");
        assert!(error.detail.contains("`BAD KEY`"), "{}", error.detail);
        for i in 0..9 {
            let (state, diags) = &results[&format!("GOOD_{i}")];
            assert!(!diags.has_errors(), "GOOD_{i}: {diags:?}");
            assert_eq!(version(state.as_ref().unwrap()), Some(1));
        }
    });
    let held = emulator.secret_values("one-bad-key").unwrap();
    assert_eq!(held.len(), 10);
    assert_eq!(held["THEIRS"], "their-value");
}

#[test]
fn value_wo_is_refused_without_the_capability_and_never_returned_with_it() {
    const CANARY: &str = "wo-canary-protocol-secret";
    let emulator = Emulator::start();
    block_on(async {
        let admin = emulator.client(ACME_KEY);
        let group_id = seed_group(&admin, "write-only-one", &[("THEIRS", "t")]).await;
        let wo = [("value_wo", CANARY), ("value_wo_version", "1")];

        let (_old_plugin, mut old) = provider(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        let refused = old
            .validate_resource(SECRET, &config(&old, &group_id, "WO", &wo))
            .await
            .unwrap();
        let [error] = refused.0.as_slice() else {
            panic!("one error expected: {refused:?}");
        };
        assert_eq!(error.summary, "Write-Only Attribute Not Supported");
        assert!(!format!("{refused:?}").contains(CANARY));

        let (_plugin, mut new) = provider(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;
        let config = config(&new, &group_id, "WO", &wo);
        let accepted = new.validate_resource(SECRET, &config).await.unwrap();
        assert!(accepted.is_empty(), "{accepted:?}");
        let (planned, private) = plan_create(&mut new, &config).await;
        assert!(
            planned.get("value_wo").is_null(),
            "a plan never holds value_wo"
        );
        let applied = new
            .apply(SECRET, &Value::Null, &planned, &config, private)
            .await
            .unwrap();
        assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
        let state = applied.state.unwrap();
        assert!(state.get("value_wo").is_null());
        assert!(!format!("{state:?}").contains(CANARY));
        assert!(!String::from_utf8_lossy(&applied.private).contains(CANARY));
        assert_eq!(state.get("value_wo_version").as_str(), Some("1"));

        // A refresh of it reads no value, and the next plan is empty.
        let read = new
            .read(SECRET, &state, applied.private.clone())
            .await
            .unwrap();
        assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
        let refreshed = read.state.unwrap();
        assert_eq!(refreshed, state);
        let mut proposed = refreshed.clone();
        proposed.set("value_wo", Value::Null);
        let plan = new
            .plan(SECRET, &refreshed, &proposed, &config, read.private)
            .await
            .unwrap();
        assert_eq!(plan.planned_state.unwrap(), refreshed, "an empty plan");
    });
    let held = emulator.secret_values("write-only-one").unwrap();
    assert_eq!(held["WO"], CANARY);
    assert_eq!(held["THEIRS"], "t");
}

/// Runs a test body on its own runtime; the emulator (which owns a runtime) lives outside it.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A "not found" for the group proves a deletion only for a key that could see it: a key that
/// is no collaborator keeps the secret in state with an error, on refresh and on destroy; a
/// tenant admin sees the group gone and drops it.
#[test]
fn a_group_not_found_is_a_deletion_only_for_a_key_that_could_see_it() {
    let emulator = Emulator::start();
    let admin_client = emulator.client(ACME_KEY);
    let group_id = emulator.block_on(async {
        let manifest = SecretGroupManifest {
            kind: "secret-group".into(),
            name: "hidden-from-viewer".into(),
            integration_fqn: crate::support::emulator::DEFAULT_INTEGRATION.into(),
            collaborators: Vec::new(),
            owned_by: None,
        };
        let group = admin_client
            .apply_secret_group_manifest(&manifest, false)
            .await
            .unwrap();
        group.id
    });
    let (state, private) = block_on(async {
        let (_plugin, mut admin) = provider(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        let config = config(&admin, &group_id, "KILO", &[("value", "k")]);
        let (planned, planned_private) = plan_create(&mut admin, &config).await;
        let applied = admin
            .apply(SECRET, &Value::Null, &planned, &config, planned_private)
            .await
            .unwrap();
        assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
        (applied.state.unwrap(), applied.private)
    });
    block_on(async {
        let (_plugin, mut stranger) =
            provider(ImitatedTerraform::V1_0_3, &emulator, ACME_VIEWER_KEY).await;
        let read = stranger
            .read(SECRET, &state, private.clone())
            .await
            .unwrap();
        assert_eq!(read.state.as_ref(), Some(&state), "kept in state");
        let summaries: Vec<&str> = read
            .diagnostics
            .iter()
            .map(|d| d.summary.as_str())
            .collect();
        assert_eq!(summaries, ["Secret Group Not Visible To This API Key"]);
        let destroyed = stranger
            .apply(SECRET, &state, &Value::Null, &Value::Null, private.clone())
            .await
            .unwrap();
        assert_eq!(destroyed.state.as_ref(), Some(&state), "kept in state");
        assert!(destroyed.diagnostics.has_errors());
    });
    assert!(
        emulator
            .secret_values("hidden-from-viewer")
            .unwrap()
            .contains_key("KILO")
    );
    emulator
        .block_on(admin_client.delete_secret_group(&group_id, false))
        .unwrap();
    block_on(async {
        let (_plugin, mut admin) = provider(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        let read = admin.read(SECRET, &state, private.clone()).await.unwrap();
        assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
        assert!(
            read.state.is_none_or(|s| s.is_null()),
            "a deleted group's key is gone"
        );
        let destroyed = admin
            .apply(SECRET, &state, &Value::Null, &Value::Null, private)
            .await
            .unwrap();
        assert!(
            destroyed.diagnostics.is_empty(),
            "{:?}",
            destroyed.diagnostics
        );
        assert!(destroyed.state.is_none_or(|s| s.is_null()));
    });
}
