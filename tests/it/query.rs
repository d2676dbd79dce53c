//! `terraform query` (Terraform 1.14+): the list resources `truefoundry_secret_group` and
//! `truefoundry_secret` list what the API key can see with identities and display names, and
//! `-generate-config-out` writes configuration that holds no secret value: importing it, applying
//! it and planning again send no value (the emulator's request log is the witness).

use std::sync::Arc;

use truefoundry_provider::client::{SecretUpdate, SecretValue};
use truefoundry_provider::provider::TrueFoundryProvider;
use truefoundry_provider::server::proto::tfplugin6 as pb;

use crate::support::canaries::assert_no_canary;
use crate::support::emulator::{self, ACME_KEY, ACME_VIEWER_KEY, Emulator};
use crate::support::terraform::{
    Terraform as TerraformCli, for_each_terraform, for_each_terraform_at_least,
};
use crate::support::tfclient::{ImitatedTerraform, TfClient};

const QUERY: &str = "terraform query (Terraform 1.14+)";
/// Values seeded outside Terraform: none may appear in generated configuration, state or logs.
const CANARIES: [&str; 3] = [
    "canary-db-7f3a1c",
    "canary-api-91be04",
    "canary-other-5d20e8",
];

/// Seeds `query-payments` (two keys) and `query-other` (one key), both through the API.
fn seed(emulator: &Emulator) -> String {
    let client = emulator.client(ACME_KEY);
    let payments = emulator.block_on(emulator::seed_group(
        &client,
        "query-payments",
        &[("DB", CANARIES[0]), ("API", CANARIES[1])],
    ));
    emulator.block_on(emulator::seed_group(
        &client,
        "query-other",
        &[("X", CANARIES[2])],
    ));
    payments
}

/// Asserts that since `mark` nothing was written and no value was asked for or answered.
fn assert_no_value_touched(emulator: &Emulator, mark: usize, what: &str) {
    let requests = emulator.requests_since(mark);
    assert!(!requests.is_empty(), "{what}: the emulator saw no request");
    for request in &requests {
        assert!(
            request.keys_with_value.is_empty() && request.values_returned.is_empty(),
            "{what}: a value travelled: {request:?}"
        );
    }
    assert!(
        emulator.writes_since(mark).is_empty(),
        "{what}: {:?}",
        emulator.writes_since(mark)
    );
}

const LISTS: &str = r#"
list "truefoundry_secret_group" "payments" {
  provider = truefoundry
  config {
    search = "payments"
  }
}

list "truefoundry_secret" "payment_keys" {
  provider         = truefoundry
  include_resource = true
  config {
    group = "acme:query-payments"
  }
}
"#;

#[test]
fn query_lists_groups_and_keys_by_display_name_and_never_reads_a_value() {
    for_each_terraform_at_least(1, 14, QUERY, |terraform| {
        let emulator = Emulator::start();
        seed(&emulator);
        for key in [ACME_KEY, ACME_VIEWER_KEY] {
            let mut ws = emulator.workspace(terraform, &[("lists.tfquery.hcl", LISTS)]);
            ws.set_env("TFY_API_KEY", key);
            ws.run_ok(&["init"]);
            let mark = emulator.mark();
            let listed = ws.run_ok(&["query"]);
            let output = listed.output();
            for expected in [
                "list.truefoundry_secret_group.payments",
                "acme:query-payments",
                "list.truefoundry_secret.payment_keys",
                "tfy-secret://acme:query-payments:DB",
                "tfy-secret://acme:query-payments:API",
            ] {
                assert!(output.contains(expected), "{terraform} {key}: {output}");
            }
            // `search` selects: the other group is not listed.
            assert!(!output.contains("query-other"), "{terraform}: {output}");
            assert_no_canary(&CANARIES, "query output", &output);
            assert_no_value_touched(&emulator, mark, "terraform query");
        }
    });
}

#[test]
fn query_json_carries_identities_and_value_free_resource_objects() {
    for_each_terraform_at_least(1, 14, QUERY, |terraform| {
        let emulator = Emulator::start();
        let payments = seed(&emulator);
        let ws = emulator.workspace(terraform, &[("lists.tfquery.hcl", LISTS)]);
        ws.run_ok(&["init"]);
        let run = ws.run_ok(&["query", "-json"]);
        assert_no_canary(&CANARIES, "query -json", &run.stdout);
        let results: Vec<serde_json::Value> = run
            .stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["type"] == "list_resource_found")
            .map(|line| line["list_resource_found"].clone())
            .collect();
        let db = results
            .iter()
            .find(|found| found["display_name"] == "tfy-secret://acme:query-payments:DB")
            .unwrap_or_else(|| panic!("{terraform}: DB not listed: {}", run.stdout));
        assert_eq!(
            db["identity"],
            serde_json::json!({"tenant": "acme", "group": "query-payments", "key": "DB"}),
            "{terraform}: {db}"
        );
        assert_eq!(db["resource_object"]["secret_group_id"], payments.as_str());
        assert_eq!(db["resource_object"]["key"], "DB");
        assert!(db["resource_object"]["value"].is_null(), "{db}");
        let group = results
            .iter()
            .find(|found| found["display_name"] == "acme:query-payments")
            .unwrap_or_else(|| panic!("{terraform}: group not listed: {}", run.stdout));
        assert_eq!(
            group["identity"],
            serde_json::json!({"tenant": "acme", "name": "query-payments"})
        );
    });
}

#[test]
fn generated_configuration_imports_applies_and_plans_without_sending_a_value() {
    for_each_terraform_at_least(1, 14, QUERY, |terraform| {
        for api_key in [ACME_KEY, ACME_VIEWER_KEY] {
            generate_import_apply_and_plan(terraform, api_key);
        }
    });
}

/// `query -generate-config-out`, then plan, apply and plan again with `api_key`: nothing is
/// written, no value is sent, and neither the generated file nor the state holds one.
fn generate_import_apply_and_plan(terraform: &TerraformCli, api_key: &str) {
    let what = format!("{terraform} with {api_key}");
    let emulator = Emulator::start();
    let payments = seed(&emulator);
    let mut ws = emulator.workspace(terraform, &[("lists.tfquery.hcl", LISTS)]);
    ws.set_env("TFY_API_KEY", api_key);
    ws.run_ok(&["init"]);
    let mark = emulator.mark();
    ws.run_ok(&["query", "-generate-config-out=generated.tf"]);
    assert_no_value_touched(&emulator, mark, "terraform query -generate-config-out");
    let generated = std::fs::read_to_string(ws.path().join("generated.tf")).unwrap();
    assert_no_canary(&CANARIES, "generated configuration", &generated);
    for expected in [
        "resource \"truefoundry_secret_group\" \"payments_0\"",
        "resource \"truefoundry_secret\" \"payment_keys_0\"",
        "resource \"truefoundry_secret\" \"payment_keys_1\"",
        "import {",
        "identity",
    ] {
        assert!(generated.contains(expected), "{what}: {generated}");
    }

    let mark = emulator.mark();
    let plan = ws.run_ok(&["plan"]);
    assert!(
        plan.stdout.contains("3 to import, 0 to add"),
        "{what}: {plan}"
    );
    if api_key == ACME_KEY {
        // An import brings in the values the key may read (a configuration with `value` is
        // compared with them); the generated form sets none, so the plan drops them from state.
        // A viewer's import has none to drop.
        assert!(plan.stdout.contains("3 to change, 0 to destroy"), "{plan}");
        assert!(plan.stdout.contains("Secrets No Longer Managed"), "{plan}");
    }
    ws.apply();
    // The imports read what the key may read, but nothing is written and no value is sent.
    assert!(
        emulator.writes_since(mark).is_empty(),
        "{what}: {:?}",
        emulator.writes_since(mark)
    );
    let sent: Vec<_> = emulator
        .requests_since(mark)
        .into_iter()
        .filter(|request| !request.keys_with_value.is_empty())
        .collect();
    assert!(sent.is_empty(), "{what}: values sent: {sent:?}");
    assert_no_canary(
        &CANARIES,
        "state after the apply",
        &ws.state_json().to_string(),
    );

    let mark = emulator.mark();
    ws.plan_detailed_exitcode().expect_empty();
    assert_no_value_touched(&emulator, mark, "the plan after the import");
    assert_eq!(
        emulator.secret_values("query-payments").unwrap(),
        [("API", CANARIES[1]), ("DB", CANARIES[0])]
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .into()
    );

    // Someone rotates DB: the value is theirs, so the plan stays empty and sends nothing.
    let rotated = "rotated-by-someone-else";
    let updates = [("API", None), ("DB", Some(rotated))].map(|(key, value)| SecretUpdate {
        key: key.to_owned(),
        value: value.map(SecretValue::new),
    });
    let admin = emulator.client(ACME_KEY);
    emulator
        .block_on(admin.set_secrets(&payments, &updates))
        .unwrap();
    let mark = emulator.mark();
    ws.plan_detailed_exitcode().expect_empty();
    assert!(emulator.writes_since(mark).is_empty(), "{what}");
    assert_eq!(
        emulator.secret_values("query-payments").unwrap()["DB"],
        rotated
    );
}

#[test]
fn a_generated_secret_refuses_a_replacement_that_would_delete_its_key() {
    for_each_terraform_at_least(1, 14, QUERY, |terraform| {
        let emulator = Emulator::start();
        seed(&emulator);
        let ws = emulator.workspace(terraform, &[("lists.tfquery.hcl", LISTS)]);
        ws.run_ok(&["init"]);
        ws.run_ok(&["query", "-generate-config-out=generated.tf"]);
        ws.apply();
        let generated = std::fs::read_to_string(ws.path().join("generated.tf")).unwrap();
        ws.write(
            "generated.tf",
            &generated.replacen(
                "key              = \"API\"",
                "key              = \"API2\"",
                1,
            ),
        );
        let mark = emulator.mark();
        ws.run(&["apply", "-auto-approve"])
            .expect_failure()
            .expect_output_contains(&["Secret Value Missing", "API2"]);
        assert!(emulator.writes_since(mark).is_empty(), "{terraform}");
        assert!(
            emulator
                .secret_values("query-payments")
                .unwrap()
                .contains_key("API")
        );
    });
}

#[test]
fn query_refuses_a_bad_an_unknown_or_another_tenants_group_by_name() {
    for_each_terraform_at_least(1, 14, QUERY, |terraform| {
        let emulator = Emulator::start();
        for (group, summary) in [
            ("acme/query-payments", "Invalid Secret Group FQN"),
            ("acme:no-such-group", "Secret Group Not Found"),
            ("globex:theirs", "Another Tenant"),
        ] {
            let lists = format!(
                r#"
list "truefoundry_secret" "keys" {{
  provider = truefoundry
  config {{
    group = "{group}"
  }}
}}
"#
            );
            let ws = emulator.workspace(terraform, &[("lists.tfquery.hcl", &lists)]);
            ws.run_ok(&["init"]);
            ws.run(&["query"])
                .expect_failure()
                .expect_output_contains(&[summary]);
        }
        assert!(emulator.writes_since(0).is_empty());
    });
}

#[test]
fn a_secret_without_value_or_value_wo_cannot_create_its_key() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let payments = seed(&emulator);
        let mark = emulator.mark();
        let ws = emulator.workspace(
            terraform,
            &[(
                "main.tf",
                &format!(
                    r#"
resource "truefoundry_secret" "new" {{
  secret_group_id = "{payments}"
  key             = "NOT_THERE_YET"
}}
"#
                ),
            )],
        );
        ws.run(&["plan"])
            .expect_failure()
            .expect_output_contains(&["Secret Value Missing", "NOT_THERE_YET"]);
        assert!(emulator.writes_since(mark).is_empty());
    });
}

/// The list resources of `terraform query` are in the schema and the metadata, under the names of
/// the managed resources they list, with their `config` attributes; an unknown one is a
/// diagnostic, in ValidateListResourceConfig and as the one event of the ListResource stream.
#[tokio::test]
async fn list_resources_are_declared_and_unknown_ones_are_diagnosed() {
    let mut client = TfClient::in_process(
        Arc::new(TrueFoundryProvider::new()),
        ImitatedTerraform::V1_11,
    )
    .await;
    let schema = client.get_schema().await.unwrap();
    let attributes = |type_name: &str| -> Vec<(String, bool)> {
        let block = schema.list_resource_schemas[type_name]
            .block
            .as_ref()
            .unwrap();
        block
            .attributes
            .iter()
            .map(|attribute| (attribute.name.clone(), attribute.required))
            .collect()
    };
    assert_eq!(
        attributes("truefoundry_secret_group"),
        [("search".to_owned(), false)]
    );
    assert_eq!(
        attributes("truefoundry_secret"),
        [("group".to_owned(), true)]
    );
    assert_eq!(schema.list_resource_schemas.len(), 2);

    let raw = &mut client.provider;
    let metadata = raw
        .get_metadata(pb::get_metadata::Request::default())
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<&str> = metadata
        .list_resources
        .iter()
        .map(|list| list.type_name.as_str())
        .collect();
    assert_eq!(listed, ["truefoundry_secret", "truefoundry_secret_group"]);

    let validated = raw
        .validate_list_resource_config(pb::validate_list_resource_config::Request {
            type_name: "truefoundry_nope".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        validated.diagnostics[0].summary,
        "Unknown List Resource Type"
    );
    let mut stream = raw
        .list_resource(pb::list_resource::Request {
            type_name: "truefoundry_nope".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let event = stream.message().await.unwrap().unwrap();
    assert!(event.identity.is_none());
    assert_eq!(event.diagnostic[0].summary, "Unknown List Resource Type");
    assert!(stream.message().await.unwrap().is_none());
}

#[test]
fn query_stops_at_the_list_blocks_limit() {
    for_each_terraform_at_least(1, 14, QUERY, |terraform| {
        let emulator = Emulator::start();
        seed(&emulator);
        let lists = r#"
list "truefoundry_secret_group" "first" {
  provider = truefoundry
  limit    = 1
}
"#;
        let ws = emulator.workspace(terraform, &[("lists.tfquery.hcl", lists)]);
        ws.run_ok(&["init"]);
        let run = ws.run_ok(&["query"]);
        let listed = ["acme:query-other", "acme:query-payments"]
            .into_iter()
            .filter(|fqn| run.stdout.contains(fqn))
            .count();
        assert_eq!(listed, 1, "{terraform}: {run}");
    });
}
