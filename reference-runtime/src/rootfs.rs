//! The container's filesystem (config.md "Root", "Mounts"; config-linux.md "Devices",
//! "Default Devices", "maskedPaths", "readonlyPaths", "rootfsPropagation"; runtime-linux.md
//! "/dev symbolic links").
//!
//! Three phases, run by the init inside its new mount namespace:
//! 1. [`Rootfs::prepare`] (before the createContainer hooks): keep mount events from
//!    reaching the host, bind the rootfs onto itself, do the config's mounts, create the
//!    devices and the /dev links;
//! 2. [`Rootfs::pivot`]: `pivot_root` into it and detach the old root;
//! 3. [`Rootfs::finish`]: read-only and masked paths, the read-only root, the root's
//!    propagation.
//!
//! Every kernel call goes through [`Syscall`], so the tests below check the exact sequence.

use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{makedev, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount, Spec};

use crate::sys::{FileKind, SysError, Syscall};

/// What went wrong preparing the filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// A kernel call failed (the config asked for something the host refuses, or a bug).
    #[error(transparent)]
    Sys(#[from] SysError),
    /// The config is unusable (input).
    #[error("{0}")]
    Config(String),
}

/// Mount flags and the rest, parsed from a mount's `options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Flags to set.
    pub set: MsFlags,
    /// Flags the options clear (`rw`, `suid`...), so a remount does not keep them.
    pub clear: MsFlags,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options (`mode=755`, `size=65536k`...).
    pub data: Vec<String>,
    /// MOUNT_ATTR_* bits to set recursively (`rro`, `rnosuid`...).
    pub rec_set: u64,
    /// MOUNT_ATTR_* bits to clear recursively (`rrw`, `rsuid`...).
    pub rec_clear: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// The recursive options (mount_setattr with AT_RECURSIVE): name, bit, whether it sets it.
const RECURSIVE: &[(&str, u64, bool)] = &[
    ("rro", MOUNT_ATTR_RDONLY, true),
    ("rrw", MOUNT_ATTR_RDONLY, false),
    ("rnosuid", MOUNT_ATTR_NOSUID, true),
    ("rsuid", MOUNT_ATTR_NOSUID, false),
    ("rnodev", MOUNT_ATTR_NODEV, true),
    ("rdev", MOUNT_ATTR_NODEV, false),
    ("rnoexec", MOUNT_ATTR_NOEXEC, true),
    ("rexec", MOUNT_ATTR_NOEXEC, false),
    ("rnodiratime", MOUNT_ATTR_NODIRATIME, true),
    ("rdiratime", MOUNT_ATTR_NODIRATIME, false),
    ("rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, true),
    ("rsymfollow", MOUNT_ATTR_NOSYMFOLLOW, false),
    // The access-time mode is one field: setting one value clears the field first.
    ("rrelatime", MOUNT_ATTR_RELATIME, true),
    ("rnoatime", MOUNT_ATTR_NOATIME, true),
    ("rstrictatime", MOUNT_ATTR_STRICTATIME, true),
];

/// Every option string this runtime understands as a flag (for `features`).
pub const FLAG_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "unbindable",
];

/// `a` without the bits of `b`, keeping bits nix has no name for (`!` would drop them, and
/// MS_NOSYMFOLLOW is one).
fn minus(a: MsFlags, b: MsFlags) -> MsFlags {
    MsFlags::from_bits_retain(a.bits() & !b.bits())
}

/// Parses mount options: flags, propagation, and data for the filesystem.
pub fn parse_options(options: &[String]) -> Options {
    let mut o = Options {
        set: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: Vec::new(),
        data: Vec::new(),
        rec_set: 0,
        rec_clear: 0,
    };
    for opt in options {
        let (set, clear) = match opt.as_str() {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "remount" => (MsFlags::MS_REMOUNT, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "nosymfollow" => (
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
                MsFlags::empty(),
            ),
            "symfollow" => (
                MsFlags::empty(),
                MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
            ),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            p => {
                if let Some((_, bit, set)) = RECURSIVE.iter().find(|(n, _, _)| *n == p) {
                    let atime = matches!(p, "rrelatime" | "rnoatime" | "rstrictatime");
                    if atime {
                        o.rec_clear |= MOUNT_ATTR_ATIME_MASK;
                        o.rec_set = (o.rec_set & !MOUNT_ATTR_ATIME_MASK) | bit;
                    } else if *set {
                        o.rec_set |= bit;
                        o.rec_clear &= !bit;
                    } else {
                        o.rec_clear |= bit;
                        o.rec_set &= !bit;
                    }
                } else if let Some(flag) = propagation_flag(p) {
                    o.propagation.push(flag);
                } else {
                    o.data.push(p.to_string());
                }
                continue;
            }
        };
        o.set = minus(o.set | set, clear);
        o.clear = minus(o.clear | clear, set);
    }
    o
}

/// The mount(2) flags of a propagation name (`rslave`...).
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// `root` joined with `path` so that the result stays under `root`: `..` stops at the root
/// and symbolic links met on the way are resolved inside the rootfs.
pub fn secure_join(root: &Path, path: &Path) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = path
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            parts.pop();
            continue;
        }
        let candidate: PathBuf = std::iter::once(root.as_os_str().to_os_string())
            .chain(parts.iter().cloned())
            .chain(std::iter::once(part.clone()))
            .collect();
        match std::fs::read_link(&candidate) {
            Ok(target) if links < 40 => {
                links += 1;
                if target.is_absolute() {
                    parts.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => pending.push(n.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts);
    out
}

/// Like [`secure_join`] but the last component is not followed (for creating links and
/// device nodes, which replace what is there rather than write through it).
pub fn secure_join_last(root: &Path, path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => secure_join(root, parent).join(name),
        _ => secure_join(root, path),
    }
}

fn is_empty_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.len() == 0)
}

/// The devices every container gets (config-linux.md "Default Devices"): path, major, minor.
pub const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The /dev links (runtime-linux.md), created when nothing is there yet.
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// A device to create in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Path in the container.
    pub path: PathBuf,
    /// Kind.
    pub kind: SFlag,
    /// Major and minor numbers.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl Device {
    /// From the config; `u` (unbuffered character) is a character device.
    pub fn from_spec(d: &LinuxDevice) -> Result<Device, RootfsError> {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(RootfsError::Config(format!(
                    "device {} has type a, which only device cgroup rules take",
                    d.path().display()
                )))
            }
        };
        Ok(Device {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }

    /// The config's devices, then the default devices it does not override.
    pub fn all(spec: &Spec) -> Result<Vec<Device>, RootfsError> {
        let mut out = Vec::new();
        for d in spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default()
        {
            out.push(Device::from_spec(&d)?);
        }
        for (path, major, minor) in DEFAULT_DEVICES {
            if !out.iter().any(|d| d.path == Path::new(path)) {
                out.push(Device {
                    path: path.into(),
                    kind: SFlag::S_IFCHR,
                    major: *major,
                    minor: *minor,
                    mode: 0o666,
                    uid: 0,
                    gid: 0,
                });
            }
        }
        Ok(out)
    }
}

/// The filesystem setup of one container.
pub struct Rootfs<'a> {
    /// The kernel (or a recorder).
    pub sys: &'a dyn Syscall,
    /// Absolute rootfs path on the host.
    pub root: PathBuf,
    /// Absolute bundle path (relative bind sources are relative to it).
    pub bundle: PathBuf,
    /// Inside a new user namespace: devices are bind-mounted, not created.
    pub user_ns: bool,
    /// The host's /sys/fs/cgroup is cgroup v2.
    pub cgroup2_host: bool,
}

impl Rootfs<'_> {
    /// Phase 1: isolation from the host, the root bind, mounts, devices, /dev links.
    pub fn prepare(&self, spec: &Spec) -> Result<(), RootfsError> {
        let sys = self.sys;
        // Nothing mounted from now on propagates back to the host.
        sys.mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        )?;
        // pivot_root needs the new root to be a mount point.
        sys.mount(
            Some(&self.root),
            &self.root,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        for m in spec.mounts().iter().flatten() {
            self.mount_one(m)?;
        }
        for d in Device::all(spec)? {
            self.create_device(&d)?;
        }
        for (link, target) in DEV_SYMLINKS {
            let at = secure_join_last(&self.root, Path::new(link));
            if sys.file_kind(&at).is_none() && sys.file_kind(&self.root.join("dev")).is_some() {
                sys.symlink(Path::new(target), &at)?;
            }
        }
        Ok(())
    }

    fn mount_one(&self, m: &Mount) -> Result<(), RootfsError> {
        let sys = self.sys;
        // A relative destination is relative to the container's root (Linux).
        let typ = m.typ().clone().unwrap_or_default();
        let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
        let dest = secure_join(&self.root, m.destination());
        let data = (!opts.data.is_empty()).then(|| opts.data.join(","));
        if typ == "bind" || opts.set.contains(MsFlags::MS_BIND) {
            let source = match m.source() {
                Some(s) if s.is_absolute() => s.clone(),
                Some(s) => self.bundle.join(s),
                None => {
                    return Err(RootfsError::Config(format!(
                        "bind mount on {} has no source",
                        m.destination().display()
                    )))
                }
            };
            let recursive = opts.set & MsFlags::MS_REC;
            self.bind(&source, &dest, recursive)?;
            let extra = minus(
                opts.set,
                MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT,
            );
            if !extra.is_empty() || !opts.clear.is_empty() {
                self.remount(&dest, extra, opts.clear)?;
            }
        } else if typ == "cgroup" {
            self.mount_cgroup(&dest, &opts)?;
        } else {
            sys.create_dir_all(&dest)?;
            let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
            let fstype = (!typ.is_empty()).then_some(typ.as_str());
            let flags = opts.set;
            match sys.mount(Some(&source), &dest, fstype, flags, data.as_deref()) {
                // sysfs and mqueue cannot be mounted in a user namespace that does not own
                // the network (or IPC) namespace: fall back to binding the host's.
                Err(e)
                    if e.errno == nix::errno::Errno::EPERM
                        && matches!(typ.as_str(), "sysfs" | "mqueue") =>
                {
                    let host = if typ == "sysfs" {
                        "/sys"
                    } else {
                        "/dev/mqueue"
                    };
                    self.bind(Path::new(host), &dest, MsFlags::MS_REC)?;
                    self.remount(&dest, flags, opts.clear)?;
                }
                r => r?,
            }
        }
        if opts.rec_set != 0 || opts.rec_clear != 0 {
            sys.mount_setattr(&dest, true, opts.rec_set, opts.rec_clear)?;
        }
        for p in &opts.propagation {
            sys.mount(None, &dest, None, *p, None)?;
        }
        Ok(())
    }

    fn bind(&self, source: &Path, dest: &Path, recursive: MsFlags) -> Result<(), RootfsError> {
        let sys = self.sys;
        match std::fs::metadata(source) {
            Ok(m) if !m.is_dir() => sys.create_file(dest)?,
            _ => sys.create_dir_all(dest)?,
        }
        sys.mount(Some(source), dest, None, MsFlags::MS_BIND | recursive, None)?;
        Ok(())
    }

    /// Re-applies flags to a bind mount, keeping the flags it has that were not cleared
    /// (in a user namespace the kernel refuses to drop locked ones).
    fn remount(&self, dest: &Path, set: MsFlags, clear: MsFlags) -> Result<(), RootfsError> {
        let current = self.sys.mount_flags(dest)?;
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | set | minus(current, clear);
        self.sys.mount(None, dest, None, flags, None)?;
        Ok(())
    }

    /// `cgroup` mounts: cgroup2 on a v2 host; elsewhere the host's hierarchy bound in.
    fn mount_cgroup(&self, dest: &Path, opts: &Options) -> Result<(), RootfsError> {
        let sys = self.sys;
        sys.create_dir_all(dest)?;
        let flags = minus(opts.set, MsFlags::MS_BIND | MsFlags::MS_REC);
        if self.cgroup2_host {
            sys.mount(
                Some(Path::new("cgroup")),
                dest,
                Some("cgroup2"),
                flags,
                None,
            )?;
        } else {
            self.bind(Path::new("/sys/fs/cgroup"), dest, MsFlags::MS_REC)?;
            self.remount(dest, flags, opts.clear)?;
        }
        Ok(())
    }

    fn create_device(&self, d: &Device) -> Result<(), RootfsError> {
        let sys = self.sys;
        let at = secure_join_last(&self.root, &d.path);
        if let Some(parent) = at.parent() {
            sys.create_dir_all(parent)?;
        }
        match sys.file_kind(&at) {
            None => {}
            // A link is replaced (it is not a file of the rootfs' own).
            Some(FileKind::Symlink) => sys.remove_file(&at)?,
            // Something is there: it must already be this device (config-linux.md
            // "Devices": anything else is an error), or our own empty bind target.
            Some(_) => {
                if self.is_same_device(&at, d) {
                    return Ok(());
                }
                if !(self.user_ns && is_empty_file(&at)) {
                    return Err(RootfsError::Config(format!(
                        "{} exists in the rootfs and is not the device {}:{} that linux.devices asks for",
                        d.path.display(),
                        d.major,
                        d.minor
                    )));
                }
            }
        }
        if self.user_ns {
            // No mknod in a user namespace: the host's node, bound in.
            sys.create_file(&at)?;
            sys.mount(Some(&d.path), &at, None, MsFlags::MS_BIND, None)?;
            return Ok(());
        }
        sys.mknod(
            &at,
            d.kind,
            Mode::from_bits_truncate(d.mode),
            makedev(d.major, d.minor),
        )?;
        sys.chown(&at, Some(d.uid), Some(d.gid))?;
        Ok(())
    }

    /// Whether `at` is already a node of `d`'s kind and numbers.
    fn is_same_device(&self, at: &Path, d: &Device) -> bool {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let Ok(m) = std::fs::symlink_metadata(at) else {
            return false;
        };
        let t = m.file_type();
        let kind_ok = match d.kind {
            SFlag::S_IFCHR => t.is_char_device(),
            SFlag::S_IFBLK => t.is_block_device(),
            SFlag::S_IFIFO => t.is_fifo(),
            _ => false,
        };
        kind_ok
            && (d.kind == SFlag::S_IFIFO
                || (nix::sys::stat::major(m.rdev()) == d.major
                    && nix::sys::stat::minor(m.rdev()) == d.minor))
    }

    /// Phase 2: make the rootfs `/` and let go of the old root.
    pub fn pivot(&self) -> Result<(), RootfsError> {
        let sys = self.sys;
        let dot = Path::new(".");
        let old_root = std::fs::File::open("/").map_err(|e| SysError {
            call: "open /".into(),
            errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?;
        sys.chdir(&self.root)?;
        // pivot_root(".", ".") stacks the old root on top of the new one. Step onto the old
        // root (by its descriptor: the kernel does not promise where "." is now), make it a
        // slave so nothing below propagates to the host, and detach it.
        sys.pivot_root(dot, dot)?;
        sys.fchdir(std::os::fd::AsFd::as_fd(&old_root))?;
        sys.mount(None, dot, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)?;
        sys.umount2(dot, MntFlags::MNT_DETACH)?;
        sys.chdir(Path::new("/"))?;
        Ok(())
    }

    /// Phase 3 (inside the container): read-only paths, masked paths, read-only root,
    /// root propagation.
    pub fn finish(&self, spec: &Spec) -> Result<(), RootfsError> {
        let sys = self.sys;
        let linux = spec.linux().as_ref();
        for p in linux
            .and_then(|l| l.readonly_paths().clone())
            .unwrap_or_default()
        {
            let p = Path::new(&p);
            if sys.file_kind(p).is_none() {
                continue;
            }
            sys.mount(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            self.remount(p, MsFlags::MS_RDONLY | MsFlags::MS_REC, MsFlags::empty())?;
        }
        for p in linux
            .and_then(|l| l.masked_paths().clone())
            .unwrap_or_default()
        {
            let p = Path::new(&p);
            match sys.file_kind(p) {
                None => {}
                Some(FileKind::Dir) => sys.mount(
                    Some(Path::new("tmpfs")),
                    p,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                )?,
                Some(_) => sys.mount(
                    Some(Path::new("/dev/null")),
                    p,
                    None,
                    MsFlags::MS_BIND,
                    None,
                )?,
            }
        }
        if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
            self.remount(Path::new("/"), MsFlags::MS_RDONLY, MsFlags::empty())?;
        }
        if let Some(prop) = linux.and_then(|l| l.rootfs_propagation().clone()) {
            let flag = propagation_flag(&prop).ok_or_else(|| {
                RootfsError::Config(format!("unknown rootfsPropagation {prop:?}"))
            })?;
            sys.mount(None, Path::new("/"), None, flag, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::Recorder;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&[
            "nosuid".into(),
            "ro".into(),
            "rw".into(),
            "mode=755".into(),
            "rslave".into(),
        ]);
        assert_eq!(o.set, MsFlags::MS_NOSUID);
        assert_eq!(o.clear, MsFlags::MS_RDONLY);
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data, vec!["mode=755".to_string()]);
        assert_eq!(
            parse_options(&["rbind".into()]).set,
            MsFlags::MS_BIND | MsFlags::MS_REC
        );
        // A flag nix has no name for survives.
        assert_eq!(
            parse_options(&["nosymfollow".into(), "nodev".into()])
                .set
                .bits(),
            (libc::MS_NOSYMFOLLOW | libc::MS_NODEV)
        );
        let r = parse_options(&["rro".into(), "rnoatime".into(), "rsuid".into()]);
        assert_eq!(r.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
        assert_eq!(r.rec_clear, MOUNT_ATTR_ATIME_MASK | MOUNT_ATTR_NOSUID);
    }

    #[test]
    fn secure_join_stays_under_root() {
        let root = Path::new("/nonexistent-root");
        assert_eq!(
            secure_join(root, Path::new("/../../etc/passwd")),
            Path::new("/nonexistent-root/etc/passwd")
        );
        assert_eq!(
            secure_join(root, Path::new("/a/./b/../c")),
            Path::new("/nonexistent-root/a/c")
        );
    }

    #[test]
    fn secure_join_resolves_links_inside_root() {
        let dir = std::env::temp_dir().join(format!("refrt-join-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).unwrap();
        std::os::unix::fs::symlink("/real", dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", dir.join("up")).unwrap();
        assert_eq!(secure_join(&dir, Path::new("/abs/x")), dir.join("real/x"));
        assert_eq!(secure_join(&dir, Path::new("/up/etc")), dir.join("etc"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prepare_orders_isolation_mounts_devices_links() {
        let rec = Recorder::default();
        rec.files
            .borrow_mut()
            .insert("/r/dev".into(), FileKind::Dir);
        let fs = Rootfs {
            sys: &rec,
            root: "/r".into(),
            bundle: "/b".into(),
            user_ns: false,
            cgroup2_host: false,
        };
        let s = spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
                {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "rprivate"]}
            ],
            "linux": {"devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}]}
        }));
        fs.prepare(&s).unwrap();
        let calls = rec.calls.borrow().clone();
        assert_eq!(calls[0], "mount - / - MS_REC | MS_SLAVE -");
        assert_eq!(calls[1], "mount /r /r - MS_BIND | MS_REC -");
        assert!(
            calls.contains(&"mount proc /r/proc proc - -".to_string()),
            "{calls:#?}"
        );
        assert!(calls.contains(&"mount tmpfs /r/dev tmpfs MS_NOSUID mode=755".to_string()));
        assert!(calls.contains(&"mount /b/data /r/data - MS_BIND | MS_REC -".to_string()));
        assert!(calls.iter().any(
            |c| c.starts_with("mount - /r/data - MS_RDONLY | MS_NOSUID | MS_REMOUNT | MS_BIND")
        ));
        assert!(calls.contains(&"mount - /r/data - MS_REC | MS_PRIVATE -".to_string()));
        assert!(calls.contains(&"mknod /r/dev/fuse S_IFCHR 666 10:229".to_string()));
        assert!(calls.contains(&"mknod /r/dev/null S_IFCHR 666 1:3".to_string()));
        assert_eq!(rec.matching("mknod").len(), 7);
        assert!(calls.contains(&"symlink /r/dev/fd /proc/self/fd".to_string()));
        assert!(calls.contains(&"symlink /r/dev/ptmx pts/ptmx".to_string()));
    }

    #[test]
    fn user_namespace_binds_devices() {
        let rec = Recorder::default();
        let fs = Rootfs {
            sys: &rec,
            root: "/r".into(),
            bundle: "/b".into(),
            user_ns: true,
            cgroup2_host: false,
        };
        let s = spec(serde_json::json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}}));
        fs.prepare(&s).unwrap();
        assert!(rec.matching("mknod").is_empty());
        assert!(rec
            .calls
            .borrow()
            .contains(&"mount /dev/null /r/dev/null - MS_BIND -".to_string()));
    }

    #[test]
    fn finish_masks_and_locks() {
        let rec = Recorder::default();
        rec.files
            .borrow_mut()
            .insert("/proc/kcore".into(), FileKind::Other);
        rec.files
            .borrow_mut()
            .insert("/proc/acpi".into(), FileKind::Dir);
        rec.files
            .borrow_mut()
            .insert("/proc/sys".into(), FileKind::Dir);
        let fs = Rootfs {
            sys: &rec,
            root: "/r".into(),
            bundle: "/b".into(),
            user_ns: false,
            cgroup2_host: false,
        };
        let s = spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs", "readonly": true},
            "linux": {
                "maskedPaths": ["/proc/kcore", "/proc/acpi", "/proc/missing"],
                "readonlyPaths": ["/proc/sys"],
                "rootfsPropagation": "shared"
            }
        }));
        fs.finish(&s).unwrap();
        let calls = rec.calls.borrow().clone();
        assert_eq!(
            calls,
            vec![
                "mount /proc/sys /proc/sys - MS_BIND | MS_REC -",
                "mount - /proc/sys - MS_RDONLY | MS_NOSUID | MS_REMOUNT | MS_BIND | MS_REC -",
                "mount /dev/null /proc/kcore - MS_BIND -",
                "mount tmpfs /proc/acpi tmpfs MS_RDONLY -",
                "mount - / - MS_RDONLY | MS_NOSUID | MS_REMOUNT | MS_BIND -",
                "mount - / - MS_SHARED -",
            ]
        );
    }

    #[test]
    fn pivot_sequence() {
        let rec = Recorder::default();
        let fs = Rootfs {
            sys: &rec,
            root: "/r".into(),
            bundle: "/b".into(),
            user_ns: false,
            cgroup2_host: false,
        };
        fs.pivot().unwrap();
        assert_eq!(
            rec.calls.borrow().clone(),
            vec![
                "chdir /r",
                "pivot_root . .",
                "fchdir old-root",
                "mount - . - MS_REC | MS_SLAVE -",
                "umount .",
                "chdir /"
            ]
        );
    }
}
