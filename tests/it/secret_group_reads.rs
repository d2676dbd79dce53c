//! The data source, write-only values and the ephemeral resource, end to end with the real CLI.
//! Write-only and ephemeral paths need Terraform 1.11: they run with a `terraform` on PATH of that
//! version or newer, and the protocol tests cover them whatever is installed.

use std::path::Path;
use std::process::Command;

use crate::support::emulator::{self, ACME_KEY, ACME_VIEWER_KEY, Emulator};
use crate::support::terraform::{Terraform, Workspace, for_each_terraform};

fn workspace(terraform: &Terraform, emulator: &Emulator, main_tf: &str) -> Workspace {
    let mut ws = Workspace::with_main(terraform, main_tf);
    for (k, v) in emulator.provider_env() {
        ws.set_env(k, v);
    }
    ws
}

/// Creates group `name` in tenant acme with `secrets`, directly through the API.
fn seed_group(emulator: &Emulator, name: &str, secrets: &[(&str, &str)]) -> String {
    emulator.block_on(emulator::seed_group(
        &emulator.client(ACME_KEY),
        name,
        secrets,
    ))
}

/// The text of a saved plan file (a zip), every entry decompressed.
fn plan_file_text(path: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nfor n in z.namelist(): sys.stdout.buffer.write(z.read(n))",
        ])
        .arg(path)
        .output()
        .expect("python3 reads the plan file");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn data_source_looks_up_by_fqn_name_and_id_with_and_without_values() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let id = seed_group(
            &emulator,
            "shared-acme",
            &[("TOKEN", "t0k3n"), ("URL", "https://x")],
        );
        let main_tf = format!(
            r#"
data "truefoundry_secret_group" "by_fqn" {{
  fqn = "acme:shared-acme"
}}
data "truefoundry_secret_group" "by_name" {{
  name           = "shared-acme"
  include_values = true
}}
data "truefoundry_secret_group" "by_id" {{
  id = "{id}"
}}
resource "truefoundry_secret_group" "consumer" {{
  name    = "consumer-acme"
  secrets = {{ TOKEN_REF = {{ value = data.truefoundry_secret_group.by_fqn.secret_fqns["TOKEN"] }} }}
}}
output "keys" {{
  value = data.truefoundry_secret_group.by_id.keys
}}
output "versions" {{
  value = data.truefoundry_secret_group.by_fqn.secret_versions
}}
output "no_values" {{
  value     = data.truefoundry_secret_group.by_fqn.secret_values == null
  sensitive = true
}}
output "token" {{
  value     = data.truefoundry_secret_group.by_name.secret_values["TOKEN"]
  sensitive = true
}}
"#
        );
        let ws = workspace(terraform, &emulator, &main_tf);
        let mark = emulator.mark();
        ws.apply();
        let outputs = ws.run_ok(&["output", "-json"]).stdout_json();
        assert_eq!(
            outputs["keys"]["value"],
            serde_json::json!(["TOKEN", "URL"])
        );
        assert_eq!(outputs["versions"]["value"]["TOKEN"], 1);
        assert_eq!(outputs["no_values"]["value"], true);
        assert_eq!(outputs["token"]["value"], "t0k3n");
        assert_eq!(outputs["token"]["sensitive"], true);
        // The FQN reference reached the other group as its value.
        let values = emulator
            .secret_values("consumer-acme")
            .expect("the group exists");
        assert_eq!(values["TOKEN_REF"], "tfy-secret://acme:shared-acme:TOKEN");
        // Each lookup costs two requests whatever the number of keys.
        let lookups = emulator
            .requests_since(mark)
            .iter()
            .filter(|r| r.method == "GET" || r.path.ends_with("/v1/secrets"))
            .count();
        eprintln!("data source and resource read requests during apply: {lookups}");
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn a_viewer_asking_for_values_gets_a_permission_diagnostic() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        seed_group(&emulator, "viewed-acme", &[("K", "v")]);
        let mut ws = workspace(
            terraform,
            &emulator,
            "data \"truefoundry_secret_group\" \"g\" {\n  fqn            = \"acme:viewed-acme\"\n  include_values = true\n}\n",
        );
        ws.set_env("TFY_API_KEY", ACME_VIEWER_KEY);
        ws.run(&["plan"]).expect_failure().expect_output_contains(&[
            "Permission Denied Reading Secret Values",
            "secret-group-editor",
        ]);
        ws.write(
            "main.tf",
            "data \"truefoundry_secret_group\" \"g\" {\n  fqn = \"acme:viewed-acme\"\n}\noutput \"k\" {\n  value = data.truefoundry_secret_group.g.keys\n}\n",
        );
        ws.run(&["plan"]).expect_success();
    });
}

const WO_CANARY: &str = "canary-wo-5d2e8a-value";
const WO_CANARY_2: &str = "canary-wo-5d2e8a-rotated";

fn wo_config(value_line: &str) -> String {
    format!(
        "variable \"v\" {{\n  type      = string\n  sensitive = true\n  ephemeral = true\n}}\nresource \"truefoundry_secret_group\" \"g\" {{\n  name    = \"wo-acme\"\n  secrets = {{ K = {value_line} }}\n}}\n"
    )
}

#[test]
fn write_only_values_never_reach_plan_or_state() {
    for_each_terraform(|terraform| {
        if !terraform.at_least(1, 11) {
            eprintln!("skipped with {terraform}: write-only attributes need Terraform 1.11");
            return;
        }
        let emulator = Emulator::start();
        let mut ws = workspace(
            terraform,
            &emulator,
            &wo_config("{ value_wo = var.v, value_wo_version = \"1\" }"),
        );
        ws.set_env("TF_VAR_v", WO_CANARY);
        let mark = emulator.mark();
        ws.run_ok(&["plan", "-out=create.tfplan"]);
        assert!(!plan_file_text(&ws.path().join("create.tfplan")).contains(WO_CANARY));
        ws.run_ok(&["apply", "create.tfplan"]);
        let sent: Vec<_> = emulator
            .requests_since(mark)
            .into_iter()
            .filter(|r| !r.keys_with_value.is_empty())
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].keys_with_value, vec!["K"]);
        ws.plan_detailed_exitcode().expect_empty();

        // Rotation: a new value alone is invisible; bumping the version sends it, once.
        ws.set_env("TF_VAR_v", WO_CANARY_2);
        ws.plan_detailed_exitcode().expect_empty();
        ws.write(
            "main.tf",
            &wo_config("{ value_wo = var.v, value_wo_version = \"2\" }"),
        );
        let mark = emulator.mark();
        ws.apply();
        let sent: Vec<_> = emulator
            .requests_since(mark)
            .into_iter()
            .filter(|r| !r.keys_with_value.is_empty())
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].keys_with_value, vec!["K"]);
        ws.plan_detailed_exitcode().expect_empty();

        // Mode switches send nothing: write-only -> value (same value) -> unmanaged.
        let mark = emulator.mark();
        ws.write(
            "main.tf",
            &wo_config(&format!("{{ value = \"{WO_CANARY_2}\" }}")),
        );
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        ws.write("main.tf", &wo_config("{}"));
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        assert!(
            emulator
                .requests_since(mark)
                .iter()
                .all(|r| r.keys_with_value.is_empty()),
            "a mode switch sends no value"
        );
        // The value-mode step put the rotated value in state on purpose; the write-only steps did not.
        let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
        assert!(!state.contains(WO_CANARY));
    });
}

#[test]
fn ephemeral_values_feed_write_only_arguments_without_touching_state() {
    for_each_terraform(|terraform| {
        if !terraform.at_least(1, 11) {
            eprintln!("skipped with {terraform}: needs Terraform 1.11");
            return;
        }
        let emulator = Emulator::start();
        seed_group(&emulator, "source-acme", &[("API_TOKEN", WO_CANARY)]);
        let main_tf = r#"
ephemeral "truefoundry_secret_group" "source" {
  fqn = "acme:source-acme"
}
resource "truefoundry_secret_group" "copy" {
  name = "copy-acme"
  secrets = {
    API_TOKEN = {
      value_wo         = ephemeral.truefoundry_secret_group.source.secret_values["API_TOKEN"]
      value_wo_version = "1"
    }
  }
}
"#;
        let ws = workspace(terraform, &emulator, main_tf);
        ws.run_ok(&["plan", "-out=copy.tfplan"]);
        assert!(!plan_file_text(&ws.path().join("copy.tfplan")).contains(WO_CANARY));
        ws.run_ok(&["apply", "copy.tfplan"]);
        let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
        assert!(
            !state.contains(WO_CANARY),
            "the copied value is not in state"
        );
        let values = emulator
            .secret_values("copy-acme")
            .expect("the group exists");
        assert_eq!(values["API_TOKEN"], WO_CANARY);
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn write_only_import_brings_keys_without_values() {
    for_each_terraform(|terraform| {
        if !terraform.at_least(1, 11) {
            eprintln!("skipped with {terraform}: needs Terraform 1.11");
            return;
        }
        let emulator = Emulator::start();
        seed_group(&emulator, "wo-acme", &[("K", WO_CANARY)]);
        let mut ws = workspace(
            terraform,
            &emulator,
            &wo_config("{ value_wo = var.v, value_wo_version = \"1\" }"),
        );
        ws.set_env("TF_VAR_v", WO_CANARY);
        ws.import("truefoundry_secret_group.g", "write-only:acme:wo-acme");
        let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
        assert!(!state.contains(WO_CANARY));
        // Adopting the key as write-only is a mode switch: it records the version, sends nothing.
        let mark = emulator.mark();
        ws.apply();
        assert!(
            emulator
                .requests_since(mark)
                .iter()
                .all(|r| r.keys_with_value.is_empty())
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}
