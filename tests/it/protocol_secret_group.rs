//! The real provider binary over tfplugin6, driven the way Terraform 1.11 (client capabilities,
//! write-only config) and Terraform 1.0.3 (no capabilities) drive it, against the emulator binary.
//! These do not depend on which Terraform is installed.
//!
//! The driver below follows Terraform's resource walk: ValidateResourceConfig, then for an
//! existing object UpgradeResourceState and ReadResource, then PlanResourceChange with the
//! proposed new state Terraform computes (config merged with prior), and ApplyResourceChange
//! after a re-plan. Every response is checked for what Terraform checks (write-only attributes
//! null; the plan valid against config and prior; the applied state compatible with the plan),
//! and for the write-only values themselves anywhere in it, private data included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use base64::Engine as _;

use truefoundry_provider::client::{Client, ListSecretsQuery, SecretUpdate, SecretValue};
use truefoundry_provider::diag::{Diagnostics, Severity};
use truefoundry_provider::server::proto::tfplugin6 as pb;
use truefoundry_provider::value::{self, Type, Value};

use crate::support::emulator::{ACME_KEY, ACME_VIEWER_KEY, Emulator, LoggedRequest, seed_group};
use crate::support::stub::{self, Stub};
use crate::support::tfclient::{ImitatedTerraform, Launch, PluginProcess, TfClient, null_object};

const GROUP: &str = "truefoundry_secret_group";
/// Every write-only value in these tests starts with this, so a leak is easy to find.
const WO_MARK: &str = "wo-canary-";

// ---------------------------------------------------------------------------------------------
// A Terraform-like driver
// ---------------------------------------------------------------------------------------------

struct Tf {
    _plugin: PluginProcess,
    client: TfClient,
    schema: pb::get_provider_schema::Response,
    /// Write-only values sent in configs so far; none may come back.
    written: BTreeSet<String>,
}

/// A managed object as Terraform keeps it: state plus private bytes.
#[derive(Clone, Debug)]
struct Managed {
    state: Value,
    private: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    NoOp,
}

struct Outcome {
    action: Action,
    planned: Value,
    /// The plan's diagnostics (it had no errors).
    warnings: Diagnostics,
    managed: Managed,
}

/// How one key's value is managed in a config: which of the secret maps holds it.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// In `secrets`.
    Value(&'a str),
    /// In `secrets_wo`, with its `secrets_wo_versions` entry.
    WriteOnly(&'a str, &'a str),
    /// In `secrets_wo`, without a version entry.
    WriteOnlyUnversioned(&'a str),
    /// In `initial_secrets`.
    Initial(&'a str),
}

impl Tf {
    async fn start(terraform: ImitatedTerraform, emulator: &Emulator, api_key: &str) -> Tf {
        Tf::connect(terraform, &emulator.base_url, api_key).await
    }

    /// The real provider, configured for the API at `host`.
    async fn connect(terraform: ImitatedTerraform, host: &str, api_key: &str) -> Tf {
        let plugin = PluginProcess::start(Launch::default()).await.unwrap();
        let mut client = plugin.connect(terraform).await.unwrap();
        let schema = client.get_schema().await.unwrap();
        let config = Value::object([
            ("host", Value::string(host)),
            ("api_key", Value::string(api_key)),
            ("max_retries", Value::Null),
            ("request_timeout", Value::Null),
            ("ca_cert_pem", Value::Null),
        ]);
        let diags = client.configure(&config).await.unwrap();
        assert!(diags.is_empty(), "configure: {diags:?}");
        Tf {
            _plugin: plugin,
            client,
            schema,
            written: BTreeSet::new(),
        }
    }

    fn attributes(&self) -> &[pb::schema::Attribute] {
        &self.schema.resource_schemas[GROUP]
            .block
            .as_ref()
            .unwrap()
            .attributes
    }

    fn resource_type(&self) -> Type {
        self.client.resource_type(GROUP)
    }

    /// A resource config: every attribute null but `name` and the secret maps holding `secrets`.
    /// A map no key is in stays null, so a config without keys manages no secret at all.
    fn config(&mut self, name: &str, secrets: &[(&str, Mode<'_>)]) -> Value {
        let mut config = null_object(&self.resource_type());
        config.set("name", Value::string(name));
        let mut maps: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
        for (key, mode) in secrets {
            let (map, value) = match *mode {
                Mode::Value(v) => ("secrets", v),
                Mode::WriteOnly(v, version) => {
                    maps.entry("secrets_wo_versions")
                        .or_default()
                        .insert((*key).to_owned(), Value::string(version));
                    ("secrets_wo", v)
                }
                Mode::WriteOnlyUnversioned(v) => ("secrets_wo", v),
                Mode::Initial(v) => ("initial_secrets", v),
            };
            if map == "secrets_wo" {
                self.written.insert(value.to_owned());
            }
            maps.entry(map)
                .or_default()
                .insert((*key).to_owned(), Value::string(value));
        }
        for (map, entries) in maps {
            config.set(map, Value::Map(entries));
        }
        config
    }

    /// No write-only value anywhere in `value` or `private`, and `secrets_wo` null.
    fn assert_clean(&self, what: &str, value: &Value, private: &[u8]) {
        let mut strings = Vec::new();
        collect_strings(value, &mut strings);
        let private = String::from_utf8_lossy(private);
        for secret in &self.written {
            assert!(
                !strings.iter().any(|s| s.contains(secret.as_str())),
                "{what}: a write-only value came back"
            );
            assert!(
                !private.contains(secret.as_str()),
                "{what}: a write-only value is in private"
            );
        }
        assert!(
            !strings.iter().any(|s| s.contains(WO_MARK)),
            "{what}: a write-only value came back"
        );
        assert_write_only_null(what, value);
    }

    /// Refresh as Terraform does before planning: upgrade the stored JSON, then read.
    async fn refresh(&mut self, managed: &Managed) -> Option<Managed> {
        let refreshed = self.refresh_unchecked(managed).await;
        if let Some(refreshed) = &refreshed {
            self.assert_clean("ReadResource", &refreshed.state, &refreshed.private);
        }
        refreshed
    }

    /// `refresh`, checking only that write-only attributes are null (for states that hold
    /// values on purpose, such as a plain import).
    async fn refresh_unchecked(&mut self, managed: &Managed) -> Option<Managed> {
        let json = value::encode_json(&managed.state, &self.resource_type()).unwrap();
        let version = self.schema.resource_schemas[GROUP].version;
        let state = self
            .upgrade(version, std::str::from_utf8(&json).unwrap())
            .await;
        self.read(&Managed {
            state,
            private: managed.private.clone(),
        })
        .await
    }

    /// UpgradeResourceState of stored JSON that schema `version` wrote. Only an upgrade from
    /// the first schema says something: that it happened, pointing to the guide.
    async fn upgrade(&mut self, version: i64, json: &str) -> Value {
        let upgraded = self.client.upgrade(GROUP, version, json).await.unwrap();
        let said: Vec<(Severity, &str)> = upgraded
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.summary.as_str()))
            .collect();
        let expected = match version {
            0 => vec![(
                Severity::Warning,
                "Secret Group State Upgraded From The First Schema",
            )],
            _ => Vec::new(),
        };
        assert_eq!(said, expected, "{:?}", upgraded.diagnostics);
        let upgraded = upgraded.state.unwrap();
        assert_write_only_null("UpgradeResourceState", &upgraded);
        upgraded
    }

    /// ReadResource; `None` when the group is gone.
    async fn read(&mut self, managed: &Managed) -> Option<Managed> {
        let read = self
            .client
            .read(GROUP, &managed.state, managed.private.clone())
            .await
            .unwrap();
        assert!(!read.diagnostics.has_errors(), "{:?}", read.diagnostics);
        let state = read.state.unwrap();
        assert_write_only_null("ReadResource", &state);
        (!state.is_null()).then_some(Managed {
            state,
            private: read.private,
        })
    }

    /// PlanResourceChange: the planned state, planned private data and the plan's warnings.
    async fn plan(
        &mut self,
        prior: Option<&Managed>,
        config: &Value,
    ) -> (Value, Vec<u8>, Diagnostics) {
        let prior_state = prior.map_or(Value::Null, |m| m.state.clone());
        let prior_private = prior.map_or(Vec::new(), |m| m.private.clone());
        let proposed = proposed_new(self.attributes(), &prior_state, config);
        let plan = self
            .client
            .plan(GROUP, &prior_state, &proposed, config, prior_private)
            .await
            .unwrap();
        assert!(
            !plan.diagnostics.has_errors(),
            "plan: {:?}",
            plan.diagnostics
        );
        assert!(plan.requires_replace.is_empty(), "no replacement here");
        let planned = plan.planned_state.unwrap();
        self.assert_clean("PlanResourceChange", &planned, &plan.planned_private);
        assert_plan_valid(self.attributes(), &prior_state, config, &planned);
        (planned, plan.planned_private, plan.diagnostics)
    }

    /// One `terraform apply` of `config` over `prior`.
    async fn run(&mut self, prior: Option<&Managed>, config: &Value) -> Outcome {
        let diags = self.client.validate_resource(GROUP, config).await.unwrap();
        assert!(diags.is_empty(), "validate: {diags:?}");
        let prior = match prior {
            Some(managed) => self.refresh(managed).await,
            None => None,
        };
        let (planned, planned_private, warnings) = self.plan(prior.as_ref(), config).await;
        let action = match &prior {
            None => Action::Create,
            Some(p) if p.state == planned => Action::NoOp,
            Some(_) => Action::Update,
        };
        if action == Action::NoOp {
            let managed = prior.unwrap();
            return Outcome {
                action,
                planned,
                warnings,
                managed,
            };
        }
        // Terraform plans again during apply and insists on the same plan.
        let (replanned, _, _) = self.plan(prior.as_ref(), config).await;
        assert_eq!(replanned, planned, "inconsistent final plan");
        let prior_state = prior.as_ref().map_or(Value::Null, |m| m.state.clone());
        let applied = self
            .client
            .apply(GROUP, &prior_state, &planned, config, planned_private)
            .await
            .unwrap();
        assert!(
            !applied.diagnostics.has_errors(),
            "apply: {:?}",
            applied.diagnostics
        );
        let state = applied.state.unwrap();
        self.assert_clean("ApplyResourceChange", &state, &applied.private);
        assert!(state.is_wholly_known(), "applied state has unknowns");
        assert_compatible(&planned, &state, "");
        Outcome {
            action,
            planned,
            warnings,
            managed: Managed {
                state,
                private: applied.private,
            },
        }
    }

    fn data_source_config(&self, lookup: (&str, &str), include_values: Option<bool>) -> Value {
        let mut config = null_object(&self.client.data_source_type(GROUP));
        config.set(lookup.0, Value::string(lookup.1));
        config.set(
            "include_values",
            include_values.map_or(Value::Null, Value::Bool),
        );
        config
    }

    fn ephemeral_config(&self, lookup: (&str, &str)) -> Value {
        let mut config = null_object(&self.client.ephemeral_type(GROUP));
        config.set(lookup.0, Value::string(lookup.1));
        config
    }
}

/// `secrets_wo` of a state or plan is null.
fn assert_write_only_null(what: &str, value: &Value) {
    assert!(
        value.is_null() || value.get("secrets_wo").is_null(),
        "{what}: secrets_wo is not null"
    );
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            items.iter().for_each(|v| collect_strings(v, out))
        }
        Value::Map(entries) | Value::Object(entries) => {
            entries.values().for_each(|v| collect_strings(v, out))
        }
        Value::Dynamic(_, inner) => collect_strings(inner, out),
        _ => {}
    }
}

/// Terraform's proposed new state (objchange.ProposedNew) for top-level attributes: computed-only
/// take the prior value, optional+computed the config value unless null, the rest the config.
fn proposed_new(attributes: &[pb::schema::Attribute], prior: &Value, config: &Value) -> Value {
    let prior_of = |name: &str| {
        if prior.is_null() {
            Value::Null
        } else {
            prior.get(name).clone()
        }
    };
    Value::Object(
        attributes
            .iter()
            .map(|a| {
                let configured = config.get(&a.name).clone();
                let value = if a.computed && (!a.optional || configured.is_null()) {
                    prior_of(&a.name)
                } else {
                    configured
                };
                (a.name.clone(), value)
            })
            .collect(),
    )
}

/// objchange.AssertPlanValid, per top-level attribute.
fn assert_plan_valid(
    attributes: &[pb::schema::Attribute],
    prior: &Value,
    config: &Value,
    planned: &Value,
) {
    for a in attributes {
        let name = a.name.as_str();
        // A write-only attribute is planned null whatever its configured value.
        let configured = match a.write_only {
            true => Value::Null,
            false => config.get(name).clone(),
        };
        let planned_value = planned.get(name);
        let prior_value = if prior.is_null() {
            &Value::Null
        } else {
            prior.get(name)
        };
        let valid = *planned_value == configured
            || (!prior.is_null() && !configured.is_null() && planned_value == prior_value)
            || (configured.is_null() && a.computed)
            || (configured.is_null() && planned_value.is_null());
        assert!(
            valid,
            "invalid plan for {name}: planned {planned_value:?}, config {configured:?}"
        );
    }
}

/// objchange.AssertObjectCompatible: every known planned leaf is what was applied.
fn assert_compatible(planned: &Value, applied: &Value, path: &str) {
    match (planned, applied) {
        (Value::Unknown, applied) => assert!(!applied.is_unknown(), "{path} still unknown"),
        (Value::Object(p), Value::Object(a)) | (Value::Map(p), Value::Map(a)) => {
            assert_eq!(
                p.keys().collect::<Vec<_>>(),
                a.keys().collect::<Vec<_>>(),
                "{path}: elements appeared or vanished"
            );
            for (key, value) in p {
                assert_compatible(value, &a[key], &format!("{path}.{key}"));
            }
        }
        (p, a) => assert_eq!(p, a, "{path}: applied differs from the plan"),
    }
}

/// The keys whose `secret_versions` entry is unknown in a plan (their values will be sent).
fn unknown_versions(planned: &Value) -> BTreeSet<String> {
    planned
        .get("secret_versions")
        .as_entries()
        .expect("secret_versions is a known map")
        .iter()
        .filter(|(_, v)| v.is_unknown())
        .map(|(k, _)| k.clone())
        .collect()
}

fn versions(state: &Value) -> BTreeMap<String, i64> {
    state
        .get("secret_versions")
        .as_entries()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_number().unwrap().as_i64().unwrap()))
        .collect()
}

/// How many logged requests carried a value for each key.
fn values_sent(requests: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut sent = BTreeMap::new();
    for request in requests {
        for key in &request.keys_with_value {
            *sent.entry(key.clone()).or_default() += 1;
        }
    }
    sent
}

fn writes(requests: &[LoggedRequest]) -> usize {
    requests.iter().filter(|r| r.is_write()).count()
}

fn api_client(emulator: &Emulator, key: &str) -> Client {
    emulator.client(key)
}

/// The server's values of a group, by key.
async fn server_values(emulator: &Emulator, group_id: &str) -> BTreeMap<String, String> {
    api_client(emulator, ACME_KEY)
        .list_secrets(&ListSecretsQuery {
            secret_group_id: Some(group_id.to_owned()),
            secret_fqns: Vec::new(),
            with_value: true,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.value.map(|v| v.expose().to_owned()).unwrap()))
        .collect()
}

fn errors(diagnostics: &Diagnostics) -> Vec<&truefoundry_provider::diag::Diagnostic> {
    diagnostics
        .0
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

fn id_of(managed: &Managed) -> String {
    managed.state.get("id").as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// The configured secret maps, all null in a state that manages no secret.
const SECRET_MAPS: [&str; 4] = [
    "secrets",
    "secrets_wo",
    "secrets_wo_versions",
    "initial_secrets",
];

/// A map of strings in a state, by key (`None` when the attribute is null).
fn strings_of(state: &Value, attribute: &str) -> Option<BTreeMap<String, String>> {
    state.get(attribute).as_entries().map(|entries| {
        entries
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    })
}

fn pairs(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Changes (or adds) keys of a group through the API, as someone outside Terraform would: one
/// full-list write that keeps every other key as it is.
async fn change_elsewhere(emulator: &Emulator, group_id: &str, changes: &[(&str, &str)]) {
    let client = api_client(emulator, ACME_KEY);
    let mut body: BTreeMap<String, Option<SecretValue>> = server_values(emulator, group_id)
        .await
        .into_keys()
        .map(|key| (key, None))
        .collect();
    for (key, value) in changes {
        body.insert((*key).to_owned(), Some(SecretValue::new(*value)));
    }
    let body: Vec<SecretUpdate> = body
        .into_iter()
        .map(|(key, value)| SecretUpdate { key, value })
        .collect();
    client.set_secrets(group_id, &body).await.unwrap();
}

#[test]
fn schema_marks_secrets_wo_write_only_and_lists_the_ephemeral_resource() {
    let emulator = Emulator::start();
    block_on(async {
        for terraform in [ImitatedTerraform::V1_0_3, ImitatedTerraform::V1_11] {
            let tf = Tf::start(terraform, &emulator, ACME_KEY).await;
            assert_eq!(tf.schema.resource_schemas[GROUP].version, 1);
            let attribute = |name: &str| {
                tf.attributes()
                    .iter()
                    .find(|a| a.name == name)
                    .unwrap_or_else(|| panic!("no attribute {name}"))
            };
            // (write-only, sensitive, optional, computed)
            let flags = |name: &str| {
                let a = attribute(name);
                (a.write_only, a.sensitive, a.optional, a.computed)
            };
            assert_eq!(flags("secrets"), (false, true, true, false));
            assert_eq!(flags("secrets_wo"), (true, true, true, false));
            assert_eq!(flags("secrets_wo_versions"), (false, false, true, false));
            assert_eq!(flags("initial_secrets"), (false, true, true, false));
            assert_eq!(flags("secret_fqns"), (false, false, false, true));
            assert_eq!(flags("secret_versions"), (false, false, false, true));
            // Flat maps of strings, not nested attributes: one sensitive path per map.
            for name in SECRET_MAPS.into_iter().chain(["secret_fqns"]) {
                let a = attribute(name);
                assert!(a.nested_type.is_none(), "{name} is nested");
                let ty: serde_json::Value = serde_json::from_slice(&a.r#type).unwrap();
                assert_eq!(ty, serde_json::json!(["map", "string"]), "{name}");
            }
            let ty: serde_json::Value =
                serde_json::from_slice(&attribute("secret_versions").r#type).unwrap();
            assert_eq!(ty, serde_json::json!(["map", "number"]));
            let write_only: Vec<&str> = tf
                .attributes()
                .iter()
                .filter(|a| a.write_only)
                .map(|a| a.name.as_str())
                .collect();
            assert_eq!(write_only, ["secrets_wo"], "only secrets_wo is write-only");
            let ephemeral = &tf.schema.ephemeral_resource_schemas[GROUP];
            let names: BTreeSet<&str> = ephemeral
                .block
                .as_ref()
                .unwrap()
                .attributes
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            for name in [
                "fqn",
                "name",
                "id",
                "keys",
                "secret_values",
                "secret_versions",
            ] {
                assert!(names.contains(name), "ephemeral schema lacks {name}");
            }
            assert!(tf.schema.data_source_schemas.contains_key(GROUP));
        }
    });
}

#[test]
fn secrets_wo_is_refused_without_the_capability_and_accepted_with_it() {
    let emulator = Emulator::start();
    block_on(async {
        let mut old = Tf::start(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        let mut new = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;
        let secrets = [
            ("K", Mode::WriteOnly("wo-canary-refused", "1")),
            ("U", Mode::WriteOnlyUnversioned("wo-canary-refused-too")),
            ("V", Mode::Value("plain")),
        ];

        let config = old.config("wo-refused", &secrets);
        let diags = old.client.validate_resource(GROUP, &config).await.unwrap();
        let refused = errors(&diags);
        assert_eq!(refused.len(), 1, "one attribute, one error: {diags:?}");
        assert_eq!(refused[0].summary, "Write-Only Attribute Not Supported");
        // No path: ImitatedTerraform would print the configuration lines, values and all.
        assert_eq!(refused[0].path, None);
        assert!(refused[0].detail.contains("Terraform 1.11"), "{diags:?}");
        assert!(refused[0].detail.contains("secrets_wo"), "{diags:?}");
        assert!(!refused[0].detail.contains(WO_MARK));
        // Without secrets_wo, 1.0.3 validates cleanly, initial values and versions included.
        let plain = old.config(
            "wo-refused",
            &[("V", Mode::Value("plain")), ("I", Mode::Initial("seed"))],
        );
        assert!(
            old.client
                .validate_resource(GROUP, &plain)
                .await
                .unwrap()
                .is_empty()
        );

        let config = new.config("wo-refused", &secrets);
        let diags = new.client.validate_resource(GROUP, &config).await.unwrap();
        assert!(diags.is_empty(), "{diags:?}");
        // Validation reaches no API: configuring asked who the key is, and nothing more.
        let requests = emulator.requests();
        assert!(
            requests
                .iter()
                .all(|r| r.path == "/api/svc/v1/x/users/info"),
            "{requests:?}"
        );
    });
}

#[test]
fn write_only_values_are_sent_once_per_version_and_never_returned() {
    let emulator = Emulator::start();
    block_on(async {
        let mut tf = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;

        // Create: both keys send their value; their versions are unknown in the plan.
        let config = tf.config(
            "wo-lifecycle",
            &[
                ("K", Mode::WriteOnly("wo-canary-1", "1")),
                ("V", Mode::Value("plain-v")),
            ],
        );
        let mark = emulator.mark();
        let created = tf.run(None, &config).await;
        assert_eq!(created.action, Action::Create);
        assert_eq!(
            unknown_versions(&created.planned),
            BTreeSet::from(["K".to_owned(), "V".to_owned()])
        );
        let sent = values_sent(&emulator.requests_since(mark));
        assert_eq!(sent, BTreeMap::from([("K".into(), 1), ("V".into(), 1)]));
        let id = id_of(&created.managed);
        let server = server_values(&emulator, &id).await;
        assert_eq!(server["K"], "wo-canary-1");
        assert_eq!(server["V"], "plain-v");
        let first_versions = versions(&created.managed.state);
        assert_eq!(
            strings_of(&created.managed.state, "secrets_wo_versions"),
            Some(pairs(&[("K", "1")]))
        );

        // Same config, same version: no change, nothing written.
        let mark = emulator.mark();
        let again = tf.run(Some(&created.managed), &config).await;
        assert_eq!(again.action, Action::NoOp);
        assert!(unknown_versions(&again.planned).is_empty());
        let requests = emulator.requests_since(mark);
        assert_eq!(writes(&requests), 0, "{requests:?}");
        assert!(values_sent(&requests).is_empty());

        // A new write-only value under the same version is invisible: still no change.
        let config_same_version = tf.config(
            "wo-lifecycle",
            &[
                ("K", Mode::WriteOnly("wo-canary-ignored", "1")),
                ("V", Mode::Value("plain-v")),
            ],
        );
        let mark = emulator.mark();
        let unchanged = tf.run(Some(&again.managed), &config_same_version).await;
        assert_eq!(unchanged.action, Action::NoOp);
        assert_eq!(writes(&emulator.requests_since(mark)), 0);

        // Bumping the version: an update sending K once, and only K.
        let bumped = tf.config(
            "wo-lifecycle",
            &[
                ("K", Mode::WriteOnly("wo-canary-2", "2")),
                ("V", Mode::Value("plain-v")),
            ],
        );
        let mark = emulator.mark();
        let rotated = tf.run(Some(&unchanged.managed), &bumped).await;
        assert_eq!(rotated.action, Action::Update);
        assert_eq!(
            unknown_versions(&rotated.planned),
            BTreeSet::from(["K".to_owned()])
        );
        let sent = values_sent(&emulator.requests_since(mark));
        assert_eq!(sent, BTreeMap::from([("K".into(), 1)]));
        assert_eq!(server_values(&emulator, &id).await["K"], "wo-canary-2");
        let rotated_versions = versions(&rotated.managed.state);
        assert_eq!(rotated_versions["K"], first_versions["K"] + 1);
        assert_eq!(rotated_versions["V"], first_versions["V"]);

        // And stable again afterwards.
        let settled = tf.run(Some(&rotated.managed), &bumped).await;
        assert_eq!(settled.action, Action::NoOp);

        // Another key's new value is sent alone: K's value is not sent again with it.
        let other_changed = tf.config(
            "wo-lifecycle",
            &[
                ("K", Mode::WriteOnly("wo-canary-2", "2")),
                ("V", Mode::Value("plain-v2")),
            ],
        );
        let mark = emulator.mark();
        let changed = tf.run(Some(&settled.managed), &other_changed).await;
        assert_eq!(changed.action, Action::Update);
        assert_eq!(
            unknown_versions(&changed.planned),
            BTreeSet::from(["V".to_owned()])
        );
        let requests = emulator.requests_since(mark);
        assert_eq!(values_sent(&requests), BTreeMap::from([("V".into(), 1)]));
        assert_eq!(versions(&changed.managed.state)["K"], rotated_versions["K"]);
        // Back to the previous value for the imports below.
        let settled = tf.run(Some(&changed.managed), &bumped).await;
        assert_eq!(settled.action, Action::Update);
        let rotated_versions = versions(&settled.managed.state);

        // Import by id, by fqn, and the write-only form: secrets_wo is null in every imported
        // state (ImportResourceState and the ReadResource after it). The plain form brings every
        // key into `secrets` with its value, by design; the write-only form brings in keys,
        // versions and FQNs, and no value at all.
        let imports = [
            id.clone(),
            "acme:wo-lifecycle".to_owned(),
            format!("write-only:{id}"),
            "write-only:acme:wo-lifecycle".to_owned(),
        ];
        for import_id in imports {
            let write_only = import_id.starts_with("write-only:");
            let imported = tf.client.import(GROUP, &import_id).await.unwrap();
            assert!(
                imported.diagnostics.is_empty(),
                "{:?}",
                imported.diagnostics
            );
            assert_eq!(imported.states.len(), 1);
            let (state, private) = &imported.states[0];
            assert_write_only_null("ImportResourceState", state);
            let read = tf
                .refresh_unchecked(&Managed {
                    state: state.clone(),
                    private: private.clone(),
                })
                .await
                .expect("the imported group exists");
            assert_eq!(id_of(&read), id);
            let mut strings = Vec::new();
            collect_strings(&read.state, &mut strings);
            let has_values = strings.iter().any(|s| s == "plain-v" || s == "wo-canary-2");
            assert_eq!(
                has_values, !write_only,
                "import {import_id}: values in state"
            );
            for map in ["secrets_wo", "secrets_wo_versions", "initial_secrets"] {
                assert!(read.state.get(map).is_null(), "import {import_id}: {map}");
            }
            assert_eq!(versions(&read.state), rotated_versions, "{import_id}");
            let fqns = strings_of(&read.state, "secret_fqns").unwrap();
            assert_eq!(
                fqns,
                pairs(&[
                    ("K", "tfy-secret://acme:wo-lifecycle:K"),
                    ("V", "tfy-secret://acme:wo-lifecycle:V"),
                ]),
                "{import_id}"
            );
            if write_only {
                tf.assert_clean("write-only import", &read.state, &read.private);
                assert!(read.state.get("secrets").is_null(), "{import_id}");
            } else {
                assert_eq!(
                    strings_of(&read.state, "secrets"),
                    Some(pairs(&[("K", "wo-canary-2"), ("V", "plain-v")])),
                    "{import_id}"
                );
            }
        }
    });
}

#[test]
fn write_only_keys_are_sent_again_only_after_a_change_elsewhere() {
    let emulator = Emulator::start();
    block_on(async {
        let mut tf = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;
        // T has no version entry: sent on creation, then only to undo a change made elsewhere.
        let config = tf.config(
            "wo-elsewhere",
            &[
                ("T", Mode::WriteOnlyUnversioned("wo-canary-t1")),
                ("W", Mode::WriteOnly("wo-canary-w1", "1")),
            ],
        );
        let mark = emulator.mark();
        let created = tf.run(None, &config).await;
        assert_eq!(
            unknown_versions(&created.planned),
            BTreeSet::from(["T".to_owned(), "W".to_owned()])
        );
        let sent = values_sent(&emulator.requests_since(mark));
        assert_eq!(sent, BTreeMap::from([("T".into(), 1), ("W".into(), 1)]));
        let id = id_of(&created.managed);
        let created_versions = versions(&created.managed.state);

        // A new value for T in the configuration is invisible, as it has no version to change.
        let new_value = tf.config(
            "wo-elsewhere",
            &[
                ("T", Mode::WriteOnlyUnversioned("wo-canary-t2")),
                ("W", Mode::WriteOnly("wo-canary-w1", "1")),
            ],
        );
        let mark = emulator.mark();
        let unchanged = tf.run(Some(&created.managed), &new_value).await;
        assert_eq!(unchanged.action, Action::NoOp);
        assert_eq!(writes(&emulator.requests_since(mark)), 0);
        assert_eq!(server_values(&emulator, &id).await["T"], "wo-canary-t1");

        // Someone changes both keys elsewhere: the server versions moved, so the next apply
        // sends each configured value once, and nothing else.
        change_elsewhere(&emulator, &id, &[("T", "outside-t"), ("W", "outside-w")]).await;
        let mark = emulator.mark();
        let restored = tf.run(Some(&unchanged.managed), &new_value).await;
        assert_eq!(restored.action, Action::Update);
        assert_eq!(
            unknown_versions(&restored.planned),
            BTreeSet::from(["T".to_owned(), "W".to_owned()])
        );
        let sent = values_sent(&emulator.requests_since(mark));
        assert_eq!(sent, BTreeMap::from([("T".into(), 1), ("W".into(), 1)]));
        let server = server_values(&emulator, &id).await;
        assert_eq!(server["T"], "wo-canary-t2");
        assert_eq!(server["W"], "wo-canary-w1");
        let restored_versions = versions(&restored.managed.state);
        for key in ["T", "W"] {
            assert_eq!(restored_versions[key], created_versions[key] + 2, "{key}");
        }

        // Settled: the next run writes nothing.
        let mark = emulator.mark();
        let settled = tf.run(Some(&restored.managed), &new_value).await;
        assert_eq!(settled.action, Action::NoOp);
        assert_eq!(writes(&emulator.requests_since(mark)), 0);
    });
}

#[test]
fn moving_a_key_between_maps_sends_its_value_only_into_secrets() {
    let emulator = Emulator::start();
    block_on(async {
        let mut tf = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;
        let config = tf.config("mode-switch", &[("K", Mode::Value("kept-value"))]);
        let created = tf.run(None, &config).await;
        let id = id_of(&created.managed);
        let version = versions(&created.managed.state)["K"];

        let mut managed = created.managed;
        let mut switches = 0;
        // The configured values differ from the server's: none of them may be sent, since
        // moving a key to `secrets_wo` or `initial_secrets` says nothing about its value.
        let modes = [
            Mode::WriteOnly("wo-canary-switch", "1"),
            Mode::Initial("initial-ignored"),
            Mode::WriteOnlyUnversioned("wo-canary-switch-again"),
            Mode::WriteOnly("wo-canary-switch-3", "7"),
        ];
        let extra_values = ["n-0", "n-1", "n-2", "n-3", "n-4"];
        let config_for = |tf: &mut Tf, round: usize, mode: Mode<'_>| {
            // Each switch also adds a key, so that a write does happen: it must carry only
            // the new key's value.
            let mut secrets = vec![("K".to_owned(), mode)];
            for (i, value) in extra_values.iter().enumerate().take(round + 1) {
                secrets.push((format!("N{i}"), Mode::Value(value)));
            }
            let secrets: Vec<(&str, Mode<'_>)> =
                secrets.iter().map(|(k, m)| (k.as_str(), *m)).collect();
            tf.config("mode-switch", &secrets)
        };
        for (round, mode) in modes.into_iter().enumerate() {
            let new_key = format!("N{round}");
            let config = config_for(&mut tf, round, mode);
            let mark = emulator.mark();
            let outcome = tf.run(Some(&managed), &config).await;
            assert_eq!(outcome.action, Action::Update);
            assert_eq!(
                unknown_versions(&outcome.planned),
                BTreeSet::from([new_key.clone()]),
                "round {round}: a move plans no new version"
            );
            let requests = emulator.requests_since(mark);
            assert!(writes(&requests) > 0);
            assert_eq!(
                values_sent(&requests),
                BTreeMap::from([(new_key, 1)]),
                "{requests:?}"
            );
            assert_eq!(versions(&outcome.managed.state)["K"], version);
            assert_eq!(server_values(&emulator, &id).await["K"], "kept-value");
            managed = outcome.managed;
            switches += 1;
        }
        assert_eq!(switches, 4);

        // Back into `secrets`, whose values are compared from then on: the plan reads K's value
        // from the server and compares it, so the value it already holds is not sent again.
        let config = config_for(&mut tf, 4, Mode::Value("kept-value"));
        let mark = emulator.mark();
        let outcome = tf.run(Some(&managed), &config).await;
        assert_eq!(
            unknown_versions(&outcome.planned),
            BTreeSet::from(["N4".to_owned()])
        );
        let sent = values_sent(&emulator.requests_since(mark));
        assert_eq!(sent, BTreeMap::from([("N4".into(), 1)]));
        assert_eq!(versions(&outcome.managed.state)["K"], version);
        assert_eq!(server_values(&emulator, &id).await["K"], "kept-value");
        let settled = tf.run(Some(&outcome.managed), &config).await;
        assert_eq!(settled.action, Action::NoOp);
    });
}

#[test]
fn set_maps_are_authoritative_and_null_maps_leave_every_key_alone() {
    let emulator = Emulator::start();
    block_on(async {
        let mut tf = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;
        let config = tf.config(
            "authoritative",
            &[
                ("A", Mode::Value("a-canary-value")),
                ("I", Mode::Initial("i-canary-seed")),
            ],
        );
        let created = tf.run(None, &config).await;
        let id = id_of(&created.managed);

        // A key added elsewhere is deleted: the plan drops it and says so by name, pointing at
        // no configuration line.
        change_elsewhere(&emulator, &id, &[("EXTRA", "x")]).await;
        let mark = emulator.mark();
        let pruned = tf.run(Some(&created.managed), &config).await;
        assert_eq!(pruned.action, Action::Update);
        assert!(unknown_versions(&pruned.planned).is_empty());
        let planned_keys: Vec<&String> = pruned
            .planned
            .get("secret_versions")
            .as_entries()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(planned_keys, ["A", "I"]);
        let [warning] = pruned.warnings.0.as_slice() else {
            panic!("one warning expected: {:?}", pruned.warnings);
        };
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!(warning.summary, "Secrets Will Be Deleted");
        assert_eq!(warning.path, None);
        assert!(warning.detail.contains("EXTRA"), "{}", warning.detail);
        assert!(!warning.detail.contains("canary"), "{}", warning.detail);
        assert!(values_sent(&emulator.requests_since(mark)).is_empty());
        let held: Vec<String> = server_values(&emulator, &id).await.into_keys().collect();
        assert_eq!(held, ["A", "I"]);

        // All three maps null: nothing is written or deleted, and every key, including one
        // added elsewhere, is listed with its version and FQN.
        change_elsewhere(&emulator, &id, &[("OTHER", "o")]).await;
        let unmanaged = tf.config("authoritative", &[]);
        let mark = emulator.mark();
        let released = tf.run(Some(&pruned.managed), &unmanaged).await;
        assert_eq!(released.action, Action::Update);
        let summaries: Vec<&str> = released
            .warnings
            .iter()
            .map(|d| d.summary.as_str())
            .collect();
        assert_eq!(summaries, ["Secrets No Longer Managed"]);
        let requests = emulator.requests_since(mark);
        assert_eq!(writes(&requests), 0, "{requests:?}");
        for map in SECRET_MAPS {
            assert!(released.managed.state.get(map).is_null(), "{map}");
        }
        let listed: Vec<String> = versions(&released.managed.state).into_keys().collect();
        assert_eq!(listed, ["A", "I", "OTHER"]);
        let fqns = strings_of(&released.managed.state, "secret_fqns").unwrap();
        assert_eq!(fqns["OTHER"], "tfy-secret://acme:authoritative:OTHER");
        let held: Vec<String> = server_values(&emulator, &id).await.into_keys().collect();
        assert_eq!(held, ["A", "I", "OTHER"]);
        let settled = tf.run(Some(&released.managed), &unmanaged).await;
        assert_eq!(settled.action, Action::NoOp);
    });
}

#[test]
fn terraform_1_0_3_manages_values_and_destroys_without_a_plan() {
    let emulator = Emulator::start();
    block_on(async {
        let mut tf = Tf::start(ImitatedTerraform::V1_0_3, &emulator, ACME_KEY).await;
        let config = tf.config(
            "old-client",
            &[
                ("A", Mode::Value("a1")),
                ("B", Mode::Value("b1")),
                ("I", Mode::Initial("i1")),
            ],
        );
        let created = tf.run(None, &config).await;
        assert_eq!(created.action, Action::Create);
        let again = tf.run(Some(&created.managed), &config).await;
        assert_eq!(again.action, Action::NoOp);
        let id = id_of(&again.managed);
        assert_eq!(
            server_values(&emulator, &id).await,
            pairs(&[("A", "a1"), ("B", "b1"), ("I", "i1")])
        );

        // 1.0.3 destroys with ApplyResourceChange alone: planned state and config null.
        for attempt in ["destroy", "destroy of a group already gone"] {
            let applied = tf
                .client
                .apply(
                    GROUP,
                    &again.managed.state,
                    &Value::Null,
                    &Value::Null,
                    again.managed.private.clone(),
                )
                .await
                .unwrap();
            assert!(
                applied.diagnostics.is_empty(),
                "{attempt}: {:?}",
                applied.diagnostics
            );
            assert_eq!(applied.state, Some(Value::Null), "{attempt}");
            assert!(
                matches!(
                    api_client(&emulator, ACME_KEY).get_secret_group(&id).await,
                    Err(truefoundry_provider::client::Error::NotFound { .. })
                ),
                "{attempt}: the group is gone"
            );
        }
        let deletes = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count();
        assert_eq!(deletes, 2, "each destroy asked once");

        // A refresh of the destroyed group drops it from state, so the next plan creates it.
        assert!(tf.refresh(&again.managed).await.is_none());
    });
}

#[test]
fn an_apply_does_not_delete_a_key_that_came_into_use_after_its_plan() {
    let before = Emulator::start();
    // Emulators own a runtime, which must not be dropped inside this one: `after` comes out.
    let _after = block_on(async {
        let mut tf = Tf::start(ImitatedTerraform::V1_0_3, &before, ACME_KEY).await;
        let both = tf.config(
            "in-use-late",
            &[("DB", Mode::Value("db")), ("KEEP", Mode::Value("keep"))],
        );
        let created = tf.run(None, &both).await;
        let only_keep = tf.config("in-use-late", &[("KEEP", Mode::Value("keep"))]);
        let (planned, planned_private, _) = tf.plan(Some(&created.managed), &only_keep).await;

        // Deployments start using DB after the plan; the apply's re-read is the last word.
        let after =
            before.successor_with_active_deployments(&[("tfy-secret://acme:in-use-late:DB", 2)]);
        let mut tf = Tf::start(ImitatedTerraform::V1_0_3, &after, ACME_KEY).await;
        let mark = after.mark();
        let applied = tf
            .client
            .apply(
                GROUP,
                &created.managed.state,
                &planned,
                &only_keep,
                planned_private,
            )
            .await
            .unwrap();
        let [error] = errors(&applied.diagnostics)[..] else {
            panic!("one error: {:?}", applied.diagnostics);
        };
        assert_eq!(error.summary, "Secrets In Use By Deployments");
        assert!(
            error.detail.contains("DB (2 deployments)"),
            "{}",
            error.detail
        );
        assert!(
            error.detail.contains("Nothing was written"),
            "{}",
            error.detail
        );
        assert_eq!(
            applied.state.as_ref(),
            Some(&created.managed.state),
            "the state stays as it was"
        );
        assert_eq!(writes(&after.requests_since(mark)), 0);
        let id = id_of(&created.managed);
        assert_eq!(
            server_values(&after, &id).await,
            pairs(&[("DB", "db"), ("KEEP", "keep")])
        );
        after
    });
}

/// The two secrets the data source and ephemeral resource tests read back.
const SEEDED: [(&str, &str); 2] = [("DB_PASSWORD", "pa55"), ("TOKEN", "t0k")];

#[test]
fn ephemeral_resource_opens_renews_and_closes_with_real_values() {
    let emulator = Emulator::start();
    block_on(async {
        let id = seed_group(&api_client(&emulator, ACME_KEY), "ephemeral-src", &SEEDED).await;
        let mut tf = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_KEY).await;

        for lookup in [
            ("name", "ephemeral-src"),
            ("fqn", "acme:ephemeral-src"),
            ("id", id.as_str()),
        ] {
            let config = tf.ephemeral_config(lookup);
            let diags = tf.client.validate_ephemeral(GROUP, &config).await.unwrap();
            assert!(diags.is_empty(), "{diags:?}");
            let opened = tf.client.open_ephemeral(GROUP, &config).await.unwrap();
            assert!(opened.diagnostics.is_empty(), "{:?}", opened.diagnostics);
            let result = opened.result.unwrap();
            assert!(result.is_wholly_known());
            assert_eq!(
                result.get(lookup.0).as_str(),
                Some(lookup.1),
                "config echoed"
            );
            assert_eq!(result.get("id").as_str(), Some(id.as_str()));
            let values = result.get("secret_values").as_entries().unwrap();
            assert_eq!(values["DB_PASSWORD"].as_str(), Some("pa55"));
            assert_eq!(values["TOKEN"].as_str(), Some("t0k"));
            let renewed = tf
                .client
                .renew_ephemeral(GROUP, opened.private.clone())
                .await
                .unwrap();
            assert!(renewed.diagnostics.is_empty(), "{:?}", renewed.diagnostics);
            let closed = tf
                .client
                .close_ephemeral(GROUP, opened.private)
                .await
                .unwrap();
            assert!(closed.is_empty(), "{closed:?}");
        }

        // Two lookups at once are refused before any request.
        let mut ambiguous = tf.ephemeral_config(("name", "ephemeral-src"));
        ambiguous.set("id", Value::string(&id));
        let diags = tf
            .client
            .validate_ephemeral(GROUP, &ambiguous)
            .await
            .unwrap();
        assert!(diags.has_errors());

        // A viewer may see the group but not its values.
        let mut viewer = Tf::start(ImitatedTerraform::V1_11, &emulator, ACME_VIEWER_KEY).await;
        let config = viewer.ephemeral_config(("name", "ephemeral-src"));
        let opened = viewer.client.open_ephemeral(GROUP, &config).await.unwrap();
        let refused = errors(&opened.diagnostics);
        assert_eq!(refused.len(), 1, "{:?}", opened.diagnostics);
        assert!(
            refused[0].summary.starts_with("Permission Denied"),
            "{:?}",
            refused[0]
        );
        assert!(refused[0].detail.contains("secret-group-editor"));
        assert!(
            !refused[0].detail.contains("pa55") && !refused[0].detail.contains(ACME_VIEWER_KEY)
        );
    });
}

#[test]
fn data_source_reads_keys_always_and_values_only_when_asked() {
    let emulator = Emulator::start();
    block_on(async {
        let id = seed_group(&api_client(&emulator, ACME_KEY), "data-src", &SEEDED).await;
        for terraform in [ImitatedTerraform::V1_0_3, ImitatedTerraform::V1_11] {
            let mut tf = Tf::start(terraform, &emulator, ACME_KEY).await;
            for include_values in [None, Some(false), Some(true)] {
                let config = tf.data_source_config(("fqn", "acme:data-src"), include_values);
                let diags = tf
                    .client
                    .validate_data_source(GROUP, &config)
                    .await
                    .unwrap();
                assert!(diags.is_empty(), "{diags:?}");
                let mark = emulator.mark();
                let read = tf.client.read_data_source(GROUP, &config).await.unwrap();
                assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
                let state = read.state.unwrap();
                assert!(state.is_wholly_known());
                assert_eq!(state.get("id").as_str(), Some(id.as_str()));
                let keys: Vec<&str> = state
                    .get("keys")
                    .as_elements()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert_eq!(keys, ["DB_PASSWORD", "TOKEN"]);
                assert_eq!(
                    state.get("secret_fqns").get("TOKEN").as_str(),
                    Some("tfy-secret://acme:data-src:TOKEN")
                );
                // One request finds the group, one lists its secrets (with versions, and values
                // when asked): two whatever the number of keys.
                let requests = emulator.requests_since(mark);
                assert_eq!(requests.len(), 2, "{requests:?}");
                if include_values == Some(true) {
                    let values = state.get("secret_values");
                    assert_eq!(values.get("DB_PASSWORD").as_str(), Some("pa55"));
                    assert_eq!(values.get("TOKEN").as_str(), Some("t0k"));
                } else {
                    assert!(state.get("secret_values").is_null());
                }
            }
        }
    });
}

/// Runs a test body on its own runtime; the emulator (which owns a runtime) lives outside it.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The state of the stub's group `sg-1`, holding key `K`, with `secrets` as given and no other
/// secret map.
fn stub_group_state(tf: &Tf, secrets: Value) -> Value {
    let mut state = stub::group_state(&tf.resource_type());
    state.set("secrets", secrets);
    state
}

/// A refresh asks for the group and for its secrets at once. The stub answers the group only
/// once the secrets listing has arrived, which a provider that waits for one answer before
/// asking the next cannot send in time: the stub then gives up waiting and says so.
#[tokio::test]
async fn refresh_asks_for_the_group_and_its_secrets_at_once() {
    let stub = Stub::start();
    stub.hold(
        axum::http::Method::GET,
        stub::GROUP,
        (axum::http::Method::POST, stub::SECRETS),
    );
    let mut tf = Tf::connect(ImitatedTerraform::V1_0_3, &stub.base_url, "stub-key").await;

    let prior = stub_group_state(&tf, Value::map([("K", Value::string(stub::STORED_CANARY))]));
    let read = tf.client.read(GROUP, &prior, Vec::new()).await.unwrap();
    assert!(!read.diagnostics.has_errors(), "{:?}", read.diagnostics);
    let state = read.state.unwrap();
    assert_eq!(state.get("id"), &Value::string(stub::GROUP_ID));
    assert_eq!(versions(&state), BTreeMap::from([("K".to_owned(), 1)]));
    assert_eq!(
        stub.released_by_arrival(),
        vec![(axum::http::Method::GET, stub::GROUP.to_owned())],
        "the group was asked for alone: {:?}",
        stub.requests()
    );
}

/// A refresh reads the values of the keys of `secrets`, selected by FQN, and no other: the
/// values of `secrets_wo` and `initial_secrets` keys never reach the provider, and with every
/// map null no value is read at all.
#[tokio::test]
async fn refresh_reads_values_only_for_the_keys_of_secrets() {
    let stub = Stub::start();
    let mut tf = Tf::connect(ImitatedTerraform::V1_11, &stub.base_url, "stub-key").await;
    let listing_with_values = |bodies: &[serde_json::Value]| -> Vec<serde_json::Value> {
        bodies
            .iter()
            .filter(|b| b["withValue"] == serde_json::json!(true))
            .cloned()
            .collect()
    };

    let mut prior = stub_group_state(&tf, Value::map([("K", Value::string("prior-value"))]));
    prior.set(
        "secrets_wo_versions",
        Value::map([("W", Value::string("1"))]),
    );
    prior.set(
        "initial_secrets",
        Value::map([("P", Value::string("seed"))]),
    );
    let read = tf.client.read(GROUP, &prior, Vec::new()).await.unwrap();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    let state = read.state.unwrap();
    // The server's value replaces the one in state: drift shows in the next plan.
    assert_eq!(
        strings_of(&state, "secrets"),
        Some(pairs(&[("K", stub::STORED_CANARY)]))
    );
    let bodies = stub.bodies(axum::http::Method::POST, stub::SECRETS);
    assert_eq!(
        bodies.len(),
        2,
        "a key listing and a value listing: {bodies:?}"
    );
    let with_values = listing_with_values(&bodies);
    assert_eq!(with_values.len(), 1, "{bodies:?}");
    assert_eq!(
        with_values[0]["secretFqns"],
        serde_json::json!([format!("tfy-secret://acme:{}:K", stub::GROUP_NAME)]),
        "values are selected by FQN, for the keys of secrets only"
    );

    // Every map null: one listing of keys and versions, and no value.
    let before = bodies.len();
    let unmanaged = stub_group_state(&tf, Value::Null);
    let read = tf.client.read(GROUP, &unmanaged, Vec::new()).await.unwrap();
    assert!(read.diagnostics.is_empty(), "{:?}", read.diagnostics);
    let state = read.state.unwrap();
    for map in SECRET_MAPS {
        assert!(state.get(map).is_null(), "{map}");
    }
    assert_eq!(versions(&state), BTreeMap::from([("K".to_owned(), 1)]));
    let bodies = stub.bodies(axum::http::Method::POST, stub::SECRETS);
    assert_eq!(bodies.len(), before + 1, "{bodies:?}");
    assert!(
        listing_with_values(&bodies[before..]).is_empty(),
        "{bodies:?}"
    );
}

/// The emulator serving the data behind the version-0 state fixtures (tenant `acme`).
const STATE_V0: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/state-v0");

/// The one instance of a state fixture, as Terraform stored it: attributes as raw JSON, and the
/// private bytes.
fn stored_instance(file: &str) -> (i64, String, Vec<u8>) {
    let text = std::fs::read_to_string(Path::new(STATE_V0).join(file)).unwrap();
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let instance = &state["resources"][0]["instances"][0];
    let private = base64::engine::general_purpose::STANDARD
        .decode(instance["private"].as_str().unwrap())
        .unwrap();
    (
        instance["schema_version"].as_i64().unwrap(),
        instance["attributes"].to_string(),
        private,
    )
}

/// State written by schema version 0 (Terraform 1.11 and 1.0.3, committed fixtures) is upgraded
/// from its raw JSON into the flat maps, each key keeping its meaning, and the configuration
/// rewritten for the new schema then applies without sending a value or making a version.
#[test]
fn state_of_schema_version_0_is_upgraded_into_the_flat_maps() {
    let emulator = Emulator::builder()
        .snapshot(&Path::new(STATE_V0).join("emulator-state.json"))
        .start();
    block_on(async {
        for (file, terraform) in [
            ("terraform-1.11.tfstate", ImitatedTerraform::V1_11),
            ("terraform-1.0.3.tfstate", ImitatedTerraform::V1_0_3),
        ] {
            let mut tf = Tf::start(terraform, &emulator, ACME_KEY).await;
            let (version, json, private) = stored_instance(file);
            assert_eq!(version, 0, "{file}");
            let old: serde_json::Value = serde_json::from_str(&json).unwrap();
            let upgraded = tf.upgrade(0, &json).await;

            let write_only = terraform == ImitatedTerraform::V1_11;
            assert_eq!(
                strings_of(&upgraded, "secrets"),
                Some(pairs(&[("DB_PASSWORD", "v0-db-password")])),
                "{file}"
            );
            assert_eq!(
                strings_of(&upgraded, "secrets_wo_versions"),
                write_only.then(|| pairs(&[("API_TOKEN", "1")])),
                "{file}"
            );
            // Version 0 never knew an initial value: recorded empty, and never sent.
            assert_eq!(
                strings_of(&upgraded, "initial_secrets"),
                Some(pairs(&[("PARTNER_KEY", "")])),
                "{file}"
            );
            assert!(upgraded.get("secrets_wo").is_null(), "{file}");
            // Everything else as it was stored.
            let keys: Vec<&str> = match write_only {
                true => vec!["API_TOKEN", "DB_PASSWORD", "PARTNER_KEY"],
                false => vec!["DB_PASSWORD", "PARTNER_KEY"],
            };
            let stored_versions: BTreeMap<String, i64> =
                keys.iter().map(|key| ((*key).to_owned(), 1)).collect();
            assert_eq!(versions(&upgraded), stored_versions, "{file}");
            for attribute in ["id", "name", "fqn", "tenant_name", "integration_fqn"] {
                assert_eq!(
                    upgraded.get(attribute).as_str(),
                    old[attribute].as_str(),
                    "{file}: {attribute}"
                );
            }
            assert!(upgraded.get("owned_by_account").is_null());
            let fqns = strings_of(&upgraded, "secret_fqns").unwrap();
            let old_fqns: BTreeMap<String, String> =
                serde_json::from_value(old["secret_fqns"].clone()).unwrap();
            assert_eq!(fqns, old_fqns, "{file}");
            let collaborators = upgraded.get("collaborators").as_elements().unwrap();
            assert_eq!(collaborators.len(), 1);
            assert_eq!(
                collaborators[0].get("subject").as_str(),
                Some("team:payments")
            );
            assert_eq!(
                collaborators[0].get("role_id").as_str(),
                Some("secret-group-editor")
            );

            // The configuration rewritten for schema version 1: no value sent, no new version.
            let name = upgraded.get("name").as_str().unwrap().to_owned();
            let mut secrets = vec![
                ("DB_PASSWORD", Mode::Value("v0-db-password")),
                ("PARTNER_KEY", Mode::Initial("set-me")),
            ];
            if write_only {
                secrets.push(("API_TOKEN", Mode::WriteOnly("wo-canary-new-token", "1")));
            }
            let mut config = tf.config(&name, &secrets);
            config.set("collaborators", upgraded.get("collaborators").clone());
            let id = upgraded.get("id").as_str().unwrap().to_owned();
            let before = server_values(&emulator, &id).await;
            let mark = emulator.mark();
            let applied = tf
                .run(
                    Some(&Managed {
                        state: upgraded,
                        private: private.clone(),
                    }),
                    &config,
                )
                .await;
            assert!(
                unknown_versions(&applied.planned).is_empty(),
                "{file}: {:?}",
                applied.planned
            );
            assert!(
                applied.warnings.is_empty(),
                "{file}: {:?}",
                applied.warnings
            );
            let requests = emulator.requests_since(mark);
            assert!(values_sent(&requests).is_empty(), "{file}: {requests:?}");
            assert_eq!(versions(&applied.managed.state), stored_versions, "{file}");
            assert_eq!(server_values(&emulator, &id).await, before, "{file}");
            let settled = tf.run(Some(&applied.managed), &config).await;
            assert_eq!(settled.action, Action::NoOp, "{file}");
        }
    });
}
