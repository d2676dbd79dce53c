//! The tfplugin6 `Provider` service over our [`Provider`] trait.
//!
//! Every RPC decodes its values with the schema, calls the provider, and encodes the answer as
//! msgpack. The rules no resource may forget live here: write-only attributes are nulled in every
//! plan and state we return and refused on a Terraform that does not support them; unknown type
//! names are diagnostics; results that must be wholly known are checked; and StopProvider cancels
//! whatever is running.
//!
//! The steps every RPC shares are helpers, so a handler says only what is its own:
//! `ProviderService::with_config` (decode a configuration, call the provider unless stopped),
//! `Managed` (a resource type's decoding, encoding and identities) and `answer` (the response, or
//! one carrying the diagnostics that stopped the RPC).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert::{
    capabilities_from_proto, decode_dynamic, describe_problem, diagnostics_to_proto,
    encode_dynamic, function_error_to_proto, function_to_proto, identity_schema_to_proto,
    path_to_proto, schema_to_proto, timestamp_from_system_time,
};
use super::proto::tfplugin6 as pb;
use super::proto::tfplugin6::provider_server::ProviderServer;
use super::write_only::{null_write_only, refuse_unsupported};
use super::{
    ApplyRequest, ConfigureRequest, DataSource, EphemeralResource, FunctionError, ListRequest,
    ListResource, ListedObject, PlanRequest, Provider, ReadRequest, Resource,
};
use crate::diag::Diagnostics;
use crate::schema::Schema;
use crate::value::{self, Type, Value};

/// Terraform 1.0 accepts schemas up to 64 MiB; go SDKs allow 256 MiB both ways.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// The tonic service for `provider`, with the message size limits Terraform expects.
pub fn provider_server(provider: Arc<dyn Provider>) -> ProviderServer<ProviderService> {
    ProviderServer::new(ProviderService::new(provider))
        .max_decoding_message_size(MAX_MESSAGE_SIZE)
        .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

pub struct ProviderService {
    provider: Arc<dyn Provider>,
    /// Cancelled by StopProvider, then replaced so later requests run normally.
    stop: Mutex<CancellationToken>,
}

type RpcResult<T> = Result<Response<T>, Status>;

/// A result carrying error diagnostics instead of a value.
type Checked<T> = Result<T, Diagnostics>;

/// A tfplugin6 response that can carry diagnostics and nothing else: what an RPC answers when
/// it stops before it has anything else to say.
trait Answer: Default {
    fn set_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>);

    fn of_diagnostics(diagnostics: &Diagnostics) -> Self {
        let mut answer = Self::default();
        answer.set_diagnostics(diagnostics_to_proto(diagnostics));
        answer
    }
}

macro_rules! answers {
    ($($rpc:ident),* $(,)?) => {$(
        impl Answer for pb::$rpc::Response {
            fn set_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
                self.diagnostics = diagnostics;
            }
        }
    )*};
}

answers!(
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    validate_ephemeral_resource_config,
    validate_list_resource_config,
    configure_provider,
    upgrade_resource_identity,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    read_data_source,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
);

/// The response an RPC built, or one carrying only the diagnostics that stopped it.
async fn answer<R: Answer>(outcome: impl Future<Output = Checked<R>>) -> RpcResult<R> {
    let outcome = outcome.await;
    Ok(Response::new(
        outcome.unwrap_or_else(|errors| R::of_diagnostics(&errors)),
    ))
}

/// The response of an RPC that answers with diagnostics alone (validation, configuration).
async fn answer_diagnostics<R: Answer>(
    outcome: impl Future<Output = Checked<Diagnostics>>,
) -> RpcResult<R> {
    let diagnostics = outcome.await.unwrap_or_else(|errors| errors);
    Ok(Response::new(R::of_diagnostics(&diagnostics)))
}

impl ProviderService {
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        ProviderService {
            provider,
            stop: Mutex::new(CancellationToken::new()),
        }
    }

    fn stop_token(&self) -> CancellationToken {
        self.stop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Runs provider work unless StopProvider cancels it first.
    async fn cancellable<T>(&self, work: impl Future<Output = T>) -> Checked<T> {
        let token = self.stop_token();
        tokio::select! {
            result = work => Ok(result),
            () = token.cancelled() => Err(Diagnostics::of_error(
                "Operation Cancelled",
                "Terraform asked the provider to stop (for example after Ctrl-C), so this \
                 operation was abandoned before it finished. Run the command again to \
                 complete it; check the remote object if it was being changed.",
            )),
        }
    }

    /// Decodes a configuration with `schema` and hands it to `call`, unless StopProvider
    /// cancels the call first.
    async fn with_config<T>(
        &self,
        schema: &Schema,
        config: Option<&pb::DynamicValue>,
        call: impl AsyncFnOnce(Value) -> T,
    ) -> Checked<T> {
        let config = decode_dynamic(config, &schema.value_type(), "configuration")?;
        self.cancellable(call(config)).await
    }

    fn resource(&self, type_name: &str) -> Checked<&dyn Resource> {
        self.provider
            .resources()
            .remove(type_name)
            .ok_or_else(|| unknown_type("resource type", type_name))
    }

    fn managed<'a>(&'a self, type_name: &'a str) -> Checked<Managed<'a>> {
        let resource = self.resource(type_name)?;
        let schema = resource.schema();
        Ok(Managed {
            resource,
            ty: schema.value_type(),
            schema,
            type_name,
        })
    }

    fn data_source(&self, type_name: &str) -> Checked<&dyn DataSource> {
        self.provider
            .data_sources()
            .remove(type_name)
            .ok_or_else(|| unknown_type("data source", type_name))
    }

    fn list_resource(&self, type_name: &str) -> Checked<&dyn ListResource> {
        self.provider
            .list_resources()
            .remove(type_name)
            .ok_or_else(|| unknown_type("list resource type", type_name))
    }

    /// The events of one `ListResource` call: an event per object, or one event carrying the
    /// diagnostics (Terraform stops reading at the first error).
    async fn list_events(
        &self,
        request: pb::list_resource::Request,
    ) -> Vec<pb::list_resource::Event> {
        let outcome = async {
            let list = self.list_resource(&request.type_name)?;
            let managed = self.managed(&request.type_name)?;
            let limit = usize::try_from(request.limit.max(0)).unwrap_or(usize::MAX);
            let include_resource = request.include_resource_object;
            let (objects, diagnostics) = self
                .with_config(&list.schema(), request.config.as_ref(), async |config| {
                    list.list(ListRequest {
                        config,
                        include_resource,
                        limit,
                    })
                    .await
                })
                .await?;
            let objects = objects
                .into_iter()
                .take(limit)
                .map(|object| managed.listed(object))
                .collect::<Checked<Vec<_>>>()?;
            Ok((objects, diagnostics))
        }
        .await;
        match outcome {
            Ok((mut events, diagnostics)) => {
                if !diagnostics.is_empty() {
                    events.push(pb::list_resource::Event {
                        diagnostic: diagnostics_to_proto(&diagnostics),
                        ..Default::default()
                    });
                }
                events
            }
            Err(errors) => vec![pb::list_resource::Event {
                diagnostic: diagnostics_to_proto(&errors),
                ..Default::default()
            }],
        }
    }

    fn ephemeral_resource(&self, type_name: &str) -> Checked<&dyn EphemeralResource> {
        self.provider
            .ephemeral_resources()
            .remove(type_name)
            .ok_or_else(|| unknown_type("ephemeral resource type", type_name))
    }

    fn function_signatures(&self) -> std::collections::HashMap<String, pb::Function> {
        self.provider
            .functions()
            .into_iter()
            .map(|(name, function)| (name, function_to_proto(&function.signature())))
            .collect()
    }

    /// Decodes the arguments with the parameter types, calls the function and encodes its
    /// result. Terraform checked the argument count and types already; a mismatch here is a
    /// disagreement about the signature, answered as a function error.
    fn call(
        &self,
        name: &str,
        arguments: &[pb::DynamicValue],
    ) -> Result<pb::DynamicValue, FunctionError> {
        let functions = self.provider.functions();
        let function = functions.get(name).ok_or_else(|| FunctionError {
            text: format!(
                "This provider has no function named {name:?}. Check the spelling, or upgrade the \
                 provider if the function is newer than this version."
            ),
            argument: None,
        })?;
        let signature = function.signature();
        if arguments.len() != signature.parameters.len() {
            return Err(FunctionError {
                text: format!(
                    "The function {name} takes {} arguments, and Terraform sent {}.",
                    signature.parameters.len(),
                    arguments.len()
                ),
                argument: None,
            });
        }
        let decoded = arguments
            .iter()
            .zip(&signature.parameters)
            .enumerate()
            .map(|(index, (argument, parameter))| {
                decode_dynamic(Some(argument), &parameter.ty, "argument")
                    .ok()
                    .filter(Value::is_wholly_known)
                    .ok_or_else(|| FunctionError {
                        text: format!(
                            "The argument `{}` of {name} is not a known value of type {}.",
                            parameter.name,
                            parameter.ty.to_json()
                        ),
                        argument: Some(index),
                    })
            })
            .collect::<Result<Vec<Value>, FunctionError>>()?;
        let result = function.call(&decoded)?;
        encode_dynamic(&result, &signature.returns, "function result").map_err(|_| FunctionError {
            text: format!(
                "The function {name} built a result that does not match its own return type. \
                     This is a bug in the provider; please report it."
            ),
            argument: None,
        })
    }

    fn server_capabilities() -> pb::ServerCapabilities {
        pb::ServerCapabilities {
            // Terraform 1.3 and later then ask us to plan a destroy too, which lets the plan warn
            // of a destroy the apply will refuse (keys in use); Terraform 1.0 never asks.
            plan_destroy: true,
            // Terraform fetches the schema per process; computing it is cheap.
            get_provider_schema_optional: false,
            move_resource_state: false,
            generate_resource_config: false,
        }
    }
}

/// A managed resource type as one RPC serves it: the provider's implementation, its schema
/// and the type name Terraform asked for.
struct Managed<'a> {
    resource: &'a dyn Resource,
    schema: Schema,
    ty: Type,
    type_name: &'a str,
}

/// A state or plan a resource returned, as the response carries it.
struct Returned {
    state: Option<pb::DynamicValue>,
    identity: Option<pb::ResourceIdentityData>,
    diagnostics: Vec<pb::Diagnostic>,
}

impl Managed<'_> {
    /// Decodes a state, plan or configuration Terraform sent.
    fn decode(&self, value: Option<&pb::DynamicValue>, what: &str) -> Checked<Value> {
        decode_dynamic(value, &self.ty, what)
    }

    /// Nulls write-only attributes and encodes a state or plan of the resource.
    fn encode(
        &self,
        mut state: Value,
        what: &str,
        require_known: bool,
    ) -> Checked<pb::DynamicValue> {
        null_write_only(&mut state, &self.schema.block.attributes);
        if require_known {
            encode_known(&state, &self.ty, what, self.type_name)
        } else {
            encode_dynamic(&state, &self.ty, what)
        }
    }

    /// `state` encoded (write-only attributes nulled; refused unless wholly known when
    /// `require_known`) with its identity, and the resource's diagnostics with any refusal.
    fn returned(
        &self,
        state: Value,
        what: &str,
        require_known: bool,
        diagnostics: Diagnostics,
    ) -> Returned {
        let identity = identity_data(self.resource, &state);
        let (state, diagnostics) = finish(diagnostics, self.encode(state, what, require_known));
        Returned {
            state,
            identity,
            diagnostics,
        }
    }

    /// One listed object as Terraform reads it: the identity encoded with the resource's
    /// identity schema, the resource object (write-only attributes nulled, wholly known) when
    /// there is one.
    fn listed(&self, object: ListedObject) -> Checked<pb::list_resource::Event> {
        let identity_type = self
            .resource
            .identity_schema()
            .map(|identity| identity.value_type())
            .ok_or_else(|| unknown_type("resource type with identity", self.type_name))?;
        let identity = encode_known(&object.identity, &identity_type, "identity", self.type_name)?;
        let resource_object = object
            .resource
            .map(|state| self.encode(state, "resource object", true))
            .transpose()?;
        Ok(pb::list_resource::Event {
            identity: Some(pb::ResourceIdentityData {
                identity_data: Some(identity),
            }),
            display_name: object.display_name,
            resource_object,
            diagnostic: Vec::new(),
        })
    }
}

fn unknown_type(kind: &str, type_name: &str) -> Diagnostics {
    Diagnostics::of_error(
        format!("Unknown {}", title_case(kind)),
        format!(
            "This provider has no {kind} named {type_name:?}. Check the spelling in the \
             configuration, or upgrade the provider if the type is newer than this version."
        ),
    )
}

fn title_case(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A provider bug caught before it reaches Terraform: a result that must be wholly known is not.
fn require_wholly_known(value: &Value, what: &str, type_name: &str) -> Checked<()> {
    if value.is_wholly_known() {
        return Ok(());
    }
    Err(Diagnostics::of_error(
        "Provider Returned Unknown Values",
        format!(
            "The provider returned a {what} for {type_name} that still holds unknown values, \
             which Terraform cannot store. This is a bug in the provider; please report it."
        ),
    ))
}

/// Encodes a result that must be wholly known.
fn encode_known(
    value: &Value,
    ty: &Type,
    what: &str,
    type_name: &str,
) -> Checked<pb::DynamicValue> {
    require_wholly_known(value, what, type_name)?;
    encode_dynamic(value, ty, what)
}

/// Merges provider diagnostics and an outcome into the diagnostics a response carries.
fn finish<T>(
    mut diagnostics: Diagnostics,
    outcome: Checked<T>,
) -> (Option<T>, Vec<pb::Diagnostic>) {
    let value = match outcome {
        Ok(value) => Some(value),
        Err(errors) => {
            diagnostics.extend(errors);
            None
        }
    };
    (value, diagnostics_to_proto(&diagnostics))
}

/// The identity of the object `state` describes, for Terraform 1.12+: `None` for a resource
/// without identity, a null state, or an identity not wholly known yet (a create whose tenant
/// the provider cannot tell).
fn identity_data(resource: &dyn Resource, state: &Value) -> Option<pb::ResourceIdentityData> {
    let schema = resource.identity_schema()?;
    if state.is_null() {
        return None;
    }
    let identity = resource.identity(state).filter(Value::is_wholly_known)?;
    let encoded = encode_dynamic(&identity, &schema.value_type(), "identity").ok()?;
    Some(pb::ResourceIdentityData {
        identity_data: Some(encoded),
    })
}

/// The import id an `import` block's identity stands for; a diagnostic naming the fix otherwise.
fn import_id_of_identity(
    resource: &dyn Resource,
    identity: &pb::ResourceIdentityData,
    type_name: &str,
) -> Checked<String> {
    let refuse = |why: &str| {
        Diagnostics::of_error(
            "Invalid Import Identity",
            format!(
                "The identity given to import {type_name} {why}. Give every attribute of its \
                 identity (`terraform providers schema -json` lists them), or import by id."
            ),
        )
    };
    let schema = resource
        .identity_schema()
        .ok_or_else(|| refuse("cannot be used: this resource type has no identity"))?;
    let value = decode_dynamic(
        identity.identity_data.as_ref(),
        &schema.value_type(),
        "import identity",
    )?;
    resource
        .import_id(&value)
        .ok_or_else(|| refuse("lacks an attribute or holds an empty one"))
}

/// Logs an RPC as it starts and, with the time it took, as it ends: a debug log then shows how
/// much of a slow run was spent in the provider and how much in Terraform between RPCs.
#[must_use = "the RPC is logged as served when this is dropped"]
struct RpcLog {
    rpc: &'static str,
    type_name: String,
    started: Instant,
}

fn log_rpc(rpc: &'static str, type_name: &str) -> RpcLog {
    tracing::debug!(
        tf_rpc = rpc,
        tf_resource_type = type_name,
        "serving request"
    );
    RpcLog {
        rpc,
        type_name: type_name.to_owned(),
        started: Instant::now(),
    }
}

impl Drop for RpcLog {
    fn drop(&mut self) {
        let micros = self.started.elapsed().as_micros();
        tracing::debug!(
            tf_rpc = self.rpc,
            tf_resource_type = self.type_name.as_str(),
            elapsed_ms = micros as f64 / 1000.0,
            "served request"
        );
    }
}

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        let _logged = log_rpc("GetMetadata", "");
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(Self::server_capabilities()),
            diagnostics: Vec::new(),
            data_sources: self
                .provider
                .data_sources()
                .into_keys()
                .map(|type_name| pb::get_metadata::DataSourceMetadata { type_name })
                .collect(),
            resources: self
                .provider
                .resources()
                .into_keys()
                .map(|type_name| pb::get_metadata::ResourceMetadata { type_name })
                .collect(),
            functions: self
                .provider
                .functions()
                .into_keys()
                .map(|name| pb::get_metadata::FunctionMetadata { name })
                .collect(),
            ephemeral_resources: self
                .provider
                .ephemeral_resources()
                .into_keys()
                .map(|type_name| pb::get_metadata::EphemeralMetadata { type_name })
                .collect(),
            list_resources: self
                .provider
                .list_resources()
                .into_keys()
                .map(|type_name| pb::get_metadata::ListResourceMetadata { type_name })
                .collect(),
            state_stores: Vec::new(),
            actions: Vec::new(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        let _logged = log_rpc("GetProviderSchema", "");
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema_to_proto(&self.provider.schema())),
            resource_schemas: self
                .provider
                .resources()
                .into_iter()
                .map(|(name, resource)| (name, schema_to_proto(&resource.schema())))
                .collect(),
            data_source_schemas: self
                .provider
                .data_sources()
                .into_iter()
                .map(|(name, data_source)| (name, schema_to_proto(&data_source.schema())))
                .collect(),
            ephemeral_resource_schemas: self
                .provider
                .ephemeral_resources()
                .into_iter()
                .map(|(name, ephemeral)| (name, schema_to_proto(&ephemeral.schema())))
                .collect(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities: Some(Self::server_capabilities()),
            functions: self.function_signatures(),
            list_resource_schemas: self
                .provider
                .list_resources()
                .into_iter()
                .map(|(name, list)| (name, schema_to_proto(&list.schema())))
                .collect(),
            state_store_schemas: Default::default(),
            action_schemas: Default::default(),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        let _logged = log_rpc("GetResourceIdentitySchemas", "");
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .provider
                .resources()
                .into_iter()
                .filter_map(|(name, resource)| {
                    let schema = resource.identity_schema()?;
                    Some((name, identity_schema_to_proto(&schema)))
                })
                .collect(),
            diagnostics: Vec::new(),
        }))
    }

    /// Identities have had one version so far: an identity stored by it is decoded with the
    /// current schema and handed back; any other version is refused.
    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("UpgradeResourceIdentity", &request.type_name);
        let type_name = &request.type_name;
        answer(async {
            let resource = self.resource(type_name)?;
            let schema = resource
                .identity_schema()
                .ok_or_else(|| unknown_type("resource type with identity", type_name))?;
            if request.version != schema.version {
                return Err(Diagnostics::of_error(
                    "Unsupported Identity Version",
                    format!(
                        "The state holds an identity of {type_name} written with identity \
                         version {}, which this provider does not know (it writes version {}). \
                         Use the provider version that wrote it, or remove the resource from \
                         state and import it again.",
                        request.version, schema.version
                    ),
                ));
            }
            let raw = request.raw_identity.map(|raw| raw.json).unwrap_or_default();
            let ty = schema.value_type();
            let invalid = |problem: String| {
                Diagnostics::of_error(
                    "Invalid Stored Identity",
                    format!(
                        "The identity of {type_name} in state {problem}. Remove the resource \
                         from state and import it again."
                    ),
                )
            };
            let identity = value::decode_json(&raw, &ty).map_err(|error| {
                invalid(format!(
                    "does not match its schema: {}",
                    describe_problem(&error.message, &error.path)
                ))
            })?;
            // Every attribute names the object: one missing or empty names nothing.
            if resource.import_id(&identity).is_none() {
                return Err(invalid(
                    "lacks an attribute or holds an empty one".to_owned(),
                ));
            }
            Ok(pb::upgrade_resource_identity::Response {
                upgraded_identity: Some(pb::ResourceIdentityData {
                    identity_data: Some(encode_dynamic(&identity, &ty, "identity")?),
                }),
                diagnostics: Vec::new(),
            })
        })
        .await
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        let _logged = log_rpc("GetFunctions", "");
        Ok(Response::new(pb::get_functions::Response {
            functions: self.function_signatures(),
            diagnostics: Vec::new(),
        }))
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("CallFunction", &request.name);
        let answer = match self.call(&request.name, &request.arguments) {
            Ok(result) => pb::call_function::Response {
                result: Some(result),
                error: None,
            },
            Err(error) => pb::call_function::Response {
                result: None,
                error: Some(function_error_to_proto(error)),
            },
        };
        Ok(Response::new(answer))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let _logged = log_rpc("ValidateProviderConfig", "");
        let request = request.into_inner();
        let provider = &self.provider;
        answer_diagnostics(self.with_config(
            &provider.schema(),
            request.config.as_ref(),
            async |config| provider.validate_config(&config).await,
        ))
        .await
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ValidateResourceConfig", &request.type_name);
        let capabilities = capabilities_from_proto(request.client_capabilities.as_ref());
        answer_diagnostics(async {
            let resource = self.resource(&request.type_name)?;
            let schema = resource.schema();
            self.with_config(&schema, request.config.as_ref(), async |config| {
                let mut diagnostics = if capabilities.write_only_attributes_allowed {
                    Diagnostics::new()
                } else {
                    refuse_unsupported(&config, &schema.block.attributes)
                };
                diagnostics.extend(resource.validate(&config, capabilities).await);
                diagnostics
            })
            .await
        })
        .await
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ValidateDataResourceConfig", &request.type_name);
        answer_diagnostics(async {
            let data_source = self.data_source(&request.type_name)?;
            self.with_config(
                &data_source.schema(),
                request.config.as_ref(),
                async |config| data_source.validate(&config).await,
            )
            .await
        })
        .await
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("UpgradeResourceState", &request.type_name);
        let type_name = &request.type_name;
        let mut warnings = Diagnostics::new();
        let outcome = (|| {
            let managed = self.managed(type_name)?;
            let raw = request.raw_state.unwrap_or_default();
            let state = if !raw.json.is_empty() && request.version != managed.schema.version {
                // An older schema's state is the resource's to read: decoding it with the
                // current schema could fail, or worse, succeed with another meaning.
                let (upgraded, said) = managed.resource.upgrade(request.version, &raw.json)?;
                warnings = said;
                upgraded
            } else if !raw.json.is_empty() {
                // Decoded with the current schema, leniently, so older attribute sets load.
                value::decode_json(&raw.json, &managed.ty).map_err(|error| {
                    Diagnostics::of_error(
                        "Unreadable Stored State",
                        format!(
                            "The state stored for this {type_name} cannot be read with this \
                             provider's schema: {}. Remove the resource from state and import \
                             it again.",
                            describe_problem(&error.message, &error.path)
                        ),
                    )
                })?
            } else if !raw.flatmap.is_empty() {
                return Err(Diagnostics::of_error(
                    "Legacy State Format Not Supported",
                    "The state for this resource is in the flatmap format of Terraform 0.11 and \
                     earlier, which this provider never wrote. Remove the resource from state \
                     and import it again.",
                ));
            } else {
                Value::Null
            };
            managed.encode(state, "upgraded state", false)
        })();
        let (upgraded_state, diagnostics) = finish(warnings, outcome);
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics,
        }))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let _logged = log_rpc("ConfigureProvider", "");
        let request = request.into_inner();
        let provider = &self.provider;
        let terraform_version = request.terraform_version;
        let capabilities = capabilities_from_proto(request.client_capabilities.as_ref());
        answer_diagnostics(self.with_config(
            &provider.schema(),
            request.config.as_ref(),
            async |config| {
                let configure = ConfigureRequest {
                    terraform_version,
                    config,
                    capabilities,
                };
                provider.configure(configure).await
            },
        ))
        .await
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ReadResource", &request.type_name);
        answer(async {
            let managed = self.managed(&request.type_name)?;
            let read = ReadRequest {
                current_state: managed.decode(request.current_state.as_ref(), "current state")?,
                private: request.private,
            };
            let response = self.cancellable(managed.resource.read(read)).await?;
            let new = managed.returned(response.new_state, "state", true, response.diagnostics);
            Ok(pb::read_resource::Response {
                new_state: new.state,
                diagnostics: new.diagnostics,
                private: response.private,
                deferred: None,
                new_identity: new.identity,
            })
        })
        .await
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("PlanResourceChange", &request.type_name);
        answer(async {
            let managed = self.managed(&request.type_name)?;
            let plan = PlanRequest {
                prior_state: managed.decode(request.prior_state.as_ref(), "prior state")?,
                proposed_new_state: managed
                    .decode(request.proposed_new_state.as_ref(), "proposed new state")?,
                config: managed.decode(request.config.as_ref(), "configuration")?,
                prior_private: request.prior_private,
            };
            let response = self.cancellable(managed.resource.plan(plan)).await?;
            let planned = managed.returned(
                response.planned_state,
                "planned state",
                false,
                response.diagnostics,
            );
            Ok(pb::plan_resource_change::Response {
                planned_state: planned.state,
                requires_replace: response
                    .requires_replace
                    .iter()
                    .map(path_to_proto)
                    .collect(),
                planned_private: response.planned_private,
                diagnostics: planned.diagnostics,
                legacy_type_system: false,
                deferred: None,
                planned_identity: planned.identity,
            })
        })
        .await
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ApplyResourceChange", &request.type_name);
        answer(async {
            let managed = self.managed(&request.type_name)?;
            let apply = ApplyRequest {
                prior_state: managed.decode(request.prior_state.as_ref(), "prior state")?,
                planned_state: managed.decode(request.planned_state.as_ref(), "planned state")?,
                config: managed.decode(request.config.as_ref(), "configuration")?,
                planned_private: request.planned_private,
            };
            // Not cancellable: an apply abandoned between two API writes would leave a
            // remote object that no state records. Its writes are short and bounded by the
            // client's timeouts, so Terraform waits for them after Ctrl-C.
            let response = managed.resource.apply(apply).await;
            let new = managed.returned(response.new_state, "new state", true, response.diagnostics);
            Ok(pb::apply_resource_change::Response {
                new_state: new.state,
                private: response.private,
                diagnostics: new.diagnostics,
                legacy_type_system: false,
                new_identity: new.identity,
            })
        })
        .await
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ImportResourceState", &request.type_name);
        let type_name = &request.type_name;
        answer(async {
            let managed = self.managed(type_name)?;
            let id = match &request.identity {
                // An `import` block with `identity = { … }` (Terraform 1.12+) sends no id.
                Some(identity) if request.id.is_empty() => {
                    import_id_of_identity(managed.resource, identity, type_name)?
                }
                _ => request.id.clone(),
            };
            let response = self.cancellable(managed.resource.import(&id)).await?;
            let mut diagnostics = response.diagnostics;
            let mut imported = Vec::new();
            for (state, private) in response.states {
                let identity = identity_data(managed.resource, &state);
                match managed.encode(state, "imported state", true) {
                    Ok(state) => imported.push(pb::import_resource_state::ImportedResource {
                        type_name: type_name.clone(),
                        state: Some(state),
                        private,
                        identity,
                    }),
                    Err(errors) => diagnostics.extend(errors),
                }
            }
            if diagnostics.has_errors() {
                imported.clear();
            }
            Ok(pb::import_resource_state::Response {
                imported_resources: imported,
                diagnostics: diagnostics_to_proto(&diagnostics),
                deferred: None,
            })
        })
        .await
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ReadDataSource", &request.type_name);
        answer(async {
            let data_source = self.data_source(&request.type_name)?;
            let schema = data_source.schema();
            let (state, diagnostics) = self
                .with_config(&schema, request.config.as_ref(), async |config| {
                    data_source.read(config).await
                })
                .await?;
            let encoded = encode_known(&state, &schema.value_type(), "state", &request.type_name);
            let (state, diagnostics) = finish(diagnostics, encoded);
            Ok(pb::read_data_source::Response {
                state,
                diagnostics,
                deferred: None,
            })
        })
        .await
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ValidateEphemeralResourceConfig", &request.type_name);
        answer_diagnostics(async {
            let ephemeral = self.ephemeral_resource(&request.type_name)?;
            self.with_config(
                &ephemeral.schema(),
                request.config.as_ref(),
                async |config| ephemeral.validate(&config).await,
            )
            .await
        })
        .await
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("OpenEphemeralResource", &request.type_name);
        let capabilities = capabilities_from_proto(request.client_capabilities.as_ref());
        answer(async {
            let ephemeral = self.ephemeral_resource(&request.type_name)?;
            let schema = ephemeral.schema();
            let response = self
                .with_config(&schema, request.config.as_ref(), async |config| {
                    ephemeral.open(config, capabilities).await
                })
                .await?;
            let encoded = encode_known(
                &response.result,
                &schema.value_type(),
                "result",
                &request.type_name,
            );
            let (result, diagnostics) = finish(response.diagnostics, encoded);
            let opened = result.is_some();
            Ok(pb::open_ephemeral_resource::Response {
                diagnostics,
                renew_at: response
                    .renew_at
                    .filter(|_| opened)
                    .map(timestamp_from_system_time),
                result,
                private: Some(response.private).filter(|p| opened && !p.is_empty()),
                deferred: None,
            })
        })
        .await
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("RenewEphemeralResource", &request.type_name);
        answer(async {
            let ephemeral = self.ephemeral_resource(&request.type_name)?;
            let private = request.private.unwrap_or_default();
            let response = self.cancellable(ephemeral.renew(private)).await?;
            Ok(pb::renew_ephemeral_resource::Response {
                diagnostics: diagnostics_to_proto(&response.diagnostics),
                renew_at: response.renew_at.map(timestamp_from_system_time),
                private: Some(response.private).filter(|p| !p.is_empty()),
            })
        })
        .await
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("CloseEphemeralResource", &request.type_name);
        answer_diagnostics(async {
            let ephemeral = self.ephemeral_resource(&request.type_name)?;
            let private = request.private.unwrap_or_default();
            self.cancellable(ephemeral.close(private)).await
        })
        .await
    }

    async fn validate_list_resource_config(
        &self,
        request: Request<pb::validate_list_resource_config::Request>,
    ) -> RpcResult<pb::validate_list_resource_config::Response> {
        let request = request.into_inner();
        let _logged = log_rpc("ValidateListResourceConfig", &request.type_name);
        answer_diagnostics(async {
            let list = self.list_resource(&request.type_name)?;
            self.with_config(&list.schema(), request.config.as_ref(), async |config| {
                list.validate(&config).await
            })
            .await
        })
        .await
    }

    /// Server-streaming: every page is read before the first event goes out, so an error midway
    /// lists nothing rather than a part that looks whole.
    async fn list_resource(
        &self,
        request: Request<pb::list_resource::Request>,
    ) -> RpcResult<tonic::codegen::BoxStream<pb::list_resource::Event>> {
        let request = request.into_inner();
        let _logged = log_rpc("ListResource", &request.type_name);
        let events = self.list_events(request).await;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            events.into_iter().map(Ok),
        ))))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        let _logged = log_rpc("StopProvider", "");
        // Cancel what runs now; requests arriving later get a fresh token and run normally.
        let previous = std::mem::take(
            &mut *self
                .stop
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        previous.cancel();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_type_names_say_what_was_asked_for() {
        let diagnostics = unknown_type("data source", "truefoundry_nope");
        let diagnostic = diagnostics.iter().next().unwrap();
        assert_eq!(diagnostic.summary, "Unknown Data Source");
        assert!(diagnostic.detail.contains("\"truefoundry_nope\""));
    }

    #[test]
    fn partially_unknown_results_are_refused() {
        let known = Value::Object([("a".to_owned(), Value::string("x"))].into());
        assert!(require_wholly_known(&known, "state", "t").is_ok());
        let unknown = Value::Object([("a".to_owned(), Value::Unknown)].into());
        let errors = require_wholly_known(&unknown, "state", "t").unwrap_err();
        assert!(errors.has_errors());
    }

    #[test]
    fn function_calls_are_decoded_checked_and_encoded() {
        let service = ProviderService::new(Arc::new(crate::provider::TrueFoundryProvider::new()));
        let argument = |text: &str| encode_dynamic(&Value::string(text), &value::Type::String, "t");
        let group = argument("acme:payments").unwrap();
        let key = argument("DB").unwrap();

        let result = service
            .call("secret_fqn", &[group.clone(), key.clone()])
            .unwrap();
        let decoded = decode_dynamic(Some(&result), &value::Type::String, "t").unwrap();
        assert_eq!(decoded, Value::string("tfy-secret://acme:payments:DB"));

        let unknown_name = service.call("secret_fqns", &[]).unwrap_err();
        assert_eq!(unknown_name.argument, None);
        assert!(
            unknown_name
                .text
                .contains("no function named \"secret_fqns\"")
        );
        let too_few = service
            .call("secret_fqn", std::slice::from_ref(&group))
            .unwrap_err();
        assert!(
            too_few.text.contains("takes 2 arguments"),
            "{}",
            too_few.text
        );
        let not_a_string = encode_dynamic(&Value::Bool(true), &value::Type::Bool, "t").unwrap();
        let wrong_type = service
            .call("secret_fqn", &[group, not_a_string])
            .unwrap_err();
        assert_eq!(wrong_type.argument, Some(1), "{}", wrong_type.text);
    }

    #[tokio::test]
    async fn identity_schemas_list_both_resources_and_version_0_upgrades_as_is() {
        use pb::provider_server::Provider as _;
        let service = ProviderService::new(Arc::new(crate::provider::TrueFoundryProvider::new()));
        let schemas = service
            .get_resource_identity_schemas(Request::new(Default::default()))
            .await
            .unwrap()
            .into_inner()
            .identity_schemas;
        let names = |type_name: &str| -> Vec<String> {
            schemas[type_name]
                .identity_attributes
                .iter()
                .map(|attribute| attribute.name.clone())
                .collect()
        };
        assert_eq!(names("truefoundry_secret_group"), ["tenant", "name"]);
        assert_eq!(names("truefoundry_secret"), ["tenant", "group", "key"]);

        let upgrade = |version: i64, json: &str| pb::upgrade_resource_identity::Request {
            type_name: "truefoundry_secret_group".to_owned(),
            version,
            raw_identity: Some(pb::RawState {
                json: json.as_bytes().to_vec(),
                flatmap: Default::default(),
            }),
        };
        let stored = r#"{"tenant":"acme","name":"payments"}"#;
        let upgraded = service
            .upgrade_resource_identity(Request::new(upgrade(0, stored)))
            .await
            .unwrap()
            .into_inner();
        assert!(
            upgraded.diagnostics.is_empty(),
            "{:?}",
            upgraded.diagnostics
        );
        let ty = crate::provider::resources::resource_identity::group_schema().value_type();
        let data = upgraded.upgraded_identity.unwrap().identity_data;
        assert_eq!(
            decode_dynamic(data.as_ref(), &ty, "t").unwrap(),
            Value::object([
                ("tenant", Value::string("acme")),
                ("name", Value::string("payments"))
            ])
        );
        for (version, json) in [(1, stored), (0, r#"{"tenant":"acme"}"#)] {
            let refused = service
                .upgrade_resource_identity(Request::new(upgrade(version, json)))
                .await
                .unwrap()
                .into_inner();
            assert!(refused.upgraded_identity.is_none());
            assert_eq!(refused.diagnostics.len(), 1, "version {version}: {json}");
        }
    }
}
