//! Ending with Terraform. A provider whose Terraform was killed (SIGKILL, the OOM killer) would
//! otherwise run on, orphaned and listening. On Linux we ask the kernel to send us SIGTERM when
//! our parent dies; `plugin` handles SIGTERM like the Shutdown RPC, so the socket directory is
//! removed on the way out (SIGKILL, which cannot be caught, would leave it behind).
//!
//! A parent that died before we recorded it cannot be told apart from a legitimate parent
//! (Terraform may well be pid 1 in a container), but then nobody holds the read end of our
//! stdout either, and printing the handshake line fails, which ends the process.

/// The process that started us, as recorded first thing in `main`.
#[derive(Clone, Copy, Debug)]
pub struct Parent {
    pid: u32,
}

impl Parent {
    pub fn record() -> Self {
        Parent { pid: parent_id() }
    }

    /// Asks the kernel to end us with SIGTERM when the parent dies (Linux only). Returns false
    /// when the parent is already gone: it died between `record` and this call, and we were
    /// handed to another process.
    ///
    /// The kernel acts when the *thread* that started us ends; Go (Terraform) does not end its
    /// threads while running, so in practice that is Terraform's exit.
    pub fn end_with_it(self) -> std::io::Result<bool> {
        #[cfg(target_os = "linux")]
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))?;
        Ok(self.is_still_ours())
    }

    fn is_still_ours(self) -> bool {
        parent_id() == self.pid
    }
}

#[cfg(unix)]
fn parent_id() -> u32 {
    std::os::unix::process::parent_id()
}

#[cfg(not(unix))]
fn parent_id() -> u32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_recorded_parent_is_ours_until_we_are_handed_to_another() {
        let parent = Parent::record();
        assert!(parent.is_still_ours());
        let another = Parent {
            pid: parent.pid.wrapping_add(1),
        };
        assert!(!another.is_still_ours());
    }
}
