//! GitHub Actions' OIDC token endpoint: a job with `permissions: id-token: write` gets
//! `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, and a GET of that URL
//! with an `audience` parameter, authorised by the request token, answers `{"value": "<JWT>"}`.

use std::time::Duration;

use reqwest::header;
use serde::Deserialize;
use url::Url;

use super::SecretValue;

#[derive(Deserialize)]
struct TokenAnswer {
    value: String,
}

/// Requests a token for `audience`. The error says what failed, never either token.
pub async fn github_actions_token(
    request_url: &Url,
    request_token: &SecretValue,
    audience: &str,
    timeout: Duration,
) -> Result<SecretValue, String> {
    let mut url = request_url.clone();
    url.query_pairs_mut().append_pair("audience", audience);
    let http = reqwest::Client::builder()
        // The request token must not follow a redirect elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|_| "the HTTP client could not be set up".to_owned())?;
    let mut authorization =
        header::HeaderValue::from_str(&format!("Bearer {}", request_token.expose().trim()))
            .map_err(|_| "the request token cannot be sent in a header".to_owned())?;
    authorization.set_sensitive(true);
    let response = http
        .get(url)
        .header(header::AUTHORIZATION, authorization)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| {
            if error.is_timeout() {
                format!("no answer within {timeout:?}")
            } else {
                "the endpoint could not be reached".to_owned()
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the endpoint answered {}", status.as_u16()));
    }
    let answer: TokenAnswer = response
        .json()
        .await
        .map_err(|_| "the answer holds no token (`value`)".to_owned())?;
    match answer.value.trim() {
        "" => Err("the answer holds an empty token".to_owned()),
        token => Ok(SecretValue::new(token)),
    }
}
