//! Durability with a data directory.
//!
//! The whole store is one JSON snapshot, written to a temporary file, fsynced and renamed over
//! the previous one (then the directory is fsynced so the rename itself survives a crash). A
//! reader therefore sees the old or the new state, never half of one, even after a crash in the
//! middle of a write. Chosen over SQLite because it needs no new dependency (a bundled SQLite is
//! a long C build on the project's small machines) and an emulator's data is small.
//!
//! A change is answered only once a snapshot containing it is on disk. The snapshots are written
//! by one thread that always writes the newest state, so changes arriving while it fsyncs share
//! the next write (group commit): with ~50 ms per fsync, ten parallel Terraform writers would
//! otherwise queue behind each other.

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
const SNAPSHOT_FORMAT: u32 = 1;

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: u32,
    groups: &'a [Group],
}

#[derive(Deserialize)]
struct SnapshotIn {
    format: u32,
    groups: Vec<Group>,
}

/// The groups saved in `dir` (created when missing); none when nothing was saved yet. A
/// snapshot whose groups break a rule of the store under `config` is refused, naming the rule.
pub(crate) fn load(dir: &Path, config: &EmulatorConfig) -> anyhow::Result<Vec<Group>> {
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let snapshot: SnapshotIn = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid snapshot", path.display()))?;
    anyhow::ensure!(
        snapshot.format == SNAPSHOT_FORMAT,
        "{} has snapshot format {}, this emulator reads {SNAPSHOT_FORMAT}",
        path.display(),
        snapshot.format
    );
    invariants::check(&snapshot.groups, config).map_err(|problem| {
        anyhow::anyhow!(
            "{} cannot be loaded: {problem} (fix or remove the file)",
            path.display()
        )
    })?;
    Ok(snapshot.groups)
}

/// The outcome of the newest snapshot write.
#[derive(Clone, Default)]
struct Saved {
    /// The store generation the snapshot holds.
    generation: u64,
    error: Option<String>,
}

struct Wanted {
    generation: u64,
    closed: bool,
}

struct Shared {
    path: PathBuf,
    wanted: Mutex<Wanted>,
    wake: Condvar,
    saved: watch::Sender<Saved>,
}

/// Handle on the writer thread; dropping it lets the thread finish its last write and stop.
pub(crate) struct Persister {
    shared: Arc<Shared>,
}

impl Persister {
    /// Starts the writer for snapshots of `store` in `dir`.
    pub fn start(dir: &Path, store: Arc<Mutex<Store>>) -> anyhow::Result<Persister> {
        let generation = store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation();
        let shared = Arc::new(Shared {
            path: dir.join(SNAPSHOT_FILE),
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
            .name("emulator-snapshot".to_owned())
            .spawn(move || write_snapshots(&writer, &store))
            .context("cannot start the snapshot writer")?;
        Ok(Persister { shared })
    }

    /// Returns once a snapshot holding `generation` is on disk.
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
            .map_err(|_| ApiError::internal("the emulator's snapshot writer stopped"))?
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

/// The writer thread: waits for a generation newer than the last one written, then writes the
/// store as it is by then (which may include later changes too).
fn write_snapshots(shared: &Shared, store: &Mutex<Store>) {
    let mut written = shared.saved.borrow().generation;
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
        let (generation, bytes) = {
            let store = store.lock().unwrap_or_else(PoisonError::into_inner);
            let bytes = serde_json::to_vec(&SnapshotOut {
                format: SNAPSHOT_FORMAT,
                groups: store.groups(),
            });
            (store.generation(), bytes)
        };
        let result = bytes
            .map_err(io::Error::from)
            .and_then(|bytes| write_atomically(&shared.path, &bytes));
        // A failed write is reported to its waiters; the next change tries again.
        written = generation;
        shared.saved.send_replace(Saved {
            generation,
            error: result.err().map(|error| error.to_string()),
        });
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // The snapshot holds secret values: readable by the owner only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
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
    use crate::emulator::store::Caller;
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

    async fn add(store: &Mutex<Store>, persister: &Persister, name: &str) {
        let generation = {
            let mut store = store.lock().unwrap();
            store
                .commit(|groups| {
                    groups.push(group(name));
                    Ok(((), true))
                })
                .unwrap();
            store.generation()
        };
        persister.saved(generation).await.unwrap();
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
}
