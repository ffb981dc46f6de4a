//! The terminal (config.md#process `terminal`, config-linux.md#default-devices
//! `/dev/console`): a container with `process.terminal: true` is created with
//! `--console-socket`; the runtime sends the pseudoterminal's master over that Unix socket
//! (SCM_RIGHTS), the suite reads the probe's report from the master, and judges that the
//! process's standard streams are the terminal and that /dev/console is a bind of it.

use std::io::{IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use oci_certify_core::check::{Failure, Outcome};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde_json::json;

use crate::bundles::{base_config, prepare_rootfs};
use crate::cli::{wait_readable, ContainerStdio};
use crate::driver::CreateOptions;
use crate::engine::{at_invocation, harness, inside, set, Ctx};
use crate::error::DriverError;
use crate::probe::{mount_at, Observation};

const GROUP: &str = "terminal";
const CONSOLE: &str = "runtime.config-linux.default-devices.dev-console";
const TERMINAL: &str = "runtime.config.process.terminal-optional";

/// The requirements this group judges.
pub const IDS: &[&str] = &[CONSOLE, TERMINAL];

/// Output read from a terminal master at most.
const LIMIT: usize = 1 << 20;

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    if let Err(e) = terminal(ctx) {
        ctx.record_all(GROUP, IDS, &harness(&e));
    }
    ctx.runner.finish_group(GROUP);
}

fn terminal(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let name = "terminal";
    let mut config = base_config(&["report"], &ctx.session.cgroups_path(name));
    set(&mut config, "/process/terminal", json!(true));
    set(
        &mut config,
        "/process/consoleSize",
        json!({"height": 30, "width": 100}),
    );
    let socket = ctx.session.dir().join("console-terminal.sock");
    let listener = UnixListener::bind(&socket).map_err(|e| DriverError::io("bind", &socket, e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| DriverError::io("set non-blocking", &socket, e))?;
    let mut c = ctx.session.container(name, &config, prepare_rootfs)?;
    let create = c.create_with(CreateOptions {
        pid_file: true,
        console_socket: Some(socket.clone()),
        stdio: ContainerStdio::Terminal,
    })?;
    if !create.ok() {
        let o = Outcome::fail(
            at_invocation(&create, "create with a terminal failed").expected("exit 0"),
        );
        ctx.record_all(GROUP, IDS, &o);
        return Ok(());
    }
    let master = match receive_master(&listener, ctx.opts.exit_timeout) {
        Ok(fd) => fd,
        Err(why) => {
            let o = Outcome::fail(
                at_invocation(
                    &create,
                    format!("no terminal came over --console-socket: {why}"),
                )
                .expected("the pseudoterminal master, sent with SCM_RIGHTS during create"),
            );
            ctx.record_all(GROUP, IDS, &o);
            let _ = c.delete(true);
            return Ok(());
        }
    };
    let start = c.start()?;
    let output = read_master(master, ctx.opts.exit_timeout);
    let _ = c.wait_exit(ctx.opts.exit_timeout);
    let _ = c.delete(true);
    let _ = std::fs::remove_file(&socket);
    // The terminal's line discipline turns "\n" into "\r\n".
    let text = String::from_utf8_lossy(&output).replace("\r\n", "\n");
    let obs = match Observation::parse(text.as_bytes()) {
        Ok(o) => o,
        Err(e) => {
            let o = Outcome::fail(
                at_invocation(
                    &start,
                    format!("the probe's report did not come through the terminal: {e}"),
                )
                .expected("the report on the pseudoterminal"),
            );
            ctx.record_all(GROUP, IDS, &o);
            return Ok(());
        }
    };
    judge(ctx, &obs);
    Ok(())
}

fn judge(ctx: &Ctx<'_, '_>, obs: &Observation) {
    let ptys: Vec<Option<&str>> = obs.stdio.iter().map(|s| s.as_deref()).collect();
    let all_pty = ptys.len() == 3
        && ptys
            .iter()
            .all(|p| p.is_some_and(|p| p.starts_with("/dev/pts/")))
        && ptys.windows(2).all(|w| w[0] == w[1]);
    ctx.record(
        GROUP,
        None,
        TERMINAL,
        if all_pty {
            Outcome::pass()
        } else {
            Outcome::fail(
                Failure::new("the process's standard streams are not one pseudoterminal")
                    .expected("fds 0, 1 and 2 on the same /dev/pts/N")
                    .actual(format!("{ptys:?}"))
                    .at(inside("/proc/self/fd/0..2")),
            )
        },
    );
    let outcome = match obs.mounts() {
        Err(e) => Outcome::fail(Failure::new(e.to_string()).at(inside("mountinfo"))),
        Ok(mounts) => match mount_at(&mounts, "/dev/console") {
            Some(m) if m.fs_type == "devpts" => Outcome::pass(),
            other => Outcome::fail(
                Failure::new("/dev/console is not a bind mount of the container's terminal")
                    .expected("a devpts bind mount at /dev/console")
                    .actual(format!(
                        "{:?}",
                        other.map(|m| format!("{} {} root {}", m.mount_point, m.fs_type, m.root))
                    ))
                    .at(inside("mountinfo")),
            ),
        },
    };
    ctx.record(GROUP, None, CONSOLE, outcome);
}

/// Accepts the runtime's connection and takes the file descriptor it sends.
fn receive_master(listener: &UnixListener, timeout: Duration) -> Result<OwnedFd, String> {
    let deadline = Instant::now() + timeout;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err("the runtime never connected".into());
                }
                wait_readable(listener.as_fd(), left).map_err(|e| e.to_string())?;
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if !wait_readable(stream.as_fd(), left).map_err(|e| e.to_string())? {
        return Err("the runtime connected but sent nothing".into());
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    rustix::net::recvmsg(&stream, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg: {e}"))?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = msg {
            fds.extend(rights);
        }
    }
    let mut fds = fds.into_iter();
    match (fds.next(), fds.next()) {
        (Some(fd), None) => Ok(fd),
        (Some(fd), Some(_)) => Ok(fd),
        (None, _) => Err("a message without a file descriptor".into()),
    }
}

/// Reads the master until the terminal closes (EIO once the slave side is gone) or `timeout`.
fn read_master(master: OwnedFd, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < LIMIT {
        let left = deadline.saturating_duration_since(Instant::now());
        match wait_readable(file.as_fd(), left) {
            Ok(true) => {}
            _ => break,
        }
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}
