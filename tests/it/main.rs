//! The integration test binary: every module drives the built binaries from outside.

mod bad_input;
mod cli;
mod client;
mod discovery;
mod docs;
mod emulator;
mod examples;
mod fuzz;
mod half_made;
mod identity;
mod plan_checks;
mod protocol;
mod protocol_secret;
mod protocol_secret_group;
mod release;
mod reliability;
mod safe_deletes;
mod schema_v2;
mod secret;
mod secret_group;
mod secret_group_reads;
mod support;
mod transport;
mod trust;
mod variants;
mod writers;
