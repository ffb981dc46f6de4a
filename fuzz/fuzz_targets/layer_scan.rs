//! Arbitrary bytes through the single-pass blob scanner (sniffer, decompressors, DiffID tee,
//! tar walker), as they are and wrapped in gzip and zstd, so the tar walker behind each
//! decompressor is reached with the fuzzer's bytes. The limits are small so that a
//! decompression bomb or a hostile archive is cut quickly.
//!
//! Invariants: reading from memory never fails; size and digest are those of the bytes; a
//! wrapped stream decompresses to the input, and the walker sees the same tar whatever the
//! compression, so a plain tar and its gzip and zstd wrappings give the same layer facts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_certify_fuzz::{gzip, sha256, zstd};
use oci_certify_image::blob::{scan_blob_with_buffer, BlobScan, Limits};
use oci_certify_image::digest::Algorithm;
use oci_certify_image::layer::{Compression, FactKind, Limit};

const LIMITS: Limits = Limits {
    max_uncompressed_bytes: 1 << 20,
    max_ratio: 100,
    ratio_grace_bytes: 64 << 10,
    max_entries: 256,
    max_path_len: 256,
    max_header_bytes: 8 << 10,
    max_json_bytes: 16 << 10,
    max_facts: 64,
    max_zstd_window_log: 20,
};

/// `scan_blob` with the smallest read buffer: the default 1 MiB buffer is zeroed on every
/// scan, which would cost more than the scan of a fuzz input, and a small buffer makes the
/// tees and the sniffer's replay cross more buffer boundaries.
const READ_BUFFER: usize = 4 << 10;

fn scan(bytes: &[u8], algorithm: Algorithm) -> BlobScan {
    let scan = scan_blob_with_buffer(bytes, algorithm, &LIMITS, READ_BUFFER)
        .expect("reading from memory cannot fail");
    assert_eq!(scan.size, bytes.len() as u64);
    if algorithm == Algorithm::Sha256 {
        assert_eq!(scan.digest, sha256(bytes));
    }
    if let Some(layer) = &scan.layer {
        if layer.diff_id.is_some() {
            assert!(layer.uncompressed_size <= LIMITS.max_uncompressed_bytes);
        }
        assert!(layer.facts.len() <= LIMITS.max_facts);
        assert!(layer.entries <= LIMITS.max_entries + 1);
    }
    scan
}

fn decompression_stopped(scan: &BlobScan) -> bool {
    scan.layer.as_ref().is_some_and(|l| {
        l.facts.iter().any(|f| {
            matches!(
                f.kind,
                FactKind::LimitExceeded {
                    limit: Limit::UncompressedBytes | Limit::CompressionRatio | Limit::ZstdWindow
                }
            )
        })
    })
}

fuzz_target!(|data: &[u8]| {
    // Both registered algorithms: sha512 takes the path where the DiffID of an uncompressed
    // layer is hashed separately from the digest.
    let algorithm = if data.len().is_multiple_of(2) {
        Algorithm::Sha256
    } else {
        Algorithm::Sha512
    };
    let plain = scan(data, algorithm);
    for (compression, wrapped) in [
        (Compression::Gzip, gzip(data)),
        (Compression::Zstd, zstd(data)),
    ] {
        let scan = scan(&wrapped, Algorithm::Sha256);
        let layer = scan
            .layer
            .as_ref()
            .expect("a compressed stream is a layer candidate");
        assert_eq!(layer.compression, compression);
        if decompression_stopped(&scan) {
            continue;
        }
        assert_eq!(
            layer.diff_id.as_deref(),
            Some(sha256(data).as_str()),
            "a clean {compression} stream has the DiffID of its content"
        );
        assert_eq!(layer.uncompressed_size, data.len() as u64);
        if let Some(p) = plain
            .layer
            .as_ref()
            .filter(|l| l.compression == Compression::None)
        {
            assert_eq!(p.entries, layer.entries, "entries, plain vs {compression}");
            assert_eq!(p.facts, layer.facts, "facts, plain vs {compression}");
            assert_eq!(p.facts_dropped, layer.facts_dropped);
            assert_eq!(p.error, layer.error, "error, plain vs {compression}");
        }
    }
});
