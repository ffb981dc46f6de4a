//! Memory stays bounded whatever the blob: a 512 MiB opaque stream and 64 MiB plain-tar,
//! gzip-tar and JSON look-alike streams are scanned from readers that generate their bytes
//! without storing them, and the process's peak RSS may not grow by more than 32 MiB, half the
//! size of the smallest stream: a scanner that kept any of them whole would fail. (The
//! scanner's own buffers are a few MiB: the read buffers and at most `max_json_bytes`.)
//!
//! One test in its own binary, so no other test shares the process's peak-RSS counter. The
//! streams are smaller than they could be because the test profile does not optimise sha2 and
//! zlib-rs (tens of MB/s); digests of large streams are checked by other tests, not here.

mod common;

use common::*;
use oci_certify_image::blob::{scan_blob, Limits};
use oci_certify_image::digest::Algorithm;
use oci_certify_image::layer::Compression;

const UNIT: usize = 1 << 20;
const BIG: u64 = 512; // MiB, the opaque stream
const UNITS: u64 = 64; // MiB, the other streams
const MAX_GROWTH_KIB: u64 = 32 << 10; // 32 MiB

/// Resets the peak RSS (VmHWM) to the current RSS.
fn reset_peak() -> Option<()> {
    std::fs::write("/proc/self/clear_refs", "5").ok()
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tar_header_for(size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path("big/file").unwrap();
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    h.as_bytes().to_vec()
}

#[test]
fn peak_rss_stays_bounded_on_large_streams() {
    if reset_peak().is_none() || status_kib("VmHWM:").is_none() {
        eprintln!("skipped: /proc/self/clear_refs or VmHWM not available on this host");
        return;
    }
    let unit = pseudo_random(UNIT, 42);
    let header = tar_header_for(UNIT as u64 * UNITS);
    let gz_unit = gzip(&unit);
    let mut spaces = vec![b' '; UNIT];
    spaces[UNIT - 1] = b'\n';

    let streams: Vec<(&str, Repeat, Option<Compression>)> = vec![
        (
            "opaque",
            Repeat::new(Vec::new(), unit.clone(), BIG, Vec::new()),
            None,
        ),
        (
            "plain tar",
            Repeat::new(header.clone(), unit.clone(), UNITS, vec![0u8; 1024]),
            Some(Compression::None),
        ),
        (
            "gzip tar",
            Repeat::new(gzip(&header), gz_unit, UNITS, gzip(&[0u8; 1024])),
            Some(Compression::Gzip),
        ),
        (
            "JSON look-alike",
            Repeat::new(b"{\"a\":\"".to_vec(), spaces, UNITS, b"\"}".to_vec()),
            None,
        ),
    ];
    for (name, stream, compression) in streams {
        let len = stream.total_len();
        reset_peak();
        let before = status_kib("VmRSS:").unwrap_or(0);
        let s = scan_blob(stream, Algorithm::Sha256, &Limits::default()).unwrap();
        let peak = status_kib("VmHWM:").unwrap_or(0);
        let growth = peak.saturating_sub(before);
        eprintln!("{name}: {len} bytes, RSS {before} KiB before, peak {peak} KiB (+{growth} KiB)");
        assert_eq!(s.size, len, "{name}");
        assert!(s.digest.starts_with("sha256:"), "{name}");
        assert_eq!(
            s.layer.as_ref().map(|l| l.compression),
            compression,
            "{name}"
        );
        if let Some(l) = &s.layer {
            assert!(l.facts.is_empty(), "{name}: {:?}", l.facts);
            assert_eq!(l.entries, 1);
            assert!(l.diff_id.is_some());
        }
        if name == "JSON look-alike" {
            assert!(s.json.is_none() && s.json_too_large);
        }
        assert!(
            growth < MAX_GROWTH_KIB,
            "{name}: peak RSS grew by {growth} KiB scanning {len} bytes"
        );
    }
}
