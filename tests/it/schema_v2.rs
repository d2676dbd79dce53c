//! Schema version 1's promises, with the real Terraform CLI against the emulator binary: plans
//! show which keys change and never a value, secret maps are sensitive on every Terraform,
//! values are read only for the keys kept in state, initial values are written once, letting go
//! of a map deletes nothing, and state written by schema version 0 upgrades without a write.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::emulator::{ACME_KEY, Emulator, LoggedRequest};
use crate::support::terraform::{Terraform, Workspace, for_each_terraform};

/// A group `name` with the given map attributes (HCL bodies, such as `{ A = "a" }`); `None`
/// leaves an attribute out.
fn group(name: &str, maps: &[(&str, Option<&str>)]) -> String {
    let mut hcl = format!("resource \"truefoundry_secret_group\" \"g\" {{\n  name = \"{name}\"\n");
    for (attribute, body) in maps {
        if let Some(body) = body {
            hcl += &format!("  {attribute} = {body}\n");
        }
    }
    hcl + "}\n"
}

fn workspace(terraform: &Terraform, emulator: &Emulator, main_tf: &str) -> Workspace {
    let mut ws = Workspace::with_main(terraform, main_tf);
    for (name, value) in emulator.provider_env() {
        ws.set_env(name, value);
    }
    ws
}

/// Requests since `mark` that wrote secrets: full-list PUTs and per-key DELETEs.
fn secrets_writes(emulator: &Emulator, mark: usize) -> Vec<LoggedRequest> {
    emulator
        .requests_since(mark)
        .into_iter()
        .filter(|r| {
            (r.method == "PUT" && r.path.starts_with("/api/svc/v1/secret-groups/"))
                || (r.method == "DELETE" && r.path.starts_with("/api/svc/v1/secrets/"))
        })
        .collect()
}

/// The keys whose values reached the provider in listings since `mark`.
fn keys_read_with_values(emulator: &Emulator, mark: usize) -> Vec<String> {
    emulator
        .requests_since(mark)
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/api/svc/v1/secrets")
        .flat_map(|r| r.values_returned)
        .collect()
}

/// The server versions of group `name`'s keys, through the API.
fn server_versions(emulator: &Emulator, name: &str) -> BTreeMap<String, i64> {
    let client = emulator.client(ACME_KEY);
    emulator.block_on(async {
        let group = client
            .find_secret_group_by_fqn(&format!("acme:{name}"))
            .await
            .unwrap()
            .expect("the group exists");
        let secrets = client
            .list_secrets(&truefoundry_provider::client::ListSecretsQuery {
                secret_group_id: Some(group.id),
                secret_fqns: Vec::new(),
                with_value: false,
            })
            .await
            .unwrap();
        secrets
            .into_iter()
            .map(|s| (s.name, s.latest_version.unwrap_or(0)))
            .collect()
    })
}

/// Lines of `output` with their runs of spaces folded, as Terraform aligns `=` signs.
fn folded_lines(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[track_caller]
fn assert_has_line(lines: &[String], wanted: &str, output: &str) {
    assert!(
        lines.iter().any(|line| line == wanted),
        "no line {wanted:?} in:\n{output}"
    );
}

#[test]
fn a_plan_shows_the_keys_that_change_and_never_a_value() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let before = r#"{ A = "canary-a-1", B = "canary-b-1", C = "canary-c-1" }"#;
        let ws = workspace(
            terraform,
            &emulator,
            &group("plan-lines", &[("secrets", Some(before))]),
        );
        let created = ws.apply();
        assert!(!created.output().contains("canary-"), "{created}");
        ws.plan_detailed_exitcode().expect_empty();

        let after = r#"{ A = "canary-a-2", B = "canary-b-1", D = "canary-d-1" }"#;
        ws.write("main.tf", &group("plan-lines", &[("secrets", Some(after))]));
        let plan = ws.plan_detailed_exitcode().expect_changes();
        let output = plan.output();
        assert!(
            !output.contains("canary-"),
            "a value in the plan:\n{output}"
        );
        let lines = folded_lines(&output);
        assert_has_line(&lines, "~ secrets = (sensitive value)", &output);
        assert_has_line(&lines, "~ \"A\" = 1 -> (known after apply)", &output);
        assert_has_line(&lines, "+ \"D\" = (known after apply)", &output);
        assert_has_line(&lines, "- \"C\" = 1 -> null", &output);
        assert!(output.contains("Secrets Will Be Deleted"), "{output}");

        let mark = emulator.mark();
        let applied = ws.apply();
        assert!(!applied.output().contains("canary-"), "{applied}");
        let writes = secrets_writes(&emulator, mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].keys, vec!["A", "B", "D"]);
        assert_eq!(writes[0].keys_with_value, vec!["A", "D"]);
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn secret_maps_are_sensitive_on_every_terraform() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let main_tf = group(
            "sensitive-maps",
            &[
                ("secrets", Some(r#"{ A = "canary-sensitive-a" }"#)),
                ("initial_secrets", Some(r#"{ P = "canary-sensitive-p" }"#)),
            ],
        );
        let ws = workspace(terraform, &emulator, &main_tf);
        ws.apply();
        // The plan's JSON marks the maps on every Terraform; the state's JSON only from 1.1 on,
        // which marks sensitive schema attributes there too (hashicorp/terraform#30029).
        ws.write(
            "main.tf",
            &main_tf.replace("canary-sensitive-a", "canary-sensitive-a2"),
        );
        let plan = ws.plan_json();
        let change = &plan["resource_changes"][0]["change"];
        for map in ["secrets", "initial_secrets"] {
            assert_eq!(change["after_sensitive"][map], true, "{map}: {change}");
            assert_eq!(change["before_sensitive"][map], true, "{map}: {change}");
        }
        ws.write("main.tf", &main_tf);
        if terraform.at_least(1, 1) {
            let shown = ws.show_json();
            let group = &shown["values"]["root_module"]["resources"][0];
            for map in ["secrets", "initial_secrets"] {
                assert_eq!(group["sensitive_values"][map], true, "{map}: {shown}");
            }
        }

        // An output of the values that does not say `sensitive = true` is refused.
        let output = "output \"leak\" {\n  value = truefoundry_secret_group.g.secrets\n}\n";
        ws.write("outputs.tf", output);
        let refused = ws.run(&["plan"]).expect_failure();
        assert!(
            refused
                .output()
                .contains("Output refers to sensitive values"),
            "{refused}"
        );
        assert!(!refused.output().contains("canary-"), "{refused}");
    });
}

#[test]
fn values_are_read_only_for_secrets_and_initial_values_are_written_once() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let write_only = terraform.at_least(1, 11);
        let config = |initial: &str| {
            let mut maps = vec![
                ("secrets", Some(r#"{ S = "s-value" }"#)),
                ("initial_secrets", Some(initial)),
            ];
            if write_only {
                maps.push(("secrets_wo", Some(r#"{ W = "w-value" }"#)));
            }
            group("read-scope", &maps)
        };
        let ws = workspace(terraform, &emulator, &config(r#"{ P = "first" }"#));
        let mark = emulator.mark();
        ws.apply();
        ws.run(&["plan", "-refresh-only"]).expect_success();
        ws.plan_detailed_exitcode().expect_empty();
        let read = keys_read_with_values(&emulator, mark);
        assert!(!read.is_empty(), "values of `secrets` are read on refresh");
        assert!(read.iter().all(|key| key == "S"), "values read: {read:?}");

        // A changed initial value writes nothing: the key's value belongs to someone else now.
        ws.write("main.tf", &config(r#"{ P = "second" }"#));
        let versions = server_versions(&emulator, "read-scope");
        let mark = emulator.mark();
        ws.apply();
        assert!(secrets_writes(&emulator, mark).is_empty());
        assert_eq!(server_versions(&emulator, "read-scope"), versions);
        assert_eq!(emulator.secret_values("read-scope").unwrap()["P"], "first");

        // Deleted elsewhere, it is created again with the initial value configured now.
        let client = emulator.client(ACME_KEY);
        emulator.block_on(async {
            let group = client
                .find_secret_group_by_fqn("acme:read-scope")
                .await
                .unwrap()
                .unwrap();
            let p = group
                .associated_secrets
                .iter()
                .find(|s| s.name == "P")
                .unwrap();
            client.delete_secret(&p.id, false).await.unwrap();
        });
        let mark = emulator.mark();
        ws.apply();
        let writes = secrets_writes(&emulator, mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].keys_with_value, vec!["P"]);
        assert_eq!(emulator.secret_values("read-scope").unwrap()["P"], "second");
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn letting_go_of_secrets_and_collaborators_deletes_nothing() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let collaborators = "[{ subject = \"team:payments\", role_id = \"secret-group-viewer\" }]";
        let ws = workspace(
            terraform,
            &emulator,
            &group(
                "let-go",
                &[
                    ("collaborators", Some(collaborators)),
                    ("secrets", Some(r#"{ A = "a", B = "b" }"#)),
                ],
            ),
        );
        ws.apply();
        ws.write("main.tf", &group("let-go", &[]));
        let plan = ws.plan_detailed_exitcode().expect_changes();
        for warning in [
            "Secrets No Longer Managed",
            "Collaborators No Longer Managed",
        ] {
            assert!(plan.output().contains(warning), "{warning}\n{plan}");
        }
        let mark = emulator.mark();
        ws.apply();
        let writes: Vec<_> = emulator
            .requests_since(mark)
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect();
        assert!(writes.is_empty(), "{writes:?}");
        let values = emulator.secret_values("let-go").unwrap();
        assert_eq!(values.keys().collect::<Vec<_>>(), ["A", "B"]);

        // The keys stay listed, a key added elsewhere joins them, and the plan stays empty.
        let client = emulator.client(ACME_KEY);
        emulator.block_on(async {
            let group = client
                .find_secret_group_by_fqn("acme:let-go")
                .await
                .unwrap()
                .unwrap();
            let body: Vec<_> = ["A", "B", "C"]
                .iter()
                .map(|key| truefoundry_provider::client::SecretUpdate {
                    key: (*key).to_owned(),
                    value: (*key == "C")
                        .then(|| truefoundry_provider::client::SecretValue::new("c")),
                })
                .collect();
            client.set_secrets(&group.id, &body).await.unwrap();
        });
        ws.plan_detailed_exitcode().expect_empty();
        ws.run(&["apply", "-refresh-only", "-auto-approve"])
            .expect_success();
        let state = ws.show_json();
        let attributes = &state["values"]["root_module"]["resources"][0]["values"];
        let listed: Vec<&String> = attributes["secret_versions"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(listed, ["A", "B", "C"]);
        assert!(attributes["secrets"].is_null(), "{attributes}");
    });
}

/// State written by the first schema (a committed fixture, with the emulator data behind it)
/// upgrades to the flat maps; with the configuration rewritten to them, the next apply sends no
/// value and makes no new version.
#[test]
fn state_of_schema_version_0_upgrades_and_the_next_apply_writes_nothing() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/state-v0");
    for_each_terraform(|terraform| {
        let emulator = Emulator::start_from_snapshot(&fixtures.join("emulator-state.json"));
        let (state_file, name, write_only) = if terraform.at_least(1, 11) {
            ("terraform-1.11.tfstate", "legacy-v0", true)
        } else {
            ("terraform-1.0.3.tfstate", "legacy-v0-tf10", false)
        };
        let mut maps = vec![
            (
                "collaborators",
                Some("[{ subject = \"team:payments\", role_id = \"secret-group-editor\" }]"),
            ),
            ("secrets", Some(r#"{ DB_PASSWORD = "v0-db-password" }"#)),
            ("initial_secrets", Some(r#"{ PARTNER_KEY = "set-me" }"#)),
        ];
        if write_only {
            maps.push(("secrets_wo", Some(r#"{ API_TOKEN = "v0-api-token" }"#)));
            maps.push(("secrets_wo_versions", Some(r#"{ API_TOKEN = "1" }"#)));
        }
        // The fixture's resource is `truefoundry_secret_group.legacy`.
        let main_tf = group(name, &maps).replace("\"g\" {", "\"legacy\" {");
        let ws = workspace(terraform, &emulator, &main_tf);
        ws.write(
            "terraform.tfstate",
            &std::fs::read_to_string(fixtures.join(state_file)).unwrap(),
        );
        let versions = server_versions(&emulator, name);
        let mark = emulator.mark();
        ws.apply();
        let writes: Vec<_> = emulator
            .requests_since(mark)
            .into_iter()
            .filter(LoggedRequest::is_write)
            .collect();
        assert!(writes.is_empty(), "the upgrade wrote: {writes:?}");
        assert_eq!(server_versions(&emulator, name), versions);
        let state = ws.state_json();
        let instance = &state["resources"][0]["instances"][0];
        assert_eq!(instance["schema_version"], 1, "{state}");
        assert_eq!(
            instance["attributes"]["secrets"]["DB_PASSWORD"],
            "v0-db-password"
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}
