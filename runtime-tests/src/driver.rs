//! The lifecycle driver: one [`Session`] per run, one [`Container`] per test, and a cleanup
//! that always runs and is audited.
//!
//! A session owns a private directory:
//!
//! ```text
//! $TMPDIR/oci-certify-<pid>-<random>/      the session dir (named after the run id)
//!     state/                              the runtime's --root (runc-style runtimes)
//!     bundles/<name>/{config.json,rootfs/}
//!     pids/<name>.pid                     --pid-file targets
//!     hooks/                              for hook outputs
//! ```
//!
//! Container ids are `<run id>-<name>` and scenarios put containers under the cgroups parent
//! `/<run id>` ([`Session::cgroups_path`]), so anything a run leaves behind carries the run id
//! in its name and the audit of [`Session::finish`] can find it.
//!
//! Waiting is by event: the container's init process is tracked by a pidfd opened as soon as
//! its pid is known (from the pid file, or from `state` right after `create`), and
//! [`Container::wait_exit`] polls that pidfd. When the session is the child subreaper
//! ([`SessionOptions::subreaper`], on by default) container processes are re-parented to this
//! process, so their exit status is collected (`waitid(P_PIDFD)`) and no zombie is left. Only
//! where pidfds are unavailable does it fall back to polling `state` with an exponential
//! backoff (1 ms doubling to 50 ms) under a deadline.

use crate::cli::{
    poll_retry, wait_readable, Captured, ContainerOutput, ContainerStdio, Invocation, Runtime,
    DEFAULT_TIMEOUT,
};
use crate::error::DriverError;
use crate::host::{own_mounts, CgroupMode, HostInfo};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long cleanup waits for killed processes to die.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long cleanup retries `rmdir` of a cgroup that is still busy.
const RMDIR_WAIT: Duration = Duration::from_secs(2);
const BACKOFF_START: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(50);

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Hard timeout of each runtime operation.
    pub timeout: Duration,
    /// Global arguments passed before every operation, after `--root` (if any).
    pub global_args: Vec<String>,
    /// Give the runtime a private state root (`--root <session>/state`), as runc, crun and
    /// youki allow; the audit then checks that it is empty at the end.
    pub private_state_root: bool,
    /// Where the session directory is made (default: the system temp dir).
    pub parent_dir: Option<PathBuf>,
    /// Make this process the child subreaper, so container processes become its children
    /// and their exit statuses can be collected.
    pub subreaper: bool,
    /// Install the SIGINT/SIGTERM handler ([`Session::install_interrupt_handler`]) before the
    /// session directory is made.
    pub interrupt_handler: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            timeout: DEFAULT_TIMEOUT,
            global_args: Vec::new(),
            private_state_root: true,
            parent_dir: None,
            subreaper: true,
            interrupt_handler: false,
        }
    }
}

/// How a container process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessExit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

/// How the exit was noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitDetection {
    /// The pidfd of the container process became readable.
    Pidfd,
    /// `state` reported `stopped` (no pidfd available).
    StatePolling,
    /// The process was already gone when the driver looked for it.
    AlreadyGone,
}

/// The end of a container's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExitInfo {
    /// The process id (host namespace), when known.
    pub pid: Option<i32>,
    /// The exit status, when this process could collect it (it is the subreaper).
    pub status: Option<ProcessExit>,
    /// How the exit was detected.
    pub detected_by: ExitDetection,
    /// How long `wait_exit` waited.
    pub waited: Duration,
}

/// Something the audit found left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Leftover {
    /// A container the runtime still knew at the end.
    Container {
        /// Its id.
        id: String,
    },
    /// An entry in the runtime's private state root.
    StateEntry {
        /// The path.
        path: PathBuf,
    },
    /// A process of the session still alive.
    Process {
        /// Its pid.
        pid: i32,
        /// Its command line, when readable.
        command: String,
    },
    /// A cgroup directory carrying the run id.
    Cgroup {
        /// The path.
        path: PathBuf,
    },
    /// A mount point under the session directory.
    Mount {
        /// The mount point.
        path: PathBuf,
    },
    /// The session directory itself.
    SessionDir {
        /// The path.
        path: PathBuf,
    },
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::Container { id } => write!(f, "container {id}"),
            Leftover::StateEntry { path } => write!(f, "state entry {}", path.display()),
            Leftover::Process { pid, command } => write!(f, "process {pid} ({command})"),
            Leftover::Cgroup { path } => write!(f, "cgroup {}", path.display()),
            Leftover::Mount { path } => write!(f, "mount {}", path.display()),
            Leftover::SessionDir { path } => write!(f, "session directory {}", path.display()),
        }
    }
}

/// A leftover the audit could not remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unremovable {
    /// What.
    pub leftover: Leftover,
    /// Why not.
    pub error: String,
}

/// What [`Session::finish`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// The run id.
    pub run_id: String,
    /// Leftovers the audit found and removed.
    pub removed: Vec<Leftover>,
    /// Leftovers it could not remove.
    pub unremovable: Vec<Unremovable>,
    /// Every cleanup action of the session, including the ones done when a [`Container`] was
    /// dropped without being deleted, with the argv of each runtime call.
    pub log: Vec<String>,
    /// The run was interrupted by this signal.
    pub interrupted_by: Option<i32>,
}

impl CleanupReport {
    /// Nothing was left behind.
    pub fn is_clean(&self) -> bool {
        self.removed.is_empty() && self.unremovable.is_empty()
    }
}

impl std::fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_clean() {
            return write!(f, "cleanup of {}: nothing left behind", self.run_id);
        }
        writeln!(f, "cleanup of {}:", self.run_id)?;
        for l in &self.removed {
            writeln!(f, "  removed leftover {l}")?;
        }
        for u in &self.unremovable {
            writeln!(f, "  COULD NOT REMOVE {}: {}", u.leftover, u.error)?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Tracked {
    create_attempted: bool,
    deleted: bool,
    pid: Option<i32>,
    pidfd: Option<Arc<OwnedFd>>,
    exit: Option<ExitInfo>,
}

#[derive(Debug, Default)]
struct Registry {
    names: BTreeSet<String>,
    containers: BTreeMap<String, Tracked>,
    log: Vec<String>,
}

/// One certification run against one runtime binary.
#[derive(Debug)]
pub struct Session {
    runtime: Runtime,
    run_id: String,
    dir: PathBuf,
    state_root: Option<PathBuf>,
    host: HostInfo,
    registry: Mutex<Registry>,
    signal: Arc<AtomicUsize>,
    finished: Arc<AtomicBool>,
    wake: OnceLock<File>,
    signal_ids: Mutex<Vec<signal_hook::SigId>>,
    done: AtomicBool,
}

impl Session {
    /// Starts a session: resolves the runtime binary, makes the session directory, and (by
    /// default) makes this process the child subreaper.
    pub fn new(
        runtime_binary: impl AsRef<Path>,
        opts: SessionOptions,
    ) -> Result<Session, DriverError> {
        let runtime = Runtime::new(runtime_binary)?.with_timeout(opts.timeout);
        let run_id = format!("oci-certify-{}-{:08x}", std::process::id(), random_u32());
        let parent = opts.parent_dir.clone().unwrap_or_else(std::env::temp_dir);
        // Mount points in /proc/self/mountinfo are canonical; so must the prefix be.
        let parent = parent
            .canonicalize()
            .map_err(|e| DriverError::io("resolve", &parent, e))?;
        let dir = parent.join(&run_id);
        let state_root = opts.private_state_root.then(|| dir.join("state"));
        let mut global_args = Vec::new();
        if let Some(root) = &state_root {
            global_args.extend(["--root".to_string(), root.to_string_lossy().into_owned()]);
        }
        global_args.extend(opts.global_args.iter().cloned());
        let runtime = runtime
            .with_global_args(global_args)
            .with_cwd(dir.join("cwd"));
        let session = Session {
            runtime,
            run_id,
            dir,
            state_root,
            host: HostInfo::detect(),
            registry: Mutex::new(Registry::default()),
            signal: Arc::new(AtomicUsize::new(0)),
            finished: Arc::new(AtomicBool::new(false)),
            wake: OnceLock::new(),
            signal_ids: Mutex::new(Vec::new()),
            done: AtomicBool::new(false),
        };
        // The handler goes in before anything exists on disk, so no Ctrl-C can leave the
        // session directory behind.
        if opts.interrupt_handler {
            session.install_interrupt_handler()?;
        }
        mkdir(&session.dir, 0o755)?;
        for sub in ["bundles", "pids", "hooks", "cwd"] {
            mkdir(&session.dir.join(sub), 0o755)?;
        }
        if let Some(root) = &session.state_root {
            mkdir(root, 0o700)?;
        }
        if opts.subreaper {
            match rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
                Ok(()) => session.log("this process is the child subreaper".into()),
                Err(e) => session.log(format!("cannot become the child subreaper: {e}")),
            }
        }
        Ok(session)
    }

    /// The run id (`oci-certify-<pid>-<random>`).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The session directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The runtime's private state root, if the session gives it one.
    pub fn state_root(&self) -> Option<&Path> {
        self.state_root.as_deref()
    }

    /// A directory for hook outputs.
    pub fn hooks_dir(&self) -> PathBuf {
        self.dir.join("hooks")
    }

    /// The runtime adapter (with the session's global arguments).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// What the host offers (detected when the session started).
    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// The cgroups parent of the session's containers: `/<run id>`.
    pub fn cgroups_parent(&self) -> String {
        format!("/{}", self.run_id)
    }

    /// The `linux.cgroupsPath` for the container `name`: `/<run id>/<name>`.
    pub fn cgroups_path(&self, name: &str) -> String {
        format!("/{}/{}", self.run_id, name)
    }

    /// The container id of the container `name`: `<run id>-<name>`.
    pub fn container_id(&self, name: &str) -> String {
        format!("{}-{}", self.run_id, name)
    }

    /// Runs the runtime's `features` operation.
    pub fn features(&self) -> Result<Invocation, DriverError> {
        self.runtime.features()
    }

    /// Makes the bundle `<session>/bundles/<name>/` with `config` as its config.json and an
    /// empty `rootfs/` that `prepare_rootfs` fills (e.g. installs the probe). Nothing runs yet.
    /// `prepare_rootfs` runs while the adapter forks no runtime, so an executable it writes
    /// cannot be held open by a forked child (which would make its exec fail with ETXTBSY).
    pub fn container(
        &self,
        name: &str,
        config: &serde_json::Value,
        prepare_rootfs: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<Container<'_>, DriverError> {
        self.check_not_interrupted()?;
        validate_name(name)?;
        let id = self.container_id(name);
        {
            let mut reg = self.lock();
            if !reg.names.insert(name.to_string()) {
                return Err(DriverError::DuplicateName(name.to_string()));
            }
            reg.containers.insert(id.clone(), Tracked::default());
        }
        let bundle = self.dir.join("bundles").join(name);
        let rootfs = bundle.join("rootfs");
        mkdir(&bundle, 0o755)?;
        mkdir(&rootfs, 0o755)?;
        let bytes = serde_json::to_vec_pretty(config).map_err(DriverError::Config)?;
        let config_path = bundle.join("config.json");
        std::fs::write(&config_path, bytes)
            .map_err(|e| DriverError::io("write", &config_path, e))?;
        let prepared = {
            let _guard = crate::cli::SPAWN_LOCK
                .write()
                .unwrap_or_else(|p| p.into_inner());
            prepare_rootfs(&rootfs)
        };
        prepared.map_err(|source| DriverError::PrepareRootfs {
            name: name.to_string(),
            source,
        })?;
        Ok(Container {
            session: self,
            name: name.to_string(),
            id,
            pid_file: self.dir.join("pids").join(format!("{name}.pid")),
            bundle,
            output: None,
        })
    }

    /// Installs a SIGINT/SIGTERM handler that sets the flag [`Session::interrupted`] reports
    /// (and wakes [`Session::wait_interrupted`]). The runner then stops starting containers,
    /// calls [`Session::finish`], and exits with [`Session::interrupt_exit_code`]. After
    /// `finish`, the signals have their default effect again.
    pub fn install_interrupt_handler(&self) -> Result<(), DriverError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut ids = self.signal_ids.lock().unwrap_or_else(|p| p.into_inner());
        if !ids.is_empty() {
            return Ok(());
        }
        let handler_err = |e: io::Error| DriverError::os("install the interrupt handler", e);
        let (r, w) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .map_err(|e| DriverError::os("create the interrupt pipe", e))?;
        for sig in [SIGINT, SIGTERM] {
            // Once finished, the signal terminates as usual (checked first).
            signal_hook::flag::register_conditional_default(sig, Arc::clone(&self.finished))
                .map_err(handler_err)?;
            ids.push(
                signal_hook::flag::register_usize(sig, Arc::clone(&self.signal), sig as usize)
                    .map_err(handler_err)?,
            );
            let w = w.try_clone().map_err(handler_err)?;
            ids.push(signal_hook::low_level::pipe::register(sig, w).map_err(handler_err)?);
        }
        let _ = self.wake.set(File::from(r));
        self.log("interrupt handler installed (SIGINT, SIGTERM)".into());
        Ok(())
    }

    /// A SIGINT or SIGTERM arrived (after [`Session::install_interrupt_handler`]).
    pub fn interrupted(&self) -> bool {
        self.signal.load(Ordering::SeqCst) != 0
    }

    /// The signal that interrupted the run.
    pub fn interrupt_signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// The conventional exit code after an interrupt: 128 + signal (130 for Ctrl-C).
    pub fn interrupt_exit_code(&self) -> Option<i32> {
        self.interrupt_signal().map(|s| 128 + s)
    }

    /// Blocks until an interrupt arrives or `timeout` passes; returns [`Session::interrupted`].
    /// Without an installed handler nothing can interrupt, and it just waits out `timeout`.
    pub fn wait_interrupted(&self, timeout: Duration) -> bool {
        if self.interrupted() {
            return true;
        }
        match self.wake.get() {
            Some(mut f) => {
                let mut fds = [PollFd::new(&f, PollFlags::IN)];
                let _ = poll_retry(&mut fds, Some(timeout));
                let mut buf = [0u8; 64];
                while matches!(f.read(&mut buf), Ok(n) if n > 0) {}
            }
            None => std::thread::sleep(timeout),
        }
        self.interrupted()
    }

    /// Cleans up everything the session made and audits that nothing is left; see
    /// [`CleanupReport`]. Runs also from `Drop` if not called.
    pub fn finish(self) -> CleanupReport {
        self.cleanup()
    }

    fn check_not_interrupted(&self) -> Result<(), DriverError> {
        match self.interrupt_signal() {
            Some(signal) => Err(DriverError::Interrupted { signal }),
            None => Ok(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a line to the session's cleanup log.
    pub fn log(&self, line: String) {
        self.lock().log.push(line);
    }

    fn tracked<R>(&self, id: &str, f: impl FnOnce(&mut Tracked) -> R) -> R {
        let mut reg = self.lock();
        f(reg.containers.entry(id.to_string()).or_default())
    }

    fn log_invocation(&self, why: &str, inv: &Invocation) {
        let mut line = format!("{why}: {inv}");
        let err = inv.stderr.trim();
        if !inv.ok() && !err.is_empty() {
            line.push_str(": ");
            line.push_str(err.lines().last().unwrap_or(err));
        }
        self.log(line);
    }

    /// A paused (frozen) container's processes cannot act on SIGKILL: resume it first.
    fn resume_if_paused(&self, id: &str, state: &Invocation, why: &str) {
        let paused = state
            .json()
            .is_some_and(|v| v.get("status").and_then(|s| s.as_str()) == Some("paused"));
        if paused {
            match self.runtime.run_args(&["resume", id]) {
                Ok(inv) => self.log_invocation(&format!("{why}: resume"), &inv),
                Err(e) => self.log(format!("{why}: resume {id}: {e}")),
            }
        }
    }

    /// Records the container init's pid and opens its pidfd (once).
    fn track_pid(&self, id: &str, pid: i32) {
        if pid <= 0 || self.tracked(id, |t| t.pidfd.is_some() || t.exit.is_some()) {
            return;
        }
        let Some(p) = Pid::from_raw(pid) else { return };
        match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
            Ok(fd) => self.tracked(id, |t| {
                t.pid = Some(pid);
                t.pidfd = Some(Arc::new(fd));
            }),
            Err(e) => {
                self.tracked(id, |t| t.pid = Some(pid));
                self.log(format!("{id}: pidfd_open({pid}) failed: {e}"));
            }
        }
    }

    /// Collects the exit status of the tracked process if it is this process's child and
    /// has exited (non-blocking).
    fn reap(&self, id: &str) -> Option<ProcessExit> {
        let fd = self.tracked(id, |t| t.pidfd.clone())?;
        let status = reap_pidfd(&fd);
        if let Some(st) = status {
            self.tracked(id, |t| {
                if let Some(e) = t.exit.as_mut() {
                    e.status = e.status.or(Some(st));
                }
            });
        }
        status
    }

    fn cleanup(&self) -> CleanupReport {
        if self.done.swap(true, Ordering::SeqCst) {
            return CleanupReport {
                run_id: self.run_id.clone(),
                ..CleanupReport::default()
            };
        }
        let mut report = CleanupReport {
            run_id: self.run_id.clone(),
            interrupted_by: self.interrupt_signal(),
            ..CleanupReport::default()
        };
        self.cleanup_containers(&mut report);
        self.cleanup_state_root(&mut report);
        self.cleanup_tracked_processes(&mut report);
        self.cleanup_cgroups(&mut report);
        self.cleanup_mounts(&mut report);
        self.remove_session_dir(&mut report);

        // Signals get their default effect back.
        self.finished.store(true, Ordering::SeqCst);
        let ids: Vec<_> =
            std::mem::take(&mut *self.signal_ids.lock().unwrap_or_else(|p| p.into_inner()));
        for id in ids {
            signal_hook::low_level::unregister(id);
        }
        report.log = std::mem::take(&mut self.lock().log);
        report
    }

    /// Every container not confirmed deleted: `delete --force` (after `kill KILL` and a wait,
    /// which spares runc its 100 ms polling loop). Run for every id whose create was
    /// attempted, even if create failed half-way.
    fn cleanup_containers(&self, report: &mut CleanupReport) {
        let pending: Vec<String> = self
            .lock()
            .containers
            .iter()
            .filter(|(_, t)| t.create_attempted && !t.deleted)
            .map(|(id, _)| id.clone())
            .collect();
        for id in pending {
            let existed = match self.runtime.state(&id) {
                Ok(inv) => {
                    self.log_invocation("finish: state", &inv);
                    self.resume_if_paused(&id, &inv, "finish");
                    inv.ok()
                }
                Err(e) => {
                    self.log(format!("finish: state {id}: {e}"));
                    false
                }
            };
            if existed {
                if let Ok(inv) = self.runtime.kill(&id, "KILL") {
                    self.log_invocation("finish: kill", &inv);
                }
                if let Some(fd) = self.tracked(&id, |t| t.pidfd.clone()) {
                    let _ = wait_readable(fd.as_fd(), KILL_WAIT);
                }
            }
            match self.runtime.delete(&id, true) {
                Ok(inv) => {
                    self.log_invocation("finish: delete", &inv);
                    if existed {
                        let still = self.runtime.state(&id).map(|i| i.ok()).unwrap_or(false);
                        if inv.ok() && !still {
                            report.removed.push(Leftover::Container { id: id.clone() });
                        } else {
                            report.unremovable.push(Unremovable {
                                leftover: Leftover::Container { id: id.clone() },
                                error: format!("{inv}: {}", inv.stderr.trim()),
                            });
                        }
                    }
                }
                Err(e) => {
                    if existed {
                        report.unremovable.push(Unremovable {
                            leftover: Leftover::Container { id: id.clone() },
                            error: e.to_string(),
                        });
                    }
                }
            }
            self.tracked(&id, |t| t.deleted = true);
            self.reap(&id);
        }
    }

    /// The private state root must be empty: an entry is a container the runtime still
    /// knows (or debris of one).
    fn cleanup_state_root(&self, report: &mut CleanupReport) {
        let Some(root) = &self.state_root else { return };
        let entries: Vec<PathBuf> = match std::fs::read_dir(root) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(e) => {
                self.log(format!("finish: cannot list {}: {e}", root.display()));
                return;
            }
        };
        for path in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if let Ok(inv) = self.runtime.delete(&name, true) {
                    self.log_invocation("finish: delete (state root entry)", &inv);
                }
            }
            if !path.exists() {
                report.removed.push(Leftover::StateEntry { path });
                continue;
            }
            let res = if mounts_under(&path).is_empty() {
                if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                }
            } else {
                Err(io::Error::other("mount points remain under it"))
            };
            match res {
                Ok(()) => report.removed.push(Leftover::StateEntry { path }),
                Err(e) => report.unremovable.push(Unremovable {
                    leftover: Leftover::StateEntry { path },
                    error: e.to_string(),
                }),
            }
        }
    }

    /// Container processes the session tracked by pidfd that are still alive.
    fn cleanup_tracked_processes(&self, report: &mut CleanupReport) {
        let tracked: Vec<(String, i32, Arc<OwnedFd>)> = self
            .lock()
            .containers
            .iter()
            .filter_map(|(id, t)| Some((id.clone(), t.pid?, t.pidfd.clone()?)))
            .collect();
        let mut alive = Vec::new();
        for (id, pid, fd) in tracked {
            if wait_readable(fd.as_fd(), Duration::ZERO).unwrap_or(true) {
                self.reap(&id);
                continue;
            }
            let command = cmdline(pid);
            let res = rustix::process::pidfd_send_signal(&*fd, Signal::KILL);
            self.log(format!(
                "finish: SIGKILL to {pid} ({command}) of {id}: {res:?}"
            ));
            alive.push((id, pid, command, fd));
        }
        let fds: Vec<Arc<OwnedFd>> = alive.iter().map(|a| a.3.clone()).collect();
        wait_all_exited(&fds, KILL_WAIT);
        for (id, pid, command, fd) in alive {
            let gone = wait_readable(fd.as_fd(), Duration::ZERO).unwrap_or(false);
            self.reap(&id);
            let leftover = Leftover::Process { pid, command };
            if gone {
                report.removed.push(leftover);
            } else {
                report.unremovable.push(Unremovable {
                    leftover,
                    error: "still alive after SIGKILL".into(),
                });
            }
        }
    }

    /// Cgroup directories named after the run id, under every mounted hierarchy: processes in
    /// them are killed, then the directories are removed deepest first. The session's own
    /// cgroups parent (`<hierarchy>/<run id>`) is expected to remain after a clean run (runc
    /// and crun do not remove parents they created) and is removed without being reported.
    fn cleanup_cgroups(&self, report: &mut CleanupReport) {
        let mode = own_mounts()
            .map(|m| CgroupMode::from_mounts(&m))
            .unwrap_or(CgroupMode::None);
        let mut matches = Vec::new();
        for root in mode.hierarchies() {
            find_named(&root, &self.run_id, 0, &mut matches);
        }
        if matches.is_empty() {
            return;
        }
        // Processes first: a populated cgroup cannot be removed.
        let mut subtrees: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
        let mut pids = BTreeSet::new();
        for m in &matches {
            let mut dirs = Vec::new();
            post_order_dirs(m, 0, &mut dirs);
            for d in &dirs {
                pids.extend(read_pids(&d.join("cgroup.procs")));
            }
            subtrees.push((m.clone(), dirs));
        }
        pids.remove(&(std::process::id() as i32));
        let known: BTreeSet<i32> = report
            .removed
            .iter()
            .chain(report.unremovable.iter().map(|u| &u.leftover))
            .filter_map(|l| match l {
                Leftover::Process { pid, .. } => Some(*pid),
                _ => None,
            })
            .collect();
        if !pids.is_empty() {
            for (_, dirs) in &subtrees {
                for d in dirs {
                    thaw(d);
                }
            }
            let mut killed = Vec::new();
            for pid in pids {
                let Some(p) = Pid::from_raw(pid) else {
                    continue;
                };
                let command = cmdline(pid);
                match rustix::process::pidfd_open(p, PidfdFlags::empty()) {
                    Ok(fd) => {
                        let res = rustix::process::pidfd_send_signal(&fd, Signal::KILL);
                        self.log(format!(
                            "finish: SIGKILL to {pid} ({command}) in a leftover cgroup: {res:?}"
                        ));
                        killed.push((pid, command, Arc::new(fd)));
                    }
                    Err(e) => self.log(format!("finish: pidfd_open({pid}): {e}")),
                }
            }
            let fds: Vec<Arc<OwnedFd>> = killed.iter().map(|k| k.2.clone()).collect();
            wait_all_exited(&fds, KILL_WAIT);
            for (pid, command, fd) in killed {
                let gone = wait_readable(fd.as_fd(), Duration::ZERO).unwrap_or(false);
                let _ = reap_pidfd(&fd);
                if known.contains(&pid) {
                    continue;
                }
                let leftover = Leftover::Process { pid, command };
                if gone {
                    report.removed.push(leftover);
                } else {
                    report.unremovable.push(Unremovable {
                        leftover,
                        error: "still alive after SIGKILL".into(),
                    });
                }
            }
        }
        for (top, dirs) in subtrees {
            let expected_parent = top.file_name().is_some_and(|n| n == self.run_id.as_str())
                && mode.hierarchies().iter().any(|h| top.parent() == Some(h));
            for d in dirs {
                let is_parent = expected_parent && d == top;
                match rmdir_retry(&d) {
                    Ok(()) if is_parent => {
                        self.log(format!("finish: removed cgroups parent {}", d.display()))
                    }
                    Ok(()) => report.removed.push(Leftover::Cgroup { path: d }),
                    Err(e) => report.unremovable.push(Unremovable {
                        leftover: Leftover::Cgroup { path: d },
                        error: e.to_string(),
                    }),
                }
            }
        }
    }

    /// Mount points under the session directory (in this mount namespace): lazily unmounted.
    fn cleanup_mounts(&self, report: &mut CleanupReport) {
        for path in mounts_under(&self.dir) {
            match rustix::mount::unmount(&path, rustix::mount::UnmountFlags::DETACH) {
                Ok(()) => report.removed.push(Leftover::Mount { path }),
                Err(e) => report.unremovable.push(Unremovable {
                    leftover: Leftover::Mount { path },
                    error: e.to_string(),
                }),
            }
        }
    }

    /// Removes the session directory, unless a mount point remains under it (removing
    /// recursively would then delete files of whatever is mounted there).
    fn remove_session_dir(&self, report: &mut CleanupReport) {
        let error = if !mounts_under(&self.dir).is_empty() {
            Some("mount points remain under it; not removed".to_string())
        } else {
            match std::fs::remove_dir_all(&self.dir) {
                Ok(()) => None,
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => Some(e.to_string()),
            }
        };
        match error {
            None => self.log(format!("finish: removed {}", self.dir.display())),
            Some(error) => report.unremovable.push(Unremovable {
                leftover: Leftover::SessionDir {
                    path: self.dir.clone(),
                },
                error,
            }),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.done.load(Ordering::SeqCst) {
            let report = self.cleanup();
            if !report.is_clean() {
                eprintln!("oci-certify: session dropped without finish(); {report}");
            }
        }
    }
}

/// Options of [`Container::create_with`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Pass `--pid-file <session>/pids/<name>.pid`.
    pub pid_file: bool,
    /// Pass `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// Where the container's stdio goes.
    pub stdio: ContainerStdio,
}

/// One container of a session: a bundle and an id, driven through the runtime's CLI.
/// Dropping it without a successful `delete` kills and force-deletes it (logged).
#[derive(Debug)]
pub struct Container<'s> {
    session: &'s Session,
    name: String,
    id: String,
    bundle: PathBuf,
    pid_file: PathBuf,
    output: Option<ContainerOutput>,
}

impl Container<'_> {
    /// Its name in the session.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bundle directory.
    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    /// The bundle's rootfs.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle.join("rootfs")
    }

    /// Where `--pid-file` points when asked for.
    pub fn pid_file(&self) -> &Path {
        &self.pid_file
    }

    /// The container init's pid, once known (pid file or `state`).
    pub fn pid(&self) -> Option<i32> {
        self.session.tracked(&self.id, |t| t.pid)
    }

    /// `create --bundle B [--pid-file F] ID` with the container's stdout and stderr captured.
    pub fn create(&mut self, pid_file: bool) -> Result<Invocation, DriverError> {
        self.create_with(CreateOptions {
            pid_file,
            ..CreateOptions::default()
        })
    }

    /// `create` with all options. On success the init's pid is learnt (from the pid file, or
    /// from an internal `state` call) and a pidfd is opened on it.
    pub fn create_with(&mut self, opts: CreateOptions) -> Result<Invocation, DriverError> {
        self.session.check_not_interrupted()?;
        self.session
            .tracked(&self.id, |t| t.create_attempted = true);
        let pid_file = opts.pid_file.then_some(self.pid_file.as_path());
        let (inv, output) = self.session.runtime.create(
            &self.id,
            &self.bundle,
            pid_file,
            opts.console_socket.as_deref(),
            opts.stdio,
        )?;
        self.output = output;
        if inv.ok() {
            let pid = match pid_file {
                Some(f) => std::fs::read_to_string(f)
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok()),
                None => None,
            };
            match pid {
                Some(pid) => self.session.track_pid(&self.id, pid),
                None => {
                    // Learn the pid now, while the init is certainly alive (blocked before
                    // exec), so the pidfd refers to the right process.
                    let _ = self.state();
                }
            }
        }
        Ok(inv)
    }

    /// `start ID`
    pub fn start(&self) -> Result<Invocation, DriverError> {
        self.session.runtime.start(&self.id)
    }

    /// `state ID`, with its stdout parsed when it is JSON. A pid it reports is tracked.
    pub fn state(&self) -> Result<(Invocation, Option<serde_json::Value>), DriverError> {
        let inv = self.session.runtime.state(&self.id)?;
        let json = inv.json();
        if let Some(v) = &json {
            let status = v.get("status").and_then(|s| s.as_str());
            if let Some(pid) = v.get("pid").and_then(|p| p.as_i64()) {
                if pid > 0 && status != Some("stopped") {
                    self.session.track_pid(&self.id, pid as i32);
                }
            }
        }
        Ok((inv, json))
    }

    /// `kill ID SIGNAL`
    pub fn kill(&self, signal: &str) -> Result<Invocation, DriverError> {
        self.session.runtime.kill(&self.id, signal)
    }

    /// `delete [--force] ID`; a successful delete marks the container as cleaned up.
    pub fn delete(&self, force: bool) -> Result<Invocation, DriverError> {
        let inv = self.session.runtime.delete(&self.id, force)?;
        if inv.ok() {
            self.session.tracked(&self.id, |t| t.deleted = true);
            self.session.reap(&self.id);
        }
        Ok(inv)
    }

    /// Reads the container's stdout and stderr until EOF or `timeout` (EOF comes when the
    /// container process, and whatever inherited its stdio, exited). EOF is not the exit:
    /// the process closes its files a moment before it becomes a zombie, and until then
    /// runtimes report it `running` (crun refuses `delete`). Call [`Container::wait_exit`]
    /// before acting on the exit.
    pub fn output_to_eof(&mut self, timeout: Duration) -> Result<Captured, DriverError> {
        match self.output.as_mut() {
            Some(o) => o.read_to_eof(timeout),
            None => Err(DriverError::Misuse(
                "the container was not created with captured stdio",
            )),
        }
    }

    /// The captured output handle, for callers that read it themselves.
    pub fn output(&mut self) -> Option<&mut ContainerOutput> {
        self.output.as_mut()
    }

    /// Waits for the container process to exit, by pidfd when possible; `None` when it did
    /// not exit within `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> Result<Option<ExitInfo>, DriverError> {
        let started = Instant::now();
        let deadline = started + timeout;
        if let Some(exit) = self.session.tracked(&self.id, |t| t.exit) {
            return Ok(Some(exit));
        }
        let (mut pid, mut pidfd) = self.session.tracked(&self.id, |t| (t.pid, t.pidfd.clone()));
        if pidfd.is_none() {
            let (_, json) = self.state()?;
            let status = json
                .as_ref()
                .and_then(|v| v.get("status"))
                .and_then(|s| s.as_str())
                .map(str::to_string);
            if status.as_deref() == Some("stopped") {
                return Ok(Some(self.record_exit(
                    pid,
                    None,
                    ExitDetection::StatePolling,
                    started,
                )));
            }
            (pid, pidfd) = self.session.tracked(&self.id, |t| (t.pid, t.pidfd.clone()));
        }
        if let Some(fd) = pidfd {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let exited = wait_readable(fd.as_fd(), remaining)
                .map_err(|e| DriverError::os("poll the container's pidfd", e))?;
            if !exited {
                return Ok(None);
            }
            let status = reap_pidfd(&fd);
            return Ok(Some(self.record_exit(
                pid,
                status,
                ExitDetection::Pidfd,
                started,
            )));
        }
        if let Some(p) = pid.and_then(Pid::from_raw) {
            // Known pid but no pidfd: gone already?
            if rustix::process::test_kill_process(p).is_err() {
                return Ok(Some(self.record_exit(
                    pid,
                    None,
                    ExitDetection::AlreadyGone,
                    started,
                )));
            }
        }
        // No pidfd: poll `state` with an exponential backoff under the deadline.
        let mut backoff = BACKOFF_START;
        loop {
            let (_, json) = self.state()?;
            let stopped = json
                .as_ref()
                .and_then(|v| v.get("status"))
                .and_then(|s| s.as_str())
                == Some("stopped");
            if stopped {
                return Ok(Some(self.record_exit(
                    pid,
                    None,
                    ExitDetection::StatePolling,
                    started,
                )));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(backoff.min(deadline - now));
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn record_exit(
        &self,
        pid: Option<i32>,
        status: Option<ProcessExit>,
        detected_by: ExitDetection,
        started: Instant,
    ) -> ExitInfo {
        let info = ExitInfo {
            pid,
            status,
            detected_by,
            waited: started.elapsed(),
        };
        self.session.tracked(&self.id, |t| t.exit = Some(info));
        info
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let s = self.session;
        let (attempted, deleted, pidfd) = s.tracked(&self.id, |t| {
            (t.create_attempted, t.deleted, t.pidfd.clone())
        });
        if !attempted || deleted {
            return;
        }
        s.log(format!("{}: dropped without a successful delete", self.id));
        let alive = pidfd
            .as_ref()
            .map(|fd| !wait_readable(fd.as_fd(), Duration::ZERO).unwrap_or(true))
            .unwrap_or(true);
        if alive {
            if let Ok(inv) = s.runtime.state(&self.id) {
                s.resume_if_paused(&self.id, &inv, "drop");
            }
            match s.runtime.kill(&self.id, "KILL") {
                Ok(inv) => s.log_invocation("drop: kill", &inv),
                Err(e) => s.log(format!("drop: kill {}: {e}", self.id)),
            }
            if let Some(fd) = &pidfd {
                let _ = wait_readable(fd.as_fd(), KILL_WAIT.min(s.runtime.timeout));
            }
        }
        match s.runtime.delete(&self.id, true) {
            Ok(inv) => {
                s.log_invocation("drop: delete", &inv);
                if inv.ok() {
                    s.tracked(&self.id, |t| t.deleted = true);
                }
            }
            Err(e) => s.log(format!("drop: delete {}: {e}", self.id)),
        }
        s.reap(&self.id);
    }
}

fn validate_name(name: &str) -> Result<(), DriverError> {
    let bad = |reason| {
        Err(DriverError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 64 {
        return bad("longer than 64 bytes");
    }
    if name.starts_with(['.', '-']) {
        return bad("starts with '.' or '-'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return bad("only ASCII letters, digits, '_', '-' and '.' are allowed");
    }
    Ok(())
}

fn mkdir(path: &Path, mode: u32) -> Result<(), DriverError> {
    std::fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(|e| DriverError::io("create directory", path, e))
}

/// A random number for the run id (no RNG crate needed: the kernel's).
fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u32::from_ne_bytes(b);
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// Exit status of a pidfd's process if it is our child and has exited; reaps it.
fn reap_pidfd(fd: &OwnedFd) -> Option<ProcessExit> {
    match rustix::process::waitid(
        WaitId::PidFd(fd.as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    ) {
        Ok(Some(st)) => {
            if let Some(code) = st.exit_status() {
                Some(ProcessExit::Code(code))
            } else {
                st.terminating_signal().map(ProcessExit::Signal)
            }
        }
        _ => None,
    }
}

/// Waits (by poll) until every pidfd is readable or the timeout passes.
fn wait_all_exited(fds: &[Arc<OwnedFd>], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<Arc<OwnedFd>> = fds.to_vec();
    while !pending.is_empty() {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let mut polls: Vec<PollFd<'_>> = pending
            .iter()
            .map(|f| PollFd::new(&**f, PollFlags::IN))
            .collect();
        if poll_retry(&mut polls, Some(deadline - now)).is_err() {
            return;
        }
        let done: Vec<bool> = polls.iter().map(|p| !p.revents().is_empty()).collect();
        drop(polls);
        let mut i = 0;
        pending.retain(|_| {
            let keep = !done[i];
            i += 1;
            keep
        });
    }
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// Mount points at or under `dir` in this mount namespace, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = own_mounts()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Directories under `dir` whose name contains `needle` (not descending into a match).
fn find_named(dir: &Path, needle: &str, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 64 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let path = e.path();
        if e.file_name().to_string_lossy().contains(needle) {
            out.push(path);
        } else {
            find_named(&path, needle, depth + 1, out);
        }
    }
}

/// `dir` and every directory under it, children before parents.
fn post_order_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth <= 64 {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    post_order_dirs(&e.path(), depth + 1, out);
                }
            }
        }
    }
    out.push(dir.to_path_buf());
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// A frozen cgroup's processes cannot die: thaw (v1 freezer and v2 cgroup.freeze).
fn thaw(dir: &Path) {
    let v1 = dir.join("freezer.state");
    if v1.exists() {
        let _ = std::fs::write(v1, "THAWED");
    }
    let v2 = dir.join("cgroup.freeze");
    if v2.exists() {
        let _ = std::fs::write(v2, "0");
    }
}

/// `rmdir`, retried with backoff while the kernel still counts exiting tasks (EBUSY).
fn rmdir_retry(dir: &Path) -> io::Result<()> {
    let deadline = Instant::now() + RMDIR_WAIT;
    let mut backoff = BACKOFF_START;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(16) && Instant::now() < deadline => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_name("lifecycle-1.a_b").is_ok());
        for bad in ["", ".x", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn session_layout_and_ids() {
        let s = Session::new(
            "/bin/sh",
            SessionOptions {
                subreaper: false,
                ..SessionOptions::default()
            },
        )
        .unwrap();
        assert!(s
            .run_id()
            .starts_with(&format!("oci-certify-{}-", std::process::id())));
        assert!(s.dir().ends_with(s.run_id()));
        assert!(s.state_root().unwrap().is_dir());
        assert_eq!(s.cgroups_parent(), format!("/{}", s.run_id()));
        assert_eq!(s.cgroups_path("a"), format!("/{}/a", s.run_id()));
        assert_eq!(s.container_id("a"), format!("{}-a", s.run_id()));
        assert_eq!(
            s.runtime().global_args,
            [
                "--root".to_string(),
                s.state_root().unwrap().display().to_string()
            ]
        );
        let c = s
            .container("a", &serde_json::json!({"ociVersion": "1.0.2"}), |r| {
                std::fs::write(r.join("marker"), b"x")
            })
            .unwrap();
        assert!(c.bundle().join("config.json").is_file());
        assert!(c.rootfs().join("marker").is_file());
        assert!(matches!(
            s.container("a", &serde_json::json!({}), |_| Ok(())),
            Err(DriverError::DuplicateName(_))
        ));
        drop(c);
        let dir = s.dir().to_path_buf();
        let report = s.finish();
        assert!(report.is_clean(), "{report}");
        assert!(!dir.exists());
    }

    #[test]
    fn session_is_sync() {
        fn is_sync<T: Sync + Send>() {}
        is_sync::<Session>();
    }
}
