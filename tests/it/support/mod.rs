//! Helpers shared by the integration tests.

pub mod terraform;
pub mod tfclient;
