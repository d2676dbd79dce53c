//! The edges a new user trips on, end to end with the real Terraform CLI: an import that must
//! plan nothing, values that must not be sent again, warnings and errors that must say where and
//! what. Each test pins one symptom a first-time user met.

use truefoundry_provider::client::{SecretUpdate, SecretValue};

use crate::support::emulator::{ACME_KEY, ACME_VIEWER_KEY, Emulator, seed_group, workspace};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Run, Terraform, for_each_terraform, for_each_terraform_at_least};

/// Panics unless the output, with Terraform's line wrapping undone, says every one of `needles`.
#[track_caller]
fn expect_said(run: &Run, needles: &[&str]) {
    let said = run.flat_output();
    for needle in needles {
        assert!(said.contains(needle), "output lacks {needle:?}\n{run}");
    }
}

/// The warnings a run printed, by summary, but Terraform's own about `dev_overrides`.
fn warnings(run: &Run) -> Vec<String> {
    run.output()
        .lines()
        .filter_map(|line| {
            line.trim_start_matches(['│', '╷', ' '])
                .strip_prefix("Warning: ")
        })
        .filter(|summary| !summary.starts_with("Provider development overrides"))
        .map(str::to_owned)
        .collect()
}

#[track_caller]
fn expect_no_warning(run: &Run) {
    let warned = warnings(run);
    assert!(warned.is_empty(), "unexpected warnings {warned:?}\n{run}");
}

/// Imports `import_id` into a fresh workspace holding `config`, and expects a plan without
/// changes or warnings.
#[track_caller]
fn import_plans_nothing(terraform: &Terraform, emulator: &Emulator, config: &str, import_id: &str) {
    let fresh = workspace(terraform, emulator, config);
    let mark = emulator.mark();
    fresh.import("truefoundry_secret_group.g", import_id);
    assert!(
        emulator.writes_since(mark).is_empty(),
        "import writes nothing"
    );
    let plan = fresh.plan_detailed_exitcode().expect_empty();
    expect_no_warning(&plan);
}

/// Issue 25, item 1: a group with no collaborators, imported by id, by FQN or in the write-only
/// form into a configuration that writes no `collaborators`, plans nothing and warns nothing.
/// So does one with an owner and a non-default integration, and one with collaborators.
#[test]
fn an_import_of_what_the_configuration_describes_plans_nothing() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let plain = GroupHcl::new("g", "imp-acme").map("secrets", [("K", "v")]);
        let owned = GroupHcl::new("g", "owned-acme")
            .string("integration_fqn", "acme:aws:main:secret-store:ssm")
            .string("owned_by_account", "acme-account")
            .map("secrets", [("K", "v")]);
        let shared = GroupHcl::new("g", "shared-acme")
            .collaborators([("team:ops", "secret-group-viewer")])
            .map("secrets", [("K", "v")]);
        for group in [&plain, &owned, &shared] {
            workspace(terraform, &emulator, &group.to_string()).apply();
        }
        // A configuration that leaves the owner unset describes a group with any owner.
        let owner_unset = GroupHcl::new("g", "owned-acme")
            .string("integration_fqn", "acme:aws:main:secret-store:ssm")
            .map("secrets", [("K", "v")]);
        for (name, group) in [
            ("imp-acme", plain),
            ("owned-acme", owned),
            ("owned-acme", owner_unset),
            ("shared-acme", shared),
        ] {
            let config = group.to_string();
            import_plans_nothing(terraform, &emulator, &config, &emulator.group_id(name));
            import_plans_nothing(terraform, &emulator, &config, &format!("acme:{name}"));
        }
        // The write-only form brings keys without values: a configuration that leaves the
        // group's keys unmanaged describes it.
        let keys_unmanaged = GroupHcl::new("g", "imp-acme").to_string();
        import_plans_nothing(
            terraform,
            &emulator,
            &keys_unmanaged,
            "write-only:acme:imp-acme",
        );

        // What an import cannot tell (the key kept in `initial_secrets`, an explicit
        // `delete_in_use = false`) plans an update that records it and writes nothing (README,
        // Limits).
        let initial = GroupHcl::new("g", "imp-acme")
            .map("initial_secrets", [("K", "placeholder")])
            .expr("delete_in_use", "false")
            .to_string();
        let fresh = workspace(terraform, &emulator, &initial);
        fresh.import("truefoundry_secret_group.g", "acme:imp-acme");
        fresh.plan_detailed_exitcode().expect_changes();
        let mark = emulator.mark();
        fresh.apply();
        assert!(
            emulator.writes_since(mark).is_empty(),
            "the update writes nothing"
        );
        assert_eq!(emulator.secret_values("imp-acme").unwrap()["K"], "v");
        fresh.plan_detailed_exitcode().expect_empty();
    });
}

/// Issue 25, item 1, for `truefoundry_secret`: both import forms plan nothing and warn nothing.
#[test]
fn an_import_of_a_secret_by_either_form_plans_nothing() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let group = GroupHcl::new("shared", "keys-acme").to_string();
        let ws = workspace(terraform, &emulator, &group);
        ws.apply();
        let id = emulator.group_id("keys-acme");
        let client = emulator.client(ACME_KEY);
        let body: Vec<_> = ["ECHO", "FOXTROT"]
            .iter()
            .map(|key| SecretUpdate {
                key: (*key).to_owned(),
                value: Some(SecretValue::new("v")),
            })
            .collect();
        emulator.block_on(client.set_secrets(&id, &body)).unwrap();
        let secret = |key: &str| {
            format!(
                "resource \"truefoundry_secret\" \"{}\" {{\n  secret_group_id = \
                 truefoundry_secret_group.shared.id\n  key = \"{key}\"\n  value = \"v\"\n}}\n",
                key.to_lowercase()
            )
        };
        ws.write(
            "main.tf",
            &format!("{group}{}{}", secret("ECHO"), secret("FOXTROT")),
        );
        ws.import("truefoundry_secret.echo", "acme:keys-acme:ECHO");
        ws.import(
            "truefoundry_secret.foxtrot",
            "tfy-secret://acme:keys-acme:FOXTROT",
        );
        let plan = ws.plan_detailed_exitcode().expect_empty();
        expect_no_warning(&plan);
    });
}

/// Issue 25, item 2: a key moved into `secrets` from another map is compared with the value the
/// server holds (read at plan) and sent only when it differs: from `initial_secrets` on every
/// Terraform, from `secrets_wo` where write-only attributes exist.
#[test]
fn a_key_moved_into_secrets_is_sent_only_when_its_value_differs() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let group = || GroupHcl::new("g", "moved-acme");
        let initial = group().map("initial_secrets", [("SEED", "s"), ("OTHER", "o")]);
        let ws = workspace(terraform, &emulator, &initial.to_string());
        ws.apply();
        let moved = group().map("secrets", [("SEED", "s"), ("OTHER", "o2")]);
        ws.write("main.tf", &moved.to_string());
        let mark = emulator.mark();
        ws.apply();
        assert_eq!(
            emulator.values_sent_since(mark),
            vec![vec!["OTHER".to_owned()]],
            "only the key whose value differs is sent"
        );
        assert_eq!(emulator.secret_values("moved-acme").unwrap()["OTHER"], "o2");
        ws.plan_detailed_exitcode().expect_empty();

        if !terraform.runs_part_needing(1, 11, "moving a write-only key into `secrets`") {
            return;
        }
        let write_only = group()
            .map_exprs("secrets_wo", [("HOST", "var.host")])
            .map("secrets_wo_versions", [("HOST", "1")]);
        let variable = "variable \"host\" {\n  type      = string\n  ephemeral = true\n  default   = \"db\"\n}\n";
        ws.write("main.tf", &format!("{variable}{write_only}"));
        ws.apply();
        ws.write(
            "main.tf",
            &group().map("secrets", [("HOST", "db")]).to_string(),
        );
        let plan = ws.plan_detailed_exitcode().expect_changes();
        assert!(
            !plan.output().contains("(known after apply)"),
            "the plan writes no value: HOST's version stays known\n{plan}"
        );
        let mark = emulator.mark();
        ws.apply();
        assert!(
            emulator.values_sent_since(mark).is_empty(),
            "HOST is not sent"
        );
        assert_eq!(emulator.secret_values("moved-acme").unwrap()["HOST"], "db");
        ws.plan_detailed_exitcode().expect_empty();
    });
}

/// Issue 25, item 3: on a server that lists no versions, a `truefoundry_secret` holding a
/// write-only value says that a change made elsewhere cannot be seen, as the group does.
#[test]
fn a_write_only_secret_warns_when_the_server_lists_no_versions() {
    for_each_terraform_at_least(1, 11, "write-only truefoundry_secret", |terraform| {
        let emulator = Emulator::builder()
            .args(&["--variant", "no-list-versions"])
            .start();
        let config = format!(
            "{}resource \"truefoundry_secret\" \"juliet\" {{\n  secret_group_id = \
             truefoundry_secret_group.shared.id\n  key = \"JULIET\"\n  value_wo = \"j1\"\n  \
             value_wo_version = \"1\"\n}}\n",
            GroupHcl::new("shared", "blind-acme")
        );
        let ws = workspace(terraform, &emulator, &config);
        ws.apply();
        let id = emulator.group_id("blind-acme");
        let changed = [SecretUpdate {
            key: "JULIET".to_owned(),
            value: Some(SecretValue::new("changed elsewhere")),
        }];
        let client = emulator.client(ACME_KEY);
        emulator
            .block_on(client.set_secrets(&id, &changed))
            .unwrap();
        let plan = ws.plan_detailed_exitcode().expect_empty();
        assert_eq!(warnings(&plan), ["Write-Only Drift Not Detected"], "{plan}");
        expect_said(
            &plan,
            &["acme:blind-acme", "JULIET", "`value_wo_version` changes"],
        );
    });
}

/// Issue 25, item 4: an invalid collaborator is named in the error, which points at the
/// `collaborators` attribute (line 3), both when the provider sees it (validation) and when only
/// the server does (the plan's dry run refuses a subject kind this server does not know).
#[test]
fn an_invalid_collaborator_is_named_and_the_attribute_shown() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let with = |odd_one: &str| {
            GroupHcl::new("g", "people-acme")
                .collaborators([
                    ("team:x", "secret-group-viewer"),
                    (odd_one, "secret-group-editor"),
                    ("user:zed@acme.example", "secret-group-viewer"),
                ])
                .to_string()
        };
        let ws = workspace(terraform, &emulator, &with("bogus@x.com"));
        let invalid = ws.run(&["validate"]).expect_failure();
        expect_said(
            &invalid,
            &[
                "Invalid Collaborator Subject",
                "`bogus@x.com` (secret-group-editor)",
                "on main.tf line 3, in resource",
            ],
        );
        ws.write("main.tf", &with("agent:bot"));
        let mark = emulator.mark();
        let refused = ws.run(&["plan"]).expect_failure();
        expect_said(
            &refused,
            &[
                "Secret Group Refused By TrueFoundry",
                "`agent:bot` (secret-group-editor)",
                "on main.tf line 3, in resource",
            ],
        );
        assert!(emulator.writes_since(mark).is_empty());
    });
}

/// Issue 25, item 5: a destroy refused because deployments use the group's keys names the
/// resource (Terraform prints `with <address>` for a diagnostic at an attribute), and
/// `terraform plan -destroy` warns of it beforehand where Terraform asks the provider to plan a
/// destroy (1.3 and later).
#[test]
fn a_refused_destroy_names_the_resource_and_plan_destroy_warns() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::builder()
            .active_deployments(&[("tfy-secret://acme:used-acme:DB", 2)])
            .start();
        let group = GroupHcl::new("g", "used-acme").map("secrets", [("DB", "d"), ("OTHER", "o")]);
        let config = format!(
            "{group}resource \"truefoundry_secret_group\" \"unused\" {{\n  name = \"unused-acme\"\n}}\n"
        );
        let ws = workspace(terraform, &emulator, &config);
        ws.apply();
        if terraform.runs_part_needing(1, 3, "a destroy planned by the provider") {
            let plan = ws.run_ok(&["plan", "-destroy"]);
            assert_eq!(warnings(&plan), ["Destroy Will Be Refused"], "{plan}");
            expect_said(
                &plan,
                &["with truefoundry_secret_group.g", "DB (2 deployments)"],
            );
        }
        let refused = ws.run(&["destroy", "-auto-approve"]).expect_failure();
        expect_said(
            &refused,
            &["Error: Secrets In Use By Deployments", "acme:used-acme"],
        );
        // Terraform 1.0 attaches no diagnostic of a destroy to the configuration.
        if terraform.at_least(1, 3) {
            expect_said(&refused, &["with truefoundry_secret_group.g"]);
        }
        assert!(emulator.secret_values("used-acme").is_some());
    });
}

/// Issue 25, item 6: an apply refused because a key appeared since a `-refresh=false` plan says
/// to plan again with refresh, and that plan does show the key (a `-refresh=false` one would not).
#[test]
fn a_refusal_after_a_plan_without_refresh_says_to_plan_with_refresh() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = workspace(
            terraform,
            &emulator,
            &GroupHcl::new("g", "norefresh-acme")
                .map("secrets", [("A", "a1")])
                .to_string(),
        );
        ws.apply();
        ws.write(
            "main.tf",
            &GroupHcl::new("g", "norefresh-acme")
                .map("secrets", [("A", "a2")])
                .to_string(),
        );
        let id = emulator.group_id("norefresh-acme");
        let outside = [
            SecretUpdate {
                key: "A".to_owned(),
                value: None,
            },
            SecretUpdate {
                key: "OUTSIDE".to_owned(),
                value: Some(SecretValue::new("o")),
            },
        ];
        let client = emulator.client(ACME_KEY);
        emulator
            .block_on(client.set_secrets(&id, &outside))
            .unwrap();
        let mark = emulator.mark();
        let refused = ws
            .run(&["apply", "-refresh=false", "-auto-approve"])
            .expect_failure();
        expect_said(&refused, &["OUTSIDE", "with refresh (not `-refresh=false`"]);
        assert!(emulator.writes_since(mark).is_empty());
        let blind = ws.run_ok(&["plan", "-refresh=false"]);
        assert!(!blind.output().contains("OUTSIDE"), "{blind}");
        ws.run_ok(&["plan"])
            .expect_output_contains(&["Secrets Will Be Deleted", "OUTSIDE"]);
    });
}

/// Issue 25, item 7: a viewer asking for values is told what to do from where it asked: the
/// ephemeral resource (which always reads values) points to the data source without
/// `include_values`; the data source to leaving `include_values` unset.
#[test]
fn a_viewer_asking_for_values_gets_advice_that_fits_the_block() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let client = emulator.client(ACME_KEY);
        emulator.block_on(seed_group(&client, "viewed-acme", &[("K", "v")]));
        let mut ws = workspace(
            terraform,
            &emulator,
            "data \"truefoundry_secret_group\" \"g\" {\n  fqn            = \"acme:viewed-acme\"\n  include_values = true\n}\n",
        );
        ws.set_env("TFY_API_KEY", ACME_VIEWER_KEY);
        let refused = ws.run(&["plan"]).expect_failure();
        expect_said(
            &refused,
            &[
                "Permission Denied Reading Secret Values",
                "leave `include_values` unset",
            ],
        );
        if !terraform.runs_part_needing(1, 10, "the ephemeral truefoundry_secret_group") {
            return;
        }
        ws.write(
            "main.tf",
            "ephemeral \"truefoundry_secret_group\" \"g\" {\n  fqn = \"acme:viewed-acme\"\n}\n",
        );
        let refused = ws.run(&["plan"]).expect_failure();
        expect_said(
            &refused,
            &[
                "Permission Denied Reading Secret Values",
                "use the `truefoundry_secret_group` data source without `include_values`",
            ],
        );
        assert!(
            !refused
                .flat_output()
                .contains("leave `include_values` unset"),
            "{refused}"
        );
    });
}
