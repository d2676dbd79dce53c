//! Tools for the reliability tests: an emulator of one tenant whose checking client outlasts
//! injected faults and whose requests are told apart from the provider's in the request log, and
//! the server's whole state read back. The emulator itself (kill, restart on its port) is
//! `emulator`; Terraform in the background is `Workspace::start`; processes are `processes`.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;
use truefoundry_provider::client::{
    Client, ClientConfig, ListGroupsQuery, ListSecretsQuery, SecretValue,
};

use super::emulator::{Emulator, LoggedRequest};

/// The tenant-admin key of tenant `acme`, the only tenant here.
pub const ADMIN_KEY: &str = "tfy-chaos-acme-admin";
/// The Terraform version this module's API client claims in its User-Agent, which tells its
/// requests apart from the provider's in the request log.
const CHECKER_AGENT_VERSION: &str = "reliability-checker";

/// The emulator binary with this module's one tenant, killed and restarted at will (through
/// [`Emulator::kill`] and [`Emulator::restart`]), and a checking client that outlasts faults.
pub struct ChaosEmulator(Emulator);

impl std::ops::Deref for ChaosEmulator {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.0
    }
}

impl std::ops::DerefMut for ChaosEmulator {
    fn deref_mut(&mut self) -> &mut Emulator {
        &mut self.0
    }
}

impl ChaosEmulator {
    pub fn start(extra_args: &[&str]) -> ChaosEmulator {
        let config = json!({
            "tenants": [{"name": "acme"}],
            "integrations": [
                {"tenant": "acme", "fqn": "internal:aws:aws-1:secret-store:internal-secret-store"},
            ],
            "api_keys": [
                {"token": ADMIN_KEY, "tenant": "acme", "subject": "user:admin@acme.example", "tenant_admin": true},
            ],
        });
        ChaosEmulator(Emulator::builder().config(config).args(extra_args).start())
    }

    /// A tenant-admin client that outlasts injected faults by retrying many times.
    pub fn checking_client(&self) -> Client {
        Client::new(ClientConfig {
            host: self.base_url.clone(),
            api_key: SecretValue::new(ADMIN_KEY),
            max_retries: 40,
            request_timeout: Duration::from_secs(10),
            ca_cert_pem: None,
            terraform_version: CHECKER_AGENT_VERSION.to_owned(),
        })
        .expect("client")
    }

    /// Every group of the tenant with its keys, values, versions and collaborators.
    pub fn server_state(&self) -> BTreeMap<String, ServerGroup> {
        let client = self.checking_client();
        self.block_on(async {
            let groups = client
                .list_secret_groups(&ListGroupsQuery::default())
                .await
                .expect("list groups");
            let mut out = BTreeMap::new();
            for group in groups {
                let secrets = client
                    .list_secrets(&ListSecretsQuery {
                        secret_group_id: Some(group.id.clone()),
                        secret_fqns: Vec::new(),
                        with_value: true,
                    })
                    .await
                    .expect("list secrets");
                let name = group
                    .fqn
                    .split_once(':')
                    .map_or(group.fqn.clone(), |(_, n)| n.to_owned());
                let collaborators = group
                    .manifest
                    .as_ref()
                    .map(|m| {
                        m.collaborators
                            .iter()
                            .map(|c| (c.subject.clone(), c.role_id.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(
                    name,
                    ServerGroup {
                        id: group.id.clone(),
                        collaborators,
                        secrets: secrets
                            .into_iter()
                            .map(|s| {
                                let value = s.value.map(|v| v.expose().to_owned());
                                (s.name, (value.unwrap_or_default(), s.latest_version))
                            })
                            .collect(),
                    },
                );
            }
            out
        })
    }
}

/// One group as the server holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerGroup {
    pub id: String,
    pub collaborators: BTreeSet<(String, String)>,
    /// key → (value, latest version)
    pub secrets: BTreeMap<String, (String, Option<i64>)>,
}

impl ServerGroup {
    pub fn values(&self) -> BTreeMap<String, String> {
        self.secrets
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

/// What the reliability tests ask of a request-log line beyond `emulator`'s questions.
impl LoggedRequest {
    /// Sent by the provider (not by this module's checking client).
    pub fn by_provider(&self) -> bool {
        self.user_agent.contains("terraform-provider-truefoundry")
            && !self.user_agent.contains(CHECKER_AGENT_VERSION)
    }
}

/// Secrets listings a refresh of a group that manages `secrets` makes, at once: its keys and
/// versions, and the values of the keys of `secrets`. An apply's re-read before it writes is one
/// more (keys and versions only).
pub const REFRESH_LISTINGS: usize = 2;

/// True when the long forms of the reliability tests were asked for.
pub fn long_tests() -> bool {
    std::env::var("TFY_LONG_TESTS").is_ok_and(|v| v == "1")
}
