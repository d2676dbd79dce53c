//! Compiles our protocol definitions with the pure-Rust protox compiler, so building needs no
//! system `protoc`, and generates tonic servers (for the provider) and clients (for the tests).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/tfplugin6.proto", "proto/plugin.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Clients are built on our own connector, not tonic's transport helpers.
        .build_transport(false)
        // Unimplemented RPCs of the protocol answer `Unimplemented` without hand-written stubs.
        .generate_default_stubs(true)
        // Timestamp and Empty are generated here instead of pulling in another crate.
        .compile_well_known_types(true)
        .emit_rerun_if_changed(false)
        .compile_fds(descriptors)?;
    Ok(())
}
