//! `create --bundle DIR [--pid-file F] [--console-socket S] ID`: the parent side of creation.
//!
//! Claims the id, creates the cgroups, forks the bootstrap (see [`crate::init`]) and drives
//! the hand-shake over the [`crate::channel`]: cgroups joined → id mappings written → the
//! init's pid → prestart and createRuntime hooks → `Created`. Then it records the state,
//! writes the pid file and exits, leaving the init blocked until `start`. Any failure undoes
//! everything through a guard (`Undo`): processes killed, cgroups and state removed.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxDeviceType, LinuxIdMapping};

use crate::cgroups::{CgroupError, Cgroups};
use crate::channel::{self, ChannelError, Message};
use crate::hooks::{self, HookError};
use crate::init::{self, InitArgs};
use crate::spec::{self, SpecError};
use crate::state::{self, OciState, Record, StateError, Status, Store};

/// What went wrong creating a container.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The bundle (input).
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The id or the state root.
    #[error(transparent)]
    State(#[from] StateError),
    /// Cgroups.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// The container side failed, or died.
    #[error("container setup: {0}")]
    Channel(#[from] ChannelError),
    /// A prestart or createRuntime hook.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// Some other step (environment).
    #[error("{what}: {detail}")]
    Os {
        /// The step.
        what: &'static str,
        /// The error.
        detail: String,
    },
}

fn os<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> CreateError {
    move |e| CreateError::Os {
        what,
        detail: e.to_string(),
    }
}

/// The verb's arguments.
#[derive(Debug, Clone)]
pub struct Args {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Where to write the container's pid.
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the terminal master.
    pub console_socket: Option<PathBuf>,
}

/// Undoes a half-made container unless disarmed.
struct Undo<'a> {
    store: &'a Store,
    id: String,
    pids: Vec<i32>,
    cgroups: Option<Cgroups>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for pid in &self.pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        for pid in &self.pids {
            // Ours to reap (the bootstrap); the init is reaped by whoever inherits it.
            let _ = waitpid(
                Pid::from_raw(*pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        if let Some(c) = &self.cgroups {
            let _ = c.remove();
        }
        let _ = self.store.remove(&self.id);
    }
}

/// Runs `create`.
pub fn run(store: &Store, args: &Args) -> Result<(), CreateError> {
    state::validate_id(&args.id)?;
    let bundle = spec::load(&args.bundle)?;
    let spec = &bundle.spec;
    let dir = store.claim(&args.id)?;
    let mut undo = Undo {
        store,
        id: args.id.clone(),
        pids: Vec::new(),
        cgroups: None,
        armed: true,
    };
    let linux = spec.linux().clone().unwrap_or_default();
    let listener =
        UnixListener::bind(dir.join(state::START_SOCKET)).map_err(os("bind the start socket"))?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let console = match (&args.console_socket, terminal) {
        (Some(p), true) => Some(UnixStream::connect(p).map_err(os("connect the console socket"))?),
        (None, true) => {
            return Err(CreateError::Spec(SpecError::Invalid(
                "process.terminal is true: --console-socket is required".into(),
            )))
        }
        (_, false) => None,
    };
    let created_devices: Vec<(char, u64, u64)> = linux
        .devices()
        .iter()
        .flatten()
        .filter_map(|d| {
            let t = match d.typ() {
                LinuxDeviceType::B => 'b',
                LinuxDeviceType::C | LinuxDeviceType::U => 'c',
                _ => return None,
            };
            Some((t, d.major() as u64, d.minor() as u64))
        })
        .collect();
    let cgroups = Cgroups::create(
        linux.cgroups_path().as_deref(),
        &args.id,
        linux.resources().as_ref(),
        &created_devices,
    )?;
    undo.cgroups = Some(cgroups.clone());
    let (parent, child) = channel::pair()?;
    let init_args = InitArgs {
        spec: spec.clone(),
        plan: bundle.plan.clone(),
        rootfs: bundle.rootfs.clone(),
        bundle: bundle.path.clone(),
        id: args.id.clone(),
        listener,
        console,
        cgroup2_host: crate::cgroups::unified_host(),
    };
    // SAFETY: `create` is single-threaded (no thread was spawned), so the child may run
    // arbitrary code after fork.
    #[allow(unsafe_code)]
    let bootstrap = match unsafe { nix::unistd::fork() }.map_err(os("fork"))? {
        ForkResult::Child => {
            drop(parent);
            std::mem::forget(undo);
            let code = init::bootstrap(child, init_args);
            std::process::exit(code);
        }
        ForkResult::Parent { child: pid } => pid,
    };
    drop(child);
    drop(init_args);
    undo.pids.push(bootstrap.as_raw());
    cgroups.join(bootstrap.as_raw())?;
    parent.send(&Message::CgroupsJoined)?;
    if bundle.plan.new_user {
        parent.expect(&Message::MapIds, "the request for id mappings")?;
        write_maps(
            bootstrap.as_raw(),
            "uid_map",
            linux.uid_mappings().as_deref(),
        )?;
        write_maps(
            bootstrap.as_raw(),
            "gid_map",
            linux.gid_mappings().as_deref(),
        )?;
        parent.send(&Message::IdsMapped)?;
    }
    let pid = match parent.recv("the init's pid")? {
        Message::InitPid(p) => p,
        got => {
            return Err(ChannelError::Unexpected {
                expected: "the init's pid",
                got,
            }
            .into())
        }
    };
    undo.pids.push(pid);
    match waitpid(bootstrap, None) {
        Ok(WaitStatus::Exited(_, 0)) => {}
        other => return Err(os("the bootstrap process")(format!("{other:?}"))),
    }
    undo.pids.retain(|p| *p != bootstrap.as_raw());
    cgroups.apply_deferred()?;
    parent.send(&Message::YourPid(pid))?;
    parent.expect(&Message::RunRuntimeHooks, "the request for runtime hooks")?;
    let annotations = spec.annotations().clone().unwrap_or_default();
    let hook_state = OciState {
        oci_version: state::OCI_VERSION.into(),
        id: args.id.clone(),
        status: Status::Creating,
        pid: Some(pid),
        bundle: bundle.path.clone(),
        annotations: annotations.clone().into_iter().collect(),
    };
    let hooks = spec.hooks().clone().unwrap_or_default();
    let poststop = hooks.poststop().clone().unwrap_or_default();
    let ran = hooks::run_all(
        "prestart",
        hooks.prestart().as_deref().unwrap_or(&[]),
        &hook_state,
    )
    .and_then(|()| {
        hooks::run_all(
            "createRuntime",
            hooks.create_runtime().as_deref().unwrap_or(&[]),
            &hook_state,
        )
    });
    if let Err(e) = ran {
        let _ = parent.send(&Message::Error(e.to_string()));
        fail_with_poststop(&mut undo, &poststop, &hook_state);
        return Err(e.into());
    }
    parent.send(&Message::RuntimeHooksDone)?;
    if let Err(e) = parent.expect(&Message::Created, "the container to be created") {
        if matches!(&e, ChannelError::Peer(t) if t.starts_with("createContainer hooks")) {
            fail_with_poststop(&mut undo, &poststop, &hook_state);
        }
        return Err(e.into());
    }
    let start_time = state::proc_stat(pid)
        .map(|(t, _)| t)
        .ok_or_else(|| os("read the init's start time")("it exited"))?;
    let record = Record {
        id: args.id.clone(),
        pid,
        start_time,
        bundle: bundle.path.clone(),
        annotations: annotations.into_iter().collect(),
        started: false,
        cgroups: cgroups.dirs.clone(),
        poststart: hooks.poststart().clone().unwrap_or_default(),
        poststop,
        created: state::now(),
    };
    store.save(&record)?;
    if let Some(f) = &args.pid_file {
        state::write_atomic(f, &pid.to_string()).map_err(os("write the pid file"))?;
    }
    undo.armed = false;
    Ok(())
}

/// A create-phase hook failed: the container is destroyed and the poststop hooks run
/// (runtime.md lifecycle, steps 12 and 13).
fn fail_with_poststop(undo: &mut Undo<'_>, poststop: &[oci_spec::runtime::Hook], st: &OciState) {
    let pids = std::mem::take(&mut undo.pids);
    for pid in &pids {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    if let Some(c) = undo.cgroups.take() {
        let _ = c.remove();
    }
    let stopped = OciState {
        status: Status::Stopped,
        pid: None,
        ..st.clone()
    };
    hooks::run_all_warn("poststop", poststop, &stopped);
}

fn write_maps(pid: i32, file: &str, maps: Option<&[LinuxIdMapping]>) -> Result<(), CreateError> {
    let text: String = maps
        .unwrap_or(&[])
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = Path::new("/proc").join(pid.to_string()).join(file);
    std::fs::write(&path, text).map_err(os("write the id mappings"))
}
