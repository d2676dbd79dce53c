//! Provider functions through the real Terraform CLI (1.8 and newer):
//! `provider::truefoundry::secret_fqn` and `provider::truefoundry::parse_secret_fqn`.

use crate::support::emulator::Emulator;
use crate::support::terraform::{Workspace, for_each_terraform, for_each_terraform_at_least};

const CANARY: &str = "CANARY-function-argument-5c1f";

#[test]
fn secret_fqn_and_parse_secret_fqn_work_in_configurations() {
    let emulator = Emulator::start();
    for_each_terraform_at_least(1, 8, "provider functions", |terraform| {
        let ws = emulator.workspace(
            terraform,
            &[(
                "main.tf",
                r#"
resource "truefoundry_secret_group" "g" {
  name    = "functions-demo"
  secrets = { DB_PASSWORD = "first" }
}

output "built" {
  value = provider::truefoundry::secret_fqn(truefoundry_secret_group.g.fqn, "DB_PASSWORD")
}

output "parsed" {
  value = provider::truefoundry::parse_secret_fqn("tfy-secret://acme:functions-demo:DB_PASSWORD")
}

output "round_trip" {
  value = provider::truefoundry::parse_secret_fqn(truefoundry_secret_group.g.secret_fqns["DB_PASSWORD"]).key
}
"#,
            )],
        );
        // The group's fqn is known at plan, so is the reference built from it.
        let plan = ws.plan_json();
        assert_eq!(
            plan["output_changes"]["built"]["after"],
            "tfy-secret://acme:functions-demo:DB_PASSWORD",
            "{terraform}: {}",
            plan["output_changes"]
        );
        ws.apply();
        let outputs = ws.outputs_json();
        assert_eq!(
            outputs["built"]["value"],
            "tfy-secret://acme:functions-demo:DB_PASSWORD"
        );
        assert_eq!(
            outputs["parsed"]["value"],
            serde_json::json!({"tenant": "acme", "group": "functions-demo", "key": "DB_PASSWORD"})
        );
        assert_eq!(outputs["round_trip"]["value"], "DB_PASSWORD");
        ws.plan_detailed_exitcode().expect_empty();
        ws.destroy();
    });
}

#[test]
fn a_bad_argument_is_a_function_error_naming_it_and_never_printing_a_sensitive_value() {
    for_each_terraform_at_least(1, 8, "provider functions", |terraform| {
        let ws = Workspace::with_main(
            terraform,
            r#"
output "bad_group" {
  value = provider::truefoundry::secret_fqn("acme-without-group", "DB_PASSWORD")
}

output "bad_key" {
  value = provider::truefoundry::secret_fqn("acme:payments", "not a key")
}
"#,
        );
        expect_plan_errors(
            &ws,
            &[
                "Invalid value for \"group_fqn\" parameter: expected the FQN of a secret group",
                "Invalid value for \"key\" parameter: the key holds a character other than letters",
            ],
        );
        // A value passed by mistake (here a sensitive one) is refused without being printed.
        ws.write(
            "main.tf",
            &format!(
                r#"
variable "not_a_reference" {{
  type      = string
  sensitive = true
  default   = "{CANARY}"
}}

output "bad_reference" {{
  value     = provider::truefoundry::parse_secret_fqn(var.not_a_reference)
  sensitive = true
}}
"#
            ),
        );
        expect_plan_errors(
            &ws,
            &["Invalid value for \"reference\" parameter: expected a secret reference"],
        );
    });
}

/// `terraform plan` fails with each of `expected` in its output, and no canary.
#[track_caller]
fn expect_plan_errors(ws: &Workspace, expected: &[&str]) {
    let terraform = ws.terraform();
    let run = ws.run(&["plan"]).expect_failure();
    // Terraform wraps long lines; compare with runs of white space made one.
    let output = run
        .output()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in expected {
        assert!(
            output.contains(expected),
            "{terraform}: lacks {expected:?}\n{run}"
        );
    }
    assert!(
        !output.contains(CANARY),
        "{terraform}: the sensitive argument was printed\n{run}"
    );
}

/// Terraform before 1.8 knows nothing of functions: the schema that carries them must not
/// disturb it.
#[test]
fn terraform_without_functions_is_unaffected_by_their_schema() {
    for_each_terraform(|terraform| {
        let ws = Workspace::with_main(terraform, "");
        ws.validate();
        let schema = ws.providers_schema_json();
        let functions =
            &schema["provider_schemas"][crate::support::terraform::PROVIDER_ADDRESS]["functions"];
        if terraform.at_least(1, 8) {
            let names: Vec<&String> = functions
                .as_object()
                .unwrap_or_else(|| panic!("{terraform}: no functions in {schema}"))
                .keys()
                .collect();
            assert_eq!(names, ["parse_secret_fqn", "secret_fqn"], "{terraform}");
        } else {
            assert!(functions.is_null(), "{terraform}: {functions}");
        }
    });
}
