//! The catalogue under `cargo test` (a libtest-mimic harness, `harness = false`): the
//! self-certification runs of the project, each test point one trial named by its
//! requirement id (and target), so a regression in CI names the requirement it broke and
//! nextest or `cargo test -- FILTER` can select by id.
//!
//! - `runtime::…`: `oci-certify runtime` with no argument, the bundled reference runtime,
//!   which must certify green on every host the project's CI runs on (root needed: without it
//!   one trial fails, never a silent pass);
//! - `image::…`: `oci-certify image` on the fixtures' good layout.
//!
//! A point the suite skipped (with its reason) is an ignored trial; a failed point or a
//! harness error is a failed trial whose message is the finding.

use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use oci_certify_fixtures::layout::{Image, LayoutBuilder};
use serde_json::Value;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

/// Runs `oci-certify ARGS --format json` and turns each result into a trial `PREFIX::id[target]`.
fn trials(prefix: &str, args: &[&str]) -> Vec<Trial> {
    let out = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .args(args)
        .args(["--plain", "--format", "json"])
        .output();
    let report: Result<Value, String> = match out {
        Err(e) => Err(format!("oci-certify did not run: {e}")),
        Ok(o) => serde_json::from_slice(&o.stdout).map_err(|e| {
            format!(
                "no JSON report ({e}); exit {:?}; stderr: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            )
        }),
    };
    let report = match report {
        Ok(r) => r,
        Err(why) => {
            return vec![Trial::test(format!("{prefix}::run"), move || {
                Err(Failed::from(why))
            })]
        }
    };
    let results = report["results"].as_array().cloned().unwrap_or_default();
    results
        .into_iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or("?").to_string();
            let name = match r["target"].as_str() {
                Some(t) => format!("{prefix}::{id}[{t}]"),
                None => format!("{prefix}::{id}"),
            };
            let outcome = r["outcome"].as_str().unwrap_or("?").to_string();
            let skipped = outcome == "skip";
            Trial::test(name, move || match outcome.as_str() {
                "pass" | "skip" => Ok(()),
                _ => Err(Failed::from(format!(
                    "{outcome} ({}): {}",
                    r["level"].as_str().unwrap_or("?"),
                    serde_json::to_string_pretty(&r).unwrap_or_default()
                ))),
            })
            .with_ignored_flag(skipped)
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let mut all = Vec::new();
    if is_root() {
        all.extend(trials("runtime", &["runtime"]));
    } else {
        all.push(Trial::test("runtime::preconditions", || {
            Err(Failed::from(
                "the reference runtime's self-certification needs root (CI runs as root)",
            ))
        }));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut layout = LayoutBuilder::new();
    Image::good()
        .expect("the fixtures' good image")
        .add(&mut layout);
    layout.write(dir.path()).expect("write the good layout");
    let path = dir.path().display().to_string();
    all.extend(trials("image", &["image", &path]));
    libtest_mimic::run(&args, all).exit();
}
