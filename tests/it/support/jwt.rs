//! A test identity provider: an RSA and an EC P-256 key, their JWKS, and workload identity
//! tokens signed with them, shaped like HCP Terraform's. Tokens are put together here rather
//! than with a JWT library because the tests need broken ones too (`alg: none`, an HMAC keyed
//! with the public key, a foreign key under a known `kid`), which no library will sign.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value as Json, json};

use super::emulator::config_json;

pub const ISSUER: &str = "https://app.terraform.io";
pub const AUDIENCE: &str = "truefoundry";
/// The workspace whose tokens act as virtual account [`VIRTUAL_ACCOUNT`].
pub const WORKSPACE: &str = "secrets-prod";
pub const VIRTUAL_ACCOUNT: &str = "secrets-prod";
/// A second workspace, mapped to a second virtual account of the same tenant: a token of it
/// tells which token a request carried.
pub const OTHER_WORKSPACE: &str = "secrets-rotated";
pub const OTHER_VIRTUAL_ACCOUNT: &str = "secrets-rotated";
pub const RSA_KID: &str = "rsa-1";
pub const EC_KID: &str = "ec-1";

/// How a token is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    Rs256,
    Es256,
    /// `alg: none` and an empty signature.
    None,
    /// `HS256` keyed with the RSA public key, as published in the JWKS: the classic confusion.
    HmacWithPublicKey,
    /// RS256 by a key the JWKS does not hold, under the JWKS's own `kid`.
    ForeignKey,
    /// RS256 under a `kid` the JWKS does not hold.
    UnknownKid,
}

pub struct Issuer {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    foreign: RsaKeyPair,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Issuer {
    pub fn new() -> Issuer {
        Issuer {
            rsa: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
            foreign: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        }
    }

    /// The JWKS an identity provider publishes: both public keys.
    pub fn jwks(&self) -> Json {
        let rsa = PublicKeyComponents::<Vec<u8>>::from(self.rsa.public_key());
        // An uncompressed point: 0x04, then x and y of 32 bytes each.
        let point = self.ec.public_key().as_ref();
        json!({"keys": [
            {"kty": "RSA", "kid": RSA_KID, "alg": "RS256", "use": "sig",
             "n": b64(&rsa.n), "e": b64(&rsa.e)},
            {"kty": "EC", "kid": EC_KID, "alg": "ES256", "use": "sig", "crv": "P-256",
             "x": b64(&point[1..33]), "y": b64(&point[33..65])},
        ]})
    }

    /// Claims as HCP Terraform puts them in a run's token, valid for ten minutes.
    pub fn hcp_claims(workspace: &str) -> Json {
        let now = now();
        json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": format!("organization:acme-org:project:Default Project:workspace:{workspace}:run_phase:plan"),
            "terraform_organization_name": "acme-org",
            "terraform_workspace_name": workspace,
            "terraform_run_phase": "plan",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        })
    }

    /// [`Self::hcp_claims`] of [`WORKSPACE`] with claim `name` set to `value`.
    pub fn hcp_claims_with(name: &str, value: Json) -> Json {
        let mut claims = Self::hcp_claims(WORKSPACE);
        claims[name] = value;
        claims
    }

    /// A token for `workspace`, signed with RS256.
    pub fn token(&self, workspace: &str) -> String {
        self.sign(Signing::Rs256, &Self::hcp_claims(workspace))
    }

    pub fn sign(&self, signing: Signing, claims: &Json) -> String {
        let (alg, kid) = match signing {
            Signing::Rs256 | Signing::ForeignKey => ("RS256", RSA_KID),
            Signing::Es256 => ("ES256", EC_KID),
            Signing::None => ("none", RSA_KID),
            Signing::HmacWithPublicKey => ("HS256", RSA_KID),
            Signing::UnknownKid => ("RS256", "rsa-unknown"),
        };
        let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
        let message = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = match signing {
            Signing::Rs256 | Signing::UnknownKid => rsa_sign(&self.rsa, &message),
            Signing::ForeignKey => rsa_sign(&self.foreign, &message),
            Signing::Es256 => self
                .ec
                .sign(&SystemRandom::new(), message.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Signing::None => Vec::new(),
            Signing::HmacWithPublicKey => {
                let key = aws_lc_rs::hmac::Key::new(
                    aws_lc_rs::hmac::HMAC_SHA256,
                    self.rsa.public_key().as_ref(),
                );
                aws_lc_rs::hmac::sign(&key, message.as_bytes())
                    .as_ref()
                    .to_vec()
            }
        };
        format!("{message}.{}", b64(&signature))
    }

    /// This suite's emulator configuration (tenants acme and globex, their API keys) plus the
    /// identity provider and virtual account of the issue, written to `dir/emulator.json` with
    /// the JWKS beside it; returns the configuration's path.
    pub fn emulator_config(&self, dir: &Path) -> PathBuf {
        let mut config = config_json();
        config["identity_providers"] = json!([{
            "name": "hcp-terraform", "issuer": ISSUER, "audiences": [AUDIENCE],
            "jwks_file": "hcp-jwks.json", "virtual_account_claim": "terraform_workspace_name",
        }]);
        config["virtual_accounts"] = json!([
            {"name": VIRTUAL_ACCOUNT, "tenant": "acme", "tenant_admin": true,
             "identity_provider": "hcp-terraform", "claim_value": WORKSPACE},
            {"name": OTHER_VIRTUAL_ACCOUNT, "tenant": "acme", "tenant_admin": true,
             "identity_provider": "hcp-terraform", "claim_value": OTHER_WORKSPACE},
        ]);
        std::fs::write(dir.join("hcp-jwks.json"), self.jwks().to_string()).unwrap();
        let path = dir.join("emulator.json");
        std::fs::write(&path, config.to_string()).unwrap();
        path
    }
}

fn rsa_sign(key: &RsaKeyPair, message: &str) -> Vec<u8> {
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .unwrap();
    signature
}

/// The request token GitHub Actions would hand the job.
pub const GITHUB_REQUEST_TOKEN: &str = "gh-request-token-canary-7d1f";

/// A stand-in for GitHub Actions' token endpoint on 127.0.0.1: `GET /token?audience=…` with the
/// request token answers `{"value": <token>}`, the n-th request the n-th of its tokens (the last
/// one again once they run out); it records the audiences it was asked for.
pub struct GitHubTokenEndpoint {
    pub url: String,
    pub audiences: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _server: super::stub::Server,
}

impl GitHubTokenEndpoint {
    pub fn start(tokens: Vec<String>) -> GitHubTokenEndpoint {
        use axum::extract::{Query, State};
        use axum::http::{HeaderMap, StatusCode};

        type Shared = (Vec<String>, std::sync::Arc<std::sync::Mutex<Vec<String>>>);
        async fn answer(
            State((tokens, audiences)): State<Shared>,
            headers: HeaderMap,
            Query(query): Query<std::collections::HashMap<String, String>>,
        ) -> Result<axum::Json<Json>, StatusCode> {
            let expected = format!("Bearer {GITHUB_REQUEST_TOKEN}");
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
                return Err(StatusCode::UNAUTHORIZED);
            }
            let mut audiences = audiences.lock().unwrap();
            let token = &tokens[audiences.len().min(tokens.len() - 1)];
            audiences.push(query.get("audience").cloned().unwrap_or_default());
            Ok(axum::Json(json!({"count": 1, "value": token})))
        }

        let audiences = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/token", axum::routing::get(answer))
            .with_state((tokens, audiences.clone()));
        let server = super::stub::Server::start(app);
        GitHubTokenEndpoint {
            url: format!("{}/token?api-version=2.0", server.base_url),
            audiences,
            _server: server,
        }
    }
}
