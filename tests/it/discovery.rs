//! The discovery data sources end to end with the real CLI: `truefoundry_secret_groups` (every
//! page, `search`) and `truefoundry_secret` (one secret by reference, its value only on request,
//! tenant and missing-key errors).

use serde_json::json;

use crate::support::emulator::{
    self, ACME_KEY, DEFAULT_INTEGRATION, Emulator, GLOBEX_KEY, workspace,
};
use crate::support::terraform::for_each_terraform;

const CANARY: &str = "canary-discovery-51d0";

/// More groups than the largest page the API serves (1000).
const BULK_GROUPS: usize = 1001;

/// An emulator snapshot holding `count` empty groups `bulk-0000`, … of tenant acme: quicker
/// than creating them one request at a time.
fn bulk_snapshot(dir: &std::path::Path, count: usize) -> std::path::PathBuf {
    let groups: Vec<serde_json::Value> = (0..count)
        .map(|n| {
            json!({
                "id": format!("sgbulk{n:04}"),
                "tenant": "acme",
                "manifest": {"type": "secret-group", "name": format!("bulk-{n:04}"),
                             "integration_fqn": DEFAULT_INTEGRATION, "collaborators": []},
                "created_by": "user:admin@acme.example",
                "created_at": "2026-01-01T00:00:00.000Z",
                "updated_at": "2026-01-01T00:00:00.000Z",
                "secrets": []
            })
        })
        .collect();
    let path = dir.join("state.json");
    std::fs::write(&path, json!({"format": 1, "groups": groups}).to_string()).unwrap();
    path
}

#[test]
fn secret_groups_lists_every_page_and_filters_by_search() {
    let snapshot_dir = tempfile::tempdir().unwrap();
    let snapshot = bulk_snapshot(snapshot_dir.path(), BULK_GROUPS);
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder().snapshot(&snapshot).start();
        let acme = emulator.client(ACME_KEY);
        let one = emulator.block_on(emulator::seed_group(
            &acme,
            "pay-one",
            &[("B", CANARY), ("A", "a")],
        ));
        let two = emulator.block_on(emulator::seed_group(&acme, "pay-two", &[("C", "c")]));
        // Another tenant's group of a matching name is never listed.
        let globex = emulator.client(GLOBEX_KEY);
        emulator.block_on(emulator::seed_group(&globex, "pay-three", &[("D", "d")]));

        let ws = workspace(
            terraform,
            &emulator,
            r#"
data "truefoundry_secret_groups" "all" {}
data "truefoundry_secret_groups" "pay" {
  search = "pay-"
}
output "count" {
  value = length(data.truefoundry_secret_groups.all.groups)
}
output "last" {
  value = data.truefoundry_secret_groups.all.groups[length(data.truefoundry_secret_groups.all.groups) - 1].fqn
}
output "pay" {
  value = data.truefoundry_secret_groups.pay.groups
}
"#,
        );
        let mark = emulator.mark();
        let apply = ws.apply();
        assert!(!apply.output().contains(CANARY), "{apply}");
        let outputs = ws.outputs_json();
        assert_eq!(outputs["count"]["value"], BULK_GROUPS + 2);
        assert_eq!(outputs["last"]["value"], "acme:pay-two", "ordered by FQN");
        assert_eq!(
            outputs["pay"]["value"],
            json!([
                {"id": one, "fqn": "acme:pay-one", "name": "pay-one",
                 "integration_fqn": DEFAULT_INTEGRATION, "keys": ["A", "B"]},
                {"id": two, "fqn": "acme:pay-two", "name": "pay-two",
                 "integration_fqn": DEFAULT_INTEGRATION, "keys": ["C"]},
            ])
        );
        let list_calls = emulator
            .requests_since(mark)
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/v1/secret-groups"))
            .count();
        // Two pages for `all`, one for `pay`: no request per group.
        assert!((3..=6).contains(&list_calls), "{list_calls} list requests");
        assert!(
            emulator
                .requests_since(mark)
                .iter()
                .all(|r| r.values_returned.is_empty()),
            "no value is read"
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn secret_reads_one_secret_and_its_value_only_when_asked() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let id = emulator.block_on(emulator::seed_group(
            &emulator.client(ACME_KEY),
            "shared-acme",
            &[("TOKEN", CANARY), ("URL", "https://x")],
        ));
        let ws = workspace(
            terraform,
            &emulator,
            r#"
data "truefoundry_secret" "plain" {
  fqn = "tfy-secret://acme:shared-acme:TOKEN"
}
data "truefoundry_secret" "with_value" {
  fqn           = "acme:shared-acme:TOKEN"
  include_value = true
}
output "plain" {
  value = {
    key             = data.truefoundry_secret.plain.key
    version         = data.truefoundry_secret.plain.version
    secret_group_id = data.truefoundry_secret.plain.secret_group_id
  }
}
output "plain_value_is_null" {
  value     = data.truefoundry_secret.plain.value == null
  sensitive = true
}
output "value" {
  value     = data.truefoundry_secret.with_value.value
  sensitive = true
}
"#,
        );
        let mark = emulator.mark();
        let apply = ws.apply();
        assert!(!apply.output().contains(CANARY), "{apply}");
        let outputs = ws.outputs_json();
        assert_eq!(
            outputs["plain"]["value"],
            json!({"key": "TOKEN", "version": 1, "secret_group_id": id})
        );
        assert_eq!(outputs["plain_value_is_null"]["value"], true);
        assert_eq!(outputs["value"]["value"], CANARY);
        assert_eq!(outputs["value"]["sensitive"], true);
        // Only the data source that asked read a value, and only TOKEN's.
        let read: Vec<String> = emulator
            .requests_since(mark)
            .into_iter()
            .flat_map(|r| r.values_returned)
            .collect();
        assert!(
            !read.is_empty() && read.iter().all(|key| key == "TOKEN"),
            "values read: {read:?}"
        );
        let state = ws.state_json();
        let plain = state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "plain")
            .expect("the data source is in state");
        assert_eq!(plain["instances"][0]["attributes"]["value"], json!(null));
        ws.plan_detailed_exitcode().expect_empty();

        // A missing key, another tenant's secret, a malformed reference: each a clear error.
        ws.write(
            "main.tf",
            "data \"truefoundry_secret\" \"s\" {\n  fqn = \"tfy-secret://acme:shared-acme:NOPE\"\n}\n",
        );
        ws.run(&["plan"])
            .expect_failure()
            .expect_output_contains(&["Secret Not Found", "no key `NOPE`"]);
        ws.write(
            "main.tf",
            "data \"truefoundry_secret\" \"s\" {\n  fqn = \"tfy-secret://globex:shared-acme:TOKEN\"\n}\n",
        );
        let mark = emulator.mark();
        ws.run(&["plan"])
            .expect_failure()
            .expect_output_contains(&["Secret Group Belongs To Another Tenant"]);
        let asked: Vec<String> = emulator
            .requests_since(mark)
            .into_iter()
            .filter(|r| r.path.contains("/v1/secret"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(asked.is_empty(), "refused before any request: {asked:?}");
        ws.write(
            "main.tf",
            "data \"truefoundry_secret\" \"s\" {\n  fqn = \"acme:shared-acme\"\n}\n",
        );
        ws.run(&["plan"])
            .expect_failure()
            .expect_output_contains(&["Invalid Secret FQN"]);
    });
}
