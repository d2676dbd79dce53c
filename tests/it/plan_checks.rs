//! Plan-time checks with the API's dry run, end to end: a create TrueFoundry would refuse fails
//! `terraform plan` at the attribute to fix, and nothing is written, the dry run included.

use crate::support::emulator::{ACME_KEY, ACME_VIEWER_KEY, Emulator, seed_group, workspace};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Run, Workspace, for_each_terraform};

/// The emulator's saved data, its snapshot and the journal of changes since: what a dry run
/// must leave exactly as it was.
fn snapshot(emulator: &Emulator) -> String {
    let data = emulator.dir().join("data");
    let snapshot =
        std::fs::read_to_string(data.join("state.json")).expect("the emulator saved its data");
    let journal = std::fs::read_to_string(data.join("journal.jsonl")).unwrap_or_default();
    format!("{snapshot}\n{journal}")
}

/// Whether Terraform quoted the configuration line of `attribute` under a diagnostic: the
/// diagnostic carried that attribute's path.
fn points_at(run: &Run, attribute: &str) -> bool {
    run.output().lines().any(|line| {
        let Some((number, source)) = line.trim_start().split_once(':') else {
            return false;
        };
        !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && source.trim_start().starts_with(&format!("{attribute} "))
    })
}

/// Runs `args`, which must fail naming `summary` at `attribute` (when one is given), with no
/// write reaching the API and the data unchanged; returns the run.
#[track_caller]
fn refused_without_writes(
    ws: &Workspace,
    emulator: &Emulator,
    args: &[&str],
    summary: &str,
    attribute: Option<&str>,
) -> Run {
    let before = snapshot(emulator);
    let mark = emulator.mark();
    let run = ws
        .run(args)
        .expect_failure()
        .expect_output_contains(&[summary]);
    if let Some(attribute) = attribute {
        assert!(
            points_at(&run, attribute),
            "no path to `{attribute}`\n{run}"
        );
    }
    let requests = emulator.requests_since(mark);
    assert!(
        requests.iter().any(|r| r.dry_run),
        "the plan asked with a dry run: {requests:?}"
    );
    assert_eq!(emulator.writes_since(mark).len(), 0, "{requests:?}");
    assert_eq!(snapshot(emulator), before, "the dry run changed no data");
    run
}

#[test]
fn a_create_in_an_unknown_integration_fails_the_plan_writing_nothing() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        // Some data first, so there is a saved state to compare.
        emulator.block_on(seed_group(
            &emulator.client(ACME_KEY),
            "other-acme",
            &[("K", "v")],
        ));
        let config = GroupHcl::new("g", "payments-acme")
            .string("integration_fqn", "acme:aws:main:secret-store:nowhere")
            .map("secrets", [("A", "a")])
            .to_string();
        let ws = workspace(terraform, &emulator, &config);
        for args in [&["plan"][..], &["apply", "-auto-approve"]] {
            refused_without_writes(
                &ws,
                &emulator,
                args,
                "Secret Group Refused By TrueFoundry",
                Some("integration_fqn"),
            );
        }
        assert_eq!(emulator.secret_values("payments-acme"), None);
    });
}

#[test]
fn a_create_under_a_name_another_group_holds_fails_the_plan_writing_nothing() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let id = emulator.block_on(seed_group(
            &emulator.client(ACME_KEY),
            "taken-acme",
            &[("THEIRS", "their-value")],
        ));
        let config = GroupHcl::new("g", "taken-acme")
            .map("secrets", [("MINE", "my-value")])
            .to_string();
        let ws = workspace(terraform, &emulator, &config);
        for args in [&["plan"][..], &["apply", "-auto-approve"]] {
            let run = refused_without_writes(
                &ws,
                &emulator,
                args,
                "Secret Group Already Exists",
                Some("name"),
            );
            assert!(
                run.output().contains(&id),
                "the error names the group's id\n{run}"
            );
        }
        let held = emulator.secret_values("taken-acme").unwrap();
        assert_eq!(held.keys().collect::<Vec<_>>(), ["THEIRS"]);
    });
}

/// A key that is no tenant admin cannot see the group holding the name: the API refuses the dry
/// run as forbidden without naming a field, and the error says what that most likely means.
#[test]
fn a_create_under_a_name_held_by_a_group_the_key_cannot_see_fails_the_plan() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        emulator.block_on(seed_group(
            &emulator.client(ACME_KEY),
            "hidden-acme",
            &[("THEIRS", "their-value")],
        ));
        let config = GroupHcl::new("g", "hidden-acme").to_string();
        let mut ws = workspace(terraform, &emulator, &config);
        ws.set_env("TFY_API_KEY", ACME_VIEWER_KEY);
        let summary = "Secret Group Refused By TrueFoundry";
        let run = refused_without_writes(&ws, &emulator, &["plan"], summary, None);
        let text = run
            .output()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.contains("another group may already hold this `name`"),
            "{run}"
        );
        assert!(!text.contains("the attribute the server named"), "{run}");
    });
}

#[test]
fn a_plan_that_passes_the_dry_run_changes_no_data() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        emulator.block_on(seed_group(
            &emulator.client(ACME_KEY),
            "other-acme",
            &[("K", "v")],
        ));
        let config = GroupHcl::new("g", "fresh-acme")
            .collaborators([("team:payments", "secret-group-viewer")])
            .map("secrets", [("A", "a")])
            .to_string();
        let ws = workspace(terraform, &emulator, &config);
        let before = snapshot(&emulator);
        let mark = emulator.mark();
        ws.plan_detailed_exitcode().expect_changes();
        let requests = emulator.requests_since(mark);
        assert!(requests.iter().any(|r| r.dry_run), "{requests:?}");
        assert_eq!(emulator.writes_since(mark).len(), 0, "{requests:?}");
        assert_eq!(snapshot(&emulator), before);
        assert_eq!(emulator.secret_values("fresh-acme"), None);
    });
}
