//! Plausible alternative behaviours of the real API (`--variant NAME`, or `variants` in the
//! configuration file). The public reference leaves these open, and the emulator's defaults are
//! only one guess: a client must keep its promises under each of them.

use std::fmt;

use anyhow::bail;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use super::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Secrets in lists carry no `secretVersions` (a single secret's answer still does).
    NoListVersions,
    /// Version numbers jump by a random amount with each write instead of counting up by one.
    SparseVersions,
    /// A created group lists its creator as `secret-group-admin` among its collaborators.
    CreatorCollaborator,
    /// A manifest without `ownedBy` gets the caller's account filled in.
    ServerOwnedBy,
    /// Group objects carry no `name`, only `fqn` (the API definition's current shape).
    NoGroupName,
    /// Every object of every answer carries fields no client has seen.
    ExtraFields,
    /// A manifest may leave out `collaborators`, and every subject kind of the API definition
    /// is accepted.
    LenientManifest,
}

impl Variant {
    pub const ALL: [Variant; 7] = [
        Variant::NoListVersions,
        Variant::SparseVersions,
        Variant::CreatorCollaborator,
        Variant::ServerOwnedBy,
        Variant::NoGroupName,
        Variant::ExtraFields,
        Variant::LenientManifest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::NoListVersions => "no-list-versions",
            Variant::SparseVersions => "sparse-versions",
            Variant::CreatorCollaborator => "creator-collaborator",
            Variant::ServerOwnedBy => "server-owned-by",
            Variant::NoGroupName => "no-group-name",
            Variant::ExtraFields => "extra-fields",
            Variant::LenientManifest => "lenient-manifest",
        }
    }

    /// The variant called `name`; an unknown name is an error listing the known ones.
    pub fn parse(name: &str) -> anyhow::Result<Variant> {
        match Variant::ALL.into_iter().find(|v| v.name() == name) {
            Some(variant) => Ok(variant),
            None => bail!(
                "unknown variant {name:?}; known variants: {}",
                Variant::ALL.map(Variant::name).join(", ")
            ),
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fields the `extra-fields` variant adds to every answer object: one of each JSON kind, with
/// names a client could plausibly meet in a newer API.
fn extra_fields() -> [(&'static str, Value); 5] {
    [
        (
            "labels",
            json!({"team": "platform", "nested": {"depth": 2}}),
        ),
        ("etag", json!("W/\"emulator-extra\"")),
        ("revision", json!(7.5)),
        ("deprecatedAliases", json!(["old-name", 3, null])),
        ("archivedAt", Value::Null),
    ]
}

/// Adds [`extra_fields`] to `value` and to every object inside it; existing fields win.
fn add_extra_fields_to(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for child in object.values_mut() {
                add_extra_fields_to(child);
            }
            for (name, extra) in extra_fields() {
                object.entry(name).or_insert(extra);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_extra_fields_to),
        _ => {}
    }
}

/// Middleware on the API routes: under `extra-fields`, rewrites every JSON answer.
pub(crate) async fn extra_fields_layer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if !state.has(Variant::ExtraFields) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    add_extra_fields_to(&mut value);
    let text = serde_json::to_vec(&value).expect("a JSON value always serializes");
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for variant in Variant::ALL {
            assert_eq!(Variant::parse(variant.name()).unwrap(), variant);
        }
        let error = Variant::parse("no-versions").unwrap_err().to_string();
        assert!(error.contains("\"no-versions\""), "{error}");
        for variant in Variant::ALL {
            assert!(error.contains(variant.name()), "{error}");
        }
    }

    #[test]
    fn extra_fields_reach_every_object_and_never_replace_a_field() {
        let mut value = json!({"data": [{"id": "a", "etag": "mine", "inner": {"x": 1}}], "n": 1});
        add_extra_fields_to(&mut value);
        assert_eq!(value["data"][0]["etag"], "mine");
        assert_eq!(value["data"][0]["inner"]["revision"], 7.5);
        assert_eq!(value["labels"]["team"], "platform");
        assert_eq!(value["data"][0]["id"], "a");
        assert_eq!(value["n"], 1);
    }
}
