//! The probe's syscall attempts (`syscall` mode and `report --try`), run on the host without
//! any filter: each must report what the kernel answered, so that inside a container a
//! different answer can only come from the seccomp filter.

use std::path::Path;
use std::process::{Command, Output};

use oci_certify_runtime::probe::{self, Observation, SyscallAttempt};

/// Runs the probe; retries ETXTBSY (another test thread may still hold a freshly written
/// executable open across a fork).
fn run(probe: &Path, args: &[&str]) -> Output {
    for _ in 0..50 {
        match Command::new(probe).args(args).output() {
            Ok(out) => return out,
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("cannot run the probe: {e}"),
        }
    }
    panic!("the probe stayed busy (ETXTBSY)");
}

#[test]
fn syscall_mode_reports_success_and_errno() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("probe");
    probe::write_to(&bin).unwrap();
    let made = dir.path().join("made");
    let out = run(&bin, &["syscall", "mkdir", made.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let a = SyscallAttempt::parse_line(&out.stdout).unwrap();
    assert_eq!((a.syscall.as_str(), a.ok, a.errno), ("mkdir", true, None));
    assert!(!made.exists(), "the probe removes what mkdir made");

    let absent = dir.path().join("absent");
    let out = run(&bin, &["syscall", "rmdir", absent.to_str().unwrap()]);
    let a = SyscallAttempt::parse_line(&out.stdout).unwrap();
    assert_eq!((a.ok, a.errno), (false, Some(2)), "ENOENT");

    let out = run(&bin, &["syscall", "getppid", "-"]);
    let a = SyscallAttempt::parse_line(&out.stdout).unwrap();
    assert_eq!(a.value, Some(i64::from(std::process::id())));

    let out = run(&bin, &["syscall", "nosuchcall", "-"]);
    let a = SyscallAttempt::parse_line(&out.stdout).unwrap();
    assert!(!a.ok && a.errno.is_none() && a.error.is_some(), "{a:?}");

    let out = run(&bin, &["syscall", "mkdir"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "wrong arguments are a usage error"
    );
}

#[test]
fn observe_mode_is_report_with_tries_first() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("probe");
    probe::write_to(&bin).unwrap();
    let absent = format!("rmdir:{}", dir.path().join("absent").display());
    let out = run(
        &bin,
        &[
            "observe",
            "some-tag",
            "--try",
            &absent,
            "--try",
            "readlink:/proc/self/exe",
            "--path",
            "/",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let obs = Observation::parse(&out.stdout).unwrap();
    assert_eq!(obs.argv[1..3], ["observe", "some-tag"]);
    assert_eq!(obs.tries.len(), 2);
    let rmdir = obs
        .attempt("rmdir", &absent["rmdir:".len()..])
        .expect("rmdir reported");
    assert_eq!((rmdir.ok, rmdir.errno), (false, Some(2)));
    assert!(obs.attempt("readlink", "/proc/self/exe").unwrap().ok);
    assert!(obs.path_report("/").is_some());
    // A report without --try has an empty list.
    let out = run(&bin, &["report"]);
    assert!(Observation::parse(&out.stdout).unwrap().tries.is_empty());
}
