//! Errors of the runtime driver: the CLI adapter ([`crate::cli`]), the lifecycle driver
//! ([`crate::driver`]) and host detection ([`crate::host`]).
//!
//! A runtime operation that *runs* and fails (non-zero exit, timeout) is not an error here: it
//! is an [`crate::cli::Invocation`] that checks judge. An error means the operation could not be
//! attempted at all, or the harness could not set it up or clean it up.

use oci_certify_core::fault::{Blame, Fault};
use std::io;
use std::path::PathBuf;

/// Why the driver could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The runtime binary named by the user does not exist (or is not on `PATH`).
    #[error("runtime binary {} does not exist (nor is it a command on PATH)", path.display())]
    RuntimeNotFound {
        /// What the user named.
        path: PathBuf,
    },
    /// The runtime binary exists but is not an executable file.
    #[error("runtime binary {} is not an executable file", path.display())]
    RuntimeNotExecutable {
        /// The resolved path.
        path: PathBuf,
    },
    /// The runtime could not be started (exec failed).
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A system call the harness needs failed (pipe, poll, pidfd, signal handler ...).
    #[error("cannot {action}: {source}")]
    Os {
        /// What the harness was doing.
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file or directory of the session could not be made, written or read.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What the harness was doing.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The rootfs preparation callback failed (for example, installing the probe).
    #[error("cannot prepare the rootfs of container {name}: {source}")]
    PrepareRootfs {
        /// The container's name in the session.
        name: String,
        /// The callback's error.
        #[source]
        source: io::Error,
    },
    /// A container name that cannot become a bundle directory and container id.
    #[error("invalid container name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A container name used twice in one session.
    #[error("container name {0:?} is used twice in one session")]
    DuplicateName(String),
    /// The config.json value could not be serialised.
    #[error("cannot serialise config.json: {0}")]
    Config(#[source] serde_json::Error),
    /// The operation needs something an earlier step did not provide (e.g. reading the output
    /// of a container created without captured stdio).
    #[error("{0}")]
    Misuse(&'static str),
    /// The run was interrupted (Ctrl-C / SIGTERM): no new containers are started.
    #[error("the run was interrupted by signal {signal}; no new containers are started")]
    Interrupted {
        /// The signal number.
        signal: i32,
    },
}

impl DriverError {
    pub(crate) fn os(action: &'static str, source: impl Into<io::Error>) -> DriverError {
        DriverError::Os {
            action,
            source: source.into(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<io::Error>,
    ) -> DriverError {
        DriverError::Io {
            action,
            path: path.into(),
            source: source.into(),
        }
    }
}

impl Blame for DriverError {
    fn fault(&self) -> Fault {
        match self {
            DriverError::RuntimeNotFound { .. } | DriverError::RuntimeNotExecutable { .. } => {
                Fault::Input
            }
            DriverError::Spawn { source, .. } => match source.kind() {
                // The binary vanished, is not executable, or is not a valid executable: the
                // user's runtime is unusable.
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => Fault::Input,
                _ if source.raw_os_error() == Some(8) => Fault::Input, // ENOEXEC
                _ => Fault::Environment,
            },
            DriverError::Os { .. }
            | DriverError::Io { .. }
            | DriverError::PrepareRootfs { .. }
            | DriverError::Interrupted { .. } => Fault::Environment,
            DriverError::InvalidName { .. }
            | DriverError::DuplicateName(_)
            | DriverError::Config(_)
            | DriverError::Misuse(_) => Fault::Harness,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blame_matches_the_party_at_fault() {
        assert_eq!(
            DriverError::RuntimeNotFound {
                path: "/nope".into()
            }
            .fault(),
            Fault::Input
        );
        assert_eq!(
            DriverError::Spawn {
                program: "/x".into(),
                source: io::Error::from(io::ErrorKind::PermissionDenied)
            }
            .fault(),
            Fault::Input
        );
        assert_eq!(
            DriverError::Spawn {
                program: "/x".into(),
                source: io::Error::from_raw_os_error(8)
            }
            .fault(),
            Fault::Input
        );
        assert_eq!(
            DriverError::Spawn {
                program: "/x".into(),
                source: io::Error::from_raw_os_error(11)
            }
            .fault(),
            Fault::Environment
        );
        assert_eq!(
            DriverError::os("create a pipe", io::Error::from_raw_os_error(24)).fault(),
            Fault::Environment
        );
        assert_eq!(
            DriverError::io("create", "/tmp/x", io::Error::from_raw_os_error(28)).fault(),
            Fault::Environment
        );
        assert_eq!(
            DriverError::DuplicateName("a".into()).fault(),
            Fault::Harness
        );
        assert_eq!(
            DriverError::Interrupted { signal: 2 }.fault(),
            Fault::Environment
        );
    }
}
