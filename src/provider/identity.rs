//! Who the API key is, learned once per provider configuration, and the two rules that follow
//! from it: the provider touches only groups of the key's own tenant, and a "not found" counts as
//! a deletion only for a key that could have seen the group.
//!
//! Without these, a 404 is ambiguous: the API hides groups a key may not see, so another
//! tenant's key, a key that is no collaborator, and a wrong host all look like "deleted", and
//! Terraform then plans to create a copy elsewhere or drops the group from state.

use std::collections::BTreeSet;

use super::config;
use super::credentials::{self, TokenSource};
use super::errors::{HOST_FIX, HOST_NOT_THE_API, api_error};
use crate::client::{self, Client, SecretValue, Session};
use crate::diag::{AttributePath, Diagnostics};

/// What the provider knows about its API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// From the session endpoint, with a tenant.
    Known { tenant: String, session: Session },
    /// The control plane would not say (no session endpoint, or a session without a tenant).
    /// Tenant checks are skipped and no "not found" proves a deletion.
    Unknown,
}

/// What a "not found" for a group means for this key.
#[derive(Debug, PartialEq, Eq)]
pub enum NotFound {
    /// The key could see the group, so it was deleted.
    Deleted,
    /// The key may just not be allowed to see it; the text says why.
    Unproven(String),
}

/// Asks the control plane who the API key is: one request, plus one more only when the session
/// endpoint does not answer, to tell a control plane without it from a wrong host. Errors name
/// the setting to fix; a missing endpoint is a warning, never silent.
pub async fn learn(
    client: &Client,
    host: &str,
    workload_token: Option<&(SecretValue, TokenSource)>,
) -> (Option<Identity>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let identity = match client.session().await {
        Ok(session) => match session.tenant_name.clone() {
            Some(tenant) => Some(Identity::Known { tenant, session }),
            None => {
                warn_unknown(
                    &mut diags,
                    host,
                    "its answer about the API key names no tenant",
                );
                Some(Identity::Unknown)
            }
        },
        Err(err) if is_missing_endpoint(&err) => match client.probe_secret_groups().await {
            Ok(()) => {
                warn_unknown(
                    &mut diags,
                    host,
                    &format!("the session endpoint did not answer ({err})"),
                );
                Some(Identity::Unknown)
            }
            Err(probe) => {
                let asked = format!(
                    "listing the secret groups of {host}, since its session endpoint did not say \
                     who the API key is ({err})"
                );
                refuse(&mut diags, host, &asked, &probe, workload_token);
                None
            }
        },
        Err(err) => {
            refuse(
                &mut diags,
                host,
                &format!("asking {host} who the API key is"),
                &err,
                workload_token,
            );
            None
        }
    };
    (identity, diags)
}

/// Answers that say "this control plane has no such endpoint (for you)" rather than "wrong
/// host" or "wrong key".
fn is_missing_endpoint(err: &client::Error) -> bool {
    matches!(
        err,
        client::Error::NotFound { .. }
            | client::Error::Forbidden { .. }
            | client::Error::Validation { .. }
    )
}

/// The configuration error for a session request (or probe) that failed; `asked` says which
/// request it was, so the text matches the request the error quotes.
fn refuse(
    diags: &mut Diagnostics,
    host: &str,
    asked: &str,
    err: &client::Error,
    workload_token: Option<&(SecretValue, TokenSource)>,
) {
    if let (client::Error::Unauthorized { .. }, Some((token, source))) = (err, workload_token) {
        return credentials::refused(diags, host, token, source, err);
    }
    match err {
        client::Error::Unauthorized { .. } => diags.error_at(
            AttributePath::root(config::attr::API_KEY),
            "Invalid TrueFoundry API Key",
            format!(
                "The control plane at {host} refused the API key ({err}). Check `api_key` in the \
                 provider configuration or the TFY_API_KEY environment variable: it may be mistyped, \
                 expired, revoked, or meant for another control plane."
            ),
        ),
        client::Error::NotTheApi { .. }
        | client::Error::NotFound { .. }
        | client::Error::Decode { .. } => diags.error_at(
            AttributePath::root(config::attr::HOST),
            HOST_NOT_THE_API,
            format!("The provider was {asked}, which failed: {err}. {HOST_FIX}"),
        ),
        _ => api_error(diags, asked, err),
    }
}

fn warn_unknown(diags: &mut Diagnostics, host: &str, why: &str) {
    diags.warning(
        "TrueFoundry API Key Identity Unknown",
        format!(
            "The control plane at {host} could not tell which tenant and subject the API key belongs \
             to: {why}. The provider goes on without it, more cautiously: it cannot check that groups \
             in state belong to the key's tenant, and a group the API reports as not found is an \
             error instead of being planned for creation, since a deleted group and one hidden from \
             the key look the same."
        ),
    );
}

impl Identity {
    /// The API key's tenant, when the control plane said: the tenant a create lands in.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Identity::Known { tenant, .. } => Some(tenant),
            Identity::Unknown => None,
        }
    }

    /// The API key's own subject (`user:alice@example.com`), when the control plane said.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Identity::Known { session, .. } => Some(&session.subject),
            Identity::Unknown => None,
        }
    }

    /// An error when a group of `tenant` is handled with a key of another tenant: nothing may be
    /// read or written under the wrong tenant. `group` names it (`tenant:name`).
    pub fn check_tenant(&self, group: &str, tenant: &str, diags: &mut Diagnostics) -> bool {
        let Identity::Known {
            tenant: key_tenant,
            session,
        } = self
        else {
            return true;
        };
        if tenant.is_empty() || tenant == key_tenant {
            return true;
        }
        diags.error(
            "Secret Group Belongs To Another Tenant",
            format!(
                "The secret group `{group}` belongs to tenant `{tenant}`, but the API key is `{}` of \
                 tenant `{key_tenant}`. Nothing was read or written. Use an API key of tenant \
                 `{tenant}`; a configuration that manages several tenants gives each its own provider \
                 alias (`provider \"truefoundry\" {{ alias = \"{tenant}\" … }}`, then `provider = \
                 truefoundry.{tenant}` on its resources).",
                session.subject
            ),
        );
        false
    }

    /// Whether a "not found" for a group proves it was deleted: only when this key could see it,
    /// as a tenant admin or as one of `visible_to` (the group's collaborators and creator, as last
    /// known).
    pub fn not_found(&self, visible_to: &BTreeSet<String>) -> NotFound {
        let Identity::Known { session, .. } = self else {
            return NotFound::Unproven(
                "and the control plane could not say who the API key is".to_owned(),
            );
        };
        if session.is_tenant_admin()
            || session
                .subjects()
                .iter()
                .any(|subject| visible_to.contains(subject))
        {
            return NotFound::Deleted;
        }
        NotFound::Unproven(format!(
            "and the API key's subject `{}` is neither a tenant admin nor, as far as the provider \
             knows, a collaborator or the creator of the group",
            session.subject
        ))
    }
}

/// The error for a group the API says is not found when that does not prove a deletion.
pub fn not_visible(diags: &mut Diagnostics, group: &str, id: &str, why: &str) {
    diags.error(
        "Secret Group Not Visible To This API Key",
        format!(
            "TrueFoundry answered \"not found\" for the secret group `{group}` (id {id}), {why}. The \
             group may have been deleted, or may only be hidden from this key. Nothing was changed, and \
             the group stays in the Terraform state. If it was deleted, remove it from the state with \
             `terraform state rm`; otherwise use an API key of a tenant admin or of one of the \
             group's collaborators."
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(tenant: &str, subject: &str, roles: &[&str], teams: &[&str]) -> Identity {
        Identity::Known {
            tenant: tenant.to_owned(),
            session: Session {
                subject: subject.to_owned(),
                tenant_name: Some(tenant.to_owned()),
                tenant_admin: roles.contains(&"tenant-admin"),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                teams: teams.iter().map(|t| (*t).to_owned()).collect(),
            },
        }
    }

    fn subjects(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn another_tenant_is_refused_naming_both_tenants() {
        let globex = known(
            "globex",
            "user:admin@globex.example",
            &["tenant-admin"],
            &[],
        );
        let mut diags = Diagnostics::new();
        assert!(globex.check_tenant("globex:a", "globex", &mut diags));
        assert!(diags.0.is_empty());
        assert!(!globex.check_tenant("acme:legacy-v1", "acme", &mut diags));
        let [error] = diags.0.as_slice() else {
            panic!("one error expected: {:?}", diags.0);
        };
        assert_eq!(error.summary, "Secret Group Belongs To Another Tenant");
        for needle in ["`acme`", "`globex`", "acme:legacy-v1", "truefoundry.acme"] {
            assert!(error.detail.contains(needle), "{needle}: {}", error.detail);
        }
        let mut unknown = Diagnostics::new();
        assert!(Identity::Unknown.check_tenant("acme:a", "acme", &mut unknown));
        assert!(unknown.0.is_empty());
    }

    #[test]
    fn not_found_is_a_deletion_only_for_a_key_that_could_see_the_group() {
        let none = subjects(&[]);
        let admin = known("acme", "user:root@acme", &["tenant-admin"], &[]);
        assert_eq!(admin.not_found(&none), NotFound::Deleted);

        let member = known("acme", "user:v@acme", &["tenant-member"], &["payments"]);
        assert_eq!(
            member.not_found(&subjects(&["user:v@acme"])),
            NotFound::Deleted
        );
        assert_eq!(
            member.not_found(&subjects(&["team:payments"])),
            NotFound::Deleted
        );
        let NotFound::Unproven(why) = member.not_found(&subjects(&["user:other@acme"])) else {
            panic!("a stranger's 404 proves nothing");
        };
        assert!(why.contains("`user:v@acme`"), "{why}");
        assert!(matches!(
            Identity::Unknown.not_found(&subjects(&["user:v@acme"])),
            NotFound::Unproven(_)
        ));
    }
}
