//! What TrueFoundry holds for a group, as read from the API, turned into this resource's state.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Group, SecretMaps, StringMap, set_keys};
use super::schema::{DEFAULT_INTEGRATION_FQN, attr, resource_schema};
use crate::client::{self, Client, Collaborator, SecretGroup, SecretValue};
use crate::provider::remote::group::{collaborators_value, group_name};
use crate::provider::remote::secrets::{ServerSecrets, lists_no_versions, read_values};
use crate::value::Value;

/// For a server that lists no versions: the keys of `secrets` (in `prior`) whose value changed
/// on the server since the plan, among those this apply overwrites or deletes. With versions,
/// the re-read alone shows such a change.
pub async fn values_changed_since_plan(
    client: &Client,
    prior: &Group,
    planned: &Group,
    server: &ServerSecrets,
) -> Result<Vec<String>, client::Error> {
    let (Some(before), Some(tenant), Some(name)) =
        (prior.maps.secrets.entries(), &prior.tenant, &prior.name)
    else {
        return Ok(Vec::new());
    };
    if !lists_no_versions(server) {
        return Ok(Vec::new());
    }
    let planned_versions = planned.versions.clone().unwrap_or_default();
    let at_risk: BTreeSet<String> = before
        .keys()
        .filter(|key| server.contains_key(*key))
        .filter(|key| planned_versions.get(*key).is_none_or(Option::is_none))
        .cloned()
        .collect();
    let now = read_values(client, &prior.id, (tenant, name), &at_risk).await?;
    Ok(at_risk
        .into_iter()
        .filter(|key| match (now.get(key), before.get(key)) {
            (Some(now), Some(Some(then))) => now != then,
            _ => false,
        })
        .collect())
}

/// A state object with every attribute null.
pub fn empty_state() -> Value {
    resource_schema().null_object()
}

/// The subjects `collaborators` names in a state.
fn named_subjects(state: &Value) -> BTreeSet<String> {
    state
        .get(attr::COLLABORATORS)
        .as_elements()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c.get(attr::collaborator::SUBJECT)
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// The entries of `collaborators` for the API key's `own_subject` that `state` does not name:
/// the key's own access that the configuration does not manage (a server that lists a group's
/// creator as its admin adds one).
pub fn own_access(
    collaborators: &[Collaborator],
    state: &Value,
    own_subject: Option<&str>,
) -> Vec<Collaborator> {
    let named = named_subjects(state);
    collaborators
        .iter()
        .filter(|c| Some(c.subject.as_str()) == own_subject && !named.contains(&c.subject))
        .cloned()
        .collect()
}

/// The group-level attributes as the server has them, over `prior`. Collaborators are read only
/// when managed (non-null in `prior`) or when `adopt` (import), and without the API key's own
/// entries the prior state does not name (see [`own_access`]). The owner is read only when
/// managed or adopted: a server that fills in an owner nobody configured makes no diff.
pub fn refresh_group(
    group: &SecretGroup,
    prior: &Value,
    adopt: bool,
    own_subject: Option<&str>,
) -> Value {
    let mut state = if prior.is_null() {
        empty_state()
    } else {
        prior.clone()
    };
    state.set(attr::ID, Value::string(&group.id));
    state.set(attr::NAME, Value::string(group_name(group)));
    state.set(attr::FQN, Value::string(&group.fqn));
    state.set(attr::TENANT_NAME, Value::string(&group.tenant_name));
    let integration = match &group.manifest {
        Some(manifest) => Value::string(&manifest.integration_fqn),
        None if prior.get(attr::INTEGRATION_FQN).is_null() => {
            Value::string(DEFAULT_INTEGRATION_FQN)
        }
        None => prior.get(attr::INTEGRATION_FQN).clone(),
    };
    state.set(attr::INTEGRATION_FQN, integration);
    if let Some(manifest) = &group.manifest {
        if adopt || !prior.get(attr::OWNED_BY_ACCOUNT).is_null() {
            let owner = manifest
                .owned_by
                .as_ref()
                .map_or(Value::Null, |o| Value::string(&o.account));
            state.set(attr::OWNED_BY_ACCOUNT, owner);
        }
        if adopt || !prior.get(attr::COLLABORATORS).is_null() {
            let own = own_access(&manifest.collaborators, prior, own_subject);
            let shown: Vec<Collaborator> = manifest
                .collaborators
                .iter()
                .filter(|c| !own.contains(c))
                .cloned()
                .collect();
            // An import of a group nobody else may use leaves `collaborators` unmanaged: an empty
            // set and no setting mean the same on the server, and a configuration that writes
            // none must plan nothing after the import.
            let adopting_none = shown.is_empty() && prior.get(attr::COLLABORATORS).is_null();
            if !adopting_none {
                state.set(attr::COLLABORATORS, collaborators_value(&shown));
            }
        }
    }
    state
}

/// Sets the secret attributes of `state` to what the server holds: every key with its version
/// and FQN; `secrets` keeps the keys it had that still exist, with the server's value where it
/// was read. The other maps belong to the configuration and stay as they were; write-only
/// values are never in state.
pub fn refresh_secrets(
    state: &mut Value,
    prior: &SecretMaps,
    server: &ServerSecrets,
    values: &BTreeMap<String, SecretValue>,
) {
    let secrets = match prior.secrets.entries() {
        Some(entries) => StringMap::Known(
            entries
                .iter()
                .filter(|(key, _)| server.contains_key(*key))
                .map(|(key, before)| {
                    let value = values.get(key).cloned().or_else(|| before.clone());
                    (key.clone(), value)
                })
                .collect(),
        ),
        None => prior.secrets.clone(),
    };
    state.set(attr::SECRETS, secrets.to_value());
    state.set(attr::SECRETS_WO, Value::Null);
    set_keys(
        state,
        server.iter().map(|(key, secret)| (key, secret.version)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{OwnedBy, SecretGroupManifest};
    use crate::provider::remote::group::collaborators_value;

    fn entry(subject: &str, role_id: &str) -> Collaborator {
        Collaborator {
            subject: subject.into(),
            role_id: role_id.into(),
        }
    }

    fn server_group(collaborators: Vec<Collaborator>, owner: Option<&str>) -> SecretGroup {
        SecretGroup {
            id: "sg1".into(),
            fqn: "acme:g".into(),
            name: None,
            tenant_name: "acme".into(),
            integration_id: None,
            created_by: Some("user:me@x".into()),
            manifest: Some(SecretGroupManifest {
                kind: "secret-group".into(),
                name: "g".into(),
                integration_fqn: DEFAULT_INTEGRATION_FQN.into(),
                collaborators,
                owned_by: owner.map(|account| OwnedBy {
                    account: account.into(),
                }),
            }),
            associated_secrets: Vec::new(),
            created_at: None,
            updated_at: None,
        }
    }

    fn prior(collaborators: &[Collaborator], owner: Option<&str>) -> Value {
        let mut state = empty_state();
        state.set(attr::COLLABORATORS, collaborators_value(collaborators));
        state.set(
            attr::OWNED_BY_ACCOUNT,
            owner.map_or(Value::Null, Value::string),
        );
        state
    }

    #[test]
    fn the_keys_own_unnamed_entry_stays_out_of_state_and_a_named_one_in() {
        let team = entry("team:t", "secret-group-viewer");
        let mine = entry("user:me@x", "secret-group-admin");
        let group = server_group(vec![team.clone(), mine.clone()], None);
        let unnamed = prior(std::slice::from_ref(&team), None);
        let state = refresh_group(&group, &unnamed, false, Some("user:me@x"));
        assert_eq!(
            state.get(attr::COLLABORATORS),
            &collaborators_value(std::slice::from_ref(&team))
        );
        assert_eq!(
            own_access(
                &group.manifest.as_ref().unwrap().collaborators,
                &unnamed,
                Some("user:me@x")
            ),
            vec![mine.clone()]
        );
        // Another key's entry, or an identity the server would not tell: shown, as any other.
        let other = refresh_group(&group, &unnamed, false, Some("user:other@x"));
        assert_eq!(
            other.get(attr::COLLABORATORS).as_elements().map(<[_]>::len),
            Some(2)
        );
        let unknown = refresh_group(&group, &unnamed, false, None);
        assert_eq!(
            unknown
                .get(attr::COLLABORATORS)
                .as_elements()
                .map(<[_]>::len),
            Some(2)
        );
        // Named by the configuration: managed like any other.
        let named = prior(&[team, mine.clone()], None);
        let state = refresh_group(&group, &named, false, Some("user:me@x"));
        assert_eq!(
            state.get(attr::COLLABORATORS).as_elements().map(<[_]>::len),
            Some(2)
        );
        assert!(own_access(&[mine], &named, Some("user:me@x")).is_empty());
    }

    #[test]
    fn an_owner_is_read_only_when_managed_or_adopted() {
        let group = server_group(Vec::new(), Some("filled-by-server"));
        let unmanaged = refresh_group(&group, &prior(&[], None), false, None);
        assert!(unmanaged.get(attr::OWNED_BY_ACCOUNT).is_null());
        let managed = refresh_group(&group, &prior(&[], Some("mine")), false, None);
        assert_eq!(
            managed.get(attr::OWNED_BY_ACCOUNT).as_str(),
            Some("filled-by-server")
        );
        let imported = refresh_group(&group, &Value::Null, true, None);
        assert_eq!(
            imported.get(attr::OWNED_BY_ACCOUNT).as_str(),
            Some("filled-by-server")
        );
    }

    #[test]
    fn an_import_of_a_group_without_collaborators_leaves_them_unmanaged() {
        let mine = entry("user:me@x", "secret-group-admin");
        let alone = server_group(vec![mine.clone()], None);
        let imported = refresh_group(&alone, &Value::Null, true, Some("user:me@x"));
        assert!(imported.get(attr::COLLABORATORS).is_null());
        let none = server_group(Vec::new(), None);
        assert!(
            refresh_group(&none, &Value::Null, true, None)
                .get(attr::COLLABORATORS)
                .is_null()
        );
        // Managed as empty: stays managed, and someone's entry added elsewhere shows.
        let managed = refresh_group(&none, &prior(&[], None), false, None);
        assert_eq!(managed.get(attr::COLLABORATORS), &collaborators_value(&[]));
        let shared = server_group(vec![entry("team:t", "secret-group-viewer")], None);
        let imported = refresh_group(&shared, &Value::Null, true, Some("user:me@x"));
        assert_eq!(
            imported
                .get(attr::COLLABORATORS)
                .as_elements()
                .map(<[_]>::len),
            Some(1)
        );
    }
}
