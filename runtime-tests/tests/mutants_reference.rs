//! Sensitivity of the runtime checks, with the bundled reference runtime behind the mutating
//! wrapper instead of runc: every mutation must be flagged by its requirement, exactly as
//! with runc, and without a mutation nothing fails at all (the reference runtime has no
//! recorded divergence). `none` runs every group: on this runtime it must fail nothing.
//!
//! The mutation lists are shared with `mutants.rs` (tests/mutations/mod.rs). The reference runtime is the multi-call `oci-certify` executable reached through a
//! symlink named `oci-reference-runtime`; `cargo test --workspace` builds it next to the
//! mutant wrapper. Needs root; a missing binary or missing root is a failure, never a skip.

mod mutations;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mutations::{failures, preconditions, wrapper, EXACT, FIXED, INCLUDES};

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

/// `dir/oci-reference-runtime` → oci-certify (multi-call).
fn reference(dir: &Path) -> PathBuf {
    let link = dir.join("oci-reference-runtime");
    if !link.exists() {
        std::os::unix::fs::symlink(oci_certify(), &link).unwrap();
    }
    link
}

/// Points a mutation also fails on the reference runtime that `mutants.rs` does not list for
/// runc: `delete` of a created container (runc already fails it, divergence R-1, filtered out
/// as KNOWN there), and the user namespace claim of `features` once the mutation drops the
/// user namespace from the config (observed here; `mutants.rs` does not expect it from runc).
const ALSO: &[(&str, &[&str])] = &[
    (
        "delete-running-ok",
        &["runtime.runtime.delete.not-stopped-error[created]"],
    ),
    (
        "nsdrop-user",
        &["runtime.features-linux.namespaces.recognized[user]"],
    ),
];

#[test]
fn every_mutation_of_the_reference_runtime_is_caught_by_its_requirement() {
    preconditions();
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for (mutation, want) in EXACT {
        let (failed, errors) = failures(
            &wrapper(dir.path(), mutation, &reference(dir.path())),
            mutation,
        );
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
    // Mutations that make runc refuse what it should: the reference runtime already does, so
    // nothing fails at all.
    for (mutation, _) in FIXED {
        let (failed, errors) = failures(
            &wrapper(dir.path(), mutation, &reference(dir.path())),
            mutation,
        );
        if !failed.is_empty() || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: expected no failure, failed {failed:?}, errors {errors:?}"
            ));
        }
    }
    for (mutation, want) in INCLUDES {
        let (failed, errors) = failures(
            &wrapper(dir.path(), mutation, &reference(dir.path())),
            mutation,
        );
        let missing: Vec<_> = want.iter().filter(|w| !failed.contains(**w)).collect();
        if !missing.is_empty() || !errors.is_empty() {
            problems.push(format!(
                "{mutation}: {missing:?} not flagged (failed {failed:?}, errors {errors:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
