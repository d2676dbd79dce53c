//! The integration test binary: every module drives the built binaries from outside.

mod cli;
mod client;
mod docs;
mod emulator;
mod examples;
mod protocol;
mod release;
mod reliability;
mod secret_group;
mod secret_group_reads;
mod support;
