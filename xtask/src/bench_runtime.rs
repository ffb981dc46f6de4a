//! `cargo xtask bench-runtime [RUNS]`: the runtime benchmark of BENCHMARKS.md.
//!
//! Builds the release binary and certifies each available runtime RUNS times in a row (5 by
//! default): Debian's runc, crun (in a private mount namespace without the cgroup2 mount, as
//! the tests run it on hybrid hosts), and the bundled reference runtime when the binary has
//! one. For each: test points, wall time per run (min–max), peak RSS, and whether every run
//! gave the same result for every point (id, target, outcome).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

struct Run {
    wall: f64,
    rss_mib: f64,
    points: usize,
    results: Vec<String>,
}

fn run_once(cmd: &mut Command) -> Result<Run> {
    let started = Instant::now();
    let out = cmd.output().context("running oci-certify")?;
    let wall = started.elapsed().as_secs_f64();
    let code = out.status.code();
    if code != Some(0) && code != Some(1) {
        bail!(
            "oci-certify exited {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("parsing the JSON report")?;
    let mut results: Vec<String> = report["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| format!("{} [{}] {}", r["id"], r["target"], r["outcome"]))
                .collect()
        })
        .unwrap_or_default();
    // Points finish in whatever order the parallel groups reach them; compare as multisets.
    results.sort();
    let rss_kib = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    Ok(Run {
        wall,
        rss_mib: rss_kib / 1024.0,
        points: results.len(),
        results,
    })
}

pub fn run(root: &Path, runs: usize) -> Result<()> {
    crate::run(crate::cargo().args(["build", "--release", "--bin", "oci-certify"]))?;
    let bin = root.join("target/release/oci-certify");
    let bin = bin.display().to_string();
    let mut subjects: Vec<(String, Vec<String>)> = Vec::new();
    if Path::new("/usr/sbin/runc").exists() {
        subjects.push((
            "runc".into(),
            vec![
                "/usr/bin/time".into(),
                "-v".into(),
                bin.clone(),
                "runtime".into(),
                "/usr/sbin/runc".into(),
            ],
        ));
    }
    if Path::new("/usr/bin/crun").exists() {
        subjects.push((
            "crun (private mount namespace)".into(),
            vec![
                "unshare".into(),
                "-m".into(),
                "sh".into(),
                "-c".into(),
                format!(
                    "umount /sys/fs/cgroup/unified 2>/dev/null; exec /usr/bin/time -v {bin} runtime /usr/bin/crun --plain --format json"
                ),
            ],
        ));
    }
    subjects.push((
        "reference runtime (no argument)".into(),
        vec![
            "/usr/bin/time".into(),
            "-v".into(),
            bin.clone(),
            "runtime".into(),
        ],
    ));
    println!("| runtime | test points | wall time per run ({runs} consecutive runs) | peak RSS | results |");
    println!("|---|---|---|---|---|");
    for (name, argv) in subjects {
        let mut all = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            if !name.starts_with("crun") {
                cmd.args(["--plain", "--format", "json"]);
            }
            match run_once(&mut cmd) {
                Ok(r) => all.push(r),
                Err(e) => {
                    println!("| {name} | – | – | – | not measured: {e:#} |");
                    break;
                }
            }
        }
        if all.len() < runs {
            continue;
        }
        let min = all.iter().map(|r| r.wall).fold(f64::MAX, f64::min);
        let max = all.iter().map(|r| r.wall).fold(0.0, f64::max);
        let rss = all.iter().map(|r| r.rss_mib).fold(0.0, f64::max);
        let same = all.windows(2).all(|w| w[0].results == w[1].results);
        println!(
            "| {name} | {} | {min:.2}–{max:.2} s | {rss:.0} MiB | {} |",
            all[0].points,
            if same {
                "identical on every run".to_string()
            } else {
                "DIFFERENT between runs".to_string()
            }
        );
    }
    Ok(())
}
