//! Schema version 1's promises that the ported end-to-end tests do not already prove, with the
//! real Terraform CLI against the emulator binary: values are read only for the keys kept in
//! state, the state's JSON marks the maps sensitive, an unmanaged group still lists its keys,
//! and state written by schema version 0 upgrades without a write.

use std::path::Path;

use crate::support::emulator::{ACME_KEY, Emulator, workspace};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::for_each_terraform;

#[test]
fn values_are_read_only_for_the_keys_of_secrets() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut group = GroupHcl::new("g", "read-scope")
            .map("secrets", [("S", "s-value")])
            .map("initial_secrets", [("I", "i-value")]);
        if terraform.runs_part_needing(1, 11, "no value read for secrets_wo") {
            group = group.map("secrets_wo", [("W", "w-value")]);
        }
        let ws = workspace(terraform, &emulator, &group.to_string());
        let mark = emulator.mark();
        ws.apply();
        ws.run(&["plan", "-refresh-only"]).expect_success();
        ws.plan_detailed_exitcode().expect_empty();
        let read: Vec<String> = emulator
            .requests_since(mark)
            .into_iter()
            .flat_map(|r| r.values_returned)
            .collect();
        assert!(!read.is_empty(), "the values of `secrets` are read");
        assert!(read.iter().all(|key| key == "S"), "values read: {read:?}");

        // From Terraform 1.1 on, the state's JSON marks the maps too (hashicorp/terraform#30029);
        // the plan's JSON marks them on every version (secret_group.rs checks that).
        if terraform.runs_part_needing(1, 1, "sensitive marks in the state's JSON") {
            let shown = ws.show_json();
            let marks = &shown["values"]["root_module"]["resources"][0]["sensitive_values"];
            for map in ["secrets", "initial_secrets"] {
                assert_eq!(marks[map], true, "{map}: {shown}");
            }
        }
    });
}

#[test]
fn a_group_without_secret_maps_lists_every_key_and_writes_none() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(
            terraform,
            &emulator,
            &GroupHcl::new("g", "listed-only").to_string(),
        );
        ws.apply();
        let client = emulator.client(ACME_KEY);
        emulator.block_on(async {
            let group = client
                .find_secret_group_by_fqn("acme:listed-only")
                .await
                .unwrap()
                .expect("created");
            let body: Vec<_> = ["A", "B"]
                .iter()
                .map(|key| truefoundry_provider::client::SecretUpdate {
                    key: (*key).to_owned(),
                    value: Some(truefoundry_provider::client::SecretValue::new("elsewhere")),
                })
                .collect();
            client.set_secrets(&group.id, &body).await.unwrap();
        });
        let mark = emulator.mark();
        ws.plan_detailed_exitcode().expect_empty();
        ws.run(&["apply", "-refresh-only", "-auto-approve"])
            .expect_success();
        assert!(emulator.writes_since(mark).is_empty());
        let read = emulator
            .requests_since(mark)
            .into_iter()
            .flat_map(|r| r.values_returned)
            .count();
        assert_eq!(read, 0, "no value is read for a group without secret maps");
        let shown = ws.show_json();
        let values = &shown["values"]["root_module"]["resources"][0]["values"];
        let listed: Vec<&String> = values["secret_versions"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(listed, ["A", "B"]);
        assert_eq!(
            values["secret_fqns"]["A"],
            "tfy-secret://acme:listed-only:A"
        );
        assert!(values["secrets"].is_null(), "{values}");
    });
}

/// State written by the first schema (a committed fixture, with the emulator data behind it)
/// upgrades to the flat maps; with the configuration rewritten to them, the next apply sends no
/// value and makes no new version, and the plan after it is empty. Until that apply, each plan
/// warns of the upgrade and points to the upgrade guide (issue 25, item 8: an old-shape
/// configuration is refused by Terraform before the provider sees it, so the upgrade is where
/// the provider can say it).
#[test]
fn state_of_schema_version_0_upgrades_and_the_next_apply_writes_nothing() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/state-v0");
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .snapshot(&fixtures.join("emulator-state.json"))
            .start();
        let (state_file, name) = if terraform.at_least(1, 11) {
            ("terraform-1.11.tfstate", "legacy-v0")
        } else {
            ("terraform-1.0.3.tfstate", "legacy-v0-tf10")
        };
        // The fixture's resource is `truefoundry_secret_group.legacy`.
        let mut group = GroupHcl::new("legacy", name)
            .collaborators([("team:payments", "secret-group-editor")])
            .map("secrets", [("DB_PASSWORD", "v0-db-password")])
            .map("initial_secrets", [("PARTNER_KEY", "set-me")]);
        if terraform.runs_part_needing(1, 11, "upgrading secrets_wo from schema version 0") {
            group = group
                .map("secrets_wo", [("API_TOKEN", "v0-api-token")])
                .map("secrets_wo_versions", [("API_TOKEN", "1")]);
        }
        let ws = workspace(terraform, &emulator, &group.to_string());
        ws.write(
            "terraform.tfstate",
            &std::fs::read_to_string(fixtures.join(state_file)).unwrap(),
        );
        let versions = emulator.secret_versions(name);
        let mark = emulator.mark();
        let upgraded = ws.run_ok(&["plan"]);
        let said = upgraded.flat_output();
        for needle in [
            "Warning: Secret Group State Upgraded From The First Schema",
            &format!("acme:{name}"),
            "docs/guides/upgrading-from-the-first-schema.md",
        ] {
            assert!(said.contains(needle), "{needle:?}\n{upgraded}");
        }
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert!(writes.is_empty(), "the upgrade wrote: {writes:?}");
        assert_eq!(emulator.secret_versions(name), versions);
        let state = ws.state_json();
        let instance = &state["resources"][0]["instances"][0];
        assert_eq!(instance["schema_version"], 1, "{state}");
        assert_eq!(
            instance["attributes"]["secrets"]["DB_PASSWORD"],
            "v0-db-password"
        );
        let settled = ws.plan_detailed_exitcode().expect_empty();
        assert!(!settled.output().contains("Upgraded"), "{settled}");
    });
}
