//! Schema of the `truefoundry_secret_group` resource.
//!
//! The objects inside `secrets` hold only configurable attributes: Terraform 1.0.x panics when a
//! nested attribute is planned different from its config, which a computed leaf would force. Per-key
//! server data therefore lives in the top-level computed maps `secret_fqns` and `secret_versions`.

use std::collections::BTreeMap;

use crate::schema::{Attribute, Nesting, Schema};
use crate::value::Type;

/// TrueFoundry's own default secret store, as its API documentation uses it.
pub const DEFAULT_INTEGRATION_FQN: &str = "internal:aws:aws-1:secret-store:internal-secret-store";

/// Role ids a secret-group collaborator can hold.
pub const KNOWN_ROLES: [&str; 3] = [
    "secret-group-admin",
    "secret-group-editor",
    "secret-group-viewer",
];

/// `set(object({subject = string, role_id = string}))`. A plain attribute rather than a nested
/// one: Terraform 1.0.x crashes rendering the create plan of a set-nested attribute.
pub fn collaborators_type() -> Type {
    Type::Set(Box::new(Type::Object(BTreeMap::from([
        ("subject".to_owned(), Type::String),
        ("role_id".to_owned(), Type::String),
    ]))))
}

pub fn resource_schema() -> Schema {
    let secret = vec![
        Attribute::optional(
            "value",
            Type::String,
            "The secret's value. Stored in Terraform state (marked sensitive). Sent to TrueFoundry only \
             when it changes. Conflicts with `value_wo`.",
        )
        // Sensitive per value, not on the whole `secrets` map: Terraform 1.0.x ignores
        // `sensitive` on a nested attribute and would print every value in the plan. The price
        // is Terraform's own time, which grows with the square of the key count (one marked
        // path per key); docs/benchmarks.md measures both.
        .sensitive(),
        Attribute::optional(
            "value_wo",
            Type::String,
            "The secret's value, write-only: never stored in Terraform plan or state (Terraform 1.11 or \
             later). Sent when the key is created and whenever `value_wo_version` changes. Conflicts with \
             `value`.",
        )
        .sensitive()
        .write_only(),
        Attribute::optional(
            "value_wo_version",
            Type::String,
            "Required with `value_wo`. Change it (for example `\"2\"`) to send `value_wo` again, since \
             Terraform cannot see changes to a write-only value.",
        ),
    ];
    Schema::new(
        0,
        "Manages a TrueFoundry secret group: its collaborators and, when `secrets` is set, exactly its set \
         of secret keys and their values.\n\nEach secret is declared by key. Give it a `value` (kept in \
         state, sensitive), a write-only `value_wo` (never kept in state, Terraform 1.11 or later), or \
         neither, to manage only the key's existence while its value is set elsewhere. Deployments \
         reference a secret by the FQN in `secret_fqns`.\n\nCreating refuses to adopt an existing group \
         of the same name (import it instead), except the one an interrupted apply of this very \
         configuration left behind: same integration, owner and collaborators, and only keys this \
         configuration sets, holding its values. The apply then takes it over, with a warning.",
        vec![
            Attribute::computed("id", Type::String, "The secret group's id."),
            Attribute::required(
                "name",
                Type::String,
                "Name of the secret group, unique within the tenant. Changing it replaces the group. \
                 TrueFoundry recommends a suffix naming the tenant, such as `payments-acme`.",
            ),
            Attribute::optional_computed(
                "integration_fqn",
                Type::String,
                "FQN of the secret-store integration that holds the values, such as \
                 `acme:aws:main:secret-store:ssm`. Defaults to TrueFoundry's internal store \
                 `internal:aws:aws-1:secret-store:internal-secret-store`. Changing it replaces the group.",
            ),
            Attribute::optional(
                "owned_by_account",
                Type::String,
                "Account that owns the secret group (the manifest's `ownedBy.account`).",
            ),
            Attribute::optional(
                "collaborators",
                collaborators_type(),
                "Who may use the group, and with which role: a set of `{ subject, role_id }`. `subject` is \
                 `user:<email>`, `team:<name>`, `serviceaccount:<name>` or `virtualaccount:<name>`; `role_id` \
                 is `secret-group-admin` (manage the group, its secrets and collaborators), \
                 `secret-group-editor` (read and write secrets) or `secret-group-viewer` (see keys, not \
                 values). When set, this set is authoritative: collaborators added elsewhere are removed. \
                 When omitted, the group's collaborators are left as they are.",
            ),
            Attribute::nested(
                "secrets",
                Nesting::Map,
                secret,
                "The group's secrets, keyed by secret key. When set, this map is authoritative: keys added \
                 elsewhere are deleted by the next apply (the plan warns which). `secrets = {}` means the \
                 group holds no secrets. When omitted, the group's secrets are neither read nor written. \
                 Keep a group to a few hundred keys: Terraform's own work on a resource grows with the \
                 square of its number of sensitive values (on Terraform 1.11, creating a group takes about \
                 2 s with 250 keys and 18 s with 1,000). Split larger sets into several groups.",
            )
            .with_optional(),
            Attribute::computed("fqn", Type::String, "FQN of the group: `<tenant>:<name>`."),
            Attribute::computed("tenant_name", Type::String, "The tenant the group belongs to."),
            Attribute::computed(
                "secret_fqns",
                Type::Map(Box::new(Type::String)),
                "Reference of each secret, by key: `tfy-secret://<tenant>:<group>:<key>`, as deployments use it.",
            ),
            Attribute::computed(
                "secret_versions",
                Type::Map(Box::new(Type::Number)),
                "The server's current version of each secret, by key. A new version is made only when a \
                 value changes.",
            ),
        ],
    )
}
