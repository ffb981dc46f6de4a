//! Sensitivity of the runtime checks: a mutating wrapper in front of real runc breaks one
//! behaviour at a time, and the suite must flag exactly the matching requirement (id and
//! target). Without a mutation the same wrapper must be graded with no failure at all.
//!
//! Needs root and runc (CI has both; `cargo xtask setup` installs runc). Missing either is a
//! test failure, never a silent pass.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_certify_core::testing::collect;
use oci_certify_core::Spec;
use oci_certify_runtime::engine::{certify, Options};

const RUNC: &str = "/usr/sbin/runc";

fn preconditions() {
    assert!(
        Path::new(RUNC).exists(),
        "runc is missing: run `cargo xtask setup`"
    );
    let uid = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        uid.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")),
        "the runtime tests need root"
    );
}

/// A wrapper script that runs the mutant with one mutation in front of runc.
fn wrapper(dir: &Path, mutation: &str) -> PathBuf {
    let path = dir.join(format!("runtime-{mutation}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nOCI_CERTIFY_MUTATION={mutation} OCI_CERTIFY_REAL_RUNTIME={RUNC} exec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_oci-certify-mutant-runtime")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Certifies `binary`; returns `id[target]` of every failed point, and the harness errors.
fn failures(binary: &Path) -> (BTreeSet<String>, Vec<String>) {
    let (end, col) = collect(Spec::Runtime, &binary.display().to_string(), |runner| {
        certify(runner, &Options::new(binary))
    })
    .unwrap();
    let end = end.expect("the engine runs");
    assert!(end.cleanup.is_clean(), "leftovers: {:?}", end.cleanup);
    (col.failed_points(), col.errors())
}

/// Real runc 1.1.5 divergences (runtime-tests/DIVERGENCES.md): red in every run through runc.
const KNOWN: &[&str] = &[
    "runtime.runtime.delete.not-stopped-error[created]",
    "runtime.runtime.delete.not-stopped-no-effect[created]",
    //
    "runtime.config-linux.devices.path-conflict-error[/oci-certify-conflict]",
    "runtime.config-linux.seccomp.default-errno-ret-unsupported-error[defaultErrnoRet with defaultAction SCMP_ACT_ALLOW]",
    "runtime.config-linux.seccomp.syscalls-errno-ret-unsupported-error[errnoRet on an SCMP_ACT_KILL rule]",
];

/// Mutations whose effect is one property: exactly these points fail (besides KNOWN).
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
    // cgroups
    (
        "cg-memory-limit",
        &["runtime.runtime.create.apply-config[linux.resources.memory.limit]"],
    ),
    (
        "cg-memory-reservation",
        &["runtime.runtime.create.apply-config[linux.resources.memory.reservation]"],
    ),
    (
        "cg-memory-swap",
        &["runtime.runtime.create.apply-config[linux.resources.memory.swap]"],
    ),
    (
        "cg-cpu-shares",
        &["runtime.runtime.create.apply-config[linux.resources.cpu.shares]"],
    ),
    (
        "cg-cpu-quota",
        &["runtime.runtime.create.apply-config[linux.resources.cpu.quota]"],
    ),
    (
        "cg-cpu-period",
        &["runtime.runtime.create.apply-config[linux.resources.cpu.period]"],
    ),
    // Without cpus the cgroup inherits its parent's CPUs: more than one on the CI machine.
    (
        "cg-cpuset-cpus",
        &["runtime.runtime.create.apply-config[linux.resources.cpu.cpus]"],
    ),
    (
        "cg-pids",
        &["runtime.runtime.create.apply-config[linux.resources.pids.limit]"],
    ),
    (
        "cg-path",
        &[
            "runtime.config-linux.cgroups-path.absolute-from-mount[memory]",
            "runtime.config-linux.cgroups-path.absolute-from-mount[cpu]",
            "runtime.config-linux.cgroups-path.absolute-from-mount[cpuset]",
            "runtime.config-linux.cgroups-path.absolute-from-mount[pids]",
            "runtime.config-linux.cgroups-path.absolute-from-mount[devices]",
            "runtime.config-linux.cgroups-path.absolute-from-mount[inside the container]",
            "runtime.runtime.lifecycle.create-resources[cgroup directory]",
        ],
    ),
    (
        "cg-relative-moved",
        &["runtime.config-linux.cgroups-path.consistent[relative cgroupsPath]"],
    ),
    // seccomp
    (
        "sc-errno-ret",
        &["runtime.runtime.create.apply-config[linux.seccomp.syscalls SCMP_ACT_ERRNO errnoRet 71 (mkdir)]"],
    ),
    (
        "sc-eperm",
        &["runtime.runtime.create.apply-config[linux.seccomp.syscalls SCMP_ACT_ERRNO without errnoRet (rmdir)]"],
    ),
    (
        "sc-default-allow",
        &["runtime.runtime.create.apply-config[linux.seccomp.defaultAction SCMP_ACT_ALLOW (readlink)]"],
    ),
    (
        "sc-no-filter",
        &[
            "runtime.runtime.create.apply-config[linux.seccomp (Seccomp mode in /proc/self/status)]",
            "runtime.runtime.create.apply-config[linux.seccomp.syscalls SCMP_ACT_ERRNO errnoRet 71 (mkdir)]",
            "runtime.runtime.create.apply-config[linux.seccomp.syscalls SCMP_ACT_ERRNO without errnoRet (rmdir)]",
        ],
    ),
    (
        "sc-kill-ignored",
        &["runtime.runtime.create.apply-config[linux.seccomp.syscalls SCMP_ACT_KILL (mkdir)]"],
    ),
    (
        "sc-kill-process-ignored",
        &["runtime.runtime.create.apply-config[linux.seccomp.syscalls SCMP_ACT_KILL_PROCESS (mkdir)]"],
    ),
    // devices
    (
        "dev-numbers",
        &["runtime.config-linux.devices.available[/dev/oci-certify-zero]"],
    ),
    (
        "dev-mode",
        &["runtime.runtime.create.apply-config[/dev/oci-certify-zero fileMode]"],
    ),
    (
        "dev-uid",
        &["runtime.runtime.create.apply-config[/dev/oci-certify-zero uid]"],
    ),
    (
        "dev-gid",
        &["runtime.runtime.create.apply-config[/dev/oci-certify-zero gid]"],
    ),
    (
        "dev-fifo",
        &["runtime.config-linux.devices.available[/dev/oci-certify-fifo]"],
    ),
    (
        "dev-outside",
        &["runtime.config-linux.devices.available[/oci-certify-null]"],
    ),
    (
        "dev-cgroup-order",
        &["runtime.config-linux.device-cgroup.apply-in-order[c 42:42 rw]"],
    ),
    (
        "dev-default-null",
        &["runtime.config-linux.default-devices.dev-null[/dev/null beside linux.devices]"],
    ),
];

/// Mutations that make the runtime do what real runc does not (refuse a config it should
/// refuse): exactly these KNOWN points pass, every other KNOWN point still fails. They prove
/// the checks behind runc's divergences can pass.
const FIXED: &[(&str, &[&str])] = &[
    (
        "refuse-errno-ret",
        &[
            "runtime.config-linux.seccomp.default-errno-ret-unsupported-error[defaultErrnoRet with defaultAction SCMP_ACT_ALLOW]",
            "runtime.config-linux.seccomp.syscalls-errno-ret-unsupported-error[errnoRet on an SCMP_ACT_KILL rule]",
        ],
    ),
    (
        "refuse-device-conflict",
        &["runtime.config-linux.devices.path-conflict-error[/oci-certify-conflict]"],
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
];

#[test]
fn every_mutation_is_caught_by_its_requirement() {
    preconditions();
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for (mutation, want) in EXACT {
        let (failed, errors) = failures(&wrapper(dir.path(), mutation));
        let want: BTreeSet<String> = want.iter().chain(KNOWN).map(|s| s.to_string()).collect();
        if failed != want || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: expected {want:?}, failed {failed:?}, errors {errors:?}"
            ));
        }
    }
    for (mutation, fixed) in FIXED {
        let (failed, errors) = failures(&wrapper(dir.path(), mutation));
        let want: BTreeSet<String> = KNOWN
            .iter()
            .filter(|k| !fixed.contains(k))
            .map(|s| s.to_string())
            .collect();
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
