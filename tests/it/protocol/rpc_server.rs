//! Every implemented RPC of the plugin server against a fake provider served in-process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use truefoundry_provider::diag::{AttributePath, Diagnostics, Severity};
use truefoundry_provider::schema::{Attribute, Schema};
use truefoundry_provider::server::proto::tfplugin6 as pb;
use truefoundry_provider::server::{
    self, ApplyRequest, ApplyResponse, ClientCapabilities, ConfigureRequest, ImportResponse,
    OpenEphemeralResponse, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
    RenewEphemeralResponse,
};
use truefoundry_provider::value::{Type, Value};

use crate::support::canaries::assert_no_canary_in_diagnostics;
use crate::support::tfclient::{ImitatedTerraform, TfClient, encode};

// ---------------------------------------------------------------------------------------------
// A fake provider: one resource, one data source, one ephemeral resource
// ---------------------------------------------------------------------------------------------

const THING: &str = "fake_thing";
const LOOKUP: &str = "fake_lookup";
const TOKEN: &str = "fake_token";
/// Planning a thing with this name blocks until cancelled.
const SLOW: &str = "slow";
/// Applying a thing with this name returns a state with an unknown id (a provider bug).
const SLOPPY: &str = "sloppy";
/// Must never appear in a diagnostic.
const CANARY: &str = "canary-s3cr3t-value";

/// `map(string)`, as the real resource's secret maps are.
fn string_map_type() -> Type {
    Type::Map(Box::new(Type::String))
}

fn thing_schema() -> Schema {
    Schema::new(
        1,
        "A thing with secrets.",
        vec![
            Attribute::required("name", Type::String, "Name."),
            Attribute::optional("secrets", string_map_type(), "Stored values by key.").sensitive(),
            Attribute::optional("secrets_wo", string_map_type(), "Never stored.")
                .sensitive()
                .write_only(),
            Attribute::optional("count", Type::Number, "A number."),
            Attribute::computed("id", Type::String, "Server id."),
        ],
    )
}

fn lookup_schema() -> Schema {
    Schema::new(
        0,
        "Looks a thing up.",
        vec![
            Attribute::required("name", Type::String, "Name."),
            Attribute::computed("id", Type::String, "Id."),
        ],
    )
}

fn token_schema() -> Schema {
    Schema::new(
        0,
        "A short-lived token.",
        vec![
            Attribute::required("name", Type::String, "Name."),
            Attribute::computed("token", Type::String, "Token.").sensitive(),
        ],
    )
}

#[derive(Default)]
struct Seen {
    configure: Option<(String, ClientCapabilities)>,
    validate_capabilities: Option<ClientCapabilities>,
    apply_config: Option<Value>,
}

#[derive(Default)]
struct FakeThing {
    seen: Arc<Mutex<Seen>>,
    slow_started: Arc<Notify>,
}

/// Copies the config's write-only values into `target`, as a careless resource might: the
/// server must null them anyway.
fn leak_write_only(target: &mut Value, config: &Value) {
    if !target.is_null() {
        target.set("secrets_wo", config.get("secrets_wo").clone());
    }
}

#[async_trait::async_trait]
impl server::Resource for FakeThing {
    fn schema(&self) -> Schema {
        thing_schema()
    }

    async fn validate(&self, config: &Value, capabilities: ClientCapabilities) -> Diagnostics {
        self.seen.lock().unwrap().validate_capabilities = Some(capabilities);
        let mut diagnostics = Diagnostics::new();
        if config.get("name").as_str() == Some("") {
            diagnostics.error_at(
                AttributePath::root("name"),
                "Empty Name",
                "Give the thing a name.",
            );
        }
        diagnostics
    }

    async fn read(&self, request: ReadRequest) -> ReadResponse {
        let mut new_state = request.current_state.clone();
        // A resource that reads a write-only value back must not get it into state.
        if !new_state.is_null() {
            new_state.set("secrets_wo", string_map(&[("A", CANARY)]));
        }
        ReadResponse {
            new_state,
            private: request.private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn plan(&self, request: PlanRequest) -> PlanResponse {
        if request.config.get("name").as_str() == Some(SLOW) {
            self.slow_started.notify_one();
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let mut planned = request.proposed_new_state.clone();
        if planned.get("id").is_null() {
            planned.set("id", Value::Unknown);
        }
        leak_write_only(&mut planned, &request.config);
        let mut requires_replace = Vec::new();
        if !request.prior_state.is_null()
            && request.prior_state.get("name") != request.config.get("name")
        {
            requires_replace.push(AttributePath::root("name"));
        }
        PlanResponse {
            planned_state: planned,
            requires_replace,
            planned_private: b"planned".to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        self.seen.lock().unwrap().apply_config = Some(request.config.clone());
        if request.planned_state.is_null() {
            return ApplyResponse::default();
        }
        let mut new_state = request.planned_state.clone();
        let name = new_state
            .get("name")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if name != SLOPPY {
            new_state.set("id", Value::string(format!("id-{name}")));
        }
        leak_write_only(&mut new_state, &request.config);
        ApplyResponse {
            new_state,
            private: request.planned_private,
            diagnostics: Diagnostics::new(),
        }
    }

    async fn import(&self, id: &str) -> ImportResponse {
        let state = object(&[
            ("name", Value::string(id)),
            ("secrets", string_map(&[("K", "v")])),
            ("secrets_wo", string_map(&[("K", CANARY)])),
            ("count", Value::Null),
            ("id", Value::string(format!("id-{id}"))),
        ]);
        ImportResponse {
            states: vec![(state, b"imported".to_vec())],
            diagnostics: Diagnostics::new(),
        }
    }
}

struct FakeLookup;

#[async_trait::async_trait]
impl server::DataSource for FakeLookup {
    fn schema(&self) -> Schema {
        lookup_schema()
    }

    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn read(&self, mut config: Value) -> (Value, Diagnostics) {
        let name = config.get("name").as_str().unwrap_or_default().to_owned();
        let id = if name == SLOPPY {
            Value::Unknown
        } else {
            Value::string(format!("ds-{name}"))
        };
        config.set("id", id);
        (config, Diagnostics::new())
    }
}

struct FakeToken;

#[async_trait::async_trait]
impl server::EphemeralResource for FakeToken {
    fn schema(&self) -> Schema {
        token_schema()
    }

    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    async fn open(
        &self,
        mut config: Value,
        _capabilities: ClientCapabilities,
    ) -> OpenEphemeralResponse {
        let name = config.get("name").as_str().unwrap_or_default().to_owned();
        config.set("token", Value::string(format!("tok-{name}")));
        OpenEphemeralResponse {
            result: config,
            private: format!("lease-{name}").into_bytes(),
            renew_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn renew(&self, private: Vec<u8>) -> RenewEphemeralResponse {
        RenewEphemeralResponse {
            private: [private.as_slice(), b"+renewed"].concat(),
            renew_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_600)),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn close(&self, private: Vec<u8>) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if private.is_empty() {
            diagnostics.error("Nothing To Close", "Open the token first.");
        }
        diagnostics
    }
}

struct FakeProvider {
    thing: FakeThing,
    lookup: FakeLookup,
}

impl FakeProvider {
    fn new() -> Arc<Self> {
        Arc::new(FakeProvider {
            thing: FakeThing::default(),
            lookup: FakeLookup,
        })
    }
}

static TOKEN_RESOURCE: FakeToken = FakeToken;

#[async_trait::async_trait]
impl server::Provider for FakeProvider {
    fn schema(&self) -> Schema {
        Schema::new(
            0,
            "Fake provider.",
            vec![Attribute::optional("endpoint", Type::String, "Where.")],
        )
    }

    async fn validate_config(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        if config.get("endpoint").as_str() == Some("bad") {
            diagnostics.error_at(
                AttributePath::root("endpoint"),
                "Bad Endpoint",
                "Use a good one.",
            );
        }
        diagnostics
    }

    async fn configure(&self, request: ConfigureRequest) -> Diagnostics {
        self.thing.seen.lock().unwrap().configure =
            Some((request.terraform_version, request.capabilities));
        Diagnostics::new()
    }

    fn resources(&self) -> BTreeMap<String, &dyn server::Resource> {
        BTreeMap::from([(THING.to_owned(), &self.thing as &dyn server::Resource)])
    }

    fn data_sources(&self) -> BTreeMap<String, &dyn server::DataSource> {
        BTreeMap::from([(LOOKUP.to_owned(), &self.lookup as &dyn server::DataSource)])
    }

    fn ephemeral_resources(&self) -> BTreeMap<String, &dyn server::EphemeralResource> {
        BTreeMap::from([(
            TOKEN.to_owned(),
            &TOKEN_RESOURCE as &dyn server::EphemeralResource,
        )])
    }
}

// ---------------------------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------------------------

fn object(entries: &[(&str, Value)]) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    )
}

fn string_map(entries: &[(&str, &str)]) -> Value {
    Value::map(entries.iter().map(|(k, v)| (*k, Value::string(*v))))
}

/// A thing with stored and write-only secrets; a map without entries is null.
fn thing(name: &str, secrets: &[(&str, &str)], secrets_wo: &[(&str, &str)], id: Value) -> Value {
    let map = |entries: &[(&str, &str)]| match entries.is_empty() {
        true => Value::Null,
        false => string_map(entries),
    };
    object(&[
        ("name", Value::string(name)),
        ("secrets", map(secrets)),
        ("secrets_wo", map(secrets_wo)),
        ("count", Value::from(3)),
        ("id", id),
    ])
}

fn errors(diagnostics: &Diagnostics) -> Vec<&str> {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.summary.as_str())
        .collect()
}

async fn client(terraform: ImitatedTerraform) -> (TfClient, Arc<FakeProvider>) {
    let provider = FakeProvider::new();
    let mut client = TfClient::in_process(provider.clone(), terraform).await;
    client.get_schema().await.unwrap();
    (client, provider)
}

// ---------------------------------------------------------------------------------------------
// In-process RPC tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn schema_and_metadata_describe_every_type() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let schema = client.get_schema().await.unwrap();
    let provider = schema.provider.expect("a provider schema is always sent");
    assert_eq!(provider.block.unwrap().attributes[0].name, "endpoint");
    let thing = &schema.resource_schemas[THING];
    assert_eq!(thing.version, 1);
    let block = thing.block.as_ref().unwrap();
    assert_eq!(block.description_kind, pb::StringKind::Markdown as i32);
    let secrets = block
        .attributes
        .iter()
        .find(|a| a.name == "secrets")
        .unwrap();
    assert!(secrets.sensitive && secrets.optional && !secrets.write_only);
    assert!(secrets.nested_type.is_none());
    assert_eq!(secrets.r#type, br#"["map","string"]"#);
    let secrets_wo = block
        .attributes
        .iter()
        .find(|a| a.name == "secrets_wo")
        .unwrap();
    assert!(secrets_wo.write_only && secrets_wo.sensitive && secrets_wo.optional);
    let id = block.attributes.iter().find(|a| a.name == "id").unwrap();
    assert!(id.computed && !id.optional);
    assert_eq!(id.r#type, b"\"string\"");
    assert!(schema.data_source_schemas.contains_key(LOOKUP));
    assert!(schema.ephemeral_resource_schemas.contains_key(TOKEN));
    let capabilities = schema.server_capabilities.unwrap();
    assert!(capabilities.plan_destroy && !capabilities.get_provider_schema_optional);

    let metadata = client.get_metadata().await.unwrap();
    assert_eq!(metadata.resources[0].type_name, THING);
    assert_eq!(metadata.data_sources[0].type_name, LOOKUP);
    assert_eq!(metadata.ephemeral_resources[0].type_name, TOKEN);
}

#[tokio::test]
async fn provider_configuration_carries_version_and_capabilities() {
    for terraform in [ImitatedTerraform::V1_0_3, ImitatedTerraform::V1_11] {
        let (mut client, provider) = client(terraform).await;
        let config = object(&[("endpoint", Value::string("https://x"))]);
        assert!(client.validate_provider(&config).await.unwrap().is_empty());
        let bad = object(&[("endpoint", Value::string("bad"))]);
        let diagnostics = client.validate_provider(&bad).await.unwrap();
        assert_eq!(errors(&diagnostics), ["Bad Endpoint"]);
        assert_eq!(
            diagnostics.iter().next().unwrap().path,
            Some(AttributePath::root("endpoint"))
        );
        assert!(client.configure(&config).await.unwrap().is_empty());
        let (version, capabilities) = provider
            .thing
            .seen
            .lock()
            .unwrap()
            .configure
            .clone()
            .unwrap();
        assert_eq!(version, terraform.version());
        assert_eq!(
            capabilities.write_only_attributes_allowed,
            terraform == ImitatedTerraform::V1_11
        );
    }
}

#[tokio::test]
async fn write_only_values_are_refused_without_the_capability() {
    let config = thing("a", &[("B", "b")], &[("A", CANARY)], Value::Null);
    let (mut old, _) = client(ImitatedTerraform::V1_0_3).await;
    let diagnostics = old.validate_resource(THING, &config).await.unwrap();
    assert_eq!(errors(&diagnostics), ["Write-Only Attribute Not Supported"]);
    let refusal = diagnostics.iter().next().unwrap();
    assert!(
        refusal.detail.contains("Terraform 1.11"),
        "{}",
        refusal.detail
    );
    assert!(refusal.detail.contains("secrets_wo"), "{}", refusal.detail);
    // No path: ImitatedTerraform would print the configuration lines around it, values and all.
    assert_eq!(refusal.path, None);
    assert_no_canary_in_diagnostics(&[CANARY], "the answer", &diagnostics);
    // Without a write-only value, the old Terraform is fine.
    let plain = thing("a", &[("B", "b")], &[], Value::Null);
    assert!(
        old.validate_resource(THING, &plain)
            .await
            .unwrap()
            .is_empty()
    );

    let (mut new, provider) = client(ImitatedTerraform::V1_11).await;
    assert!(
        new.validate_resource(THING, &config)
            .await
            .unwrap()
            .is_empty()
    );
    let seen = provider.thing.seen.lock().unwrap().validate_capabilities;
    assert!(seen.unwrap().write_only_attributes_allowed);
    // The resource's own validation still runs.
    let empty_name = thing("", &[], &[], Value::Null);
    let diagnostics = new.validate_resource(THING, &empty_name).await.unwrap();
    assert_eq!(errors(&diagnostics), ["Empty Name"]);
}

#[tokio::test]
async fn plan_apply_read_and_import_never_return_write_only_values() {
    let (mut client, provider) = client(ImitatedTerraform::V1_11).await;
    let config = thing("a", &[("B", "b")], &[("A", CANARY)], Value::Null);
    let plan = client
        .plan(THING, &Value::Null, &config, &config, Vec::new())
        .await
        .unwrap();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let planned = plan.planned_state.unwrap();
    assert!(planned.get("id").is_unknown());
    assert!(planned.get("secrets_wo").is_null());
    assert_eq!(planned.get("secrets"), &string_map(&[("B", "b")]));
    assert!(plan.requires_replace.is_empty());

    let applied = client
        .apply(THING, &Value::Null, &planned, &config, plan.planned_private)
        .await
        .unwrap();
    assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
    // The resource saw the write-only value in the config...
    let seen = provider
        .thing
        .seen
        .lock()
        .unwrap()
        .apply_config
        .clone()
        .unwrap();
    assert_eq!(seen.get("secrets_wo"), &string_map(&[("A", CANARY)]));
    // ...but it never comes back.
    let state = applied.state.unwrap();
    assert_eq!(state.get("id"), &Value::string("id-a"));
    assert!(state.get("secrets_wo").is_null());
    assert_eq!(state.get("secrets"), &string_map(&[("B", "b")]));
    assert_eq!(applied.private, b"planned");

    let read = client.read(THING, &state, b"p".to_vec()).await.unwrap();
    assert!(read.diagnostics.is_empty());
    let read_state = read.state.unwrap();
    assert!(read_state.get("secrets_wo").is_null());
    assert_eq!(read_state, state);
    assert_eq!(read.private, b"p");

    // Renaming requires replacement.
    let renamed = thing("b", &[], &[], Value::string("id-a"));
    let plan = client
        .plan(THING, &state, &renamed, &renamed, Vec::new())
        .await
        .unwrap();
    assert_eq!(plan.requires_replace, vec![AttributePath::root("name")]);

    // Destroy: null planned state in, null state out.
    let destroyed = client
        .apply(THING, &state, &Value::Null, &Value::Null, Vec::new())
        .await
        .unwrap();
    assert!(destroyed.diagnostics.is_empty());
    assert!(destroyed.state.unwrap().is_null());

    let imported = client.import(THING, "x").await.unwrap();
    assert!(imported.diagnostics.is_empty());
    let (imported_state, private) = &imported.states[0];
    assert_eq!(imported_state.get("id"), &Value::string("id-x"));
    assert!(imported_state.get("secrets_wo").is_null());
    assert_eq!(imported_state.get("secrets"), &string_map(&[("K", "v")]));
    assert_eq!(private, b"imported");
}

#[tokio::test]
async fn unknown_results_are_refused_as_provider_bugs() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let planned = thing(SLOPPY, &[], &[], Value::Unknown);
    let applied = client
        .apply(THING, &Value::Null, &planned, &planned, Vec::new())
        .await
        .unwrap();
    assert_eq!(
        errors(&applied.diagnostics),
        ["Provider Returned Unknown Values"]
    );
    assert!(applied.state.is_none());

    let lookup = object(&[("name", Value::string(SLOPPY)), ("id", Value::Null)]);
    let read = client.read_data_source(LOOKUP, &lookup).await.unwrap();
    assert_eq!(
        errors(&read.diagnostics),
        ["Provider Returned Unknown Values"]
    );
    assert!(read.state.is_none());
}

#[tokio::test]
async fn upgrade_decodes_stored_json_and_refuses_flatmap() {
    let (mut client, _) = client(ImitatedTerraform::V1_0_3).await;
    let stored = format!(
        r#"{{"name":"a","secrets":{{"A":"v"}},"secrets_wo":{{"A":"{CANARY}"}},"count":3,"id":"id-a"}}"#
    );
    let upgraded = client.upgrade(THING, 1, &stored).await.unwrap();
    assert!(
        upgraded.diagnostics.is_empty(),
        "{:?}",
        upgraded.diagnostics
    );
    let state = upgraded.state.unwrap();
    assert_eq!(state.get("id"), &Value::string("id-a"));
    assert_eq!(state.get("count"), &Value::from(3));
    assert_eq!(state.get("secrets"), &string_map(&[("A", "v")]));
    assert!(state.get("secrets_wo").is_null());

    // An attribute the schema does not have cannot be read (and is not quoted).
    let unknown_attribute = format!(
        r#"{{"name":"a","secrets":null,"secrets_wo":null,"count":3,"id":"id-a","gone":"{CANARY}"}}"#
    );
    let unreadable = client.upgrade(THING, 1, &unknown_attribute).await.unwrap();
    assert_eq!(errors(&unreadable.diagnostics), ["Unreadable Stored State"]);
    assert!(unreadable.state.is_none());
    assert_no_canary_in_diagnostics(&[CANARY], "the answer", &unreadable.diagnostics);

    // A schema version the resource does not know is the resource's refusal.
    let future = client.upgrade(THING, 7, &stored).await.unwrap();
    assert_eq!(errors(&future.diagnostics), ["Unsupported State Version"]);

    let flatmap = client
        .provider
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: THING.into(),
            version: 0,
            raw_state: Some(pb::RawState {
                json: Vec::new(),
                flatmap: [("name".to_owned(), CANARY.to_owned())].into(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(flatmap.upgraded_state.is_none());
    let diagnostics =
        truefoundry_provider::server::convert::diagnostics_from_proto(&flatmap.diagnostics);
    assert_eq!(errors(&diagnostics), ["Legacy State Format Not Supported"]);
    assert_no_canary_in_diagnostics(&[CANARY], "the answer", &diagnostics);
}

#[tokio::test]
async fn data_source_and_ephemeral_resource_round_trip() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let lookup = object(&[("name", Value::string("n")), ("id", Value::Null)]);
    assert!(
        client
            .validate_data_source(LOOKUP, &lookup)
            .await
            .unwrap()
            .is_empty()
    );
    let read = client.read_data_source(LOOKUP, &lookup).await.unwrap();
    assert!(read.diagnostics.is_empty());
    assert_eq!(read.state.unwrap().get("id"), &Value::string("ds-n"));

    let token = object(&[("name", Value::string("n")), ("token", Value::Null)]);
    assert!(
        client
            .validate_ephemeral(TOKEN, &token)
            .await
            .unwrap()
            .is_empty()
    );
    let opened = client.open_ephemeral(TOKEN, &token).await.unwrap();
    assert!(opened.diagnostics.is_empty());
    assert_eq!(opened.result.unwrap().get("token"), &Value::string("tok-n"));
    assert_eq!(opened.private.as_deref(), Some(&b"lease-n"[..]));
    assert_eq!(
        opened.renew_at,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
    let renewed = client
        .renew_ephemeral(TOKEN, opened.private.clone())
        .await
        .unwrap();
    assert_eq!(renewed.private.as_deref(), Some(&b"lease-n+renewed"[..]));
    assert!(renewed.renew_at.is_some());
    assert!(
        client
            .close_ephemeral(TOKEN, opened.private)
            .await
            .unwrap()
            .is_empty()
    );
    let unopened = client.close_ephemeral(TOKEN, None).await.unwrap();
    assert_eq!(errors(&unopened), ["Nothing To Close"]);
}

#[tokio::test]
async fn unknown_type_names_are_diagnostics() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let config = Some(pb::DynamicValue::default());
    let provider = &mut client.provider;
    let validate = provider
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "fake_nope".into(),
            config: config.clone(),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    let plan = provider
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "fake_nope".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let data = provider
        .read_data_source(pb::read_data_source::Request {
            type_name: "fake_nope".into(),
            config: config.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ephemeral = provider
        .open_ephemeral_resource(pb::open_ephemeral_resource::Request {
            type_name: "fake_nope".into(),
            config,
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    let summary = |diagnostics: &[pb::Diagnostic]| {
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].severity,
            pb::diagnostic::Severity::Error as i32
        );
        assert!(diagnostics[0].detail.contains("\"fake_nope\""));
        diagnostics[0].summary.clone()
    };
    assert_eq!(summary(&validate.diagnostics), "Unknown Resource Type");
    assert_eq!(summary(&plan.diagnostics), "Unknown Resource Type");
    assert!(plan.planned_state.is_none());
    assert_eq!(summary(&data.diagnostics), "Unknown Data Source");
    assert_eq!(
        summary(&ephemeral.diagnostics),
        "Unknown Ephemeral Resource Type"
    );
}

/// msgpack for a thing's object, with attributes given by hand so they can be wrong.
fn raw_object(entries: &[(&str, rmpv::Value)]) -> Vec<u8> {
    let map = rmpv::Value::Map(
        entries
            .iter()
            .map(|(k, v)| (rmpv::Value::from(*k), v.clone()))
            .collect(),
    );
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &map).unwrap();
    bytes
}

#[tokio::test]
async fn malformed_values_become_error_diagnostics() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let nil = rmpv::Value::Nil;
    let canary = rmpv::Value::from(CANARY);
    let valid = encode(
        &thing("a", &[], &[], Value::Null),
        &client.resource_type(THING),
    )
    .unwrap()
    .msgpack;
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        (
            "missing attribute",
            raw_object(&[
                ("name", canary.clone()),
                ("secrets", nil.clone()),
                ("secrets_wo", nil.clone()),
                ("count", nil.clone()),
            ]),
        ),
        (
            "extra attribute",
            raw_object(&[
                ("name", canary.clone()),
                ("secrets", nil.clone()),
                ("secrets_wo", nil.clone()),
                ("count", nil.clone()),
                ("id", nil.clone()),
                ("surprise", canary.clone()),
            ]),
        ),
        (
            "wrong type",
            raw_object(&[
                ("name", nil.clone()),
                ("secrets", nil.clone()),
                ("secrets_wo", nil.clone()),
                ("count", canary.clone()),
                ("id", nil.clone()),
            ]),
        ),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("not msgpack at all", vec![0xc1, 0xff, 0x00]),
    ];
    for (case, bytes) in malformed {
        let dynamic = Some(pb::DynamicValue {
            msgpack: bytes,
            json: Vec::new(),
        });
        let provider = &mut client.provider;
        let mut all = Vec::new();
        all.extend(
            provider
                .validate_resource_config(pb::validate_resource_config::Request {
                    type_name: THING.into(),
                    config: dynamic.clone(),
                    client_capabilities: None,
                })
                .await
                .unwrap()
                .into_inner()
                .diagnostics,
        );
        let plan = provider
            .plan_resource_change(pb::plan_resource_change::Request {
                type_name: THING.into(),
                prior_state: None,
                proposed_new_state: dynamic.clone(),
                config: dynamic.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(plan.planned_state.is_none(), "{case}");
        all.extend(plan.diagnostics);
        let apply = provider
            .apply_resource_change(pb::apply_resource_change::Request {
                type_name: THING.into(),
                planned_state: dynamic.clone(),
                config: dynamic.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(apply.new_state.is_none(), "{case}");
        all.extend(apply.diagnostics);
        let read = provider
            .read_resource(pb::read_resource::Request {
                type_name: THING.into(),
                current_state: dynamic.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(read.new_state.is_none(), "{case}");
        all.extend(read.diagnostics);
        all.extend(
            provider
                .configure_provider(pb::configure_provider::Request {
                    terraform_version: "1.11.4".into(),
                    config: dynamic.clone(),
                    client_capabilities: None,
                })
                .await
                .unwrap()
                .into_inner()
                .diagnostics,
        );
        let diagnostics = truefoundry_provider::server::convert::diagnostics_from_proto(&all);
        assert_eq!(
            errors(&diagnostics),
            ["Invalid Value From Terraform"; 5],
            "{case}: {diagnostics:?}"
        );
        assert_no_canary_in_diagnostics(&[CANARY], "the answer", &diagnostics);
    }
    // The server is unharmed.
    let config = thing("a", &[], &[], Value::Null);
    assert!(
        client
            .validate_resource(THING, &config)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn json_encoded_values_are_accepted() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let response = client
        .provider
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: Some(pb::DynamicValue {
                msgpack: Vec::new(),
                json: br#"{"name":"","secrets":null,"secrets_wo":null,"count":1,"id":null}"#
                    .to_vec(),
            }),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    let diagnostics =
        truefoundry_provider::server::convert::diagnostics_from_proto(&response.diagnostics);
    // Decoded fine, so the resource's own check ran.
    assert_eq!(errors(&diagnostics), ["Empty Name"]);
}

#[tokio::test]
async fn stop_provider_cancels_running_work_and_keeps_serving() {
    let (mut client, provider) = client(ImitatedTerraform::V1_11).await;
    let slow = thing(SLOW, &[], &[], Value::Null);
    let mut slow_client = client.clone();
    let started = provider.thing.slow_started.clone();
    let notified = started.notified();
    let running = tokio::spawn(async move {
        slow_client
            .plan(THING, &Value::Null, &slow, &slow, Vec::new())
            .await
            .unwrap()
    });
    tokio::time::timeout(Duration::from_secs(10), notified)
        .await
        .expect("the slow plan started");
    assert_eq!(client.stop().await.unwrap(), "");
    let cancelled = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the slow plan was cancelled promptly")
        .unwrap();
    assert_eq!(errors(&cancelled.diagnostics), ["Operation Cancelled"]);
    assert!(cancelled.planned_state.is_none());

    // Later requests run normally.
    let config = thing("after", &[], &[], Value::Null);
    let plan = client
        .plan(THING, &Value::Null, &config, &config, Vec::new())
        .await
        .unwrap();
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    assert!(plan.planned_state.unwrap().get("id").is_unknown());
}

/// Features of protocol 6.10 this provider does not offer answer `Unimplemented`, which
/// Terraform (1.12 and newer) takes as "this provider has none" and goes on.
#[tokio::test]
async fn rpcs_of_features_the_provider_lacks_answer_unimplemented() {
    let (mut client, _) = client(ImitatedTerraform::V1_11).await;
    let raw = &mut client.provider;
    let codes = [
        raw.generate_resource_config(pb::generate_resource_config::Request::default())
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
        raw.get_states(pb::get_states::Request::default())
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
        raw.validate_action_config(pb::validate_action_config::Request::default())
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
    ];
    assert_eq!(codes, [tonic::Code::Unimplemented; 3]);
    // The schema still answers, with no state stores or actions in it.
    let schema = client.get_schema().await.unwrap();
    assert!(schema.state_store_schemas.is_empty());
    assert!(schema.action_schemas.is_empty());
    // Without GenerateResourceConfig, Terraform derives configuration from the resource objects.
    assert!(
        !schema
            .server_capabilities
            .is_some_and(|capabilities| capabilities.generate_resource_config)
    );
}
