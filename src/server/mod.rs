//! The tfplugin6 gRPC service: decodes requests with the schema, calls the provider through the
//! traits below, and encodes the answers. The tfplugin6 types never reach the provider: it sees
//! decoded, schema-checked `Value`s. The generated `proto` module is public for two others:
//! `plugin/`, which mounts this service (`grpc::provider_server`) and implements go-plugin's
//! controller, stdio and broker services generated there too, and the protocol test client.

pub mod convert;
pub mod grpc;
pub mod proto;
mod write_only;

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::diag::{AttributePath, Diagnostics};
use crate::schema::Schema;
use crate::value::{Type, Value};

/// What the Terraform CLI says it can handle (absent, so all false, before protocol 6.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    pub deferral_allowed: bool,
    pub write_only_attributes_allowed: bool,
}

pub struct ConfigureRequest {
    pub terraform_version: String,
    pub config: Value,
    pub capabilities: ClientCapabilities,
}

pub struct PlanRequest {
    /// Null on create.
    pub prior_state: Value,
    /// Config merged with prior state by Terraform; null on destroy.
    pub proposed_new_state: Value,
    /// Raw config; may hold unknowns; null on destroy.
    pub config: Value,
    pub prior_private: Vec<u8>,
}

#[derive(Default)]
pub struct PlanResponse {
    pub planned_state: Value,
    pub requires_replace: Vec<AttributePath>,
    pub planned_private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ApplyRequest {
    /// Null on create.
    pub prior_state: Value,
    /// Null on destroy.
    pub planned_state: Value,
    /// Null on destroy. Carries write-only values, which the planned state never does.
    pub config: Value,
    pub planned_private: Vec<u8>,
}

#[derive(Default)]
pub struct ApplyResponse {
    /// Null after destroy; otherwise wholly known.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

pub struct ReadRequest {
    pub current_state: Value,
    pub private: Vec<u8>,
}

#[derive(Default)]
pub struct ReadResponse {
    /// Null when the remote object is gone.
    pub new_state: Value,
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

#[derive(Default)]
pub struct ImportResponse {
    /// One state per imported object (ours import exactly one).
    pub states: Vec<(Value, Vec<u8>)>,
    pub diagnostics: Diagnostics,
}

#[derive(Default)]
pub struct OpenEphemeralResponse {
    pub result: Value,
    pub private: Vec<u8>,
    pub renew_at: Option<SystemTime>,
    pub diagnostics: Diagnostics,
}

#[derive(Default)]
pub struct RenewEphemeralResponse {
    pub private: Vec<u8>,
    pub renew_at: Option<SystemTime>,
    pub diagnostics: Diagnostics,
}

/// The identity of a managed resource type (Terraform 1.12+): string attributes that name one
/// remote object for good, returned with every state and accepted by `import` blocks.
pub struct IdentitySchema {
    pub version: i64,
    /// Name and description of each attribute; every one is needed to import.
    pub attributes: Vec<(&'static str, &'static str)>,
}

impl IdentitySchema {
    /// The object type identity values have.
    pub fn value_type(&self) -> Type {
        Type::Object(
            self.attributes
                .iter()
                .map(|(name, _)| ((*name).to_owned(), Type::String))
                .collect(),
        )
    }
}

/// A managed resource type. Values handed in have been decoded and checked against `schema()`;
/// the server nulls write-only attributes in every state and plan it returns.
#[async_trait::async_trait]
pub trait Resource: Send + Sync {
    fn schema(&self) -> Schema;

    async fn validate(&self, config: &Value, capabilities: ClientCapabilities) -> Diagnostics;

    /// Turns the raw JSON of state stored by an older schema version into a value of the
    /// current schema, with warnings for the user (Terraform shows them). Called only for
    /// versions other than the current one; the default knows none.
    fn upgrade(&self, version: i64, _raw_json: &[u8]) -> Result<(Value, Diagnostics), Diagnostics> {
        Err(unsupported_state_version(version))
    }

    /// The resource's identity schema; `None` (the default) for a resource without identity.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }

    /// The identity of the object `state` (a state or a plan) describes, of the identity
    /// schema's type; `None` while it cannot be told yet.
    fn identity(&self, _state: &Value) -> Option<Value> {
        None
    }

    /// The import id that `identity` (decoded with the identity schema) stands for.
    fn import_id(&self, _identity: &Value) -> Option<String> {
        None
    }

    async fn read(&self, request: ReadRequest) -> ReadResponse;
    async fn plan(&self, request: PlanRequest) -> PlanResponse;
    async fn apply(&self, request: ApplyRequest) -> ApplyResponse;
    async fn import(&self, id: &str) -> ImportResponse;
}

/// The refusal of state stored by a schema version a resource does not know.
pub fn unsupported_state_version(version: i64) -> Diagnostics {
    Diagnostics::of_error(
        "Unsupported State Version",
        format!(
            "The state was written by a provider version with schema version {version}, which this provider does not know. Use the provider version that wrote it, or remove the resource from state and import it again."
        ),
    )
}

#[async_trait::async_trait]
pub trait DataSource: Send + Sync {
    fn schema(&self) -> Schema;
    async fn validate(&self, config: &Value) -> Diagnostics;
    /// Returns the state (config echoed, computed attributes filled).
    async fn read(&self, config: Value) -> (Value, Diagnostics);
}

#[async_trait::async_trait]
pub trait EphemeralResource: Send + Sync {
    fn schema(&self) -> Schema;
    async fn validate(&self, config: &Value) -> Diagnostics;
    async fn open(&self, config: Value, capabilities: ClientCapabilities) -> OpenEphemeralResponse;
    async fn renew(&self, private: Vec<u8>) -> RenewEphemeralResponse;
    async fn close(&self, private: Vec<u8>) -> Diagnostics;
}

/// What `terraform query` asks of a list resource (Terraform 1.14+).
pub struct ListRequest {
    /// The `config` block, decoded with the list resource's schema (null attributes when absent).
    pub config: Value,
    /// Whether each object's resource state is wanted (`include_resource`, or config generation).
    pub include_resource: bool,
    /// How many objects Terraform will take at most.
    pub limit: usize,
}

/// One object a list resource found: its identity (of the managed resource's identity schema),
/// a name for people, and its state when asked for.
pub struct ListedObject {
    pub identity: Value,
    pub display_name: String,
    pub resource: Option<Value>,
}

/// A list resource: the objects of one managed resource type that the credentials can see, for
/// `terraform query`. Its type name is the managed resource's; that resource must have identity.
#[async_trait::async_trait]
pub trait ListResource: Send + Sync {
    /// The schema of the list block's `config` block.
    fn schema(&self) -> Schema;
    async fn validate(&self, config: &Value) -> Diagnostics;
    async fn list(&self, request: ListRequest) -> (Vec<ListedObject>, Diagnostics);
}

/// One parameter of a provider function: Terraform checks an argument against `ty` and, as no
/// parameter here accepts null or unknown values, answers those itself without calling us.
pub struct FunctionParameter {
    pub name: &'static str,
    pub ty: Type,
    pub description: &'static str,
}

/// What Terraform learns about a provider function (Terraform 1.8+): its documentation, its
/// positional parameters and the type of its result.
pub struct FunctionSignature {
    pub summary: &'static str,
    pub description: &'static str,
    pub parameters: Vec<FunctionParameter>,
    pub returns: Type,
}

/// Why a function call failed; `argument` is the position of the argument at fault, which
/// Terraform points at in the configuration. The text must never echo an argument's value: a
/// sensitive value handed to a function by mistake would otherwise be printed.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<usize>,
}

/// A provider-defined function. Arguments are decoded with the parameter types and wholly known.
pub trait Function: Send + Sync {
    fn signature(&self) -> FunctionSignature;
    fn call(&self, arguments: &[Value]) -> Result<Value, FunctionError>;
}

/// The provider as the server sees it: its schema, its configuration, and its types by name.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    fn schema(&self) -> Schema;
    async fn validate_config(&self, config: &Value) -> Diagnostics;
    async fn configure(&self, request: ConfigureRequest) -> Diagnostics;
    fn resources(&self) -> BTreeMap<String, &dyn Resource>;
    fn data_sources(&self) -> BTreeMap<String, &dyn DataSource>;
    fn ephemeral_resources(&self) -> BTreeMap<String, &dyn EphemeralResource>;
    /// Provider functions by name (`provider::<provider>::<name>` in configurations).
    fn functions(&self) -> BTreeMap<String, &dyn Function> {
        BTreeMap::new()
    }
    /// List resources by type name (`list` blocks of `terraform query`).
    fn list_resources(&self) -> BTreeMap<String, &dyn ListResource> {
        BTreeMap::new()
    }
}
