//! No false reds on layouts written by real producers: Debian's `skopeo` (1.9.3) and `umoci`
//! (0.4.7) write layouts here at test time, in temporary directories, and the layout engine
//! judges them. Every finding must be an entry of `DIVERGENCES.md` (a real divergence of the
//! producer, with evidence), named here by entry and `LEVEL id`; the findings are compared as
//! an exact set, so a producer that changes, or a check that starts firing on real output,
//! fails the test. No harness error, no skipped point and no diagnostic is allowed either.
//!
//! The tools are installed by `cargo xtask setup` (xtask/apt-packages.txt). A missing tool
//! fails the test; it is never skipped.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_certify_core::testing::collect;
use oci_certify_core::{Outcome, PointResult, Spec};
use oci_certify_fixtures::layout::{Image, LayoutBuilder};
use oci_certify_image::layout::{check_path, Options};
use serde_json::{json, Value};

/// The ledger the expectations below refer to.
const LEDGER: &str = include_str!("../DIVERGENCES.md");

/// A finding recorded in the ledger: the entry (`### S-1`) and `LEVEL id`.
#[derive(Debug, Clone, Copy)]
struct Known {
    entry: &'static str,
    finding: &'static str,
}

const fn known(entry: &'static str, finding: &'static str) -> Known {
    Known { entry, finding }
}

const S1: Known = known("S-1", "MUST image.layer.gzip.format");
const S2: Known = known("S-2", "SHOULD image.index.media-type.should-be-set");
const S3: Known = known(
    "S-3",
    "SHOULD image.descriptor.platform.manifest-descriptors",
);
const U1: Known = known("U-1", "MUST image.layer.gzip.format");
const U2: Known = known("U-2", "SHOULD image.index.media-type.should-be-set");
const U3: Known = known(
    "U-3",
    "SHOULD image.descriptor.platform.manifest-descriptors",
);
const U4: Known = known("U-4", "SHOULD image.manifest.media-type.should-be-set");
const U5: Known = known("U-5", "SHOULD image.manifest.layers.non-empty");
const O1: Known = known("O-1", "SHOULD image.manifest.layers.portable-media-types");
const O2: Known = known("O-2", "SHOULD image.layer.whiteout.prefer-explicit");
const O3: Known = known("O-3", "SHOULD image.index.manifests.portable-media-types");

const DIFF_IDS: &str = "image.config.rootfs.diff-ids-match-layers";
const GZIP_FORMAT: &str = "image.layer.gzip.format";

// ---------------------------------------------------------------------------------------
// Running the tools

/// Runs `program` with `args`; panics with its stderr if it fails, and names `cargo xtask
/// setup` if it is not installed.
fn run(program: &str, args: &[&str]) -> String {
    let output = match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{program} is not installed, and these tests need it: run `cargo xtask setup` \
             (it installs the Debian packages listed in xtask/apt-packages.txt)"
        ),
        Err(e) => panic!("cannot run {program}: {e}"),
    };
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}):\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `skopeo` with `--insecure-policy`: the copies are local, and the host's signature policy
/// (/etc/containers/policy.json) is not what these tests are about.
fn skopeo(args: &[&str]) {
    let mut all = vec!["--insecure-policy"];
    all.extend_from_slice(args);
    run("skopeo", &all);
}

fn umoci(args: &[&str]) {
    run("umoci", args);
}

/// `skopeo version 1.9.3, umoci version 0.4.7+ds-3+b7`, for failure messages.
fn versions() -> String {
    let v = |p: &str| run(p, &["--version"]).trim().to_string();
    format!("{}, {}", v("skopeo"), v("umoci"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn oci(layout: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", s(layout))
}

fn image(layout: &Path, tag: &str) -> String {
    format!("{}:{tag}", s(layout))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `umoci unpack`, rootless when not run as root.
fn umoci_unpack(layout: &Path, tag: &str, bundle: &Path) {
    let img = image(layout, tag);
    let mut args = vec!["unpack", "--image", &img, s(bundle)];
    if !is_root() {
        args.insert(1, "--rootless");
    }
    umoci(&args);
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// The good fixture image (one gzip layer, ref name `latest`) as a layout in `dir`.
fn fixture_source(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut b = LayoutBuilder::new();
    Image::good().unwrap().add(&mut b);
    b.write(&src).unwrap();
    src
}

// ---------------------------------------------------------------------------------------
// Reading what was written

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    let (alg, enc) = digest.split_once(':').unwrap();
    layout.join("blobs").join(alg).join(enc)
}

/// The manifest `index.json` names `tag`.
fn manifest(layout: &Path, tag: &str) -> Value {
    let index = read_json(&layout.join("index.json"));
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {}", layout.display()))
        .clone();
    read_json(&blob_path(layout, entry["digest"].as_str().unwrap()))
}

/// The layer descriptors of `tag`'s manifest.
fn layers(layout: &Path, tag: &str) -> Vec<Value> {
    manifest(layout, tag)["layers"].as_array().unwrap().clone()
}

fn digest(descriptor: &Value) -> String {
    descriptor["digest"].as_str().unwrap().to_string()
}

/// The group the walker judges a layer in: `layer sha256:<first 12 hex digits>`.
fn layer_group(digest: &str) -> String {
    let (alg, enc) = digest.split_once(':').unwrap();
    format!("layer {alg}:{}", &enc[..12])
}

/// A gzip layer, decompressed (the gzip stream itself must be sound).
fn gunzip(layout: &Path, digest: &str) -> Vec<u8> {
    let file = std::fs::File::open(blob_path(layout, digest)).unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut out)
        .unwrap();
    out
}

// ---------------------------------------------------------------------------------------
// Judging

/// What the layout engine said about one layout.
struct Report {
    subject: String,
    results: Vec<PointResult>,
    diagnostics: Vec<String>,
}

/// Runs the layout engine on `path` (a directory or an archive) with every requirement.
fn certify(path: &Path) -> Report {
    let (result, col) = collect(Spec::Image, &path.display().to_string(), |runner| {
        check_path(runner, path, &Options::default())
    })
    .unwrap();
    result.unwrap_or_else(|e| panic!("{} could not be read: {e}", path.display()));
    Report {
        subject: path.display().to_string(),
        results: col.results().cloned().collect(),
        diagnostics: col.diagnostics(),
    }
}

impl Report {
    /// `LEVEL id` of every failed point.
    fn findings(&self) -> BTreeSet<String> {
        self.results
            .iter()
            .filter(|r| r.outcome.is_fail())
            .map(|r| {
                let req = &r.point.requirement;
                format!("{} {}", req.level, req.id)
            })
            .collect()
    }

    /// The groups in which `id` failed.
    fn failing_groups(&self, id: &str) -> BTreeSet<String> {
        self.results
            .iter()
            .filter(|r| r.point.requirement.id == id && r.outcome.is_fail())
            .map(|r| r.point.group.clone())
            .collect()
    }

    /// How many points of `id` passed in `group` (any group if `None`).
    fn passes(&self, id: &str, group: Option<&str>) -> usize {
        self.results
            .iter()
            .filter(|r| r.point.requirement.id == id && r.outcome.is_pass())
            .filter(|r| group.is_none_or(|g| r.point.group == g))
            .count()
    }

    /// Everything a failed point said, for failure messages.
    fn describe_failures(&self) -> String {
        self.results
            .iter()
            .filter(|r| r.outcome.is_fail())
            .map(|r| {
                format!(
                    "  {} {} [{}]: {}",
                    r.point.requirement.level,
                    r.point.requirement.id,
                    r.point.group,
                    r.outcome.message().unwrap_or_default().replace('\n', "; ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The ledger's section for `entry`: from its `### ` heading to the next heading.
fn ledger_section(entry: &str) -> &'static str {
    let heading = format!("\n### {entry}\n");
    let start = LEDGER
        .find(&heading)
        .unwrap_or_else(|| panic!("DIVERGENCES.md has no section {heading:?}"))
        + heading.len();
    let rest = &LEDGER[start..];
    let end = ["\n## ", "\n### "]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Asserts that `report` holds exactly the `expected` findings, no error, skip or diagnostic,
/// and that every expected finding is the one its ledger entry describes.
fn assert_findings(what: &str, report: &Report, expected: &[Known]) {
    for k in expected {
        let section = ledger_section(k.entry);
        let (level, id) = k.finding.split_once(' ').unwrap();
        assert!(
            section.contains(&format!("{level} `{id}`")),
            "DIVERGENCES.md {} does not describe {level} `{id}`",
            k.entry
        );
    }
    let want: BTreeSet<String> = expected.iter().map(|k| k.finding.to_string()).collect();
    let have = report.findings();
    assert!(
        have == want,
        "{what} ({}; {}):\n\
         findings not in DIVERGENCES.md: {:?}\n\
         recorded findings that no longer occur: {:?}\n\
         every finding:\n{}\n\
         A finding on a real producer's layout is either a divergence of the producer (record \
         it in image-tests/DIVERGENCES.md with evidence) or a false alarm of the suite (fix the \
         check).",
        report.subject,
        versions(),
        have.difference(&want).collect::<Vec<_>>(),
        want.difference(&have).collect::<Vec<_>>(),
        report.describe_failures()
    );
    let problems: Vec<String> = report
        .results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Error { message } => Some(format!(
                "harness error on {}: {message}",
                r.point.requirement.id
            )),
            Outcome::Skip { reason } => {
                Some(format!("skipped {}: {reason}", r.point.requirement.id))
            }
            _ => None,
        })
        .chain(
            report
                .diagnostics
                .iter()
                .map(|d| format!("diagnostic: {d}")),
        )
        .collect();
    assert!(
        problems.is_empty(),
        "{what} ({}):\n{}",
        report.subject,
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// skopeo

#[test]
fn skopeo_copies_between_oci_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture_source(tmp.path());
    let out = tmp.path().join("out");
    skopeo(&["copy", &oci(&src, "latest"), &oci(&out, "latest")]);
    // A second tag into the same layout.
    skopeo(&["copy", &oci(&src, "latest"), &oci(&out, "second")]);
    let report = certify(&out);
    assert_findings("skopeo copy oci: -> oci:", &report, &[S2, S3]);
    // Both tags name the same manifest, which the walker judges once.
    let index = read_json(&out.join("index.json"));
    assert_eq!(
        index["manifests"][0]["digest"],
        index["manifests"][1]["digest"]
    );
    assert_eq!(report.passes(DIFF_IDS, None), 1);

    let preserved = tmp.path().join("preserved");
    skopeo(&[
        "copy",
        "--preserve-digests",
        &oci(&src, "latest"),
        &oci(&preserved, "latest"),
    ]);
    assert_findings(
        "skopeo copy --preserve-digests",
        &certify(&preserved),
        &[S2, S3],
    );
    // The manifest bytes were kept: same digest as the source's.
    assert_eq!(
        read_json(&preserved.join("index.json"))["manifests"][0]["digest"],
        read_json(&src.join("index.json"))["manifests"][0]["digest"]
    );
}

#[test]
fn skopeo_recompresses_layers_with_zstd() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture_source(tmp.path());
    let out = tmp.path().join("out");
    skopeo(&[
        "copy",
        "--dest-compress-format",
        "zstd",
        &oci(&src, "latest"),
        &oci(&out, "latest"),
    ]);
    let l = layers(&out, "latest");
    assert_eq!(
        l[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let report = certify(&out);
    assert_findings(
        "skopeo copy --dest-compress-format zstd",
        &report,
        &[S2, S3, O1],
    );
    // The zstd layer was decompressed and its DiffID verified.
    assert_eq!(report.passes(DIFF_IDS, None), 1);
    assert_eq!(
        report.passes(
            "image.layer.zstd.format",
            Some(&layer_group(&digest(&l[0])))
        ),
        1
    );
}

#[test]
fn skopeo_archives_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture_source(tmp.path());

    // oci-archive: the archive itself, and a layout read back from it.
    let archive = tmp.path().join("image.oci.tar");
    skopeo(&[
        "copy",
        &oci(&src, "latest"),
        &format!("oci-archive:{}:latest", s(&archive)),
    ]);
    assert_findings("skopeo oci-archive", &certify(&archive), &[S2, S3]);
    let back = tmp.path().join("from-oci-archive");
    skopeo(&[
        "copy",
        &format!("oci-archive:{}:latest", s(&archive)),
        &oci(&back, "latest"),
    ]);
    assert_findings("skopeo oci-archive: -> oci:", &certify(&back), &[S2, S3]);

    // docker-archive: out and back, default compression.
    let docker = tmp.path().join("image.docker.tar");
    skopeo(&[
        "copy",
        &oci(&src, "latest"),
        &format!("docker-archive:{}:img:latest", s(&docker)),
    ]);
    let back = tmp.path().join("from-docker-archive");
    skopeo(&[
        "copy",
        &format!("docker-archive:{}", s(&docker)),
        &oci(&back, "latest"),
    ]);
    let report = certify(&back);
    assert_findings("skopeo docker-archive: -> oci:", &report, &[S2, S3]);
    assert_eq!(report.passes(DIFF_IDS, None), 1);

    // O-3: a Docker schema 2 manifest in an OCI layout, when asked for.
    let v2s2 = tmp.path().join("v2s2");
    skopeo(&[
        "copy",
        "--format",
        "v2s2",
        &oci(&src, "latest"),
        &oci(&v2s2, "latest"),
    ]);
    assert_findings("skopeo copy --format v2s2", &certify(&v2s2), &[S2, O3]);
}

#[test]
fn skopeo_labels_uncompressed_docker_archive_layers_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture_source(tmp.path());
    let docker = tmp.path().join("image.docker.tar");
    skopeo(&[
        "copy",
        &oci(&src, "latest"),
        &format!("docker-archive:{}:img:latest", s(&docker)),
    ]);
    let out = tmp.path().join("out");
    skopeo(&[
        "copy",
        "--dest-oci-accept-uncompressed-layers",
        &format!("docker-archive:{}", s(&docker)),
        &oci(&out, "latest"),
    ]);
    let report = certify(&out);
    assert_findings(
        "skopeo --dest-oci-accept-uncompressed-layers from docker-archive:",
        &report,
        &[S1, S2, S3],
    );
    // S-1 is real: the blob is a plain tar, its descriptor says gzip.
    let l = layers(&out, "latest");
    assert_eq!(l.len(), 1);
    assert_eq!(
        l[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let bytes = std::fs::read(blob_path(&out, &digest(&l[0]))).unwrap();
    assert!(
        !bytes.starts_with(&[0x1f, 0x8b]),
        "the blob is gzip after all"
    );
    assert_eq!(&bytes[257..262], b"ustar");
    assert_eq!(
        report.failing_groups(GZIP_FORMAT),
        BTreeSet::from([layer_group(&digest(&l[0]))])
    );
}

#[test]
fn skopeo_copies_a_multi_platform_index() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    // Two images (amd64, arm64/v8) sharing one layer, behind a nested index tagged `multi`.
    let mut b = LayoutBuilder::new();
    let amd64 = Image::good().unwrap();
    let mut arm64 = Image::good().unwrap();
    arm64.config["architecture"] = json!("arm64");
    arm64.config["variant"] = json!("v8");
    let mut entries = Vec::new();
    for (img, platform) in [
        (&amd64, json!({"architecture": "amd64", "os": "linux"})),
        (
            &arm64,
            json!({"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ),
    ] {
        let mut d = img.add(&mut b);
        d["platform"] = platform;
        d.as_object_mut().unwrap().remove("annotations");
        entries.push(d);
    }
    b.index.as_mut().unwrap()["manifests"] = json!([]);
    let mut index = b.json_blob(
        "application/vnd.oci.image.index.v1+json",
        &json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }),
    );
    index["annotations"] = json!({"org.opencontainers.image.ref.name": "multi"});
    b.add_to_index(index);
    b.write(&src).unwrap();
    assert_findings("the fixture index itself", &certify(&src), &[]);

    let out = tmp.path().join("out");
    skopeo(&["copy", "--all", &oci(&src, "multi"), &oci(&out, "multi")]);
    let report = certify(&out);
    assert_findings("skopeo copy --all", &report, &[S2]);
    assert_eq!(report.passes(DIFF_IDS, None), 2, "both platforms walked");
}

// ---------------------------------------------------------------------------------------
// umoci

#[test]
fn umoci_builds_an_image_from_scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let l = tmp.path().join("layout");
    let bundle = tmp.path().join("bundle");
    umoci(&["init", "--layout", s(&l)]);
    umoci(&["new", "--image", &image(&l, "base")]);
    umoci(&[
        "config",
        "--image",
        &image(&l, "base"),
        "--tag",
        "configured",
        "--config.env",
        "PATH=/usr/bin:/bin",
        "--config.cmd",
        "/bin/sh",
        "--config.entrypoint",
        "/usr/bin/hello",
        "--config.workingdir",
        "/work",
        "--config.user",
        "1000:1000",
        "--config.exposedports",
        "80/tcp",
        "--config.volume",
        "/data",
        "--config.stopsignal",
        "SIGTERM",
        "--config.label",
        "org.example.label=1",
        "--manifest.annotation",
        "org.opencontainers.image.title=from-scratch",
        "--author",
        "oci-certify",
        "--history.comment",
        "configured",
    ]);

    // A first layer with every kind of entry a layer may hold.
    umoci_unpack(&l, "configured", &bundle);
    let root = bundle.join("rootfs");
    write(&root.join("etc/hostname"), b"oci-certify\n");
    write(&root.join("usr/bin/exact1024"), &[b'x'; 1024]);
    write(&root.join("var/empty"), b"");
    write(&root.join("var/lib/d/a"), b"a\n");
    write(&root.join("opt/keep/k"), b"k\n");
    std::fs::hard_link(
        root.join("usr/bin/exact1024"),
        root.join("usr/bin/hardlink"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../../etc/hostname", root.join("usr/bin/rel")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("usr/bin/abs")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let p = std::fs::Permissions::from_mode(0o4755);
        std::fs::set_permissions(root.join("usr/bin/exact1024"), p).unwrap();
    }
    run("mkfifo", &[s(&root.join("var/fifo"))]);
    umoci(&["repack", "--image", &image(&l, "v1"), s(&bundle)]);
    std::fs::remove_dir_all(&bundle).unwrap();

    // A second layer: a modification, and deletions (explicit whiteouts).
    umoci_unpack(&l, "v1", &bundle);
    let root = bundle.join("rootfs");
    std::fs::remove_file(root.join("etc/hostname")).unwrap();
    std::fs::remove_dir_all(root.join("var/lib/d")).unwrap();
    write(&root.join("opt/keep/k"), b"changed\n");
    umoci(&["repack", "--image", &image(&l, "v2"), s(&bundle)]);
    umoci(&["tag", "--image", &image(&l, "v2"), "latest"]);
    umoci(&["gc", "--layout", s(&l)]);

    assert_eq!(layers(&l, "v2").len(), 2);
    let report = certify(&l);
    // U-5 is the `base` image `umoci new` wrote; it stays tagged.
    assert_findings("umoci init/new/config/repack", &report, &[U2, U3, U4, U5]);
    // v1 (one layer) and v2 (that layer and one more) are walked; `latest` names v2's
    // manifest, which is judged once.
    assert_eq!(report.passes(DIFF_IDS, None), 1 + 2);
}

#[test]
fn umoci_insert_writes_layers_without_the_tar_footer() {
    let tmp = tempfile::tempdir().unwrap();
    let l = tmp.path().join("layout");
    let src = tmp.path().join("src");
    let t = image(&l, "t");
    umoci(&["init", "--layout", s(&l)]);
    umoci(&["new", "--image", &t]);
    write(&src.join("etc/hostname"), b"hi\n");
    write(&src.join("usr/bin/hello"), b"#!/bin/sh\n");
    std::os::unix::fs::symlink("hello", src.join("usr/bin/hi")).unwrap();
    write(&src.join("opt/block"), &[b'b'; 512]);

    // U-1: the last entry has 3 data bytes; the stream stops right after them.
    umoci(&["insert", "--image", &t, s(&src.join("etc")), "/etc"]);
    let cut = digest(layers(&l, "t").last().unwrap());
    // N-1: the last entry is a symlink, so the stream ends on a block boundary, without footer.
    umoci(&["insert", "--image", &t, s(&src.join("usr")), "/usr"]);
    let unterminated = digest(layers(&l, "t").last().unwrap());
    // N-1 again: a single whiteout header, no footer.
    umoci(&["insert", "--image", &t, "--whiteout", "/etc/hostname"]);
    let whiteout = digest(layers(&l, "t").last().unwrap());
    // O-2: asked for an opaque whiteout; the last entry's data is one full block.
    umoci(&[
        "insert",
        "--image",
        &t,
        "--opaque",
        s(&src.join("opt")),
        "/opt",
    ]);
    let opaque = digest(layers(&l, "t").last().unwrap());
    assert_eq!(layers(&l, "t").len(), 4);

    // The evidence, independently of the walker.
    let tar = gunzip(&l, &cut);
    assert_eq!(
        tar.len(),
        1027,
        "two headers and 3 data bytes, no padding, no footer"
    );
    assert_eq!(&tar[1024..], b"hi\n");
    for d in [&unterminated, &whiteout, &opaque] {
        let tar = gunzip(&l, d);
        assert_eq!(tar.len() % 512, 0);
        assert!(
            tar.len() < 1024 || tar[tar.len() - 1024..].iter().any(|b| *b != 0),
            "{d} ends with the two zero blocks after all"
        );
    }

    let report = certify(&l);
    assert_findings("umoci insert", &report, &[U1, U2, U3, U4, O2]);
    // U-1 is reported on the cut layer only; the unterminated ones pass (N-1).
    assert_eq!(
        report.failing_groups(GZIP_FORMAT),
        BTreeSet::from([layer_group(&cut)])
    );
    for d in [&unterminated, &whiteout, &opaque] {
        assert_eq!(report.passes(GZIP_FORMAT, Some(&layer_group(d))), 1, "{d}");
    }
    assert_eq!(report.passes(DIFF_IDS, None), 4);

    // skopeo carries the layer verbatim, and keeps umoci's manifest: U-1 and U-4 travel.
    let copy = tmp.path().join("copy");
    skopeo(&["copy", &oci(&l, "t"), &oci(&copy, "t")]);
    let report = certify(&copy);
    assert_findings(
        "skopeo copy of a umoci image",
        &report,
        &[U1, S2, S3, U4, O2],
    );
    assert_eq!(
        report.failing_groups(GZIP_FORMAT),
        BTreeSet::from([layer_group(&cut)])
    );
}

#[test]
fn the_ledger_lists_every_entry_the_tests_use() {
    for k in [S1, S2, S3, U1, U2, U3, U4, U5, O1, O2, O3] {
        let section = ledger_section(k.entry);
        assert!(
            section.contains("](https://github.com/opencontainers/image-spec/blob/v1.1.1/"),
            "{} cites no spec sentence",
            k.entry
        );
        let (_, id) = k.finding.split_once(' ').unwrap();
        assert!(
            LEDGER.contains(&format!("[{}](#{})", k.entry, k.entry.to_lowercase())),
            "{} is missing from the ledger's table",
            k.entry
        );
        assert!(section.contains(id), "{} does not name {id}", k.entry);
    }
    assert!(ledger_section("N-1").contains("WalkEnd::EndOfStream"));
}
