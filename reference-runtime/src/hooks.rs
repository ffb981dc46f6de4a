//! Hooks (config.md "POSIX-platform Hooks"): each runs with the container's state JSON on its
//! stdin, its own args and env, and an optional timeout after which it is killed. The hook
//! kinds differ only in who runs them and when (see the crate docs' lifecycle table).

use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

use crate::state::OciState;

/// What went wrong running a hook (the hook is the bundle author's: input).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The hook could not be started.
    #[error("{kind} hook {path}: cannot run: {source}")]
    Spawn {
        /// Hook kind.
        kind: &'static str,
        /// Its path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It exited unsuccessfully.
    #[error("{kind} hook {path} failed: {status}")]
    Failed {
        /// Hook kind.
        kind: &'static str,
        /// Its path.
        path: String,
        /// Its exit status.
        status: String,
    },
    /// It ran longer than its timeout and was killed.
    #[error("{kind} hook {path} timed out after {secs} s")]
    Timeout {
        /// Hook kind.
        kind: &'static str,
        /// Its path.
        path: String,
        /// The timeout.
        secs: i64,
    },
}

/// Runs `hooks` in order with `state` on stdin; stops at the first failure.
pub fn run_all(kind: &'static str, hooks: &[Hook], state: &OciState) -> Result<(), HookError> {
    let json = serde_json::to_vec(state).unwrap_or_default();
    hooks.iter().try_for_each(|h| run_one(kind, h, &json))
}

/// Runs every hook even when some fail (poststop): each failure is a warning on stderr.
pub fn run_all_warn(kind: &'static str, hooks: &[Hook], state: &OciState) {
    let json = serde_json::to_vec(state).unwrap_or_default();
    for h in hooks {
        if let Err(e) = run_one(kind, h, &json) {
            eprintln!("oci-reference-runtime: warning: {e}");
        }
    }
}

fn run_one(kind: &'static str, hook: &Hook, state: &[u8]) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let pidfd = pidfd_open(child.id() as i32);
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return if status.success() {
                Ok(())
            } else {
                Err(HookError::Failed {
                    kind,
                    path,
                    status: status.to_string(),
                })
            };
        }
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining == Some(Duration::ZERO) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Timeout {
                kind,
                path,
                secs: hook.timeout().unwrap_or(0),
            });
        }
        match &pidfd {
            Some(fd) => {
                let ms = remaining
                    .map(|r| r.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(-1);
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE),
                );
            }
            // No pidfds (old kernel): bounded polling.
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// pidfd_open(2), when the kernel has it.
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no memory
    // is passed.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    #[allow(unsafe_code)]
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn state() -> OciState {
        OciState {
            oci_version: "1.3.0".into(),
            id: "c".into(),
            status: Status::Creating,
            pid: Some(1),
            bundle: "/b".into(),
            annotations: Default::default(),
        }
    }

    fn hook(args: &[&str], timeout: Option<i64>) -> Hook {
        let mut h = Hook::default();
        h.set_path("/bin/sh".into());
        h.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        h.set_timeout(timeout);
        h
    }

    #[test]
    fn state_on_stdin_and_failures() {
        let dir = std::env::temp_dir().join(format!("refrt-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let script = format!("cat > {}", out.display());
        run_all("prestart", &[hook(&["sh", "-c", &script], None)], &state()).unwrap();
        let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(got["status"], "creating");
        assert_eq!(got["id"], "c");
        let e = run_all(
            "poststart",
            &[hook(&["sh", "-c", "exit 3"], None)],
            &state(),
        );
        assert!(matches!(e, Err(HookError::Failed { .. })));
        let t = Instant::now();
        let e = run_all(
            "prestart",
            &[hook(&["sh", "-c", "sleep 30"], Some(1))],
            &state(),
        );
        assert!(matches!(e, Err(HookError::Timeout { .. })));
        assert!(t.elapsed() < Duration::from_secs(10));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
