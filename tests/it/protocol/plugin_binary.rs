//! The provider binary's handshake, mutual TLS and lifecycle, as Terraform drives them.

use std::time::Duration;

use base64::Engine as _;

use crate::support::processes::running;
use crate::support::tfclient::{
    ClientAuth, ClientIdentity, ImitatedTerraform, Launch, PluginProcess,
};

#[tokio::test]
async fn refuses_to_run_without_the_magic_cookie() {
    let finished = PluginProcess::run_to_exit(Launch {
        cookie: false,
        ..Launch::default()
    })
    .await
    .unwrap();
    assert_eq!(finished.status.code(), Some(1));
    assert!(finished.stdout.is_empty(), "stdout: {}", finished.stdout);
    assert!(
        finished.stderr.contains("This binary is a plugin")
            && finished.stderr.contains("Terraform"),
        "stderr: {}",
        finished.stderr
    );
}

#[tokio::test]
async fn refuses_a_terraform_without_protocol_6() {
    let finished = PluginProcess::run_to_exit(Launch {
        protocol_versions: Some("4,5".into()),
        ..Launch::default()
    })
    .await
    .unwrap();
    assert_eq!(finished.status.code(), Some(1));
    assert!(finished.stdout.is_empty(), "stdout: {}", finished.stdout);
    assert!(
        finished.stderr.contains("protocol 6"),
        "stderr: {}",
        finished.stderr
    );
}

#[tokio::test]
async fn handshake_line_is_what_go_plugin_expects() {
    let process = PluginProcess::start(Launch::default()).await.unwrap();
    let line = &process.line;
    assert_eq!(line.fields.len(), 6, "{}", line.raw);
    assert_eq!(&line.fields[..3], ["1", "6", "unix"]);
    assert_eq!(line.fields[4], "grpc");
    let cert = &line.fields[5];
    assert!(cert.len() > 50 && !cert.contains('='), "{cert}");
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cert)
        .unwrap();
    assert_eq!(line.server_cert_der.as_ref(), Some(&der));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
        let socket = process.socket_path().unwrap();
        assert!(std::fs::metadata(&socket).unwrap().file_type().is_socket());
        let dir = std::fs::metadata(socket.parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }
}

#[tokio::test]
async fn serves_terraforms_certificate_and_refuses_any_other() {
    let process = PluginProcess::start(Launch::default()).await.unwrap();
    let mut terraform = process.connect(ImitatedTerraform::V1_0_3).await.unwrap();
    let schema = terraform.get_schema().await.unwrap();
    assert!(schema.provider.is_some());

    let stranger = ClientIdentity::generate();
    let refused = match process
        .connect_with(
            ClientAuth::Certificate(&stranger),
            ImitatedTerraform::V1_0_3,
        )
        .await
    {
        Ok(mut client) => client.get_schema().await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a different client certificate was served");

    let anonymous = match process
        .connect_with(ClientAuth::None, ImitatedTerraform::V1_0_3)
        .await
    {
        Ok(mut client) => client.get_schema().await.is_err(),
        Err(_) => true,
    };
    assert!(anonymous, "a client without a certificate was served");

    // The refusals did not disturb Terraform's connection.
    assert!(terraform.get_schema().await.is_ok());
    assert!(
        process.stderr().is_empty(),
        "nothing is logged by default: {}",
        process.stderr()
    );
}

#[tokio::test]
async fn side_services_answer_like_go_plugin() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use truefoundry_provider::server::proto::google::protobuf::Empty;
    use truefoundry_provider::server::proto::plugin::grpc_stdio_client::GrpcStdioClient;

    let mut process = PluginProcess::start(Launch::default()).await.unwrap();
    let mut client = process.connect(ImitatedTerraform::V1_11).await.unwrap();
    let health = HealthClient::new(client.channel())
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    // Stdio stays open and silent until the plugin shuts down, then ends without an error.
    let mut stdio = GrpcStdioClient::new(client.channel())
        .stream_stdio(Empty {})
        .await
        .unwrap()
        .into_inner();
    let quiet = tokio::time::timeout(Duration::from_millis(200), stdio.message()).await;
    assert!(quiet.is_err(), "stdio sent something: {quiet:?}");
    client.shutdown().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(2), stdio.message())
        .await
        .expect("stdio ended at shutdown");
    assert!(matches!(ended, Ok(None)), "{ended:?}");
    assert!(process.wait_exit(Duration::from_secs(2)).await.is_some());
}

#[tokio::test]
async fn logs_are_hclog_json_at_the_requested_level() {
    let process = PluginProcess::start(Launch {
        env: vec![("TF_LOG_PROVIDER_TRUEFOUNDRY".into(), "DEBUG".into())],
        ..Launch::default()
    })
    .await
    .unwrap();
    let mut client = process.connect(ImitatedTerraform::V1_0_3).await.unwrap();
    client.get_schema().await.unwrap();
    client.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stderr = process.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).expect("every stderr line is JSON"))
        .collect();
    let schema_line = lines
        .iter()
        .find(|line| line["tf_rpc"] == "GetProviderSchema")
        .expect("the RPC is logged");
    assert_eq!(schema_line["@level"], "debug");
    assert_eq!(
        schema_line["@module"],
        "provider.terraform-provider-truefoundry"
    );
    // Its end is logged too, with the time it took, after its start.
    let served_at = lines
        .iter()
        .position(|line| {
            line["tf_rpc"] == "GetProviderSchema" && line["@message"] == "served request"
        })
        .expect("the RPC's end is logged");
    let elapsed = lines[served_at]["elapsed_ms"]
        .as_f64()
        .expect("the end carries elapsed_ms");
    assert!(elapsed >= 0.0, "{elapsed}");
    assert!(
        lines[..served_at]
            .iter()
            .any(|line| line["tf_rpc"] == "GetProviderSchema"
                && line["@message"] == "serving request")
    );
    assert!(lines.iter().all(|line| line["@level"] != "trace"));
}

#[tokio::test]
async fn shutdown_exits_promptly_and_removes_the_socket() {
    let mut process = PluginProcess::start(Launch::default()).await.unwrap();
    let socket = process.socket_path();
    let mut client = process.connect(ImitatedTerraform::V1_11).await.unwrap();
    client.get_schema().await.unwrap();
    let asked = std::time::Instant::now();
    client.shutdown().await.unwrap();
    drop(client);
    let status = process
        .wait_exit(Duration::from_secs(2))
        .await
        .expect("the provider exited within Terraform's 2 s");
    assert!(status.success(), "{status:?}");
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "{:?}",
        asked.elapsed()
    );
    if let Some(socket) = socket {
        assert!(!socket.parent().unwrap().exists());
    }
}

/// Polls `done` every 20 ms until it holds or `within` has passed; true when it held.
async fn within(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn send_signal(signal: &str, pid: u32) {
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal} {pid}");
}

#[cfg(unix)]
#[tokio::test]
async fn terminate_signal_ends_the_provider_and_removes_the_socket() {
    let mut process = PluginProcess::start(Launch::default()).await.unwrap();
    let socket = process.socket_path().expect("a unix socket on unix");
    let dir = socket.parent().unwrap().to_owned();
    assert!(dir.exists());
    send_signal("-TERM", process.pid().unwrap());
    let status = process
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("the provider ends on SIGTERM");
    assert!(
        !dir.exists(),
        "the socket directory outlived the provider ({status:?})"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn provider_ends_with_its_parent_and_removes_the_socket() {
    // The shell plays Terraform: it started the provider, then dies without a word.
    let process = PluginProcess::start(Launch {
        under_shell: true,
        ..Launch::default()
    })
    .await
    .unwrap();
    let socket = process.socket_path().expect("a unix socket on linux");
    let dir = socket.parent().unwrap().to_owned();
    let provider = process
        .provider_pid_under_shell()
        .expect("the provider runs under the shell");
    let mut client = process.connect(ImitatedTerraform::V1_11).await.unwrap();
    client.get_schema().await.unwrap();
    drop(client);

    send_signal("-KILL", process.pid().unwrap());
    let ended = within(Duration::from_secs(5), || !running(provider)).await;
    if !ended {
        // Do not leave the orphan behind when the assertion below fails.
        send_signal("-KILL", provider);
    }
    assert!(ended, "the provider outlived its parent by 5 s");
    assert!(
        !dir.exists(),
        "the provider ended without removing its socket directory"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn interrupt_signal_is_ignored() {
    let mut process = PluginProcess::start(Launch::default()).await.unwrap();
    send_signal("-INT", process.pid().unwrap());
    assert!(
        process
            .wait_exit(Duration::from_millis(300))
            .await
            .is_none()
    );
    let mut client = process.connect(ImitatedTerraform::V1_0_3).await.unwrap();
    assert!(client.get_schema().await.is_ok());
}
