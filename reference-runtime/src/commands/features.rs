//! `features`: what this runtime implements (features.md), and nothing it does not.

use serde_json::{json, Value};

use crate::{capabilities, cgroups, rootfs, sched, seccomp, state};

/// The features document.
pub fn document() -> Value {
    let mut mount_options: Vec<&str> = rootfs::FLAG_OPTIONS.to_vec();
    mount_options.sort_unstable();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": state::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": capabilities::NAMES,
            "cgroup": cgroups::features(),
            "seccomp": {
                "enabled": true,
                "actions": seccomp::ACTIONS,
                "operators": seccomp::OPERATORS,
                "archs": seccomp::NATIVE_ARCH_NAMES,
                "knownFlags": seccomp::FLAGS,
                "supportedFlags": seccomp::FLAGS
            },
            "memoryPolicy": {
                "modes": sched::MEMORY_POLICY_MODES,
                "flags": sched::MEMORY_POLICY_FLAGS
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "dev.oci-certify.reference-runtime.version": env!("CARGO_PKG_VERSION")
        }
    })
}

/// Runs `features`.
pub fn run() -> String {
    serde_json::to_string_pretty(&document()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn declares_versions_and_hooks() {
        let d = super::document();
        assert_eq!(d["ociVersionMax"], "1.3.0");
        assert_eq!(d["hooks"].as_array().unwrap().len(), 6);
        assert_eq!(d["linux"]["capabilities"].as_array().unwrap().len(), 41);
    }
}
