//! Namespaces (config-linux.md "Namespaces"): which to join by path, which to create, and in
//! which order, so that a new user namespace owns the namespaces created after it.

use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use crate::sys::{SysError, Syscall};

/// What went wrong with namespaces.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// The same type is listed twice (input).
    #[error("namespace type {0} is listed more than once")]
    Duplicate(String),
    /// A path to join cannot be opened (input).
    #[error("cannot open namespace {kind} at {path}: {source}")]
    Open {
        /// Type.
        kind: String,
        /// Path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused (environment or input).
    #[error(transparent)]
    Sys(#[from] SysError),
}

/// The clone flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The namespace plan of a config.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Namespaces to join: (type, path).
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Namespaces to create (without the user namespace).
    pub create: CloneFlags,
    /// Create a user namespace.
    pub new_user: bool,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            join: Vec::new(),
            create: CloneFlags::empty(),
            new_user: false,
        }
    }
}

impl Plan {
    /// Builds the plan, rejecting duplicates.
    pub fn new(list: &[LinuxNamespace]) -> Result<Plan, NamespaceError> {
        let mut plan = Plan::default();
        let mut seen = Vec::new();
        for ns in list {
            let t = ns.typ();
            if seen.contains(&t) {
                return Err(NamespaceError::Duplicate(t.to_string()));
            }
            seen.push(t);
            match ns.path() {
                Some(p) => plan.join.push((t, p.clone())),
                None if t == LinuxNamespaceType::User => plan.new_user = true,
                None => plan.create |= flag(t),
            }
        }
        Ok(plan)
    }

    /// Whether the container has a namespace of type `t` (new or joined).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().any(|(j, _)| *j == t)
            || (t == LinuxNamespaceType::User && self.new_user)
            || self.create.contains(flag(t))
    }

    /// Joins the namespaces given by path: a user namespace first (it owns the others).
    pub fn join_all(&self, sys: &dyn Syscall) -> Result<(), NamespaceError> {
        let mut ordered: Vec<_> = self.join.iter().collect();
        ordered.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
        // Open all first: once in another mount namespace the paths may not resolve.
        let mut files = Vec::new();
        for (t, path) in ordered {
            let f = std::fs::File::open(path).map_err(|source| NamespaceError::Open {
                kind: t.to_string(),
                path: path.clone(),
                source,
            })?;
            files.push((*t, f));
        }
        for (t, f) in &files {
            sys.setns(f.as_fd(), flag(*t))?;
        }
        Ok(())
    }

    /// Creates the other new namespaces (after the user namespace, so it owns them).
    pub fn unshare_rest(&self, sys: &dyn Syscall) -> Result<(), NamespaceError> {
        if !self.create.is_empty() {
            sys.unshare(self.create)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::Recorder;

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let mut n = LinuxNamespace::default();
        n.set_typ(t);
        n.set_path(path.map(PathBuf::from));
        n
    }

    #[test]
    fn plan_splits_join_and_create() {
        let plan = Plan::new(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            ns(LinuxNamespaceType::User, None),
        ])
        .unwrap();
        assert!(plan.new_user);
        assert_eq!(plan.create, CloneFlags::CLONE_NEWPID);
        assert_eq!(plan.join.len(), 1);
        assert!(plan.has(LinuxNamespaceType::Network));
        assert!(!plan.has(LinuxNamespaceType::Uts));
        assert!(Plan::new(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::Pid, None)
        ])
        .is_err());
    }

    #[test]
    fn joins_user_first() {
        let plan = Plan::new(&[
            ns(LinuxNamespaceType::Uts, Some("/proc/self/ns/uts")),
            ns(LinuxNamespaceType::User, Some("/proc/self/ns/user")),
        ])
        .unwrap();
        let rec = Recorder::default();
        plan.join_all(&rec).unwrap();
        let calls = rec.calls.borrow();
        assert!(calls[0].contains("NEWUSER"), "{calls:?}");
        assert!(calls[1].contains("NEWUTS"), "{calls:?}");
    }

    #[test]
    fn missing_path_is_an_input_error() {
        let plan = Plan::new(&[ns(LinuxNamespaceType::Uts, Some("/nonexistent/ns"))]).unwrap();
        assert!(matches!(
            plan.join_all(&Recorder::default()),
            Err(NamespaceError::Open { .. })
        ));
    }
}
