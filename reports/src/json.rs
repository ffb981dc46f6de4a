//! One JSON document per run, written when the run finishes.
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "tool": { "name": "oci-certify", "version": "0.1.0" },
//!   "command": "image",
//!   "spec": "image",
//!   "spec_version": "1.1.1",
//!   "subject": "./layout",
//!   "verdict": "red",
//!   "summary": { "pass": 10, "fail_must": 1, "fail_should": 0, "fail_may": 0, "skip": 2, "error": 0, "total": 13 },
//!   "duration_ms": 812,
//!   "diagnostics": [],
//!   "results": [
//!     { "id": "image.manifest.media-type", "level": "MUST", "anchor": "https://...", "spec_version": "1.1.1",
//!       "summary": "...", "document": "manifest.md", "group": "manifest sha256:...", "outcome": "fail",
//!       "class": "fail_must", "message": "...", "failures": [ { "message": "...", "expected": "...",
//!       "actual": "...", "location": { "kind": "document", "file": "...", "pointer": "/mediaType" } } ],
//!       "duration_ms": 0 }
//!   ]
//! }
//! ```
//!
//! `format_version` changes only when a field changes meaning or disappears; new fields may
//! appear in any version. `summary` and `verdict` are the run's own counts (the ones the exit
//! code follows); `results` are in arrival order.

use std::io::Write;

use oci_certify_core::catalogue::{Level, Spec};
use oci_certify_core::check::{Failure, Outcome};
use oci_certify_core::event::{Event, PointResult, RunEnd, Sink, SinkError, Summary, Verdict};
use serde::Serialize;

use crate::common::{class_name, sink_error, Recorder};

const NAME: &str = "JSON";

/// The version of the JSON report's shape.
pub const FORMAT_VERSION: u32 = 1;

/// Writes the JSON report at the end of the run. See the module docs.
pub struct JsonSink<W: Write + Send> {
    out: W,
    recorder: Recorder,
}

impl<W: Write + Send> JsonSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> JsonSink<W> {
        JsonSink {
            out,
            recorder: Recorder::default(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    tool: Tool<'a>,
    command: Option<&'a str>,
    spec: Option<Spec>,
    spec_version: Option<&'a str>,
    subject: Option<&'a str>,
    verdict: Verdict,
    summary: SummaryOut,
    duration_ms: u64,
    diagnostics: &'a [String],
    results: Vec<ResultOut<'a>>,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct SummaryOut {
    #[serde(flatten)]
    counts: Summary,
    total: usize,
}

#[derive(Serialize)]
struct ResultOut<'a> {
    id: &'a str,
    level: Level,
    anchor: &'a str,
    spec_version: &'a str,
    summary: &'a str,
    document: &'a str,
    group: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    outcome: &'static str,
    class: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failures: Option<&'a [Failure]>,
    duration_ms: u64,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn result_out(r: &PointResult) -> ResultOut<'_> {
    let req = &r.point.requirement;
    ResultOut {
        id: &req.id,
        level: req.level,
        anchor: &req.anchor,
        spec_version: &req.spec_version,
        summary: &req.summary,
        document: &req.document,
        group: &r.point.group,
        target: r.point.target.as_deref(),
        outcome: r.outcome.name(),
        class: class_name(r.class()),
        message: r.outcome.message(),
        failures: match &r.outcome {
            Outcome::Fail { failures } => Some(failures),
            _ => None,
        },
        duration_ms: millis(r.duration),
    }
}

/// Renders the report of a finished run.
pub(crate) fn render(recorder: &Recorder, end: &RunEnd) -> serde_json::Result<Vec<u8>> {
    let info = recorder.info.as_ref();
    let report = Report {
        format_version: FORMAT_VERSION,
        tool: Tool {
            name: info.map_or(oci_certify_core::TOOL_NAME, |i| i.tool.as_str()),
            version: info.map_or(oci_certify_core::TOOL_VERSION, |i| i.tool_version.as_str()),
        },
        command: info.map(|i| i.command.as_str()),
        spec: info.map(|i| i.spec),
        spec_version: info.map(|i| i.spec_version.as_str()),
        subject: info.map(|i| i.subject.as_str()),
        verdict: end.verdict,
        summary: SummaryOut {
            counts: end.summary,
            total: end.summary.total(),
        },
        duration_ms: millis(end.duration),
        diagnostics: &recorder.diagnostics,
        results: recorder.results.iter().map(result_out).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&report)?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl<W: Write + Send> Sink for JsonSink<W> {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        let Some(end) = self.recorder.record(event) else {
            return Ok(());
        };
        let bytes = render(&self.recorder, end).map_err(|e| sink_error(NAME, e.into()))?;
        self.out
            .write_all(&bytes)
            .and_then(|()| self.out.flush())
            .map_err(|e| sink_error(NAME, e))
    }
}
