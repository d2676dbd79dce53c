//! Bearer tokens that are JWTs of a configured identity provider, checked as TrueFoundry's
//! "Identity Providers" do: the signature with the JWKS key the header's `kid` names (RS256 or
//! ES256 only, so neither `alg: none` nor an HMAC "signed" with a public key passes), the
//! issuer, one of the audiences, `exp` and `nbf` with a small leeway; then the configured claim's
//! value picks the virtual account the token acts as.
//!
//! Every refusal is a 401 whose message says why, naming claims and key ids but never the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::config::{EmulatorConfig, IdentityProviderConfig, VirtualAccountConfig};
use super::error::ApiError;

/// Clock difference tolerated on `exp` and `nbf`, in seconds.
pub(crate) const CLOCK_LEEWAY_SECS: u64 = 30;

/// The algorithms identity providers sign with here; everything else is refused by name.
const ACCEPTED: [(&str, Algorithm); 2] = [("RS256", Algorithm::RS256), ("ES256", Algorithm::ES256)];

/// Whether `token` has a JWT's shape (three dot-separated parts), so it is judged as one rather
/// than as an unknown API key.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The virtual account `token` acts as, or the 401 saying why it acts as none.
pub(crate) fn virtual_account<'c>(
    config: &'c EmulatorConfig,
    token: &str,
) -> Result<&'c VirtualAccountConfig, ApiError> {
    let header = segment_json(token, 0).ok_or_else(|| refused("it is not a well-formed JWT"))?;
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Some((_, alg)) = ACCEPTED.iter().find(|(name, _)| *name == alg_name) else {
        return Err(refused(&format!(
            "its algorithm {alg_name:?} is not accepted (RS256 or ES256)"
        )));
    };
    let claims = segment_json(token, 1).ok_or_else(|| refused("it is not a well-formed JWT"))?;
    let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let provider = config
        .identity_providers
        .iter()
        .find(|provider| provider.issuer == issuer)
        .ok_or_else(|| refused(&format!("no identity provider has the issuer {issuer:?}")))?;
    let kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
    let key = signing_key(provider, kid, alg_name)?;
    let claims = verified_claims(provider, token, &key, *alg)?;
    let claim = &provider.virtual_account_claim;
    let value = claims
        .get(claim)
        .and_then(Value::as_str)
        .ok_or_else(|| refused(&format!("it has no string claim {claim:?}")))?;
    config
        .virtual_accounts
        .iter()
        .find(|account| account.identity_provider == provider.name && account.claim_value == value)
        .ok_or_else(|| {
            refused(&format!(
                "no virtual account of identity provider {:?} is mapped to {claim} = {value:?}",
                provider.name
            ))
        })
}

fn signing_key(
    provider: &IdentityProviderConfig,
    kid: &str,
    alg_name: &str,
) -> Result<DecodingKey, ApiError> {
    let jwk = provider.jwks.find(kid).ok_or_else(|| {
        refused(&format!(
            "the JWKS of identity provider {:?} has no key with kid {kid:?}",
            provider.name
        ))
    })?;
    if let Some(key_alg) = &jwk.common.key_algorithm
        && key_alg.to_string() != alg_name
    {
        return Err(refused(&format!(
            "key {kid:?} is for {key_alg}, not {alg_name}"
        )));
    }
    DecodingKey::from_jwk(jwk)
        .map_err(|_| refused(&format!("key {kid:?} of the JWKS is not usable")))
}

fn verified_claims(
    provider: &IdentityProviderConfig,
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
) -> Result<Value, ApiError> {
    let mut validation = Validation::new(alg);
    validation.leeway = CLOCK_LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&provider.issuer]);
    validation.set_audience(&provider.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    match jsonwebtoken::decode::<Value>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => Err(refused(&match error.kind() {
            ErrorKind::InvalidSignature => "its signature does not verify".to_owned(),
            ErrorKind::ExpiredSignature => "it has expired".to_owned(),
            ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".to_owned(),
            ErrorKind::InvalidAudience => format!(
                "its audience is none of identity provider {:?}'s ({})",
                provider.name,
                provider.audiences.join(", ")
            ),
            ErrorKind::InvalidIssuer => "its issuer does not match".to_owned(),
            ErrorKind::MissingRequiredClaim(claim) => format!("it has no {claim} claim"),
            ErrorKind::InvalidClaimFormat(claim) => format!("its {claim} claim is malformed"),
            ErrorKind::InvalidAlgorithm => "its algorithm does not fit the key".to_owned(),
            _ => "it is not a well-formed JWT".to_owned(),
        })),
    }
}

/// Part `index` of a JWT (header 0, claims 1), decoded as a JSON object; `None` when the token
/// has not three parts or that part is no base64url-encoded object.
fn segment_json(token: &str, index: usize) -> Option<Value> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(parts[index]).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

fn refused(why: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        format!("workload identity token refused: {why}"),
    )
}
