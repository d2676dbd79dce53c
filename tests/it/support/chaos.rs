//! Tools for the reliability tests: an emulator process that can be killed and restarted on the
//! same port and data directory, its raw request log (with the `fault` and `user_agent` fields),
//! Terraform started in the background, and the provider processes it starts, found by /proc.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tempfile::TempDir;
use truefoundry_provider::client::{
    Client, ClientConfig, ListGroupsQuery, ListSecretsQuery, SecretValue,
};

use super::terraform::Workspace;

/// The tenant-admin key of tenant `acme`, the only tenant here.
pub const ADMIN_KEY: &str = "tfy-chaos-acme-admin";
/// The Terraform version this module's API client claims in its User-Agent, which tells its
/// requests apart from the provider's in the request log.
const CHECKER_AGENT_VERSION: &str = "reliability-checker";

/// The emulator binary with a data directory that outlives the process.
pub struct ChaosEmulator {
    child: Option<Child>,
    dir: TempDir,
    pub port: u16,
    pub base_url: String,
    extra_args: Vec<String>,
    runtime: tokio::runtime::Runtime,
}

impl ChaosEmulator {
    pub fn start(extra_args: &[&str]) -> ChaosEmulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = json!({
            "tenants": [{"name": "acme"}],
            "integrations": [
                {"tenant": "acme", "fqn": "internal:aws:aws-1:secret-store:internal-secret-store"},
            ],
            "api_keys": [
                {"token": ADMIN_KEY, "tenant": "acme", "subject": "user:admin@acme.example", "tenant_admin": true},
            ],
        });
        std::fs::write(dir.path().join("emulator.json"), config.to_string()).unwrap();
        let mut emulator = ChaosEmulator {
            child: None,
            dir,
            port: 0,
            base_url: String::new(),
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        };
        emulator.spawn();
        emulator
    }

    /// Starts the process, on port 0 the first time and on the same port after a kill.
    fn spawn(&mut self) {
        // A port closed a moment ago may refuse a new listener briefly: try for a few seconds.
        for _ in 0..50 {
            if self.try_spawn() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("the emulator does not start on port {}", self.port);
    }

    fn try_spawn(&mut self) -> bool {
        let mut child = Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--config")
            .arg(self.dir.path().join("emulator.json"))
            .arg("--request-log")
            .arg(self.log_path())
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(&self.extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("emulator.stderr"))
                    .unwrap(),
            ))
            .spawn()
            .expect("the emulator binary starts");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let Some(base_url) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            return false;
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
        true
    }

    /// SIGKILL: no chance to flush anything that was not already acknowledged.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same port, data directory and request log.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("requests.log")
    }

    /// Every request log line, parsed.
    pub fn log(&self) -> Vec<LogLine> {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Json>(line).ok())
            .map(|j| LogLine::from_log_json(&j))
            .collect()
    }

    /// Waits until a line after `mark` satisfies `wanted`; `None` after `timeout`.
    pub fn wait_for(
        &self,
        mark: usize,
        timeout: Duration,
        wanted: impl Fn(&LogLine) -> bool,
    ) -> Option<LogLine> {
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
        wanted: impl Fn(&LogLine) -> bool,
    ) -> Option<Vec<LogLine>> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let found: Vec<LogLine> = self
                .log()
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

    /// A tenant-admin client that outlasts injected faults by retrying many times.
    pub fn client(&self) -> Client {
        Client::new(ClientConfig {
            host: self.base_url.clone(),
            api_key: SecretValue::new(ADMIN_KEY),
            max_retries: 40,
            request_timeout: Duration::from_secs(10),
            ca_cert_pem: None,
            terraform_version: CHECKER_AGENT_VERSION.to_owned(),
        })
        .expect("client")
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Every group of the tenant with its keys, values, versions and collaborators.
    pub fn server_state(&self) -> BTreeMap<String, ServerGroup> {
        let client = self.client();
        self.block_on(async {
            let groups = client
                .list_secret_groups(&ListGroupsQuery::default())
                .await
                .expect("list groups");
            let mut out = BTreeMap::new();
            for group in groups {
                let secrets = client
                    .list_secrets(&ListSecretsQuery {
                        secret_group_id: Some(group.id.clone()),
                        secret_fqns: Vec::new(),
                        with_value: true,
                    })
                    .await
                    .expect("list secrets");
                let name = group
                    .fqn
                    .split_once(':')
                    .map_or(group.fqn.clone(), |(_, n)| n.to_owned());
                let collaborators = group
                    .manifest
                    .as_ref()
                    .map(|m| {
                        m.collaborators
                            .iter()
                            .map(|c| (c.subject.clone(), c.role_id.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(
                    name,
                    ServerGroup {
                        id: group.id.clone(),
                        collaborators,
                        secrets: secrets
                            .into_iter()
                            .map(|s| {
                                let value = s.value.map(|v| v.expose().to_owned());
                                (s.name, (value.unwrap_or_default(), s.latest_version))
                            })
                            .collect(),
                    },
                );
            }
            out
        })
    }
}

impl Drop for ChaosEmulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One group as the server holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerGroup {
    pub id: String,
    pub collaborators: BTreeSet<(String, String)>,
    /// key → (value, latest version)
    pub secrets: BTreeMap<String, (String, Option<i64>)>,
}

impl ServerGroup {
    pub fn values(&self) -> BTreeMap<String, String> {
        self.secrets
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

/// A request-log line; the helpers below read it the way the reliability tests need.
pub use super::emulator::LoggedRequest as LogLine;

impl LogLine {
    /// Sent by the provider (not by this module's checking client).
    pub fn by_provider(&self) -> bool {
        self.user_agent.contains("terraform-provider-truefoundry")
            && !self.user_agent.contains(CHECKER_AGENT_VERSION)
    }

    /// A manifest PUT that writes (not a plan's dry run).
    pub fn is_manifest_put(&self) -> bool {
        self.method == "PUT" && self.path == "/api/svc/v1/secret-groups" && !self.dry_run
    }

    /// `PUT /v1/secret-groups/{id}`: the full key list of a group.
    pub fn secrets_put_group(&self) -> Option<&str> {
        if self.method != "PUT" {
            return None;
        }
        self.path.strip_prefix("/api/svc/v1/secret-groups/")
    }

    /// `POST /v1/secrets`: a listing of keys, or of the values of keys selected by FQN.
    pub fn is_secrets_list(&self) -> bool {
        self.method == "POST" && self.path == "/api/svc/v1/secrets"
    }

    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Secrets listings a refresh of a group that manages `secrets` makes, at once: its keys and
/// versions, and the values of the keys of `secrets`. An apply's re-read before it writes is one
/// more (keys and versions only).
pub const REFRESH_LISTINGS: usize = 2;

/// A Terraform command started in the background, with its output collected on exit.
pub struct Background {
    pub child: Child,
}

impl Background {
    /// Starts `terraform <args>` in the workspace exactly as `Workspace::run` would (same CLI
    /// config, automation flags), without waiting.
    pub fn start(ws: &Workspace, args: &[&str]) -> Background {
        let mut command = Command::new(&ws.terraform().path);
        let mut full: Vec<&str> = vec![args[0], "-no-color"];
        if matches!(args[0], "plan" | "apply" | "destroy" | "import" | "refresh") {
            full.push("-input=false");
        }
        full.extend(&args[1..]);
        command
            .args(&full)
            .current_dir(ws.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(ws.path().join("background.stdout")).unwrap(),
            ))
            .stderr(Stdio::from(
                std::fs::File::create(ws.path().join("background.stderr")).unwrap(),
            ));
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("TF_") || name.starts_with("TFY_") {
                command.env_remove(&key);
            }
        }
        command
            .env("TF_CLI_CONFIG_FILE", ws.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1");
        // Its own process group, so a test that fails half-way can end the whole tree.
        command.process_group(0);
        Background {
            child: command.spawn().expect("terraform starts"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn finished(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (at most four minutes) and returns (exit code, stdout + stderr).
    pub fn finish(mut self, ws: &Workspace) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(240);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "terraform did not finish in time"
            );
            thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(ws.path().join("background.stdout")).unwrap_or_default();
        let err = std::fs::read_to_string(ws.path().join("background.stderr")).unwrap_or_default();
        (status.code(), format!("{out}\n{err}"))
    }
}

impl Drop for Background {
    /// A test that panics before `finish` must not leave Terraform (and its provider) running:
    /// the process group this Terraform leads is killed.
    fn drop(&mut self) {
        if !self.finished() {
            let socket_dirs: Vec<PathBuf> = provider_processes(self.child.id())
                .into_iter()
                .flat_map(socket_dirs_of)
                .collect();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
            for dir in socket_dirs {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The command name and the fields after it in `/proc/<pid>/stat` (state first, then ppid).
fn proc_stat(pid: u32) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ..."; comm may hold spaces, so split at the last ')'.
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    Some((
        comm.to_owned(),
        tail.split_whitespace().map(str::to_owned).collect(),
    ))
}

/// Child processes of `parent` whose command name starts with `prefix`, read from /proc.
pub fn children_named(parent: u32, prefix: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            proc_stat(*pid).is_some_and(|(comm, fields)| {
                let ppid = fields.get(1).and_then(|p| p.parse().ok());
                ppid == Some(parent) && comm.starts_with(prefix)
            })
        })
        .collect()
}

/// True while `pid` runs; a process that ended but was not reaped yet (a zombie) does not.
pub fn running(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(_, fields)| {
        fields
            .first()
            .is_some_and(|state| !matches!(state.as_str(), "Z" | "X"))
    })
}

/// Every process below `root`, children first-level before their own children.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for child in children_named(parent, "") {
            found.push(child);
            frontier.push(child);
        }
    }
    found
}

/// The provider processes below Terraform `terraform_pid` (Terraform re-runs itself as a child
/// to catch panics, so the provider is a grandchild). The kernel keeps 15 name bytes.
pub fn provider_processes(terraform_pid: u32) -> Vec<u32> {
    descendants(terraform_pid)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.starts_with("terraform-provi"))
        })
        .collect()
}

/// SIGKILL one process by id.
pub fn sigkill(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL {pid} failed");
}

/// SIGKILLs a provider process and removes the socket directories it can no longer remove
/// itself; returns how many there were.
pub fn sigkill_provider(pid: u32) -> usize {
    let dirs = socket_dirs_of(pid);
    sigkill(pid);
    let left: Vec<&PathBuf> = dirs.iter().filter(|dir| dir.exists()).collect();
    for dir in &left {
        std::fs::remove_dir_all(dir).expect("remove a killed provider's socket directory");
    }
    left.len()
}

/// The provider's socket directories of the Unix sockets process `pid` holds, found through
/// procfs while it lives. Matching directory names by process id instead would also find one
/// that an earlier, killed process with the same id left in the shared temporary folder.
fn socket_dirs_of(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: BTreeSet<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let inode = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?;
            Some(inode.to_owned())
        })
        .collect();
    // Columns of /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path.
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let dirs: BTreeSet<PathBuf> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (inode, path) = (fields.get(6)?, fields.get(7)?);
            inodes
                .contains(*inode)
                .then(|| Path::new(path).parent().map(Path::to_path_buf))?
        })
        .filter(|dir| {
            dir.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("tf-truefoundry-"))
        })
        .collect();
    dirs.into_iter().collect()
}

/// True when the long forms of the reliability tests were asked for.
pub fn long_tests() -> bool {
    std::env::var("TFY_LONG_TESTS").is_ok_and(|v| v == "1")
}
