//! What the host can do: cgroup layout, capability bounding set, LSMs, namespaces.
//!
//! The runtime checks turn host limits into skips with reasons (a capability missing from the
//! bounding set cannot be granted by any runtime; a cgroup controller that is not mounted cannot
//! be configured), never into false reds. Everything here is read from `/proc` and `/sys`;
//! the parsers are pure functions so they are tested on fixtures of other hosts' layouts.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Capability names by number (`include/uapi/linux/capability.h`), without the `CAP_` prefix.
pub const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The number of a capability, given as `CAP_SYS_ADMIN`, `SYS_ADMIN` or `sys_admin`.
pub fn cap_number(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    CAPABILITIES
        .iter()
        .position(|c| *c == bare)
        .map(|n| n as u32)
}

/// One line of `/proc/PID/mountinfo` (proc(5)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountEntry {
    /// Unique id of the mount.
    pub mount_id: u64,
    /// Id of the parent mount.
    pub parent_id: u64,
    /// The root of the mount within its filesystem.
    pub root: PathBuf,
    /// Where it is mounted (octal escapes decoded).
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,...`).
    pub options: String,
    /// Filesystem type (`cgroup`, `cgroup2`, `tmpfs`, ...).
    pub fstype: String,
    /// Mount source.
    pub source: String,
    /// Per-superblock options (for cgroup v1: the controllers).
    pub super_options: String,
}

/// Decodes the `\NNN` octal escapes the kernel uses for space, tab, newline and backslash.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') as u32 * 64
                + (bytes[i + 2] - b'0') as u32 * 8
                + (bytes[i + 3] - b'0') as u32;
            if let Ok(b) = u8::try_from(v) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the text of `/proc/PID/mountinfo`; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-")?;
    if sep < 6 || fields.len() < sep + 3 {
        return None;
    }
    Some(MountEntry {
        mount_id: fields[0].parse().ok()?,
        parent_id: fields[1].parse().ok()?,
        root: PathBuf::from(unescape_octal(fields[3])),
        mount_point: PathBuf::from(unescape_octal(fields[4])),
        options: fields[5].to_string(),
        fstype: fields[sep + 1].to_string(),
        source: unescape_octal(fields[sep + 2]),
        super_options: fields.get(sep + 3).copied().unwrap_or("").to_string(),
    })
}

/// Reads and parses this process's mount table.
pub fn own_mounts() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse_mountinfo(&std::fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

/// How the host's cgroups are mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum CgroupMode {
    /// No cgroup filesystem is mounted.
    None,
    /// Only cgroup v1 hierarchies: controller (or `name=NAME` for named hierarchies) → mount.
    V1 {
        /// Controller → mount point; co-mounted controllers share one.
        controllers: BTreeMap<String, PathBuf>,
    },
    /// The unified hierarchy only.
    V2 {
        /// Where cgroup2 is mounted.
        mount: PathBuf,
        /// The controllers of its root (`cgroup.controllers`); empty when parsed from a fixture.
        controllers: Vec<String>,
    },
    /// v1 hierarchies and a cgroup2 mount side by side (systemd's "hybrid" layout).
    Hybrid {
        /// v1 controller → mount point.
        controllers: BTreeMap<String, PathBuf>,
        /// Where cgroup2 is mounted (typically `/sys/fs/cgroup/unified`).
        unified: PathBuf,
        /// The controllers bound to the unified hierarchy.
        unified_controllers: Vec<String>,
    },
}

impl CgroupMode {
    /// The layout described by a mount table. v2 controllers are left empty: they are read
    /// from the live filesystem by [`CgroupMode::detect`].
    pub fn from_mounts(mounts: &[MountEntry]) -> CgroupMode {
        let mut v1: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut v2: Option<PathBuf> = None;
        for m in mounts {
            match m.fstype.as_str() {
                "cgroup" => {
                    for opt in m.super_options.split(',') {
                        if opt.is_empty() || is_generic_cgroup_option(opt) {
                            continue;
                        }
                        v1.entry(opt.to_string())
                            .or_insert_with(|| m.mount_point.clone());
                    }
                }
                // A later mount over the same place wins; keep the first distinct one.
                "cgroup2" if v2.is_none() => v2 = Some(m.mount_point.clone()),
                _ => {}
            }
        }
        match (v1.is_empty(), v2) {
            (true, None) => CgroupMode::None,
            (false, None) => CgroupMode::V1 { controllers: v1 },
            (true, Some(mount)) => CgroupMode::V2 {
                mount,
                controllers: Vec::new(),
            },
            (false, Some(unified)) => CgroupMode::Hybrid {
                controllers: v1,
                unified,
                unified_controllers: Vec::new(),
            },
        }
    }

    /// The layout of this process's mount namespace, with the unified hierarchy's controllers
    /// read from its `cgroup.controllers`.
    pub fn detect() -> CgroupMode {
        let mut mode = own_mounts()
            .map(|m| CgroupMode::from_mounts(&m))
            .unwrap_or(CgroupMode::None);
        match &mut mode {
            CgroupMode::V2 { mount, controllers } => *controllers = read_controllers(mount),
            CgroupMode::Hybrid {
                unified,
                unified_controllers,
                ..
            } => *unified_controllers = read_controllers(unified),
            _ => {}
        }
        mode
    }

    /// `v1`, `v2`, `hybrid` or `none`.
    pub fn name(&self) -> &'static str {
        match self {
            CgroupMode::None => "none",
            CgroupMode::V1 { .. } => "v1",
            CgroupMode::V2 { .. } => "v2",
            CgroupMode::Hybrid { .. } => "hybrid",
        }
    }

    /// The v1 controllers and their mount points (empty for v2 and none).
    pub fn v1_controllers(&self) -> Option<&BTreeMap<String, PathBuf>> {
        match self {
            CgroupMode::V1 { controllers } | CgroupMode::Hybrid { controllers, .. } => {
                Some(controllers)
            }
            _ => None,
        }
    }

    /// Where the unified (v2) hierarchy is mounted, in v2 and hybrid mode.
    pub fn unified(&self) -> Option<&Path> {
        match self {
            CgroupMode::V2 { mount, .. } => Some(mount),
            CgroupMode::Hybrid { unified, .. } => Some(unified),
            _ => None,
        }
    }

    /// Where a controller can be configured: its v1 mount, or the unified mount if the
    /// unified hierarchy lists it.
    pub fn controller_mount(&self, controller: &str) -> Option<&Path> {
        match self {
            CgroupMode::None => None,
            CgroupMode::V1 { controllers } => controllers.get(controller).map(PathBuf::as_path),
            CgroupMode::V2 { mount, controllers } => controllers
                .iter()
                .any(|c| c == controller)
                .then_some(mount.as_path()),
            CgroupMode::Hybrid {
                controllers,
                unified,
                unified_controllers,
            } => controllers
                .get(controller)
                .map(PathBuf::as_path)
                .or_else(|| {
                    unified_controllers
                        .iter()
                        .any(|c| c == controller)
                        .then_some(unified.as_path())
                }),
        }
    }

    /// Every distinct hierarchy mount point (v1 ones and the unified one), sorted.
    pub fn hierarchies(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .v1_controllers()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        if let Some(u) = self.unified() {
            out.push(u.to_path_buf());
        }
        out.sort();
        out.dedup();
        out
    }
}

/// Superblock options of a cgroup v1 mount that are not controllers.
fn is_generic_cgroup_option(opt: &str) -> bool {
    matches!(
        opt,
        "rw" | "ro" | "noprefix" | "xattr" | "clone_children" | "cpuset_v2_mode" | "none"
    ) || opt.starts_with("release_agent=")
}

fn read_controllers(mount: &Path) -> Vec<String> {
    std::fs::read_to_string(mount.join("cgroup.controllers"))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The `CapBnd:` mask of a `/proc/PID/status` text.
pub fn parse_cap_bnd(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The LSM list of `/sys/kernel/security/lsm` (comma separated).
pub fn parse_lsm_list(text: &str) -> Vec<String> {
    text.trim()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the host offers to containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    /// How cgroups are mounted.
    pub cgroup: CgroupMode,
    /// The capability bounding set of this process (`CapBnd`), bit N = capability N.
    pub bounding_caps: u64,
    /// Active LSMs (`/sys/kernel/security/lsm`); empty when unreadable.
    pub lsms: Vec<String>,
    /// AppArmor is enabled (`/sys/module/apparmor/parameters/enabled` is `Y`).
    pub apparmor_enabled: bool,
    /// SELinux is enabled (selinuxfs is mounted).
    pub selinux_enabled: bool,
    /// User namespaces can be created (`/proc/sys/user/max_user_namespaces` > 0).
    pub user_namespaces: bool,
    /// The kernel has time namespaces (`/proc/self/ns/time` exists).
    pub time_namespace: bool,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Effective uid is 0.
    pub is_root: bool,
}

impl HostInfo {
    /// Reads everything from this process's view of the host. Unreadable sources yield the
    /// conservative answer (no capability, no LSM, feature absent).
    pub fn detect() -> HostInfo {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let mounts = own_mounts().unwrap_or_default();
        let lsms = read("/sys/kernel/security/lsm")
            .map(|s| parse_lsm_list(&s))
            .unwrap_or_default();
        HostInfo {
            cgroup: CgroupMode::detect(),
            bounding_caps: read("/proc/self/status")
                .and_then(|s| parse_cap_bnd(&s))
                .unwrap_or(0),
            apparmor_enabled: read("/sys/module/apparmor/parameters/enabled")
                .is_some_and(|s| s.trim_start().starts_with('Y')),
            selinux_enabled: mounts.iter().any(|m| m.fstype == "selinuxfs")
                || Path::new("/sys/fs/selinux/enforce").exists(),
            lsms,
            user_namespaces: read("/proc/sys/user/max_user_namespaces")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0),
            time_namespace: Path::new("/proc/self/ns/time").exists(),
            kernel: rustix::system::uname()
                .release()
                .to_string_lossy()
                .into_owned(),
            is_root: rustix::process::geteuid().is_root(),
        }
    }

    /// Whether the named capability (`CAP_SYS_RESOURCE`, `SYS_RESOURCE` or `sys_resource`)
    /// is in the bounding set. Unknown names are not.
    pub fn cap_in_bounding(&self, name: &str) -> bool {
        cap_number(name).is_some_and(|n| self.bounding_caps & (1u64 << n) != 0)
    }

    /// Names (`CAP_...`) of the known capabilities missing from the bounding set.
    pub fn caps_missing_from_bounding(&self) -> Vec<String> {
        CAPABILITIES
            .iter()
            .enumerate()
            .filter(|(n, _)| self.bounding_caps & (1u64 << n) == 0)
            .map(|(_, c)| format!("CAP_{c}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12 on the project's test machine: systemd hybrid layout.
    const HYBRID: &str = "\
22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    /// A classic v1 host (CentOS 7 style) with co-mounted controllers.
    const V1: &str = "\
18 60 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755
25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
29 24 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,net_prio,net_cls
30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
31 24 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
";

    /// A modern unified host, plus a mount point with an escaped space.
    const V2: &str = "\
26 1 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
27 26 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
90 1 0:50 / /tmp/with\\040space rw,relatime shared:40 - tmpfs tmpfs rw
";

    #[test]
    fn parses_mountinfo_lines() {
        let m = parse_mountinfo(V2);
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].mount_id, 27);
        assert_eq!(m[1].parent_id, 26);
        assert_eq!(m[1].fstype, "cgroup2");
        assert_eq!(m[1].mount_point, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(m[1].super_options, "rw,nsdelegate,memory_recursiveprot");
        assert_eq!(m[2].mount_point, PathBuf::from("/tmp/with space"));
        assert!(parse_mountinfo("garbage line\n\n1 2 3").is_empty());
    }

    #[test]
    fn hybrid_layout() {
        let mode = CgroupMode::from_mounts(&parse_mountinfo(HYBRID));
        assert_eq!(mode.name(), "hybrid");
        let c = mode.v1_controllers().unwrap();
        assert_eq!(c.len(), 9);
        assert_eq!(c["memory"], PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(c["name=systemd"], PathBuf::from("/sys/fs/cgroup/systemd"));
        assert!(!c.contains_key("xattr"));
        assert_eq!(mode.unified(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert_eq!(mode.hierarchies().len(), 10);
        assert_eq!(
            mode.controller_mount("pids"),
            Some(Path::new("/sys/fs/cgroup/pids"))
        );
        assert_eq!(mode.controller_mount("hugetlb"), None);
    }

    #[test]
    fn v1_layout_with_comounted_controllers() {
        let mode = CgroupMode::from_mounts(&parse_mountinfo(V1));
        assert_eq!(mode.name(), "v1");
        let c = mode.v1_controllers().unwrap();
        assert_eq!(c["cpu"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(c["cpuacct"], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(c["net_cls"], c["net_prio"]);
        assert!(c.keys().all(|k| !k.starts_with("release_agent")));
        assert_eq!(mode.unified(), None);
        // Five distinct hierarchies: systemd, cpu+cpuacct, net_cls+net_prio, memory, pids.
        assert_eq!(mode.hierarchies().len(), 5);
    }

    #[test]
    fn v2_layout() {
        let mode = CgroupMode::from_mounts(&parse_mountinfo(V2));
        assert_eq!(
            mode,
            CgroupMode::V2 {
                mount: "/sys/fs/cgroup".into(),
                controllers: vec![]
            }
        );
        assert_eq!(mode.hierarchies(), vec![PathBuf::from("/sys/fs/cgroup")]);
        assert!(mode.v1_controllers().is_none());
        let with = CgroupMode::V2 {
            mount: "/sys/fs/cgroup".into(),
            controllers: vec!["memory".into(), "pids".into()],
        };
        assert_eq!(
            with.controller_mount("pids"),
            Some(Path::new("/sys/fs/cgroup"))
        );
        assert_eq!(with.controller_mount("rdma"), None);
        assert_eq!(CgroupMode::from_mounts(&[]), CgroupMode::None);
    }

    #[test]
    fn capabilities() {
        assert_eq!(cap_number("CAP_CHOWN"), Some(0));
        assert_eq!(cap_number("sys_resource"), Some(24));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(cap_number("CAP_NOPE"), None);
        let status = "Name:\tcat\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n";
        let bnd = parse_cap_bnd(status).unwrap();
        assert_eq!(bnd, 0x1fffeffffff);
        let host = HostInfo {
            cgroup: CgroupMode::None,
            bounding_caps: bnd,
            lsms: vec![],
            apparmor_enabled: false,
            selinux_enabled: false,
            user_namespaces: true,
            time_namespace: true,
            kernel: "6.18".into(),
            is_root: true,
        };
        assert!(host.cap_in_bounding("CAP_SYS_ADMIN"));
        assert!(!host.cap_in_bounding("CAP_SYS_RESOURCE"));
        assert!(host.cap_in_bounding("CAP_CHECKPOINT_RESTORE"));
        assert!(!host.cap_in_bounding("CAP_NOPE"));
        assert_eq!(host.caps_missing_from_bounding(), vec!["CAP_SYS_RESOURCE"]);
    }

    #[test]
    fn lsm_list() {
        assert_eq!(
            parse_lsm_list("lockdown,capability,yama,apparmor\n"),
            vec!["lockdown", "capability", "yama", "apparmor"]
        );
        assert!(parse_lsm_list("").is_empty());
    }

    #[test]
    fn detect_runs_on_this_host() {
        let host = HostInfo::detect();
        assert!(!host.kernel.is_empty());
        // Every Linux process has CAP_CHOWN in its bounding set unless deliberately dropped;
        // what matters here is that the mask was read at all.
        assert_ne!(host.bounding_caps, 0);
    }
}
