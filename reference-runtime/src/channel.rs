//! The typed channel between the creating process (`create`) and the container's init: a
//! `SOCK_SEQPACKET` socket pair carrying one JSON-encoded [`Message`] per packet, so every
//! step of the hand-shake is a named variant rather than a byte on a pipe.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Largest message (error texts are the big ones).
const MAX_MESSAGE: usize = 64 * 1024;

/// The steps of creation, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// create → bootstrap: the cgroups are joined, go on.
    CgroupsJoined,
    /// bootstrap → create: I unshared the user namespace, write my id mappings.
    MapIds,
    /// create → bootstrap: mappings written.
    IdsMapped,
    /// bootstrap → create: the init's host pid (it was forked into the new namespaces).
    InitPid(i32),
    /// create → init: your host pid (hooks are given it).
    YourPid(i32),
    /// init → create: the mounts are in place; run prestart and createRuntime hooks.
    RunRuntimeHooks,
    /// create → init: the runtime hooks ran, go on.
    RuntimeHooksDone,
    /// init → create: the container is created and waits for `start`.
    Created,
    /// Either side: a step failed; the text says what.
    Error(String),
}

/// What went wrong on the channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The socket failed (environment).
    #[error("channel: {0}")]
    Os(#[from] nix::errno::Errno),
    /// The peer closed the channel (it died).
    #[error("the other side of the channel exited before {expected}")]
    Closed {
        /// What was expected.
        expected: &'static str,
    },
    /// A packet that is not a message (harness bug).
    #[error("channel: undecodable message: {0}")]
    Decode(#[from] serde_json::Error),
    /// The peer reported an error.
    #[error("{0}")]
    Peer(String),
    /// The peer sent another step than expected.
    #[error("channel: expected {expected}, got {got:?}")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
        /// What came.
        got: Message,
    },
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair (close-on-exec).
pub fn pair() -> Result<(Channel, Channel), ChannelError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Sends one message.
    pub fn send(&self, msg: &Message) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(msg)?;
        loop {
            match send(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd.as_fd()),
                &bytes,
                MsgFlags::MSG_NOSIGNAL,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EPIPE) | Err(nix::errno::Errno::ECONNRESET) => {
                    return Err(ChannelError::Closed { expected: "a send" })
                }
                r => return r.map(drop).map_err(Into::into),
            }
        }
    }

    /// Receives one message; an `Error` from the peer becomes [`ChannelError::Peer`].
    pub fn recv(&self, expected: &'static str) -> Result<Message, ChannelError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let n = loop {
            match recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd.as_fd()),
                &mut buf,
                MsgFlags::empty(),
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::ECONNRESET) => {
                    return Err(ChannelError::Closed { expected })
                }
                r => break r?,
            }
        };
        if n == 0 {
            return Err(ChannelError::Closed { expected });
        }
        match serde_json::from_slice(&buf[..n])? {
            Message::Error(text) => Err(ChannelError::Peer(text)),
            m => Ok(m),
        }
    }

    /// Receives one message and checks it is `want`.
    pub fn expect(&self, want: &Message, expected: &'static str) -> Result<(), ChannelError> {
        let got = self.recv(expected)?;
        if &got == want {
            Ok(())
        } else {
            Err(ChannelError::Unexpected { expected, got })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_errors_surface() {
        let (a, b) = pair().unwrap();
        a.send(&Message::InitPid(42)).unwrap();
        assert_eq!(b.recv("pid").unwrap(), Message::InitPid(42));
        b.send(&Message::Error("mount failed".into())).unwrap();
        assert!(matches!(a.recv("x"), Err(ChannelError::Peer(t)) if t == "mount failed"));
        a.send(&Message::Created).unwrap();
        assert!(matches!(
            b.expect(&Message::CgroupsJoined, "joined"),
            Err(ChannelError::Unexpected { .. })
        ));
        drop(a);
        assert!(matches!(b.recv("y"), Err(ChannelError::Closed { .. })));
    }
}
