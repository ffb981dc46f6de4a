//! Scanning blob files: parallel, order-preserving, and refusing anything but regular files.

mod common;

use common::*;
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_image::blob::Limits;
use oci_certify_image::digest::Algorithm;
use oci_certify_image::error::ScanError;
use oci_certify_image::scan::{scan_file, scan_files, scan_files_with, ScanOptions};
use std::path::PathBuf;
use std::time::Duration;

fn write_blob(dir: &std::path::Path, bytes: &[u8], alg: Algorithm) -> PathBuf {
    let digest = alg.digest_of(bytes);
    let (name, hex) = digest.split_once(':').unwrap();
    let d = dir.join("blobs").join(name);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(hex);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn many_blobs_in_parallel_come_back_in_order_with_their_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = tar_of(&[dir("a/"), file("a/f", &pseudo_random(100_000, 1))]);
    let mut inputs = Vec::new();
    let mut expected = Vec::new();
    for i in 0..60u64 {
        let (bytes, alg) = match i % 5 {
            0 => (gzip(&tar), Algorithm::Sha256),
            1 => (zstd(&tar), Algorithm::Sha256),
            2 => (
                format!("{{\"schemaVersion\":2,\"n\":{i}}}").into_bytes(),
                Algorithm::Sha256,
            ),
            3 => (
                pseudo_random(1000 + i as usize * 5000, i),
                Algorithm::Sha512,
            ),
            _ => (tar.clone(), Algorithm::Sha256),
        };
        let p = write_blob(tmp.path(), &bytes, alg);
        expected.push((p.clone(), alg.digest_of(&bytes), bytes.len() as u64, i % 5));
        inputs.push((p, alg));
    }
    for options in [
        ScanOptions::default(),
        ScanOptions {
            threads: 1,
            read_buffer: 4096,
        },
        ScanOptions {
            threads: 2,
            read_buffer: 64 << 10,
        },
    ] {
        let results = scan_files_with(inputs.clone(), &Limits::default(), &options);
        assert_eq!(results.len(), expected.len());
        for ((path, result), (p, digest, size, kind)) in results.iter().zip(&expected) {
            assert_eq!(path, p);
            let s = result.as_ref().unwrap();
            assert_eq!(&s.digest, digest);
            assert_eq!(s.size, *size);
            match kind {
                0 | 1 | 4 => {
                    let l = s.layer.as_ref().unwrap();
                    assert!(l.facts.is_empty());
                    assert_eq!(l.diff_id, Some(sha256(&tar)));
                }
                2 => assert!(s.json.is_some()),
                _ => assert!(s.layer.is_none() && s.json.is_none()),
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn symlinked_blobs_directories_fifos_and_missing_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = write_blob(tmp.path(), b"content", Algorithm::Sha256);
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let dangling = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
    let dir = tmp.path().join("blobs");
    let fifo = tmp.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let missing = tmp.path().join("missing");

    // Scanned on another thread: opening a FIFO must not block waiting for a writer.
    let inputs: Vec<_> = [&real, &link, &dangling, &dir, &fifo, &missing]
        .into_iter()
        .map(|p| (p.clone(), Algorithm::Sha256))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(scan_files(inputs, &Limits::default()));
    });
    let results = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("scan_files returned (a FIFO did not block it)");

    assert!(results[0].1.is_ok());
    let kind = |i: usize| match &results[i].1 {
        Err(e @ ScanError::NotRegularFile { kind, .. }) => {
            assert_eq!(e.fault(), Fault::Input);
            *kind
        }
        other => panic!(
            "{}: expected NotRegularFile, got {other:?}",
            results[i].0.display()
        ),
    };
    assert_eq!(kind(1), "symbolic link");
    assert_eq!(kind(2), "symbolic link");
    assert_eq!(kind(3), "directory");
    assert_eq!(kind(4), "FIFO");
    match &results[5].1 {
        Err(e @ ScanError::Open { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            assert_eq!(e.fault(), Fault::Input);
        }
        other => panic!("expected Open error, got {other:?}"),
    }
}

#[test]
fn scan_file_reads_one_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = gzip(&tar_of(&[file("x", b"y"), file("x", b"z")]));
    let p = write_blob(tmp.path(), &bytes, Algorithm::Sha256);
    let s = scan_file(
        &p,
        Algorithm::Sha256,
        &Limits::default(),
        &ScanOptions::default(),
    )
    .unwrap();
    assert_eq!(s.digest, sha256(&bytes));
    assert_eq!(
        s.layer.unwrap().facts[0].requirement,
        Some("image.layer.tar.no-duplicate-paths")
    );
}
