//! A server that answers at `host` however a test's handler likes: a proxy that echoes, a
//! gateway that lies, a pager that never ends. Unlike `stub::Stub`, each answer is computed from
//! the request (body, `Authorization` header), not canned; it is served by `stub::Server`.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::stub::Server;

/// One request as the handler sees it; the path is below `/api/svc`.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: String,
    /// The bearer token sent, without `Bearer `.
    pub token: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    /// `method path` as one string, for matching: `"GET /v1/secret-groups"`.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// One answer: a status and a JSON (or any) body.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: Json) -> Reply {
        Reply {
            status,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            body: body.into(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// The server; stops when dropped.
pub struct Hostile {
    pub base_url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    _server: Server,
}

impl Hostile {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Hostile {
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let handler = handler.clone();
                let log = log.clone();
                async move {
                    let token = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.strip_prefix("Bearer "))
                        .unwrap_or_default()
                        .to_owned();
                    let request = Request {
                        method,
                        path: uri
                            .path()
                            .strip_prefix("/api/svc")
                            .unwrap_or(uri.path())
                            .to_owned(),
                        query: uri.query().unwrap_or_default().to_owned(),
                        token,
                        body: body.to_vec(),
                    };
                    let reply = handler(&request);
                    log.lock().unwrap().push(request);
                    let mut response: Response = (
                        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                        reply.body,
                    )
                        .into_response();
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    response
                }
            },
        );
        let server = Server::start(app);
        Hostile {
            base_url: server.base_url.clone(),
            seen,
            _server: server,
        }
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// A group as the API answers it: id `name`, tenant `acme`, no secrets.
pub fn group(name: &str) -> Json {
    json!({
        "id": name,
        "name": name,
        "fqn": format!("acme:{name}"),
        "tenantName": "acme",
        "integrationId": "int-1",
        "manifest": {
            "type": "secret-group",
            "name": name,
            "integrationFqn": "internal:aws:aws-1:secret-store:internal-secret-store",
            "collaborators": [],
        },
        "associatedSecrets": [],
    })
}

/// A session of tenant `acme` with these roles (any JSON shape).
pub fn session(roles: Json) -> Json {
    json!({
        "id": "u-1",
        "subjectSlug": "someone@acme.example",
        "subjectType": "user",
        "tenantName": "acme",
        "roles": roles,
        "effectiveUserId": "u-1",
    })
}

/// A well-behaved answer for the routes a create goes through, for handlers to fall back on:
/// a tenant admin's session, no groups listed, a manifest PUT that creates group `name`, empty
/// secret listings.
pub fn plain_answer(request: &Request) -> Reply {
    let empty_page = || Reply::json(200, json!({"data": [], "pagination": {"total": 0}}));
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/x/users/info") => Reply::json(200, session(json!(["tenant-admin"]))),
        ("GET", "/v1/secret-groups") | ("POST", "/v1/secrets") => empty_page(),
        ("PUT", "/v1/secret-groups") => {
            let name = request.json()["manifest"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Reply::json(200, json!({"data": group(&name)}))
        }
        ("GET", path) | ("PUT", path) if path.starts_with("/v1/secret-groups/") => {
            let id = &path["/v1/secret-groups/".len()..];
            Reply::json(200, json!({"data": group(id)}))
        }
        _ => Reply::json(
            404,
            json!({"statusCode": 404, "message": "no such route here"}),
        ),
    }
}
