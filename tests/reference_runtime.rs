//! `oci-certify runtime` with no argument: the bundled reference runtime certifies green on
//! this machine, every skip carries its reason, the result is the same run after run, and
//! nothing is left behind (session directories, the reference runtime's temp directory,
//! container cgroups), also after Ctrl-C. Needs root, like every runtime test; without it the
//! test fails.

use std::process::{Command, Stdio};

use serde_json::Value;

fn preconditions() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")),
        "the reference runtime's self-certification needs root"
    );
}

/// Temp-dir entries and cgroup children that carry the run's pid.
fn leftovers(pid: u32) -> Vec<String> {
    let session = format!("oci-certify-{pid}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&session) {
            found.push(entry.path().display().to_string());
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mounts.lines().filter(|l| l.contains(" cgroup")) {
        let Some(point) = line.split_whitespace().nth(4) else {
            continue;
        };
        let Ok(dir) = std::fs::read_dir(point) else {
            continue;
        };
        for e in dir.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(&session) {
                for c in std::fs::read_dir(e.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|c| c.path().is_dir())
                {
                    found.push(c.path().display().to_string());
                }
            }
        }
    }
    found
}

/// The private directories (`oci-certify-reference-PID-*`) of the oci-certify process `pid`.
fn reference_dirs(pid: u32) -> Vec<String> {
    let prefix = format!("oci-certify-reference-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

fn self_certify() -> Value {
    let child = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .args(["runtime", "--plain", "--format", "json"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oci-certify runs");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        out.status.code(),
        Some(0),
        "green exits 0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        leftovers(pid).is_empty(),
        "left behind: {:?}",
        leftovers(pid)
    );
    report
}

#[test]
fn the_bundled_reference_runtime_certifies_green_and_leaves_nothing() {
    preconditions();
    let mut verdicts = Vec::new();
    for _ in 0..2 {
        let report = self_certify();
        assert_eq!(report["verdict"], "green", "{}", report["summary"]);
        assert_eq!(report["summary"]["fail_must"], 0);
        assert_eq!(report["summary"]["error"], 0);
        assert!(
            report["subject"]
                .as_str()
                .unwrap()
                .contains("oci-reference-runtime"),
            "{}",
            report["subject"]
        );
        for r in report["results"].as_array().unwrap() {
            if r["outcome"] == "fail" {
                panic!("failed: {r}");
            }
            if r["outcome"] == "skip" {
                let why = r["message"].as_str().unwrap_or("");
                assert!(!why.is_empty(), "a skip without a reason: {r}");
            }
        }
        assert!(report["summary"]["pass"].as_u64().unwrap() > 100);
        verdicts.push(report["summary"].clone());
    }
    // The same verdict and the same counts each time.
    assert_eq!(verdicts[0], verdicts[1]);
}

#[test]
fn the_multi_call_binary_is_a_runtime_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("oci-reference-runtime");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_oci-certify"), &link).unwrap();
    let out = Command::new(&link).arg("features").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let features: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(features["ociVersionMax"], "1.3.0");
    // A verb without its id is a usage error (exit 2), as in runc.
    let out = Command::new(&link).arg("state").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Unknown ids are errors.
    let root = dir.path().join("state");
    let out = Command::new(&link)
        .args(["--root", root.to_str().unwrap(), "state", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ctrl_c_removes_the_reference_runtime_link_too() {
    preconditions();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .args(["runtime", "--plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait (bounded, with backoff) until the run has a session directory, then interrupt it.
    let session = format!("oci-certify-{pid}-");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut backoff = std::time::Duration::from_millis(5);
    loop {
        let started = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&session));
        if started {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no session started");
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(std::time::Duration::from_millis(100));
    }
    let links_during = reference_dirs(pid);
    assert!(
        !links_during.is_empty(),
        "the run uses a reference link dir"
    );
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "an interrupted run exits 130");
    assert!(
        leftovers(pid).is_empty(),
        "left behind: {:?}",
        leftovers(pid)
    );
    let after = reference_dirs(pid);
    assert!(after.is_empty(), "reference link dirs left: {after:?}");
}
