//! The data sources: one group (`truefoundry_secret_group`), a listing of groups
//! (`truefoundry_secret_groups`) and one secret (`truefoundry_secret`).

pub mod secret;
pub mod secret_group;
pub mod secret_groups;
