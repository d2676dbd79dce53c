//! Terraform provider for TrueFoundry secret groups, and a local emulator of the secret-group API.
//!
//! See ARCHITECTURE.md for the layers and the rules between them.

pub mod client;
pub mod diag;
pub mod docs;
pub mod emulator;
pub mod logging;
pub mod plugin;
pub mod printable;
pub mod provider;
pub mod schema;
pub mod server;
pub mod value;
