//! Reliability: applies under injected faults, processes killed mid-apply, and concurrent
//! writers. Short forms run in `cargo test`; `TFY_LONG_TESTS=1` (see `scripts/reliability`) runs
//! the full forms, and the simultaneous-applies race, ignored by the suite, runs only when asked
//! for (`scripts/reliability` does). Every test prints a `RELIABILITY` line with its figures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use truefoundry_provider::client::{Collaborator, SecretGroupManifest, SecretUpdate, SecretValue};

use crate::half_made::{pending_creates, records_in};
use crate::support::chaos::{ADMIN_KEY, ChaosEmulator, REFRESH_LISTINGS, ServerGroup, long_tests};
use crate::support::emulator::LoggedRequest;
use crate::support::hcl::GroupHcl;
use crate::support::processes::{provider_processes, sigkill_provider};
use crate::support::terraform::{Terraform, Workspace, terraform_binaries};

const CHANGED_OUTSIDE: &str = "Secrets Changed Outside Terraform";

/// Terraform 1.0.3: the oldest client we support, and the one every CI machine has.
fn pinned_terraform() -> &'static Terraform {
    &terraform_binaries()[0]
}

/// One group as a configuration wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Desired {
    secrets: BTreeMap<String, String>,
    collaborators: BTreeSet<(String, String)>,
}

fn provider_block(emulator: &ChaosEmulator, max_retries: u32) -> String {
    format!(
        "provider \"truefoundry\" {{\n  host = \"{}\"\n  api_key = \"{ADMIN_KEY}\"\n  max_retries = {max_retries}\n}}\n",
        emulator.base_url
    )
}

fn resource_hcl(address: &str, name: &str, group: &Desired) -> String {
    GroupHcl::new(address, name)
        .collaborators(group.collaborators.iter().map(|(s, r)| (s, r)))
        .map("secrets", &group.secrets)
        .to_string()
}

fn config_hcl(provider: &str, groups: &BTreeMap<String, Desired>) -> String {
    let mut hcl = provider.to_owned();
    for (name, group) in groups {
        hcl.push_str(&resource_hcl(&name.replace('-', "_"), name, group));
    }
    hcl
}

fn collaborators(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(s, r)| ((*s).to_owned(), (*r).to_owned()))
        .collect()
}

fn secrets(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The configuration of run `run` over `slots` group slots. Rotating the run number makes some
/// groups appear and others disappear (one slot in five is absent, a different one each run),
/// keys come and go (four of six per group), values change every few runs, and collaborators
/// rotate through three sets.
fn rotated_config(run: usize, slots: usize) -> BTreeMap<String, Desired> {
    let mut groups = BTreeMap::new();
    for g in 0..slots {
        if (g + run) % 5 == 4 {
            continue;
        }
        let secrets = (0..6)
            .filter(|k| !(k + g + run).is_multiple_of(3))
            .map(|k| {
                (
                    format!("KEY_{k}"),
                    format!("val-{g}-{k}-{}", (run + k + g) / 3),
                )
            })
            .collect();
        let collaborators = match (g + run / 2) % 3 {
            0 => collaborators(&[("team:payments", "secret-group-editor")]),
            1 => collaborators(&[
                ("team:payments", "secret-group-viewer"),
                ("user:ops@example.com", "secret-group-admin"),
            ]),
            _ => collaborators(&[("user:ops@example.com", "secret-group-admin")]),
        };
        groups.insert(
            format!("rel-g{g:02}"),
            Desired {
                secrets,
                collaborators,
            },
        );
    }
    groups
}

/// Creates a group directly through the API (a bystander Terraform does not manage).
fn create_out_of_band(emulator: &ChaosEmulator, name: &str, pairs: &[(&str, &str)]) -> String {
    let client = emulator.checking_client();
    emulator.block_on(async {
        let group = client
            .apply_secret_group_manifest(
                &SecretGroupManifest {
                    kind: "secret-group".to_owned(),
                    name: name.to_owned(),
                    integration_fqn: "internal:aws:aws-1:secret-store:internal-secret-store"
                        .to_owned(),
                    collaborators: vec![Collaborator {
                        subject: "team:platform".to_owned(),
                        role_id: "secret-group-admin".to_owned(),
                    }],
                    owned_by: None,
                },
                false,
            )
            .await
            .expect("create a group out of band");
        let body: Vec<SecretUpdate> = pairs
            .iter()
            .map(|(k, v)| SecretUpdate {
                key: (*k).to_owned(),
                value: Some(SecretValue::new(*v)),
            })
            .collect();
        client
            .set_secrets(&group.id, &body)
            .await
            .expect("write its secrets");
        group.id
    })
}

/// Writes a group's full key list directly through the API (`None` keeps a value).
fn put_out_of_band(emulator: &ChaosEmulator, group_id: &str, entries: &[(&str, Option<&str>)]) {
    let client = emulator.checking_client();
    let body: Vec<SecretUpdate> = entries
        .iter()
        .map(|(k, v)| SecretUpdate {
            key: (*k).to_owned(),
            value: v.map(SecretValue::new),
        })
        .collect();
    emulator
        .block_on(client.set_secrets(group_id, &body))
        .expect("out-of-band write");
}

/// Group ids recorded in the workspace's state file.
fn state_ids(ws: &Workspace) -> BTreeSet<String> {
    let path = ws.path().join("terraform.tfstate");
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    let state: serde_json::Value = serde_json::from_str(&text).expect("state is JSON");
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["attributes"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts the server's groups named with `prefix` are exactly `desired` (keys, values,
/// collaborators); returns how many keys were checked.
#[track_caller]
fn assert_server_matches(
    server: &BTreeMap<String, ServerGroup>,
    prefix: &str,
    desired: &BTreeMap<String, Desired>,
    context: &str,
) -> usize {
    let managed: BTreeSet<&String> = server.keys().filter(|n| n.starts_with(prefix)).collect();
    let wanted: BTreeSet<&String> = desired.keys().collect();
    assert_eq!(managed, wanted, "{context}: groups on the server");
    let mut checked = 0;
    for (name, want) in desired {
        let have = &server[name];
        assert_eq!(have.values(), want.secrets, "{context}: secrets of {name}");
        assert_eq!(
            have.collaborators, want.collaborators,
            "{context}: collaborators of {name}"
        );
        checked += want.secrets.len();
    }
    checked
}

// ---------------------------------------------------------------------------------------------
// 1. Faults
// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct FaultFigures {
    runs: usize,
    applies: usize,
    failed_applies: usize,
    provider_requests: usize,
    faults: BTreeMap<String, usize>,
    /// Faults injected into an apply that still succeeded: the provider got past them.
    absorbed: usize,
    keys_checked: usize,
    writes_checked: usize,
    tainted_replaced: usize,
}

#[test]
fn applies_under_injected_faults_converge_and_never_delete_unplanned_keys() {
    let (runs, slots, seed) = if long_tests() {
        (30, 20, 7)
    } else {
        (3, 4, 11)
    };
    let seed = seed.to_string();
    let emulator = ChaosEmulator::start(&[
        "--fault-429-rate",
        "0.2",
        "--fault-503-rate",
        "0.1",
        "--fault-drop-rate",
        "0.02",
        "--fault-seed",
        &seed,
        "--fault-retry-after",
        "1",
    ]);
    // A group Terraform does not manage: it must never change.
    create_out_of_band(
        &emulator,
        "bystander",
        &[("KEEP_1", "k1"), ("KEEP_2", "k2")],
    );
    let bystander = emulator.server_state()["bystander"].clone();

    let ws = Workspace::new(pinned_terraform());
    let provider = provider_block(&emulator, 5);
    let mut figures = FaultFigures {
        runs,
        ..FaultFigures::default()
    };
    let started = Instant::now();
    let mut previous: BTreeMap<String, Desired> = BTreeMap::new();
    let mut before = emulator.server_state();
    for run in 0..runs {
        let desired = rotated_config(run, slots);
        ws.write("main.tf", &config_hcl(&provider, &desired));
        let mark = emulator.requests().len();
        let mut attempts = 0;
        let mut created_ids: BTreeMap<String, String> = BTreeMap::new();
        // Where the requests of the attempt that succeeded start in the log.
        let success_start = loop {
            attempts += 1;
            let attempt_start = emulator.requests().len();
            figures.applies += 1;
            let outcome = ws.run(&["apply", "-auto-approve"]);
            if outcome.success() {
                break attempt_start;
            }
            figures.failed_applies += 1;
            // Learn the ids of groups this attempt created, in case the next one replaces them.
            for (name, group) in emulator.server_state() {
                created_ids.insert(group.id, name);
            }
            eprintln!(
                "run {run}: apply attempt {attempts} failed under faults:\n{}",
                outcome
                    .output()
                    .lines()
                    .filter(|l| l.contains("Error"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            assert!(attempts < 8, "run {run} does not converge\n{outcome}");
        };
        let after = emulator.server_state();
        let context = format!("after run {run}");
        figures.keys_checked += assert_server_matches(&after, "rel-", &desired, &context);
        assert_eq!(
            after["bystander"], bystander,
            "{context}: the bystander group"
        );
        figures.keys_checked += bystander.secrets.len();

        // Every write this run made, checked against the plan: a secrets PUT names exactly the
        // configured keys, carries values only for keys that changed, and groups are deleted
        // only when they left the configuration.
        let mut name_of: BTreeMap<&str, &str> = created_ids
            .iter()
            .map(|(id, name)| (id.as_str(), name.as_str()))
            .collect();
        name_of.extend(
            before
                .iter()
                .chain(after.iter())
                .map(|(name, g)| (g.id.as_str(), name.as_str())),
        );
        let existed_before = |id: &str| before.values().any(|g| g.id == id);
        let log = emulator.requests();
        for (at, line) in log.iter().enumerate().skip(mark) {
            if !line.by_provider() {
                continue;
            }
            figures.provider_requests += 1;
            if let Some(fault) = &line.fault {
                *figures.faults.entry(fault.clone()).or_default() += 1;
                // A fault the provider did not retry or recover from fails its apply.
                if at >= success_start {
                    figures.absorbed += 1;
                }
            }
            if !line.ok() {
                continue;
            }
            if let Some(id) = line.full_list_put_group() {
                let name = name_of[id];
                let want = &desired[name];
                let keys: BTreeSet<&String> = line.keys.iter().collect();
                assert_eq!(
                    keys,
                    want.secrets.keys().collect(),
                    "{context}: PUT of {name}"
                );
                // A group created in this run (new, or replacing one a failed attempt left
                // tainted) gets every value; an existing one only the changed values.
                for key in line.keys_with_value.iter().filter(|_| existed_before(id)) {
                    let was = before.get(name).and_then(|g| g.secrets.get(key));
                    assert!(
                        was.is_none_or(|(value, _)| *value != want.secrets[key]),
                        "{context}: {name}/{key} was sent though its value did not change"
                    );
                }
                figures.writes_checked += 1;
            }
            if line.method == "DELETE" {
                let id = line
                    .path
                    .strip_prefix("/api/svc/v1/secret-groups/")
                    .unwrap_or_else(|| panic!("{context}: unplanned delete {}", line.path));
                let name = name_of[id];
                if existed_before(id) {
                    assert!(
                        previous.contains_key(name) && !desired.contains_key(name),
                        "{context}: deleted group {name}"
                    );
                } else {
                    // Created by an attempt of this run that failed part-way: Terraform marked
                    // it tainted and the next attempt replaced it.
                    figures.tainted_replaced += 1;
                }
                figures.writes_checked += 1;
            }
        }
        // Keys that disappeared from a group that stayed were all planned deletions.
        for (name, was) in &before {
            if let (Some(now), Some(want)) = (after.get(name), desired.get(name)) {
                for key in was.secrets.keys() {
                    if !now.secrets.contains_key(key) {
                        assert!(
                            !want.secrets.contains_key(key),
                            "{context}: lost {name}/{key}"
                        );
                    }
                }
            }
        }
        previous = desired;
        before = after;
    }
    // The converged configuration plans empty (a plan may itself hit the retry limit).
    let mut empty_plan = false;
    for _ in 0..5 {
        let plan = ws.run(&["plan", "-detailed-exitcode"]);
        if plan.code == Some(0) {
            empty_plan = true;
            break;
        }
        assert_ne!(
            plan.code,
            Some(2),
            "a converged configuration plans changes\n{plan}"
        );
    }
    assert!(empty_plan, "plan kept failing");
    let faults: usize = figures.faults.values().sum();
    // Converging proves nothing unless the faults happened: this run must have injected each
    // kind it was configured with, and an apply must have succeeded past a fault (retried it).
    for kind in ["429", "503"] {
        assert!(
            figures.faults.contains_key(kind),
            "no {kind} fault was injected: {:?}",
            figures.faults
        );
    }
    assert!(
        figures.absorbed > 0,
        "no apply succeeded past an injected fault ({faults} faults injected: {:?})",
        figures.faults
    );
    eprintln!(
        "RELIABILITY faults: runs={} groups={slots} applies={} failed_applies={} provider_requests={} \
         faults_injected={faults} ({:?}) faults_in_succeeding_applies={} tainted_groups_replaced={} writes_checked={} keys_checked={} seconds={}",
        figures.runs,
        figures.applies,
        figures.failed_applies,
        figures.provider_requests,
        figures.faults,
        figures.absorbed,
        figures.tainted_replaced,
        figures.writes_checked,
        figures.keys_checked,
        started.elapsed().as_secs()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Crashes
// ---------------------------------------------------------------------------------------------

/// Starts `apply` in the background, waits for the log line `trigger` picks among the provider's
/// requests, then runs `act` (kill something). Returns what the interrupted apply printed.
fn interrupt_apply(
    ws: &Workspace,
    emulator: &mut ChaosEmulator,
    trigger: impl Fn(&[LoggedRequest]) -> bool,
    act: impl FnOnce(&mut ChaosEmulator, u32),
) -> (Option<i32>, String) {
    let mark = emulator.requests().len();
    let apply = ws.start(&["apply", "-auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lines: Vec<LoggedRequest> = emulator
            .requests()
            .into_iter()
            .skip(mark)
            .filter(LoggedRequest::by_provider)
            .collect();
        if trigger(&lines) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the trigger never came: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    act(emulator, apply.pid());
    apply.finish().code_and_output()
}

/// The apply's re-read before its secrets write has come: the listings of the refresh, then one
/// more.
fn rereads_before_writing(lines: &[LoggedRequest]) -> bool {
    lines
        .iter()
        .filter(|l| l.is_secrets_list() && l.ok())
        .count()
        > REFRESH_LISTINGS
}

fn kill_provider(_: &mut ChaosEmulator, terraform_pid: u32) {
    let providers = provider_processes(terraform_pid);
    assert!(!providers.is_empty(), "no provider process under terraform");
    for pid in providers {
        assert_eq!(
            sigkill_provider(pid),
            1,
            "the killed provider {pid} left one socket directory, now removed"
        );
    }
}

fn crash_config(emulator: &ChaosEmulator, name: &str, group: &Desired) -> String {
    let mut hcl = provider_block(emulator, 5);
    hcl.push_str(&resource_hcl("g", name, group));
    hcl
}

/// After an interruption: the next `apply` succeeds, the plan after it is empty, the server
/// holds exactly the configuration, and every group on the server is in state.
#[track_caller]
fn assert_recovers(
    ws: &Workspace,
    emulator: &ChaosEmulator,
    name: &str,
    want: &Desired,
    case: &str,
) -> String {
    let recovery = ws.run(&["apply", "-auto-approve"]);
    assert!(
        recovery.success(),
        "{case}: the next apply fails\n{recovery}"
    );
    ws.plan_detailed_exitcode().expect_empty();
    let server = emulator.server_state();
    let desired = BTreeMap::from([(name.to_owned(), want.clone())]);
    assert_server_matches(&server, name, &desired, case);
    let in_state = state_ids(ws);
    for (group, held) in &server {
        assert!(
            in_state.contains(&held.id),
            "{case}: group {group} is orphaned"
        );
    }
    let output = recovery.output();
    let warnings: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("Warning:") && !l.contains("development overrides"))
        .collect();
    warnings.join(" | ")
}

fn three_keys(tag: &str) -> Desired {
    Desired {
        secrets: secrets(&[
            ("A", &format!("a-{tag}")),
            ("B", &format!("b-{tag}")),
            ("C", &format!("c-{tag}")),
        ]),
        collaborators: collaborators(&[("team:payments", "secret-group-editor")]),
    }
}

fn server_summary(emulator: &ChaosEmulator) -> String {
    emulator
        .server_state()
        .iter()
        .map(|(name, g)| format!("{name}:{:?}", g.secrets.keys().collect::<Vec<_>>()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn provider_killed_after_the_manifest_put_leaves_nothing_orphaned() {
    // On every Terraform: each must start the provider in its working directory, where the
    // record of the unfinished create is kept and found again.
    for terraform in terraform_binaries() {
        let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "300"]);
        let want = three_keys("1");
        let ws = Workspace::with_main(terraform, &crash_config(&emulator, "crash-create", &want));
        let (code, output) = interrupt_apply(
            &ws,
            &mut emulator,
            |lines| lines.iter().any(|l| l.is_manifest_put() && l.ok()),
            kill_provider,
        );
        assert_ne!(code, Some(0), "the killed apply reports failure\n{output}");
        let records = records_in(&pending_creates(&ws));
        assert_eq!(
            records,
            ["acme_crash-create.json"],
            "the killed create left its record in the working directory"
        );
        let record =
            std::fs::read_to_string(pending_creates(&ws).join("acme_crash-create.json")).unwrap();
        assert!(
            record.contains("\"subject\":\"user:admin@acme.example\""),
            "{record}"
        );
        for secret in [ADMIN_KEY, "a-1", "b-1", "c-1"] {
            assert!(
                !record.contains(secret),
                "the record holds no secret: {record}"
            );
        }
        let left = server_summary(&emulator);
        let secrets_puts = emulator
            .requests()
            .iter()
            .filter(|l| l.full_list_put_group().is_some())
            .count();
        let warnings = assert_recovers(
            &ws,
            &emulator,
            "crash-create",
            &want,
            "kill after manifest PUT",
        );
        eprintln!(
            "RELIABILITY crash(a) terraform {} provider killed after the manifest PUT: interrupted apply exit={code:?}; \
         server then held [{left}] with {secrets_puts} secrets PUT logged; next apply converged, \
         plan empty, no orphan, record removed: {:?}; warnings: {warnings}",
            terraform.version,
            records_in(&pending_creates(&ws))
        );
        assert!(
            records_in(&pending_creates(&ws)).is_empty(),
            "the record served"
        );
    }
}

#[test]
fn provider_killed_after_the_secrets_put_leaves_nothing_orphaned() {
    // On every Terraform: each must start the provider in its working directory, where the
    // record of the unfinished create is kept and found again.
    for terraform in terraform_binaries() {
        let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "300"]);
        let want = three_keys("1");
        let ws = Workspace::with_main(terraform, &crash_config(&emulator, "crash-secrets", &want));
        let (code, output) = interrupt_apply(
            &ws,
            &mut emulator,
            |lines| {
                lines
                    .iter()
                    .any(|l| l.full_list_put_group().is_some() && l.ok())
            },
            kill_provider,
        );
        assert_ne!(code, Some(0), "the killed apply reports failure\n{output}");
        assert_eq!(
            records_in(&pending_creates(&ws)).len(),
            1,
            "the killed create left its record in the working directory"
        );
        let left = server_summary(&emulator);
        let warnings = assert_recovers(
            &ws,
            &emulator,
            "crash-secrets",
            &want,
            "kill after secrets PUT",
        );
        eprintln!(
            "RELIABILITY crash(b) terraform {} provider killed right after the secrets PUT of a create: interrupted \
         apply exit={code:?}; server then held [{left}]; next apply converged, plan empty, no orphan; \
         record removed: {:?}; warnings: {warnings}",
            terraform.version,
            records_in(&pending_creates(&ws))
        );
        assert!(
            records_in(&pending_creates(&ws)).is_empty(),
            "the record served"
        );
    }
}

#[test]
fn provider_killed_during_an_update_loses_no_key() {
    let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "200"]);
    let first = three_keys("1");
    let ws = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "crash-update", &first),
    );
    ws.apply();
    let mut report = Vec::new();
    let mut previous = first;
    // (1) killed while the secrets PUT waits in the server's latency; (2) killed right after it.
    for (round, after_put) in [(2, false), (3, true)] {
        let mut want = three_keys(&round.to_string());
        want.secrets.remove("C");
        want.secrets
            .insert(format!("D{round}"), format!("d-{round}"));
        ws.write("main.tf", &crash_config(&emulator, "crash-update", &want));
        let (code, output) = interrupt_apply(
            &ws,
            &mut emulator,
            move |lines| {
                if after_put {
                    lines
                        .iter()
                        .any(|l| l.full_list_put_group().is_some() && l.ok())
                } else {
                    rereads_before_writing(lines)
                }
            },
            kill_provider,
        );
        assert_ne!(code, Some(0), "the killed apply reports failure\n{output}");
        let server = emulator.server_state();
        let held = server["crash-update"].values();
        let applied = held == want.secrets;
        // Whatever the kill interrupted, the group holds either the old or the new key list.
        assert!(
            applied || held == previous.secrets,
            "neither the old nor the new key list: {:?}",
            held.keys()
        );
        let warnings = assert_recovers(&ws, &emulator, "crash-update", &want, "kill during update");
        report.push(format!(
            "{}: exit={code:?}, PUT had {} when the provider died; recovered (warnings: {warnings})",
            if after_put { "killed after the secrets PUT" } else { "killed during the secrets PUT" },
            if applied { "reached the server" } else { "not reached the server" }
        ));
        previous = want;
    }
    eprintln!("RELIABILITY crash(c) update: {}", report.join("; "));
}

#[test]
fn emulator_killed_and_restarted_mid_apply_loses_nothing() {
    let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "200"]);
    let want = three_keys("1");
    let ws = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "crash-server", &want),
    );
    let (code, output) = interrupt_apply(
        &ws,
        &mut emulator,
        |lines| lines.iter().any(|l| l.is_manifest_put() && l.ok()),
        |emulator, _| {
            emulator.kill();
            std::thread::sleep(Duration::from_millis(1500));
            emulator.restart();
        },
    );
    let interrupted = if code == Some(0) {
        "succeeded (the client's retries bridged the restart)".to_owned()
    } else {
        format!(
            "failed: {}",
            output
                .lines()
                .filter(|l| l.contains("Error"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let left = server_summary(&emulator);
    // Acknowledged writes survived the kill: the group is still there after the restart.
    assert!(
        left.contains("crash-server"),
        "the acknowledged create was lost: {left}"
    );
    let warnings = assert_recovers(&ws, &emulator, "crash-server", &want, "emulator restart");

    // Once more during an update: kill the emulator while the secrets PUT is in flight.
    let mut second = three_keys("2");
    second.secrets.insert("E".to_owned(), "e-2".to_owned());
    ws.write("main.tf", &crash_config(&emulator, "crash-server", &second));
    let (code2, _) = interrupt_apply(&ws, &mut emulator, rereads_before_writing, |emulator, _| {
        emulator.kill();
        std::thread::sleep(Duration::from_millis(1500));
        emulator.restart();
    });
    let warnings2 = assert_recovers(
        &ws,
        &emulator,
        "crash-server",
        &second,
        "emulator restart (update)",
    );
    eprintln!(
        "RELIABILITY crash(d) emulator SIGKILLed for 1.5 s and restarted on port {}: create after \
         the manifest PUT: apply {interrupted}; server held [{left}]; update during the secrets PUT: \
         apply exit={code2:?}; both converged on the next apply with empty plans and no orphan \
         (warnings: {warnings} {warnings2})",
        emulator.port
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Races
// ---------------------------------------------------------------------------------------------

/// Two workspaces manage one group (the second imported it). Each plans a new key; both
/// applies run at once, the second starting while the first is writing. The second must stop
/// with the staleness error and the first one's key must survive.
#[test]
fn two_terraform_runs_on_one_group_the_loser_is_stopped() {
    let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "250"]);
    let base = three_keys("1");
    let ws1 = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "race-shared", &base),
    );
    ws1.apply();
    let id = emulator.server_state()["race-shared"].id.clone();
    let ws2 = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "race-shared", &base),
    );
    ws2.import("truefoundry_secret_group.g", &id);
    ws2.plan_detailed_exitcode().expect_empty();

    let mut one = base.clone();
    one.secrets.insert("FROM_ONE".to_owned(), "one".to_owned());
    let mut two = base.clone();
    two.secrets.insert("FROM_TWO".to_owned(), "two".to_owned());
    ws1.write("main.tf", &crash_config(&emulator, "race-shared", &one));
    ws2.write("main.tf", &crash_config(&emulator, "race-shared", &two));
    ws1.run_ok(&["plan", "-out=tfplan"]);
    ws2.run_ok(&["plan", "-out=tfplan"]);

    // Run one starts; as soon as it re-reads the group before writing, run two starts too.
    let mark = emulator.requests().len();
    let first = ws1.start(&["apply", "tfplan"]);
    emulator
        .wait_for(mark, Duration::from_secs(60), |l| {
            l.by_provider() && l.is_secrets_list()
        })
        .expect("run one re-reads the group");
    let second = ws2.start(&["apply", "tfplan"]);
    let (code1, out1) = first.finish().code_and_output();
    let (code2, out2) = second.finish().code_and_output();
    let _ = &mut emulator;
    assert_eq!(code1, Some(0), "run one wins\n{out1}");
    assert_ne!(code2, Some(0), "run two must be stopped\n{out2}");
    assert!(
        out2.contains(CHANGED_OUTSIDE),
        "run two names the staleness\n{out2}"
    );
    assert!(
        out2.contains("FROM_ONE"),
        "run two lists the key that moved\n{out2}"
    );
    let server = emulator.server_state();
    assert_eq!(
        server["race-shared"].values(),
        one.secrets,
        "run one's write is intact"
    );
    eprintln!(
        "RELIABILITY race(1) two applies of saved plans on one group at once: run one exit={code1:?} \
         (wrote FROM_ONE); run two exit={code2:?} with \"{CHANGED_OUTSIDE}\" naming FROM_ONE; \
         server keys {:?}",
        server["race-shared"].secrets.keys().collect::<Vec<_>>()
    );
}

/// Out-of-band writers: one between `plan -out` and `apply`, one during `apply` (after its
/// refresh, before its write). Each time the apply stops and the other party's key survives.
#[test]
fn an_out_of_band_writer_during_apply_is_not_overwritten() {
    let mut emulator = ChaosEmulator::start(&["--fault-latency-ms", "250"]);
    let base = three_keys("1");
    let ws = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "race-oob", &base),
    );
    ws.apply();
    let id = emulator.server_state()["race-oob"].id.clone();

    // (1) Between plan and apply.
    let mut changed = base.clone();
    changed.secrets.insert("B".to_owned(), "b-2".to_owned());
    ws.write("main.tf", &crash_config(&emulator, "race-oob", &changed));
    ws.run_ok(&["plan", "-out=tfplan"]);
    put_out_of_band(
        &emulator,
        &id,
        &[
            ("A", None),
            ("B", None),
            ("C", None),
            ("OTHER_1", Some("o1")),
        ],
    );
    let stale = ws.run(&["apply", "tfplan"]).expect_failure();
    let stale_out = stale.output();
    assert!(
        stale_out.contains(CHANGED_OUTSIDE) && stale_out.contains("OTHER_1"),
        "{stale}"
    );
    let after_plan = emulator.server_state()["race-oob"].values();
    assert_eq!(after_plan.get("OTHER_1").map(String::as_str), Some("o1"));
    assert_eq!(after_plan["B"], "b-1", "nothing was written");

    // (2) During apply: the writer strikes once the apply's refresh has read the keys and the
    // values.
    let mark = emulator.requests().len();
    let apply = ws.start(&["apply", "-auto-approve"]);
    emulator
        .wait_for_count(mark, Duration::from_secs(60), REFRESH_LISTINGS, |l| {
            l.by_provider() && l.is_secrets_list() && l.ok()
        })
        .expect("the apply refreshes");
    put_out_of_band(
        &emulator,
        &id,
        &[
            ("A", Some("a-outside")),
            ("B", None),
            ("C", None),
            ("OTHER_1", None),
            ("OTHER_2", Some("o2")),
        ],
    );
    let (code, out) = apply.finish().code_and_output();
    let server = emulator.server_state()["race-oob"].values();
    let during = if code == Some(0) {
        // The refresh already saw the change only if the writer beat it; never silently lost.
        panic!(
            "the apply wrote over an out-of-band change it never planned for\n{out}\n{server:?}"
        );
    } else {
        assert!(out.contains(CHANGED_OUTSIDE), "{out}");
        assert_eq!(server.get("OTHER_2").map(String::as_str), Some("o2"));
        assert_eq!(server["A"], "a-outside");
        "stopped with the staleness error"
    };
    let _ = &mut emulator;
    eprintln!(
        "RELIABILITY race(2) out-of-band writer: between plan and apply -> apply stopped, OTHER_1 kept, \
         nothing written; during apply -> {during}, exit={code:?}, OTHER_2 and A's outside value kept"
    );
}

/// The take-over after an interrupted create is narrow: a same-named group holding a key or a
/// value the configuration does not set, or other collaborators, is still refused untouched.
#[test]
fn a_same_named_group_that_is_not_a_leftover_is_still_refused() {
    let emulator = ChaosEmulator::start(&[]);
    let want = three_keys("1");
    create_out_of_band(&emulator, "someone-elses", &[("A", "a-1"), ("OTHER", "x")]);
    let before = emulator.server_state();
    let ws = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "someone-elses", &want),
    );
    let refused = ws.run(&["apply", "-auto-approve"]).expect_failure();
    assert!(
        refused.output().contains("Secret Group Already Exists"),
        "{refused}"
    );
    assert_eq!(
        emulator.server_state(),
        before,
        "the other group is untouched"
    );
    assert!(state_ids(&ws).is_empty(), "nothing reached state");
    eprintln!(
        "RELIABILITY crash(e) a same-named group with other collaborators and keys is refused, untouched"
    );
}

/// Long form only: both applies of saved plans start at the same instant, again and again. The
/// staleness check re-reads the group right before writing, but the API offers no conditional
/// write, so when both re-reads land before either write, both write and the later full-list PUT
/// drops the other's new key. This measures how often that window is hit instead of asserting
/// it away; every other outcome must be "one wins, the other is stopped". Either way, nothing
/// outside the two plans is lost: every key both plans keep survives, at most one of the two new
/// keys is dropped, and a "Secret Group Changed During Apply" warning names exactly the key lost.
/// Ignored by the suite (several minutes); `scripts/reliability` runs it, or alone:
/// `cargo nextest run --run-ignored only -E 'test(/simultaneous_applies_on_one_group_are_measured/)'`.
#[test]
#[ignore = "several minutes: run by scripts/reliability"]
fn simultaneous_applies_on_one_group_are_measured() {
    let trials = 10;
    let emulator = ChaosEmulator::start(&["--fault-latency-ms", "100"]);
    let base = three_keys("1");
    let ws1 = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "race-sim", &base),
    );
    ws1.apply();
    let id = emulator.server_state()["race-sim"].id.clone();
    let ws2 = Workspace::with_main(
        pinned_terraform(),
        &crash_config(&emulator, "race-sim", &base),
    );
    ws2.import("truefoundry_secret_group.g", &id);
    let (mut one_stopped, mut both_wrote, mut lost, mut reported) = (0, 0, 0, 0);
    for trial in 0..trials {
        // Both workspaces first catch up with the server (and so with each other).
        let current = emulator.server_state()["race-sim"].values();
        let (one_key, two_key) = (format!("ONE_{trial}"), format!("TWO_{trial}"));
        let mut one = Desired {
            secrets: current.clone(),
            collaborators: base.collaborators.clone(),
        };
        one.secrets.insert(one_key.clone(), "1".to_owned());
        let mut two = one.clone();
        two.secrets.remove(&one_key);
        two.secrets.insert(two_key.clone(), "2".to_owned());
        for ws in [&ws1, &ws2] {
            let same = Desired {
                secrets: current.clone(),
                collaborators: base.collaborators.clone(),
            };
            ws.write("main.tf", &crash_config(&emulator, "race-sim", &same));
            ws.run_ok(&["apply", "-auto-approve"]);
        }
        ws1.write("main.tf", &crash_config(&emulator, "race-sim", &one));
        ws2.write("main.tf", &crash_config(&emulator, "race-sim", &two));
        ws1.run_ok(&["plan", "-out=tfplan"]);
        ws2.run_ok(&["plan", "-out=tfplan"]);
        let first = ws1.start(&["apply", "tfplan"]);
        let second = ws2.start(&["apply", "tfplan"]);
        let (code1, out1) = first.finish().code_and_output();
        let (code2, out2) = second.finish().code_and_output();
        let held = emulator.server_state()["race-sim"].values();
        let lost_outside_plans: Vec<&String> = current
            .keys()
            .filter(|key| !held.contains_key(*key))
            .collect();
        assert!(
            lost_outside_plans.is_empty(),
            "trial {trial}: keys neither plan removed were lost: {lost_outside_plans:?}\n{out1}\n{out2}"
        );
        match (code1 == Some(0), code2 == Some(0)) {
            (true, false) | (false, true) => {
                let (winner, loser, won_key) = if code1 == Some(0) {
                    (&out1, &out2, &one_key)
                } else {
                    (&out2, &out1, &two_key)
                };
                assert!(loser.contains(CHANGED_OUTSIDE), "trial {trial}: {loser}");
                assert!(
                    held.contains_key(won_key),
                    "trial {trial}: the winner's {won_key} was lost\n{winner}"
                );
                one_stopped += 1;
            }
            (true, true) => {
                both_wrote += 1;
                let one_kept = held.contains_key(&one_key);
                let two_kept = held.contains_key(&two_key);
                assert!(
                    one_kept || two_kept,
                    "trial {trial}: the later full-list write keeps its own key\n{out1}\n{out2}"
                );
                for (kept, out, key) in [(one_kept, &out1, &one_key), (two_kept, &out2, &two_key)] {
                    // A warning names the keys gone again: exactly this run's lost key, and
                    // none when its key survived.
                    let warned = warned_gone_keys(out);
                    let expected: Vec<&String> = if kept { vec![] } else { vec![key] };
                    if let Some(gone) = &warned {
                        assert_eq!(
                            gone.iter().collect::<Vec<_>>(),
                            expected,
                            "trial {trial}: the warning's keys\n{out}"
                        );
                    }
                    if !kept {
                        lost += 1;
                        // The run whose key vanished is told so when its read-back saw it.
                        if warned.is_some() {
                            reported += 1;
                        }
                    }
                }
            }
            (false, false) => panic!("trial {trial}: both failed\n{out1}\n{out2}"),
        }
    }
    eprintln!(
        "RELIABILITY race(3) {trials} trials of two applies started at the same instant: \
         one stopped by the staleness check {one_stopped}, both wrote {both_wrote} (a key lost \
         {lost} times, reported by the \"Secret Group Changed During Apply\" warning to the run \
         that lost it {reported} times: the re-read/write window the API cannot close without \
         conditional writes)"
    );
}

/// The keys a "Secret Group Changed During Apply" warning in `output` says are gone again
/// (empty when it names none), or `None` when there is no such warning.
fn warned_gone_keys(output: &str) -> Option<Vec<String>> {
    const GONE: &str = "These keys this apply wrote are gone again:";
    let warning = &output[output.find("Secret Group Changed During Apply")?..];
    // Terraform wraps a diagnostic's detail inside a box: unwrap it to read the sentence whole.
    let text = warning
        .split_whitespace()
        .filter(|word| *word != "│")
        .collect::<Vec<_>>()
        .join(" ");
    let Some(start) = text.find(GONE) else {
        return Some(Vec::new());
    };
    let listed = &text[start + GONE.len()..];
    let listed = &listed[..listed
        .find('.')
        .expect("the key list ends with a full stop")];
    Some(listed.split(',').map(|key| key.trim().to_owned()).collect())
}
