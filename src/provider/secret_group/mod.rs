//! The `truefoundry_secret_group` resource.

pub mod diff;
pub mod model;
pub mod schema;
