//! Helpers shared by the integration tests.

pub mod chaos;
pub mod emulator;
pub mod hcl;
pub mod stub;
pub mod terraform;
pub mod tfclient;
