//! The client against TrueFoundry's own models. `scripts/export-sdk-schemas` exports the JSON
//! schemas of the SDK models the client reads (truefoundry-sdk 0.6.0, generated from TrueFoundry's
//! API definition) into `tests/it/fixtures/truefoundry-sdk-0.6.0/`; these tests generate instances
//! from them — optional fields absent, `null` or present, extra fields, every enum value, long
//! lists — and check that the client never panics, reads each present field as sent, and refuses
//! only what the schema forbids, with an error naming the field.
//!
//! One refusal the schema allows, on purpose: a secret group without `id` or `fqn` (both optional
//! in the SDK's model). The client can neither address nor name such a group, so it refuses the
//! answer with "missing field `id`" (or `fqn`) rather than invent either.

use proptest::prelude::*;
use proptest::strategy::Union;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use super::failure::{CallSite, Secrets, status_error};
use super::wire::{Envelope, Page, WireSecret, WireSecretGroup, WireSession};
use super::{Error, Secret, SecretGroup, SecretValue, Session};

macro_rules! sdk_schema {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/fixtures/truefoundry-sdk-0.6.0/",
            $name,
            ".json"
        ))
    };
}

/// Objects nest at most this deep (a `Secret` holds `SecretVersion`s that hold a `Secret`…).
const MAX_DEPTH: usize = 4;

/// Where a value sits: how deep, and whether a list here may be long (only the first list on the
/// way down may be, so a case stays small: long pages of short groups, or one long group).
#[derive(Clone, Copy)]
struct At {
    depth: usize,
    long_lists: bool,
}

impl At {
    fn inside(self) -> At {
        At {
            depth: self.depth + 1,
            ..self
        }
    }
}

/// The parsed schema of one exported model.
pub(crate) fn schema(text: &str) -> Json {
    serde_json::from_str(text).expect("the exported schema is JSON")
}

/// Instances of the model `schema` describes (its `$defs` resolve `$ref`s).
pub(crate) fn instances(schema: &Json) -> BoxedStrategy<Json> {
    let defs = schema.get("$defs").cloned().unwrap_or(Json::Null);
    let top = At {
        depth: 0,
        long_lists: true,
    };
    generate(schema, &defs, top)
}

fn generate(node: &Json, defs: &Json, at: At) -> BoxedStrategy<Json> {
    if let Some(reference) = node.get("$ref").and_then(Json::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        return generate(&defs[name], defs, at);
    }
    if let Some(alternatives) = node.get("anyOf").and_then(Json::as_array) {
        return Union::new(alternatives.iter().map(|alt| generate(alt, defs, at))).boxed();
    }
    if let Some(values) = node.get("enum").and_then(Json::as_array) {
        return prop::sample::select(values.clone()).boxed();
    }
    match node.get("type").and_then(Json::as_str) {
        Some("object") => object(node, defs, at),
        Some("array") => list(&node["items"], defs, at),
        Some("string") if node.get("format").and_then(Json::as_str) == Some("date-time") => {
            (2000u32..2100, 1u32..13, 1u32..29)
                .prop_map(|(y, m, d)| Json::from(format!("{y}-{m:02}-{d:02}T10:20:30.000Z")))
                .boxed()
        }
        Some("string") => any::<String>().prop_map(Json::from).boxed(),
        Some("integer") => prop_oneof![any::<i64>(), -3i64..1000]
            .prop_map(Json::from)
            .boxed(),
        Some("number") => prop_oneof![
            (-3i64..1000).prop_map(Json::from),
            (-1e12f64..1e12).prop_map(Json::from)
        ]
        .boxed(),
        Some("boolean") => any::<bool>().prop_map(Json::from).boxed(),
        Some("null") => Just(Json::Null).boxed(),
        // `Any` in the SDK: whatever JSON.
        _ => any_json(2),
    }
}

/// Required properties always, optional ones absent or generated (which may be `null`), plus up
/// to three extra fields where the model allows them (every SDK model does).
fn object(node: &Json, defs: &Json, at: At) -> BoxedStrategy<Json> {
    let required: Vec<&str> = node
        .get("required")
        .and_then(Json::as_array)
        .map(|names| names.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let properties = node
        .get("properties")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    let fields: Vec<BoxedStrategy<Option<(String, Json)>>> = properties
        .iter()
        .map(|(name, property)| {
            let value = generate(property, defs, at.inside());
            let name = name.clone();
            if required.contains(&name.as_str()) {
                value
                    .prop_map(move |value| Some((name.clone(), value)))
                    .boxed()
            } else if at.depth >= MAX_DEPTH {
                Just(None).boxed()
            } else {
                prop_oneof![
                    Just(None),
                    value.prop_map(move |value| Some((name.clone(), value)))
                ]
                .boxed()
            }
        })
        .collect();
    let extra = if node.get("additionalProperties") == Some(&Json::Bool(true)) {
        prop::collection::btree_map("extra[A-Za-z]{0,6}", any_json(1), 0..3).boxed()
    } else {
        Just(Default::default()).boxed()
    };
    (fields, extra)
        .prop_map(|(fields, extra)| {
            let mut object: Map<String, Json> = extra.into_iter().collect();
            object.extend(fields.into_iter().flatten());
            Json::Object(object)
        })
        .boxed()
}

/// Short lists, and now and then a long one (see [`At`]).
fn list(items: &Json, defs: &Json, at: At) -> BoxedStrategy<Json> {
    if at.depth >= MAX_DEPTH {
        return Just(Json::Array(Vec::new())).boxed();
    }
    let item = generate(
        items,
        defs,
        At {
            long_lists: false,
            ..at
        },
    );
    let lengths = if at.long_lists {
        prop_oneof![4 => 0usize..4, 1 => 50usize..90].boxed()
    } else {
        (0usize..3).boxed()
    };
    lengths
        .prop_flat_map(move |length| prop::collection::vec(item.clone(), length))
        .prop_map(Json::Array)
        .boxed()
}

/// Any JSON value, nested at most `depth` deep.
fn any_json(depth: u32) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<String>().prop_map(Json::from),
    ];
    leaf.prop_recursive(depth, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            prop::collection::btree_map(".{0,4}", inner, 0..3)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
    .boxed()
}

/// What the client makes of `json`, or its refusal as the client reports it.
fn decode<W: DeserializeOwned>(json: &Json) -> Result<W, String> {
    serde_json::from_value(json.clone()).map_err(|error| error.to_string())
}

fn text(json: &Json) -> Option<&str> {
    json.as_str()
}

/// The group's fields as the client must read them from `json`.
fn check_group(json: &Json, group: &SecretGroup) -> Result<(), TestCaseError> {
    prop_assert_eq!(Some(group.id.as_str()), text(&json["id"]));
    prop_assert_eq!(Some(group.fqn.as_str()), text(&json["fqn"]));
    prop_assert_eq!(Some(group.tenant_name.as_str()), text(&json["tenantName"]));
    prop_assert_eq!(
        group.integration_id.as_deref(),
        text(&json["integrationId"])
    );
    let subject = &json["createdBySubject"];
    let created_by = match (text(&subject["subjectType"]), text(&subject["subjectSlug"])) {
        (Some(kind), Some(slug)) => Some(format!("{kind}:{slug}")),
        _ => None,
    };
    prop_assert_eq!(&group.created_by, &created_by);
    let sent = json["associatedSecrets"].as_array().expect("required list");
    prop_assert_eq!(group.associated_secrets.len(), sent.len());
    for (read, sent) in group.associated_secrets.iter().zip(sent) {
        prop_assert_eq!(Some(read.id.as_str()), text(&sent["id"]));
        prop_assert_eq!(Some(read.name.as_str()), text(&sent["name"]));
        prop_assert_eq!(Some(read.fqn.as_str()), text(&sent["fqn"]));
    }
    // No `name` in the model: the part of the FQN after the tenant.
    let from_fqn = group.fqn.split_once(':').map(|(_, name)| name);
    if let Some(name) = from_fqn {
        prop_assert_eq!(group.name.as_deref(), Some(name));
    }
    Ok(())
}

/// A group answer decodes exactly when the schema's instance has both `id` and `fqn` (see the
/// module's note); otherwise the error names the missing one.
fn check_group_answer(
    json: &Json,
    decoded: Result<SecretGroup, String>,
) -> Result<(), TestCaseError> {
    let missing = ["id", "fqn"]
        .into_iter()
        .find(|field| !json[field].is_string());
    match (missing, decoded) {
        (None, Ok(group)) => check_group(json, &group),
        (Some(field), Err(error)) => {
            prop_assert!(
                error.contains(&format!("`{field}`")) || error.contains("null"),
                "{error}"
            );
            Ok(())
        }
        (None, Err(error)) => Err(TestCaseError::fail(format!(
            "refused a valid group: {error}"
        ))),
        (Some(field), Ok(_)) => Err(TestCaseError::fail(format!("a group without {field}"))),
    }
}

fn check_secret(json: &Json, secret: &Secret) -> Result<(), TestCaseError> {
    prop_assert_eq!(Some(secret.id.as_str()), text(&json["id"]));
    prop_assert_eq!(Some(secret.fqn.as_str()), text(&json["fqn"]));
    prop_assert_eq!(Some(secret.name.as_str()), text(&json["name"]));
    prop_assert_eq!(
        Some(secret.secret_group_id.as_str()),
        text(&json["secretGroupId"])
    );
    prop_assert_eq!(
        secret.value.as_ref().map(SecretValue::expose),
        text(&json["value"])
    );
    let versions = json["secretVersions"].as_array().into_iter().flatten();
    let latest = versions
        .filter_map(|version| version["version"].as_f64())
        .filter(|number| number.fract() == 0.0 && number.abs() < i64::MAX as f64)
        .map(|number| number as i64)
        .max();
    prop_assert_eq!(secret.latest_version, latest);
    let count = json["activeDeploymentsCount"]
        .as_i64()
        .and_then(|n| u64::try_from(n).ok());
    prop_assert_eq!(secret.active_deployments, count);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_session_the_sdk_allows_is_read(json in instances(&schema(sdk_schema!("Session")))) {
        let session = decode::<WireSession>(&json).map(Session::from);
        let session = session.map_err(|error| TestCaseError::fail(format!("refused: {error}")))?;
        let subject = format!(
            "{}:{}",
            text(&json["subjectType"]).unwrap_or_default(),
            text(&json["subjectSlug"]).unwrap_or_default()
        );
        prop_assert_eq!(&session.subject, &subject);
        let tenant = text(&json["tenantName"]).filter(|tenant| !tenant.is_empty());
        prop_assert_eq!(session.tenant_name.as_deref(), tenant);
        let roles: Vec<&str> = json["roles"].as_array().unwrap().iter().filter_map(text).collect();
        prop_assert_eq!(&session.roles, &roles);
        let teams: Vec<&str> = json["teams"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|team| text(&team["name"]))
            .collect();
        prop_assert_eq!(&session.teams, &teams);
    }

    #[test]
    fn every_secret_group_answer_the_sdk_allows_is_read(
        json in instances(&schema(sdk_schema!("GetSecretGroupResponse")))
    ) {
        let decoded = decode::<Envelope<WireSecretGroup>>(&json).map(|e| SecretGroup::from(e.data));
        check_group_answer(&json["data"], decoded)?;
    }

    #[test]
    fn every_secret_group_page_the_sdk_allows_is_read(
        json in instances(&schema(sdk_schema!("ListSecretGroupResponse")))
    ) {
        let decoded = decode::<Page<WireSecretGroup>>(&json);
        let groups = json["data"].as_array().unwrap();
        match decoded {
            Ok(page) => {
                prop_assert_eq!(page.data.len(), groups.len());
                for (wire, sent) in page.data.into_iter().zip(groups) {
                    check_group_answer(sent, Ok(SecretGroup::from(wire)))?;
                }
                let total = page.pagination.and_then(|p| p.total());
                prop_assert_eq!(total, json["pagination"]["total"].as_u64());
            }
            Err(error) => {
                // Only a group without `id` or `fqn` is refused.
                let incomplete = groups.iter().find(|g| !g["id"].is_string() || !g["fqn"].is_string());
                prop_assert!(incomplete.is_some(), "refused a valid page: {}", error);
                check_group_answer(incomplete.unwrap(), Err(error))?;
            }
        }
    }

    #[test]
    fn every_secret_answer_the_sdk_allows_is_read(
        json in instances(&schema(sdk_schema!("GetSecretResponse")))
    ) {
        let secret = decode::<Envelope<WireSecret>>(&json).map(|e| Secret::from(e.data));
        let secret = secret.map_err(|error| TestCaseError::fail(format!("refused: {error}")))?;
        check_secret(&json["data"], &secret)?;
    }

    #[test]
    fn every_secret_page_the_sdk_allows_is_read(
        json in instances(&schema(sdk_schema!("ListSecretsResponse")))
    ) {
        let page = decode::<Page<WireSecret>>(&json)
            .map_err(|error| TestCaseError::fail(format!("refused: {error}")))?;
        let sent = json["data"].as_array().unwrap();
        prop_assert_eq!(page.data.len(), sent.len());
        for (wire, json) in page.data.into_iter().zip(sent) {
            check_secret(json, &Secret::from(wire))?;
        }
    }

    /// Every error body the SDK allows (`HttpError`), under each status the API refuses with,
    /// becomes that status's error and quotes the body's message (as far as the cut every shown
    /// server text gets); never a panic.
    #[test]
    fn every_error_body_the_sdk_allows_is_read(
        json in instances(&schema(sdk_schema!("HttpError"))),
        status in prop::sample::select(vec![400u16, 401, 403, 404, 409, 422, 424, 500, 503]),
    ) {
        let body = serde_json::to_vec(&json).unwrap();
        let site = CallSite { method: "GET", path: "/v1/secret-groups" };
        let error = status_error(site, status, 1, &body, &Secrets::new([], None));
        let kind_matches = match status {
            400 | 422 => matches!(error, Error::Validation { .. }),
            401 => matches!(error, Error::Unauthorized { .. }),
            403 => matches!(error, Error::Forbidden { .. }),
            404 => matches!(error, Error::NotFound { .. }),
            409 => matches!(error, Error::Conflict { .. }),
            424 => matches!(error, Error::DependencyFailed { .. }),
            _ => matches!(error, Error::Server { .. }),
        };
        prop_assert!(kind_matches, "status {} became {:?}", status, error);
        let message = json["message"].as_str().unwrap().trim();
        let quoted: String = message.chars().take(40).collect();
        prop_assert!(error.to_string().contains(&quoted), "{:?} not in {}", quoted, error);
    }

    /// What the schema forbids — a required field missing or of another type — is refused,
    /// naming the field when it is missing; never a panic.
    #[test]
    fn what_the_sdk_forbids_is_refused_with_the_field_named(
        json in instances(&schema(sdk_schema!("Secret"))),
        field in prop::sample::select(vec!["id", "fqn", "name", "secretGroupId"]),
        replacement in prop_oneof![Just(None), Just(Some(Json::Null)), Just(Some(Json::from(7)))],
    ) {
        let mut json = json;
        let object = json.as_object_mut().unwrap();
        match &replacement {
            None => { object.remove(field); }
            Some(value) => { object.insert(field.to_owned(), value.clone()); }
        }
        let error = match decode::<WireSecret>(&json) {
            Ok(_) => return Err(TestCaseError::fail(format!("accepted a secret whose {field} is {replacement:?}"))),
            Err(error) => error,
        };
        if replacement.is_none() {
            prop_assert!(error.contains(&format!("missing field `{field}`")), "{}", error);
        } else {
            prop_assert!(error.contains("expected a string"), "{}", error);
        }
    }
}

#[test]
fn every_subject_type_of_the_sdk_is_read() {
    let session = schema(sdk_schema!("Session"));
    let kinds = session["$defs"]["SubjectType"]["enum"].as_array().unwrap();
    assert!(kinds.len() >= 8, "{kinds:?}");
    for kind in kinds {
        let kind = kind.as_str().unwrap();
        let json = serde_json::json!({
            "id": "u1", "subjectSlug": "someone", "subjectType": kind, "roles": [],
            "teams": [], "accounts": [], "effectiveUserId": "u1"
        });
        let session = decode::<WireSession>(&json).map(Session::from).unwrap();
        assert_eq!(session.subject, format!("{kind}:someone"));
    }
}
