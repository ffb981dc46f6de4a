//! The lifecycle driver against real runtimes: runc on the host, crun in a private mount
//! namespace (it refuses the host's hybrid cgroups), a fake runtime that hangs, the cleanup
//! audit after clean and dirty runs, and Ctrl-C.
//!
//! These tests need root and the runtimes installed (`cargo xtask setup`); without them they
//! fail, never pass silently. Two `#[ignore]`d tests are helpers that the others run in a
//! child process (`crun_child`, `interrupt_child`); run alone they fail with an explanation.

use oci_certify_core::fault::{Blame, Fault};
use oci_certify_runtime::cli::{Invocation, Runtime};
use oci_certify_runtime::driver::{
    CleanupReport, Container, ExitDetection, Leftover, ProcessExit, Session, SessionOptions,
};
use oci_certify_runtime::error::DriverError;
use oci_certify_runtime::host::{CgroupMode, HostInfo};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// helpers

/// A std-only program compiled static with a bare rustc: it needs nothing in the rootfs.
/// Unlike the probe it handles SIGTERM (exit 143), so `kill TERM` reaches it as PID 1 of a PID
/// namespace.
const TEST_PROGRAM: &str = r#"
use std::io::Write;
extern "C" {
    fn signal(sig: i32, handler: extern "C" fn(i32)) -> usize;
    fn _exit(code: i32) -> !;
}
extern "C" fn on_term(sig: i32) {
    unsafe { _exit(128 + sig) }
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    unsafe { signal(15, on_term); }
    match args.get(1).map(String::as_str) {
        Some("sleep") => loop { std::thread::sleep(std::time::Duration::from_secs(3600)) },
        Some("echo") => {
            let _ = writeln!(std::io::stdout(), "{}", args[2]);
            let _ = writeln!(std::io::stderr(), "err:{}", args[2]);
        }
        Some("exit") => std::process::exit(args[2].parse().unwrap_or(2)),
        _ => std::process::exit(2),
    }
}
"#;

/// Where the test program lives once compiled (cached in the target dir by content hash).
fn test_program() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os("OCI_CERTIFY_TEST_PROGRAM") {
            return PathBuf::from(p);
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        TEST_PROGRAM.hash(&mut h);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("driver-test-program");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join(format!("prog-{:016x}", h.finish()));
        if bin.is_file() {
            return bin;
        }
        let src = dir.join(format!("prog-{}.rs", std::process::id()));
        std::fs::write(&src, TEST_PROGRAM).unwrap();
        let tmp = dir.join(format!("prog-{}.tmp", std::process::id()));
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let out = Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "-O",
                "-C",
                "target-feature=+crt-static",
                "-o",
            ])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("running rustc to build the static test program");
        assert!(
            out.status.success(),
            "rustc failed to build the static test program (libc6-dev provides libc.a; \
             run `cargo xtask setup`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&tmp, &bin).unwrap();
        let _ = std::fs::remove_file(&src);
        bin
    })
}

/// Puts the test program at /t in `rootfs` (a hard link: nothing is written, so no forked
/// child can hold it open for writing and make its exec fail with ETXTBSY).
fn install_program(rootfs: &Path) -> std::io::Result<()> {
    let dest = rootfs.join("t");
    std::fs::hard_link(test_program(), &dest)
        .or_else(|_| std::fs::copy(test_program(), &dest).map(drop))
}

fn find_runtime(name: &str) -> PathBuf {
    assert!(
        rustix::process::geteuid().is_root(),
        "the runtime driver tests need root (CI runs them as root)"
    );
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/sbin",
        "/bin",
    ] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not installed: run `cargo xtask setup` (xtask/apt-packages.txt lists it)");
}

fn runc() -> PathBuf {
    find_runtime("runc")
}

fn session(binary: &Path) -> Session {
    Session::new(
        binary,
        SessionOptions {
            timeout: Duration::from_secs(20),
            ..SessionOptions::default()
        },
    )
    .expect("session")
}

/// A minimal config.json running the test program with `args` (ociVersion 1.0.2: crun 1.8
/// rejects 1.2 and later).
fn config(session: &Session, name: &str, args: &[&str]) -> Value {
    let mut argv = vec!["/t".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": argv,
            "env": ["PATH=/"],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "oci-certify",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "cgroupsPath": session.cgroups_path(name),
            "namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "network"}
            ]
        }
    })
}

fn container<'s>(s: &'s Session, name: &str, args: &[&str]) -> Container<'s> {
    s.container(name, &config(s, name, args), install_program)
        .expect("bundle")
}

fn status_of(state: &Option<Value>) -> Option<String> {
    state.as_ref()?.get("status")?.as_str().map(str::to_string)
}

fn assert_ok(inv: &Invocation) {
    assert!(
        inv.ok(),
        "{inv}\nstdout: {}\nstderr: {}",
        inv.stdout,
        inv.stderr
    );
}

/// A process is alive if it exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !(state.starts_with('Z') || state.starts_with('X'))
        }
        Err(_) => false,
    }
}

/// Waits (by pidfd) until `pid` exits; SIGKILL is asynchronous, so a process just killed may
/// still be running for a moment.
fn exits_within(pid: i32, timeout: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) else {
        return !alive(pid);
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let ts = Timespec::try_from(timeout).unwrap();
    matches!(poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}

/// Cgroup directories whose name carries `run_id`, in this mount namespace.
fn cgroups_named(run_id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, needle: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if e.file_name().to_string_lossy().contains(needle) {
                    out.push(e.path());
                }
                walk(&e.path(), needle, out);
            }
        }
    }
    let mut out = Vec::new();
    for root in CgroupMode::detect().hierarchies() {
        walk(&root, run_id, &mut out);
    }
    out
}

/// Asserts that nothing of the run is left on the host.
fn assert_nothing_left(report: &CleanupReport, dir: &Path) {
    assert!(report.unremovable.is_empty(), "{report}");
    assert!(!dir.exists(), "{} still exists", dir.display());
    let left = cgroups_named(&report.run_id);
    assert!(left.is_empty(), "cgroups left: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// runc

#[test]
fn runc_full_lifecycle() {
    let started = Instant::now();
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let mut c = container(&s, "lifecycle", &["sleep"]);

    let created = c.create(true).unwrap();
    assert_ok(&created);
    assert_eq!(
        &created.argv[created.argv.len() - 6..],
        [
            "create",
            "--bundle",
            &c.bundle().display().to_string(),
            "--pid-file",
            &c.pid_file().display().to_string(),
            c.id()
        ]
    );
    let pid_from_file: i32 = std::fs::read_to_string(c.pid_file())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(c.pid(), Some(pid_from_file));

    let (inv, state) = c.state().unwrap();
    assert_ok(&inv);
    let state = state.expect("state prints JSON");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], c.id());
    assert_eq!(state["pid"], pid_from_file);
    assert_eq!(
        Path::new(state["bundle"].as_str().unwrap()),
        c.bundle(),
        "bundle is the absolute bundle path"
    );

    assert_ok(&c.start().unwrap());
    let (_, state) = c.state().unwrap();
    assert_eq!(status_of(&state).as_deref(), Some("running"));
    // Not exited yet: the pidfd does not become readable.
    assert_eq!(c.wait_exit(Duration::from_millis(20)).unwrap(), None);

    assert_ok(&c.kill("TERM").unwrap());
    let exit = c
        .wait_exit(Duration::from_secs(5))
        .unwrap()
        .expect("exits after TERM");
    assert_eq!(exit.detected_by, ExitDetection::Pidfd);
    assert_eq!(exit.pid, Some(pid_from_file));
    // This process is the subreaper, so it collects the status: the handler's 128 + 15.
    assert_eq!(exit.status, Some(ProcessExit::Code(143)));
    assert!(exits_within(pid_from_file, Duration::from_secs(5)));

    let (inv, state) = c.state().unwrap();
    assert_ok(&inv);
    assert_eq!(status_of(&state).as_deref(), Some("stopped"));

    assert_ok(&c.delete(false).unwrap());
    let (inv, _) = c.state().unwrap();
    assert!(!inv.ok(), "state of a deleted container must fail: {inv}");
    assert!(!inv.stderr.is_empty());

    drop(c);
    let report = s.finish();
    assert!(report.is_clean(), "{report}");
    assert_nothing_left(&report, &dir);
    eprintln!("runc_full_lifecycle: {:?}", started.elapsed());
}

#[test]
fn runc_output_is_captured_to_eof() {
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let mut c = container(&s, "echo", &["echo", "hello"]);
    assert_ok(&c.create(false).unwrap());
    // Without a pid file, the driver learnt the pid from `state`.
    assert!(c.pid().is_some());
    assert_ok(&c.start().unwrap());
    let out = c.output_to_eof(Duration::from_secs(5)).unwrap();
    assert!(out.complete, "EOF when the container exits");
    assert_eq!(out.stdout_text(), "hello\n");
    assert_eq!(out.stderr_text(), "err:hello\n");
    let exit = c.wait_exit(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(exit.status, Some(ProcessExit::Code(0)));
    assert_ok(&c.delete(false).unwrap());
    drop(c);
    let report = s.finish();
    assert!(report.is_clean(), "{report}");
    assert_nothing_left(&report, &dir);
}

#[test]
fn runc_exit_code_and_probe_report() {
    // The real in-container probe: `report` prints one JSON object and exits 0.
    use oci_certify_runtime::probe;
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let mut cfg = config(&s, "probe", &[]);
    cfg["process"]["args"] = json!([probe::PATH_IN_ROOTFS, "report"]);
    let mut c = s
        .container("probe", &cfg, |r| probe::install(r).map(drop))
        .unwrap();
    assert_ok(&c.create(true).unwrap());
    assert_ok(&c.start().unwrap());
    let out = c.output_to_eof(Duration::from_secs(5)).unwrap();
    assert!(out.complete);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("probe output is not JSON ({e}): {}", out.stdout_text()));
    assert!(report.is_object());
    assert_eq!(
        c.wait_exit(Duration::from_secs(5)).unwrap().unwrap().status,
        Some(ProcessExit::Code(0))
    );
    assert_ok(&c.delete(false).unwrap());

    let mut e = container(&s, "exit7", &["exit", "7"]);
    assert_ok(&e.create(true).unwrap());
    assert_ok(&e.start().unwrap());
    let exit = e.wait_exit(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(exit.status, Some(ProcessExit::Code(7)));
    // A second wait returns the same, at once.
    assert_eq!(
        e.wait_exit(Duration::ZERO).unwrap().unwrap().status,
        exit.status
    );
    assert_ok(&e.delete(false).unwrap());
    drop((c, e));
    let report = s.finish();
    assert!(report.is_clean(), "{report}");
    assert_nothing_left(&report, &dir);
}

#[test]
fn runc_containers_in_parallel_threads() {
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    std::thread::scope(|scope| {
        for i in 0..3 {
            let s = &s;
            scope.spawn(move || {
                let name = format!("par{i}");
                let mut c = container(s, &name, &["exit", &i.to_string()]);
                assert_ok(&c.create(true).unwrap());
                assert_ok(&c.start().unwrap());
                let exit = c.wait_exit(Duration::from_secs(5)).unwrap().unwrap();
                assert_eq!(exit.status, Some(ProcessExit::Code(i)));
                assert_ok(&c.delete(false).unwrap());
            });
        }
    });
    let report = s.finish();
    assert!(report.is_clean(), "{report}");
    assert_nothing_left(&report, &dir);
}

#[test]
fn dropping_a_container_kills_and_deletes_it() {
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let mut c = container(&s, "dropped", &["sleep"]);
    assert_ok(&c.create(true).unwrap());
    let pid = c.pid().unwrap();
    // Created, never started, never deleted: Drop cleans up.
    drop(c);
    assert!(exits_within(pid, Duration::from_secs(5)));
    let report = s.finish();
    assert!(report.is_clean(), "Drop already cleaned: {report}");
    assert!(
        report.log.iter().any(|l| l.contains("dropped without")),
        "{:?}",
        report.log
    );
    assert!(report.log.iter().any(|l| l.contains("delete --force")));
    assert_nothing_left(&report, &dir);
}

#[test]
fn audit_removes_a_leaked_container() {
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let run_id = s.run_id().to_string();
    let mut c = container(&s, "leaked", &["sleep"]);
    assert_ok(&c.create(true).unwrap());
    assert_ok(&c.start().unwrap());
    let id = c.id().to_string();
    let pid = c.pid().unwrap();
    // The test "forgets" its container: no delete, no Drop.
    std::mem::forget(c);
    assert!(!cgroups_named(&run_id).is_empty());

    let report = s.finish();
    assert_eq!(report.removed, vec![Leftover::Container { id }], "{report}");
    assert!(exits_within(pid, Duration::from_secs(5)));
    assert_nothing_left(&report, &dir);
}

#[test]
fn audit_resumes_and_removes_a_leaked_paused_container() {
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let mut c = container(&s, "paused", &["sleep"]);
    assert_ok(&c.create(true).unwrap());
    assert_ok(&c.start().unwrap());
    assert_ok(&s.runtime().run_args(&["pause", c.id()]).unwrap());
    let (_, state) = c.state().unwrap();
    assert_eq!(status_of(&state).as_deref(), Some("paused"));
    let (id, pid) = (c.id().to_string(), c.pid().unwrap());
    std::mem::forget(c);
    let started = Instant::now();
    let report = s.finish();
    // Frozen processes ignore SIGKILL: without the resume this would wait out the kill wait.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.removed, vec![Leftover::Container { id }], "{report}");
    assert!(
        report.log.iter().any(|l| l.contains(" resume ")),
        "{:?}",
        report.log
    );
    assert!(exits_within(pid, Duration::from_secs(5)));
    assert_nothing_left(&report, &dir);
}

#[test]
fn audit_removes_processes_cgroups_and_mounts_the_runtime_lost() {
    let s = session(&runc());
    let dir = s.dir().to_path_buf();
    let run_id = s.run_id().to_string();
    let mut c = container(&s, "orphan", &["sleep"]);
    assert_ok(&c.create(true).unwrap());
    assert_ok(&c.start().unwrap());
    let pid = c.pid().unwrap();
    // The runtime loses track of the container: its state entry vanishes, so `delete --force`
    // cannot find it, and its process and cgroups stay.
    std::fs::remove_dir_all(s.state_root().unwrap().join(c.id())).unwrap();
    std::mem::forget(c);
    // And something left a mount under the session directory.
    let mnt = dir.join("bundles/orphan/rootfs/mnt");
    std::fs::create_dir(&mnt).unwrap();
    rustix::mount::mount(
        "tmpfs",
        &mnt,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();

    let report = s.finish();
    assert!(
        report
            .removed
            .iter()
            .any(|l| matches!(l, Leftover::Process { pid: p, .. } if *p == pid)),
        "{report}"
    );
    let cgroups: Vec<&PathBuf> = report
        .removed
        .iter()
        .filter_map(|l| match l {
            Leftover::Cgroup { path } => Some(path),
            _ => None,
        })
        .collect();
    assert!(!cgroups.is_empty(), "{report}");
    assert!(cgroups
        .iter()
        .all(|p| p.to_string_lossy().contains(&run_id)));
    assert!(
        report
            .removed
            .contains(&Leftover::Mount { path: mnt.clone() }),
        "{report}"
    );
    assert!(exits_within(pid, Duration::from_secs(5)));
    assert_nothing_left(&report, &dir);
}

// ---------------------------------------------------------------------------------------------
// adapter failures

#[test]
fn a_hanging_runtime_times_out() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("hanging-runtime");
    let child_pid = tmp.path().join("child.pid");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep 1000 &\necho $! > {}\nwait\n",
            child_pid.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let rt = Runtime::new(&script)
        .unwrap()
        .with_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let inv = rt.state("x").unwrap();
    assert!(inv.timed_out, "{inv}");
    assert!(!inv.ok());
    assert_eq!(inv.status, None);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(inv.duration >= Duration::from_millis(500));
    // The whole process group died, not only the script.
    let sleeper: i32 = std::fs::read_to_string(&child_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        exits_within(sleeper, Duration::from_secs(5)),
        "the runtime's child {sleeper} survived the timeout"
    );

    // Through the driver: create returns (timed out) instead of hanging.
    let s = Session::new(
        &script,
        SessionOptions {
            timeout: Duration::from_millis(300),
            ..SessionOptions::default()
        },
    )
    .unwrap();
    let mut c = s
        .container("hang", &json!({"ociVersion": "1.0.2"}), |_| Ok(()))
        .unwrap();
    let inv = c.create(false).unwrap();
    assert!(inv.timed_out);
    drop(c);
    let dir = s.dir().to_path_buf();
    let report = s.finish();
    assert!(report.unremovable.is_empty(), "{report}");
    assert!(!dir.exists());
}

#[test]
fn a_missing_runtime_is_the_users_input() {
    let e = Session::new("/nonexistent/oci-runtime", SessionOptions::default()).unwrap_err();
    assert!(matches!(e, DriverError::RuntimeNotFound { .. }), "{e}");
    assert_eq!(e.fault(), Fault::Input);
}

#[test]
fn host_detection_matches_the_test_machine() {
    let host = HostInfo::detect();
    assert!(host.is_root);
    assert_ne!(
        host.cgroup,
        CgroupMode::None,
        "no cgroup filesystem mounted"
    );
    assert!(!host.cgroup.hierarchies().is_empty());
}

// ---------------------------------------------------------------------------------------------
// crun, in a private mount namespace without the unified hierarchy

/// Runs the `#[ignore]`d test `name` of this binary in a child process, with `env` set;
/// `wrapper` (e.g. `unshare -m`) goes before the binary.
fn run_child_test(wrapper: &[&str], name: &str, env: &[(&str, &Path)]) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("OCI_CERTIFY_TEST_PROGRAM", test_program());
    cmd
}

#[test]
fn crun_lifecycle_in_a_private_mount_namespace() {
    let crun = find_runtime("crun");
    let out = run_child_test(
        &["unshare", "--mount", "--propagation", "private"],
        "crun_child",
        &[("OCI_CERTIFY_CRUN", &crun)],
    )
    .output()
    .expect("running unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "crun child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
#[ignore = "helper: run in a private mount namespace by crun_lifecycle_in_a_private_mount_namespace"]
fn crun_child() {
    let crun = std::env::var_os("OCI_CERTIFY_CRUN")
        .expect("run by crun_lifecycle_in_a_private_mount_namespace, not alone");
    // crun refuses hybrid cgroups: hide the unified hierarchy in this namespace only.
    if let CgroupMode::Hybrid { unified, .. } = CgroupMode::detect() {
        rustix::mount::unmount(&unified, rustix::mount::UnmountFlags::empty())
            .expect("unmounting the unified hierarchy (is this a private mount namespace?)");
    }
    assert_eq!(CgroupMode::detect().name(), "v1");

    let s = session(Path::new(&crun));
    let dir = s.dir().to_path_buf();
    let mut c = container(&s, "crun", &["sleep"]);
    assert_ok(&c.create(true).unwrap());
    let (inv, state) = c.state().unwrap();
    assert_ok(&inv);
    assert_eq!(status_of(&state).as_deref(), Some("created"));
    assert_ok(&c.start().unwrap());
    let (_, state) = c.state().unwrap();
    assert_eq!(status_of(&state).as_deref(), Some("running"));
    assert_ok(&c.kill("TERM").unwrap());
    let exit = c.wait_exit(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(exit.detected_by, ExitDetection::Pidfd);
    assert_eq!(exit.status, Some(ProcessExit::Code(143)));
    let (_, state) = c.state().unwrap();
    assert_eq!(status_of(&state).as_deref(), Some("stopped"));
    assert_ok(&c.delete(false).unwrap());
    assert!(!c.state().unwrap().0.ok());

    let mut e = container(&s, "crun-echo", &["echo", "from crun"]);
    assert_ok(&e.create(false).unwrap());
    assert_ok(&e.start().unwrap());
    let out = e.output_to_eof(Duration::from_secs(5)).unwrap();
    assert_eq!(out.stdout_text(), "from crun\n");
    // EOF comes when the process closes its files, a moment before it is a zombie: until
    // then the runtime still says "running" and refuses `delete`. Wait for the exit itself.
    let exit = e.wait_exit(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(exit.status, Some(ProcessExit::Code(0)));
    assert_ok(&e.delete(false).unwrap());
    drop((c, e));
    let report = s.finish();
    assert!(report.is_clean(), "{report}");
    assert_nothing_left(&report, &dir);
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C

#[test]
fn ctrl_c_exits_130_and_leaves_nothing() {
    let runc = runc();
    let mut child = run_child_test(&[], "interrupt_child", &[("OCI_CERTIFY_INTERRUPT", &runc)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let child_pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the child reports READY");
        // libtest prints "test interrupt_child ... " without a newline before the test runs.
        if let Some((_, rest)) = line.split_once("READY ") {
            break rest.to_string();
        }
    };
    let fields: Vec<&str> = ready.split(' ').collect();
    let (run_id, container_pid, dir) = (
        fields[0].to_string(),
        fields[1].parse::<i32>().unwrap(),
        PathBuf::from(fields[2]),
    );
    assert!(alive(container_pid));
    assert!(!cgroups_named(&run_id).is_empty());

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child_pid).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let waited = Instant::now();
    let mut rest = String::new();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "the child did not exit after SIGINT"
        );
        // The child's stdout closes when it exits: wait on that instead of sleeping.
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(50)) {
            rest.push_str(&l);
            rest.push('\n');
        }
    };
    // The rest of its output, until its stdout closes (the reader thread then ends).
    let until = Instant::now() + Duration::from_secs(5);
    while let Ok(l) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        rest.push_str(&l);
        rest.push('\n');
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}\n{err}");
    assert!(rest.contains("CLEAN true"), "{rest}\n{err}");
    assert!(
        exits_within(container_pid, Duration::from_secs(5)),
        "container process survived"
    );
    assert!(
        !dir.exists(),
        "session dir (and state root) left: {}",
        dir.display()
    );
    assert!(cgroups_named(&run_id).is_empty());
}

#[test]
#[ignore = "helper: run and interrupted by ctrl_c_exits_130_and_leaves_nothing"]
fn interrupt_child() {
    let runc = std::env::var_os("OCI_CERTIFY_INTERRUPT")
        .expect("run by ctrl_c_exits_130_and_leaves_nothing, not alone");
    let s = session(Path::new(&runc));
    s.install_interrupt_handler().unwrap();
    let mut c = container(&s, "sleeper", &["sleep"]);
    assert_ok(&c.create(true).unwrap());
    assert_ok(&c.start().unwrap());
    println!(
        "READY {} {} {}",
        s.run_id(),
        c.pid().unwrap(),
        s.dir().display()
    );
    // Bounded: if the parent never interrupts, clean up and fail with 3.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.wait_interrupted(Duration::from_secs(5)) {
        if Instant::now() > deadline {
            drop(c);
            println!("{}", s.finish());
            std::process::exit(3);
        }
    }
    // The runner starts nothing new once interrupted.
    assert!(matches!(
        s.container("late", &json!({}), |_| Ok(())),
        Err(DriverError::Interrupted { signal: 2 })
    ));
    drop(c);
    let code = s.interrupt_exit_code().unwrap();
    let report = s.finish();
    println!(
        "CLEAN {}",
        report.is_clean() && report.interrupted_by == Some(2)
    );
    println!("{report}");
    std::process::exit(code);
}
