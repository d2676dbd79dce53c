//! The ephemeral resources: `truefoundry_secret_group`, a group with its values, never stored in
//! plan or state.

pub mod secret_group;
