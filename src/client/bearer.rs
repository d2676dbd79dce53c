//! The bearer token every request carries: fixed (an API key, or a workload identity token given
//! as text); read from a file and read again whenever the file changes, since Kubernetes and
//! other token issuers rotate projected token files while a long apply runs; or requested from
//! GitHub Actions' endpoint again shortly before it expires (its tokens live minutes).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use url::Url;

use super::github_actions::github_actions_token;
use super::secret::SecretValue;
use super::{Error, Result};

/// A requested token is renewed when it has less than this left.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// A token and the `Authorization` header that sends it.
#[derive(Clone)]
pub(super) struct Credential {
    pub token: SecretValue,
    pub header: HeaderValue,
}

impl Credential {
    pub fn new(token: SecretValue) -> Result<Self> {
        if token.expose().trim().is_empty() {
            return Err(Error::Config("the API key is empty".into()));
        }
        let mut header =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::Config(
                    "the API key contains characters that cannot be sent in a header".into(),
                )
            })?;
        // Keeps the header out of reqwest's own Debug output.
        header.set_sensitive(true);
        Ok(Credential { token, header })
    }
}

pub(super) enum Bearer {
    Fixed(Credential),
    File(TokenFile),
    GitHubActions(RequestedToken),
}

impl Bearer {
    /// The credential to send now: for a file, its content as of this call; for a requested
    /// token, a new one when the last is about to expire.
    pub async fn current(&self) -> Credential {
        match self {
            Bearer::Fixed(credential) => credential.clone(),
            Bearer::File(file) => file.current(),
            Bearer::GitHubActions(requested) => requested.current().await,
        }
    }
}

/// The `exp` of a JWT, read without checking its signature; `None` for any other token.
pub fn token_expiry(token: &SecretValue) -> Option<i64> {
    let claims =
        jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token.expose())
            .ok()?;
    claims["exp"].as_i64()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Where GitHub Actions hands out tokens, and the one last received.
pub(super) struct RequestedToken {
    pub request_url: Url,
    pub request_token: SecretValue,
    pub audience: String,
    pub timeout: Duration,
    last: tokio::sync::Mutex<Credential>,
}

impl RequestedToken {
    pub fn new(
        request_url: Url,
        request_token: SecretValue,
        audience: String,
        timeout: Duration,
        first: Credential,
    ) -> Self {
        RequestedToken {
            request_url,
            request_token,
            audience,
            timeout,
            last: tokio::sync::Mutex::new(first),
        }
    }

    /// The last token, or a new one when it expires within [`RENEW_BEFORE_EXPIRY`]. A failed
    /// renewal keeps the last token: the server then says whether it still takes it.
    async fn current(&self) -> Credential {
        let mut last = self.last.lock().await;
        let expiring = token_expiry(&last.token)
            .is_some_and(|expiry| expiry - unix_now() < RENEW_BEFORE_EXPIRY.as_secs() as i64);
        if expiring {
            let renewed = github_actions_token(
                &self.request_url,
                &self.request_token,
                &self.audience,
                self.timeout,
            )
            .await;
            match renewed.map(Credential::new) {
                Ok(Ok(credential)) => {
                    tracing::debug!("requested a new token from GitHub Actions' endpoint");
                    *last = credential;
                }
                Ok(Err(_)) | Err(_) => tracing::debug!(
                    "renewing the token from GitHub Actions' endpoint failed; keeping the last one"
                ),
            }
        }
        last.clone()
    }
}

/// What tells one version of a file from the next without reading it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    // Follows symbolic links: Kubernetes swaps a `..data` link to rotate the file.
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&metadata),
    })
}

pub(super) struct TokenFile {
    path: PathBuf,
    last: Mutex<(Option<Stamp>, Credential)>,
}

impl TokenFile {
    /// `first` is the token the file held when it was first read (by the caller, who needed it).
    pub fn new(path: PathBuf, first: Credential) -> Self {
        let stamp = stamp(&path);
        TokenFile {
            path,
            last: Mutex::new((stamp, first)),
        }
    }

    /// The file's token if it changed since the last read and is usable; otherwise the last one.
    /// A file caught mid-rotation (missing, empty, unreadable) keeps the previous token rather
    /// than failing the request: the server judges it, and says so if it has expired.
    fn current(&self) -> Credential {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = stamp(&self.path);
        if now.is_some() && now != last.0 {
            let read = std::fs::read_to_string(&self.path)
                .ok()
                .and_then(|text| Credential::new(SecretValue::new(text.trim())).ok());
            match read {
                Some(credential) => {
                    tracing::debug!(path = %self.path.display(), "read the changed token file");
                    *last = (now, credential);
                }
                None => tracing::debug!(
                    path = %self.path.display(),
                    "the token file changed but holds no usable token; keeping the last one"
                ),
            }
        }
        last.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(credential: &Credential) -> String {
        credential.token.expose().to_owned()
    }

    #[test]
    fn a_token_file_is_read_again_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let file = TokenFile::new(
            path.clone(),
            Credential::new(SecretValue::new("first")).unwrap(),
        );
        assert_eq!(token(&file.current()), "first");
        // A new file under the same name, as a rotation writes it.
        std::fs::write(dir.path().join("next"), "second-token").unwrap();
        std::fs::rename(dir.path().join("next"), &path).unwrap();
        assert_eq!(token(&file.current()), "second-token");
        // Mid-rotation: gone, then empty. The last good token stays.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(token(&file.current()), "second-token");
        std::fs::write(&path, "  \n").unwrap();
        assert_eq!(token(&file.current()), "second-token");
        std::fs::write(dir.path().join("next"), "third").unwrap();
        std::fs::rename(dir.path().join("next"), &path).unwrap();
        assert_eq!(token(&file.current()), "third");
        assert!(file.current().header.is_sensitive());
    }
}
