//! Generated bundles: a base `config.json` shaped like `runc spec`, that each group edits for
//! the behaviour it tests, and a rootfs holding only the probe.
//!
//! The base claims `ociVersion` 1.0.2 and uses only properties that version defines, because
//! runtimes in the field (crun 1.8.1) refuse newer version strings; a group that tests a newer
//! property says so by raising the version itself.

use std::io;
use std::path::Path;

use serde_json::{json, Value};

use crate::probe;

/// The argv that runs the probe with `args`.
pub fn probe_args(args: &[&str]) -> Value {
    let mut v = vec![probe::PATH_IN_ROOTFS.to_string()];
    v.extend(args.iter().map(|a| a.to_string()));
    json!(v)
}

/// A base config: the probe as the process, the default mounts and namespaces of `runc spec`,
/// its cgroup under the session's parent so leftovers are detectable.
pub fn base_config(args: &[&str], cgroups_path: &str) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": probe_args(args),
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "oci-certify",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Fills a rootfs with the probe and the empty directories the base mounts need.
pub fn prepare_rootfs(rootfs: &Path) -> io::Result<()> {
    probe::install(rootfs)?;
    for dir in ["proc", "dev", "sys", "tmp", "scratch"] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    // A world-readable file the process group masks.
    std::fs::write(rootfs.join("masked-file"), b"visible unless masked\n")?;
    // World-writable, so that only a read-only root can make a write to /tmp fail.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))
}
