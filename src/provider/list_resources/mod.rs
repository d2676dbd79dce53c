//! List resources for `terraform query` (Terraform 1.14+): the secret groups the API key can see
//! (optionally those whose name contains `search`, as the `truefoundry_secret_groups` data
//! source), and the keys of one group. Each object comes with its identity and, when asked, a
//! resource object that holds no secret value: no value is ever requested, so a viewer's key lists
//! everything it can see, and configuration generated from these objects cannot carry a value.

pub mod secret;
pub mod secret_group;

pub use secret::SecretList;
pub use secret_group::SecretGroupList;
