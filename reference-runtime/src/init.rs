//! The container side of `create`, in two processes:
//!
//! * **bootstrap** (forked by `create`): waits until it is in the cgroups, joins the
//!   namespaces given by path, creates the user namespace (and waits for its id mappings),
//!   creates the other namespaces, and forks the init, which is therefore inside the new PID
//!   namespace; it reports the init's pid and exits;
//! * **init**: builds the filesystem, asks `create` to run the runtime hooks, runs the
//!   createContainer hooks, pivots, finishes the container (sysctls, hostname, masked paths,
//!   terminal), reports `Created`, then blocks on the start socket. When `start` connects,
//!   it runs the startContainer hooks, becomes the configured process (rlimits, user,
//!   capabilities, no_new_privs, seccomp, cwd, umask) and execs the program. The start
//!   connection is close-on-exec: `start` reads EOF on success, an error line otherwise.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::unistd::{ForkResult, Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::capabilities::{self, Sets};
use crate::channel::{Channel, Message};
use crate::namespaces::Plan;
use crate::rootfs::Rootfs;
use crate::state::{OciState, Status};
use crate::sys::{Linux, Syscall};
use crate::{console, hooks, seccomp};

/// What went wrong inside the container's setup (the message travels back to `create` or
/// `start`, which prints it).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A step failed.
    #[error("{step}: {detail}")]
    Step {
        /// Which step.
        step: &'static str,
        /// The error.
        detail: String,
    },
}

fn step<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> InitError {
    move |e| InitError::Step {
        step,
        detail: e.to_string(),
    }
}

/// Everything the container side needs, prepared by `create` before the fork.
pub struct InitArgs {
    /// The config.
    pub spec: Spec,
    /// The namespace plan.
    pub plan: Plan,
    /// Absolute rootfs.
    pub rootfs: PathBuf,
    /// Absolute bundle.
    pub bundle: PathBuf,
    /// Container id.
    pub id: String,
    /// The start socket, listening.
    pub listener: UnixListener,
    /// The console socket, connected, when the process wants a terminal.
    pub console: Option<UnixStream>,
    /// The host's /sys/fs/cgroup is cgroup v2.
    pub cgroup2_host: bool,
}

impl InitArgs {
    fn state(&self, status: Status, pid: i32) -> OciState {
        OciState {
            oci_version: crate::state::OCI_VERSION.into(),
            id: self.id.clone(),
            status,
            pid: Some(pid),
            bundle: self.bundle.clone(),
            annotations: self
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }
    }
}

/// The bootstrap process; returns its exit code.
pub fn bootstrap(chan: Channel, args: InitArgs) -> i32 {
    match bootstrap_inner(&chan, args) {
        Ok(code) => code,
        Err(e) => {
            let _ = chan.send(&Message::Error(e.to_string()));
            1
        }
    }
}

fn bootstrap_inner(chan: &Channel, args: InitArgs) -> Result<i32, InitError> {
    let sys = Linux;
    chan.expect(&Message::CgroupsJoined, "the cgroups")
        .map_err(step("wait for the cgroups"))?;
    args.plan.join_all(&sys).map_err(step("join namespaces"))?;
    if args.plan.new_user {
        sys.unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(step("create the user namespace"))?;
        chan.send(&Message::MapIds)
            .map_err(step("ask for id mappings"))?;
        chan.expect(&Message::IdsMapped, "the id mappings")
            .map_err(step("wait for id mappings"))?;
    }
    if args.plan.has(LinuxNamespaceType::User) {
        // Become root of the user namespace (if 0 is mapped): the setup needs it.
        let _ = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0));
        let _ = nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0));
    }
    args.plan
        .unshare_rest(&sys)
        .map_err(step("create namespaces"))?;
    // Offsets of a new time namespace must be set before a process enters it (the fork).
    for (clock, off) in args
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
        .unwrap_or_default()
    {
        let line = format!(
            "{clock} {} {}",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        );
        sys.write_file(Path::new("/proc/self/timens_offsets"), &line)
            .map_err(step("timeOffsets"))?;
    }
    // SAFETY: this process is single-threaded (forked from the single-threaded `create`), so
    // the child may run arbitrary code.
    #[allow(unsafe_code)]
    match unsafe { nix::unistd::fork() }.map_err(step("fork the init"))? {
        ForkResult::Child => Ok(init(chan, args)),
        ForkResult::Parent { child } => {
            chan.send(&Message::InitPid(child.as_raw()))
                .map_err(step("report the init's pid"))?;
            Ok(0)
        }
    }
}

/// The init process; returns only on failure (its exit code).
fn init(chan: &Channel, args: InitArgs) -> i32 {
    let conn = match setup(chan, &args) {
        Ok(conn) => conn,
        Err(e) => {
            let _ = chan.send(&Message::Error(e.to_string()));
            return 1;
        }
    };
    // Created: from here errors go to `start`.
    let mut conn = conn;
    let e = match become_process(&args, &mut conn) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = writeln!(conn, "{e}");
    127
}

/// Everything up to `Created`, then waiting for `start`. Returns the start connection.
fn setup(chan: &Channel, args: &InitArgs) -> Result<UnixStream, InitError> {
    let sys = Linux;
    let spec = &args.spec;
    let process = spec.process().as_ref().ok_or(InitError::Step {
        step: "config",
        detail: "no process".into(),
    })?;
    // `create` has reaped the bootstrap and knows our host pid; hooks here get the pid as
    // the container sees it, so the value itself is only kept for diagnostics.
    let _host_pid = match chan
        .recv("the init's host pid")
        .map_err(step("wait for my pid"))?
    {
        Message::YourPid(p) => p,
        other => {
            return Err(InitError::Step {
                step: "wait for my pid",
                detail: format!("unexpected {other:?}"),
            })
        }
    };
    nix::unistd::setsid().map_err(step("setsid"))?;
    if let Some(adj) = process.oom_score_adj() {
        // Still the host's /proc here.
        sys.write_file(Path::new("/proc/self/oom_score_adj"), &adj.to_string())
            .map_err(step("oomScoreAdj"))?;
    }
    let fs = Rootfs {
        sys: &sys,
        root: args.rootfs.clone(),
        bundle: args.bundle.clone(),
        user_ns: args.plan.has(LinuxNamespaceType::User),
        cgroup2_host: args.cgroup2_host,
    };
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    fs.prepare(spec).map_err(step("prepare the rootfs"))?;
    chan.send(&Message::RunRuntimeHooks)
        .map_err(step("ask for the runtime hooks"))?;
    chan.expect(&Message::RuntimeHooksDone, "the runtime hooks")
        .map_err(step("runtime hooks"))?;
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.create_container().clone())
    {
        // The hook runs in the container's PID namespace: the pid as the container sees it.
        let own = nix::unistd::getpid().as_raw();
        hooks::run_all("createContainer", &h, &args.state(Status::Creating, own))
            .map_err(step("createContainer hooks"))?;
    }
    fs.pivot().map_err(step("pivot_root"))?;
    for (k, v) in spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().clone())
        .unwrap_or_default()
    {
        let path = PathBuf::from("/proc/sys").join(k.replace('.', "/"));
        sys.write_file(&path, &v).map_err(step("sysctl"))?;
    }
    if let Some(h) = spec.hostname() {
        sys.sethostname(h).map_err(step("hostname"))?;
    }
    if let Some(d) = spec.domainname() {
        sys.setdomainname(d).map_err(step("domainname"))?;
    }
    if process.terminal() == Some(true) {
        let socket = args.console.as_ref().ok_or(InitError::Step {
            step: "terminal",
            detail: "process.terminal is true but no --console-socket was given".into(),
        })?;
        let (master, name) = console::open_pty().map_err(step("terminal"))?;
        if let Some(size) = process.console_size() {
            console::set_size(
                master.as_raw_fd(),
                size.height() as u32,
                size.width() as u32,
            );
        }
        let console_path = Path::new("/dev/console");
        sys.create_file(console_path)
            .map_err(step("/dev/console"))?;
        sys.mount(
            Some(Path::new(&name)),
            console_path,
            None,
            nix::mount::MsFlags::MS_BIND,
            None,
        )
        .map_err(step("/dev/console"))?;
        let fd: OwnedFd = socket.try_clone().map_err(step("console socket"))?.into();
        console::send_master(&fd, &master, &name).map_err(step("terminal"))?;
        TERMINAL.with(|t| *t.borrow_mut() = Some(name));
    }
    fs.finish(spec).map_err(step("finish the rootfs"))?;
    // Before `Created`, so a limit the kernel refuses fails `create`.
    set_rlimits(process)?;
    if let Some(s) = process.scheduler() {
        crate::sched::set_scheduler(s).map_err(step("scheduler"))?;
    }
    if let Some(m) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().clone())
    {
        crate::sched::set_memory_policy(&m).map_err(step("memoryPolicy"))?;
    }
    if let Some(p) = process.io_priority() {
        crate::sched::set_io_priority(p).map_err(step("ioPriority"))?;
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().clone()) {
        let domain = match p.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        // SAFETY: personality(2) takes an integer and changes only this process's domain.
        #[allow(unsafe_code)]
        let r = unsafe { libc::personality(domain) };
        nix::errno::Errno::result(r).map_err(step("personality"))?;
    }
    chan.send(&Message::Created)
        .map_err(step("report created"))?;
    // Wait for `start`.
    let (mut conn, _) = loop {
        match args.listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r.map_err(step("wait for start"))?,
        }
    };
    let mut word = [0u8; 5];
    conn.read_exact(&mut word)
        .map_err(step("read the start request"))?;
    Ok(conn)
}

thread_local! {
    static TERMINAL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// After `start`: hooks, then the process's identity, then exec. Returns only on failure.
fn become_process(
    args: &InitArgs,
    _conn: &mut UnixStream,
) -> Result<std::convert::Infallible, InitError> {
    let spec = &args.spec;
    let process = spec.process().as_ref().ok_or(InitError::Step {
        step: "config",
        detail: "no process".into(),
    })?;
    if let Some(h) = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().clone())
    {
        // As the container sees it (the hook runs in the container's PID namespace).
        let pid = nix::unistd::getpid().as_raw();
        hooks::run_all("startContainer", &h, &args.state(Status::Created, pid))
            .map_err(step("startContainer hooks"))?;
    }
    if let Some(name) = TERMINAL.with(|t| t.borrow().clone()) {
        console::take_slave(&name).map_err(step("terminal"))?;
    }
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().clone()) {
        Some(s) => {
            seccomp::check_archs(&s).map_err(step("seccomp"))?;
            let prog = seccomp::compile(&s).map_err(step("seccomp"))?;
            Some((s, prog))
        }
        None => None,
    };
    let nnp = process.no_new_privileges() == Some(true);
    if !nnp {
        // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it while we have it.
        if let Some((s, prog)) = &seccomp {
            seccomp::install(s, prog).map_err(step("seccomp"))?;
        }
    }
    let caps = process
        .capabilities()
        .as_ref()
        .map(Sets::from_spec)
        .unwrap_or_default();
    caps.apply_bounding().map_err(step("capabilities"))?;
    set_user(process)?;
    caps.apply_process().map_err(step("capabilities"))?;
    if nnp {
        // SAFETY: prctl with integer arguments only.
        #[allow(unsafe_code)]
        let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        nix::errno::Errno::result(r).map_err(step("noNewPrivileges"))?;
    }
    nix::unistd::chdir(process.cwd()).map_err(step("cwd"))?;
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    let env: Vec<String> = process.env().clone().unwrap_or_default();
    let argv: Vec<String> = process.args().clone().unwrap_or_default();
    let program = resolve(argv.first().map(String::as_str).unwrap_or(""), &env)?;
    let c = |s: &str| CString::new(s).map_err(step("argument with a NUL byte"));
    let cargv = argv.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
    let cenv = env.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
    let cprog = c(&program)?;
    // Nothing of ours survives the exec (the start connection included: EOF means success).
    // SAFETY: close_range with integer arguments only.
    #[allow(unsafe_code)]
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
    if nnp {
        if let Some((s, prog)) = &seccomp {
            seccomp::install(s, prog).map_err(step("seccomp"))?;
        }
    }
    let e = nix::unistd::execve(&cprog, &cargv, &cenv).unwrap_err();
    Err(InitError::Step {
        step: "exec",
        detail: format!("{program}: {e}"),
    })
}

/// The program's path: as given when it has a slash, else the first match on the
/// container's `PATH`.
fn resolve(program: &str, env: &[String]) -> Result<String, InitError> {
    if program.is_empty() {
        return Err(InitError::Step {
            step: "exec",
            detail: "process.args is empty".into(),
        });
    }
    if program.contains('/') {
        return Ok(program.to_string());
    }
    let path = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let candidate = Path::new(dir).join(program);
        if nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK).is_ok() {
            return Ok(candidate.to_string_lossy().into_owned());
        }
    }
    Err(InitError::Step {
        step: "exec",
        detail: format!("{program}: not found on PATH {path}"),
    })
}

fn set_user(process: &Process) -> Result<(), InitError> {
    let user = process.user();
    capabilities::keep_caps(true).map_err(step("user"))?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(Gid::from_raw)
        .collect();
    nix::unistd::setgroups(&groups).map_err(step("additionalGids"))?;
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).map_err(step("gid"))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).map_err(step("uid"))?;
    capabilities::keep_caps(false).map_err(step("user"))?;
    Ok(())
}

/// The libc resource of an rlimit name.
pub fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

fn set_rlimits(process: &Process) -> Result<(), InitError> {
    for r in process.rlimits().iter().flatten() {
        let name = r.typ().to_string();
        let res = rlimit_resource(&name).ok_or(InitError::Step {
            step: "rlimits",
            detail: format!("unknown rlimit {name}"),
        })?;
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads one rlimit struct that lives across the call.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::setrlimit(res, &lim) };
        nix::errno::Errno::result(rc).map_err(|e| InitError::Step {
            step: "rlimits",
            detail: format!("{name} soft {} hard {}: {e}", r.soft(), r.hard()),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_resolution() {
        assert_eq!(resolve("/bin/x", &[]).unwrap(), "/bin/x");
        assert_eq!(
            resolve("sh", &["PATH=/nonexistent:/bin".into()]).unwrap(),
            "/bin/sh"
        );
        assert!(resolve("no-such-program-x", &["PATH=/bin".into()]).is_err());
        assert!(resolve("", &[]).is_err());
    }

    #[test]
    fn rlimit_names() {
        assert_eq!(rlimit_resource("RLIMIT_NOFILE"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(
            oci_spec::runtime::PosixRlimitType::RlimitNofile.to_string(),
            "RLIMIT_NOFILE"
        );
        assert_eq!(rlimit_resource("RLIMIT_BOGUS"), None);
    }
}
