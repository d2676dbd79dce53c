//! TrueFoundry REST client for secret groups and secrets. Knows nothing of Terraform.
//!
//! Layout: `transport` sends one call (auth, timeouts, retries, logging), `failure` turns a failed
//! call into an [`Error`] that is safe to print (`echo` finds a secret the server repeated, in
//! any encoding), `retry` holds the backoff rules, `wire` the JSON shapes. This file maps each
//! operation onto its route.
//!
//! Choices where the API reference is silent or unsure:
//! - `dryRun` is always sent with a manifest; `forceDelete` only when true (older control planes
//!   do not know it).
//! - A group's name is its `name` field, else the FQN after the tenant, else the manifest's name.
//! - Status classes: 400 and any other unlisted 4xx are `Validation`; 3xx is not followed (the
//!   bearer token stays with the configured host) and is reported as `Decode`.
//! - Lists page by what each page held, stopping at an empty page or at `total`, and fail rather
//!   than loop when a server returns the same page twice, an id twice, or pages past the
//!   `LIST_MAX_*` bounds.
//! - `Retry-After` is honoured up to 30 seconds; without it the backoff is 200 ms doubling to 5 s.

mod base;
mod bearer;
mod echo;
mod failure;
mod github_actions;
mod retry;
#[cfg(test)]
mod sdk_schema_tests;
mod secret;
mod transport;
mod types;
mod wire;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;

use transport::{ApiRequest, Transport};
use wire::{
    Envelope, ListSecretsRequest, ManifestRequest, Page, SecretInput, SetSecretsRequest,
    WireSecret, WireSecretGroup, WireSession,
};

pub use base::{InvalidHost, api_base};
pub use bearer::token_expiry;
pub use github_actions::github_actions_token;
pub use secret::SecretValue;
pub use types::*;

/// Everything the client needs to reach one control plane.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://host` (the `/api/svc` prefix is added by the client), read by [`api_base`].
    pub host: String,
    /// The bearer token: an API key, or a workload identity token (a JWT).
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
        /// The fields the server blamed, by name.
        details: Vec<String>,
    },
    /// A 404 without the API's error body: a route that does not exist, an HTML page, a proxy.
    /// It says nothing about the object asked for.
    #[error("{method} {path}: not an answer of the TrueFoundry API (404): {message}")]
    NotTheApi {
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
        /// The fields the server blamed, by name.
        details: Vec<String>,
    },
    #[error("{method} {path}: conflict (409): {message}")]
    Conflict {
        method: String,
        path: String,
        message: String,
        /// The fields the server blamed, by name.
        details: Vec<String>,
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

/// Items asked for per page: the largest page the API allows, so a group of up to 1000 keys is
/// read in one request.
const PAGE_SIZE: u64 = 1000;

/// Bounds on one listing, whatever `total` a server announces: a pager that never ends must
/// end in an error, not in the runner's memory. DECISION: far above the largest tenant we can
/// imagine (100,000 groups, or keys in a group); pages are bounded apart from items so a server
/// that pages one item at a time still reaches the item bound, and bytes so that large items
/// cannot hold more than this much answer text.
const LIST_MAX_ITEMS: usize = 100_000;
const LIST_MAX_PAGES: usize = 10_000;
const LIST_MAX_BYTES: usize = 128 * 1024 * 1024;

const GROUPS_PATH: &str = "/v1/secret-groups";
const SECRETS_PATH: &str = "/v1/secrets";
const SESSION_PATH: &str = "/v1/x/users/info";

/// One configured connection to a control plane; cheap to clone (shares its connection pool).
#[derive(Clone, Debug)]
pub struct Client {
    transport: Arc<Transport>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        Ok(Client {
            transport: Arc::new(Transport::new(config)?),
        })
    }

    /// A client whose bearer token is the content of the file at `path`, read again whenever the
    /// file changes; `config.api_key` is the content the caller read first.
    pub fn with_token_file(config: ClientConfig, path: std::path::PathBuf) -> Result<Self> {
        let mut transport = Transport::new(config)?;
        transport.read_token_from(path);
        Ok(Client {
            transport: Arc::new(transport),
        })
    }

    /// A client whose bearer token came from GitHub Actions' endpoint (`config.api_key`), and
    /// is requested from it again shortly before it expires, so a long apply keeps working.
    pub fn with_github_actions_token(
        config: ClientConfig,
        request_url: reqwest::Url,
        request_token: SecretValue,
        audience: String,
    ) -> Result<Self> {
        let mut transport = Transport::new(config)?;
        transport.renew_token_from_github_actions(request_url, request_token, audience);
        Ok(Client {
            transport: Arc::new(transport),
        })
    }

    /// The base URL every request goes below (`<host>/api/svc`): where the API key is sent.
    pub fn base_url(&self) -> &reqwest::Url {
        self.transport.base()
    }

    /// HTTP requests sent through this client and its clones so far, retries included.
    pub fn request_count(&self) -> u64 {
        self.transport.attempts_sent()
    }

    /// `GET /v1/x/users/info`: who the API key is.
    pub async fn session(&self) -> Result<Session> {
        let request = ApiRequest::new(Method::GET, SESSION_PATH.to_owned());
        let session: WireSession = self.transport.call(&request).await?;
        Ok(session.into())
    }

    /// One page of one group from `GET /v1/secret-groups`: whether the secret-group API answers
    /// at this host at all, whatever the caller may see.
    pub async fn probe_secret_groups(&self) -> Result<()> {
        let request = ApiRequest::new(Method::GET, GROUPS_PATH.to_owned()).query("limit", 1);
        let _: Page<WireSecretGroup> = self.transport.call(&request).await?;
        Ok(())
    }

    /// `GET /v1/secret-groups`, following pages until an empty one.
    pub async fn list_secret_groups(&self, query: &ListGroupsQuery) -> Result<Vec<SecretGroup>> {
        let page_request = |offset: u64| {
            let mut request = ApiRequest::new(Method::GET, GROUPS_PATH.to_owned());
            if let Some(fqn) = &query.fqn {
                request = request.query("fqn", fqn);
            }
            if let Some(search) = &query.search {
                request = request.query("search", search);
            }
            Ok(request.query("limit", PAGE_SIZE).query("offset", offset))
        };
        let groups = self
            .collect_pages::<WireSecretGroup, SecretGroup>(page_request, |group| &group.id)
            .await?;
        for group in &groups {
            check_group_keys(&Method::GET, GROUPS_PATH, group)?;
        }
        Ok(groups)
    }

    /// The group with this FQN (`tenant:name`), if the caller can see it.
    pub async fn find_secret_group_by_fqn(&self, fqn: &str) -> Result<Option<SecretGroup>> {
        let request = ApiRequest::new(Method::GET, GROUPS_PATH.to_owned())
            .query("fqn", fqn)
            .query("limit", 1);
        let page: Page<WireSecretGroup> = self.transport.call(&request).await?;
        // A server that ignored the filter must not make another group pass for this one.
        Ok(page
            .data
            .into_iter()
            .map(SecretGroup::from)
            .find(|group| group.fqn == fqn))
    }

    /// `GET /v1/secret-groups/{id}`.
    pub async fn get_secret_group(&self, id: &str) -> Result<SecretGroup> {
        let request = ApiRequest::new(Method::GET, object_path(&Method::GET, GROUPS_PATH, id)?);
        let envelope: Envelope<WireSecretGroup> = self.transport.call(&request).await?;
        let group = envelope.data.into();
        check_group_keys(&request.method, &request.path, &group)?;
        Ok(group)
    }

    /// `PUT /v1/secret-groups`: create or update by name.
    pub async fn apply_secret_group_manifest(
        &self,
        manifest: &SecretGroupManifest,
        dry_run: bool,
    ) -> Result<SecretGroup> {
        let body = ManifestRequest { manifest, dry_run };
        let request =
            ApiRequest::new(Method::PUT, GROUPS_PATH.to_owned()).json(&body, Vec::new())?;
        let envelope: Envelope<WireSecretGroup> = self.transport.call(&request).await?;
        Ok(envelope.data.into())
    }

    /// `PUT /v1/secret-groups/{id}`: the complete list of keys.
    pub async fn set_secrets(
        &self,
        group_id: &str,
        secrets: &[SecretUpdate],
    ) -> Result<SecretGroup> {
        self.put_secrets(group_id, secrets, false).await
    }

    async fn put_secrets(
        &self,
        group_id: &str,
        secrets: &[SecretUpdate],
        single_attempt: bool,
    ) -> Result<SecretGroup> {
        let body = SetSecretsRequest {
            secrets: secrets.iter().map(SecretInput::from).collect(),
        };
        let sent_values = secrets
            .iter()
            .filter_map(|secret| secret.value.as_ref().map(SecretValue::expose))
            .collect();
        let mut request = ApiRequest::new(
            Method::PUT,
            object_path(&Method::PUT, GROUPS_PATH, group_id)?,
        )
        .json(&body, sent_values)?;
        request.single_attempt = single_attempt;
        let envelope: Envelope<WireSecretGroup> = self.transport.call(&request).await?;
        Ok(envelope.data.into())
    }

    /// [`Client::set_secrets`] sent once, whatever the answer: for a list built from a listing,
    /// which a retry must take again (a retry of the same list would delete the keys others
    /// added meanwhile).
    pub async fn set_secrets_once(
        &self,
        group_id: &str,
        secrets: &[SecretUpdate],
    ) -> Result<SecretGroup> {
        self.put_secrets(group_id, secrets, true).await
    }

    /// How often this client tries a failed call again (`max_retries`).
    pub fn max_retries(&self) -> u32 {
        self.transport.max_retries()
    }

    /// The wait before retry number `retry` (from 1) of a call: the client's own backoff.
    pub fn retry_wait(retry: u32) -> std::time::Duration {
        retry::backoff(retry, fastrand::f64())
    }

    /// Whether a failed call may succeed when tried again later, built afresh: rate limits,
    /// gateway and server errors, and requests that got no answer.
    pub fn is_transient(error: &Error) -> bool {
        matches!(
            error,
            Error::RateLimited { .. } | Error::Server { .. } | Error::Transport { .. }
        )
    }

    /// `DELETE /v1/secret-groups/{id}`.
    pub async fn delete_secret_group(&self, id: &str, force: bool) -> Result<()> {
        let request = delete_request(GROUPS_PATH, id, force)?;
        // The answer is an object without declared fields; anything else is not this API.
        let answer: serde_json::Map<String, serde_json::Value> =
            self.transport.call(&request).await?;
        // A gateway's error body with status 200 is not a deletion: taking it for one would
        // drop a group that still exists from Terraform's state.
        if answer.contains_key("statusCode") {
            return Err(Error::Decode {
                method: request.method.to_string(),
                path: request.path.clone(),
                message: "an error body with status 200; the group may still exist".into(),
            });
        }
        Ok(())
    }

    /// `POST /v1/secrets`, all pages.
    pub async fn list_secrets(&self, query: &ListSecretsQuery) -> Result<Vec<Secret>> {
        let page_request = |offset: u64| {
            let body = ListSecretsRequest {
                secret_group_id: query.secret_group_id.as_deref(),
                secret_fqns: &query.secret_fqns,
                with_value: query.with_value,
                limit: PAGE_SIZE,
                offset,
            };
            // A read despite the POST: repeating it is harmless.
            ApiRequest::new(Method::POST, SECRETS_PATH.to_owned()).json(&body, Vec::new())
        };
        let secrets = self
            .collect_pages::<WireSecret, Secret>(page_request, |secret| &secret.id)
            .await?;
        check_secret_listing(query, &secrets).map_err(|message| Error::Decode {
            method: Method::POST.to_string(),
            path: SECRETS_PATH.to_owned(),
            message,
        })?;
        Ok(secrets)
    }

    /// `GET /v1/secrets/{id}`.
    pub async fn get_secret(&self, id: &str) -> Result<Secret> {
        let request = ApiRequest::new(Method::GET, object_path(&Method::GET, SECRETS_PATH, id)?);
        let envelope: Envelope<WireSecret> = self.transport.call(&request).await?;
        Ok(envelope.data.into())
    }

    /// `DELETE /v1/secrets/{id}`; returns how many secrets were deleted.
    pub async fn delete_secret(&self, id: &str, force: bool) -> Result<u64> {
        let request = delete_request(SECRETS_PATH, id, force)?;
        // A bare JSON number; the SDKs type it as a float, so `1.0` is accepted too.
        let count: serde_json::Number = self.transport.call(&request).await?;
        count
            .as_u64()
            .or_else(|| {
                count
                    .as_f64()
                    .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                    .map(|n| n as u64)
            })
            .ok_or_else(|| Error::Decode {
                method: request.method.to_string(),
                path: request.path.clone(),
                message: "the deleted count is not a whole non-negative number".into(),
            })
    }

    /// Walks an offset-paged list. Stops at an empty page (the SDKs' rule) or once `total` items
    /// are in hand, and advances by what each page held, so a server that caps `limit` lower
    /// than asked still pages correctly. Fails past the `LIST_MAX_*` bounds, when an id comes
    /// twice, and when the server returns the same page twice.
    async fn collect_pages<W, T>(
        &self,
        page_request: impl Fn(u64) -> Result<ApiRequest<'static>>,
        id_of: fn(&T) -> &str,
    ) -> Result<Vec<T>>
    where
        W: DeserializeOwned,
        T: From<W>,
    {
        let mut items: Vec<T> = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        let mut offset = 0;
        let mut pages = 0;
        let mut bytes = 0;
        let mut previous_first_id: Option<String> = None;
        loop {
            let request = page_request(offset)?;
            let (page, size): (Page<W>, usize) = self.transport.call_sized(&request).await?;
            pages += 1;
            bytes += size;
            let total = page.pagination.and_then(|pagination| pagination.total());
            let page_items: Vec<T> = page.data.into_iter().map(T::from).collect();
            let Some(first) = page_items.first() else {
                break;
            };
            let broken = |message: String| Error::Decode {
                method: request.method.to_string(),
                path: request.path.clone(),
                message,
            };
            // A server that ignores `offset` would otherwise be paged forever.
            let first_id = id_of(first).to_owned();
            if previous_first_id.as_deref() == Some(first_id.as_str()) {
                return Err(broken(
                    "the same page came back twice; the server seems to ignore `offset`".into(),
                ));
            }
            previous_first_id = Some(first_id);
            for item in &page_items {
                if !ids.insert(id_of(item).to_owned()) {
                    return Err(broken(format!(
                        "the listing holds the id `{}` twice (a server fault, or the list \
                         changed while it was read: try again); nothing was decided from it",
                        id_of(item)
                    )));
                }
            }
            offset += page_items.len() as u64;
            items.extend(page_items);
            if items.len() > LIST_MAX_ITEMS || pages >= LIST_MAX_PAGES || bytes > LIST_MAX_BYTES {
                let announced = total.map_or(String::new(), |total| {
                    format!(" (the server announced {total} in all)")
                });
                return Err(broken(format!(
                    "the listing does not end: {pages} pages, {} items and {bytes} bytes were \
                     read{announced}, past this provider's bounds of {LIST_MAX_PAGES} pages, \
                     {LIST_MAX_ITEMS} items and {LIST_MAX_BYTES} bytes. Reading stopped there; \
                     check that `host` points at a TrueFoundry control plane",
                    items.len()
                )));
            }
            if total.is_some_and(|total| offset >= total) {
                break;
            }
        }
        Ok(items)
    }
}

/// A group read lists each of its keys once; one listed twice is not read as either.
fn check_group_keys(method: &Method, path: &str, group: &SecretGroup) -> Result<()> {
    let mut keys = HashSet::new();
    match group
        .associated_secrets
        .iter()
        .find(|secret| !keys.insert(secret.name.as_str()))
    {
        None => Ok(()),
        Some(twice) => Err(Error::Decode {
            method: method.to_string(),
            path: path.to_owned(),
            message: format!(
                "the secret group `{}` lists the key `{}` twice, which the API never does; \
                 nothing was decided from it",
                group.id, twice.name
            ),
        }),
    }
}

/// The API's rules for a listing of secrets that callers build on: a group's listing holds only
/// that group's secrets, and no key twice in a group. Picking one of two entries for a key would
/// plan an update (or keep the wrong value) on the server's say-so.
fn check_secret_listing(
    query: &ListSecretsQuery,
    secrets: &[Secret],
) -> std::result::Result<(), String> {
    let mut keys: HashSet<(&str, &str)> = HashSet::new();
    for secret in secrets {
        if let Some(group) = query.secret_group_id.as_deref()
            && !secret.secret_group_id.is_empty()
            && secret.secret_group_id != group
        {
            return Err(format!(
                "the listing of the secret group `{group}` holds the secret `{}` (key `{}`) of \
                 another group, `{}`; nothing was decided from it",
                secret.id, secret.name, secret.secret_group_id
            ));
        }
        // A listing by FQNs from a server that names no group has nothing to compare keys in.
        let Some(group) = query
            .secret_group_id
            .as_deref()
            .or(Some(secret.secret_group_id.as_str()))
            .filter(|group| !group.is_empty())
        else {
            continue;
        };
        if !keys.insert((group, &secret.name)) {
            return Err(format!(
                "the listing holds the key `{}` of the secret group `{group}` twice, which the \
                 API never does; nothing was decided from it",
                secret.name
            ));
        }
    }
    Ok(())
}

/// `{collection}/{id}` with the id escaped; ids that cannot name one object are refused here,
/// since `.` and `..` would be folded into another route by URL normalisation.
fn object_path(method: &Method, collection: &str, id: &str) -> Result<String> {
    if matches!(id, "" | "." | "..") {
        return Err(Error::NotFound {
            method: method.to_string(),
            path: format!("{collection}/{id}"),
            message: "this id names no object, so no request was sent".into(),
            details: Vec::new(),
        });
    }
    Ok(format!("{collection}/{}", transport::path_segment(id)))
}

fn delete_request(collection: &str, id: &str, force: bool) -> Result<ApiRequest<'static>> {
    let request = ApiRequest::new(
        Method::DELETE,
        object_path(&Method::DELETE, collection, id)?,
    );
    // Sent only when wanted: older control planes do not know the parameter.
    Ok(if force {
        request.query("forceDelete", true)
    } else {
        request
    })
}
