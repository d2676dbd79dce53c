//! Schema of the `truefoundry_secret` resource (version 0): one key of a secret group.

use crate::schema::{Attribute, Schema};
use crate::value::Type;

pub const SCHEMA_VERSION: i64 = 0;

/// The resource's attribute names, for the schema and the model alike.
pub mod attr {
    pub const ID: &str = "id";
    pub const SECRET_GROUP_ID: &str = "secret_group_id";
    pub const KEY: &str = "key";
    pub const VALUE: &str = "value";
    pub const VALUE_WO: &str = "value_wo";
    pub const VALUE_WO_VERSION: &str = "value_wo_version";
    /// Shared with the group resource, which reads it the same way (`in_use::allowed`).
    pub const DELETE_IN_USE: &str = crate::provider::remote::in_use::DELETE_IN_USE;
    pub const FQN: &str = "fqn";
    pub const VERSION: &str = "version";

    /// Every attribute, in schema order.
    pub const ALL: [&str; 9] = [
        ID,
        SECRET_GROUP_ID,
        KEY,
        VALUE,
        VALUE_WO,
        VALUE_WO_VERSION,
        DELETE_IN_USE,
        FQN,
        VERSION,
    ];
}

pub fn resource_schema() -> Schema {
    Schema::new(
        SCHEMA_VERSION,
        "Manages one key of a TrueFoundry secret group, and nothing else in the group: a team can own \
         its keys in a group that others (people, other configurations) also write to.\n\nWriting a \
         value lists every key the group holds, without their values, plus this key with its value, so \
         no other key is changed or deleted; the writes of many `truefoundry_secret` of one group in \
         one apply go out together. Destroying it deletes only this key.\n\nOther configurations \
         applying to the same group at the same moment are allowed for: the API has no conditional \
         write, so each write is read back once any write built from an earlier listing has landed, \
         and a key another writer's write removed is written again (a few rounds at most). An apply \
         that saw other writers at work warns, naming the keys it saw appear or vanish. Applying the \
         configurations that share a group one at a time avoids the race altogether.\n\nDo not combine it with \
         `secrets`, `secrets_wo` or `initial_secrets` of a `truefoundry_secret_group` for the same \
         group: those maps are authoritative and delete every key they do not list, including the \
         keys of `truefoundry_secret` resources, which then create them again on the next apply.",
        vec![
            Attribute::computed(attr::ID, Type::String, "The secret's id."),
            Attribute::required(
                attr::SECRET_GROUP_ID,
                Type::String,
                "Id of the secret group holding the key, such as `truefoundry_secret_group.shared.id`. \
                 Changing it replaces the secret.",
            ),
            Attribute::required(
                attr::KEY,
                Type::String,
                "The secret's key, such as `STRIPE_KEY`: 1 to 128 ASCII letters, digits, `_`, `-` and `.`. \
                 Changing it replaces the secret, deleting the old key: refused at plan while \
                 deployments use it, unless the state holds `delete_in_use = true`.",
            ),
            Attribute::optional(
                attr::VALUE,
                Type::String,
                "The secret's value, kept in state (sensitive). Compared with the server's value on every \
                 refresh when the API key may read values; otherwise a change elsewhere is noticed by the \
                 key's version. At most one of `value` and `value_wo` is set; with neither, the resource keeps \
                 an existing key and never reads, stores or sends its value (the form `terraform query \
                 -generate-config-out` writes), and cannot create one.",
            )
            .sensitive(),
            Attribute::optional(
                attr::VALUE_WO,
                Type::String,
                "Write-only value: never stored in Terraform plan or state (Terraform 1.11 or later). Sent \
                 when the key is created, when `value_wo_version` changes, and when someone else changed \
                 the key (its server version moved).",
            )
            .sensitive()
            .write_only(),
            Attribute::optional(
                attr::VALUE_WO_VERSION,
                Type::String,
                "A version label for `value_wo`, such as `\"2\"`. Change it to send the write-only value \
                 again, since Terraform cannot see changes to a write-only value.",
            ),
            Attribute::optional(
                attr::DELETE_IN_USE,
                Type::Bool,
                "Allow deleting the secret while deployments still reference it (the API's \
                 `activeDeploymentsCount`). Defaults to false: destroying the resource then fails at \
                 apply, and replacing it (a new `key` or `secret_group_id`) fails at plan, naming the \
                 deployment count, and nothing is deleted. Both read this setting from the state, so \
                 apply `true` on its own first. Update the deployments \
                 first, or set this to true.",
            ),
            Attribute::computed(
                attr::FQN,
                Type::String,
                "Reference of the secret as deployments use it: `tfy-secret://<tenant>:<group>:<key>`.",
            ),
            Attribute::computed(
                attr::VERSION,
                Type::Number,
                "The server's current version of the secret. A plan leaves it unknown when the apply \
                 writes the value.",
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_exactly_the_attribute_table() {
        crate::provider::assert_schema_names(&resource_schema(), &attr::ALL);
    }
}
