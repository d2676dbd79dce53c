//! The `truefoundry_secret_group` resource: plan/apply diffs become exact full-list PUTs.
//!
//! This file is only the `Resource` implementation. One file per lifecycle step (`plan`,
//! `create`, `read`, `update`, `delete`, `import`, `upgrade`), with `apply` for what create and
//! update share; the decisions they carry out are pure and live beside them: `keys` (what the
//! plan writes, key by key) and `write` (what the apply sends). `model` reads Terraform values
//! into Rust types once, `refresh` turns the API's answers into state.

mod apply;
mod create;
mod delete;
mod dry_run;
mod import;
pub mod keys;
pub mod model;
mod pending;
pub mod plan;
pub mod read;
mod references;
pub mod refresh;
pub mod schema;
mod update;
mod upgrade;
pub mod validate;
pub mod write;

use std::sync::Arc;

pub use import::WRITE_ONLY_IMPORT_PREFIX;
use model::Group;

use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
use crate::schema::Schema;
use crate::server::{
    self, ApplyRequest, ApplyResponse, ClientCapabilities, ImportResponse, PlanRequest,
    PlanResponse, ReadRequest, ReadResponse, Resource,
};
use crate::value::Value;

pub struct SecretGroupResource {
    context: Arc<ProviderContext>,
}

impl SecretGroupResource {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupResource { context }
    }
}

#[async_trait::async_trait]
impl Resource for SecretGroupResource {
    fn schema(&self) -> Schema {
        schema::resource_schema()
    }

    async fn validate(&self, config: &Value, _capabilities: ClientCapabilities) -> Diagnostics {
        validate::validate(config)
    }

    fn upgrade(&self, version: i64, raw_json: &[u8]) -> Result<(Value, Diagnostics), Diagnostics> {
        match version {
            0 => upgrade::from_version_0(raw_json).map(|state| {
                let said = upgrade::upgraded_from_version_0(&state);
                (state, said)
            }),
            _ => Err(server::unsupported_state_version(version)),
        }
    }

    fn identity_schema(&self) -> Option<server::IdentitySchema> {
        Some(super::resource_identity::group_schema())
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        super::resource_identity::of_group(state)
    }

    fn import_id(&self, identity: &Value) -> Option<String> {
        super::resource_identity::group_import_id(identity)
    }

    async fn read(&self, request: ReadRequest) -> ReadResponse {
        read::read(&self.context, request).await
    }

    async fn plan(&self, request: PlanRequest) -> PlanResponse {
        plan::plan(&self.context, request).await
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        let mut response = ApplyResponse::default();
        let Some(client) = self.context.client_or_report(&mut response.diagnostics) else {
            response.new_state = request.prior_state;
            return response;
        };
        let identity = self.context.identity();
        if !request.prior_state.is_null() {
            let prior = Group::of(&request.prior_state);
            let tenant = prior.tenant.as_deref().unwrap_or_default();
            if !identity.check_tenant(&prior.label(), tenant, &mut response.diagnostics) {
                response.new_state = request.prior_state;
                return response;
            }
        }
        if request.planned_state.is_null() {
            delete::delete(client, identity, &request, &mut response).await;
        } else if request.prior_state.is_null() {
            create::create(client, identity, &request, &mut response).await;
        } else {
            let id = Group::of(&request.prior_state).id;
            let _guard = self.context.lock_group(&id).await;
            update::update(client, identity, &request, &mut response).await;
        }
        response
    }

    async fn import(&self, id: &str) -> ImportResponse {
        import::import(&self.context, id).await
    }
}
