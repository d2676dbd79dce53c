//! The TrueFoundry provider: its configuration, and the secret-group resource, data source and
//! ephemeral resource.

mod config;
pub mod secret_group;

use std::collections::BTreeMap;

use crate::diag::Diagnostics;
use crate::schema::Schema;
use crate::server::{self, ConfigureRequest};
use crate::value::Value;

/// The provider as served to Terraform. (Configuration and resources land with the resource work.)
#[derive(Default)]
pub struct TrueFoundryProvider {}

impl TrueFoundryProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl server::Provider for TrueFoundryProvider {
    fn schema(&self) -> Schema {
        Schema::new(0, "", Vec::new())
    }

    async fn validate_config(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn configure(&self, _request: ConfigureRequest) -> Diagnostics {
        Diagnostics::new()
    }

    fn resources(&self) -> BTreeMap<String, &dyn server::Resource> {
        BTreeMap::new()
    }

    fn data_sources(&self) -> BTreeMap<String, &dyn server::DataSource> {
        BTreeMap::new()
    }

    fn ephemeral_resources(&self) -> BTreeMap<String, &dyn server::EphemeralResource> {
        BTreeMap::new()
    }
}
