//! The Terraform clients themselves, as the suite runs them: each one keeps the contract of a
//! `terraform` executable (exit codes, standard input, environment, Ctrl-C). Terraform 1.15.5
//! runs through a launcher around a shared library (scripts/install-terraform-1.15), so these
//! tests are what shows that launcher to be a faithful `terraform`.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::chaos::{ADMIN_KEY, ChaosEmulator};
use crate::support::emulator::LoggedRequest;
use crate::support::terraform::{Workspace, for_each_terraform, terraform_binaries};

#[test]
fn the_suite_runs_the_oldest_the_path_and_the_newest_terraform() {
    let versions: Vec<&str> = terraform_binaries()
        .iter()
        .map(|terraform| terraform.version.as_str())
        .collect();
    assert_eq!(versions.first(), Some(&"1.0.3"), "{versions:?}");
    if std::env::var("CI").as_deref() == Ok("true") || versions.len() == 3 {
        assert_eq!(versions.last(), Some(&"1.15.5"), "{versions:?}");
    }
}

#[test]
fn exit_codes_standard_input_and_environment_reach_terraform() {
    for_each_terraform(|terraform| {
        let mut ws = Workspace::with_main(
            terraform,
            "variable \"greeting\" {\n  type = string\n}\n\
             output \"greeting\" {\n  value = upper(var.greeting)\n}\n",
        );
        // A required variable with no value: an error, exit 1.
        ws.run(&["plan", "-detailed-exitcode"])
            .expect_failure()
            .expect_output_contains(&["No value for required variable"]);
        // The environment reaches Terraform: TF_VAR_ sets the variable; a plan with changes
        // exits 2 under -detailed-exitcode, and shows the value taken from the environment.
        ws.set_env("TF_VAR_greeting", "from the environment");
        let plan = ws.run(&["plan", "-detailed-exitcode"]);
        assert_eq!(plan.code, Some(2), "{plan}");
        assert!(plan.stdout.contains("FROM THE ENVIRONMENT"), "{plan}");
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        // Standard input reaches Terraform and its answer reaches standard output.
        let console = ws.run_with_stdin(&["console"], Some("\"${var.greeting}, ${1 + 1}\"\n"));
        assert!(console.success(), "{console}");
        assert_eq!(
            console.stdout.trim(),
            "\"from the environment, 2\"",
            "{console}"
        );
    });
}

/// Ctrl-C in a terminal sends SIGINT to Terraform and the provider alike. Terraform must take
/// it (print that it stops, let the writes under way finish and record them), not die at once
/// and leave a group on the server that no state knows.
#[test]
fn ctrl_c_mid_apply_stops_gracefully_and_records_every_write() {
    for_each_terraform(|terraform| {
        // Slow answers keep the apply busy long enough to be interrupted in its middle.
        let emulator = ChaosEmulator::start(&["--fault-latency-ms", "150"]);
        let ws = Workspace::with_main(
            terraform,
            &format!(
                "provider \"truefoundry\" {{\n  host    = \"{}\"\n  api_key = \"{ADMIN_KEY}\"\n}}\n\
                 resource \"truefoundry_secret_group\" \"g\" {{\n  count           = 6\n  \
                 name            = \"ctrl-c-${{count.index}}\"\n  integration_fqn = \
                 \"internal:aws:aws-1:secret-store:internal-secret-store\"\n  \
                 secrets         = {{ a = \"one\" }}\n}}\n",
                emulator.base_url
            ),
        );
        let mark = emulator.requests().len();
        let apply = ws.start(&["apply", "-auto-approve", "-parallelism=2"]);
        let first_create =
            emulator.wait_for(mark, Duration::from_secs(120), |line: &LoggedRequest| {
                line.by_provider() && line.is_manifest_put() && line.ok()
            });
        assert!(first_create.is_some(), "the apply never created a group");
        // The whole process group, as a terminal's Ctrl-C does.
        let status = Command::new("kill")
            .args(["-INT", "--", &format!("-{}", apply.pid())])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed");
        let started = Instant::now();
        let (code, output) = apply.finish().code_and_output();
        assert_eq!(code, Some(1), "{terraform}: exit after Ctrl-C\n{output}");
        assert!(
            output.contains("Interrupt received") && output.contains("Stopping operation"),
            "{terraform}: Terraform did not take the interrupt itself\n{output}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{terraform}: the interrupted apply did not stop\n{output}"
        );

        // Every group the server holds is in state: nothing written went unrecorded.
        let server: BTreeSet<String> = emulator
            .server_state()
            .into_values()
            .map(|group| group.id)
            .collect();
        let state = ws.state_json();
        let recorded: BTreeSet<String> = state["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|resource| {
                resource["instances"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|instance| instance["attributes"]["id"].as_str().map(str::to_owned))
            .collect();
        assert!(
            !server.is_empty() && server.len() < 6,
            "{terraform}: the interrupt came after the first create and before the last: \
             server holds {server:?}\n{output}"
        );
        assert_eq!(
            server, recorded,
            "{terraform}: server groups vs state\n{output}"
        );

        // The next apply finishes the job, and then there is nothing left to do.
        ws.apply();
        ws.plan_detailed_exitcode().expect_empty();
        assert_eq!(emulator.server_state().len(), 6, "{terraform}");
    });
}
