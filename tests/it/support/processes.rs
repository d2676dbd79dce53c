//! The processes of a test, found through procfs: Terraform's children, the provider processes
//! it started and the socket directories they hold, and signals to end them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The command name and the fields after it in `/proc/<pid>/stat` (state first, then ppid).
fn proc_stat(pid: u32) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ..."; comm may hold spaces, so split at the last ')'.
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    Some((
        comm.to_owned(),
        tail.split_whitespace().map(str::to_owned).collect(),
    ))
}

/// Child processes of `parent` whose command name starts with `prefix`, read from /proc.
pub fn children_named(parent: u32, prefix: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            proc_stat(*pid).is_some_and(|(comm, fields)| {
                let ppid = fields.get(1).and_then(|p| p.parse().ok());
                ppid == Some(parent) && comm.starts_with(prefix)
            })
        })
        .collect()
}

/// True while `pid` runs; a process that ended but was not reaped yet (a zombie) does not.
pub fn running(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(_, fields)| {
        fields
            .first()
            .is_some_and(|state| !matches!(state.as_str(), "Z" | "X"))
    })
}

/// Every process below `root`, children first-level before their own children.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for child in children_named(parent, "") {
            found.push(child);
            frontier.push(child);
        }
    }
    found
}

/// The provider processes below Terraform `terraform_pid` (Terraform re-runs itself as a child
/// to catch panics, so the provider is a grandchild). The kernel keeps 15 name bytes.
pub fn provider_processes(terraform_pid: u32) -> Vec<u32> {
    descendants(terraform_pid)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.starts_with("terraform-provi"))
        })
        .collect()
}

/// SIGKILL one process by id.
pub fn sigkill(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL {pid} failed");
}

/// SIGKILLs a provider process and removes the socket directories it can no longer remove
/// itself; returns how many there were.
pub fn sigkill_provider(pid: u32) -> usize {
    let dirs = socket_dirs_of(pid);
    sigkill(pid);
    let left: Vec<&PathBuf> = dirs.iter().filter(|dir| dir.exists()).collect();
    for dir in &left {
        std::fs::remove_dir_all(dir).expect("remove a killed provider's socket directory");
    }
    left.len()
}

/// The provider's socket directories of the Unix sockets process `pid` holds, found through
/// procfs while it lives. Matching directory names by process id instead would also find one
/// that an earlier, killed process with the same id left in the shared temporary folder.
pub fn socket_dirs_of(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: BTreeSet<String> = fds
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let inode = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?;
            Some(inode.to_owned())
        })
        .collect();
    // Columns of /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path.
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let dirs: BTreeSet<PathBuf> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (inode, path) = (fields.get(6)?, fields.get(7)?);
            inodes
                .contains(*inode)
                .then(|| Path::new(path).parent().map(Path::to_path_buf))?
        })
        .filter(|dir| {
            dir.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("tf-truefoundry-"))
        })
        .collect();
    dirs.into_iter().collect()
}
