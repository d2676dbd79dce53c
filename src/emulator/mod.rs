//! A local emulator of the TrueFoundry secret-group API (`/api/svc/v1`), for the demo, the
//! end-to-end tests and users testing their modules offline.
//!
//! It is an independent implementation of the API reference: it shares no wire types with
//! `client/`, so a field-name mistake on one side is caught by the other.
//!
//! Resolved unknowns of the reference (each marked DECISION where it is implemented):
//! secret FQNs are `tfy-secret://<tenant>:<group>:<key>` and version FQNs `<secret fqn>:<n>`;
//! every listed secret carries its versions (no values); a new key without a value is a 422;
//! `secrets: []` is a 400; changing a group's integration is a 409; `search` is a
//! case-insensitive substring of the name; the creator of a group keeps admin rights without
//! appearing in its manifest; a viewer asking for values gets 403; a store's size limit blames
//! `secrets[i].value` by position; `server-owned-by` names an API key's account after its tenant.
//!
//! Each of these is one guess. `variants.rs` plays the plausible others the reference and the
//! SDKs leave open (`--variant NAME`): no versions in lists, sparse versions, the creator listed
//! as admin, a server-filled `ownedBy`, groups without `name`, extra fields everywhere, a lenient
//! manifest with every subject kind of the API definition.

mod api;
mod config;
mod error;
mod faults;
mod invariants;
mod persist;
mod request_log;
mod serve;
mod store;
#[cfg(test)]
mod tests;
mod tls;
#[cfg(test)]
mod variant_tests;
mod variants;
mod wire;
mod workload_identity;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::{Json, Router, middleware};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    ApiKeyConfig, DEMO_INTEGRATION, DEMO_SUBJECT, DEMO_TENANT, EmulatorConfig, Faults,
    IdentityProviderConfig, IntegrationConfig, SecretValue, TenantConfig, VirtualAccountConfig,
};

pub use serve::{DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ServeLimits};
pub use variants::Variant;

use error::ApiError;
use faults::DroppableListener;
use persist::Persister;
use request_log::LogSink;
use store::{Change, Store};

/// Where the API is served; the client's base URL is the host plus `/api/svc`.
pub const API_PREFIX: &str = "/api/svc/v1";

/// Everything one emulator instance needs.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    pub config: EmulatorConfig,
    /// Where the state snapshot lives; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// The faults in effect (`new` takes them from the configuration).
    pub faults: Faults,
    /// File for the request log (appended); `None` logs to stderr.
    pub request_log: Option<PathBuf>,
    /// PEM certificate chain and PEM private key: serve HTTPS instead of HTTP. Both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Header deadline and connection cap.
    pub limits: ServeLimits,
}

impl EmulatorOptions {
    pub fn new(config: EmulatorConfig) -> Self {
        EmulatorOptions {
            faults: config.faults.clone(),
            config,
            data_dir: None,
            request_log: None,
            tls_cert: None,
            tls_key: None,
            limits: ServeLimits::default(),
        }
    }
}

/// Shared state of the handlers: a cheap handle.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

struct Shared {
    config: EmulatorConfig,
    store: Arc<Mutex<Store>>,
    /// Present with a data directory.
    persister: Option<Persister>,
    faults: Faults,
    fault_rng: Mutex<fastrand::Rng>,
    log: LogSink,
}

impl AppState {
    /// Validates the configuration, loads the data directory and opens the request log.
    pub fn new(options: EmulatorOptions) -> anyhow::Result<AppState> {
        options.config.validate()?;
        options.faults.validate()?;
        let log = LogSink::open(options.request_log.as_deref())?;
        let groups = match &options.data_dir {
            Some(dir) => persist::load(dir, &options.config)?,
            None => Vec::new(),
        };
        let store = Arc::new(Mutex::new(Store::new(groups)));
        let persister = match &options.data_dir {
            Some(dir) => Some(Persister::start(dir, store.clone())?),
            None => None,
        };
        Ok(AppState {
            shared: Arc::new(Shared {
                fault_rng: Mutex::new(fastrand::Rng::with_seed(options.faults.seed)),
                faults: options.faults,
                config: options.config,
                store,
                persister,
                log,
            }),
        })
    }

    /// Applies a change (see `Store::commit`) and, with a data directory, answers once it is
    /// saved.
    async fn commit<T>(
        &self,
        change: impl FnOnce(&mut Change<'_>) -> Result<(T, bool), ApiError>,
    ) -> Result<T, ApiError> {
        let (value, generation, changed) = {
            let mut store = self.store();
            let before = store.generation();
            let value = store.commit(change)?;
            (value, store.generation(), store.generation() != before)
        };
        if let (true, Some(persister)) = (changed, &self.shared.persister) {
            persister.saved(generation).await?;
        }
        Ok(value)
    }

    /// Whether the API plays `variant`.
    fn has(&self, variant: Variant) -> bool {
        self.shared.config.has(variant)
    }

    /// The store, locked for one request. Handlers never hold it across an `.await`.
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic under the lock is a bug in one request; later requests keep being served
        // rather than all failing on the poisoned lock.
        self.shared
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The emulator's routes: the API under `/api/svc/v1` (logged, with faults) and `/health`.
pub fn app(state: AppState) -> Router {
    let api = api::routes()
        .layer(middleware::from_fn_with_state(
            state.clone(),
            variants::extra_fields_layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_log::record,
        ));
    Router::new()
        .nest(API_PREFIX, api)
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .fallback(api::unknown_route)
        .with_state(state)
}

/// Starts an emulator on a free port of 127.0.0.1.
pub async fn spawn(options: EmulatorOptions) -> anyhow::Result<RunningEmulator> {
    spawn_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), options).await
}

/// Starts an emulator on `addr` (port 0 picks a free one).
pub async fn spawn_on(
    addr: SocketAddr,
    options: EmulatorOptions,
) -> anyhow::Result<RunningEmulator> {
    let acceptor = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("a TLS certificate needs its key, and a key its certificate"),
    };
    options.limits.validate()?;
    let limits = options.limits;
    let state = AppState::new(options)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let app = app(state);
    let listener = DroppableListener(listener);
    let tls = acceptor.is_some();
    // Accept errors are retried inside the listeners, so a server ends only on shutdown.
    let task = match acceptor {
        Some(acceptor) => {
            let listener = tls::TlsListener::new(listener, acceptor);
            tokio::spawn(serve::serve(listener, app, limits, stopped))
        }
        None => tokio::spawn(serve::serve(listener, app, limits, stopped)),
    };
    Ok(RunningEmulator {
        addr,
        tls,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A serving emulator; dropping it stops it abruptly, `shutdown` stops it gracefully.
pub struct RunningEmulator {
    pub addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT` (`https://` when serving TLS), without the `/api/svc` prefix.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish (up to 5 s), then stops.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
