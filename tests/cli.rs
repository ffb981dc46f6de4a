//! The command line as a user meets it: the catalogue listings, a sample certification run
//! whose four report formats agree on every count (and whose TAP an independent TAP 14
//! consumer reads without losing a point), and the documented exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use oci_certify_reports::tap_reader;
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_oci-certify"));
    c.env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("oci-certify runs")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A manifest with an empty layer list (a SHOULD failure) and otherwise sound.
const YELLOW_MANIFEST: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:83656ea199d8d74b56ef7fe4a0bef9dd10aa412ec632f8ccdf3e0c903471c0a2",
    "size": 151
  },
  "layers": []
}"#;

#[test]
fn requirements_lists_all_three_specs_as_json() {
    let out = run(&["requirements", "--format", "json"]);
    assert!(out.status.success());
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for (spec, at_least) in [("runtime", 340), ("image", 95), ("distribution", 106)] {
        let n = list.iter().filter(|r| r["spec"] == spec).count();
        assert!(n >= at_least, "{spec}: {n} requirements");
    }
    for r in &list {
        for key in [
            "id",
            "spec",
            "spec_version",
            "anchor",
            "level",
            "subject",
            "platform",
            "summary",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert!(r["checks"].is_array());
        assert!(r["anchor"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/opencontainers/"));
    }
    // Checks the engines declare show up against their requirement.
    let covered = list
        .iter()
        .filter(|r| !r["checks"].as_array().unwrap().is_empty())
        .count();
    assert!(covered > 0, "no requirement lists a check");
}

#[test]
fn coverage_names_every_spec_and_the_reasons() {
    let out = run(&["requirements", "--coverage"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "runtime-spec v1.3.0",
        "image-spec v1.1.1",
        "distribution-spec v1.1.1",
        "not covered, check not yet written",
        "binds registry clients",
    ] {
        assert!(text.contains(needle), "coverage lacks {needle:?}");
    }
}

fn junit_attr(xml: &str, tag: &str, attr: &str) -> usize {
    let start = xml.find(&format!("<{tag} ")).unwrap();
    let rest = &xml[start..];
    let a = rest.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
    rest[a..a + rest[a..].find('"').unwrap()].parse().unwrap()
}

fn junit_property(xml: &str, name: &str) -> String {
    let key = format!("<property name=\"{name}\" value=\"");
    let a = xml.find(&key).unwrap() + key.len();
    xml[a..a + xml[a..].find('"').unwrap()].to_string()
}

#[test]
fn a_sample_run_writes_four_formats_that_agree() {
    let dir = tempfile::tempdir().unwrap();
    let doc = write(dir.path(), "manifest.json", YELLOW_MANIFEST);
    let out = |ext: &str| dir.path().join(format!("report.{ext}"));
    let status = bin()
        .arg("image")
        .arg(&doc)
        .args(["--plain", "-o"])
        .arg(out("tap"))
        .arg("-o")
        .arg(out("json"))
        .arg("-o")
        .arg(format!("junit={}", out("xml").display()))
        .arg("-o")
        .arg(out("html"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "yellow exits 0 without --strict");

    let json: Value = serde_json::from_str(&std::fs::read_to_string(out("json")).unwrap()).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["verdict"], "yellow");
    let s = &json["summary"];
    let n = |k: &str| s[k].as_u64().unwrap() as usize;
    assert!(n("fail_should") >= 1 && n("fail_must") == 0);
    assert_eq!(n("total"), json["results"].as_array().unwrap().len());

    // TAP: our reader and the counts.
    let tap = std::fs::read_to_string(out("tap")).unwrap();
    let doc = tap_reader::parse(&tap);
    let all = doc.walk();
    let leaves: Vec<_> = all.iter().filter(|(_, p)| p.subtest.is_none()).collect();
    assert_eq!(leaves.len(), n("total"));
    let todo = leaves
        .iter()
        .filter(|(_, p)| !p.ok && p.directive.is_some())
        .count();
    assert_eq!(todo, n("fail_should") + n("fail_may"));

    // JUnit: totals and the properties.
    let xml = std::fs::read_to_string(out("xml")).unwrap();
    assert_eq!(junit_attr(&xml, "testsuites", "tests"), n("total"));
    assert_eq!(junit_attr(&xml, "testsuites", "failures"), n("fail_must"));
    assert_eq!(junit_attr(&xml, "testsuites", "errors"), n("error"));
    assert_eq!(junit_attr(&xml, "testsuites", "skipped"), n("skip"));
    assert_eq!(junit_property(&xml, "verdict"), "yellow");
    for k in [
        "pass",
        "fail_must",
        "fail_should",
        "fail_may",
        "skip",
        "error",
    ] {
        assert_eq!(junit_property(&xml, k), n(k).to_string(), "junit {k}");
    }

    // HTML: the banner carries the same counts.
    let html = std::fs::read_to_string(out("html")).unwrap();
    for k in ["pass", "fail_must", "fail_should", "skip", "error"] {
        assert!(
            html.contains(&format!("data-count=\"{k}\">{}<", n(k))),
            "html count {k} != {}",
            n(k)
        );
    }

    // The independent TAP 14 consumer sees every point we wrote.
    let consumer = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/tests/tap-consumer");
    assert!(
        consumer.join("node_modules/tap-parser").is_dir(),
        "the TAP 14 consumer is not installed: run `cargo xtask setup` (npm ci --prefix reports/tests/tap-consumer)"
    );
    let mut child = Command::new("node")
        .arg("consume.mjs")
        .current_dir(&consumer)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(tap.as_bytes())
        .unwrap();
    let parsed = child.wait_with_output().unwrap();
    assert!(parsed.status.success());
    let parsed: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let points = parsed["points"].as_array().unwrap();
    let children: Vec<_> = points
        .iter()
        .filter(|p| p["subtest"] == false && p["depth"].as_u64() > Some(0))
        .collect();
    assert_eq!(children.len(), n("total"), "tap-parser lost points");
    let ids: Vec<&str> = children
        .iter()
        .map(|p| p["diag"]["id"].as_str().unwrap())
        .collect();
    let ours: Vec<&str> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let (mut a, mut b) = (ids.clone(), ours.clone());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    assert_eq!(
        parsed["final"]["ok"], true,
        "a yellow run is ok for TAP harnesses"
    );
}

#[test]
fn exit_codes_follow_the_documentation() {
    let dir = tempfile::tempdir().unwrap();
    let yellow = write(dir.path(), "manifest.json", YELLOW_MANIFEST);
    let strict = bin()
        .arg("image")
        .arg(&yellow)
        .args(["--strict", "--plain"])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "yellow with --strict");

    let red = write(dir.path(), "oci-layout", "[]");
    let red_run = bin()
        .arg("image")
        .arg(&red)
        .arg("--plain")
        .output()
        .unwrap();
    assert_eq!(red_run.status.code(), Some(1), "a MUST failure is red");
    assert!(String::from_utf8_lossy(&red_run.stderr).contains("RED"));

    let missing = run(&["image", "/nonexistent/manifest.json"]);
    assert_eq!(missing.status.code(), Some(2));

    let unknown_kind = write(dir.path(), "doc.json", "{}");
    let undetermined = bin().arg("image").arg(&unknown_kind).output().unwrap();
    assert_eq!(undetermined.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&undetermined.stderr).contains("--media-type"));

    let usage = run(&["image"]);
    assert_eq!(usage.status.code(), Some(2), "clap usage errors exit 2");

    // Every command is built now: `runtime` (tests/runtime.rs, tests/reference_runtime.rs),
    // `registry` (tests/registry.rs), `serve` (tests/serve_cli.rs).
}
