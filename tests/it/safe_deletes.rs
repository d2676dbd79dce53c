//! Safe deletes and replacements, end to end with the real CLI against an emulator whose
//! configuration says which secrets deployments use (`active_deployments`): a key in use dropped
//! from the maps fails the plan, a destroy of a group holding one (or of a `truefoundry_secret`
//! in use) fails the apply, and each goes through with `delete_in_use = true`; a replacement
//! warns that the references change.

use crate::support::canaries::assert_no_canary;
use crate::support::emulator::{Emulator, workspace};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Run, for_each_terraform};

/// Values that must never show up in Terraform's output.
const CANARY: &str = "canary-safe-delete-3e9b";
const CANARY_2: &str = "canary-safe-delete-77a1";

/// Panics unless the (unwrapped) output holds every needle, and holds no canary.
#[track_caller]
fn expect_said(run: &Run, needles: &[&str]) {
    let text = run.flat_output();
    for needle in needles {
        assert!(text.contains(needle), "output lacks {needle:?}\n{run}");
    }
    expect_no_canary(run);
}

#[track_caller]
fn expect_no_canary(run: &Run) {
    assert_no_canary(&[CANARY, CANARY_2], "Terraform's output", &run.output());
}

#[test]
fn a_key_in_use_dropped_from_the_maps_fails_the_plan_until_delete_in_use() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .active_deployments(&[("tfy-secret://acme:sd-plan:DB", 2)])
            .start();
        let both =
            GroupHcl::new("g", "sd-plan").map("secrets", [("DB", CANARY), ("KEEP", CANARY_2)]);
        let ws = workspace(terraform, &emulator, &both.to_string());
        expect_no_canary(&ws.apply());

        let only_keep = GroupHcl::new("g", "sd-plan").map("secrets", [("KEEP", CANARY_2)]);
        ws.write("main.tf", &only_keep.to_string());
        let mark = emulator.mark();
        let plan = ws.run(&["plan"]).expect_failure();
        expect_said(
            &plan,
            &[
                "Secrets In Use By Deployments",
                "acme:sd-plan",
                "DB (2 deployments)",
                "delete_in_use = true",
            ],
        );
        let apply = ws.run(&["apply", "-auto-approve"]).expect_failure();
        expect_said(&apply, &["DB (2 deployments)"]);
        assert!(
            emulator.writes_since(mark).is_empty(),
            "nothing is written: {:?}",
            emulator.writes_since(mark)
        );
        let held = emulator.secret_values("sd-plan").expect("the group exists");
        assert_eq!(held.keys().collect::<Vec<_>>(), ["DB", "KEEP"]);

        // A key nobody uses is dropped as before, even next to one in use.
        let allowed = only_keep.clone().expr("delete_in_use", "true");
        ws.write("main.tf", &allowed.to_string());
        expect_no_canary(&ws.apply());
        let held = emulator.secret_values("sd-plan").expect("the group exists");
        assert_eq!(held.keys().collect::<Vec<_>>(), ["KEEP"]);
        assert_eq!(held["KEEP"], CANARY_2);
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn a_key_that_came_into_use_after_the_plan_is_not_deleted_by_its_apply() {
    for_each_terraform(|terraform| {
        let before = Emulator::start();
        let both =
            GroupHcl::new("g", "sd-late").map("secrets", [("DB", CANARY), ("KEEP", CANARY_2)]);
        let mut ws = workspace(terraform, &before, &both.to_string());
        ws.apply();
        let only_keep = GroupHcl::new("g", "sd-late").map("secrets", [("KEEP", CANARY_2)]);
        ws.write("main.tf", &only_keep.to_string());
        ws.run_ok(&["plan", "-out=tfplan"]);

        // Between plan and apply, a deployment starts using DB.
        let after =
            before.successor_with_active_deployments(&[("tfy-secret://acme:sd-late:DB", 1)]);
        drop(before);
        after.set_provider_env(&mut ws);
        let mark = after.mark();
        // The plan's counts came from its refresh; the apply's re-read sees the deployment.
        let apply = ws.run(&["apply", "tfplan"]).expect_failure();
        expect_said(
            &apply,
            &[
                "Secrets In Use By Deployments",
                "DB (1 deployment)",
                "Nothing was written",
            ],
        );
        assert!(
            after.writes_since(mark).is_empty(),
            "{:?}",
            after.writes_since(mark)
        );
        let held = after.secret_values("sd-late").expect("the group exists");
        assert_eq!(held.keys().collect::<Vec<_>>(), ["DB", "KEEP"]);
    });
}

#[test]
fn destroying_a_group_with_a_key_in_use_fails_the_apply_until_delete_in_use() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .active_deployments(&[("tfy-secret://acme:sd-destroy:DB", 1)])
            .start();
        let group =
            GroupHcl::new("g", "sd-destroy").map("secrets", [("DB", CANARY), ("OTHER", CANARY_2)]);
        let ws = workspace(terraform, &emulator, &group.to_string());
        ws.apply();

        let mark = emulator.mark();
        let destroy = ws.run(&["destroy", "-auto-approve"]).expect_failure();
        expect_said(
            &destroy,
            &[
                "Secrets In Use By Deployments",
                "acme:sd-destroy",
                "DB (1 deployment)",
                "Nothing was deleted",
                "delete_in_use = true",
            ],
        );
        assert!(emulator.writes_since(mark).is_empty());
        assert_eq!(
            emulator.secret_values("sd-destroy").map(|v| v.len()),
            Some(2),
            "the group and its keys are still there"
        );
        // Removing the resource from the configuration is a destroy too.
        ws.write("main.tf", "");
        ws.run(&["apply", "-auto-approve"]).expect_failure();
        assert!(emulator.secret_values("sd-destroy").is_some());

        // Setting it is an in-place change that writes nothing; then the destroy goes through.
        ws.write(
            "main.tf",
            &group.clone().expr("delete_in_use", "true").to_string(),
        );
        let mark = emulator.mark();
        ws.apply();
        assert!(
            emulator.writes_since(mark).is_empty(),
            "{:?}",
            emulator.writes_since(mark)
        );
        expect_no_canary(&ws.destroy());
        assert!(emulator.secret_values("sd-destroy").is_none());
    });
}

#[test]
fn replacing_a_group_warns_that_its_references_change() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .active_deployments(&[("tfy-secret://acme:sd-old:USED", 3)])
            .start();
        let old = GroupHcl::new("g", "sd-old").map("secrets", [("A", CANARY), ("USED", CANARY_2)]);
        let ws = workspace(terraform, &emulator, &old.to_string());
        ws.apply();

        let renamed =
            GroupHcl::new("g", "sd-new").map("secrets", [("A", CANARY), ("USED", CANARY_2)]);
        ws.write("main.tf", &renamed.to_string());
        let mark = emulator.mark();
        // The replacement's destroy half would be refused: the plan says so at once.
        let plan = ws.run(&["plan"]).expect_failure();
        expect_said(
            &plan,
            &[
                "Secret References Will Change",
                "deleted with its 2 keys",
                "from `tfy-secret://acme:sd-old:<key>` to `tfy-secret://acme:sd-new:<key>`",
                "TrueFoundry reports deployments using: USED (3 deployments).",
                "Secrets In Use By Deployments",
                "apply that alone first",
            ],
        );
        assert!(emulator.writes_since(mark).is_empty());

        ws.write(
            "main.tf",
            &old.clone().expr("delete_in_use", "true").to_string(),
        );
        ws.apply();
        ws.write(
            "main.tf",
            &renamed.clone().expr("delete_in_use", "true").to_string(),
        );
        let plan = ws.run(&["plan"]).expect_success();
        expect_said(
            &plan,
            &[
                "Secret References Will Change",
                "Changing `name` replaces the secret group acme:sd-old",
                "Deployments that reference these secrets must be updated",
                "USED (3 deployments)",
            ],
        );
        assert!(!plan.flat_output().contains("Secrets In Use By Deployments"));
        expect_no_canary(&ws.apply());
        assert!(emulator.secret_values("sd-old").is_none());
        let new = emulator
            .secret_values("sd-new")
            .expect("the new group exists");
        assert_eq!(new["A"], CANARY);
        ws.plan_detailed_exitcode().expect_empty();

        // A group whose keys nobody uses is replaced with the warning alone.
        let free = GroupHcl::new("g", "sd-free").map("secrets", [("A", CANARY)]);
        ws.write("main.tf", &free.to_string());
        let apply = ws.apply();
        expect_said(
            &apply,
            &["Secret References Will Change", "deleted with its 2 keys"],
        );
        assert!(!apply.flat_output().contains("reports deployments using"));
        assert!(emulator.secret_values("sd-new").is_none());

        // A new secret store keeps the references' text but not the secrets behind them.
        let moved = free.string("integration_fqn", "acme:aws:main:secret-store:ssm");
        ws.write("main.tf", &moved.to_string());
        let apply = ws.apply();
        expect_said(
            &apply,
            &[
                "Changing `integration_fqn` replaces the secret group acme:sd-free",
                "deleted with its 1 key and created again",
                "`tfy-secret://acme:sd-free:<key>` keep their text",
                "must be updated",
            ],
        );
        assert_eq!(
            emulator.secret_values("sd-free").map(|v| v["A"].clone()),
            Some(CANARY.to_owned())
        );
    });
}

#[test]
fn destroying_a_truefoundry_secret_in_use_fails_the_apply_until_delete_in_use() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .active_deployments(&[("tfy-secret://acme:sd-secret:USED", 3)])
            .start();
        let config = |delete_in_use: &str, with_used: bool| {
            let mut hcl =
                "resource \"truefoundry_secret_group\" \"shared\" {\n  name = \"sd-secret\"\n}\n"
                    .to_owned();
            let secrets = [("used", "USED", CANARY), ("free", "FREE", CANARY_2)];
            for (name, key, value) in secrets {
                if name == "used" && !with_used {
                    continue;
                }
                hcl.push_str(&format!(
                    "resource \"truefoundry_secret\" \"{name}\" {{\n  \
                     secret_group_id = truefoundry_secret_group.shared.id\n  \
                     key = \"{key}\"\n  value = \"{value}\"\n{delete_in_use}}}\n"
                ));
            }
            hcl
        };
        let ws = workspace(terraform, &emulator, &config("", true));
        expect_no_canary(&ws.apply());

        // Removing the resource from the configuration destroys it: refused, the key stays.
        ws.write("main.tf", &config("", false));
        let mark = emulator.mark();
        let refused = ws.run(&["apply", "-auto-approve"]).expect_failure();
        expect_said(
            &refused,
            &[
                "Secrets In Use By Deployments",
                "acme:sd-secret",
                "USED (3 deployments)",
                "Nothing was deleted",
                "delete_in_use = true",
            ],
        );
        assert!(emulator.writes_since(mark).is_empty());
        let keys = |emulator: &Emulator| emulator.secret_values("sd-secret").unwrap_or_default();
        assert_eq!(
            keys(&emulator).get("USED").map(String::as_str),
            Some(CANARY)
        );

        // `delete_in_use = true` is an in-place change that writes nothing; then the key goes,
        // and only that key (one per-secret DELETE).
        ws.write("main.tf", &config("  delete_in_use = true\n", true));
        let mark = emulator.mark();
        expect_no_canary(&ws.apply());
        assert!(emulator.writes_since(mark).is_empty());
        ws.write("main.tf", &config("  delete_in_use = true\n", false));
        let mark = emulator.mark();
        expect_no_canary(&ws.apply());
        let writes = emulator.writes_since(mark);
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].method, "DELETE", "{writes:?}");
        assert!(writes[0].path.contains("/secrets/"), "{writes:?}");
        let left = keys(&emulator);
        assert!(!left.contains_key("USED"), "{left:?}");
        assert_eq!(left.get("FREE").map(String::as_str), Some(CANARY_2));
    });
}

/// A new `key` replaces a `truefoundry_secret`, deleting the old key: while deployments use it,
/// `terraform plan` refuses, naming the key and its count, like the group's maps; with
/// `delete_in_use = true` in the state first, the rename goes through.
#[test]
fn renaming_a_truefoundry_secret_in_use_fails_the_plan_until_delete_in_use() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .active_deployments(&[("tfy-secret://acme:sd-rename:USED", 2)])
            .start();
        let config = |key: &str, delete_in_use: &str| {
            format!(
                "resource \"truefoundry_secret_group\" \"shared\" {{\n  name = \"sd-rename\"\n}}\n\
                 resource \"truefoundry_secret\" \"db\" {{\n  \
                 secret_group_id = truefoundry_secret_group.shared.id\n  \
                 key = \"{key}\"\n  value = \"{CANARY}\"\n{delete_in_use}}}\n"
            )
        };
        let ws = workspace(terraform, &emulator, &config("USED", ""));
        expect_no_canary(&ws.apply());

        ws.write("main.tf", &config("RENAMED", ""));
        let mark = emulator.mark();
        let refused = ws.run(&["plan"]).expect_failure();
        expect_said(
            &refused,
            &[
                "Secrets In Use By Deployments",
                "acme:sd-rename",
                "USED (2 deployments)",
                "The plan stops here; nothing was changed.",
                "delete_in_use = true",
                "with truefoundry_secret.db",
                "key",
            ],
        );
        assert!(emulator.writes_since(mark).is_empty());

        ws.write("main.tf", &config("USED", "  delete_in_use = true\n"));
        expect_no_canary(&ws.apply());
        ws.write("main.tf", &config("RENAMED", "  delete_in_use = true\n"));
        expect_no_canary(&ws.apply());
        let left = emulator.secret_values("sd-rename").unwrap_or_default();
        assert_eq!(left.keys().collect::<Vec<_>>(), ["RENAMED"], "{left:?}");
        ws.plan_detailed_exitcode().expect_empty();
    });
}
