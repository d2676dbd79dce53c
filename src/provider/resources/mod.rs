//! The managed resources: `truefoundry_secret_group` (a whole group), `truefoundry_secret` (one
//! key of a group others write to too), and the identities Terraform 1.12+ keeps for both.

pub mod resource_identity;
pub mod secret;
pub mod secret_group;
