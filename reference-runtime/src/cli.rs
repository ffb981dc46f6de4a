//! The runc-compatible command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Where container state lives when `--root` is not given.
pub const DEFAULT_ROOT: &str = "/run/oci-reference-runtime";

/// oci-reference-runtime: a small OCI runtime (runtime-spec 1.3.0, Linux).
#[derive(Debug, Parser)]
#[command(name = "oci-reference-runtime", version, about)]
pub struct Cli {
    /// Directory for container state.
    #[arg(long, default_value = DEFAULT_ROOT, global = true)]
    pub root: PathBuf,
    /// Also append errors to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format (accepted for runc compatibility; only text is written).
    #[arg(long, global = true)]
    pub log_format: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long, global = true)]
    pub debug: bool,
    /// The verb.
    #[command(subcommand)]
    pub command: Verb,
}

/// The lifecycle verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create a container from a bundle; its program waits for `start`.
    Create {
        /// Bundle directory (holds config.json).
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
        /// Write the container's pid here.
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Unix socket that receives the terminal's master fd.
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// Container id.
        id: String,
    },
    /// Run the program of a created container.
    Start {
        /// Container id.
        id: String,
    },
    /// Print a container's state JSON.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal (default TERM) to a container's process.
    Kill {
        /// Container id.
        id: String,
        /// Signal name or number.
        signal: Option<String>,
    },
    /// Delete a stopped container (--force: stop it first).
    Delete {
        /// Kill the container if it is not stopped.
        #[arg(long, short = 'f')]
        force: bool,
        /// Container id.
        id: String,
    },
    /// Print what this runtime implements (JSON).
    Features,
}
