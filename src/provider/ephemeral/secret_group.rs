//! The ephemeral `truefoundry_secret_group` (Terraform 1.10 or later): the group as the data
//! source of the same name reads it, always with its values, which Terraform keeps out of plan
//! and state. The lookup and the attributes are shared with the data source
//! (`remote/group_lookup.rs`).

use std::sync::Arc;

use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
/// The ephemeral resource's attribute names: exactly those it shares with the data source.
pub use crate::provider::remote::group_lookup::attr;
use crate::provider::remote::group_lookup::{common_attributes, read_group, validate_lookup};
use crate::provider::remote::secrets::ValuesAskedBy;
use crate::schema::Schema;
use crate::server::{
    ClientCapabilities, EphemeralResource, OpenEphemeralResponse, RenewEphemeralResponse,
};
use crate::value::Value;

pub fn ephemeral_schema() -> Schema {
    Schema::new(
        0,
        "Reads a TrueFoundry secret group with its values, without storing anything in Terraform plan or \
         state (Terraform 1.10 or later). Feed `secret_values` to write-only arguments, such as \
         `secrets_wo` of another `truefoundry_secret_group`, or to provider configurations.",
        common_attributes("The value of each secret, by key. Never stored in plan or state."),
    )
}

pub struct SecretGroupEphemeral {
    context: Arc<ProviderContext>,
}

impl SecretGroupEphemeral {
    pub fn new(context: Arc<ProviderContext>) -> Self {
        SecretGroupEphemeral { context }
    }
}

#[async_trait::async_trait]
impl EphemeralResource for SecretGroupEphemeral {
    fn schema(&self) -> Schema {
        ephemeral_schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        validate_lookup(config)
    }

    async fn open(
        &self,
        config: Value,
        _capabilities: ClientCapabilities,
    ) -> OpenEphemeralResponse {
        let mut diagnostics = Diagnostics::new();
        let Some(client) = self.context.client_or_report(&mut diagnostics) else {
            return OpenEphemeralResponse {
                diagnostics,
                ..OpenEphemeralResponse::default()
            };
        };
        let (result, diagnostics) = read_group(
            client,
            self.context.identity(),
            &config,
            Some(ValuesAskedBy::Ephemeral),
        )
        .await;
        // Nothing is leased: no renewal, and closing has nothing to release.
        OpenEphemeralResponse {
            result,
            diagnostics,
            ..OpenEphemeralResponse::default()
        }
    }

    async fn renew(&self, _private: Vec<u8>) -> RenewEphemeralResponse {
        RenewEphemeralResponse::default()
    }

    async fn close(&self, _private: Vec<u8>) -> Diagnostics {
        Diagnostics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(&ephemeral_schema(), &attr::ALL);
    }
}
