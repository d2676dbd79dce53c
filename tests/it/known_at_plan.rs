//! A new group's references are known at plan: it lands in the API key's tenant under its
//! configured name, so `fqn`, `tenant_name` and `secret_fqns` need no apply. A module that hands
//! `secret_fqns` to a `for_each` then plans and applies on the first run.

use crate::support::emulator::Emulator;
use crate::support::terraform::for_each_terraform;

const SECRETS_MODULE: &str = r#"terraform {
  required_providers {
    truefoundry = {
      source = "truefoundry/truefoundry"
    }
  }
}

variable "name" {
  type = string
}

resource "truefoundry_secret_group" "this" {
  name    = var.name
  secrets = { DB_PASSWORD = "first-run-db", API_TOKEN = "first-run-token" }
}

output "refs" {
  value = truefoundry_secret_group.this.secret_fqns
}

output "fqn" {
  value = truefoundry_secret_group.this.fqn
}

output "tenant" {
  value = truefoundry_secret_group.this.tenant_name
}
"#;

/// Stands for whatever consumes one reference (a deployment's environment variable).
const CONSUMER_MODULE: &str = r#"variable "reference" {
  type = string
}

output "reference" {
  value = var.reference
}
"#;

const ROOT: &str = r#"module "secrets" {
  source = "./modules/secrets"
  name   = "first-run"
}

module "consumer" {
  source    = "./modules/consumer"
  for_each  = module.secrets.refs
  reference = each.value
}

output "consumed" {
  value = { for key, consumer in module.consumer : key => consumer.reference }
}

output "group" {
  value = "${module.secrets.tenant} / ${module.secrets.fqn}"
}
"#;

#[test]
fn a_module_consuming_secret_fqns_with_for_each_plans_and_applies_on_the_first_run() {
    for_each_terraform(|terraform| {
        let emulator = Emulator::start();
        let ws = emulator.workspace(
            terraform,
            &[
                ("main.tf", ROOT),
                ("modules/secrets/main.tf", SECRETS_MODULE),
                ("modules/consumer/main.tf", CONSUMER_MODULE),
            ],
        );
        // Installs the local modules (no `init`: the provider is the development override).
        ws.run_ok(&["get"]);

        let plan = ws.plan_json();
        let group = plan["planned_values"]["root_module"]["child_modules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|module| module["resources"].as_array().cloned().unwrap_or_default())
            .find(|resource| resource["type"] == "truefoundry_secret_group")
            .unwrap_or_else(|| panic!("{terraform}: no group in the plan: {plan}"));
        assert_eq!(group["values"]["fqn"], "acme:first-run", "{terraform}");
        assert_eq!(group["values"]["tenant_name"], "acme", "{terraform}");
        assert_eq!(
            group["values"]["secret_fqns"],
            serde_json::json!({
                "API_TOKEN": "tfy-secret://acme:first-run:API_TOKEN",
                "DB_PASSWORD": "tfy-secret://acme:first-run:DB_PASSWORD",
            }),
            "{terraform}"
        );
        // The consumers' instances, one per key, are planned: their output is known already.
        assert_eq!(
            plan["output_changes"]["consumed"]["after"],
            serde_json::json!({
                "API_TOKEN": "tfy-secret://acme:first-run:API_TOKEN",
                "DB_PASSWORD": "tfy-secret://acme:first-run:DB_PASSWORD",
            }),
            "{terraform}: {}",
            plan["output_changes"]
        );

        // The apply creates exactly what the plan showed, and the next plan is empty.
        ws.apply();
        let outputs = ws.outputs_json();
        assert_eq!(
            outputs["consumed"]["value"],
            serde_json::json!({
                "API_TOKEN": "tfy-secret://acme:first-run:API_TOKEN",
                "DB_PASSWORD": "tfy-secret://acme:first-run:DB_PASSWORD",
            }),
            "{terraform}"
        );
        assert_eq!(
            outputs["group"]["value"], "acme / acme:first-run",
            "{terraform}"
        );
        assert_eq!(
            emulator
                .secret_values("first-run")
                .map(|values| values.len()),
            Some(2),
            "{terraform}"
        );
        ws.plan_detailed_exitcode().expect_empty();
    });
}
