//! The bundle engine on real directories: good and broken bundles built in temporary
//! directories, judged by `check_bundle` and `check_state_or_features` through a runner.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use oci_certify_core::check::Location;
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_core::testing::collect;
use oci_certify_core::{Outcome, Runner, Spec};
use oci_certify_validators::bundle::{check_bundle, check_state_or_features, BundleError};
use oci_certify_validators::json::Limits;
use oci_certify_validators::DocKind;
use serde_json::json;

const REQUIRED: &str = "runtime.bundle.container-format.config-required";
const AT_ROOT: &str = "runtime.bundle.container-format.config-at-root";
const NAME: &str = "runtime.bundle.container-format.config-name";
const SINGLE: &str = "runtime.bundle.container-format.single-directory";
const ROOTFS: &str = "runtime.config.root.path-exists";

/// Every recorded outcome by requirement id (last one wins), and the run's diagnostics.
struct Run {
    outcomes: BTreeMap<String, Outcome>,
    diagnostics: Vec<String>,
}

impl Run {
    fn name(&self, id: &str) -> &'static str {
        self.outcomes.get(id).map_or("absent", Outcome::name)
    }

    fn outcome(&self, id: &str) -> &Outcome {
        self.outcomes
            .get(id)
            .unwrap_or_else(|| panic!("{id} not recorded"))
    }

    fn failed(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|(_, o)| o.is_fail())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// The path of the first failure's location.
    fn failure_path(&self, id: &str) -> String {
        match self.outcome(id) {
            Outcome::Fail { failures } => match &failures[0].location {
                Some(Location::Path { path }) => path.clone(),
                other => panic!("{id}: unexpected location {other:?}"),
            },
            other => panic!("{id}: not a failure: {other:?}"),
        }
    }
}

fn run_with(f: impl FnOnce(&Runner<'_>) -> Result<(), BundleError>) -> Result<Run, BundleError> {
    let (result, col) = collect(Spec::Runtime, "bundle", f).unwrap();
    result?;
    let outcomes = col
        .results()
        .map(|r| (r.point.requirement.id.clone(), r.outcome.clone()))
        .collect();
    Ok(Run {
        outcomes,
        diagnostics: col.diagnostics(),
    })
}

fn judge(path: &Path) -> Run {
    judge_with(path, Limits::default())
}

fn judge_with(path: &Path, limits: Limits) -> Run {
    let run = run_with(|r| check_bundle(r, path, limits)).unwrap();
    assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
    assert!(
        !run.outcomes
            .values()
            .any(|o| matches!(o, Outcome::Error { .. })),
        "harness errors: {:?}",
        run.outcomes
    );
    run
}

/// A config shaped like `runc spec` output, with root.path as given.
fn config(root: &str) -> String {
    serde_json::to_string_pretty(&json!({
        "ociVersion": "1.2.1",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": root, "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        }
    }))
    .unwrap()
}

/// A good bundle: config.json and an empty rootfs directory.
fn good_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config("rootfs")).unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    dir
}

#[test]
fn a_good_bundle_fails_nothing() {
    let dir = good_bundle();
    let run = judge(dir.path());
    assert_eq!(run.failed(), Vec::<&str>::new());
    for id in [REQUIRED, AT_ROOT, NAME, SINGLE, ROOTFS] {
        assert_eq!(run.name(id), "pass", "{id}: {:?}", run.outcome(id));
    }
    // The document was judged too.
    assert_eq!(run.name("runtime.config.oci-version.semver"), "pass");
    assert_eq!(run.name("runtime.config.root.path-rootfs"), "pass");
}

#[test]
fn an_absolute_root_path_inside_the_bundle_is_fine() {
    let dir = good_bundle();
    let abs = dir.path().join("rootfs").display().to_string();
    fs::write(dir.path().join("config.json"), config(&abs)).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.name(ROOTFS), "pass");
    assert_eq!(run.name(SINGLE), "pass");
    // Only the SHOULD on the conventional value notices.
    assert_eq!(run.failed(), vec!["runtime.config.root.path-rootfs"]);
}

#[test]
fn a_missing_config_json_fails_config_required_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![REQUIRED]);
    for id in [AT_ROOT, NAME, SINGLE, ROOTFS] {
        assert_eq!(run.name(id), "skip", "{id}");
    }
    assert_eq!(run.name("runtime.config.oci-version.required"), "absent");
}

#[test]
fn a_misnamed_config_fails_config_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Config.json"), config("rootfs")).unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![NAME]);
    assert!(run.failure_path(NAME).ends_with("Config.json"));
}

#[test]
fn a_config_in_a_subdirectory_fails_config_at_root() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("bundle")).unwrap();
    fs::write(dir.path().join("bundle/config.json"), config("rootfs")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![AT_ROOT]);
    assert!(run.failure_path(AT_ROOT).ends_with("bundle/config.json"));
}

#[test]
fn a_missing_rootfs_fails_root_path_exists() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config("rootfs")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![ROOTFS]);
    assert_eq!(
        run.failure_path(ROOTFS),
        dir.path().join("rootfs").display().to_string()
    );
    // config.json itself is where it belongs.
    assert_eq!(run.name(SINGLE), "pass");
}

#[test]
fn a_rootfs_that_is_a_file_fails_root_path_exists() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config("rootfs")).unwrap();
    fs::write(dir.path().join("rootfs"), "not a directory").unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![ROOTFS]);
    match run.outcome(ROOTFS) {
        Outcome::Fail { failures } => {
            assert!(failures[0].message.contains("regular file"), "{failures:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn a_rootfs_symlink_leading_out_of_the_bundle_breaks_single_directory() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config("rootfs")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("rootfs")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.name(ROOTFS), "pass", "the directory does exist");
    assert_eq!(run.failed(), vec![SINGLE]);
}

#[test]
fn a_rootfs_reached_through_dot_dot_breaks_single_directory() {
    let parent = tempfile::tempdir().unwrap();
    let bundle = parent.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    fs::create_dir(parent.path().join("shared-rootfs")).unwrap();
    fs::write(bundle.join("config.json"), config("../shared-rootfs")).unwrap();
    let run = judge(&bundle);
    let mut failed = run.failed();
    failed.sort_unstable();
    assert_eq!(failed, vec![SINGLE, "runtime.config.root.path-rootfs"]);
}

#[test]
fn root_path_naming_the_bundle_itself_breaks_single_directory() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config(".")).unwrap();
    let run = judge(dir.path());
    let mut failed = run.failed();
    failed.sort_unstable();
    assert_eq!(failed, vec![SINGLE, "runtime.config.root.path-rootfs"]);
}

#[cfg(unix)]
#[test]
fn a_rootfs_symlink_loop_is_a_finding_not_a_hang_or_panic() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.json"), config("rootfs")).unwrap();
    std::os::unix::fs::symlink("loop-b", dir.path().join("rootfs")).unwrap();
    std::os::unix::fs::symlink("rootfs", dir.path().join("loop-b")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![ROOTFS]);
    assert_eq!(run.name(SINGLE), "pass");
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_json_inside_the_bundle_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    fs::create_dir(dir.path().join("meta")).unwrap();
    fs::write(dir.path().join("meta/real.json"), config("rootfs")).unwrap();
    std::os::unix::fs::symlink("meta/real.json", dir.path().join("config.json")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), Vec::<&str>::new());
    assert!(
        matches!(run.outcome(REQUIRED), Outcome::Pass { note: Some(n) } if n.contains("symbolic link"))
    );
    assert_eq!(run.name("runtime.config.oci-version.semver"), "pass");
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_json_outside_the_bundle_breaks_single_directory() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("config.json"), config("rootfs")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![SINGLE]);
    // The configuration is still judged, as a runtime would read it.
    assert_eq!(run.name("runtime.config.oci-version.semver"), "pass");
}

#[cfg(unix)]
#[test]
fn a_dangling_or_looping_config_symlink_is_missing() {
    for target in ["nowhere.json", "config.json"] {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("rootfs")).unwrap();
        std::os::unix::fs::symlink(target, dir.path().join("config.json")).unwrap();
        let run = judge(dir.path());
        assert_eq!(run.failed(), vec![REQUIRED], "{target}");
    }
}

#[cfg(unix)]
#[test]
fn a_config_symlink_to_a_device_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("config.json")).unwrap();
    let run = judge(dir.path());
    let mut failed = run.failed();
    failed.sort_unstable();
    assert_eq!(failed, vec![REQUIRED]);
    match run.outcome(REQUIRED) {
        Outcome::Fail { failures } => assert!(failures[0].message.contains("character device")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_config_json_directory_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("config.json")).unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    let run = judge(dir.path());
    assert_eq!(run.failed(), vec![REQUIRED]);
}

/// Runs `f` on another thread and fails the test if it does not finish in time.
fn within(seconds: u64, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(seconds))
        .expect("the check hung or panicked");
}

/// Makes a FIFO with mkfifo(1); false when the tool is not there.
#[cfg(unix)]
fn mkfifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(unix)]
#[test]
fn a_fifo_config_json_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    if !mkfifo(&dir.path().join("config.json")) {
        eprintln!("mkfifo is not available; skipping");
        return;
    }
    let path = dir.path().to_path_buf();
    within(20, move || {
        let run = judge(&path);
        assert_eq!(run.failed(), vec![REQUIRED]);
        match run.outcome(REQUIRED) {
            Outcome::Fail { failures } => assert!(failures[0].message.contains("FIFO")),
            other => panic!("{other:?}"),
        }
    });
}

#[cfg(unix)]
#[test]
fn a_fifo_given_as_the_bundle_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("bundle");
    if !mkfifo(&fifo) {
        eprintln!("mkfifo is not available; skipping");
        return;
    }
    within(20, move || {
        let err = run_with(|r| check_bundle(r, &fifo, Limits::default()))
            .err()
            .expect("an error");
        assert!(
            matches!(err, BundleError::NotBundle { kind: "FIFO", .. }),
            "{err}"
        );
        assert_eq!(err.fault(), Fault::Input);
        let err = run_with(|r| {
            check_state_or_features(r, &fifo, DocKind::RuntimeState, Limits::default())
        })
        .err()
        .expect("an error");
        assert!(matches!(err, BundleError::NotRegularFile { .. }), "{err}");
    });
}

#[test]
fn a_huge_config_json_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rootfs")).unwrap();
    let file = fs::File::create(dir.path().join("config.json")).unwrap();
    // Sparse: 64 GiB on paper, nothing on disk.
    file.set_len(64 << 30).unwrap();
    let run = judge_with(dir.path(), Limits::default());
    assert_eq!(run.failed(), vec!["runtime.config.oci-version.required"]);
    match run.outcome("runtime.config.oci-version.required") {
        Outcome::Fail { failures } => assert!(
            failures[0].message.contains("over the limit"),
            "{failures:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.name(REQUIRED), "pass");
    assert_eq!(run.name(ROOTFS), "skip");
}

#[test]
fn a_lone_config_json_is_judged_as_a_document() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my-config.json");
    fs::write(&file, config("rootfs")).unwrap();
    let run = judge(&file);
    assert_eq!(run.failed(), Vec::<&str>::new());
    assert_eq!(run.name("runtime.config.oci-version.semver"), "pass");
    assert_eq!(
        run.outcome(ROOTFS),
        &Outcome::skip("a lone config.json was given; the rootfs cannot be checked")
    );
    for id in [REQUIRED, AT_ROOT, NAME, SINGLE] {
        assert_eq!(run.name(id), "skip", "{id}");
    }
}

#[test]
fn a_lone_broken_config_json_fails_its_document_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    fs::write(
        &file,
        r#"{"ociVersion": "1.3", "root": {"path": "rootfs"}}"#,
    )
    .unwrap();
    let run = judge(&file);
    assert_eq!(run.failed(), vec!["runtime.config.oci-version.semver"]);
}

#[test]
fn a_missing_path_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = run_with(|r| check_bundle(r, &missing, Limits::default()))
        .err()
        .expect("an error");
    assert!(matches!(err, BundleError::Missing { .. }), "{err}");
    assert_eq!(err.fault(), Fault::Input);
    assert!(err.to_string().contains("does not exist"));
    let err = run_with(|r| {
        check_state_or_features(r, &missing, DocKind::RuntimeFeatures, Limits::default())
    })
    .err()
    .expect("an error");
    assert!(matches!(err, BundleError::Missing { .. }), "{err}");
}

#[test]
fn state_and_features_files_are_judged() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    fs::write(
        &state,
        r#"{"ociVersion": "1.3.0", "id": "c1", "status": "running", "bundle": "/containers/c1"}"#,
    )
    .unwrap();
    let run =
        run_with(|r| check_state_or_features(r, &state, DocKind::RuntimeState, Limits::default()))
            .unwrap();
    assert_eq!(
        run.failed(),
        vec!["runtime.runtime.state.pid-required-linux"]
    );

    let features = dir.path().join("features.json");
    fs::write(&features, r#"{"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0", "linux": {"namespaces": ["pid", "mnt"]}}"#).unwrap();
    let run = run_with(|r| {
        check_state_or_features(r, &features, DocKind::RuntimeFeatures, Limits::default())
    })
    .unwrap();
    assert_eq!(
        run.failed(),
        vec!["runtime.features-linux.namespaces.recognized"]
    );

    let big = dir.path().join("big.json");
    fs::write(&big, vec![b' '; 4096]).unwrap();
    let small = Limits {
        max_bytes: 1024,
        ..Limits::default()
    };
    let run = run_with(|r| check_state_or_features(r, &big, DocKind::RuntimeState, small)).unwrap();
    assert_eq!(
        run.failed(),
        vec!["runtime.runtime.state.oci-version-required"]
    );
}

#[test]
fn config_documents_are_not_state_or_features() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    fs::write(&file, config("rootfs")).unwrap();
    let err =
        run_with(|r| check_state_or_features(r, &file, DocKind::RuntimeConfig, Limits::default()))
            .err()
            .expect("an error");
    assert!(matches!(err, BundleError::UnsupportedKind { .. }), "{err}");
}
