//! `oci-reference-runtime`: a small, readable Linux runtime for runtime-spec v1.3.0, written
//! with `nix` and `oci-spec`. `oci-certify runtime` with no argument certifies it; it is the
//! proof that every check of the runtime suite is passable. It shares no code with the suite
//! (it depends on no workspace crate) and the suite drives it only by executing it.
//!
//! # Packaging
//!
//! A library plus a binary. The `oci-certify` executable links this library and calls
//! [`main_from_args`] first thing when its `argv[0]` file name is `oci-reference-runtime`,
//! so one installed tool carries the runtime: `oci-certify runtime` makes a private temp
//! directory with a symlink of that name to itself and certifies the symlink like any other
//! runtime binary.
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | [`cli`] | the runc-compatible command line (`--root`, the verbs) |
//! | [`commands`] | one file per verb: `create`, `start`, `state`, `kill`, `delete`, `features` |
//! | [`state`] | `ROOT/ID/state.json`, ids, status derived from the process |
//! | [`spec`] | reading `config.json` and refusing what this runtime cannot honour |
//! | [`channel`] | the typed message channel between `create` and the container's init |
//! | [`init`] | the container side: bootstrap (namespaces) and init (rootfs, process, exec) |
//! | [`namespaces`], [`rootfs`], [`cgroups`], [`capabilities`], [`seccomp`], [`sched`], [`console`], [`hooks`] | one concern each, with its own error type |
//! | [`sys`] | the syscall seam: mount, pivot_root, mknod... behind a trait with a recording fake |
//!
//! # Lifecycle
//!
//! | step | process | what |
//! |---|---|---|
//! | `create` | runtime | claim `ROOT/ID`, bind the start socket, create cgroups, fork the bootstrap |
//! | | bootstrap | join the cgroups, join/create namespaces (user first, then maps), fork the init |
//! | | init | rootfs mounts, devices, /dev links |
//! | | runtime | `prestart`, `createRuntime` hooks (host namespaces, status `creating`) |
//! | | init | `createContainer` hooks, pivot_root, sysctl, hostname, terminal, masked and read-only paths, read-only root, rlimits; `Created` |
//! | | runtime | write the state and the pid file, exit; the init blocks on the start socket |
//! | `start` | runtime → init | connect; the init runs `startContainer` hooks, user, capabilities, no_new_privs, seccomp, exec; EOF = success |
//! | | runtime | mark started, `poststart` hooks |
//! | `delete` | runtime | (--force: SIGKILL and wait) kill what is left in the cgroups, remove them and the state, `poststop` hooks |
//!
//! Status is never stored: `created` / `running` / `stopped` is derived from whether the
//! recorded process (pid and start time) is alive and whether `start` ran.

pub mod capabilities;
pub mod cgroups;
pub mod channel;
pub mod cli;
pub mod commands;
pub mod console;
pub mod hooks;
pub mod init;
pub mod namespaces;
pub mod rootfs;
pub mod sched;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sys;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

use crate::cli::{Cli, Verb};
use crate::state::Store;

/// The executable name under which `oci-certify` dispatches to [`main_from_args`].
pub const BINARY_NAME: &str = "oci-reference-runtime";

/// Runs the runtime with `args` (argv, the program name first) and returns the exit code:
/// 0 on success, 1 when the operation failed, 2 for a command-line error.
pub fn main_from_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let store = Store::new(&cli.root);
    let result: Result<Option<String>, String> = match &cli.command {
        Verb::Create {
            bundle,
            pid_file,
            console_socket,
            id,
        } => commands::create::run(
            &store,
            &commands::create::Args {
                id: id.clone(),
                bundle: bundle.clone(),
                pid_file: pid_file.clone(),
                console_socket: console_socket.clone(),
            },
        )
        .map(|()| None)
        .map_err(|e| e.to_string()),
        Verb::Start { id } => commands::start::run(&store, id)
            .map(|()| None)
            .map_err(|e| e.to_string()),
        Verb::State { id } => commands::state::run(&store, id)
            .map(Some)
            .map_err(|e| e.to_string()),
        Verb::Kill { id, signal } => commands::kill::run(&store, id, signal.as_deref())
            .map(|()| None)
            .map_err(|e| e.to_string()),
        Verb::Delete { force, id } => commands::delete::run(&store, id, *force)
            .map(|()| None)
            .map_err(|e| e.to_string()),
        Verb::Features => Ok(Some(commands::features::run())),
    };
    match result {
        Ok(out) => {
            if let Some(text) = out {
                let mut so = std::io::stdout().lock();
                let _ = writeln!(so, "{text}");
            }
            0
        }
        Err(msg) => {
            eprintln!("{BINARY_NAME}: error: {msg}");
            if let Some(log) = &cli.log {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                {
                    let _ = writeln!(f, "error: {msg}");
                }
            }
            1
        }
    }
}
