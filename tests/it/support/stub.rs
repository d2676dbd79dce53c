//! Test servers on 127.0.0.1. [`Server`] is the one way a test serves HTTP or HTTPS: every stub
//! here and elsewhere (`hostile`, `jwt`, the client's scripted stub, the release test's site) is
//! a router handed to it. [`Stub`] is a scripted stand-in for the TrueFoundry API (not the
//! emulator): well-formed answers for one group `sg-1` by default, and any route overridden with
//! any status and raw body, so tests can feed the provider's client malformed responses. It
//! records every request it saw.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio_rustls::TlsAcceptor;

use super::pki::{Pki, TlsListener};

/// A router served on a free port of 127.0.0.1, over HTTPS when started with a [`Pki`], on a
/// runtime of its own: a blocking test (the real CLI is a child process) and a `#[tokio::test]`
/// alike can use it. Handlers may extract `ConnectInfo<SocketAddr>`: the client's end of the
/// connection over HTTP, a fixed stand-in over HTTPS. It stops when dropped.
pub struct Server {
    pub base_url: String,
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// Serves `app` over plain HTTP.
    pub fn start(app: axum::Router) -> Server {
        Self::serve(app, None)
    }

    /// Serves `app` over HTTPS with a certificate `pki`'s CA signed.
    pub fn start_tls(app: axum::Router, pki: &Pki) -> Server {
        Self::serve(app, Some(pki.acceptor()))
    }

    fn serve(app: axum::Router, tls: Option<TlsAcceptor>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for a test server");
        // Bound outside the runtime, so a test already inside one may start a server.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let addr = listener.local_addr().expect("its address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        runtime.spawn(async move {
            let tcp = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            match tls {
                None => {
                    let service = app.into_make_service_with_connect_info::<SocketAddr>();
                    axum::serve(tcp, service).await
                }
                Some(acceptor) => {
                    // Only plain TCP serving knows the peer; a fixed address stands in.
                    let app = app.layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 0))));
                    axum::serve(TlsListener::new(tcp, acceptor), app).await
                }
            }
        });
        Server {
            base_url: format!("{scheme}://{addr}"),
            addr,
            runtime: Some(runtime),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

pub const GROUP_ID: &str = "sg-1";
pub const GROUP_NAME: &str = "payments-acme";
pub const GROUPS: &str = "/api/svc/v1/secret-groups";
pub const GROUP: &str = "/api/svc/v1/secret-groups/sg-1";
pub const SECRETS: &str = "/api/svc/v1/secrets";
pub const SESSION: &str = "/api/svc/v1/x/users/info";
/// The value the stub stores for key `K`: it must never appear in a diagnostic.
pub const STORED_CANARY: &str = "CANARY-stored-value-3b9e";

/// One canned answer.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Canned {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        }
    }

    pub fn raw(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Canned {
            status,
            content_type,
            body: body.into(),
        }
    }
}

#[derive(Default)]
struct State {
    /// (method, path) → answer, replacing the default.
    overrides: HashMap<(Method, String), Canned>,
    /// Every route answers with this when set (overrides still win).
    everything: Option<Canned>,
    log: Vec<(Method, String, Vec<u8>)>,
    /// (method, path) → the request it waits for before answering: see [`Stub::hold`].
    holds: HashMap<(Method, String), (Method, String)>,
    /// Held requests that saw what they waited for (the others gave up after [`HOLD_LIMIT`]).
    released_by_arrival: Vec<(Method, String)>,
}

/// How long a held request waits before answering anyway, so a test fails instead of hanging.
const HOLD_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone)]
pub struct Stub {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    /// Serving until the last clone is dropped.
    _server: Arc<Server>,
}

pub fn group_json() -> serde_json::Value {
    json!({
        "id": GROUP_ID,
        "fqn": format!("acme:{GROUP_NAME}"),
        "tenantName": "acme",
        "integrationId": "int-1",
        "manifest": {
            "type": "secret-group",
            "name": GROUP_NAME,
            "integrationFqn": "internal:aws:aws-1:secret-store:internal-secret-store",
            "collaborators": [],
        },
        "associatedSecrets": [{"id": "s-1", "fqn": format!("tfy-secret://acme:{GROUP_NAME}:K"), "name": "K"}],
    })
}

/// The session of the stub's API key: a tenant admin of `acme`.
pub fn session_json() -> serde_json::Value {
    json!({
        "id": "u-1",
        "subjectSlug": "admin@acme.example",
        "subjectType": "user",
        "tenantName": "acme",
        "roles": ["tenant-admin"],
        "effectiveUserId": "u-1",
    })
}

pub fn secret_json() -> serde_json::Value {
    json!({
        "id": "s-1",
        "fqn": format!("tfy-secret://acme:{GROUP_NAME}:K"),
        "name": "K",
        "secretGroupId": GROUP_ID,
        "value": STORED_CANARY,
        "secretVersions": [{"version": 1}],
    })
}

fn default_answer(method: &Method, path: &str) -> Canned {
    match (method.as_str(), path) {
        ("GET", GROUPS) => Canned::json(
            200,
            json!({"data": [group_json()], "pagination": {"total": 1, "offset": 0, "limit": 100}}),
        ),
        ("GET", GROUP) | ("PUT", GROUPS) | ("PUT", GROUP) => {
            Canned::json(200, json!({"data": group_json()}))
        }
        ("POST", SECRETS) => Canned::json(
            200,
            json!({"data": [secret_json()], "pagination": {"total": 1, "offset": 0, "limit": 1000}}),
        ),
        ("DELETE", GROUP) => Canned::json(200, json!({})),
        ("GET", SESSION) => Canned::json(200, session_json()),
        _ => Canned::json(
            404,
            json!({"statusCode": 404, "message": "no such route in the stub"}),
        ),
    }
}

/// The stub's group as it would sit in state, for a resource of type `ty`: every attribute null
/// but the group's own (no secret map, no collaborators).
pub fn group_state(ty: &truefoundry_provider::value::Type) -> truefoundry_provider::value::Value {
    use truefoundry_provider::value::Value;
    let mut state = crate::support::tfclient::null_object(ty);
    state.set("id", Value::string(GROUP_ID));
    state.set("name", Value::string(GROUP_NAME));
    state.set("fqn", Value::string(format!("acme:{GROUP_NAME}")));
    state.set("tenant_name", Value::string("acme"));
    state
}

/// Put into a canned body, stands for the request's body (as a JSON string's contents), as
/// APIs that echo their input in error messages do.
pub const REQUEST_BODY: &str = "@REQUEST_BODY@";

fn echo_request(canned: Vec<u8>, request: &[u8]) -> Vec<u8> {
    let marker = REQUEST_BODY.as_bytes();
    let Some(at) = canned.windows(marker.len()).position(|w| w == marker) else {
        return canned;
    };
    let quoted = serde_json::to_string(&String::from_utf8_lossy(request)).unwrap();
    let mut body = canned[..at].to_vec();
    body.extend(&quoted.as_bytes()[1..quoted.len() - 1]);
    body.extend(&canned[at + marker.len()..]);
    body
}

/// Holds a request on a held route until the request it waits for has arrived (or the limit).
async fn wait_if_held(state: &Mutex<State>, method: &Method, path: &str) {
    let key = (method.clone(), path.to_owned());
    let Some(awaited) = state.lock().unwrap().holds.get(&key).cloned() else {
        return;
    };
    let seen = |state: &State| {
        state
            .log
            .iter()
            .any(|(m, p, _)| (m, p) == (&awaited.0, &awaited.1))
    };
    let deadline = tokio::time::Instant::now() + HOLD_LIMIT;
    while tokio::time::Instant::now() < deadline {
        {
            let mut state = state.lock().unwrap();
            if seen(&state) {
                state.released_by_arrival.push(key);
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

impl Stub {
    /// Serves on a free loopback port.
    pub fn start() -> Stub {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let state = shared.clone();
            async move {
                let path = uri.path().to_owned();
                wait_if_held(&state, &method, &path).await;
                let canned = {
                    let mut state = state.lock().unwrap();
                    state
                        .log
                        .push((method.clone(), path.clone(), body.to_vec()));
                    state
                        .overrides
                        .get(&(method.clone(), path.clone()))
                        .or(state.everything.as_ref())
                        .cloned()
                        .unwrap_or_else(|| default_answer(&method, &path))
                };
                let body = echo_request(canned.body, &body);
                let mut response: Response =
                    (StatusCode::from_u16(canned.status).unwrap(), body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(canned.content_type),
                );
                response
            }
        });
        let server = Server::start(app);
        Stub {
            base_url: server.base_url.clone(),
            state,
            _server: Arc::new(server),
        }
    }

    pub fn answer(&self, method: Method, path: &str, canned: Canned) {
        self.state
            .lock()
            .unwrap()
            .overrides
            .insert((method, path.to_owned()), canned);
    }

    /// Answers `method path` only once a `awaited` request has arrived: a client that waits for
    /// the first answer before sending the second is seen giving up after [`HOLD_LIMIT`].
    pub fn hold(&self, method: Method, path: &str, awaited: (Method, &str)) {
        self.state
            .lock()
            .unwrap()
            .holds
            .insert((method, path.to_owned()), (awaited.0, awaited.1.to_owned()));
    }

    /// Held requests whose awaited request arrived while they were waiting.
    pub fn released_by_arrival(&self) -> Vec<(Method, String)> {
        self.state.lock().unwrap().released_by_arrival.clone()
    }

    pub fn answer_everything(&self, canned: Option<Canned>) {
        self.state.lock().unwrap().everything = canned;
    }

    pub fn reset(&self) {
        let mut state = self.state.lock().unwrap();
        state.overrides.clear();
        state.everything = None;
    }

    /// (method, path) of every request so far.
    pub fn requests(&self) -> Vec<(Method, String)> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect()
    }

    /// The JSON bodies of every `method path` request so far (`null` for a body that is not JSON).
    pub fn bodies(&self, method: Method, path: &str) -> Vec<serde_json::Value> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(m, p, _)| *m == method && p == path)
            .map(|(_, _, body)| serde_json::from_slice(body).unwrap_or_default())
            .collect()
    }

    pub fn request_count(&self) -> usize {
        self.state.lock().unwrap().log.len()
    }
}
