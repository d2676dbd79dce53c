//! The real Terraform CLI loads, validates and plans with the provider binary built by cargo.

use crate::support::terraform::{PROVIDER_ADDRESS, Workspace, for_each_terraform};

const PROVIDER_ONLY: &str = r#"provider "truefoundry" {}
"#;

/// A workspace whose provider configuration resolves from the environment to a loopback address
/// nothing listens on: enough to configure, and no request can leave the machine.
fn provider_only_workspace(terraform: &crate::support::terraform::Terraform) -> Workspace {
    let mut workspace = Workspace::with_main(terraform, PROVIDER_ONLY);
    workspace
        .set_env("TFY_HOST", "http://127.0.0.1:9")
        .set_env("TFY_API_KEY", "cli-test-placeholder-key");
    workspace
}

#[test]
fn validate_accepts_a_provider_block_without_resources() {
    for_each_terraform(|terraform| {
        provider_only_workspace(terraform)
            .validate()
            .expect_output_contains(&["The configuration is valid"]);
    });
}

#[test]
fn plan_without_resources_is_empty_and_uses_the_built_binary() {
    let built_dir = std::path::Path::new(env!("CARGO_BIN_EXE_terraform-provider-truefoundry"))
        .parent()
        .expect("binary directory")
        .to_string_lossy()
        .into_owned();
    for_each_terraform(|terraform| {
        provider_only_workspace(terraform)
            .plan_detailed_exitcode()
            .expect_empty()
            // The dev_overrides warning names the directory the plugin was loaded from.
            .expect_output_contains(&["No changes", "truefoundry/truefoundry", &built_dir]);
    });
}

#[test]
fn providers_schema_json_shows_the_provider_schema() {
    for_each_terraform(|terraform| {
        let schema = provider_only_workspace(terraform).providers_schema_json();
        let ours = &schema["provider_schemas"][PROVIDER_ADDRESS];
        assert!(
            ours.is_object(),
            "{terraform}: no schema for {PROVIDER_ADDRESS} in {schema:#}"
        );
        let host = &ours["provider"]["block"]["attributes"]["host"];
        assert_eq!(
            host["type"], "string",
            "{terraform}: the provider configuration lacks a string `host`: {ours:#}"
        );
        assert_eq!(
            ours["provider"]["block"]["attributes"]["api_key"]["sensitive"], true,
            "{terraform}: `api_key` must be sensitive: {ours:#}"
        );
        // Every secret map is one top-level map of strings; those holding values are sensitive
        // as a whole, which every Terraform from 1.0 on honours (a nested leaf it would not).
        let group = &ours["resource_schemas"]["truefoundry_secret_group"]["block"]["attributes"];
        for (map, sensitive) in [
            ("secrets", true),
            ("secrets_wo", true),
            ("initial_secrets", true),
            ("secrets_wo_versions", false),
        ] {
            assert_eq!(
                group[map]["type"],
                serde_json::json!(["map", "string"]),
                "{terraform}: `{map}` is a map of strings: {group:#}"
            );
            assert_eq!(
                group[map]["sensitive"].as_bool().unwrap_or(false),
                sensitive,
                "{terraform}: `{map}` sensitive: {group:#}"
            );
        }
        if terraform.runs_part_needing(1, 11, "the write_only mark of secrets_wo") {
            assert_eq!(
                group["secrets_wo"]["write_only"], true,
                "{terraform}: `secrets_wo` is write-only: {group:#}"
            );
        }
    });
}

/// The installer behind `scripts/install-terraform` and `scripts/install-null-provider`, run
/// offline against a local sdist (found through pip's find-links; the index URL points at a closed
/// loopback port so nothing can be fetched).
mod installer {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    const TOOL: &[u8] = b"#!/bin/sh\necho installed-tool\n";
    /// SHA-256 of `TOOL`.
    const TOOL_SHA256: &str = "d47e090292fb11b4e5997cab509f9c641b0adfa76df250a0907948086de44679";

    /// Writes a gzip tarball laid out like an sdist: argv = tarball, tool contents, marker path.
    const MAKE_SDIST: &str = r#"
import io, sys, tarfile
files = {
    "demo-tool-1.0.0/bin/tool": sys.argv[2].encode(),
    "demo-tool-1.0.0/setup.py": f"open({sys.argv[3]!r}, 'w').write('ran')\n".encode(),
}
with tarfile.open(sys.argv[1], "w:gz") as archive:
    for name, data in files.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
"#;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        /// A find-links folder holding `demo-tool-1.0.0.tar.gz`, whose setup.py would leave a
        /// marker file if anything ran it.
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let links = dir.path().join("links");
            std::fs::create_dir(&links).unwrap();
            let marker = dir.path().join("setup-py-ran");
            let status = Command::new("python3")
                .args(["-c", MAKE_SDIST])
                .arg(links.join("demo-tool-1.0.0.tar.gz"))
                .arg(std::str::from_utf8(TOOL).unwrap())
                .arg(&marker)
                .status()
                .expect("python3 runs");
            assert!(status.success(), "could not build the fixture sdist");
            Self { dir }
        }

        fn dest(&self) -> PathBuf {
            self.dir.path().join("tools/demo/tool")
        }

        fn mirror_copy(&self) -> PathBuf {
            self.dir.path().join("tools/mirror/x/tool")
        }

        fn install(&self, sha256: &str) -> Output {
            let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/sdist_binary.py");
            Command::new("python3")
                .arg(helper)
                .args(["demo-tool", "1.0.0", "bin/tool", sha256])
                .arg(self.dest())
                .arg(self.mirror_copy())
                .env("PIP_FIND_LINKS", self.dir.path().join("links"))
                .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
                .output()
                .expect("python3 runs")
        }

        fn setup_py_ran(&self) -> bool {
            self.dir.path().join("setup-py-ran").exists()
        }
    }

    #[test]
    fn installs_the_pinned_binary_and_its_mirror_copy_without_running_setup_py() {
        let fixture = Fixture::new();
        let first = fixture.install(TOOL_SHA256);
        assert!(first.status.success(), "{first:?}");
        assert_eq!(std::fs::read(fixture.dest()).unwrap(), TOOL);
        let meta = std::fs::metadata(fixture.dest()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o111, 0o111, "not executable");
        assert_eq!(std::fs::read(fixture.mirror_copy()).unwrap(), TOOL);
        assert!(!fixture.setup_py_ran());

        // Installed already: nothing to say, nothing replaced.
        let second = fixture.install(TOOL_SHA256);
        assert!(second.status.success(), "{second:?}");
        assert!(
            second.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&second.stderr)
        );
        assert_eq!(std::fs::metadata(fixture.dest()).unwrap().ino(), meta.ino());
    }

    #[test]
    fn refuses_a_binary_whose_hash_differs_from_the_pin() {
        let fixture = Fixture::new();
        let wrong = "0".repeat(64);
        let refused = fixture.install(&wrong);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("refusing"), "{stderr}");
        assert!(!fixture.dest().exists());
        assert!(!fixture.mirror_copy().exists());
        assert!(!fixture.setup_py_ran());
    }
}
