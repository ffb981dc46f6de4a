//! Reading a container's cgroup back from the host's cgroup filesystem, for both layouts:
//! cgroup v1 (one hierarchy per controller, or co-mounted ones) and cgroup v2 (the unified
//! hierarchy, where a setting lives in a differently named file and sometimes has another unit).
//!
//! [`Layout`] says where each controller's hierarchy is mounted; [`Layout::read`] reads one
//! [`Setting`] of the cgroup at a path (as `linux.cgroupsPath` gives it, relative to the
//! hierarchy root) and returns the raw text with its parsed [`CgValue`], so a check can show
//! the file and its content as evidence. A hybrid host (v1 controllers plus a controller-less
//! cgroup2 mount) is read as v1: its settings live in the v1 hierarchies.
//!
//! The readers are pure functions of the directory tree, so they are tested on fixture trees
//! of both layouts, whichever layout the machine running the tests has.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::host::CgroupMode;

/// What went wrong reading a cgroup file.
#[derive(Debug, thiserror::Error)]
pub enum CgroupFsError {
    /// The controller is not available on this host (not mounted, or not enabled in v2).
    #[error("the {controller} controller is not available on this host")]
    NoController {
        /// The controller.
        controller: &'static str,
    },
    /// The file could not be read (missing: the runtime did not create the cgroup, or the
    /// kernel lacks the feature).
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not what the kernel writes there.
    #[error("{} holds {raw:?}, which is not a {what}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Its content.
        raw: String,
        /// What was expected.
        what: &'static str,
    },
}

/// The cgroup version of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

/// Where the configurable controllers live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1: controller (`memory`, `cpu`, ...) to the mount of its hierarchy.
    V1 {
        /// Controller to mount point.
        controllers: BTreeMap<String, PathBuf>,
    },
    /// cgroup v2: the unified mount and the controllers its root offers.
    V2 {
        /// The cgroup2 mount point.
        mount: PathBuf,
        /// The root's `cgroup.controllers`.
        controllers: Vec<String>,
    },
}

/// A `linux.resources` setting as the cgroupfs shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    /// `memory.limit`.
    MemoryLimit,
    /// `memory.reservation`.
    MemoryReservation,
    /// `memory.swap` (v1: memory plus swap; v2: the file holds swap only).
    MemorySwap,
    /// `cpu.shares` (v2: `cpu.weight`, a runtime-defined conversion).
    CpuShares,
    /// `cpu.quota`.
    CpuQuota,
    /// `cpu.period`.
    CpuPeriod,
    /// `cpu.cpus`.
    Cpus,
    /// `cpu.mems`.
    Mems,
    /// `pids.limit`.
    PidsLimit,
}

impl Setting {
    /// The config property, e.g. `linux.resources.memory.limit`.
    pub fn property(self) -> &'static str {
        match self {
            Setting::MemoryLimit => "linux.resources.memory.limit",
            Setting::MemoryReservation => "linux.resources.memory.reservation",
            Setting::MemorySwap => "linux.resources.memory.swap",
            Setting::CpuShares => "linux.resources.cpu.shares",
            Setting::CpuQuota => "linux.resources.cpu.quota",
            Setting::CpuPeriod => "linux.resources.cpu.period",
            Setting::Cpus => "linux.resources.cpu.cpus",
            Setting::Mems => "linux.resources.cpu.mems",
            Setting::PidsLimit => "linux.resources.pids.limit",
        }
    }

    /// The controller whose hierarchy holds the setting.
    pub fn controller(self) -> &'static str {
        match self {
            Setting::MemoryLimit | Setting::MemoryReservation | Setting::MemorySwap => "memory",
            Setting::CpuShares | Setting::CpuQuota | Setting::CpuPeriod => "cpu",
            Setting::Cpus | Setting::Mems => "cpuset",
            Setting::PidsLimit => "pids",
        }
    }

    /// The interface file in a layout of `version`.
    pub fn file(self, version: Version) -> &'static str {
        match (version, self) {
            (Version::V1, Setting::MemoryLimit) => "memory.limit_in_bytes",
            (Version::V1, Setting::MemoryReservation) => "memory.soft_limit_in_bytes",
            (Version::V1, Setting::MemorySwap) => "memory.memsw.limit_in_bytes",
            (Version::V1, Setting::CpuShares) => "cpu.shares",
            (Version::V1, Setting::CpuQuota) => "cpu.cfs_quota_us",
            (Version::V1, Setting::CpuPeriod) => "cpu.cfs_period_us",
            (Version::V2, Setting::MemoryLimit) => "memory.max",
            (Version::V2, Setting::MemoryReservation) => "memory.low",
            (Version::V2, Setting::MemorySwap) => "memory.swap.max",
            (Version::V2, Setting::CpuShares) => "cpu.weight",
            (Version::V2, Setting::CpuQuota | Setting::CpuPeriod) => "cpu.max",
            (_, Setting::Cpus) => "cpuset.cpus",
            (_, Setting::Mems) => "cpuset.mems",
            (_, Setting::PidsLimit) => "pids.max",
        }
    }
}

/// A value read from an interface file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgValue {
    /// No limit (`max`, `-1`, or v1's page-rounded `i64::MAX`).
    Max,
    /// A number.
    Num(i64),
    /// A CPU or memory-node list, as a set.
    List(BTreeSet<u32>),
}

impl std::fmt::Display for CgValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CgValue::Max => f.write_str("max"),
            CgValue::Num(n) => write!(f, "{n}"),
            CgValue::List(set) => f.write_str(&format_list(set)),
        }
    }
}

/// One setting read back: the file, its raw content and the parsed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The interface file.
    pub file: PathBuf,
    /// Its content, trimmed.
    pub raw: String,
    /// The parsed value.
    pub value: CgValue,
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {:?}", self.file.display(), self.raw)
    }
}

/// v1 memory files say "unlimited" with `i64::MAX` rounded down to a page.
const V1_UNLIMITED_FLOOR: i64 = i64::MAX - (1 << 20);

impl Layout {
    /// The layout of the host's cgroup mode: v1 for v1 and hybrid hosts, v2 for unified ones.
    pub fn from_mode(mode: &CgroupMode) -> Option<Layout> {
        match mode {
            CgroupMode::None => None,
            CgroupMode::V1 { controllers } | CgroupMode::Hybrid { controllers, .. } => {
                Some(Layout::V1 {
                    controllers: controllers.clone(),
                })
            }
            CgroupMode::V2 { mount, controllers } => Some(Layout::V2 {
                mount: mount.clone(),
                controllers: controllers.clone(),
            }),
        }
    }

    /// v1 or v2.
    pub fn version(&self) -> Version {
        match self {
            Layout::V1 { .. } => Version::V1,
            Layout::V2 { .. } => Version::V2,
        }
    }

    /// The root of the hierarchy holding `controller`, if the host offers it.
    pub fn root(&self, controller: &str) -> Option<&Path> {
        match self {
            Layout::V1 { controllers } => controllers.get(controller).map(PathBuf::as_path),
            Layout::V2 { mount, controllers } => controllers
                .iter()
                .any(|c| c == controller)
                .then_some(mount.as_path()),
        }
    }

    /// The directory of the cgroup `path` (relative to the hierarchy root, leading `/`
    /// optional) in the hierarchy of `controller`.
    pub fn dir(&self, controller: &str, path: &str) -> Option<PathBuf> {
        self.root(controller)
            .map(|root| root.join(path.trim_start_matches('/')))
    }

    /// Whether the kernel offers the interface file of `setting`, at the hierarchy's root or
    /// in a first-level cgroup (roots lack some files: v2 roots have no resource files, v1
    /// roots no `pids.max`). A missing file means the kernel lacks the feature (e.g. swap
    /// accounting off).
    pub fn supports(&self, setting: Setting) -> bool {
        let Some(root) = self.root(setting.controller()) else {
            return false;
        };
        let file = setting.file(self.version());
        root.join(file).exists()
            || std::fs::read_dir(root)
                .map(|rd| {
                    rd.flatten()
                        .any(|e| e.path().is_dir() && e.path().join(file).exists())
                })
                .unwrap_or(false)
    }

    /// Reads `setting` of the cgroup `path`.
    pub fn read(&self, setting: Setting, path: &str) -> Result<Reading, CgroupFsError> {
        let controller = setting.controller();
        let dir = self
            .dir(controller, path)
            .ok_or(CgroupFsError::NoController { controller })?;
        let file = dir.join(setting.file(self.version()));
        let raw = std::fs::read_to_string(&file)
            .map_err(|source| CgroupFsError::Read {
                path: file.clone(),
                source,
            })?
            .trim()
            .to_string();
        let malformed = |what| CgroupFsError::Malformed {
            path: file.clone(),
            raw: raw.clone(),
            what,
        };
        let value = match (self.version(), setting) {
            (_, Setting::Cpus | Setting::Mems) => {
                CgValue::List(parse_list(&raw).ok_or_else(|| malformed("CPU or node list"))?)
            }
            (Version::V2, Setting::CpuQuota | Setting::CpuPeriod) => {
                // cpu.max: "$MAX $PERIOD", MAX being "max" or a number.
                let mut parts = raw.split_whitespace();
                let (Some(quota), Some(period), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(malformed("\"QUOTA PERIOD\" pair"));
                };
                let field = if setting == Setting::CpuQuota {
                    quota
                } else {
                    period
                };
                parse_number(field).ok_or_else(|| malformed("number or max"))?
            }
            _ => parse_number(&raw).ok_or_else(|| malformed("number or max"))?,
        };
        Ok(Reading { file, raw, value })
    }

    /// The cgroup path of the process whose `/proc/PID/cgroup` text is `text` in the hierarchy
    /// of `controller` (v1), or in the unified hierarchy (v2).
    pub fn membership(&self, text: &str, controller: &str) -> Option<String> {
        let lines = parse_proc_cgroup(text);
        match self {
            Layout::V1 { .. } => lines
                .into_iter()
                .find(|l| l.hierarchy_id != 0 && l.controllers.iter().any(|c| c == controller))
                .map(|l| l.path),
            Layout::V2 { .. } => lines
                .into_iter()
                .find(|l| l.hierarchy_id == 0)
                .map(|l| l.path),
        }
    }

    /// The controllers whose membership is worth checking: those that host the resources this
    /// suite sets, and that the host offers.
    pub fn checked_controllers(&self) -> Vec<&'static str> {
        ["memory", "cpu", "cpuset", "pids", "devices"]
            .into_iter()
            .filter(|c| match self {
                // v2 has no devices controller (devices are an eBPF program) and one tree.
                Layout::V2 { .. } => *c == "memory",
                Layout::V1 { .. } => self.root(c).is_some(),
            })
            .collect()
    }
}

/// One line of `/proc/PID/cgroup`: `ID:CONTROLLERS:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCgroupLine {
    /// The hierarchy id (0 for the unified hierarchy).
    pub hierarchy_id: u32,
    /// The controllers bound to it (`name=systemd` included; empty for v2).
    pub controllers: Vec<String>,
    /// The cgroup path relative to the hierarchy root (as the reader's cgroup namespace sees
    /// it).
    pub path: String,
}

/// Parses `/proc/PID/cgroup`; malformed lines are skipped.
pub fn parse_proc_cgroup(text: &str) -> Vec<ProcCgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let id = parts.next()?.parse().ok()?;
            let controllers = parts
                .next()?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            let path = parts.next()?.to_string();
            Some(ProcCgroupLine {
                hierarchy_id: id,
                controllers,
                path,
            })
        })
        .collect()
}

fn parse_number(raw: &str) -> Option<CgValue> {
    match raw.trim() {
        "max" | "-1" => Some(CgValue::Max),
        n => {
            let v: i64 = n.parse().ok()?;
            Some(if v >= V1_UNLIMITED_FLOOR {
                CgValue::Max
            } else {
                CgValue::Num(v)
            })
        }
    }
}

/// Parses a CPU or memory-node list such as `0-3,7` (empty is the empty set).
pub fn parse_list(text: &str) -> Option<BTreeSet<u32>> {
    let mut set = BTreeSet::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b || b - a > 65_536 {
                    return None;
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(part.trim().parse().ok()?);
            }
        }
    }
    Some(set)
}

/// Formats a set as the kernel does (`0-3,7`).
pub fn format_list(set: &BTreeSet<u32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A fake unified hierarchy with one container cgroup, as runc and crun leave it.
    fn v2_tree() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
        write(root, "init.scope/memory.swap.max", "max\n");
        let c = "run/c1";
        write(root, &format!("{c}/memory.max"), "67108864\n");
        write(root, &format!("{c}/memory.low"), "33554432\n");
        write(root, &format!("{c}/memory.swap.max"), "67108864\n");
        write(root, &format!("{c}/cpu.weight"), "20\n");
        write(root, &format!("{c}/cpu.max"), "50000 100000\n");
        write(root, &format!("{c}/cpuset.cpus"), "0-2,5\n");
        write(root, &format!("{c}/cpuset.mems"), "\n");
        write(root, &format!("{c}/pids.max"), "32\n");
        write(root, "run/c2/pids.max", "max\n");
        write(root, "run/c2/cpu.max", "max 100000\n");
        write(root, "run/c2/memory.max", "lots\n");
        let layout = Layout::V2 {
            mount: root.to_path_buf(),
            controllers: ["cpuset", "cpu", "io", "memory", "pids"]
                .map(String::from)
                .to_vec(),
        };
        (dir, layout)
    }

    #[test]
    fn v2_reader() {
        let (_dir, l) = v2_tree();
        assert_eq!(l.version(), Version::V2);
        let num = |s, p| l.read(s, p).unwrap().value;
        assert_eq!(num(Setting::MemoryLimit, "/run/c1"), CgValue::Num(67108864));
        assert_eq!(
            num(Setting::MemoryReservation, "/run/c1"),
            CgValue::Num(33554432)
        );
        assert_eq!(num(Setting::MemorySwap, "run/c1"), CgValue::Num(67108864));
        assert_eq!(num(Setting::CpuShares, "/run/c1"), CgValue::Num(20));
        assert_eq!(num(Setting::CpuQuota, "/run/c1"), CgValue::Num(50000));
        assert_eq!(num(Setting::CpuPeriod, "/run/c1"), CgValue::Num(100000));
        assert_eq!(
            num(Setting::Cpus, "/run/c1"),
            CgValue::List([0, 1, 2, 5].into())
        );
        assert_eq!(num(Setting::Mems, "/run/c1"), CgValue::List([].into()));
        assert_eq!(num(Setting::PidsLimit, "/run/c1"), CgValue::Num(32));
        assert_eq!(num(Setting::PidsLimit, "/run/c2"), CgValue::Max);
        assert_eq!(num(Setting::CpuQuota, "/run/c2"), CgValue::Max);
        let r = l.read(Setting::CpuQuota, "/run/c1").unwrap();
        assert!(r.file.ends_with("run/c1/cpu.max"), "{r}");
        assert_eq!(r.raw, "50000 100000");
        assert!(matches!(
            l.read(Setting::MemoryLimit, "/run/c2"),
            Err(CgroupFsError::Malformed { .. })
        ));
        assert!(matches!(
            l.read(Setting::MemoryLimit, "/run/missing"),
            Err(CgroupFsError::Read { .. })
        ));
        assert!(l.supports(Setting::MemorySwap));
        assert!(!l.supports(Setting::PidsLimit));
        let no_pids = Layout::V2 {
            mount: PathBuf::from("/nonexistent"),
            controllers: vec!["memory".into()],
        };
        assert!(matches!(
            no_pids.read(Setting::PidsLimit, "/x"),
            Err(CgroupFsError::NoController { controller: "pids" })
        ));
        assert!(!no_pids.supports(Setting::PidsLimit));
        let text = "0::/run/c1\n";
        assert_eq!(l.membership(text, "memory").as_deref(), Some("/run/c1"));
        assert_eq!(l.checked_controllers(), vec!["memory"]);
    }

    #[test]
    fn v1_reader() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut controllers = BTreeMap::new();
        for (c, mount) in [
            ("memory", "memory"),
            ("cpu", "cpu,cpuacct"),
            ("cpuacct", "cpu,cpuacct"),
            ("cpuset", "cpuset"),
            ("pids", "pids"),
        ] {
            controllers.insert(c.to_string(), root.join(mount));
        }
        write(
            root,
            "memory/memory.memsw.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(root, "memory/r/c/memory.limit_in_bytes", "67108864\n");
        write(
            root,
            "memory/r/c/memory.soft_limit_in_bytes",
            "9223372036854771712\n",
        );
        write(
            root,
            "memory/r/c/memory.memsw.limit_in_bytes",
            "134217728\n",
        );
        write(root, "cpu,cpuacct/r/c/cpu.shares", "512\n");
        write(root, "cpu,cpuacct/r/c/cpu.cfs_quota_us", "-1\n");
        write(root, "cpu,cpuacct/r/c/cpu.cfs_period_us", "100000\n");
        write(root, "cpuset/r/c/cpuset.cpus", "0\n");
        write(root, "pids/r/c/pids.max", "max\n");
        let l = Layout::V1 { controllers };
        let v = |s| l.read(s, "/r/c").unwrap().value;
        assert_eq!(v(Setting::MemoryLimit), CgValue::Num(67108864));
        assert_eq!(v(Setting::MemoryReservation), CgValue::Max);
        assert_eq!(v(Setting::MemorySwap), CgValue::Num(134217728));
        assert_eq!(v(Setting::CpuShares), CgValue::Num(512));
        assert_eq!(v(Setting::CpuQuota), CgValue::Max);
        assert_eq!(v(Setting::CpuPeriod), CgValue::Num(100000));
        assert_eq!(v(Setting::Cpus), CgValue::List([0].into()));
        assert_eq!(v(Setting::PidsLimit), CgValue::Max);
        assert!(l.supports(Setting::MemorySwap));
        assert!(!l.supports(Setting::CpuQuota));
        let proc = "12:pids:/r/c\n4:cpu,cpuacct:/r/c\n1:name=systemd:/other\n0::/unified\n";
        assert_eq!(l.membership(proc, "cpu").as_deref(), Some("/r/c"));
        assert_eq!(l.membership(proc, "pids").as_deref(), Some("/r/c"));
        assert_eq!(l.membership(proc, "memory"), None);
        assert_eq!(
            l.checked_controllers(),
            vec!["memory", "cpu", "cpuset", "pids"]
        );
        assert!(l
            .read(Setting::Mems, "/r/c")
            .unwrap_err()
            .to_string()
            .contains("cpuset.mems"));
    }

    #[test]
    fn layouts_of_host_modes() {
        let mut controllers = BTreeMap::new();
        controllers.insert("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory"));
        let hybrid = CgroupMode::Hybrid {
            controllers: controllers.clone(),
            unified: "/sys/fs/cgroup/unified".into(),
            unified_controllers: vec![],
        };
        assert_eq!(
            Layout::from_mode(&hybrid),
            Some(Layout::V1 {
                controllers: controllers.clone()
            })
        );
        assert_eq!(Layout::from_mode(&CgroupMode::None), None);
        let v2 = CgroupMode::V2 {
            mount: "/sys/fs/cgroup".into(),
            controllers: vec!["pids".into()],
        };
        let l = Layout::from_mode(&v2).unwrap();
        assert_eq!(
            l.dir("pids", "/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/a/b"))
        );
        assert_eq!(l.dir("memory", "/a/b"), None);
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,7"), Some([0, 1, 2, 3, 7].into()));
        assert_eq!(parse_list(""), Some(BTreeSet::new()));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("x"), None);
        assert_eq!(format_list(&[0, 1, 2, 3, 7, 9, 10].into()), "0-3,7,9-10");
        assert_eq!(
            parse_proc_cgroup("bad\n3:memory:/a\n"),
            vec![ProcCgroupLine {
                hierarchy_id: 3,
                controllers: vec!["memory".into()],
                path: "/a".into()
            }]
        );
    }
}
