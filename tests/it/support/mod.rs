//! Helpers shared by the integration tests.

pub mod chaos;
pub mod emulator;
pub mod terraform;
pub mod tfclient;
