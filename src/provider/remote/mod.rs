//! What the resources, data sources and list resources alike read from the API about a group and
//! its secrets, and the shapes they all give it: names, collaborators, FQNs, key listings, values
//! of chosen keys, and which keys deployments still use; and the lookup of one group by FQN, name
//! or id that the data source and the ephemeral resource `truefoundry_secret_group` share.

pub mod group;
pub mod group_lookup;
pub mod in_use;
pub mod secrets;
