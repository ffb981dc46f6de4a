//! The sample run rendered in every format, read back, and compared: the counts agree across
//! TAP (read with our tap_reader), JSON, JUnit (parsed with quick-xml) and HTML, and the
//! awkward text survives each format's escaping.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{render, render_events, sample};
use oci_certify_core::event::{Event, ResultClass, RunEnd, RunInfo, Summary, Verdict};
use oci_certify_reports::tap_reader::{self, Directive, Item};
use oci_certify_reports::{sink_for, Format, Sink, TapSink};
use serde_json::Value;

fn summary_of(
    pass: usize,
    must: usize,
    should: usize,
    may: usize,
    skip: usize,
    error: usize,
) -> Summary {
    Summary {
        pass,
        fail_must: must,
        fail_should: should,
        fail_may: may,
        skip,
        error,
    }
}

// ----- TAP --------------------------------------------------------------------------------

fn tap_counts(tap: &str) -> Summary {
    let doc = tap_reader::parse(tap);
    assert_eq!(doc.version, Some(14));
    assert!(doc.problems.is_empty(), "{:?}", doc.problems);
    assert!(
        !doc.items
            .iter()
            .any(|i| matches!(i, Item::Unknown { .. } | Item::UnclosedSubtest(_))),
        "{tap}"
    );
    let groups: Vec<_> = doc.points().collect();
    assert_eq!(
        doc.plan.as_ref().map(|p| p.count()),
        Some(groups.len() as u64)
    );
    let mut s = Summary::default();
    for g in groups {
        let child = &g
            .subtest
            .as_ref()
            .expect("every group is a subtest")
            .document;
        assert_eq!(
            child.plan.as_ref().map(|p| p.count()),
            Some(child.points().count() as u64)
        );
        let yaml = g
            .yaml_value()
            .expect("parents have YAML")
            .expect("parent YAML parses");
        assert_eq!(yaml["total"], child.points().count());
        for p in child.points() {
            let class = match (&p.directive, p.ok, p.comment.as_deref()) {
                (None, true, None) => ResultClass::Pass,
                (None, false, None) => ResultClass::FailMust,
                (Some(Directive::Todo(r)), false, None) if r == "should" => ResultClass::FailShould,
                (Some(Directive::Todo(r)), false, None) if r == "may" => ResultClass::FailMay,
                (Some(Directive::Skip(_)), true, None) => ResultClass::Skip,
                (None, false, Some("harness error")) => ResultClass::Error,
                other => panic!("unexpected point shape {other:?}: {p:?}"),
            };
            s.add(class);
            let yaml = p
                .yaml_value()
                .expect("every point has YAML")
                .expect("YAML parses");
            let id = yaml["id"].as_str().expect("id");
            assert!(p.description.starts_with(id), "{} vs {id}", p.description);
            let name = match class {
                ResultClass::Pass => "pass",
                ResultClass::FailMust => "fail_must",
                ResultClass::FailShould => "fail_should",
                ResultClass::FailMay => "fail_may",
                ResultClass::Skip => "skip",
                ResultClass::Error => "error",
            };
            assert_eq!(yaml["outcome"], name);
        }
    }
    s
}

// ----- JSON -------------------------------------------------------------------------------

fn json_counts(json: &Value) -> (Summary, Summary) {
    let s = &json["summary"];
    let n = |k: &str| s[k].as_u64().expect("count") as usize;
    let declared = summary_of(
        n("pass"),
        n("fail_must"),
        n("fail_should"),
        n("fail_may"),
        n("skip"),
        n("error"),
    );
    assert_eq!(n("total"), declared.total());
    let mut counted = Summary::default();
    for r in json["results"].as_array().expect("results") {
        counted.add(match r["class"].as_str().expect("class") {
            "pass" => ResultClass::Pass,
            "fail_must" => ResultClass::FailMust,
            "fail_should" => ResultClass::FailShould,
            "fail_may" => ResultClass::FailMay,
            "skip" => ResultClass::Skip,
            "error" => ResultClass::Error,
            other => panic!("class {other}"),
        });
    }
    (declared, counted)
}

// ----- JUnit ------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.all(name, out);
        }
    }
    fn find_all(&self, name: &str) -> Vec<&Node> {
        let mut v = Vec::new();
        self.all(name, &mut v);
        v
    }
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn num(&self, attr: &str) -> usize {
        self.attrs[attr].parse().expect("numeric attribute")
    }
    fn properties(&self) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(p) = self.child("properties") {
            for prop in &p.children {
                m.entry(prop.attrs["name"].clone())
                    .or_default()
                    .push(prop.attrs["value"].clone());
            }
        }
        m
    }
}

fn parse_xml(xml: &str) -> Node {
    use quick_xml::events::{BytesStart, Event as X};
    fn element(e: &BytesStart<'_>) -> Node {
        let mut n = Node {
            name: String::from_utf8(e.name().as_ref().to_vec()).expect("utf-8 name"),
            ..Node::default()
        };
        for a in e.attributes() {
            let a = a.expect("well-formed attribute");
            n.attrs.insert(
                String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key"),
                a.unescape_value()
                    .expect("attribute unescapes")
                    .into_owned(),
            );
        }
        n
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            X::Start(e) => stack.push(element(&e)),
            X::Empty(e) => {
                let n = element(&e);
                stack.last_mut().expect("open element").children.push(n);
            }
            X::End(_) => {
                let n = stack.pop().expect("balanced");
                stack.last_mut().expect("parent").children.push(n);
            }
            X::Text(t) => stack
                .last_mut()
                .expect("open element")
                .text
                .push_str(&t.decode().expect("utf-8 text")),
            X::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("valid reference") {
                    Some(c) => c,
                    None => match r.decode().expect("utf-8").as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity {other}"),
                    },
                };
                stack.last_mut().expect("open element").text.push(c);
            }
            X::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "every element closed");
    let mut doc = stack.pop().expect("document");
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.remove(0)
}

fn xml_1_0_chars_only(xml: &str) {
    for c in xml.chars() {
        let ok = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        assert!(ok, "XML 1.0 forbids {:?}", c);
    }
}

fn junit_counts(root: &Node) -> Summary {
    assert_eq!(root.name, "testsuites");
    let cases = root.find_all("testcase");
    let mut s = Summary::default();
    for case in &cases {
        let props = case.properties();
        let class = if case.child("failure").is_some() {
            ResultClass::FailMust
        } else if case.child("error").is_some() {
            ResultClass::Error
        } else if case.child("skipped").is_some() {
            ResultClass::Skip
        } else {
            match props.get("outcome").map(|v| v[0].as_str()) {
                Some("fail_should") => ResultClass::FailShould,
                Some("fail_may") => ResultClass::FailMay,
                None => ResultClass::Pass,
                Some(other) => panic!("outcome {other}"),
            }
        };
        if matches!(class, ResultClass::FailShould | ResultClass::FailMay) {
            let out = &case
                .child("system-out")
                .expect("warnings have system-out")
                .text;
            let prefix = if class == ResultClass::FailMay {
                "WARNING (MAY): "
            } else {
                "WARNING (SHOULD"
            };
            assert!(out.starts_with(prefix), "{out}");
        }
        s.add(class);
    }
    // The attributes agree with the test cases, at the top and per suite.
    assert_eq!(root.num("tests"), s.total());
    assert_eq!(root.num("failures"), s.fail_must);
    assert_eq!(root.num("errors"), s.error);
    assert_eq!(root.num("skipped"), s.skip);
    let suites = root.find_all("testsuite");
    assert_eq!(
        suites.iter().map(|t| t.num("tests")).sum::<usize>(),
        s.total()
    );
    for t in &suites {
        assert_eq!(t.num("tests"), t.find_all("testcase").len());
        assert_eq!(t.num("failures"), t.find_all("failure").len());
        assert_eq!(t.num("errors"), t.find_all("error").len());
        assert_eq!(t.num("skipped"), t.find_all("skipped").len());
    }
    s
}

fn junit_declared(root: &Node) -> (Summary, String) {
    let props = root.properties();
    let n = |k: &str| props[k][0].parse::<usize>().expect("count property");
    let s = summary_of(
        n("pass"),
        n("fail_must"),
        n("fail_should"),
        n("fail_may"),
        n("skip"),
        n("error"),
    );
    assert_eq!(n("total"), s.total());
    (s, props["verdict"][0].clone())
}

// ----- HTML -------------------------------------------------------------------------------

fn html_banner(html: &str) -> (Summary, String) {
    let banner_start = html.find("<section class=\"banner").expect("banner");
    let banner = &html[banner_start..];
    let banner = &banner[..banner.find("</section>").expect("banner ends")];
    let count = |k: &str| -> usize {
        let tag = format!("data-count=\"{k}\">");
        let at = banner.find(&tag).unwrap_or_else(|| panic!("{k} in banner")) + tag.len();
        banner[at..]
            .split('<')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    let s = summary_of(
        count("pass"),
        count("fail_must"),
        count("fail_should"),
        count("fail_may"),
        count("skip"),
        count("error"),
    );
    assert_eq!(count("total"), s.total());
    let verdict = banner
        .split("data-verdict=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("verdict")
        .to_string();
    (s, verdict)
}

fn html_self_contained(html: &str) {
    for forbidden in ["<script", "<link", " src=", "@import", "url("] {
        assert!(
            !html.contains(forbidden),
            "external or active content: {forbidden}"
        );
    }
}

// ----- Tests ------------------------------------------------------------------------------

#[test]
fn counts_agree_across_all_formats() {
    let want = sample::expected_summary();

    let tap = render(Format::Tap);
    assert_eq!(tap_counts(&tap), want, "TAP");

    let json: Value = serde_json::from_str(&render(Format::Json)).expect("JSON parses");
    let (declared, counted) = json_counts(&json);
    assert_eq!(declared, want, "JSON summary");
    assert_eq!(counted, want, "JSON results");
    assert_eq!(json["verdict"], "red");

    let xml = render(Format::Junit);
    xml_1_0_chars_only(&xml);
    let root = parse_xml(&xml);
    assert_eq!(junit_counts(&root), want, "JUnit test cases");
    let (declared, verdict) = junit_declared(&root);
    assert_eq!(declared, want, "JUnit properties");
    assert_eq!(verdict, "red");

    let html = render(Format::Html);
    html_self_contained(&html);
    let (banner, verdict) = html_banner(&html);
    assert_eq!(banner, want, "HTML banner");
    assert_eq!(verdict, "red");
}

#[test]
fn awkward_text_survives_every_format() {
    // JSON: exact.
    let json: Value = serde_json::from_str(&render(Format::Json)).expect("JSON parses");
    assert_eq!(json["diagnostics"][0], sample::DIAGNOSTIC);
    assert_eq!(json["spec"], "runtime");
    assert_eq!(json["tool"]["name"], "oci-certify");
    let kill = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["id"] == "runtime.lifecycle.kill.no-signal-after-stop")
        .expect("the kill point");
    assert_eq!(kill["failures"][0]["location"]["stderr"], sample::STDERR);
    assert_eq!(kill["level"], "MUST NOT");
    assert_eq!(kill["target"], "container abc#1");
    assert_eq!(kill["outcome"], "fail");

    // TAP: descriptions escape `#` and `\`, the YAML keeps everything exactly.
    let tap = render(Format::Tap);
    assert!(
        tap.contains("\nnot ok 2 - bundle \\#1 <config.json> & \"co\"\n"),
        "{tap}"
    );
    assert!(tap.contains("\n# Subtest: lifecycle \\ create\n"));
    assert!(tap.contains("\nnot ok 1 - lifecycle \\\\ create\n"));
    assert!(
        tap.contains("\n# second line\n"),
        "diagnostic lines are comments"
    );
    let doc = tap_reader::parse(&tap);
    let kill = doc
        .walk()
        .into_iter()
        .find(|(_, p)| p.description.starts_with("runtime.lifecycle.kill"))
        .expect("the kill point")
        .1;
    assert_eq!(
        kill.description,
        "runtime.lifecycle.kill.no-signal-after-stop (container abc#1)"
    );
    let yaml = kill.yaml_value().expect("YAML").expect("parses");
    assert_eq!(yaml["failures"][0]["location"]["stderr"], sample::STDERR);
    assert_eq!(yaml["failures"][0]["actual"], "exit status 0: key: value");
    let groups: Vec<String> = doc
        .points()
        .map(|p| {
            p.subtest
                .as_ref()
                .and_then(|s| s.name.clone())
                .expect("named")
        })
        .collect();
    assert_eq!(groups, [sample::GROUP_LIFECYCLE, sample::GROUP_BUNDLE]);

    // JUnit: the text comes back after unescaping; forbidden characters are made visible.
    let root = parse_xml(&render(Format::Junit));
    let props = root.properties();
    assert_eq!(props["diagnostic"], [sample::DIAGNOSTIC]);
    let case = root
        .find_all("testcase")
        .into_iter()
        .find(|c| {
            c.attrs["name"] == "runtime.lifecycle.kill.no-signal-after-stop (container abc#1)"
        })
        .expect("the kill case");
    assert_eq!(case.attrs["classname"], sample::GROUP_LIFECYCLE);
    let failure = case.child("failure").expect("a MUST NOT failure");
    assert_eq!(failure.attrs["type"], "MUST NOT");
    assert!(
        failure
            .text
            .contains("second line: <b>&amp; # not a comment"),
        "{}",
        failure.text
    );
    assert!(
        failure.text.contains("\\u001b[31mred\\u001b[0m"),
        "{}",
        failure.text
    );
    assert!(failure
        .text
        .contains("command: runc kill 'id with space' KILL"));
    assert!(failure.text.contains(
        "anchor: https://github.com/opencontainers/runtime-spec/blob/v1.3.0/runtime.md#kill"
    ));
    let suites: Vec<&str> = root
        .find_all("testsuite")
        .iter()
        .map(|t| t.attrs["name"].as_str())
        .collect();
    assert_eq!(suites, ["config.md", "features.md", "runtime.md"]);
    let skipped = root.find_all("skipped");
    assert_eq!(
        skipped[0].attrs["message"],
        "runtime has no `features` command # unsupported\n(second line)"
    );

    // HTML: escaped, never raw.
    let html = render(Format::Html);
    assert!(html.contains("&lt;missing&gt; &amp; gone #1"));
    assert!(!html.contains("<missing>"));
    assert!(!html.contains('\u{1b}'));
    assert!(html.contains(
        "<a href=\"https://github.com/opencontainers/runtime-spec/blob/v1.3.0/config.md#root\"><code>runtime.config.root.path-exists</code></a>"
    ));
    // Failures come first in each document's table.
    let config = &html[html.find("<h2>config.md</h2>").expect("config.md section")..];
    let first_row = config.find("<tr class=\"r-").expect("a row");
    assert!(config[first_row..].starts_with("<tr class=\"r-fail_must\">"));
}

#[test]
fn yellow_and_green_runs_keep_ci_green() {
    for (without, verdict) in [
        (vec![ResultClass::FailMust, ResultClass::Error], "yellow"),
        (
            vec![
                ResultClass::FailMust,
                ResultClass::Error,
                ResultClass::FailShould,
                ResultClass::FailMay,
            ],
            "green",
        ),
    ] {
        let events = sample::events_without(&without);
        let tap = render_events(Format::Tap, &events);
        let doc = tap_reader::parse(&tap);
        assert!(doc.is_ok(), "a {verdict} run passes a TAP harness:\n{tap}");

        let root = parse_xml(&render_events(Format::Junit, &events));
        assert_eq!(root.num("failures"), 0);
        assert_eq!(root.num("errors"), 0);
        assert_eq!(junit_declared(&root).1, verdict);

        let json: Value =
            serde_json::from_str(&render_events(Format::Json, &events)).expect("JSON");
        assert_eq!(json["verdict"], verdict);
        let (declared, counted) = json_counts(&json);
        assert_eq!(declared, counted);

        let html = render_events(Format::Html, &events);
        assert_eq!(html_banner(&html).1, verdict);
    }
}

#[derive(Clone, Default)]
struct Recording {
    bytes: Arc<Mutex<Vec<u8>>>,
    flushes: Arc<Mutex<usize>>,
}

impl Write for Recording {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.bytes.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        *self.flushes.lock().expect("lock") += 1;
        Ok(())
    }
}

impl Recording {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().expect("lock").clone()).expect("utf-8")
    }
}

#[test]
fn tap_streams_each_group_when_it_finishes() {
    let rec = Recording::default();
    let mut sink = TapSink::new(rec.clone());
    let mut seen_first_group = false;
    for e in sample::events() {
        sink.handle(&e).expect("memory");
        if let Event::GroupFinished { group } = &e {
            if !seen_first_group {
                seen_first_group = true;
                assert_eq!(group, sample::GROUP_LIFECYCLE);
                let text = rec.text();
                // The whole lifecycle subtest is out and flushed, with none of the bundle
                // group's points although they arrived interleaved.
                assert!(
                    text.contains("not ok 1 - lifecycle \\\\ create\n"),
                    "{text}"
                );
                assert!(!text.contains("runtime.config."), "{text}");
                assert!(*rec.flushes.lock().expect("lock") >= 1);
            }
        }
    }
    assert!(seen_first_group);
    assert!(rec.text().ends_with("1..2\n"));
}

#[test]
fn groups_that_never_finish_are_still_written() {
    let events: Vec<Event> = sample::events()
        .into_iter()
        .filter(|e| !matches!(e, Event::GroupFinished { .. }))
        .collect();
    let tap = render_events(Format::Tap, &events);
    assert_eq!(tap_counts(&tap), sample::expected_summary());
}

#[test]
fn an_empty_run_is_valid_everywhere() {
    let events = vec![
        Event::RunStarted(RunInfo {
            tool: "oci-certify".into(),
            tool_version: "0.1.0".into(),
            spec: oci_certify_core::Spec::Image,
            spec_version: "1.1.1".into(),
            subject: "empty".into(),
            command: "image".into(),
        }),
        Event::RunFinished(RunEnd {
            summary: Summary::default(),
            verdict: Verdict::Green,
            duration: std::time::Duration::from_millis(5),
        }),
    ];
    let doc = tap_reader::parse(&render_events(Format::Tap, &events));
    let plan = doc.plan.expect("a plan");
    assert_eq!(plan.count(), 0);
    assert!(plan.skip.is_some());
    let json: Value = serde_json::from_str(&render_events(Format::Json, &events)).expect("JSON");
    assert_eq!(json["results"], serde_json::json!([]));
    assert_eq!(json["spec"], "image");
    let root = parse_xml(&render_events(Format::Junit, &events));
    assert_eq!(root.num("tests"), 0);
    let html = render_events(Format::Html, &events);
    assert!(html.contains("No test point was selected."));
    assert_eq!(html_banner(&html).1, "green");
}

struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "disk full",
        ))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_name_the_report() {
    for (format, name) in [
        (Format::Tap, "TAP"),
        (Format::Json, "JSON"),
        (Format::Junit, "JUnit"),
        (Format::Html, "HTML"),
    ] {
        let mut sink = sink_for(format, Box::new(Broken));
        let err = sample::events()
            .iter()
            .find_map(|e| sink.handle(e).err())
            .unwrap_or_else(|| panic!("{format} must report the write error"));
        assert_eq!(err.sink, name);
        assert_eq!(
            err.to_string(),
            format!("writing the {name} report: disk full")
        );
    }
}
