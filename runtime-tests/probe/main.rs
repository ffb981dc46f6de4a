//! oci-certify-probe: the program the runtime certification runs inside containers (and, as a
//! hook, on the host).
//!
//! It is a single file using the standard library only, so that `runtime-tests/build.rs` can
//! compile it with a bare `rustc` into a static executable that runs in a rootfs holding
//! nothing else (no shell, no libc, no busybox). It never uses `unsafe`, never panics on
//! purpose (everything it cannot read becomes an entry of `errors`), and writes its JSON by
//! hand.
//!
//! Modes (argv[1]):
//!
//! ```text
//! report [--path P]... [--write P]... [--sysctl NAME]... [--errno-syscall] [--try SYSCALL:ARG]...
//! observe TAG [report options]    (the same report; TAG only tells containers apart)
//! syscall SYSCALL ARG             (one attempt, printed as one JSON line)
//! sleep
//! exit CODE
//! hook NAME OUTFILE | hook-fail NAME OUTFILE | hook-sleep NAME OUTFILE SECS
//! write-file PATH TEXT
//! ```
//!
//! The JSON schema of `report` and of the hook lines is mirrored by `Observation` and
//! `HookRecord` in `runtime-tests/src/probe.rs`; change both together and bump `SCHEMA`.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Version of the report's JSON shape.
const SCHEMA: i64 = 1;

/// How many bytes `--path` reads at most.
const READ_LIMIT: usize = 4096;

/// Where the suite installs the probe in a container's rootfs (`probe::PATH_IN_ROOTFS`).
const PROBE_PATH_IN_ROOTFS: &str = "/oci-certify-probe";

/// `O_NONBLOCK`, so that reading a fifo or a terminal named by `--path` cannot hang the probe.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const O_NONBLOCK: i32 = 0x80;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const O_NONBLOCK: i32 = 0x4000;
#[cfg(not(any(
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
const O_NONBLOCK: i32 = 0o4000;

const USAGE: &str = "usage: oci-certify-probe MODE [ARGS]
modes:
  report [--path P]... [--write P]... [--sysctl NAME]... [--errno-syscall] [--try SYSCALL:ARG]...
  observe TAG [report options]
  syscall SYSCALL ARG   (SYSCALL: mkdir, rmdir, readlink, getppid)
  sleep
  exit CODE
  hook NAME OUTFILE
  hook-fail NAME OUTFILE
  hook-sleep NAME OUTFILE SECS
  write-file PATH TEXT
";

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let strs: Vec<String> = args.iter().map(|a| lossy(a.as_bytes())).collect();
    let mode = strs.get(1).map(String::as_str).unwrap_or("");
    let rest = if strs.len() > 2 { &strs[2..] } else { &[][..] };
    let code = match (mode, rest) {
        ("report", opts) => report(&strs, opts),
        ("observe", [_tag, opts @ ..]) => report(&strs, opts),
        ("syscall", [name, arg]) => one_syscall(name, arg),
        ("sleep", []) => sleep_forever(),
        ("exit", [code]) => match code.parse::<i32>() {
            Ok(code) => code,
            Err(_) => usage(&format!("exit: not an integer: {code}")),
        },
        ("hook", [name, out]) => hook(&strs, name, out, 0, None),
        ("hook-fail", [name, out]) => hook(&strs, name, out, 1, None),
        ("hook-sleep", [name, out, secs]) => match secs.parse::<u64>() {
            Ok(secs) => hook(&strs, name, out, 0, Some(secs)),
            Err(_) => usage(&format!("hook-sleep: not a number of seconds: {secs}")),
        },
        ("write-file", [path, text]) => write_file(path, text),
        _ => usage(&format!(
            "unknown mode or wrong arguments: {:?}",
            &strs[1.min(strs.len())..]
        )),
    };
    std::process::exit(code);
}

fn usage(problem: &str) -> i32 {
    say_err(&format!("oci-certify-probe: {problem}\n{USAGE}"));
    2
}

/// Writes to stderr, ignoring failure (the probe must not panic on a closed stream).
fn say_err(text: &str) {
    let _ = io::stderr().write_all(text.as_bytes());
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn write_file(path: &str, text: &str) -> i32 {
    if let Err(e) = fs::write(path, text) {
        say_err(&format!("oci-certify-probe: write-file {path}: {e}\n"));
        return 3;
    }
    sleep_forever()
}

// ---------------------------------------------------------------------------------------------
// JSON

enum J {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn str(s: impl Into<String>) -> J {
        J::Str(s.into())
    }

    fn opt_str(s: Option<String>) -> J {
        s.map_or(J::Null, J::Str)
    }

    fn opt_int(i: Option<i64>) -> J {
        i.map_or(J::Null, J::Int)
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => out.push_str(&i.to_string()),
            J::Str(s) => write_str(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Builds a JSON object field by field.
#[derive(Default)]
struct Obj(Vec<(String, J)>);

impl Obj {
    fn put(&mut self, key: &str, value: J) {
        self.0.push((key.to_string(), value));
    }

    fn done(self) -> J {
        J::Obj(self.0)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn errno(e: &io::Error) -> J {
    J::opt_int(e.raw_os_error().map(i64::from))
}

// ---------------------------------------------------------------------------------------------
// report

/// Collects what the probe could not read; it becomes the report's `errors` array.
#[derive(Default)]
struct Errors(Vec<String>);

impl Errors {
    fn add(&mut self, what: &str, e: impl std::fmt::Display) {
        self.0.push(format!("{what}: {e}"));
    }

    fn read(&mut self, path: &str) -> Option<String> {
        match fs::read(path) {
            Ok(bytes) => Some(lossy(&bytes)),
            Err(e) => {
                self.add(path, e);
                None
            }
        }
    }

    fn readlink(&mut self, path: &str) -> Option<String> {
        match fs::read_link(path) {
            Ok(target) => Some(lossy(target.as_os_str().as_bytes())),
            Err(e) => {
                self.add(path, e);
                None
            }
        }
    }
}

struct Options {
    paths: Vec<String>,
    writes: Vec<String>,
    sysctls: Vec<String>,
    errno_syscall: bool,
    tries: Vec<String>,
}

fn parse_options(opts: &[String]) -> Result<Options, String> {
    let mut o = Options {
        paths: Vec::new(),
        writes: Vec::new(),
        sysctls: Vec::new(),
        errno_syscall: false,
        tries: Vec::new(),
    };
    let mut it = opts.iter();
    while let Some(flag) = it.next() {
        let list = match flag.as_str() {
            "--errno-syscall" => {
                o.errno_syscall = true;
                continue;
            }
            "--path" => &mut o.paths,
            "--write" => &mut o.writes,
            "--sysctl" => &mut o.sysctls,
            "--try" => &mut o.tries,
            other => return Err(format!("report: unknown option {other}")),
        };
        match it.next() {
            Some(value) => list.push(value.clone()),
            None => return Err(format!("report: {flag} needs a value")),
        }
    }
    Ok(o)
}

fn report(argv: &[String], opts: &[String]) -> i32 {
    let o = match parse_options(opts) {
        Ok(o) => o,
        Err(problem) => return usage(&problem),
    };
    // First, before anything else can disturb it: the errno of the syscall a seccomp test
    // denies (getcwd).
    let errno_syscall = if o.errno_syscall {
        Some(match std::env::current_dir() {
            Ok(_) => J::Null,
            Err(e) => errno(&e),
        })
    } else {
        None
    };
    // Then the syscalls a seccomp filter may deny, in the order given.
    let tries: Vec<J> = o
        .tries
        .iter()
        .map(|t| {
            let (name, arg) = t.split_once(':').unwrap_or((t.as_str(), ""));
            attempt(name, arg)
        })
        .collect();

    let mut err = Errors::default();
    let mut r = Obj::default();
    r.put("schema", J::Int(SCHEMA));
    r.put(
        "argv",
        J::Arr(argv.iter().map(|a| J::str(a.as_str())).collect()),
    );
    r.put(
        "env",
        J::Arr(
            std::env::vars_os()
                .map(|(k, v)| {
                    let mut kv = k.as_bytes().to_vec();
                    kv.push(b'=');
                    kv.extend_from_slice(v.as_bytes());
                    J::Str(lossy(&kv))
                })
                .collect(),
        ),
    );
    r.put(
        "cwd",
        match std::env::current_dir() {
            Ok(p) => J::Str(lossy(p.as_os_str().as_bytes())),
            Err(e) => {
                err.add("getcwd", e);
                J::Null
            }
        },
    );
    r.put("pid", J::Int(i64::from(std::process::id())));
    r.put(
        "ppid",
        J::Int(i64::from(std::os::unix::process::parent_id())),
    );
    r.put("exe", J::opt_str(err.readlink("/proc/self/exe")));

    status_fields(&mut r, &mut err);

    r.put("rlimits", rlimits(&mut err));
    r.put(
        "oom_score_adj",
        J::opt_int(
            err.read("/proc/self/oom_score_adj")
                .and_then(|s| parse_int(&s, "/proc/self/oom_score_adj", &mut err)),
        ),
    );
    r.put("sched", sched(&mut err));
    r.put(
        "hostname",
        J::opt_str(err.read("/proc/sys/kernel/hostname").map(chomp)),
    );
    r.put(
        "domainname",
        J::opt_str(err.read("/proc/sys/kernel/domainname").map(chomp)),
    );

    let mut ns = Obj::default();
    for kind in [
        "cgroup",
        "ipc",
        "mnt",
        "net",
        "pid",
        "pid_for_children",
        "time",
        "time_for_children",
        "user",
        "uts",
    ] {
        ns.put(
            kind,
            J::opt_str(err.readlink(&format!("/proc/self/ns/{kind}"))),
        );
    }
    r.put("namespaces", ns.done());
    r.put("uid_map", J::opt_str(err.read("/proc/self/uid_map")));
    r.put("gid_map", J::opt_str(err.read("/proc/self/gid_map")));
    r.put(
        "timens_offsets",
        J::opt_str(err.read("/proc/self/timens_offsets")),
    );
    r.put("mountinfo", J::opt_str(err.read("/proc/self/mountinfo")));
    r.put("cgroup", J::opt_str(err.read("/proc/self/cgroup")));
    r.put(
        "personality",
        J::opt_str(err.read("/proc/self/personality").map(chomp)),
    );
    r.put(
        "lsm_label",
        J::opt_str(err.read("/proc/self/attr/current").map(chomp)),
    );
    r.put(
        "stdio",
        J::Arr(
            (0..3)
                .map(|fd| J::opt_str(err.readlink(&format!("/proc/self/fd/{fd}"))))
                .collect(),
        ),
    );
    r.put("net_devices", net_devices(&mut err));
    r.put("dev", dev_entries(&mut err));
    r.put(
        "paths",
        J::Arr(o.paths.iter().map(|p| path_entry(p)).collect()),
    );
    r.put(
        "writes",
        J::Arr(o.writes.iter().map(|p| write_entry(p, &mut err)).collect()),
    );
    let mut sysctls = Obj::default();
    for name in &o.sysctls {
        let file = if name.contains('/') {
            format!("/proc/sys/{}", name.trim_start_matches('/'))
        } else {
            format!("/proc/sys/{}", name.replace('.', "/"))
        };
        sysctls.put(name, J::opt_str(err.read(&file).map(chomp)));
    }
    r.put("sysctls", sysctls.done());
    if let Some(value) = errno_syscall {
        r.put("errno_syscall", value);
    }
    r.put("tries", J::Arr(tries));
    r.put("errors", J::Arr(err.0.into_iter().map(J::Str).collect()));

    let mut out = String::with_capacity(16 * 1024);
    r.done().write(&mut out);
    out.push('\n');
    let mut stdout = io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 3;
    }
    0
}

fn chomp(mut s: String) -> String {
    while s.ends_with('\n') {
        s.pop();
    }
    s
}

fn parse_int(s: &str, what: &str, err: &mut Errors) -> Option<i64> {
    match s.trim().parse::<i64>() {
        Ok(i) => Some(i),
        Err(e) => {
            err.add(what, format!("not an integer {:?}: {e}", s.trim()));
            None
        }
    }
}

/// The fields that come from /proc/self/status.
fn status_fields(r: &mut Obj, err: &mut Errors) {
    let status = err.read("/proc/self/status").unwrap_or_default();
    let field = |key: &str| -> Option<&str> {
        status.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k == key).then(|| v.trim())
        })
    };
    let mut missing = Vec::new();
    let ids = |key: &str, missing: &mut Vec<String>| -> J {
        let values: Option<Vec<i64>> = field(key).map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        });
        match values {
            Some(v) if v.len() == 4 => {
                let mut o = Obj::default();
                for (name, value) in ["real", "effective", "saved", "fs"].iter().zip(v) {
                    o.put(name, J::Int(value));
                }
                o.done()
            }
            _ => {
                missing.push(key.to_string());
                J::Null
            }
        }
    };
    r.put("uid", ids("Uid", &mut missing));
    r.put("gid", ids("Gid", &mut missing));
    let groups = match field("Groups") {
        Some(v) => J::Arr(
            v.split_whitespace()
                .filter_map(|g| g.parse::<i64>().ok())
                .map(J::Int)
                .collect(),
        ),
        None => {
            missing.push("Groups".into());
            J::Null
        }
    };
    r.put("groups", groups);
    let text = |key: &str, missing: &mut Vec<String>| -> J {
        match field(key) {
            Some(v) => J::str(v),
            None => {
                missing.push(key.to_string());
                J::Null
            }
        }
    };
    r.put("umask", text("Umask", &mut missing));
    let mut caps = Obj::default();
    for (name, key) in [
        ("inheritable", "CapInh"),
        ("permitted", "CapPrm"),
        ("effective", "CapEff"),
        ("bounding", "CapBnd"),
        ("ambient", "CapAmb"),
    ] {
        caps.put(name, text(key, &mut missing));
    }
    r.put("caps", caps.done());
    let int = |key: &str, missing: &mut Vec<String>| -> Option<i64> {
        match field(key).map(|v| v.parse::<i64>()) {
            Some(Ok(i)) => Some(i),
            _ => {
                missing.push(key.to_string());
                None
            }
        }
    };
    r.put(
        "no_new_privs",
        int("NoNewPrivs", &mut missing).map_or(J::Null, |v| J::Bool(v != 0)),
    );
    r.put("seccomp", J::opt_int(int("Seccomp", &mut missing)));
    // Seccomp_filters exists since Linux 5.9 only: its absence is not an error.
    let filters = field("Seccomp_filters").and_then(|v| v.parse::<i64>().ok());
    r.put("seccomp_filters", J::opt_int(filters));
    r.put("cpus_allowed_list", text("Cpus_allowed_list", &mut missing));
    r.put("mems_allowed_list", text("Mems_allowed_list", &mut missing));
    if !status.is_empty() {
        for key in missing {
            err.add("/proc/self/status", format!("no readable {key}: line"));
        }
    }
}

/// /proc/self/limits: a header line, then `%-25s %-20s %-20s %-10s` rows.
fn rlimits(err: &mut Errors) -> J {
    let Some(text) = err.read("/proc/self/limits") else {
        return J::Null;
    };
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let (name, rest) = match (line.get(..26), line.get(26..)) {
            (Some(name), Some(rest)) => (name.trim(), rest),
            _ => {
                err.add("/proc/self/limits", format!("short line {line:?}"));
                continue;
            }
        };
        let mut cols = rest.split_whitespace();
        let (Some(soft), Some(hard)) = (cols.next(), cols.next()) else {
            err.add(
                "/proc/self/limits",
                format!("line without two limits {line:?}"),
            );
            continue;
        };
        let limit = |v: &str| match v.parse::<i64>() {
            Ok(i) => J::Int(i),
            Err(_) => J::str(v),
        };
        let mut row = Obj::default();
        row.put("name", J::str(name));
        row.put("soft", limit(soft));
        row.put("hard", limit(hard));
        row.put("units", J::str(cols.next().unwrap_or("")));
        rows.push(row.done());
    }
    J::Arr(rows)
}

/// Scheduling facts from /proc/self/stat: nice (field 19), rt_priority (40), policy (41).
fn sched(err: &mut Errors) -> J {
    let Some(stat) = err.read("/proc/self/stat") else {
        return J::Null;
    };
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        err.add("/proc/self/stat", "no ')' after the command name");
        return J::Null;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let at = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<i64>().ok());
    match (at(19), at(40), at(41)) {
        (Some(nice), Some(rt_priority), Some(policy)) => {
            let mut o = Obj::default();
            o.put("policy", J::Int(policy));
            o.put("rt_priority", J::Int(rt_priority));
            o.put("nice", J::Int(nice));
            o.done()
        }
        _ => {
            err.add("/proc/self/stat", "fewer than 41 fields");
            J::Null
        }
    }
}

/// Interface names of the probe's network namespace, from /proc/self/net/dev.
fn net_devices(err: &mut Errors) -> J {
    let Some(text) = err.read("/proc/self/net/dev") else {
        return J::Null;
    };
    J::Arr(
        text.lines()
            .skip(2)
            .filter_map(|line| line.split_once(':'))
            .map(|(name, _)| J::str(name.trim()))
            .collect(),
    )
}

fn kind_of(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    }
}

/// glibc's `gnu_dev_major` and `gnu_dev_minor`.
fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

fn clamp(v: u64) -> J {
    J::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// The metadata fields shared by `dev` and `paths` entries.
fn put_metadata(o: &mut Obj, md: &fs::Metadata) {
    let kind = kind_of(md.file_type());
    o.put("kind", J::str(kind));
    if kind == "char" || kind == "block" {
        o.put("major", clamp(major(md.rdev())));
        o.put("minor", clamp(minor(md.rdev())));
    }
    o.put("mode", J::Str(format!("{:04o}", md.mode() & 0o7777)));
    o.put("uid", J::Int(i64::from(md.uid())));
    o.put("gid", J::Int(i64::from(md.gid())));
}

/// Everything under /dev, and one level into /dev/pts and /dev/shm; symlinks are not followed.
fn dev_entries(err: &mut Errors) -> J {
    let mut out = Vec::new();
    list_dev(Path::new("/dev"), true, &mut out, err);
    J::Arr(out)
}

fn list_dev(dir: &Path, top: bool, out: &mut Vec<J>, err: &mut Errors) {
    let shown = lossy(dir.as_os_str().as_bytes());
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            err.add(&shown, e);
            return;
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(|entry| match entry {
            Ok(entry) => Some(entry.path()),
            Err(e) => {
                err.add(&shown, e);
                None
            }
        })
        .collect();
    paths.sort();
    for path in paths {
        let name = lossy(path.as_os_str().as_bytes());
        let md = match fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) => {
                err.add(&name, e);
                continue;
            }
        };
        let mut o = Obj::default();
        o.put("path", J::str(name.as_str()));
        put_metadata(&mut o, &md);
        if md.file_type().is_symlink() {
            o.put("link", J::opt_str(err.readlink(&name)));
        }
        out.push(o.done());
        let recurse = top
            && md.file_type().is_dir()
            && matches!(
                path.file_name().map(|n| n.as_bytes()),
                Some(b"pts" | b"shm")
            );
        if recurse {
            list_dev(&path, false, out, err);
        }
    }
}

/// What `--path P` reports: does P exist, what is it, can it be read, and how much.
fn path_entry(path: &str) -> J {
    let mut o = Obj::default();
    o.put("path", J::str(path));
    // Follow symlinks for the kind (a masked path is judged by what it resolves to), but a
    // dangling symlink still exists.
    let md = fs::metadata(path).or_else(|_| fs::symlink_metadata(path));
    let md = match md {
        Ok(md) => md,
        Err(e) => {
            o.put("exists", J::Bool(false));
            o.put("stat_errno", errno(&e));
            return o.done();
        }
    };
    o.put("exists", J::Bool(true));
    put_metadata(&mut o, &md);
    if md.is_dir() {
        match fs::read_dir(path) {
            Ok(entries) => {
                o.put("read_ok", J::Bool(true));
                o.put("dir_entries", J::Int(entries.count() as i64));
            }
            Err(e) => {
                o.put("read_ok", J::Bool(false));
                o.put("read_errno", errno(&e));
            }
        }
        return o.done();
    }
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path);
    let read = opened.and_then(|file| {
        let mut buf = Vec::with_capacity(READ_LIMIT);
        file.take(READ_LIMIT as u64).read_to_end(&mut buf)?;
        Ok(buf)
    });
    match read {
        Ok(buf) => {
            o.put("read_ok", J::Bool(true));
            o.put("read_len", J::Int(buf.len() as i64));
            o.put("text", J::opt_str(String::from_utf8(buf).ok()));
        }
        Err(e) => {
            o.put("read_ok", J::Bool(false));
            o.put("read_errno", errno(&e));
        }
    }
    o.done()
}

/// What `--write P` reports: can P be opened for writing (a file: opened write-only without
/// creating or truncating it; a directory: a new file created in it and removed again).
fn write_entry(path: &str, err: &mut Errors) -> J {
    let mut o = Obj::default();
    o.put("path", J::str(path));
    let is_dir = fs::metadata(path).map(|md| md.is_dir()).unwrap_or(false);
    let result = if is_dir {
        let probe_file = Path::new(path).join(format!(".oci-certify-probe-{}", std::process::id()));
        let created = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe_file);
        if created.is_ok() {
            if let Err(e) = fs::remove_file(&probe_file) {
                err.add(
                    &lossy(probe_file.as_os_str().as_bytes()),
                    format!("remove: {e}"),
                );
            }
        }
        created.map(drop)
    } else {
        fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(path)
            .map(drop)
    };
    o.put("target", J::str(if is_dir { "dir" } else { "file" }));
    match result {
        Ok(()) => {
            o.put("ok", J::Bool(true));
            o.put("errno", J::Null);
        }
        Err(e) => {
            o.put("ok", J::Bool(false));
            o.put("errno", errno(&e));
        }
    }
    o.done()
}

// ---------------------------------------------------------------------------------------------
// syscalls a seccomp filter may act on

/// Makes one syscall through the standard library and says how it went: `mkdir` (mkdir or
/// mkdirat; the directory is removed again), `rmdir` (rmdir or unlinkat), `readlink`
/// (readlink or readlinkat), `getppid` (its result is the parent's pid, or a negated errno
/// when a filter made it fail).
fn attempt(name: &str, arg: &str) -> J {
    let mut o = Obj::default();
    o.put("syscall", J::str(name));
    o.put("arg", J::str(arg));
    let result: Result<Option<i64>, io::Error> = match name {
        "mkdir" => fs::create_dir(arg).map(|()| {
            let _ = fs::remove_dir(arg);
            None
        }),
        "rmdir" => fs::remove_dir(arg).map(|()| None),
        "readlink" => fs::read_link(arg).map(|_| None),
        "getppid" => {
            // The wrapper does not set errno: a filtered call returns -errno as the pid.
            let raw = std::os::unix::process::parent_id() as i32;
            if raw < 0 {
                Err(io::Error::from_raw_os_error(-raw))
            } else {
                Ok(Some(i64::from(raw)))
            }
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown syscall {other}"),
        )),
    };
    match result {
        Ok(value) => {
            o.put("ok", J::Bool(true));
            o.put("errno", J::Null);
            o.put("value", J::opt_int(value));
        }
        Err(e) => {
            o.put("ok", J::Bool(false));
            o.put("errno", errno(&e));
            o.put("value", J::Null);
            if e.raw_os_error().is_none() {
                o.put("error", J::Str(e.to_string()));
            }
        }
    }
    o.done()
}

/// `syscall NAME ARG`: one attempt, printed as one JSON line; exit 0 (a filter that kills
/// leaves no line and a signal status instead).
fn one_syscall(name: &str, arg: &str) -> i32 {
    let mut line = String::new();
    attempt(name, arg).write(&mut line);
    line.push('\n');
    let mut stdout = io::stdout().lock();
    if stdout
        .write_all(line.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 3;
    }
    0
}

// ---------------------------------------------------------------------------------------------
// hooks

/// Runs as a runtime hook (on the host): records stdin (the container state) and who we are
/// as one JSON line appended to `out`, then exits with `code` (after `sleep` seconds if any).
fn hook(argv: &[String], name: &str, out: &str, code: i32, sleep: Option<u64>) -> i32 {
    let mut stdin = Vec::new();
    let mut read_error = None;
    if let Err(e) = io::stdin().read_to_end(&mut stdin) {
        read_error = Some(e.to_string());
    }
    let time_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut o = Obj::default();
    o.put("hook", J::str(name));
    o.put("stdin", J::Str(lossy(&stdin)));
    o.put("stdin_error", J::opt_str(read_error));
    o.put(
        "argv",
        J::Arr(argv.iter().map(|a| J::str(a.as_str())).collect()),
    );
    o.put("pid", J::Int(i64::from(std::process::id())));
    o.put(
        "ppid",
        J::Int(i64::from(std::os::unix::process::parent_id())),
    );
    o.put(
        "cwd",
        J::opt_str(
            std::env::current_dir()
                .ok()
                .map(|p| lossy(p.as_os_str().as_bytes())),
        ),
    );
    o.put(
        "env",
        J::Arr(
            std::env::vars_os()
                .map(|(k, v)| {
                    let mut kv = k.as_bytes().to_vec();
                    kv.push(b'=');
                    kv.extend_from_slice(v.as_bytes());
                    J::Str(lossy(&kv))
                })
                .collect(),
        ),
    );
    o.put("time_ns", J::Int(time_ns));
    // Which namespaces the hook runs in, so the host can tell the runtime namespace from the
    // container's; and whether its root is the container's rootfs (the probe's own path
    // exists only there), which tells "before pivot_root" from "after".
    let mut ns = Obj::default();
    for kind in ["mnt", "net", "uts", "ipc", "pid"] {
        let link = fs::read_link(format!("/proc/self/ns/{kind}"))
            .ok()
            .map(|p| lossy(p.as_os_str().as_bytes()));
        ns.put(kind, J::opt_str(link));
    }
    o.put("ns", ns.done());
    o.put(
        "root_is_rootfs",
        J::Bool(Path::new(PROBE_PATH_IN_ROOTFS).exists()),
    );
    let mut line = String::new();
    o.done().write(&mut line);
    line.push('\n');
    // One write on an O_APPEND file, so concurrent hooks cannot interleave within a line.
    let appended = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(out)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = appended {
        say_err(&format!(
            "oci-certify-probe: hook {name}: appending to {out}: {e}\n"
        ));
        return 3;
    }
    if let Some(secs) = sleep {
        std::thread::sleep(Duration::from_secs(secs));
    }
    code
}
