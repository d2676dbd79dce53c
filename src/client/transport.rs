//! One HTTP exchange with the API, retried when that is safe: the only code that sends API requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::base::api_base;
use super::bearer::{Bearer, Credential, RequestedToken, TokenFile};
use super::failure::{self, CallSite, Secrets};
use super::retry;
use super::{ClientConfig, Error, Result, SecretValue};

/// Largest answer read into memory. A page of 1000 secrets with values is far below it; a larger
/// answer is not this API, and reading it whole could exhaust the provider's memory.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One call as the operations describe it; the transport adds host, auth and retries.
pub(super) struct ApiRequest<'a> {
    pub method: Method,
    /// Below the API prefix, e.g. `/v1/secret-groups/sg1` (ids already escaped).
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    /// Serialized once, re-sent as is on every attempt.
    pub body: Option<Vec<u8>>,
    /// Values carried in the body that must never reappear in an error.
    pub sent_values: Vec<&'a str>,
    /// False for a call that must not be repeated once the server may have acted on it.
    pub idempotent: bool,
    /// Sent once whatever the answer: the caller builds a fresh request for any retry. A
    /// `Retry-After` is still waited out before the error returns.
    pub single_attempt: bool,
}

impl<'a> ApiRequest<'a> {
    pub fn new(method: Method, path: String) -> Self {
        ApiRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
            sent_values: Vec::new(),
            idempotent: true,
            single_attempt: false,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// A JSON body; `sent_values` lists the secrets inside it.
    pub fn json(mut self, body: &impl serde::Serialize, sent_values: Vec<&'a str>) -> Result<Self> {
        // Our request structs always serialize; the error text is left out all the same, as
        // serde may quote the data it choked on.
        let bytes = serde_json::to_vec(body).map_err(|_| Error::Decode {
            method: self.method.to_string(),
            path: self.path.clone(),
            message: "could not encode the request body".into(),
        })?;
        self.body = Some(bytes);
        self.sent_values = sent_values;
        Ok(self)
    }
}

/// What one attempt produced.
enum Attempt {
    Answered {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: Vec<u8>,
    },
    Failed {
        connect_failed: bool,
        /// The server's TLS certificate was refused: trying again cannot help.
        certificate_refused: bool,
        message: String,
    },
    /// An answer longer than the body limit; reading stopped there.
    Oversized { status: StatusCode },
}

pub(super) struct Transport {
    http: reqwest::Client,
    base: Url,
    /// Sent with every request; a server text echoing it is withheld.
    bearer: Bearer,
    max_retries: u32,
    request_timeout: Duration,
    attempts_sent: AtomicU64,
    body_limit: usize,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base.as_str())
            .field("max_retries", &self.max_retries)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let base = api_base(&config.host)
            .map_err(|invalid| Error::Config(format!("the host is not usable: {invalid}")))?;
        if config.request_timeout.is_zero() {
            return Err(Error::Config(
                "the request timeout must be longer than zero".into(),
            ));
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(default_headers())
            .user_agent(user_agent(
                &config.terraform_version,
                std::env::var("TF_APPEND_USER_AGENT").ok().as_deref(),
            )?)
            // A redirect would carry the bearer token somewhere the user did not configure.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &config.ca_cert_pem {
            builder = builder.tls_certs_merge(parse_ca_certificates(pem)?);
        }
        let http = builder.build().map_err(|error| {
            Error::Config(format!(
                "could not set up the HTTP client: {}",
                error_chain(&error)
            ))
        })?;
        Ok(Transport {
            http,
            base,
            bearer: Bearer::Fixed(Credential::new(config.api_key)?),
            max_retries: config.max_retries,
            request_timeout: config.request_timeout,
            attempts_sent: AtomicU64::new(0),
            body_limit: BODY_LIMIT,
        })
    }

    /// Sends the token read from `path` (read again whenever the file changes) instead of the
    /// configured one, which is the file's content as the caller first read it.
    pub fn read_token_from(&mut self, path: std::path::PathBuf) {
        if let Bearer::Fixed(first) = &self.bearer {
            self.bearer = Bearer::File(TokenFile::new(path, first.clone()));
        }
    }

    /// Sends the configured token, which GitHub Actions' endpoint gave the caller, and requests
    /// a new one from it shortly before it expires.
    pub fn renew_token_from_github_actions(
        &mut self,
        request_url: Url,
        request_token: SecretValue,
        audience: String,
    ) {
        if let Bearer::Fixed(first) = &self.bearer {
            self.bearer = Bearer::GitHubActions(RequestedToken::new(
                request_url,
                request_token,
                audience,
                self.request_timeout,
                first.clone(),
            ));
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// How often a failed call is tried again.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// HTTP attempts sent so far, retries included.
    pub fn attempts_sent(&self) -> u64 {
        self.attempts_sent.load(Ordering::Relaxed)
    }

    /// Sends the request (with retries) and decodes a success body as `T`.
    pub async fn call<T: DeserializeOwned>(&self, request: &ApiRequest<'_>) -> Result<T> {
        Ok(self.call_sized(request).await?.0)
    }

    /// [`Transport::call`], also saying how many bytes the answer had (listings bound them).
    pub async fn call_sized<T: DeserializeOwned>(
        &self,
        request: &ApiRequest<'_>,
    ) -> Result<(T, usize)> {
        // One token for all attempts of a call, so the echo check knows what was sent.
        let credential = self.bearer.current().await;
        let body = self.exchange(request, &credential).await?;
        let decoded = serde_json::from_slice(&body).map_err(|error| {
            failure::decode_error(
                site(request),
                &body,
                &error,
                &secrets(request, &credential.token),
            )
        })?;
        Ok((decoded, body.len()))
    }

    /// The body of the first success, or the error of the last attempt.
    async fn exchange(&self, request: &ApiRequest<'_>, credential: &Credential) -> Result<Vec<u8>> {
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome = match self.attempt(request, attempt, credential).await {
                Attempt::Answered { status, body, .. } if status.is_success() => return Ok(body),
                other => other,
            };
            let (may_retry, wait_hint) = match &outcome {
                Attempt::Answered { status, .. } if status.is_redirection() => {
                    return Err(redirect_error(request, *status));
                }
                Attempt::Answered {
                    status,
                    retry_after,
                    ..
                } => (
                    retry::may_retry(request.idempotent, Some(status.as_u16()), false),
                    *retry_after,
                ),
                Attempt::Failed {
                    connect_failed,
                    certificate_refused,
                    ..
                } => (
                    !certificate_refused
                        && retry::may_retry(request.idempotent, None, *connect_failed),
                    None,
                ),
                Attempt::Oversized { .. } => (false, None),
            };
            if !may_retry || attempt > self.max_retries {
                return Err(self.final_error(request, outcome, attempt, &credential.token));
            }
            if request.single_attempt {
                // The caller builds the next attempt afresh, after the wait the server asked for.
                if let Some(wait) = wait_hint {
                    tokio::time::sleep(wait).await;
                }
                return Err(self.final_error(request, outcome, attempt, &credential.token));
            }
            let wait = wait_hint.unwrap_or_else(|| retry::backoff(attempt, fastrand::f64()));
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying TrueFoundry API call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One try, bounded by the request timeout, logged without bodies.
    async fn attempt(
        &self,
        request: &ApiRequest<'_>,
        attempt: u32,
        credential: &Credential,
    ) -> Attempt {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{}", self.base.path(), request.path));
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(header::AUTHORIZATION, credential.header.clone());
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        self.attempts_sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        // One deadline for connecting, sending and reading the whole answer.
        let exchange = async {
            let mut response = builder.send().await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| retry::retry_after(value, SystemTime::now()));
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > self.body_limit {
                    return Ok(Attempt::Oversized { status });
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Attempt::Answered {
                status,
                retry_after,
                body,
            })
        };
        let outcome = match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(Ok(answered)) => answered,
            Ok(Err(error)) => Attempt::Failed {
                connect_failed: error.is_connect(),
                certificate_refused: certificate_refused(&error),
                message: transport_message(&error),
            },
            Err(_) => Attempt::Failed {
                connect_failed: false,
                certificate_refused: false,
                message: format!("no complete answer within {:?}", self.request_timeout),
            },
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Attempt::Answered { status, .. } | Attempt::Oversized { status } => tracing::debug!(
                method = %request.method,
                path = %request.path,
                status = status.as_u16(),
                attempt,
                elapsed_ms,
                "TrueFoundry API call"
            ),
            Attempt::Failed { message, .. } => tracing::debug!(
                method = %request.method,
                path = %request.path,
                error = %secrets(request, &credential.token).screen(message),
                attempt,
                elapsed_ms,
                "TrueFoundry API call failed"
            ),
        }
        outcome
    }

    fn final_error(
        &self,
        request: &ApiRequest<'_>,
        outcome: Attempt,
        attempts: u32,
        token: &SecretValue,
    ) -> Error {
        let site = site(request);
        match outcome {
            Attempt::Answered { status, body, .. } => failure::status_error(
                site,
                status.as_u16(),
                attempts,
                &body,
                &secrets(request, token),
            ),
            Attempt::Failed { message, .. } => Error::Transport {
                method: site.method.to_owned(),
                path: site.path.to_owned(),
                attempts,
                message: secrets(request, token).screen(&message),
            },
            Attempt::Oversized { status } => Error::Decode {
                method: site.method.to_owned(),
                path: site.path.to_owned(),
                message: format!(
                    "the answer ({}) is longer than {} bytes",
                    status.as_u16(),
                    self.body_limit
                ),
            },
        }
    }
}

fn redirect_error(request: &ApiRequest<'_>, status: StatusCode) -> Error {
    Error::Decode {
        method: request.method.to_string(),
        path: request.path.clone(),
        message: format!(
            "a redirect ({}); set the host to the control plane's final address",
            status.as_u16()
        ),
    }
}

fn site<'r>(request: &'r ApiRequest<'_>) -> CallSite<'r> {
    CallSite {
        method: request.method.as_str(),
        path: &request.path,
    }
}

/// The values one request carried, and the bearer token it was sent with: what its server
/// text may not repeat.
fn secrets<'r>(request: &ApiRequest<'r>, token: &'r SecretValue) -> Secrets<'r> {
    Secrets::new(request.sent_values.iter().copied(), Some(token.expose()))
}

fn default_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    headers
}

fn user_agent(terraform_version: &str, appended: Option<&str>) -> Result<HeaderValue> {
    let terraform_version = match terraform_version.trim() {
        "" => "unknown",
        version => version,
    };
    let mut agent = format!(
        "Terraform/{terraform_version} (+https://www.terraform.io) terraform-provider-truefoundry/{}",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(extra) = appended.map(str::trim).filter(|extra| !extra.is_empty()) {
        agent.push(' ');
        agent.push_str(extra);
    }
    HeaderValue::from_str(&agent).map_err(|_| {
        Error::Config(
            "the User-Agent cannot be sent: TF_APPEND_USER_AGENT or the Terraform version holds \
             characters not allowed in a header"
                .into(),
        )
    })
}

fn parse_ca_certificates(pem: &str) -> Result<Vec<reqwest::Certificate>> {
    let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|_| {
        Error::Config("the CA certificate is not valid PEM (a garbled base64 block)".into())
    })?;
    if certificates.is_empty() {
        return Err(Error::Config(
            "the CA certificate holds no PEM certificate block (-----BEGIN CERTIFICATE-----)"
                .into(),
        ));
    }
    Ok(certificates)
}

/// A transport failure as one line: its kind and the causes, without the URL (the error names
/// the path already).
fn transport_message(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "could not connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    match std::error::Error::source(error) {
        Some(cause) => format!("{kind}: {}", error_chain(cause)),
        None => kind.to_owned(),
    }
}

/// True when rustls refused the server's certificate somewhere in the error's causes. An
/// `io::Error` hides the error it wraps from `source()` (and may wrap another `io::Error`), so
/// each cause is also unwrapped.
fn certificate_refused(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let mut inner = cause;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            inner = wrapped;
        }
        if matches!(
            inner.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ) {
            return true;
        }
        source = cause.source();
    }
    false
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Escapes an id for use as one path segment, so an id can never change which route is called.
pub(super) fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_terraform_and_the_provider_and_appends_the_extra() {
        let agent = user_agent("1.11.2", Some(" ci-run/7 ")).map(|v| v.to_str().map(str::to_owned));
        let expected = format!(
            "Terraform/1.11.2 (+https://www.terraform.io) terraform-provider-truefoundry/{} ci-run/7",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(agent.ok().and_then(|v| v.ok()), Some(expected));
        assert!(matches!(
            user_agent("1.0.3", Some("bad\nvalue")),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn bad_api_keys_and_ca_certificates_are_config_errors_without_the_key() {
        for key in ["", "line\nbreak"] {
            let error = Credential::new(SecretValue::new(key)).err();
            let text = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                text.starts_with("client configuration: the API key"),
                "{text}"
            );
            assert!(key.is_empty() || !text.contains(key));
        }
        let garbled = "-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n";
        assert!(
            matches!(parse_ca_certificates(garbled), Err(Error::Config(m)) if m.contains("not valid PEM"))
        );
        assert!(
            matches!(parse_ca_certificates("hello"), Err(Error::Config(m)) if m.contains("no PEM certificate"))
        );
    }

    /// A server on 127.0.0.1 answering every request with `status`, counting the requests.
    async fn counting_server(status: u16) -> (String, std::sync::Arc<AtomicU64>) {
        let hits = std::sync::Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async move {
                let status = axum::http::StatusCode::from_u16(status).unwrap_or_default();
                (
                    status,
                    [("retry-after", "0")],
                    r#"{"statusCode":0,"message":"later"}"#,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    fn transport(host: String) -> Transport {
        Transport::new(ClientConfig {
            host,
            api_key: SecretValue::new("key"),
            max_retries: 3,
            request_timeout: Duration::from_secs(5),
            ca_cert_pem: None,
            terraform_version: "1.0.3".into(),
        })
        .expect("transport")
    }

    #[tokio::test]
    async fn a_non_idempotent_call_is_repeated_only_after_a_429() {
        for (status, idempotent, expected_attempts) in
            [(503, false, 1), (503, true, 4), (429, false, 4)]
        {
            let (url, hits) = counting_server(status).await;
            let request = ApiRequest {
                idempotent,
                ..ApiRequest::new(Method::POST, "/v1/anything".into())
            };
            let result = transport(url).call::<serde_json::Value>(&request).await;
            assert!(result.is_err(), "{status} is a failure");
            assert_eq!(
                hits.load(Ordering::Relaxed),
                expected_attempts,
                "{status}, idempotent: {idempotent}"
            );
        }
    }

    #[tokio::test]
    async fn a_single_attempt_request_is_sent_once_whatever_the_answer() {
        for status in [429, 503] {
            let (url, hits) = counting_server(status).await;
            let request = ApiRequest {
                single_attempt: true,
                ..ApiRequest::new(Method::PUT, "/v1/anything".into())
            };
            let result = transport(url).call::<serde_json::Value>(&request).await;
            assert!(result.is_err(), "{status} is a failure");
            assert_eq!(hits.load(Ordering::Relaxed), 1, "{status}");
        }
    }

    #[tokio::test]
    async fn an_answer_over_the_body_limit_is_refused_not_read_whole() {
        let (url, hits) = counting_server(200).await;
        let transport = Transport {
            body_limit: 16,
            ..transport(url)
        };
        let request = ApiRequest::new(Method::GET, "/v1/anything".into());
        let error = transport.call::<serde_json::Value>(&request).await.err();
        let text = error.map(|error| error.to_string()).unwrap_or_default();
        assert_eq!(
            text,
            "GET /v1/anything: unexpected response: the answer (200) is longer than 16 bytes"
        );
        assert_eq!(hits.load(Ordering::Relaxed), 1, "not retried");
    }

    #[test]
    fn ids_are_escaped_as_one_path_segment() {
        assert_eq!(path_segment("sg-1_a.b~"), "sg-1_a.b~");
        assert_eq!(path_segment("../x?y=1#z"), "..%2Fx%3Fy%3D1%23z");
    }
}
