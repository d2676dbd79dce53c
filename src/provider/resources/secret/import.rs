//! ImportResourceState: `<tenant>:<group>:<key>` or `tfy-secret://<tenant>:<group>:<key>`.

use super::model::{Computed, SecretPrivate, SecretState};
use super::schema::attr;
use crate::provider::ProviderContext;
use crate::provider::errors::api_error;
use crate::provider::remote::group::visible_to;
use crate::provider::remote::group::{parse_secret_fqn, secret_fqn};
use crate::provider::remote::secrets::find_secret;
use crate::server::ImportResponse;
use crate::value::Value;

pub async fn import(context: &ProviderContext, id: &str) -> ImportResponse {
    let mut response = ImportResponse::default();
    let Some(client) = context.client_or_report(&mut response.diagnostics) else {
        return response;
    };
    let Some((tenant, name, key)) = parse_secret_fqn(id) else {
        response.diagnostics.error(
            "Invalid Import Id",
            format!(
                "`{id}` is not a secret reference. Import a secret by `<tenant>:<group>:<key>` or \
                 `tfy-secret://<tenant>:<group>:<key>`, such as `acme:shared-platform:STRIPE_KEY`."
            ),
        );
        return response;
    };
    let group_fqn = format!("{tenant}:{name}");
    let identity = context.identity();
    if !identity.check_tenant(&group_fqn, tenant, &mut response.diagnostics) {
        return response;
    }
    let not_found = |what: &str| {
        format!(
            "No {what} is visible to this API key. Check the reference, and that the key is a \
             tenant admin or a collaborator of the group."
        )
    };
    let group = match client.find_secret_group_by_fqn(&group_fqn).await {
        Ok(Some(group)) => group,
        Ok(None) => {
            let detail = not_found(&format!("secret group `{group_fqn}`"));
            response.diagnostics.error("Secret Group Not Found", detail);
            return response;
        }
        Err(err) => {
            let action = format!("looking up secret group {group_fqn}");
            api_error(&mut response.diagnostics, &action, &err);
            return response;
        }
    };
    if !identity.check_tenant(&group.fqn, &group.tenant_name, &mut response.diagnostics) {
        return response;
    }
    let fqn = secret_fqn(tenant, name, key);
    let secret = match find_secret(client, &group.id, Some(&fqn), key, true).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            let detail = not_found(&format!("key `{key}` in the secret group `{group_fqn}`"));
            response.diagnostics.error("Secret Not Found", detail);
            return response;
        }
        Err(err) => {
            let action = format!("reading the key `{key}` of secret group {group_fqn}");
            api_error(&mut response.diagnostics, &action, &err);
            return response;
        }
    };
    let version = secret.latest_version.unwrap_or(0);
    let computed = Computed {
        id: secret.id.clone(),
        fqn,
        version,
    };
    let mut state = SecretState::new_state(&group.id, key, &computed);
    // The value, when the key may read it; a configuration with `value_wo` plans to send its
    // own once (`value_wo_version` is new to the state).
    if let Some(value) = &secret.value {
        state.set(attr::VALUE, Value::string(value.expose()));
    }
    let private = SecretPrivate {
        synced_version: Some(version),
        visible_to: visible_to(&group),
        deployments: secret.active_deployments,
    };
    response.states.push((state, private.encode()));
    response
}
