//! The real Terraform CLI loads, validates and plans with the provider binary built by cargo.

use crate::support::terraform::{PROVIDER_ADDRESS, Workspace, for_each_terraform};

const PROVIDER_ONLY: &str = r#"provider "truefoundry" {}
"#;

/// A workspace whose provider configuration resolves from the environment to a loopback address
/// nothing listens on: enough to configure, and no request can leave the machine.
fn provider_only_workspace(terraform: &crate::support::terraform::Terraform) -> Workspace {
    let mut workspace = Workspace::with_main(terraform, PROVIDER_ONLY);
    workspace
        .set_env("TFY_HOST", "http://127.0.0.1:9")
        .set_env("TFY_API_KEY", "cli-test-placeholder-key");
    workspace
}

#[test]
fn validate_accepts_a_provider_block_without_resources() {
    for_each_terraform(|terraform| {
        provider_only_workspace(terraform)
            .validate()
            .expect_output_contains(&["The configuration is valid"]);
    });
}

#[test]
fn plan_without_resources_is_empty_and_uses_the_built_binary() {
    let built_dir = std::path::Path::new(env!("CARGO_BIN_EXE_terraform-provider-truefoundry"))
        .parent()
        .expect("binary directory")
        .to_string_lossy()
        .into_owned();
    for_each_terraform(|terraform| {
        provider_only_workspace(terraform)
            .plan_detailed_exitcode()
            .expect_empty()
            // The dev_overrides warning names the directory the plugin was loaded from.
            .expect_output_contains(&["No changes", "truefoundry/truefoundry", &built_dir]);
    });
}

#[test]
fn providers_schema_json_shows_the_provider_schema() {
    for_each_terraform(|terraform| {
        let schema = provider_only_workspace(terraform).providers_schema_json();
        let ours = &schema["provider_schemas"][PROVIDER_ADDRESS];
        assert!(
            ours.is_object(),
            "{terraform}: no schema for {PROVIDER_ADDRESS} in {schema:#}"
        );
        assert!(
            ours["provider"]["block"].is_object(),
            "{terraform}: the provider entry lacks its configuration block: {ours:#}"
        );
    });
}
