//! Wire shapes of the secret-group API (camelCase objects, snake_case manifest).

use serde::{Deserialize, Serialize};

use super::SecretValue;

#[derive(Clone, Debug, Default)]
pub struct ListGroupsQuery {
    pub fqn: Option<String>,
    pub search: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ListSecretsQuery {
    pub secret_group_id: Option<String>,
    pub secret_fqns: Vec<String>,
    pub with_value: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collaborator {
    pub subject: String,
    pub role_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedBy {
    pub account: String,
}

/// What `PUT /v1/secret-groups` takes (snake_case, but `ownedBy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGroupManifest {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub integration_fqn: String,
    /// Optional in the API definition: a stored manifest without it has none.
    #[serde(default)]
    pub collaborators: Vec<Collaborator>,
    #[serde(rename = "ownedBy", skip_serializing_if = "Option::is_none", default)]
    pub owned_by: Option<OwnedBy>,
}

/// One entry of the full-list PUT: no value means "keep the current value".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretUpdate {
    pub key: String,
    pub value: Option<SecretValue>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretGroup {
    pub id: String,
    pub fqn: String,
    /// Not in the current API definition; derive from `fqn` when absent.
    pub name: Option<String>,
    pub tenant_name: String,
    pub integration_id: Option<String>,
    /// The creating subject as `<type>:<slug>`, when the server says.
    pub created_by: Option<String>,
    /// The stored manifest, when the server returns it (collaborators are only visible here).
    pub manifest: Option<SecretGroupManifest>,
    pub associated_secrets: Vec<SecretSummary>,
    /// `createdAt` and `updatedAt` as the server wrote them (ISO-8601), when it says.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// Who an API key is (`GET /v1/x/users/info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `<type>:<slug>`, such as `user:alice@example.com`: the form collaborators use.
    pub subject: String,
    pub tenant_name: Option<String>,
    /// True only when a role says so beyond doubt (see `wire::is_tenant_admin_role`).
    pub tenant_admin: bool,
    /// The roles' names, for messages; not evidence of anything.
    pub roles: Vec<String>,
    pub teams: Vec<String>,
}

impl Session {
    pub fn is_tenant_admin(&self) -> bool {
        self.tenant_admin
    }

    /// Every subject a collaborator entry could name to give this key access: itself and its
    /// teams.
    pub fn subjects(&self) -> Vec<String> {
        std::iter::once(self.subject.clone())
            .chain(self.teams.iter().map(|team| format!("team:{team}")))
            .collect()
    }
}

/// An entry of `associatedSecrets` (never carries a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSummary {
    pub id: String,
    pub fqn: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    pub fqn: String,
    /// The secret's key.
    pub name: String,
    pub secret_group_id: String,
    pub value: Option<SecretValue>,
    /// The highest `secretVersions[].version`, when the server lists versions.
    pub latest_version: Option<i64>,
    /// `activeDeploymentsCount`: how many deployments reference the secret, when the server says.
    pub active_deployments: Option<u64>,
}
