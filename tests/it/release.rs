//! The release artifacts install and run: zip + SHA256SUMS + manifest, laid into a filesystem
//! mirror, `terraform init -plugin-dir`, then `plan`, with the real CLI.

use std::path::Path;
use std::process::Command;

use crate::support::terraform::{Workspace, for_each_terraform};

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn release_zip_installs_from_a_filesystem_mirror() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dist = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(root.join("scripts/release"))
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_terraform-provider-truefoundry"),
        ])
        .arg("--out")
        .arg(dist.path())
        .output()
        .expect("the release script runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );

    let version = env!("CARGO_PKG_VERSION");
    let zip_name = format!("terraform-provider-truefoundry_{version}_linux_amd64.zip");
    let sums = std::fs::read_to_string(dist.path().join(format!(
        "terraform-provider-truefoundry_{version}_SHA256SUMS"
    )))
    .unwrap();
    let manifest_name = format!("terraform-provider-truefoundry_{version}_manifest.json");
    for name in [&zip_name, &manifest_name] {
        let expected = format!("{}  {name}", sha256_hex(&dist.path().join(name)));
        assert!(
            sums.lines().any(|l| l == expected),
            "SHA256SUMS lists {name}: {sums}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.path().join(&manifest_name)).unwrap())
            .unwrap();
    assert_eq!(manifest["metadata"]["protocol_versions"][0], "6.0");

    // The packed mirror layout: HOST/NAMESPACE/TYPE/<the release zip>.
    let mirror = tempfile::tempdir().unwrap();
    let dir = mirror
        .path()
        .join("registry.terraform.io/truefoundry/truefoundry");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(dist.path().join(&zip_name), dir.join(&zip_name)).unwrap();

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
                "terraform {{\n  required_providers {{\n    truefoundry = {{\n      source  = \"truefoundry/truefoundry\"\n      version = \"{version}\"\n    }}\n  }}\n}}\n"
            ),
        );
        let plugin_dir = format!("-plugin-dir={}", mirror.path().display());
        ws.run(&["init", &plugin_dir]).expect_success();
        ws.run(&["plan"])
            .expect_success()
            .expect_output_contains(&["No changes"]);
    });
}
