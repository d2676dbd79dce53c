//! Protocol tests in two suites: the provider binary's handshake, mutual TLS and lifecycle, as
//! Terraform drives them (`plugin_binary`), and every implemented RPC of the plugin server
//! against a fake provider served in-process (`rpc_server`).

mod plugin_binary;
mod rpc_server;
