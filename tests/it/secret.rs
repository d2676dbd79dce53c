//! `truefoundry_secret` end to end: the real Terraform CLI, our provider binary and the emulator
//! binary. Three keys of one group managed by this configuration, in a group that also holds a
//! key someone else writes; the emulator's request log is the witness of what reached the API.

use std::collections::BTreeMap;

use truefoundry_provider::client::{SecretUpdate, SecretValue};

use crate::support::emulator::{
    ACME_KEY, ACME_VIEWER_KEY, Emulator, LoggedRequest, full_list_puts, workspace,
};
use crate::support::hcl::{GroupHcl, quote};
use crate::support::terraform::for_each_terraform;

const GROUP: &str = "shared-platform";

/// The group (no secret maps, so it leaves the keys alone) and one `truefoundry_secret` per
/// `(key, value)`, each labelled with its key in lower case.
fn config(secrets: &[(&str, &str)]) -> String {
    let mut text = GroupHcl::new("shared", GROUP)
        .collaborators([("user:viewer@acme.example", "secret-group-viewer")])
        .to_string();
    for (key, value) in secrets {
        text += &secret_block(key, &format!("value = {}", quote(value)));
    }
    text
}

fn secret_block(key: &str, value_lines: &str) -> String {
    format!(
        "resource \"truefoundry_secret\" \"{}\" {{\n  secret_group_id = \
         truefoundry_secret_group.shared.id\n  key = {}\n  {value_lines}\n}}\n",
        key.to_lowercase(),
        quote(key)
    )
}

fn secret_deletes(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.starts_with("/api/svc/v1/secrets/"))
        .collect()
}

/// Writes one key as another writer would: the full list of what the group holds, with a value
/// for this key only.
fn write_out_of_band(emulator: &Emulator, key: &str, value: &str) {
    let client = emulator.client(ACME_KEY);
    let held = emulator.secret_values(GROUP).expect("the group exists");
    let mut body: Vec<SecretUpdate> = held
        .keys()
        .filter(|held| *held != key)
        .map(|held| SecretUpdate {
            key: held.clone(),
            value: None,
        })
        .collect();
    body.push(SecretUpdate {
        key: key.to_owned(),
        value: Some(SecretValue::new(value)),
    });
    let group = emulator
        .block_on(client.find_secret_group_by_fqn(&format!("acme:{GROUP}")))
        .unwrap()
        .unwrap();
    emulator
        .block_on(client.set_secrets(&group.id, &body))
        .unwrap();
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn three_secrets_share_a_group_with_another_writer() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(terraform, &emulator, &config(&[]));
        ws.apply();
        write_out_of_band(&emulator, "THEIRS", "their-value");

        // Create three keys: their values only, in as few PUTs as the waves allow, and THEIRS
        // listed without a value in each.
        let mine = [("ALPHA", "a1"), ("BRAVO", "b1"), ("CHARLIE", "c1")];
        ws.write("main.tf", &config(&mine));
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        let puts = full_list_puts(&writes);
        assert_eq!(writes.len(), puts.len(), "only full-list PUTs: {writes:?}");
        eprintln!(
            "{terraform}: {} PUTs for three keys created together",
            puts.len()
        );
        assert!(!puts.is_empty() && puts.len() <= 3, "{puts:?}");
        for put in &puts {
            assert!(put.keys.contains(&"THEIRS".to_owned()), "{put:?}");
            assert!(
                !put.keys_with_value.contains(&"THEIRS".to_owned()),
                "{put:?}"
            );
        }
        let mut sent: Vec<String> = puts
            .iter()
            .flat_map(|p| p.keys_with_value.clone())
            .collect();
        sent.sort();
        assert_eq!(sent, ["ALPHA", "BRAVO", "CHARLIE"]);
        let expected = |pairs: &[(&str, &str)]| {
            let mut all = values(pairs);
            all.insert("THEIRS".into(), "their-value".into());
            all
        };
        assert_eq!(emulator.secret_values(GROUP).unwrap(), expected(&mine));
        ws.plan_detailed_exitcode().expect_empty();
        let state = ws.show_json().to_string();
        assert!(
            state.contains(&format!("\"fqn\":\"tfy-secret://acme:{GROUP}:BRAVO\"")),
            "{state}"
        );

        // The other writer changes its key: nothing for this configuration to do.
        write_out_of_band(&emulator, "THEIRS", "their-value-2");
        ws.plan_detailed_exitcode().expect_empty();

        // One value changes: one PUT carrying exactly that value.
        let updated = [("ALPHA", "a1"), ("BRAVO", "b2"), ("CHARLIE", "c1")];
        ws.write("main.tf", &config(&updated));
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(full_list_puts(&writes).len(), 1);
        assert_eq!(writes[0].keys_with_value, ["BRAVO"]);
        let expected = |pairs: &[(&str, &str)]| {
            let mut all = values(pairs);
            all.insert("THEIRS".into(), "their-value-2".into());
            all
        };
        assert_eq!(emulator.secret_values(GROUP).unwrap(), expected(&updated));

        // A value changed elsewhere is drift, written back with that value alone.
        write_out_of_band(&emulator, "ALPHA", "tampered");
        ws.plan_detailed_exitcode().expect_changes();
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].keys_with_value, ["ALPHA"]);
        assert_eq!(emulator.secret_values(GROUP).unwrap(), expected(&updated));

        // One key leaves the configuration: its own DELETE, no full-list PUT.
        let two = [("ALPHA", "a1"), ("BRAVO", "b2")];
        ws.write("main.tf", &config(&two));
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(secret_deletes(&writes).len(), 1);
        assert_eq!(writes[0].keys, ["CHARLIE"]);
        assert_eq!(emulator.secret_values(GROUP).unwrap(), expected(&two));
        ws.plan_detailed_exitcode().expect_empty();

        // Then the other two.
        ws.write("main.tf", &config(&[]));
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(secret_deletes(&writes).len(), 2, "{writes:?}");
        assert_eq!(writes.len(), 2, "{writes:?}");
        assert_eq!(emulator.secret_values(GROUP).unwrap(), expected(&[]));

        // A key deleted elsewhere is created again.
        ws.write("main.tf", &config(&[("DELTA", "d1")]));
        ws.apply();
        let client = emulator.client(ACME_KEY);
        let delta = emulator
            .secrets_of(GROUP)
            .unwrap()
            .into_iter()
            .find(|s| s.name == "DELTA")
            .unwrap();
        emulator
            .block_on(client.delete_secret(&delta.id, false))
            .unwrap();
        ws.plan_detailed_exitcode().expect_changes();
        ws.apply();
        assert_eq!(
            emulator.secret_values(GROUP).unwrap(),
            expected(&[("DELTA", "d1")])
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn imports_by_reference_with_or_without_its_prefix() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(terraform, &emulator, &config(&[]));
        ws.apply();
        write_out_of_band(&emulator, "ECHO", "e1");
        write_out_of_band(&emulator, "FOXTROT", "f1");
        ws.write("main.tf", &config(&[("ECHO", "e1"), ("FOXTROT", "f1")]));
        let mark = emulator.mark();
        ws.import("truefoundry_secret.echo", &format!("acme:{GROUP}:ECHO"));
        ws.import(
            "truefoundry_secret.foxtrot",
            &format!("tfy-secret://acme:{GROUP}:FOXTROT"),
        );
        ws.plan_detailed_exitcode().expect_empty();
        assert!(emulator.writes_since(mark).is_empty());
        let state = ws.show_json().to_string();
        assert!(
            state.contains(&format!("\"fqn\":\"tfy-secret://acme:{GROUP}:ECHO\"")),
            "{state}"
        );

        // Neither form finds a key that is not there, nor a group of another tenant.
        ws.write(
            "main.tf",
            &config(&[("ECHO", "e1"), ("FOXTROT", "f1"), ("GOLF", "g1")]),
        );
        let missing = ws.run(&[
            "import",
            "truefoundry_secret.golf",
            &format!("acme:{GROUP}:GOLF"),
        ]);
        missing
            .expect_failure()
            .expect_output_contains(&["Secret Not Found"]);
        let other = ws.run(&["import", "truefoundry_secret.golf", "globex:x:GOLF"]);
        other
            .expect_failure()
            .expect_output_contains(&["Secret Group Belongs To Another Tenant"]);
        let bad = ws.run(&["import", "truefoundry_secret.golf", "GOLF"]);
        bad.expect_failure()
            .expect_output_contains(&["Invalid Import Id"]);
    });
}

#[test]
fn a_viewer_plans_without_a_diff_it_cannot_see_and_sees_a_moved_version() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = workspace(terraform, &emulator, &config(&[("HOTEL", "h1")]));
        ws.apply();
        ws.set_env("TFY_API_KEY", ACME_VIEWER_KEY);
        let mark = emulator.mark();
        ws.plan_detailed_exitcode().expect_empty();
        let reads = emulator.requests_since(mark);
        assert!(
            reads.iter().all(|r| r.values_returned.is_empty()),
            "a viewer is never handed a value: {reads:?}"
        );
        // Changed elsewhere: the viewer cannot compare values, but sees the version move.
        write_out_of_band(&emulator, "HOTEL", "h2");
        ws.plan_detailed_exitcode().expect_changes();
        ws.set_env("TFY_API_KEY", ACME_KEY);
        ws.apply();
        assert_eq!(
            emulator.secret_values(GROUP).unwrap(),
            values(&[("HOTEL", "h1")])
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn write_only_value_stays_out_of_state_and_is_resent_on_a_new_version() {
    const CANARY: &str = "wo-canary-secret-resource";
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let with = |value: &str, version: &str| {
            config(&[])
                + &secret_block(
                    "INDIA",
                    &format!(
                        "value_wo = {}\n  value_wo_version = {}",
                        quote(value),
                        quote(version)
                    ),
                )
        };
        if !terraform.runs_part_needing(1, 11, "write-only truefoundry_secret") {
            // An older Terraform is refused before anything is sent, without the value.
            let ws = workspace(terraform, &emulator, &with(CANARY, "1"));
            let run = ws.run(&["plan"]).expect_failure();
            assert!(
                run.output().contains("Write-Only Attribute Not Supported"),
                "{run}"
            );
            assert!(!run.output().contains(CANARY), "{run}");
            assert!(
                emulator.secret_values(GROUP).is_none(),
                "nothing was created"
            );
            return;
        }
        let ws = workspace(terraform, &emulator, &with(&format!("{CANARY}-1"), "1"));
        ws.apply();
        let held = emulator.secret_values(GROUP).unwrap();
        assert_eq!(held["INDIA"], format!("{CANARY}-1"));
        ws.plan_detailed_exitcode().expect_empty();

        // A new value without a new version is not seen (it cannot be); a new version sends it.
        ws.write("main.tf", &with(&format!("{CANARY}-2"), "1"));
        ws.plan_detailed_exitcode().expect_empty();
        ws.write("main.tf", &with(&format!("{CANARY}-2"), "2"));
        let mark = emulator.mark();
        ws.apply();
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].keys_with_value, ["INDIA"]);
        assert_eq!(
            emulator.secret_values(GROUP).unwrap()["INDIA"],
            format!("{CANARY}-2")
        );

        // Changed elsewhere: the version moved, so the value is sent again.
        write_out_of_band(&emulator, "INDIA", "someone-else");
        ws.plan_detailed_exitcode().expect_changes();
        ws.apply();
        assert_eq!(
            emulator.secret_values(GROUP).unwrap()["INDIA"],
            format!("{CANARY}-2")
        );
        ws.plan_detailed_exitcode().expect_empty();

        let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
        assert!(!state.contains(CANARY), "a write-only value is in state");
    });
}

/// An authoritative group and a `truefoundry_secret` on it fight: the group's next plan deletes
/// the key, and its warning says why.
#[test]
fn an_authoritative_group_warns_that_it_deletes_keys_of_secret_resources() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let group = GroupHcl::new("shared", GROUP).map("secrets", [("OWNED", "o")]);
        let main_tf = group.to_string() + &secret_block("JULIET", "value = \"j\"");
        let ws = workspace(terraform, &emulator, &main_tf);
        ws.apply();
        assert_eq!(
            emulator.secret_values(GROUP).unwrap(),
            values(&[("JULIET", "j"), ("OWNED", "o")])
        );
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_output_contains(&["Secrets Will Be Deleted", "JULIET", "`truefoundry_secret`"]);
    });
}
