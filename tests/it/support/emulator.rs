//! The emulator binary as a test backend: started as its own process (as users run it), with a
//! request log the tests read, and a blocking API client for changes "outside Terraform".

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tempfile::TempDir;
use truefoundry_provider::client::{Client, ClientConfig, Secret, SecretValue};

/// Tenant-admin keys of the two tenants every emulator here has.
pub const ACME_KEY: &str = "tfy-test-acme-admin";
pub const GLOBEX_KEY: &str = "tfy-test-globex-admin";
pub const ACME_VIEWER_KEY: &str = "tfy-test-acme-viewer";
pub const DEFAULT_INTEGRATION: &str = "internal:aws:aws-1:secret-store:internal-secret-store";

pub struct Emulator {
    child: Child,
    pub base_url: String,
    dir: TempDir,
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
}

/// This suite's configuration with `active_deployments`, in a file of its own (the emulator
/// reads it once, at start).
struct ConfigWithDeployments(TempDir);

impl ConfigWithDeployments {
    fn new(counts: &[(&str, u32)]) -> Self {
        let mut config = config_json();
        config["active_deployments"] = counts
            .iter()
            .map(|(fqn, count)| ((*fqn).to_owned(), json!(count)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("emulator.json"), config.to_string()).unwrap();
        ConfigWithDeployments(dir)
    }

    fn path(&self) -> PathBuf {
        self.0.path().join("emulator.json")
    }
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

impl Emulator {
    pub fn start() -> Emulator {
        Self::start_with(&[])
    }

    /// Starts the emulator binary on a free loopback port, with extra command-line arguments.
    pub fn start_with(extra_args: &[&str]) -> Emulator {
        Self::launch(extra_args, None, None)
    }

    /// Starts the emulator with this suite's tenants and `counts` as its `active_deployments`:
    /// the deployments referencing each secret, by `tfy-secret://` FQN.
    pub fn start_with_active_deployments(counts: &[(&str, u32)]) -> Emulator {
        let config = ConfigWithDeployments::new(counts);
        Self::launch(&[], None, Some(&config.path()))
    }

    /// A new emulator holding this one's groups (its saved snapshot) whose configuration says
    /// `counts` deployments use these secrets: as if deployments came to use them in between.
    pub fn successor_with_active_deployments(&self, counts: &[(&str, u32)]) -> Emulator {
        let config = ConfigWithDeployments::new(counts);
        let snapshot = self.dir().join("data").join("state.json");
        Self::launch(&[], Some(&snapshot), Some(&config.path()))
    }

    /// Starts the emulator with the user's configuration file `config` (tenants, integrations,
    /// API keys) instead of this suite's tenants acme and globex, as a user would run it.
    pub fn start_with_config(config: &Path) -> Emulator {
        Self::launch(&[], None, Some(config))
    }

    /// Starts the emulator with its data directory holding `snapshot` (a `state.json` it wrote
    /// earlier), so groups made by an earlier run exist with their ids.
    pub fn start_from_snapshot(snapshot: &Path) -> Emulator {
        Self::launch(&[], Some(snapshot), None)
    }

    /// Starts the binary; `config` is the configuration file, this suite's own when `None`.
    fn launch(extra_args: &[&str], snapshot: Option<&Path>, config: Option<&Path>) -> Emulator {
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some(snapshot) = snapshot {
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
        let config = match config {
            Some(config) => config.to_owned(),
            None => {
                let own = dir.path().join("emulator.json");
                std::fs::write(&own, config_json().to_string()).unwrap();
                own
            }
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--config")
            .arg(&config)
            .arg("--request-log")
            .arg(dir.path().join("requests.log"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("emulator.stderr")).unwrap(),
            ))
            .spawn()
            .expect("the emulator binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the emulator prints its address");
        let base_url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the emulator: {line:?}"))
            .to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Emulator {
            child,
            base_url,
            dir,
            runtime,
        }
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
        let _ = self.child.kill();
        let _ = self.child.wait();
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
