//! The release as users install it. `scripts/release` packages the test build, signs the checksums
//! with a throwaway GPG key and lays out a static provider registry; a small HTTPS server on
//! 127.0.0.1 serves that folder with a certificate from a test CA that Terraform is told to trust
//! (`SSL_CERT_FILE`). The real CLI (1.0.3 and the newer one on `PATH`) then installs the provider
//! through the provider registry protocol, checks the signature, records the hashes in the lock
//! file, and plans against the emulator. A tampered zip, sums changed after signing, and a
//! signature by another key are each refused. The same zip also installs from a filesystem mirror.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::emulator::Emulator;
use crate::support::hcl::GroupHcl;
use crate::support::pki::Pki;
use crate::support::stub::Server;
use crate::support::terraform::{Terraform, Workspace, for_each_terraform};

const NAME: &str = "terraform-provider-truefoundry";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const PLATFORM: &str = "linux_amd64";
/// The registry tree's folder for this version, relative to `registry/`.
const VERSION_DIR: &str = concat!(
    "v1/providers/truefoundry/truefoundry/",
    env!("CARGO_PKG_VERSION")
);

/// Only the origin registry, named by `source`: no dev_overrides, no filesystem mirror (an
/// explicit block also turns off the implied local mirror folders) and no plugin cache.
const REGISTRY_ONLY_CLI_CONFIG: &str = "provider_installation {\n  direct {}\n}\n";

fn zip_name() -> String {
    format!("{NAME}_{VERSION}_{PLATFORM}.zip")
}

fn sums_name() -> String {
    format!("{NAME}_{VERSION}_SHA256SUMS")
}

/// `scripts/release` run on the test build's binaries with a throwaway key, into its own folder.
struct Release {
    dir: TempDir,
    child: Child,
}

impl Release {
    /// Starts the script; [`Release::finish`] waits for it, so two releases can be made at once.
    fn start() -> Release {
        let dir = tempfile::Builder::new()
            .prefix("release-")
            .tempdir()
            .unwrap();
        let child = release_command(dir.path(), &["--throwaway-key"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the release script starts");
        Release { dir, child }
    }

    #[track_caller]
    fn finish(self) -> TempDir {
        let output = self.child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "scripts/release failed (scripts/install-gpg installs gpg):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.dir
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn read_json(path: &Path) -> Json {
    serde_json::from_str(&read(path))
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// SHA-256 of `bytes` in hex, by the system's `sha256sum`.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum runs");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

/// Terraform's `h1:` hash of a provider package holding one file, `name`, with `contents`: the
/// SHA-256 of the `sha256sum`-style listing of the package's files, in base64.
fn h1_of_single_file(name: &str, contents: &[u8]) -> String {
    let listing = format!("{}  {name}\n", sha256_hex(contents));
    let hex = sha256_hex(listing.as_bytes());
    let digest: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The names of the files in a zip, listed by Python's zipfile module.
fn zip_members(zip: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(zip)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Checks a detached signature against the armored public key with `gpgv`, which keeps no state
/// and starts no agent.
#[track_caller]
fn assert_signed_by(armored_key: &Path, signature: &Path, document: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let keyring = scratch.path().join("key.gpg");
    let dearmor = Command::new("gpg")
        .args(["--batch", "--dearmor", "--output"])
        .arg(&keyring)
        .arg(armored_key)
        .env("GNUPGHOME", scratch.path())
        .output()
        .unwrap();
    assert!(
        dearmor.status.success(),
        "{}",
        String::from_utf8_lossy(&dearmor.stderr)
    );
    let verify = Command::new("gpgv")
        .arg("--keyring")
        .arg(&keyring)
        .arg(signature)
        .arg(document)
        .env("GNUPGHOME", scratch.path())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{} does not verify {}: {}",
        signature.display(),
        document.display(),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// The release folder holds what the README lists, each file consistent with the others.
fn check_release_folder(dist: &Path) {
    let sums = read(&dist.join(sums_name()));
    let manifest_name = format!("{NAME}_{VERSION}_manifest.json");
    for name in [zip_name(), manifest_name.clone()] {
        let line = format!("{}  {name}", sha256_file(&dist.join(&name)));
        assert!(
            sums.lines().any(|l| l == line),
            "SHA256SUMS lists {name}: {sums}"
        );
    }
    assert_eq!(
        sums.lines().count(),
        2,
        "only the zip and the manifest: {sums}"
    );
    assert_eq!(
        read_json(&dist.join(&manifest_name))["metadata"]["protocol_versions"][0],
        "6.0"
    );
    assert_eq!(
        zip_members(&dist.join(zip_name())),
        [format!("{NAME}_v{VERSION}")]
    );

    let emulator_zip = format!("truefoundry-emulator_{VERSION}_{PLATFORM}.zip");
    assert_eq!(
        zip_members(&dist.join(&emulator_zip)),
        ["truefoundry-emulator"]
    );
    let emulator_sums = dist.join(format!("truefoundry-emulator_{VERSION}_SHA256SUMS"));
    assert_eq!(
        read(&emulator_sums),
        format!(
            "{}  {emulator_zip}\n",
            sha256_file(&dist.join(&emulator_zip))
        )
    );

    let key = dist.join("signing-key.asc");
    assert_signed_by(
        &key,
        &dist.join(format!("{}.sig", sums_name())),
        &dist.join(sums_name()),
    );
    let emulator_signature =
        emulator_sums.with_file_name(format!("truefoundry-emulator_{VERSION}_SHA256SUMS.sig"));
    assert_signed_by(&key, &emulator_signature, &emulator_sums);
}

/// The registry tree: discovery, the versions list, and a download document whose relative URLs
/// name the copies beside it, and whose key is the one that signed. Returns the key's id.
fn check_registry_tree(dist: &Path) -> String {
    let registry = dist.join("registry");
    assert_eq!(
        read_json(&registry.join(".well-known/terraform.json")),
        serde_json::json!({"providers.v1": "/v1/providers/"})
    );
    assert_eq!(
        read_json(&registry.join("v1/providers/truefoundry/truefoundry/versions")),
        serde_json::json!({"versions": [{
            "version": VERSION,
            "protocols": ["6.0"],
            "platforms": [{"os": "linux", "arch": "amd64"}],
        }]})
    );
    let version_dir = registry.join(VERSION_DIR);
    let download = read_json(&version_dir.join("download/linux/amd64"));
    assert_eq!(download["protocols"], serde_json::json!(["6.0"]));
    assert_eq!(
        (download["os"].as_str(), download["arch"].as_str()),
        (Some("linux"), Some("amd64"))
    );
    assert_eq!(download["filename"], zip_name());
    assert_eq!(download["download_url"], format!("../../{}", zip_name()));
    assert_eq!(download["shasums_url"], format!("../../{}", sums_name()));
    assert_eq!(
        download["shasums_signature_url"],
        format!("../../{}.sig", sums_name())
    );
    assert_eq!(download["shasum"], sha256_file(&dist.join(zip_name())));
    for name in [zip_name(), sums_name(), format!("{}.sig", sums_name())] {
        assert_eq!(
            std::fs::read(version_dir.join(&name)).unwrap(),
            std::fs::read(dist.join(&name)).unwrap(),
            "registry/ holds a copy of {name}"
        );
    }
    let keys = download["signing_keys"]["gpg_public_keys"]
        .as_array()
        .unwrap();
    assert_eq!(keys.len(), 1, "{download}");
    assert_eq!(keys[0]["ascii_armor"], read(&dist.join("signing-key.asc")));
    let key_id = keys[0]["key_id"].as_str().unwrap().to_owned();
    assert!(
        key_id.len() == 16
            && key_id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
        "an uppercase long key id: {key_id}"
    );
    key_id
}

/// A static file server over HTTPS on 127.0.0.1, as any web server would serve `registry/`:
/// the file at the request path, typed by its extension only.
#[derive(Clone)]
struct StaticSite {
    root: PathBuf,
    /// Every path asked for, in order.
    requested: Arc<Mutex<Vec<String>>>,
}

impl StaticSite {
    /// Starts serving `root` over HTTPS; returns the site and its server on 127.0.0.1.
    fn serve(pki: &Pki, root: PathBuf) -> (StaticSite, Server) {
        let site = StaticSite {
            root,
            requested: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(serve_file)
            .with_state(site.clone());
        (site, Server::start_tls(app, pki))
    }

    fn requested(&self) -> Vec<String> {
        self.requested.lock().unwrap().clone()
    }
}

async fn serve_file(State(site): State<StaticSite>, uri: Uri) -> Response {
    site.requested.lock().unwrap().push(uri.path().to_owned());
    let relative = uri.path().trim_start_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = site.root.join(relative);
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A copy of `registry` in a new folder, for a case to spoil.
fn copy_tree(registry: &Path) -> TempDir {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", registry.display()))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

/// Flips one byte in the middle of `path`.
fn flip_a_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// A workspace that installs `truefoundry` from the registry at `host`, trusting the test CA.
fn registry_workspace(terraform: &Terraform, pki: &Pki, host: &str, main_tf: &str) -> Workspace {
    let mut ws = Workspace::with_main(terraform, main_tf);
    let cli_config = ws.path().join("registry-only.tfrc");
    std::fs::write(&cli_config, REGISTRY_ONLY_CLI_CONFIG).unwrap();
    ws.set_env("TF_CLI_CONFIG_FILE", &cli_config);
    // Go reads this on Linux as the system's root certificates: the test CA is the only one.
    ws.set_env("SSL_CERT_FILE", pki.ca_file());
    ws.write(
        "versions.tf",
        &format!(
            "terraform {{\n  required_providers {{\n    truefoundry = {{\n      source  = \"{host}/truefoundry/truefoundry\"\n      version = \"{VERSION}\"\n    }}\n  }}\n}}\n"
        ),
    );
    ws
}

/// The `hashes` recorded in `.terraform.lock.hcl` for the provider at `address`.
fn locked_hashes(ws: &Workspace, address: &str) -> BTreeSet<String> {
    let lock = read(&ws.path().join(".terraform.lock.hcl"));
    let block = lock
        .split(&format!("provider \"{address}\" {{"))
        .nth(1)
        .unwrap_or_else(|| panic!("the lock file has no block for {address}:\n{lock}"));
    let block = &block[..block.find("\n}").expect("the block ends")];
    assert!(
        block.contains(&format!("version     = \"{VERSION}\"")),
        "locked version {VERSION}: {block}"
    );
    let hashes = &block[block.find("hashes = [").expect("hashes are recorded")..];
    hashes
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// `terraform init` fails with `error`, installing nothing and writing no lock file.
#[track_caller]
fn expect_refused(terraform: &Terraform, pki: &Pki, host: &str, error: &str) {
    let ws = registry_workspace(terraform, pki, host, "");
    let run = ws.run(&["init"]).expect_failure();
    // Terraform wraps its error text at any space.
    let words = run
        .output()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains("Failed to install provider") && words.contains(error),
        "init refused the package with {error:?}\n{run}"
    );
    assert!(
        !ws.path().join(".terraform/providers").join(host).exists(),
        "nothing of {host} was installed"
    );
    assert!(
        !ws.path().join(".terraform.lock.hcl").exists(),
        "no lock file"
    );
}

#[test]
fn signed_release_installs_through_a_registry_and_refuses_tampering() {
    // Two releases of the same build with two keys: the second one's signature is a valid
    // signature of the very same sums by a key the registry does not list.
    let (release, other_release) = (Release::start(), Release::start());
    let (dist, other_dist) = (release.finish(), other_release.finish());
    let dist = dist.path();
    check_release_folder(dist);
    let key_id = check_registry_tree(dist);
    let registry = dist.join("registry");
    let sums = read(&dist.join(sums_name()));
    assert_eq!(
        read(&other_dist.path().join(sums_name())),
        sums,
        "the zips are reproducible, so both releases sum up the same"
    );

    // The refused cases: a changed zip; a changed zip whose sums and download document were
    // changed to match after signing; the right sums signed by another key.
    let tampered_zip = copy_tree(&registry);
    flip_a_byte(&tampered_zip.path().join(VERSION_DIR).join(zip_name()));
    let resummed = copy_tree(&registry);
    let zip = resummed.path().join(VERSION_DIR).join(zip_name());
    flip_a_byte(&zip);
    let (old_sum, new_sum) = (sha256_file(&dist.join(zip_name())), sha256_file(&zip));
    let sums_copy = resummed.path().join(VERSION_DIR).join(sums_name());
    std::fs::write(&sums_copy, sums.replace(&old_sum, &new_sum)).unwrap();
    let download_doc = resummed
        .path()
        .join(VERSION_DIR)
        .join("download/linux/amd64");
    std::fs::write(
        &download_doc,
        read(&download_doc).replace(&old_sum, &new_sum),
    )
    .unwrap();
    let foreign_signature = copy_tree(&registry);
    let signature = format!("{}.sig", sums_name());
    std::fs::copy(
        other_dist.path().join(&signature),
        foreign_signature.path().join(VERSION_DIR).join(&signature),
    )
    .unwrap();

    let pki = Pki::generate("Release Test CA", &["localhost", "127.0.0.1"]);
    // Terraform accepts a loopback registry host in either form: the install below names it
    // localhost:PORT, the refusals 127.0.0.1:PORT (they fail only after discovery and download).
    let (site, registry_server) = StaticSite::serve(&pki, registry.clone());
    let host = format!("localhost:{}", registry_server.addr.port());
    // Each site serves until its server is dropped at the end of the test.
    let loopback = |tree: &TempDir| {
        let (_, server) = StaticSite::serve(&pki, tree.path().to_owned());
        (format!("127.0.0.1:{}", server.addr.port()), server)
    };
    let ((tampered_host, _tampered), (resummed_host, _resummed), (foreign_host, _foreign)) = (
        loopback(&tampered_zip),
        loopback(&resummed),
        loopback(&foreign_signature),
    );

    let emulator = Emulator::start();
    let binary = std::fs::read(env!("CARGO_BIN_EXE_terraform-provider-truefoundry")).unwrap();
    // The installed package's h1, and a zh for every line of the signed sums (Terraform takes
    // them all once the signature holds; check_release_folder showed the zip's is among them).
    let mut expected_hashes =
        BTreeSet::from([h1_of_single_file(&format!("{NAME}_v{VERSION}"), &binary)]);
    expected_hashes.extend(sums.lines().map(|line| format!("zh:{}", &line[..64])));
    let main_tf = GroupHcl::new("g", "release-check")
        .map("secrets", [("GREETING", "hello")])
        .to_string();

    for_each_terraform(|terraform| {
        let started = Instant::now();
        let mut ws = registry_workspace(terraform, &pki, &host, &main_tf);
        emulator.set_provider_env(&mut ws);
        let asked_before = site.requested().len();
        ws.run(&["init"]).expect_success().expect_output_contains(&[
            &format!("Installed {host}/truefoundry/truefoundry v{VERSION}"),
            &format!("(self-signed, key ID {key_id})"),
        ]);
        let asked = site.requested()[asked_before..].to_vec();
        for path in [
            "/.well-known/terraform.json".to_owned(),
            "/v1/providers/truefoundry/truefoundry/versions".to_owned(),
            format!("/{VERSION_DIR}/download/linux/amd64"),
            format!("/{VERSION_DIR}/{}", zip_name()),
            format!("/{VERSION_DIR}/{}", sums_name()),
            format!("/{VERSION_DIR}/{signature}"),
        ] {
            assert!(asked.contains(&path), "init fetched {path}: {asked:?}");
        }
        assert_eq!(
            locked_hashes(&ws, &format!("{host}/truefoundry/truefoundry")),
            expected_hashes,
            "the lock file records the installed package (h1) and the signed sums (zh)"
        );

        let mark = emulator.mark();
        ws.run(&["plan"])
            .expect_success()
            .expect_output_contains(&["Plan: 1 to add, 0 to change, 0 to destroy."]);
        let calls = emulator.requests_since(mark);
        assert!(!calls.is_empty(), "the plan reached the emulator");
        for call in &calls {
            assert!(
                call.user_agent
                    .contains(&format!("Terraform/{}", terraform.version))
                    && call.user_agent.contains(&format!("{NAME}/{VERSION}")),
                "the installed provider, run by this Terraform, made the call: {call:?}"
            );
        }
        let installed = started.elapsed();

        expect_refused(
            terraform,
            &pki,
            &tampered_host,
            "archive has incorrect checksum",
        );
        expect_refused(terraform, &pki, &resummed_host, "error checking signature");
        expect_refused(
            terraform,
            &pki,
            &foreign_host,
            "authentication signature from unknown issuer",
        );
        eprintln!(
            "{terraform}: registry install and plan {installed:.1?}, with the three refusals {:.1?}",
            started.elapsed()
        );
    });

    install_from_a_filesystem_mirror(dist);
}

/// The release zip also installs from a filesystem mirror (`-plugin-dir`) under the public
/// address, and plans.
fn install_from_a_filesystem_mirror(dist: &Path) {
    // The packed mirror layout: HOST/NAMESPACE/TYPE/<the release zip>.
    let mirror = tempfile::tempdir().unwrap();
    let dir = mirror
        .path()
        .join("registry.terraform.io/truefoundry/truefoundry");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(dist.join(zip_name()), dir.join(zip_name())).unwrap();

    for_each_terraform(|terraform| {
        let mut ws = Workspace::with_main(
            terraform,
            "provider \"truefoundry\" {\n  host    = \"https://tfy.example.com\"\n  api_key = \"unused\"\n}\n",
        );
        // No dev_overrides here: the provider must come from the mirror, as users install it.
        let cli_config = ws.path().join("mirror.tfrc");
        std::fs::write(&cli_config, "").unwrap();
        ws.set_env("TF_CLI_CONFIG_FILE", &cli_config);
        ws.write(
            "versions.tf",
            &format!(
                "terraform {{\n  required_providers {{\n    truefoundry = {{\n      source  = \"truefoundry/truefoundry\"\n      version = \"{VERSION}\"\n    }}\n  }}\n}}\n"
            ),
        );
        let plugin_dir = format!("-plugin-dir={}", mirror.path().display());
        ws.run(&["init", &plugin_dir]).expect_success();
        ws.run(&["plan"])
            .expect_success()
            .expect_output_contains(&["No changes"]);
    });
}

/// `scripts/release` packaging the test build's binaries into `out`, signed as `signing` says.
fn release_command(out: &Path, signing: &[&str]) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new("python3");
    command
        .arg(root.join("scripts/release"))
        .args(signing)
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_terraform-provider-truefoundry"),
        ])
        .args([
            "--emulator-binary",
            env!("CARGO_BIN_EXE_truefoundry-emulator"),
        ])
        .arg("--out")
        .arg(out);
    command
}

/// `scripts/release` into `out`, with `signing` (and GNUPGHOME when given); whether it
/// succeeded, and its stderr.
fn run_release(out: &Path, signing: &[&str], gnupghome: Option<&Path>) -> (bool, String) {
    let mut command = release_command(out, signing);
    if let Some(home) = gnupghome {
        command.env("GNUPGHOME", home);
    }
    let output = command.output().expect("the release script starts");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_release_refuses_by_name_files_it_did_not_build() {
    let script = "#!/bin/sh\necho planted\n";
    for planted in [
        // Another platform of this version, never built here; a platform nobody builds; a
        // stray file.
        format!("{NAME}_{VERSION}_linux_arm64.zip"),
        format!("{NAME}_{VERSION}_evil_os.zip"),
        "notes.txt".to_owned(),
    ] {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join(&planted), script).unwrap();
        let (succeeded, stderr) = run_release(out.path(), &["--throwaway-key"], None);
        assert!(!succeeded, "{planted} was accepted:\n{stderr}");
        assert!(stderr.contains(&planted), "{planted} not named:\n{stderr}");
        let left: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            std::slice::from_ref(&planted),
            "nothing was written or signed"
        );
        assert_eq!(read(&out.path().join(&planted)), script);
    }
}

#[test]
fn a_later_run_lists_an_earlier_runs_zips_only_when_its_signature_vouches_for_them() {
    let home = tempfile::tempdir().unwrap();
    let generate = Command::new("gpg")
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
        .args([
            "--quick-generate-key",
            "Release test <release-test@example.invalid>",
        ])
        .args(["rsa2048", "sign", "never"])
        .env("GNUPGHOME", home.path())
        .output()
        .unwrap();
    assert!(
        generate.status.success(),
        "{}",
        String::from_utf8_lossy(&generate.stderr)
    );
    let key = ["--gpg-key", "release-test@example.invalid"];
    let out = tempfile::tempdir().unwrap();
    let arm64 = format!("{NAME}_{VERSION}_linux_arm64.zip");

    // Two runs with one key: the arm64 zip of the first is vouched for by its signed sums.
    let first = [&key[..], &["--target", "aarch64-unknown-linux-gnu"]].concat();
    let (succeeded, stderr) = run_release(out.path(), &first, Some(home.path()));
    assert!(succeeded, "{stderr}");
    let (succeeded, stderr) = run_release(out.path(), &key, Some(home.path()));
    assert!(succeeded, "{stderr}");
    let sums = read(&out.path().join(sums_name()));
    let listed: Vec<&str> = sums.lines().filter_map(|l| l.split("  ").nth(1)).collect();
    let manifest = format!("{NAME}_{VERSION}_manifest.json");
    assert_eq!(
        listed,
        [zip_name().as_str(), arm64.as_str(), manifest.as_str()]
    );
    assert_signed_by(
        &out.path().join("signing-key.asc"),
        &out.path().join(format!("{}.sig", sums_name())),
        &out.path().join(sums_name()),
    );

    // Changed since it was signed: refused by name, and the signed files stay as they were.
    let signature_path = out.path().join(format!("{}.sig", sums_name()));
    let signature = std::fs::read(&signature_path).unwrap();
    let zip = out.path().join(&arm64);
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes.extend_from_slice(b"planted");
    std::fs::write(&zip, bytes).unwrap();
    let (succeeded, stderr) = run_release(out.path(), &key, Some(home.path()));
    assert!(!succeeded);
    assert!(stderr.contains(&arm64), "{stderr}");
    assert_eq!(read(&out.path().join(sums_name())), sums);
    assert_eq!(std::fs::read(&signature_path).unwrap(), signature);

    // Unchanged but signed by another key than this run's: refused too.
    std::fs::write(
        &zip,
        std::fs::read(&zip)
            .unwrap()
            .strip_suffix(b"planted")
            .unwrap(),
    )
    .unwrap();
    let (succeeded, stderr) = run_release(out.path(), &["--throwaway-key"], None);
    assert!(!succeeded);
    assert!(stderr.contains(&arm64), "{stderr}");
    let _ = Command::new("gpgconf")
        .args(["--kill", "gpg-agent"])
        .env("GNUPGHOME", home.path())
        .output();
}
