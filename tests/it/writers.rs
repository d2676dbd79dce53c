//! Many writers, one group (issue 20): three configurations, each owning 15 `truefoundry_secret`
//! (its own key prefix) in one existing group, applied at the same moment against an emulator
//! that takes 300 ms per request. The API has no conditional write, so each full-list PUT races
//! the others'; the provider must converge (every key in place, every apply rc 0) or report what
//! it could not rule out.
//!
//! A trial has two phases: the three create their keys, then the three at once update five of
//! their keys, delete five, keep five and add five. The normal suite runs one trial per
//! Terraform; `scripts/bench-writers` runs the ignored long form (ten trials per Terraform) and
//! prints the `WRITERS` figures that `docs/benchmarks.md` quotes.

use std::collections::BTreeMap;

use truefoundry_provider::client::{Collaborator, SecretGroupManifest, SecretUpdate, SecretValue};

use crate::support::chaos::{ADMIN_KEY, ChaosEmulator};
use crate::support::hcl::quote;
use crate::support::terraform::{Running, Terraform, Workspace, for_each_terraform};

const LATENCY_MS: &str = "300";
const TEAMS: usize = 3;
const KEYS_PER_TEAM: usize = 15;
/// A key of the group that belongs to none of the three (the platform team's).
const BYSTANDER: (&str, &str) = ("PLATFORM_TOKEN", "platform-value");
const CONCURRENT_WARNING: &str = "Secret Group Written Concurrently";

/// Figures of one phase, summed over trials.
#[derive(Debug, Default)]
struct Figures {
    trials: usize,
    applies_failed: usize,
    /// Keys that should be in the group with their value and are not (or hold another value),
    /// plus keys deleted by their owner that came back.
    keys_lost: usize,
    /// Of those, the ones every other run (any of which may have caused the loss) warned about.
    losses_reported: usize,
    /// Applies that ended with the concurrent-writes warning.
    runs_warned: usize,
    /// Full-list PUTs the three applies sent (a lone writer of 15 keys sends 2).
    puts: Vec<usize>,
}

impl Figures {
    fn line(&self, phase: &str, terraform: &Terraform) -> String {
        format!(
            "WRITERS {terraform} {phase}: trials {}, keys lost {}, losses reported by the run \
             that caused them {}, applies failed {}, applies that warned of concurrent writes {} \
             of {}, full-list PUTs per trial {:?}",
            self.trials,
            self.keys_lost,
            self.losses_reported,
            self.applies_failed,
            self.runs_warned,
            self.trials * TEAMS,
            self.puts
        )
    }
}

fn key(team: usize, index: usize) -> String {
    format!("T{team}_KEY_{index:02}")
}

/// A team's configuration: one `truefoundry_secret` per `(key, value)` in the group `group_id`.
fn team_config(
    emulator: &ChaosEmulator,
    group_id: &str,
    keys: &BTreeMap<String, String>,
) -> String {
    let mut hcl = format!(
        "provider \"truefoundry\" {{\n  host = \"{}\"\n  api_key = \"{ADMIN_KEY}\"\n}}\n",
        emulator.base_url
    );
    for (key, value) in keys {
        hcl.push_str(&format!(
            "resource \"truefoundry_secret\" \"{}\" {{\n  secret_group_id = {}\n  key = {}\n  \
             value = {}\n}}\n",
            key.to_lowercase(),
            quote(group_id),
            quote(key),
            quote(value)
        ));
    }
    hcl
}

/// The group the platform team made, holding its own key: the three teams only add theirs.
fn create_group(emulator: &ChaosEmulator, name: &str) -> String {
    let client = emulator.checking_client();
    emulator.block_on(async {
        let manifest = SecretGroupManifest {
            kind: "secret-group".to_owned(),
            name: name.to_owned(),
            integration_fqn: "internal:aws:aws-1:secret-store:internal-secret-store".to_owned(),
            collaborators: vec![Collaborator {
                subject: "team:platform".to_owned(),
                role_id: "secret-group-admin".to_owned(),
            }],
            owned_by: None,
        };
        let group = client
            .apply_secret_group_manifest(&manifest, false)
            .await
            .expect("create the shared group");
        let body = [SecretUpdate {
            key: BYSTANDER.0.to_owned(),
            value: Some(SecretValue::new(BYSTANDER.1)),
        }];
        client
            .set_secrets(&group.id, &body)
            .await
            .expect("write the platform key");
        group.id
    })
}

/// Applies the three workspaces at the same moment; returns each one's (rc, output).
fn apply_at_once(workspaces: &[Workspace]) -> Vec<(Option<i32>, String)> {
    let runs: Vec<Running> = workspaces
        .iter()
        .map(|ws| ws.start(&["apply", "-auto-approve"]))
        .collect();
    runs.into_iter()
        .map(|run| run.finish().code_and_output())
        .collect()
}

/// Counts what one phase left: `want` is every key the group must hold with its value
/// (`None`: must be absent), per team.
fn judge(
    emulator: &ChaosEmulator,
    group: &str,
    want: &[BTreeMap<String, Option<String>>],
    runs: &[(Option<i32>, String)],
    mark: usize,
    figures: &mut Figures,
) -> Vec<String> {
    let held = emulator.server_state()[group].values();
    let warned: Vec<bool> = runs
        .iter()
        .map(|(_, out)| out.contains(CONCURRENT_WARNING))
        .collect();
    let mut lost = Vec::new();
    if held.get(BYSTANDER.0).map(String::as_str) != Some(BYSTANDER.1) {
        lost.push(BYSTANDER.0.to_owned());
        figures.keys_lost += 1;
        if warned.iter().all(|w| *w) {
            figures.losses_reported += 1;
        }
    }
    for (team, keys) in want.iter().enumerate() {
        for (key, value) in keys {
            if held.get(key) != value.as_ref() {
                lost.push(key.clone());
                figures.keys_lost += 1;
                let others_warned = (0..TEAMS).filter(|t| *t != team).all(|t| warned[t]);
                if others_warned {
                    figures.losses_reported += 1;
                }
            }
        }
    }
    figures.trials += 1;
    figures.applies_failed += runs.iter().filter(|(rc, _)| *rc != Some(0)).count();
    figures.runs_warned += warned.iter().filter(|w| **w).count();
    let puts = emulator
        .requests()
        .iter()
        .skip(mark)
        .filter(|line| line.by_provider() && line.full_list_put_group().is_some())
        .count();
    figures.puts.push(puts);
    lost
}

/// One trial on a fresh group: both phases. Asserts nothing itself, so that the long form can
/// count; returns what was lost per phase, with the outputs for a failure message.
fn trial(
    terraform: &Terraform,
    emulator: &ChaosEmulator,
    number: usize,
    create: &mut Figures,
    change: &mut Figures,
) -> Vec<String> {
    let name = format!("shared-{number}");
    let group_id = create_group(emulator, &name);
    let first: Vec<BTreeMap<String, String>> = (0..TEAMS)
        .map(|team| {
            (0..KEYS_PER_TEAM)
                .map(|i| (key(team, i), format!("t{team}-{i}-v1")))
                .collect()
        })
        .collect();
    let workspaces: Vec<Workspace> = first
        .iter()
        .map(|keys| Workspace::with_main(terraform, &team_config(emulator, &group_id, keys)))
        .collect();
    let mark = emulator.requests().len();
    let runs = apply_at_once(&workspaces);
    let want: Vec<BTreeMap<String, Option<String>>> = first
        .iter()
        .map(|keys| {
            keys.iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect()
        })
        .collect();
    let mut problems = Vec::new();
    let lost = judge(emulator, &name, &want, &runs, mark, create);
    if !lost.is_empty() || runs.iter().any(|(rc, _)| *rc != Some(0)) {
        problems.push(failure("create", &lost, &runs));
        return problems;
    }

    // Phase two: keys 0-4 get a new value, 5-9 are deleted, 10-14 stay, 15-19 are new.
    let second: Vec<BTreeMap<String, Option<String>>> = (0..TEAMS)
        .map(|team| {
            (0..KEYS_PER_TEAM + 5)
                .map(|i| {
                    let value = match i {
                        0..5 => Some(format!("t{team}-{i}-v2")),
                        5..10 => None,
                        _ => Some(format!("t{team}-{i}-v1")),
                    };
                    (key(team, i), value)
                })
                .collect()
        })
        .collect();
    for (ws, keys) in workspaces.iter().zip(&second) {
        let config: BTreeMap<String, String> = keys
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        ws.write("main.tf", &team_config(emulator, &group_id, &config));
    }
    let mark = emulator.requests().len();
    let runs = apply_at_once(&workspaces);
    let lost = judge(emulator, &name, &second, &runs, mark, change);
    if !lost.is_empty() || runs.iter().any(|(rc, _)| *rc != Some(0)) {
        problems.push(failure("update and delete", &lost, &runs));
        return problems;
    }
    // Every state matches the server: nothing left to do anywhere.
    for ws in &workspaces {
        ws.plan_detailed_exitcode().expect_empty();
    }
    problems
}

fn failure(phase: &str, lost: &[String], runs: &[(Option<i32>, String)]) -> String {
    let mut text = format!("{phase}: keys lost {lost:?}\n");
    for (team, (rc, out)) in runs.iter().enumerate() {
        text.push_str(&format!("--- team {team} exit {rc:?}\n{out}\n"));
    }
    text
}

fn run_trials(trials: usize) {
    for_each_terraform(|terraform| {
        let emulator = ChaosEmulator::start(&["--fault-latency-ms", LATENCY_MS]);
        let (mut create, mut change) = (Figures::default(), Figures::default());
        let mut problems = Vec::new();
        for number in 0..trials {
            problems.extend(trial(
                terraform,
                &emulator,
                number,
                &mut create,
                &mut change,
            ));
        }
        eprintln!("{}", create.line("3 x 15 keys created at once", terraform));
        eprintln!(
            "{}",
            change.line("3 x (5 updated, 5 deleted, 5 added) at once", terraform)
        );
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    });
}

/// The short form of the reproduction: one trial per Terraform.
#[test]
fn three_configurations_writing_one_group_at_once_lose_no_key() {
    run_trials(1);
}

/// The long form (`scripts/bench-writers`): ten trials per Terraform, or `TFY_WRITER_TRIALS`.
#[test]
#[ignore = "several minutes: run by scripts/bench-writers"]
fn three_configurations_writing_one_group_at_once_many_trials() {
    let trials = std::env::var("TFY_WRITER_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    run_trials(trials);
}

/// A full-list PUT is sent once by the client; a 429, a 503 or a dropped connection makes the
/// writer list the group again before the next attempt. Under injected faults a lone writer still
/// writes every key, and the run shows such PUTs were retried.
#[test]
fn a_failed_full_list_put_is_retried_from_a_fresh_listing() {
    for_each_terraform(|terraform| {
        let emulator = ChaosEmulator::start(&[
            "--fault-429-rate",
            "0.2",
            "--fault-retry-after",
            "0",
            "--fault-503-rate",
            "0.1",
            "--fault-drop-rate",
            "0.05",
            "--fault-seed",
            "20",
        ]);
        let group_id = create_group(&emulator, "faulty");
        let keys: BTreeMap<String, String> = (0..KEYS_PER_TEAM)
            .map(|i| (key(0, i), format!("v-{i}")))
            .collect();
        let config = team_config(&emulator, &group_id, &keys)
            .replace("api_key = ", "max_retries = 10\n  api_key = ");
        let ws = Workspace::with_main(terraform, &config);
        let mark = emulator.requests().len();
        ws.apply();
        let held = emulator.server_state()["faulty"].values();
        for (key, value) in &keys {
            assert_eq!(held.get(key), Some(value), "{key}: {held:?}");
        }
        assert_eq!(held.get(BYSTANDER.0).map(String::as_str), Some(BYSTANDER.1));
        let lines: Vec<_> = emulator
            .requests()
            .into_iter()
            .skip(mark)
            .filter(|line| line.by_provider())
            .collect();
        let faulted: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].full_list_put_group().is_some() && lines[*i].fault.is_some())
            .collect();
        assert!(
            !faulted.is_empty(),
            "no PUT met a fault: the seed no longer exercises the retry"
        );
        // Each retry is built from a listing taken after the failed attempt.
        for at in faulted {
            let next_put = (at + 1..lines.len())
                .find(|i| lines[*i].full_list_put_group().is_some())
                .expect("the failed PUT is sent again");
            assert!(
                lines[at + 1..next_put]
                    .iter()
                    .any(|line| line.is_secrets_list() && line.ok()),
                "PUT {at} was sent again without listing the group first: {lines:?}"
            );
        }
        ws.plan_detailed_exitcode().expect_empty();
    });
}
