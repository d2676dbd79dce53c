//! The `truefoundry_secret` resource: one key of a secret group that others write to as well.
//!
//! `schema` names the attributes, `model` reads configuration, plan and state into types and
//! writes state back; `body` builds the full-list PUT (pure, property tested), `batch` coalesces
//! the writes of one group into one PUT, `converge` reads them back; one file per lifecycle step
//! carries them out. Shared with the other resources: tenant checks and proven deletions from
//! `identity`, the key rule from `secret_keys`, listings of keys from `remote`.

mod apply;
pub mod batch;
mod body;
mod converge;
mod import;
pub mod model;
mod plan;
mod read;
pub mod schema;
mod validate;

use std::sync::Arc;

use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
use crate::schema::Schema;
use crate::server::{
    ApplyRequest, ApplyResponse, ClientCapabilities, IdentitySchema, ImportResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource,
};
use crate::value::Value;

pub struct SecretResource {
    context: Arc<ProviderContext>,
}

impl SecretResource {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretResource { context }
    }
}

#[async_trait::async_trait]
impl Resource for SecretResource {
    fn schema(&self) -> Schema {
        schema::resource_schema()
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(super::resource_identity::secret_schema())
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        super::resource_identity::of_secret(state)
    }

    fn import_id(&self, identity: &Value) -> Option<String> {
        super::resource_identity::secret_import_id(identity)
    }

    async fn validate(&self, config: &Value, _capabilities: ClientCapabilities) -> Diagnostics {
        validate::validate(config)
    }

    async fn read(&self, request: ReadRequest) -> ReadResponse {
        read::read(&self.context, request).await
    }

    async fn plan(&self, request: PlanRequest) -> PlanResponse {
        plan::plan(&self.context, request)
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        apply::apply(&self.context, request).await
    }

    async fn import(&self, id: &str) -> ImportResponse {
        import::import(&self.context, id).await
    }
}
