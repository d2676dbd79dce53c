//! Durability with a data directory.
//!
//! Two files: `state.json`, a snapshot of the whole store, and `journal.jsonl`, one line per
//! group changed since that snapshot (the group as it now is, or its removal). A change appends
//! the groups it touched to the journal and fsyncs it, so the cost of a write is that of the
//! groups it touched, not of everything stored. Once the journal outgrows the snapshot (and 1 MiB)
//! the writer folds it into a new snapshot: written to a temporary file, fsynced and renamed over
//! the previous one (then the directory is fsynced so the rename itself survives a crash), after
//! which the journal is emptied. That costs the whole store, but at most once per snapshot's worth
//! of journal, so the files stay within about twice the live data and a write's cost, averaged,
//! does not grow with the store.
//!
//! Each snapshot carries a random `epoch`, and each journal line the epoch of the snapshot it
//! follows: lines left from before the newest snapshot (a crash between the rename and the
//! emptying) are skipped at load. A last line cut short by a crash mid-append was never
//! acknowledged and is dropped; a damaged line before it stops the start.
//!
//! Chosen over SQLite because it needs no new dependency (a bundled SQLite is a long C build on
//! the project's small machines). A change is answered only once it is on disk. One thread writes,
//! always everything changed by then, so changes arriving while it fsyncs share the next write
//! (group commit): with ~50 ms per fsync, ten parallel Terraform writers would otherwise queue
//! behind each other.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::config::EmulatorConfig;
use super::error::ApiError;
use super::invariants;
use super::store::{Group, Store};

const SNAPSHOT_FILE: &str = "state.json";
const JOURNAL_FILE: &str = "journal.jsonl";
const SNAPSHOT_FORMAT: u32 = 1;
/// The journal is folded into a snapshot once it is larger than the snapshot and than this.
const COMPACT_FLOOR_BYTES: u64 = 1 << 20;

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: u32,
    epoch: &'a str,
    groups: &'a [Group],
}

#[derive(Deserialize)]
struct SnapshotIn {
    format: u32,
    /// Absent in snapshots written before the journal existed: no journal line applies.
    #[serde(default)]
    epoch: Option<String>,
    groups: Vec<Group>,
}

/// One line of the journal: a group as it now is, or the id of a group removed.
#[derive(Serialize)]
struct EntryOut<'a> {
    epoch: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    upsert: Option<&'a Group>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remove: Option<&'a str>,
}

#[derive(Deserialize)]
struct EntryIn {
    epoch: String,
    #[serde(default)]
    upsert: Option<Group>,
    #[serde(default)]
    remove: Option<String>,
}

/// The groups saved in `dir` (created when missing); none when nothing was saved yet. A
/// snapshot and journal whose groups break a rule of the store under `config` are refused,
/// naming the rule.
pub(crate) fn load(dir: &Path, config: &EmulatorConfig) -> anyhow::Result<Vec<Group>> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(SNAPSHOT_FILE);
    let snapshot = match fs::read(&path) {
        Ok(bytes) => {
            let snapshot: SnapshotIn = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a valid snapshot", path.display()))?;
            anyhow::ensure!(
                snapshot.format == SNAPSHOT_FORMAT,
                "{} has snapshot format {}, this emulator reads {SNAPSHOT_FORMAT}",
                path.display(),
                snapshot.format
            );
            snapshot
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => SnapshotIn {
            format: SNAPSHOT_FORMAT,
            epoch: None,
            groups: Vec::new(),
        },
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut groups = snapshot.groups;
    if let Some(epoch) = &snapshot.epoch {
        replay_journal(&dir.join(JOURNAL_FILE), epoch, &mut groups)?;
    }
    invariants::check(&groups, config).map_err(|problem| {
        anyhow::anyhow!(
            "{} cannot be loaded: {problem} (fix or remove the file, and {JOURNAL_FILE} beside it)",
            path.display()
        )
    })?;
    Ok(groups)
}

/// Applies the journal lines of `epoch` to `groups`, in order.
fn replay_journal(path: &Path, epoch: &str, groups: &mut Vec<Group>) -> anyhow::Result<()> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    // Only lines ended by a newline were written whole; what follows the last one was cut short.
    let complete = bytes
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |end| end + 1);
    for (number, line) in bytes[..complete].split(|byte| *byte == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry: EntryIn = serde_json::from_slice(line).map_err(|_| {
            anyhow::anyhow!(
                "{} line {} is damaged (fix or remove the file)",
                path.display(),
                number + 1
            )
        })?;
        if entry.epoch != epoch {
            continue;
        }
        match (entry.upsert, entry.remove) {
            (Some(group), None) => match groups.iter_mut().find(|g| g.id == group.id) {
                Some(existing) => *existing = group,
                None => groups.push(group),
            },
            (None, Some(id)) => groups.retain(|group| group.id != id),
            _ => anyhow::bail!(
                "{} line {} neither adds nor removes one group (fix or remove the file)",
                path.display(),
                number + 1
            ),
        }
    }
    Ok(())
}

/// The outcome of the newest write.
#[derive(Clone, Default)]
struct Saved {
    /// The store generation on disk.
    generation: u64,
    error: Option<String>,
}

struct Wanted {
    generation: u64,
    closed: bool,
}

struct Shared {
    dir: PathBuf,
    wanted: Mutex<Wanted>,
    wake: Condvar,
    saved: watch::Sender<Saved>,
}

/// Handle on the writer thread; dropping it lets the thread finish its last write and stop.
pub(crate) struct Persister {
    shared: Arc<Shared>,
}

impl Persister {
    /// Starts the writer for `store` in `dir`; from now on the store notes which groups each
    /// change touches.
    pub fn start(dir: &Path, store: Arc<Mutex<Store>>) -> anyhow::Result<Persister> {
        let generation = {
            let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
            store.record_touched();
            store.generation()
        };
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            wanted: Mutex::new(Wanted {
                generation,
                closed: false,
            }),
            wake: Condvar::new(),
            saved: watch::Sender::new(Saved {
                generation,
                error: None,
            }),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("emulator-persist".to_owned())
            .spawn(move || write_changes(&writer, &store))
            .context("cannot start the persistence writer")?;
        Ok(Persister { shared })
    }

    /// Returns once `generation` is on disk.
    pub async fn saved(&self, generation: u64) -> Result<(), ApiError> {
        let mut saved = self.shared.saved.subscribe();
        {
            let mut wanted = self
                .shared
                .wanted
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if generation > wanted.generation {
                wanted.generation = generation;
                self.shared.wake.notify_one();
            }
        }
        let outcome = saved
            .wait_for(|saved| saved.generation >= generation)
            .await
            .map_err(|_| ApiError::internal("the emulator's persistence writer stopped"))?
            .clone();
        match outcome.error {
            None => Ok(()),
            Some(error) => Err(ApiError::internal(format!(
                "the emulator could not save its state: {error}"
            ))),
        }
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        let mut wanted = self
            .shared
            .wanted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        wanted.closed = true;
        self.shared.wake.notify_one();
    }
}

/// What the writer does with one batch of changes.
enum Batch {
    Append(Vec<u8>),
    /// A whole snapshot and its epoch.
    Compact(Vec<u8>),
}

/// The writer's view of the files.
struct Files {
    snapshot: PathBuf,
    journal_path: PathBuf,
    journal: Option<File>,
    snapshot_bytes: u64,
    journal_bytes: u64,
    /// The epoch of the snapshot on disk, which new journal lines carry. `None` until this
    /// writer's first snapshot: the first write after a start folds what was loaded into one.
    epoch: Option<String>,
}

impl Files {
    fn must_compact(&self) -> bool {
        self.epoch.is_none() || self.journal_bytes > self.snapshot_bytes.max(COMPACT_FLOOR_BYTES)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let journal = match &mut self.journal {
            Some(journal) => journal,
            None => self.journal.insert(open_private(&self.journal_path, true)?),
        };
        journal.write_all(bytes)?;
        journal.sync_data()?;
        self.journal_bytes += bytes.len() as u64;
        Ok(())
    }

    fn compact(&mut self, epoch: String, bytes: &[u8]) -> io::Result<()> {
        write_atomically(&self.snapshot, bytes)?;
        self.snapshot_bytes = bytes.len() as u64;
        self.epoch = Some(epoch);
        // The new epoch already voids the old lines; emptying the file reclaims their space.
        let journal = match &mut self.journal {
            Some(journal) => journal,
            None => self.journal.insert(open_private(&self.journal_path, true)?),
        };
        journal.set_len(0)?;
        journal.sync_all()?;
        self.journal_bytes = 0;
        Ok(())
    }
}

/// The writer thread: waits for a generation newer than the last one written, then writes
/// everything changed by then (which may include later changes too).
fn write_changes(shared: &Shared, store: &Mutex<Store>) {
    let mut written = shared.saved.borrow().generation;
    let mut files = Files {
        snapshot: shared.dir.join(SNAPSHOT_FILE),
        journal_path: shared.dir.join(JOURNAL_FILE),
        journal: None,
        snapshot_bytes: 0,
        journal_bytes: 0,
        epoch: None,
    };
    loop {
        {
            let mut wanted = shared.wanted.lock().unwrap_or_else(PoisonError::into_inner);
            while wanted.generation <= written && !wanted.closed {
                wanted = shared
                    .wake
                    .wait(wanted)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if wanted.generation <= written {
                return;
            }
        }
        let (generation, write) = {
            let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
            let touched = store.take_touched();
            let write = if files.must_compact() {
                let epoch: String = std::iter::repeat_with(fastrand::alphanumeric)
                    .take(16)
                    .collect();
                serde_json::to_vec(&SnapshotOut {
                    format: SNAPSHOT_FORMAT,
                    epoch: &epoch,
                    groups: store.groups(),
                })
                .map(|bytes| (Some(epoch), Batch::Compact(bytes)))
            } else {
                journal_lines(files.epoch.as_deref().unwrap_or_default(), &store, &touched)
                    .map(|bytes| (None, Batch::Append(bytes)))
            };
            (store.generation(), write)
        };
        let result = write
            .map_err(io::Error::from)
            .and_then(|(epoch, write)| match write {
                Batch::Append(bytes) => files.append(&bytes),
                Batch::Compact(bytes) => files.compact(epoch.unwrap_or_default(), &bytes),
            });
        if result.is_err() {
            // The journal may end in a partial line and the changes are not in it: the next
            // write folds the whole store into a new snapshot instead.
            files.epoch = None;
        }
        // A failed write is reported to its waiters; the next change tries again.
        written = generation;
        shared.saved.send_replace(Saved {
            generation,
            error: result.err().map(|error| error.to_string()),
        });
    }
}

/// One journal line per touched group: the group as it is now, or its removal.
fn journal_lines(epoch: &str, store: &Store, touched: &[String]) -> serde_json::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    for id in touched {
        let group = store.groups().iter().find(|group| &group.id == id);
        let entry = EntryOut {
            epoch,
            upsert: group,
            remove: group.is_none().then_some(id.as_str()),
        };
        serde_json::to_writer(&mut bytes, &entry)?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// A file readable by the owner only (it holds secret values), for appending or for writing.
fn open_private(path: &Path, append: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    let mut file = open_private(&temporary, false)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{Caller, Change};
    use crate::emulator::wire::Manifest;

    const INTEGRATION: &str = "acme:aws:x:secret-store:ssm";

    /// The snapshots of these tests, loaded with a configuration that declares their tenant.
    fn load(dir: &Path) -> anyhow::Result<Vec<Group>> {
        let config = serde_json::json!({
            "tenants": [{"name": "acme"}],
            "integrations": [{"tenant": "acme", "fqn": INTEGRATION}],
            "api_keys": [{"token": "k", "tenant": "acme", "subject": "user:a@acme"}]
        });
        super::load(dir, &EmulatorConfig::from_json(&config.to_string())?)
    }

    fn group(name: &str) -> Group {
        let caller = Caller {
            tenant: "acme".into(),
            subject: "user:a@acme".into(),
            tenant_admin: true,
        };
        let manifest = Manifest {
            kind: "secret-group".into(),
            name: name.into(),
            integration_fqn: INTEGRATION.into(),
            collaborators: Vec::new(),
            owned_by: None,
        };
        Group::new(&caller, manifest, "t0")
    }

    /// Commits `change` and waits until it is saved.
    async fn save(
        store: &Mutex<Store>,
        persister: &Persister,
        change: impl FnOnce(&mut Change<'_>),
    ) {
        let generation = {
            let mut store = store.lock().unwrap();
            store
                .commit(|groups| {
                    change(groups);
                    Ok(((), true))
                })
                .unwrap();
            store.generation()
        };
        persister.saved(generation).await.unwrap();
    }

    async fn add(store: &Mutex<Store>, persister: &Persister, name: &str) {
        save(store, persister, |groups| groups.push(group(name))).await;
    }

    #[tokio::test]
    async fn saved_changes_are_on_disk_when_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::new(load(dir.path()).unwrap())));
        let persister = Persister::start(dir.path(), store.clone()).unwrap();
        add(&store, &persister, "one").await;
        assert_eq!(load(dir.path()).unwrap().len(), 1);
        add(&store, &persister, "two").await;
        let names: Vec<String> = load(dir.path())
            .unwrap()
            .iter()
            .map(|g| g.name().to_owned())
            .collect();
        assert_eq!(names, ["one", "two"]);
        assert!(!dir.path().join("state.json.tmp").exists());
        // The first write folded everything into a snapshot, the second went to the journal.
        let journal = fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(journal.lines().count(), 1, "{journal}");
        // Nothing newer to save: answered at once.
        let current = store.lock().unwrap().generation();
        persister.saved(current).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_changes_are_all_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::new(Vec::new())));
        let persister = Arc::new(Persister::start(dir.path(), store.clone()).unwrap());
        let writers: Vec<_> = (0..12)
            .map(|i| {
                let (store, persister) = (store.clone(), persister.clone());
                tokio::spawn(async move { add(&store, &persister, &format!("g{i}")).await })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(load(dir.path()).unwrap().len(), 12);
    }

    #[tokio::test]
    async fn a_failed_write_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::new(Vec::new())));
        let persister = Persister::start(&dir.path().join("gone"), store.clone()).unwrap();
        let generation = {
            let mut store = store.lock().unwrap();
            store
                .commit(|groups| {
                    groups.push(group("g"));
                    Ok(((), true))
                })
                .unwrap();
            store.generation()
        };
        let error = persister.saved(generation).await.unwrap_err();
        assert_eq!(error.status, 500);
        assert!(
            error.message.contains("could not save"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_crash_mid_write_leaves_the_previous_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(
            &dir.path().join(SNAPSHOT_FILE),
            &serde_json::to_vec(&SnapshotOut {
                format: SNAPSHOT_FORMAT,
                epoch: "e1",
                groups: &[group("kept")],
            })
            .unwrap(),
        )
        .unwrap();
        // What a crash between writing and renaming leaves behind.
        fs::write(dir.path().join("state.json.tmp"), b"{\"format\": 1, \"gro").unwrap();
        assert_eq!(load(dir.path()).unwrap()[0].name(), "kept");

        // A damaged snapshot stops the start instead of silently starting empty.
        fs::write(dir.path().join(SNAPSHOT_FILE), b"{\"format\": 1, \"gro").unwrap();
        let error = load(dir.path()).err().unwrap();
        assert!(
            format!("{error:#}").contains("not a valid snapshot"),
            "{error:#}"
        );
    }

    /// Renames group `name` `times` times, each a change of one group.
    async fn rename_repeatedly(store: &Mutex<Store>, persister: &Persister, times: usize) {
        for round in 0..times {
            save(store, persister, |groups| {
                groups.group_mut(0).updated_at = format!("t{round}");
            })
            .await;
        }
    }

    #[tokio::test]
    async fn the_journal_replays_over_the_snapshot_and_removals_stick() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::new(Vec::new())));
        let persister = Persister::start(dir.path(), store.clone()).unwrap();
        for name in ["a", "b", "c"] {
            add(&store, &persister, name).await;
        }
        rename_repeatedly(&store, &persister, 5).await;
        save(&store, &persister, |groups| groups.remove(1)).await;
        drop(persister);

        let loaded = load(dir.path()).unwrap();
        let names: Vec<(&str, &str)> = loaded
            .iter()
            .map(|g| (g.name(), g.updated_at.as_str()))
            .collect();
        assert_eq!(names, [("a", "t4"), ("c", "t0")]);
        let journal = fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(
            journal.lines().count(),
            8,
            "two adds, five renames, one removal"
        );
        assert!(journal.lines().last().unwrap().contains("\"remove\""));
    }

    /// A data directory where `names` were added one by one (the first in the snapshot, the
    /// others in the journal), its writer stopped.
    async fn saved_groups(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::new(Vec::new())));
        let persister = Persister::start(dir.path(), store.clone()).unwrap();
        for name in names {
            add(&store, &persister, name).await;
        }
        dir
    }

    #[tokio::test]
    async fn a_cut_short_last_line_is_dropped_and_a_damaged_one_refused() {
        let dir = saved_groups(&["a", "b"]).await;
        let journal = dir.path().join(JOURNAL_FILE);
        let whole = fs::read(&journal).unwrap();

        // A crash in the middle of appending a line: the change was never acknowledged.
        let mut torn = whole.clone();
        torn.extend_from_slice(b"{\"epoch\": \"x\", \"ups");
        fs::write(&journal, &torn).unwrap();
        assert_eq!(load(dir.path()).unwrap().len(), 2);

        // Damage before the last line is not a crash: the start stops and says where.
        let mut damaged = b"{not json}\n".to_vec();
        damaged.extend_from_slice(&whole);
        fs::write(&journal, &damaged).unwrap();
        let error = format!("{:#}", load(dir.path()).err().unwrap());
        assert!(error.contains("journal.jsonl line 1 is damaged"), "{error}");
    }

    #[tokio::test]
    async fn lines_of_an_older_snapshot_are_skipped() {
        let dir = saved_groups(&["a", "b"]).await;
        // What a crash between a new snapshot's rename and the emptying of the journal leaves:
        // lines of the previous epoch, already in the snapshot.
        let journal = dir.path().join(JOURNAL_FILE);
        let stale = fs::read_to_string(&journal).unwrap();
        let epoch = serde_json::from_str::<serde_json::Value>(stale.lines().next().unwrap())
            .unwrap()["epoch"]
            .as_str()
            .unwrap()
            .to_owned();
        fs::write(&journal, stale.replace(&epoch, "an-older-epoch")).unwrap();
        let names: Vec<String> = load(dir.path())
            .unwrap()
            .iter()
            .map(|g| g.name().to_owned())
            .collect();
        assert_eq!(names, ["a"], "the journal's line was skipped");
    }

    #[tokio::test]
    async fn many_writes_to_one_group_keep_the_files_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Mutex::new(Store::new(Vec::new())));
        let persister = Persister::start(dir.path(), store.clone()).unwrap();
        add(&store, &persister, "a").await;
        rename_repeatedly(&store, &persister, 1000).await;
        let size = |file: &str| fs::metadata(dir.path().join(file)).unwrap().len();
        let (snapshot, journal) = (size(SNAPSHOT_FILE), size(JOURNAL_FILE));
        assert!(
            journal <= snapshot.max(COMPACT_FLOOR_BYTES) + snapshot,
            "journal {journal} bytes, snapshot {snapshot}"
        );
        drop(persister);
        assert_eq!(load(dir.path()).unwrap()[0].updated_at, "t999");
    }
}
