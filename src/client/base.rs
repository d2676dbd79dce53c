//! The API's base URL, decided once from what the user wrote as the host. The transport sends
//! every request below it, and the provider's plain-http guard judges the same URL, so the two
//! can never disagree on which machine receives the API key.

use url::{ParseError, Url};

/// The API lives under this prefix of the control-plane host.
const API_PREFIX: &str = "/api/svc";

/// Why a host cannot be the base of the API, phrased to follow "the host must be a URL such as
/// `https://acme.truefoundry.cloud`".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHost {
    #[error("it must start with `https://`")]
    Scheme,
    #[error("it has no host name")]
    NoHostName,
    #[error("its port is not a number")]
    Port,
    #[error("it must not hold a user name or password")]
    UserInfo,
    #[error("it must not have a query or fragment")]
    QueryOrFragment,
    /// Any other reason the URL parser gave, such as "invalid IPv6 address".
    #[error("{0}")]
    Unparsable(String),
}

/// `host` + the API prefix, from what a user may write: with or without a trailing `/`, and
/// tolerating a pasted API server URL that already ends in the prefix. Only `https` and `http`
/// are accepted; userinfo is refused, as it would replace the API key with Basic credentials.
pub fn api_base(host: &str) -> Result<Url, InvalidHost> {
    let trimmed = host.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(API_PREFIX).unwrap_or(trimmed);
    let mut url = Url::parse(trimmed).map_err(|error| match error {
        ParseError::RelativeUrlWithoutBase => InvalidHost::Scheme,
        ParseError::EmptyHost => InvalidHost::NoHostName,
        ParseError::InvalidPort => InvalidHost::Port,
        other => InvalidHost::Unparsable(other.to_string()),
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(InvalidHost::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(InvalidHost::NoHostName);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InvalidHost::UserInfo);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(InvalidHost::QueryOrFragment);
    }
    let path = format!("{}{API_PREFIX}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_is_the_host_plus_the_prefix() {
        for (host, base) in [
            (
                "https://acme.truefoundry.cloud",
                "https://acme.truefoundry.cloud/api/svc",
            ),
            ("https://acme.example/", "https://acme.example/api/svc"),
            (
                "https://acme.example/api/svc/",
                "https://acme.example/api/svc",
            ),
            (
                "http://127.0.0.1:8787/tfy",
                "http://127.0.0.1:8787/tfy/api/svc",
            ),
            // A backslash ends the authority, as in browsers: the host is example-host.
            (
                "HTTP://example-host:18935\\@127.0.0.1",
                "http://example-host:18935/@127.0.0.1/api/svc",
            ),
        ] {
            let url = api_base(host).map(|url| url.to_string());
            assert_eq!(url.as_deref(), Ok(base), "{host}");
        }
        for (bad, why) in [
            ("acme.example", InvalidHost::Scheme),
            ("ftp://acme.example", InvalidHost::Scheme),
            ("", InvalidHost::Scheme),
            ("https://", InvalidHost::NoHostName),
            ("https://acme.example:port", InvalidHost::Port),
            ("https://user:pw@acme.example", InvalidHost::UserInfo),
            ("http://user@127.0.0.1", InvalidHost::UserInfo),
            ("https://acme.example/?a=b", InvalidHost::QueryOrFragment),
            ("https://acme.example/#top", InvalidHost::QueryOrFragment),
        ] {
            assert_eq!(api_base(bad), Err(why), "{bad}");
        }
        assert!(matches!(
            api_base("https://[::1"),
            Err(InvalidHost::Unparsable(_))
        ));
    }
}
