//! TrueFoundry REST client for secret groups and secrets. Knows nothing of Terraform.
//!
//! (Interface fixed; bodies land with the client work.)

mod secret;
mod types;

use std::time::Duration;

pub use secret::SecretValue;
pub use types::*;

/// Everything the client needs to reach one control plane.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://host` (the `/api/svc` prefix is added by the client).
    pub host: String,
    pub api_key: SecretValue,
    pub max_retries: u32,
    pub request_timeout: Duration,
    /// Extra root certificates (PEM) for a private control plane.
    pub ca_cert_pem: Option<String>,
    /// The version Terraform reports in ConfigureProvider, for the User-Agent.
    pub terraform_version: String,
}

/// Errors of one API call. Messages name method, path, status and the server's message; never a
/// request body or a secret value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{method} {path}: not found (404): {message}")]
    NotFound {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: unauthorized (401): {message}")]
    Unauthorized {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: forbidden (403): {message}")]
    Forbidden {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: conflict (409): {message}")]
    Conflict {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: rejected ({status}): {message}")]
    Validation {
        method: String,
        path: String,
        status: u16,
        message: String,
        details: Vec<String>,
    },
    #[error("{method} {path}: the secret store failed (424): {message}")]
    DependencyFailed {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: rate limited (429) after {attempts} attempts")]
    RateLimited {
        method: String,
        path: String,
        attempts: u32,
    },
    #[error("{method} {path}: server error ({status}) after {attempts} attempts: {message}")]
    Server {
        method: String,
        path: String,
        status: u16,
        attempts: u32,
        message: String,
    },
    #[error("{method} {path}: {message} after {attempts} attempts")]
    Transport {
        method: String,
        path: String,
        attempts: u32,
        message: String,
    },
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    #[error("client configuration: {0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// One configured connection to a control plane; cheap to clone (shares its connection pool).
#[derive(Clone, Debug)]
pub struct Client {
    _private: (),
}

impl Client {
    pub fn new(_config: ClientConfig) -> Result<Self> {
        unimplemented!("client")
    }

    /// `GET /v1/secret-groups`, following pages until an empty one.
    pub async fn list_secret_groups(&self, _query: &ListGroupsQuery) -> Result<Vec<SecretGroup>> {
        unimplemented!("client")
    }

    /// The group with this FQN (`tenant:name`), if the caller can see it.
    pub async fn find_secret_group_by_fqn(&self, _fqn: &str) -> Result<Option<SecretGroup>> {
        unimplemented!("client")
    }

    /// `GET /v1/secret-groups/{id}`.
    pub async fn get_secret_group(&self, _id: &str) -> Result<SecretGroup> {
        unimplemented!("client")
    }

    /// `PUT /v1/secret-groups`: create or update by name.
    pub async fn apply_secret_group_manifest(
        &self,
        _manifest: &SecretGroupManifest,
        _dry_run: bool,
    ) -> Result<SecretGroup> {
        unimplemented!("client")
    }

    /// `PUT /v1/secret-groups/{id}`: the complete list of keys.
    pub async fn set_secrets(
        &self,
        _group_id: &str,
        _secrets: &[SecretUpdate],
    ) -> Result<SecretGroup> {
        unimplemented!("client")
    }

    /// `DELETE /v1/secret-groups/{id}`.
    pub async fn delete_secret_group(&self, _id: &str, _force: bool) -> Result<()> {
        unimplemented!("client")
    }

    /// `POST /v1/secrets`, all pages.
    pub async fn list_secrets(&self, _query: &ListSecretsQuery) -> Result<Vec<Secret>> {
        unimplemented!("client")
    }

    /// `GET /v1/secrets/{id}`.
    pub async fn get_secret(&self, _id: &str) -> Result<Secret> {
        unimplemented!("client")
    }

    /// `DELETE /v1/secrets/{id}`; returns how many secrets were deleted.
    pub async fn delete_secret(&self, _id: &str, _force: bool) -> Result<u64> {
        unimplemented!("client")
    }
}
