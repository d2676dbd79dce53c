//! TLS to a private control plane: the emulator serves HTTPS with a certificate from a CA made
//! here, and the provider binary reaches it only when told to trust that CA (`ca_cert_pem`, or
//! `TFY_CA_CERT` as PEM text or as a file path). Verification cannot be turned off.

use std::time::Duration;

use truefoundry_provider::client::{Client, ClientConfig, SecretValue};
use truefoundry_provider::diag::{Diagnostics, Severity};
use truefoundry_provider::value::Value;

use crate::support::emulator::{self, ACME_KEY, Emulator};
use crate::support::pki::Pki;
use crate::support::terraform::{Workspace, terraform_binaries};
use crate::support::tfclient::{ImitatedTerraform, Launch, PluginProcess, TfClient};

const GROUP: &str = "truefoundry_secret_group";

/// The emulator binary serving HTTPS with `pki`'s server certificate, with `extra_args`.
fn start_emulator(pki: &Pki, extra_args: &[&str]) -> Emulator {
    let (cert, key) = (pki.cert_file(), pki.key_file());
    let mut args = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra_args);
    let emulator = Emulator::builder().args(&args).start();
    assert!(
        emulator.base_url.starts_with("https://127.0.0.1:"),
        "the emulator announces https: {}",
        emulator.base_url
    );
    emulator
}

fn api_client(host: &str, ca_cert_pem: Option<&str>) -> Client {
    Client::new(ClientConfig {
        host: host.to_owned(),
        api_key: SecretValue::new(ACME_KEY),
        max_retries: 0,
        request_timeout: Duration::from_secs(10),
        ca_cert_pem: ca_cert_pem.map(str::to_owned),
        terraform_version: "test".to_owned(),
    })
    .unwrap()
}

/// Creates group `name` with one secret, over https trusting `ca_pem`.
async fn seed_group(emulator: &Emulator, ca_pem: &str, name: &str) -> String {
    let client = api_client(&emulator.base_url, Some(ca_pem));
    emulator::seed_group(&client, name, &[("TOKEN", "tls-t0ken")]).await
}

fn provider_config(host: &str, ca_cert_pem: Option<&str>) -> Value {
    Value::object([
        ("host", Value::string(host)),
        ("api_key", Value::string(ACME_KEY)),
        // The default retries: a refused certificate must not be retried all the same.
        ("max_retries", Value::Null),
        ("request_timeout", Value::Null),
        (
            "ca_cert_pem",
            ca_cert_pem.map_or(Value::Null, Value::string),
        ),
    ])
}

/// Starts the provider binary (with `env`), configures it, and reads group `name` through the
/// data source; returns the read state and the diagnostics (of the configuration, when it
/// failed).
async fn read_through_provider(
    env: &[(&str, &str)],
    host: &str,
    ca_cert_pem: Option<&str>,
    name: &str,
) -> (Option<Value>, Diagnostics) {
    let plugin = PluginProcess::start(Launch {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Launch::default()
    })
    .await
    .unwrap();
    let mut client = plugin.connect(ImitatedTerraform::V1_0_3).await.unwrap();
    client.get_schema().await.unwrap();
    let configured = client
        .configure(&provider_config(host, ca_cert_pem))
        .await
        .unwrap();
    // Configuring asks the control plane who the key is, so TLS failures can show up here.
    if configured.has_errors() {
        return (None, configured);
    }
    let config = lookup_config(&client, name);
    let read = client.read_data_source(GROUP, &config).await.unwrap();
    (read.state, read.diagnostics)
}

fn lookup_config(client: &TfClient, name: &str) -> Value {
    let Value::Object(mut entries) = null_object(client) else {
        unreachable!()
    };
    entries.insert("name".to_owned(), Value::string(name));
    entries.insert("include_values".to_owned(), Value::Bool(true));
    Value::Object(entries)
}

fn null_object(client: &TfClient) -> Value {
    match client.data_source_type(GROUP) {
        truefoundry_provider::value::Type::Object(attributes) => Value::Object(
            attributes
                .keys()
                .map(|name| (name.clone(), Value::Null))
                .collect(),
        ),
        other => panic!("the data source type is not an object: {other:?}"),
    }
}

fn assert_read_token(state: Option<Value>, diagnostics: &Diagnostics) {
    assert!(
        !diagnostics.has_errors(),
        "read over https: {diagnostics:?}"
    );
    let state = state.expect("a state");
    assert_eq!(
        state.get("secret_values").get("TOKEN").as_str(),
        Some("tls-t0ken")
    );
}

/// The one error diagnostic of a failed read, which must name a certificate problem.
fn assert_certificate_failure(diagnostics: &Diagnostics, what: &str) {
    let errors: Vec<_> = diagnostics
        .0
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{what}: {diagnostics:?}");
    let error = errors[0];
    assert_eq!(
        error.summary, "TrueFoundry Unreachable",
        "{what}: {error:?}"
    );
    eprintln!("{what}: {}", error.detail);
    let detail = error.detail.to_lowercase();
    assert!(
        detail.contains("certificate"),
        "{what}: the detail names the certificate problem: {}",
        error.detail
    );
    assert!(
        error.detail.contains("`ca_cert_pem` (or TFY_CA_CERT)"),
        "{what}: the detail names the setting that fixes it"
    );
    assert!(
        error.detail.contains("after 1 attempt"),
        "{what}: a refused certificate is not retried"
    );
    assert!(
        !error.detail.contains(ACME_KEY) && !error.detail.contains("tls-t0ken"),
        "{what}: no secret in the diagnostic"
    );
}

fn api_requests_seen(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/svc/v1/"))
        .count()
}

#[test]
fn the_provider_reaches_a_private_ca_control_plane_only_when_it_trusts_the_ca() {
    let pki = Pki::generate("Private Control Plane CA", &["localhost", "127.0.0.1"]);
    let emulator = start_emulator(&pki, &[]);
    block_on(async {
        seed_group(&emulator, &pki.ca_pem, "tls-group").await;
        let host = emulator.base_url.clone();
        let via_localhost = host.replace("127.0.0.1", "localhost");

        // Trusted through `ca_cert_pem`, by IP address and by name.
        for url in [&host, &via_localhost] {
            let (state, diags) =
                read_through_provider(&[], url, Some(&pki.ca_pem), "tls-group").await;
            assert_read_token(state, &diags);
        }

        // Trusted through TFY_CA_CERT, as PEM text and as the path of a PEM file.
        let ca_path = pki.ca_file();
        for env_value in [pki.ca_pem.as_str(), ca_path.to_str().unwrap()] {
            let env = [("TFY_CA_CERT", env_value)];
            let (state, diags) = read_through_provider(&env, &host, None, "tls-group").await;
            assert_read_token(state, &diags);
        }

        // Not trusted: the system roots alone, or another CA; the request never reaches the API.
        let before = api_requests_seen(&emulator);
        let (state, diags) = read_through_provider(&[], &host, None, "tls-group").await;
        assert!(state.is_none_or(|s| s.get("secret_values").is_null()));
        assert_certificate_failure(&diags, "without the CA");
        let stranger = Pki::generate("Some Other CA", &["localhost"]);
        let (_, diags) =
            read_through_provider(&[], &host, Some(&stranger.ca_pem), "tls-group").await;
        assert_certificate_failure(&diags, "with another CA");
        let env = [("TFY_CA_CERT", stranger.ca_pem.as_str())];
        let (_, diags) = read_through_provider(&env, &host, None, "tls-group").await;
        assert_certificate_failure(&diags, "with another CA in TFY_CA_CERT");
        assert_eq!(
            api_requests_seen(&emulator),
            before,
            "no request got past the TLS handshake"
        );
    });
}

#[test]
fn a_certificate_for_another_name_is_refused_even_from_a_trusted_ca() {
    let pki = Pki::generate("Private Control Plane CA", &["control-plane.example"]);
    let emulator = start_emulator(&pki, &[]);
    block_on(async {
        let (_, diags) =
            read_through_provider(&[], &emulator.base_url, Some(&pki.ca_pem), "any").await;
        assert_certificate_failure(&diags, "certificate for another host name");
        assert_eq!(api_requests_seen(&emulator), 0);
    });
}

/// The provider block has these settings and no other, so no setting can turn verification
/// off. That no switch of any name (setting or environment variable) lets an untrusted
/// certificate through is shown by behaviour, in
/// `the_provider_reaches_a_private_ca_control_plane_only_when_it_trusts_the_ca` and
/// `a_certificate_for_another_name_is_refused_even_from_a_trusted_ca`.
#[test]
fn the_provider_block_has_no_setting_beyond_its_eight() {
    block_on(async {
        let plugin = PluginProcess::start(Launch::default()).await.unwrap();
        let mut client = plugin.connect(ImitatedTerraform::V1_11).await.unwrap();
        let schema = client.get_schema().await.unwrap();
        let mut attributes: Vec<String> = schema
            .provider
            .and_then(|s| s.block)
            .map(|b| b.attributes.into_iter().map(|a| a.name).collect())
            .unwrap_or_default();
        attributes.sort();
        assert_eq!(
            attributes,
            [
                "api_key",
                "ca_cert_pem",
                "host",
                "max_retries",
                "oidc_audience",
                "oidc_token",
                "oidc_token_file",
                "request_timeout"
            ],
            "the provider block's settings"
        );
    });
}

/// Terraform 1.0.3 applies and destroys a group over https, trusting the CA through
/// `ca_cert_pem` read from a file next to the configuration.
#[test]
fn terraform_applies_a_group_over_https_with_ca_cert_pem() {
    let pki = Pki::generate("Private Control Plane CA", &["localhost", "127.0.0.1"]);
    let emulator = start_emulator(&pki, &[]);
    let terraform = &terraform_binaries()[0];
    let main_tf = format!(
        r#"
provider "truefoundry" {{
  host        = "{host}"
  ca_cert_pem = file("${{path.module}}/ca.pem")
}}

resource "truefoundry_secret_group" "g" {{
  name = "over-https"
  secrets = {{
    A = "https-only"
  }}
}}

output "id" {{
  value = truefoundry_secret_group.g.id
}}
"#,
        host = emulator.base_url
    );
    let mut ws =
        Workspace::with_files(terraform, &[("main.tf", &main_tf), ("ca.pem", &pki.ca_pem)]);
    ws.set_env("TFY_API_KEY", ACME_KEY);
    ws.apply();
    let id = ws.outputs_json()["id"]["value"]
        .as_str()
        .expect("an id output")
        .to_owned();
    let client = api_client(&emulator.base_url, Some(&pki.ca_pem));
    let group = emulator
        .block_on(client.get_secret_group(&id))
        .expect("the group exists on the https emulator");
    assert_eq!(group.name.as_deref(), Some("over-https"));
    ws.plan_detailed_exitcode().expect_empty();
    ws.destroy();
    assert!(matches!(
        emulator.block_on(client.get_secret_group(&id)),
        Err(truefoundry_provider::client::Error::NotFound { .. })
    ));
    let writes = emulator.requests().iter().filter(|r| r.is_write()).count();
    eprintln!("{terraform}: apply, plan and destroy over https; {writes} writes");
}

/// Runs a test body on its own runtime; the emulator (which owns a runtime) lives outside it.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn the_emulator_keeps_its_faults_under_tls_and_wants_cert_and_key_together() {
    let pki = Pki::generate("Private Control Plane CA", &["localhost", "127.0.0.1"]);
    let emulator = start_emulator(&pki, &["--fault-drop-rate", "1"]);
    let client = api_client(&emulator.base_url, Some(&pki.ca_pem));
    let dropped = emulator.block_on(client.get_secret_group("any"));
    match dropped {
        Err(truefoundry_provider::client::Error::Transport { message, .. }) => {
            assert!(!message.contains("certificate"), "{message}")
        }
        other => panic!("a dropped connection, not {other:?}"),
    }
    let logged = emulator.requests();
    assert_eq!(
        logged.len(),
        1,
        "the handshake passed and the request was logged"
    );

    let (cert, key) = (pki.cert_file(), pki.key_file());
    for args in [
        vec!["--tls-cert", cert.to_str().unwrap()],
        vec!["--tls-key", key.to_str().unwrap()],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--tls-cert and --tls-key go together"),
            "{stderr}"
        );
    }
}
