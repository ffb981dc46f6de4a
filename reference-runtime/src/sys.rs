//! The syscall seam: the few kernel operations that shape a container's filesystem and
//! identity go through [`Syscall`], so the logic that orders them (rootfs preparation, mounts,
//! devices, namespaces) is unit-tested without root by `testing::Recorder`, which records
//! the calls instead of making them (test builds only).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};

/// What the kernel said, with the call that said it.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {errno}")]
pub struct SysError {
    /// The call and its main argument.
    pub call: String,
    /// The error number.
    pub errno: Errno,
}

/// Result of a seam call.
pub type SysResult<T = ()> = Result<T, SysError>;

fn ctx<T>(r: nix::Result<T>, call: impl FnOnce() -> String) -> SysResult<T> {
    r.map_err(|errno| SysError {
        call: call(),
        errno,
    })
}

fn io_ctx<T>(r: std::io::Result<T>, call: impl FnOnce() -> String) -> SysResult<T> {
    r.map_err(|e| SysError {
        call: call(),
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })
}

/// The kernel operations the container setup needs.
pub trait Syscall {
    /// mount(2).
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> SysResult;
    /// umount2(2).
    fn umount2(&self, target: &Path, flags: MntFlags) -> SysResult;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> SysResult;
    /// mknod(2) then chmod to `mode` exactly (mknod applies the umask).
    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> SysResult;
    /// lchown(2).
    fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> SysResult;
    /// symlink(2).
    fn symlink(&self, target: &Path, link: &Path) -> SysResult;
    /// mkdir -p.
    fn create_dir_all(&self, path: &Path) -> SysResult;
    /// Creates an empty regular file if nothing is at `path` (a bind-mount target).
    fn create_file(&self, path: &Path) -> SysResult;
    /// Removes a non-directory if present.
    fn remove_file(&self, path: &Path) -> SysResult;
    /// What is at `path` without following a final symlink.
    fn file_kind(&self, path: &Path) -> Option<FileKind>;
    /// The mount flags (MS_RDONLY, MS_NOSUID...) of the filesystem holding `path`.
    fn mount_flags(&self, path: &Path) -> SysResult<MsFlags>;
    /// Writes `data` to an existing file (sysctls, /proc knobs).
    fn write_file(&self, path: &Path, data: &str) -> SysResult;
    /// mount_setattr(2) on `path`, recursively when asked: `set` and `clear` are MOUNT_ATTR_*
    /// bits.
    fn mount_setattr(&self, path: &Path, recursive: bool, set: u64, clear: u64) -> SysResult;
    /// fchdir(2).
    fn fchdir(&self, fd: BorrowedFd<'_>) -> SysResult;
    /// sethostname(2).
    fn sethostname(&self, name: &str) -> SysResult;
    /// setdomainname(2).
    fn setdomainname(&self, name: &str) -> SysResult;
    /// unshare(2).
    fn unshare(&self, flags: CloneFlags) -> SysResult;
    /// setns(2).
    fn setns(&self, fd: BorrowedFd<'_>, flags: CloneFlags) -> SysResult;
}

/// Kinds of file the setup distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (regular file, device, socket...).
    Other,
}

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct Linux;

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> SysResult {
        ctx(
            nix::mount::mount(source, target, fstype, flags, data),
            || {
                format!(
                    "mount {} on {} (type {}, flags {flags:?}, data {data:?})",
                    source.map(|s| s.display().to_string()).unwrap_or_default(),
                    target.display(),
                    fstype.unwrap_or("none")
                )
            },
        )
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> SysResult {
        ctx(nix::mount::umount2(target, flags), || {
            format!("umount {}", target.display())
        })
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult {
        ctx(nix::unistd::pivot_root(new_root, put_old), || {
            format!("pivot_root {}", new_root.display())
        })
    }

    fn chdir(&self, path: &Path) -> SysResult {
        ctx(nix::unistd::chdir(path), || {
            format!("chdir {}", path.display())
        })
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> SysResult {
        ctx(nix::sys::stat::mknod(path, kind, mode, dev), || {
            format!("mknod {}", path.display())
        })?;
        ctx(
            nix::sys::stat::fchmodat(
                None,
                path,
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            ),
            || format!("chmod {}", path.display()),
        )
    }

    fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> SysResult {
        ctx(
            nix::unistd::fchownat(
                None,
                path,
                uid.map(nix::unistd::Uid::from_raw),
                gid.map(nix::unistd::Gid::from_raw),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
            || format!("chown {}", path.display()),
        )
    }

    fn symlink(&self, target: &Path, link: &Path) -> SysResult {
        io_ctx(std::os::unix::fs::symlink(target, link), || {
            format!("symlink {} -> {}", link.display(), target.display())
        })
    }

    fn create_dir_all(&self, path: &Path) -> SysResult {
        io_ctx(std::fs::create_dir_all(path), || {
            format!("mkdir -p {}", path.display())
        })
    }

    fn create_file(&self, path: &Path) -> SysResult {
        if self.file_kind(path).is_some() {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            self.create_dir_all(parent)?;
        }
        io_ctx(
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map(drop),
            || format!("create {}", path.display()),
        )
    }

    fn remove_file(&self, path: &Path) -> SysResult {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => io_ctx(r, || format!("remove {}", path.display())),
        }
    }

    fn file_kind(&self, path: &Path) -> Option<FileKind> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(if m.is_dir() {
            FileKind::Dir
        } else if m.file_type().is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::Other
        })
    }

    fn mount_flags(&self, path: &Path) -> SysResult<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let st = ctx(nix::sys::statvfs::statvfs(path), || {
            format!("statvfs {}", path.display())
        })?;
        let f = st.flags();
        let mut out = MsFlags::empty();
        for (fs, ms) in [
            (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                out |= ms;
            }
        }
        Ok(out)
    }

    fn write_file(&self, path: &Path, data: &str) -> SysResult {
        io_ctx(
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, data.as_bytes())),
            || format!("write {}", path.display()),
        )
    }

    fn mount_setattr(&self, path: &Path, recursive: bool, set: u64, clear: u64) -> SysResult {
        #[repr(C)]
        struct MountAttr {
            attr_set: u64,
            attr_clr: u64,
            propagation: u64,
            userns_fd: u64,
        }
        let attr = MountAttr {
            attr_set: set,
            attr_clr: clear,
            propagation: 0,
            userns_fd: 0,
        };
        let c =
            std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SysError {
                call: format!("mount_setattr {}", path.display()),
                errno: Errno::EINVAL,
            })?;
        let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
        // SAFETY: the path is a NUL-terminated string and `attr` a struct mount_attr (version
        // 0 layout, its size passed), both alive across the call; the kernel only reads them.
        #[allow(unsafe_code)]
        let r = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c.as_ptr(),
                flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        ctx(Errno::result(r).map(drop), || {
            format!(
                "mount_setattr {} set {set:#x} clear {clear:#x}",
                path.display()
            )
        })
    }

    fn fchdir(&self, fd: BorrowedFd<'_>) -> SysResult {
        ctx(nix::unistd::fchdir(fd.as_raw_fd()), || "fchdir".to_string())
    }

    fn sethostname(&self, name: &str) -> SysResult {
        ctx(nix::unistd::sethostname(name), || {
            format!("sethostname {name}")
        })
    }

    fn setdomainname(&self, name: &str) -> SysResult {
        // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call; the
        // kernel only reads them.
        #[allow(unsafe_code)]
        let r = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
        ctx(Errno::result(r).map(drop), || {
            format!("setdomainname {name}")
        })
    }

    fn unshare(&self, flags: CloneFlags) -> SysResult {
        ctx(nix::sched::unshare(flags), || format!("unshare {flags:?}"))
    }

    fn setns(&self, fd: BorrowedFd<'_>, flags: CloneFlags) -> SysResult {
        ctx(nix::sched::setns(fd, flags), || {
            format!("setns fd {} {flags:?}", fd.as_raw_fd())
        })
    }
}

/// A recording fake for unit tests.
#[cfg(test)]
pub mod testing {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    /// Records every call as one line; answers file queries from a map.
    #[derive(Debug, Default)]
    pub struct Recorder {
        /// The calls, in order.
        pub calls: RefCell<Vec<String>>,
        /// What `file_kind` answers.
        pub files: RefCell<BTreeMap<PathBuf, FileKind>>,
        /// Calls (by prefix) that fail with EPERM.
        pub fail: Vec<String>,
    }

    impl Recorder {
        fn rec(&self, line: String) -> SysResult {
            let fails = self.fail.iter().any(|f| line.starts_with(f.as_str()));
            self.calls.borrow_mut().push(line.clone());
            if fails {
                return Err(SysError {
                    call: line,
                    errno: Errno::EPERM,
                });
            }
            Ok(())
        }

        /// Calls starting with `prefix`.
        pub fn matching(&self, prefix: &str) -> Vec<String> {
            self.calls
                .borrow()
                .iter()
                .filter(|c| c.starts_with(prefix))
                .cloned()
                .collect()
        }
    }

    impl Syscall for Recorder {
        fn mount(
            &self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> SysResult {
            self.rec(format!(
                "mount {} {} {} {} {}",
                source
                    .map(|s| s.display().to_string())
                    .unwrap_or("-".into()),
                target.display(),
                fstype.unwrap_or("-"),
                if flags.is_empty() {
                    "-".to_string()
                } else {
                    format!("{flags:?}")
                        .trim_start_matches("MsFlags(")
                        .trim_end_matches(')')
                        .to_string()
                },
                data.unwrap_or("-")
            ))
        }
        fn umount2(&self, target: &Path, _: MntFlags) -> SysResult {
            self.rec(format!("umount {}", target.display()))
        }
        fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult {
            self.rec(format!(
                "pivot_root {} {}",
                new_root.display(),
                put_old.display()
            ))
        }
        fn chdir(&self, path: &Path) -> SysResult {
            self.rec(format!("chdir {}", path.display()))
        }
        fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: u64) -> SysResult {
            self.rec(format!(
                "mknod {} {} {:o} {}:{}",
                path.display(),
                if kind == SFlag::S_IFCHR {
                    "S_IFCHR"
                } else {
                    "other"
                },
                mode.bits(),
                nix::sys::stat::major(dev),
                nix::sys::stat::minor(dev)
            ))?;
            self.files
                .borrow_mut()
                .insert(path.to_path_buf(), FileKind::Other);
            Ok(())
        }
        fn chown(&self, path: &Path, uid: Option<u32>, gid: Option<u32>) -> SysResult {
            self.rec(format!("chown {} {uid:?} {gid:?}", path.display()))
        }
        fn symlink(&self, target: &Path, link: &Path) -> SysResult {
            self.rec(format!("symlink {} {}", link.display(), target.display()))
        }
        fn create_dir_all(&self, path: &Path) -> SysResult {
            self.files
                .borrow_mut()
                .insert(path.to_path_buf(), FileKind::Dir);
            self.rec(format!("mkdir {}", path.display()))
        }
        fn create_file(&self, path: &Path) -> SysResult {
            self.files
                .borrow_mut()
                .insert(path.to_path_buf(), FileKind::Other);
            self.rec(format!("touch {}", path.display()))
        }
        fn remove_file(&self, path: &Path) -> SysResult {
            self.files.borrow_mut().remove(path);
            self.rec(format!("rm {}", path.display()))
        }
        fn file_kind(&self, path: &Path) -> Option<FileKind> {
            self.files.borrow().get(path).copied()
        }
        fn mount_flags(&self, _: &Path) -> SysResult<MsFlags> {
            Ok(MsFlags::MS_NOSUID)
        }
        fn write_file(&self, path: &Path, data: &str) -> SysResult {
            self.rec(format!("write {} {data}", path.display()))
        }
        fn mount_setattr(&self, path: &Path, recursive: bool, set: u64, clear: u64) -> SysResult {
            self.rec(format!(
                "mount_setattr {} {recursive} {set:#x} {clear:#x}",
                path.display()
            ))
        }
        fn fchdir(&self, _: BorrowedFd<'_>) -> SysResult {
            self.rec("fchdir old-root".to_string())
        }
        fn sethostname(&self, name: &str) -> SysResult {
            self.rec(format!("sethostname {name}"))
        }
        fn setdomainname(&self, name: &str) -> SysResult {
            self.rec(format!("setdomainname {name}"))
        }
        fn unshare(&self, flags: CloneFlags) -> SysResult {
            self.rec(format!("unshare {flags:?}"))
        }
        fn setns(&self, _: BorrowedFd<'_>, flags: CloneFlags) -> SysResult {
            self.rec(format!("setns {flags:?}"))
        }
    }
}
