//! Errors of the scanner: only failures to read the user's files. Everything wrong with the
//! bytes of a blob is a finding ([`crate::layer::LayerFact`]), never an error.

use oci_certify_core::fault::{Blame, Fault};
use std::io;
use std::path::PathBuf;

/// Why a blob could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The blob file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The blob path is not a regular file (a symlink, directory, FIFO, device or socket).
    /// In a layout this is a finding about the input: blobs are regular files, and a
    /// symlinked blob could point anywhere on the host.
    #[error("{} is a {kind}, not a regular file; blobs are scanned only as regular files", path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead: `symbolic link`, `directory`, `FIFO`, ...
        kind: &'static str,
    },
    /// Reading the blob failed part-way; its digest cannot be computed.
    #[error("reading the blob failed after {offset} bytes: {source}")]
    Read {
        /// Bytes read successfully before the failure.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// The scanner could not set itself up (e.g. a decompressor context could not be made).
    #[error("scanner failure: {0}")]
    Harness(String),
}

impl Blame for ScanError {
    fn fault(&self) -> Fault {
        match self {
            ScanError::Open { source, .. } | ScanError::Read { source, .. } => {
                match source.kind() {
                    io::ErrorKind::OutOfMemory => Fault::Environment,
                    _ => Fault::Input,
                }
            }
            ScanError::NotRegularFile { .. } => Fault::Input,
            ScanError::Harness(_) => Fault::Harness,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blame() {
        let open = ScanError::Open {
            path: "x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(open.fault(), Fault::Input);
        let oom = ScanError::Read {
            offset: 3,
            source: io::Error::from(io::ErrorKind::OutOfMemory),
        };
        assert_eq!(oom.fault(), Fault::Environment);
        let link = ScanError::NotRegularFile {
            path: "x".into(),
            kind: "symbolic link",
        };
        assert_eq!(link.fault(), Fault::Input);
        assert!(link.to_string().contains("symbolic link"));
        assert_eq!(ScanError::Harness("x".into()).fault(), Fault::Harness);
    }
}
