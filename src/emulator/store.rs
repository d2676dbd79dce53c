//! Secret groups, their secrets and versions; access rules; the full-list update.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::config::{
    DEFAULT_MAX_VALUE_BYTES, DEFAULT_MAX_VERSIONS, SecretValue, is_valid_subject, subject_forms,
};
use super::error::ApiError;
use super::wire::Manifest;

/// The `type` of every secret-group manifest.
pub(crate) const MANIFEST_TYPE: &str = "secret-group";

pub(crate) const ROLE_ADMIN: &str = "secret-group-admin";
pub(crate) const ROLE_EDITOR: &str = "secret-group-editor";
pub(crate) const ROLE_VIEWER: &str = "secret-group-viewer";

/// Who is calling, resolved from the API key.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub tenant: String,
    pub subject: String,
    pub tenant_admin: bool,
}

/// What a caller may do with one group, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Access {
    /// The group is invisible: 404, never listed.
    None,
    /// Group and key names; no values.
    Viewer,
    /// Also values, the full-list update and deleting secrets.
    Editor,
    /// Also the manifest and deleting the group.
    Admin,
}

impl Access {
    pub fn from_role(role_id: &str) -> Option<Access> {
        match role_id {
            ROLE_ADMIN => Some(Access::Admin),
            ROLE_EDITOR => Some(Access::Editor),
            ROLE_VIEWER => Some(Access::Viewer),
            _ => None,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub id: String,
    pub tenant: String,
    pub manifest: Manifest,
    /// Subject of the API key that created the group.
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub secrets: Vec<Secret>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Secret {
    pub id: String,
    pub key: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Ascending by `version`, from 1 until the history cap drops the oldest; never empty
    /// (checked at load, kept by `apply_secret_list`).
    pub versions: Vec<Version>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Version {
    pub id: String,
    pub version: u64,
    pub value: SecretValue,
    pub created_at: String,
}

impl Group {
    /// A new, empty group owned by `caller`.
    pub fn new(caller: &Caller, manifest: Manifest, now: &str) -> Group {
        Group {
            id: new_id("sg"),
            tenant: caller.tenant.clone(),
            manifest,
            created_by: caller.subject.clone(),
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            secrets: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn fqn(&self) -> String {
        format!("{}:{}", self.tenant, self.manifest.name)
    }

    /// The caller's access: tenant admins see everything of their tenant; the creator keeps admin
    /// rights without being written into the manifest (so a client reading the collaborators back
    /// sees exactly what it sent); otherwise the strongest collaborator role of the caller.
    pub fn access(&self, caller: &Caller) -> Access {
        if caller.tenant != self.tenant {
            return Access::None;
        }
        if caller.tenant_admin || caller.subject == self.created_by {
            return Access::Admin;
        }
        self.manifest
            .collaborators
            .iter()
            .filter(|c| c.subject == caller.subject)
            .filter_map(|c| Access::from_role(&c.role_id))
            .max()
            .unwrap_or(Access::None)
    }

    pub fn secret_fqn(&self, key: &str) -> String {
        secret_fqn(&self.tenant, self.name(), key)
    }
}

impl Secret {
    /// The current version. Should stored data ever break the rule that there is one, the
    /// request fails, not the process.
    pub fn latest(&self) -> Result<&Version, ApiError> {
        self.versions.last().ok_or_else(|| {
            ApiError::internal(format!("stored secret {:?} has no versions", self.key))
        })
    }

    /// The number the next version gets.
    fn next_version(&self, numbering: Numbering) -> Result<u64, ApiError> {
        let step = numbering.step();
        self.latest()?.version.checked_add(step).ok_or_else(|| {
            ApiError::internal(format!(
                "stored secret {:?} has no version number left",
                self.key
            ))
        })
    }
}

/// DECISION (the reference leaves the form open): secret FQNs carry the `tfy-secret://` prefix,
/// the form deployments reference, e.g. `tfy-secret://acme:payments:DB_PASSWORD`.
pub(crate) fn secret_fqn(tenant: &str, group: &str, key: &str) -> String {
    format!("tfy-secret://{tenant}:{group}:{key}")
}

/// DECISION (invented, the reference has no source): a version's FQN is `<secret fqn>:<version>`.
pub(crate) fn version_fqn(secret_fqn: &str, version: u64) -> String {
    format!("{secret_fqn}:{version}")
}

/// An opaque id: a prefix and 22 random lowercase letters and digits.
pub(crate) fn new_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(prefix.len() + 22);
    id.push_str(prefix);
    for _ in 0..22 {
        id.push(ALPHABET[fastrand::usize(..ALPHABET.len())] as char);
    }
    id
}

/// ISO-8601 UTC with milliseconds, as the API sends timestamps.
pub(crate) fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("a UTC timestamp always formats")
}

/// How version numbers grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Numbering {
    /// 1, 2, 3, …
    #[default]
    Consecutive,
    /// Each write jumps by a random amount (the `sparse-versions` variant).
    Sparse,
}

impl Numbering {
    /// How far the next version number is from the last one (and the first from 0).
    fn step(self) -> u64 {
        match self {
            Numbering::Consecutive => 1,
            Numbering::Sparse => fastrand::u64(2..=50),
        }
    }
}

/// What a secret store and the API's variant make of a full-list update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteRules {
    pub numbering: Numbering,
    /// The longest value the group's secret store takes, in bytes.
    pub max_value_bytes: Option<usize>,
    /// How many versions of a secret the store keeps (at least 1); older ones are dropped.
    pub max_versions: usize,
}

impl Default for WriteRules {
    fn default() -> Self {
        WriteRules {
            numbering: Numbering::default(),
            max_value_bytes: Some(DEFAULT_MAX_VALUE_BYTES),
            max_versions: DEFAULT_MAX_VERSIONS,
        }
    }
}

/// One entry of a full-list update, already parsed.
pub(crate) struct SecretEntry {
    pub key: String,
    pub value: Option<SecretValue>,
}

/// Group names: the part after the tenant in `<tenant>:<name>`, and a segment of secret FQNs.
/// Like keys, names with control, bidirectional or invisible characters are refused (they print
/// as another name, or drive the terminal showing them), and so are names longer than
/// [`MAX_NAME_CHARS`].
pub(crate) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == ':' || c == '/' || c.is_whitespace())
    {
        Some("must be non-empty, without ':', '/' or whitespace")
    } else if name.chars().any(crate::printable::is_unsafe) {
        Some("must not contain control, bidirectional or invisible characters")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("must be at most 128 characters long")
    } else {
        None
    }
}

/// The longest group name taken. DECISION: the API's limit is not public; a name is one segment
/// of secret FQNs (`tfy-secret://tenant:name:key`) and of the secret store's own names, so it
/// gets the same cap as a key. The provider refuses longer names at plan time.
pub(crate) const MAX_NAME_CHARS: usize = 128;

/// Key names the API can address: the key is the last segment of a `:`-separated FQN and a path
/// segment in references, so `:`, `/` and whitespace are refused (the real rules are not public).
/// Control characters (NUL among them) and the bidirectional embeddings, overrides and isolates
/// are refused too: they cannot reach an environment variable, and they make a key print as
/// another.
pub(crate) fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("a secret key must not be empty")
    } else if key
        .chars()
        .any(|c| c == ':' || c == '/' || c.is_whitespace())
    {
        Some("a secret key must not contain ':', '/' or whitespace")
    } else if key.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        Some("a secret key must not contain control or bidirectional-override characters")
    } else {
        None
    }
}

/// U+202A–U+202E (embeddings and overrides) and U+2066–U+2069 (isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Problems of a manifest, as (field, message); names a collaborator only by its place.
/// `subject_kinds` are the kinds a collaborator's subject may have.
pub(crate) fn manifest_problems(
    manifest: &Manifest,
    subject_kinds: &[&str],
) -> Vec<(String, String)> {
    let mut problems: Vec<(String, String)> = Vec::new();
    if manifest.kind != MANIFEST_TYPE {
        problems.push(("manifest.type".into(), format!("must be {MANIFEST_TYPE:?}")));
    }
    if let Some(problem) = name_problem(&manifest.name) {
        problems.push(("manifest.name".into(), problem.into()));
    }
    if manifest.integration_fqn.trim().is_empty() {
        problems.push((
            "manifest.integration_fqn".into(),
            "must not be empty".into(),
        ));
    }
    for (index, collaborator) in manifest.collaborators.iter().enumerate() {
        if !is_valid_subject(&collaborator.subject, subject_kinds) {
            problems.push((
                format!("manifest.collaborators[{index}].subject"),
                format!(
                    "{:?} is not a subject; expected one of {}",
                    collaborator.subject,
                    subject_forms(subject_kinds)
                ),
            ));
        }
        if Access::from_role(&collaborator.role_id).is_none() {
            problems.push((
                format!("manifest.collaborators[{index}].role_id"),
                format!(
                    "{:?} is not a role; expected {ROLE_ADMIN}, {ROLE_EDITOR} or {ROLE_VIEWER}",
                    collaborator.role_id
                ),
            ));
        }
    }
    if let Some(owned_by) = &manifest.owned_by
        && owned_by.account.trim().is_empty()
    {
        problems.push((
            "manifest.ownedBy.account".into(),
            "must not be empty".into(),
        ));
    }
    problems
}

/// Applies the full-list semantics of `PUT /v1/secret-groups/{id}` to `group`:
/// a value creates the key (version 1) or adds a version when it differs from the current one;
/// no value keeps the key as it is; keys not listed are deleted with their versions.
/// Everything is validated before anything changes. Returns whether the group changed.
#[cfg(test)]
pub(crate) fn apply_secret_list(
    group: &mut Group,
    entries: Vec<SecretEntry>,
    caller: &Caller,
    now: &str,
) -> Result<bool, ApiError> {
    apply_secret_list_with(group, entries, caller, now, WriteRules::default())
}

/// [`apply_secret_list`] under the store's and the variant's `rules`.
pub(crate) fn apply_secret_list_with(
    group: &mut Group,
    entries: Vec<SecretEntry>,
    caller: &Caller,
    now: &str,
    rules: WriteRules,
) -> Result<bool, ApiError> {
    if entries.is_empty() {
        return Err(ApiError::bad_request(
            "`secrets` must list at least one key; delete the group or single secrets instead",
        ));
    }
    let existing: HashMap<String, usize> = group
        .secrets
        .iter()
        .enumerate()
        .map(|(index, secret)| (secret.key.clone(), index))
        .collect();
    let mut seen = HashSet::new();
    let mut error: Option<ApiError> = None;
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("secrets[{index}].key");
        let problem = if let Some(problem) = key_problem(&entry.key) {
            Some(problem)
        } else if !seen.insert(entry.key.as_str()) {
            Some("the key is listed more than once")
        } else if entry.value.is_none() && !existing.contains_key(entry.key.as_str()) {
            Some("a new key needs a value")
        } else {
            None
        };
        if let Some(problem) = problem {
            let message = format!("secret {:?}: {problem}", entry.key);
            error = Some(
                error
                    .unwrap_or_else(|| ApiError::unprocessable(message))
                    .with_field(&field, problem),
            );
        }
        // DECISION: a store's size limit is reported by position only, as a store's own
        // refusal passed through would be; a client has to name the key itself.
        if let (Some(limit), Some(value)) = (rules.max_value_bytes, &entry.value)
            && value.expose().len() > limit
        {
            let problem =
                format!("the value is longer than the secret store allows ({limit} bytes)");
            let field = format!("secrets[{index}].value");
            error = Some(
                error
                    .unwrap_or_else(|| ApiError::unprocessable(format!("{field}: {problem}")))
                    .with_field(&field, &problem),
            );
        }
    }
    if let Some(error) = error {
        return Err(error);
    }
    // Stored data (checked at load): a secret without a current version fails the request here,
    // before anything changes.
    for secret in &group.secrets {
        secret.next_version(Numbering::Consecutive)?;
    }

    let mut old: Vec<Option<Secret>> = std::mem::take(&mut group.secrets)
        .into_iter()
        .map(Some)
        .collect();
    let mut changed = old.len() != entries.len();
    // Kept keys keep their position; new keys follow in request order.
    let mut kept: Vec<(usize, Secret)> = Vec::new();
    let mut added: Vec<Secret> = Vec::new();
    for entry in entries {
        match existing.get(entry.key.as_str()) {
            Some(&index) => {
                let mut secret = old[index].take().expect("keys are unique");
                if let Some(value) = entry.value
                    && secret.latest()?.value != value
                {
                    let version = secret.next_version(rules.numbering)?;
                    secret.versions.push(Version {
                        id: new_id("sv"),
                        version,
                        value,
                        created_at: now.to_owned(),
                    });
                    // Like the stores it mimics, the history keeps the newest versions only.
                    let excess = secret
                        .versions
                        .len()
                        .saturating_sub(rules.max_versions.max(1));
                    secret.versions.drain(..excess);
                    secret.updated_at = now.to_owned();
                    changed = true;
                }
                kept.push((index, secret));
            }
            None => {
                let value = entry.value.expect("checked above: new keys have a value");
                added.push(Secret {
                    id: new_id("sc"),
                    key: entry.key,
                    created_by: caller.subject.clone(),
                    created_at: now.to_owned(),
                    updated_at: now.to_owned(),
                    versions: vec![Version {
                        id: new_id("sv"),
                        version: rules.numbering.step(),
                        value,
                        created_at: now.to_owned(),
                    }],
                });
                changed = true;
            }
        }
    }
    kept.sort_by_key(|(index, _)| *index);
    group.secrets = kept.into_iter().map(|(_, secret)| secret).collect();
    group.secrets.extend(added);
    if changed {
        group.updated_at = now.to_owned();
    }
    Ok(changed)
}

/// Index of the group with `id` and the caller's access; 404 when the caller cannot see it, so
/// an invisible group and a missing one look the same.
pub(crate) fn find_group(
    groups: &[Group],
    caller: &Caller,
    id: &str,
) -> Result<(usize, Access), ApiError> {
    groups
        .iter()
        .position(|group| group.id == id)
        .map(|index| (index, groups[index].access(caller)))
        .filter(|(_, access)| *access > Access::None)
        .ok_or_else(|| ApiError::not_found(format!("secret group {id:?} not found")))
}

/// Indexes of the secret with `id` and of its group, and the caller's access; 404 as above.
pub(crate) fn find_secret(
    groups: &[Group],
    caller: &Caller,
    id: &str,
) -> Result<(usize, usize, Access), ApiError> {
    groups
        .iter()
        .enumerate()
        .find_map(|(group_index, group)| {
            let secret_index = group.secrets.iter().position(|secret| secret.id == id)?;
            Some((group_index, secret_index, group.access(caller)))
        })
        .filter(|(_, _, access)| *access > Access::None)
        .ok_or_else(|| ApiError::not_found(format!("secret {id:?} not found")))
}

/// All groups of all tenants, in creation order (the order lists and pages use), and a counter
/// of changes that persistence uses to know what is saved.
pub(crate) struct Store {
    groups: Vec<Group>,
    generation: u64,
    /// Ids of the groups changed (or removed) since persistence last asked; `None` when nothing
    /// is persisted.
    touched: Option<Vec<String>>,
}

/// The groups as one change sees them. A group is copied before the change first alters it, so
/// a change that fails is undone, and persistence learns which groups to write: both cost the
/// groups touched, never the whole store.
pub(crate) struct Change<'a> {
    groups: &'a mut Vec<Group>,
    undo: Vec<Undo>,
}

enum Undo {
    Altered(usize, Group),
    /// The id of the group added.
    Pushed(String),
    Removed(usize, Group),
}

impl Change<'_> {
    pub fn groups(&self) -> &[Group] {
        self.groups
    }

    /// The group at `index`, to alter.
    pub fn group_mut(&mut self, index: usize) -> &mut Group {
        self.undo
            .push(Undo::Altered(index, self.groups[index].clone()));
        &mut self.groups[index]
    }

    pub fn push(&mut self, group: Group) {
        self.undo.push(Undo::Pushed(group.id.clone()));
        self.groups.push(group);
    }

    pub fn remove(&mut self, index: usize) {
        let group = self.groups.remove(index);
        self.undo.push(Undo::Removed(index, group));
    }

    /// Ids of every group altered, added or removed.
    fn touched(&self) -> impl Iterator<Item = String> + '_ {
        self.undo.iter().map(|undo| match undo {
            Undo::Altered(_, group) | Undo::Removed(_, group) => group.id.clone(),
            Undo::Pushed(id) => id.clone(),
        })
    }

    fn roll_back(self) {
        for undo in self.undo.into_iter().rev() {
            match undo {
                Undo::Altered(index, group) => self.groups[index] = group,
                // Undone in reverse order, so the group added is the last one.
                Undo::Pushed(_) => {
                    self.groups.pop();
                }
                Undo::Removed(index, group) => self.groups.insert(index, group),
            }
        }
    }
}

impl Store {
    pub fn new(groups: Vec<Group>) -> Store {
        Store {
            groups,
            generation: 0,
            touched: None,
        }
    }

    /// From now on, remember which groups each change touches (see `take_touched`).
    pub fn record_touched(&mut self) {
        self.touched.get_or_insert_with(Vec::new);
    }

    /// The ids of the groups changed or removed since the last call, oldest first, each once.
    pub fn take_touched(&mut self) -> Vec<String> {
        let mut ids = self
            .touched
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut seen = HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        ids
    }

    /// Grows by one with every change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group with `id` and the caller's access to it; 404 when the caller cannot see it.
    pub fn group(&self, caller: &Caller, id: &str) -> Result<(&Group, Access), ApiError> {
        let (index, access) = find_group(&self.groups, caller, id)?;
        Ok((&self.groups[index], access))
    }

    /// The secret with `id`, its group and the caller's access; 404 when the caller cannot see it.
    pub fn secret(&self, caller: &Caller, id: &str) -> Result<(&Group, &Secret, Access), ApiError> {
        let (group, secret, access) = find_secret(&self.groups, caller, id)?;
        let group = &self.groups[group];
        Ok((group, &group.secrets[secret], access))
    }

    /// Runs `change` on the groups; a change that fails leaves the store as it was. The change
    /// answers whether it changed anything (a dry run alters nothing that is kept).
    pub fn commit<T>(
        &mut self,
        change: impl FnOnce(&mut Change<'_>) -> Result<(T, bool), ApiError>,
    ) -> Result<T, ApiError> {
        let mut transaction = Change {
            groups: &mut self.groups,
            undo: Vec::new(),
        };
        match change(&mut transaction) {
            Ok((value, changed)) => {
                if changed {
                    self.generation += 1;
                    if let Some(touched) = &mut self.touched {
                        touched.extend(transaction.touched());
                    }
                }
                Ok(value)
            }
            Err(error) => {
                transaction.roll_back();
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::wire::Collaborator;

    fn caller(subject: &str, tenant_admin: bool) -> Caller {
        Caller {
            tenant: "acme".into(),
            subject: subject.into(),
            tenant_admin,
        }
    }

    fn group(collaborators: Vec<(&str, &str)>) -> Group {
        Group {
            id: "sg1".into(),
            tenant: "acme".into(),
            manifest: Manifest {
                kind: "secret-group".into(),
                name: "payments".into(),
                integration_fqn: "acme:aws:aws-1:secret-store:ssm".into(),
                collaborators: collaborators
                    .into_iter()
                    .map(|(subject, role_id)| Collaborator {
                        subject: subject.into(),
                        role_id: role_id.into(),
                    })
                    .collect(),
                owned_by: None,
            },
            created_by: "user:creator@x".into(),
            created_at: "t0".into(),
            updated_at: "t0".into(),
            secrets: Vec::new(),
        }
    }

    fn entry(key: &str, value: Option<&str>) -> SecretEntry {
        SecretEntry {
            key: key.into(),
            value: value.map(SecretValue::new),
        }
    }

    fn versions(group: &Group) -> Vec<(String, u64)> {
        group
            .secrets
            .iter()
            .map(|s| (s.key.clone(), s.latest().unwrap().version))
            .collect()
    }

    #[test]
    fn access_follows_tenant_creator_and_strongest_role() {
        let g = group(vec![
            ("user:v@x", ROLE_VIEWER),
            ("user:e@x", ROLE_EDITOR),
            ("user:e@x", ROLE_VIEWER),
            ("user:odd@x", "some-other-role"),
        ]);
        assert_eq!(g.access(&caller("user:root@x", true)), Access::Admin);
        assert_eq!(g.access(&caller("user:creator@x", false)), Access::Admin);
        assert_eq!(g.access(&caller("user:e@x", false)), Access::Editor);
        assert_eq!(g.access(&caller("user:v@x", false)), Access::Viewer);
        assert_eq!(g.access(&caller("user:odd@x", false)), Access::None);
        assert_eq!(g.access(&caller("user:nobody@x", false)), Access::None);
        let mut other_tenant_admin = caller("user:root@x", true);
        other_tenant_admin.tenant = "other".into();
        assert_eq!(g.access(&other_tenant_admin), Access::None);
    }

    #[test]
    fn full_list_creates_versions_keeps_and_deletes() {
        let admin = caller("user:root@x", true);
        let mut g = group(vec![]);
        assert!(
            apply_secret_list(
                &mut g,
                vec![entry("A", Some("1")), entry("B", Some("2"))],
                &admin,
                "t1"
            )
            .unwrap()
        );
        assert_eq!(versions(&g), [("A".into(), 1), ("B".into(), 1)]);
        assert_eq!(g.updated_at, "t1");

        // Same value: no new version, nothing changed.
        assert!(
            !apply_secret_list(
                &mut g,
                vec![entry("A", Some("1")), entry("B", None)],
                &admin,
                "t2"
            )
            .unwrap()
        );
        assert_eq!(versions(&g), [("A".into(), 1), ("B".into(), 1)]);
        assert_eq!(g.updated_at, "t1");

        // Changed value bumps only that key; an absent key disappears; a new key starts at 1.
        let b_id = g.secrets[1].id.clone();
        assert!(
            apply_secret_list(
                &mut g,
                vec![entry("C", Some("3")), entry("B", Some("22"))],
                &admin,
                "t3"
            )
            .unwrap()
        );
        assert_eq!(versions(&g), [("B".into(), 2), ("C".into(), 1)]);
        assert_eq!(g.secrets[0].id, b_id, "a kept key keeps its id");
        assert_eq!(g.secrets[0].latest().unwrap().value.expose(), "22");
        assert_eq!(g.secrets[0].versions[0].value.expose(), "2");
        assert_eq!(g.updated_at, "t3");
    }

    #[test]
    fn the_history_keeps_the_newest_versions_only() {
        let admin = caller("user:root@x", true);
        let mut g = group(vec![]);
        let rules = WriteRules {
            max_versions: 3,
            ..WriteRules::default()
        };
        for value in 1..=7 {
            let entries = vec![entry("A", Some(&value.to_string()))];
            apply_secret_list_with(&mut g, entries, &admin, "t", rules).unwrap();
        }
        let kept: Vec<(u64, &str)> = g.secrets[0]
            .versions
            .iter()
            .map(|v| (v.version, v.value.expose()))
            .collect();
        assert_eq!(kept, [(5, "5"), (6, "6"), (7, "7")]);

        // The default: 100 versions, like AWS Parameter Store.
        for value in 8..=130 {
            let entries = vec![entry("A", Some(&value.to_string()))];
            apply_secret_list(&mut g, entries, &admin, "t").unwrap();
        }
        let versions = &g.secrets[0].versions;
        assert_eq!(versions.len(), DEFAULT_MAX_VERSIONS);
        assert_eq!((versions[0].version, versions[99].version), (31, 130));
    }

    #[test]
    fn values_are_limited_to_64_kib_by_default() {
        let admin = caller("user:root@x", true);
        let mut g = group(vec![]);
        let fits = "x".repeat(DEFAULT_MAX_VALUE_BYTES);
        apply_secret_list(&mut g, vec![entry("A", Some(&fits))], &admin, "t").unwrap();
        let over = format!("{fits}y");
        let error =
            apply_secret_list(&mut g, vec![entry("A", Some(&over))], &admin, "t").unwrap_err();
        assert_eq!(error.status, 422);
        assert_eq!(error.details[0]["field"], "secrets[0].value");
        let unlimited = WriteRules {
            max_value_bytes: None,
            ..WriteRules::default()
        };
        apply_secret_list_with(
            &mut g,
            vec![entry("A", Some(&over))],
            &admin,
            "t",
            unlimited,
        )
        .unwrap();
    }

    #[test]
    fn full_list_rejects_without_changing_anything() {
        let admin = caller("user:root@x", true);
        let mut g = group(vec![]);
        apply_secret_list(&mut g, vec![entry("A", Some("1"))], &admin, "t1").unwrap();

        let empty = apply_secret_list(&mut g, vec![], &admin, "t2").unwrap_err();
        assert_eq!(empty.status, 400);
        let duplicate = apply_secret_list(
            &mut g,
            vec![entry("A", Some("2")), entry("A", None)],
            &admin,
            "t2",
        )
        .unwrap_err();
        assert_eq!(duplicate.status, 422);
        assert_eq!(duplicate.details[0]["field"], "secrets[1].key");
        let new_without_value = apply_secret_list(
            &mut g,
            vec![entry("A", Some("2")), entry("N", None)],
            &admin,
            "t2",
        )
        .unwrap_err();
        assert_eq!(new_without_value.status, 422);
        for bad in ["", "a:b", "a b", "a/b"] {
            let error =
                apply_secret_list(&mut g, vec![entry(bad, Some("x"))], &admin, "t2").unwrap_err();
            assert_eq!(error.status, 422, "{bad:?}");
        }
        assert_eq!(versions(&g), [("A".into(), 1)]);
        assert_eq!(g.secrets[0].latest().unwrap().value.expose(), "1");
    }

    #[test]
    fn stored_secrets_without_a_next_version_fail_the_update_not_the_process() {
        let admin = caller("user:root@x", true);
        let mut g = group(vec![]);
        apply_secret_list(&mut g, vec![entry("A", Some("1"))], &admin, "t1").unwrap();
        g.secrets[0].versions[0].version = u64::MAX;
        let error =
            apply_secret_list(&mut g, vec![entry("A", Some("2"))], &admin, "t2").unwrap_err();
        assert_eq!(error.status, 500);
        g.secrets[0].versions.clear();
        let error =
            apply_secret_list(&mut g, vec![entry("A", Some("2"))], &admin, "t2").unwrap_err();
        assert_eq!(error.status, 500);
        assert_eq!(g.secrets.len(), 1, "nothing changed");
        assert_eq!(g.updated_at, "t1");
    }

    #[test]
    fn errors_never_carry_values() {
        let admin = caller("user:root@x", true);
        let mut g = group(vec![]);
        let error = apply_secret_list(
            &mut g,
            vec![
                entry("A", Some("canary-9f3")),
                entry("A", Some("canary-9f3")),
            ],
            &admin,
            "t1",
        )
        .unwrap_err();
        assert!(!format!("{error:?}").contains("canary-9f3"));
    }

    #[test]
    fn failed_changes_roll_back_and_changes_count() {
        let mut store = Store::new(Vec::new());
        store.record_touched();
        store
            .commit(|groups| {
                groups.push(group(vec![]));
                Ok(((), true))
            })
            .unwrap();
        assert_eq!(store.generation(), 1);
        assert_eq!(store.take_touched(), ["sg1"]);
        store.commit(|_| Ok(((), false))).unwrap();
        assert_eq!(store.generation(), 1, "no change, nothing to save");
        let mut second = group(vec![]);
        second.id = "sg2".into();
        let error = store
            .commit(|groups| {
                groups.group_mut(0).secrets.clear();
                groups.group_mut(0).manifest.name = "renamed".into();
                groups.push(second);
                groups.remove(0);
                Err::<((), bool), _>(ApiError::conflict("no"))
            })
            .unwrap_err();
        assert_eq!(error.status, 409);
        let names: Vec<(&str, &str)> = store
            .groups()
            .iter()
            .map(|g| (g.id.as_str(), g.name()))
            .collect();
        assert_eq!(
            names,
            [("sg1", "payments")],
            "a failed change is rolled back"
        );
        assert_eq!(store.generation(), 1);
        assert!(store.take_touched().is_empty(), "nothing to save");
    }
}
