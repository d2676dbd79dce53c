//! Handlers of `/api/svc/v1`: authentication, role checks, and the conversion of stored groups
//! and secrets to their wire shapes.

use std::collections::HashSet;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{
    DefaultBodyLimit, Extension, FromRequest, FromRequestParts, Path, Query, Request, State,
};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::request_log::LogSlot;
use super::store::{
    Access, Caller, Group, MANIFEST_TYPE, Numbering, ROLE_ADMIN, ROLE_EDITOR, Secret, SecretEntry,
    WriteRules, apply_secret_list_with, find_group, find_secret, manifest_problems, name_problem,
    now, version_fqn,
};
use super::variants::Variant;
use super::wire::{
    AssociatedSecretOut, Collaborator, CreateGroupIn, DataOut, ListSecretsIn, Manifest,
    ManifestPutIn, NamedIdOut, OwnedBy, PageOut, PaginationOut, SecretEntryIn, SecretGroupOut,
    SecretOut, SecretVersionOut, SecretsPutIn, SessionOut, SubjectOut,
};
use super::workload_identity;
use super::{API_PREFIX, AppState, EmulatorConfig};

/// A query string as name/value pairs (repeated names kept), or why it did not parse.
type QueryPairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
pub(super) const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/secret-groups",
            get(list_groups).put(put_manifest).post(create_group),
        )
        .route(
            "/secret-groups/{id}",
            get(get_group).put(put_secrets).delete(delete_group),
        )
        .route("/secrets", post(list_secrets))
        .route("/secrets/{id}", get(get_secret).delete(delete_secret))
        .route("/x/users/info", get(session_info))
        .fallback(unknown_api_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Full-list updates of thousands of keys exceed axum's 2 MB default.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

pub(crate) async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

// Inside the nested API router the URI has lost its prefix.
async fn unknown_api_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {API_PREFIX}{}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {API_PREFIX}{}", uri.path()),
    )
}

/// `Authorization: Bearer <key>` resolved against the configured keys, else, when it is a JWT and
/// identity providers are configured, as a workload identity token; 401 otherwise. The scheme
/// is case-insensitive (RFC 9110); every configured token is compared in constant time, so the
/// answer's timing tells nothing about how much of a token was right.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(ApiError::unauthorized)?;
        let mut found = None;
        for key in &state.shared.config.api_keys {
            let same = key.token.expose().as_bytes().ct_eq(token.as_bytes());
            if bool::from(same) && found.is_none() {
                found = Some(key);
            }
        }
        let config = &state.shared.config;
        let caller = match found {
            Some(key) => Caller {
                tenant: key.tenant.clone(),
                subject: key.subject.clone(),
                tenant_admin: key.tenant_admin,
            },
            None if !config.identity_providers.is_empty()
                && workload_identity::looks_like_jwt(token) =>
            {
                let account = workload_identity::virtual_account(config, token)?;
                Caller {
                    tenant: account.tenant.clone(),
                    subject: account.subject(),
                    tenant_admin: account.tenant_admin,
                }
            }
            None => return Err(ApiError::unauthorized()),
        };
        if let Some(slot) = parts.extensions.get::<LogSlot>() {
            slot.update(|fields| fields.subject = Some(caller.subject.clone()));
        }
        Ok(caller)
    }
}

/// The `{id}` of a route, percent-decoded. An id that is not UTF-8 once decoded gets the API's
/// error body, not axum's plain-text rejection.
struct Id(String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
    }
}

/// A request body read whole. One over [`MAX_BODY_BYTES`] (413) or broken off gets the API's
/// error body, not axum's plain-text rejection.
struct RequestBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RequestBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(RequestBody)
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is longer than {MAX_BODY_BYTES} bytes"),
                ),
                status => ApiError::new(status, rejection.body_text()),
            })
    }
}

/// Whether a body may hold secret values: parse errors then never quote the body.
#[derive(Clone, Copy, PartialEq)]
enum BodyKind {
    Plain,
    CarriesValues,
}

/// Syntax errors are 400, well-formed JSON of the wrong shape is 422.
fn parse_body<T: DeserializeOwned>(body: &[u8], kind: BodyKind) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        let status = match error.classify() {
            serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        let text = error.to_string();
        // serde quotes offending strings in most messages, which could be a value; field-name
        // messages only quote field names.
        let safe = kind == BodyKind::Plain
            || text.starts_with("unknown field")
            || text.starts_with("missing field");
        let message = if safe {
            format!("invalid request body: {text}")
        } else {
            format!(
                "invalid request body: unexpected content at line {} column {}",
                error.line(),
                error.column()
            )
        };
        ApiError::new(status, message)
    })
}

/// `limit` 1..=1000 (default 100) and `offset` ≥ 0 (default 0); anything else is a 400.
fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Result<(usize, usize), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        ))
        .with_field("limit", "out of range"));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(
            ApiError::bad_request(format!("offset must not be negative, got {offset}"))
                .with_field("offset", "out of range"),
        );
    }
    Ok((limit as usize, offset as usize))
}

fn page<T>(items: Vec<T>, limit: usize, offset: usize) -> (Vec<T>, PaginationOut) {
    let pagination = PaginationOut {
        total: items.len(),
        offset,
        limit,
    };
    (
        items.into_iter().skip(offset).take(limit).collect(),
        pagination,
    )
}

fn parse_integer(name: &str, text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{name} must be an integer, got {text:?}")))
}

fn parse_bool(name: &str, text: &str) -> Result<bool, ApiError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be true or false, got {text:?}"
        ))),
    }
}

fn query_pairs(query: QueryPairs) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|rejection| ApiError::bad_request(format!("invalid query: {rejection}")))
}

/// A stable opaque id for something named, so ids survive restarts without being stored.
fn stable_id(prefix: &str, name: &str) -> String {
    // FNV-1a, 64 bit.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{prefix}{hash:016x}")
}

fn integration_id_of(integration_fqn: &str) -> String {
    stable_id("int", integration_fqn)
}

/// `user:alice@example.com` → `{subjectId, subjectType: "user", subjectSlug: "alice@example.com"}`.
fn subject_out(subject: &str) -> SubjectOut {
    let (kind, slug) = subject.split_once(':').unwrap_or(("user", subject));
    SubjectOut {
        subject_id: stable_id("u", subject),
        subject_type: kind.to_owned(),
        subject_slug: slug.to_owned(),
    }
}

/// A group as the API answers it, shaped by the variants in effect.
fn group_out(state: &AppState, group: &Group) -> SecretGroupOut {
    let mut manifest =
        serde_json::to_value(&group.manifest).expect("a stored manifest always serializes");
    if state.has(Variant::LenientManifest)
        && group.manifest.collaborators.is_empty()
        && let Some(object) = manifest.as_object_mut()
    {
        object.remove("collaborators");
    }
    let config = &state.shared.config;
    SecretGroupOut {
        id: group.id.clone(),
        fqn: group.fqn(),
        name: (!state.has(Variant::NoGroupName)).then(|| group.name().to_owned()),
        tenant_name: group.tenant.clone(),
        account_id: stable_id("acc", &group.tenant),
        integration_id: integration_id_of(&group.manifest.integration_fqn),
        created_by_subject: subject_out(&group.created_by),
        created_by: group.created_by.clone(),
        associated_secrets: group
            .secrets
            .iter()
            .map(|secret| {
                let fqn = group.secret_fqn(&secret.key);
                AssociatedSecretOut {
                    id: secret.id.clone(),
                    active_deployments_count: config.active_deployments_of(&fqn),
                    fqn,
                    name: secret.key.clone(),
                    secret_group_id: group.id.clone(),
                    created_at: secret.created_at.clone(),
                    updated_at: secret.updated_at.clone(),
                }
            })
            .collect(),
        manifest,
        created_at: group.created_at.clone(),
        updated_at: group.updated_at.clone(),
    }
}

/// DECISION: every Secret, in lists too, carries `secretVersions` ascending (without values), so
/// a client learns the per-key versions of a whole group in one paged call; `with_versions` is
/// false only for lists under `no-list-versions`.
fn secret_out(
    group: &Group,
    secret: &Secret,
    reveal_value: bool,
    with_versions: bool,
    config: &EmulatorConfig,
) -> Result<SecretOut, ApiError> {
    let fqn = group.secret_fqn(&secret.key);
    let value = match reveal_value {
        true => Some(secret.latest()?.value.clone()),
        false => None,
    };
    Ok(SecretOut {
        id: secret.id.clone(),
        name: secret.key.clone(),
        secret_group_id: group.id.clone(),
        value,
        created_by_subject: subject_out(&secret.created_by),
        created_at: secret.created_at.clone(),
        updated_at: secret.updated_at.clone(),
        secret_versions: with_versions.then(|| {
            secret
                .versions
                .iter()
                .map(|version| SecretVersionOut {
                    id: version.id.clone(),
                    fqn: version_fqn(&fqn, version.version),
                    version: version.version,
                    secret_id: secret.id.clone(),
                    created_at: version.created_at.clone(),
                    updated_at: version.created_at.clone(),
                })
                .collect()
        }),
        active_deployments_count: config.active_deployments_of(&fqn),
        fqn,
    })
}

/// Role names of the session endpoint.
/// DECISION: the API reference lists `roles` without their names; a tenant admin holds
/// `tenant-admin`, everyone else `tenant-member`.
pub(crate) const ROLE_TENANT_ADMIN: &str = "tenant-admin";
pub(crate) const ROLE_TENANT_MEMBER: &str = "tenant-member";

/// `GET /v1/x/users/info`: who the API key is. DECISION: API keys here belong to no team, and
/// to one account, the tenant's own (named after the tenant, the id groups give as `accountId`).
async fn session_info(caller: Caller) -> Json<SessionOut> {
    let SubjectOut {
        subject_id,
        subject_type,
        subject_slug,
    } = subject_out(&caller.subject);
    let role = if caller.tenant_admin {
        ROLE_TENANT_ADMIN
    } else {
        ROLE_TENANT_MEMBER
    };
    Json(SessionOut {
        email: (subject_type == "user" && subject_slug.contains('@')).then(|| subject_slug.clone()),
        effective_user_id: subject_id.clone(),
        id: subject_id,
        subject_slug,
        subject_type,
        accounts: vec![NamedIdOut {
            id: stable_id("acc", &caller.tenant),
            name: caller.tenant.clone(),
        }],
        tenant_name: caller.tenant,
        roles: vec![role.to_owned()],
        teams: Vec::new(),
    })
}

fn denied(caller: &Caller, group: &Group, needed: &str) -> ApiError {
    ApiError::forbidden(format!(
        "{} may not do this on secret group {}: it needs the role {needed}",
        caller.subject,
        group.fqn()
    ))
}

/// `GET /v1/secret-groups`: the caller's visible groups, filtered by exact `fqn` and by `search`
/// (DECISION: a case-insensitive substring of the name). `attributes` is accepted and ignored.
async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryPairs,
) -> Result<Json<PageOut<SecretGroupOut>>, ApiError> {
    let (mut fqn, mut search, mut limit, mut offset) = (None, None, None, None);
    for (name, value) in query_pairs(query)? {
        match name.as_str() {
            "fqn" => fqn = Some(value),
            "search" => search = Some(value.to_lowercase()),
            "limit" => limit = Some(parse_integer("limit", &value)?),
            "offset" => offset = Some(parse_integer("offset", &value)?),
            // `attributes` (comma-separated or repeated) and parameters of newer servers.
            _ => {}
        }
    }
    let (limit, offset) = page_bounds(limit, offset)?;
    let store = state.store();
    let matching: Vec<&Group> = store
        .groups()
        .iter()
        .filter(|group| group.access(&caller) > Access::None)
        .filter(|group| fqn.as_ref().is_none_or(|fqn| group.fqn() == *fqn))
        .filter(|group| {
            search
                .as_ref()
                .is_none_or(|search| group.name().to_lowercase().contains(search.as_str()))
        })
        .collect();
    let (groups, pagination) = page(matching, limit, offset);
    Ok(Json(PageOut {
        data: groups
            .into_iter()
            .map(|group| group_out(&state, group))
            .collect(),
        pagination,
    }))
}

async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<DataOut<SecretGroupOut>>, ApiError> {
    let store = state.store();
    let (group, _) = store.group(&caller, &id)?;
    Ok(Json(DataOut {
        data: group_out(&state, group),
    }))
}

/// Checks the manifest field by field, reporting every missing field at once.
fn validate_manifest(state: &AppState, raw: Option<Value>) -> Result<Manifest, ApiError> {
    let Some(raw) = raw else {
        return Err(
            ApiError::unprocessable("`manifest` is required").with_field("manifest", "required")
        );
    };
    let Some(object) = raw.as_object() else {
        return Err(ApiError::unprocessable("`manifest` must be an object")
            .with_field("manifest", "must be an object"));
    };
    let lenient = state.has(Variant::LenientManifest);
    let missing: Vec<&str> = ["type", "name", "integration_fqn", "collaborators"]
        .into_iter()
        .filter(|field| !(lenient && *field == "collaborators"))
        .filter(|field| object.get(*field).is_none_or(Value::is_null))
        .collect();
    if !missing.is_empty() {
        let mut error = ApiError::unprocessable(format!(
            "missing required manifest fields: {}",
            missing.join(", ")
        ));
        for field in missing {
            error = error.with_field(&format!("manifest.{field}"), "required");
        }
        return Err(error);
    }
    let manifest: Manifest = serde_json::from_value(raw)
        .map_err(|error| ApiError::unprocessable(format!("invalid manifest: {error}")))?;

    let problems = manifest_problems(&manifest, state.shared.config.subject_kinds());
    if let Some((field, message)) = problems.first() {
        let mut error = ApiError::unprocessable(format!("invalid manifest: {field} {message}"));
        for (field, message) in &problems {
            error = error.with_field(field, message);
        }
        return Err(error);
    }
    Ok(manifest)
}

/// `PUT /v1/secret-groups`: create or update by name within the caller's tenant.
async fn put_manifest(
    State(state): State<AppState>,
    Extension(slot): Extension<LogSlot>,
    caller: Caller,
    RequestBody(body): RequestBody,
) -> Result<Json<DataOut<SecretGroupOut>>, ApiError> {
    let input: ManifestPutIn = parse_body(&body, BodyKind::Plain)?;
    let dry_run = input.dry_run.unwrap_or(false);
    slot.update(|fields| fields.dry_run = dry_run);
    let mut manifest = validate_manifest(&state, input.manifest)?;
    fill_owner(&state, &caller, &mut manifest);
    let known_integration = state.shared.config.integrations.iter().any(|integration| {
        integration.tenant == caller.tenant && integration.fqn == manifest.integration_fqn
    });
    if !known_integration {
        return Err(ApiError::not_found(format!(
            "integration {:?} not found in tenant {}",
            manifest.integration_fqn, caller.tenant
        ))
        .with_field("manifest.integration_fqn", "unknown integration"));
    }
    let now = now();
    let group = state
        .commit(|groups| {
            let found = groups
                .groups()
                .iter()
                .position(|group| group.tenant == caller.tenant && group.name() == manifest.name);
            let Some(index) = found else {
                let group = Group::new(&caller, with_creator(&state, &caller, manifest), &now);
                // DECISION: a dry run of a create returns the would-be group with a fresh id that is
                // not reserved.
                if !dry_run {
                    groups.push(group.clone());
                }
                return Ok((group, !dry_run));
            };
            let existing = &groups.groups()[index];
            // An existing group the caller cannot see still blocks its name: 403 rather than 404,
            // since the caller asked to create, not to read.
            if existing.access(&caller) < Access::Admin {
                return Err(denied(&caller, existing, ROLE_ADMIN));
            }
            // DECISION: the integration of a group is fixed once created.
            if existing.manifest.integration_fqn != manifest.integration_fqn {
                return Err(ApiError::conflict(format!(
                    "secret group {} uses integration {:?}; it cannot move to {:?}",
                    existing.fqn(),
                    existing.manifest.integration_fqn,
                    manifest.integration_fqn
                ))
                .with_field("manifest.integration_fqn", "cannot change"));
            }
            let changed = existing.manifest != manifest;
            let mut updated = existing.clone();
            if changed {
                updated.manifest = manifest;
                updated.updated_at = now;
            }
            if changed && !dry_run {
                *groups.group_mut(index) = updated.clone();
            }
            Ok((updated, changed && !dry_run))
        })
        .await?;
    Ok(Json(DataOut {
        data: group_out(&state, &group),
    }))
}

/// Under `server-owned-by`, a manifest without an owner gets the caller's account.
/// DECISION: an API key's account is named after its tenant.
fn fill_owner(state: &AppState, caller: &Caller, manifest: &mut Manifest) {
    if state.has(Variant::ServerOwnedBy) && manifest.owned_by.is_none() {
        manifest.owned_by = Some(OwnedBy {
            account: caller.tenant.clone(),
        });
    }
}

/// Under `creator-collaborator`, the manifest of a new group lists its creator as admin.
fn with_creator(state: &AppState, caller: &Caller, mut manifest: Manifest) -> Manifest {
    let listed = manifest
        .collaborators
        .iter()
        .any(|collaborator| collaborator.subject == caller.subject);
    if state.has(Variant::CreatorCollaborator) && !listed {
        manifest.collaborators.push(Collaborator {
            subject: caller.subject.clone(),
            role_id: ROLE_ADMIN.to_owned(),
        });
    }
    manifest
}

/// How a full-list update of a group of `tenant` in store `integration_fqn` goes.
fn write_rules(state: &AppState, tenant: &str, integration_fqn: &str) -> WriteRules {
    WriteRules {
        numbering: if state.has(Variant::SparseVersions) {
            Numbering::Sparse
        } else {
            Numbering::Consecutive
        },
        ..store_limits(state, tenant, integration_fqn)
    }
}

/// The value size and history limits of the group's integration (the defaults when it is no
/// longer configured).
fn store_limits(state: &AppState, tenant: &str, integration_fqn: &str) -> WriteRules {
    let defaults = WriteRules::default();
    match state
        .shared
        .config
        .integrations
        .iter()
        .find(|i| i.tenant == tenant && i.fqn == integration_fqn)
    {
        Some(integration) => WriteRules {
            max_value_bytes: integration.max_value_bytes,
            max_versions: integration.max_versions,
            ..defaults
        },
        None => defaults,
    }
}

/// Logs the key names (and which carried a value) and converts the entries.
fn secret_entries(slot: &LogSlot, input: Vec<SecretEntryIn>) -> Vec<SecretEntry> {
    slot.update(|fields| {
        for entry in &input {
            fields.keys.push(entry.key.clone());
            if entry.value.is_some() {
                fields.keys_with_value.push(entry.key.clone());
            }
        }
    });
    input
        .into_iter()
        .map(|entry| SecretEntry {
            key: entry.key,
            value: entry.value,
        })
        .collect()
}

/// `POST /v1/secret-groups`: create a group from a name, an integration id and its secrets.
/// DECISION: an existing name is a 409; the group gets no collaborators (its creator administers
/// it); an empty `secrets` list creates an empty group.
async fn create_group(
    State(state): State<AppState>,
    Extension(slot): Extension<LogSlot>,
    caller: Caller,
    RequestBody(body): RequestBody,
) -> Result<Json<DataOut<SecretGroupOut>>, ApiError> {
    let input: CreateGroupIn = parse_body(&body, BodyKind::CarriesValues)?;
    let (Some(name), Some(integration_id), Some(secrets)) =
        (input.name, input.integration_id, input.secrets)
    else {
        return Err(ApiError::unprocessable(
            "missing required fields: name, integrationId and secrets are required",
        ));
    };
    if let Some(problem) = name_problem(&name) {
        return Err(ApiError::unprocessable(format!("name {problem}")).with_field("name", problem));
    }
    let integration = state
        .shared
        .config
        .integrations
        .iter()
        .find(|i| i.tenant == caller.tenant && integration_id_of(&i.fqn) == integration_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "integration {integration_id:?} not found in tenant {}",
                caller.tenant
            ))
        })?;
    let entries = secret_entries(&slot, secrets);
    let rules = write_rules(&state, &caller.tenant, &integration.fqn);
    let mut manifest = Manifest {
        kind: MANIFEST_TYPE.to_owned(),
        name,
        integration_fqn: integration.fqn.clone(),
        collaborators: Vec::new(),
        owned_by: None,
    };
    fill_owner(&state, &caller, &mut manifest);
    let manifest = with_creator(&state, &caller, manifest);
    let now = now();
    let group = state
        .commit(|groups| {
            if let Some(existing) = groups
                .groups()
                .iter()
                .find(|group| group.tenant == caller.tenant && group.name() == manifest.name)
            {
                return Err(ApiError::conflict(format!(
                    "secret group {} already exists",
                    existing.fqn()
                )));
            }
            let mut group = Group::new(&caller, manifest, &now);
            if !entries.is_empty() {
                apply_secret_list_with(&mut group, entries, &caller, &now, rules)?;
            }
            groups.push(group.clone());
            Ok((group, true))
        })
        .await?;
    Ok(Json(DataOut {
        data: group_out(&state, &group),
    }))
}

/// `PUT /v1/secret-groups/{id}`: the full desired list of keys (see `apply_secret_list`).
async fn put_secrets(
    State(state): State<AppState>,
    Extension(slot): Extension<LogSlot>,
    caller: Caller,
    Id(id): Id,
    RequestBody(body): RequestBody,
) -> Result<Json<DataOut<SecretGroupOut>>, ApiError> {
    let input: SecretsPutIn = parse_body(&body, BodyKind::CarriesValues)?;
    let entries = secret_entries(&slot, input.secrets);
    let now = now();
    let group = state
        .commit(|groups| {
            let (index, access) = find_group(groups.groups(), &caller, &id)?;
            if access < Access::Editor {
                return Err(denied(&caller, &groups.groups()[index], ROLE_EDITOR));
            }
            let group = groups.group_mut(index);
            let rules = write_rules(&state, &group.tenant, &group.manifest.integration_fqn);
            let changed = apply_secret_list_with(group, entries, &caller, &now, rules)?;
            Ok((group.clone(), changed))
        })
        .await?;
    Ok(Json(DataOut {
        data: group_out(&state, &group),
    }))
}

/// `DELETE /v1/secret-groups/{id}[?forceDelete=]`: the group, its secrets and versions; `{}`.
async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    check_force_delete(query)?;
    state
        .commit(|groups| {
            let (index, access) = find_group(groups.groups(), &caller, &id)?;
            if access < Access::Admin {
                return Err(denied(&caller, &groups.groups()[index], ROLE_ADMIN));
            }
            groups.remove(index);
            Ok(((), true))
        })
        .await?;
    Ok(Json(Value::Object(Default::default())))
}

/// `forceDelete` is accepted and validated; the emulated store never fails, so it changes nothing.
fn check_force_delete(query: QueryPairs) -> Result<(), ApiError> {
    for (name, value) in query_pairs(query)? {
        if name == "forceDelete" {
            parse_bool("forceDelete", &value)?;
        }
    }
    Ok(())
}

/// Compares secret FQNs with or without the `tfy-secret://` prefix.
fn bare_secret_fqn(fqn: &str) -> &str {
    fqn.strip_prefix("tfy-secret://").unwrap_or(fqn)
}

/// `POST /v1/secrets`: a paged list of secrets of the visible groups, values on request.
async fn list_secrets(
    State(state): State<AppState>,
    Extension(slot): Extension<LogSlot>,
    caller: Caller,
    RequestBody(body): RequestBody,
) -> Result<Json<PageOut<SecretOut>>, ApiError> {
    let input: ListSecretsIn = if body.iter().all(u8::is_ascii_whitespace) {
        ListSecretsIn::default()
    } else {
        parse_body(&body, BodyKind::Plain)?
    };
    let (limit, offset) = page_bounds(input.limit, input.offset)?;
    let with_value = input.with_value.unwrap_or(false);
    let store = state.store();
    let groups: Vec<(&Group, Access)> = match &input.secret_group_id {
        Some(id) => vec![store.group(&caller, id)?],
        None => store
            .groups()
            .iter()
            .map(|group| (group, group.access(&caller)))
            .filter(|(_, access)| *access > Access::None)
            .collect(),
    };
    let wanted: Option<HashSet<&str>> = input
        .secret_fqns
        .as_ref()
        .map(|fqns| fqns.iter().map(|fqn| bare_secret_fqn(fqn)).collect());
    let mut matching: Vec<(&Group, &Secret)> = Vec::new();
    for (group, access) in &groups {
        let before = matching.len();
        matching.extend(
            group
                .secrets
                .iter()
                .filter(|secret| {
                    wanted.as_ref().is_none_or(|wanted| {
                        wanted.contains(bare_secret_fqn(&group.secret_fqn(&secret.key)))
                    })
                })
                .map(|secret| (*group, secret)),
        );
        // Values need the editor role on every group that contributes secrets (or on the group
        // asked for by id, even when it is empty).
        let contributes = matching.len() > before || input.secret_group_id.is_some();
        if with_value && contributes && *access < Access::Editor {
            return Err(denied(&caller, group, ROLE_EDITOR));
        }
    }
    let reveal = with_value && !state.shared.config.disable_secret_value_view;
    let (secrets, pagination) = page(matching, limit, offset);
    slot.update(|fields| {
        fields.keys = secrets
            .iter()
            .map(|(_, secret)| secret.key.clone())
            .collect();
        if reveal {
            fields.values_returned = fields.keys.clone();
        }
    });
    let data = secrets
        .into_iter()
        .map(|(group, secret)| {
            let with_versions = !state.has(Variant::NoListVersions);
            secret_out(group, secret, reveal, with_versions, &state.shared.config)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(PageOut { data, pagination }))
}

/// `GET /v1/secrets/{id}`: one secret with its value (editor or admin) and versions.
async fn get_secret(
    State(state): State<AppState>,
    Extension(slot): Extension<LogSlot>,
    caller: Caller,
    Id(id): Id,
) -> Result<Json<DataOut<SecretOut>>, ApiError> {
    let store = state.store();
    let (group, secret, access) = store.secret(&caller, &id)?;
    slot.update(|fields| fields.keys = vec![secret.key.clone()]);
    if access < Access::Editor {
        return Err(denied(&caller, group, ROLE_EDITOR));
    }
    let reveal = !state.shared.config.disable_secret_value_view;
    Ok(Json(DataOut {
        data: secret_out(group, secret, reveal, true, &state.shared.config)?,
    }))
}

/// `DELETE /v1/secrets/{id}[?forceDelete=]`: the secret and its versions; the count, `1`.
async fn delete_secret(
    State(state): State<AppState>,
    Extension(slot): Extension<LogSlot>,
    caller: Caller,
    Id(id): Id,
    query: QueryPairs,
) -> Result<Json<u32>, ApiError> {
    check_force_delete(query)?;
    let now = now();
    state
        .commit(|groups| {
            let (group_index, secret_index, access) = find_secret(groups.groups(), &caller, &id)?;
            if access < Access::Editor {
                return Err(denied(&caller, &groups.groups()[group_index], ROLE_EDITOR));
            }
            let group = groups.group_mut(group_index);
            let removed = group.secrets.remove(secret_index);
            slot.update(|fields| fields.keys = vec![removed.key]);
            group.updated_at = now;
            Ok(((), true))
        })
        .await?;
    Ok(Json(1))
}
