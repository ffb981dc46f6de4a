//! A synthetic run that exercises every outcome, shared by the unit tests (through `#[path]`)
//! and the integration tests. It depends on `oci-certify-core` only.
//!
//! Two groups interleave; there are passes (one with a note), MUST, MUST NOT, SHOULD,
//! SHOULD NOT and MAY failures, a skip, a harness error, a diagnostic, multi-line stderr in a
//! command location, an HTTP exchange, and text full of `#`, `<`, `&`, quotes, backslashes,
//! newlines and terminal escapes.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use oci_certify_core::catalogue::{Spec, SpecCatalogue};
use oci_certify_core::check::{Failure, Location, Outcome};
use oci_certify_core::event::{
    Collector, Event, ResultClass, RunEnd, RunInfo, Sink, SinkError, Summary,
};
use oci_certify_core::runner::Runner;
use oci_certify_core::selection::Selection;

const CATALOGUE: &str = r#"
spec = "runtime"
spec_version = "1.3.0"
repository = "https://github.com/opencontainers/runtime-spec"

[[requirement]]
id = "runtime.config.process.cwd-absolute"
anchor = "config.md#process"
level = "MUST"
subject = "bundle"
platform = "all"
summary = "process.cwd is an absolute path."

[[requirement]]
id = "runtime.config.root.path-exists"
anchor = "config.md#root"
level = "MUST"
subject = "bundle"
platform = "all"
summary = "root.path names an existing directory <in the bundle> & nothing else."

[[requirement]]
id = "runtime.config.hostname.set"
anchor = "config.md#hostname"
level = "SHOULD"
subject = "bundle"
platform = "linux"
summary = "hostname is set when a UTS namespace is requested."

[[requirement]]
id = "runtime.config.mounts.no-duplicates"
anchor = "config.md#mounts"
level = "SHOULD NOT"
subject = "bundle"
platform = "all"
summary = "mounts do not repeat a destination."

[[requirement]]
id = "runtime.config.annotations.reverse-domain"
anchor = "config.md#annotations"
level = "MAY"
subject = "bundle"
platform = "all"
summary = "annotation keys may use reverse domain notation."

[[requirement]]
id = "runtime.lifecycle.create.state-created"
anchor = "runtime.md#lifecycle"
level = "MUST"
subject = "runtime"
platform = "all"
summary = "after create, state reports created."

[[requirement]]
id = "runtime.lifecycle.kill.no-signal-after-stop"
anchor = "runtime.md#kill"
level = "MUST NOT"
subject = "runtime"
platform = "all"
summary = "kill does not succeed on a stopped container."

[[requirement]]
id = "runtime.lifecycle.delete.cleanup"
anchor = "runtime.md#delete"
level = "MUST"
subject = "runtime"
platform = "all"
summary = "delete removes what create made."

[[requirement]]
id = "runtime.features.report.oci-version"
anchor = "features.md#features"
level = "SHOULD"
subject = "runtime"
platform = "all"
summary = "features reports ociVersionMin and ociVersionMax."
"#;

/// The first group: a bundle, with a name that needs escaping everywhere.
pub const GROUP_BUNDLE: &str = "bundle #1 <config.json> & \"co\"";
/// The second group.
pub const GROUP_LIFECYCLE: &str = "lifecycle \\ create";

/// The catalogue of the sample.
pub fn catalogue() -> SpecCatalogue {
    SpecCatalogue::parse("sample.toml", CATALOGUE).expect("sample catalogue parses")
}

/// What the run is about.
pub fn info() -> RunInfo {
    RunInfo {
        tool: "oci-certify".into(),
        tool_version: "0.1.0".into(),
        spec: Spec::Runtime,
        spec_version: "1.3.0".into(),
        subject: "/usr/bin/runc --root /tmp/a b".into(),
        command: "runtime".into(),
    }
}

/// The multi-line stderr of the failing command.
pub const STDERR: &str = "time=\"2024-01-01\" level=error msg=\"container not running\"\n\
    second line: <b>&amp; # not a comment\n\u{1b}[31mred\u{1b}[0m \\ backslash\n";

/// The diagnostic of the run.
pub const DIAGNOSTIC: &str =
    "host has cgroup v1 only: <memory> & \"pids\" # limits untested\nsecond line";

struct Shared(Arc<Mutex<Collector>>);

impl Sink for Shared {
    fn handle(&mut self, e: &Event) -> Result<(), SinkError> {
        self.0.lock().expect("collector lock").handle(e)
    }
}

/// The events of the sample run, in order.
pub fn events() -> Vec<Event> {
    let cat = catalogue();
    let collector = Arc::new(Mutex::new(Collector::default()));
    let runner = Runner::start(
        &cat,
        Selection::all(),
        info(),
        vec![Box::new(Shared(collector.clone()))],
    );
    let (a, b) = (GROUP_BUNDLE, GROUP_LIFECYCLE);

    runner.record(
        a,
        None,
        "runtime.config.process.cwd-absolute",
        Outcome::pass(),
    );
    runner.record(
        b,
        Some("container abc#1"),
        "runtime.lifecycle.create.state-created",
        Outcome::pass_with_note("state said \"created\" <ok> & fine"),
    );
    runner.record(
        a,
        Some("bundle/config.json"),
        "runtime.config.root.path-exists",
        Outcome::fail(
            Failure::new("root.path \"rootfs\" does not exist: <missing> & gone #1")
                .expected("an existing directory")
                .actual("rootfs: no such file or directory")
                .at(Location::Document {
                    file: "bundle/config.json".into(),
                    pointer: "/root/path".into(),
                    line: Some(3),
                    column: Some(14),
                }),
        ),
    );
    runner.diagnostic(DIAGNOSTIC);
    runner.record(
        b,
        Some("container abc#1"),
        "runtime.lifecycle.kill.no-signal-after-stop",
        Outcome::fail(
            Failure::new("kill on a stopped container exited 0")
                .expected("a non-zero exit status")
                .actual("exit status 0: key: value")
                .at(Location::Command {
                    argv: vec![
                        "runc".into(),
                        "kill".into(),
                        "id with space".into(),
                        "KILL".into(),
                    ],
                    status: Some(0),
                    stderr: STDERR.into(),
                }),
        ),
    );
    runner.record(
        a,
        None,
        "runtime.config.hostname.set",
        Outcome::fail(
            Failure::new("hostname is empty although a uts namespace is requested")
                .expected("a hostname")
                .actual("\"\"")
                .at(Location::Path {
                    path: "bundle/config.json".into(),
                }),
        ),
    );
    runner.record(
        b,
        None,
        "runtime.lifecycle.delete.cleanup",
        Outcome::error("runc delete hung\nafter 10s: killed it"),
    );
    runner.record(
        a,
        None,
        "runtime.config.mounts.no-duplicates",
        Outcome::Fail {
            failures: vec![
                Failure::new("/proc is mounted twice").at(Location::Document {
                    file: "bundle/config.json".into(),
                    pointer: "/mounts/3".into(),
                    line: None,
                    column: None,
                }),
                Failure::new("registry said 500").at(Location::Http {
                    request: "GET /v2/ HTTP/1.1\nAccept: */*".into(),
                    response: "HTTP/1.1 500 Internal Server Error\n\n{\"errors\":[]}".into(),
                }),
            ],
        },
    );
    runner.record(
        b,
        None,
        "runtime.features.report.oci-version",
        Outcome::skip("runtime has no `features` command # unsupported\n(second line)"),
    );
    runner.finish_group(b);
    runner.record(
        a,
        None,
        "runtime.config.annotations.reverse-domain",
        Outcome::fail(Failure::new("annotation key \"x\" is not reverse-domain")),
    );
    runner.finish_group(a);
    runner.finish().expect("the collector never fails");
    let events = collector.lock().expect("collector lock").events.clone();
    events
}

/// The counts of the sample.
pub fn expected_summary() -> Summary {
    Summary {
        pass: 2,
        fail_must: 2,
        fail_should: 2,
        fail_may: 1,
        skip: 1,
        error: 1,
    }
}

/// The sample run without the points of the given classes, the end recounted: e.g. without
/// MUST failures and errors it is a yellow run.
pub fn events_without(classes: &[ResultClass]) -> Vec<Event> {
    let mut summary = Summary::default();
    let mut out = Vec::new();
    for e in events() {
        match e {
            Event::PointFinished(r) if classes.contains(&r.class()) => {}
            Event::PointFinished(r) => {
                summary.add(r.class());
                out.push(Event::PointFinished(r));
            }
            Event::RunFinished(end) => out.push(Event::RunFinished(RunEnd {
                summary,
                verdict: summary.verdict(),
                duration: end.duration,
            })),
            other => out.push(other),
        }
    }
    out
}
