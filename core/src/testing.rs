//! The harness the engines' tests share: run an engine against the newest embedded version of
//! a spec with every requirement selected, and read back what it recorded.

use crate::catalogue::{Catalogue, Spec};
use crate::event::{Collector, RunInfo, SharedCollector};
use crate::runner::Runner;
use crate::selection::Selection;

/// Runs `engine` with a runner for `spec` and returns its result and every event it caused.
/// Fails only when the catalogue lacks the spec or the collector could not record.
pub fn collect<T>(
    spec: Spec,
    subject: &str,
    engine: impl FnOnce(&Runner<'_>) -> T,
) -> Result<(T, Collector), String> {
    let catalogue = Catalogue::builtin()
        .map_err(|e| e.to_string())?
        .spec(spec, None)
        .ok_or_else(|| format!("no {spec} catalogue is embedded"))?;
    let collector = SharedCollector::default();
    let info = RunInfo {
        tool: "test".into(),
        tool_version: crate::TOOL_VERSION.into(),
        spec,
        spec_version: catalogue.version.clone(),
        subject: subject.into(),
        command: "test".into(),
    };
    let runner = Runner::start(catalogue, Selection::all(), info, vec![collector.sink()]);
    let value = engine(&runner);
    runner.finish().map_err(|e| e.to_string())?;
    Ok((value, collector.snapshot()))
}
