//! One JSON line per API request: time, method, path, status, caller subject, the key names a
//! request named and the key names that carried a value. Never a value, never an API key, never
//! the query string or a body.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::header::USER_AGENT;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use super::store::now;
use super::{API_PREFIX, AppState};

/// Where log lines go.
pub(crate) enum LogSink {
    Stderr,
    File(Mutex<File>),
}

impl LogSink {
    pub fn open(path: Option<&Path>) -> anyhow::Result<LogSink> {
        let Some(path) = path else {
            return Ok(LogSink::Stderr);
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the request log {}", path.display()))?;
        Ok(LogSink::File(Mutex::new(file)))
    }

    fn write_line(&self, line: &str) {
        // A lost log line must not fail the request it describes, so write errors are ignored.
        match self {
            LogSink::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            LogSink::File(file) => {
                let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let _ = file.write_all(format!("{line}\n").as_bytes());
            }
        }
    }
}

/// What handlers learn about a request and want logged; shared through request extensions.
#[derive(Clone, Default)]
pub(crate) struct LogSlot(Arc<Mutex<LogFields>>);

#[derive(Default)]
pub(crate) struct LogFields {
    pub subject: Option<String>,
    pub keys: Vec<String>,
    pub keys_with_value: Vec<String>,
    /// Keys whose values a listing's answer carried (values read, where `keys_with_value`
    /// counts values sent).
    pub values_returned: Vec<String>,
    pub dry_run: bool,
    pub fault: Option<&'static str>,
    /// The connection was closed without an answer: no status to log.
    pub dropped: bool,
}

impl LogSlot {
    pub fn update(&self, change: impl FnOnce(&mut LogFields)) {
        change(
            &mut self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }
}

#[derive(Serialize)]
struct LogLine<'a> {
    ts: String,
    method: &'a str,
    path: &'a str,
    /// `null` when the connection was dropped on purpose.
    status: Option<u16>,
    subject: Option<&'a str>,
    keys: &'a [String],
    keys_with_value: &'a [String],
    values_returned: &'a [String],
    dry_run: bool,
    fault: Option<&'static str>,
    user_agent: Option<&'a str>,
}

/// Middleware around the API routes: gives handlers a `LogSlot`, then writes the line.
pub(crate) async fn record(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let slot = LogSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().to_string();
    // Inside the nested API router the URI has lost its prefix.
    let path = format!("{API_PREFIX}{}", request.uri().path());
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;

    let fields = slot
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let line = LogLine {
        ts: now(),
        method: &method,
        path: &path,
        status: (!fields.dropped).then(|| response.status().as_u16()),
        subject: fields.subject.as_deref(),
        keys: &fields.keys,
        keys_with_value: &fields.keys_with_value,
        values_returned: &fields.values_returned,
        dry_run: fields.dry_run,
        fault: fields.fault,
        user_agent: user_agent.as_deref(),
    };
    let text = serde_json::to_string(&line).expect("a log line always serializes");
    drop(fields);
    state.shared.log.write_line(&text);
    response
}
