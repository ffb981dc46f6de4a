//! Sensitivity of the runtime checks: a mutating wrapper in front of real runc breaks one
//! behaviour at a time, and the suite must flag exactly the matching requirement (id and
//! target). Without a mutation the same wrapper must be graded with no failure at all.
//!
//! Needs root and runc (CI has both; `cargo xtask setup` installs runc). Missing either is a
//! test failure, never a silent pass.

mod mutations;

use std::collections::BTreeSet;
use std::path::Path;

use mutations::{failures, preconditions as root, wrapper, EXACT, FIXED, INCLUDES};

const RUNC: &str = "/usr/sbin/runc";

fn preconditions() {
    assert!(
        Path::new(RUNC).exists(),
        "runc is missing: run `cargo xtask setup`"
    );
    root();
}

/// Real runc 1.1.5 divergences (runtime-tests/DIVERGENCES.md): red in every run through runc.
const KNOWN: &[&str] = &[
    //
    "runtime.runtime.delete.not-stopped-error[created]",
    "runtime.runtime.delete.not-stopped-no-effect[created]",
    //
    "runtime.config.hooks.call-order[kinds]",
    "runtime.config.hooks.poststart.timing[]",
    //
    "runtime.runtime.lifecycle.start-container-failure-error[]",
    "runtime.runtime.lifecycle.start-container-failure-destroy[]",
    //
    "runtime.runtime.lifecycle.poststop-failure-continue[]",
    //
    "runtime.config.process.rlimits-duplicate-error[]",
    // R-10 (`defaults` has no mutation: runc itself shows that the check fails)
    "runtime.config.linux-mount-options.defaults[]",
    "runtime.features.mount-options.recognized[defaults]",
    // MAY not met (runtime-tests/DIVERGENCES.md, "Not divergences")
    "runtime.config-linux.rootfs-propagation.optional[shared]",
    "runtime.config-linux.rootfs-propagation.optional[unbindable]",
    //
    "runtime.config-linux.devices.path-conflict-error[/oci-certify-conflict]",
    //
    "runtime.config-linux.seccomp.default-errno-ret-unsupported-error[defaultErrnoRet with defaultAction SCMP_ACT_ALLOW]",
    "runtime.config-linux.seccomp.syscalls-errno-ret-unsupported-error[errnoRet on an SCMP_ACT_KILL rule]",
    //
    "runtime.config-linux.pids.zero-limit[pids.limit 0]",
];

#[test]
fn every_mutation_is_caught_by_its_requirement() {
    preconditions();
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for (mutation, want) in EXACT {
        let (mut failed, errors) =
            failures(&wrapper(dir.path(), mutation, Path::new(RUNC)), mutation);
        failed.retain(|f| !KNOWN.contains(&f.as_str()));
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        if failed != want || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: expected {want:?}, failed {failed:?}, errors {errors:?}"
            ));
        }
    }
    for (mutation, fixed) in FIXED {
        let (failed, errors) = failures(&wrapper(dir.path(), mutation, Path::new(RUNC)), mutation);
        let still: Vec<_> = failed
            .iter()
            .filter(|f| fixed.contains(&f.as_str()) || !KNOWN.contains(&f.as_str()))
            .collect();
        if !still.is_empty() || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: expected no failure but known others, failed {still:?}, errors {errors:?}"
            ));
        }
    }
    for (mutation, want) in INCLUDES {
        let (failed, errors) = failures(&wrapper(dir.path(), mutation, Path::new(RUNC)), mutation);
        let missing: Vec<_> = want.iter().filter(|w| !failed.contains(**w)).collect();
        if !missing.is_empty() || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: {missing:?} not flagged (failed {failed:?}, errors {errors:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
