//! The integration test binary: every module drives the built binaries from outside.

mod cli;
mod docs;
mod support;
