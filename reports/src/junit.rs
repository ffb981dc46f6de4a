//! JUnit XML, as GitLab, Jenkins and the common GitHub actions (mikepenz/action-junit-report,
//! dorny/test-reporter) read it. Written when the run finishes.
//!
//! ```xml
//! <testsuites name="oci-certify" tests="3" failures="1" errors="0" skipped="1" time="0.812">
//!   <properties>
//!     <property name="verdict" value="red"/>
//!     <property name="pass" value="1"/> ... fail_must, fail_should, fail_may, skip, error, total
//!   </properties>
//!   <testsuite name="config.md" tests="3" failures="1" errors="0" skipped="1" time="0.004">
//!     <properties>...</properties>
//!     <testcase name="runtime.config.process.cwd-absolute" classname="bundle" time="0.001">
//!       <failure type="MUST" message="process.cwd is relative">...expected, actual, location, anchor...</failure>
//!     </testcase>
//!     <testcase name="runtime.config.hostname-set" classname="bundle" time="0.000">
//!       <properties><property name="outcome" value="fail_should"/></properties>
//!       <system-out>WARNING (SHOULD): ...</system-out>
//!     </testcase>
//!     <testcase name="..." classname="..." time="0.000"><skipped message="kernel lacks ..."/></testcase>
//!   </testsuite>
//! </testsuites>
//! ```
//!
//! One `<testsuite>` per spec document (`config.md`, `runtime.md`, ...), the classname is the
//! group. Only MUST failures are `<failure>`s and only harness errors are `<error>`s: a failed
//! SHOULD or MAY is a passing test case carrying a `WARNING (...)` in its `<system-out>` and an
//! `outcome` property, so a yellow verdict never turns a CI pipeline red. Text is escaped and
//! characters XML 1.0 forbids (terminal escapes in stderr, say) are written as `\u001b`.

use std::io::Write;
use std::time::Duration;

use oci_certify_core::check::Outcome;
use oci_certify_core::event::{Event, PointResult, ResultClass, RunEnd, Sink, SinkError};

use crate::common::{class_name, count, failure_text, sink_error, Recorder};
use crate::xml::XmlWriter;

const NAME: &str = "JUnit";

/// Writes the JUnit report at the end of the run. See the module docs.
pub struct JunitSink<W: Write + Send> {
    out: W,
    recorder: Recorder,
}

impl<W: Write + Send> JunitSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> JunitSink<W> {
        JunitSink {
            out,
            recorder: Recorder::default(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

fn requirement_text(r: &PointResult, with_requirement: bool) -> String {
    let req = &r.point.requirement;
    let mut s = String::new();
    if with_requirement {
        s.push_str(&format!(
            "requirement: {} ({}): {}\n",
            req.id, req.level, req.summary
        ));
    }
    if let Some(t) = &r.point.target {
        s.push_str(&format!("target: {t}\n"));
    }
    s.push_str(&format!(
        "group: {}\nanchor: {}\n",
        r.point.group, req.anchor
    ));
    s
}

fn testcase(w: &mut XmlWriter, r: &PointResult) {
    let name = r.point.describe();
    let time = seconds(r.duration);
    let attrs = [
        ("name", name.as_str()),
        ("classname", r.point.group.as_str()),
        ("time", time.as_str()),
    ];
    let class = r.class();
    let message = r.outcome.message().unwrap_or_default();
    match (&r.outcome, class) {
        (Outcome::Pass { note: None }, _) => w.empty("testcase", &attrs),
        (Outcome::Pass { note: Some(note) }, _) => {
            w.open("testcase", &attrs);
            w.text_element("system-out", &[], note);
            w.close();
        }
        (Outcome::Fail { failures }, ResultClass::FailMust) => {
            w.open("testcase", &attrs);
            let mut body: String = failures.iter().map(|f| failure_text(f, "")).collect();
            body.push_str(&requirement_text(r, true));
            let level = r.point.requirement.level.as_str();
            w.text_element("failure", &[("type", level), ("message", &message)], &body);
            w.close();
        }
        (Outcome::Fail { failures }, _) => {
            w.open("testcase", &attrs);
            w.open("properties", &[]);
            w.empty(
                "property",
                &[("name", "outcome"), ("value", class_name(class))],
            );
            w.close();
            let req = &r.point.requirement;
            let mut body = format!("WARNING ({}): {}: {}\n", req.level, req.id, req.summary);
            body.extend(failures.iter().map(|f| failure_text(f, "")));
            body.push_str(&requirement_text(r, false));
            w.text_element("system-out", &[], &body);
            w.close();
        }
        (Outcome::Skip { reason }, _) => {
            w.open("testcase", &attrs);
            w.empty("skipped", &[("message", reason)]);
            w.close();
        }
        (Outcome::Error { message }, _) => {
            w.open("testcase", &attrs);
            let body = format!("{message}\n{}", requirement_text(r, true));
            w.text_element(
                "error",
                &[("type", "harness error"), ("message", message)],
                &body,
            );
            w.close();
        }
    }
}

fn property(w: &mut XmlWriter, name: &str, value: &str) {
    w.empty("property", &[("name", name), ("value", value)]);
}

/// Renders the report of a finished run.
pub(crate) fn render(recorder: &Recorder, end: &RunEnd) -> String {
    let info = recorder.info.as_ref();
    let mut w = XmlWriter::new();
    // Attributes count the test cases written, so the document agrees with itself; the
    // properties carry the run's own summary, which the verdict and exit code follow.
    let written = count(&recorder.results);
    let tool = info.map_or(oci_certify_core::TOOL_NAME, |i| i.tool.as_str());
    let (tests, failures, errors, skipped, time) = (
        written.total().to_string(),
        written.fail_must.to_string(),
        written.error.to_string(),
        written.skip.to_string(),
        seconds(end.duration),
    );
    w.open(
        "testsuites",
        &[
            ("name", tool),
            ("tests", &tests),
            ("failures", &failures),
            ("errors", &errors),
            ("skipped", &skipped),
            ("time", &time),
        ],
    );
    w.open("properties", &[]);
    let s = end.summary;
    property(&mut w, "verdict", end.verdict.as_str());
    for (k, v) in [
        ("pass", s.pass),
        ("fail_must", s.fail_must),
        ("fail_should", s.fail_should),
        ("fail_may", s.fail_may),
        ("skip", s.skip),
        ("error", s.error),
        ("total", s.total()),
    ] {
        property(&mut w, k, &v.to_string());
    }
    if let Some(i) = info {
        property(&mut w, "tool", &i.tool);
        property(&mut w, "tool_version", &i.tool_version);
        property(&mut w, "command", &i.command);
        property(&mut w, "spec", i.spec.name());
        property(&mut w, "spec_version", &i.spec_version);
        property(&mut w, "subject", &i.subject);
    }
    for d in &recorder.diagnostics {
        property(&mut w, "diagnostic", d);
    }
    w.close();

    for (document, results) in recorder.by_document() {
        let c = count(results.iter().copied());
        let time: Duration = results.iter().map(|r| r.duration).sum();
        let (tests, failures, errors, skipped, time) = (
            c.total().to_string(),
            c.fail_must.to_string(),
            c.error.to_string(),
            c.skip.to_string(),
            seconds(time),
        );
        w.open(
            "testsuite",
            &[
                ("name", document.as_str()),
                ("tests", &tests),
                ("failures", &failures),
                ("errors", &errors),
                ("skipped", &skipped),
                ("time", &time),
            ],
        );
        w.open("properties", &[]);
        if let Some(first) = results.first() {
            let req = &first.point.requirement;
            property(&mut w, "spec", req.spec.name());
            property(&mut w, "spec_version", &req.spec_version);
        }
        for (k, v) in [
            ("pass", c.pass),
            ("fail_must", c.fail_must),
            ("fail_should", c.fail_should),
            ("fail_may", c.fail_may),
            ("skip", c.skip),
            ("error", c.error),
        ] {
            property(&mut w, k, &v.to_string());
        }
        w.close();
        for r in results {
            testcase(&mut w, r);
        }
        w.close();
    }
    w.finish()
}

impl<W: Write + Send> Sink for JunitSink<W> {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        let Some(end) = self.recorder.record(event) else {
            return Ok(());
        };
        let doc = render(&self.recorder, end);
        self.out
            .write_all(doc.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| sink_error(NAME, e))
    }
}
