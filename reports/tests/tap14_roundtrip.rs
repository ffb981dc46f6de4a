//! The TAP sink checked by an independent consumer: Node's `tap-parser` (the TAP 14 reference
//! implementation, the parser of node-tap), pinned in `tests/tap-consumer/package.json`.
//!
//! Needs Node.js 20 or newer and `npm ci --prefix reports/tests/tap-consumer`. Without them the
//! test fails with instructions: a round trip that did not run must not look like a pass.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::sample;
use oci_certify_core::check::Outcome;
use oci_certify_core::event::{Event, PointResult, ResultClass};
use oci_certify_reports::Format;
use serde_json::Value;

const INSTALL: &str = "install Node.js 20+ and run `npm ci --prefix reports/tests/tap-consumer` \
                       from the workspace root (`cargo xtask setup` does it)";

fn consumer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tap-consumer")
}

/// Runs `node consume.mjs` on `tap` and returns its JSON.
fn consume(tap: &str) -> Value {
    let dir = consumer_dir();
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`node --version` failed ({}): {INSTALL}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("Node.js is not available ({e}): {INSTALL}"),
    }
    let manifest = dir.join("node_modules/tap-parser/package.json");
    let installed: Value = match std::fs::read_to_string(&manifest) {
        Ok(text) => serde_json::from_str(&text).expect("tap-parser's package.json is JSON"),
        Err(e) => panic!("{} is missing ({e}): {INSTALL}", manifest.display()),
    };
    assert_eq!(
        installed["version"], "18.3.4",
        "tests/tap-consumer/node_modules holds another tap-parser: {INSTALL}"
    );

    let mut child = Command::new("node")
        .arg("consume.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node consume.mjs: {e}: {INSTALL}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(tap.as_bytes())
        .expect("node reads its stdin");
    let out = child.wait_with_output().expect("node runs");
    assert!(
        out.status.success(),
        "consume.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("consume.mjs prints JSON")
}

/// One test point as tap-parser should report it.
#[derive(Debug, PartialEq)]
struct Expected {
    depth: u64,
    number: u64,
    name: String,
    ok: bool,
    skip: Value,
    todo: Value,
    /// The YAML `id` of a child, the YAML `group` of a parent.
    key: String,
    subtest: bool,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What every emitted point must look like, in stream order, derived from the events alone.
fn expected(events: &[Event]) -> Vec<Expected> {
    let mut pending: Vec<(String, Vec<PointResult>)> = Vec::new();
    let mut out = Vec::new();
    let mut parent = 0;
    for e in events {
        match e {
            Event::PointFinished(r) => {
                match pending.iter_mut().find(|(g, _)| *g == r.point.group) {
                    Some((_, list)) => list.push(r.clone()),
                    None => pending.push((r.point.group.clone(), vec![r.clone()])),
                }
            }
            Event::GroupFinished { group } => {
                let Some(i) = pending.iter().position(|(g, _)| g == group) else {
                    continue;
                };
                let (_, points) = pending.remove(i);
                parent += 1;
                let mut failed = false;
                for (n, r) in points.iter().enumerate() {
                    let class = r.class();
                    failed |= matches!(class, ResultClass::FailMust | ResultClass::Error);
                    let mut name = r.point.describe();
                    if class == ResultClass::Error {
                        // Not a TAP directive, so tap-parser keeps it in the name.
                        name.push_str(" # harness error");
                    }
                    out.push(Expected {
                        depth: 1,
                        number: n as u64 + 1,
                        name,
                        ok: matches!(class, ResultClass::Pass | ResultClass::Skip),
                        skip: match &r.outcome {
                            Outcome::Skip { reason } => Value::String(one_line(reason)),
                            _ => Value::Bool(false),
                        },
                        todo: match class {
                            ResultClass::FailShould => "should".into(),
                            ResultClass::FailMay => "may".into(),
                            _ => Value::Bool(false),
                        },
                        key: r.point.requirement.id.clone(),
                        subtest: false,
                    });
                }
                out.push(Expected {
                    depth: 0,
                    number: parent,
                    name: group.clone(),
                    ok: !failed,
                    skip: Value::Bool(false),
                    todo: Value::Bool(false),
                    key: group.clone(),
                    subtest: true,
                });
            }
            _ => {}
        }
    }
    out
}

fn seen(json: &Value) -> Vec<Expected> {
    json["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            let subtest = p["subtest"] == true;
            let key = if subtest {
                &p["diag"]["group"]
            } else {
                &p["diag"]["id"]
            };
            Expected {
                depth: p["depth"].as_u64().expect("depth"),
                number: p["id"].as_u64().expect("test number"),
                name: p["name"].as_str().expect("name").to_string(),
                ok: p["ok"] == true,
                skip: p["skip"].clone(),
                todo: p["todo"].clone(),
                key: key.as_str().unwrap_or("<no YAML>").to_string(),
                subtest,
            }
        })
        .collect()
}

fn assert_clean(json: &Value) {
    assert_eq!(
        json["extra"],
        serde_json::json!([]),
        "lines tap-parser did not understand"
    );
    for f in json["final"]["failures"].as_array().expect("failures") {
        assert!(
            f["tapError"].is_null(),
            "tap-parser reports a TAP error: {f}"
        );
    }
    assert_eq!(json["bailedOut"], false);
}

#[test]
fn every_point_survives_the_reference_parser() {
    let events = sample::events();
    let tap = common::render_events(Format::Tap, &events);
    let json = consume(&tap);
    assert_clean(&json);

    let want = expected(&events);
    assert_eq!(want.len(), 9 + 2, "the sample has 9 points in 2 groups");
    let got = seen(&json);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    assert_eq!(want.len(), got.len(), "{got:#?}");

    let fin = &json["final"];
    assert_eq!(fin["count"], 2);
    assert_eq!(fin["plan"]["end"], 2);
    assert_eq!(fin["ok"], false, "a red run fails in TAP too");

    // The YAML of every child carries the requirement's metadata and survives a real YAML
    // parser, multi-line stderr, quotes and terminal escapes included.
    for p in json["points"].as_array().expect("points") {
        if p["subtest"] == true {
            continue;
        }
        let diag = &p["diag"];
        for key in ["id", "level", "anchor", "spec_version", "group", "outcome"] {
            assert!(diag[key].is_string(), "{key} missing in {diag}");
        }
        assert!(diag["anchor"].as_str().is_some_and(
            |a| a.starts_with("https://github.com/opencontainers/runtime-spec/blob/v1.3.0/")
        ));
        if diag["id"] == "runtime.lifecycle.kill.no-signal-after-stop" {
            let loc = &diag["failures"][0]["location"];
            assert_eq!(loc["kind"], "command");
            assert_eq!(loc["stderr"], sample::STDERR);
            assert_eq!(loc["argv"][2], "id with space");
            assert_eq!(diag["level"], "MUST NOT");
        }
    }
    let comments: Vec<&str> = json["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|c| c["comment"].as_str())
        .collect();
    assert!(comments.contains(&"# second line\n"), "{comments:?}");
}

#[test]
fn should_and_may_failures_do_not_fail_a_tap_harness() {
    let events = sample::events_without(&[ResultClass::FailMust, ResultClass::Error]);
    let json = consume(&common::render_events(Format::Tap, &events));
    assert_clean(&json);
    let fin = &json["final"];
    assert_eq!(fin["ok"], true, "{fin}");
    assert_eq!(fin["fail"], 0);
    let got = seen(&json);
    assert_eq!(got, expected(&events));
    let todos = got.iter().filter(|p| p.todo != false).count();
    assert_eq!(todos, 3);
}
