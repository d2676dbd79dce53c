//! The `provider "truefoundry"` block: its schema, and turning it (plus the environment) into a
//! client configuration, with one diagnostic per problem.

use std::net::IpAddr;
use std::time::Duration;

use crate::client::{ClientConfig, SecretValue};
use crate::diag::{AttributePath, Diagnostics};
use crate::schema::{Attribute, Schema};
use crate::value::{Type, Value};

pub const HOST_ENV: &str = "TFY_HOST";
pub const API_KEY_ENV: &str = "TFY_API_KEY";
pub const CA_CERT_ENV: &str = "TFY_CA_CERT";
pub const DEFAULT_MAX_RETRIES: u32 = 5;
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;

pub fn schema() -> Schema {
    Schema::new(
        0,
        "The TrueFoundry provider manages [secret groups](https://docs.truefoundry.com/docs/manage-secrets) \
         of a TrueFoundry control plane: named sets of secrets stored in the secret manager behind an \
         integration (AWS SSM, GCP Secret Manager, Vault, Azure Key Vault).",
        vec![
            Attribute::optional(
                "host",
                Type::String,
                "URL of the TrueFoundry control plane, such as `https://acme.truefoundry.cloud`. The API is \
                 reached under `<host>/api/svc`. Must use `https://`, except for a loopback address (a local \
                 emulator). May also be provided via the `TFY_HOST` environment variable.",
            ),
            Attribute::optional(
                "api_key",
                Type::String,
                "API key (personal access token or virtual account token) used as the bearer token. May also \
                 be provided via the `TFY_API_KEY` environment variable.",
            )
            .sensitive(),
            Attribute::optional(
                "max_retries",
                Type::Number,
                "How many times a request is retried after a rate limit (429), a gateway error (502, 503, 504) \
                 or a connection failure, with jittered exponential backoff honouring `Retry-After`. \
                 Defaults to `5`.",
            ),
            Attribute::optional(
                "request_timeout",
                Type::Number,
                "Timeout of one HTTP request attempt, in seconds. Defaults to `30`.",
            ),
            Attribute::optional(
                "ca_cert_pem",
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
    if let Some(host) = config.get("host").as_str()
        && let Err(problem) = check_host(host)
    {
        diags.error_at(
            AttributePath::root("host"),
            problem.summary(),
            problem.detail(HOST_ENV),
        );
    }
    for name in ["max_retries", "request_timeout"] {
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

/// Resolves the provider configuration: configuration beats environment.
pub fn resolve(
    config: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    terraform_version: &str,
) -> Result<ClientConfig, Diagnostics> {
    let mut diags = validate(config);

    let host = required_setting(config, "host", HOST_ENV, env, &mut diags);
    let api_key = required_setting(config, "api_key", API_KEY_ENV, env, &mut diags);
    if let Some(host) = &host
        && config.get("host").is_null()
        && let Err(problem) = check_host(host)
    {
        diags.error_at(
            AttributePath::root("host"),
            problem.summary(),
            problem.detail(HOST_ENV),
        );
    }
    let ca_cert_pem = match config.get("ca_cert_pem") {
        Value::String(pem) => Some(pem.clone()),
        Value::Unknown => {
            diags.error_at(
                AttributePath::root("ca_cert_pem"),
                "Unknown TrueFoundry CA Certificate",
                unknown_detail("ca_cert_pem", CA_CERT_ENV),
            );
            None
        }
        _ => env(CA_CERT_ENV)
            .filter(|v| !v.is_empty())
            .and_then(|value| {
                ca_from_env(&value)
                    .map_err(|detail| {
                        diags.error_at(
                            AttributePath::root("ca_cert_pem"),
                            "Unreadable CA Certificate",
                            detail,
                        )
                    })
                    .ok()
            }),
    };
    let max_retries = whole_number(config, "max_retries").unwrap_or(DEFAULT_MAX_RETRIES as i64);
    let timeout =
        whole_number(config, "request_timeout").unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS as i64);

    if diags.has_errors() {
        return Err(diags);
    }
    Ok(ClientConfig {
        host: host.unwrap_or_default().trim_end_matches('/').to_owned(),
        api_key: SecretValue::new(api_key.unwrap_or_default()),
        max_retries: max_retries as u32,
        request_timeout: Duration::from_secs(timeout.max(1) as u64),
        ca_cert_pem,
        terraform_version: terraform_version.to_owned(),
    })
}

fn whole_number(config: &Value, name: &str) -> Option<i64> {
    config.get(name).as_number().and_then(|n| n.as_i64())
}

/// A string setting that must end up non-empty, from the configuration or else the environment.
fn required_setting(
    config: &Value,
    name: &str,
    env_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Option<String> {
    let (title, what) = match name {
        "host" => ("Host", "host URL"),
        _ => ("API Key", "API key"),
    };
    match config.get(name) {
        Value::Unknown => {
            diags.error_at(
                AttributePath::root(name),
                format!("Unknown TrueFoundry {title}"),
                unknown_detail(name, env_name),
            );
            None
        }
        Value::String(value) if !value.is_empty() => Some(value.clone()),
        _ => match env(env_name).filter(|value| !value.is_empty()) {
            Some(value) => Some(value),
            None => {
                diags.error_at(
                    AttributePath::root(name),
                    format!("Missing TrueFoundry {title}"),
                    format!(
                        "The provider cannot reach TrueFoundry without a {what}. Set `{name}` in the provider \
                         configuration or the {env_name} environment variable."
                    ),
                );
                None
            }
        },
    }
}

fn unknown_detail(name: &str, env_name: &str) -> String {
    format!(
        "The provider cannot be configured because `{name}` depends on a value that is only known after \
         apply. Set it to a value known at plan time, use the {env_name} environment variable, or apply the \
         resource it comes from first with `-target`."
    )
}

enum HostProblem {
    Malformed(&'static str),
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

/// Accepts `https://host[:port][/path]`, and `http://` only to a loopback host.
fn check_host(host: &str) -> Result<(), HostProblem> {
    let (scheme, rest) = host
        .split_once("://")
        .ok_or(HostProblem::Malformed("it has no scheme"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let hostname = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if hostname.is_empty() || hostname.chars().any(char::is_whitespace) {
        return Err(HostProblem::Malformed("it has no host name"));
    }
    if let Some(port) = authority
        .strip_prefix(&format!("[{hostname}]"))
        .or_else(|| authority.strip_prefix(hostname))
        && let Some(port) = port.strip_prefix(':')
        && port.parse::<u16>().is_err()
    {
        return Err(HostProblem::Malformed("its port is not a number"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback(hostname) => Ok(()),
        "http" => Err(HostProblem::CleartextRemote),
        _ => Err(HostProblem::Malformed("the scheme must be https")),
    }
}

fn is_loopback(hostname: &str) -> bool {
    hostname.eq_ignore_ascii_case("localhost")
        || hostname.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    use std::collections::BTreeMap;

    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut entries: BTreeMap<String, Value> = schema()
            .block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null))
            .collect();
        for (k, v) in pairs {
            entries.insert((*k).to_owned(), v.clone());
        }
        Value::Object(entries)
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
        .unwrap();
        assert_eq!(resolved.host, "https://cfg.example.com");
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
}
