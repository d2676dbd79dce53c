//! Helpers shared by the integration tests.

pub mod canaries;
pub mod chaos;
pub mod emulator;
pub mod hcl;
pub mod hostile;
pub mod jwt;
pub mod pki;
pub mod processes;
pub mod stub;
pub mod terraform;
pub mod tfclient;
