//! The emulator binary as a test backend: started as its own process (as users run it), with a
//! request log the tests read, and a blocking API client for changes "outside Terraform".

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tempfile::TempDir;
use truefoundry_provider::client::{Client, ClientConfig, Secret, SecretValue};
use truefoundry_provider::emulator::{EmulatorOptions, RunningEmulator};

/// Tenant-admin keys of the two tenants every emulator here has.
pub const ACME_KEY: &str = "tfy-test-acme-admin";
pub const GLOBEX_KEY: &str = "tfy-test-globex-admin";
pub const ACME_VIEWER_KEY: &str = "tfy-test-acme-viewer";
pub const DEFAULT_INTEGRATION: &str = "internal:aws:aws-1:secret-store:internal-secret-store";

/// The emulator binary, started with [`Emulator::start`] or [`Emulator::builder`]. Its data
/// directory, request log and port outlive the process: [`Emulator::restart`] starts it again
/// on the same port, as a server that crashed and came back.
pub struct Emulator {
    /// `None` between [`Emulator::kill`] and [`Emulator::restart`].
    child: Option<Child>,
    pub base_url: String,
    /// The loopback port: free when first started, the same after every restart.
    pub port: u16,
    dir: TempDir,
    config: PathBuf,
    args: Vec<String>,
    runtime: tokio::runtime::Runtime,
}

/// One line of the emulator's request log.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    /// Who the request's bearer token was, when the emulator knew it.
    pub subject: Option<String>,
    pub keys: Vec<String>,
    pub keys_with_value: Vec<String>,
    /// Keys whose values a listing's answer carried.
    pub values_returned: Vec<String>,
    /// The fault the emulator injected into this request, if any.
    pub fault: Option<String>,
    pub user_agent: String,
    /// A manifest PUT sent with `dryRun`: checked by the server, stored nowhere.
    pub dry_run: bool,
}

impl LoggedRequest {
    /// One line of the emulator's request log (JSON).
    pub fn from_log_json(j: &Json) -> LoggedRequest {
        let strings = |name: &str| -> Vec<String> {
            j[name]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        LoggedRequest {
            method: j["method"].as_str().unwrap_or_default().to_owned(),
            path: j["path"].as_str().unwrap_or_default().to_owned(),
            status: j["status"].as_u64().map(|s| s as u16),
            subject: j["subject"].as_str().map(str::to_owned),
            keys: strings("keys"),
            keys_with_value: strings("keys_with_value"),
            values_returned: strings("values_returned"),
            fault: j["fault"].as_str().map(str::to_owned),
            user_agent: j["user_agent"].as_str().unwrap_or_default().to_owned(),
            dry_run: j["dry_run"].as_bool().unwrap_or(false),
        }
    }

    /// True for a request that may change what the server stores; a dry run never does.
    pub fn is_write(&self) -> bool {
        !self.dry_run
            && (matches!(self.method.as_str(), "PUT" | "DELETE")
                || (self.method == "POST" && !self.path.ends_with("/v1/secrets")))
    }

    /// A manifest PUT that writes (not a plan's dry run).
    pub fn is_manifest_put(&self) -> bool {
        self.method == "PUT" && self.path == "/api/svc/v1/secret-groups" && !self.dry_run
    }

    /// The id of the group whose full key list this request sends (`PUT
    /// /v1/secret-groups/{id}`); `None` for any other request.
    pub fn full_list_put_group(&self) -> Option<&str> {
        if self.method != "PUT" {
            return None;
        }
        self.path.strip_prefix("/api/svc/v1/secret-groups/")
    }

    /// `POST /v1/secrets`: a listing of keys, or of the values of keys selected by FQN.
    pub fn is_secrets_list(&self) -> bool {
        self.method == "POST" && self.path == "/api/svc/v1/secrets"
    }

    /// Answered with a success status.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The full-list PUTs among `requests`, in order: each sends one group's whole key list.
pub fn full_list_puts(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests
        .iter()
        .filter(|r| r.full_list_put_group().is_some())
        .collect()
}

pub fn config_json() -> Json {
    json!({
        "tenants": [{"name": "acme"}, {"name": "globex"}],
        "integrations": [
            {"tenant": "acme", "fqn": DEFAULT_INTEGRATION},
            {"tenant": "acme", "fqn": "acme:aws:main:secret-store:ssm"},
            {"tenant": "globex", "fqn": DEFAULT_INTEGRATION},
        ],
        "api_keys": [
            {"token": ACME_KEY, "tenant": "acme", "subject": "user:admin@acme.example", "tenant_admin": true},
            {"token": GLOBEX_KEY, "tenant": "globex", "subject": "user:admin@globex.example", "tenant_admin": true},
            {"token": ACME_VIEWER_KEY, "tenant": "acme", "subject": "user:viewer@acme.example", "tenant_admin": false},
        ],
    })
}

/// How an emulator starts: this suite's configuration (tenants acme and globex) unless told
/// otherwise, an empty data directory unless given a snapshot, and any extra flags.
#[must_use = "an emulator starts only with `start`"]
pub struct EmulatorBuilder {
    config: Json,
    config_file: Option<PathBuf>,
    snapshot: Option<PathBuf>,
    args: Vec<String>,
}

impl EmulatorBuilder {
    /// Extra command-line flags (`--variant`, `--fault-…`), kept for restarts.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    /// `config` instead of this suite's configuration.
    pub fn config(mut self, config: Json) -> Self {
        self.config = config;
        self
    }

    /// The user's configuration file `path` (tenants, integrations, API keys) instead of this
    /// suite's, as a user would run it.
    pub fn config_file(mut self, path: &Path) -> Self {
        self.config_file = Some(path.to_owned());
        self
    }

    /// `counts` as the configuration's `active_deployments`: the deployments referencing each
    /// secret, by `tfy-secret://` FQN.
    pub fn active_deployments(mut self, counts: &[(&str, u32)]) -> Self {
        self.config["active_deployments"] = counts
            .iter()
            .map(|(fqn, count)| ((*fqn).to_owned(), json!(count)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        self
    }

    /// A data directory holding `snapshot` (a `state.json` an emulator wrote earlier, with the
    /// journal beside it), so groups made by an earlier run exist with their ids.
    pub fn snapshot(mut self, snapshot: &Path) -> Self {
        self.snapshot = Some(snapshot.to_owned());
        self
    }

    /// Starts the binary on a free loopback port.
    pub fn start(self) -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(snapshot) = &self.snapshot {
            std::fs::create_dir_all(dir.path().join("data")).unwrap();
            std::fs::copy(snapshot, dir.path().join("data").join("state.json"))
                .expect("copy the emulator snapshot");
            // Changes since the snapshot live in the journal beside it.
            let journal = snapshot.with_file_name("journal.jsonl");
            if journal.exists() {
                std::fs::copy(&journal, dir.path().join("data").join("journal.jsonl"))
                    .expect("copy the emulator journal");
            }
        }
        let config = match self.config_file {
            Some(config) => config,
            None => {
                let own = dir.path().join("emulator.json");
                std::fs::write(&own, self.config.to_string()).unwrap();
                own
            }
        };
        let mut emulator = Emulator {
            child: None,
            base_url: String::new(),
            port: 0,
            dir,
            config,
            args: self.args,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        };
        emulator.spawn();
        emulator
    }
}

impl Emulator {
    /// The emulator with this suite's tenants and nothing else.
    pub fn start() -> Emulator {
        Self::builder().start()
    }

    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            config: config_json(),
            config_file: None,
            snapshot: None,
            args: Vec::new(),
        }
    }

    /// A new emulator holding this one's groups (its saved snapshot) whose configuration says
    /// `counts` deployments use these secrets: as if deployments came to use them in between.
    pub fn successor_with_active_deployments(&self, counts: &[(&str, u32)]) -> Emulator {
        Self::builder()
            .snapshot(&self.dir().join("data").join("state.json"))
            .active_deployments(counts)
            .start()
    }

    /// SIGKILL: no chance to flush anything that was not already acknowledged.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same port, configuration, flags, data directory and request log.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts the process, on a free port the first time and on the same port after a kill.
    fn spawn(&mut self) {
        // A port closed a moment ago may refuse a new listener briefly: try for a few seconds.
        let mut said = String::new();
        for _ in 0..50 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(line) => said = line,
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the emulator does not start on port {} (its first line: {said:?}; stderr in {})",
            self.port,
            self.stderr_path().display()
        );
    }

    /// One attempt; `Err` holds what the process printed instead of its address.
    fn try_spawn(&mut self) -> Result<(), String> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--config")
            .arg(&self.config)
            .arg("--request-log")
            .arg(self.log_path())
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("the emulator binary starts");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let Some(base_url) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(line);
        };
        let port = base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the address");
        assert!(
            self.port == 0 || self.port == port,
            "restarted on another port"
        );
        self.port = port;
        self.base_url = base_url;
        self.child = Some(child);
        Ok(())
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("requests.log")
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("emulator.stderr")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every request logged so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Json>(line).ok())
            .map(|j| LoggedRequest::from_log_json(&j))
            .collect()
    }

    /// Requests logged after the first `mark` ones (`mark` = `requests().len()` taken earlier).
    pub fn requests_since(&self, mark: usize) -> Vec<LoggedRequest> {
        self.requests().into_iter().skip(mark).collect()
    }

    /// Requests after the first `mark` ones that may have changed what the server stores.
    pub fn writes_since(&self, mark: usize) -> Vec<LoggedRequest> {
        self.requests_since(mark)
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect()
    }

    pub fn mark(&self) -> usize {
        self.requests().len()
    }

    /// The requests after the first `mark` ones that carried values: the keys with a value, per
    /// request.
    pub fn values_sent_since(&self, mark: usize) -> Vec<Vec<String>> {
        self.requests_since(mark)
            .into_iter()
            .filter(|r| !r.keys_with_value.is_empty())
            .map(|r| r.keys_with_value)
            .collect()
    }

    /// Waits until a line after `mark` satisfies `wanted`; `None` after `timeout`.
    pub fn wait_for(
        &self,
        mark: usize,
        timeout: Duration,
        wanted: impl Fn(&LoggedRequest) -> bool,
    ) -> Option<LoggedRequest> {
        self.wait_for_count(mark, timeout, 1, wanted)
            .and_then(|found| found.into_iter().next())
    }

    /// Waits until `count` lines after `mark` satisfy `wanted` and returns them; `None` after
    /// `timeout`.
    pub fn wait_for_count(
        &self,
        mark: usize,
        timeout: Duration,
        count: usize,
        wanted: impl Fn(&LoggedRequest) -> bool,
    ) -> Option<Vec<LoggedRequest>> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let found: Vec<LoggedRequest> = self
                .requests()
                .into_iter()
                .skip(mark)
                .filter(|l| wanted(l))
                .collect();
            if found.len() >= count {
                return Some(found);
            }
            thread::sleep(Duration::from_millis(3));
        }
        None
    }

    /// The id of group `name` of tenant acme, looked up with the tenant admin's key.
    pub fn group_id(&self, name: &str) -> String {
        let client = self.client(ACME_KEY);
        self.block_on(client.find_secret_group_by_fqn(&format!("acme:{name}")))
            .expect("look the group up")
            .expect("the group exists")
            .id
    }

    /// An API client for the given key, for changes made "outside Terraform".
    pub fn client(&self, api_key: &str) -> Client {
        Client::new(ClientConfig {
            host: self.base_url.clone(),
            api_key: SecretValue::new(api_key),
            max_retries: 2,
            request_timeout: Duration::from_secs(10),
            ca_cert_pem: None,
            terraform_version: "test".to_owned(),
        })
        .expect("client")
    }

    /// Runs an API call to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The secrets of the tenant-acme group named `name` with their values and versions, read
    /// through the API; `None` when there is no such group.
    pub fn secrets_of(&self, name: &str) -> Option<Vec<Secret>> {
        let client = self.client(ACME_KEY);
        self.block_on(async {
            let group = client
                .find_secret_group_by_fqn(&format!("acme:{name}"))
                .await
                .unwrap()?;
            let secrets = client
                .list_secrets(&truefoundry_provider::client::ListSecretsQuery {
                    secret_group_id: Some(group.id.clone()),
                    secret_fqns: Vec::new(),
                    with_value: true,
                })
                .await
                .unwrap();
            Some(secrets)
        })
    }

    /// Keys and values of the tenant-acme group named `name`; `None` when there is no such group.
    pub fn secret_values(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let secrets = self.secrets_of(name)?;
        let values = secrets.into_iter().map(|s| {
            (
                s.name,
                s.value.map(|v| v.expose().to_owned()).unwrap_or_default(),
            )
        });
        Some(values.collect())
    }

    /// Keys and latest versions of the tenant-acme group named `name`; `None` when there is no
    /// such group.
    pub fn secret_versions(&self, name: &str) -> Option<BTreeMap<String, Option<i64>>> {
        let secrets = self.secrets_of(name)?;
        Some(
            secrets
                .into_iter()
                .map(|s| (s.name, s.latest_version))
                .collect(),
        )
    }

    /// Environment for Terraform: the provider reaches this emulator as tenant `acme`.
    pub fn provider_env(&self) -> Vec<(String, String)> {
        vec![
            ("TFY_HOST".to_owned(), self.base_url.clone()),
            ("TFY_API_KEY".to_owned(), ACME_KEY.to_owned()),
        ]
    }

    /// A workspace holding `files` (name, contents) whose default provider reaches this
    /// emulator as tenant `acme` (through [`Self::provider_env`]).
    pub fn workspace(
        &self,
        terraform: &super::terraform::Terraform,
        files: &[(&str, &str)],
    ) -> super::terraform::Workspace {
        let mut ws = super::terraform::Workspace::with_files(terraform, files);
        self.set_provider_env(&mut ws);
        ws
    }

    /// Points `ws`'s default provider at this emulator as tenant `acme` (replacing any earlier
    /// emulator's address and key).
    pub fn set_provider_env(&self, ws: &mut super::terraform::Workspace) {
        for (key, value) in self.provider_env() {
            ws.set_env(key, value);
        }
    }
}

/// A workspace whose configuration is `main_tf` and whose default provider reaches `emulator` as
/// tenant `acme`: what most tests here start from.
pub fn workspace(
    terraform: &super::terraform::Terraform,
    emulator: &Emulator,
    main_tf: &str,
) -> super::terraform::Workspace {
    emulator.workspace(terraform, &[("main.tf", main_tf)])
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates group `name` through `client` (the API, not Terraform) with `secrets` and one viewer
/// collaborator, as a group made outside Terraform would be; returns its id.
pub async fn seed_group(client: &Client, name: &str, secrets: &[(&str, &str)]) -> String {
    let group = client
        .apply_secret_group_manifest(
            &truefoundry_provider::client::SecretGroupManifest {
                kind: "secret-group".into(),
                name: name.into(),
                integration_fqn: DEFAULT_INTEGRATION.into(),
                collaborators: vec![truefoundry_provider::client::Collaborator {
                    subject: "user:viewer@acme.example".into(),
                    role_id: "secret-group-viewer".into(),
                }],
                owned_by: None,
            },
            false,
        )
        .await
        .unwrap();
    let body: Vec<truefoundry_provider::client::SecretUpdate> = secrets
        .iter()
        .map(|(key, value)| truefoundry_provider::client::SecretUpdate {
            key: (*key).into(),
            value: Some(SecretValue::new(*value)),
        })
        .collect();
    client.set_secrets(&group.id, &body).await.unwrap();
    group.id
}

/// The emulator as a library, served in-process on a free loopback port: for the tests of the
/// emulator itself and of the API client, which need no process of their own. Without a request
/// log in `options`, it logs to a file deleted once opened (the handle stays writable), so tests
/// neither flood stderr nor leave files behind.
pub async fn in_process(mut options: EmulatorOptions) -> RunningEmulator {
    let dir = tempfile::tempdir().expect("temp dir");
    if options.request_log.is_none() {
        options.request_log = Some(dir.path().join("requests.log"));
    }
    truefoundry_provider::emulator::spawn(options)
        .await
        .expect("the emulator starts in-process")
}
