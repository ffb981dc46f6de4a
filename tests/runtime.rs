//! `oci-certify runtime` against the real runtimes of this machine (Debian's runc and crun;
//! `cargo xtask setup` installs them; CI runs as root). A missing runtime or missing root is a
//! failure, never a silent pass.
//!
//! Every red on runc or crun is a divergence recorded in runtime-tests/DIVERGENCES.md; these
//! tests pin exactly those ids, and prove nothing is left behind: no session directories, no
//! state, no cgroups, no processes, also after Ctrl-C.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RUNC: &str = "/usr/sbin/runc";
const CRUN: &str = "/usr/bin/crun";
/// runc 1.1.5's recorded divergences (runtime-tests/DIVERGENCES.md ),
/// sorted.
const KNOWN_RUNC: &[&str] = &[
    "runtime.config-linux.devices.path-conflict-error",
    "runtime.config-linux.pids.zero-limit",
    // MAY not met (rootfsPropagation shared and unbindable; "Not divergences" in the ledger)
    "runtime.config-linux.rootfs-propagation.optional",
    "runtime.config-linux.seccomp.default-errno-ret-unsupported-error",
    "runtime.config-linux.seccomp.syscalls-errno-ret-unsupported-error",
    "runtime.config.hooks.call-order",
    "runtime.config.hooks.poststart.timing",
    "runtime.config.linux-mount-options.defaults",
    "runtime.config.process.rlimits-duplicate-error",
    "runtime.features.mount-options.recognized",
    "runtime.runtime.delete.not-stopped-error",
    "runtime.runtime.delete.not-stopped-no-effect",
    "runtime.runtime.lifecycle.poststop-failure-continue",
    "runtime.runtime.lifecycle.start-container-failure-destroy",
    "runtime.runtime.lifecycle.start-container-failure-error",
];
/// crun 1.8.1's, sorted.
const KNOWN_CRUN: &[&str] = &[
    "runtime.config-linux.devices.path-conflict-error",
    "runtime.config-linux.namespaces.type-unique",
    "runtime.config-linux.pids.zero-limit",
    "runtime.config.hooks.call-order",
    "runtime.config.hooks.poststart.timing",
    "runtime.config.hooks.state-on-stdin",
    "runtime.config.linux-mount-options.async",
    "runtime.config.linux-mount-options.atime",
    "runtime.config.linux-mount-options.dev",
    "runtime.config.linux-mount-options.diratime",
    "runtime.config.linux-mount-options.exec",
    "runtime.config.linux-mount-options.nostrictatime",
    "runtime.config.linux-mount-options.nosymfollow",
    "runtime.config.linux-mount-options.private",
    "runtime.config.linux-mount-options.rnoatime",
    "runtime.config.linux-mount-options.rnodiratime",
    "runtime.config.linux-mount-options.rnosymfollow",
    "runtime.config.linux-mount-options.rprivate",
    "runtime.config.linux-mount-options.rshared",
    "runtime.config.linux-mount-options.runbindable",
    "runtime.config.linux-mount-options.rw",
    "runtime.config.linux-mount-options.shared",
    "runtime.config.linux-mount-options.suid",
    "runtime.config.linux-mount-options.symfollow",
    "runtime.config.linux-mount-options.unbindable",
    "runtime.config.process.rlimits-duplicate-error",
    "runtime.runtime.delete.not-stopped-error",
    "runtime.runtime.delete.not-stopped-no-effect",
    "runtime.runtime.lifecycle.poststart-failure-destroy",
    "runtime.runtime.lifecycle.poststart-failure-error",
    "runtime.runtime.lifecycle.poststart-failure-stop",
    "runtime.runtime.lifecycle.start-container-failure-destroy",
    "runtime.runtime.lifecycle.start-container-failure-error",
    "runtime.runtime.state.pid-namespace-view",
];

fn preconditions(runtime: &str) {
    assert!(
        Path::new(runtime).exists(),
        "{runtime} is missing: run `cargo xtask setup`"
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")),
        "the runtime tests need root"
    );
}

/// Runs `cmd`, parses its JSON report, and checks the run left nothing behind.
fn json_run(cmd: &mut Command) -> (Output, Value) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oci-certify runs");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    // Under `unshare ... sh -c exec`, the pid is the same process after exec.
    assert!(
        leftovers(pid).is_empty(),
        "left behind: {:?}",
        leftovers(pid)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out, v)
}

fn failed_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "fail")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Session directories and container cgroups of the oci-certify process `pid`.
fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("oci-certify-{pid}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&prefix) {
            found.push(entry.path().display().to_string());
        }
    }
    if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in mounts.lines().filter(|l| l.contains(" cgroup")) {
            let Some(point) = line.split_whitespace().nth(4) else {
                continue;
            };
            let Ok(dir) = std::fs::read_dir(point) else {
                continue;
            };
            for e in dir.flatten() {
                let n = e.file_name().to_string_lossy().to_string();
                // The run's parent cgroup is left by runc and crun themselves; its children
                // (the containers') must be gone.
                if n.starts_with(&prefix) {
                    if let Ok(children) = std::fs::read_dir(e.path()) {
                        for c in children.flatten().filter(|c| c.path().is_dir()) {
                            found.push(c.path().display().to_string());
                        }
                    }
                }
            }
        }
    }
    found
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oci-certify"));
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn runc_is_red_only_for_its_recorded_divergences() {
    preconditions(RUNC);
    let t = Instant::now();
    let (out, report) = json_run(bin().args(["runtime", RUNC, "--plain", "--format", "json"]));
    assert_eq!(out.status.code(), Some(1), "red exits 1");
    assert_eq!(failed_ids(&report), KNOWN_RUNC);
    assert_eq!(report["summary"]["error"], 0);
    assert!(report["summary"]["pass"].as_u64().unwrap() > 80);
    eprintln!("runc: {:?}", t.elapsed());
}

#[test]
fn crun_in_a_private_mount_namespace_is_red_only_for_its_recorded_divergences() {
    preconditions(CRUN);
    let script = format!(
        "umount /sys/fs/cgroup/unified 2>/dev/null; exec {} runtime {CRUN} --plain --format json",
        env!("CARGO_BIN_EXE_oci-certify")
    );
    let (out, report) = json_run(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(failed_ids(&report), KNOWN_CRUN);
    assert_eq!(report["summary"]["error"], 0);
}

/// On a hybrid cgroup host crun cannot create anything: one clear diagnosis with its stderr,
/// one red, every other check skipped with that reason.
#[test]
fn a_runtime_that_cannot_create_anything_gets_one_diagnosis() {
    preconditions(CRUN);
    let hybrid = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains("/sys/fs/cgroup/unified");
    let (out, report) = if hybrid {
        json_run(bin().args(["runtime", CRUN, "--plain", "--format", "json"]))
    } else {
        // Elsewhere, a "runtime" that always fails plays the part.
        json_run(bin().args(["runtime", "/bin/false", "--plain", "--format", "json"]))
    };
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        failed_ids(&report),
        vec!["runtime.runtime.create.creates-container"]
    );
    let diag = report["diagnostics"].to_string();
    assert!(
        diag.contains("cannot create and start even a minimal container"),
        "{diag}"
    );
    if hybrid {
        assert!(
            diag.contains("hybrid"),
            "the diagnosis carries crun's stderr: {diag}"
        );
    }
    assert_eq!(report["summary"]["pass"], 0);
}

#[test]
fn ctrl_c_stops_the_run_and_leaves_nothing_behind() {
    preconditions(RUNC);
    let mut child = bin()
        .args(["runtime", RUNC, "--plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the run has a session directory, then interrupt it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let session = loop {
        let found = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("oci-certify-{}-", child.id()))
            });
        if let Some(e) = found {
            break e.path();
        }
        assert!(Instant::now() < deadline, "no session directory appeared");
        std::thread::yield_now();
    };
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.code() == Some(130) || status.code().is_some_and(|c| c <= 1),
        "interrupted runs exit 130 (or finish first): {status:?}"
    );
    assert!(!session.exists(), "{} left behind", session.display());
    assert!(
        leftovers(child.id()).is_empty(),
        "{:?}",
        leftovers(child.id())
    );
}
