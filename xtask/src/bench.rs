//! `cargo xtask bench`: the image benchmarks recorded in BENCHMARKS.md.
//!
//! Builds the release binary, generates layouts under `target/bench/`, and measures with
//! `/usr/bin/time -v` (wall time, CPU time, peak RSS):
//!
//! 1. one 1 GiB layer: `oci-certify image` against `openssl dgst -sha256` on the same blob
//!    file, in the same run (the throughput target is 85% of openssl's on one core);
//! 2. two 512 MiB layers: both cores should be busy (CPU time / wall time near 2);
//! 3. a small image (the fixtures' good layout): median of 20 runs;
//! 4. 1,000 small blobs beside a small image: median of 5 runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use oci_certify_fixtures::layout::{sha256, Image, LayoutBuilder};
use serde_json::json;

struct Measure {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
}

/// Runs `cmd` under `/usr/bin/time -v`; returns wall seconds, CPU seconds and peak RSS.
fn measure(cmd: &[&str]) -> Result<Measure> {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .args(cmd)
        .output()
        .context("running /usr/bin/time (Debian package `time`)")?;
    let err = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| -> Option<String> {
        err.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let secs = |name: &str| {
        field(name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):")
        .map(|v| {
            v.split(':')
                .map(|p| p.parse::<f64>().unwrap_or(0.0))
                .fold(0.0, |acc, p| acc * 60.0 + p)
        })
        .unwrap_or(0.0);
    let rss_kib = field("Maximum resident set size (kbytes):")
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    if !out.status.success() && out.status.code() != Some(1) {
        bail!("{cmd:?} failed: {err}");
    }
    Ok(Measure {
        wall,
        cpu: secs("User time (seconds):") + secs("System time (seconds):"),
        rss_mib: rss_kib / 1024.0,
    })
}

/// Writes a tar layer holding one file of `size` pseudo-random bytes, streaming.
fn random_layer(path: &Path, size: u64, seed: u64) -> Result<()> {
    let file = std::fs::File::create(path)?;
    let mut builder = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    struct Noise(u64, u64);
    impl std::io::Read for Noise {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.1 as usize);
            for chunk in buf[..n].chunks_mut(8) {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                let bytes = self.0.to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
            self.1 -= n as u64;
            Ok(n)
        }
    }
    builder.append_data(
        &mut header,
        "data.bin",
        Noise(seed.wrapping_mul(2).wrapping_add(1), size),
    )?;
    builder.into_inner()?.flush()?;
    Ok(())
}

/// A layout whose layers are the given tar files (moved into place, not copied).
fn layout_with_layers(dir: &Path, layers: &[PathBuf]) -> Result<()> {
    std::fs::create_dir_all(dir.join("blobs/sha256"))?;
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for layer in layers {
        let out = Command::new("openssl")
            .args(["dgst", "-sha256", "-r"])
            .arg(layer)
            .output()?;
        let hex = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let size = std::fs::metadata(layer)?.len();
        std::fs::rename(layer, dir.join("blobs/sha256").join(&hex))?;
        descriptors.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{hex}"), "size": size}));
        diff_ids.push(json!(format!("sha256:{hex}")));
    }
    let mut b = LayoutBuilder::new();
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}});
    let config = b.json_blob("application/vnd.oci.image.config.v1+json", &config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": descriptors,
    });
    let mut d = b.json_blob("application/vnd.oci.image.manifest.v1+json", &manifest);
    d["platform"] = json!({"architecture": "amd64", "os": "linux"});
    b.add_to_index(d);
    b.write(dir)?;
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(root: &Path, quick: bool) -> Result<()> {
    crate::run(crate::cargo().args(["build", "--release", "-p", "oci-certify"]))?;
    let bin = root.join("target/release/oci-certify");
    let bin = bin.to_str().context("UTF-8 path")?;
    let work = root.join("target/bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let gib: u64 = if quick { 64 << 20 } else { 1 << 30 };
    let mut report = String::new();
    let cpu_name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    report.push_str(&format!(
        "machine: {} cores, {cpu_name}\n\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    ));

    // 1. One large layer vs openssl.
    let big = work.join("one-large");
    let layer = work.join("layer-a.tar");
    random_layer(&layer, gib, 1)?;
    layout_with_layers(&big, std::slice::from_ref(&layer))?;
    let blob = std::fs::read_dir(big.join("blobs/sha256"))?
        .filter_map(|e| e.ok())
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .map(|e| e.path())
        .context("the layer blob")?;
    let size = std::fs::metadata(&blob)?.len() as f64;
    let blob_s = blob.to_str().context("UTF-8 path")?;
    // Warm the page cache once so both read from memory.
    measure(&["cat", blob_s])?;
    let openssl = measure(&["openssl", "dgst", "-sha256", blob_s])?;
    let ours = measure(&[bin, "image", big.to_str().unwrap_or_default(), "--plain"])?;
    let mbs = |secs: f64| size / secs.max(1e-9) / 1e6;
    report.push_str(&format!(
        "| one {:.0} MiB layer | oci-certify {:.2} s ({:.0} MB/s, CPU {:.2} s, peak RSS {:.1} MiB) | openssl dgst -sha256 {:.2} s ({:.0} MB/s) | ratio {:.0}% |\n",
        size / (1u64 << 20) as f64, ours.wall, mbs(ours.wall), ours.cpu, ours.rss_mib, openssl.wall, mbs(openssl.wall), 100.0 * openssl.wall / ours.wall.max(1e-9)
    ));

    // 2. Two large layers: both cores.
    let two = work.join("two-large");
    let (a, b) = (work.join("layer-b.tar"), work.join("layer-c.tar"));
    random_layer(&a, gib / 2, 2)?;
    random_layer(&b, gib / 2, 3)?;
    layout_with_layers(&two, &[a, b])?;
    let both = measure(&[bin, "image", two.to_str().unwrap_or_default(), "--plain"])?;
    report.push_str(&format!(
        "| two {:.0} MiB layers | {:.2} s wall, {:.2} s CPU (parallelism {:.2}), peak RSS {:.1} MiB |\n",
        (gib / 2) as f64 / (1u64 << 20) as f64, both.wall, both.cpu, both.cpu / both.wall.max(1e-9), both.rss_mib
    ));

    // 3. A small image.
    let small = work.join("small");
    std::fs::create_dir_all(&small)?;
    let mut lb = LayoutBuilder::new();
    Image::good()?.add(&mut lb);
    lb.write(&small)?;
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        Command::new(bin)
            .args(["image", small.to_str().unwrap_or_default(), "--plain"])
            .output()?;
        times.push(t.elapsed().as_secs_f64());
    }
    report.push_str(&format!(
        "| small image (1 layer) | median of 20: {:.1} ms |\n",
        median(times) * 1e3
    ));

    // 4. 1,000 small blobs.
    let many = work.join("many-blobs");
    std::fs::create_dir_all(&many)?;
    let mut lb = LayoutBuilder::new();
    Image::good()?.add(&mut lb);
    for i in 0..1000u32 {
        let bytes = format!("blob number {i}\n").into_bytes();
        lb.blobs.push((sha256(&bytes), bytes));
    }
    lb.write(&many)?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        Command::new(bin)
            .args(["image", many.to_str().unwrap_or_default(), "--plain"])
            .output()?;
        times.push(t.elapsed().as_secs_f64());
    }
    report.push_str(&format!(
        "| 1,000 small blobs + 1 image | median of 5: {:.1} ms |\n",
        median(times) * 1e3
    ));

    println!("{report}");
    std::fs::write(work.join("results.md"), &report)?;
    eprintln!("xtask: results in {}", work.join("results.md").display());
    let _ = std::fs::remove_dir_all(big);
    let _ = std::fs::remove_dir_all(two);
    Ok(())
}
