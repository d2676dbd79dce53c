//! The emulator's configuration: tenants, secret-store integrations, API keys, identity providers
//! with their virtual accounts, and fault switches. Parsed strictly (unknown keys are an error)
//! so a typo in a test fixture fails loudly.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::variants::Variant;

/// Tenant of the built-in demo configuration.
pub const DEMO_TENANT: &str = "demo";
/// The integration TrueFoundry creates for every tenant, and the provider's default.
pub const DEMO_INTEGRATION: &str = "internal:aws:aws-1:secret-store:internal-secret-store";
/// Subject of the demo configuration's tenant-admin key.
pub const DEMO_SUBJECT: &str = "user:admin@demo";

/// The subject kinds the strict API takes for a collaborator or an API key's owner (people,
/// teams and accounts): what every variant but `lenient-manifest` takes.
pub(crate) const STRICT_SUBJECT_KINDS: [&str; 4] =
    ["user", "team", "serviceaccount", "virtualaccount"];
/// Every subject kind of the API definition (its `SubjectType`): what `lenient-manifest` takes.
pub(crate) const SUBJECT_KINDS: [&str; 8] = [
    "user",
    "team",
    "serviceaccount",
    "virtualaccount",
    "agent-identity",
    "agent",
    "agent-channel-identity",
    "role",
];

/// Text that must never be printed: a secret's value or an API key. `Debug` prints a marker.
/// The same idea as the provider client's `SecretValue`, kept apart because the emulator is an
/// independent implementation of the API.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(text: impl Into<String>) -> Self {
        SecretValue(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub tenant: String,
    pub fqn: String,
    /// The longest value (in bytes) the secret store takes; a longer one is refused with a 422
    /// naming the key. Absent: [`DEFAULT_MAX_VALUE_BYTES`]; `null`: no limit.
    #[serde(default = "default_max_value_bytes")]
    pub max_value_bytes: Option<usize>,
    /// How many versions of a secret the store keeps; a write beyond that drops the oldest.
    #[serde(default = "default_max_versions")]
    pub max_versions: usize,
}

/// The value size limit of an integration that sets none: 64 KiB, what AWS Secrets Manager and
/// Google Secret Manager take (TrueFoundry's default store is on AWS). Parameter Store (4/8 KB) and
/// Azure Key Vault (25 KB) take less; an integration may say so with `max_value_bytes`.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 64 * 1024;
/// The versions a secret keeps unless its integration says otherwise: AWS Parameter Store keeps
/// a parameter's last 100 versions and drops the oldest, and Secrets Manager caps a secret at
/// about 100 versions. Without a cap a key written in a loop grows the emulator without bound.
pub const DEFAULT_MAX_VERSIONS: usize = 100;

fn default_max_value_bytes() -> Option<usize> {
    Some(DEFAULT_MAX_VALUE_BYTES)
}

fn default_max_versions() -> usize {
    DEFAULT_MAX_VERSIONS
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub token: SecretValue,
    pub tenant: String,
    /// `user:<email>`, `serviceaccount:<name>`, … matched against collaborator subjects.
    pub subject: String,
    #[serde(default)]
    pub tenant_admin: bool,
}

/// An identity provider whose JWTs are accepted as bearer tokens (TrueFoundry's "Identity
/// Providers"): signed by a key of its JWKS, from its issuer, for one of its audiences.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    pub name: String,
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Relative to the configuration file; read once, at start.
    pub jwks_file: PathBuf,
    /// The claim whose value picks the virtual account.
    pub virtual_account_claim: String,
    /// The keys of `jwks_file`, loaded by [`EmulatorConfig::from_file`].
    #[serde(skip)]
    pub jwks: JwkSet,
}

/// A virtual account a token of an identity provider acts as, when its claim has `claim_value`.
/// Its subject is `virtualaccount:<name>`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualAccountConfig {
    pub name: String,
    pub tenant: String,
    #[serde(default)]
    pub tenant_admin: bool,
    pub identity_provider: String,
    pub claim_value: String,
}

impl VirtualAccountConfig {
    pub fn subject(&self) -> String {
        format!("virtualaccount:{}", self.name)
    }
}

/// Injected failures on `/api/svc` routes, drawn from one seeded generator so a run is repeatable.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Added before every request is handled.
    pub latency: Duration,
    /// Share of requests answered `429` with `Retry-After: retry_after_secs`.
    pub rate_429: f64,
    pub retry_after_secs: u64,
    /// Share of requests answered `503`.
    pub rate_503: f64,
    /// Share of requests whose connection is closed without an answer.
    pub rate_drop: f64,
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            rate_429: 0.0,
            retry_after_secs: 1,
            rate_503: 0.0,
            rate_drop: 0.0,
            seed: 0,
        }
    }
}

impl Faults {
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, rate) in [
            ("429", self.rate_429),
            ("503", self.rate_503),
            ("drop", self.rate_drop),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                bail!("the {name} fault rate must be between 0 and 1, got {rate}");
            }
        }
        if self.rate_429 + self.rate_503 + self.rate_drop > 1.0 {
            bail!("the fault rates (429, 503, drop) add up to more than 1");
        }
        Ok(())
    }
}

/// How faults are spelled in the JSON configuration file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    #[serde(default)]
    latency_ms: u64,
    #[serde(default)]
    rate_429: f64,
    #[serde(default)]
    retry_after_secs: Option<u64>,
    #[serde(default)]
    rate_503: f64,
    #[serde(default)]
    rate_drop: f64,
    #[serde(default)]
    seed: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    tenants: Vec<TenantConfig>,
    #[serde(default)]
    integrations: Vec<IntegrationConfig>,
    /// Read one by one (`api_key_from_json`), so that a parse error never quotes a token.
    api_keys: Vec<serde_json::Value>,
    #[serde(default)]
    disable_secret_value_view: bool,
    #[serde(default)]
    faults: Option<FaultsFile>,
    /// Names of [`Variant`]s.
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    active_deployments: BTreeMap<String, u32>,
    #[serde(default)]
    identity_providers: Vec<IdentityProviderConfig>,
    #[serde(default)]
    virtual_accounts: Vec<VirtualAccountConfig>,
}

#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub tenants: Vec<TenantConfig>,
    pub integrations: Vec<IntegrationConfig>,
    pub api_keys: Vec<ApiKeyConfig>,
    /// Emulates the control plane's `DISABLE_SECRET_VALUE_VIEW`: values are never returned.
    pub disable_secret_value_view: bool,
    /// The faults declared in the file; `EmulatorOptions::new` starts from these.
    pub faults: Faults,
    /// Alternative behaviours of the API in effect (none: the emulator's own reading).
    pub variants: BTreeSet<Variant>,
    /// How many deployments reference a secret, by its FQN (`tfy-secret://<tenant>:<group>:<key>`):
    /// the `activeDeploymentsCount` reported for it. The emulator runs no deployments, so this is
    /// the only way a secret comes to be in use.
    pub active_deployments: BTreeMap<String, u32>,
    pub identity_providers: Vec<IdentityProviderConfig>,
    pub virtual_accounts: Vec<VirtualAccountConfig>,
}

impl EmulatorConfig {
    /// Tenant `demo`, the internal secret store, one tenant-admin key.
    pub fn demo(api_key: &str) -> Self {
        EmulatorConfig {
            tenants: vec![TenantConfig {
                name: DEMO_TENANT.to_owned(),
            }],
            integrations: vec![IntegrationConfig {
                tenant: DEMO_TENANT.to_owned(),
                fqn: DEMO_INTEGRATION.to_owned(),
                max_value_bytes: default_max_value_bytes(),
                max_versions: DEFAULT_MAX_VERSIONS,
            }],
            api_keys: vec![ApiKeyConfig {
                token: SecretValue::new(api_key),
                tenant: DEMO_TENANT.to_owned(),
                subject: DEMO_SUBJECT.to_owned(),
                tenant_admin: true,
            }],
            disable_secret_value_view: false,
            faults: Faults::default(),
            variants: BTreeSet::new(),
            active_deployments: BTreeMap::new(),
            identity_providers: Vec::new(),
            virtual_accounts: Vec::new(),
        }
    }

    /// Reads a configuration file; the JWKS files it names are read relative to its directory.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut config =
            Self::from_json(&text).with_context(|| format!("in {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for provider in &mut config.identity_providers {
            let jwks_path = dir.join(&provider.jwks_file);
            let jwks = std::fs::read_to_string(&jwks_path).with_context(|| {
                format!(
                    "cannot read the JWKS of identity provider {:?} ({})",
                    provider.name,
                    jwks_path.display()
                )
            })?;
            provider.jwks = serde_json::from_str(&jwks).with_context(|| {
                format!(
                    "the JWKS of identity provider {:?} ({}) is not a valid JWK set",
                    provider.name,
                    jwks_path.display()
                )
            })?;
        }
        Ok(config)
    }

    /// Parses a configuration; identity providers get no keys (see [`Self::from_file`]).
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let file: ConfigFile = serde_json::from_str(text).map_err(|error| {
            anyhow::anyhow!(
                "the emulator configuration is not valid: {}",
                without_quoted_input(&error)
            )
        })?;
        let faults = match file.faults {
            None => Faults::default(),
            Some(f) => Faults {
                latency: Duration::from_millis(f.latency_ms),
                rate_429: f.rate_429,
                retry_after_secs: f
                    .retry_after_secs
                    .unwrap_or(Faults::default().retry_after_secs),
                rate_503: f.rate_503,
                rate_drop: f.rate_drop,
                seed: f.seed,
            },
        };
        let config = EmulatorConfig {
            tenants: file.tenants,
            integrations: file.integrations,
            api_keys: file
                .api_keys
                .into_iter()
                .enumerate()
                .map(|(index, entry)| api_key_from_json(index, entry))
                .collect::<anyhow::Result<_>>()?,
            disable_secret_value_view: file.disable_secret_value_view,
            faults,
            variants: file
                .variants
                .iter()
                .map(|name| Variant::parse(name))
                .collect::<anyhow::Result<_>>()?,
            active_deployments: file.active_deployments,
            identity_providers: file.identity_providers,
            virtual_accounts: file.virtual_accounts,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn has(&self, variant: Variant) -> bool {
        self.variants.contains(&variant)
    }

    /// The subject kinds collaborators and API keys may have.
    pub(crate) fn subject_kinds(&self) -> &'static [&'static str] {
        if self.has(Variant::LenientManifest) {
            &SUBJECT_KINDS
        } else {
            &STRICT_SUBJECT_KINDS
        }
    }

    /// Checks references between the sections; errors name the entry but never a token.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut tenants = HashSet::new();
        for tenant in &self.tenants {
            if tenant.name.is_empty() || tenant.name.contains(':') {
                bail!(
                    "tenant name {:?} must be non-empty and without ':'",
                    tenant.name
                );
            }
            if !tenants.insert(tenant.name.as_str()) {
                bail!("tenant {:?} is declared twice", tenant.name);
            }
        }
        let mut integrations = HashSet::new();
        for integration in &self.integrations {
            if !tenants.contains(integration.tenant.as_str()) {
                bail!(
                    "integration {:?} names an undeclared tenant {:?}",
                    integration.fqn,
                    integration.tenant
                );
            }
            if integration.fqn.is_empty() {
                bail!(
                    "an integration of tenant {:?} has an empty fqn",
                    integration.tenant
                );
            }
            if integration.max_versions == 0 {
                bail!(
                    "integration {:?} has max_versions 0; a secret keeps at least its current version",
                    integration.fqn
                );
            }
            if !integrations.insert((integration.tenant.as_str(), integration.fqn.as_str())) {
                bail!("integration {:?} is declared twice", integration.fqn);
            }
        }
        let mut tokens = HashSet::new();
        for (index, key) in self.api_keys.iter().enumerate() {
            // The messages name the key by position only: a token pasted into the wrong field
            // would otherwise be printed back.
            let number = index + 1;
            if !tenants.contains(key.tenant.as_str()) {
                bail!(
                    "API key #{number} names a tenant that is not declared in `tenants` \
                     (its value is not shown: it may be a misplaced token)"
                );
            }
            let token = key.token.expose();
            if token.is_empty() {
                bail!("API key #{number} has an empty token");
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!(
                    "API key #{number} has a token with whitespace or a control character: no \
                     client can send it in an Authorization header; remove it"
                );
            }
            if !tokens.insert(token) {
                bail!("API key #{number} repeats another key's token");
            }
            if !is_valid_subject(&key.subject, self.subject_kinds()) {
                bail!(
                    "API key #{number} has a subject that is not one of {} (its value is not \
                     shown: it may be a misplaced token)",
                    subject_forms(self.subject_kinds())
                );
            }
        }
        for fqn in self.active_deployments.keys() {
            match secret_fqn_tenant(fqn) {
                Some(tenant) if tenants.contains(tenant) => {}
                Some(tenant) => {
                    bail!("active_deployments names {fqn:?}, of an undeclared tenant {tenant:?}")
                }
                None => bail!(
                    "active_deployments names {fqn:?}; expected tfy-secret://<tenant>:<group>:<key>"
                ),
            }
        }
        self.validate_identity_providers(&tenants)?;
        self.faults.validate()
    }

    fn validate_identity_providers(&self, tenants: &HashSet<&str>) -> anyhow::Result<()> {
        let mut names = HashSet::new();
        let mut issuers = HashSet::new();
        for provider in &self.identity_providers {
            if provider.name.is_empty() || !names.insert(provider.name.as_str()) {
                bail!(
                    "identity provider {:?} needs a name of its own",
                    provider.name
                );
            }
            // One provider per issuer: a token's `iss` picks the keys it is checked against.
            if !issuers.insert(provider.issuer.as_str()) {
                bail!(
                    "identity provider {:?} repeats another's issuer {:?}",
                    provider.name,
                    provider.issuer
                );
            }
            if provider.audiences.is_empty() || provider.virtual_account_claim.is_empty() {
                bail!(
                    "identity provider {:?} needs audiences and a virtual_account_claim",
                    provider.name
                );
            }
        }
        let mut accounts = HashSet::new();
        let mut mappings = HashSet::new();
        for account in &self.virtual_accounts {
            if !accounts.insert(account.name.as_str()) {
                bail!("virtual account {:?} is declared twice", account.name);
            }
            if !is_valid_subject(&account.subject(), &STRICT_SUBJECT_KINDS) {
                bail!("virtual account {:?} needs a name", account.name);
            }
            if !tenants.contains(account.tenant.as_str()) {
                bail!(
                    "virtual account {:?} names an undeclared tenant {:?}",
                    account.name,
                    account.tenant
                );
            }
            if !names.contains(account.identity_provider.as_str()) {
                bail!(
                    "virtual account {:?} names an undeclared identity provider {:?}",
                    account.name,
                    account.identity_provider
                );
            }
            if !mappings.insert((
                account.identity_provider.as_str(),
                account.claim_value.as_str(),
            )) {
                bail!(
                    "virtual account {:?} repeats another's claim value {:?} of identity provider {:?}",
                    account.name,
                    account.claim_value,
                    account.identity_provider
                );
            }
        }
        Ok(())
    }

    /// The `activeDeploymentsCount` of the secret with this FQN (0 when the file names none).
    pub fn active_deployments_of(&self, secret_fqn: &str) -> u32 {
        self.active_deployments
            .get(secret_fqn)
            .copied()
            .unwrap_or(0)
    }
}

/// One entry of `api_keys`. A parse error says which entry and, for a missing field, which
/// field, but never quotes the entry: a token may sit in any of its fields or keys.
fn api_key_from_json(index: usize, entry: serde_json::Value) -> anyhow::Result<ApiKeyConfig> {
    serde_json::from_value(entry).map_err(|error| {
        let text = error.to_string();
        let problem = if text.starts_with("missing field") {
            text
        } else {
            "an unknown field, or a value of the wrong type".to_owned()
        };
        anyhow::anyhow!(
            "API key #{} is not valid: {problem}; expected {{\"token\", \"tenant\", \
             \"subject\", \"tenant_admin\"}} (the entry is not shown: it may hold a token)",
            index + 1
        )
    })
}

/// A JSON parse error without the string values it quotes: the file holds tokens, and any of
/// them may be where the error is. Field names stay (a misspelt one is the error to fix); the
/// entries of `api_keys`, where a token may sit in any field, are parsed apart.
fn without_quoted_input(error: &serde_json::Error) -> String {
    let text = error.to_string();
    // Whatever sits between double quotes came from the file.
    let mut shown = String::with_capacity(text.len());
    for (index, part) in text.split('"').enumerate() {
        shown.push_str(if index % 2 == 0 { part } else { "(not shown)" });
    }
    shown
}

/// The tenant of `tfy-secret://<tenant>:<group>:<key>`, when `fqn` has that form.
fn secret_fqn_tenant(fqn: &str) -> Option<&str> {
    let (tenant, rest) = fqn.strip_prefix("tfy-secret://")?.split_once(':')?;
    let (group, key) = rest.rsplit_once(':')?;
    (!tenant.is_empty() && !group.is_empty() && !key.is_empty()).then_some(tenant)
}

/// `kind:<name>, …` for an error message.
pub(crate) fn subject_forms(kinds: &[&str]) -> String {
    kinds
        .iter()
        .map(|kind| format!("{kind}:<name>"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kind:name` with a kind of `kinds` and a non-empty name.
pub(crate) fn is_valid_subject(subject: &str, kinds: &[&str]) -> bool {
    match subject.split_once(':') {
        Some((kind, name)) => kinds.contains(&kind) && !name.trim().is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
        "tenants": [{"name": "acme"}],
        "integrations": [{"tenant": "acme", "fqn": "acme:aws:aws-1:secret-store:ssm"}],
        "api_keys": [{"token": "tok-1", "tenant": "acme", "subject": "user:alice@example.com", "tenant_admin": true}],
        "disable_secret_value_view": true,
        "faults": {"latency_ms": 5, "rate_429": 0.25, "retry_after_secs": 2, "seed": 7},
        "variants": ["sparse-versions", "no-group-name"]
    }"#;

    #[test]
    fn parses_every_section() {
        let config = EmulatorConfig::from_json(FULL).unwrap();
        assert_eq!(config.tenants[0].name, "acme");
        assert_eq!(
            config.integrations[0].fqn,
            "acme:aws:aws-1:secret-store:ssm"
        );
        let store = &config.integrations[0];
        assert_eq!(store.max_value_bytes, Some(DEFAULT_MAX_VALUE_BYTES));
        assert_eq!(store.max_versions, DEFAULT_MAX_VERSIONS);
        let unlimited = FULL.replace(
            "\"fqn\": \"acme:aws:aws-1:secret-store:ssm\"",
            "\"fqn\": \"acme:aws:aws-1:secret-store:ssm\", \"max_value_bytes\": null, \"max_versions\": 3",
        );
        let store = EmulatorConfig::from_json(&unlimited).unwrap().integrations[0].clone();
        assert_eq!((store.max_value_bytes, store.max_versions), (None, 3));
        let no_history = unlimited.replace("\"max_versions\": 3", "\"max_versions\": 0");
        assert!(EmulatorConfig::from_json(&no_history).is_err());
        assert_eq!(config.api_keys[0].token.expose(), "tok-1");
        assert!(config.api_keys[0].tenant_admin);
        assert!(config.disable_secret_value_view);
        assert_eq!(config.faults.latency, Duration::from_millis(5));
        assert_eq!(config.faults.rate_429, 0.25);
        assert_eq!(config.faults.retry_after_secs, 2);
        assert_eq!(config.faults.seed, 7);
        assert_eq!(
            config.variants,
            BTreeSet::from([Variant::SparseVersions, Variant::NoGroupName])
        );
    }

    #[test]
    fn an_unknown_variant_is_refused_with_the_known_ones() {
        let text = FULL.replace("\"no-group-name\"", "\"no-names\"");
        let error = format!("{:#}", EmulatorConfig::from_json(&text).unwrap_err());
        assert!(error.contains("unknown variant \"no-names\""), "{error}");
        assert!(error.contains("lenient-manifest"), "{error}");
    }

    #[test]
    fn rejects_unknown_keys_at_every_level() {
        for text in [
            FULL.replace("\"disable_secret_value_view\"", "\"disable_value_view\""),
            FULL.replace("\"tenant_admin\"", "\"admin\""),
            FULL.replace("\"latency_ms\"", "\"latency\""),
            FULL.replace("{\"name\": \"acme\"}", "{\"name\": \"acme\", \"id\": 1}"),
        ] {
            assert!(EmulatorConfig::from_json(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn rejects_dangling_references_without_printing_tokens() {
        let text = FULL.replace(
            "\"tenant\": \"acme\", \"subject\"",
            "\"tenant\": \"other\", \"subject\"",
        );
        let error = format!("{:#}", EmulatorConfig::from_json(&text).unwrap_err());
        assert!(error.contains("not declared in `tenants`"), "{error}");
        assert!(!error.contains("tok-1"), "{error}");

        let text = FULL.replace("user:alice@example.com", "alice@example.com");
        assert!(EmulatorConfig::from_json(&text).is_err());
        let text = FULL.replace("\"rate_429\": 0.25", "\"rate_429\": 1.5");
        assert!(EmulatorConfig::from_json(&text).is_err());
    }

    #[test]
    fn a_token_in_the_wrong_place_is_never_echoed() {
        let canary = "tfy-canary-token-0042";
        let placements = [
            // In the subject, the tenant, as a field name, as a value of the wrong type.
            format!(r#"{{"token": "t", "tenant": "acme", "subject": "{canary}"}}"#),
            format!(r#"{{"token": "t", "tenant": "{canary}", "subject": "user:a"}}"#),
            format!(r#"{{"token": "t", "tenant": "acme", "subject": "user:a", "{canary}": 1}}"#),
            format!(
                r#"{{"token": "t", "tenant": "acme", "subject": "user:a", "tenant_admin": "{canary}"}}"#
            ),
            format!(r#"{{"token": ["{canary}"], "tenant": "acme", "subject": "user:a"}}"#),
            format!(r#"{{"tenant": "acme", "subject": "user:a", "tokn": "{canary}"}}"#),
        ];
        for entry in &placements {
            let text = format!(r#"{{"tenants": [{{"name": "acme"}}], "api_keys": [{entry}]}}"#);
            let error = format!("{:#}", EmulatorConfig::from_json(&text).unwrap_err());
            assert!(!error.contains(canary), "{error}");
            assert!(error.contains("API key #1"), "{error}");
        }
        // Outside `api_keys` too, a mistyped value is not quoted.
        for text in [
            format!(r#"{{"tenants": [{{"name": ["{canary}"]}}], "api_keys": []}}"#),
            format!(
                r#"{{"tenants": [{{"name": "acme"}}], "api_keys": [], "faults": {{"seed": "{canary}"}}}}"#
            ),
            format!(
                r#"{{"tenants": [{{"name": 1}}], "api_keys": [], "disable_secret_value_view": "{canary}"}}"#
            ),
        ] {
            let error = format!("{:#}", EmulatorConfig::from_json(&text).unwrap_err());
            assert!(!error.contains(canary), "{error}");
        }
        let missing = r#"{"tenants": [{"name": "acme"}], "api_keys": [{"tenant": "acme", "subject": "user:a"}]}"#;
        let error = format!("{:#}", EmulatorConfig::from_json(missing).unwrap_err());
        assert!(error.contains("missing field `token`"), "{error}");
    }

    #[test]
    fn tokens_with_whitespace_or_control_characters_are_refused() {
        // JSON escapes: newline, NUL, tab, no-break space, DEL.
        for token in [
            " zqx",
            "zqx ",
            "z qx",
            r"zqx\n",
            r"zqx\u0000",
            r"zqx\t",
            r"\u00a0zqx",
            r"zqx\u007f",
        ] {
            let text = format!(
                r#"{{"tenants": [{{"name": "acme"}}], "api_keys": [{{"token": "{token}", "tenant": "acme", "subject": "user:a"}}]}}"#
            );
            let error = format!("{:#}", EmulatorConfig::from_json(&text).unwrap_err());
            assert!(
                error.contains("whitespace or a control character"),
                "{token}: {error}"
            );
            assert!(!error.contains("zqx"), "{error}");
        }
        let fine = r#"{"tenants": [{"name": "acme"}], "api_keys": [{"token": "tfy-ok_123.x~", "tenant": "acme", "subject": "user:a"}]}"#;
        EmulatorConfig::from_json(fine).unwrap();
    }

    #[test]
    fn active_deployments_name_secrets_of_declared_tenants() {
        let with = |entries: &str| {
            FULL.replacen('{', &format!("{{\"active_deployments\": {{{entries}}},"), 1)
        };
        let config = EmulatorConfig::from_json(&with(r#""tfy-secret://acme:pay:DB": 3"#)).unwrap();
        assert_eq!(config.active_deployments_of("tfy-secret://acme:pay:DB"), 3);
        assert_eq!(
            config.active_deployments_of("tfy-secret://acme:pay:OTHER"),
            0
        );
        assert_eq!(EmulatorConfig::demo("k").active_deployments_of("x"), 0);
        for bad in [
            r#""tfy-secret://globex:pay:DB": 1"#,
            r#""acme:pay:DB": 1"#,
            r#""tfy-secret://acme:pay": 1"#,
            r#""tfy-secret://acme:pay:DB": -1"#,
        ] {
            assert!(EmulatorConfig::from_json(&with(bad)).is_err(), "{bad}");
        }
    }

    fn with_identity(text: &str) -> String {
        FULL.replacen(
            '{',
            &format!(
                r#"{{"identity_providers": [{{"name": "hcp", "issuer": "https://app.terraform.io",
                    "audiences": ["truefoundry"], "jwks_file": "keys/jwks.json",
                    "virtual_account_claim": "terraform_workspace_name"}}],
                  "virtual_accounts": [{text}],"#
            ),
            1,
        )
    }

    const ACCOUNT: &str = r#"{"name": "secrets-prod", "tenant": "acme", "tenant_admin": true,
        "identity_provider": "hcp", "claim_value": "secrets-prod"}"#;

    #[test]
    fn identity_providers_load_their_jwks_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let path = dir.path().join("emulator.json");
        std::fs::write(&path, with_identity(ACCOUNT)).unwrap();
        let error = format!("{:#}", EmulatorConfig::from_file(&path).unwrap_err());
        assert!(
            error.contains("JWKS of identity provider \"hcp\""),
            "{error}"
        );
        std::fs::write(
            dir.path().join("keys/jwks.json"),
            r#"{"keys": [{"kty": "EC", "kid": "k1", "crv": "P-256", "x": "AA", "y": "AA"}]}"#,
        )
        .unwrap();
        let config = EmulatorConfig::from_file(&path).unwrap();
        assert!(config.identity_providers[0].jwks.find("k1").is_some());
        assert_eq!(
            config.virtual_accounts[0].subject(),
            "virtualaccount:secrets-prod"
        );
    }

    #[test]
    fn virtual_accounts_must_name_declared_tenants_providers_and_distinct_claims() {
        EmulatorConfig::from_json(&with_identity(ACCOUNT)).unwrap();
        for (bad, why) in [
            (
                ACCOUNT.replace("\"tenant\": \"acme\"", "\"tenant\": \"globex\""),
                "undeclared tenant",
            ),
            (
                ACCOUNT.replace("\"hcp\"", "\"github\""),
                "undeclared identity provider",
            ),
            (
                format!(
                    "{ACCOUNT}, {}",
                    ACCOUNT.replace("\"secrets-prod\",", "\"other\",")
                ),
                "repeats another's claim value",
            ),
            (
                ACCOUNT.replace("\"secrets-prod\",", "\"\","),
                "needs a name",
            ),
        ] {
            let error = format!(
                "{:#}",
                EmulatorConfig::from_json(&with_identity(&bad)).unwrap_err()
            );
            assert!(error.contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn demo_has_one_tenant_admin() {
        let config = EmulatorConfig::demo("k");
        config.validate().unwrap();
        assert_eq!(config.api_keys.len(), 1);
        assert_eq!(config.api_keys[0].subject, DEMO_SUBJECT);
        assert_eq!(config.integrations[0].fqn, DEMO_INTEGRATION);
        assert!(format!("{config:?}").contains("<redacted>"));
        assert!(!format!("{:?}", EmulatorConfig::demo("canary-key")).contains("canary-key"));
    }
}
