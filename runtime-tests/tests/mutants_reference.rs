//! Sensitivity of the runtime checks, with the bundled reference runtime behind the mutating
//! wrapper instead of runc: every mutation must be flagged by its requirement, exactly as
//! with runc, and without a mutation nothing fails at all (the reference runtime has no
//! recorded divergence).
//!
//! The mutation lists are copied from `mutants.rs` (which this file must not edit); keep them
//! in step. The reference runtime is the multi-call `oci-certify` executable reached through a
//! symlink named `oci-reference-runtime`; `cargo test --workspace` builds it next to the
//! mutant wrapper. Needs root; a missing binary or missing root is a failure, never a skip.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_certify_core::testing::collect;
use oci_certify_core::Spec;
use oci_certify_runtime::engine::{certify, Options};

/// The multi-call `oci-certify` in the same target directory as the mutant wrapper.
fn oci_certify() -> PathBuf {
    let mutant = Path::new(env!("CARGO_BIN_EXE_oci-certify-mutant-runtime"));
    let path = mutant.with_file_name("oci-certify");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p oci-certify`; `cargo test --workspace` does)",
        path.display()
    );
    path
}

fn preconditions() {
    let uid = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        uid.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")),
        "the runtime tests need root"
    );
}

/// `dir/oci-reference-runtime` → oci-certify (multi-call).
fn reference(dir: &Path) -> PathBuf {
    let link = dir.join("oci-reference-runtime");
    if !link.exists() {
        std::os::unix::fs::symlink(oci_certify(), &link).unwrap();
    }
    link
}

/// A wrapper script that runs the mutant with one mutation in front of the reference runtime.
fn wrapper(dir: &Path, mutation: &str) -> PathBuf {
    let real = reference(dir);
    let path = dir.join(format!("runtime-{mutation}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nOCI_CERTIFY_MUTATION={mutation} OCI_CERTIFY_REAL_RUNTIME={} exec {} \"$@\"\n",
            real.display(),
            env!("CARGO_BIN_EXE_oci-certify-mutant-runtime")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Certifies `binary`; returns `id[target]` of every failed point, and the harness errors.
///
/// The cleanup audit must be clean, except after `delete-running-ok`: that mutation reports a
/// refused `delete` as a success, so the container it kept is found and removed by the
/// session's final sweep (with runc 1.1.5 the delete really happens, divergence R-1, so
/// `mutants.rs` never sees this). Nothing may be unremovable in any case.
fn failures(binary: &Path) -> (BTreeSet<String>, Vec<String>) {
    let lying_delete = binary.ends_with("runtime-delete-running-ok");
    let (end, col) = collect(Spec::Runtime, &binary.display().to_string(), |runner| {
        certify(runner, &Options::new(binary))
    })
    .unwrap();
    let end = end.expect("the engine runs");
    assert!(
        end.cleanup.is_clean() || (lying_delete && end.cleanup.unremovable.is_empty()),
        "leftovers: {:?}",
        end.cleanup
    );
    (col.failed_points(), col.errors())
}

const EXACT: &[(&str, &[&str])] = &[
    ("none", &[]),
    ("args", &["runtime.runtime.start.run-program[process.args]"]),
    ("env", &["runtime.runtime.start.run-program[process.env]"]),
    ("cwd", &["runtime.runtime.start.run-program[process.cwd]"]),
    (
        "uid",
        &["runtime.runtime.start.run-program[process.user.uid]"],
    ),
    (
        "umask",
        &["runtime.runtime.start.run-program[process.user.umask]"],
    ),
    (
        "caps",
        &["runtime.runtime.start.run-program[process.capabilities.bounding]"],
    ),
    (
        "no-new-privs",
        &["runtime.runtime.start.run-program[process.noNewPrivileges]"],
    ),
    (
        "rlimit-soft",
        &["runtime.config.process.rlimits-soft-applied[RLIMIT_NOFILE]"],
    ),
    (
        "rlimit-hard",
        &["runtime.config.process.rlimits-hard-applied[RLIMIT_NOFILE]"],
    ),
    (
        "oom",
        &["runtime.config.process.oom-score-adj-set[oomScoreAdj]"],
    ),
    (
        "hostname",
        &["runtime.runtime.create.apply-config[hostname]"],
    ),
    (
        "sysctl",
        &["runtime.runtime.create.apply-config[linux.sysctl]"],
    ),
    (
        "masked",
        &["runtime.runtime.create.apply-config[linux.maskedPaths]"],
    ),
    (
        "readonly",
        &["runtime.runtime.create.apply-config[linux.readonlyPaths]"],
    ),
    (
        "root-rw",
        &["runtime.config.root.readonly-applied[root.readonly]"],
    ),
    (
        "share-uts",
        &[
            "runtime.config-linux.namespaces.create-without-path[uts]",
            "runtime.runtime.create.apply-config[hostname]",
        ],
    ),
    (
        "start-twice-ok",
        &["runtime.runtime.start.not-created-error[running]"],
    ),
    (
        "delete-running-ok",
        &["runtime.runtime.delete.not-stopped-error[running]"],
    ),
    (
        "hook-drop-prestart",
        &["runtime.runtime.lifecycle.prestart-invoked[]"],
    ),
    (
        "hook-drop-startContainer",
        &["runtime.runtime.lifecycle.start-container-invoked[]"],
    ),
    (
        "hook-drop-poststop",
        &["runtime.runtime.lifecycle.poststop-invoked[]"],
    ),
    (
        "hook-swap-createRuntime",
        &["runtime.config.hooks.call-order[createRuntime]"],
    ),
    (
        "hook-stdin-poststart",
        &["runtime.config.hooks.state-on-stdin[poststart]"],
    ),
    (
        "hook-ns-createContainer",
        &["runtime.config.hooks.create-container.exec-namespace[]"],
    ),
];

/// Mutations of lifecycle behaviour, whose effects cascade: these points must be among the
/// failures.
const INCLUDES: &[(&str, &[&str])] = &[
    ("ignore-kill", &["runtime.runtime.kill.send-signal[]"]),
    ("state-lies", &["runtime.runtime.start.run-program[]"]),
    (
        "run-at-create",
        &["runtime.runtime.lifecycle.create-program-not-run[]"],
    ),
    (
        "hook-late-prestart",
        &["runtime.config.hooks.prestart.before-create-runtime[]"],
    ),
    (
        "hook-fail-ignored",
        &[
            "runtime.runtime.lifecycle.prestart-failure-error[]",
            "runtime.runtime.lifecycle.create-runtime-failure-error[]",
            "runtime.runtime.lifecycle.create-container-failure-error[]",
        ],
    ),
    (
        "hook-fail-no-destroy",
        &[
            "runtime.runtime.lifecycle.prestart-failure-stop[]",
            "runtime.runtime.lifecycle.prestart-failure-destroy[]",
            "runtime.runtime.lifecycle.create-container-failure-destroy[]",
        ],
    ),
];

/// Points a mutation also fails on the reference runtime, which `mutants.rs` cannot see
/// because runc already fails them (its KNOWN divergences ): a lying `start`
/// also hides the failing startContainer and poststart hooks, a lying `delete` also covers
/// the created container.
const ALSO: &[(&str, &[&str])] = &[
    (
        "start-twice-ok",
        &[
            "runtime.runtime.lifecycle.poststart-failure-error[]",
            "runtime.runtime.lifecycle.start-container-failure-error[]",
        ],
    ),
    (
        "delete-running-ok",
        &["runtime.runtime.delete.not-stopped-error[created]"],
    ),
];

#[test]
fn every_mutation_of_the_reference_runtime_is_caught_by_its_requirement() {
    preconditions();
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    // Unwrapped: no failure at all.
    let (failed, errors) = failures(&reference(dir.path()));
    if !failed.is_empty() || !errors.is_empty() {
        problems.push(format!("unwrapped: failed {failed:?}, errors {errors:?}"));
    }
    for (mutation, want) in EXACT {
        let (failed, errors) = failures(&wrapper(dir.path(), mutation));
        let also = ALSO
            .iter()
            .filter(|(m, _)| m == mutation)
            .flat_map(|(_, ids)| ids.iter());
        let want: BTreeSet<String> = want.iter().chain(also).map(|s| s.to_string()).collect();
        if failed != want || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: expected {want:?}, failed {failed:?}, errors {errors:?}"
            ));
        }
    }
    for (mutation, want) in INCLUDES {
        let (failed, errors) = failures(&wrapper(dir.path(), mutation));
        let missing: Vec<_> = want.iter().filter(|w| !failed.contains(**w)).collect();
        if !missing.is_empty() || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: {missing:?} not flagged (failed {failed:?}, errors {errors:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
