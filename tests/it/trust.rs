//! What the provider must refuse rather than trust: an API key of another tenant, a key that
//! cannot see the group in state, a host that is not the API, and a replacement whose create the
//! server would refuse. Each case runs the real Terraform CLI against the emulator binary and
//! checks, besides the diagnostic, that nothing was written, deleted or dropped from state.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use truefoundry_provider::client::ListGroupsQuery;

use crate::support::emulator::{
    self, ACME_KEY, ACME_VIEWER_KEY, DEFAULT_INTEGRATION, Emulator, GLOBEX_KEY, seed_group,
};
use crate::support::hcl::GroupHcl;
use crate::support::terraform::{Run, Terraform, Workspace, for_each_terraform};

/// A resource-only configuration (no outputs, so an import leaves nothing for a plan to add):
/// group `name` in `integration` (the default store when `None`), with `secrets` as key → value
/// and `collaborators` as subject → role.
fn config(
    name: &str,
    integration: Option<&str>,
    secrets: &[(&str, &str)],
    collaborators: &[(&str, &str)],
) -> String {
    let mut group = GroupHcl::new("g", name);
    if let Some(integration) = integration {
        group = group.string("integration_fqn", integration);
    }
    if !collaborators.is_empty() {
        group = group.collaborators(collaborators.iter().copied());
    }
    group.map("secrets", secrets.iter().copied()).to_string()
}

/// A workspace that reaches `emulator` with `api_key`.
fn workspace_as(
    terraform: &Terraform,
    emulator: &Emulator,
    api_key: &str,
    main_tf: &str,
) -> Workspace {
    let mut ws = emulator::workspace(terraform, emulator, main_tf);
    ws.set_env("TFY_API_KEY", api_key);
    ws
}

/// A workspace whose configuration was applied with acme's admin key; the group's id in state.
fn applied(terraform: &Terraform, emulator: &Emulator, main_tf: &str) -> (Workspace, String) {
    let ws = workspace_as(terraform, emulator, ACME_KEY, main_tf);
    ws.apply();
    let id = state_id(&ws);
    (ws, id)
}

/// The attributes of `truefoundry_secret_group.g` in the workspace's state file; `None` when
/// there is no state file or it holds no such resource.
fn state_group(ws: &Workspace) -> Option<Json> {
    if !ws.path().join("terraform.tfstate").is_file() {
        return None;
    }
    let state = ws.state_json();
    let resources = state["resources"].as_array()?;
    let resource = resources.iter().find(|resource| {
        resource["type"] == "truefoundry_secret_group" && resource["name"] == "g"
    })?;
    Some(resource["instances"][0]["attributes"].clone())
}

/// The id the state holds for `truefoundry_secret_group.g`; panics when it holds none.
#[track_caller]
fn state_id(ws: &Workspace) -> String {
    let attributes =
        state_group(ws).unwrap_or_else(|| panic!("the state holds no group in {:?}", ws.path()));
    attributes["id"]
        .as_str()
        .expect("the group in state has an id")
        .to_owned()
}

/// Runs `args`, which must fail with every one of `needles` in its output.
#[track_caller]
fn expect_refused(ws: &Workspace, args: &[&str], needles: &[&str]) -> Run {
    ws.run(args)
        .expect_failure()
        .expect_output_contains(needles)
}

#[track_caller]
fn assert_no_writes(emulator: &Emulator, mark: usize, what: &str) {
    let writes = emulator.writes_since(mark);
    assert!(writes.is_empty(), "{what} wrote to the API: {writes:?}");
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// The group `name` still holds `secrets` on the server, and the state still holds it by `id`.
#[track_caller]
fn assert_group_kept(
    emulator: &Emulator,
    ws: &Workspace,
    name: &str,
    secrets: &[(&str, &str)],
    id: &str,
) {
    assert_eq!(
        emulator.secret_values(name),
        Some(values(secrets)),
        "the group {name} keeps its values"
    );
    assert_eq!(state_id(ws), id, "the state still holds the group {name}");
}

/// A key of tenant globex over a state holding acme's group must not read the 404 as "deleted" and
/// plan to create the group again in globex.
#[test]
fn another_tenants_key_is_refused_and_the_imported_group_is_kept() {
    let secrets = [("DB_USER", "legacy-user"), ("DB_PASSWORD", "legacy-pass")];
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let acme = emulator.client(ACME_KEY);
        let id = emulator.block_on(seed_group(&acme, "legacy-v1", &secrets));
        // `seed_group` makes the acme viewer a viewer collaborator, so the configuration says so.
        let main_tf = config(
            "legacy-v1",
            None,
            &secrets,
            &[("user:viewer@acme.example", "secret-group-viewer")],
        );
        let mut ws = workspace_as(terraform, &emulator, ACME_KEY, &main_tf);
        ws.import("truefoundry_secret_group.g", "acme:legacy-v1");
        ws.plan_detailed_exitcode().expect_empty();
        assert_eq!(state_id(&ws), id);

        ws.set_env("TFY_API_KEY", GLOBEX_KEY);
        let mark = emulator.mark();
        let needles = ["Secret Group Belongs To Another Tenant", "acme", "globex"];
        expect_refused(&ws, &["plan"], &needles);
        expect_refused(&ws, &["apply", "-auto-approve"], &needles);

        assert_no_writes(
            &emulator,
            mark,
            "a plan and an apply with another tenant's key",
        );
        let globex = emulator.client(GLOBEX_KEY);
        let globex_groups = emulator
            .block_on(globex.list_secret_groups(&ListGroupsQuery::default()))
            .unwrap();
        assert!(
            globex_groups.is_empty(),
            "tenant globex got a group: {globex_groups:?}"
        );
        assert_group_kept(&emulator, &ws, "legacy-v1", &secrets, &id);
    });
}

/// A key whose subject cannot see the group must neither forget it from state on refresh nor, when
/// the refresh is skipped, take the DELETE's 404 for proof that the group is gone.
#[test]
fn destroy_with_a_key_that_cannot_see_the_group_fails_and_keeps_it() {
    let secrets = [("TOKEN", "hidden-token"), ("URL", "hidden-url")];
    let destroys: [(&str, &[&str]); 2] = [
        ("hidden-group", &["destroy", "-auto-approve"]),
        (
            "hidden-norefresh",
            &["destroy", "-auto-approve", "-refresh=false"],
        ),
    ];
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        for (name, destroy) in destroys {
            let (mut ws, id) = applied(terraform, &emulator, &config(name, None, &secrets, &[]));

            ws.set_env("TFY_API_KEY", ACME_VIEWER_KEY);
            let mark = emulator.mark();
            expect_refused(
                &ws,
                destroy,
                &[
                    "Secret Group Not Visible To This API Key",
                    "user:viewer@acme.example",
                ],
            );
            // The refused DELETE itself is logged (a 404); nothing that answered wrote anything.
            let writes: Vec<_> = emulator
                .writes_since(mark)
                .into_iter()
                .filter(|request| request.status != Some(404))
                .collect();
            assert!(writes.is_empty(), "{destroy:?} wrote: {writes:?}");
            assert_group_kept(&emulator, &ws, name, &secrets, &id);
        }
    });
}

/// A host that already ends in the API path makes every lookup 404; the plan must say so
/// instead of planning the group anew.
#[test]
fn a_host_with_the_api_path_fails_the_plan_of_a_group_in_state() {
    let secrets = [("KEY", "kept-value")];
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = workspace_as(
            terraform,
            &emulator,
            ACME_KEY,
            &config("host-check", None, &secrets, &[]),
        );
        ws.apply();
        let state_before = ws.state_json();

        ws.set_env("TFY_HOST", format!("{}/api/svc/v1", emulator.base_url));
        let mark = emulator.mark();
        expect_refused(&ws, &["plan"], &["TrueFoundry Host Is Not The API", "host"]);
        assert_no_writes(&emulator, mark, "a plan against the wrong host path");
        assert_eq!(ws.state_json(), state_before, "the state is unchanged");
        assert_eq!(emulator.secret_values("host-check"), Some(values(&secrets)));
    });
}

/// A plan with nothing to read still checks that the host is the API and the key is accepted.
#[test]
fn a_create_only_plan_checks_the_host_and_the_api_key() {
    let main_tf = config("fresh-group", None, &[("KEY", "new-value")], &[]);
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = workspace_as(terraform, &emulator, ACME_KEY, &main_tf);
        let mark = emulator.mark();

        ws.set_env("TFY_HOST", format!("{}/api/svc/v1", emulator.base_url));
        expect_refused(&ws, &["plan"], &["TrueFoundry Host Is Not The API", "host"]);

        ws.set_env("TFY_HOST", emulator.base_url.as_str())
            .set_env("TFY_API_KEY", "tfy-not-a-key");
        expect_refused(&ws, &["plan"], &["Invalid TrueFoundry API Key"]);

        assert_no_writes(&emulator, mark, "plans with a wrong host or key");
        assert_eq!(emulator.secret_values("fresh-group"), None);
        assert!(state_group(&ws).is_none(), "nothing reached the state");
    });
}

/// A replacement whose create the server refuses fails at plan, before anything is destroyed.
#[test]
fn an_unknown_integration_fails_the_plan_and_the_group_is_not_destroyed() {
    let secrets = [("A", "store-a"), ("B", "store-b")];
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let (ws, id) = applied(
            terraform,
            &emulator,
            &config("store-move", Some(DEFAULT_INTEGRATION), &secrets, &[]),
        );

        ws.write(
            "main.tf",
            &config(
                "store-move",
                Some("acme:aws:main:secret-store:nowhere"),
                &secrets,
                &[],
            ),
        );
        let mark = emulator.mark();
        let needles = ["Secret Group Refused By TrueFoundry", "integration_fqn"];
        expect_refused(&ws, &["plan"], &needles);
        expect_refused(&ws, &["apply", "-auto-approve"], &needles);

        assert_no_writes(&emulator, mark, "a refused replacement");
        assert_group_kept(&emulator, &ws, "store-move", &secrets, &id);

        // A store that exists: the dry run's conflict with the group still holding the name is
        // the replacement itself, so the plan goes through and the group moves with its values.
        let moved = "acme:aws:main:secret-store:ssm";
        ws.write("main.tf", &config("store-move", Some(moved), &secrets, &[]));
        ws.plan_detailed_exitcode()
            .expect_changes()
            .expect_output_contains(&["must be replaced"]);
        ws.apply();
        assert_ne!(state_id(&ws), id, "a new group replaced the old one");
        assert_eq!(emulator.secret_values("store-move"), Some(values(&secrets)));
        let acme = emulator.client(ACME_KEY);
        let held = emulator
            .block_on(acme.find_secret_group_by_fqn("acme:store-move"))
            .unwrap()
            .and_then(|group| group.manifest)
            .map(|manifest| manifest.integration_fqn);
        assert_eq!(held.as_deref(), Some(moved));
        ws.plan_detailed_exitcode().expect_empty();
    });
}

/// The same for a rename whose new manifest names a role that does not exist.
#[test]
fn an_invalid_role_on_a_rename_fails_the_plan_and_the_old_group_is_kept() {
    let secrets = [("A", "rename-a"), ("B", "rename-b")];
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let (ws, id) = applied(
            terraform,
            &emulator,
            &config("rename-from", None, &secrets, &[]),
        );

        ws.write(
            "main.tf",
            &config(
                "rename-to",
                None,
                &secrets,
                &[("team:payments", "secret-group-writer")],
            ),
        );
        let mark = emulator.mark();
        expect_refused(&ws, &["plan"], &["Invalid Role"]);
        expect_refused(&ws, &["apply", "-auto-approve"], &["Invalid Role"]);

        assert_no_writes(&emulator, mark, "a refused rename");
        assert_eq!(emulator.secret_values("rename-to"), None);
        assert_group_kept(&emulator, &ws, "rename-from", &secrets, &id);
    });
}
