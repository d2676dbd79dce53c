//! Wire types: for the server and the protocol test client only.
//!
//! Generated at build time from `proto/` (see build.rs).

#![allow(clippy::all, clippy::pedantic, missing_docs, rust_2018_idioms)]

pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's controller, stdio and broker services.
pub mod plugin {
    tonic::include_proto!("plugin");
}

pub mod google {
    pub mod protobuf {
        tonic::include_proto!("google.protobuf");
    }
}
