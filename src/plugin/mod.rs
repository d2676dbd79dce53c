//! The plugin process: go-plugin handshake, AutoMTLS, and serving the gRPC services Terraform
//! dials. Only this module writes to stdout, and only the handshake line (or, in debug mode, the
//! reattach line for the developer).

pub mod handshake;
pub mod listener;
mod parent;
mod services;
pub mod tls;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::server::proto::plugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use handshake::{Address, HandshakeEnv};
use listener::{Connection, Listener};
pub use parent::Parent;

/// The address Terraform knows this provider by (for the reattach line of debug mode).
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/truefoundry/truefoundry";

/// How long in-flight calls get to finish after Shutdown before the process exits anyway;
/// Terraform kills the process 2 s after asking.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// A TLS handshake that has not finished by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the process was started.
enum Mode {
    /// By Terraform, with the handshake environment.
    Managed(HandshakeEnv),
    /// By a developer (`--debug`): no cookie, no TLS, Terraform reattaches to us.
    Debug,
}

/// Serves `provider` to the Terraform process that started us (`parent`, recorded first thing
/// in `main`). Returns when Terraform shuts the plugin down or dies.
pub fn serve(provider: Arc<dyn crate::server::Provider>, parent: Parent) -> ExitCode {
    match HandshakeEnv::from_process_env() {
        Ok(env) => match parent.end_with_it() {
            Ok(true) => run(provider, Mode::Managed(env)),
            Ok(false) => {
                eprintln!(
                    "terraform-provider-truefoundry: Terraform, which started it, has exited"
                );
                ExitCode::from(1)
            }
            Err(error) => {
                // Not fatal: the provider still works, it just may outlive a crashed Terraform.
                eprintln!(
                    "terraform-provider-truefoundry: cannot ask to end with Terraform: {error}"
                );
                run(provider, Mode::Managed(env))
            }
        },
        Err(error) => {
            // Plain text: read by a person who ran the binary by hand, or shown by Terraform.
            eprintln!("{error}");
            ExitCode::from(1)
        }
    }
}

/// Serves `provider` for a Terraform that reattaches to it (`TF_REATTACH_PROVIDERS`), until
/// Ctrl-C.
pub fn serve_debug(provider: Arc<dyn crate::server::Provider>) -> ExitCode {
    run(provider, Mode::Debug)
}

fn run(provider: Arc<dyn crate::server::Provider>, mode: Mode) -> ExitCode {
    // One thread: start-up is benchmarked, and the work is waiting on the network.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run_async(provider, mode)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "plugin server failed");
            eprintln!("terraform-provider-truefoundry: {error}");
            ExitCode::from(1)
        }
    }
}

async fn run_async(
    provider: Arc<dyn crate::server::Provider>,
    mode: Mode,
) -> Result<(), Box<dyn std::error::Error>> {
    let shutdown = CancellationToken::new();
    // Before the socket directory exists, so that no SIGTERM (ours to handle, or the kernel's
    // when Terraform dies) can end the process without removing it.
    #[cfg(unix)]
    tokio::spawn(shut_down_on_signal(
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        shutdown.clone(),
    ));
    let ports = match &mode {
        Mode::Managed(env) => env.ports.clone(),
        Mode::Debug => 10000..=25000,
    };
    let (listener, address) = Listener::bind(ports).await?;

    let tls = match &mode {
        Mode::Managed(HandshakeEnv {
            client_cert: Some(client_cert),
            ..
        }) => {
            let identity = tls::ServerIdentity::generate()?;
            let config = identity.server_config(client_cert.clone())?;
            Some((
                identity.cert_der,
                tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            ))
        }
        _ => None,
    };

    match &mode {
        Mode::Managed(_) => {
            // The terminal's Ctrl-C reaches us too; Terraform decides what it means
            // (StopProvider, then Shutdown), so it must not kill us mid-apply.
            #[cfg(unix)]
            let sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
            #[cfg(unix)]
            tokio::spawn(ignore_signals(sigint));
            let line =
                handshake::handshake_line(&address, tls.as_ref().map(|(cert, _)| cert.as_slice()));
            print_line(&line)?;
        }
        Mode::Debug => {
            print_line(&reattach_line(&address))?;
            let on_ctrl_c = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_ctrl_c.cancel();
            });
        }
    }
    tracing::debug!(network = address.network(), "plugin listening");

    let incoming = accept_connections(listener, tls.map(|(_, acceptor)| acceptor));
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let router = tonic::transport::Server::builder()
        .add_service(crate::server::grpc::provider_server(provider))
        .add_service(GrpcControllerServer::new(services::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(services::Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcBrokerServer::new(services::Broker {
            shutdown: shutdown.clone(),
        }))
        .add_service(health_service);

    let serving = router.serve_with_incoming_shutdown(incoming, shutdown.clone().cancelled_owned());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = serving => result?,
        () = deadline => tracing::debug!("shutdown grace period over; exiting"),
    }
    Ok(())
}

/// SIGTERM takes the Shutdown RPC's way out: in-flight calls get the grace period, and the
/// listener (with its socket directory) is dropped.
#[cfg(unix)]
async fn shut_down_on_signal(mut signal: tokio::signal::unix::Signal, shutdown: CancellationToken) {
    if signal.recv().await.is_some() {
        tracing::debug!("SIGTERM: shutting down");
        shutdown.cancel();
    }
}

#[cfg(unix)]
async fn ignore_signals(mut signal: tokio::signal::unix::Signal) {
    while signal.recv().await.is_some() {
        tracing::debug!("ignoring SIGINT; Terraform handles interrupts");
    }
}

fn print_line(line: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

fn reattach_line(address: &Address) -> String {
    let config = serde_json::json!({
        PROVIDER_ADDRESS: {
            "Protocol": "grpc",
            "ProtocolVersion": handshake::PLUGIN_PROTOCOL_VERSION,
            "Pid": std::process::id(),
            // Terraform 1.0 records the protocol version only for test reattach.
            "Test": true,
            "Addr": { "Network": address.network(), "String": address.to_string() },
        }
    });
    format!("TF_REATTACH_PROVIDERS='{config}'")
}

/// Accepts connections for tonic. With TLS, each handshake runs on its own task so a slow or
/// hostile client cannot hold up others; refused handshakes never reach the gRPC server.
fn accept_connections(
    listener: Listener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> ReceiverStream<std::io::Result<Connection>> {
    let (sender, receiver) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(error = %error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(acceptor) = tls.clone() else {
                if sender.send(Ok(Connection::new(stream))).await.is_err() {
                    break;
                }
                continue;
            };
            let sender = sender.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls_stream)) => {
                        let _ = sender.send(Ok(Connection::new(tls_stream))).await;
                    }
                    // rustls reports refusals (no or wrong certificate) as InvalidData; other
                    // errors are peers hanging up, e.g. gRPC redialling while Terraform exits.
                    Ok(Err(error)) if error.kind() == std::io::ErrorKind::InvalidData => {
                        tracing::warn!(error = %error, "refused a TLS connection that did not present Terraform's client certificate")
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(error = %error, "a client hung up during the TLS handshake")
                    }
                    Err(_) => tracing::warn!("dropped a connection whose TLS handshake stalled"),
                }
            });
        }
    });
    ReceiverStream::new(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reattach_line_names_our_address_and_asks_for_test_mode() {
        let line = reattach_line(&Address::Unix("/tmp/d/plugin.sock".into()));
        let json = line
            .strip_prefix("TF_REATTACH_PROVIDERS='")
            .and_then(|rest| rest.strip_suffix('\''))
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        let entry = &parsed[PROVIDER_ADDRESS];
        assert_eq!(entry["Protocol"], "grpc");
        assert_eq!(entry["ProtocolVersion"], 6);
        assert_eq!(entry["Test"], true);
        assert_eq!(entry["Pid"], std::process::id());
        assert_eq!(entry["Addr"]["Network"], "unix");
        assert_eq!(entry["Addr"]["String"], "/tmp/d/plugin.sock");
    }
}
