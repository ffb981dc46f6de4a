//! Hashes a file with `scan_blob` and prints the throughput, to compare with
//! `openssl dgst -sha256 FILE`.
//!
//! ```text
//! cargo run --release -p oci-certify-image --example hash_throughput -- FILE... [sha256|sha512] [--repeat N] [--hash-only]
//! ```
//!
//! With several files they are scanned together by `scan_files` (in parallel, one per core)
//! and the aggregate throughput is printed as well.
//!
//! `--hash-only` reads the file into memory first and times only `Hasher::update` over it: the
//! ceiling the scanner can reach on this CPU, without I/O.
//!
//! The file goes through the whole single-pass scanner (sniffing, JSON capture, and for a
//! layer the decompression and tar walk), exactly as a blob of a layout would. For a raw
//! hashing figure, give it a file that is neither JSON nor a layer (e.g. from /dev/urandom).

use oci_certify_image::blob::{scan_blob_with_buffer, Limits, DEFAULT_READ_BUFFER};
use oci_certify_image::digest::{Algorithm, Hasher};
use oci_certify_image::scan::{open_blob, scan_files};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut algorithm = Algorithm::Sha256;
    let mut repeat = 1u32;
    let mut hash_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--hash-only" => hash_only = true,
            "--repeat" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => repeat = n,
                None => return usage("--repeat needs a number"),
            },
            _ => match a.parse::<Algorithm>() {
                Ok(alg) => algorithm = alg,
                Err(_) => paths.push(PathBuf::from(a)),
            },
        }
    }
    if paths.len() > 1 {
        return parallel(paths, algorithm, repeat);
    }
    let Some(path) = paths.pop() else {
        return usage("no FILE given");
    };
    if hash_only {
        return hash_in_memory(&path, algorithm, repeat);
    }
    let limits = Limits::default();
    let mut best = f64::MAX;
    for _ in 0..repeat.max(1) {
        let file = match open_blob(&path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("hash_throughput: {e}");
                return ExitCode::from(2);
            }
        };
        let start = Instant::now();
        let scan = match scan_blob_with_buffer(file, algorithm, &limits, DEFAULT_READ_BUFFER) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hash_throughput: {e}");
                return ExitCode::from(2);
            }
        };
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        let mb = scan.size as f64 / 1e6;
        print!(
            "{}  {} bytes  {:.3} s  {:.0} MB/s",
            scan.digest,
            scan.size,
            secs,
            mb / secs.max(1e-9)
        );
        if let Some(layer) = &scan.layer {
            print!(
                "  layer: {} {} uncompressed bytes, {} entries, {} facts, diff_id {}",
                layer.compression,
                layer.uncompressed_size,
                layer.entries,
                layer.facts.len(),
                layer.diff_id.as_deref().unwrap_or("-")
            );
        }
        println!();
    }
    if repeat > 1 {
        println!("best of {repeat}: {best:.3} s");
    }
    ExitCode::SUCCESS
}

fn parallel(paths: Vec<PathBuf>, algorithm: Algorithm, repeat: u32) -> ExitCode {
    let limits = Limits::default();
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let results = scan_files(
            paths.iter().map(|p| (p.clone(), algorithm)).collect(),
            &limits,
        );
        let secs = start.elapsed().as_secs_f64();
        let mut total = 0u64;
        for (p, r) in &results {
            match r {
                Ok(s) => {
                    total += s.size;
                    println!("{}  {}  {} bytes", s.digest, p.display(), s.size);
                }
                Err(e) => {
                    eprintln!("hash_throughput: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        println!(
            "{} files, {total} bytes in {secs:.3} s: {:.0} MB/s aggregate on {} threads",
            results.len(),
            total as f64 / 1e6 / secs.max(1e-9),
            rayon_threads()
        );
    }
    ExitCode::SUCCESS
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn hash_in_memory(path: &std::path::Path, algorithm: Algorithm, repeat: u32) -> ExitCode {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("hash_throughput: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let mut h = Hasher::new(algorithm);
        for chunk in bytes.chunks(DEFAULT_READ_BUFFER) {
            h.update(chunk);
        }
        let digest = h.finalize();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{digest}  {} bytes in memory  {secs:.3} s  {:.0} MB/s (hash only)",
            bytes.len(),
            bytes.len() as f64 / 1e6 / secs.max(1e-9)
        );
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("hash_throughput: {msg}\nusage: hash_throughput FILE... [sha256|sha512] [--repeat N] [--hash-only]");
    ExitCode::from(2)
}
