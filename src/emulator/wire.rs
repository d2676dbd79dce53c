//! Wire shapes of the secret-group API, written from the reference independently of the client:
//! camelCase objects and top-level request fields, snake_case manifest (but `ownedBy`), `key` on
//! input and `name` on output. Request shapes reject unknown fields so that a client sending a
//! misspelt field gets a 422 instead of a silently ignored value.

use serde::{Deserialize, Serialize};

use super::config::SecretValue;

// ---- requests ----

/// `PUT /v1/secret-groups`. The manifest stays a raw value here: missing fields are reported
/// together (with `details`) before the typed parse.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ManifestPutIn {
    pub manifest: Option<serde_json::Value>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// `POST /v1/secret-groups`, the simple create form (`SecretInput` entries need a value; the
/// emulator reports a missing one like the full-list update does).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateGroupIn {
    pub name: Option<String>,
    pub integration_id: Option<String>,
    pub secrets: Option<Vec<SecretEntryIn>>,
}

/// The stored manifest; also what every group object returns under `manifest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub integration_fqn: String,
    /// Required unless `lenient-manifest` (checked before this typed parse).
    #[serde(default)]
    pub collaborators: Vec<Collaborator>,
    #[serde(rename = "ownedBy", default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<OwnedBy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Collaborator {
    pub subject: String,
    pub role_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OwnedBy {
    pub account: String,
}

/// `PUT /v1/secret-groups/{id}`: the complete desired list of keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretsPutIn {
    pub secrets: Vec<SecretEntryIn>,
}

/// `UpdateSecretInput`: no `value` means "keep the current value".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretEntryIn {
    pub key: String,
    #[serde(default)]
    pub value: Option<SecretValue>,
}

/// `POST /v1/secrets` (a read, despite the verb).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ListSecretsIn {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub secret_fqns: Option<Vec<String>>,
    pub secret_group_id: Option<String>,
    /// Optional fields may arrive as `null` from SDK callers that pass `None` explicitly.
    pub with_value: Option<bool>,
}

// ---- responses ----

#[derive(Serialize)]
pub(crate) struct DataOut<T> {
    pub data: T,
}

#[derive(Serialize)]
pub(crate) struct PageOut<T> {
    pub data: Vec<T>,
    pub pagination: PaginationOut,
}

#[derive(Serialize)]
pub(crate) struct PaginationOut {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpErrorOut {
    pub status_code: u16,
    pub message: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubjectOut {
    pub subject_id: String,
    pub subject_type: String,
    pub subject_slug: String,
}

/// `GET /v1/x/users/info`: the caller's `Session`, sent without an envelope.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionOut {
    pub id: String,
    pub subject_slug: String,
    pub subject_type: String,
    pub tenant_name: String,
    pub roles: Vec<String>,
    /// `SessionTeam` objects (required by the SDK's model, like `accounts`).
    pub teams: Vec<NamedIdOut>,
    pub accounts: Vec<NamedIdOut>,
    pub effective_user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `SessionTeam` and `SessionAccount`: `{name, id}`.
#[derive(Serialize)]
pub(crate) struct NamedIdOut {
    pub name: String,
    pub id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretGroupOut {
    pub id: String,
    pub fqn: String,
    /// Dropped from the current API definition but still sent by the server (not under
    /// `no-group-name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub tenant_name: String,
    pub account_id: String,
    pub integration_id: String,
    pub created_by_subject: SubjectOut,
    pub created_by: String,
    pub associated_secrets: Vec<AssociatedSecretOut>,
    /// The stored manifest; under `lenient-manifest` without `collaborators` when there are none.
    pub manifest: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

/// An entry of `associatedSecrets`: never a value.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AssociatedSecretOut {
    pub id: String,
    pub fqn: String,
    pub name: String,
    pub secret_group_id: String,
    pub created_at: String,
    pub updated_at: String,
    /// Deployments referencing the secret (from the emulator's configuration).
    pub active_deployments_count: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretOut {
    pub id: String,
    pub fqn: String,
    pub name: String,
    pub secret_group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<SecretValue>,
    pub created_by_subject: SubjectOut,
    pub created_at: String,
    pub updated_at: String,
    /// Left out of lists under `no-list-versions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_versions: Option<Vec<SecretVersionOut>>,
    pub active_deployments_count: u32,
}

/// Versions are listed without their values.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretVersionOut {
    pub id: String,
    pub fqn: String,
    pub version: u64,
    pub secret_id: String,
    pub created_at: String,
    pub updated_at: String,
}
