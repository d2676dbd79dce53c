//! The TrueFoundry client, tested in two suites: against scripted stub servers on 127.0.0.1
//! (`against_stubs`: the wire shape of every operation, every error class, retries, timeouts,
//! TLS roots and redaction of echoed values) and against the emulator (`against_emulator`: the
//! same client, an independent implementation of the API). Here: what both suites use.

mod against_emulator;
mod against_stubs;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use truefoundry_provider::client::{Client, ClientConfig, SecretValue};

use crate::support::pki::Pki;
use crate::support::stub::Server;

const API_KEY: &str = "tfy-test-key-0001";

/// One scripted answer of a stub server.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
    delay: Duration,
    /// Answer with the message `echo: <request body>` instead of `body`, as a careless server might.
    echo_request: bool,
}

impl Reply {
    fn json(status: u16, body: Json) -> Self {
        Reply::text(status, &body.to_string())
    }

    fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            body: body.to_owned(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            echo_request: false,
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Reply::json(status, json!({"statusCode": status, "message": message}))
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn echoing(mut self) -> Self {
        self.echo_request = true;
        self
    }
}

/// What the stub saw of one request.
#[derive(Clone, Debug)]
struct Seen {
    /// The client's end of the TCP connection the request came on.
    peer: SocketAddr,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn answer(
    State(script): State<Script>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = script.replies.lock().unwrap().pop_front();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    script.seen.lock().unwrap().push(Seen {
        peer,
        method,
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body: body.to_vec(),
    });
    let Some(reply) = reply else {
        return (StatusCode::IM_A_TEAPOT, "the stub has no more replies").into_response();
    };
    tokio::time::sleep(reply.delay).await;
    let body = if reply.echo_request {
        let message = format!("echo: {} {auth}", String::from_utf8_lossy(&body));
        json!({"statusCode": reply.status, "message": message}).to_string()
    } else {
        reply.body
    };
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), body).into_response();
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("header value"),
    );
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    response
}

/// A stub server answering every request with the next scripted reply.
struct Stub {
    server: Server,
    script: Script,
}

impl Stub {
    fn start(replies: Vec<Reply>) -> Stub {
        Self::serve(replies, None)
    }

    /// [`Self::start`] over HTTPS, with a certificate `pki`'s CA signed.
    fn start_tls(replies: Vec<Reply>, pki: &Pki) -> Stub {
        Self::serve(replies, Some(pki))
    }

    fn serve(replies: Vec<Reply>, tls: Option<&Pki>) -> Stub {
        let script = Script::default();
        script.replies.lock().unwrap().extend(replies);
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let server = match tls {
            None => Server::start(app),
            Some(pki) => Server::start_tls(app, pki),
        };
        Stub { server, script }
    }

    fn url(&self) -> String {
        self.server.base_url.clone()
    }

    fn client(&self) -> Client {
        Client::new(config(&self.url())).expect("client")
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().unwrap().clone()
    }
}

fn config(host: &str) -> ClientConfig {
    ClientConfig {
        host: host.to_owned(),
        api_key: SecretValue::new(API_KEY),
        max_retries: 2,
        request_timeout: Duration::from_secs(5),
        ca_cert_pem: None,
        terraform_version: "1.11.2".to_owned(),
    }
}

/// Every event and span field that reaches the subscriber, one formatted line each.
#[derive(Clone, Default)]
struct CapturedLog {
    lines: Arc<Mutex<Vec<String>>>,
}

struct FieldWriter<'a>(&'a mut String);

impl tracing::field::Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CapturedLog {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let metadata = event.metadata();
        let mut line = format!("{} {}", metadata.level(), metadata.target());
        event.record(&mut FieldWriter(&mut line));
        self.lines.lock().unwrap().push(line);
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = format!("span {}", attrs.metadata().name());
        attrs.record(&mut FieldWriter(&mut line));
        self.lines.lock().unwrap().push(line);
    }
}

impl CapturedLog {
    /// Captures at every level on this thread (the test runtime is single-threaded, so the
    /// client's tasks and the servers' run here too) until the guard is dropped.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::layer::SubscriberExt;
        // tracing caches per call site whether anyone listens, and while at most one subscriber
        // is registered it asks only the calling thread's default: a call site first hit by
        // another test thread would then be cached as unwanted and this capture would miss it.
        // A second registered subscriber, kept for the whole run, turns that shortcut off.
        static SECOND_SUBSCRIBER: std::sync::OnceLock<tracing::Dispatch> =
            std::sync::OnceLock::new();
        SECOND_SUBSCRIBER
            .get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()));
        // Call sites cached before this subscriber existed are asked again.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// Lines the client logged for one HTTP attempt (answered or failed).
fn attempt_lines(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|line| line.contains(" message=TrueFoundry API call"))
        .count() as u64
}
