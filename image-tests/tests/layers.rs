//! The layer walk: each kind of layer fact, found with its exact requirement id, in plain,
//! gzip and zstd layers; and good layers that must produce no fact at all.

mod common;

use common::*;
use oci_certify_image::blob::{scan_blob, BlobScan, Limits};
use oci_certify_image::digest::Algorithm;
use oci_certify_image::layer::{self, Compression, FactKind, LayerScan, Limit};

fn scan(bytes: &[u8]) -> BlobScan {
    scan_blob(bytes, Algorithm::Sha256, &Limits::default()).unwrap()
}

fn layer_of(bytes: &[u8]) -> LayerScan {
    scan(bytes).layer.expect("scanned as a layer")
}

/// The (kind, requirement) pairs of a plain tar's facts, checked identical for gzip and zstd.
fn facts(entries: &[E]) -> Vec<(FactKind, Option<&'static str>)> {
    let tar = tar_of(entries);
    let mut out = None;
    for (blob, compression) in [
        (tar.clone(), Compression::None),
        (gzip(&tar), Compression::Gzip),
        (zstd(&tar), Compression::Zstd),
    ] {
        let l = layer_of(&blob);
        assert_eq!(l.compression, compression);
        assert_eq!(l.diff_id.as_deref(), Some(sha256(&tar).as_str()));
        let got: Vec<_> = l.facts.iter().map(|f| (f.kind, f.requirement)).collect();
        match &out {
            None => out = Some(got),
            Some(prev) => assert_eq!(prev, &got, "{compression} differs from plain"),
        }
    }
    out.unwrap_or_default()
}

fn only(entries: &[E]) -> (FactKind, Option<&'static str>) {
    let f = facts(entries);
    assert_eq!(f.len(), 1, "expected exactly one fact, got {f:?}");
    f[0]
}

#[test]
fn a_good_layer_in_every_compression_has_no_facts_and_the_right_ids() {
    let entries = [
        dir("./"),
        dir("./etc/"),
        file("./etc/.wh.old-config", b""),
        file("./etc/my-app-config", b"key=value\n"),
        dir("./bin/"),
        file("./bin/my-app-binary", &pseudo_random(3000, 1)),
        hardlink("./bin/my-app-tools", "./bin/my-app-binary"),
        symlink("./bin/sh", "/usr/bin/busybox"), // absolute targets are legal
        symlink("./bin/rel", "../etc/my-app-config"),
        typed("./dev-null", b'3'),
        typed("./fifo", b'6'),
    ];
    let tar = tar_of(&entries);
    for blob in [tar.clone(), gzip(&tar), zstd(&tar)] {
        let s = scan(&blob);
        assert_eq!(s.size, blob.len() as u64);
        assert_eq!(s.digest, sha256(&blob));
        assert!(s.json.is_none());
        let l = s.layer.unwrap();
        assert!(l.facts.is_empty(), "{:?}", l.facts);
        assert_eq!(l.error, None);
        assert_eq!(l.entries, entries.len() as u64);
        assert_eq!(l.uncompressed_size, tar.len() as u64);
        assert_eq!(l.diff_id.as_deref(), Some(sha256(&tar).as_str()));
    }
}

#[test]
fn a_layer_written_by_the_tar_crate_with_long_names_and_pax_is_clean() {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/file", "d".repeat(150));
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
    append_pax(&mut b, &[("path", b"pax/named/file")]);
    let mut h = tar::Header::new_ustar();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, "placeholder", &b"x"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let l = layer_of(&gzip(&tar));
    assert!(l.facts.is_empty(), "{:?}", l.facts);
    assert_eq!(l.entries, 2);
}

#[test]
fn duplicate_paths_are_normalised_before_comparing() {
    assert_eq!(
        only(&[dir("./a/"), dir("a")]),
        (
            FactKind::DuplicatePath,
            Some("image.layer.tar.no-duplicate-paths")
        )
    );
    assert_eq!(
        only(&[file("a/b", b"1"), file("./a//b", b"2")]).1,
        Some("image.layer.tar.no-duplicate-paths")
    );
    // The root directory written as "./" and as "/" is the same path.
    let f = facts(&[dir("./"), dir("/")]);
    assert!(f.contains(&(FactKind::DuplicatePath, Some(layer::REQ_NO_DUPLICATE_PATHS))));
}

#[test]
fn duplicate_detection_sees_gnu_long_names() {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/file", "d".repeat(200));
    for _ in 0..2 {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b""[..]).unwrap();
    }
    let l = layer_of(&b.into_inner().unwrap());
    let kinds: Vec<_> = l.facts.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FactKind::DuplicatePath]);
    assert!(l.facts[0].path.starts_with("ddd"));
}

#[test]
fn paths_escaping_or_absolute_are_hazards_without_a_requirement() {
    assert_eq!(
        only(&[file("../escape", b"x")]),
        (FactKind::PathEscapesRoot, None)
    );
    assert_eq!(
        only(&[file("a/../../escape", b"x")]),
        (FactKind::PathEscapesRoot, None)
    );
    assert_eq!(
        only(&[file("a/../b", b"x")]),
        (FactKind::DotDotComponent, None)
    );
    assert_eq!(
        only(&[file("/etc/passwd", b"x")]),
        (FactKind::AbsolutePath, None)
    );
}

#[test]
fn hardlinks_that_climb_out_of_the_root_are_reported() {
    assert_eq!(
        only(&[hardlink("etc/shadow-copy", "../../etc/shadow")]),
        (FactKind::HardlinkEscapesRoot, None)
    );
    // Hardlink targets are archive paths: "/a" and "a/../b" stay inside.
    assert!(facts(&[
        file("a", b""),
        hardlink("h1", "/a"),
        hardlink("h2", "x/../a")
    ])
    .is_empty());
}

#[test]
fn only_relative_symlinks_that_climb_above_the_root_are_reported() {
    assert_eq!(
        only(&[symlink("a/link", "../../etc/passwd")]),
        (FactKind::SymlinkEscapesRoot, None)
    );
    assert!(facts(&[
        symlink("a/b/ok", "../../etc/passwd"), // resolves to /etc/passwd, inside
        symlink("abs", "/etc/passwd"),         // absolute: resolved inside the rootfs
        symlink("a/dot", "./x/../y"),
    ])
    .is_empty());
}

#[test]
fn whiteouts_must_be_empty_regular_files() {
    let req = Some("image.layer.whiteout.empty-regular-file");
    assert_eq!(
        only(&[file("etc/.wh.passwd", b"not empty")]),
        (FactKind::WhiteoutNotEmptyRegularFile, req)
    );
    assert_eq!(
        only(&[dir("etc/.wh.dir")]),
        (FactKind::WhiteoutNotEmptyRegularFile, req)
    );
    assert_eq!(
        only(&[symlink(".wh.link", "/x")]),
        (FactKind::WhiteoutNotEmptyRegularFile, req)
    );
}

#[test]
fn whiteout_and_entry_of_the_same_name_in_one_layer() {
    let req = Some("image.layer.whiteout.lower-layers-only");
    // Whiteout first, then the entry it names.
    assert_eq!(
        only(&[file("etc/.wh.conf", b""), file("etc/conf", b"x")]),
        (FactKind::WhiteoutWithSameNameEntry, req)
    );
    // Entry first: the whiteout also comes after a sibling, a second (SHOULD) fact.
    assert_eq!(
        facts(&[file("etc/conf", b"x"), file("etc/.wh.conf", b"")]),
        vec![
            (FactKind::WhiteoutWithSameNameEntry, req),
            (
                FactKind::WhiteoutAfterSibling,
                Some("image.layer.whiteout.before-siblings")
            )
        ]
    );
}

#[test]
fn opaque_whiteouts_are_reported_as_a_should_for_explicit_ones() {
    assert_eq!(
        only(&[
            dir("bin/"),
            file("bin/.wh..wh..opq", b""),
            dir("bin/tools/")
        ]),
        (
            FactKind::OpaqueWhiteout,
            Some("image.layer.whiteout.prefer-explicit")
        )
    );
    // A non-empty opaque whiteout breaks the MUST as well.
    let f = facts(&[file("bin/.wh..wh..opq", b"x")]);
    assert!(f.contains(&(
        FactKind::WhiteoutNotEmptyRegularFile,
        Some(layer::REQ_WHITEOUT_EMPTY_REGULAR)
    )));
}

#[test]
fn whiteouts_after_their_siblings() {
    assert_eq!(
        only(&[dir("a/"), file("a/new", b"x"), file("a/.wh.old", b"")]),
        (
            FactKind::WhiteoutAfterSibling,
            Some("image.layer.whiteout.before-siblings")
        )
    );
    // The spec's own example: opaque whiteout after the recreated subtree.
    let f = facts(&[
        dir("a/"),
        dir("a/b/"),
        dir("a/b/c/"),
        file("a/b/c/foo", b""),
        file("a/.wh..wh..opq", b""),
    ]);
    assert!(f.contains(&(
        FactKind::WhiteoutAfterSibling,
        Some(layer::REQ_WHITEOUT_BEFORE_SIBLINGS)
    )));
    // Entries of another directory do not count, nor does the directory itself.
    assert!(facts(&[dir("a/"), file("b/x", b""), file("a/.wh.old", b"")]).is_empty());
}

#[test]
fn whiteout_names_that_cannot_name_a_deletion() {
    let req = Some("image.layer.whiteout.name-prefix");
    assert_eq!(
        only(&[file("d/.wh.", b"")]),
        (FactKind::WhiteoutBadName, req)
    );
    assert_eq!(
        only(&[file("d/.wh..wh.plnk", b"")]),
        (FactKind::WhiteoutBadName, req)
    );
}

#[test]
fn sparse_files_gnu_and_pax() {
    let req = Some("image.layer.attributes.no-sparse");
    // Old GNU sparse ('S'): 4 bytes stored of a 1 MiB file.
    let mut h = tar::Header::new_gnu();
    h.set_path("sparse").unwrap();
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(4);
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.sparse[0].set_offset(0);
        gnu.sparse[0].set_length(4);
        gnu.set_real_size(1 << 20);
    }
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &b"data"[..]).unwrap();
    let after = header(&file("after", b"ok"));
    b.append(&after, &b"ok"[..]).unwrap();
    let l = layer_of(&b.into_inner().unwrap());
    let kinds: Vec<_> = l.facts.iter().map(|f| (f.kind, f.requirement)).collect();
    assert_eq!(kinds, vec![(FactKind::SparseFile, req)]);
    assert_eq!(l.entries, 2, "the walk continues past the sparse entry");

    // PAX 1.0 sparse: GNU.sparse.* records, the real name in GNU.sparse.name.
    let mut b = tar::Builder::new(Vec::new());
    append_pax(
        &mut b,
        &[
            ("GNU.sparse.major", b"1"),
            ("GNU.sparse.minor", b"0"),
            ("GNU.sparse.name", b"real/name"),
            ("GNU.sparse.realsize", b"1048576"),
        ],
    );
    let e = file("GNUSparseFile.0/name", b"1\n0\n4\n");
    b.append(&header(&e), &e.data[..]).unwrap();
    let l = layer_of(&b.into_inner().unwrap());
    assert_eq!(l.facts.len(), 1, "{:?}", l.facts);
    assert_eq!(l.facts[0].requirement, req);
    assert_eq!(l.facts[0].path, "real/name");
}

#[test]
fn unsupported_entry_types_and_header_only_entries_with_data() {
    assert_eq!(
        only(&[typed("label", b'V')]),
        (FactKind::UnsupportedEntryType { typeflag: b'V' }, None)
    );
    // A directory header declaring 512 bytes, with no data after it: read like Go's
    // archive/tar (no data), the next header is still found.
    let mut d = dir("d/");
    d.size_field = Some(512);
    let l = layer_of(&tar_of(&[d, file("d/f", b"x")]));
    let kinds: Vec<_> = l.facts.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FactKind::HeaderOnlyEntryWithData]);
    assert_eq!(l.entries, 2);
}

#[test]
fn non_utf8_paths() {
    let l = layer_of(&tar_of(&[raw_path(b"caf\xe9")]));
    assert_eq!(l.facts.len(), 1);
    assert_eq!(l.facts[0].kind, FactKind::NonUtf8Path);
    assert_eq!(l.facts[0].requirement, None);
    assert_eq!(l.facts[0].path, "caf\\xe9");
}

#[test]
fn an_uncompressed_layer_under_sha512_still_gets_a_sha256_diff_id() {
    let tar = tar_of(&[file("a", b"hello")]);
    let s = scan_blob(&tar[..], Algorithm::Sha512, &Limits::default()).unwrap();
    assert_eq!(s.digest, Algorithm::Sha512.digest_of(&tar));
    assert_eq!(s.layer.unwrap().diff_id, Some(sha256(&tar)));
}

#[test]
fn an_empty_archive_is_a_layer_without_entries() {
    for blob in [vec![0u8; 1024], vec![0u8; 10240], gzip(&[0u8; 1024])] {
        let l = layer_of(&blob);
        assert_eq!(l.entries, 0);
        assert!(l.facts.is_empty());
        assert!(l.diff_id.is_some());
    }
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd_are_one_stream() {
    let tar = tar_of(&[file("a", b"1"), file("b", b"2"), file("c", b"3")]);
    let (x, y) = tar.split_at(700);
    let mut gz = gzip(x);
    gz.extend(gzip(y));
    let mut zs = zstd(x);
    zs.extend(zstd(y));
    for blob in [gz, zs] {
        let l = layer_of(&blob);
        assert!(l.facts.is_empty(), "{:?}", l.facts);
        assert_eq!(l.entries, 3);
        assert_eq!(l.diff_id, Some(sha256(&tar)));
    }
}

#[test]
fn tar_fields_read_through_tiny_reads() {
    // Every boundary (sniff prefix, headers, data) split across 1..7-byte reads.
    let tar = tar_of(&[
        dir("a/"),
        file("a/f", &pseudo_random(5000, 3)),
        file("a/f", b""),
    ]);
    for blob in [tar.clone(), gzip(&tar)] {
        for max in [1, 3, 7] {
            let s = scan_blob(
                Trickle {
                    inner: &blob[..],
                    max,
                },
                Algorithm::Sha256,
                &Limits::default(),
            )
            .unwrap();
            assert_eq!(s.digest, sha256(&blob));
            let l = s.layer.unwrap();
            assert_eq!(l.diff_id, Some(sha256(&tar)));
            assert_eq!(l.facts.len(), 1);
            assert_eq!(l.facts[0].kind, FactKind::DuplicatePath);
        }
    }
}

#[test]
fn fact_list_is_capped_and_the_rest_counted() {
    let entries: Vec<E> = (0..50).map(|_| file("same", b"")).collect();
    let limits = Limits {
        max_facts: 10,
        ..Limits::default()
    };
    let s = scan_blob(&tar_of(&entries)[..], Algorithm::Sha256, &limits).unwrap();
    let l = s.layer.unwrap();
    assert_eq!(l.facts.len(), 10);
    assert_eq!(l.facts_dropped, 39);
}

#[test]
fn every_requirement_id_used_exists_in_the_catalogue() {
    let catalogue = oci_certify_core::Catalogue::builtin().expect("catalogue loads");
    let digest_ids = [
        oci_certify_image::digest::REQ_GRAMMAR,
        oci_certify_image::digest::REQ_SHA256_LOWER_HEX,
        oci_certify_image::digest::REQ_SHA256_NO_UPPERCASE,
        oci_certify_image::digest::REQ_SHA512_LOWER_HEX,
        oci_certify_image::digest::REQ_SHA512_NO_UPPERCASE,
    ];
    for id in layer::REQUIREMENTS.iter().chain(digest_ids.iter()) {
        assert!(catalogue.get(id).is_some(), "{id} is not in the catalogue");
    }
}

#[test]
fn limit_kinds_name_their_field() {
    assert_eq!(Limit::CompressionRatio.field(), "max_ratio");
    assert_eq!(Limit::Entries.field(), "max_entries");
}
