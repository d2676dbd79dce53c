//! The data source, write-only values and the ephemeral resource, end to end with the real CLI.
//! Write-only and ephemeral paths need Terraform 1.11: they run with a `terraform` on PATH of that
//! version or newer (older ones check the refusal), and the protocol tests cover them whatever is
//! installed.

use std::path::Path;
use std::process::Command;

use crate::support::emulator::{self, ACME_KEY, ACME_VIEWER_KEY, Emulator, workspace};
use crate::support::hcl::{GroupHcl, quote};
use crate::support::terraform::for_each_terraform;

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
  secrets = {{ TOKEN_REF = data.truefoundry_secret_group.by_fqn.secret_fqns["TOKEN"] }}
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

/// Variable `v` (sensitive, ephemeral) and `group`, whose one key `K` is set by `maps`:
/// (attribute, HCL expression for K's entry in it).
fn wo_config(group: GroupHcl, maps: &[(&str, &str)]) -> String {
    let group = maps.iter().fold(group, |group, (map, expr)| {
        group.map_exprs(map, [("K", expr)])
    });
    format!(
        "variable \"v\" {{\n  type      = string\n  sensitive = true\n  ephemeral = true\n}}\n{group}"
    )
}

/// `group` with `K` write-only from `var.v`, sent again when `version` changes.
fn wo_config_at(group: GroupHcl, version: &str) -> String {
    wo_config(
        group,
        &[
            ("secrets_wo", "var.v"),
            ("secrets_wo_versions", &quote(version)),
        ],
    )
}

fn wo_group() -> GroupHcl {
    GroupHcl::new("g", "wo-acme")
}

/// The requests since `mark` that carried a value, as (keys with a value) per request.
fn values_sent(emulator: &Emulator, mark: usize) -> Vec<Vec<String>> {
    emulator
        .requests_since(mark)
        .into_iter()
        .filter(|r| !r.keys_with_value.is_empty())
        .map(|r| r.keys_with_value)
        .collect()
}

/// The version the server holds for key `key` of the acme group `name`.
fn server_version(emulator: &Emulator, name: &str, key: &str) -> Option<i64> {
    emulator.secret_versions(name)?.get(key).copied().flatten()
}

#[test]
fn write_only_values_never_reach_plan_or_state() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        if !terraform.runs_part_needing(1, 11, "write-only values and their rotation") {
            // No write-only support: refused at validation, the value never shown, nothing sent.
            let main_tf = wo_group().map("secrets_wo", [("K", WO_CANARY)]).to_string();
            let ws = workspace(terraform, &emulator, &main_tf);
            let run = ws
                .run(&["apply", "-auto-approve"])
                .expect_failure()
                .expect_output_contains(&["Write-Only Attribute Not Supported", "1.11"]);
            assert!(!run.output().contains(WO_CANARY), "{run}");
            assert!(emulator.requests().iter().all(|r| !r.is_write()));
            return;
        }
        let mut ws = workspace(terraform, &emulator, &wo_config_at(wo_group(), "1"));
        ws.set_env("TF_VAR_v", WO_CANARY);
        let mark = emulator.mark();
        ws.run_ok(&["plan", "-out=create.tfplan"]);
        assert!(!plan_file_text(&ws.path().join("create.tfplan")).contains(WO_CANARY));
        ws.run_ok(&["apply", "create.tfplan"]);
        assert_eq!(values_sent(&emulator, mark), [["K"]]);
        ws.plan_detailed_exitcode().expect_empty();

        // Rotation: a new value alone is invisible; bumping the version sends it, once.
        ws.set_env("TF_VAR_v", WO_CANARY_2);
        ws.plan_detailed_exitcode().expect_empty();
        ws.write("main.tf", &wo_config_at(wo_group(), "2"));
        let mark = emulator.mark();
        ws.apply();
        assert_eq!(values_sent(&emulator, mark), [["K"]]);
        assert_eq!(emulator.secret_values("wo-acme").unwrap()["K"], WO_CANARY_2);
        ws.plan_detailed_exitcode().expect_empty();
        let version = server_version(&emulator, "wo-acme", "K");

        // Moving K into `secrets` with the value the server holds sends nothing: the plan reads
        // the value and compares it; the server's version stays.
        ws.write(
            "main.tf",
            &wo_config(wo_group(), &[("secrets", &quote(WO_CANARY_2))]),
        );
        let mark = emulator.mark();
        ws.apply();
        assert!(values_sent(&emulator, mark).is_empty());
        assert_eq!(server_version(&emulator, "wo-acme", "K"), version);
        ws.plan_detailed_exitcode().expect_empty();

        // The other moves send nothing: to `initial_secrets` (the key exists, so its initial
        // value is never sent) and back to `secrets_wo` without a version (the key keeps the
        // value it has). This replaces the old value-less key (`K = {}`).
        let mark = emulator.mark();
        ws.write(
            "main.tf",
            &wo_config(wo_group(), &[("initial_secrets", "\"initial-never-sent\"")]),
        );
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        ws.write(
            "main.tf",
            &wo_config(wo_group(), &[("secrets_wo", "var.v")]),
        );
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        assert!(
            values_sent(&emulator, mark).is_empty(),
            "a move to initial_secrets or secrets_wo sends no value"
        );
        assert_eq!(emulator.secret_values("wo-acme").unwrap()["K"], WO_CANARY_2);
        assert_eq!(server_version(&emulator, "wo-acme", "K"), version);
        // The `secrets` step put the rotated value in state on purpose; the write-only steps did
        // not, and the write-only step now has it out of state again.
        let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
        assert!(!state.contains(WO_CANARY));
        assert!(!state.contains(WO_CANARY_2));
    });
}

#[test]
fn ephemeral_values_feed_write_only_arguments_without_touching_state() {
    for_each_terraform(|terraform| {
        if !terraform.runs_part_needing(1, 11, "an ephemeral value feeding secrets_wo") {
            return;
        }
        let emulator = Emulator::start();
        seed_group(&emulator, "source-acme", &[("API_TOKEN", WO_CANARY)]);
        let main_tf = r#"
ephemeral "truefoundry_secret_group" "source" {
  fqn = "acme:source-acme"
}
resource "truefoundry_secret_group" "copy" {
  name                = "copy-acme"
  secrets_wo          = { API_TOKEN = ephemeral.truefoundry_secret_group.source.secret_values["API_TOKEN"] }
  secrets_wo_versions = { API_TOKEN = "1" }
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
        let emulator = Emulator::start();
        seed_group(&emulator, "wo-acme", &[("K", WO_CANARY)]);
        // The group as imported: collaborators adopted, no secret map set.
        let imported =
            wo_group().collaborators([("user:viewer@acme.example", "secret-group-viewer")]);
        let mut ws = workspace(terraform, &emulator, &imported.to_string());
        ws.import("truefoundry_secret_group.g", "write-only:acme:wo-acme");
        let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
        assert!(!state.contains(WO_CANARY));
        let group = &ws.state_json()["resources"][0]["instances"][0]["attributes"];
        for map in [
            "secrets",
            "secrets_wo",
            "secrets_wo_versions",
            "initial_secrets",
        ] {
            assert!(
                group[map].is_null(),
                "{map} after a write-only import: {group:#}"
            );
        }
        assert_eq!(group["secret_versions"], serde_json::json!({"K": 1}));
        assert_eq!(
            group["secret_fqns"],
            serde_json::json!({"K": "tfy-secret://acme:wo-acme:K"})
        );
        ws.plan_detailed_exitcode().expect_empty();
        if !terraform.runs_part_needing(1, 11, "adopting an imported key as write-only") {
            return;
        }
        // Adopting the key as write-only records the version and sends nothing: the key keeps
        // the value it has.
        ws.write("main.tf", &wo_config_at(imported, "1"));
        ws.set_env("TF_VAR_v", WO_CANARY_2);
        let mark = emulator.mark();
        ws.apply();
        assert!(values_sent(&emulator, mark).is_empty());
        assert_eq!(emulator.secret_values("wo-acme").unwrap()["K"], WO_CANARY);
        ws.plan_detailed_exitcode().expect_empty();
    });
}
