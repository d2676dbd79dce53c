//! A tfplugin6 test client that behaves like Terraform: it starts the provider binary with the
//! go-plugin environment and a fresh P-521 client certificate (as Terraform's AutoMTLS does),
//! reads the handshake line, dials TLS trusting only the certificate from that line, and drives
//! RPCs with [`Value`]s encoded with the provider's own schema.
//!
//! The same client also talks to a provider served in-process ([`TfClient::in_process`]), which
//! is how tests drive fake providers.

#![allow(dead_code)] // Each test module uses its own subset of the helpers.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint, Uri};
use truefoundry_provider::diag::{AttributePath, Diagnostics};
use truefoundry_provider::server::convert::{
    capabilities_to_proto, diagnostics_from_proto, path_from_proto, timestamp_to_system_time,
};
use truefoundry_provider::server::proto::plugin::Empty;
use truefoundry_provider::server::proto::plugin::grpc_controller_client::GrpcControllerClient;
use truefoundry_provider::server::proto::tfplugin6 as pb;
use truefoundry_provider::server::proto::tfplugin6::provider_client::ProviderClient;
use truefoundry_provider::server::{ClientCapabilities, Provider};
use truefoundry_provider::value::{self, Type, Value};

pub const MAGIC_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Which Terraform the client imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImitatedTerraform {
    /// Protocol 6.0: no client capabilities at all.
    V1_0_3,
    /// Protocol 6.8: capabilities with write-only support.
    V1_11,
}

impl ImitatedTerraform {
    pub fn version(self) -> &'static str {
        match self {
            ImitatedTerraform::V1_0_3 => "1.0.3",
            ImitatedTerraform::V1_11 => "1.11.4",
        }
    }

    fn capabilities(self) -> Option<pb::ClientCapabilities> {
        match self {
            ImitatedTerraform::V1_0_3 => None,
            ImitatedTerraform::V1_11 => Some(capabilities_to_proto(ClientCapabilities {
                deferral_allowed: false,
                write_only_attributes_allowed: true,
            })),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/// A client certificate like Terraform's: self-signed ECDSA P-521/SHA-512, CA:TRUE, localhost.
pub struct ClientIdentity {
    pub pem: String,
    pub der: Vec<u8>,
    key_der: Vec<u8>,
}

impl ClientIdentity {
    pub fn generate() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "HashiCorp");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        ClientIdentity {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

/// Trusts exactly the server certificate from the handshake line, for `localhost`, as Go's
/// client does when that certificate is its only root.
#[derive(Debug)]
struct PinnedServerCert {
    expected_der: Vec<u8>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() != self.expected_der.as_slice() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ));
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// What the client presents when it dials.
pub enum ClientAuth<'a> {
    /// This certificate (Terraform's, or a stranger's).
    Certificate(&'a ClientIdentity),
    /// No client certificate at all.
    None,
}

fn tls_connector(server_cert_der: &[u8], auth: ClientAuth<'_>) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServerCert {
        expected_der: server_cert_der.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match auth {
        ClientAuth::Certificate(identity) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(identity.der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone())),
            )
            .unwrap(),
        ClientAuth::None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

// ---------------------------------------------------------------------------------------------
// The provider process
// ---------------------------------------------------------------------------------------------

/// How to start the provider binary.
pub struct Launch {
    pub cookie: bool,
    /// `PLUGIN_PROTOCOL_VERSIONS`, as Terraform sends it.
    pub protocol_versions: Option<String>,
    /// Set `PLUGIN_CLIENT_CERT` (AutoMTLS); false imitates `TF_DISABLE_PLUGIN_TLS`.
    pub tls: bool,
    pub env: Vec<(String, String)>,
    /// Start the provider from a `sh` that waits for it, so a test can kill the provider's
    /// parent as a crash of Terraform would. The process handle is then the shell's.
    pub under_shell: bool,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            cookie: true,
            protocol_versions: Some("6,5".to_owned()),
            tls: true,
            env: Vec::new(),
            under_shell: false,
        }
    }
}

/// The handshake line, field by field.
#[derive(Debug, Clone)]
pub struct HandshakeLine {
    pub raw: String,
    pub fields: Vec<String>,
    pub network: String,
    pub address: String,
    pub server_cert_der: Option<Vec<u8>>,
}

impl HandshakeLine {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let fields: Vec<String> = raw.trim().split('|').map(str::to_owned).collect();
        if fields.len() < 5 {
            return Err(format!("unrecognised handshake line {raw:?}").into());
        }
        let cert = fields.get(5).filter(|cert| !cert.is_empty());
        let server_cert_der = cert
            .map(|cert| base64::engine::general_purpose::STANDARD_NO_PAD.decode(cert))
            .transpose()?;
        Ok(HandshakeLine {
            raw: raw.to_owned(),
            network: fields[2].clone(),
            address: fields[3].clone(),
            fields,
            server_cert_der,
        })
    }
}

/// A running provider binary, killed when dropped (its socket directory removed with it, as a
/// SIGKILLed provider cannot remove it).
pub struct PluginProcess {
    child: Child,
    pub line: HandshakeLine,
    /// The certificate passed in `PLUGIN_CLIENT_CERT` (the one the provider must accept).
    pub identity: ClientIdentity,
    stderr: Arc<Mutex<String>>,
}

/// The outcome of a run that ended before (or instead of) a handshake.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

const PROVIDER_BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-truefoundry");

fn provider_command(launch: &Launch, identity: &ClientIdentity) -> Command {
    let mut command = if launch.under_shell {
        // The provider inherits the shell's environment and stdout; `wait` keeps the shell up.
        let mut shell = Command::new("sh");
        shell.args(["-c", "\"$0\" & wait", PROVIDER_BINARY]);
        shell
    } else {
        Command::new(PROVIDER_BINARY)
    };
    command
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .env_remove("PLUGIN_PROTOCOL_VERSIONS")
        .env_remove("PLUGIN_CLIENT_CERT")
        // Deterministic logging: tests that want logs ask for them in `Launch::env`.
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .env_remove("TF_LOG_PROVIDER_TRUEFOUNDRY")
        .env("PLUGIN_MIN_PORT", "10000")
        .env("PLUGIN_MAX_PORT", "25000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if launch.cookie {
        command.env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE);
    }
    if let Some(versions) = &launch.protocol_versions {
        command.env("PLUGIN_PROTOCOL_VERSIONS", versions);
    }
    if launch.tls {
        command.env("PLUGIN_CLIENT_CERT", &identity.pem);
    }
    for (name, value) in &launch.env {
        command.env(name, value);
    }
    command
}

impl PluginProcess {
    /// Starts the provider and waits for its handshake line.
    pub async fn start(launch: Launch) -> Result<Self, Error> {
        let identity = ClientIdentity::generate();
        let mut child = provider_command(&launch, &identity).spawn()?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let collected = stderr.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(read @ 1..) = stderr_pipe.read(&mut buffer).await {
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| "no handshake line within the timeout")??
            .ok_or_else(|| {
                format!(
                    "the provider printed no handshake line; stderr: {}",
                    stderr.lock().unwrap()
                )
            })?;
        // Terraform drains and ignores later stdout; keep draining so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(PluginProcess {
            child,
            line: HandshakeLine::parse(&first)?,
            identity,
            stderr,
        })
    }

    /// Runs the provider to completion, for starts that are expected to fail.
    pub async fn run_to_exit(launch: Launch) -> Result<Finished, Error> {
        let identity = ClientIdentity::generate();
        let output = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            provider_command(&launch, &identity).output(),
        )
        .await
        .map_err(|_| "the provider did not exit")??;
        Ok(Finished {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Connects as Terraform does, with the certificate passed at launch.
    pub async fn connect(&self, terraform: ImitatedTerraform) -> Result<TfClient, Error> {
        self.connect_with(ClientAuth::Certificate(&self.identity), terraform)
            .await
    }

    pub async fn connect_with(
        &self,
        auth: ClientAuth<'_>,
        terraform: ImitatedTerraform,
    ) -> Result<TfClient, Error> {
        let tls = self
            .line
            .server_cert_der
            .as_ref()
            .map(|der| tls_connector(der, auth));
        let network = self.line.network.clone();
        let address = self.line.address.clone();
        let connector = tower::service_fn(move |_: Uri| {
            let tls = tls.clone();
            let network = network.clone();
            let address = address.clone();
            async move { dial(&network, &address, tls).await }
        });
        // The URI only satisfies tonic; the connector decides where to go.
        let channel = Endpoint::from_static("http://localhost")
            .connect_timeout(Duration::from_secs(10))
            .connect_with_connector(connector)
            .await?;
        Ok(TfClient::new(channel, terraform))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The provider's own process id when it was started `under_shell`.
    pub fn provider_pid_under_shell(&self) -> Option<u32> {
        let shell = self.pid()?;
        crate::support::processes::children_named(shell, "terraform-provi")
            .first()
            .copied()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn socket_path(&self) -> Option<PathBuf> {
        (self.line.network == "unix").then(|| PathBuf::from(&self.line.address))
    }

    /// Waits up to `within` for the process to exit by itself.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if let Some(dir) = self.socket_path().as_deref().and_then(Path::parent) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

type BoxedIo = TokioIo<std::pin::Pin<Box<dyn IoStream>>>;

trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send> IoStream for T {}

async fn dial(
    network: &str,
    address: &str,
    tls: Option<tokio_rustls::TlsConnector>,
) -> io::Result<BoxedIo> {
    let stream: std::pin::Pin<Box<dyn IoStream>> = match network {
        #[cfg(unix)]
        "unix" => Box::pin(tokio::net::UnixStream::connect(address).await?),
        "tcp" => {
            let stream = tokio::net::TcpStream::connect(address).await?;
            // Without it each small HTTP/2 write waits on a delayed ACK: ~40 ms per call.
            stream.set_nodelay(true)?;
            Box::pin(stream)
        }
        other => return Err(io::Error::other(format!("unknown network {other}"))),
    };
    let Some(tls) = tls else {
        return Ok(TokioIo::new(stream));
    };
    let server_name = ServerName::try_from("localhost").unwrap();
    let tls_stream = tls.connect(server_name, stream).await?;
    Ok(TokioIo::new(Box::pin(tls_stream)))
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// Types of every schema the provider declared, by kind and type name.
#[derive(Default, Clone)]
pub struct SchemaTypes {
    pub provider: Option<Type>,
    pub resources: BTreeMap<String, Type>,
    pub data_sources: BTreeMap<String, Type>,
    pub ephemeral_resources: BTreeMap<String, Type>,
}

pub struct PlanResult {
    pub planned_state: Option<Value>,
    pub requires_replace: Vec<AttributePath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct StateResult {
    pub state: Option<Value>,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ImportResult {
    pub states: Vec<(Value, Vec<u8>)>,
    pub diagnostics: Diagnostics,
}

pub struct OpenResult {
    pub result: Option<Value>,
    pub private: Option<Vec<u8>>,
    pub renew_at: Option<SystemTime>,
    pub diagnostics: Diagnostics,
}

pub struct RenewResult {
    pub private: Option<Vec<u8>>,
    pub renew_at: Option<SystemTime>,
    pub diagnostics: Diagnostics,
}

#[derive(Clone)]
pub struct TfClient {
    /// The raw gRPC client, for requests the typed helpers cannot express (malformed values).
    pub provider: ProviderClient<Channel>,
    controller: GrpcControllerClient<Channel>,
    channel: Channel,
    pub terraform: ImitatedTerraform,
    types: SchemaTypes,
}

impl TfClient {
    fn new(channel: Channel, terraform: ImitatedTerraform) -> Self {
        TfClient {
            provider: ProviderClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            controller: GrpcControllerClient::new(channel.clone()),
            channel,
            terraform,
            types: SchemaTypes::default(),
        }
    }

    /// Serves `provider` on a loopback port inside this process and connects to it (no TLS).
    /// The server stops when the test's runtime does.
    pub async fn in_process(provider: Arc<dyn Provider>, terraform: ImitatedTerraform) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |stream| {
                stream.inspect(|stream| {
                    let _ = stream.set_nodelay(true);
                })
            },
        );
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(truefoundry_provider::server::grpc::provider_server(
                    provider,
                ))
                .serve_with_incoming(incoming),
        );
        let address = address.to_string();
        let connector = tower::service_fn(move |_: Uri| {
            let address = address.clone();
            async move { dial("tcp", &address, None).await }
        });
        let channel = Endpoint::from_static("http://localhost")
            .connect_with_connector(connector)
            .await
            .unwrap();
        TfClient::new(channel, terraform)
    }

    /// The connection, for clients of the other services (health, stdio, broker).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn types(&self) -> &SchemaTypes {
        &self.types
    }

    fn type_of(map: &BTreeMap<String, Type>, type_name: &str) -> Type {
        map.get(type_name)
            .cloned()
            .unwrap_or_else(|| panic!("call get_schema first; no schema known for {type_name:?}"))
    }

    pub fn resource_type(&self, type_name: &str) -> Type {
        Self::type_of(&self.types.resources, type_name)
    }

    pub fn data_source_type(&self, type_name: &str) -> Type {
        Self::type_of(&self.types.data_sources, type_name)
    }

    pub fn ephemeral_type(&self, type_name: &str) -> Type {
        Self::type_of(&self.types.ephemeral_resources, type_name)
    }

    pub fn provider_type(&self) -> Type {
        self.types.provider.clone().expect("call get_schema first")
    }

    /// GetProviderSchema; remembers every schema's type for the typed helpers.
    pub async fn get_schema(&mut self) -> Result<pb::get_provider_schema::Response, tonic::Status> {
        let response = self
            .provider
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await?
            .into_inner();
        let types_of = |schemas: &std::collections::HashMap<String, pb::Schema>| {
            schemas
                .iter()
                .map(|(name, schema)| (name.clone(), schema_type(schema)))
                .collect()
        };
        self.types = SchemaTypes {
            provider: response.provider.as_ref().map(schema_type),
            resources: types_of(&response.resource_schemas),
            data_sources: types_of(&response.data_source_schemas),
            ephemeral_resources: types_of(&response.ephemeral_resource_schemas),
        };
        Ok(response)
    }

    pub async fn get_metadata(&mut self) -> Result<pb::get_metadata::Response, tonic::Status> {
        Ok(self
            .provider
            .get_metadata(pb::get_metadata::Request {})
            .await?
            .into_inner())
    }

    pub async fn validate_provider(&mut self, config: &Value) -> Result<Diagnostics, Error> {
        let config = encode(config, &self.provider_type())?;
        let response = self
            .provider
            .validate_provider_config(pb::validate_provider_config::Request {
                config: Some(config),
            })
            .await?
            .into_inner();
        Ok(diagnostics_from_proto(&response.diagnostics))
    }

    pub async fn configure(&mut self, config: &Value) -> Result<Diagnostics, Error> {
        let config = encode(config, &self.provider_type())?;
        let response = self
            .provider
            .configure_provider(pb::configure_provider::Request {
                terraform_version: self.terraform.version().to_owned(),
                config: Some(config),
                client_capabilities: self.terraform.capabilities(),
            })
            .await?
            .into_inner();
        Ok(diagnostics_from_proto(&response.diagnostics))
    }

    pub async fn validate_resource(
        &mut self,
        type_name: &str,
        config: &Value,
    ) -> Result<Diagnostics, Error> {
        let config = encode(config, &self.resource_type(type_name))?;
        let response = self
            .provider
            .validate_resource_config(pb::validate_resource_config::Request {
                type_name: type_name.to_owned(),
                config: Some(config),
                client_capabilities: self.terraform.capabilities(),
            })
            .await?
            .into_inner();
        Ok(diagnostics_from_proto(&response.diagnostics))
    }

    pub async fn validate_data_source(
        &mut self,
        type_name: &str,
        config: &Value,
    ) -> Result<Diagnostics, Error> {
        let config = encode(config, &self.data_source_type(type_name))?;
        let response = self
            .provider
            .validate_data_resource_config(pb::validate_data_resource_config::Request {
                type_name: type_name.to_owned(),
                config: Some(config),
            })
            .await?
            .into_inner();
        Ok(diagnostics_from_proto(&response.diagnostics))
    }

    /// UpgradeResourceState with stored JSON state, as Terraform sends it on every run.
    pub async fn upgrade(
        &mut self,
        type_name: &str,
        version: i64,
        json: &str,
    ) -> Result<StateResult, Error> {
        let ty = self.resource_type(type_name);
        let response = self
            .provider
            .upgrade_resource_state(pb::upgrade_resource_state::Request {
                type_name: type_name.to_owned(),
                version,
                raw_state: Some(pb::RawState {
                    json: json.as_bytes().to_vec(),
                    flatmap: Default::default(),
                }),
            })
            .await?
            .into_inner();
        Ok(StateResult {
            state: decode(response.upgraded_state.as_ref(), &ty)?,
            private: Vec::new(),
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn read(
        &mut self,
        type_name: &str,
        current_state: &Value,
        private: Vec<u8>,
    ) -> Result<StateResult, Error> {
        let ty = self.resource_type(type_name);
        let response = self
            .provider
            .read_resource(pb::read_resource::Request {
                type_name: type_name.to_owned(),
                current_state: Some(encode(current_state, &ty)?),
                private,
                provider_meta: None,
                client_capabilities: self.terraform.capabilities(),
                current_identity: None,
            })
            .await?
            .into_inner();
        Ok(StateResult {
            state: decode(response.new_state.as_ref(), &ty)?,
            private: response.private,
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn plan(
        &mut self,
        type_name: &str,
        prior_state: &Value,
        proposed_new_state: &Value,
        config: &Value,
        prior_private: Vec<u8>,
    ) -> Result<PlanResult, Error> {
        let ty = self.resource_type(type_name);
        let response = self
            .provider
            .plan_resource_change(pb::plan_resource_change::Request {
                type_name: type_name.to_owned(),
                prior_state: Some(encode(prior_state, &ty)?),
                proposed_new_state: Some(encode(proposed_new_state, &ty)?),
                config: Some(encode(config, &ty)?),
                prior_private,
                provider_meta: None,
                client_capabilities: self.terraform.capabilities(),
                prior_identity: None,
            })
            .await?
            .into_inner();
        Ok(PlanResult {
            planned_state: decode(response.planned_state.as_ref(), &ty)?,
            requires_replace: response
                .requires_replace
                .iter()
                .map(path_from_proto)
                .collect(),
            planned_private: response.planned_private,
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn apply(
        &mut self,
        type_name: &str,
        prior_state: &Value,
        planned_state: &Value,
        config: &Value,
        planned_private: Vec<u8>,
    ) -> Result<StateResult, Error> {
        let ty = self.resource_type(type_name);
        let response = self
            .provider
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: type_name.to_owned(),
                prior_state: Some(encode(prior_state, &ty)?),
                planned_state: Some(encode(planned_state, &ty)?),
                config: Some(encode(config, &ty)?),
                planned_private,
                provider_meta: None,
                planned_identity: None,
            })
            .await?
            .into_inner();
        Ok(StateResult {
            state: decode(response.new_state.as_ref(), &ty)?,
            private: response.private,
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn import(&mut self, type_name: &str, id: &str) -> Result<ImportResult, Error> {
        let ty = self.resource_type(type_name);
        let response = self
            .provider
            .import_resource_state(pb::import_resource_state::Request {
                type_name: type_name.to_owned(),
                id: id.to_owned(),
                client_capabilities: self.terraform.capabilities(),
                identity: None,
            })
            .await?
            .into_inner();
        let mut states = Vec::new();
        for imported in response.imported_resources {
            let state = decode(imported.state.as_ref(), &ty)?.unwrap_or(Value::Null);
            states.push((state, imported.private));
        }
        Ok(ImportResult {
            states,
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn read_data_source(
        &mut self,
        type_name: &str,
        config: &Value,
    ) -> Result<StateResult, Error> {
        let ty = self.data_source_type(type_name);
        let response = self
            .provider
            .read_data_source(pb::read_data_source::Request {
                type_name: type_name.to_owned(),
                config: Some(encode(config, &ty)?),
                provider_meta: None,
                client_capabilities: self.terraform.capabilities(),
            })
            .await?
            .into_inner();
        Ok(StateResult {
            state: decode(response.state.as_ref(), &ty)?,
            private: Vec::new(),
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn validate_ephemeral(
        &mut self,
        type_name: &str,
        config: &Value,
    ) -> Result<Diagnostics, Error> {
        let config = encode(config, &self.ephemeral_type(type_name))?;
        let response = self
            .provider
            .validate_ephemeral_resource_config(pb::validate_ephemeral_resource_config::Request {
                type_name: type_name.to_owned(),
                config: Some(config),
            })
            .await?
            .into_inner();
        Ok(diagnostics_from_proto(&response.diagnostics))
    }

    pub async fn open_ephemeral(
        &mut self,
        type_name: &str,
        config: &Value,
    ) -> Result<OpenResult, Error> {
        let ty = self.ephemeral_type(type_name);
        let response = self
            .provider
            .open_ephemeral_resource(pb::open_ephemeral_resource::Request {
                type_name: type_name.to_owned(),
                config: Some(encode(config, &ty)?),
                client_capabilities: self.terraform.capabilities(),
            })
            .await?
            .into_inner();
        Ok(OpenResult {
            result: decode(response.result.as_ref(), &ty)?,
            private: response.private,
            renew_at: response.renew_at.as_ref().map(timestamp_to_system_time),
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn renew_ephemeral(
        &mut self,
        type_name: &str,
        private: Option<Vec<u8>>,
    ) -> Result<RenewResult, Error> {
        let response = self
            .provider
            .renew_ephemeral_resource(pb::renew_ephemeral_resource::Request {
                type_name: type_name.to_owned(),
                private,
            })
            .await?
            .into_inner();
        Ok(RenewResult {
            private: response.private,
            renew_at: response.renew_at.as_ref().map(timestamp_to_system_time),
            diagnostics: diagnostics_from_proto(&response.diagnostics),
        })
    }

    pub async fn close_ephemeral(
        &mut self,
        type_name: &str,
        private: Option<Vec<u8>>,
    ) -> Result<Diagnostics, Error> {
        let response = self
            .provider
            .close_ephemeral_resource(pb::close_ephemeral_resource::Request {
                type_name: type_name.to_owned(),
                private,
            })
            .await?
            .into_inner();
        Ok(diagnostics_from_proto(&response.diagnostics))
    }

    /// StopProvider; returns the provider's error text (empty when it stopped cleanly).
    pub async fn stop(&mut self) -> Result<String, tonic::Status> {
        Ok(self
            .provider
            .stop_provider(pb::stop_provider::Request {})
            .await?
            .into_inner()
            .error)
    }

    /// GRPCController.Shutdown, as Terraform's plugin client sends when it is done.
    pub async fn shutdown(&mut self) -> Result<(), tonic::Status> {
        self.controller.shutdown(Empty {}).await?;
        Ok(())
    }
}

/// An object of type `ty` with every attribute null.
pub fn null_object(ty: &Type) -> Value {
    match ty {
        Type::Object(attributes) => Value::Object(
            attributes
                .keys()
                .map(|name| (name.clone(), Value::Null))
                .collect(),
        ),
        other => panic!("not an object type: {other:?}"),
    }
}

pub fn encode(value: &Value, ty: &Type) -> Result<pb::DynamicValue, Error> {
    Ok(pb::DynamicValue {
        msgpack: value::encode_msgpack(value, ty)?,
        json: Vec::new(),
    })
}

/// Decodes an answer, which must be msgpack; absent stays None.
pub fn decode(dynamic: Option<&pb::DynamicValue>, ty: &Type) -> Result<Option<Value>, Error> {
    let Some(dynamic) = dynamic else {
        return Ok(None);
    };
    if !dynamic.json.is_empty() {
        return Err("the provider answered in JSON; it must answer in msgpack".into());
    }
    Ok(Some(value::decode_msgpack(&dynamic.msgpack, ty)?))
}

/// The object type of a schema, built from its wire form as Terraform does.
pub fn schema_type(schema: &pb::Schema) -> Type {
    let attributes = schema
        .block
        .as_ref()
        .map(|block| block.attributes.as_slice())
        .unwrap_or_default();
    object_type(attributes)
}

fn object_type(attributes: &[pb::schema::Attribute]) -> Type {
    Type::Object(
        attributes
            .iter()
            .map(|attribute| (attribute.name.clone(), attribute_type(attribute)))
            .collect(),
    )
}

fn attribute_type(attribute: &pb::schema::Attribute) -> Type {
    use pb::schema::object::NestingMode;
    if let Some(nested) = &attribute.nested_type {
        let object = object_type(&nested.attributes);
        return match NestingMode::try_from(nested.nesting) {
            Ok(NestingMode::List) => Type::List(Box::new(object)),
            Ok(NestingMode::Set) => Type::Set(Box::new(object)),
            Ok(NestingMode::Map) => Type::Map(Box::new(object)),
            _ => object,
        };
    }
    let json: serde_json::Value =
        serde_json::from_slice(&attribute.r#type).expect("attribute type is JSON");
    Type::from_json(&json).expect("attribute type is a Terraform type")
}
