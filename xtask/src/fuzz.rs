//! `cargo xtask fuzz [SECONDS]` and `cargo xtask fuzz-seeds`: the libFuzzer targets in
//! `fuzz/` (see `fuzz/README.md`).
//!
//! The targets are built by cargo-fuzz (pinned, installed with `cargo install --locked` when
//! missing). cargo-fuzz passes nightly-only flags (`-Zsanitizer=address`), and the machines
//! have a stable toolchain only: `RUSTC_BOOTSTRAP=1` lets the stable compiler accept them (its
//! rust-std ships the sanitizer runtimes). Each target then runs for a bounded time from its
//! committed seeds (`fuzz/seeds/<target>`) plus a local corpus (`fuzz/corpus/<target>`, not
//! committed), with an RSS limit and a per-input timeout; any crash, leak of the RSS limit or
//! timeout fails the step and leaves the input in `fuzz/artifacts/<target>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{cargo, run};

/// The cargo-fuzz release the project uses.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Memory a fuzzing process may use before libFuzzer calls it an out-of-memory crash.
const RSS_LIMIT_MB: u32 = 512;
/// Seconds one input may take before libFuzzer calls it a hang.
const TIMEOUT_SECONDS: u32 = 10;
/// AddressSanitizer keeps freed memory in a quarantine (256 MiB by default) to catch uses
/// after free. Its bookkeeping for millions of small freed chunks (a parsed JSON document is
/// many small allocations) alone crossed the RSS limit while no live heap grew (seen: 32 MiB
/// live, 229 MiB quarantined, 532 MiB RSS); a smaller quarantine keeps the limit meaningful.
const ASAN_QUARANTINE_MB: u32 = 64;

/// A fuzz target and the longest input worth generating for it.
struct Target {
    name: &'static str,
    max_len: usize,
}

const TARGETS: &[Target] = &[
    // Real documents are a few KiB; nesting and the rule layer are reached well below this.
    Target {
        name: "json_document",
        max_len: 16 << 10,
    },
    // Room for a few tar entries with PAX and GNU extension headers.
    Target {
        name: "layer_scan",
        max_len: 64 << 10,
    },
    Target {
        name: "layout_archive",
        max_len: 64 << 10,
    },
];

fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut asan = std::env::var("ASAN_OPTIONS").unwrap_or_default();
    if !asan.contains("quarantine_size_mb") {
        if !asan.is_empty() {
            asan.push(':');
        }
        asan.push_str(&format!("quarantine_size_mb={ASAN_QUARANTINE_MB}"));
    }
    let mut cmd = cargo();
    cmd.arg("fuzz")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("ASAN_OPTIONS", asan)
        // Run from the project root so cargo-fuzz finds `fuzz/`.
        .current_dir(fuzz_dir.parent().unwrap_or(fuzz_dir));
    cmd
}

/// Installs the pinned cargo-fuzz unless it is already there.
fn ensure_cargo_fuzz() -> Result<()> {
    let installed = cargo()
        .args(["fuzz", "--version"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if installed
        .as_deref()
        .is_some_and(|v| v.split_whitespace().last() == Some(CARGO_FUZZ_VERSION))
    {
        return Ok(());
    }
    eprintln!(
        "xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION} (found: {})",
        installed.as_deref().unwrap_or("none")
    );
    run(cargo().args([
        "install",
        "--locked",
        "--force",
        "cargo-fuzz",
        "--version",
        CARGO_FUZZ_VERSION,
    ]))
}

/// Builds every target, then runs each for `seconds`.
pub fn fuzz(root: &Path, seconds: u64) -> Result<()> {
    if seconds == 0 {
        bail!("fuzzing for 0 seconds tests nothing");
    }
    ensure_cargo_fuzz()?;
    let fuzz_dir = root.join("fuzz");
    // 16 codegen units instead of cargo-fuzz's default of one: the instrumented build of the
    // whole dependency graph is the slow part on two cores (seen: 9 min with one unit, 7 with
    // 16), and the fuzzers lose little speed.
    run(cargo_fuzz(&fuzz_dir).args(["build", "--codegen-units", "16"]))?;
    // Scratch files of the targets (layout_archive writes each input to one), removed after.
    let scratch = fuzz_dir.join("target/scratch");
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = run_targets(&fuzz_dir, &scratch, seconds);
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    eprintln!(
        "xtask: fuzz passed: {} targets, {seconds} s each",
        TARGETS.len()
    );
    Ok(())
}

fn run_targets(fuzz_dir: &Path, scratch: &Path, seconds: u64) -> Result<()> {
    for t in TARGETS {
        let corpus = fuzz_dir.join("corpus").join(t.name);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        let seeds = fuzz_dir.join("seeds").join(t.name);
        if !seeds.is_dir() {
            bail!("{} is missing (cargo xtask fuzz-seeds)", seeds.display());
        }
        run(cargo_fuzz(fuzz_dir)
            .env("TMPDIR", scratch)
            .args(["run", "--codegen-units", "16", t.name])
            .arg(&corpus)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            .arg(format!("-max_len={}", t.max_len))
            .arg(format!("-timeout={TIMEOUT_SECONDS}"))
            .arg("-print_final_stats=1"))
        .with_context(|| {
            format!(
                "fuzz target {} failed; the input is in {}",
                t.name,
                fuzz_dir.join("artifacts").join(t.name).display()
            )
        })?;
    }
    Ok(())
}

/// Writes the seed corpora under `fuzz/seeds/`: small valid documents, tars and an archive,
/// generated from the document cases and the fixtures so they stay real.
pub fn seeds(root: &Path) -> Result<()> {
    let seeds = root.join("fuzz/seeds");
    if seeds.exists() {
        std::fs::remove_dir_all(&seeds).context("clearing fuzz/seeds")?;
    }
    let mut total = 0usize;
    let mut write = |target: &str, name: &str, bytes: &[u8]| -> Result<()> {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        total += bytes.len();
        Ok(())
    };

    // json_document: per case file, the largest valid document of at most 1 KiB.
    let cases = root.join("validators/tests/document-cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&cases)
        .with_context(|| format!("reading {}", cases.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let set: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        let best = set["valid"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|case| match (&case["json"], &case["text"]) {
                (Value::Null, Value::String(t)) => Some(t.clone().into_bytes()),
                (Value::Null, _) => None,
                (v, _) => serde_json::to_vec(v).ok(),
            })
            .filter(|b| b.len() <= 1024)
            .max_by_key(Vec::len);
        if let Some(bytes) = best {
            let stem = file.file_stem().unwrap_or_default().to_string_lossy();
            write("json_document", &format!("{stem}.json"), &bytes)?;
        }
    }
    // What only raw text can hold: a duplicate key, escapes, exponents, deep-ish nesting.
    write(
        "json_document",
        "raw-text.json",
        br#"{"a":1,"a":[{"b":"\u00e9\ud83d\ude00\n\/"},-0.5e+3,true,false,null],"c":{"d":[[[]]]}}"#,
    )?;

    // layer_scan: a tar with every entry type the walker judges, its gzip, and a JSON blob.
    let layer = feature_tar()?;
    write("layer_scan", "features.tar", &layer)?;
    let good = oci_certify_fixtures::layout::Image::good()?;
    write("layer_scan", "fixture-layer.tar.gz", &good.layer_blob)?;
    write("layer_scan", "manifest.json", br#"{"schemaVersion":2}"#)?;

    // layout_archive: the good fixture layout as a plain tar (no directory entries).
    write("layout_archive", "good-layout.tar", &layout_tar()?)?;

    eprintln!(
        "xtask: wrote {total} bytes of seeds under {}",
        seeds.display()
    );
    Ok(())
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// A layer tar with a directory, files, links, whiteouts, a FIFO, a PAX header and a GNU
/// long name: each a branch of the walker.
fn feature_tar() -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut header(tar::EntryType::Directory, 0), "etc/", &[][..])?;
    b.append_data(
        &mut header(tar::EntryType::Regular, 3),
        "etc/hostname",
        &b"oci"[..],
    )?;
    b.append_data(
        &mut header(tar::EntryType::Regular, 0),
        "etc/.wh.motd",
        &[][..],
    )?;
    b.append_data(
        &mut header(tar::EntryType::Regular, 0),
        "var/.wh..wh..opq",
        &[][..],
    )?;
    b.append_link(
        &mut header(tar::EntryType::Symlink, 0),
        "etc/localtime",
        "../usr/share/zoneinfo/UTC",
    )?;
    b.append_link(
        &mut header(tar::EntryType::Link, 0),
        "bin/sh",
        "etc/hostname",
    )?;
    b.append_data(&mut header(tar::EntryType::Fifo, 0), "run/fifo", &[][..])?;
    b.append_pax_extensions([("path", &b"usr/lib/pax/named/by/a/record"[..])])?;
    b.append_data(
        &mut header(tar::EntryType::Regular, 0),
        "placeholder",
        &[][..],
    )?;
    let long = format!("usr/share/{}/file", "d".repeat(100));
    b.append_data(&mut header(tar::EntryType::Regular, 0), long, &[][..])?;
    Ok(b.into_inner()?)
}

/// The good fixture layout as an oci-archive, entries in a fixed order.
fn layout_tar() -> Result<Vec<u8>> {
    let mut layout = oci_certify_fixtures::layout::LayoutBuilder::new();
    oci_certify_fixtures::layout::Image::good()?.add(&mut layout);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(h) = &layout.oci_layout {
        files.push(("oci-layout".into(), serde_json::to_vec(h)?));
    }
    if let Some(i) = &layout.index {
        files.push(("index.json".into(), serde_json::to_vec(i)?));
    }
    for (digest, bytes) in &layout.blobs {
        let (alg, enc) = digest.split_once(':').unwrap_or(("sha256", digest));
        files.push((format!("blobs/{alg}/{enc}"), bytes.clone()));
    }
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes) in &files {
        b.append_data(
            &mut header(tar::EntryType::Regular, bytes.len() as u64),
            path,
            &bytes[..],
        )?;
    }
    Ok(b.into_inner()?)
}
