//! The provider's core promises under every variant of the API the emulator plays
//! (`--variant NAME`): create, an empty second plan, a one-value update that sends exactly one
//! value, a change made outside Terraform seen and undone, destroy. One test per variant, so they
//! run in parallel; each runs on every Terraform found.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use truefoundry_provider::client::{
    Collaborator, SecretGroup, SecretGroupManifest, SecretUpdate, SecretValue,
};

use crate::half_made::{leave_record, records_in};
use crate::support::emulator::{
    ACME_KEY, DEFAULT_INTEGRATION, Emulator, config_json, full_list_puts, workspace,
};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Run, Terraform, Workspace, for_each_terraform, unwrapped};

/// The subject of `ACME_KEY`, the key Terraform uses.
const OWN_SUBJECT: &str = "user:admin@acme.example";

const COLLABORATORS: [(&str, &str); 2] = [
    ("team:payments", "secret-group-editor"),
    ("user:ops@example.com", "secret-group-admin"),
];

/// Subject kinds only the API definition's full list has (the `lenient-manifest` emulator takes
/// them, the default one does not).
const NEWER_KINDS: [(&str, &str); 2] = [
    ("role:auditors", "secret-group-viewer"),
    ("agent-identity:deploy-bot", "secret-group-viewer"),
];

fn config(name: &str, secrets: &[(&str, &str)], collaborators: &[(&str, &str)]) -> String {
    GroupHcl::new("g", name)
        .collaborators(collaborators.iter().copied())
        .map("secrets", secrets.iter().copied())
        .to_string()
}

fn values(secrets: &[(&str, &str)]) -> BTreeMap<String, String> {
    secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn group(emulator: &Emulator, name: &str) -> SecretGroup {
    let client = emulator.client(ACME_KEY);
    emulator
        .block_on(client.find_secret_group_by_fqn(&format!("acme:{name}")))
        .unwrap()
        .expect("the group exists")
}

fn server_collaborators(emulator: &Emulator, name: &str) -> Vec<Collaborator> {
    group(emulator, name)
        .manifest
        .map(|manifest| manifest.collaborators)
        .unwrap_or_default()
}

fn state_attributes(ws: &Workspace) -> Json {
    ws.state_json()["resources"][0]["instances"][0]["attributes"].clone()
}

/// Writes the full key list of group `name` through the API, as someone outside Terraform.
fn set_out_of_band(emulator: &Emulator, name: &str, secrets: &[(&str, Option<&str>)]) {
    let client = emulator.client(ACME_KEY);
    let id = group(emulator, name).id;
    let body: Vec<SecretUpdate> = secrets
        .iter()
        .map(|(key, value)| SecretUpdate {
            key: (*key).to_owned(),
            value: value.map(SecretValue::new),
        })
        .collect();
    emulator.block_on(client.set_secrets(&id, &body)).unwrap();
}

/// What a variant adds to the core scenario, at its steps.
trait Checks {
    /// The collaborators the configuration manages.
    fn collaborators(&self) -> Vec<(&'static str, &'static str)> {
        COLLABORATORS.to_vec()
    }
    fn after_create(&self, _ws: &Workspace, _emulator: &Emulator, _name: &str, _apply: &Run) {}
    fn after_update(&self, _ws: &Workspace, _emulator: &Emulator, _name: &str) {}
    /// Before destroy, with the configuration of the update applied.
    fn before_destroy(&self, _ws: &Workspace, _emulator: &Emulator, _name: &str) {}
}

struct Core;
impl Checks for Core {}

/// The core scenario against an emulator playing `variant`, on every Terraform.
fn core_scenario(variant: &str, checks: &dyn Checks) {
    for_each_terraform(|terraform: &Terraform| {
        let emulator = Emulator::builder().args(&["--variant", variant]).start();
        let name = format!("v-{variant}");
        let collaborators = checks.collaborators();
        let created = [("A", "a1"), ("B", "b1"), ("C", "c1")];
        let ws = workspace(
            terraform,
            &emulator,
            &config(&name, &created, &collaborators),
        );

        // Create: one manifest PUT and one secrets PUT with every value.
        let mark = emulator.mark();
        let apply = ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 2, "{variant}: {writes:?}");
        assert_eq!(full_list_puts(&writes)[0].keys_with_value, ["A", "B", "C"]);
        assert_eq!(emulator.secret_values(&name), Some(values(&created)));
        checks.after_create(&ws, &emulator, &name, &apply);

        // The second plan is empty and writes nothing.
        let mark = emulator.mark();
        ws.plan_detailed_exitcode().expect_empty();
        assert_eq!(emulator.writes_since(mark).len(), 0, "{variant}");

        // One value changes: one write, carrying exactly that value.
        let updated = [("A", "a1"), ("B", "b2"), ("C", "c1")];
        ws.write("main.tf", &config(&name, &updated, &collaborators));
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{variant}: {writes:?}");
        assert_eq!(full_list_puts(&writes)[0].keys, ["A", "B", "C"]);
        assert_eq!(full_list_puts(&writes)[0].keys_with_value, ["B"]);
        assert_eq!(emulator.secret_values(&name), Some(values(&updated)));
        ws.plan_detailed_exitcode().expect_empty();
        checks.after_update(&ws, &emulator, &name);

        // A value changed outside Terraform shows in the plan, and apply puts it back.
        let elsewhere = [("A", None), ("B", None), ("C", Some("c-elsewhere"))];
        set_out_of_band(&emulator, &name, &elsewhere);
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_output_contains(&["~ secrets"]);
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{variant}: {writes:?}");
        assert_eq!(full_list_puts(&writes)[0].keys_with_value, ["C"]);
        assert_eq!(emulator.secret_values(&name), Some(values(&updated)));
        ws.plan_detailed_exitcode().expect_empty();

        checks.before_destroy(&ws, &emulator, &name);
        ws.destroy();
        assert_eq!(emulator.secret_values(&name), None, "{variant}");
    });
}

#[test]
fn no_list_versions_keeps_the_promises_comparing_values() {
    struct NoVersions;
    impl Checks for NoVersions {
        fn after_create(&self, ws: &Workspace, _: &Emulator, _: &str, _: &Run) {
            // No versions from the server: every key is recorded at 0.
            let versions = &state_attributes(ws)["secret_versions"];
            for key in ["A", "B", "C"] {
                assert_eq!(versions[key], 0, "{versions}");
            }
        }

        fn before_destroy(&self, ws: &Workspace, emulator: &Emulator, name: &str) {
            // A value changed between plan and apply is still caught, by value.
            let secrets = [("A", "a2"), ("B", "b2"), ("C", "c1")];
            ws.write("main.tf", &config(name, &secrets, &COLLABORATORS));
            ws.run_ok(&["plan", "-out=tfplan"]);
            set_out_of_band(
                emulator,
                name,
                &[("A", Some("a-racing")), ("B", None), ("C", None)],
            );
            let mark = emulator.mark();
            ws.run(&["apply", "tfplan"])
                .expect_failure()
                .expect_output_contains(&["Secrets Changed Outside Terraform", ": A."]);
            assert_eq!(emulator.writes_since(mark).len(), 0);
            assert_eq!(emulator.secret_values(name).unwrap()["A"], "a-racing");
            ws.apply();
            assert_eq!(emulator.secret_values(name), Some(values(&secrets)));
            ws.plan_detailed_exitcode().expect_empty();

            // Write-only values: no way to see a change elsewhere, and the plan says so.
            if ws
                .terraform()
                .runs_part_needing(1, 11, "write-only keys without versions")
            {
                let main = GroupHcl::new("g", name)
                    .collaborators(COLLABORATORS)
                    .map("secrets", secrets)
                    .map("secrets_wo", [("W", "w1")])
                    .map("secrets_wo_versions", [("W", "1")])
                    .to_string();
                ws.write("main.tf", &main);
                ws.apply();
                ws.plan_detailed_exitcode()
                    .expect_empty()
                    .expect_output_contains(&["Write-Only Drift Not Detected", ": W."]);
            }
        }
    }
    core_scenario("no-list-versions", &NoVersions);
}

#[test]
fn sparse_versions_keep_the_promises() {
    struct Sparse;
    impl Checks for Sparse {
        fn after_update(&self, ws: &Workspace, emulator: &Emulator, name: &str) {
            let state = &state_attributes(ws)["secret_versions"];
            let server = emulator.secret_versions(name).unwrap();
            for (key, version) in server {
                assert_eq!(state[&key].as_i64(), version, "{key}: {state}");
            }
        }
    }
    core_scenario("sparse-versions", &Sparse);
}

#[test]
fn creator_collaborator_keeps_the_api_keys_own_access_without_a_diff() {
    struct Creator;
    impl Checks for Creator {
        fn after_create(&self, ws: &Workspace, emulator: &Emulator, name: &str, apply: &Run) {
            let own = Collaborator {
                subject: OWN_SUBJECT.into(),
                role_id: "secret-group-admin".into(),
            };
            assert!(server_collaborators(emulator, name).contains(&own));
            let output = apply.output();
            assert!(
                output.contains("API Key Listed As A Collaborator"),
                "the apply says the server added the key: {output}"
            );
            let state = state_attributes(ws)["collaborators"].to_string();
            assert!(!state.contains(OWN_SUBJECT), "{state}");
        }

        fn before_destroy(&self, ws: &Workspace, emulator: &Emulator, name: &str) {
            // A collaborator change keeps the key's own entry, and says so in the plan.
            let fewer = [("team:payments", "secret-group-viewer")];
            let secrets = [("A", "a1"), ("B", "b2"), ("C", "c1")];
            ws.write("main.tf", &config(name, &secrets, &fewer));
            ws.plan_detailed_exitcode()
                .expect_changes()
                .expect_output_contains(&["API Key Keeps Its Own Access", OWN_SUBJECT]);
            ws.apply();
            let held = server_collaborators(emulator, name);
            assert_eq!(held.len(), 2, "{held:?}");
            assert!(held.iter().any(|c| c.subject == OWN_SUBJECT), "{held:?}");
            ws.plan_detailed_exitcode().expect_empty();

            // Naming it, then dropping it, removes it: with a warning in the plan.
            let own = [fewer[0], (OWN_SUBJECT, "secret-group-admin")];
            ws.write("main.tf", &config(name, &secrets, &own));
            ws.apply();
            ws.plan_detailed_exitcode().expect_empty();
            ws.write("main.tf", &config(name, &secrets, &fewer));
            ws.plan_detailed_exitcode()
                .expect_changes()
                .expect_output_contains(&["API Key Loses Its Access", OWN_SUBJECT]);
            ws.apply();
            let held = server_collaborators(emulator, name);
            assert!(held.iter().all(|c| c.subject != OWN_SUBJECT), "{held:?}");
            ws.plan_detailed_exitcode().expect_empty();
        }
    }
    core_scenario("creator-collaborator", &Creator);
}

#[test]
fn server_owned_by_leaves_an_unset_owner_alone() {
    struct Owner;
    impl Checks for Owner {
        fn after_create(&self, ws: &Workspace, emulator: &Emulator, name: &str, _: &Run) {
            let owner = group(emulator, name).manifest.and_then(|m| m.owned_by);
            assert_eq!(owner.map(|o| o.account).as_deref(), Some("acme"));
            assert_eq!(state_attributes(ws)["owned_by_account"], Json::Null);
        }
    }
    core_scenario("server-owned-by", &Owner);
}

#[test]
fn no_group_name_takes_the_name_from_the_fqn() {
    struct NoName;
    impl Checks for NoName {
        fn after_create(&self, ws: &Workspace, emulator: &Emulator, name: &str, _: &Run) {
            assert_eq!(group(emulator, name).name.as_deref(), Some(name));
            let state = state_attributes(ws);
            assert_eq!(state["name"], name);
            assert_eq!(state["fqn"], format!("acme:{name}"));
            assert_eq!(
                state["secret_fqns"]["A"],
                format!("tfy-secret://acme:{name}:A")
            );
        }
    }
    core_scenario("no-group-name", &NoName);
}

#[test]
fn extra_fields_are_ignored() {
    core_scenario("extra-fields", &Core);
}

#[test]
fn lenient_manifest_takes_every_subject_kind() {
    struct Lenient;
    impl Checks for Lenient {
        fn collaborators(&self) -> Vec<(&'static str, &'static str)> {
            COLLABORATORS.iter().chain(&NEWER_KINDS).copied().collect()
        }
        fn after_create(&self, _: &Workspace, emulator: &Emulator, name: &str, _: &Run) {
            let held = server_collaborators(emulator, name);
            assert!(
                held.iter().any(|c| c.subject == "role:auditors"),
                "{held:?}"
            );
        }
    }
    core_scenario("lenient-manifest", &Lenient);
}

/// No client-side size limit: a secret store's refusal of a value comes back as an error naming
/// the key, never the value. The group the create made a moment before is deleted again, the
/// error says so, and the next plan shows just that: the group to create, nothing to destroy.
#[test]
fn a_value_the_secret_store_refuses_is_named_by_its_key() {
    const CANARY: &str = "CANARY-refused-value-5e2b";
    for_each_terraform(|terraform| {
        let dir = tempfile::tempdir().unwrap();
        let mut emulator_config = config_json();
        emulator_config["integrations"][0]["max_value_bytes"] = 64.into();
        let path = dir.path().join("emulator.json");
        std::fs::write(&path, emulator_config.to_string()).unwrap();
        let emulator = Emulator::builder().config_file(&path).start();

        // Larger than the 64 KiB the provider used to refuse by itself, and than this store's 64
        // bytes: only the store's answer stops it.
        let big = format!("{}{CANARY}", "x".repeat(70_000));
        let secrets = [("SMALL", "fits"), ("BIG", big.as_str())];
        let name = "store-limit-acme";
        let ws = workspace(terraform, &emulator, &config(name, &secrets, &[]));
        ws.plan_detailed_exitcode().expect_changes();
        let run = ws
            .run(&["apply", "-auto-approve"])
            .expect_failure()
            .expect_output_contains(&["Secret Value Refused By TrueFoundry", "these keys: BIG."]);
        assert!(!run.output().contains(CANARY), "{run}");
        let said = unwrapped(&run.output());
        for promise in [
            "it was deleted again, so nothing was created",
            "the next `terraform plan` shows the group as one to create",
        ] {
            assert!(said.contains(promise), "{run}");
        }
        let log = std::fs::read_to_string(emulator.log_path()).unwrap();
        assert!(!log.contains(CANARY));
        assert_eq!(emulator.secret_values(name), None, "no group is left");
        ws.run(&["plan"])
            .expect_output_contains(&["Plan: 1 to add, 0 to change, 0 to destroy."]);

        // A value the store takes: the next apply creates the group with its secrets.
        let fitting = [("SMALL", "fits"), ("BIG", "short now")];
        ws.write("main.tf", &config(name, &fitting, &[]));
        ws.apply();
        assert_eq!(emulator.secret_values(name), Some(values(&fitting)));
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn an_unknown_variant_stops_the_emulator_listing_the_known_ones() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_truefoundry-emulator"))
        .args(["--listen", "127.0.0.1:0", "--variant", "no-versions"])
        .output()
        .expect("the emulator binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "it never started listening");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown variant \"no-versions\""),
        "{stderr}"
    );
    for known in [
        "no-list-versions",
        "sparse-versions",
        "creator-collaborator",
        "server-owned-by",
        "no-group-name",
        "extra-fields",
        "lenient-manifest",
    ] {
        assert!(stderr.contains(known), "{stderr}");
    }
}

/// What an apply killed right after its manifest PUT leaves, under a server that lists the
/// creator: the group with the configured collaborators plus the key's own entry, and the
/// record of the unfinished create in the working directory's data directory (here
/// `TF_DATA_DIR`, relative to the directory Terraform runs in). The next apply takes it over
/// instead of calling it someone else's; without the record it is refused.
#[test]
fn creator_collaborator_leftover_of_an_interrupted_create_is_taken_over() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .args(&["--variant", "creator-collaborator"])
            .start();
        let name = "leftover-acme";
        let manifest = SecretGroupManifest {
            kind: "secret-group".into(),
            name: name.into(),
            integration_fqn: DEFAULT_INTEGRATION.into(),
            collaborators: COLLABORATORS
                .iter()
                .map(|(subject, role_id)| Collaborator {
                    subject: (*subject).into(),
                    role_id: (*role_id).into(),
                })
                .collect(),
            owned_by: None,
        };
        let started = time::OffsetDateTime::now_utc();
        let client = emulator.client(ACME_KEY);
        emulator
            .block_on(client.apply_secret_group_manifest(&manifest, false))
            .unwrap();
        assert_eq!(server_collaborators(&emulator, name).len(), 3);

        let secrets = [("A", "a1")];
        let mut ws = workspace(
            terraform,
            &emulator,
            &config(name, &secrets, &COLLABORATORS),
        );
        ws.set_env("TF_DATA_DIR", "tf-data");
        ws.run(&["plan"]).expect_failure().expect_output_contains(&[
            "Secret Group Already Exists",
            "holds no record of an unfinished create",
        ]);
        let records = ws.path().join("tf-data/truefoundry/pending-creates");
        leave_record(&records, name, OWN_SUBJECT, started);
        ws.plan_detailed_exitcode().expect_changes();
        ws.apply()
            .expect_output_contains(&["Secret Group Taken Over From An Interrupted Apply"]);
        assert_eq!(
            records_in(&records),
            Vec::<String>::new(),
            "the record served"
        );
        assert_eq!(emulator.secret_values(name), Some(values(&secrets)));
        ws.plan_detailed_exitcode().expect_empty();
    });
}
