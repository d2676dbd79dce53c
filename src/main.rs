//! `terraform-provider-truefoundry`: started by Terraform, or by hand with `--debug`.

use std::process::ExitCode;
use std::sync::Arc;

use truefoundry_provider::provider::TrueFoundryProvider;
use truefoundry_provider::{logging, plugin};

const USAGE: &str = "\
terraform-provider-truefoundry: the Terraform provider for TrueFoundry secret groups.

Terraform starts this program itself; there is no need to run it by hand.

Options:
  --debug     serve without Terraform's handshake and print TF_REATTACH_PROVIDERS for
              attaching Terraform to this process (for debugging)
  --version   print the version
  --help      print this help";

fn main() -> ExitCode {
    // Before anything else, so that a Terraform dying during start-up is noticed.
    let parent = plugin::Parent::record();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            logging::init();
            plugin::serve(Arc::new(TrueFoundryProvider::new()), parent)
        }
        ["--debug"] => {
            logging::init();
            plugin::serve_debug(Arc::new(TrueFoundryProvider::new()))
        }
        ["--version"] => {
            println!(
                "terraform-provider-truefoundry {}",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        ["--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
