//! Hostile and odd blobs: decompression bombs, limits, truncation, garbage, JSON, empty
//! blobs, failing readers, and random bytes. None may panic, hang, or grow memory without
//! bound; the raw digest is always completed unless the reader itself fails.

mod common;

use common::*;
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_image::blob::{scan_blob, BlobScan, Limits};
use oci_certify_image::digest::{Algorithm, Digest, Verifiability};
use oci_certify_image::error::ScanError;
use oci_certify_image::layer::{Compression, FactKind, LayerScan, Limit};
use std::io::Write;
use std::time::{Duration, Instant};

fn scan(bytes: &[u8]) -> BlobScan {
    scan_blob(bytes, Algorithm::Sha256, &Limits::default()).unwrap()
}

fn limit_of(l: &LayerScan) -> Option<Limit> {
    l.limit_exceeded()
}

/// A gzip member holding `n` zero bytes, compressed as hard as deflate can (about 1030:1).
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; n]).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_2_gib_gzip_bomb_stops_at_the_default_ratio_limit() {
    // 2048 gzip members of 1 MiB of zeros each: 2 GiB uncompressed from about 2 MiB, at
    // deflate's best ratio (~1030:1). Every limit is the default except the grace before the
    // ratio is checked (64 MiB instead of 256 MiB), which only keeps this debug-build test
    // short: the decision is the same ratio comparison.
    let member = gzip_zeros(1 << 20);
    let bomb = Repeat::new(Vec::new(), member.clone(), 2048, Vec::new());
    let (len, digest) = (bomb.total_len(), bomb.sha256());
    let limits = Limits {
        ratio_grace_bytes: 64 << 20,
        ..Limits::default()
    };
    assert_eq!(limits.max_ratio, 100);
    let start = Instant::now();
    let s = scan_blob(bomb, Algorithm::Sha256, &limits).unwrap();
    let l = s.layer.unwrap();
    assert_eq!(l.compression, Compression::Gzip);
    assert_eq!(limit_of(&l), Some(Limit::CompressionRatio));
    let fact = l
        .facts
        .iter()
        .find(|f| matches!(f.kind, FactKind::LimitExceeded { .. }))
        .unwrap();
    assert_eq!(fact.requirement, None);
    assert!(
        fact.detail.contains("decompression bomb"),
        "{}",
        fact.detail
    );
    assert_eq!(l.diff_id, None, "no DiffID for a stopped stream");
    assert!(l.uncompressed_size <= limits.ratio_grace_bytes + (2 << 20));
    assert!(l.error.is_some());
    // The raw digest still covers every byte.
    assert_eq!(s.size, len);
    assert_eq!(s.digest, digest);
    // Stopped after ~64 MiB of output, not 2 GiB (generous bound for debug builds).
    assert!(start.elapsed() < Duration::from_secs(120));
}

#[test]
fn a_zstd_bomb_stops_at_the_ratio_limit() {
    let frame = zstd(&vec![0u8; 8 << 20]);
    let bomb = Repeat::new(Vec::new(), frame, 512, Vec::new()); // 4 GiB of zeros
    let digest = bomb.sha256();
    let limits = Limits {
        ratio_grace_bytes: 16 << 20,
        ..Limits::default()
    };
    let s = scan_blob(bomb, Algorithm::Sha256, &limits).unwrap();
    let l = s.layer.unwrap();
    assert_eq!(l.compression, Compression::Zstd);
    assert_eq!(limit_of(&l), Some(Limit::CompressionRatio));
    assert_eq!(l.diff_id, None);
    assert_eq!(s.digest, digest);
}

#[test]
fn max_uncompressed_bytes_stops_decompression() {
    let tar = tar_of(&[file("big", &pseudo_random(3 << 20, 7))]);
    let limits = Limits {
        max_uncompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    for blob in [gzip(&tar), zstd(&tar)] {
        let s = scan_blob(&blob[..], Algorithm::Sha256, &limits).unwrap();
        let l = s.layer.unwrap();
        assert_eq!(limit_of(&l), Some(Limit::UncompressedBytes));
        assert!(l.uncompressed_size <= 1 << 20);
        assert_eq!(l.diff_id, None);
        assert_eq!(s.digest, sha256(&blob));
    }
}

#[test]
fn an_uncompressed_tar_is_not_bounded_by_decompression_limits() {
    let tar = tar_of(&[file("big", &vec![0u8; 2 << 20])]);
    let limits = Limits {
        max_uncompressed_bytes: 1 << 20,
        ratio_grace_bytes: 0,
        max_ratio: 1,
        ..Limits::default()
    };
    let l = scan_blob(&tar[..], Algorithm::Sha256, &limits)
        .unwrap()
        .layer
        .unwrap();
    assert!(l.facts.is_empty(), "{:?}", l.facts);
    assert_eq!(l.diff_id, Some(sha256(&tar)));
}

#[test]
fn max_entries_stops_the_walk_but_not_the_diff_id() {
    let entries: Vec<E> = (0..100).map(|i| file(&format!("f{i}"), b"x")).collect();
    let tar = tar_of(&entries);
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let s = scan_blob(&gzip(&tar)[..], Algorithm::Sha256, &limits).unwrap();
    let l = s.layer.unwrap();
    assert_eq!(l.entries, 10);
    assert_eq!(limit_of(&l), Some(Limit::Entries));
    assert_eq!(l.diff_id, Some(sha256(&tar)));
}

#[test]
fn long_names_beyond_max_path_len_are_reported_and_the_walk_goes_on() {
    let limits = Limits {
        max_path_len: 64,
        ..Limits::default()
    };
    let mut b = tar::Builder::new(Vec::new());
    let long = "x".repeat(300);
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b""[..]).unwrap();
    b.append(&header(&file("next", b"y")), &b"y"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let l = scan_blob(&tar[..], Algorithm::Sha256, &limits)
        .unwrap()
        .layer
        .unwrap();
    assert_eq!(l.entries, 2);
    assert_eq!(l.facts.len(), 1);
    assert_eq!(
        l.facts[0].kind,
        FactKind::LimitExceeded {
            limit: Limit::PathLength
        }
    );
    assert_eq!(
        limit_of(&l),
        None,
        "a path-length fact does not stop the walk"
    );
}

#[test]
fn an_oversized_pax_header_stops_the_walk() {
    let limits = Limits {
        max_header_bytes: 1024,
        ..Limits::default()
    };
    let mut b = tar::Builder::new(Vec::new());
    let big = vec![b'a'; 4000];
    append_pax(&mut b, &[("comment", &big)]);
    b.append(&header(&file("f", b"1")), &b"1"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let l = scan_blob(&tar[..], Algorithm::Sha256, &limits)
        .unwrap()
        .layer
        .unwrap();
    assert_eq!(limit_of(&l), Some(Limit::HeaderBytes));
    assert_eq!(l.entries, 0);
    assert_eq!(l.diff_id, Some(sha256(&tar)));
}

#[test]
fn a_zstd_window_beyond_the_limit_is_a_limit_not_a_format_error() {
    let tar = tar_of(&[file("f", &pseudo_random(1 << 16, 9))]);
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    enc.set_parameter(zstd::stream::raw::CParameter::WindowLog(28))
        .unwrap();
    enc.write_all(&tar).unwrap();
    let blob = enc.finish().unwrap();
    let l = scan(&blob).layer.unwrap();
    assert_eq!(limit_of(&l), Some(Limit::ZstdWindow), "{:?}", l.facts);
    assert_eq!(l.diff_id, None);
    // With a larger limit the same blob is fine.
    let limits = Limits {
        max_zstd_window_log: 28,
        ..Limits::default()
    };
    let l = scan_blob(&blob[..], Algorithm::Sha256, &limits)
        .unwrap()
        .layer
        .unwrap();
    assert!(l.facts.is_empty(), "{:?}", l.facts);
    assert_eq!(l.diff_id, Some(sha256(&tar)));
}

#[test]
fn truncated_gzip_and_zstd_are_format_findings_and_the_digest_completes() {
    let tar = tar_of(&[file("a", &pseudo_random(20000, 5)), file("b", b"x")]);
    for (blob, req) in [
        (gzip(&tar), "image.layer.gzip.format"),
        (zstd(&tar), "image.layer.zstd.format"),
    ] {
        for cut in [blob.len() / 2, blob.len() - 4, 12] {
            let part = &blob[..cut];
            let s = scan(part);
            assert_eq!(s.digest, sha256(part));
            assert_eq!(s.size, cut as u64);
            let l = s.layer.unwrap();
            assert_eq!(l.diff_id, None);
            assert!(l.error.is_some());
            let f = l.facts.last().unwrap();
            assert_eq!(f.requirement, Some(req), "cut at {cut}: {:?}", l.facts);
        }
    }
}

#[test]
fn a_truncated_plain_tar_is_a_tar_finding() {
    let tar = tar_of(&[file("a", &pseudo_random(5000, 5))]);
    // Cut inside the data, inside the second block, and inside the first header (the ustar
    // magic at offset 257 still identifies it).
    for cut in [700, 512 + 100, 300] {
        let part = &tar[..cut];
        let s = scan(part);
        assert_eq!(s.digest, sha256(part));
        let l = s.layer.unwrap();
        let f = l.facts.last().unwrap();
        assert_eq!(f.kind, FactKind::TarFormat, "cut at {cut}");
        assert_eq!(f.requirement, Some("image.layer.tar.archive"));
        // The bytes themselves are the uncompressed stream: its DiffID is well defined.
        assert_eq!(l.diff_id, Some(sha256(part)));
    }
}

#[test]
fn a_bad_header_checksum_in_the_middle() {
    let mut tar = tar_of(&[file("a", b"1"), file("b", b"2")]);
    tar[1024 + 10] ^= 0x55; // inside the second header's name
    let l = scan(&tar).layer.unwrap();
    assert_eq!(l.entries, 1);
    assert_eq!(l.facts.len(), 1);
    assert_eq!(l.facts[0].kind, FactKind::TarFormat);
    assert!(l.facts[0].detail.contains("checksum"));
}

#[test]
fn gzip_magic_followed_by_garbage_and_gzip_of_non_tar() {
    let mut blob = vec![0x1f, 0x8b];
    blob.extend(pseudo_random(5000, 11));
    let s = scan(&blob);
    assert_eq!(s.digest, sha256(&blob));
    let l = s.layer.unwrap();
    assert_eq!(
        l.facts.last().unwrap().requirement,
        Some("image.layer.gzip.format")
    );
    // A valid gzip of something that is not a tar: the tar is at fault, the gzip is fine.
    let l = scan(&gzip(b"hello, this is not a tar archive at all"))
        .layer
        .unwrap();
    assert_eq!(l.facts.len(), 1);
    assert_eq!(l.facts[0].kind, FactKind::TarFormat);
    assert!(l.diff_id.is_some());
}

#[test]
fn garbage_bytes_are_an_opaque_blob() {
    let blob = pseudo_random(100_000, 13);
    let s = scan(&blob);
    assert_eq!(s.size, 100_000);
    assert_eq!(s.digest, sha256(&blob));
    assert!(s.layer.is_none() && s.json.is_none() && !s.json_too_large);
}

#[test]
fn a_zero_byte_blob() {
    let s = scan(b"");
    assert_eq!(s.size, 0);
    assert_eq!(
        s.digest,
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(s.layer.is_none() && s.json.is_none() && !s.json_too_large);
    let s = scan_blob(&b""[..], Algorithm::Sha512, &Limits::default()).unwrap();
    assert!(s.digest.starts_with("sha512:cf83e1357eefb8bd"));
}

#[test]
fn json_blobs_are_kept_whole_up_to_the_bound() {
    let doc = b"\n  {\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"}\n";
    let s = scan(doc);
    assert_eq!(
        s.json.as_deref(),
        Some(&doc[..]),
        "exact bytes, whitespace included"
    );
    assert!(s.layer.is_none());
    assert_eq!(scan(b"[1,2]").json.as_deref(), Some(&b"[1,2]"[..]));
    // Not JSON candidates: other first bytes, or whitespace only.
    assert!(scan(b"  x{").json.is_none());
    assert!(scan(b" \n\t ").json.is_none());
    // Over the bound: a flag, no bytes kept; the digest still right.
    let limits = Limits {
        max_json_bytes: 100,
        ..Limits::default()
    };
    let mut big = b"{\"a\":\"".to_vec();
    big.extend(vec![b'x'; 1000]);
    big.extend(b"\"}");
    let s = scan_blob(
        Trickle {
            inner: &big[..],
            max: 37,
        },
        Algorithm::Sha256,
        &limits,
    )
    .unwrap();
    assert!(s.json.is_none());
    assert!(s.json_too_large);
    assert_eq!(s.digest, sha256(&big));
    // Exactly at the bound is kept.
    let exact = [b'['; 100];
    assert!(scan_blob(&exact[..], Algorithm::Sha256, &limits)
        .unwrap()
        .json
        .is_some());
    // Leading whitespace past the bound, then '{': too large.
    let mut ws = vec![b' '; 5000];
    ws.push(b'{');
    let s = scan_blob(&ws[..], Algorithm::Sha256, &limits).unwrap();
    assert!(s.json.is_none() && s.json_too_large);
}

#[test]
fn a_sha512_blob() {
    let blob = pseudo_random(123_457, 17);
    let s = scan_blob(&blob[..], Algorithm::Sha512, &Limits::default()).unwrap();
    assert_eq!(s.digest, Algorithm::Sha512.digest_of(&blob));
    let d = Digest::parse(&s.digest).unwrap();
    assert_eq!(
        d.verifiability(),
        Verifiability::Verifiable(Algorithm::Sha512)
    );
    assert_eq!(d.encoded().len(), 128);
}

#[test]
fn unknown_algorithm_digest_strings_parse_but_are_not_verifiable() {
    for s in [
        "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
        "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
        "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    ] {
        let d = Digest::parse(s).unwrap();
        assert_eq!(d.verifiability(), Verifiability::NotVerifiable);
        assert_eq!(d.registered(), None);
    }
    // An unknown algorithm that breaks the grammar is still an error.
    let e = Digest::parse("blake3!:abc").unwrap_err();
    assert_eq!(e.requirement(), "image.descriptor.digest.grammar");
}

#[test]
fn a_reader_failing_mid_blob_is_an_error_not_a_finding() {
    let tar = tar_of(&[file("a", &pseudo_random(200_000, 19))]);
    for blob in [
        pseudo_random(300_000, 21),
        tar.clone(),
        gzip(&tar),
        zstd(&tar),
    ] {
        for ok in [0u64, 10, 600, 100_000] {
            if ok >= blob.len() as u64 {
                continue;
            }
            let r = FailAfter {
                inner: &blob[..],
                ok,
                read: 0,
            };
            match scan_blob(r, Algorithm::Sha256, &Limits::default()) {
                Err(e @ ScanError::Read { offset, .. }) => {
                    assert_eq!(offset, ok);
                    assert_eq!(e.fault(), Fault::Input);
                    assert!(e.to_string().contains("disk on fire"), "{e}");
                }
                other => panic!("expected a read error after {ok} bytes, got {other:?}"),
            }
        }
    }
}

#[test]
fn trailing_bytes_after_the_tar_end_are_hashed_but_not_walked() {
    let mut tar = tar_of(&[file("a", b"1")]);
    tar.extend(pseudo_random(3000, 23));
    let s = scan(&tar);
    assert_eq!(s.digest, sha256(&tar));
    let l = s.layer.unwrap();
    assert!(l.facts.is_empty());
    assert_eq!(l.diff_id.as_deref(), Some(s.digest.as_str()));
    assert_eq!(l.uncompressed_size, tar.len() as u64);
}

mod random {
    use super::*;
    use proptest::prelude::*;

    fn check(bytes: &[u8]) {
        let limits = Limits {
            max_uncompressed_bytes: 8 << 20,
            ..Limits::default()
        };
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let s = scan_blob(bytes, alg, &limits).expect("in-memory reads cannot fail");
            assert_eq!(s.size, bytes.len() as u64);
            assert_eq!(s.digest, alg.digest_of(bytes));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            check(&bytes);
        }

        #[test]
        fn random_bytes_behind_each_magic_never_panic(
            magic in 0usize..4,
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        ) {
            let mut blob: Vec<u8> = match magic {
                0 => vec![0x1f, 0x8b],
                1 => vec![0x28, 0xb5, 0x2f, 0xfd],
                2 => b"{".to_vec(),
                _ => tar_of(&[file("a", b"x")])[..512].to_vec(),
            };
            blob.extend(bytes);
            check(&blob);
        }
    }

    /// Mutations of valid layers: flipped bytes, truncations, spliced garbage. Deterministic
    /// (a fixed seed), so a failure reproduces.
    #[test]
    fn mutated_layers_never_panic() {
        let tar = tar_of(&[
            dir("a/"),
            file("a/.wh.x", b""),
            file("a/f", &pseudo_random(3000, 29)),
            symlink("a/l", "../b"),
            hardlink("a/h", "a/f"),
            file("a/.wh..wh..opq", b""),
        ]);
        let bases = [tar.clone(), gzip(&tar), zstd(&tar)];
        let noise = pseudo_random(1 << 16, 31);
        let mut n = 0usize;
        for base in &bases {
            for i in 0..400 {
                let mut m = base.clone();
                let r = |k: usize| usize::from(noise[(i * 7 + k) % noise.len()]);
                match i % 4 {
                    0 => {
                        let pos = (r(0) << 8 | r(1)) % m.len();
                        m[pos] ^= (r(2) as u8) | 1;
                    }
                    1 => m.truncate((r(0) << 8 | r(1)) % m.len()),
                    2 => {
                        for k in 0..8 {
                            let pos = (r(k) << 8 | r(k + 1)) % m.len();
                            m[pos] = r(k + 2) as u8;
                        }
                    }
                    _ => {
                        let pos = (r(0) << 8 | r(1)) % m.len();
                        m.splice(pos..pos, noise[..r(2) * 4].iter().copied());
                    }
                }
                check(&m);
                n += 1;
            }
        }
        assert_eq!(n, 1200);
    }
}
