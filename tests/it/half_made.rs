//! One group, one owner, and creates that stop half-way (issue 20), with the real CLI on every
//! Terraform version.
//!
//! - A create that finds its name taken adopts the group only on the evidence an interrupted
//!   create of its own leaves: this working directory's record of its unfinished create, and
//!   then the API's word that this API key created the group after that create started and
//!   nothing changed it since, with exactly the configured manifest and values. Otherwise the
//!   plan stops with "Secret Group Already Exists" and the `terraform import` command.
//! - A create whose secrets cannot be written after the group was made says what happens next,
//!   and the next `terraform plan` shows exactly that: the group was deleted again (plan: create
//!   it; the store-refusal case is `variants::a_value_the_secret_store_refuses_is_named_by_its_key`),
//!   or, when that failed too, Terraform replaces it.

use crate::support::chaos::{ADMIN_KEY, ChaosEmulator};
use crate::support::emulator::{Emulator, config_json, workspace};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Run, Workspace, for_each_terraform, unwrapped};

/// A second tenant admin of tenant acme: another API key than the suite's own.
const SECOND_ADMIN_KEY: &str = "tfy-acme-second-admin";

fn group_config(name: &str) -> String {
    GroupHcl::new("team", name)
        .collaborators([("team:payments", "secret-group-editor")])
        .map("secrets", [("A", "a-1"), ("B", "b-1")])
        .to_string()
}

#[track_caller]
fn expect_said(output: &str, needles: &[&str]) {
    let text = unwrapped(output);
    for needle in needles {
        assert!(text.contains(needle), "output lacks {needle:?}\n{output}");
    }
}

/// The refusal a second configuration of the same group gets at plan time.
#[track_caller]
fn expect_already_exists(run: &Run, id: &str, why: &str) {
    expect_said(
        &run.output(),
        &[
            "Secret Group Already Exists",
            "Nothing was changed",
            &format!("terraform import <address> {id}"),
            why,
        ],
    );
}

/// Where a create in `ws` keeps the record of itself while it runs (no `TF_DATA_DIR`).
pub fn pending_creates(ws: &Workspace) -> std::path::PathBuf {
    ws.path()
        .join(".terraform")
        .join("truefoundry")
        .join("pending-creates")
}

/// The records of unfinished creates left in `dir`.
pub fn records_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Leaves in `records` what a create of acme's group `name` with the key of `subject`, started at
/// `started` and cut off before its manifest PUT answered, leaves behind.
pub fn leave_record(
    records: &std::path::Path,
    name: &str,
    subject: &str,
    started: time::OffsetDateTime,
) {
    let started = started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let record = serde_json::json!({
        "tenant": "acme", "name": name, "subject": subject, "started_at": started,
    });
    std::fs::create_dir_all(records).unwrap();
    std::fs::write(
        records.join(format!("acme_{name}.json")),
        record.to_string(),
    )
    .unwrap();
}

/// Two directories with the same configuration: the second never becomes a second owner, with
/// another API key nor with the same one seconds later. Only a working directory's own record
/// of an unfinished create of the group lets an apply take it over; the second directory has
/// none, and a record older than a day, or of another API key, is none either.
#[test]
fn a_second_configuration_of_the_same_group_is_refused_at_plan() {
    for_each_terraform(|terraform| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_json();
        config["api_keys"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "token": SECOND_ADMIN_KEY, "tenant": "acme",
                "subject": "user:second@acme.example", "tenant_admin": true,
            }));
        let config_path = dir.path().join("emulator.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let emulator = Emulator::builder().config_file(&config_path).start();
        let name = "one-owner";
        let first = workspace(terraform, &emulator, &group_config(name));
        first.apply();
        assert_eq!(
            records_in(&pending_creates(&first)),
            Vec::<String>::new(),
            "a finished create leaves no record behind"
        );
        let id = emulator
            .block_on(
                emulator
                    .client(SECOND_ADMIN_KEY)
                    .find_secret_group_by_fqn("acme:one-owner"),
            )
            .unwrap()
            .expect("the first configuration made the group")
            .id;

        // The same configuration with another API key.
        let mut other_key = workspace(terraform, &emulator, &group_config(name));
        other_key.set_env("TFY_API_KEY", SECOND_ADMIN_KEY);
        let mark = emulator.mark();
        let refused = other_key.run(&["plan"]).expect_failure();
        expect_already_exists(
            &refused,
            &id,
            "created by `user:admin@acme.example`, not by this API key (`user:second@acme.example`)",
        );
        assert!(emulator.writes_since(mark).is_empty());

        // The same key, seconds later, from a second directory: the plan stops, and so does an
        // apply run without it.
        let twin = workspace(terraform, &emulator, &group_config(name));
        let no_record = "this working directory holds no record of an unfinished create of it";
        let refused = twin.run(&["plan"]).expect_failure();
        expect_already_exists(&refused, &id, no_record);
        let refused = twin.run(&["apply", "-auto-approve"]).expect_failure();
        expect_already_exists(&refused, &id, no_record);
        assert!(emulator.writes_since(mark).is_empty());
        if twin.path().join("terraform.tfstate").exists() {
            let state = twin.state_json();
            assert!(
                state["resources"].as_array().is_none_or(Vec::is_empty),
                "nothing reached the second directory's state: {state}"
            );
        }

        // A record left there long ago, or by a create with another key, proves nothing.
        let records = pending_creates(&twin);
        let now = time::OffsetDateTime::now_utc();
        let admin = "user:admin@acme.example";
        leave_record(&records, name, admin, now - time::Duration::days(2));
        let refused = twin.run(&["plan"]).expect_failure();
        expect_already_exists(&refused, &id, "more than 24 hours ago");
        leave_record(
            &records,
            name,
            "user:second@acme.example",
            now - time::Duration::minutes(1),
        );
        let refused = twin.run(&["plan"]).expect_failure();
        expect_already_exists(&refused, &id, "ran with another API key");
        assert!(emulator.writes_since(mark).is_empty());
    });
}

/// A data directory the record cannot be written to blocks no create: the apply succeeds, and
/// only a takeover after a cut-off create would be impossible (the safe side).
#[test]
fn a_record_that_cannot_be_written_blocks_no_create() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(terraform, &emulator, &group_config("no-record"));
        // A file where the provider's directory would go.
        std::fs::create_dir_all(ws.path().join(".terraform")).unwrap();
        std::fs::write(
            ws.path().join(".terraform").join("truefoundry"),
            "not a directory",
        )
        .unwrap();
        ws.apply();
        let held = emulator
            .secret_values("no-record")
            .expect("the group was created");
        assert_eq!(
            held.iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect::<Vec<_>>(),
            [("A", "a-1"), ("B", "b-1")]
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}

/// The emulator dies between the group's creation and its secrets write, so the group cannot be
/// deleted again either: the error says Terraform replaces it, and once the control plane is
/// back the next plan does exactly that; the apply after it converges.
#[test]
fn a_create_cut_off_after_the_group_was_made_is_replaced_next() {
    for_each_terraform(|terraform| {
        let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "300"]);
        let hcl = format!(
            "provider \"truefoundry\" {{\n  host = \"{}\"\n  api_key = \"{ADMIN_KEY}\"\n  \
             max_retries = 1\n}}\n{}",
            emulator.base_url,
            group_config("half-made-cut")
        );
        let ws = Workspace::with_main(terraform, &hcl);
        let mark = emulator.requests().len();
        let apply = ws.start(&["apply", "-auto-approve"]);
        emulator
            .wait_for(mark, std::time::Duration::from_secs(120), |line| {
                line.by_provider() && line.is_manifest_put() && line.ok()
            })
            .expect("the group is created");
        // The secrets PUT is on its way (300 ms before the emulator would act on it).
        emulator.kill();
        let (code, output) = apply.finish().code_and_output();
        assert_ne!(code, Some(0), "{output}");
        expect_said(
            &output,
            &[
                "deleting it again failed too",
                "Terraform records it as tainted: the next `terraform apply` replaces it",
            ],
        );
        emulator.restart();
        let plan = ws.run(&["plan"]);
        assert!(plan.success(), "{plan}");
        expect_said(
            &plan.output(),
            &[
                "is tainted, so must be replaced",
                "Plan: 1 to add, 0 to change, 1 to destroy.",
            ],
        );
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        let held = emulator.server_state();
        assert_eq!(held.len(), 1, "one group, no orphan: {held:?}");
        assert_eq!(
            held["half-made-cut"].values().keys().collect::<Vec<_>>(),
            ["A", "B"]
        );
    });
}
