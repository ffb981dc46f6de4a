//! TAP 14 ([testanything.org](https://testanything.org/tap-version-14-specification.html)).
//!
//! ```text
//! TAP version 14
//! # oci-certify 0.1.0: runtime-spec 1.3.0 runtime /usr/bin/runc
//! # Subtest: lifecycle/create
//!     ok 1 - runtime.lifecycle.create.state-created
//!       ---
//!       id: "runtime.lifecycle.create.state-created"
//!       level: "MUST"
//!       ...
//!     not ok 2 - runtime.lifecycle.create.hooks # TODO should
//!       ---
//!       ...
//!     1..2
//! ok 1 - lifecycle/create
//! 1..1
//! ```
//!
//! Each group is a subtest. A group's points are buffered and written, with the group's own
//! plan and its closing point, when its `GroupFinished` arrives, so points of groups that
//! interleave never mix; the writer is flushed after every group so a long run streams.
//! The top-level plan comes last (a trailing plan is valid TAP).
//!
//! A failed SHOULD or MAY is `not ok ... # TODO should` / `# TODO may`: TAP harnesses count
//! TODO points as passing, which is the point — only MUST failures and harness errors make the
//! subtest, and the run, fail. Every point carries a YAML block whose strings are all
//! JSON-quoted, so arbitrary evidence (multi-line stderr, colons, `#`) cannot break it.

use std::collections::HashMap;
use std::io::Write;

use oci_certify_core::check::Outcome;
use oci_certify_core::event::{Event, PointResult, ResultClass, RunInfo, Sink, SinkError, Summary};
use serde_json::{Map, Value};

use crate::common::{class_name, count, one_line, sink_error};
use crate::yaml;

const NAME: &str = "TAP";

/// Writes a TAP 14 stream. See the module docs.
pub struct TapSink<W: Write + Send> {
    out: W,
    header_written: bool,
    /// Points of groups that are not finished yet, in arrival order per group.
    pending: HashMap<String, Vec<PointResult>>,
    /// Group names in the order their first point arrived, for groups never finished.
    pending_order: Vec<String>,
    groups_written: usize,
}

impl<W: Write + Send> TapSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> TapSink<W> {
        TapSink {
            out,
            header_written: false,
            pending: HashMap::new(),
            pending_order: Vec::new(),
            groups_written: 0,
        }
    }

    /// The writer back, e.g. a `Vec<u8>` in tests.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn write(&mut self, text: &str) -> Result<(), SinkError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| sink_error(NAME, e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| sink_error(NAME, e))
    }

    fn header(&mut self, info: Option<&RunInfo>) -> Result<(), SinkError> {
        if self.header_written {
            return Ok(());
        }
        self.header_written = true;
        let mut text = String::from("TAP version 14\n");
        if let Some(i) = info {
            text.push_str(&format!(
                "# {} {}: {} {} {} {}\n",
                one_line(&i.tool),
                one_line(&i.tool_version),
                i.spec,
                one_line(&i.spec_version),
                one_line(&i.command),
                one_line(&i.subject)
            ));
        }
        self.write(&text)
    }

    fn write_group(&mut self, group: &str, points: &[PointResult]) -> Result<(), SinkError> {
        self.groups_written += 1;
        let text = render_group(self.groups_written, group, points);
        self.write(&text)?;
        self.flush()
    }
}

/// Escapes a description per TAP 14: `\` as `\\`, `#` as `\#`; and keeps it on one line.
pub(crate) fn escape_description(s: &str) -> String {
    one_line(s).replace('\\', "\\\\").replace('#', "\\#")
}

/// The directive of a point: `""`, `" # TODO should"`, `" # SKIP reason"`, ...
fn directive(result: &PointResult) -> String {
    match (&result.outcome, result.class()) {
        (Outcome::Skip { reason }, _) => {
            let reason = one_line(reason);
            if reason.is_empty() {
                " # SKIP".to_string()
            } else {
                format!(" # SKIP {reason}")
            }
        }
        (_, ResultClass::FailShould) => " # TODO should".to_string(),
        (_, ResultClass::FailMay) => " # TODO may".to_string(),
        (_, ResultClass::Error) => " # harness error".to_string(),
        _ => String::new(),
    }
}

fn ok(class: ResultClass) -> &'static str {
    match class {
        ResultClass::Pass | ResultClass::Skip => "ok",
        ResultClass::FailMust
        | ResultClass::FailShould
        | ResultClass::FailMay
        | ResultClass::Error => "not ok",
    }
}

/// The YAML diagnostics of one point, as a JSON value in the order the block lists it.
pub(crate) fn point_yaml(result: &PointResult) -> Map<String, Value> {
    let req = &result.point.requirement;
    let mut m = Map::new();
    m.insert("id".into(), req.id.clone().into());
    m.insert("level".into(), req.level.as_str().into());
    m.insert("anchor".into(), req.anchor.clone().into());
    m.insert("spec_version".into(), req.spec_version.clone().into());
    m.insert("summary".into(), req.summary.clone().into());
    m.insert("group".into(), result.point.group.clone().into());
    if let Some(t) = &result.point.target {
        m.insert("target".into(), t.clone().into());
    }
    m.insert("outcome".into(), class_name(result.class()).into());
    if let Some(msg) = result.outcome.message() {
        m.insert("message".into(), msg.into());
    }
    if let Outcome::Fail { failures } = &result.outcome {
        let list = failures
            .iter()
            .map(|f| serde_json::to_value(f).unwrap_or(Value::Null))
            .collect();
        m.insert("failures".into(), Value::Array(list));
    }
    let ms = u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX);
    m.insert("duration_ms".into(), ms.into());
    m
}

fn summary_yaml(group: &str, s: &Summary) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("group".into(), group.into());
    for (k, v) in [
        ("pass", s.pass),
        ("fail_must", s.fail_must),
        ("fail_should", s.fail_should),
        ("fail_may", s.fail_may),
        ("skip", s.skip),
        ("error", s.error),
        ("total", s.total()),
    ] {
        m.insert(k.into(), v.into());
    }
    m
}

fn yaml_block(out: &mut String, indent: usize, map: &Map<String, Value>) {
    let pad = " ".repeat(indent);
    out.push_str(&pad);
    out.push_str("---\n");
    yaml::write_mapping(out, indent, map);
    out.push_str(&pad);
    out.push_str("...\n");
}

/// One group as a TAP 14 subtest closed by parent point number `number`.
fn render_group(number: usize, group: &str, points: &[PointResult]) -> String {
    let mut out = format!("# Subtest: {}\n", one_line(group));
    for (i, r) in points.iter().enumerate() {
        let class = r.class();
        out.push_str(&format!(
            "    {} {} - {}{}\n",
            ok(class),
            i + 1,
            escape_description(&r.point.describe()),
            directive(r)
        ));
        yaml_block(&mut out, 6, &point_yaml(r));
    }
    out.push_str(&format!("    1..{}\n", points.len()));
    let s = count(points);
    let failed = s.fail_must > 0 || s.error > 0;
    out.push_str(&format!(
        "{} {number} - {}\n",
        if failed { "not ok" } else { "ok" },
        escape_description(group)
    ));
    yaml_block(&mut out, 2, &summary_yaml(group, &s));
    out
}

/// Diagnostic text as `# ` comment lines.
fn comment_lines(message: &str) -> String {
    let mut out = String::new();
    let mut any = false;
    for line in message.lines() {
        any = true;
        let clean: String = line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        out.push_str(format!("# {clean}").trim_end());
        out.push('\n');
    }
    if !any {
        out.push_str("#\n");
    }
    out
}

impl<W: Write + Send> Sink for TapSink<W> {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        match event {
            Event::RunStarted(info) => self.header(Some(info)),
            Event::PointStarted(_) => Ok(()),
            Event::PointFinished(r) => {
                let group = &r.point.group;
                if !self.pending.contains_key(group) {
                    self.pending_order.push(group.clone());
                }
                self.pending
                    .entry(group.clone())
                    .or_default()
                    .push(r.clone());
                Ok(())
            }
            Event::GroupFinished { group } => {
                let Some(points) = self.pending.remove(group) else {
                    return Ok(());
                };
                self.pending_order.retain(|g| g != group);
                self.header(None)?;
                self.write_group(group, &points)
            }
            Event::Diagnostic { message } => {
                self.header(None)?;
                self.write(&comment_lines(message))?;
                self.flush()
            }
            Event::RunFinished(end) => {
                self.header(None)?;
                // Groups that never saw GroupFinished still belong in the report.
                for group in std::mem::take(&mut self.pending_order) {
                    if let Some(points) = self.pending.remove(&group) {
                        self.write_group(&group, &points)?;
                    }
                }
                let s = &end.summary;
                let plan = if self.groups_written == 0 {
                    "1..0 # SKIP no test point was selected\n".to_string()
                } else {
                    format!("1..{}\n", self.groups_written)
                };
                let tail = format!(
                    "# verdict: {} (pass {}, fail_must {}, fail_should {}, fail_may {}, skip {}, error {}, total {})\n{plan}",
                    end.verdict.as_str(),
                    s.pass,
                    s.fail_must,
                    s.fail_should,
                    s.fail_may,
                    s.skip,
                    s.error,
                    s.total()
                );
                self.write(&tail)?;
                self.flush()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_descriptions() {
        assert_eq!(escape_description(r"a#b\c"), r"a\#b\\c");
        assert_eq!(escape_description("two\nlines"), "two lines");
    }

    #[test]
    fn comments_every_line() {
        assert_eq!(comment_lines("a\nb\n\nc"), "# a\n# b\n#\n# c\n");
        assert_eq!(comment_lines(""), "#\n");
    }
}
