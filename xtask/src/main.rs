//! Project automation. `cargo xtask ci` is the one command that installs what the tests need
//! and runs every gate CI runs; the other subcommands are its steps.
//!
//! ```text
//! cargo xtask ci                 setup, fmt --check, clippy -D warnings, tests, fuzz (45 s
//!                                per target), lint-anchors
//! cargo xtask setup              install the Debian packages and npm tools the tests need
//! cargo xtask lint-anchors [DIR] prove every catalogue anchor exists in the spec texts
//! cargo xtask bench [--quick]    the image benchmarks of BENCHMARKS.md
//! cargo xtask bench-runtime [RUNS] the runtime benchmark of BENCHMARKS.md (5 runs each)
//! cargo xtask fuzz [SECONDS]     build the fuzz targets (fuzz/) and run each for SECONDS (30)
//! cargo xtask fuzz-seeds         regenerate the committed seed corpora under fuzz/seeds/
//! ```

mod bench;
mod bench_runtime;
mod fuzz;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use oci_certify_core::{anchors, Catalogue};

/// Seconds each fuzz target runs in `cargo xtask ci` (three targets: about 2.5 minutes).
const CI_FUZZ_SECONDS: u64 = 45;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root).context("entering the project root")?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("setup") => setup(&root),
        Some("lint-anchors") => lint_anchors(&specs_dir(&root, args.get(1))),
        Some("bench") => bench::run(&root, args.iter().any(|a| a == "--quick")),
        Some("bench-runtime") => {
            let runs = match args.get(1) {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("bench-runtime RUNS must be a number, not {s:?}"))?,
                None => 5,
            };
            bench_runtime::run(&root, runs)
        }
        Some("fuzz") => {
            let seconds = match args.get(1) {
                Some(s) => s
                    .parse()
                    .with_context(|| format!("fuzz SECONDS must be a whole number, not {s:?}"))?,
                None => 30,
            };
            fuzz::fuzz(&root, seconds)
        }
        Some("fuzz-seeds") => fuzz::seeds(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | setup | lint-anchors [SPECS_DIR] | bench [--quick] | bench-runtime [RUNS] | fuzz [SECONDS] | fuzz-seeds"
            );
            std::process::exit(2);
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the project root")
        .to_path_buf()
}

fn specs_dir(root: &Path, arg: Option<&String>) -> PathBuf {
    arg.map(PathBuf::from)
        .or_else(|| std::env::var_os("OCI_CERTIFY_SPECS").map(PathBuf::from))
        .unwrap_or_else(|| root.join("../shared/specs"))
}

pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn ci(root: &Path) -> Result<()> {
    setup(root)?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    // The fuzz crate is its own workspace, outside `--all`.
    run(cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["test", "--workspace"]))?;
    fuzz::fuzz(root, CI_FUZZ_SECONDS)?;
    let specs = specs_dir(root, None);
    if specs.is_dir() {
        lint_anchors(&specs)?;
    } else if std::env::var_os("CI").is_some() {
        bail!(
            "CI runs need the spec texts for lint-anchors, and {} is missing",
            specs.display()
        );
    } else {
        eprintln!(
            "xtask: lint-anchors not run: no spec texts at {} (set OCI_CERTIFY_SPECS)",
            specs.display()
        );
    }
    eprintln!("xtask: ci passed");
    Ok(())
}

/// Folders holding npm tools the tests run, each pinned by its package-lock.json.
const NPM_TOOLS: &[&str] = &["reports/tests/tap-consumer", "tests/serve-browser"];

/// Installs what the tests need: Debian packages listed in xtask/apt-packages.txt (when root
/// and any is missing) and the npm tools pinned by their package-lock.json files.
fn setup(root: &Path) -> Result<()> {
    let list = std::fs::read_to_string(root.join("xtask/apt-packages.txt"))
        .context("reading xtask/apt-packages.txt")?;
    let wanted: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split('#').next())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // A package counts as present when dpkg has it, or when a command of its name is on PATH
    // (some machine images ship node with its own npm, which conflicts with Debian's npm).
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|p| {
            let installed = Command::new("dpkg-query")
                .args(["-W", "-f", "${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"));
            let on_path = std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()));
            !installed && !on_path
        })
        .collect();
    if !missing.is_empty() {
        eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    for dir in NPM_TOOLS {
        let dir = root.join(dir);
        if dir.join("package-lock.json").is_file() {
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir))?;
        }
    }
    Ok(())
}

/// Proves that every catalogue anchor names a file of the spec text and a fragment that file
/// defines (an explicit `<a name>` anchor or a GitHub heading slug).
fn lint_anchors(specs: &Path) -> Result<()> {
    let catalogue = Catalogue::load_embedded()?;
    let mut problems = Vec::new();
    let mut checked = 0usize;
    let mut cache = std::collections::HashMap::new();
    for r in catalogue.iter() {
        let (file, fragment) = r
            .source
            .split_once('#')
            .context("catalogue anchors are FILE#fragment")?;
        let dir = specs.join(format!("{}-v{}", r.spec.repository_name(), r.spec_version));
        let path = dir.join(file);
        let set = match cache.entry(path.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("{}: reading {}", r.id, path.display()))?;
                e.insert(anchors::anchors(&text))
            }
        };
        checked += 1;
        if !set.contains(fragment) {
            problems.push(format!(
                "{}: anchor #{fragment} does not exist in {}",
                r.id,
                path.display()
            ));
        }
    }
    for p in &problems {
        eprintln!("xtask: {p}");
    }
    if !problems.is_empty() {
        bail!("{} of {checked} anchors do not resolve", problems.len());
    }
    eprintln!(
        "xtask: lint-anchors: all {checked} anchors resolve in {}",
        specs.display()
    );
    Ok(())
}
