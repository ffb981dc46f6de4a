//! The in-container probe: its embedded executable, and the host-side reading of what it saw.
//!
//! The probe (`runtime-tests/probe/main.rs`) is a single-file, standard-library-only program
//! that `build.rs` compiles with a bare `rustc` into a static executable (glibc's `libc.a`,
//! `+crt-static`, about 1.3 MB). [`binary`] is its bytes; [`install`] puts it at
//! [`PATH_IN_ROOTFS`] in a rootfs that needs nothing else. Modes, chosen by `argv[1]`:
//!
//! | mode | does |
//! |---|---|
//! | `report [--path P]... [--write P]... [--sysctl NAME]... [--errno-syscall] [--try SYSCALL:ARG]...` | prints one JSON object ([`Observation`]) and exits 0 |
//! | `observe TAG [report options]` | the same report; TAG tells a group's containers apart (e.g. for the mutating wrapper) |
//! | `syscall SYSCALL ARG` | makes one syscall (`mkdir`, `rmdir`, `readlink`, `getppid`), prints one [`SyscallAttempt`] line, exits 0 |
//! | `sleep` | sleeps until killed |
//! | `exit CODE` | exits with CODE |
//! | `hook NAME OUTFILE` | (a runtime hook, on the host) appends one [`HookRecord`] line to OUTFILE, exits 0 |
//! | `hook-fail NAME OUTFILE` | the same, exits 1 |
//! | `hook-sleep NAME OUTFILE SECS` | the same, then sleeps SECS and exits 0 |
//! | `write-file PATH TEXT` | writes TEXT to PATH, then sleeps until killed |
//!
//! Any other mode prints a usage to stderr and exits 2. The probe never panics: what it cannot
//! read is `null` (or absent) in the report, with a line in [`Observation::errors`].
//!
//! The probe is PID 1 of its PID namespace when the bundle asks for one, and it installs no
//! signal handlers (it has no `unsafe`), so the kernel drops signals such as SIGTERM sent to it
//! from outside; only SIGKILL (and SIGSTOP) reach it. Tests of `kill` with another signal must
//! run the probe without a new PID namespace.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_certify_core::fault::{Blame, Fault};
use serde::Deserialize;

/// Where [`install`] puts the probe, as seen inside the container.
pub const PATH_IN_ROOTFS: &str = "/oci-certify-probe";

/// The version of the report's JSON shape that this crate reads; the probe writes it as
/// `schema`.
pub const SCHEMA: u32 = 1;

static BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/oci-certify-probe"));

/// The probe's static executable (empty when the crate was built for a target other than
/// Linux).
pub fn binary() -> &'static [u8] {
    BINARY
}

/// Writes the probe to `path` (any file on the host, e.g. for hooks) with mode 0755.
///
/// Note for callers that then execute it while other threads spawn processes: a child forked
/// while the file is still open for writing keeps it open until its `exec`, and executing the
/// probe in that window fails with `ETXTBSY`; retry that error.
pub fn write_to(path: &Path) -> io::Result<()> {
    if BINARY.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the oci-certify probe was not built for this target (Linux only)",
        ));
    }
    fs::write(path, BINARY)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

/// Installs the probe as [`PATH_IN_ROOTFS`] in `rootfs` (created if missing) and returns the
/// host path of the installed file.
pub fn install(rootfs: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(rootfs)?;
    let path = rootfs.join(PATH_IN_ROOTFS.trim_start_matches('/'));
    write_to(&path)?;
    Ok(path)
}

/// What went wrong reading the probe's output.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The container's stdout is not the probe's JSON report.
    #[error("the probe's output is not its JSON report ({source}); output starts {excerpt:?}")]
    Garbled {
        /// The first bytes of the output.
        excerpt: String,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The report has another schema version than this crate reads.
    #[error("the probe reported schema {found}, this suite reads schema {SCHEMA}")]
    Schema {
        /// The version found.
        found: u32,
    },
    /// The probe could not observe something (its entry is `null`; the report's `errors` say
    /// why, usually because /proc was not mounted or not readable in the container).
    #[error("the probe could not observe {field} in the container{}", detail(.errors))]
    Missing {
        /// The report field.
        field: &'static str,
        /// The probe's error lines.
        errors: Vec<String>,
    },
    /// A value in the report does not have the shape the kernel gives it.
    #[error("the probe reported a malformed {field}: {value:?}")]
    Malformed {
        /// What it is.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A name the suite asked about is not known to this crate (a capability or rlimit).
    #[error("unknown {kind} name {name:?}")]
    UnknownName {
        /// `capability` or `rlimit`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A line of a hook log written by the probe does not parse.
    #[error("hook log line {line}: {source}")]
    HookLog {
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
}

fn detail(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" (probe errors: {})", errors.join("; "))
    }
}

impl Blame for ProbeError {
    fn fault(&self) -> Fault {
        match self {
            // The runtime garbled the container's stdout, or did not give the container what
            // the suite's bundle asked for (/proc).
            ProbeError::Garbled { .. }
            | ProbeError::Missing { .. }
            | ProbeError::Malformed { .. } => Fault::Subject,
            // The probe and this crate disagree, or the suite asked about a name it does not know.
            ProbeError::Schema { .. }
            | ProbeError::UnknownName { .. }
            | ProbeError::HookLog { .. } => Fault::Harness,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report

/// What the probe saw from inside the container: the JSON object `report` prints.
///
/// Fields read from /proc are `None` when the probe could not read them (see `errors`).
#[derive(Debug, Clone, Deserialize)]
pub struct Observation {
    /// Report shape version ([`SCHEMA`]).
    pub schema: u32,
    /// The probe's argv (non-UTF-8 bytes replaced with U+FFFD).
    #[serde(default)]
    pub argv: Vec<String>,
    /// The environment, `KEY=VALUE`, in `environ` order.
    #[serde(default)]
    pub env: Vec<String>,
    /// The working directory (getcwd).
    pub cwd: Option<String>,
    /// The probe's pid in its PID namespace.
    pub pid: u32,
    /// Its parent's pid (0 when the parent is outside its PID namespace).
    pub ppid: u32,
    /// readlink /proc/self/exe.
    pub exe: Option<String>,
    /// User ids (status `Uid:`).
    pub uid: Option<Ids>,
    /// Group ids (status `Gid:`).
    pub gid: Option<Ids>,
    /// Supplementary groups (status `Groups:`).
    pub groups: Option<Vec<u32>>,
    /// The umask as the kernel prints it, octal (status `Umask:`, e.g. `0022`).
    pub umask: Option<String>,
    /// Capability sets as hex strings.
    #[serde(default)]
    pub caps: Caps,
    /// status `NoNewPrivs:`.
    pub no_new_privs: Option<bool>,
    /// status `Seccomp:` (0 disabled, 1 strict, 2 filter).
    pub seccomp: Option<u32>,
    /// status `Seccomp_filters:` (Linux 5.9 and later).
    pub seccomp_filters: Option<u32>,
    /// status `Cpus_allowed_list:`.
    pub cpus_allowed_list: Option<String>,
    /// status `Mems_allowed_list:`.
    pub mems_allowed_list: Option<String>,
    /// The rows of /proc/self/limits.
    pub rlimits: Option<Vec<RlimitRow>>,
    /// /proc/self/oom_score_adj.
    pub oom_score_adj: Option<i32>,
    /// Scheduling policy, real-time priority and nice value from /proc/self/stat.
    pub sched: Option<Sched>,
    /// /proc/sys/kernel/hostname.
    pub hostname: Option<String>,
    /// /proc/sys/kernel/domainname.
    pub domainname: Option<String>,
    /// Namespace type (`cgroup`, `ipc`, `mnt`, `net`, `pid`, `pid_for_children`, `time`,
    /// `time_for_children`, `user`, `uts`) to the link /proc/self/ns/TYPE points to, such as
    /// `net:[4026531833]`.
    #[serde(default)]
    pub namespaces: BTreeMap<String, Option<String>>,
    /// /proc/self/uid_map, raw.
    pub uid_map: Option<String>,
    /// /proc/self/gid_map, raw.
    pub gid_map: Option<String>,
    /// /proc/self/timens_offsets, raw.
    pub timens_offsets: Option<String>,
    /// /proc/self/mountinfo, raw (see [`Observation::mounts`]).
    pub mountinfo: Option<String>,
    /// /proc/self/cgroup, raw.
    pub cgroup: Option<String>,
    /// /proc/self/personality (hex, e.g. `00000000`; LINUX32 is `00000008`).
    pub personality: Option<String>,
    /// /proc/self/attr/current (the AppArmor or SELinux label), if any LSM provides one.
    pub lsm_label: Option<String>,
    /// readlink of /proc/self/fd/0, 1 and 2.
    #[serde(default)]
    pub stdio: Vec<Option<String>>,
    /// Network interface names of the container's network namespace (/proc/self/net/dev).
    pub net_devices: Option<Vec<String>>,
    /// Everything under /dev, one level into /dev/pts and /dev/shm; symlinks not followed.
    #[serde(default)]
    pub dev: Vec<DevEntry>,
    /// One entry per `--path`.
    #[serde(default)]
    pub paths: Vec<PathReport>,
    /// One entry per `--write`.
    #[serde(default)]
    pub writes: Vec<WriteReport>,
    /// One entry per `--sysctl NAME`: the value of /proc/sys/NAME (dots as slashes unless the
    /// name holds a slash), without the trailing newline; `None` if unreadable.
    #[serde(default)]
    pub sysctls: BTreeMap<String, Option<String>>,
    /// With `--errno-syscall`: the errno of getcwd(2) called first thing, `None` if it
    /// succeeded (or if the option was not given).
    pub errno_syscall: Option<i32>,
    /// One entry per `--try SYSCALL:ARG`, made before anything else, in order.
    #[serde(default)]
    pub tries: Vec<SyscallAttempt>,
    /// What the probe could not read, one line each.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// The four ids of a status `Uid:` or `Gid:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Ids {
    /// Real id.
    pub real: u32,
    /// Effective id.
    pub effective: u32,
    /// Saved set id.
    pub saved: u32,
    /// Filesystem id.
    pub fs: u32,
}

/// Capability sets as /proc/self/status prints them (16 hex digits); see [`cap_set`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Caps {
    /// `CapInh`.
    pub inheritable: Option<String>,
    /// `CapPrm`.
    pub permitted: Option<String>,
    /// `CapEff`.
    pub effective: Option<String>,
    /// `CapBnd`.
    pub bounding: Option<String>,
    /// `CapAmb`.
    pub ambient: Option<String>,
}

/// The five capability sets as bit masks (bit N is capability number N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    /// Inheritable.
    pub inheritable: u64,
    /// Permitted.
    pub permitted: u64,
    /// Effective.
    pub effective: u64,
    /// Bounding.
    pub bounding: u64,
    /// Ambient.
    pub ambient: u64,
}

impl Caps {
    /// Parses all five sets.
    pub fn sets(&self) -> Result<CapSets, ProbeError> {
        let one = |field: &'static str, hex: &Option<String>| -> Result<u64, ProbeError> {
            let hex = hex.as_deref().ok_or(ProbeError::Missing {
                field,
                errors: Vec::new(),
            })?;
            cap_set(hex)
        };
        Ok(CapSets {
            inheritable: one("caps.inheritable", &self.inheritable)?,
            permitted: one("caps.permitted", &self.permitted)?,
            effective: one("caps.effective", &self.effective)?,
            bounding: one("caps.bounding", &self.bounding)?,
            ambient: one("caps.ambient", &self.ambient)?,
        })
    }
}

/// A row of /proc/self/limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RlimitRow {
    /// The row name, such as `Max open files`.
    pub name: String,
    /// rlim_cur.
    pub soft: Limit,
    /// rlim_max.
    pub hard: Limit,
    /// The unit column (`seconds`, `bytes`, `us`, ...; empty for some rows).
    #[serde(default)]
    pub units: String,
}

/// One limit value: a number, or `unlimited` (RLIM_INFINITY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawLimit")]
pub enum Limit {
    /// A finite value, in the unit of the rlimit (what setrlimit(2) takes).
    Value(u64),
    /// RLIM_INFINITY.
    Unlimited,
}

impl Limit {
    /// The value as setrlimit(2) and config.json spell it: RLIM_INFINITY is `u64::MAX`.
    pub fn as_u64(self) -> u64 {
        match self {
            Limit::Value(v) => v,
            Limit::Unlimited => u64::MAX,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLimit {
    Number(u64),
    Text(String),
}

impl TryFrom<RawLimit> for Limit {
    type Error = String;

    fn try_from(raw: RawLimit) -> Result<Self, String> {
        match raw {
            RawLimit::Number(n) => Ok(Limit::Value(n)),
            RawLimit::Text(t) if t == "unlimited" => Ok(Limit::Unlimited),
            RawLimit::Text(t) => Err(format!("a limit is a number or \"unlimited\", not {t:?}")),
        }
    }
}

/// Scheduling facts of the probe process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Sched {
    /// The policy number (`SCHED_OTHER` 0, `SCHED_FIFO` 1, ...; see [`Sched::policy_name`]).
    pub policy: i32,
    /// The real-time priority (0 for non-real-time policies).
    pub rt_priority: i32,
    /// The nice value.
    pub nice: i32,
}

impl Sched {
    /// The runtime-spec name of the policy (`process.scheduler.policy`).
    pub fn policy_name(&self) -> Option<&'static str> {
        Some(match self.policy {
            0 => "SCHED_OTHER",
            1 => "SCHED_FIFO",
            2 => "SCHED_RR",
            3 => "SCHED_BATCH",
            4 => "SCHED_ISO",
            5 => "SCHED_IDLE",
            6 => "SCHED_DEADLINE",
            _ => return None,
        })
    }
}

/// The type of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Regular file.
    File,
    /// Named pipe.
    Fifo,
    /// Unix socket.
    Socket,
    /// Anything else.
    #[serde(other)]
    Unknown,
}

/// A file under /dev (lstat, not following symlinks).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DevEntry {
    /// Absolute path.
    pub path: String,
    /// Its type.
    pub kind: FileKind,
    /// Device major number (devices only).
    pub major: Option<u64>,
    /// Device minor number (devices only).
    pub minor: Option<u64>,
    /// Permission bits, octal (`0666`); see [`mode_bits`].
    pub mode: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// The symlink's target (symlinks only).
    pub link: Option<String>,
}

/// What the probe found at a `--path`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PathReport {
    /// The path as given.
    pub path: String,
    /// Whether stat (or lstat, for a dangling symlink) succeeded.
    pub exists: bool,
    /// The errno of stat when it failed (ENOENT 2, EACCES 13, ...).
    pub stat_errno: Option<i32>,
    /// Type, following symlinks.
    pub kind: Option<FileKind>,
    /// Device major number (devices only): a path masked with /dev/null is `char` 1:3.
    pub major: Option<u64>,
    /// Device minor number (devices only).
    pub minor: Option<u64>,
    /// Permission bits, octal.
    pub mode: Option<String>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Whether opening and reading (a file, up to 4096 bytes, non-blocking) or listing (a
    /// directory) succeeded.
    pub read_ok: Option<bool>,
    /// Bytes read (files only, at most 4096).
    pub read_len: Option<u64>,
    /// The errno of the failed open, read or listing.
    pub read_errno: Option<i32>,
    /// The bytes read, if they are UTF-8 (files only).
    pub text: Option<String>,
    /// Number of entries (directories only).
    pub dir_entries: Option<u64>,
}

/// Whether a `--write` target is a directory (a file was created in it and removed) or not
/// (it was opened write-only, without creating or truncating it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteTarget {
    /// A directory.
    Dir,
    /// Anything else, including a path that does not exist.
    File,
}

/// Whether the probe could write at a `--write` path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WriteReport {
    /// The path as given.
    pub path: String,
    /// What was tried.
    pub target: WriteTarget,
    /// Whether it worked.
    pub ok: bool,
    /// The errno when it did not (EROFS 30 for a read-only mount, EACCES 13, ENOENT 2, ...).
    pub errno: Option<i32>,
}

/// One syscall the probe made (`--try`, or the `syscall` mode), e.g. to see what a seccomp
/// filter did to it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SyscallAttempt {
    /// The probe's name for it (`mkdir`, `rmdir`, `readlink`, `getppid`).
    pub syscall: String,
    /// Its path argument (empty for `getppid`).
    #[serde(default)]
    pub arg: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// The errno when it failed.
    pub errno: Option<i32>,
    /// The result, where it is a number (`getppid`).
    pub value: Option<i64>,
    /// Why it was not even tried (an unknown name).
    pub error: Option<String>,
}

impl SyscallAttempt {
    /// Parses the line the `syscall` mode prints.
    pub fn parse_line(stdout: &[u8]) -> Result<SyscallAttempt, ProbeError> {
        serde_json::from_slice(stdout).map_err(|source| ProbeError::Garbled {
            excerpt: String::from_utf8_lossy(&stdout[..stdout.len().min(200)]).into_owned(),
            source,
        })
    }
}

impl Observation {
    /// The `--try` attempt of `syscall` on `arg`.
    pub fn attempt(&self, syscall: &str, arg: &str) -> Option<&SyscallAttempt> {
        self.tries
            .iter()
            .find(|t| t.syscall == syscall && t.arg == arg)
    }

    /// Parses the container's stdout, which must be exactly the probe's report.
    pub fn parse(stdout: &[u8]) -> Result<Observation, ProbeError> {
        let obs: Observation =
            serde_json::from_slice(stdout).map_err(|source| ProbeError::Garbled {
                excerpt: String::from_utf8_lossy(&stdout[..stdout.len().min(200)]).into_owned(),
                source,
            })?;
        if obs.schema != SCHEMA {
            return Err(ProbeError::Schema { found: obs.schema });
        }
        Ok(obs)
    }

    fn missing(&self, field: &'static str) -> ProbeError {
        ProbeError::Missing {
            field,
            errors: self.errors.clone(),
        }
    }

    /// The mount table, parsed from `mountinfo`.
    pub fn mounts(&self) -> Result<Vec<MountInfo>, ProbeError> {
        let text = self
            .mountinfo
            .as_deref()
            .ok_or_else(|| self.missing("mountinfo"))?;
        parse_mountinfo(text)
    }

    /// The limit of a runtime-spec rlimit type such as `RLIMIT_NOFILE`.
    pub fn rlimit(&self, resource_name: &str) -> Result<&RlimitRow, ProbeError> {
        let row_name = proc_limits_row(resource_name).ok_or_else(|| ProbeError::UnknownName {
            kind: "rlimit",
            name: resource_name.to_string(),
        })?;
        let rows = self
            .rlimits
            .as_ref()
            .ok_or_else(|| self.missing("rlimits"))?;
        rows.iter()
            .find(|row| row.name == row_name)
            .ok_or_else(|| ProbeError::Missing {
                field: "rlimits",
                errors: vec![format!("no {row_name:?} row in /proc/self/limits")],
            })
    }

    /// The parsed capability sets.
    pub fn cap_sets(&self) -> Result<CapSets, ProbeError> {
        self.caps.sets()
    }

    /// The umask as a number.
    pub fn umask_value(&self) -> Result<u32, ProbeError> {
        let text = self.umask.as_deref().ok_or_else(|| self.missing("umask"))?;
        u32::from_str_radix(text, 8).map_err(|_| ProbeError::Malformed {
            field: "umask",
            value: text.to_string(),
        })
    }

    /// The value of an environment variable (the first `KEY=` entry).
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }

    /// The namespace link of a type (`net`, `mnt`, ...), if the probe could read it.
    pub fn namespace(&self, kind: &str) -> Option<&str> {
        self.namespaces.get(kind)?.as_deref()
    }

    /// The /dev entry at `path`.
    pub fn dev_entry(&self, path: &str) -> Option<&DevEntry> {
        self.dev.iter().find(|d| d.path == path)
    }

    /// The report of `--path path`.
    pub fn path_report(&self, path: &str) -> Option<&PathReport> {
        self.paths.iter().find(|p| p.path == path)
    }

    /// The report of `--write path`.
    pub fn write_report(&self, path: &str) -> Option<&WriteReport> {
        self.writes.iter().find(|w| w.path == path)
    }

    /// The value of `--sysctl name`: outer `None` if it was not asked for, inner `None` if it
    /// could not be read.
    pub fn sysctl(&self, name: &str) -> Option<Option<&str>> {
        self.sysctls.get(name).map(Option::as_deref)
    }
}

/// Parses an octal permission string such as `0644`.
pub fn mode_bits(mode: &str) -> Option<u32> {
    u32::from_str_radix(mode, 8).ok()
}

// ---------------------------------------------------------------------------------------------
// Capabilities

/// Every Linux capability by name and number (capabilities(7), up to Linux 5.9).
pub const CAPABILITIES: [(&str, u8); 41] = [
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_LINUX_IMMUTABLE", 9),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_IPC_LOCK", 14),
    ("CAP_IPC_OWNER", 15),
    ("CAP_SYS_MODULE", 16),
    ("CAP_SYS_RAWIO", 17),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_SYS_PACCT", 20),
    ("CAP_SYS_ADMIN", 21),
    ("CAP_SYS_BOOT", 22),
    ("CAP_SYS_NICE", 23),
    ("CAP_SYS_RESOURCE", 24),
    ("CAP_SYS_TIME", 25),
    ("CAP_SYS_TTY_CONFIG", 26),
    ("CAP_MKNOD", 27),
    ("CAP_LEASE", 28),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_AUDIT_CONTROL", 30),
    ("CAP_SETFCAP", 31),
    ("CAP_MAC_OVERRIDE", 32),
    ("CAP_MAC_ADMIN", 33),
    ("CAP_SYSLOG", 34),
    ("CAP_WAKE_ALARM", 35),
    ("CAP_BLOCK_SUSPEND", 36),
    ("CAP_AUDIT_READ", 37),
    ("CAP_PERFMON", 38),
    ("CAP_BPF", 39),
    ("CAP_CHECKPOINT_RESTORE", 40),
];

/// Parses a capability set as /proc/self/status prints it (hex, e.g. `000001fffeffffff`).
pub fn cap_set(hex: &str) -> Result<u64, ProbeError> {
    let digits = hex.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 16 {
        return Err(ProbeError::Malformed {
            field: "capability set",
            value: hex.to_string(),
        });
    }
    u64::from_str_radix(digits, 16).map_err(|_| ProbeError::Malformed {
        field: "capability set",
        value: hex.to_string(),
    })
}

/// The number of a capability (`CAP_CHOWN` is 0).
pub fn cap_number(name: &str) -> Option<u8> {
    CAPABILITIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, number)| number)
}

/// The name of a capability number.
pub fn cap_name(number: u8) -> Option<&'static str> {
    CAPABILITIES.get(usize::from(number)).map(|&(name, _)| name)
}

/// Whether `set` holds the capability `name`; false for a name that is not a capability
/// (check names with [`cap_number`] first where that matters).
pub fn has_cap(set: u64, name: &str) -> bool {
    cap_number(name).is_some_and(|n| set & (1 << n) != 0)
}

/// The names of the capabilities in `set`, by number; bits above [`CAPABILITIES`] are named
/// `CAP_<number>`.
pub fn cap_names(set: u64) -> Vec<String> {
    (0..64u8)
        .filter(|n| set & (1u64 << n) != 0)
        .map(|n| cap_name(n).map_or_else(|| format!("CAP_{n}"), str::to_string))
        .collect()
}

/// The set holding exactly the named capabilities.
pub fn cap_mask<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<u64, ProbeError> {
    names.into_iter().try_fold(0u64, |mask, name| {
        let n = cap_number(name).ok_or_else(|| ProbeError::UnknownName {
            kind: "capability",
            name: name.to_string(),
        })?;
        Ok(mask | (1 << n))
    })
}

// ---------------------------------------------------------------------------------------------
// Rlimits

/// Every Linux rlimit: runtime-spec `type` and the row name in /proc/PID/limits.
pub const RLIMITS: [(&str, &str); 16] = [
    ("RLIMIT_CPU", "Max cpu time"),
    ("RLIMIT_FSIZE", "Max file size"),
    ("RLIMIT_DATA", "Max data size"),
    ("RLIMIT_STACK", "Max stack size"),
    ("RLIMIT_CORE", "Max core file size"),
    ("RLIMIT_RSS", "Max resident set"),
    ("RLIMIT_NPROC", "Max processes"),
    ("RLIMIT_NOFILE", "Max open files"),
    ("RLIMIT_MEMLOCK", "Max locked memory"),
    ("RLIMIT_AS", "Max address space"),
    ("RLIMIT_LOCKS", "Max file locks"),
    ("RLIMIT_SIGPENDING", "Max pending signals"),
    ("RLIMIT_MSGQUEUE", "Max msgqueue size"),
    ("RLIMIT_NICE", "Max nice priority"),
    ("RLIMIT_RTPRIO", "Max realtime priority"),
    ("RLIMIT_RTTIME", "Max realtime timeout"),
];

/// The /proc/PID/limits row name of a runtime-spec rlimit type.
pub fn proc_limits_row(resource_name: &str) -> Option<&'static str> {
    RLIMITS
        .iter()
        .find(|(name, _)| *name == resource_name)
        .map(|&(_, row)| row)
}

// ---------------------------------------------------------------------------------------------
// Mounts

/// A line of /proc/PID/mountinfo (proc(5)); paths unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Unique mount id.
    pub mount_id: u32,
    /// The parent mount's id (itself for the root of the tree).
    pub parent_id: u32,
    /// Device major number of `st_dev`.
    pub major: u32,
    /// Device minor number of `st_dev`.
    pub minor: u32,
    /// The directory of the filesystem that forms this mount's root (a bind mount's source
    /// path within its filesystem).
    pub root: String,
    /// Where it is mounted, relative to the process's root.
    pub mount_point: String,
    /// Per-mount options (`rw`, `ro`, `nosuid`, `nodev`, `noexec`, `relatime`, ...).
    pub options: Vec<String>,
    /// Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<String>,
    /// Filesystem type (`proc`, `tmpfs`, `fuse.sshfs`, ...).
    pub fs_type: String,
    /// Mount source (`none` if there is none).
    pub source: String,
    /// Superblock options.
    pub super_options: Vec<String>,
}

impl MountInfo {
    /// Whether the per-mount options hold `option`.
    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    /// Whether the superblock options hold `option` (`key` or `key=value` by its key).
    pub fn has_super_option(&self, option: &str) -> bool {
        self.super_options
            .iter()
            .any(|o| o == option || o.split_once('=').is_some_and(|(k, _)| k == option))
    }

    /// Whether the mount is read-only (per mount).
    pub fn is_read_only(&self) -> bool {
        self.has_option("ro")
    }

    fn optional_number(&self, tag: &str) -> Option<u32> {
        self.optional
            .iter()
            .find_map(|f| f.strip_prefix(tag)?.strip_prefix(':')?.parse().ok())
    }

    /// The peer group this mount shares events with (`shared:N`).
    pub fn shared(&self) -> Option<u32> {
        self.optional_number("shared")
    }

    /// The peer group this mount receives events from (`master:N`).
    pub fn master(&self) -> Option<u32> {
        self.optional_number("master")
    }

    /// Whether the mount is unbindable.
    pub fn is_unbindable(&self) -> bool {
        self.optional.iter().any(|f| f == "unbindable")
    }

    /// Private: neither shared, slave nor unbindable.
    pub fn is_private(&self) -> bool {
        self.shared().is_none() && self.master().is_none() && !self.is_unbindable()
    }
}

/// The topmost (last mounted) mount at `mount_point`.
pub fn mount_at<'a>(mounts: &'a [MountInfo], mount_point: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mount_point == mount_point)
}

/// Parses /proc/PID/mountinfo text.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountInfo>, ProbeError> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_mountinfo_line)
        .collect()
}

fn parse_mountinfo_line(line: &str) -> Result<MountInfo, ProbeError> {
    let bad = || ProbeError::Malformed {
        field: "mountinfo line",
        value: line.to_string(),
    };
    // Fields are separated by single spaces; spaces inside paths are escaped as \040.
    let fields: Vec<&str> = line.trim_end_matches(['\n', '\r']).split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-").ok_or_else(bad)?;
    if sep < 6 || fields.len() < sep + 3 {
        return Err(bad());
    }
    let number = |s: &str| s.parse::<u32>().map_err(|_| bad());
    let (major, minor) = fields[2].split_once(':').ok_or_else(bad)?;
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .filter(|o| !o.is_empty())
            .map(unescape_octal)
            .collect()
    };
    Ok(MountInfo {
        mount_id: number(fields[0])?,
        parent_id: number(fields[1])?,
        major: number(major)?,
        minor: number(minor)?,
        root: unescape_octal(fields[3]),
        mount_point: unescape_octal(fields[4]),
        options: list(fields[5]),
        optional: fields[6..sep].iter().map(|f| f.to_string()).collect(),
        fs_type: unescape_octal(fields[sep + 1]),
        source: unescape_octal(fields[sep + 2]),
        // Superblock options could in principle hold an (escaped) space; join the rest.
        super_options: list(&fields[sep + 3..].join(" ")),
    })
}

/// Undoes the kernel's octal escaping (`\040` space, `\011` tab, `\012` newline, `\134`
/// backslash); anything else is kept as is.
pub fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Hooks

/// One line a hook mode appends to its OUTFILE.
#[derive(Debug, Clone, Deserialize)]
pub struct HookRecord {
    /// The NAME argument (which hook this was).
    pub hook: String,
    /// Everything the runtime wrote to the hook's stdin (the container state, per the spec).
    pub stdin: String,
    /// Why reading stdin failed, if it did.
    pub stdin_error: Option<String>,
    /// The hook's argv.
    #[serde(default)]
    pub argv: Vec<String>,
    /// The hook process's pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its working directory.
    pub cwd: Option<String>,
    /// Its environment, `KEY=VALUE`.
    #[serde(default)]
    pub env: Vec<String>,
    /// When it ran, nanoseconds since the UNIX epoch (CLOCK_REALTIME).
    pub time_ns: u64,
    /// Namespace kind (`mnt`, `net`, `uts`, `ipc`, `pid`) to the /proc/self/ns link it ran in.
    #[serde(default)]
    pub ns: BTreeMap<String, Option<String>>,
    /// Whether its `/` was the container's rootfs (the probe's path existed there).
    #[serde(default)]
    pub root_is_rootfs: bool,
}

/// Parses a hook OUTFILE (one JSON object a line), in the order the hooks ran.
pub fn parse_hook_log(text: &str) -> Result<Vec<HookRecord>, ProbeError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| ProbeError::HookLog {
                line: i + 1,
                source,
            })
        })
        .collect()
}
