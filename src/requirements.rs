//! `oci-certify requirements`: the catalogue and its coverage.

use std::io::Write;

use anyhow::Context;
use oci_certify_core::coverage::{self, Gap};
use oci_certify_core::{exit, Catalogue, Level, Spec};
use serde_json::json;

use crate::cli::{ListFormat, SpecArg};
use crate::engines;

fn spec_of(arg: SpecArg) -> Spec {
    match arg {
        SpecArg::Runtime => Spec::Runtime,
        SpecArg::Image => Spec::Image,
        SpecArg::Distribution => Spec::Distribution,
    }
}

pub fn run(
    spec: Option<SpecArg>,
    version: Option<&str>,
    show_coverage: bool,
    format: ListFormat,
) -> anyhow::Result<i32> {
    let catalogue = Catalogue::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    let spec = spec.map(spec_of);
    let wanted = |s: Spec, v: &str| spec.is_none_or(|x| x == s) && version.is_none_or(|x| x == v);
    let checks = engines::all_checks();
    let dangling = coverage::dangling(catalogue, &checks);
    if !dangling.is_empty() {
        anyhow::bail!(
            "harness bug: checks keyed to requirements missing from the catalogue: {}",
            dangling
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut out = std::io::stdout().lock();
    if show_coverage {
        let cov: Vec<_> = coverage::coverage(catalogue, &checks)
            .into_iter()
            .filter(|c| wanted(c.spec, &c.version))
            .collect();
        match format {
            ListFormat::Json => {
                serde_json::to_writer_pretty(&mut out, &cov)?;
                writeln!(out)?;
            }
            ListFormat::Text => print_coverage(&mut out, &cov)?,
        }
        return Ok(exit::SUCCESS);
    }
    let by_req = coverage::checks_by_requirement(&checks);
    match format {
        ListFormat::Json => {
            let entries: Vec<_> = catalogue
                .iter()
                .filter(|r| wanted(r.spec, &r.spec_version))
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("requirements serialize");
                    let checks: Vec<&String> = by_req
                        .get(r.id.as_str())
                        .map(|s| s.iter().collect())
                        .unwrap_or_default();
                    v["checks"] = json!(checks);
                    v
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &entries)?;
            writeln!(out)?;
        }
        ListFormat::Text => {
            for s in catalogue
                .specs()
                .iter()
                .filter(|s| wanted(s.spec, &s.version))
            {
                writeln!(
                    out,
                    "{} v{}: {} requirements",
                    s.spec,
                    s.version,
                    s.requirements.len()
                )?;
                for r in &s.requirements {
                    writeln!(
                        out,
                        "  {:<10} {:<60} {} [{}, {}]",
                        r.level.as_str(),
                        r.id,
                        r.summary,
                        r.subject.as_str(),
                        r.platform.as_str()
                    )?;
                }
            }
        }
    }
    out.flush().context("writing to standard output")?;
    Ok(exit::SUCCESS)
}

fn print_coverage(out: &mut impl Write, cov: &[coverage::SpecCoverage]) -> std::io::Result<()> {
    for c in cov {
        writeln!(out, "{}-spec v{}", c.spec.name(), c.version)?;
        writeln!(
            out,
            "  {:<11} {:>6} {:>9} {:>8}",
            "level", "total", "testable", "covered"
        )?;
        for level in Level::ALL {
            if let Some(n) = c.levels.get(&level) {
                writeln!(
                    out,
                    "  {:<11} {:>6} {:>9} {:>8}",
                    level.as_str(),
                    n.total,
                    n.testable,
                    n.covered
                )?;
            }
        }
        let (todo, untestable): (Vec<_>, Vec<_>) = c
            .uncovered
            .iter()
            .partition(|(_, _, gap)| *gap == Gap::NotYetWritten);
        writeln!(out, "  not covered, check not yet written: {}", todo.len())?;
        for (id, level, _) in &todo {
            writeln!(out, "    {:<10} {id}", level.as_str())?;
        }
        writeln!(
            out,
            "  not covered, not testable by this suite: {}",
            untestable.len()
        )?;
        for (id, level, gap) in &untestable {
            if let Gap::NotTestable(reason) = gap {
                writeln!(out, "    {:<10} {id}: {reason}", level.as_str())?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}
