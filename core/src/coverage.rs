//! Which requirements have at least one check, and why the others have none.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalogue::{Catalogue, Level, Requirement, Spec};

/// A check as coverage sees it: which engine declares it and which requirement it judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CheckInfo {
    /// The engine (check set) that declares the check, e.g. `bundle-config`.
    pub engine: &'static str,
    /// The requirement id.
    pub requirement: &'static str,
}

impl CheckInfo {
    /// The check's name in listings: `engine/requirement`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.engine, self.requirement)
    }
}

/// Why a requirement has no check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "reason", rename_all = "kebab-case")]
pub enum Gap {
    /// The suite could test it, but no check has been written yet.
    NotYetWritten,
    /// The suite cannot test it, with the reason.
    NotTestable(String),
}

/// Counts for one spec and level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LevelCounts {
    /// Requirements at this level.
    pub total: usize,
    /// Of them, testable by this suite.
    pub testable: usize,
    /// Of them, with at least one check.
    pub covered: usize,
}

/// Coverage of one spec version.
#[derive(Debug, Clone, Serialize)]
pub struct SpecCoverage {
    /// The spec.
    pub spec: Spec,
    /// Its version.
    pub version: String,
    /// Counts per level.
    pub levels: BTreeMap<Level, LevelCounts>,
    /// Requirements without a check, with the reason, in catalogue order.
    pub uncovered: Vec<(String, Level, Gap)>,
}

/// Maps every requirement id to the checks that cover it.
pub fn checks_by_requirement(checks: &[CheckInfo]) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut map: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for c in checks {
        map.entry(c.requirement).or_default().insert(c.name());
    }
    map
}

/// Ids of checks that name a requirement missing from the catalogue (a harness bug).
pub fn dangling<'a>(catalogue: &Catalogue, checks: &'a [CheckInfo]) -> Vec<&'a CheckInfo> {
    checks
        .iter()
        .filter(|c| catalogue.get(c.requirement).is_none())
        .collect()
}

/// Why `r` is not covered, given that no check covers it.
pub fn gap(r: &Requirement) -> Gap {
    match r.untestable_reason() {
        Some(reason) => Gap::NotTestable(reason),
        None => Gap::NotYetWritten,
    }
}

/// Computes coverage per spec version.
pub fn coverage(catalogue: &Catalogue, checks: &[CheckInfo]) -> Vec<SpecCoverage> {
    let by_req = checks_by_requirement(checks);
    catalogue
        .specs()
        .iter()
        .map(|s| {
            let mut levels: BTreeMap<Level, LevelCounts> = BTreeMap::new();
            let mut uncovered = Vec::new();
            for r in &s.requirements {
                let counts = levels.entry(r.level).or_default();
                counts.total += 1;
                let testable = r.untestable_reason().is_none();
                if testable {
                    counts.testable += 1;
                }
                if by_req.contains_key(r.id.as_str()) {
                    counts.covered += 1;
                } else {
                    uncovered.push((r.id.clone(), r.level, gap(r)));
                }
            }
            SpecCoverage {
                spec: s.spec,
                version: s.version.clone(),
                levels,
                uncovered,
            }
        })
        .collect()
}
