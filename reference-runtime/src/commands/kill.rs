//! `kill ID [SIGNAL]`: sends a signal (name with or without `SIG`, or number; default TERM)
//! to the container process, which must be created or running.

use crate::state::{StateError, Status, Store};

/// What went wrong killing a container.
#[derive(Debug, thiserror::Error)]
pub enum KillError {
    /// Unknown id, or the state root.
    #[error(transparent)]
    State(#[from] StateError),
    /// Not a signal (input).
    #[error("unknown signal {0:?}")]
    Signal(String),
    /// Stopped (input).
    #[error("container {0:?} is stopped: there is no process to signal")]
    NotRunning(String),
    /// kill(2) failed.
    #[error("kill: {0}")]
    Os(nix::errno::Errno),
}

/// The number of a signal given as `TERM`, `SIGTERM`, `sigterm` or `15`.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rt) = name.strip_prefix("RTMIN") {
        let off: i32 = if rt.is_empty() {
            0
        } else {
            rt.trim_start_matches('+').parse().ok()?
        };
        return Some(libc::SIGRTMIN() + off);
    }
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

/// Runs `kill`.
pub fn run(store: &Store, id: &str, signal: Option<&str>) -> Result<(), KillError> {
    let record = store.load(id)?;
    let sig = signal.unwrap_or("TERM");
    let n = parse_signal(sig).ok_or_else(|| KillError::Signal(sig.to_string()))?;
    if record.status() == Status::Stopped {
        return Err(KillError::NotRunning(id.to_string()));
    }
    // SAFETY: kill(2) with integer arguments only.
    #[allow(unsafe_code)]
    let r = unsafe { libc::kill(record.pid, n) };
    nix::errno::Errno::result(r)
        .map(drop)
        .map_err(KillError::Os)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_forms() {
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("kill"), Some(9));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("SIGUSR1"), Some(10));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("BOGUS"), None);
    }
}
