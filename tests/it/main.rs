//! The integration test binary: every integration test module is declared here.

mod protocol;
mod support;
