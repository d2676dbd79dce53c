//! Which bearer token the provider sends: an API key, or a workload identity token (a JWT from
//! the organisation's identity provider, which TrueFoundry maps to a virtual account), found in
//! this order:
//!
//! 1. `api_key`, `TFY_API_KEY`;
//! 2. `oidc_token`, `oidc_token_file`, `TFY_OIDC_TOKEN`, `TFY_OIDC_TOKEN_FILE` (one of them);
//! 3. `TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY` (HCP Terraform, audience tagged `TRUEFOUNDRY`);
//! 4. `TFC_WORKLOAD_IDENTITY_TOKEN` (HCP Terraform, untagged audience);
//! 5. with `oidc_audience` set, a token requested from GitHub Actions' endpoint.
//!
//! An API key and an explicit token setting (2) are never combined: that is an error naming
//! both, since the user cannot have meant both. A token is never printed: messages name where it
//! came from and, decoded locally, its issuer, audience and expiry.

use std::path::PathBuf;

use serde_json::Value as Json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::config::attr;
use crate::client::{self, Client, ClientConfig, SecretValue};
use crate::diag::{AttributePath, Diagnostics};
use crate::value::Value;

pub const API_KEY_ENV: &str = "TFY_API_KEY";
pub const OIDC_TOKEN_ENV: &str = "TFY_OIDC_TOKEN";
pub const OIDC_TOKEN_FILE_ENV: &str = "TFY_OIDC_TOKEN_FILE";
pub const OIDC_AUDIENCE_ENV: &str = "TFY_OIDC_AUDIENCE";
pub const HCP_TAGGED_TOKEN_ENV: &str = "TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY";
pub const HCP_TOKEN_ENV: &str = "TFC_WORKLOAD_IDENTITY_TOKEN";
pub const GITHUB_URL_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const GITHUB_REQUEST_TOKEN_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// The credential the configuration and environment name, before any request.
#[derive(Debug)]
pub enum Credentials {
    /// An API key, in `ClientConfig::api_key`.
    ApiKey(SecretValue),
    /// A workload identity token given as text, or read from `file` (read again when it
    /// changes).
    Token {
        token: SecretValue,
        file: Option<PathBuf>,
        source: TokenSource,
    },
    /// To be requested from GitHub Actions' token endpoint at configure time.
    GitHubActions {
        request_url: String,
        request_token: SecretValue,
        audience: String,
    },
}

/// Where a workload identity token came from: what messages name, and the attribute they point
/// at when it was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSource {
    pub described: String,
    pub attribute: Option<&'static str>,
}

impl TokenSource {
    fn attribute(name: &'static str) -> Self {
        TokenSource {
            described: format!("the `{name}` provider setting"),
            attribute: Some(name),
        }
    }

    fn env(name: &str) -> Self {
        TokenSource {
            described: format!("the {name} environment variable"),
            attribute: None,
        }
    }

    fn file(path: &str, named_by: &str, attribute: Option<&'static str>) -> Self {
        TokenSource {
            described: format!("the file {path} (named by {named_by})"),
            attribute,
        }
    }

    pub fn github_actions(audience: &str) -> Self {
        TokenSource {
            described: format!(
                "GitHub Actions' token endpoint ({GITHUB_URL_ENV}, audience {audience:?} from \
                 `oidc_audience` or {OIDC_AUDIENCE_ENV})"
            ),
            attribute: None,
        }
    }

    fn path(&self) -> Option<AttributePath> {
        self.attribute.map(AttributePath::root)
    }
}

/// One string setting as found: its value, and how to name it in a message.
struct Found {
    value: String,
    named: String,
    attribute: Option<&'static str>,
}

/// An attribute, else its environment variable; empty counts as unset. An unknown attribute is
/// an error (its value only exists after apply).
fn lookup(
    config: &Value,
    name: &'static str,
    env_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<Found> {
    match config.get(name) {
        Value::Unknown => {
            diags.error_at(
                AttributePath::root(name),
                format!("Unknown TrueFoundry {}", title(name)),
                super::config::unknown_detail(name, env_name),
            );
            None
        }
        Value::String(value) if !value.is_empty() => Some(Found {
            value: value.clone(),
            named: format!("`{name}`"),
            attribute: Some(name),
        }),
        _ => env(env_name)
            .filter(|value| !value.is_empty())
            .map(|value| Found {
                value,
                named: env_name.to_owned(),
                attribute: None,
            }),
    }
}

fn title(attribute: &str) -> &'static str {
    match attribute {
        attr::API_KEY => "API Key",
        attr::OIDC_TOKEN => "OIDC Token",
        attr::OIDC_TOKEN_FILE => "OIDC Token File",
        _ => "OIDC Audience",
    }
}

fn env_value(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|value| !value.trim().is_empty())
}

/// The credential to use, or `None` with the diagnostics saying why there is none.
pub fn resolve(
    config: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<Credentials> {
    let mut unknown = Diagnostics::new();
    let api_key = lookup(config, attr::API_KEY, API_KEY_ENV, env, &mut unknown);
    let token = lookup(config, attr::OIDC_TOKEN, OIDC_TOKEN_ENV, env, &mut unknown);
    let token_file = lookup(
        config,
        attr::OIDC_TOKEN_FILE,
        OIDC_TOKEN_FILE_ENV,
        env,
        &mut unknown,
    );
    let audience = lookup(
        config,
        attr::OIDC_AUDIENCE,
        OIDC_AUDIENCE_ENV,
        env,
        &mut unknown,
    );
    if unknown.has_errors() {
        diags.extend(unknown);
        return None;
    }
    let explicit = match (token, token_file) {
        (Some(token), Some(file)) => {
            conflict(diags, &token, &file);
            return None;
        }
        (token, file) => token.map(|t| (t, false)).or(file.map(|f| (f, true))),
    };
    match (api_key, explicit) {
        (Some(key), Some((token, _))) => {
            conflict(diags, &token, &key);
            None
        }
        (Some(key), None) => Some(Credentials::ApiKey(SecretValue::new(key.value))),
        (None, Some((token, false))) => Some(Credentials::Token {
            token: SecretValue::new(token.value.trim()),
            file: None,
            source: match token.attribute {
                Some(name) => TokenSource::attribute(name),
                None => TokenSource::env(OIDC_TOKEN_ENV),
            },
        }),
        (None, Some((file, true))) => read_token_file(file, diags),
        (None, None) => implicit(env, audience, diags),
    }
}

/// HCP Terraform's variables, then GitHub Actions' endpoint.
fn implicit(
    env: &dyn Fn(&str) -> Option<String>,
    audience: Option<Found>,
    diags: &mut Diagnostics,
) -> Option<Credentials> {
    for name in [HCP_TAGGED_TOKEN_ENV, HCP_TOKEN_ENV] {
        if let Some(token) = env_value(env, name) {
            return Some(Credentials::Token {
                token: SecretValue::new(token.trim()),
                file: None,
                source: TokenSource::env(name),
            });
        }
    }
    let github = env_value(env, GITHUB_URL_ENV).zip(env_value(env, GITHUB_REQUEST_TOKEN_ENV));
    match (github, audience) {
        (Some((request_url, request_token)), Some(audience)) => Some(Credentials::GitHubActions {
            request_url,
            request_token: SecretValue::new(request_token),
            audience: audience.value,
        }),
        (github, audience) => {
            missing(diags, github.is_some(), audience.is_some());
            None
        }
    }
}

fn read_token_file(file: Found, diags: &mut Diagnostics) -> Option<Credentials> {
    let source = TokenSource::file(&file.value, &file.named, file.attribute);
    match std::fs::read_to_string(&file.value) {
        Ok(text) if !text.trim().is_empty() => Some(Credentials::Token {
            token: SecretValue::new(text.trim()),
            file: Some(PathBuf::from(&file.value)),
            source,
        }),
        outcome => {
            let why = match outcome {
                Err(error) => format!("it cannot be read ({})", error.kind()),
                Ok(_) => "it is empty".to_owned(),
            };
            let detail = format!(
                "The provider was told to read its workload identity token from {}, but {why}. \
                 Check the path, and that the token issuer has written the file before Terraform \
                 runs.",
                source.described
            );
            match source.path() {
                Some(path) => {
                    diags.error_at(path, "Unreadable Workload Identity Token File", detail)
                }
                None => diags.error("Unreadable Workload Identity Token File", detail),
            }
            None
        }
    }
}

fn conflict(diags: &mut Diagnostics, token: &Found, other: &Found) {
    let detail = format!(
        "Both {} and {} are set, and the provider sends one credential. Keep the one you mean \
         and remove the other (from the provider configuration or the environment).",
        other.named, token.named
    );
    let summary = "Conflicting TrueFoundry Credentials";
    match token.attribute.or(other.attribute) {
        Some(name) => diags.error_at(AttributePath::root(name), summary, detail),
        None => diags.error(summary, detail),
    }
}

fn missing(diags: &mut Diagnostics, github_present: bool, audience_set: bool) {
    let github = match (github_present, audience_set) {
        (true, false) => format!(
            " GitHub Actions' token endpoint is available here ({GITHUB_URL_ENV} is set), but \
             `oidc_audience` ({OIDC_AUDIENCE_ENV}) is not: set it to an audience of TrueFoundry's \
             identity provider to use it."
        ),
        (false, true) => format!(
            " `oidc_audience` is set, but {GITHUB_URL_ENV} and {GITHUB_REQUEST_TOKEN_ENV} are \
             not: in GitHub Actions, give the job `permissions: id-token: write`."
        ),
        _ => String::new(),
    };
    diags.error_at(
        AttributePath::root(attr::API_KEY),
        "Missing TrueFoundry API Key",
        format!(
            "The provider cannot reach TrueFoundry without a credential, and found none. It looked \
             at `api_key` and {API_KEY_ENV}; `oidc_token`, `oidc_token_file`, {OIDC_TOKEN_ENV} and \
             {OIDC_TOKEN_FILE_ENV}; HCP Terraform's {HCP_TAGGED_TOKEN_ENV} and {HCP_TOKEN_ENV}; and \
             GitHub Actions' {GITHUB_URL_ENV} with `oidc_audience`. Set `api_key` in the provider \
             configuration or the {API_KEY_ENV} environment variable, or give a workload \
             identity token in one of the other places.{github}"
        ),
    );
}

/// A workload identity token in use: where it came from, and the file to read it again from.
pub struct WorkloadToken {
    pub source: TokenSource,
    renewal: Renewal,
}

/// Where a token in use comes from again when it changes or expires.
enum Renewal {
    None,
    File(PathBuf),
    GitHubActions {
        request_url: url::Url,
        request_token: SecretValue,
        audience: String,
    },
}

/// The client for `config` (whose `api_key` holds the first token), renewing `token` the way
/// its source allows.
pub fn client(config: ClientConfig, token: Option<&WorkloadToken>) -> client::Result<Client> {
    match token.map(|token| &token.renewal) {
        None | Some(Renewal::None) => Client::new(config),
        Some(Renewal::File(path)) => Client::with_token_file(config, path.clone()),
        Some(Renewal::GitHubActions {
            request_url,
            request_token,
            audience,
        }) => Client::with_github_actions_token(
            config,
            request_url.clone(),
            request_token.clone(),
            audience.clone(),
        ),
    }
}

/// Completes the credential before the first API request: requests GitHub Actions' token into
/// `client.api_key`, and refuses a token that has expired. `None` for an API key.
pub async fn prepare(
    credentials: Credentials,
    client: &mut ClientConfig,
) -> Result<Option<WorkloadToken>, Diagnostics> {
    let token = match credentials {
        Credentials::ApiKey(_) => return Ok(None),
        Credentials::Token { file, source, .. } => WorkloadToken {
            source,
            renewal: file.map_or(Renewal::None, Renewal::File),
        },
        Credentials::GitHubActions {
            request_url,
            request_token,
            audience,
        } => {
            let source = TokenSource::github_actions(&audience);
            let (request_url, token) =
                github_actions(&request_url, &request_token, &audience, client, &source).await?;
            client.api_key = token;
            WorkloadToken {
                source,
                renewal: Renewal::GitHubActions {
                    request_url,
                    request_token,
                    audience,
                },
            }
        }
    };
    let mut diags = Diagnostics::new();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    check_not_expired(&client.api_key, &token.source, now, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Some(token))
}

async fn github_actions(
    request_url: &str,
    request_token: &SecretValue,
    audience: &str,
    client: &ClientConfig,
    source: &TokenSource,
) -> Result<(url::Url, SecretValue), Diagnostics> {
    let fail = |why: String| {
        Diagnostics::of_error(
            "Workload Identity Token Unavailable",
            format!(
                "The provider found no API key or token, and requesting one from {} failed: {why}. \
                 Check that the job has `permissions: id-token: write`, or set `api_key` or \
                 `oidc_token` instead.",
                source.described
            ),
        )
    };
    // The request token goes only over TLS, or to this machine.
    let url = url::Url::parse(request_url)
        .ok()
        .filter(|url| url.scheme() == "https" || super::config::is_loopback(url))
        .ok_or_else(|| fail(format!("{GITHUB_URL_ENV} is not an https:// URL")))?;
    let token = client::github_actions_token(&url, request_token, audience, client.request_timeout)
        .await
        .map_err(fail)?;
    Ok((url, token))
}

/// What a JWT says about itself, decoded without checking the signature: for messages only.
#[derive(Default)]
pub struct Claims {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub subject: Option<String>,
}

impl Claims {
    pub fn of(token: &SecretValue) -> Claims {
        let Ok(claims) = jsonwebtoken::dangerous::insecure_decode_claims::<Json>(token.expose())
        else {
            return Claims::default();
        };
        let text = |name: &str| match &claims[name] {
            Json::String(text) => Some(text.clone()),
            Json::Array(items) => Some(
                items
                    .iter()
                    .filter_map(Json::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        };
        Claims {
            issuer: text("iss"),
            audience: text("aud"),
            subject: text("sub"),
        }
    }
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix} (Unix time)"))
}

/// The error for a token whose `exp` has passed, found before any request is sent.
pub fn check_not_expired(
    token: &SecretValue,
    source: &TokenSource,
    now: i64,
    diags: &mut Diagnostics,
) {
    let Some(expires) = client::token_expiry(token).filter(|expires| *expires <= now) else {
        return;
    };
    let detail = format!(
        "The workload identity token from {} expired at {} ({} seconds ago), so TrueFoundry would \
         refuse it; no request was sent. HCP Terraform and GitHub Actions issue a fresh token for \
         every run: run again. For a token file, check that its issuer still rotates it; for \
         `oidc_token` or {OIDC_TOKEN_ENV}, pass a fresh token.",
        source.described,
        rfc3339(expires),
        now - expires
    );
    match source.path() {
        Some(path) => diags.error_at(path, "Workload Identity Token Expired", detail),
        None => diags.error("Workload Identity Token Expired", detail),
    }
}

/// The error for a token the control plane refused (401).
pub fn refused(
    diags: &mut Diagnostics,
    host: &str,
    token: &SecretValue,
    source: &TokenSource,
    err: &client::Error,
) {
    let claims = Claims::of(token);
    let shown = |claim: Option<String>| claim.unwrap_or_else(|| "none".to_owned());
    let detail = format!(
        "The control plane at {host} refused the workload identity token from {} ({err}). The \
         token says: issuer {:?}, audience {:?}, subject {:?}. Check TrueFoundry's identity \
         provider for it: its issuer must be the token's, one of its audiences the token's, its \
         JWKS must hold the key that signed the token; and a virtual account must be mapped to \
         this token's value of the identity provider's claim (for HCP Terraform, usually \
         terraform_workspace_name).",
        source.described,
        shown(claims.issuer),
        shown(claims.audience),
        shown(claims.subject),
    );
    match source.path() {
        Some(path) => diags.error_at(path, "Workload Identity Token Refused", detail),
        None => diags.error("Workload Identity Token Refused", detail),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Value {
        let mut config = super::super::config::schema().null_object();
        for (name, value) in pairs {
            config.set(name, (*value).into());
        }
        config
    }

    /// Which credential wins, described as `kind:source-or-name`, or the diagnostics' summaries.
    fn outcome(config: &Value, env: &[(&str, &str)]) -> Result<String, Vec<String>> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| env.get(name).cloned();
        let mut diags = Diagnostics::new();
        match resolve(config, &lookup, &mut diags) {
            Some(Credentials::ApiKey(key)) => Ok(format!("api_key:{}", key.expose())),
            Some(Credentials::Token { token, source, .. }) => {
                Ok(format!("token:{}:{}", token.expose(), source.described))
            }
            Some(Credentials::GitHubActions { audience, .. }) => Ok(format!("github:{audience}")),
            None => Err(diags.iter().map(|d| d.summary.clone()).collect()),
        }
    }

    #[test]
    fn the_first_place_holding_a_credential_wins() {
        let hcp = [
            (HCP_TAGGED_TOKEN_ENV, "tagged"),
            (HCP_TOKEN_ENV, "untagged"),
            (GITHUB_URL_ENV, "https://gh.example/token?api-version=2.0"),
            (GITHUB_REQUEST_TOKEN_ENV, "request"),
        ];
        let none = config(&[]);
        assert_eq!(
            outcome(&none, &[&[(API_KEY_ENV, "key")][..], &hcp].concat()).unwrap(),
            "api_key:key"
        );
        assert_eq!(
            outcome(&none, &[&[(OIDC_TOKEN_ENV, "explicit")][..], &hcp].concat()).unwrap(),
            "token:explicit:the TFY_OIDC_TOKEN environment variable"
        );
        assert_eq!(
            outcome(&none, &hcp).unwrap(),
            "token:tagged:the TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY environment variable"
        );
        assert_eq!(
            outcome(&none, &hcp[1..]).unwrap(),
            "token:untagged:the TFC_WORKLOAD_IDENTITY_TOKEN environment variable"
        );
        // GitHub Actions only with an audience.
        assert_eq!(
            outcome(&config(&[("oidc_audience", "truefoundry")]), &hcp[2..]).unwrap(),
            "github:truefoundry"
        );
        assert_eq!(
            outcome(
                &none,
                &[&[(OIDC_AUDIENCE_ENV, "tfy")][..], &hcp[2..]].concat()
            )
            .unwrap(),
            "github:tfy"
        );
        assert_eq!(
            outcome(&none, &hcp[2..]).unwrap_err(),
            vec!["Missing TrueFoundry API Key"]
        );
        assert_eq!(
            outcome(&config(&[("oidc_audience", "tfy")]), &hcp[2..3]).unwrap_err(),
            vec!["Missing TrueFoundry API Key"],
            "the endpoint needs its request token too"
        );
        // The attribute beats its variable; empty is unset.
        assert_eq!(
            outcome(
                &config(&[("oidc_token", "attr")]),
                &[(OIDC_TOKEN_ENV, "env"), (API_KEY_ENV, "")]
            )
            .unwrap(),
            "token:attr:the `oidc_token` provider setting"
        );
    }

    #[test]
    fn an_api_key_and_a_token_setting_together_are_an_error_naming_both() {
        for (config, env) in [
            (config(&[("api_key", "k"), ("oidc_token", "t")]), vec![]),
            (
                config(&[("oidc_token_file", "/f")]),
                vec![(API_KEY_ENV, "k")],
            ),
            (config(&[]), vec![(API_KEY_ENV, "k"), (OIDC_TOKEN_ENV, "t")]),
            (
                config(&[("oidc_token", "t"), ("oidc_token_file", "/f")]),
                vec![],
            ),
        ] {
            let mut diags = Diagnostics::new();
            let env: BTreeMap<&str, &str> = env.into_iter().collect();
            let lookup = |name: &str| env.get(name).map(|v| (*v).to_owned());
            assert!(resolve(&config, &lookup, &mut diags).is_none());
            let diag = diags.iter().next().unwrap();
            assert_eq!(diag.summary, "Conflicting TrueFoundry Credentials");
            let named = [
                "`api_key`",
                API_KEY_ENV,
                "`oidc_token`",
                "`oidc_token_file`",
                OIDC_TOKEN_ENV,
            ]
            .iter()
            .filter(|name| diag.detail.contains(*name))
            .count();
            assert_eq!(named, 2, "{}", diag.detail);
        }
    }

    #[test]
    fn no_credential_names_every_place_looked() {
        let mut nothing = Diagnostics::new();
        assert!(resolve(&config(&[]), &|_| None, &mut nothing).is_none());
        let diag_of_nothing = nothing.iter().next().unwrap();
        assert_eq!(diag_of_nothing.path, Some(AttributePath::root("api_key")));
        let mut diags = Diagnostics::new();
        resolve(&config(&[("oidc_audience", "tfy")]), &|_| None, &mut diags);
        let detail = &diags.iter().next().unwrap().detail;
        assert!(detail.contains("permissions: id-token: write"), "{detail}");
        let mut diags = Diagnostics::new();
        let github = |name: &str| {
            (name == GITHUB_URL_ENV || name == GITHUB_REQUEST_TOKEN_ENV).then(|| "x".to_owned())
        };
        resolve(&config(&[]), &github, &mut diags);
        let detail = &diags.iter().next().unwrap().detail;
        assert!(
            detail.contains("but `oidc_audience` (TFY_OIDC_AUDIENCE) is not"),
            "{detail}"
        );
        let diag = diag_of_nothing;
        for place in [
            "`api_key`",
            API_KEY_ENV,
            "`oidc_token`",
            "`oidc_token_file`",
            OIDC_TOKEN_ENV,
            OIDC_TOKEN_FILE_ENV,
            HCP_TAGGED_TOKEN_ENV,
            HCP_TOKEN_ENV,
            GITHUB_URL_ENV,
            "`oidc_audience`",
        ] {
            assert!(diag.detail.contains(place), "{place}: {}", diag.detail);
        }
    }

    #[test]
    fn a_token_file_is_read_and_an_unreadable_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "file-token\n").unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(
            outcome(&config(&[("oidc_token_file", path)]), &[]).unwrap(),
            format!("token:file-token:the file {path} (named by `oidc_token_file`)")
        );
        let mut diags = Diagnostics::new();
        let missing = format!("{path}.missing");
        let env = |name: &str| (name == OIDC_TOKEN_FILE_ENV).then(|| missing.clone());
        assert!(resolve(&config(&[]), &env, &mut diags).is_none());
        let diag = diags.iter().next().unwrap();
        assert_eq!(diag.summary, "Unreadable Workload Identity Token File");
        assert!(diag.detail.contains(&missing) && diag.detail.contains(OIDC_TOKEN_FILE_ENV));
    }

    fn unsigned_jwt(claims: &str) -> SecretValue {
        let part = |text: &str| URL_SAFE_NO_PAD.encode(text);
        SecretValue::new(format!(
            "{}.{}.c2lnbmF0dXJl",
            part(r#"{"alg":"RS256","kid":"k"}"#),
            part(claims)
        ))
    }

    #[test]
    fn an_expired_token_is_named_with_its_source_and_expiry_but_never_shown() {
        let token = unsigned_jwt(r#"{"iss":"https://app.terraform.io","exp":1700000000}"#);
        let source = TokenSource::env(HCP_TOKEN_ENV);
        let mut diags = Diagnostics::new();
        check_not_expired(&token, &source, 1_700_000_000 - 1, &mut diags);
        assert!(!diags.has_errors(), "not expired yet");
        check_not_expired(&token, &source, 1_700_000_090, &mut diags);
        let diag = diags.iter().next().unwrap();
        assert_eq!(diag.summary, "Workload Identity Token Expired");
        assert!(diag.detail.contains(HCP_TOKEN_ENV), "{}", diag.detail);
        assert!(
            diag.detail.contains("2023-11-14T22:13:20Z"),
            "{}",
            diag.detail
        );
        assert!(diag.detail.contains("90 seconds ago"), "{}", diag.detail);
        assert!(!diag.detail.contains("c2lnbmF0dXJl"));
        // Not a JWT, or no `exp`: the server judges it.
        let mut diags = Diagnostics::new();
        check_not_expired(&SecretValue::new("opaque"), &source, 0, &mut diags);
        check_not_expired(&unsigned_jwt("{}"), &source, 0, &mut diags);
        assert!(!diags.has_errors());
    }

    #[tokio::test]
    async fn a_github_endpoint_in_clear_text_to_another_machine_gets_no_request_token() {
        let mut client = ClientConfig {
            host: "https://acme.example".to_owned(),
            api_key: SecretValue::default(),
            max_retries: 0,
            request_timeout: std::time::Duration::from_secs(1),
            ca_cert_pem: None,
            terraform_version: "test".to_owned(),
        };
        let credentials = Credentials::GitHubActions {
            request_url: "http://token.example/token?api-version=2.0".to_owned(),
            request_token: SecretValue::new("request-canary"),
            audience: "truefoundry".to_owned(),
        };
        let diags = prepare(credentials, &mut client).await.err().unwrap();
        let diag = diags.iter().next().unwrap();
        assert_eq!(diag.summary, "Workload Identity Token Unavailable");
        assert!(
            diag.detail.contains("is not an https:// URL"),
            "{}",
            diag.detail
        );
        assert!(!diag.detail.contains("request-canary"));
    }
}
