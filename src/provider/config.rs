//! The `provider "truefoundry"` block: its schema, and turning it (plus the environment) into a
//! client configuration, with one diagnostic per problem.

use std::time::Duration;

use url::{Host, Url};

use super::credentials::{self, Credentials};
use crate::client::{ClientConfig, InvalidHost, SecretValue, api_base};
use crate::diag::{AttributePath, Diagnostics};
use crate::schema::{Attribute, Schema};
use crate::value::{Type, Value};

pub const HOST_ENV: &str = "TFY_HOST";
pub use super::credentials::API_KEY_ENV;
pub const CA_CERT_ENV: &str = "TFY_CA_CERT";
pub const DEFAULT_MAX_RETRIES: u32 = 5;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;

/// The provider block's attribute names, for its schema and every reader of it.
pub mod attr {
    pub const HOST: &str = "host";
    pub const API_KEY: &str = "api_key";
    pub const OIDC_TOKEN: &str = "oidc_token";
    pub const OIDC_TOKEN_FILE: &str = "oidc_token_file";
    pub const OIDC_AUDIENCE: &str = "oidc_audience";
    pub const MAX_RETRIES: &str = "max_retries";
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    pub const CA_CERT_PEM: &str = "ca_cert_pem";

    /// Every attribute, in schema order.
    pub const ALL: [&str; 8] = [
        HOST,
        API_KEY,
        OIDC_TOKEN,
        OIDC_TOKEN_FILE,
        OIDC_AUDIENCE,
        MAX_RETRIES,
        REQUEST_TIMEOUT,
        CA_CERT_PEM,
    ];
}

pub fn schema() -> Schema {
    Schema::new(
        0,
        "The TrueFoundry provider manages [secret groups](https://docs.truefoundry.com/docs/manage-secrets) \
         of a TrueFoundry control plane: named sets of secrets stored in the secret manager behind an \
         integration (AWS SSM, GCP Secret Manager, Vault, Azure Key Vault).",
        vec![
            Attribute::optional(
                attr::HOST,
                Type::String,
                "URL of the TrueFoundry control plane, such as `https://acme.truefoundry.cloud`. The API is \
                 reached under `<host>/api/svc`. Must use `https://`, except for a loopback address (a local \
                 emulator). May also be provided via the `TFY_HOST` environment variable.",
            ),
            Attribute::optional(
                attr::API_KEY,
                Type::String,
                "API key (personal access token or virtual account token) used as the bearer token. May also \
                 be provided via the `TFY_API_KEY` environment variable. Without one, the provider uses a \
                 workload identity token: `oidc_token`, `oidc_token_file`, HCP Terraform's \
                 `TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY` or `TFC_WORKLOAD_IDENTITY_TOKEN`, or GitHub \
                 Actions' token (see `oidc_audience`), in that order.",
            )
            .sensitive(),
            Attribute::optional(
                attr::OIDC_TOKEN,
                Type::String,
                "A workload identity token (a JWT from your identity provider) to send instead of an API \
                 key; TrueFoundry checks it against an identity provider and acts as the virtual account \
                 mapped to it. May also be provided via the `TFY_OIDC_TOKEN` environment variable. \
                 Conflicts with an API key and with `oidc_token_file`.",
            )
            .sensitive(),
            Attribute::optional(
                attr::OIDC_TOKEN_FILE,
                Type::String,
                "Path of a file holding a workload identity token, such as a Kubernetes projected \
                 service-account token; read again whenever it changes, so a rotated token is picked up \
                 during a long apply. May also be provided via the `TFY_OIDC_TOKEN_FILE` environment \
                 variable. Conflicts with an API key and with `oidc_token`.",
            ),
            Attribute::optional(
                attr::OIDC_AUDIENCE,
                Type::String,
                "Audience to request a token for, from token endpoints that take one: in GitHub Actions \
                 (with `permissions: id-token: write`), the provider requests a token for this audience \
                 when no API key or other token is set. May also be provided via the `TFY_OIDC_AUDIENCE` \
                 environment variable.",
            ),
            Attribute::optional(
                attr::MAX_RETRIES,
                Type::Number,
                "How many times a request is retried after a rate limit (429), a gateway error (502, 503, 504) \
                 or a connection failure, with jittered exponential backoff honouring `Retry-After`. \
                 Defaults to `5`.",
            ),
            Attribute::optional(
                attr::REQUEST_TIMEOUT,
                Type::Number,
                "Timeout of one HTTP request attempt, in seconds. Defaults to `30`.",
            ),
            Attribute::optional(
                attr::CA_CERT_PEM,
                Type::String,
                "PEM-encoded CA certificates trusted in addition to the system roots, for a control plane \
                 behind a private CA. May also be provided via the `TFY_CA_CERT` environment variable \
                 (PEM text, or the path of a PEM file). TLS verification cannot be turned off.",
            ),
        ],
    )
}

/// Checks what can be checked before values are known (validate time).
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(host) = config.get(attr::HOST).as_str()
        && let Err(problem) = check_host(host)
    {
        diags.error_at(
            AttributePath::root(attr::HOST),
            problem.summary(),
            problem.detail(HOST_ENV),
        );
    }
    for name in [attr::MAX_RETRIES, attr::REQUEST_TIMEOUT] {
        if let Some(number) = config.get(name).as_number()
            && !number.as_i64().is_some_and(|n| (0..=3600).contains(&n))
        {
            diags.error_at(
                AttributePath::root(name),
                "Invalid Provider Setting",
                format!("`{name}` must be a whole number from 0 to 3600."),
            );
        }
    }
    diags
}

/// The resolved provider configuration: the client's settings, and the credential it sends (in
/// `client.api_key`, except for a token still to be requested from GitHub Actions).
#[derive(Debug)]
pub struct Settings {
    pub client: ClientConfig,
    pub credentials: Credentials,
}

/// Resolves the provider configuration: configuration beats environment.
pub fn resolve(
    config: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    terraform_version: &str,
) -> Result<Settings, Diagnostics> {
    let mut diags = validate(config);

    let host = host_setting(config, env, &mut diags);
    let credentials = credentials::resolve(config, env, &mut diags);
    if let Some(host) = &host
        && config.get(attr::HOST).is_null()
        && let Err(problem) = check_host(host)
    {
        diags.error_at(
            AttributePath::root(attr::HOST),
            problem.summary(),
            problem.detail(HOST_ENV),
        );
    }
    let ca_cert_pem = match config.get(attr::CA_CERT_PEM) {
        Value::String(pem) => Some(pem.clone()),
        Value::Unknown => {
            diags.error_at(
                AttributePath::root(attr::CA_CERT_PEM),
                "Unknown TrueFoundry CA Certificate",
                unknown_detail(attr::CA_CERT_PEM, CA_CERT_ENV),
            );
            None
        }
        _ => env(CA_CERT_ENV)
            .filter(|v| !v.is_empty())
            .and_then(|value| {
                ca_from_env(&value)
                    .map_err(|detail| {
                        diags.error_at(
                            AttributePath::root(attr::CA_CERT_PEM),
                            "Unreadable CA Certificate",
                            detail,
                        )
                    })
                    .ok()
            }),
    };
    let max_retries = whole_number(config, attr::MAX_RETRIES).unwrap_or(DEFAULT_MAX_RETRIES as i64);
    let timeout =
        whole_number(config, attr::REQUEST_TIMEOUT).unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS as i64);

    let (Some(host), Some(credentials), false) = (host, credentials, diags.has_errors()) else {
        return Err(diags);
    };
    let api_key = match &credentials {
        Credentials::ApiKey(key) => key.clone(),
        Credentials::Token { token, .. } => token.clone(),
        Credentials::GitHubActions { .. } => SecretValue::default(),
    };
    Ok(Settings {
        client: ClientConfig {
            // As checked: the client reads it with the same `api_base`.
            host,
            api_key,
            max_retries: max_retries as u32,
            request_timeout: Duration::from_secs(timeout.max(1) as u64),
            ca_cert_pem,
            terraform_version: terraform_version.to_owned(),
        },
        credentials,
    })
}

fn whole_number(config: &Value, name: &str) -> Option<i64> {
    config.get(name).as_number().and_then(|n| n.as_i64())
}

/// The host, from the configuration or else the environment; it must end up non-empty.
fn host_setting(
    config: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<String> {
    match config.get(attr::HOST) {
        Value::Unknown => {
            diags.error_at(
                AttributePath::root(attr::HOST),
                "Unknown TrueFoundry Host",
                unknown_detail(attr::HOST, HOST_ENV),
            );
            None
        }
        Value::String(value) if !value.is_empty() => Some(value.clone()),
        _ => match env(HOST_ENV).filter(|value| !value.is_empty()) {
            Some(value) => Some(value),
            None => {
                diags.error_at(
                    AttributePath::root(attr::HOST),
                    "Missing TrueFoundry Host",
                    format!(
                        "The provider cannot reach TrueFoundry without a host URL. Set `host` in the provider \
                         configuration or the {HOST_ENV} environment variable."
                    ),
                );
                None
            }
        },
    }
}

pub(super) fn unknown_detail(name: &str, env_name: &str) -> String {
    format!(
        "The provider cannot be configured because `{name}` depends on a value that is only known after \
         apply. Set it to a value known at plan time, use the {env_name} environment variable, or apply the \
         resource it comes from first with `-target`."
    )
}

enum HostProblem {
    Malformed(InvalidHost),
    CleartextRemote,
}

impl HostProblem {
    fn summary(&self) -> &'static str {
        match self {
            HostProblem::Malformed(_) => "Invalid TrueFoundry Host",
            HostProblem::CleartextRemote => "Insecure TrueFoundry Host",
        }
    }

    fn detail(&self, env_name: &str) -> String {
        match self {
            HostProblem::Malformed(why) => format!(
                "The host must be a URL such as `https://acme.truefoundry.cloud` ({why}). Fix `host` in the \
                 provider configuration or the {env_name} environment variable."
            ),
            HostProblem::CleartextRemote => format!(
                "The host uses `http://` to a machine other than this one, which would send the API key in \
                 clear text. Use `https://`; plain `http://` is accepted only for loopback addresses such as \
                 a local emulator. Fix `host` in the provider configuration or the {env_name} environment \
                 variable."
            ),
        }
    }
}

/// Accepts `https://host[:port][/path]`, and `http://` only to a loopback host. It judges the
/// URL the client will call: the client's own reading of `host` ([`api_base`]), not a second one.
fn check_host(host: &str) -> Result<Url, HostProblem> {
    let base = api_base(host).map_err(HostProblem::Malformed)?;
    if base.scheme() == "https" || is_loopback(&base) {
        Ok(base)
    } else {
        Err(HostProblem::CleartextRemote)
    }
}

pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // The parser has lowercased the name already.
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

fn ca_from_env(value: &str) -> Result<String, String> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(value.to_owned());
    }
    std::fs::read_to_string(value).map_err(|e| {
        format!(
            "The {CA_CERT_ENV} environment variable is neither PEM text nor a readable file ({}). Set it \
             to the PEM certificates, or to the path of a PEM file.",
            e.kind()
        )
    })
}

#[cfg(test)]
mod tests {

    use proptest::prelude::*;

    use super::*;
    use crate::client::Client;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(&schema(), &attr::ALL);
    }

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut config = schema().null_object();
        for (name, value) in pairs {
            config.set(name, value.clone());
        }
        config
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn summaries(diags: &Diagnostics) -> Vec<(String, String)> {
        diags
            .iter()
            .map(|d| {
                (
                    d.summary.clone(),
                    d.path.as_ref().map(ToString::to_string).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn configuration_beats_environment() {
        let env = |name: &str| match name {
            HOST_ENV => Some("https://env.example.com".to_owned()),
            API_KEY_ENV => Some("env-key".to_owned()),
            _ => None,
        };
        let resolved = resolve(
            &config(&[("host", "https://cfg.example.com/".into())]),
            &env,
            "1.0.3",
        )
        .unwrap()
        .client;
        assert_eq!(
            resolved.host, "https://cfg.example.com/",
            "passed on as checked"
        );
        let client = Client::new(resolved.clone()).unwrap();
        assert_eq!(
            client.base_url().as_str(),
            "https://cfg.example.com/api/svc"
        );
        assert_eq!(resolved.api_key.expose(), "env-key");
        assert_eq!(resolved.max_retries, DEFAULT_MAX_RETRIES);
        assert_eq!(resolved.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn missing_settings_name_the_attribute_and_the_variable() {
        let diags = resolve(&config(&[]), &no_env, "1.0.3").unwrap_err();
        let all: Vec<_> = diags.iter().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].summary, "Missing TrueFoundry API Key");
        assert_eq!(all[1].path, Some(AttributePath::root("api_key")));
        assert!(all[1].detail.contains("`api_key`") && all[1].detail.contains("TFY_API_KEY"));
        assert!(all[0].detail.contains("TFY_HOST"));
    }

    #[test]
    fn unknown_settings_are_told_apart_from_missing_ones() {
        let diags = resolve(
            &config(&[
                ("host", "https://a.example.com".into()),
                ("api_key", Value::Unknown),
            ]),
            &no_env,
            "1.0.3",
        )
        .unwrap_err();
        assert_eq!(
            summaries(&diags),
            vec![(
                "Unknown TrueFoundry API Key".to_owned(),
                "api_key".to_owned()
            )]
        );
        assert!(diags.0[0].detail.contains("TFY_API_KEY"));
    }

    #[test]
    fn cleartext_is_refused_except_to_loopback() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://localhost:1",
            "http://[::1]:80",
            "https://a.b/c",
        ] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        let diags = resolve(
            &config(&[
                ("host", "http://acme.example.com".into()),
                ("api_key", "k".into()),
            ]),
            &no_env,
            "1.0.3",
        )
        .unwrap_err();
        assert_eq!(
            summaries(&diags),
            vec![("Insecure TrueFoundry Host".to_owned(), "host".to_owned())]
        );
        assert!(diags.0[0].detail.contains("TFY_HOST"));
    }

    #[test]
    fn malformed_hosts_are_refused() {
        for bad in [
            "acme.example.com",
            "https://",
            "ftp://a.b",
            "https://a.b:port",
            "https://a b",
        ] {
            assert!(
                matches!(check_host(bad), Err(HostProblem::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn insecure_host_from_the_environment_is_refused_too() {
        let env = |name: &str| (name == HOST_ENV).then(|| "http://10.1.2.3".to_owned());
        let diags = resolve(&config(&[("api_key", "k".into())]), &env, "1.0.3").unwrap_err();
        assert_eq!(diags.0[0].summary, "Insecure TrueFoundry Host");
    }

    #[test]
    fn a_backslash_cannot_hide_the_host_the_client_calls() {
        for sneaky in [
            "http://example-host:18935\\@127.0.0.1",
            "http://example-host\\@localhost:8787",
            "HTTP://example-host\\\\@[::1]/",
            "http://example-host\\127.0.0.1",
        ] {
            let diags = resolve(
                &config(&[("host", sneaky.into()), ("api_key", "k".into())]),
                &no_env,
                "1.0.3",
            )
            .expect_err(sneaky);
            assert_eq!(
                summaries(&diags),
                vec![("Insecure TrueFoundry Host".to_owned(), "host".to_owned())],
                "{sneaky}"
            );
            assert!(diags.0[0].detail.contains("TFY_HOST"), "{sneaky}");
            let env = |name: &str| (name == HOST_ENV).then(|| sneaky.to_owned());
            let diags =
                resolve(&config(&[("api_key", "k".into())]), &env, "1.0.3").expect_err(sneaky);
            assert_eq!(diags.0[0].summary, "Insecure TrueFoundry Host", "{sneaky}");
        }
    }

    /// A client for `host` as the provider would build it, whatever the guard says.
    fn client_for(host: &str) -> Option<Client> {
        Client::new(ClientConfig {
            host: host.to_owned(),
            api_key: SecretValue::new("k"),
            max_retries: 0,
            request_timeout: Duration::from_secs(1),
            ca_cert_pem: None,
            terraform_version: "1.0.3".into(),
        })
        .ok()
    }

    /// Read off the URL the client will call, independently of the guard: `localhost`, or a
    /// loopback address as the URL parser writes it (dotted IPv4, compressed IPv6).
    fn stays_on_this_machine(url: &Url) -> bool {
        match url.host_str() {
            Some("localhost" | "[::1]") => true,
            Some(host) => host.starts_with("127.") && host.parse::<std::net::Ipv4Addr>().is_ok(),
            None => false,
        }
    }

    /// Host strings mixing what URL parsers read differently: `<scheme><separator><host><port>
    /// <delimiter><host><port><free text><end>`, where the delimiter may be a backslash, `@`
    /// (userinfo), a percent-encoding of either, or a path, query or fragment start; hosts are
    /// names, IPv4 in odd forms, IPv6 in brackets, some with case or whitespace.
    fn host_strings() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![
            4 => Just("http"),
            2 => Just("https"),
            2 => prop::sample::select(vec!["HTTP", "hTtPs", " http", "\thttps", "ftp", "file", ""]),
        ];
        let separator = prop_oneof![
            4 => Just("://"),
            1 => prop::sample::select(vec![":\\\\", ":/\\", "://\\", ":", ":/", "", ":///"]),
        ];
        let host = prop::sample::select(vec![
            "127.0.0.1",
            "localhost",
            "LocalHost",
            "local\thost",
            "[::1]",
            "[0:0::1]",
            "0x7f.1",
            "2130706433",
            "%31%32%37.0.0.1",
            "example-host",
            "localhost.",
            "10.1.2.3",
            "[::ffff:127.0.0.1]",
            "[fe80::1%25lo]",
            "user:pw",
            "127.0.0.1.example",
            "",
        ]);
        let port = prop::sample::select(vec!["", "", ":8787", ":18935", ":port", ":"]);
        let delimiter = prop::sample::select(vec![
            "@", "\\@", "\\", "\\\\@", "/@", "%40", "%5C@", "#@", "?@", ":@", "@@", "/", "",
        ]);
        let free = prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(vec![
                    "@", "\\", "/", "[", "]", "?q=1", "#f", "%2F", "/api/svc", " ", "\t", "\n",
                    "\u{0}", "\u{3002}", "ä", ".",
                ])
                .prop_map(str::to_owned),
                1 => "\\PC{0,8}",
            ],
            0..3,
        );
        let end = prop::sample::select(vec!["", "", "/", " ", "\n"]);
        let authority = (host, port);
        (
            scheme,
            separator,
            authority.clone(),
            delimiter,
            authority,
            free,
            end,
        )
            .prop_map(
                |(
                    scheme,
                    separator,
                    (left, left_port),
                    delimiter,
                    (right, right_port),
                    free,
                    end,
                )| {
                    format!(
                        "{scheme}{separator}{left}{left_port}{delimiter}{right}{right_port}{}{end}",
                        free.concat()
                    )
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Whatever the host, from the configuration or from TFY_HOST: the guard accepts it only
        /// if the client calls https or a loopback host; when it accepts, the client is built
        /// and calls exactly the URL the guard judged; when it refuses as insecure, the client would have sent the
        /// key in clear text to another machine; when it refuses as invalid, no client exists.
        #[test]
        fn the_guard_judges_the_host_the_client_calls(host in host_strings()) {
            let unguarded = client_for(&host);
            let from_env = |name: &str| (name == HOST_ENV).then(|| host.clone());
            let configured = [
                resolve(&config(&[("host", host.as_str().into()), ("api_key", "k".into())]), &no_env, "1.0.3"),
                resolve(&config(&[("api_key", "k".into())]), &from_env, "1.0.3"),
            ];
            for resolved in configured {
                match resolved {
                    Ok(resolved) => {
                        let client = Client::new(resolved.client);
                        prop_assert!(client.is_ok(), "accepted but no client: {host:?}");
                        let destination = client.as_ref().map(Client::base_url).ok();
                        let destination = destination.cloned().unwrap_or_else(|| unreachable!());
                        prop_assert!(
                            destination.scheme() == "https" || stays_on_this_machine(&destination),
                            "accepted {host:?}, but the client calls {destination}"
                        );
                        let judged = check_host(&host).ok();
                        prop_assert_eq!(judged.as_ref(), Some(&destination));
                        prop_assert_eq!(
                            unguarded.as_ref().map(|client| client.base_url().clone()),
                            Some(destination)
                        );
                    }
                    Err(diags) if host.is_empty() => {
                        prop_assert!(diags.iter().any(|d| d.summary == "Missing TrueFoundry Host"));
                    }
                    Err(diags) => {
                        prop_assert_eq!(diags.0.len(), 1, "{:?}", summaries(&diags));
                        let diag = &diags.0[0];
                        prop_assert_eq!(diag.path.as_ref(), Some(&AttributePath::root("host")));
                        prop_assert!(diag.detail.contains("`host`") && diag.detail.contains(HOST_ENV));
                        match diag.summary.as_str() {
                            "Insecure TrueFoundry Host" => {
                                let destination = unguarded.as_ref().map(Client::base_url);
                                prop_assert!(
                                    destination.is_some_and(|url| url.scheme() == "http" && !stays_on_this_machine(url)),
                                    "refused {host:?} as insecure, but the client would call {destination:?}"
                                );
                            }
                            "Invalid TrueFoundry Host" => prop_assert!(
                                unguarded.is_none(),
                                "refused {host:?} as invalid, but the client would call {:?}",
                                unguarded.as_ref().map(Client::base_url)
                            ),
                            other => prop_assert!(false, "{other}"),
                        }
                    }
                }
            }
        }
    }
}
