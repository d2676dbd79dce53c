//! Resource identity (Terraform 1.12+): every state carries `{ tenant, name }` for a group and
//! `{ tenant, group, key }` for a secret, and an `import` block can name what it imports by
//! identity instead of by id. An import by identity is the import by `<tenant>:<name>`: the
//! group's values come into `secrets`, so the configuration that adopts it states them.

use serde_json::{Value as Json, json};

use crate::support::emulator::{self, ACME_KEY, Emulator};
use crate::support::terraform::{Workspace, for_each_terraform_at_least};

const STORED: &str = "stored-before-the-import";

/// The `identity` Terraform recorded for `address`, from `terraform show -json`.
fn identity_in_state(ws: &Workspace, address: &str) -> Json {
    let shown = ws.show_json();
    shown["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|resource| resource["address"] == address)
        .map(|resource| resource["identity"].clone())
        .unwrap_or_else(|| panic!("{address} is not in state: {shown}"))
}

#[test]
fn import_by_identity_then_plan_is_empty_and_every_state_has_its_identity() {
    for_each_terraform_at_least(1, 12, "resource identity", |terraform| {
        let emulator = Emulator::start();
        emulator.block_on(emulator::seed_group(
            &emulator.client(ACME_KEY),
            "identity-import",
            &[("STORED", STORED)],
        ));
        let ws = emulator.workspace(
            terraform,
            &[(
                "main.tf",
                &format!(
                    r#"
import {{
  to       = truefoundry_secret_group.g
  identity = {{ tenant = "acme", name = "identity-import" }}
}}

resource "truefoundry_secret_group" "g" {{
  name          = "identity-import"
  secrets       = {{ STORED = "{STORED}" }}
  collaborators = [{{ subject = "user:viewer@acme.example", role_id = "secret-group-viewer" }}]
}}
"#
                ),
            )],
        );
        let mark = emulator.mark();
        let plan = ws.run_ok(&["plan"]);
        assert!(
            plan.stdout
                .contains("Plan: 1 to import, 0 to add, 0 to change, 0 to destroy"),
            "{terraform}: {plan}"
        );
        ws.apply();
        assert!(
            emulator.writes_since(mark).is_empty(),
            "{terraform}: the import wrote"
        );
        ws.plan_detailed_exitcode().expect_empty();
        assert_eq!(
            identity_in_state(&ws, "truefoundry_secret_group.g"),
            json!({"tenant": "acme", "name": "identity-import"})
        );

        // A secret created in a shared group (not the authoritative one above, which would
        // delete it) records its identity too.
        let shared = emulator.block_on(emulator::seed_group(
            &emulator.client(ACME_KEY),
            "identity-shared",
            &[("OTHER_TEAM", "theirs")],
        ));
        ws.write(
            "secret.tf",
            &format!(
                r#"
resource "truefoundry_secret" "s" {{
  secret_group_id = "{shared}"
  key             = "ADDED"
  value           = "added-value"
}}
"#
            ),
        );
        ws.apply();
        assert_eq!(
            identity_in_state(&ws, "truefoundry_secret.s"),
            json!({"tenant": "acme", "group": "identity-shared", "key": "ADDED"})
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}

#[test]
fn an_identity_of_another_tenant_is_refused_and_nothing_is_imported() {
    for_each_terraform_at_least(1, 12, "resource identity", |terraform| {
        let emulator = Emulator::start();
        let ws = emulator.workspace(
            terraform,
            &[(
                "main.tf",
                r#"
import {
  to       = truefoundry_secret_group.g
  identity = { tenant = "globex", name = "someone-elses" }
}

resource "truefoundry_secret_group" "g" {
  name = "someone-elses"
}
"#,
            )],
        );
        ws.run(&["plan"])
            .expect_failure()
            .expect_output_contains(&["Secret Group Belongs To Another Tenant"]);
        assert!(emulator.writes_since(0).is_empty());
    });
}
