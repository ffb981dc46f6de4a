//! Cgroups (config-linux.md "Control groups"): where the container's cgroup is, and the
//! resource files written there, for cgroup v1 (one hierarchy per controller), v2 (one
//! unified tree) and hybrid hosts (v1 controllers plus an empty v2 tree, which is joined too
//! so v2 readers see the container).
//!
//! Path rules: an absolute `cgroupsPath` is taken from each hierarchy's root; a relative one
//! from the cgroup of the runtime itself; none means `/oci-reference-runtime/<id>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

/// What went wrong with cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file could not be written or a directory made (environment, or a value the kernel
    /// refuses: input).
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config asks for something this host's cgroups cannot do (input/environment).
    #[error("{0}")]
    Unsupported(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where containers without a `cgroupsPath` go (removed again when the last one goes).
pub const DEFAULT_PARENT: &str = "/oci-reference-runtime";

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub mount: PathBuf,
    /// Its v1 controllers (empty for v2 and named hierarchies).
    pub controllers: Vec<String>,
    /// It is cgroup v2.
    pub v2: bool,
    /// The key of this hierarchy in /proc/self/cgroup (controllers or `name=...`, empty for v2).
    pub key: String,
}

/// Parses /proc/self/mountinfo for cgroup and cgroup2 mounts.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(mount), Some(fstype), Some(opts)) = (left.get(4), right.first(), right.get(2))
        else {
            continue;
        };
        match *fstype {
            "cgroup2" => out.push(Hierarchy {
                mount: mount.into(),
                controllers: vec![],
                v2: true,
                key: String::new(),
            }),
            "cgroup" => {
                let known = [
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "devices",
                    "freezer",
                    "blkio",
                    "pids",
                    "hugetlb",
                    "net_cls",
                    "net_prio",
                    "perf_event",
                    "rdma",
                    "misc",
                ];
                let mut controllers = Vec::new();
                let mut keys = Vec::new();
                for o in opts.split(',') {
                    if known.contains(&o) {
                        controllers.push(o.to_string());
                        keys.push(o.to_string());
                    } else if o.starts_with("name=") {
                        keys.push(o.to_string());
                    }
                }
                out.push(Hierarchy {
                    mount: mount.into(),
                    controllers,
                    v2: false,
                    key: keys.join(","),
                });
            }
            _ => {}
        }
    }
    out
}

/// The host's hierarchies.
pub fn hierarchies() -> Vec<Hierarchy> {
    parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
        .into_iter()
        .filter(|h| h.mount.starts_with("/sys/fs/cgroup"))
        .collect()
}

/// Whether /sys/fs/cgroup itself is cgroup v2 (a unified host).
pub fn unified_host() -> bool {
    hierarchies()
        .iter()
        .any(|h| h.v2 && h.mount == Path::new("/sys/fs/cgroup"))
}

/// The runtime's own cgroup in a hierarchy, from /proc/self/cgroup.
fn own_cgroup(key: &str) -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, k, p) = (parts.next(), parts.next(), parts.next());
        if k == Some(key) {
            return PathBuf::from(p.unwrap_or("/"));
        }
    }
    PathBuf::from("/")
}

/// The container's cgroup path inside a hierarchy whose key is `key`.
pub fn container_path(cgroups_path: Option<&Path>, id: &str, key: &str) -> PathBuf {
    match cgroups_path {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => own_cgroup(key).join(p),
        None => PathBuf::from(DEFAULT_PARENT).join(id),
    }
}

/// The container's cgroup directories, one per hierarchy, with the hierarchy.
pub fn plan(cgroups_path: Option<&Path>, id: &str) -> Vec<(Hierarchy, PathBuf)> {
    hierarchies()
        .into_iter()
        .map(|h| {
            let rel = container_path(cgroups_path, id, &h.key);
            let dir = h.mount.join(rel.strip_prefix("/").unwrap_or(&rel));
            (h, dir)
        })
        .collect()
}

/// v1 files and values for `resources` in a hierarchy with `controllers`, in write order.
pub fn v1_files(controllers: &[String], r: &LinuxResources) -> Vec<(String, String)> {
    let has = |c: &str| controllers.iter().any(|x| x == c);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_string(), v));
    if has("memory") {
        if let Some(m) = r.memory() {
            if let Some(v) = m.reservation() {
                put("memory.soft_limit_in_bytes", v.to_string());
            }
            if let Some(v) = m.limit() {
                put("memory.limit_in_bytes", v.to_string());
            }
            if let Some(v) = m.swap() {
                put("memory.memsw.limit_in_bytes", v.to_string());
            }
            if let Some(v) = m.swappiness() {
                put("memory.swappiness", v.to_string());
            }
            if m.disable_oom_killer() == Some(true) {
                put("memory.oom_control", "1".into());
            }
        }
    }
    if has("cpu") {
        if let Some(c) = r.cpu() {
            if let Some(v) = c.shares() {
                put("cpu.shares", v.to_string());
            }
            if let Some(v) = c.period() {
                put("cpu.cfs_period_us", v.to_string());
            }
            if let Some(v) = c.quota() {
                put("cpu.cfs_quota_us", v.to_string());
            }
            if let Some(v) = c.realtime_period() {
                put("cpu.rt_period_us", v.to_string());
            }
            if let Some(v) = c.realtime_runtime() {
                put("cpu.rt_runtime_us", v.to_string());
            }
        }
    }
    if has("cpuset") {
        if let Some(c) = r.cpu() {
            if let Some(v) = c.cpus() {
                put("cpuset.cpus", v.clone());
            }
            if let Some(v) = c.mems() {
                put("cpuset.mems", v.clone());
            }
        }
    }
    if has("pids") {
        if let Some(p) = r.pids() {
            // 0 is a limit (no new tasks); only a negative value means none.
            let v = if p.limit() >= 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            put("pids.max", v);
        }
    }
    if has("blkio") {
        if let Some(b) = r.block_io() {
            if let Some(w) = b.weight() {
                put("blkio.weight", w.to_string());
            }
        }
    }
    if has("hugetlb") {
        for h in r.hugepage_limits().iter().flatten() {
            put(
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                h.limit().to_string(),
            );
        }
    }
    if has("devices") {
        put("devices.deny", "a".into());
        for d in r.devices().iter().flatten() {
            let file = if d.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            put(file, device_rule(d));
        }
    }
    out
}

/// A v1 device rule line: `c 1:3 rwm`.
pub fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
    format!(
        "{} {}:{} {}",
        d.typ()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "a".into()),
        num(d.major()),
        num(d.minor()),
        d.access().clone().unwrap_or_else(|| "rwm".into())
    )
}

/// Device rules every container gets after its own (the default devices, the pty devices),
/// plus one allowing each device the config creates.
pub fn default_device_rules(created: &[(char, u64, u64)]) -> Vec<String> {
    let mut rules: Vec<String> = [
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:1 rwm",
        "c 5:2 rwm",
        "c 136:* rwm",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (t, maj, min) in created {
        rules.push(format!("{t} {maj}:{min} rwm"));
    }
    rules
}

/// v2 files and values for `resources`.
pub fn v2_files(r: &LinuxResources) -> Result<Vec<(String, String)>, CgroupError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_string(), v));
    let max = |v: i64| {
        if v < 0 {
            "max".to_string()
        } else {
            v.to_string()
        }
    };
    if let Some(m) = r.memory() {
        if let Some(v) = m.reservation() {
            put("memory.low", max(v));
        }
        if let Some(v) = m.limit() {
            put("memory.max", max(v));
        }
        if let Some(swap) = m.swap() {
            // v1's memsw is memory+swap; v2's swap.max is swap alone.
            let v = match m.limit() {
                _ if swap < 0 => "max".into(),
                Some(l) if l >= 0 => (swap - l).max(0).to_string(),
                _ => swap.to_string(),
            };
            put("memory.swap.max", v);
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares() {
            // runc's conversion of shares (2..262144) to weight (1..10000).
            let w = if s == 0 {
                100
            } else {
                1 + ((s.clamp(2, 262144) - 2) * 9999) / 262142
            };
            put("cpu.weight", w.to_string());
        }
        if c.quota().is_some() || c.period().is_some() {
            let q = c.quota().filter(|q| *q > 0).map(|q| q.to_string());
            put(
                "cpu.max",
                format!(
                    "{} {}",
                    q.unwrap_or_else(|| "max".into()),
                    c.period().unwrap_or(100_000)
                ),
            );
        }
        if let Some(v) = c.cpus() {
            put("cpuset.cpus", v.clone());
        }
        if let Some(v) = c.mems() {
            put("cpuset.mems", v.clone());
        }
    }
    if let Some(p) = r.pids() {
        put("pids.max", max(p.limit()));
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight() {
            put("io.weight", w.to_string());
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        put(
            &format!("hugetlb.{}.max", h.page_size()),
            h.limit().to_string(),
        );
    }
    for (k, v) in r.unified().iter().flatten() {
        put(k, v.clone());
    }
    Ok(out)
}

/// The container's cgroups, created and configured.
#[derive(Debug, Clone, Default)]
pub struct Cgroups {
    /// The directories, one per hierarchy.
    pub dirs: Vec<PathBuf>,
    /// Writes held back until the init exists ([`Cgroups::apply_deferred`]): a pids limit
    /// (0 is one) would stop the bootstrap from forking the init.
    pub deferred: Vec<(PathBuf, String)>,
}

impl Cgroups {
    /// Creates the directories and writes the resources. On a hybrid host resources go to
    /// the v1 controllers; the v2 tree is only joined.
    pub fn create(
        cgroups_path: Option<&Path>,
        id: &str,
        resources: Option<&LinuxResources>,
        created_devices: &[(char, u64, u64)],
    ) -> Result<Cgroups, CgroupError> {
        let plan = plan(cgroups_path, id);
        let unified = plan
            .iter()
            .any(|(h, _)| h.v2 && h.mount == Path::new("/sys/fs/cgroup"));
        let mut me = Cgroups::default();
        let empty = LinuxResources::default();
        let r = resources.unwrap_or(&empty);
        match me.configure(&plan, unified, r, created_devices) {
            Ok(()) => Ok(me),
            Err(e) => {
                // Leave nothing behind.
                let _ = me.remove();
                Err(e)
            }
        }
    }

    fn configure(
        &mut self,
        plan: &[(Hierarchy, PathBuf)],
        unified: bool,
        r: &LinuxResources,
        created_devices: &[(char, u64, u64)],
    ) -> Result<(), CgroupError> {
        let me = self;
        if unified
            && r.devices()
                .as_ref()
                .is_some_and(|d| d.iter().any(|d| d.allow()))
        {
            // Device rules on v2 need an eBPF program, which this runtime does not load.
            return Err(CgroupError::Unsupported(
                "device allow rules need cgroup v1 here (no eBPF device filter)".into(),
            ));
        }
        for (h, dir) in plan {
            // Remember it first, so a failure below still removes it.
            me.dirs.push(dir.clone());
            create_dir(dir)?;
            if h.v2 {
                if unified {
                    enable_controllers(&h.mount, dir)?;
                    for (k, v) in v2_files(r)? {
                        if k == "pids.max" {
                            me.deferred.push((dir.join(k), v));
                        } else {
                            write(&dir.join(k), &v)?;
                        }
                    }
                }
                continue;
            }
            if h.controllers.iter().any(|c| c == "cpuset") {
                inherit_cpuset(&h.mount, dir)?;
            }
            for (k, v) in v1_files(&h.controllers, r) {
                if k == "pids.max" {
                    me.deferred.push((dir.join(k), v));
                } else {
                    write(&dir.join(k), &v)?;
                }
            }
            if h.controllers.iter().any(|c| c == "devices") {
                for rule in default_device_rules(created_devices) {
                    write(&dir.join("devices.allow"), &rule)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the held-back limits (once the init has been forked).
    pub fn apply_deferred(&self) -> Result<(), CgroupError> {
        for (path, value) in &self.deferred {
            write(path, value)?;
        }
        Ok(())
    }

    /// Moves `pid` into every directory.
    pub fn join(&self, pid: i32) -> Result<(), CgroupError> {
        for d in &self.dirs {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The pids in the container's cgroups.
    pub fn pids(dirs: &[PathBuf]) -> Vec<i32> {
        let mut pids: Vec<i32> = dirs
            .iter()
            .flat_map(|d| {
                std::fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kills what is left in `dirs` and removes them, retrying while the kernel still
    /// counts exiting tasks (bounded, with backoff).
    pub fn remove_dirs(dirs: &[PathBuf]) -> Result<(), CgroupError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut backoff = Duration::from_millis(1);
        for d in dirs.iter().rev() {
            loop {
                for pid in Cgroups::pids(std::slice::from_ref(d)) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                match std::fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e)
                        if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) =>
                    {
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_millis(100));
                    }
                    Err(e) => return Err(io(d)(e)),
                }
            }
            // The default parent goes with its last container (busy: another one remains).
            if let Some(parent) = d.parent() {
                if parent.file_name() == Path::new(DEFAULT_PARENT).file_name() {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
        Ok(())
    }

    /// Removes the directories.
    pub fn remove(&self) -> Result<(), CgroupError> {
        Cgroups::remove_dirs(&self.dirs)
    }
}

/// mkdir -p, retried when a concurrent `delete` removed the default parent between the
/// parent's and the child's mkdir.
fn create_dir(dir: &Path) -> Result<(), CgroupError> {
    let mut tries = 0;
    loop {
        match std::fs::create_dir_all(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 3 => tries += 1,
            r => return r.map_err(io(dir)),
        }
    }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io(path))
}

/// A new v1 cpuset cgroup has empty cpus and mems: copy them down from the nearest ancestor.
fn inherit_cpuset(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut cur = mount.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(f)).map_err(io(&parent))?;
                write(&cur.join(f), theirs.trim())?;
            }
        }
    }
    Ok(())
}

/// Enables every available controller on the way down to `dir` (v2).
fn enable_controllers(mount: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut cur = mount.to_path_buf();
    for comp in rel.components() {
        let available = std::fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let line: Vec<String> = available
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        if !line.is_empty() {
            // Best effort: a controller that cannot be enabled shows up when its file is
            // written.
            let _ = std::fs::write(cur.join("cgroup.subtree_control"), line.join(" "));
        }
        cur.push(comp);
    }
    Ok(())
}

/// For `features`: what this runtime can do with cgroups.
pub fn features() -> BTreeMap<&'static str, bool> {
    BTreeMap::from([
        ("v1", true),
        ("v2", true),
        ("systemd", false),
        ("systemdUser", false),
        ("rdma", false),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";

    #[test]
    fn mountinfo_hybrid() {
        let h = parse_mountinfo(MOUNTINFO);
        assert_eq!(h.len(), 4);
        assert!(h[0].v2);
        assert_eq!(h[1].key, "name=systemd");
        assert_eq!(h[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(h[2].key, "cpu,cpuacct");
    }

    #[test]
    fn path_rules() {
        assert_eq!(
            container_path(Some(Path::new("/a/b")), "c", "memory"),
            Path::new("/a/b")
        );
        assert_eq!(
            container_path(None, "c", "memory"),
            Path::new("/oci-reference-runtime/c")
        );
        assert!(container_path(Some(Path::new("x/y")), "c", "memory").ends_with("x/y"));
    }

    /// A v1 memory+devices hierarchy and a cpuset one, as plain directories: configure
    /// writes the files in order and remove takes the directories away.
    #[test]
    fn configure_writes_v1_files_into_a_fake_hierarchy() {
        let root = std::env::temp_dir().join(format!("refrt-cg-{}", std::process::id()));
        let mem = root.join("memory");
        let cpuset = root.join("cpuset");
        std::fs::create_dir_all(&mem).unwrap();
        std::fs::create_dir_all(&cpuset).unwrap();
        std::fs::write(cpuset.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(cpuset.join("cpuset.mems"), "0\n").unwrap();
        let plan = vec![
            (
                Hierarchy {
                    mount: mem.clone(),
                    controllers: vec!["memory".into(), "devices".into()],
                    v2: false,
                    key: "memory,devices".into(),
                },
                mem.join("a/c1"),
            ),
            (
                Hierarchy {
                    mount: cpuset.clone(),
                    controllers: vec!["cpuset".into()],
                    v2: false,
                    key: "cpuset".into(),
                },
                cpuset.join("a/c1"),
            ),
        ];
        let r = resources(serde_json::json!({
            "memory": {"limit": 1048576},
            "devices": [{"allow": false, "access": "rwm"}]
        }));
        let mut cg = Cgroups::default();
        cg.configure(&plan, false, &r, &[('c', 10, 229)]).unwrap();
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(mem.join("a/c1/memory.limit_in_bytes")), "1048576");
        assert_eq!(read(mem.join("a/c1/devices.deny")), "a *:* rwm");
        // Plain files keep only the last write: the created device's rule comes last.
        assert_eq!(read(mem.join("a/c1/devices.allow")), "c 10:229 rwm");
        assert_eq!(read(cpuset.join("a/cpuset.cpus")), "0-1");
        assert_eq!(read(cpuset.join("a/c1/cpuset.mems")), "0");
        assert_eq!(cg.dirs, vec![mem.join("a/c1"), cpuset.join("a/c1")]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn v1_and_v2_files() {
        let r = resources(serde_json::json!({
            "memory": {"limit": 104857600, "swap": 209715200},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
            "pids": {"limit": 32},
            "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]
        }));
        let all: Vec<String> = ["memory", "cpu", "pids", "devices"]
            .map(String::from)
            .to_vec();
        let v1 = v1_files(&all, &r);
        assert!(v1.contains(&("memory.limit_in_bytes".into(), "104857600".into())));
        assert!(v1.contains(&("pids.max".into(), "32".into())));
        assert!(v1.contains(&("cpu.cfs_quota_us".into(), "50000".into())));
        let deny = v1
            .iter()
            .position(|(k, v)| k == "devices.deny" && v == "a")
            .unwrap();
        let allow = v1
            .iter()
            .position(|(k, v)| k == "devices.allow" && v == "c 10:200 rwm")
            .unwrap();
        assert!(deny < allow);
        assert!(v1.contains(&("devices.deny".into(), "a *:* rwm".into())));
        let v2 = v2_files(&r).unwrap();
        assert!(v2.contains(&("memory.max".into(), "104857600".into())));
        assert!(v2.contains(&("memory.swap.max".into(), "104857600".into())));
        assert!(v2.contains(&("cpu.max".into(), "50000 100000".into())));
        assert!(v2.contains(&("cpu.weight".into(), "39".into())));
        assert!(v2.contains(&("pids.max".into(), "32".into())));
    }
}
