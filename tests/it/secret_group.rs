//! `truefoundry_secret_group` end to end: the real Terraform CLI, our provider binary and the
//! emulator binary, with the emulator's request log as the witness of what reached the API.

use std::collections::BTreeMap;

use truefoundry_provider::client::{SecretUpdate, SecretValue};

use crate::support::canaries::assert_no_canary;
use crate::support::emulator::{
    ACME_KEY, Emulator, GLOBEX_KEY, LoggedRequest, full_list_puts, workspace,
};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Workspace, for_each_terraform};

/// A group `name` with `secrets` (key → value), optional collaborators, and an `id` output.
fn group_config(name: &str, secrets: &[(&str, &str)], collaborators: &[(&str, &str)]) -> String {
    let mut group = GroupHcl::new("g", name);
    if !collaborators.is_empty() {
        group = group.collaborators(collaborators.iter().copied());
    }
    let group = group.map("secrets", secrets.iter().copied());
    format!("{group}output \"id\" {{\n  value = truefoundry_secret_group.g.id\n}}\n")
}

const TWO_COLLABORATORS: [(&str, &str); 2] = [
    ("team:payments", "secret-group-editor"),
    ("user:ops@example.com", "secret-group-admin"),
];

fn manifest_puts(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path == "/api/svc/v1/secret-groups" && !r.dry_run)
        .collect()
}

/// The server's keys and values of the group named `name` in tenant acme.
fn server_secrets(emulator: &Emulator, name: &str) -> Option<BTreeMap<String, String>> {
    emulator.secret_values(name)
}

fn group_id(emulator: &Emulator, name: &str) -> String {
    let client = emulator.client(ACME_KEY);
    emulator
        .block_on(client.find_secret_group_by_fqn(&format!("acme:{name}")))
        .unwrap()
        .expect("group exists")
        .id
}

/// Writes the full key list of a group directly through the API, as someone outside Terraform.
fn put_secrets_out_of_band(emulator: &Emulator, name: &str, secrets: &[(&str, Option<&str>)]) {
    let client = emulator.client(ACME_KEY);
    let id = group_id(emulator, name);
    let body: Vec<SecretUpdate> = secrets
        .iter()
        .map(|(key, value)| SecretUpdate {
            key: (*key).to_owned(),
            value: value.map(SecretValue::new),
        })
        .collect();
    emulator.block_on(client.set_secrets(&id, &body)).unwrap();
}

#[test]
fn create_then_plan_is_empty_and_one_value_change_sends_one_value() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let secrets = [("A", "a1"), ("B", "b1"), ("C", "c1")];
        let ws = workspace(
            terraform,
            &emulator,
            &group_config("payments-e2e", &secrets, &TWO_COLLABORATORS),
        );

        // 1. create with 3 keys and 2 collaborators.
        let mark = emulator.mark();
        ws.apply();
        let create = emulator.requests_since(mark);
        eprintln!("requests for create (3 keys): {}", create.len());
        assert_eq!(manifest_puts(&create).len(), 1);
        let puts = full_list_puts(&create);
        assert_eq!(puts.len(), 1);
        assert_eq!(puts[0].keys_with_value, vec!["A", "B", "C"]);
        assert_eq!(
            server_secrets(&emulator, "payments-e2e").unwrap(),
            BTreeMap::from([
                ("A".into(), "a1".into()),
                ("B".into(), "b1".into()),
                ("C".into(), "c1".into())
            ])
        );
        let mark = emulator.mark();
        ws.plan_detailed_exitcode().expect_empty();
        let refresh = emulator.requests_since(mark);
        eprintln!("requests for a no-op refresh: {}", refresh.len());
        assert!(
            refresh.iter().all(|r| !r.is_write()),
            "a plan writes nothing: {refresh:?}"
        );

        // 2. change one value: one secrets PUT carrying exactly that value, no manifest PUT.
        let changed = [("A", "a1"), ("B", "b2"), ("C", "c1")];
        ws.write(
            "main.tf",
            &group_config("payments-e2e", &changed, &TWO_COLLABORATORS),
        );
        // The plan names the key it writes and never shows a value.
        ws.plan_detailed_exitcode().expect_changes().expect_lines(&[
            "~ secrets = (sensitive value)",
            "~ \"B\" = 1 -> (known after apply)",
            "# (2 unchanged elements hidden)",
        ]);
        let mark = emulator.mark();
        ws.apply();
        let update = emulator.requests_since(mark);
        eprintln!(
            "requests for a one-key update (incl. refresh): {}",
            update.len()
        );
        let puts = full_list_puts(&update);
        assert_eq!(puts.len(), 1, "{update:?}");
        assert_eq!(puts[0].keys, vec!["A", "B", "C"]);
        assert_eq!(puts[0].keys_with_value, vec!["B"]);
        assert!(manifest_puts(&update).is_empty());
        assert_eq!(
            server_secrets(&emulator, "payments-e2e").unwrap()["B"],
            "b2"
        );
        ws.plan_detailed_exitcode().expect_empty();

        // 3a. add a key, remove a key.
        let reshaped = [("A", "a1"), ("B", "b2"), ("D", "d1")];
        ws.write(
            "main.tf",
            &group_config("payments-e2e", &reshaped, &TWO_COLLABORATORS),
        );
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_output_contains(&["Secrets Will Be Deleted", ": C."])
            .expect_lines(&[
                "~ secrets = (sensitive value)",
                "- \"C\" = 1 -> null",
                "+ \"D\" = (known after apply)",
                "+ \"D\" = \"tfy-secret://acme:payments-e2e:D\"",
            ]);
        let mark = emulator.mark();
        ws.apply();
        let puts_reshape = emulator.requests_since(mark);
        let puts = full_list_puts(&puts_reshape);
        assert_eq!(puts.len(), 1);
        assert_eq!(puts[0].keys, vec!["A", "B", "D"]);
        assert_eq!(puts[0].keys_with_value, vec!["D"]);
        assert_eq!(
            server_secrets(&emulator, "payments-e2e")
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            vec!["A", "B", "D"]
        );
        ws.plan_detailed_exitcode().expect_empty();

        // 3b. collaborators only: one manifest PUT, no secrets PUT.
        let fewer = [("team:payments", "secret-group-viewer")];
        ws.write("main.tf", &group_config("payments-e2e", &reshaped, &fewer));
        let mark = emulator.mark();
        ws.apply();
        let collab = emulator.requests_since(mark);
        assert_eq!(manifest_puts(&collab).len(), 1, "{collab:?}");
        assert!(full_list_puts(&collab).is_empty(), "{collab:?}");
        ws.plan_detailed_exitcode().expect_empty();

        ws.destroy();
        assert!(server_secrets(&emulator, "payments-e2e").is_none());
    });
}

#[test]
fn changes_made_outside_terraform_show_up_and_apply_restores_the_configuration() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let secrets = [("A", "a1"), ("B", "b1")];
        let ws = workspace(
            terraform,
            &emulator,
            &group_config("drift-e2e", &secrets, &[]),
        );
        ws.apply();
        let desired = BTreeMap::from([
            ("A".to_owned(), "a1".to_owned()),
            ("B".to_owned(), "b1".to_owned()),
        ]);

        // A key added elsewhere: the plan deletes it, and says so.
        put_secrets_out_of_band(
            &emulator,
            "drift-e2e",
            &[("A", None), ("B", None), ("EXTRA", Some("x"))],
        );
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_output_contains(&["Secrets Will Be Deleted", "EXTRA"]);
        ws.apply();
        assert_eq!(server_secrets(&emulator, "drift-e2e").unwrap(), desired);

        // A key deleted elsewhere: the plan re-creates it.
        put_secrets_out_of_band(&emulator, "drift-e2e", &[("A", None)]);
        ws.plan_detailed_exitcode().expect_changes();
        ws.apply();
        assert_eq!(server_secrets(&emulator, "drift-e2e").unwrap(), desired);

        // A value changed elsewhere: the plan sends it back.
        put_secrets_out_of_band(
            &emulator,
            "drift-e2e",
            &[("A", Some("tampered")), ("B", None)],
        );
        ws.plan_detailed_exitcode().expect_changes();
        ws.apply();
        assert_eq!(server_secrets(&emulator, "drift-e2e").unwrap(), desired);
        ws.plan_detailed_exitcode().expect_empty();

        // The whole group deleted elsewhere: the plan creates it again.
        let client = emulator.client(ACME_KEY);
        let id = group_id(&emulator, "drift-e2e");
        emulator
            .block_on(client.delete_secret_group(&id, false))
            .unwrap();
        ws.plan_detailed_exitcode().expect_changes();
        ws.apply();
        assert_eq!(server_secrets(&emulator, "drift-e2e").unwrap(), desired);
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn a_saved_plan_is_refused_when_the_group_changed_since() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(
            terraform,
            &emulator,
            &group_config("stale-e2e", &[("A", "a1")], &[]),
        );
        ws.apply();
        ws.write(
            "main.tf",
            &group_config("stale-e2e", &[("A", "a2"), ("B", "b1")], &[]),
        );
        ws.run(&["plan", "-out=saved.tfplan"]).expect_success();
        put_secrets_out_of_band(
            &emulator,
            "stale-e2e",
            &[("A", None), ("OUTSIDE", Some("o"))],
        );
        let mark = emulator.mark();
        ws.run(&["apply", "saved.tfplan"])
            .expect_failure()
            .expect_output_contains(&["Secrets Changed Outside Terraform", "OUTSIDE"]);
        assert!(
            emulator.writes_since(mark).is_empty(),
            "a refused apply writes nothing"
        );
        let server = server_secrets(&emulator, "stale-e2e").unwrap();
        assert_eq!(server.get("OUTSIDE").map(String::as_str), Some("o"));
        assert_eq!(server["A"], "a1");
    });
}

#[test]
fn rename_replaces_and_import_by_id_or_fqn_plans_nothing() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let secrets = [("K", "v")];
        let collaborators = [("team:ops", "secret-group-admin")];
        let ws = workspace(
            terraform,
            &emulator,
            &group_config("before-e2e", &secrets, &collaborators),
        );
        ws.apply();
        ws.write(
            "main.tf",
            &group_config("after-e2e", &secrets, &collaborators),
        );
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_output_contains(&["must be replaced"]);
        ws.apply();
        assert!(server_secrets(&emulator, "before-e2e").is_none());
        assert_eq!(server_secrets(&emulator, "after-e2e").unwrap()["K"], "v");

        for import_id in [
            group_id(&emulator, "after-e2e"),
            "acme:after-e2e".to_owned(),
        ] {
            // Without the `id` output: import writes no outputs, which a plan would then add.
            let config = group_config("after-e2e", &secrets, &collaborators);
            let resource_only = config.split("output").next().unwrap();
            let fresh = workspace(terraform, &emulator, resource_only);
            let mark = emulator.mark();
            fresh.import("truefoundry_secret_group.g", &import_id);
            assert!(emulator.writes_since(mark).is_empty());
            fresh.plan_detailed_exitcode().expect_empty();
        }
    });
}

#[test]
fn two_provider_aliases_reach_two_tenants() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let main_tf = format!(
            r#"
provider "truefoundry" {{
  alias   = "acme"
  host    = "{url}"
  api_key = "{ACME_KEY}"
}}
provider "truefoundry" {{
  alias   = "globex"
  host    = "{url}"
  api_key = "{GLOBEX_KEY}"
}}
resource "truefoundry_secret_group" "a" {{
  provider = truefoundry.acme
  name     = "shared-name"
  secrets  = {{ K = "for-acme" }}
}}
resource "truefoundry_secret_group" "g" {{
  provider = truefoundry.globex
  name     = "shared-name"
  secrets  = {{ K = "for-globex" }}
}}
output "fqns" {{
  value = [truefoundry_secret_group.a.fqn, truefoundry_secret_group.g.fqn]
}}
"#,
            url = emulator.base_url
        );
        let ws = Workspace::with_main(terraform, &main_tf);
        ws.apply()
            .expect_output_contains(&["acme:shared-name", "globex:shared-name"]);
        ws.plan_detailed_exitcode().expect_empty();
        assert_eq!(
            server_secrets(&emulator, "shared-name").unwrap()["K"],
            "for-acme"
        );
    });
}

#[test]
fn bad_configurations_are_refused_before_anything_is_written() {
    // Every secret value below contains this: diagnostics about map entries name the keys and
    // point at no line inside a map, so Terraform never prints a value around them.
    const HIDDEN: &str = "hidden-4b7e";
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "colon in name",
            r#"resource "truefoundry_secret_group" "g" { name = "a:b-acme" }"#,
            &["Invalid Secret Group Name", "name"],
        ),
        (
            "bad key",
            r#"resource "truefoundry_secret_group" "g" {
  name    = "keys-acme"
  secrets = { "BAD KEY" = "hidden-4b7e-bad-key" }
}"#,
            &["Invalid Secret Key", "BAD KEY"],
        ),
        (
            "bad subject",
            r#"resource "truefoundry_secret_group" "g" {
  name          = "subj-acme"
  collaborators = [{ subject = "robot:x", role_id = "secret-group-admin" }]
}"#,
            &["Invalid Collaborator Subject", "subject"],
        ),
        (
            "duplicate subject",
            r#"resource "truefoundry_secret_group" "g" {
  name          = "dup-acme"
  collaborators = [
    { subject = "team:x", role_id = "secret-group-admin" },
    { subject = "team:x", role_id = "secret-group-viewer" },
  ]
}"#,
            &["Duplicate Collaborator"],
        ),
        (
            // Was a value-less key (`EMPTY = {}`); every entry of a map now has a value, and a
            // null one is the nearest way to leave it out.
            "key with a null value",
            r#"resource "truefoundry_secret_group" "g" {
  name    = "empty-acme"
  secrets = { EMPTY = null, SET = "hidden-4b7e-set" }
}"#,
            &["Secret Value Is Null", "EMPTY"],
        ),
        (
            "key in two maps",
            r#"resource "truefoundry_secret_group" "g" {
  name            = "twice-acme"
  secrets         = { TWICE = "hidden-4b7e-managed" }
  initial_secrets = { TWICE = "hidden-4b7e-initial" }
}"#,
            &["Secret Key In Two Maps", "TWICE"],
        ),
        (
            "version without a write-only key",
            r#"resource "truefoundry_secret_group" "g" {
  name                = "orphan-acme"
  secrets             = { ORPHAN = "hidden-4b7e-orphan" }
  secrets_wo_versions = { ORPHAN = "1" }
}"#,
            &["Version Without Write-Only Secret", "ORPHAN"],
        ),
        (
            "insecure host",
            r#"provider "truefoundry" {
  host = "http://tfy.example.com"
}
resource "truefoundry_secret_group" "g" { name = "host-acme" }"#,
            &["Insecure TrueFoundry Host", "TFY_HOST"],
        ),
    ];
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        for (label, config, expected) in cases {
            let ws = workspace(terraform, &emulator, config);
            let mark = emulator.mark();
            let run = ws.run(&["apply", "-auto-approve"]).expect_failure();
            for needle in *expected {
                assert!(
                    run.output().contains(needle),
                    "{label}: output lacks {needle:?}\n{run}"
                );
            }
            assert!(
                !run.output().contains(HIDDEN),
                "{label}: a secret value is in the output\n{run}"
            );
            assert!(
                emulator.writes_since(mark).is_empty(),
                "{label}: nothing may be written"
            );
        }
    });
}

#[test]
fn missing_api_key_is_a_clear_diagnostic() {
    for_each_terraform(|terraform| {
        let mut ws = Workspace::with_main(
            terraform,
            "provider \"truefoundry\" {\n  host = \"https://tfy.example.com\"\n}\nresource \"truefoundry_secret_group\" \"g\" { name = \"nokey-acme\" }\n",
        );
        ws.set_env("TFY_API_KEY", "");
        ws.run(&["plan"]).expect_failure().expect_output_contains(&[
            "Missing TrueFoundry API Key",
            "api_key",
            "TFY_API_KEY",
        ]);
    });
}

#[test]
fn canary_values_never_reach_logs() {
    const CANARY_1: &str = "canary-9f3c1e-first-value";
    const CANARY_2: &str = "canary-9f3c1e-second-value";
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = workspace(
            terraform,
            &emulator,
            &group_config("canary-e2e", &[("SECRET", CANARY_1)], &[]),
        );
        let trace = ws.trace_log();
        let mut outputs = String::new();
        outputs += &ws.apply().output();
        outputs += &ws.plan_detailed_exitcode().expect_empty().output();
        ws.write(
            "main.tf",
            &group_config("canary-e2e", &[("SECRET", CANARY_2)], &[]),
        );
        outputs += &ws.plan_detailed_exitcode().expect_changes().output();
        outputs += &ws.apply().output();
        let fresh = workspace(
            terraform,
            &emulator,
            &group_config("canary-e2e", &[("SECRET", CANARY_2)], &[]),
        );
        outputs += &fresh
            .import("truefoundry_secret_group.g", "acme:canary-e2e")
            .output();
        outputs += &ws.destroy().output();

        assert_eq!(
            emulator
                .requests()
                .iter()
                .filter(|r| !r.keys_with_value.is_empty())
                .count(),
            2
        );
        let terraform_log = std::fs::read_to_string(&trace).unwrap();
        assert!(
            terraform_log.contains("truefoundry"),
            "the trace log covers the provider"
        );
        let emulator_log = std::fs::read_to_string(emulator.log_path()).unwrap()
            + &std::fs::read_to_string(emulator.stderr_path()).unwrap();
        let canaries = [CANARY_1, CANARY_2];
        assert_no_canary(&canaries, "Terraform's trace log", &terraform_log);
        assert_no_canary(&canaries, "the emulator's logs", &emulator_log);
        assert_no_canary(&canaries, "Terraform's output", &outputs);
    });
}

/// The collaborators of the acme group `name` as the server holds them.
fn server_collaborators(emulator: &Emulator, name: &str) -> Vec<(String, String)> {
    let client = emulator.client(ACME_KEY);
    let group = emulator
        .block_on(client.find_secret_group_by_fqn(&format!("acme:{name}")))
        .unwrap()
        .expect("group exists");
    let manifest = group.manifest.expect("the group has a manifest");
    manifest
        .collaborators
        .into_iter()
        .map(|c| (c.subject, c.role_id))
        .collect()
}

#[test]
fn initial_secrets_are_only_created_and_released_maps_or_collaborators_change_nothing() {
    const NAME: &str = "initial-e2e";
    let collaborators = [("team:payments", "secret-group-editor")];
    let group = |initial: &str| {
        GroupHcl::new("g", NAME)
            .collaborators(collaborators)
            .map("secrets", [("A", "a1")])
            .map("initial_secrets", [("P", initial)])
    };
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(terraform, &emulator, &group("set-me").to_string());
        ws.apply();
        let held = |key: &str| server_secrets(&emulator, NAME).unwrap().get(key).cloned();
        assert_eq!(held("P").as_deref(), Some("set-me"));

        // The values are sensitive as a whole on every Terraform: an output of them is refused.
        ws.write(
            "outputs.tf",
            "output \"values\" {\n  value = truefoundry_secret_group.g.secrets\n}\n",
        );
        ws.run(&["plan"])
            .expect_failure()
            .expect_output_contains(&["Output refers to sensitive values"]);
        ws.remove("outputs.tf");

        // Rotated elsewhere: the value belongs to someone else now; refresh reads no value but
        // those of `secrets` (a listing that selects A alone).
        put_secrets_out_of_band(&emulator, NAME, &[("A", None), ("P", Some("rotated"))]);
        let mark = emulator.mark();
        ws.plan_detailed_exitcode().expect_empty();
        assert!(
            emulator
                .requests_since(mark)
                .iter()
                .any(|r| r.path.ends_with("/v1/secrets") && r.keys == ["A"]),
            "the refresh selects the keys of `secrets`"
        );

        // A changed initial value writes nothing. The plan marks the maps sensitive.
        ws.write("main.tf", &group("set-me-2").to_string());
        let plan = ws.plan_json();
        let change = &plan["resource_changes"][0]["change"];
        for marks in ["before_sensitive", "after_sensitive"] {
            for map in ["secrets", "initial_secrets"] {
                assert_eq!(change[marks][map], true, "{terraform}: {marks}: {change:#}");
            }
        }
        let mark = emulator.mark();
        ws.apply();
        assert!(emulator.writes_since(mark).is_empty());
        assert_eq!(held("P").as_deref(), Some("rotated"));
        ws.plan_detailed_exitcode().expect_empty();

        // Deleted elsewhere: created again with its initial value, and only it is sent.
        put_secrets_out_of_band(&emulator, NAME, &[("A", None)]);
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_lines(&["+ \"P\" = (known after apply)"]);
        let mark = emulator.mark();
        ws.apply();
        let puts = full_list_puts(&emulator.requests_since(mark))
            .into_iter()
            .map(|r| (r.keys.clone(), r.keys_with_value.clone()))
            .collect::<Vec<_>>();
        assert_eq!(puts, [(vec!["A".into(), "P".into()], vec!["P".into()])]);
        assert_eq!(held("P").as_deref(), Some("set-me-2"));
        ws.plan_detailed_exitcode().expect_empty();

        // Collaborators left out: a warning, and nobody's access changes.
        let without_collaborators = GroupHcl::new("g", NAME)
            .map("secrets", [("A", "a1")])
            .map("initial_secrets", [("P", "set-me-2")]);
        ws.write("main.tf", &without_collaborators.to_string());
        let mark = emulator.mark();
        ws.apply()
            .expect_output_contains(&["Collaborators No Longer Managed"]);
        assert!(emulator.writes_since(mark).is_empty());
        let expected: Vec<(String, String)> = collaborators
            .iter()
            .map(|(s, r)| ((*s).to_owned(), (*r).to_owned()))
            .collect();
        assert_eq!(server_collaborators(&emulator, NAME), expected);
        ws.plan_detailed_exitcode().expect_empty();

        // Every secret map left out: a warning, nothing deleted, the keys still listed.
        ws.write("main.tf", &GroupHcl::new("g", NAME).to_string());
        let mark = emulator.mark();
        ws.apply()
            .expect_output_contains(&["Secrets No Longer Managed"]);
        assert!(emulator.writes_since(mark).is_empty());
        assert_eq!(
            server_secrets(&emulator, NAME).unwrap(),
            BTreeMap::from([
                ("A".to_owned(), "a1".to_owned()),
                ("P".to_owned(), "set-me-2".to_owned()),
            ])
        );
        let state = ws.show_json();
        let versions = &state["values"]["root_module"]["resources"][0]["values"]["secret_versions"];
        assert_eq!(versions.as_object().map(|m| m.len()), Some(2), "{versions}");
        ws.plan_detailed_exitcode().expect_empty();
    });
}
