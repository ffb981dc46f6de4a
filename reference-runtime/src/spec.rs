//! Reading and vetting a bundle's `config.json` before anything is created, so that a config
//! this runtime cannot honour fails `create` with nothing left behind.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::namespaces::Plan;

/// What is wrong with the bundle (input).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The bundle directory is not usable.
    #[error("bundle {path}: {source}")]
    Bundle {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// config.json does not parse.
    #[error("{path}: {detail}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The config asks for something invalid or unimplemented.
    #[error("config.json: {0}")]
    Invalid(String),
}

/// A vetted bundle.
pub struct Bundle {
    /// Absolute bundle path.
    pub path: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// The config.
    pub spec: Spec,
    /// Its namespace plan.
    pub plan: Plan,
}

/// Loads and checks `dir/config.json`.
pub fn load(dir: &Path) -> Result<Bundle, SpecError> {
    let path = std::fs::canonicalize(dir).map_err(|source| SpecError::Bundle {
        path: dir.to_path_buf(),
        source,
    })?;
    let config = path.join("config.json");
    let bytes = std::fs::read(&config).map_err(|source| SpecError::Bundle {
        path: config.clone(),
        source,
    })?;
    let spec: Spec = serde_json::from_slice(&bytes).map_err(|e| SpecError::Parse {
        path: config.clone(),
        detail: e.to_string(),
    })?;
    vet(&spec)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::Invalid("root is required on Linux".into()))?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        path.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|source| SpecError::Bundle {
        path: rootfs.clone(),
        source,
    })?;
    let linux = spec.linux().clone().unwrap_or_default();
    let plan = Plan::new(linux.namespaces().as_deref().unwrap_or(&[]))
        .map_err(|e| SpecError::Invalid(e.to_string()))?;
    if !plan.has(LinuxNamespaceType::Mount) {
        return Err(SpecError::Invalid(
            "this runtime needs a mount namespace (it pivots into the rootfs)".into(),
        ));
    }
    if (spec.hostname().is_some() || spec.domainname().is_some())
        && !plan.has(LinuxNamespaceType::Uts)
    {
        return Err(SpecError::Invalid(
            "hostname or domainname set without a UTS namespace".into(),
        ));
    }
    let maps = linux.uid_mappings().is_some() || linux.gid_mappings().is_some();
    if plan.new_user && !maps {
        return Err(SpecError::Invalid(
            "a new user namespace needs uidMappings and gidMappings".into(),
        ));
    }
    if linux.time_offsets().is_some()
        && !plan
            .create
            .contains(crate::namespaces::flag(LinuxNamespaceType::Time))
    {
        return Err(SpecError::Invalid(
            "timeOffsets need a new time namespace".into(),
        ));
    }
    if maps && !plan.new_user {
        return Err(SpecError::Invalid(
            "uidMappings and gidMappings need a new user namespace".into(),
        ));
    }
    Ok(Bundle {
        path,
        rootfs,
        spec,
        plan,
    })
}

/// Rejects what this runtime does not implement rather than ignore it.
fn vet(spec: &Spec) -> Result<(), SpecError> {
    let no = |what: &str| {
        Err(SpecError::Invalid(format!(
            "{what} is not supported by this runtime"
        )))
    };
    let version = spec.version();
    let major = version.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(SpecError::Invalid(format!(
            "ociVersion {version:?} is not a 1.x version"
        )));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::Invalid("process is required by create".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(SpecError::Invalid("process.args must not be empty".into()));
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::Invalid("process.cwd must be absolute".into()));
    }
    let mut seen = Vec::new();
    for r in process.rlimits().iter().flatten() {
        if seen.contains(&r.typ()) {
            return Err(SpecError::Invalid(format!(
                "process.rlimits lists {} more than once",
                r.typ()
            )));
        }
        seen.push(r.typ());
    }
    if process.apparmor_profile().is_some() {
        return no("process.apparmorProfile");
    }
    if process.selinux_label().is_some() {
        return no("process.selinuxLabel");
    }
    if process.exec_cpu_affinity().is_some() {
        return no("process.execCPUAffinity");
    }
    if let Some(l) = spec.linux() {
        if l.mount_label().is_some() {
            return no("linux.mountLabel");
        }
        if l.intel_rdt().is_some() {
            return no("linux.intelRdt");
        }
        if l.net_devices().is_some() {
            return no("linux.netDevices");
        }
        if l.personality()
            .as_ref()
            .is_some_and(|p| p.flags().as_ref().is_some_and(|f| !f.is_empty()))
        {
            return no("linux.personality.flags");
        }
        if l.seccomp()
            .as_ref()
            .is_some_and(|s| s.listener_path().is_some())
        {
            return no("linux.seccomp.listenerPath");
        }
        if let Some(s) = l.seccomp() {
            // Compiled again by the init at start; here so a bad profile fails `create`.
            crate::seccomp::check_archs(s)
                .and_then(|()| crate::seccomp::compile(s).map(drop))
                .map_err(|e| SpecError::Invalid(e.to_string()))?;
        }
    }
    for m in spec.mounts().iter().flatten() {
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return no("idmapped mounts");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(config: serde_json::Value) -> (PathBuf, Result<Bundle, SpecError>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("refrt-spec-{}-{n}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let r = load(&dir);
        (dir, r)
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"args": ["/x"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "hostname": "h",
            "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}]}
        })
    }

    #[test]
    fn accepts_a_plain_config() {
        let (dir, r) = bundle(base());
        let b = r.unwrap();
        assert!(b.rootfs.ends_with("rootfs"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rejects_what_it_cannot_honour() {
        for (pointer, value) in [
            ("/hostname", serde_json::json!("h")),
            ("/process/apparmorProfile", serde_json::json!("p")),
            ("/ociVersion", serde_json::json!("2.0.0")),
            ("/process/cwd", serde_json::json!("rel")),
            (
                "/process/rlimits",
                serde_json::json!([
                    {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                    {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}
                ]),
            ),
        ] {
            let mut c = base();
            if pointer == "/hostname" {
                c["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
            } else {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                c.pointer_mut(if parent.is_empty() { "" } else { parent })
                    .unwrap()[key] = value;
            }
            let (dir, r) = bundle(c);
            assert!(matches!(r, Err(SpecError::Invalid(_))), "{pointer}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
