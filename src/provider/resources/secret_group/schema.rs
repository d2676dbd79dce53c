//! Schema of the `truefoundry_secret_group` resource (version 1).
//!
//! Secrets are flat `map(string)` attributes, not a map of objects: a sensitive top-level
//! attribute is one marked path whatever its size and prints `(sensitive value)` on every
//! Terraform from 1.0, while one sensitive leaf per key made Terraform's own work quadratic in
//! the number of keys (docs/benchmarks.md). Per-key server data lives in the computed maps
//! `secret_fqns` and `secret_versions`, whose planned-unknown entries show which keys change.

use crate::provider::remote::group::collaborators_type;
use crate::provider::remote::in_use;
use crate::schema::{Attribute, Schema};
use crate::value::Type;

/// The resource's attribute names: the one table the schema below and `model.rs` read and write
/// through, so a misspelt name does not compile instead of silently reading null.
pub mod attr {
    use super::in_use;

    pub const ID: &str = "id";
    pub const NAME: &str = "name";
    pub const INTEGRATION_FQN: &str = "integration_fqn";
    pub const OWNED_BY_ACCOUNT: &str = "owned_by_account";
    pub const COLLABORATORS: &str = "collaborators";
    pub const SECRETS: &str = "secrets";
    pub const SECRETS_WO: &str = "secrets_wo";
    pub const SECRETS_WO_VERSIONS: &str = "secrets_wo_versions";
    pub const INITIAL_SECRETS: &str = "initial_secrets";
    /// Shared with `truefoundry_secret`: the setting `remote/in_use.rs` reads from either state.
    pub const DELETE_IN_USE: &str = in_use::DELETE_IN_USE;
    pub const FQN: &str = "fqn";
    pub const TENANT_NAME: &str = "tenant_name";
    pub const SECRET_FQNS: &str = "secret_fqns";
    pub const SECRET_VERSIONS: &str = "secret_versions";

    /// Every attribute, in the schema's order.
    pub const ALL: [&str; 14] = [
        ID,
        NAME,
        INTEGRATION_FQN,
        OWNED_BY_ACCOUNT,
        COLLABORATORS,
        SECRETS,
        SECRETS_WO,
        SECRETS_WO_VERSIONS,
        INITIAL_SECRETS,
        DELETE_IN_USE,
        FQN,
        TENANT_NAME,
        SECRET_FQNS,
        SECRET_VERSIONS,
    ];

    /// The fields of an entry of `collaborators`, whose type `remote/group.rs` defines for the
    /// resource and the data source alike.
    pub use crate::provider::remote::group::collaborator;
}

/// TrueFoundry's own default secret store, as its API documentation uses it.
pub const DEFAULT_INTEGRATION_FQN: &str = "internal:aws:aws-1:secret-store:internal-secret-store";

/// Role ids a secret-group collaborator can hold.
pub const KNOWN_ROLES: [&str; 3] = [
    "secret-group-admin",
    "secret-group-editor",
    "secret-group-viewer",
];

/// The schema version: 0 held `secrets` as a map of objects (`value`, `value_wo`,
/// `value_wo_version`); 1 holds the flat maps below.
pub const SCHEMA_VERSION: i64 = 1;

fn string_map() -> Type {
    Type::Map(Box::new(Type::String))
}

pub fn resource_schema() -> Schema {
    Schema::new(
        SCHEMA_VERSION,
        "Manages a TrueFoundry secret group: its collaborators and, when any of `secrets`, `secrets_wo` \
         and `initial_secrets` is set, exactly its set of secret keys.\n\nEach key is in one of three \
         maps: `secrets` (the value is kept in state, compared on every refresh and sent when it \
         changes), `secrets_wo` (write-only: never in plan or state, Terraform 1.11 or later; sent when \
         the key is created and when its `secrets_wo_versions` entry changes) or `initial_secrets` (sent \
         only to create the key; afterwards the value belongs to people or a rotation job and is never \
         read or overwritten). Deployments reference a secret by the FQN in `secret_fqns`.\n\nCreating \
         refuses to adopt an existing group of the same name: the plan fails with the `terraform \
         import` command. The one exception is what an apply of this configuration in the same working \
         directory left behind when it was cut off while creating the group: the create keeps a record \
         of itself (no secret) under Terraform's data directory (`TF_DATA_DIR`, else `.terraform/`) \
         until it returns, and the group must be created by this API key after that record was made, \
         unchanged since, with the same integration, owner and collaborators and only keys this \
         configuration sets, holding its values. The plan warns that it takes such a group over. A \
         second working directory with the same configuration and key, or one whose `.terraform/` \
         was lost, gets the import command instead.\n\nWhen the group is \
         created but its secrets cannot be written, the new group is deleted again and nothing is \
         left; if that fails too, the error says so and the next apply replaces the group.",
        vec![
            Attribute::computed(attr::ID, Type::String, "The secret group's id."),
            Attribute::required(
                attr::NAME,
                Type::String,
                "Name of the secret group, unique within the tenant: at most 128 characters, \
                 without `:`, white space, or control, bidirectional or invisible characters. \
                 Changing it replaces the group, \
                 and with it every secret's `tfy-secret://` reference (the plan warns). \
                 TrueFoundry recommends a suffix naming the tenant, such as `payments-acme`.",
            ),
            Attribute::optional_computed(
                attr::INTEGRATION_FQN,
                Type::String,
                "FQN of the secret-store integration that holds the values, such as \
                 `acme:aws:main:secret-store:ssm`. Defaults to TrueFoundry's internal store \
                 `internal:aws:aws-1:secret-store:internal-secret-store`. Changing it replaces the group \
                 (the plan warns that deployments referencing its secrets must be updated).",
            ),
            // Computed too, so that leaving it out (after an import, or by removing it) keeps
            // what the state holds instead of planning a manifest write that drops the owner.
            Attribute::optional_computed(
                attr::OWNED_BY_ACCOUNT,
                Type::String,
                "Account that owns the secret group (the manifest's `ownedBy.account`). When omitted, \
                 the owner is not managed: whatever the server holds or fills in is left as it is, and \
                 removing the attribute from the configuration (or importing a group that has an \
                 owner) changes nothing on the server.",
            ),
            Attribute::optional(
                attr::COLLABORATORS,
                collaborators_type(),
                "Who may use the group, and with which role: a set of `{ subject, role_id }`. `subject` is \
                 `<kind>:<name>` with kind `user` (`user:<email>`), `team`, `serviceaccount`, \
                 `virtualaccount`, `agent-identity`, `agent`, `agent-channel-identity` or `role`; `role_id` \
                 is `secret-group-admin` (manage the group, its secrets and collaborators), \
                 `secret-group-editor` (read and write secrets) or `secret-group-viewer` (see keys, not \
                 values). When set, this set is authoritative: collaborators added elsewhere are removed, \
                 except an entry of the API key's own subject that the configuration never named (a \
                 server may list a group's creator): it is kept so the key keeps its access, and the plan \
                 says so. When omitted, the group's collaborators are left as they are; removing it from \
                 the configuration stops managing them and changes nothing on the server.",
            ),
            Attribute::optional(
                attr::SECRETS,
                string_map(),
                "Secret values by key, kept in state (sensitive). Each value is compared with the server's \
                 on every refresh and sent only when it differs. When any of `secrets`, `secrets_wo` and \
                 `initial_secrets` is set, their keys together are authoritative: keys added elsewhere are \
                 deleted by the next apply (the plan warns which).",
            )
            .sensitive(),
            Attribute::optional(
                attr::SECRETS_WO,
                string_map(),
                "Write-only secret values by key: never stored in Terraform plan or state (Terraform 1.11 \
                 or later). A value is sent when its key is created, when its `secrets_wo_versions` entry \
                 changes, and when someone else changed the key (its server version moved).",
            )
            .sensitive()
            .write_only(),
            Attribute::optional(
                attr::SECRETS_WO_VERSIONS,
                string_map(),
                "A version label for keys of `secrets_wo`, such as `\"2\"`. Change a key's label to send its \
                 write-only value again, since Terraform cannot see changes to a write-only value.",
            ),
            Attribute::optional(
                attr::INITIAL_SECRETS,
                string_map(),
                "Values sent only when their key does not exist yet; afterwards the key's value belongs to \
                 people or a rotation job and is never read, compared or overwritten. A key deleted \
                 elsewhere is created again with its initial value.",
            )
            .sensitive(),
            Attribute::optional(
                attr::DELETE_IN_USE,
                Type::Bool,
                "Allow deleting secrets that deployments still reference (the API's \
                 `activeDeploymentsCount`). Defaults to false: a plan that drops such a key from the \
                 maps fails, naming the keys and their deployment counts, and so does destroying the \
                 group (checked when applying; a destroy reads this setting from the state, so apply \
                 `true` before destroying). Update the deployments first, or set this to true.",
            ),
            Attribute::computed(
                attr::FQN,
                Type::String,
                "FQN of the group: `<tenant>:<name>`. Known at plan, also for a create: a new group \
                 lands in the API key's tenant (unknown until the apply only when the control plane \
                 does not say which tenant that is).",
            ),
            Attribute::computed(
                attr::TENANT_NAME,
                Type::String,
                "The tenant the group belongs to; known at plan like `fqn`.",
            ),
            Attribute::computed(
                attr::SECRET_FQNS,
                string_map(),
                "Reference of each secret of the group, by key: `tfy-secret://<tenant>:<group>:<key>`, as \
                 deployments use it. Known at plan like `fqn`, so a module can hand it to a `for_each` \
                 that plans and applies on the first run.",
            ),
            Attribute::computed(
                attr::SECRET_VERSIONS,
                Type::Map(Box::new(Type::Number)),
                "The server's current version of each secret of the group, by key. A plan leaves the \
                 version unknown exactly for the keys whose value it writes.",
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_schema_declares_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(&resource_schema(), &attr::ALL);

        let Type::Set(entry) = collaborators_type() else {
            panic!("`collaborators` is a set");
        };
        let Type::Object(fields) = *entry else {
            panic!("a collaborator is an object");
        };
        assert_eq!(
            fields.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from([attr::collaborator::SUBJECT, attr::collaborator::ROLE_ID])
        );
    }
}
