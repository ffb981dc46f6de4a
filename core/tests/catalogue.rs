//! The embedded catalogue: complete, unique, anchored, and in the project's own words.

use std::collections::HashSet;
use std::path::PathBuf;

use oci_certify_core::{anchors, Catalogue, Level, Spec};

fn catalogue() -> &'static Catalogue {
    Catalogue::builtin().expect("the embedded catalogue parses")
}

/// The spec texts beside the project (`../shared/specs`), or `OCI_CERTIFY_SPECS`. CI always has
/// them; a developer machine without them runs the other tests and says so.
fn specs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("OCI_CERTIFY_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs"));
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the spec texts at {}",
            dir.display()
        );
        eprintln!("spec texts not found at {}: not compared", dir.display());
        None
    }
}

#[test]
fn the_three_target_versions_are_embedded() {
    let c = catalogue();
    for (spec, version) in [
        (Spec::Runtime, "1.3.0"),
        (Spec::Image, "1.1.1"),
        (Spec::Distribution, "1.1.1"),
    ] {
        let s = c
            .spec(spec, Some(version))
            .unwrap_or_else(|| panic!("{spec} v{version} missing"));
        assert_eq!(
            c.spec(spec, None).unwrap().version,
            version,
            "newest {spec}"
        );
        assert!(s
            .requirements
            .iter()
            .all(|r| r.spec == spec && r.spec_version == version));
    }
}

/// The issue gives the scale of MUST-class keywords per spec; the catalogue, which splits
/// sentences that hold several requirements, is of the same order of magnitude or larger.
#[test]
fn counts_are_in_the_expected_order_of_magnitude() {
    let c = catalogue();
    for (spec, floor, ceiling) in [
        (Spec::Runtime, 340, 1500),
        (Spec::Image, 95, 600),
        (Spec::Distribution, 106, 500),
    ] {
        let s = c.spec(spec, None).unwrap();
        let counts = s.count_by_level();
        let must = counts.get(&Level::Must).copied().unwrap_or(0)
            + counts.get(&Level::MustNot).copied().unwrap_or(0);
        assert!(
            (floor..ceiling).contains(&must),
            "{spec}: {must} MUST-class requirements, expected {floor}..{ceiling}"
        );
        assert!(
            counts.contains_key(&Level::Should),
            "{spec} lists no SHOULD"
        );
        assert!(counts.contains_key(&Level::May), "{spec} lists no MAY");
    }
}

#[test]
fn ids_are_unique_and_the_documented_examples_exist() {
    let c = catalogue();
    let mut seen = HashSet::new();
    for r in c.iter() {
        assert!(
            seen.insert((r.spec_version.as_str(), r.id.as_str())),
            "duplicate id {} in v{}",
            r.id,
            r.spec_version
        );
        assert!(r.anchor.starts_with(&format!(
            "https://github.com/opencontainers/{}/blob/v{}/",
            r.spec.repository_name(),
            r.spec_version
        )));
    }
    for id in [
        "runtime.config.process.cwd-absolute",
        "image.manifest.media-type",
        "distribution.push.chunked.out-of-order-416",
    ] {
        assert!(c.get(id).is_some(), "{id} missing");
    }
}

#[test]
fn every_anchor_exists_in_the_spec_text() {
    let Some(dir) = specs_dir() else { return };
    let mut cache = std::collections::HashMap::new();
    let mut missing = Vec::new();
    for r in catalogue().iter() {
        let (file, frag) = r.source.split_once('#').unwrap();
        let path = dir
            .join(format!("{}-v{}", r.spec.repository_name(), r.spec_version))
            .join(file);
        let set = cache.entry(path.clone()).or_insert_with(|| {
            anchors::anchors(&std::fs::read_to_string(&path).unwrap_or_default())
        });
        if !set.contains(frag) {
            missing.push(format!("{} -> {}", r.id, r.source));
        }
    }
    assert!(missing.is_empty(), "unresolved anchors: {missing:#?}");
}

/// Words that carry prose, not facts: identifiers, constants, media types, paths and numbers
/// are facts the summaries must repeat, so they are left out of the comparison.
fn prose_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|t| {
            !t.is_empty()
                && t.chars().all(|c| c.is_ascii_alphabetic() || c == '\'')
                && !(t.len() > 1 && t.chars().all(|c| c.is_ascii_uppercase()))
        })
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Summaries are written in the project's own words: none shares a run of ten prose words
/// with the spec text.
#[test]
fn summaries_do_not_copy_spec_sentences() {
    const RUN: usize = 10;
    let Some(dir) = specs_dir() else { return };
    let mut copied = Vec::new();
    for s in catalogue().specs() {
        let spec_dir = dir.join(format!("{}-v{}", s.spec.repository_name(), s.version));
        let mut shingles = HashSet::new();
        for entry in std::fs::read_dir(&spec_dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                let words = prose_words(&std::fs::read_to_string(&path).unwrap());
                for w in words.windows(RUN) {
                    shingles.insert(w.join(" "));
                }
            }
        }
        for r in &s.requirements {
            let words = prose_words(&r.summary);
            if let Some(w) = words.windows(RUN).find(|w| shingles.contains(&w.join(" "))) {
                copied.push(format!("{}: \"{}\"", r.id, w.join(" ")));
            }
        }
    }
    assert!(
        copied.is_empty(),
        "summaries that repeat the spec text: {copied:#?}"
    );
}
