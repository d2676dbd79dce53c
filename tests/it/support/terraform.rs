//! Runs the real Terraform CLI against the provider binary this test build produced.
//!
//! Every test that drives Terraform goes through [`Workspace`]: a temporary working directory with
//! `.tf` files and a generated CLI configuration whose `dev_overrides` point Terraform at our
//! binary, so no `terraform init`, registry or lock file is involved. A command runs in the
//! foreground ([`Workspace::run`]) or the background ([`Workspace::start`]) through the same
//! launch: the workspace's environment and timeout, and the version that ran recorded.
//! [`terraform_binaries`] yields Terraform 1.0.3 (installed by `scripts/install-terraform`,
//! always run), the `terraform` on `PATH` and Terraform 1.15.5 (installed by
//! `scripts/install-terraform-1.15`), each once, so one test covers the oldest, a common and the
//! newest client.

// A toolbox for every real-client test; each test module uses only part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tempfile::TempDir;

use super::hcl::quote;
use super::processes::{provider_processes, socket_dirs_of};

/// The provider's registry address, as configurations name it with `source`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/truefoundry/truefoundry";

/// The `terraform` block every workspace starts with.
pub const REQUIRED_PROVIDERS: &str = r#"terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}
"#;

/// Where `scripts/install-terraform` puts the pinned client, relative to the repository root.
const PINNED_TERRAFORM: &str = ".tools/terraform-1.0.3/terraform";
const PINNED_VERSION: &str = "1.0.3";

/// Where `scripts/install-terraform-1.15` puts the newest client the suite runs.
const CURRENT_TERRAFORM: &str = ".tools/terraform-1.15.5/terraform";
const CURRENT_VERSION: &str = "1.15.5";

/// The newest Terraform a test part needs (write-only attributes). Under `CI=true` the
/// `terraform` on `PATH` must be at least this, so no part of the suite is skipped there.
const NEWEST_NEEDED: (u64, u64) = (1, 11);

/// The folder, set by `scripts/test`, where tests note the Terraform versions that ran and the
/// parts they skipped for want of a newer one; `scripts/test` sums it up after the tests.
const RECORD_DIR_VAR: &str = "TFY_TEST_RECORD_DIR";

/// Long enough for a slow shared CI core; a hung plugin must still fail the test, not the job.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(240);

/// Commands that accept `-input=false`; others (validate, show, providers …) reject the flag.
const COMMANDS_WITH_INPUT_FLAG: &[&str] = &["plan", "apply", "destroy", "import", "refresh"];

/// One Terraform executable and the version it reports.
#[derive(Clone, Debug)]
pub struct Terraform {
    pub path: PathBuf,
    pub version: String,
}

impl Terraform {
    /// True when this client is at least `major.minor` (for features such as write-only
    /// attributes, 1.11, or ephemeral resources, 1.10).
    pub fn at_least(&self, major: u64, minor: u64) -> bool {
        parse_version(&self.version) >= (major, minor, 0)
    }

    /// [`Self::at_least`] for a part of a test that only a newer client can run (`part` says
    /// what it covers). When no installed client is new enough, that part runs nowhere: the
    /// skip is recorded for `scripts/test`'s closing line instead of passing unnoticed.
    #[track_caller]
    pub fn runs_part_needing(&self, major: u64, minor: u64, part: &str) -> bool {
        if self.at_least(major, minor) {
            return true;
        }
        if !terraform_binaries()
            .iter()
            .any(|client| client.at_least(major, minor))
        {
            skip_for_want_of(major, minor, part);
        }
        false
    }
}

impl fmt::Display for Terraform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Terraform {} ({})", self.version, self.path.display())
    }
}

fn parse_version(version: &str) -> (u64, u64, u64) {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// The Terraform clients every real-client test runs with: 1.0.3 first, then the `terraform`
/// on `PATH`, then 1.15.5, each version once. Panics, saying how to install it, when 1.0.3 is
/// missing; under `CI=true` also when 1.15.5 or a `terraform` on `PATH` is.
pub fn terraform_binaries() -> &'static [Terraform] {
    static FOUND: OnceLock<Vec<Terraform>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let mut found = vec![installed_client(
            PINNED_TERRAFORM,
            PINNED_VERSION,
            "scripts/install-terraform",
        )];
        let mut add = |terraform: Terraform| {
            if found.iter().all(|known| known.version != terraform.version) {
                found.push(terraform);
            }
        };
        match find_on_path("terraform") {
            Some(on_path) => add(Terraform {
                version: version_of(&on_path),
                path: on_path,
            }),
            None => missing_client("no `terraform` is on PATH"),
        }
        let current_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CURRENT_TERRAFORM);
        if current_path.is_file() {
            add(installed_client(
                CURRENT_TERRAFORM,
                CURRENT_VERSION,
                "scripts/install-terraform-1.15",
            ));
        } else {
            missing_client(&format!(
                "Terraform {CURRENT_VERSION} is not installed at {}: run \
                 scripts/install-terraform-1.15",
                current_path.display()
            ));
        }
        if under_ci() {
            let (major, minor) = NEWEST_NEEDED;
            let versions: Vec<&str> = found.iter().map(|t| t.version.as_str()).collect();
            assert!(
                found.iter().any(|t| t.at_least(major, minor)),
                "CI=true but no Terraform {major}.{minor} or newer is installed (found {}): the \
                 tests of write-only attributes and ephemeral resources would be skipped.",
                versions.join(", ")
            );
        }
        found
    })
}

/// The client a project script installs at `relative` (from the repository root), checked to
/// report `version`.
fn installed_client(relative: &str, version: &str, script: &str) -> Terraform {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(
        path.is_file(),
        "Terraform {version} is not installed at {}: run {script}",
        path.display()
    );
    let terraform = Terraform {
        version: version_of(&path),
        path,
    };
    assert_eq!(
        terraform.version, version,
        "{terraform} is not the pinned client; run {script} again"
    );
    terraform
}

/// A client the suite runs when present: under `CI=true` its absence fails the run (every test
/// must run on every client there); elsewhere the tests say so and run on the others.
fn missing_client(why: &str) {
    assert!(!under_ci(), "CI=true and {why}");
    eprintln!("NOTE: {why}; the tests run without it");
}

/// True under `CI=true`, where every part of the suite must run: no Terraform may be missing.
fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Notes in the record folder (when `scripts/test` set one) that this Terraform version ran.
fn record_version_ran(version: &str) {
    static NOTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut noted = NOTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if noted.iter().any(|known| known == version) {
        return;
    }
    noted.push(version.to_owned());
    if let Some(dir) = record_dir() {
        fs::write(dir.join(format!("ran-{version}")), "")
            .unwrap_or_else(|error| panic!("record the Terraform version that ran: {error}"));
    }
}

/// Notes that the running test skipped `part`, which needs Terraform `needed`: one file per
/// test and part, holding the test's name, the version and the part, tab-separated.
fn record_skip(needed: &str, part: &str) {
    let Some(dir) = record_dir() else { return };
    let current = thread::current();
    let test = current.name().unwrap_or("unnamed test");
    let file: String = format!("skip-{test}-{needed}-{part}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    fs::write(dir.join(file), format!("{test}\t{needed}\t{part}\n"))
        .unwrap_or_else(|error| panic!("record a skipped test part: {error}"));
}

fn record_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(RECORD_DIR_VAR)?);
    fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("create {RECORD_DIR_VAR} {}: {error}", dir.display()));
    Some(dir)
}

/// Runs `body` once per client from [`terraform_binaries`], saying on stderr which one runs.
pub fn for_each_terraform(mut body: impl FnMut(&Terraform)) {
    for terraform in terraform_binaries() {
        eprintln!("running with {terraform}");
        body(terraform);
    }
}

/// Runs `body` once per client of at least `major.minor` (for `what`, a feature those need).
/// When none is installed, the test fails under `CI=true` (CI machines have a newer Terraform on
/// `PATH`) and otherwise says on stderr that it skipped, and why.
#[track_caller]
pub fn for_each_terraform_at_least(
    major: u64,
    minor: u64,
    what: &str,
    mut body: impl FnMut(&Terraform),
) {
    let mut ran = false;
    for_each_terraform(|terraform| {
        if terraform.at_least(major, minor) {
            ran = true;
            body(terraform);
        } else {
            eprintln!("{terraform} is too old for {what}: not run with it");
        }
    });
    if !ran {
        skip_for_want_of(major, minor, what);
    }
}

/// What happens to a test part (`what`) that no installed client, all older than `major.minor`,
/// can run: under `CI=true` the test fails (CI machines have a newer Terraform on `PATH`);
/// otherwise it says so on stderr and records the skip for `scripts/test`'s closing line.
#[track_caller]
fn skip_for_want_of(major: u64, minor: u64, what: &str) {
    let found: Vec<&str> = terraform_binaries()
        .iter()
        .map(|terraform| terraform.version.as_str())
        .collect();
    let missing = format!(
        "{what} needs Terraform {major}.{minor} or newer, and only {} is installed",
        found.join(", ")
    );
    assert!(
        !under_ci(),
        "{missing}; CI=true requires a newer `terraform` on PATH"
    );
    eprintln!("SKIPPED: {missing}; put a newer `terraform` on PATH to run it");
    record_skip(&format!("{major}.{minor}"), what);
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn version_of(binary: &Path) -> String {
    let scratch = scratch_dir();
    let mut command = Command::new(binary);
    command.args(["version", "-json"]).current_dir(scratch);
    clean_environment(&mut command, &empty_cli_config());
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()));
    let report: Json = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "`{} version -json` printed no JSON ({error}): {}",
            binary.display(),
            String::from_utf8_lossy(&output.stdout)
        )
    });
    report["terraform_version"]
        .as_str()
        .unwrap_or_else(|| panic!("no terraform_version in {report}"))
        .to_owned()
}

/// A directory for files the whole test process shares; cargo keeps it under `target/`.
fn scratch_dir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn empty_cli_config() -> PathBuf {
    let path = scratch_dir().join("empty.tfrc");
    if !path.exists() {
        fs::write(&path, "").expect("write an empty CLI config");
    }
    path
}

/// Drops inherited Terraform and TrueFoundry settings (TF_LOG, TF_CLI_ARGS, TF_VAR_*,
/// TFY_API_KEY, …) so a developer's shell cannot change a test, then sets the ones every run needs.
fn clean_environment(command: &mut Command, cli_config: &Path) {
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        // Also the workload identity tokens HCP Terraform and GitHub Actions hand a job.
        if name.starts_with("TF_")
            || name.starts_with("TFY_")
            || name.starts_with("TFC_WORKLOAD_IDENTITY_")
            || name.starts_with("ACTIONS_ID_TOKEN_")
            || name == "CHECKPOINT_DISABLE"
        {
            command.env_remove(&key);
        }
    }
    command
        .env("TF_CLI_CONFIG_FILE", cli_config)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1");
}

/// The CLI configuration that makes Terraform load the provider binary cargo built for this test
/// run. `direct {}` keeps any other provider installable the usual way.
pub fn dev_override_cli_config() -> String {
    let provider_binary = Path::new(env!("CARGO_BIN_EXE_terraform-provider-truefoundry"));
    let provider_dir = provider_binary
        .parent()
        .expect("the provider binary lives in a directory");
    format!(
        "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_ADDRESS}\" = {}\n  }}\n  direct {{}}\n}}\n",
        quote(&provider_dir.to_string_lossy())
    )
}

/// A temporary Terraform working directory bound to one client.
pub struct Workspace {
    /// Always `Some` until drop, which keeps the folder instead of deleting it when a test failed.
    dir: Option<TempDir>,
    terraform: Terraform,
    cli_config: PathBuf,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Workspace {
    /// A configuration directory holding only the `terraform { required_providers }` block (as
    /// `versions.tf`) and the generated CLI config.
    pub fn new(terraform: &Terraform) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tf-workspace-")
            .tempdir()
            .expect("create a temporary working directory");
        // Terraform reads only *.tf and *.tf.json as configuration, so the CLI config can live here.
        let cli_config = dir.path().join("cli.tfrc");
        fs::write(&cli_config, dev_override_cli_config()).expect("write the CLI config");
        let workspace = Self {
            dir: Some(dir),
            terraform: terraform.clone(),
            cli_config,
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        };
        workspace.write("versions.tf", REQUIRED_PROVIDERS);
        workspace
    }

    /// A workspace with `files` (name, contents) written next to `versions.tf`.
    pub fn with_files(terraform: &Terraform, files: &[(&str, &str)]) -> Self {
        let workspace = Self::new(terraform);
        for (name, contents) in files {
            workspace.write(name, contents);
        }
        workspace
    }

    /// Shorthand for a workspace whose configuration is one `main.tf`.
    pub fn with_main(terraform: &Terraform, main_tf: &str) -> Self {
        Self::with_files(terraform, &[("main.tf", main_tf)])
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until drop").path()
    }

    pub fn terraform(&self) -> &Terraform {
        &self.terraform
    }

    /// Writes (or replaces) a file in the working directory, creating parent folders (modules).
    pub fn write(&self, name: &str, contents: &str) {
        let target = self.path().join(name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).expect("create the file's folder");
        }
        fs::write(&target, contents)
            .unwrap_or_else(|error| panic!("write {}: {error}", target.display()));
    }

    pub fn remove(&self, name: &str) {
        let target = self.path().join(name);
        fs::remove_file(&target)
            .unwrap_or_else(|error| panic!("remove {}: {error}", target.display()));
    }

    /// Adds an environment variable to every later command (TFY_HOST, TFY_API_KEY, TF_LOG, …).
    pub fn set_env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        let key = key.into();
        self.env.retain(|(known, _)| *known != key);
        self.env.push((key, value.into()));
        self
    }

    /// Turns on `TF_LOG=trace` into a file in the workspace and returns that file's path.
    pub fn trace_log(&mut self) -> PathBuf {
        let log = self.path().join("terraform-trace.log");
        self.set_env("TF_LOG", "trace").set_env("TF_LOG_PATH", &log);
        log
    }

    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Runs `terraform <args>` with `-no-color` (and `-input=false` where the command takes it)
    /// and returns what happened, whatever the exit status.
    #[must_use = "a run that is not checked may have failed unnoticed"]
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    /// [`Self::run`] with `input` (when given) written to Terraform's standard input, which is
    /// closed after it; without it, standard input is empty.
    #[must_use = "a run that is not checked may have failed unnoticed"]
    pub fn run_with_stdin(&self, args: &[&str], input: Option<&str>) -> Run {
        self.launch(args, input, Mode::Foreground).finish()
    }

    /// Starts `terraform <args>` exactly as [`Self::run`] would (same flags, environment and
    /// timeout) without waiting for it, in a process group of its own so a test can signal the
    /// whole tree as a terminal's Ctrl-C does; [`Running::finish`] waits for it.
    #[must_use = "a started run must be finished to see what it did"]
    pub fn start(&self, args: &[&str]) -> Running {
        self.launch(args, None, Mode::Background)
    }

    /// The one way this harness starts Terraform, whether the test waits for it or not.
    fn launch(&self, args: &[&str], input: Option<&str>, mode: Mode) -> Running {
        let args = with_automation_flags(args);
        let mut command = Command::new(&self.terraform.path);
        command
            .args(&args)
            .current_dir(self.path())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        clean_environment(&mut command, &self.cli_config);
        command.envs(self.env.iter().map(|(key, value)| (key, value)));
        if mode == Mode::Background {
            command.process_group(0);
        }

        record_version_ran(&self.terraform.version);
        let description = format!("{} {}", self.terraform.path.display(), args.join(" "));
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `{description}`: {error}"));
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            stdin
                .write_all(input.as_bytes())
                .unwrap_or_else(|error| panic!("write the input of `{description}`: {error}"));
        }
        Running::collect(
            child,
            mode,
            Run {
                command: description,
                dir: self.path().to_owned(),
                terraform_version: self.terraform.version.clone(),
                code: None,
                stdout: String::new(),
                stderr: String::new(),
            },
            self.timeout,
        )
    }

    /// Runs a command that must succeed; panics with the full report otherwise.
    #[track_caller]
    pub fn run_ok(&self, args: &[&str]) -> Run {
        self.run(args).expect_success()
    }

    #[track_caller]
    pub fn validate(&self) -> Run {
        self.run_ok(&["validate"])
    }

    /// `terraform plan -detailed-exitcode`: 0 when the plan is empty, 2 when it has changes.
    /// An error (exit 1) panics with the full report.
    #[track_caller]
    pub fn plan_detailed_exitcode(&self) -> PlanOutcome {
        let run = self.run(&["plan", "-detailed-exitcode"]);
        let changes = match run.code {
            Some(0) => false,
            Some(2) => true,
            _ => panic!("plan failed\n{run}"),
        };
        PlanOutcome { changes, run }
    }

    #[track_caller]
    pub fn apply(&self) -> Run {
        self.run_ok(&["apply", "-auto-approve"])
    }

    #[track_caller]
    pub fn destroy(&self) -> Run {
        self.run_ok(&["destroy", "-auto-approve"])
    }

    #[track_caller]
    pub fn import(&self, address: &str, id: &str) -> Run {
        self.run_ok(&["import", address, id])
    }

    /// `terraform show -json`: the state as Terraform presents it (values, sensitive markers).
    #[track_caller]
    pub fn show_json(&self) -> Json {
        self.run_ok(&["show", "-json"]).stdout_json()
    }

    /// The plan as JSON (`plan -out` then `show -json`): planned values, resource changes and
    /// which attributes Terraform treats as sensitive or unknown.
    #[track_caller]
    pub fn plan_json(&self) -> Json {
        self.run_ok(&["plan", "-out=tfplan"]);
        self.run_ok(&["show", "-json", "tfplan"]).stdout_json()
    }

    /// `terraform output -json`: every root output with its `sensitive` flag and value.
    #[track_caller]
    pub fn outputs_json(&self) -> Json {
        self.run_ok(&["output", "-json"]).stdout_json()
    }

    /// The raw local state file, exactly as stored (to check what did or did not reach state).
    #[track_caller]
    pub fn state_json(&self) -> Json {
        let path = self.path().join("terraform.tfstate");
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("state is not JSON: {error}"))
    }

    /// `terraform providers schema -json`.
    #[track_caller]
    pub fn providers_schema_json(&self) -> Json {
        self.run_ok(&["providers", "schema", "-json"]).stdout_json()
    }
}

impl Drop for Workspace {
    /// A failing test's working directory (configuration, state, trace log) is kept for a look.
    fn drop(&mut self) {
        if thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "kept the failed test's Terraform workspace: {}",
                dir.keep().display()
            );
        }
    }
}

/// Adds the flags that keep Terraform from prompting or colouring, right after the subcommand
/// (Terraform reads flags only there).
fn with_automation_flags(args: &[&str]) -> Vec<String> {
    let mut full: Vec<String> = Vec::with_capacity(args.len() + 2);
    let subcommand_words = match args {
        ["providers", "schema", ..] | ["state", _, ..] | ["workspace", _, ..] => 2,
        [] => 0,
        _ => 1,
    };
    full.extend(args[..subcommand_words].iter().map(|arg| arg.to_string()));
    if !matches!(args.first(), Some(&"version")) && subcommand_words > 0 {
        full.push("-no-color".to_owned());
    }
    if args
        .first()
        .is_some_and(|first| COMMANDS_WITH_INPUT_FLAG.contains(first))
    {
        full.push("-input=false".to_owned());
    }
    full.extend(args[subcommand_words..].iter().map(|arg| arg.to_string()));
    full
}

/// Whether the test waits for a command at once or goes on while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Foreground,
    /// In a process group of its own, killed whole if the test ends before it does.
    Background,
}

/// A Terraform command started and not waited for yet ([`Workspace::start`]). Its output is read
/// on threads from the start, so a chatty process cannot block on a full pipe.
pub struct Running {
    child: Child,
    mode: Mode,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
    /// What the run will report, all but its exit code and output; taken by `finish`.
    report: Option<Run>,
    deadline: Instant,
    timeout: Duration,
}

impl Running {
    fn collect(mut child: Child, mode: Mode, report: Run, timeout: Duration) -> Running {
        let read_all = |mut stream: Box<dyn Read + Send>| {
            thread::spawn(move || {
                let mut text = Vec::new();
                let _ = stream.read_to_end(&mut text);
                text
            })
        };
        let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
        Running {
            child,
            mode,
            stdout: Some(stdout),
            stderr: Some(stderr),
            report: Some(report),
            deadline: Instant::now() + timeout,
            timeout,
        }
    }

    /// Terraform's process id; in background mode also its process group's.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the command ends and returns what it did; kills it and panics with its
    /// output when it outlives the workspace's timeout (counted from its start).
    #[must_use = "a run that is not checked may have failed unnoticed"]
    pub fn finish(mut self) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll the terraform process") {
                break Some(status);
            }
            if Instant::now() >= self.deadline {
                self.kill();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let output = |reader: Option<thread::JoinHandle<Vec<u8>>>| {
            let bytes = reader.and_then(|r| r.join().ok()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let mut run = self.report.take().expect("a run is finished once");
        run.stdout = output(self.stdout.take());
        run.stderr = output(self.stderr.take());
        match status {
            Some(status) => {
                run.code = status.code();
                run
            }
            None => panic!(
                "`{}` did not finish within {:?} and was killed\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}",
                run.command, self.timeout, run.stdout, run.stderr
            ),
        }
    }

    /// Ends the command: in background mode its whole process group (Terraform and the
    /// providers it started), removing the socket directories the killed providers leave.
    fn kill(&mut self) {
        match self.mode {
            Mode::Foreground => {
                let _ = self.child.kill();
            }
            Mode::Background => {
                let socket_dirs: Vec<PathBuf> = provider_processes(self.child.id())
                    .into_iter()
                    .flat_map(socket_dirs_of)
                    .collect();
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", self.child.id())])
                    .status();
                for dir in socket_dirs {
                    let _ = fs::remove_dir_all(dir);
                }
            }
        }
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    /// A test that panics before `finish` must not leave Terraform (and its providers) running.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.kill();
        }
    }
}

/// Terraform's output with its wrapping and box drawing undone (words separated by one space),
/// so that a sentence of a diagnostic can be looked for whole.
pub fn unwrapped(output: &str) -> String {
    output
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What one Terraform command did. The producers of a run nobody has checked yet ([`Workspace::run`],
/// [`Workspace::run_with_stdin`], [`Running::finish`], [`PlanOutcome`]) are `#[must_use]`; the helpers that already
/// asserted the outcome (`apply`, `run_ok`, `expect_failure`, …) return one that may be dropped.
pub struct Run {
    pub command: String,
    pub dir: PathBuf,
    pub terraform_version: String,
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The exit code and [`Self::output`], for tests that judge both themselves.
    pub fn code_and_output(&self) -> (Option<i32>, String) {
        (self.code, self.output())
    }

    /// Both streams, for looking up a diagnostic wherever this Terraform version printed it.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The output with Terraform's wrapping and box drawing undone: words separated by one
    /// space, so a sentence can be looked for wherever Terraform broke its lines.
    pub fn flat_output(&self) -> String {
        unwrapped(&self.output())
    }

    #[track_caller]
    pub fn expect_success(self) -> Self {
        assert!(self.success(), "command failed\n{self}");
        self
    }

    #[track_caller]
    pub fn expect_failure(self) -> Self {
        assert!(
            !self.success() && self.code.is_some(),
            "command was expected to fail\n{self}"
        );
        self
    }

    /// Panics with the report unless the output contains every one of `needles`.
    #[track_caller]
    pub fn expect_output_contains(self, needles: &[&str]) -> Self {
        let output = self.output();
        for needle in needles {
            assert!(output.contains(needle), "output lacks {needle:?}\n{self}");
        }
        self
    }

    /// Panics with the report unless each of `lines` is a line of the output, compared with runs
    /// of spaces made one (Terraform aligns the `=` of a plan's attributes).
    #[track_caller]
    pub fn expect_lines(self, lines: &[&str]) -> Self {
        let squeeze = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
        let output: Vec<String> = self.output().lines().map(squeeze).collect();
        for line in lines {
            assert!(
                output.contains(&squeeze(line)),
                "output lacks the line {line:?}\n{self}"
            );
        }
        self
    }

    #[track_caller]
    pub fn stdout_json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error})\n{self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.code {
            Some(code) => format!("exit code {code}"),
            None => "ended by a signal".to_owned(),
        };
        write!(
            f,
            "command: {}\nterraform: {}\ndir: {}\nstatus: {status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.terraform_version,
            self.dir.display(),
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// The result of `plan -detailed-exitcode`.
#[must_use = "say whether the plan must be empty (`expect_empty`) or not (`expect_changes`)"]
pub struct PlanOutcome {
    pub changes: bool,
    pub run: Run,
}

impl PlanOutcome {
    #[track_caller]
    pub fn expect_empty(self) -> Run {
        assert!(!self.changes, "plan was expected to be empty\n{}", self.run);
        self.run
    }

    #[track_caller]
    pub fn expect_changes(self) -> Run {
        assert!(
            self.changes,
            "plan was expected to have changes\n{}",
            self.run
        );
        self.run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let client = |version: &str| Terraform {
            path: PathBuf::new(),
            version: version.to_owned(),
        };
        assert!(client("1.11.4").at_least(1, 10));
        assert!(client("1.10.0").at_least(1, 10));
        assert!(!client("1.0.3").at_least(1, 10));
        assert!(!client("1.9.8").at_least(1, 10));
        assert!(client("1.11.0-beta1").at_least(1, 11));
    }

    #[test]
    fn automation_flags_follow_the_subcommand() {
        assert_eq!(
            with_automation_flags(&["plan", "-detailed-exitcode"]),
            ["plan", "-no-color", "-input=false", "-detailed-exitcode"]
        );
        assert_eq!(
            with_automation_flags(&["providers", "schema", "-json"]),
            ["providers", "schema", "-no-color", "-json"]
        );
        assert_eq!(
            with_automation_flags(&["validate"]),
            ["validate", "-no-color"]
        );
        assert_eq!(
            with_automation_flags(&["import", "a.b", "id"]),
            ["import", "-no-color", "-input=false", "a.b", "id"]
        );
    }

    #[test]
    fn cli_config_overrides_our_address_with_the_built_binary_dir() {
        let config = dev_override_cli_config();
        let binary = Path::new(env!("CARGO_BIN_EXE_terraform-provider-truefoundry"));
        assert!(config.contains(&format!("\"{PROVIDER_ADDRESS}\" = ")));
        assert!(config.contains(&*binary.parent().unwrap().to_string_lossy()));
        assert!(config.contains("direct {}"));
    }
}
