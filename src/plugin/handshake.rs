//! What go-plugin's client (Terraform) tells the plugin through the environment, and the one
//! line the plugin answers on stdout.

use std::fmt;
use std::ops::RangeInclusive;

use base64::Engine as _;

/// The variable and value every go-plugin host for Terraform providers sets.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's own handshake version (the first field of the line).
const CORE_PROTOCOL_VERSION: u32 = 1;
/// The only Terraform plugin protocol we speak.
pub const PLUGIN_PROTOCOL_VERSION: u32 = 6;

/// Ports go-plugin uses when the host does not say.
const DEFAULT_PORTS: RangeInclusive<u16> = 10000..=25000;

/// Why the process cannot act as a plugin for whoever started it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly. Please run Terraform, which will run this plugin as needed (for development, start it with --debug)."
    )]
    NotStartedByTerraform,
    #[error(
        "Terraform offered plugin protocol versions {offered:?}, but this provider speaks only protocol 6 (Terraform 0.15 or later)."
    )]
    ProtocolUnsupported { offered: String },
    #[error("{variable} is not a port number.")]
    BadPort { variable: &'static str },
    #[error("PLUGIN_CLIENT_CERT does not hold a PEM certificate.")]
    BadClientCert,
}

/// The handshake settings read from the environment of a plugin started by Terraform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeEnv {
    /// For the tcp fallback when unix sockets are unavailable.
    pub ports: RangeInclusive<u16>,
    /// DER of the certificate Terraform will present (AutoMTLS); None when TLS is disabled.
    pub client_cert: Option<Vec<u8>>,
}

impl HandshakeEnv {
    pub fn from_process_env() -> Result<Self, HandshakeError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, HandshakeError> {
        if lookup(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NotStartedByTerraform);
        }
        // go-plugin sends a comma-separated set in no fixed order; absent means "anything".
        if let Some(offered) = lookup("PLUGIN_PROTOCOL_VERSIONS") {
            let speaks_ours = offered
                .split(',')
                .any(|v| v.trim().parse::<u32>() == Ok(PLUGIN_PROTOCOL_VERSION));
            if !speaks_ours {
                return Err(HandshakeError::ProtocolUnsupported { offered });
            }
        }
        let port = |variable: &'static str, default: u16| match lookup(variable) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<u16>()
                .map_err(|_| HandshakeError::BadPort { variable }),
        };
        let ports = port("PLUGIN_MIN_PORT", *DEFAULT_PORTS.start())?
            ..=port("PLUGIN_MAX_PORT", *DEFAULT_PORTS.end())?;
        let client_cert = match lookup("PLUGIN_CLIENT_CERT") {
            Some(pem) if !pem.trim().is_empty() => Some(certificate_der_from_pem(&pem)?),
            _ => None,
        };
        Ok(HandshakeEnv { ports, client_cert })
    }
}

fn certificate_der_from_pem(pem: &str) -> Result<Vec<u8>, HandshakeError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.to_vec())
        .map_err(|_| HandshakeError::BadClientCert)
}

/// Where the plugin listens, as the handshake line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(std::path::PathBuf),
    Tcp(std::net::SocketAddr),
}

impl Address {
    pub fn network(&self) -> &'static str {
        match self {
            Address::Unix(_) => "unix",
            Address::Tcp(_) => "tcp",
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// `CORE|APP|NETWORK|ADDR|grpc|CERT`: the server certificate is DER in unpadded standard
/// base64 (Go's RawStdEncoding), empty when TLS is off.
pub fn handshake_line(address: &Address, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!(
        "{CORE_PROTOCOL_VERSION}|{PLUGIN_PROTOCOL_VERSION}|{}|{address}|grpc|{cert}",
        address.network()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<HandshakeEnv, HandshakeError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HandshakeEnv::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn refuses_to_run_without_the_cookie() {
        assert_eq!(env(&[]), Err(HandshakeError::NotStartedByTerraform));
        assert_eq!(
            env(&[(MAGIC_COOKIE_KEY, "wrong")]),
            Err(HandshakeError::NotStartedByTerraform)
        );
        let message = HandshakeError::NotStartedByTerraform.to_string();
        assert!(message.starts_with("This binary is a plugin"));
        assert!(message.contains("run Terraform"));
    }

    #[test]
    fn protocol_versions_are_a_set_in_any_order() {
        for offered in ["6,5", "5,6", "6", " 5 , 6 "] {
            let parsed = env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                ("PLUGIN_PROTOCOL_VERSIONS", offered),
            ]);
            assert!(parsed.is_ok(), "{offered}");
        }
        let refused = env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_PROTOCOL_VERSIONS", "4,5"),
        ])
        .unwrap_err();
        assert!(refused.to_string().contains("protocol 6"), "{refused}");
    }

    #[test]
    fn ports_default_to_go_plugin_range_and_follow_the_host() {
        let defaults = env(&[(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)]).unwrap();
        assert_eq!(defaults.ports, 10000..=25000);
        assert_eq!(defaults.client_cert, None);
        let given = env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_MIN_PORT", "12000"),
            ("PLUGIN_MAX_PORT", "12010"),
        ])
        .unwrap();
        assert_eq!(given.ports, 12000..=12010);
        assert_eq!(
            env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                ("PLUGIN_MIN_PORT", "low")
            ]),
            Err(HandshakeError::BadPort {
                variable: "PLUGIN_MIN_PORT"
            })
        );
    }

    #[test]
    fn client_certificate_pem_becomes_der() {
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let parsed = env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_CLIENT_CERT", pem),
        ])
        .unwrap();
        assert_eq!(parsed.client_cert, Some(vec![1, 2, 3]));
        assert_eq!(
            env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                ("PLUGIN_CLIENT_CERT", "not a pem")
            ]),
            Err(HandshakeError::BadClientCert)
        );
    }

    #[test]
    fn handshake_line_has_six_fields_and_unpadded_certificate() {
        let line = handshake_line(&Address::Unix("/tmp/x/plugin.sock".into()), Some(&[1, 2]));
        assert_eq!(line, "1|6|unix|/tmp/x/plugin.sock|grpc|AQI");
        let tcp = handshake_line(&Address::Tcp("127.0.0.1:10001".parse().unwrap()), None);
        assert_eq!(tcp, "1|6|tcp|127.0.0.1:10001|grpc|");
    }
}
