//! `start ID`: tells the waiting init to run the program, then runs the poststart hooks.
//!
//! The init's start socket is the only way in; the init closes it by exec'ing, so EOF means
//! the program runs and a line of text is the init's error.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

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
    if !reply.trim().is_empty() {
        return Err(StartError::Init(reply.trim().to_string()));
    }
    record.started = true;
    store.save(&record)?;
    if !record.poststart.is_empty() {
        let st = record.oci_state(Status::Running);
        if let Err(e) = hooks::run_all("poststart", &record.poststart, &st) {
            // A failing poststart hook is a warning: the program already runs.
            eprintln!("oci-reference-runtime: warning: {e}");
        }
    }
    Ok(())
}
