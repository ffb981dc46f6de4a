//! The mutation tables and the runner shared by `mutants.rs` (runc behind the mutating
//! wrapper) and `mutants_reference.rs` (the bundled reference runtime behind it): one list of
//! mutations, each with the requirement ids it must trip, and the groups it targets.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_certify_core::testing::collect;
use oci_certify_core::Spec;
use oci_certify_runtime::engine::{certify, Options};

/// Fails unless this process is root (the runtime tests create containers).
pub fn preconditions() {
    let uid = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        uid.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")),
        "the runtime tests need root"
    );
}

/// A wrapper script in `dir` that runs the mutant with one mutation in front of `real`.
pub fn wrapper(dir: &Path, mutation: &str, real: &Path) -> PathBuf {
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

/// Mutations that leave the runtime's state behind on purpose (the audit removes it).
pub const LEAVES_STATE: &[&str] = &["failed-create-leftover"];

/// The check groups a mutation can affect; a mutant run runs only those (the design's
/// "a mutant run selects only the checks its mutation targets"), except `none`, which runs
/// every group and must fail only the known points. Mutations not listed run every group.
pub fn groups_for(mutation: &str) -> Option<Vec<String>> {
    const ERRORS: &[&str] = &[
        "accept-missing-id",
        "bundle-default",
        "annotations-reject",
        "state-no-annotations",
        "config-at-start",
        "ignore-unknown-sysctl",
        "rlimit-type-ignored",
        "ns-dedupe",
        "ns-path-ignored",
        "no-process-ok",
        "failed-create-leftover",
    ];
    const LIFECYCLE: &[&str] = &[
        "start-twice-ok",
        "delete-running-ok",
        "ignore-kill",
        "state-lies",
        "run-at-create",
    ];
    let groups: &[&str] = if mutation.starts_with("cg-") || mutation == "pids-zero-honoured" {
        &["cgroups"]
    } else if mutation.starts_with("sc-") || mutation == "refuse-errno-ret" {
        &["seccomp"]
    } else if mutation.starts_with("dev-") || mutation == "refuse-device-conflict" {
        &["devices"]
    } else if mutation == "no-terminal" {
        &["terminal"]
    } else if mutation == "features-claims-bogus"
        || mutation == "refuse-version-min"
        || mutation == "refuse-claimed-caps"
    {
        &["claims"]
    } else if mutation == "refuse-cgroup-ns" {
        &["namespaces"]
    } else if mutation.starts_with("propagation-") {
        &["propagation"]
    } else if mutation.starts_with("hook-") {
        &["hooks"]
    } else if mutation.starts_with("mount-") {
        &["mounts"]
    } else if mutation.starts_with("nsdrop-") || mutation == "ns-user-map-shift" {
        &["namespaces"]
    } else if mutation == "ns-path-ignored" {
        &["errors", "namespaces"]
    } else if ERRORS.contains(&mutation) {
        &["errors"]
    } else if LIFECYCLE.contains(&mutation) {
        &["lifecycle", "errors"]
    } else if mutation == "none" || !PROCESS.contains(&mutation) {
        return None;
    } else {
        &["process"]
    };
    Some(groups.iter().map(|g| g.to_string()).collect())
}

/// The config mutations of the process group's container.
pub const PROCESS: &[&str] = &[
    "args",
    "env",
    "cwd",
    "uid",
    "umask",
    "caps",
    "no-new-privs",
    "rlimit-soft",
    "rlimit-hard",
    "oom",
    "hostname",
    "sysctl",
    "masked",
    "readonly",
    "root-rw",
    "share-uts",
];

/// Certifies `binary` (the wrapper for `mutation`); returns `id[target]` of every failed
/// point, and the harness errors.
///
/// The cleanup audit must be clean, except for the mutations that leave state on purpose and
/// `delete-running-ok`: it reports a refused `delete` as a success, so with a runtime that
/// really refuses (the reference runtime; runc deletes, divergence R-1) the container it kept
/// is found and removed by the session's final sweep. Nothing may be unremovable.
pub fn failures(binary: &Path, mutation: &str) -> (BTreeSet<String>, Vec<String>) {
    let mut opts = Options::new(binary);
    opts.groups = groups_for(mutation);
    let (end, col) = collect(Spec::Runtime, &binary.display().to_string(), |runner| {
        certify(runner, &opts)
    })
    .unwrap();
    let end = end.expect("the engine runs");
    let deliberate = LEAVES_STATE.contains(&mutation) || mutation == "delete-running-ok";
    assert!(
        end.cleanup.is_clean() || (deliberate && end.cleanup.unremovable.is_empty()),
        "leftovers: {:?}",
        end.cleanup
    );
    (col.failed_points(), col.errors())
}

/// Mutations whose effect is one property: exactly these points fail besides KNOWN ones (a
/// mutation may also hide a known divergence, e.g. dropping the hooks it involves).
pub const EXACT: &[(&str, &[&str])] = &[
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
        &[
            "runtime.runtime.lifecycle.prestart-invoked[]",
            "runtime.features.hooks.supported[prestart]",
        ],
    ),
    (
        "hook-drop-startContainer",
        &[
            "runtime.runtime.lifecycle.start-container-invoked[]",
            "runtime.features.hooks.supported[startContainer]",
        ],
    ),
    (
        "hook-drop-poststop",
        &[
            "runtime.runtime.lifecycle.poststop-invoked[]",
            "runtime.features.hooks.supported[poststop]",
        ],
    ),
    (
        "hook-swap-createRuntime",
        &["runtime.config.hooks.call-order[createRuntime]"],
    ),
    (
        "hook-stdin-poststart",
        &[
            "runtime.config.hooks.state-on-stdin[poststart]",
            "runtime.runtime.state.pid-namespace-view[poststart]",
        ],
    ),
    (
        "hook-ns-createContainer",
        &[
            "runtime.config.hooks.create-container.exec-namespace[]",
            // Run in the runtime's namespaces, the hook is (rightly) given the host's pid.
            "runtime.runtime.state.pid-namespace-view[createContainer]",
        ],
    ),
    (
        "hook-pid-lies",
        &["runtime.runtime.state.pid-namespace-view[prestart]"],
    ),
    (
        "accept-missing-id",
        &[
            "runtime.runtime.create.missing-id-error[]",
            "runtime.runtime.delete.missing-id-error[]",
            "runtime.runtime.kill.missing-id-error[]",
            "runtime.runtime.start.missing-id-error[]",
            "runtime.runtime.state-op.missing-id-error[]",
        ],
    ),
    (
        "bundle-default",
        &["runtime.runtime.create.missing-bundle-error[]"],
    ),
    (
        "annotations-reject",
        &["runtime.config.annotations.unknown-keys[]"],
    ),
    (
        "state-no-annotations",
        &["runtime.runtime.state.annotations-optional[]"],
    ),
    (
        "config-at-start",
        &["runtime.runtime.lifecycle.config-changes-ignored[]"],
    ),
    (
        "ignore-unknown-sysctl",
        &[
            "runtime.runtime.create.unapplicable-error[linux.sysctl]",
            "runtime.runtime.create.unapplicable-no-container[linux.sysctl]",
        ],
    ),
    (
        "rlimit-type-ignored",
        &["runtime.config.process.rlimits-type-unmappable-error[]"],
    ),
    (
        "ns-dedupe",
        &["runtime.config-linux.namespaces.type-unique[]"],
    ),
    (
        "ns-path-ignored",
        &[
            "runtime.config-linux.namespaces.path-type-mismatch-error[]",
            "runtime.config-linux.namespaces.path-join[net]",
            "runtime.config-linux.namespaces.path-join[uts]",
            "runtime.config-linux.namespaces.path-join[ipc]",
        ],
    ),
    (
        "no-process-ok",
        &["runtime.runtime.start.no-process-error[created]"],
    ),
    (
        "mount-drop-ro",
        &["runtime.config.linux-mount-options.ro[]"],
    ),
    (
        "mount-drop-rw",
        &["runtime.config.linux-mount-options.rw[]"],
    ),
    (
        "mount-drop-nosuid",
        &["runtime.config.linux-mount-options.nosuid[]"],
    ),
    (
        "mount-drop-suid",
        &["runtime.config.linux-mount-options.suid[]"],
    ),
    (
        "mount-drop-nodev",
        &["runtime.config.linux-mount-options.nodev[]"],
    ),
    (
        "mount-drop-dev",
        &["runtime.config.linux-mount-options.dev[]"],
    ),
    (
        "mount-drop-noexec",
        &["runtime.config.linux-mount-options.noexec[]"],
    ),
    (
        "mount-drop-exec",
        &["runtime.config.linux-mount-options.exec[]"],
    ),
    (
        "mount-drop-noatime",
        &["runtime.config.linux-mount-options.noatime[]"],
    ),
    (
        "mount-drop-atime",
        &["runtime.config.linux-mount-options.atime[]"],
    ),
    (
        "mount-drop-strictatime",
        &["runtime.config.linux-mount-options.strictatime[]"],
    ),
    (
        "mount-drop-nostrictatime",
        &["runtime.config.linux-mount-options.nostrictatime[]"],
    ),
    (
        "mount-drop-nodiratime",
        &["runtime.config.linux-mount-options.nodiratime[]"],
    ),
    (
        "mount-drop-diratime",
        &["runtime.config.linux-mount-options.diratime[]"],
    ),
    (
        "mount-drop-nosymfollow",
        &["runtime.config.linux-mount-options.nosymfollow[]"],
    ),
    (
        "mount-drop-symfollow",
        &["runtime.config.linux-mount-options.symfollow[]"],
    ),
    (
        "mount-drop-sync",
        &["runtime.config.linux-mount-options.sync[]"],
    ),
    (
        "mount-drop-async",
        &["runtime.config.linux-mount-options.async[]"],
    ),
    (
        "mount-drop-dirsync",
        &["runtime.config.linux-mount-options.dirsync[]"],
    ),
    (
        "mount-drop-lazytime",
        &["runtime.config.linux-mount-options.lazytime[]"],
    ),
    (
        "mount-drop-nolazytime",
        &["runtime.config.linux-mount-options.nolazytime[]"],
    ),
    (
        "mount-drop-shared",
        &["runtime.config.linux-mount-options.shared[]"],
    ),
    (
        "mount-drop-private",
        &["runtime.config.linux-mount-options.private[]"],
    ),
    (
        "mount-drop-unbindable",
        &["runtime.config.linux-mount-options.unbindable[]"],
    ),
    (
        "mount-drop-rbind",
        &["runtime.config.linux-mount-options.rbind[]"],
    ),
    (
        "mount-drop-rro",
        &["runtime.config.linux-mount-options.rro[]"],
    ),
    (
        "mount-drop-rnoexec",
        &["runtime.config.linux-mount-options.rnoexec[]"],
    ),
    (
        "mount-drop-rnoatime",
        &["runtime.config.linux-mount-options.rnoatime[]"],
    ),
    (
        "mount-drop-rnodiratime",
        &["runtime.config.linux-mount-options.rnodiratime[]"],
    ),
    (
        "mount-drop-rnosymfollow",
        &["runtime.config.linux-mount-options.rnosymfollow[]"],
    ),
    (
        "mount-drop-runbindable",
        &["runtime.config.linux-mount-options.runbindable[]"],
    ),
    (
        "mount-drop-rshared",
        &["runtime.config.linux-mount-options.rshared[]"],
    ),
    (
        "mount-drop-rprivate",
        &["runtime.config.linux-mount-options.rprivate[]"],
    ),
    (
        "mount-drop-data",
        &["runtime.config.linux-mount-options.unknown-as-data[]"],
    ),
    ("mount-order-swap", &["runtime.config.mounts.order[]"]),
    (
        "nsdrop-pid",
        &["runtime.config-linux.namespaces.pid-supported[]"],
    ),
    (
        "nsdrop-network",
        &["runtime.config-linux.namespaces.network-supported[]"],
    ),
    (
        "nsdrop-ipc",
        &["runtime.config-linux.namespaces.ipc-supported[]"],
    ),
    (
        "nsdrop-uts",
        &[
            "runtime.config-linux.namespaces.uts-supported[]",
            // runc then refuses the config (a hostname needs a UTS namespace).
            "runtime.features-linux.namespaces.recognized[uts]",
        ],
    ),
    (
        "nsdrop-cgroup",
        &["runtime.config-linux.namespaces.cgroup-supported[]"],
    ),
    (
        "nsdrop-mount",
        &[
            "runtime.config-linux.namespaces.mount-supported[]",
            // runc then refuses the config (masked paths need a mount namespace).
            "runtime.features-linux.namespaces.recognized[mount]",
        ],
    ),
    (
        "nsdrop-user",
        &["runtime.config-linux.namespaces.user-supported[]"],
    ),
    (
        "ns-user-map-shift",
        &["runtime.config-linux.namespaces.user-supported[]"],
    ),
    (
        "mount-bind-source-abs",
        &["runtime.config.mounts.source-bind-relative[]"],
    ),
    (
        "mount-bind-as-tmpfs",
        &[
            "runtime.config.linux-mount-options.bind[]",
            "runtime.config.mounts.source-bind-relative[]",
        ],
    ),
    (
        "mount-relative-dest-elsewhere",
        &["runtime.config.mounts.destination-linux-relative-root[]"],
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
pub const FIXED: &[(&str, &[&str])] = &[
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
    (
        "pids-zero-honoured",
        &["runtime.config-linux.pids.zero-limit[pids.limit 0]"],
    ),
];

/// Mutations of lifecycle behaviour, whose effects cascade: these points must be among the
/// failures.
pub const INCLUDES: &[(&str, &[&str])] = &[
    ("ignore-kill", &["runtime.runtime.kill.send-signal[]"]),
    ("state-lies", &["runtime.runtime.start.run-program[]"]),
    (
        "run-at-create",
        &["runtime.runtime.lifecycle.create-program-not-run[]"],
    ),
    (
        "failed-create-leftover",
        &[
            "runtime.runtime.errors.no-side-effects[linux.sysctl]",
            "runtime.runtime.errors.no-side-effects[rlimit-type]",
        ],
    ),
    (
        "propagation-private-unbindable",
        &["runtime.config-linux.rootfs-propagation.optional[private]"],
    ),
    (
        "features-claims-bogus",
        &["runtime.features.mount-options.recognized[oci-certify-bogus]"],
    ),
    (
        "refuse-claimed-caps",
        &["runtime.features-linux.capabilities.recognized[]"],
    ),
    (
        "refuse-version-min",
        &["runtime.features.oci-version-min-accepted[1.0.0]"],
    ),
    (
        "refuse-cgroup-ns",
        &[
            "runtime.config-linux.namespaces.cgroup-supported[]",
            "runtime.features-linux.namespaces.recognized[cgroup]",
        ],
    ),
    (
        "hook-drop-poststart",
        &[
            "runtime.runtime.lifecycle.poststart-invoked[]",
            "runtime.features.hooks.supported[poststart]",
        ],
    ),
    (
        "no-terminal",
        &[
            "runtime.config-linux.default-devices.dev-console[]",
            "runtime.config.process.terminal-optional[]",
        ],
    ),
    (
        "hook-startContainer-at-create",
        &["runtime.config.hooks.start-container.timing[]"],
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
