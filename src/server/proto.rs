//! Wire types, generated at build time from `proto/` (see build.rs): tfplugin6, which the server
//! implements and the protocol test client calls, and go-plugin's services, which `plugin/`
//! implements. Nothing else uses them: the provider sees `Value`s.

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
