//! AutoMTLS: a fresh server certificate per process, and a client verifier that accepts only the
//! exact certificate Terraform handed us in `PLUGIN_CLIENT_CERT`.
//!
//! Terraform's client certificate is a self-signed ECDSA P-521 CA certificate, which webpki's
//! path building refuses as an end entity. Pinning its DER is stricter than path building anyway:
//! nothing but the process that started us holds that key. The handshake signature is still
//! verified (with aws-lc-rs, which supports P-521), so presenting the certificate without its key
//! does not work either.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The crypto provider every TLS config of the plugin uses.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A self-signed certificate for `localhost` and its PKCS#8 key.
pub struct ServerIdentity {
    pub cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl ServerIdentity {
    /// Like go-plugin's own: a CA certificate (the client trusts it as its only root) that is
    /// also the leaf, valid for `localhost`, for both server and client authentication.
    pub fn generate() -> Result<Self, rcgen::Error> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.distinguished_name.push(
            rcgen::DnType::OrganizationName,
            "terraform-provider-truefoundry",
        );
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.self_signed(&key)?;
        Ok(ServerIdentity {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }

    /// A TLS server config presenting this identity and requiring `client_cert_der`.
    pub fn server_config(
        &self,
        client_cert_der: Vec<u8>,
    ) -> Result<rustls::ServerConfig, rustls::Error> {
        let provider = crypto_provider();
        let verifier = Arc::new(PinnedClientCert::new(
            client_cert_der,
            provider.signature_verification_algorithms,
        ));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(self.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )?;
        // gRPC runs over HTTP/2; Go's client insists on negotiating it.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

/// Accepts exactly one client certificate, byte for byte, and checks the peer holds its key.
#[derive(Debug)]
pub struct PinnedClientCert {
    expected_der: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientCert {
    pub fn new(expected_der: Vec<u8>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        PinnedClientCert {
            expected_der,
            algorithms,
        }
    }

    fn check_pinned(&self, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if cert.as_ref() == self.expected_der.as_slice() {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

impl ClientCertVerifier for PinnedClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hint: Go's client then offers its only certificate.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if !intermediates.is_empty() {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        self.check_pinned(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check_pinned(cert)?;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check_pinned(cert)?;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_identity_is_a_localhost_certificate_with_a_usable_key() {
        let identity = ServerIdentity::generate().unwrap();
        assert!(!identity.cert_der.is_empty());
        let client = ServerIdentity::generate().unwrap();
        identity.server_config(client.cert_der.clone()).unwrap();
    }

    #[test]
    fn only_the_pinned_certificate_is_accepted() {
        let pinned = ServerIdentity::generate().unwrap().cert_der;
        let other = ServerIdentity::generate().unwrap().cert_der;
        let verifier = PinnedClientCert::new(
            pinned.clone(),
            crypto_provider().signature_verification_algorithms,
        );
        let now = UnixTime::now();
        assert!(
            verifier
                .verify_client_cert(&CertificateDer::from(pinned.clone()), &[], now)
                .is_ok()
        );
        assert!(
            verifier
                .verify_client_cert(&CertificateDer::from(other), &[], now)
                .is_err()
        );
        assert!(
            verifier
                .verify_client_cert(
                    &CertificateDer::from(pinned.clone()),
                    &[CertificateDer::from(pinned)],
                    now
                )
                .is_err()
        );
        assert!(verifier.client_auth_mandatory());
        assert!(
            verifier
                .supported_verify_schemes()
                .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
        );
    }
}
