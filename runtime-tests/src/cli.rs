//! The runc-style CLI adapter: renders the exact argv of each runtime operation, runs it with a
//! hard timeout, and records what happened as an [`Invocation`].
//!
//! The command line is the one runc, crun and youki share:
//!
//! ```text
//! BINARY [global args] create --bundle DIR [--pid-file F] [--console-socket S] ID
//! BINARY [global args] start ID
//! BINARY [global args] state ID
//! BINARY [global args] kill ID SIGNAL
//! BINARY [global args] delete [--force] ID
//! BINARY [global args] features
//! ```
//!
//! Every runtime process runs in a process group of its own, so a timeout kills the whole group
//! (the runtime and any helper it forked) and a Ctrl-C on the terminal reaches the harness only.
//! Waiting is by event: a pidfd of the runtime process is polled together with its stdout and
//! stderr pipes; no fixed sleeps. On kernels without pidfds the exit is polled with `try_wait`
//! and an exponential backoff (1 ms doubling to 50 ms).
//!
//! `create` is special: in runc's detached mode the runtime hands its stdio to the container
//! process, so the container's stdout and stderr are the pipes the harness gave the runtime.
//! The adapter waits for the runtime process to exit (never for EOF, which only comes when the
//! container exits), drains what the runtime itself wrote, and hands the read ends to the
//! caller as a [`ContainerOutput`].

use crate::error::DriverError;
use oci_certify_core::Location;
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal};
use serde::Serialize;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How much of a runtime operation's stdout and stderr is kept (each).
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// How much of a container's stdout and stderr is kept (each); the rest is read and discarded
/// so the container never blocks on a full pipe while the harness reads.
pub const CONTAINER_OUTPUT_LIMIT: usize = 16 * 1024 * 1024;
/// Default hard timeout of one runtime operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a killed runtime process is given to die before the adapter stops waiting.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Held (shared) while the adapter forks a runtime, and (exclusive) while the driver writes
/// files into a rootfs: a child forked while an executable is open for writing keeps that
/// descriptor until it execs, and exec of the file then fails with ETXTBSY ("text file busy").
pub(crate) static SPAWN_LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());
/// Backoff bounds of the fallback polling (no pidfd).
const BACKOFF_START: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(50);

/// A runc-compatible runtime driven through its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The runtime executable.
    pub binary: PathBuf,
    /// Arguments placed before the operation (e.g. `["--root", DIR]`).
    pub global_args: Vec<String>,
    /// Hard timeout of each operation; the process group is killed when it expires.
    pub timeout: Duration,
    /// The working directory of every invocation (`None`: this process's). Sessions use an
    /// empty directory, so a runtime that defaults a missing `--bundle` to its working
    /// directory finds no config.json there.
    pub cwd: Option<PathBuf>,
}

/// Where the container's stdio goes on `create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainerStdio {
    /// stdin is /dev/null; stdout and stderr are pipes inherited by the container process,
    /// whose read ends are returned as a [`ContainerOutput`].
    #[default]
    Pipes,
    /// The container gets a terminal through `--console-socket`; the runtime's own stdio is
    /// captured as for any other operation and nothing is handed back.
    Terminal,
}

/// One runtime operation, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation<'a> {
    /// `create --bundle DIR [--pid-file F] [--console-socket S] ID`
    Create {
        /// Container id.
        id: &'a str,
        /// Bundle directory.
        bundle: &'a Path,
        /// Where the runtime writes the container's pid.
        pid_file: Option<&'a Path>,
        /// Unix socket receiving the terminal's master fd.
        console_socket: Option<&'a Path>,
    },
    /// `start ID`
    Start {
        /// Container id.
        id: &'a str,
    },
    /// `state ID`
    State {
        /// Container id.
        id: &'a str,
    },
    /// `kill ID SIGNAL`
    Kill {
        /// Container id.
        id: &'a str,
        /// Signal as the runtime takes it (`TERM`, `SIGKILL`, `9`).
        signal: &'a str,
    },
    /// `delete [--force] ID`
    Delete {
        /// Container id.
        id: &'a str,
        /// Pass `--force`.
        force: bool,
    },
    /// `features`
    Features,
}

impl Operation<'_> {
    /// The operation's arguments (after the global ones), in runc's order.
    pub fn args(&self) -> Vec<String> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        match self {
            Operation::Create {
                id,
                bundle,
                pid_file,
                console_socket,
            } => {
                let mut a = vec!["create".to_string(), "--bundle".to_string(), s(bundle)];
                if let Some(f) = pid_file {
                    a.extend(["--pid-file".to_string(), s(f)]);
                }
                if let Some(c) = console_socket {
                    a.extend(["--console-socket".to_string(), s(c)]);
                }
                a.push(id.to_string());
                a
            }
            Operation::Start { id } => vec!["start".into(), id.to_string()],
            Operation::State { id } => vec!["state".into(), id.to_string()],
            Operation::Kill { id, signal } => {
                vec!["kill".into(), id.to_string(), signal.to_string()]
            }
            Operation::Delete { id, force } => {
                let mut a = vec!["delete".to_string()];
                if *force {
                    a.push("--force".into());
                }
                a.push(id.to_string());
                a
            }
            Operation::Features => vec!["features".into()],
        }
    }
}

/// What one run of the runtime did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    /// The exact argv, the binary first.
    pub argv: Vec<String>,
    /// Exit code, when the process exited normally.
    pub status: Option<i32>,
    /// The terminating signal, when it was killed (by the timeout or otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Its stdout (lossy UTF-8, truncated to [`OUTPUT_LIMIT`] bytes).
    pub stdout: String,
    /// Its stderr (lossy UTF-8, truncated to [`OUTPUT_LIMIT`] bytes).
    pub stderr: String,
    /// Wall time from spawn to exit (or to the kill).
    pub duration: Duration,
    /// The hard timeout expired and the process group was killed.
    pub timed_out: bool,
}

impl Invocation {
    /// Exited with status 0 within the timeout.
    pub fn ok(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }

    /// Where a finding about this operation was made, for a report.
    pub fn location(&self) -> Location {
        Location::Command {
            argv: self.argv.clone(),
            status: self.status,
            stderr: self.stderr.clone(),
        }
    }

    /// stdout parsed as one JSON document, if it is one.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.stdout.trim()).ok()
    }

    /// The argv as one shell-like line (for logs).
    pub fn command_line(&self) -> String {
        self.argv.join(" ")
    }
}

impl std::fmt::Display for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.command_line())?;
        if self.timed_out {
            write!(f, " (timed out after {:?})", self.duration)?;
        } else if let Some(s) = self.status {
            write!(f, " (exit {s})")?;
        } else if let Some(s) = self.signal {
            write!(f, " (killed by signal {s})")?;
        }
        Ok(())
    }
}

impl Runtime {
    /// A runtime at `binary` (a path, or a command name looked up on `PATH`), with no global
    /// arguments and the default timeout. Fails with an input error if it does not exist or is
    /// not executable.
    pub fn new(binary: impl AsRef<Path>) -> Result<Runtime, DriverError> {
        Ok(Runtime {
            binary: resolve_binary(binary.as_ref())?,
            global_args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            cwd: None,
        })
    }

    /// Sets the working directory of every invocation.
    pub fn with_cwd(mut self, dir: PathBuf) -> Runtime {
        self.cwd = Some(dir);
        self
    }

    /// Sets the global arguments.
    pub fn with_global_args(mut self, args: Vec<String>) -> Runtime {
        self.global_args = args;
        self
    }

    /// Sets the per-operation timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Runtime {
        self.timeout = timeout;
        self
    }

    /// The full argv of an operation: binary, global arguments, operation arguments.
    pub fn argv(&self, op: &Operation<'_>) -> Vec<String> {
        let mut argv = vec![self.binary.to_string_lossy().into_owned()];
        argv.extend(self.global_args.iter().cloned());
        argv.extend(op.args());
        argv
    }

    /// `create --bundle DIR [--pid-file F] [--console-socket S] ID`. With
    /// [`ContainerStdio::Pipes`] the container's stdout and stderr come back as a
    /// [`ContainerOutput`] (also when create failed: a half-created container may hold them).
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: Option<&Path>,
        console_socket: Option<&Path>,
        stdio: ContainerStdio,
    ) -> Result<(Invocation, Option<ContainerOutput>), DriverError> {
        let op = Operation::Create {
            id,
            bundle,
            pid_file,
            console_socket,
        };
        self.execute(self.argv(&op), stdio == ContainerStdio::Pipes)
    }

    /// `start ID`
    pub fn start(&self, id: &str) -> Result<Invocation, DriverError> {
        self.run(&Operation::Start { id })
    }

    /// `state ID`
    pub fn state(&self, id: &str) -> Result<Invocation, DriverError> {
        self.run(&Operation::State { id })
    }

    /// `kill ID SIGNAL`
    pub fn kill(&self, id: &str, signal: &str) -> Result<Invocation, DriverError> {
        self.run(&Operation::Kill { id, signal })
    }

    /// `delete [--force] ID`
    pub fn delete(&self, id: &str, force: bool) -> Result<Invocation, DriverError> {
        self.run(&Operation::Delete { id, force })
    }

    /// `features`
    pub fn features(&self) -> Result<Invocation, DriverError> {
        self.run(&Operation::Features)
    }

    /// Runs any operation whose container stdio need not be kept.
    pub fn run(&self, op: &Operation<'_>) -> Result<Invocation, DriverError> {
        self.execute(self.argv(op), false).map(|(inv, _)| inv)
    }

    /// Runs an operation the adapter has no method for (e.g. `["pause", ID]`): the argv is
    /// the binary, the global arguments, then `args`.
    pub fn run_args<S: AsRef<str>>(&self, args: &[S]) -> Result<Invocation, DriverError> {
        let mut argv = vec![self.binary.to_string_lossy().into_owned()];
        argv.extend(self.global_args.iter().cloned());
        argv.extend(args.iter().map(|a| a.as_ref().to_string()));
        self.execute(argv, false).map(|(inv, _)| inv)
    }

    fn execute(
        &self,
        argv: Vec<String>,
        keep_stdio: bool,
    ) -> Result<(Invocation, Option<ContainerOutput>), DriverError> {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let mut cmd = Command::new(&self.binary);
        cmd.args(argv.iter().skip(1))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::from(err_w))
            .process_group(0);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let started = Instant::now();
        let spawned = {
            let _guard = SPAWN_LOCK.read().unwrap_or_else(|p| p.into_inner());
            cmd.spawn()
        };
        // The Command owns our copies of the write ends: drop it so that EOF can happen.
        drop(cmd);
        let mut child = spawned.map_err(|source| DriverError::Spawn {
            program: self.binary.clone(),
            source,
        })?;
        let mut out = Stream::new(out_r, OUTPUT_LIMIT);
        let mut err = Stream::new(err_r, OUTPUT_LIMIT);
        let pid = Pid::from_child(&child);
        let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok();
        let deadline = started + self.timeout;

        let mut exit = wait_child(
            &mut child,
            pidfd.as_ref(),
            deadline,
            &mut [&mut out, &mut err],
        )?;
        let timed_out = exit.is_none();
        if timed_out {
            // The runtime and everything it forked without leaving the group.
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            let _ = child.kill();
            exit = wait_child(
                &mut child,
                pidfd.as_ref(),
                Instant::now() + KILL_GRACE,
                &mut [&mut out, &mut err],
            )?;
        }
        let duration = started.elapsed();
        // Whatever the runtime wrote is in the pipes now; take it without waiting for EOF
        // (a container, a hook's daemon, or an escaped grandchild may hold the write ends).
        out.read_available();
        err.read_available();

        let invocation = Invocation {
            argv,
            status: exit.and_then(|s| s.code()),
            signal: exit.and_then(|s| s.signal()),
            stdout: out.text(),
            stderr: err.text(),
            duration,
            timed_out,
        };
        let output = keep_stdio.then(|| ContainerOutput {
            stdout: out.continuation(CONTAINER_OUTPUT_LIMIT),
            stderr: err.continuation(CONTAINER_OUTPUT_LIMIT),
        });
        Ok((invocation, output))
    }
}

/// Resolves a runtime binary: a path is checked, a bare name is looked up on `PATH`.
fn resolve_binary(binary: &Path) -> Result<PathBuf, DriverError> {
    let candidates: Vec<PathBuf> = if binary.components().count() > 1 || binary.is_absolute() {
        // Absolute (symlinks kept: a multi-call binary may go by its link's name), so that
        // running it from another working directory finds the same file.
        vec![std::path::absolute(binary).unwrap_or_else(|_| binary.to_path_buf())]
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(binary)).collect())
            .unwrap_or_default()
    };
    let mut not_executable = None;
    for c in candidates {
        match std::fs::metadata(&c) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(c),
            Ok(_) => not_executable = not_executable.or(Some(c)),
            Err(_) => {}
        }
    }
    Err(match not_executable {
        Some(path) => DriverError::RuntimeNotExecutable { path },
        None => DriverError::RuntimeNotFound {
            path: binary.to_path_buf(),
        },
    })
}

/// A close-on-exec pipe whose read end is non-blocking (the write end stays blocking: it
/// becomes a child's stdout or stderr).
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), DriverError> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| DriverError::os("create a pipe", e))?;
    rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| DriverError::os("make a pipe non-blocking", e))?;
    Ok((r, w))
}

/// Polls `fds` for readability with EINTR retried; `None` waits forever.
pub(crate) fn poll_retry(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> io::Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ts = match deadline {
            None => None,
            Some(d) => Some(
                rustix::event::Timespec::try_from(d.saturating_duration_since(Instant::now()))
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
            ),
        };
        match rustix::event::poll(fds, ts.as_ref()) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether `fd` becomes readable within `timeout` (for a pidfd: whether the process exited).
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
    Ok(poll_retry(&mut fds, Some(timeout))? > 0 && !fds[0].revents().is_empty())
}

/// Waits until the child exits or the deadline passes, reading `streams` meanwhile so that a
/// chatty runtime never blocks on a full pipe. `Ok(None)` = deadline.
fn wait_child(
    child: &mut Child,
    pidfd: Option<&OwnedFd>,
    deadline: Instant,
    streams: &mut [&mut Stream],
) -> Result<Option<ExitStatus>, DriverError> {
    let mut backoff = BACKOFF_START;
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| DriverError::os("wait for the runtime process", e))?
        {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let remaining = deadline - now;
        let wait = match pidfd {
            Some(_) => remaining,
            None => remaining.min(backoff),
        };
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
        let mut which: Vec<usize> = Vec::with_capacity(2);
        for (i, s) in streams.iter().enumerate() {
            if let Some(f) = &s.file {
                fds.push(PollFd::new(f, PollFlags::IN));
                which.push(i);
            }
        }
        if let Some(p) = pidfd {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        poll_retry(&mut fds, Some(wait)).map_err(|e| DriverError::os("poll", e))?;
        let ready: Vec<usize> = which
            .iter()
            .zip(fds.iter())
            .filter(|(_, f)| !f.revents().is_empty())
            .map(|(i, _)| *i)
            .collect();
        drop(fds);
        for i in ready {
            streams[i].read_available();
        }
        if pidfd.is_none() {
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

/// The read end of a pipe and what was read from it.
#[derive(Debug)]
struct Stream {
    file: Option<File>,
    buf: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Stream {
    fn new(fd: OwnedFd, limit: usize) -> Stream {
        Stream {
            file: Some(File::from(fd)),
            buf: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Reads without blocking until the pipe is empty; closes it at EOF.
    fn read_available(&mut self) {
        let Some(f) = self.file.as_mut() else { return };
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match f.read(&mut chunk) {
                Ok(0) => {
                    self.file = None;
                    return;
                }
                Ok(n) => {
                    let room = self.limit.saturating_sub(self.buf.len());
                    if n > room {
                        self.truncated = true;
                    }
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.file = None;
                    return;
                }
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// The same pipe with an empty buffer (what was read so far belongs to the runtime).
    fn continuation(&mut self, limit: usize) -> Stream {
        Stream {
            file: self.file.take(),
            buf: Vec::new(),
            limit,
            truncated: false,
        }
    }
}

/// The read ends of a created container's stdout and stderr.
///
/// Keep it alive while the container runs: dropping it closes the pipes and the container's
/// next write fails with `EPIPE` (or kills it with `SIGPIPE`). Read it: a container that fills
/// a pipe (64 KiB) blocks until it is read.
#[derive(Debug)]
pub struct ContainerOutput {
    stdout: Stream,
    stderr: Stream,
}

/// What a container wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Captured {
    /// Its stdout (up to [`CONTAINER_OUTPUT_LIMIT`] bytes).
    pub stdout: Vec<u8>,
    /// Its stderr (up to [`CONTAINER_OUTPUT_LIMIT`] bytes).
    pub stderr: Vec<u8>,
    /// Both pipes reached EOF (every process holding them is gone).
    pub complete: bool,
    /// More was written than was kept.
    pub truncated: bool,
}

impl Captured {
    /// stdout as lossy UTF-8.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as lossy UTF-8.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl ContainerOutput {
    /// Reads both pipes until EOF (the container process and everything it forked have
    /// exited or closed them) or until `timeout`. Returns everything read so far, across
    /// calls; `complete` tells whether EOF was reached.
    pub fn read_to_eof(&mut self, timeout: Duration) -> Result<Captured, DriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.stdout.read_available();
            self.stderr.read_available();
            let now = Instant::now();
            if self.at_eof() || now >= deadline {
                return Ok(self.captured());
            }
            let mut fds: Vec<PollFd<'_>> = [&self.stdout, &self.stderr]
                .into_iter()
                .filter_map(|s| s.file.as_ref())
                .map(|f| PollFd::new(f, PollFlags::IN))
                .collect();
            poll_retry(&mut fds, Some(deadline - now))
                .map_err(|e| DriverError::os("poll the container's output", e))?;
        }
    }

    /// Reads what is available now, without waiting.
    pub fn read_available(&mut self) -> Captured {
        self.stdout.read_available();
        self.stderr.read_available();
        self.captured()
    }

    /// What was read so far.
    pub fn captured(&self) -> Captured {
        Captured {
            stdout: self.stdout.buf.clone(),
            stderr: self.stderr.buf.clone(),
            complete: self.at_eof(),
            truncated: self.stdout.truncated || self.stderr.truncated,
        }
    }

    /// Both pipes reached EOF.
    pub fn at_eof(&self) -> bool {
        self.stdout.file.is_none() && self.stderr.file.is_none()
    }

    /// The stdout read end, for callers that poll it themselves.
    pub fn stdout_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stdout.file.as_ref().map(|f| f.as_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> Runtime {
        Runtime {
            binary: "/usr/sbin/runc".into(),
            global_args: vec!["--root".into(), "/tmp/s/state".into()],
            timeout: DEFAULT_TIMEOUT,
            cwd: None,
        }
    }

    #[test]
    fn renders_runc_argv_in_order() {
        let rt = runtime();
        assert_eq!(
            rt.argv(&Operation::Create {
                id: "c1",
                bundle: Path::new("/b"),
                pid_file: Some(Path::new("/p")),
                console_socket: Some(Path::new("/s")),
            }),
            [
                "/usr/sbin/runc",
                "--root",
                "/tmp/s/state",
                "create",
                "--bundle",
                "/b",
                "--pid-file",
                "/p",
                "--console-socket",
                "/s",
                "c1"
            ]
        );
        assert_eq!(
            rt.argv(&Operation::Create {
                id: "c1",
                bundle: Path::new("/b"),
                pid_file: None,
                console_socket: None,
            })[3..],
            ["create", "--bundle", "/b", "c1"]
        );
        assert_eq!(
            rt.argv(&Operation::Start { id: "c1" })[3..],
            ["start", "c1"]
        );
        assert_eq!(
            rt.argv(&Operation::State { id: "c1" })[3..],
            ["state", "c1"]
        );
        assert_eq!(
            rt.argv(&Operation::Kill {
                id: "c1",
                signal: "TERM"
            })[3..],
            ["kill", "c1", "TERM"]
        );
        assert_eq!(
            rt.argv(&Operation::Delete {
                id: "c1",
                force: true
            })[3..],
            ["delete", "--force", "c1"]
        );
        assert_eq!(
            rt.argv(&Operation::Delete {
                id: "c1",
                force: false
            })[3..],
            ["delete", "c1"]
        );
        assert_eq!(rt.argv(&Operation::Features)[3..], ["features"]);
    }

    #[test]
    fn runs_a_command_and_captures_output() {
        let rt = Runtime::new("sh").unwrap();
        let inv = rt
            .run_args(&["-c", "echo out; echo err >&2; exit 3"])
            .unwrap();
        assert!(inv.argv[0].ends_with("/sh"), "{:?}", inv.argv);
        assert_eq!(inv.argv[1..], ["-c", "echo out; echo err >&2; exit 3"]);
        assert_eq!(inv.status, Some(3));
        assert_eq!(inv.stdout, "out\n");
        assert_eq!(inv.stderr, "err\n");
        assert!(!inv.ok());
        assert!(!inv.timed_out);
        match inv.location() {
            Location::Command { status, stderr, .. } => {
                assert_eq!(status, Some(3));
                assert_eq!(stderr, "err\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn output_is_truncated_but_fully_drained() {
        let rt = Runtime::new("sh").unwrap();
        // 1 MiB on stdout: the runtime must not block on a full pipe.
        let inv = rt.run_args(&["-c", "head -c 1048576 /dev/zero"]).unwrap();
        assert!(inv.ok(), "{inv:?}");
        assert_eq!(inv.stdout.len(), OUTPUT_LIMIT);
    }

    #[test]
    fn does_not_wait_for_eof_held_by_a_grandchild() {
        let rt = Runtime::new("sh")
            .unwrap()
            .with_timeout(Duration::from_secs(10));
        let started = Instant::now();
        // The background sleep keeps stdout open after sh exits, like a container does after
        // `runc create`.
        let inv = rt
            .run_args(&["-c", "echo before; sleep 5 & exit 0"])
            .unwrap();
        assert!(inv.ok(), "{inv:?}");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(inv.stdout, "before\n");
    }

    #[test]
    fn timeout_kills_the_process_group() {
        let rt = Runtime::new("sh")
            .unwrap()
            .with_timeout(Duration::from_millis(300));
        let inv = rt.run_args(&["-c", "sleep 30; echo never"]).unwrap();
        assert!(inv.timed_out);
        assert_eq!(inv.status, None);
        assert_eq!(inv.signal, Some(9));
        assert!(inv.duration < Duration::from_secs(5));
        assert!(!inv.ok());
    }

    #[test]
    fn missing_binary_is_an_input_error() {
        use oci_certify_core::fault::{Blame, Fault};
        let e = Runtime::new("/nonexistent/runtime").unwrap_err();
        assert!(matches!(e, DriverError::RuntimeNotFound { .. }));
        assert_eq!(e.fault(), Fault::Input);
        let e = Runtime::new("no-such-runtime-oci-certify").unwrap_err();
        assert_eq!(e.fault(), Fault::Input);
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("not-executable");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Runtime::new(&plain).unwrap_err();
        assert!(matches!(e, DriverError::RuntimeNotExecutable { .. }), "{e}");
        assert_eq!(e.fault(), Fault::Input);
    }
}
