//! The record a create keeps in Terraform's working directory while it runs: the only evidence
//! the provider accepts that a same-named group is this configuration's own interrupted create.
//!
//! The API marks no group with who it belongs to: the creator's subject and the timestamps of a
//! group made by an interrupted apply look exactly like those of a group another directory made
//! with the same key. What tells them apart is local: before its manifest PUT, a create writes
//! `<data dir>/truefoundry/pending-creates/<tenant>_<name>.json` (the data dir is `TF_DATA_DIR`,
//! else `.terraform/`, relative to Terraform's working directory, which is the provider's cwd),
//! adds the group's id once the PUT answered, and removes the file once the create returned a
//! state. A file still there means this directory's create of that name was cut off. A create
//! that returns the group as tainted (it failed after making it) marks the file so: the plan of
//! the replacement then knows the group it finds is the one Terraform destroys first. The file
//! holds no secret: tenant, name, the API key's subject, the start time, the group id.
//!
//! Every failure here is on the safe side: a record that cannot be written or read means no
//! take-over (the apply reports "Secret Group Already Exists" with the import command), never a
//! failed create.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What an unfinished create of one group recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub tenant: String,
    pub name: String,
    /// The API key's subject (`user:alice@example.com`): the group's creator must be it.
    pub subject: String,
    /// When the create started, just before its manifest PUT (RFC 3339).
    pub started_at: String,
    /// The group the manifest PUT made, once it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The create ended with an error after making the group, so Terraform holds `group_id` in
    /// state as tainted: the next plan replaces it, destroying it before the new create.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
}

impl PendingCreate {
    pub fn new(tenant: &str, name: &str, subject: &str) -> Self {
        PendingCreate {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            subject: subject.to_owned(),
            started_at: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            group_id: None,
            tainted: false,
        }
    }

    /// Whether `group_id` is the tainted group Terraform's state holds from this record's
    /// create: the replacement's create is planned before that group is destroyed.
    pub fn is_tainted(&self, group_id: &str) -> bool {
        self.tainted && self.group_id.as_deref() == Some(group_id)
    }

    /// When the create started; `None` for a record whose time cannot be read.
    pub fn started(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.started_at, &Rfc3339).ok()
    }

    /// Writes the record (replacing an older one of the same group). A failure is logged and
    /// otherwise ignored: the create goes on, and only a take-over after it is impossible.
    pub fn save(&self) {
        if let Err(err) = self.try_save(&records_dir()) {
            tracing::warn!(
                group = %format!("{}:{}", self.tenant, self.name),
                error = %err,
                "the record of an unfinished create could not be written; should this apply be \
                 cut off, the next one reports the group as existing instead of taking it over"
            );
        }
    }

    fn try_save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = record_path(dir, &self.tenant, &self.name);
        // Write then rename, so a reader never sees half a record.
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, serde_json::to_vec(self)?)?;
        std::fs::rename(&partial, &path)
    }

    /// The record this working directory holds for the group, if a readable one.
    pub fn load(tenant: &str, name: &str) -> Option<PendingCreate> {
        Self::load_from(&records_dir(), tenant, name)
    }

    fn load_from(dir: &Path, tenant: &str, name: &str) -> Option<PendingCreate> {
        let text = std::fs::read(record_path(dir, tenant, name)).ok()?;
        let record: PendingCreate = serde_json::from_slice(&text).ok()?;
        (record.tenant == tenant && record.name == name).then_some(record)
    }

    /// Removes the record of the group: its create returned a state to Terraform.
    pub fn remove(tenant: &str, name: &str) {
        Self::remove_from(&records_dir(), tenant, name);
    }

    fn remove_from(dir: &Path, tenant: &str, name: &str) {
        match std::fs::remove_file(record_path(dir, tenant, name)) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(
                group = %format!("{tenant}:{name}"),
                error = %err,
                "the record of a finished create could not be removed"
            ),
        }
    }
}

/// Where the records live: under Terraform's data directory of the working directory.
fn records_dir() -> PathBuf {
    let data_dir = std::env::var_os("TF_DATA_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(".terraform"), PathBuf::from);
    data_dir.join("truefoundry").join("pending-creates")
}

/// `<tenant>_<name>.json`, each part kept to letters, digits and `-`, every other byte
/// percent-encoded, so no name can leave the directory or collide with another.
fn record_path(dir: &Path, tenant: &str, name: &str) -> PathBuf {
    dir.join(format!("{}_{}.json", file_safe(tenant), file_safe(name)))
}

fn file_safe(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            safe.push(char::from(byte));
        } else {
            safe.push_str(&format!("%{byte:02X}"));
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = PendingCreate::new("acme", "payments", "user:me@x");
        record.try_save(dir.path()).unwrap();
        assert_eq!(
            PendingCreate::load_from(dir.path(), "acme", "payments"),
            Some(record.clone())
        );
        record.group_id = Some("sg1".into());
        record.try_save(dir.path()).unwrap();
        let loaded = PendingCreate::load_from(dir.path(), "acme", "payments").unwrap();
        assert_eq!(loaded.group_id.as_deref(), Some("sg1"));
        assert!(!loaded.is_tainted("sg1"));
        record.tainted = true;
        record.try_save(dir.path()).unwrap();
        let loaded = PendingCreate::load_from(dir.path(), "acme", "payments").unwrap();
        assert!(loaded.is_tainted("sg1") && !loaded.is_tainted("sg2"));
        assert_eq!(PendingCreate::load_from(dir.path(), "acme", "other"), None);
        PendingCreate::remove_from(dir.path(), "acme", "payments");
        assert_eq!(
            PendingCreate::load_from(dir.path(), "acme", "payments"),
            None
        );
        // Removing what is not there is no error.
        PendingCreate::remove_from(dir.path(), "acme", "payments");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn file_names_stay_in_the_directory_and_apart() {
        let dir = Path::new("records");
        assert_eq!(
            record_path(dir, "acme", "team-a"),
            dir.join("acme_team-a.json")
        );
        let sneaky = record_path(dir, "acme", "../../x");
        assert_eq!(sneaky, dir.join("acme_%2E%2E%2F%2E%2E%2Fx.json"));
        assert_ne!(
            record_path(dir, "a_b", "c"),
            record_path(dir, "a", "b_c"),
            "the separator cannot be forged"
        );
    }

    #[test]
    fn an_unreadable_or_foreign_record_is_no_record() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(record_path(dir.path(), "acme", "g"), b"{not json").unwrap();
        assert_eq!(PendingCreate::load_from(dir.path(), "acme", "g"), None);
        let other = PendingCreate::new("acme", "h", "user:me@x");
        std::fs::write(
            record_path(dir.path(), "acme", "g"),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        assert_eq!(PendingCreate::load_from(dir.path(), "acme", "g"), None);
    }
}
