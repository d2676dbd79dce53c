//! API errors as diagnostics: a summary per kind of failure, and a detail naming the fix.

use crate::client::{Error, SecretUpdate};
use crate::diag::Diagnostics;

pub const HOST_NOT_THE_API: &str = "TrueFoundry Host Is Not The API";
/// How to fix a `host` that reaches something other than the secret-group API.
pub const HOST_FIX: &str = "The answer came from a missing route, a proxy or a web page, not from \
     TrueFoundry's API. Set `host` (or TFY_HOST) to the control plane's URL without a path, such as \
     `https://acme.truefoundry.cloud`: the provider adds `/api/svc` itself.";

/// Diagnostics holding only [`api_error`]'s error: the answer of an early return.
pub fn of_api_error(action: &str, err: &Error) -> Diagnostics {
    let mut diags = Diagnostics::new();
    api_error(&mut diags, action, err);
    diags
}

/// Adds an error diagnostic for `err`, raised while doing `action` ("reading secret group x").
pub fn api_error(diags: &mut Diagnostics, action: &str, err: &Error) {
    let (summary, fix) = match err {
        Error::NotTheApi { .. } => (HOST_NOT_THE_API, HOST_FIX),
        Error::Unauthorized { .. } => (
            "TrueFoundry Authentication Failed",
            "Check the API key (`api_key` in the provider configuration or TFY_API_KEY): it may be \
             mistyped, expired or revoked.",
        ),
        Error::Forbidden { .. } => (
            "Permission Denied",
            "The API key's subject lacks the role this needs: reading values needs \
             `secret-group-editor`, changing collaborators or deleting needs `secret-group-admin`. \
             Ask an admin of the group or tenant for the role.",
        ),
        Error::NotFound { .. } => (
            "Not Found",
            "The object does not exist or is not visible to this API key. Check the name, id or \
             integration FQN, and that the key belongs to the right tenant.",
        ),
        Error::Conflict { .. } => (
            "Conflicting Change",
            "TrueFoundry refused a change that conflicts with the group's current state, such as a \
             new integration for an existing group. Replace the group instead.",
        ),
        Error::Validation { .. } => (
            "Request Rejected By TrueFoundry",
            "Fix the configuration values named in the message and apply again.",
        ),
        Error::DependencyFailed { .. } => (
            "Secret Store Failed",
            "The secret manager behind the group's integration failed. Check the integration's \
             health in TrueFoundry, then apply again.",
        ),
        Error::RateLimited { .. } => (
            "Rate Limited By TrueFoundry",
            "The control plane kept answering 429 after every retry. Apply again later, or raise \
             `max_retries`.",
        ),
        Error::Server { .. } => (
            "TrueFoundry Server Error",
            "The control plane failed after every retry. Apply again later; nothing was lost, since \
             every write is a complete, repeatable request.",
        ),
        Error::Transport { message, .. } if message.contains("certificate") => (
            "TrueFoundry Unreachable",
            "The control plane's TLS certificate was not accepted. If it is signed by a private CA, \
             set `ca_cert_pem` (or TFY_CA_CERT) to that CA's PEM certificate, and check that `host` \
             is a name the certificate was issued for. Certificate verification cannot be turned off.",
        ),
        Error::Transport { .. } => (
            "TrueFoundry Unreachable",
            "Check `host` (or TFY_HOST), the network, and `request_timeout`.",
        ),
        Error::Decode { .. } => (
            "Unexpected TrueFoundry Response",
            "The control plane answered in a shape this provider does not understand. Check that \
             `host` points at a TrueFoundry control plane.",
        ),
        Error::Config(_) => (
            "Invalid Provider Configuration",
            "Fix the provider configuration named in the message.",
        ),
    };
    diags.error(summary, format!("Failed {action}: {err}. {fix}"));
}

/// The keys of a full-list write `body` whose entries a refusal blamed (fields such as
/// `secrets[3].value`), in body order, without repeats.
fn blamed_keys<'a>(err: &Error, body: &'a [SecretUpdate]) -> Vec<&'a str> {
    let details = match err {
        Error::Validation { details, .. } | Error::Conflict { details, .. } => details,
        _ => return Vec::new(),
    };
    let mut indexes: Vec<usize> = details
        .iter()
        .filter_map(|field| {
            let rest = field.strip_prefix("secrets[")?;
            rest[..rest.find(']')?].parse().ok()
        })
        .filter(|index| *index < body.len())
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes.into_iter().map(|i| body[i].key.as_str()).collect()
}

/// Adds the diagnostic for a failed full-list write of `body`. When the API blamed entries
/// (a store refusing a value over its size limit, say), the error names their keys, never a
/// value and never a path into a secrets map; otherwise it is [`api_error`].
pub fn secrets_write_error(
    diags: &mut Diagnostics,
    action: &str,
    err: &Error,
    body: &[SecretUpdate],
) {
    let keys = blamed_keys(err, body);
    if keys.is_empty() {
        return api_error(diags, action, err);
    }
    diags.error(
        "Secret Value Refused By TrueFoundry",
        format!(
            "Failed {action}: TrueFoundry refused the entries of these keys: {}. Its answer was: \
             {err}. Each secret store has its own limits on values (AWS SSM 4 or 8 KB, Azure Key \
             Vault 25 KB, for example): shorten or change the values of these keys, or move the group \
             to a store that takes them, and apply again.",
            keys.join(", ")
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SecretValue;

    #[test]
    fn a_refused_entry_is_named_by_its_key_never_by_its_value() {
        let body: Vec<SecretUpdate> = [("A", None), ("BIG", Some("canary-9d1")), ("C", None)]
            .into_iter()
            .map(|(key, value)| SecretUpdate {
                key: key.into(),
                value: value.map(SecretValue::new),
            })
            .collect();
        let refused = |details: &[&str]| Error::Validation {
            method: "PUT".into(),
            path: "/v1/secret-groups/sg1".into(),
            status: 422,
            message: "secrets[1].value: too long".into(),
            details: details.iter().map(|d| (*d).to_owned()).collect(),
        };
        let mut diags = Diagnostics::new();
        let err = refused(&["secrets[1].value", "secrets[1]", "secrets[9].value"]);
        secrets_write_error(&mut diags, "writing", &err, &body);
        let d = &diags.0[0];
        assert_eq!(d.summary, "Secret Value Refused By TrueFoundry");
        assert!(d.detail.contains("these keys: BIG."), "{}", d.detail);
        assert!(!d.detail.contains("canary") && d.path.is_none(), "{d:?}");

        // Nothing blamed by position: the ordinary error.
        let mut diags = Diagnostics::new();
        secrets_write_error(&mut diags, "writing", &refused(&["name"]), &body);
        assert_eq!(diags.0[0].summary, "Request Rejected By TrueFoundry");
    }

    #[test]
    fn a_certificate_failure_points_at_the_ca_setting() {
        let transport = |message: &str| Error::Transport {
            method: "GET".into(),
            path: "/v1/secret-groups".into(),
            attempts: 1,
            message: message.into(),
        };
        let mut diags = Diagnostics::new();
        api_error(
            &mut diags,
            "reading",
            &transport("could not connect: invalid peer certificate: UnknownIssuer"),
        );
        api_error(
            &mut diags,
            "reading",
            &transport("could not connect: refused"),
        );
        assert_eq!(diags.0[0].summary, "TrueFoundry Unreachable");
        assert!(diags.0[0].detail.contains("`ca_cert_pem` (or TFY_CA_CERT)"));
        assert!(!diags.0[1].detail.contains("ca_cert_pem"));
    }

    #[test]
    fn the_detail_names_the_action_the_failure_and_the_fix() {
        let mut diags = Diagnostics::new();
        let err = Error::Unauthorized {
            method: "GET".into(),
            path: "/api/svc/v1/secret-groups/sg1".into(),
            message: "bad token".into(),
        };
        api_error(&mut diags, "reading secret group sg1", &err);
        let d = &diags.0[0];
        assert_eq!(d.summary, "TrueFoundry Authentication Failed");
        assert!(
            d.detail
                .starts_with("Failed reading secret group sg1: GET /api/svc/v1/secret-groups/sg1")
        );
        assert!(d.detail.contains("TFY_API_KEY"));
    }
}
