//! The terminal (config.md "process.terminal", runtime.md's console socket): the init opens
//! a pseudo-terminal in the container's devpts, sends the master to the `--console-socket`
//! with SCM_RIGHTS, and makes the slave its controlling terminal and stdio.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

/// What went wrong with the terminal.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A pty call failed (environment: no devpts in the container?).
    #[error("terminal: {what}: {errno}")]
    Os {
        /// The step.
        what: &'static str,
        /// Why.
        errno: nix::errno::Errno,
    },
}

fn os(what: &'static str) -> impl FnOnce(nix::errno::Errno) -> ConsoleError {
    move |errno| ConsoleError::Os { what, errno }
}

/// Opens a pty; returns (master, slave path).
pub fn open_pty() -> Result<(OwnedFd, String), ConsoleError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(os("open /dev/ptmx"))?;
    grantpt(&master).map_err(os("grantpt"))?;
    unlockpt(&master).map_err(os("unlockpt"))?;
    let name = ptsname_r(&master).map_err(os("ptsname"))?;
    // SAFETY: into_raw_fd hands over ownership of the master descriptor to the OwnedFd.
    #[allow(unsafe_code)]
    let fd = unsafe {
        <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(
            master,
        ))
    };
    Ok((fd, name))
}

/// Sets the window size of a terminal.
pub fn set_size(fd: RawFd, height: u32, width: u32) {
    let ws = libc::winsize {
        ws_row: height as u16,
        ws_col: width as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct that lives across the call.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

/// Sends `master` over the connected console socket.
pub fn send_master(socket: &OwnedFd, master: &OwnedFd, name: &str) -> Result<(), ConsoleError> {
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(socket.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(os("send the terminal to the console socket"))?;
    Ok(())
}

/// In the container process, just before exec: the slave becomes the controlling terminal
/// and fds 0, 1, 2.
pub fn take_slave(path: &str) -> Result<(), ConsoleError> {
    let slave = nix::fcntl::open(path, OFlag::O_RDWR, nix::sys::stat::Mode::empty())
        .map_err(os("open the terminal"))?;
    // SAFETY: TIOCSCTTY takes an integer argument; the process is a session leader.
    #[allow(unsafe_code)]
    let r = unsafe { libc::ioctl(slave, libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(r).map_err(os("TIOCSCTTY"))?;
    for target in 0..3 {
        nix::unistd::dup2(slave, target).map_err(os("dup2 the terminal"))?;
    }
    if slave > 2 {
        let _ = nix::unistd::close(slave);
    }
    Ok(())
}
