//! `start ID`: tells the waiting init to run the program, then runs the poststart hooks.
//!
//! The init's start socket is the only way in; the init closes it by exec'ing, so EOF means
//! the program runs and a line of text is the init's error.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use crate::commands::delete;
use crate::hooks;
use crate::state::{self, StateError, Status, Store};

/// What went wrong starting a container.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Unknown id, or the state root.
    #[error(transparent)]
    State(#[from] StateError),
    /// Not in the created state (input).
    #[error("container {id:?} is {status:?}, not created: it cannot be started")]
    NotCreated {
        /// The id.
        id: String,
        /// Its status.
        status: Status,
    },
    /// The init could not be reached (environment).
    #[error("cannot reach the container's init: {0}")]
    Connect(std::io::Error),
    /// A poststart hook failed; the container was destroyed.
    #[error("{0}; the container was destroyed")]
    Hook(hooks::HookError),
    /// The init failed before or at exec (the text is its error).
    #[error("the container could not run its program: {0}")]
    Init(String),
}

/// Runs `start`.
pub fn run(store: &Store, id: &str) -> Result<(), StartError> {
    let mut record = store.load(id)?;
    let status = record.status();
    if status != Status::Created {
        return Err(StartError::NotCreated {
            id: id.to_string(),
            status,
        });
    }
    let mut conn = UnixStream::connect(store.dir(id).join(state::START_SOCKET))
        .map_err(StartError::Connect)?;
    conn.write_all(b"start").map_err(StartError::Connect)?;
    let mut reply = String::new();
    let _ = conn.read_to_string(&mut reply);
    let reply = reply.trim();
    if !reply.is_empty() {
        if reply.starts_with("startContainer hooks") {
            // Lifecycle step 7: stop the container and go on at step 12 (destroy).
            let _ = delete::destroy(store, &record);
        }
        return Err(StartError::Init(reply.to_string()));
    }
    record.started = true;
    store.save(&record)?;
    let st = record.oci_state(Status::Running);
    if let Err(e) = hooks::run_all("poststart", &record.poststart, &st) {
        // Lifecycle step 9: an error, the container stopped and destroyed.
        let _ = delete::destroy(store, &record);
        return Err(StartError::Hook(e));
    }
    Ok(())
}
