//! Every example under examples/ is `terraform fmt` clean and works as written: each test copies
//! one example into a workspace, applies it against the emulator binary (a fresh one, so tenants
//! acme and globex start empty), checks what reached the server, plans again (the plan must be
//! empty) and destroys. Examples that need Terraform 1.11 (write-only values, ephemeral
//! resources) are applied with a client of that version or newer; an older one must refuse them
//! with Terraform's version error. The `testing` example is a module with its own tests: it runs
//! `terraform test` (Terraform 1.6 or newer) against the emulator started with its config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use truefoundry_provider::client::{ListSecretsQuery, SecretGroup, SecretUpdate, SecretValue};

use crate::support::emulator::{self, ACME_KEY, Emulator, GLOBEX_KEY};
use crate::support::jwt::{self, Issuer};
use crate::support::terraform::{
    Terraform, Workspace, for_each_terraform, for_each_terraform_at_least,
};

/// Every example folder under examples/ (modules excepted); each has a test below.
const EXAMPLES: [&str; 18] = [
    "data-sources/truefoundry_secret",
    "data-sources/truefoundry_secret_group",
    "data-sources/truefoundry_secret_groups",
    "ephemeral-resources/truefoundry_secret_group",
    "functions/parse_secret_fqn",
    "functions/secret_fqn",
    "list-resources/truefoundry_secret",
    "list-resources/truefoundry_secret_group",
    "provider",
    "quickstart",
    "recipes/multi-tenant",
    "recipes/placeholder-key",
    "recipes/team-keys-in-shared-group",
    "recipes/workload-identity",
    "recipes/write-only-migration",
    "resources/truefoundry_secret",
    "resources/truefoundry_secret_group",
    "testing",
];

fn examples_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Folders under `root` that hold .tf files directly, relative to `root`, sorted (modules are
/// applied with their caller).
fn example_dirs(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut has_tf = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("modules") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "tf") {
                has_tf = true;
            }
        }
        if has_tf {
            let relative = dir.strip_prefix(root).unwrap();
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.push(parts.join("/"));
        }
    }
    found.sort();
    found
}

fn copy_tree(from: &Path, to: &Path, ws: &Workspace) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let relative = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &relative, ws);
        } else {
            ws.write(
                relative.to_str().unwrap(),
                &std::fs::read_to_string(&path).unwrap(),
            );
        }
    }
}

/// A workspace holding a copy of `examples/<example>` (with its modules), whose default provider
/// reaches `emulator` as tenant acme through TFY_HOST and TFY_API_KEY.
fn example_workspace(terraform: &Terraform, emulator: &Emulator, example: &str) -> Workspace {
    assert!(EXAMPLES.contains(&example), "{example} is not in EXAMPLES");
    let dir = examples_root().join(example);
    let mut ws = Workspace::new(terraform);
    // The example brings its own `terraform` block.
    ws.remove("versions.tf");
    copy_tree(&dir, Path::new(""), &ws);
    emulator.set_provider_env(&mut ws);
    if dir.join("modules").is_dir() {
        ws.run_ok(&["get"]);
    }
    ws
}

/// `apply`, then a plan that must be empty.
#[track_caller]
fn apply_then_plan_empty(ws: &Workspace) {
    ws.apply();
    ws.plan_detailed_exitcode().expect_empty();
}

/// Runs `body` with each client that can apply an example needing Terraform 1.11. Each older
/// client must refuse `example`: with the version error from its `required_version`, or, before
/// Terraform put that error first, with the error on the newer construct it does not know.
fn for_each_terraform_from_1_11(example: &str, body: impl FnMut(&Terraform)) {
    for_each_terraform_from(
        (1, 11),
        example,
        &[
            "Blocks of type \"ephemeral\" are not expected here",
            "An argument named \"ephemeral\" is not expected here",
        ],
        body,
    );
}

/// [`for_each_terraform_from_1_11`] for an example that needs Terraform `major.minor`; an older
/// client refuses it with its version error or one of `construct_errors`.
fn for_each_terraform_from(
    (major, minor): (u64, u64),
    example: &str,
    construct_errors: &[&str],
    mut body: impl FnMut(&Terraform),
) {
    let main = std::fs::read_dir(examples_root().join(example))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "tf"))
        .unwrap();
    assert!(
        std::fs::read_to_string(&main)
            .unwrap()
            .contains(&format!("required_version = \">= {major}.{minor}\"")),
        "{example} declares that it needs Terraform {major}.{minor}"
    );
    for_each_terraform(|terraform| {
        if terraform.runs_part_needing(major, minor, example) {
            body(terraform);
            return;
        }
        let emulator = Emulator::start();
        let ws = example_workspace(terraform, &emulator, example);
        let run = ws.run(&["validate"]).expect_failure();
        assert!(
            std::iter::once(&"Unsupported Terraform Core version")
                .chain(construct_errors)
                .any(|refusal| run.output().contains(refusal)),
            "{example} was not refused as too new\n{run}"
        );
    });
}

/// Group `fqn` as the API key sees it; `None` when there is no such group.
fn server_group(emulator: &Emulator, api_key: &str, fqn: &str) -> Option<SecretGroup> {
    let client = emulator.client(api_key);
    emulator
        .block_on(client.find_secret_group_by_fqn(fqn))
        .unwrap()
}

/// One secret of a group as the server holds it.
#[derive(Debug)]
struct ServerSecret {
    id: String,
    value: String,
    version: Option<i64>,
}

/// The secrets of group `fqn` by key, read through the API with `api_key`; `None` when there is
/// no such group.
fn server_secrets(
    emulator: &Emulator,
    api_key: &str,
    fqn: &str,
) -> Option<BTreeMap<String, ServerSecret>> {
    let group = server_group(emulator, api_key, fqn)?;
    let client = emulator.client(api_key);
    let secrets = emulator
        .block_on(client.list_secrets(&ListSecretsQuery {
            secret_group_id: Some(group.id),
            secret_fqns: Vec::new(),
            with_value: true,
        }))
        .unwrap();
    let by_key = secrets.into_iter().map(|secret| {
        let value = secret
            .value
            .as_ref()
            .map(|v| v.expose().to_owned())
            .unwrap_or_default();
        let server_secret = ServerSecret {
            id: secret.id,
            value,
            version: secret.latest_version,
        };
        (secret.name, server_secret)
    });
    Some(by_key.collect())
}

/// The values of group `fqn` by key; `None` when there is no such group.
fn server_values(
    emulator: &Emulator,
    api_key: &str,
    fqn: &str,
) -> Option<BTreeMap<String, String>> {
    let secrets = server_secrets(emulator, api_key, fqn)?;
    Some(secrets.into_iter().map(|(k, s)| (k, s.value)).collect())
}

fn values(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// Sets `key` of tenant-acme group `fqn` to `value` through the API, keeping the other keys, as
/// a person in the UI would.
fn set_value_outside_terraform(emulator: &Emulator, fqn: &str, key: &str, value: &str) {
    let group = server_group(emulator, ACME_KEY, fqn).expect("the group exists");
    let keys = server_secrets(emulator, ACME_KEY, fqn).unwrap().into_keys();
    let body: Vec<SecretUpdate> = keys
        .map(|known| SecretUpdate {
            value: (known == key).then(|| SecretValue::new(value)),
            key: known,
        })
        .collect();
    assert!(body.iter().any(|update| update.key == key), "{key} exists");
    let client = emulator.client(ACME_KEY);
    emulator
        .block_on(client.set_secrets(&group.id, &body))
        .unwrap();
}

/// Deletes `key` of tenant-acme group `fqn` through the API.
fn delete_key_outside_terraform(emulator: &Emulator, fqn: &str, key: &str) {
    let secrets = server_secrets(emulator, ACME_KEY, fqn).expect("the group exists");
    let client = emulator.client(ACME_KEY);
    let deleted = emulator
        .block_on(client.delete_secret(&secrets[key].id, false))
        .unwrap();
    assert_eq!(deleted, 1);
}

fn seed_acme_group(emulator: &Emulator, name: &str, secrets: &[(&str, &str)]) {
    emulator.block_on(emulator::seed_group(
        &emulator.client(ACME_KEY),
        name,
        secrets,
    ));
}

#[test]
fn every_example_folder_is_listed() {
    assert_eq!(example_dirs(&examples_root()), EXAMPLES);
}

#[test]
fn examples_are_terraform_fmt_clean() {
    let root = examples_root();
    for_each_terraform(|terraform| {
        let ws = Workspace::new(terraform);
        // Before 1.8, Terraform cannot parse a provider function call (`provider::…`): the
        // function examples are checked by the newer clients only.
        let folders: Vec<PathBuf> = if terraform.at_least(1, 8) {
            vec![root.clone()]
        } else {
            std::fs::read_dir(&root)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.is_dir() && !path.ends_with("functions"))
                .collect()
        };
        for folder in folders {
            let fmt = ws.run(&[
                "fmt",
                "-check",
                "-recursive",
                "-diff",
                folder.to_str().unwrap(),
            ]);
            assert!(fmt.success(), "examples/ is not terraform fmt clean\n{fmt}");
        }
    });
}

#[test]
fn provider_example_applies() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = example_workspace(terraform, &emulator, "provider");
        // The example names a real control plane; an override file points it at the emulator.
        ws.write(
            "provider_override.tf",
            &format!(
                "provider \"truefoundry\" {{\n  host = \"{}\"\n}}\n",
                emulator.base_url
            ),
        );
        // Terraform configures a provider only for a resource that uses it: one group, so the
        // apply goes through the example's provider block.
        ws.write(
            "probe.tf",
            "resource \"truefoundry_secret_group\" \"probe\" {\n  name = \"provider-example\"\n}\n",
        );
        // Settings from the environment would be wrong: only the block's own can work.
        ws.set_env("TFY_HOST", "http://127.0.0.1:9")
            .set_env("TFY_API_KEY", "not-the-key")
            .set_env("TF_VAR_tfy_api_key", ACME_KEY);
        apply_then_plan_empty(&ws);
        assert!(server_group(&emulator, ACME_KEY, "acme:provider-example").is_some());
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, "acme:provider-example").is_none());
    });
}

#[test]
fn workload_identity_recipe_applies_with_an_hcp_terraform_token_and_no_api_key() {
    let issuer = Issuer::new();
    let dir = tempfile::tempdir().unwrap();
    let emulator = Emulator::builder()
        .config_file(&issuer.emulator_config(dir.path()))
        .start();
    for_each_terraform(|terraform| {
        let mut ws = example_workspace(terraform, &emulator, "recipes/workload-identity");
        ws.set_env("TFY_API_KEY", "")
            .set_env(
                "TFC_WORKLOAD_IDENTITY_TOKEN_TRUEFOUNDRY",
                issuer.token(jwt::WORKSPACE),
            )
            .set_env("TF_VAR_db_password", "hunter2-from-ci");
        apply_then_plan_empty(&ws);
        let group = server_group(&emulator, ACME_KEY, "acme:payments-ci").expect("created");
        assert_eq!(
            group.created_by.as_deref(),
            Some("virtualaccount:secrets-prod")
        );
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:payments-ci"),
            values(&[("DB_PASSWORD", "hunter2-from-ci")])
        );
        assert_eq!(
            ws.outputs_json()["db_password_ref"]["value"],
            "tfy-secret://acme:payments-ci:DB_PASSWORD"
        );
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, "acme:payments-ci").is_none());
    });
}

#[test]
fn quickstart_applies() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = example_workspace(terraform, &emulator, "quickstart");
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:quickstart-app"),
            values(&[
                ("DB_PASSWORD", "change-me-please"),
                ("DB_USER", "app"),
                ("LOG_LEVEL", "info"),
            ])
        );
        let outputs = ws.outputs_json();
        assert_eq!(
            outputs["secret_fqns"]["value"],
            json!({
                "DB_PASSWORD": "tfy-secret://acme:quickstart-app:DB_PASSWORD",
                "DB_USER": "tfy-secret://acme:quickstart-app:DB_USER",
                "LOG_LEVEL": "tfy-secret://acme:quickstart-app:LOG_LEVEL",
            })
        );
        assert_eq!(
            outputs["keys_seen_by_data_source"]["value"],
            json!(["DB_PASSWORD", "DB_USER", "LOG_LEVEL"])
        );
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, "acme:quickstart-app").is_none());
    });
}

#[test]
fn resource_example_applies() {
    const PASSWORD: &str = "resource-example-password";
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = example_workspace(terraform, &emulator, "resources/truefoundry_secret_group");
        ws.set_env("TF_VAR_db_password", PASSWORD);
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:payments-prod"),
            values(&[
                ("DB_HOST", "db.internal.example.com"),
                ("DB_PASSWORD", PASSWORD),
                ("PARTNER_API_KEY", "set-me"),
            ])
        );
        let group = server_group(&emulator, ACME_KEY, "acme:payments-prod").unwrap();
        let manifest = group.manifest.expect("the API returns the manifest");
        assert_eq!(manifest.integration_fqn, "acme:aws:main:secret-store:ssm");
        assert_eq!(
            manifest.owned_by.map(|owner| owner.account).as_deref(),
            Some("acme-account")
        );
        let mut collaborators: Vec<(String, String)> = manifest
            .collaborators
            .into_iter()
            .map(|c| (c.subject, c.role_id))
            .collect();
        collaborators.sort();
        assert_eq!(
            collaborators,
            [
                ("team:payments".to_owned(), "secret-group-editor".to_owned()),
                (
                    "user:ops@example.com".to_owned(),
                    "secret-group-admin".to_owned()
                ),
            ]
        );
        assert_eq!(
            ws.outputs_json()["db_password_ref"]["value"],
            "tfy-secret://acme:payments-prod:DB_PASSWORD"
        );
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, "acme:payments-prod").is_none());
    });
}

#[test]
fn secret_resource_example_applies() {
    const STRIPE_KEY: &str = "secret-example-stripe-key";
    const FQN: &str = "acme:shared-platform";
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = example_workspace(terraform, &emulator, "resources/truefoundry_secret");
        ws.set_env("TF_VAR_stripe_key", STRIPE_KEY);
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, FQN),
            values(&[("STRIPE_KEY", STRIPE_KEY)])
        );
        assert_eq!(
            ws.outputs_json()["stripe_key_ref"]["value"],
            "tfy-secret://acme:shared-platform:STRIPE_KEY"
        );
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, FQN).is_none());
    });
}

#[test]
fn team_keys_recipe_leaves_the_other_keys_of_the_shared_group_alone() {
    const FQN: &str = "acme:shared-platform";
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        seed_acme_group(
            &emulator,
            "shared-platform",
            &[("SEARCH_API_KEY", "search-1")],
        );
        let mut ws = example_workspace(terraform, &emulator, "recipes/team-keys-in-shared-group");
        ws.set_env("TF_VAR_payments_db_password", "payments-pw");
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, FQN),
            values(&[
                ("PAYMENTS_DB_HOST", "payments-db.internal.example.com"),
                ("PAYMENTS_DB_PASSWORD", "payments-pw"),
                ("SEARCH_API_KEY", "search-1"),
            ])
        );
        assert_eq!(
            ws.outputs_json()["payments_refs"]["value"],
            json!({
                "PAYMENTS_DB_HOST": "tfy-secret://acme:shared-platform:PAYMENTS_DB_HOST",
                "PAYMENTS_DB_PASSWORD": "tfy-secret://acme:shared-platform:PAYMENTS_DB_PASSWORD",
            })
        );

        // The search team rotates its key: nothing for the payments team to do.
        set_value_outside_terraform(&emulator, FQN, "SEARCH_API_KEY", "search-2");
        ws.plan_detailed_exitcode().expect_empty();

        // Destroying deletes the payments keys, and only those.
        ws.destroy();
        assert_eq!(
            server_values(&emulator, ACME_KEY, FQN),
            values(&[("SEARCH_API_KEY", "search-2")])
        );
    });
}

#[test]
fn data_source_example_applies() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        // The example reads a group made elsewhere.
        let seeded = [("API_TOKEN", "seeded-token"), ("API_URL", "https://x.test")];
        seed_acme_group(&emulator, "shared-config", &seeded);
        let ws = example_workspace(
            terraform,
            &emulator,
            "data-sources/truefoundry_secret_group",
        );
        apply_then_plan_empty(&ws);
        assert_eq!(
            ws.outputs_json()["shared_refs"]["value"],
            json!({
                "API_TOKEN": "tfy-secret://acme:shared-config:API_TOKEN",
                "API_URL": "tfy-secret://acme:shared-config:API_URL",
            })
        );
        ws.destroy();
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:shared-config"),
            values(&seeded),
            "destroying a data source leaves the group alone"
        );
    });
}

#[test]
fn secret_groups_data_source_example_applies() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        seed_acme_group(&emulator, "payments-prod", &[("DB_PASSWORD", "p")]);
        seed_acme_group(
            &emulator,
            "payments-dev",
            &[("DB_PASSWORD", "d"), ("DEBUG", "1")],
        );
        seed_acme_group(&emulator, "search-misses-this", &[("K", "v")]);
        let ws = example_workspace(
            terraform,
            &emulator,
            "data-sources/truefoundry_secret_groups",
        );
        apply_then_plan_empty(&ws);
        assert_eq!(
            ws.outputs_json()["payments_keys"]["value"],
            json!({
                "acme:payments-dev": ["DB_PASSWORD", "DEBUG"],
                "acme:payments-prod": ["DB_PASSWORD"],
            })
        );
        ws.destroy();
    });
}

#[test]
fn secret_group_list_resource_example_queries() {
    let example = "list-resources/truefoundry_secret_group";
    // An older client refuses it by `required_version`; it never reads a `.tfquery.hcl` file.
    for_each_terraform_from((1, 14), example, &[], |terraform| {
        let emulator = Emulator::start();
        seed_acme_group(&emulator, "payments-prod", &[("DB_PASSWORD", "p")]);
        seed_acme_group(&emulator, "search-misses-this", &[("K", "v")]);
        let ws = example_workspace(terraform, &emulator, example);
        ws.run_ok(&["init"]);
        let listed = ws.run_ok(&["query"]);
        assert!(listed.stdout.contains("acme:payments-prod"), "{listed}");
        assert!(!listed.stdout.contains("search-misses-this"), "{listed}");
    });
}

#[test]
fn secret_list_resource_example_generates_configuration_that_imports_without_a_write() {
    let example = "list-resources/truefoundry_secret";
    // An older client refuses it by `required_version`; it never reads a `.tfquery.hcl` file.
    for_each_terraform_from((1, 14), example, &[], |terraform| {
        let emulator = Emulator::start();
        seed_acme_group(
            &emulator,
            "payments-prod",
            &[("DB_PASSWORD", "p"), ("STRIPE_KEY", "s")],
        );
        let ws = example_workspace(terraform, &emulator, example);
        ws.run_ok(&["init"]);
        ws.run_ok(&["query", "-generate-config-out=generated.tf"]);
        let mark = emulator.mark();
        apply_then_plan_empty(&ws);
        assert!(emulator.writes_since(mark).is_empty());
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:payments-prod"),
            values(&[("DB_PASSWORD", "p"), ("STRIPE_KEY", "s")])
        );
        assert_eq!(ws.state_json()["resources"].as_array().unwrap().len(), 2);
    });
}

#[test]
fn secret_data_source_example_applies() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        seed_acme_group(
            &emulator,
            "shared-config",
            &[("API_TOKEN", "seeded-token"), ("API_URL", "https://x.test")],
        );
        let group = server_group(&emulator, ACME_KEY, "acme:shared-config").unwrap();
        let ws = example_workspace(terraform, &emulator, "data-sources/truefoundry_secret");
        apply_then_plan_empty(&ws);
        let outputs = ws.outputs_json();
        assert_eq!(outputs["api_token_version"]["value"], 1);
        assert_eq!(outputs["api_token_group"]["value"], group.id);
        let state = ws.state_json().to_string();
        assert!(
            !state.contains("seeded-token"),
            "no value in state: {state}"
        );
        ws.destroy();
    });
}

#[test]
fn ephemeral_resource_example_applies_on_terraform_1_11() {
    const EXAMPLE: &str = "ephemeral-resources/truefoundry_secret_group";
    const TOKEN: &str = "ephemeral-example-token";
    for_each_terraform_from_1_11(EXAMPLE, |terraform| {
        let emulator = Emulator::start();
        // The example copies a value from a group made elsewhere.
        seed_acme_group(&emulator, "vendor-credentials", &[("API_TOKEN", TOKEN)]);
        let ws = example_workspace(terraform, &emulator, EXAMPLE);
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:vendor-credentials-staging"),
            values(&[("API_TOKEN", TOKEN)])
        );
        let state = ws.state_json().to_string();
        assert!(!state.contains(TOKEN), "the copied value is in state");
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, "acme:vendor-credentials-staging").is_none());
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:vendor-credentials"),
            values(&[("API_TOKEN", TOKEN)])
        );
    });
}

#[test]
fn placeholder_key_recipe_applies_and_leaves_the_value_to_people() {
    const FQN: &str = "acme:vendor-integrations";
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = example_workspace(terraform, &emulator, "recipes/placeholder-key");
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, FQN),
            values(&[("PARTNER_API_KEY", "set-me")])
        );

        // A person sets the real value: Terraform has nothing to do and keeps its hands off.
        set_value_outside_terraform(&emulator, FQN, "PARTNER_API_KEY", "the-real-key");
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, FQN),
            values(&[("PARTNER_API_KEY", "the-real-key")])
        );

        // Deleted elsewhere: created again with the placeholder.
        delete_key_outside_terraform(&emulator, FQN, "PARTNER_API_KEY");
        ws.plan_detailed_exitcode().expect_changes();
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, FQN),
            values(&[("PARTNER_API_KEY", "set-me")])
        );

        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, FQN).is_none());
    });
}

#[test]
fn write_only_migration_recipe_moves_the_key_without_sending_it_on_terraform_1_11() {
    const EXAMPLE: &str = "recipes/write-only-migration";
    const FQN: &str = "acme:app-secrets";
    const PASSWORD: &str = "migrated-password";
    for_each_terraform_from_1_11(EXAMPLE, |terraform| {
        let emulator = Emulator::start();
        let mut ws = example_workspace(terraform, &emulator, EXAMPLE);
        ws.set_env("TF_VAR_db_password", PASSWORD);

        // Step 1 of the recipe: the value kept in state.
        let recipe =
            std::fs::read_to_string(examples_root().join(EXAMPLE).join("main.tf")).unwrap();
        let kept_in_state = r#"
variable "db_password" {
  type      = string
  sensitive = true
}

resource "truefoundry_secret_group" "app" {
  name    = "app-secrets"
  secrets = { DB_PASSWORD = var.db_password }
}
"#;
        ws.write("main.tf", kept_in_state);
        ws.write("versions.tf", crate::support::terraform::REQUIRED_PROVIDERS);
        apply_then_plan_empty(&ws);
        // The request log names each key sent with a value: here, on create.
        assert!(
            emulator
                .requests()
                .iter()
                .any(|request| request.keys_with_value == ["DB_PASSWORD"]),
            "the request log shows no value sent for DB_PASSWORD"
        );
        let before = server_secrets(&emulator, ACME_KEY, FQN).unwrap();
        assert_eq!(before["DB_PASSWORD"].value, PASSWORD);
        assert!(ws.state_json().to_string().contains(PASSWORD));

        // Step 2: the recipe as written.
        ws.remove("versions.tf");
        ws.write("main.tf", &recipe);
        let mark = emulator.mark();
        apply_then_plan_empty(&ws);
        let sent: Vec<_> = emulator
            .requests_since(mark)
            .into_iter()
            .filter(|request| !request.keys_with_value.is_empty())
            .collect();
        assert!(sent.is_empty(), "the move sent a value: {sent:?}");
        let after = server_secrets(&emulator, ACME_KEY, FQN).unwrap();
        assert_eq!(after["DB_PASSWORD"].value, PASSWORD);
        assert_eq!(
            after["DB_PASSWORD"].version, before["DB_PASSWORD"].version,
            "the move made a new secret version"
        );
        assert!(
            !ws.state_json().to_string().contains(PASSWORD),
            "the value is still in state after the move"
        );

        // Step 3: back to `secrets` with the value the server holds: compared, not sent.
        ws.write("main.tf", kept_in_state);
        ws.write("versions.tf", crate::support::terraform::REQUIRED_PROVIDERS);
        let mark = emulator.mark();
        apply_then_plan_empty(&ws);
        let sent = emulator.values_sent_since(mark);
        assert!(sent.is_empty(), "the move back sent a value: {sent:?}");
        let back = server_secrets(&emulator, ACME_KEY, FQN).unwrap();
        assert_eq!(back["DB_PASSWORD"].version, before["DB_PASSWORD"].version);

        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, FQN).is_none());
    });
}

#[test]
fn multi_tenant_recipe_applies_on_two_fresh_tenants() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let mut ws = example_workspace(terraform, &emulator, "recipes/multi-tenant");
        // Each alias has its own host and key; here both tenants live in the one emulator.
        ws.set_env("TF_VAR_acme_host", &emulator.base_url)
            .set_env("TF_VAR_acme_api_key", ACME_KEY)
            .set_env("TF_VAR_globex_host", &emulator.base_url)
            .set_env("TF_VAR_globex_api_key", GLOBEX_KEY);
        apply_then_plan_empty(&ws);
        assert_eq!(
            server_values(&emulator, ACME_KEY, "acme:observability-acme"),
            values(&[("DATADOG_API_KEY", "set-me")])
        );
        assert_eq!(
            server_values(&emulator, GLOBEX_KEY, "globex:observability-globex"),
            values(&[("DATADOG_API_KEY", "set-me")])
        );
        assert_eq!(
            ws.outputs_json()["refs"]["value"],
            json!({
                "acme": {"DATADOG_API_KEY": "tfy-secret://acme:observability-acme:DATADOG_API_KEY"},
                "globex": {"DATADOG_API_KEY": "tfy-secret://globex:observability-globex:DATADOG_API_KEY"},
            })
        );
        ws.destroy();
        assert!(server_group(&emulator, ACME_KEY, "acme:observability-acme").is_none());
        assert!(server_group(&emulator, GLOBEX_KEY, "globex:observability-globex").is_none());
    });
}

#[test]
fn testing_example_passes_terraform_test_against_the_emulator_of_its_config() {
    const EXAMPLE: &str = "testing";
    const GROUP: &str = "acme:tftest-app";
    let config = examples_root().join(EXAMPLE).join("emulator.json");
    let config_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let api_key = config_json["api_keys"][0]["token"]
        .as_str()
        .expect("the config has an API key")
        .to_owned();
    for_each_terraform_at_least(1, 6, "terraform test", |terraform| {
        let emulator = Emulator::builder().config_file(&config).start();
        let mut ws = example_workspace(terraform, &emulator, EXAMPLE);
        // The README's steps: the key from the config file, no `terraform init` (dev_overrides).
        ws.set_env("TFY_API_KEY", &api_key);
        let run = ws.run_ok(&["test"]);
        println!("{}", run.stdout);
        run.expect_lines(&[
            "run \"create\"... pass",
            "run \"change_one_value\"... pass",
            "run \"add_a_key\"... pass",
            "tests/secret_group.tftest.hcl... pass",
            "Success! 3 passed, 0 failed.",
        ]);
        assert!(
            !emulator.requests().is_empty(),
            "the runs reached the emulator"
        );
        assert!(
            server_group(&emulator, &api_key, GROUP).is_none(),
            "terraform test destroys what its runs made"
        );

        // The assertions compare what the emulator answered: a wrong expectation fails.
        ws.write(
            "tests/wrong.tftest.hcl",
            "run \"create\" {\n  assert {\n    condition     = output.secret_versions[\"DB_USER\"] == 2\n    error_message = \"expected version 2\"\n  }\n}\n",
        );
        ws.run(&["test", "-filter=tests/wrong.tftest.hcl"])
            .expect_failure()
            .expect_output_contains(&["expected version 2", "0 passed, 1 failed."]);
        assert!(server_group(&emulator, &api_key, GROUP).is_none());
    });
}

/// Terraform before 1.8 fails to parse a provider function call (`provider::…`), with the error
/// of the expression around it.
const NO_FUNCTION_SYNTAX: &[&str] = &[
    "Missing newline after argument",
    "Extra characters after the end of the 'for' expression",
];

#[test]
fn secret_fqn_function_example_applies_on_terraform_1_8() {
    for_each_terraform_from(
        (1, 8),
        "functions/secret_fqn",
        NO_FUNCTION_SYNTAX,
        |terraform| {
            let emulator = Emulator::start();
            let ws = example_workspace(terraform, &emulator, "functions/secret_fqn");
            apply_then_plan_empty(&ws);
            assert_eq!(
                ws.outputs_json()["env"]["value"],
                json!({
                    "DB_PASSWORD": "tfy-secret://acme:payments-api:DB_PASSWORD",
                    "SENTRY_DSN": "tfy-secret://acme:shared-platform:SENTRY_DSN",
                    "STRIPE_KEY": "tfy-secret://acme:shared-platform:STRIPE_KEY",
                })
            );
            ws.destroy();
        },
    );
}

#[test]
fn parse_secret_fqn_function_example_applies_on_terraform_1_8() {
    for_each_terraform_from(
        (1, 8),
        "functions/parse_secret_fqn",
        NO_FUNCTION_SYNTAX,
        |terraform| {
            let emulator = Emulator::start();
            let ws = example_workspace(terraform, &emulator, "functions/parse_secret_fqn");
            apply_then_plan_empty(&ws);
            let outputs = ws.outputs_json();
            assert_eq!(
                outputs["groups"]["value"],
                json!(["acme:payments-api", "acme:shared-platform"])
            );
            assert_eq!(
                outputs["keys"]["value"],
                json!({"DB_PASSWORD": "DB_PASSWORD", "STRIPE_KEY": "STRIPE_KEY"})
            );
            assert!(
                emulator.requests().is_empty(),
                "the functions need no API call"
            );
        },
    );
}
