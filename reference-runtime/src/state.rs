//! The container's record under `--root`: `ROOT/ID/state.json`, written by `create` and read
//! by every other verb, so a container outlives the process that created it.
//!
//! The status is never stored: it is derived each time from the recorded process (alive, and
//! the same process, judged by its start time) and whether `start` has run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The runtime-spec version this runtime implements and reports.
pub const OCI_VERSION: &str = "1.3.0";
/// The record's file name inside the container's directory.
const STATE_FILE: &str = "state.json";
/// The socket `start` connects to (the init waits on it).
pub const START_SOCKET: &str = "start.sock";

/// What went wrong with a container's record.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The id does not have the allowed shape (input).
    #[error("invalid container id {0:?}: use 1 to 1024 of [A-Za-z0-9_.-], not '.' or '..'")]
    InvalidId(String),
    /// No container has this id (input).
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// The id is taken (input).
    #[error("container {0:?} already exists")]
    Exists(String),
    /// The state root could not be used (environment).
    #[error("state root {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The record is not readable JSON (environment: someone edited it).
    #[error("state of {id:?} is corrupt: {source}")]
    Corrupt {
        /// The id.
        id: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// A container's status (runtime.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created (only ever seen by hooks).
    Creating,
    /// Created, the user program not started.
    Created,
    /// The user program runs.
    Running,
    /// The container process exited.
    Stopped,
}

/// What this runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Container id.
    pub id: String,
    /// Host pid of the container process.
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), to tell it from a recycled pid.
    pub start_time: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// `annotations` of the config.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `start` ran the user program.
    #[serde(default)]
    pub started: bool,
    /// The container's cgroup directories (one per hierarchy), removed by `delete`.
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    /// The poststart hooks, kept so `start` does not re-read a bundle that may have changed.
    #[serde(default)]
    pub poststart: Vec<oci_spec::runtime::Hook>,
    /// The poststop hooks, kept so `delete` needs no bundle.
    #[serde(default)]
    pub poststop: Vec<oci_spec::runtime::Hook>,
    /// RFC 3339-ish creation time (seconds since the epoch).
    pub created: u64,
}

/// The state JSON printed by `state` and fed to hooks (runtime.md "State").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// The runtime-spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Status.
    pub status: Status,
    /// Pid, while there is a process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Annotations, when any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

/// Checks an id: a file name we can use as a directory, nothing that walks the tree.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

/// The state root (`--root`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The container's directory.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Claims `id`: creates its directory, failing if it exists.
    pub fn claim(&self, id: &str) -> Result<PathBuf, StateError> {
        validate_id(id)?;
        std::fs::create_dir_all(&self.root).map_err(|source| StateError::Io {
            path: self.root.clone(),
            source,
        })?;
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StateError::Exists(id.to_string()))
            }
            Err(source) => Err(StateError::Io { path: dir, source }),
        }
    }

    /// Writes the record atomically (temp file + rename).
    pub fn save(&self, record: &Record) -> Result<(), StateError> {
        let dir = self.dir(&record.id);
        let tmp = dir.join(".state.json.tmp");
        let io = |source| StateError::Io {
            path: tmp.clone(),
            source,
        };
        let bytes = serde_json::to_vec(record).map_err(|e| io(std::io::Error::other(e)))?;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(io)
    }

    /// Reads the record of `id`.
    pub fn load(&self, id: &str) -> Result<Record, StateError> {
        validate_id(id)?;
        let path = self.dir(id).join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(source) => return Err(StateError::Io { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
            id: id.to_string(),
            source,
        })
    }

    /// Removes the container's directory and everything in it.
    pub fn remove(&self, id: &str) -> Result<(), StateError> {
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StateError::Io {
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// Field 22 (start time) and field 3 (state letter) of /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

impl Record {
    /// Whether the recorded process still exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((start, st)) if start == self.start_time && st != 'Z' && st != 'X')
    }

    /// The derived status.
    pub fn status(&self) -> Status {
        match (self.alive(), self.started) {
            (false, _) => Status::Stopped,
            (true, false) => Status::Created,
            (true, true) => Status::Running,
        }
    }

    /// The OCI state document for `status`.
    pub fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            status,
            pid: (status != Status::Stopped).then_some(self.pid),
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
        }
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes `text` to `path` atomically (pid files).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "c-1", "A_b.c"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_round_trip_and_uniqueness() {
        let dir = std::env::temp_dir().join(format!("refrt-store-{}", std::process::id()));
        let store = Store::new(&dir);
        store.claim("c1").unwrap();
        assert!(matches!(store.claim("c1"), Err(StateError::Exists(_))));
        let rec = Record {
            id: "c1".into(),
            pid: i32::MAX,
            start_time: 1,
            bundle: "/b".into(),
            annotations: BTreeMap::new(),
            started: false,
            cgroups: vec![],
            poststart: vec![],
            poststop: vec![],
            created: 0,
        };
        store.save(&rec).unwrap();
        let back = store.load("c1").unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.status(), Status::Stopped);
        let st = serde_json::to_value(back.oci_state(Status::Stopped)).unwrap();
        assert_eq!(st["status"], "stopped");
        assert!(st.get("pid").is_none());
        store.remove("c1").unwrap();
        assert!(matches!(store.load("c1"), Err(StateError::NotFound(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id() as i32;
        let (start, _) = proc_stat(pid).unwrap();
        let rec = Record {
            id: "x".into(),
            pid,
            start_time: start,
            bundle: "/".into(),
            annotations: BTreeMap::new(),
            started: true,
            cgroups: vec![],
            poststart: vec![],
            poststop: vec![],
            created: 0,
        };
        assert_eq!(rec.status(), Status::Running);
        let recycled = Record {
            start_time: start + 1,
            ..rec
        };
        assert_eq!(recycled.status(), Status::Stopped);
    }
}
