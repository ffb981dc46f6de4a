//! The in-container probe: the embedded executable run on the host and inside `runc`, and the
//! host-side parsers of what it reports.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oci_certify_core::fault::{Blame, Fault};
use oci_certify_runtime::probe::{
    self, cap_mask, cap_name, cap_names, cap_number, cap_set, has_cap, mount_at, parse_hook_log,
    parse_mountinfo, proc_limits_row, unescape_octal, FileKind, Limit, Observation, ProbeError,
    WriteTarget, CAPABILITIES, RLIMITS,
};

// ---------------------------------------------------------------------------------------------
// helpers

/// Writes the probe into `dir` and returns its path.
fn probe_in(dir: &Path) -> PathBuf {
    let path = dir.join("oci-certify-probe");
    probe::write_to(&path).expect("writing the probe");
    path
}

/// Spawns, retrying ETXTBSY: another test thread may have forked while our probe file was
/// still open for writing, and that child holds it open until its exec.
fn spawn(cmd: &mut Command) -> Child {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(26) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("spawning {cmd:?}: {e}"),
        }
    }
}

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(cmd)
        .wait_with_output()
        .expect("waiting for the probe")
}

/// A field of this test process's /proc/self/status.
fn own_status(key: &str) -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"))
        .trim()
        .to_string()
}

fn own_ids(key: &str) -> Vec<u32> {
    own_status(key)
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

fn own_namespace(kind: &str) -> String {
    let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
    link.to_string_lossy().into_owned()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// the executable

#[test]
fn probe_is_a_static_executable() {
    let elf = probe::binary();
    assert!(elf.len() > 100_000, "probe is {} bytes", elf.len());
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "64-bit ELF expected on this machine");
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([elf[at], elf[at + 1]]));
    let phoff = usize::try_from(u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap())).unwrap();
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    assert!(phnum > 0);
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
        assert_ne!(p_type, 3, "PT_INTERP: the probe needs a dynamic loader");
    }
}

#[test]
fn install_puts_the_probe_at_the_root_of_the_rootfs() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let rootfs = tmp.path().join("rootfs");
    let path = probe::install(&rootfs).unwrap();
    assert_eq!(path, rootfs.join("oci-certify-probe"));
    assert_eq!(probe::PATH_IN_ROOTFS, "/oci-certify-probe");
    let md = std::fs::metadata(&path).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o755);
    assert_eq!(std::fs::read(&path).unwrap(), probe::binary());
    let entries: Vec<_> = std::fs::read_dir(&rootfs).unwrap().collect();
    assert_eq!(entries.len(), 1, "the rootfs holds the probe only");
}

#[test]
fn report_on_the_host_matches_what_the_host_sees() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe_in(tmp.path());
    let writable = tmp.path().join("writable");
    std::fs::create_dir(&writable).unwrap();
    let missing_dir_file = tmp.path().join("no-such-dir/file");
    let args: Vec<String> = [
        "report",
        "--path",
        "/proc/self/status",
        "--path",
        "/nonexistent-oci-certify",
        "--path",
        "/proc/self",
        "--write",
        writable.to_str().unwrap(),
        "--write",
        missing_dir_file.to_str().unwrap(),
        "--sysctl",
        "kernel.hostname",
        "--sysctl",
        "kernel.no_such_sysctl_oci_certify",
        "--errno-syscall",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = output(
        Command::new(&probe)
            .args(&args)
            .current_dir(tmp.path())
            .env("OCI_CERTIFY_PROBE_TEST", "a value with = and spaces"),
    );
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let obs = Observation::parse(&out.stdout).expect("the report parses");

    // argv, env, cwd, pid
    assert_eq!(obs.schema, probe::SCHEMA);
    assert_eq!(obs.argv[0], probe.to_str().unwrap());
    assert_eq!(obs.argv[1..], args[..]);
    assert_eq!(
        obs.env_var("OCI_CERTIFY_PROBE_TEST"),
        Some("a value with = and spaces")
    );
    let cwd = tmp.path().canonicalize().unwrap();
    assert_eq!(obs.cwd.as_deref(), cwd.to_str());
    assert_eq!(obs.ppid, std::process::id());
    assert!(obs.pid > 0 && obs.pid != std::process::id());
    assert_eq!(obs.exe.as_deref(), probe.canonicalize().unwrap().to_str());

    // ids, groups, umask, caps, no_new_privs, seccomp: inherited from this test process
    let uid = obs.uid.expect("uid");
    assert_eq!(
        [uid.real, uid.effective, uid.saved, uid.fs].to_vec(),
        own_ids("Uid")
    );
    let gid = obs.gid.expect("gid");
    assert_eq!(
        [gid.real, gid.effective, gid.saved, gid.fs].to_vec(),
        own_ids("Gid")
    );
    assert_eq!(obs.groups.as_deref(), Some(&own_ids("Groups")[..]));
    assert_eq!(obs.umask.as_deref(), Some(own_status("Umask").as_str()));
    assert_eq!(
        obs.umask_value().unwrap(),
        u32::from_str_radix(&own_status("Umask"), 8).unwrap()
    );
    let caps = obs.cap_sets().expect("capability sets parse");
    assert_eq!(caps.bounding, cap_set(&own_status("CapBnd")).unwrap());
    assert_eq!(
        caps.effective & !(caps.bounding | caps.inheritable | caps.ambient),
        0
    );
    assert_eq!(obs.no_new_privs, Some(own_status("NoNewPrivs") == "1"));
    assert_eq!(obs.seccomp, Some(own_status("Seccomp").parse().unwrap()));
    assert_eq!(obs.errno_syscall, None, "getcwd succeeds without seccomp");

    // rlimits: every runtime-spec name maps to a row, values as the kernel shows them
    for (name, _) in RLIMITS {
        obs.rlimit(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let nofile: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    let row = obs.rlimit("RLIMIT_NOFILE").unwrap();
    assert_eq!(row.name, "Max open files");
    assert_eq!(row.units, "files");
    assert_eq!(row.soft, Limit::Value(nofile[3].parse().unwrap()));
    assert_eq!(row.hard, Limit::Value(nofile[4].parse().unwrap()));
    let rttime = obs.rlimit("RLIMIT_RTTIME").unwrap();
    assert_eq!(rttime.units, "us");
    let bogus = obs.rlimit("RLIMIT_BOGUS").unwrap_err();
    assert!(matches!(bogus, ProbeError::UnknownName { .. }));
    assert_eq!(bogus.fault(), Fault::Harness);

    // hostname, namespaces, mounts: the same as this test process's
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(obs.hostname.as_deref(), Some(hostname.trim_end()));
    assert_eq!(
        obs.sysctl("kernel.hostname"),
        Some(Some(hostname.trim_end()))
    );
    assert_eq!(obs.sysctl("kernel.no_such_sysctl_oci_certify"), Some(None));
    assert_eq!(obs.sysctl("not.asked"), None);
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "uts", "user"] {
        assert_eq!(
            obs.namespace(kind),
            Some(own_namespace(kind).as_str()),
            "{kind}"
        );
    }
    let mounts = obs.mounts().expect("mountinfo parses");
    assert!(!mounts.is_empty());
    let own = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(mounts.len(), parse_mountinfo(&own).unwrap().len());
    assert!(mount_at(&mounts, "/").is_some(), "a mount at /");
    assert_eq!(
        mount_at(&mounts, "/proc").map(|m| m.fs_type.as_str()),
        Some("proc")
    );
    assert!(obs.cgroup.as_deref().is_some_and(|c| !c.is_empty()));
    assert_eq!(obs.personality.as_deref().map(str::len), Some(8));
    assert_eq!(obs.oom_score_adj, Some(own_status_file("oom_score_adj")));
    let sched = obs.sched.expect("sched");
    assert_eq!(sched.policy_name(), Some("SCHED_OTHER"));
    assert!(obs
        .net_devices
        .as_ref()
        .is_some_and(|d| d.iter().any(|n| n == "lo")));
    assert_eq!(obs.stdio.len(), 3);
    assert_eq!(obs.stdio[0].as_deref(), Some("/dev/null"));

    // /dev
    let null = obs.dev_entry("/dev/null").expect("/dev/null is listed");
    assert_eq!(
        (null.kind, null.major, null.minor),
        (FileKind::Char, Some(1), Some(3))
    );
    assert_eq!(probe::mode_bits(&null.mode), Some(0o666));
    if let Some(ptmx) = obs.dev.iter().find(|d| d.path == "/dev/pts/ptmx") {
        assert_eq!(ptmx.kind, FileKind::Char);
    }

    // --path
    let status = obs.path_report("/proc/self/status").unwrap();
    assert!(status.exists);
    assert_eq!(status.kind, Some(FileKind::File));
    assert_eq!(status.read_ok, Some(true));
    assert!(status.read_len.unwrap() > 0);
    assert!(status.text.as_deref().unwrap().starts_with("Name:"));
    let missing = obs.path_report("/nonexistent-oci-certify").unwrap();
    assert!(!missing.exists);
    assert_eq!(missing.stat_errno, Some(2));
    let dir = obs.path_report("/proc/self").unwrap();
    assert_eq!(dir.kind, Some(FileKind::Dir));
    assert!(dir.dir_entries.unwrap() > 10);

    // --write
    let ok = obs.write_report(writable.to_str().unwrap()).unwrap();
    assert_eq!((ok.target, ok.ok, ok.errno), (WriteTarget::Dir, true, None));
    assert_eq!(
        std::fs::read_dir(&writable).unwrap().count(),
        0,
        "the probe cleans up"
    );
    let no = obs
        .write_report(missing_dir_file.to_str().unwrap())
        .unwrap();
    assert_eq!(
        (no.target, no.ok, no.errno),
        (WriteTarget::File, false, Some(2))
    );

    // errors: only what this host legitimately lacks
    assert!(
        obs.errors
            .iter()
            .any(|e| e.contains("no_such_sysctl_oci_certify")),
        "{:?}",
        obs.errors
    );
}

fn own_status_file(name: &str) -> i32 {
    std::fs::read_to_string(format!("/proc/self/{name}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn json_strings_survive_quotes_controls_and_bad_utf8() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe_in(tmp.path());
    let weird = "q\"b\\s/n\nt\tc\u{1}d\u{7f}ü€😀";
    let bad_utf8 = OsString::from_vec(vec![b'f', 0xff, b'g']);
    let out = output(
        Command::new(&probe)
            .arg("report")
            .arg("--path")
            .arg(weird)
            .arg("--path")
            .arg(&bad_utf8)
            .env("OCI_CERTIFY_WEIRD", weird),
    );
    assert!(out.status.success());
    let obs = Observation::parse(&out.stdout).unwrap();
    assert_eq!(obs.argv[3], weird);
    assert_eq!(obs.argv[5], "f\u{fffd}g");
    assert_eq!(obs.env_var("OCI_CERTIFY_WEIRD"), Some(weird));
    assert!(!obs.path_report(weird).unwrap().exists);
}

#[test]
fn exit_sleep_write_file_and_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe_in(tmp.path());
    assert_eq!(
        output(Command::new(&probe).args(["exit", "7"]))
            .status
            .code(),
        Some(7)
    );
    assert_eq!(
        output(Command::new(&probe).args(["exit", "0"]))
            .status
            .code(),
        Some(0)
    );
    for bad in [
        &["exit", "x"][..],
        &["nonsense"],
        &[],
        &["report", "--bogus"],
        &["report", "--path"],
    ] {
        let out = output(Command::new(&probe).args(bad));
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("usage: oci-certify-probe"));
        assert!(out.stdout.is_empty());
    }

    let mut sleeper = spawn(Command::new(&probe).arg("sleep"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(sleeper.try_wait().unwrap().is_none(), "sleep keeps running");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();

    let marker = tmp.path().join("marker");
    let mut writer = spawn(
        Command::new(&probe)
            .arg("write-file")
            .arg(&marker)
            .arg("written by the probe"),
    );
    wait_until("the marker", || marker.exists());
    wait_until("the marker's text", || {
        std::fs::read_to_string(&marker).unwrap() == "written by the probe"
    });
    assert!(
        writer.try_wait().unwrap().is_none(),
        "write-file sleeps afterwards"
    );
    writer.kill().unwrap();
    writer.wait().unwrap();

    let out = output(
        Command::new(&probe)
            .arg("write-file")
            .arg(tmp.path().join("no/such/dir"))
            .arg("x"),
    );
    assert_eq!(out.status.code(), Some(3));
}

/// Runs a hook mode with `stdin` as its standard input.
fn run_hook(probe: &Path, args: &[&str], stdin: &str) -> ExitStatus {
    let mut child = spawn(
        Command::new(probe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit()),
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait().unwrap()
}

#[test]
fn hooks_append_one_line_each_with_their_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe_in(tmp.path());
    let log = tmp.path().join("hooks.log");
    let log_s = log.to_str().unwrap();
    let state = "{\"ociVersion\":\"1.3.0\",\"id\":\"a\\\"b\",\"status\":\"created\",\"pid\":42,\"bundle\":\"/x\"}\n";
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert_eq!(
        run_hook(&probe, &["hook", "prestart", log_s], state).code(),
        Some(0)
    );
    assert_eq!(
        run_hook(&probe, &["hook-fail", "poststart", log_s], "").code(),
        Some(1)
    );

    let started = Instant::now();
    let mut sleeper = spawn(
        Command::new(&probe)
            .args(["hook-sleep", "poststop", log_s, "1"])
            .stdin(Stdio::null()),
    );
    wait_until("the hook-sleep line", || {
        std::fs::read_to_string(&log).unwrap().lines().count() == 3
    });
    assert_eq!(sleeper.wait().unwrap().code(), Some(0));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "hook-sleep slept"
    );

    let records = parse_hook_log(&std::fs::read_to_string(&log).unwrap()).unwrap();
    let names: Vec<&str> = records.iter().map(|r| r.hook.as_str()).collect();
    assert_eq!(names, ["prestart", "poststart", "poststop"]);
    assert_eq!(records[0].stdin, state);
    let parsed: serde_json::Value = serde_json::from_str(&records[0].stdin).unwrap();
    assert_eq!(parsed["id"], "a\"b");
    assert_eq!(records[1].stdin, "");
    for r in &records {
        assert_eq!(r.ppid, std::process::id());
        assert!(r.time_ns >= before);
        assert!(r.stdin_error.is_none());
        assert_eq!(
            r.argv[1],
            format!(
                "hook{}",
                match r.hook.as_str() {
                    "prestart" => "",
                    "poststart" => "-fail",
                    _ => "-sleep",
                }
            )
        );
        assert!(
            r.env.iter().any(|kv| kv.starts_with("PATH=")) || std::env::var_os("PATH").is_none()
        );
    }
    assert!(records[0].time_ns <= records[1].time_ns && records[1].time_ns <= records[2].time_ns);

    assert!(matches!(
        parse_hook_log("{\"hook\":1}\n"),
        Err(ProbeError::HookLog { line: 1, .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// parsers

#[test]
fn mountinfo_parses_optional_fields_and_escapes() {
    let text = "\
22 1 0:21 / /proc rw,relatime - proc proc rw
36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
40 36 0:50 /a\\040b /tmp/with\\040space\\011tab ro,nosuid shared:5 master:3 propagate_from:2 - tmpfs my\\134src rw,size=10k,mode=755
41 36 0:51 / /un ro unbindable - fuse.sshfs host:/x\\012y rw
";
    let mounts = parse_mountinfo(text).unwrap();
    assert_eq!(mounts.len(), 4);

    let proc_ = &mounts[0];
    assert_eq!(
        (proc_.mount_id, proc_.parent_id, proc_.major, proc_.minor),
        (22, 1, 0, 21)
    );
    assert_eq!(
        (proc_.root.as_str(), proc_.mount_point.as_str()),
        ("/", "/proc")
    );
    assert_eq!(proc_.options, ["rw", "relatime"]);
    assert!(proc_.optional.is_empty());
    assert!(proc_.is_private() && !proc_.is_read_only());
    assert_eq!(
        (proc_.fs_type.as_str(), proc_.source.as_str()),
        ("proc", "proc")
    );

    let ext3 = &mounts[1];
    assert_eq!((ext3.major, ext3.minor), (98, 0));
    assert_eq!(ext3.master(), Some(1));
    assert_eq!(ext3.shared(), None);
    assert!(!ext3.is_private());
    assert_eq!(ext3.super_options, ["rw", "errors=continue"]);
    assert!(ext3.has_super_option("errors"));

    let tmp = &mounts[2];
    assert_eq!(tmp.root, "/a b");
    assert_eq!(tmp.mount_point, "/tmp/with space\ttab");
    assert!(tmp.is_read_only() && tmp.has_option("nosuid"));
    assert_eq!(tmp.optional, ["shared:5", "master:3", "propagate_from:2"]);
    assert_eq!((tmp.shared(), tmp.master()), (Some(5), Some(3)));
    assert_eq!(tmp.source, "my\\src");
    assert!(tmp.has_super_option("size") && tmp.has_super_option("size=10k"));
    assert!(!tmp.has_super_option("siz"));

    let un = &mounts[3];
    assert!(un.is_unbindable() && !un.is_private());
    assert_eq!(un.fs_type, "fuse.sshfs");
    assert_eq!(un.source, "host:/x\ny");

    assert_eq!(mount_at(&mounts, "/mnt2").unwrap().mount_id, 36);
    let stacked = parse_mountinfo("1 0 0:1 / /x rw - a a rw\n2 1 0:2 / /x ro - b b rw\n").unwrap();
    assert_eq!(
        mount_at(&stacked, "/x").unwrap().fs_type,
        "b",
        "the topmost mount wins"
    );

    for bad in [
        "22 1 0:21 / /proc rw,relatime proc proc rw",
        "x 1 0:21 / /proc rw - proc proc rw",
        "22 1 021 / /proc rw - proc proc rw",
        "22 1 0:21 / /proc rw -",
        "22 1 0:21 / - proc proc rw",
    ] {
        let err = parse_mountinfo(bad).unwrap_err();
        assert!(matches!(err, ProbeError::Malformed { .. }), "{bad}");
        assert_eq!(err.fault(), Fault::Subject);
    }
}

#[test]
fn octal_unescaping_leaves_other_backslashes_alone() {
    assert_eq!(unescape_octal("a\\040b"), "a b");
    assert_eq!(unescape_octal("\\134\\011\\012"), "\\\t\n");
    assert_eq!(unescape_octal("\\x41\\04"), "\\x41\\04");
    assert_eq!(
        unescape_octal("\\777"),
        "\\777",
        "above 255 is not an escape"
    );
    assert_eq!(unescape_octal("end\\"), "end\\");
}

#[test]
fn capability_names_and_numbers() {
    for (i, (name, number)) in CAPABILITIES.iter().enumerate() {
        assert_eq!(usize::from(*number), i, "{name}");
        assert!(name.starts_with("CAP_"));
        assert_eq!(cap_number(name), Some(*number));
        assert_eq!(cap_name(*number), Some(*name));
    }
    assert_eq!(cap_number("CAP_CHOWN"), Some(0));
    assert_eq!(cap_number("CAP_SYS_ADMIN"), Some(21));
    assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
    assert_eq!(cap_number("CAP_NOPE"), None);
    assert_eq!(cap_number("chown"), None);
    assert_eq!(cap_name(41), None);

    // The running kernel knows no capability this list lacks.
    let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for n in 0..=last {
        assert!(
            cap_name(n).is_some(),
            "the kernel has capability {n}; add it to CAPABILITIES"
        );
    }

    let set = cap_set("000001fffeffffff").unwrap();
    assert!(has_cap(set, "CAP_CHOWN") && has_cap(set, "CAP_CHECKPOINT_RESTORE"));
    assert!(!has_cap(set, "CAP_SYS_RESOURCE"));
    assert!(!has_cap(set, "CAP_NOPE"));
    assert_eq!(cap_names(set).len(), 40);
    let runc_default = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mask = cap_mask(runc_default).unwrap();
    assert_eq!(mask, 0x2000_0420);
    assert_eq!(
        cap_names(mask),
        ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
    );
    assert_eq!(cap_names(1 << 45), ["CAP_45"]);
    assert!(matches!(
        cap_mask(["CAP_NOPE"]),
        Err(ProbeError::UnknownName { .. })
    ));
    assert_eq!(cap_set("0").unwrap(), 0);
    for bad in ["", "zz", "00000000000000000", "-1"] {
        assert!(
            matches!(cap_set(bad), Err(ProbeError::Malformed { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn rlimit_names_map_to_proc_rows() {
    assert_eq!(proc_limits_row("RLIMIT_NOFILE"), Some("Max open files"));
    assert_eq!(proc_limits_row("RLIMIT_CPU"), Some("Max cpu time"));
    assert_eq!(
        proc_limits_row("RLIMIT_RTTIME"),
        Some("Max realtime timeout")
    );
    assert_eq!(proc_limits_row("RLIMIT_NOPE"), None);
    // Every row of this kernel's /proc/self/limits has a runtime-spec name.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let rows: Vec<&str> = limits.lines().skip(1).map(|l| l[..26].trim()).collect();
    assert_eq!(rows.len(), RLIMITS.len());
    for row in rows {
        assert!(RLIMITS.iter().any(|(_, r)| *r == row), "{row}");
    }
    assert_eq!(Limit::Unlimited.as_u64(), u64::MAX);
    assert_eq!(Limit::Value(5).as_u64(), 5);
}

#[test]
fn garbled_or_foreign_output_is_blamed_correctly() {
    let garbled = Observation::parse(b"runc: warning\n{}").unwrap_err();
    assert!(matches!(garbled, ProbeError::Garbled { .. }));
    assert_eq!(garbled.fault(), Fault::Subject);
    assert!(garbled.to_string().contains("runc: warning"));

    let other = Observation::parse(br#"{"schema": 99, "pid": 1, "ppid": 0}"#).unwrap_err();
    assert!(matches!(other, ProbeError::Schema { found: 99 }));
    assert_eq!(other.fault(), Fault::Harness);

    // A minimal report (no /proc): everything optional is absent, and asking for it says why.
    let bare = Observation::parse(
        br#"{"schema":1,"pid":1,"ppid":0,"mountinfo":null,"rlimits":null,"errors":["/proc/self/mountinfo: No such file or directory (os error 2)"]}"#,
    )
    .unwrap();
    let missing = bare.mounts().unwrap_err();
    assert_eq!(missing.fault(), Fault::Subject);
    assert!(missing.to_string().contains("No such file"), "{missing}");
    assert!(bare.rlimit("RLIMIT_NOFILE").is_err());
    assert!(bare.cap_sets().is_err());
    assert!(bare.umask_value().is_err());

    let bad_limit = Observation::parse(
        br#"{"schema":1,"pid":1,"ppid":0,"rlimits":[{"name":"Max open files","soft":"lots","hard":1,"units":"files"}]}"#,
    )
    .unwrap_err();
    assert!(matches!(bad_limit, ProbeError::Garbled { .. }));
}

// ---------------------------------------------------------------------------------------------
// inside a real runtime

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Force-deletes the container whatever happened to the test.
struct DeleteContainer<'a> {
    runc: &'a Path,
    state: &'a Path,
    id: &'a str,
}

impl Drop for DeleteContainer<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.runc)
            .arg("--root")
            .arg(self.state)
            .args(["delete", "-f", self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs the probe with `args` in a bundle made from `runc spec` (edited by `edit`, with the
/// probe as the only file of the rootfs) under `runc run`, and parses its report.
fn report_from_runc(args: &[&str], edit: impl FnOnce(&mut serde_json::Value)) -> Observation {
    assert_eq!(
        own_ids("Uid")[1],
        0,
        "this test runs runc and needs root (CI and the test machines run as root)"
    );
    let runc = find_in_path("runc")
        .expect("runc is not installed: `cargo xtask setup` installs it (Debian package runc)");

    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let state = tmp.path().join("state");
    std::fs::create_dir(&bundle).unwrap();
    let spec = Command::new(&runc)
        .arg("spec")
        .arg("--bundle")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        spec.status.success(),
        "runc spec: {}",
        String::from_utf8_lossy(&spec.stderr)
    );
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let mut argv = vec!["/oci-certify-probe", "report"];
    argv.extend_from_slice(args);
    config["process"]["args"] = serde_json::json!(argv);
    config["process"]["terminal"] = false.into();
    config["hostname"] = "probe-test".into();
    edit(&mut config);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    probe::install(&bundle.join("rootfs")).unwrap();

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let id = format!("oci-certify-probe-test-{}-{nanos}", std::process::id());
    let _cleanup = DeleteContainer {
        runc: &runc,
        state: &state,
        id: &id,
    };
    let mut child = spawn(
        Command::new(&runc)
            .arg("--root")
            .arg(&state)
            .args(["run", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stdout_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout_pipe.read_to_end(&mut buf);
        buf
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("runc run did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout_reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&stderr_reader.join().unwrap()).into_owned();
    assert!(status.success(), "runc run: {status}\n{stderr}");
    Observation::parse(&stdout).unwrap_or_else(|e| panic!("{e}\nstderr: {stderr}"))
}

#[test]
fn report_inside_runc() {
    let obs = report_from_runc(&["--path", "/proc/timer_list", "--write", "/"], |_| {});

    assert_eq!(obs.hostname.as_deref(), Some("probe-test"));
    assert_eq!(obs.cwd.as_deref(), Some("/"));
    assert_eq!(obs.argv[0], "/oci-certify-probe");
    assert_eq!(
        obs.pid, 1,
        "the probe is PID 1 of the container's PID namespace"
    );
    for kind in ["mnt", "pid", "uts", "ipc", "net"] {
        let inside = obs
            .namespace(kind)
            .unwrap_or_else(|| panic!("{kind}: {:?}", obs.errors));
        assert_ne!(
            inside,
            own_namespace(kind),
            "{kind} namespace is the host's"
        );
    }
    assert_eq!(obs.env_var("TERM"), Some("xterm"));
    let uid = obs.uid.unwrap();
    assert_eq!((uid.real, uid.effective), (0, 0));

    // What runc's default spec asks for.
    let runc_caps = cap_mask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]).unwrap();
    let caps = obs.cap_sets().unwrap();
    assert_eq!(caps.bounding, runc_caps, "{:?}", cap_names(caps.bounding));
    assert_eq!(caps.effective, runc_caps, "{:?}", cap_names(caps.effective));
    assert_eq!(obs.no_new_privs, Some(true));
    let nofile = obs.rlimit("RLIMIT_NOFILE").unwrap();
    assert_eq!(
        (nofile.soft, nofile.hard),
        (Limit::Value(1024), Limit::Value(1024))
    );
    let mounts = obs.mounts().unwrap();
    assert!(mount_at(&mounts, "/").expect("a root mount").is_read_only());
    assert_eq!(
        mount_at(&mounts, "/proc").map(|m| m.fs_type.as_str()),
        Some("proc")
    );
    let root_write = obs.write_report("/").unwrap();
    assert_eq!(
        (root_write.ok, root_write.errno),
        (false, Some(30)),
        "EROFS on a read-only root"
    );
    let masked = obs.path_report("/proc/timer_list").unwrap();
    assert_eq!(
        (masked.kind, masked.major, masked.minor, masked.read_len),
        (Some(FileKind::Char), Some(1), Some(3), Some(0)),
        "masked with /dev/null"
    );
    for (path, minor) in [
        ("/dev/null", 3),
        ("/dev/zero", 5),
        ("/dev/full", 7),
        ("/dev/urandom", 9),
    ] {
        let dev = obs
            .dev_entry(path)
            .unwrap_or_else(|| panic!("{path} in {:?}", obs.dev));
        assert_eq!(
            (dev.kind, dev.major, dev.minor),
            (FileKind::Char, Some(1), Some(minor))
        );
    }
    let ptmx = obs.dev_entry("/dev/ptmx").unwrap();
    assert_eq!(ptmx.kind, FileKind::Symlink);
    assert_eq!(ptmx.link.as_deref(), Some("pts/ptmx"));
}

#[test]
fn report_without_proc_is_still_a_report() {
    // /proc hidden under an empty tmpfs in a private mount namespace: the probe must report
    // what it can and list what it could not, never crash. (runc itself needs /proc, so this
    // runs on the host with unshare(1) instead.)
    assert_eq!(
        own_ids("Uid")[1],
        0,
        "this test mounts a tmpfs and needs root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let probe = probe_in(tmp.path());
    let out = output(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg("mount -t tmpfs oci-certify-no-proc /proc && exec \"$0\" report --sysctl kernel.hostname")
            .arg(&probe)
            .current_dir(tmp.path()),
    );
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let obs = Observation::parse(&out.stdout).unwrap();
    assert_eq!(
        obs.cwd.as_deref(),
        tmp.path().canonicalize().unwrap().to_str()
    );
    assert!(obs.pid > 0);
    assert!(obs.uid.is_none() && obs.mountinfo.is_none() && obs.hostname.is_none());
    assert!(obs.rlimits.is_none() && obs.caps.effective.is_none() && obs.exe.is_none());
    assert_eq!(obs.sysctl("kernel.hostname"), Some(None));
    assert!(obs.namespaces.values().all(Option::is_none));
    assert!(
        obs.errors
            .iter()
            .any(|e| e.starts_with("/proc/self/status:")),
        "{:?}",
        obs.errors
    );
    let err = obs.mounts().unwrap_err();
    assert_eq!(err.fault(), Fault::Subject);
    assert!(err.to_string().contains("/proc/self/mountinfo"), "{err}");
    assert!(
        obs.dev_entry("/dev/null").is_some(),
        "/dev does not need /proc"
    );
}
