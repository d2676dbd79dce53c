//! The TrueFoundry provider: its configuration; the resources `truefoundry_secret_group` and
//! `truefoundry_secret` (with their identities); the data sources that read a group, list groups
//! and read one secret; the ephemeral resource; the list resources of `terraform query`; and the
//! provider functions.

#[cfg(test)]
mod api_model;
pub mod config;
mod credentials;
pub mod data_sources;
pub mod ephemeral;
mod errors;
pub mod functions;
pub mod identity;
pub mod list_resources;
pub mod remote;
pub mod resources;
pub mod secret_keys;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

pub use config::{API_KEY_ENV, CA_CERT_ENV, HOST_ENV};

use crate::client::Client;
use crate::diag::Diagnostics;
use crate::schema::Schema;
use crate::server::{self, ConfigureRequest};
use crate::value::Value;
use identity::Identity;

/// What every resource of one configured provider shares: the API client, who its API key is,
/// one lock per secret group so that writes to a group never interleave within this process, and
/// the queues that coalesce `truefoundry_secret` writes of a group into one PUT.
#[derive(Default)]
pub struct ProviderContext {
    client: OnceLock<Client>,
    identity: OnceLock<Identity>,
    group_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    secret_writes: resources::secret::batch::SecretWrites,
}

impl ProviderContext {
    /// A context already holding a client (for tests that bypass ConfigureProvider).
    pub fn with_client(client: Client) -> Self {
        let context = ProviderContext::default();
        let _ = context.client.set(client);
        context
    }

    pub fn client(&self) -> Result<&Client, Diagnostics> {
        self.client.get().ok_or_else(|| {
            Diagnostics::of_error(
                "Provider Not Configured",
                "The TrueFoundry provider was used before it was configured. This is a bug in the \
                 provider or in Terraform; run the command again.",
            )
        })
    }

    /// The client, or `None` with the reason added to `diagnostics`: the prologue of every call
    /// that cannot do anything without the API.
    pub fn client_or_report(&self, diagnostics: &mut Diagnostics) -> Option<&Client> {
        match self.client() {
            Ok(client) => Some(client),
            Err(diags) => {
                diagnostics.extend(diags);
                None
            }
        }
    }

    /// Who the API key is; unknown until configured (the cautious answer).
    pub fn identity(&self) -> &Identity {
        self.identity.get().unwrap_or(&Identity::Unknown)
    }

    /// Holds the write lock of one group until the guard is dropped.
    pub async fn lock_group(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.group_locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(id.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Asserts that `schema` declares exactly the attributes of `table`, in its order: the test every
/// attribute table (`attr`) has beside its schema.
#[cfg(test)]
pub(crate) fn assert_schema_names(schema: &Schema, table: &[&str]) {
    let names: Vec<&str> = schema
        .block
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, table);
}

/// The provider as served to Terraform.
pub struct TrueFoundryProvider {
    context: Arc<ProviderContext>,
    secret_group: resources::secret_group::SecretGroupResource,
    secret: resources::secret::SecretResource,
    secret_group_data: data_sources::secret_group::SecretGroupDataSource,
    secret_group_ephemeral: ephemeral::secret_group::SecretGroupEphemeral,
    secret_groups_data: data_sources::secret_groups::SecretGroupsDataSource,
    secret_data: data_sources::secret::SecretDataSource,
    secret_group_list: list_resources::SecretGroupList,
    secret_list: list_resources::SecretList,
}

impl Default for TrueFoundryProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl TrueFoundryProvider {
    pub fn new() -> Self {
        let context = Arc::new(ProviderContext::default());
        TrueFoundryProvider {
            secret_group: resources::secret_group::SecretGroupResource::new(context.clone()),
            secret: resources::secret::SecretResource::new(context.clone()),
            secret_group_data: data_sources::secret_group::SecretGroupDataSource::new(
                context.clone(),
            ),
            secret_group_ephemeral: ephemeral::secret_group::SecretGroupEphemeral::new(
                context.clone(),
            ),
            secret_groups_data: data_sources::secret_groups::SecretGroupsDataSource::new(
                context.clone(),
            ),
            secret_data: data_sources::secret::SecretDataSource::new(context.clone()),
            secret_group_list: list_resources::SecretGroupList::new(context.clone()),
            secret_list: list_resources::SecretList::new(context.clone()),
            context,
        }
    }
}

pub const SECRET_GROUP: &str = "truefoundry_secret_group";
pub const SECRET_GROUPS: &str = "truefoundry_secret_groups";
pub const SECRET: &str = "truefoundry_secret";

#[async_trait::async_trait]
impl server::Provider for TrueFoundryProvider {
    fn schema(&self) -> Schema {
        config::schema()
    }

    async fn validate_config(&self, config: &Value) -> Diagnostics {
        config::validate(config)
    }

    async fn configure(&self, request: ConfigureRequest) -> Diagnostics {
        let env = |name: &str| std::env::var(name).ok();
        let settings = match config::resolve(&request.config, &env, &request.terraform_version) {
            Ok(settings) => settings,
            Err(diags) => return diags,
        };
        let mut config = settings.client;
        let workload_token = match credentials::prepare(settings.credentials, &mut config).await {
            Ok(token) => token,
            Err(diags) => return diags,
        };
        let host = config.host.clone();
        let token = config.api_key.clone();
        let client = match credentials::client(config, workload_token.as_ref()) {
            Ok(client) => client,
            Err(err) => {
                return Diagnostics::of_error(
                    "Invalid Provider Configuration",
                    format!(
                        "The API client could not be set up: {err}. Fix the provider configuration."
                    ),
                );
            }
        };
        // Proves the host and the key before anything is planned, even a plan that only creates.
        let workload_token = workload_token.map(|workload| (token, workload.source));
        let (identity, diags) = identity::learn(&client, &host, workload_token.as_ref()).await;
        if let Some(identity) = identity {
            // Terraform configures each provider process once; a second call keeps the first.
            let _ = self.context.identity.set(identity);
            let _ = self.context.client.set(client);
        }
        diags
    }

    fn resources(&self) -> BTreeMap<String, &dyn server::Resource> {
        BTreeMap::from([
            (
                SECRET_GROUP.to_owned(),
                &self.secret_group as &dyn server::Resource,
            ),
            (SECRET.to_owned(), &self.secret as &dyn server::Resource),
        ])
    }

    fn data_sources(&self) -> BTreeMap<String, &dyn server::DataSource> {
        BTreeMap::from([
            (
                SECRET_GROUP.to_owned(),
                &self.secret_group_data as &dyn server::DataSource,
            ),
            (
                SECRET_GROUPS.to_owned(),
                &self.secret_groups_data as &dyn server::DataSource,
            ),
            (
                SECRET.to_owned(),
                &self.secret_data as &dyn server::DataSource,
            ),
        ])
    }

    fn ephemeral_resources(&self) -> BTreeMap<String, &dyn server::EphemeralResource> {
        BTreeMap::from([(
            SECRET_GROUP.to_owned(),
            &self.secret_group_ephemeral as &dyn server::EphemeralResource,
        )])
    }

    fn list_resources(&self) -> BTreeMap<String, &dyn server::ListResource> {
        BTreeMap::from([
            (
                SECRET_GROUP.to_owned(),
                &self.secret_group_list as &dyn server::ListResource,
            ),
            (
                SECRET.to_owned(),
                &self.secret_list as &dyn server::ListResource,
            ),
        ])
    }

    fn functions(&self) -> BTreeMap<String, &dyn server::Function> {
        BTreeMap::from([
            (
                functions::SECRET_FQN.to_owned(),
                &functions::SecretFqn as &dyn server::Function,
            ),
            (
                functions::PARSE_SECRET_FQN.to_owned(),
                &functions::ParseSecretFqn as &dyn server::Function,
            ),
        ])
    }
}
