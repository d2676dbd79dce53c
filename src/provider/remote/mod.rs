//! What the resources, data sources and list resources alike read from the API about a group and
//! its secrets, and the shapes they all give it: names, collaborators, FQNs, key listings, values
//! of chosen keys, and which keys deployments still use.

pub mod group;
pub mod in_use;
pub mod secrets;
