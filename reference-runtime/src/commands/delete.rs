//! `delete [--force] ID`: destroys a stopped container (with `--force`, stops it first):
//! every process in its cgroups killed, the cgroups and the state removed, then the poststop
//! hooks run.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::cgroups::{CgroupError, Cgroups};
use crate::hooks;
use crate::state::{Record, StateError, Status, Store};

/// What went wrong deleting a container.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// Unknown id, or the state root.
    #[error(transparent)]
    State(#[from] StateError),
    /// Not stopped and no --force (input).
    #[error("container {id:?} is {status:?}: stop it first or use --force")]
    NotStopped {
        /// The id.
        id: String,
        /// Its status.
        status: Status,
    },
    /// The process did not die (environment).
    #[error("container {0:?}: its process did not exit after SIGKILL")]
    Stuck(String),
    /// Cgroups could not be removed (environment).
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
}

/// Runs `delete`.
pub fn run(store: &Store, id: &str, force: bool) -> Result<(), DeleteError> {
    let record = store.load(id)?;
    let status = record.status();
    if status != Status::Stopped && !force {
        return Err(DeleteError::NotStopped {
            id: id.to_string(),
            status,
        });
    }
    destroy(store, &record)
}

/// Stops the container if needed, removes everything it had, runs the poststop hooks
/// (runtime.md lifecycle steps 12 and 13; a failing poststop hook is a warning).
pub fn destroy(store: &Store, record: &Record) -> Result<(), DeleteError> {
    let id = record.id.as_str();
    if record.alive() {
        let pidfd = crate::hooks::pidfd_open(record.pid);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(record.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        wait_stopped(record, pidfd.as_ref()).map_err(|()| DeleteError::Stuck(id.to_string()))?;
    }
    Cgroups::remove_dirs(&record.cgroups)?;
    store.remove(id)?;
    hooks::run_all_warn(
        "poststop",
        &record.poststop,
        &record.oci_state(Status::Stopped),
    );
    Ok(())
}

/// Waits (on the pidfd when there is one, else by bounded polling) until the process is gone.
fn wait_stopped(
    record: &crate::state::Record,
    pidfd: Option<&std::os::fd::OwnedFd>,
) -> Result<(), ()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut backoff = Duration::from_millis(1);
    while record.alive() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(());
        }
        match pidfd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let ms = left.as_millis().min(1000) as u16;
                let _ = poll(&mut fds, PollTimeout::from(ms));
            }
            None => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(50));
            }
        }
    }
    Ok(())
}
