//! Serde shapes of the JSON bodies, kept apart from the public types so that the public side does
//! not have to follow the API's casing or its optional-everything schema.
//!
//! None of these types derives `Debug`: some carry secret values, and a body must never be printed.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;

use super::{
    Secret, SecretGroup, SecretGroupManifest, SecretSummary, SecretUpdate, SecretValue, Session,
};

/// The value of a `type` field that marks a secret-group manifest.
const MANIFEST_KIND: &str = "secret-group";

/// `{"data": …}`, the envelope of every single-object response.
#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    pub data: T,
}

/// `{"data": [...], "pagination": {...}}`, one page of a list response.
#[derive(Deserialize)]
pub(super) struct Page<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Deserialize)]
pub(super) struct Pagination {
    /// Required by the API definition, but an older server without it must still page correctly
    /// (the empty-page rule alone then ends the walk).
    /// Any integer the schema allows; only a count (0 or more) bounds the walk.
    #[serde(default)]
    total: Option<serde_json::Number>,
}

impl Pagination {
    /// `total` when it is a count of items.
    pub fn total(&self) -> Option<u64> {
        self.total.as_ref().and_then(serde_json::Number::as_u64)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireSecretGroup {
    id: String,
    fqn: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tenant_name: Option<String>,
    #[serde(default)]
    integration_id: Option<String>,
    #[serde(default)]
    manifest: Option<Json>,
    /// Required by the API definition; only read to know who may see the group.
    #[serde(default)]
    created_by_subject: Option<WireSubject>,
    /// Required by the API definition; tolerated when absent because the `attributes` query
    /// parameter of newer servers can trim it away.
    #[serde(default)]
    associated_secrets: Vec<WireSecretSummary>,
    /// Required by the API definition; only read to tell an interrupted create's leftover.
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// A `Subject`: `{subjectType, subjectSlug, …}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireSubject {
    #[serde(default)]
    subject_type: Option<String>,
    #[serde(default)]
    subject_slug: Option<String>,
}

impl WireSubject {
    /// `<type>:<slug>`, the form collaborators name subjects in.
    fn reference(self) -> Option<String> {
        Some(format!("{}:{}", self.subject_type?, self.subject_slug?))
    }
}

/// The body of `GET /v1/x/users/info` (no envelope): the caller's session.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireSession {
    subject_slug: String,
    subject_type: String,
    #[serde(default)]
    tenant_name: Option<String>,
    #[serde(default)]
    roles: Vec<Json>,
    /// The SDK leaves the shape of a team open: names, or objects with a `name`.
    #[serde(default)]
    teams: Option<Vec<Json>>,
}

/// A string, or an object's `name`/`slug` field: the shapes a role or a team may come in.
fn name_of(json: &Json) -> Option<String> {
    match json {
        Json::String(name) => Some(name.clone()),
        Json::Object(object) => ["name", "slug", "id"]
            .iter()
            .find_map(|field| object.get(*field).and_then(Json::as_str))
            .map(str::to_owned),
        _ => None,
    }
}

/// The one role name that makes a subject an administrator of its whole tenant.
/// DECISION: the API reference lists `roles` as role names without naming them; TrueFoundry's
/// tenant administrator role is `tenant-admin`. A bare `admin` could be any resource's admin, so
/// it does not count.
const TENANT_ADMIN_ROLE: &str = "tenant-admin";
/// Fields a role object may have and still be read; any other makes its shape unknown.
const ROLE_FIELDS: [&str; 7] = [
    "name",
    "slug",
    "id",
    "displayName",
    "description",
    "resourceType",
    "scope",
];

/// Whether one entry of `roles` says, beyond doubt, that the key is its tenant's admin: the
/// name `tenant-admin`, alone or as the `name`/`slug` of an object whose scope (when given) is
/// the tenant. A role given by `id` only, one scoped to another resource, and any object with
/// fields this provider does not know leave the key a non-admin, the cautious reading (a 404 is
/// then no proof of deletion).
fn is_tenant_admin_role(role: &Json) -> bool {
    match role {
        Json::String(name) => name == TENANT_ADMIN_ROLE,
        Json::Object(object) => {
            let named = ["name", "slug"]
                .iter()
                .any(|field| object.get(*field).and_then(Json::as_str) == Some(TENANT_ADMIN_ROLE));
            let tenant_scoped = ["resourceType", "scope"].iter().all(|field| {
                matches!(object.get(*field), None | Some(Json::Null))
                    || object.get(*field).and_then(Json::as_str) == Some("tenant")
            });
            let known_shape = object
                .keys()
                .all(|field| ROLE_FIELDS.contains(&field.as_str()));
            named && tenant_scoped && known_shape
        }
        _ => false,
    }
}

/// A role's name for messages: a string, or an object's `name`/`slug` (never its `id`, which
/// names nothing a reader knows).
fn role_name(role: &Json) -> Option<String> {
    match role {
        Json::String(name) => Some(name.clone()),
        Json::Object(object) => ["name", "slug"]
            .iter()
            .find_map(|field| object.get(*field).and_then(Json::as_str))
            .map(str::to_owned),
        _ => None,
    }
}

impl From<WireSession> for Session {
    fn from(wire: WireSession) -> Self {
        Session {
            subject: format!("{}:{}", wire.subject_type, wire.subject_slug),
            tenant_name: wire.tenant_name.filter(|tenant| !tenant.is_empty()),
            tenant_admin: wire.roles.iter().any(is_tenant_admin_role),
            roles: wire.roles.iter().filter_map(role_name).collect(),
            teams: wire.teams.iter().flatten().filter_map(name_of).collect(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WireSecretSummary {
    id: String,
    /// Observed missing in some third-party captures of `associatedSecrets`.
    #[serde(default)]
    fqn: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireSecret {
    id: String,
    fqn: String,
    name: String,
    secret_group_id: String,
    #[serde(default, deserialize_with = "optional_secret_value")]
    value: Option<SecretValue>,
    #[serde(default)]
    secret_versions: Option<Vec<WireSecretVersion>>,
    /// Optional in the API definition; a number (the SDKs type numbers as floats).
    #[serde(default)]
    active_deployments_count: Option<serde_json::Number>,
}

#[derive(Deserialize)]
pub(super) struct WireSecretVersion {
    /// A JSON number in the API definition (the SDKs type it as a float).
    #[serde(default)]
    version: Option<serde_json::Number>,
}

/// Reads a secret value straight into `SecretValue`, so the plain string never sits in a type
/// that could be printed.
fn optional_secret_value<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretValue>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.map(SecretValue::new))
}

impl From<WireSecretGroup> for SecretGroup {
    fn from(wire: WireSecretGroup) -> Self {
        // `name` left the API definition in 2026: the part of the FQN after the tenant is the
        // name, and failing that the stored manifest knows it.
        let (tenant_from_fqn, name_from_fqn) = match wire.fqn.split_once(':') {
            Some((tenant, name)) => (Some(tenant.to_owned()), Some(name.to_owned())),
            None => (None, None),
        };
        let manifest = wire.manifest.and_then(manifest_from_json);
        let name_from_manifest = manifest.as_ref().map(|manifest| manifest.name.clone());
        SecretGroup {
            name: wire.name.or(name_from_fqn).or(name_from_manifest),
            tenant_name: wire.tenant_name.or(tenant_from_fqn).unwrap_or_default(),
            integration_id: wire.integration_id,
            created_by: wire.created_by_subject.and_then(WireSubject::reference),
            created_at: wire.created_at,
            updated_at: wire.updated_at,
            manifest,
            associated_secrets: wire
                .associated_secrets
                .into_iter()
                .map(|secret| SecretSummary {
                    id: secret.id,
                    fqn: secret.fqn,
                    name: secret.name,
                })
                .collect(),
            id: wire.id,
            fqn: wire.fqn,
        }
    }
}

/// The stored manifest, when the free-form `manifest` field holds a secret-group manifest; any
/// other content (a different kind, an older shape) is treated as "no manifest known".
fn manifest_from_json(json: Json) -> Option<SecretGroupManifest> {
    if json.get("type").and_then(Json::as_str) != Some(MANIFEST_KIND) {
        return None;
    }
    serde_json::from_value(json).ok()
}

impl From<WireSecret> for Secret {
    fn from(wire: WireSecret) -> Self {
        let latest_version = wire
            .secret_versions
            .iter()
            .flatten()
            .filter_map(|version| version.version.as_ref().and_then(version_number))
            .max();
        Secret {
            id: wire.id,
            fqn: wire.fqn,
            name: wire.name,
            secret_group_id: wire.secret_group_id,
            value: wire.value,
            latest_version,
            active_deployments: wire
                .active_deployments_count
                .as_ref()
                .and_then(version_number)
                .and_then(|count| u64::try_from(count).ok()),
        }
    }
}

/// A whole number sent as an integer or as an integral float (`3.0`).
fn version_number(number: &serde_json::Number) -> Option<i64> {
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() < i64::MAX as f64)
            .map(|float| float as i64)
    })
}

/// Body of `PUT /v1/secret-groups`.
#[derive(Serialize)]
pub(super) struct ManifestRequest<'a> {
    pub manifest: &'a SecretGroupManifest,
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
}

/// Body of `PUT /v1/secret-groups/{id}`.
#[derive(Serialize)]
pub(super) struct SetSecretsRequest<'a> {
    pub secrets: Vec<SecretInput<'a>>,
}

/// One entry of the full list; `value` is left out (not `null`) to keep the current value.
#[derive(Serialize)]
pub(super) struct SecretInput<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
}

impl<'a> From<&'a SecretUpdate> for SecretInput<'a> {
    fn from(update: &'a SecretUpdate) -> Self {
        SecretInput {
            key: &update.key,
            value: update.value.as_ref().map(SecretValue::expose),
        }
    }
}

/// Body of `POST /v1/secrets` (one page).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListSecretsRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub secret_fqns: &'a [String],
    pub with_value: bool,
    pub limit: u64,
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session_with_roles(roles: Json) -> Session {
        serde_json::from_value::<WireSession>(json!({
            "subjectSlug": "v@acme", "subjectType": "user", "tenantName": "acme", "roles": roles,
        }))
        .map(Session::from)
        .expect("a session")
    }

    #[test]
    fn only_the_tenant_admin_role_at_tenant_scope_makes_a_tenant_admin() {
        let admin = [
            json!(["tenant-admin"]),
            json!([{"name": "tenant-admin"}]),
            json!([{"slug": "tenant-admin", "resourceType": "tenant"}]),
            json!([{"id": "r1", "name": "tenant-admin", "scope": "tenant"}]),
            json!(["tenant-member", {"name": "tenant-admin", "resourceType": null}]),
        ];
        for roles in admin {
            assert!(
                session_with_roles(roles.clone()).is_tenant_admin(),
                "{roles}"
            );
        }
        let cautious = [
            json!([]),
            json!(["admin"]),
            json!(["Tenant Admin"]),
            json!(["tenant-member"]),
            json!([{"id": "admin", "resourceType": "workspace"}]),
            json!([{"id": "tenant-admin"}]),
            json!([{"name": "tenant-admin", "resourceType": "workspace"}]),
            json!([{"name": "tenant-admin", "scope": "secret-group"}]),
            json!([{"name": "tenant-admin", "resourceFqn": "acme:ws"}]),
            json!([{"name": {"en": "tenant-admin"}}]),
            json!([["tenant-admin"]]),
            json!([true, 1, null]),
        ];
        for roles in cautious {
            assert!(
                !session_with_roles(roles.clone()).is_tenant_admin(),
                "{roles}"
            );
        }
        assert_eq!(
            session_with_roles(json!([{"id": "admin"}, {"name": "viewer", "id": "r2"}])).roles,
            ["viewer"],
            "a role given only by id has no name"
        );
    }

    fn group_from(json: Json) -> SecretGroup {
        serde_json::from_value::<WireSecretGroup>(json)
            .map(SecretGroup::from)
            .unwrap_or_else(|error| panic!("group did not decode: {error}"))
    }

    #[test]
    fn group_name_and_tenant_come_from_the_fqn_when_absent() {
        let group =
            group_from(json!({"id": "sg1", "fqn": "acme:pay:ments", "associatedSecrets": []}));
        assert_eq!(group.name.as_deref(), Some("pay:ments"));
        assert_eq!(group.tenant_name, "acme");
        assert_eq!(group.manifest, None);
    }

    #[test]
    fn group_prefers_explicit_name_and_reads_a_manifest_with_unknown_fields() {
        let group = group_from(json!({
            "id": "sg1", "fqn": "acme:payments", "name": "payments", "tenantName": "acme",
            "integrationId": "int1", "createdBySubject": {"subjectId": "u1"}, "extra": [1, 2],
            "manifest": {"type": "secret-group", "name": "payments", "integration_fqn": "i:f",
                         "collaborators": [{"subject": "team:x", "role_id": "secret-group-admin"}],
                         "ownedBy": {"account": "acc"}, "futureField": true},
            "associatedSecrets": [{"id": "s1", "fqn": "tfy-secret://acme:payments:K", "name": "K",
                                   "secretGroupId": "sg1"}, {"id": "s2", "name": "L"}]
        }));
        assert_eq!(group.name.as_deref(), Some("payments"));
        assert_eq!(group.integration_id.as_deref(), Some("int1"));
        let manifest = group.manifest.expect("manifest");
        assert_eq!(manifest.integration_fqn, "i:f");
        assert_eq!(manifest.collaborators[0].role_id, "secret-group-admin");
        assert_eq!(
            manifest.owned_by.map(|owner| owner.account).as_deref(),
            Some("acc")
        );
        let names: Vec<_> = group
            .associated_secrets
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["K", "L"]);
    }

    #[test]
    fn group_name_falls_back_to_the_manifest() {
        let group = group_from(json!({
            "id": "sg1", "fqn": "odd-fqn", "tenantName": "acme",
            "manifest": {"type": "secret-group", "name": "payments", "integration_fqn": "i",
                         "collaborators": []}
        }));
        assert_eq!(group.name.as_deref(), Some("payments"));
    }

    #[test]
    fn a_manifest_without_collaborators_has_none() {
        let group = group_from(json!({
            "id": "sg1", "fqn": "acme:payments",
            "manifest": {"type": "secret-group", "name": "payments", "integration_fqn": "i"}
        }));
        assert_eq!(group.manifest.map(|m| m.collaborators), Some(Vec::new()));
    }

    #[test]
    fn a_manifest_of_another_kind_is_not_a_secret_group_manifest() {
        let group = group_from(json!({
            "id": "sg1", "fqn": "acme:payments",
            "manifest": {"type": "service", "name": "payments", "integration_fqn": "i",
                         "collaborators": []}
        }));
        assert_eq!(group.manifest, None);
    }

    #[test]
    fn latest_version_is_the_highest_listed_version() {
        let secret: Secret = serde_json::from_value::<WireSecret>(json!({
            "id": "s1", "fqn": "f", "name": "K", "secretGroupId": "sg1", "value": "v",
            "secretVersions": [{"id": "a", "fqn": "x", "version": 2}, {"id": "b", "fqn": "y", "version": 7.0},
                               {"id": "c", "fqn": "z", "version": 3}, {"id": "d", "fqn": "w"}]
        }))
        .map(Secret::from)
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(secret.latest_version, Some(7));
        assert_eq!(secret.value.as_ref().map(SecretValue::expose), Some("v"));

        let bare: Secret = serde_json::from_value::<WireSecret>(
            json!({"id": "s1", "fqn": "f", "name": "K", "secretGroupId": "sg1"}),
        )
        .map(Secret::from)
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((bare.latest_version, bare.value), (None, None));
        assert_eq!(bare.active_deployments, None);
    }

    #[test]
    fn active_deployments_count_is_read_when_sent() {
        let count = |json: Json| {
            serde_json::from_value::<WireSecret>(json)
                .map(Secret::from)
                .unwrap_or_else(|error| panic!("{error}"))
                .active_deployments
        };
        let secret = |extra: Json| {
            let mut json = json!({"id": "s1", "fqn": "f", "name": "K", "secretGroupId": "sg1"});
            json.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json
        };
        assert_eq!(count(secret(json!({"activeDeploymentsCount": 4}))), Some(4));
        assert_eq!(
            count(secret(json!({"activeDeploymentsCount": 2.0}))),
            Some(2)
        );
        assert_eq!(count(secret(json!({"activeDeploymentsCount": 0}))), Some(0));
        assert_eq!(count(secret(json!({"activeDeploymentsCount": null}))), None);
        assert_eq!(count(secret(json!({"activeDeploymentsCount": -1}))), None);
    }

    #[test]
    fn set_secrets_body_omits_value_to_keep_it() {
        let updates = [
            SecretUpdate {
                key: "KEEP".into(),
                value: None,
            },
            SecretUpdate {
                key: "NEW".into(),
                value: Some(SecretValue::new("v1")),
            },
        ];
        let body = SetSecretsRequest {
            secrets: updates.iter().map(SecretInput::from).collect(),
        };
        assert_eq!(
            serde_json::to_value(&body).ok(),
            Some(json!({"secrets": [{"key": "KEEP"}, {"key": "NEW", "value": "v1"}]}))
        );
    }

    #[test]
    fn list_secrets_body_is_camel_case_and_omits_empty_filters() {
        let none: [String; 0] = [];
        let body = ListSecretsRequest {
            secret_group_id: Some("sg1"),
            secret_fqns: &none,
            with_value: true,
            limit: 1000,
            offset: 0,
        };
        assert_eq!(
            serde_json::to_value(&body).ok(),
            Some(json!({"secretGroupId": "sg1", "withValue": true, "limit": 1000, "offset": 0}))
        );
        let fqns = ["tfy-secret://a:b:c".to_owned()];
        let body = ListSecretsRequest {
            secret_group_id: None,
            secret_fqns: &fqns,
            ..body
        };
        assert_eq!(
            serde_json::to_value(&body).ok(),
            Some(
                json!({"secretFqns": ["tfy-secret://a:b:c"], "withValue": true, "limit": 1000, "offset": 0})
            )
        );
    }
}
