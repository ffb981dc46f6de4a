//! Image layouts and oci-archives: read once, then walk from `index.json` down.
//!
//! Reading and judging are separate steps:
//!
//! 1. **Read** ([`read_dir`], [`read_archive`]) turns a layout directory or an archive into
//!    [`Contents`]: the two top-level files, and for every entry under `blobs/` its
//!    [`BlobScan`] (digest, size, small JSON bytes, layer facts). A directory's blobs are
//!    scanned in parallel; an archive is streamed once, each blob scanned straight from the
//!    tar entry, nothing extracted to disk. After this step no blob is read again.
//! 2. **Walk** ([`check_contents`]) judges the layout: the layout rules, then `index.json`
//!    through nested indexes (depth-bounded and cycle-safe), manifests, configs, layers and
//!    `subject` links. Every document goes through the validators' schema and rule layers;
//!    every descriptor is compared with the blob it names; every layer's scan is compared with
//!    its media type and with the config's `diff_ids`.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use oci_certify_core::check::{Failure, Location, Outcome};
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_core::Runner;
use oci_certify_validators::json::Limits as JsonLimits;
use oci_certify_validators::{check_document, Doc, DocKind};
use serde_json::Value;

use crate::blob::{scan_blob, BlobScan, Limits};
use crate::digest::{valid_algorithm, valid_encoded, Algorithm, Digest};
use crate::layer::{self, Compression, LayerScan};
use crate::scan::{open_blob, scan_files_with, ScanOptions};

/// How a layout is read and walked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Walk only the `index.json` entries whose `org.opencontainers.image.ref.name` is this.
    pub ref_name: Option<String>,
    /// Bounds of each blob scan.
    pub limits: Limits,
    /// How blob files are read.
    pub scan: ScanOptions,
    /// Bounds of each JSON document.
    pub json: JsonLimits,
    /// Deepest nesting of indexes followed from `index.json`. Default 16.
    pub max_index_depth: usize,
    /// Most entries under `blobs/` read. Default 1,000,000.
    pub max_blobs: usize,
    /// Most bytes of JSON documents an archive may hold (they are kept for the walk).
    /// Default 512 MiB.
    pub max_archive_json_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ref_name: None,
            limits: Limits::default(),
            scan: ScanOptions::default(),
            json: JsonLimits::default(),
            max_index_depth: 16,
            max_blobs: 1_000_000,
            max_archive_json_bytes: 512 << 20,
        }
    }
}

/// A layout or archive could not be read at all (as opposed to being read and found wanting).
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The path could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The archive is not a readable tar (or gzip of one).
    #[error("{}: not a readable tar archive: {message}", path.display())]
    NotAnArchive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The archive holds an entry no layout can hold: an absolute path or one leaving the
    /// archive root.
    #[error("{}: hostile archive entry {entry:?}: {why}", path.display())]
    HostileEntry {
        /// The archive.
        path: PathBuf,
        /// The entry's path.
        entry: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// A bound of [`Options`] was crossed.
    #[error("{}: {what} exceeds the limit of {limit}", path.display())]
    TooLarge {
        /// The layout.
        path: PathBuf,
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
}

impl Blame for LayoutError {
    fn fault(&self) -> Fault {
        Fault::Input
    }
}

/// One of the two top-level files of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopFile {
    /// Not there.
    Missing,
    /// There, but a symlink, directory or special file; not followed or read.
    NotRegular(String),
    /// Larger than the JSON limit; not read.
    TooLarge(u64),
    /// Its bytes.
    Bytes(Vec<u8>),
}

/// An entry under `blobs/`.
#[derive(Debug)]
pub struct BlobEntry {
    /// Its path relative to the layout root, e.g. `blobs/sha256/ab…`.
    pub path: String,
    /// The algorithm directory name.
    pub algorithm: String,
    /// The file name.
    pub encoded: String,
    /// The scan, or why the entry could not be scanned (not a regular file, read error).
    pub scan: Result<BlobScan, String>,
}

impl BlobEntry {
    fn registered(&self) -> Option<Algorithm> {
        Algorithm::from_name(&self.algorithm)
    }
}

/// Everything the walk needs, read once.
#[derive(Debug)]
pub struct Contents {
    /// How findings name the layout (its path).
    pub name: String,
    /// `oci-layout`.
    pub oci_layout: TopFile,
    /// `index.json`.
    pub index_json: TopFile,
    /// Whether `blobs` exists as a real directory (`None`), or what it is instead.
    pub blobs_dir: Result<(), String>,
    /// Entries under `blobs/<alg>/<encoded>`, keyed `alg:encoded`.
    pub blobs: BTreeMap<String, BlobEntry>,
    /// Entries under `blobs/` that are not `blobs/<alg>/<file>` (stray files, nested
    /// directories, non-UTF-8 names), with what is wrong.
    pub stray: Vec<(String, String)>,
}

fn kind_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

fn read_top(path: &Path, limit: usize) -> Result<TopFile, LayoutError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TopFile::Missing),
        Err(source) => Err(LayoutError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Ok(meta) if !meta.file_type().is_file() => {
            Ok(TopFile::NotRegular(kind_name(meta.file_type()).to_string()))
        }
        Ok(meta) if meta.len() > limit as u64 => Ok(TopFile::TooLarge(meta.len())),
        Ok(_) => {
            let file = open_blob(path).map_err(|e| LayoutError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let mut bytes = Vec::new();
            file.take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|source| LayoutError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            if bytes.len() > limit {
                return Ok(TopFile::TooLarge(bytes.len() as u64));
            }
            Ok(TopFile::Bytes(bytes))
        }
    }
}

/// Reads a layout directory: the top-level files, and every blob scanned in parallel.
pub fn read_dir(root: &Path, opts: &Options) -> Result<Contents, LayoutError> {
    let io = |source| LayoutError::Io {
        path: root.to_path_buf(),
        source,
    };
    let mut contents = Contents {
        name: root.display().to_string(),
        oci_layout: read_top(&root.join("oci-layout"), opts.json.max_bytes)?,
        index_json: read_top(&root.join("index.json"), opts.json.max_bytes)?,
        blobs_dir: Ok(()),
        blobs: BTreeMap::new(),
        stray: Vec::new(),
    };
    let blobs = root.join("blobs");
    match std::fs::symlink_metadata(&blobs) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            contents.blobs_dir = Err("there is no blobs directory".into());
            return Ok(contents);
        }
        Err(e) => return Err(io(e)),
        Ok(m) if !m.is_dir() => {
            contents.blobs_dir = Err(format!(
                "blobs is a {}, not a directory (not followed)",
                kind_name(m.file_type())
            ));
            return Ok(contents);
        }
        Ok(_) => {}
    }
    let mut jobs: Vec<(PathBuf, Algorithm)> = Vec::new();
    let mut keys: Vec<(String, String, String)> = Vec::new();
    let mut count = 0usize;
    let mut sorted = |dir: &Path| -> Result<Vec<std::fs::DirEntry>, LayoutError> {
        let mut v = std::fs::read_dir(dir)
            .map_err(io)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        count += v.len();
        if count > opts.max_blobs {
            return Err(LayoutError::TooLarge {
                path: root.to_path_buf(),
                what: "the number of entries under blobs/",
                limit: opts.max_blobs as u64,
            });
        }
        v.sort_by_key(|e| e.file_name());
        Ok(v)
    };
    for alg_entry in sorted(&blobs)? {
        let alg_name = alg_entry.file_name().to_string_lossy().to_string();
        let rel = format!("blobs/{alg_name}");
        let ft = alg_entry.file_type().map_err(io)?;
        if !ft.is_dir() {
            contents.stray.push((
                rel,
                format!("a {} where an algorithm directory belongs", kind_name(ft)),
            ));
            continue;
        }
        for blob in sorted(&alg_entry.path())? {
            let enc = blob.file_name().to_string_lossy().to_string();
            let rel = format!("blobs/{alg_name}/{enc}");
            let key = format!("{alg_name}:{enc}");
            let ft = blob.file_type().map_err(io)?;
            if !ft.is_file() {
                contents.blobs.insert(
                    key,
                    BlobEntry {
                        path: rel,
                        algorithm: alg_name.clone(),
                        encoded: enc,
                        scan: Err(format!(
                            "a {}, not a regular file; not followed",
                            kind_name(ft)
                        )),
                    },
                );
                continue;
            }
            // Unregistered algorithms cannot be verified; the scan still yields size, JSON
            // and layer facts (its sha256 is not compared with anything).
            let algorithm = Algorithm::from_name(&alg_name).unwrap_or(Algorithm::Sha256);
            jobs.push((blob.path(), algorithm));
            keys.push((key, rel, enc));
        }
    }
    let results = scan_files_with(jobs, &opts.limits, &opts.scan);
    for ((key, rel, enc), (_, result)) in keys.into_iter().zip(results) {
        let algorithm = key.split(':').next().unwrap_or_default().to_string();
        contents.blobs.insert(
            key,
            BlobEntry {
                path: rel,
                algorithm,
                encoded: enc,
                scan: result.map_err(|e| e.to_string()),
            },
        );
    }
    Ok(contents)
}

/// Normalises an archive entry path: strips `./`, refuses absolute paths and `..`.
fn archive_path(path: &Path) -> Result<Vec<String>, &'static str> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().to_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err("it leaves the archive root with '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("it is an absolute path"),
        }
    }
    Ok(parts)
}

/// Reads an oci-archive (a tar of a layout, optionally gzip-compressed) in one streaming pass:
/// each blob is scanned straight from its tar entry; nothing is extracted.
pub fn read_archive(path: &Path, opts: &Options) -> Result<Contents, LayoutError> {
    let file = std::fs::File::open(path).map_err(|source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = std::io::BufReader::with_capacity(opts.scan.read_buffer.max(64 << 10), file);
    let head = std::io::BufRead::fill_buf(&mut reader)
        .map_err(|source| LayoutError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .to_vec();
    let stream: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut contents = Contents {
        name: path.display().to_string(),
        oci_layout: TopFile::Missing,
        index_json: TopFile::Missing,
        blobs_dir: Err("the archive has no blobs directory".into()),
        blobs: BTreeMap::new(),
        stray: Vec::new(),
    };
    let not_archive = |message: String| LayoutError::NotAnArchive {
        path: path.to_path_buf(),
        message,
    };
    let mut archive = tar::Archive::new(stream);
    let mut json_bytes = 0usize;
    let entries = archive.entries().map_err(|e| not_archive(e.to_string()))?;
    for (n, entry) in entries.enumerate() {
        if n >= opts.max_blobs {
            return Err(LayoutError::TooLarge {
                path: path.to_path_buf(),
                what: "the number of archive entries",
                limit: opts.max_blobs as u64,
            });
        }
        let mut entry = entry.map_err(|e| not_archive(e.to_string()))?;
        let entry_path = entry
            .path()
            .map_err(|e| not_archive(e.to_string()))?
            .to_path_buf();
        let parts = archive_path(&entry_path).map_err(|why| LayoutError::HostileEntry {
            path: path.to_path_buf(),
            entry: entry_path.display().to_string(),
            why,
        })?;
        let kind = entry.header().entry_type();
        let rel = parts.join("/");
        let is_file = kind.is_file();
        match parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] => {}
            ["oci-layout"] | ["index.json"] => {
                let top = if !is_file {
                    TopFile::NotRegular(format!("{kind:?}"))
                } else if entry.size() > opts.json.max_bytes as u64 {
                    TopFile::TooLarge(entry.size())
                } else {
                    let mut bytes = Vec::new();
                    (&mut entry)
                        .take(opts.json.max_bytes as u64)
                        .read_to_end(&mut bytes)
                        .map_err(|e| not_archive(e.to_string()))?;
                    TopFile::Bytes(bytes)
                };
                if rel == "oci-layout" {
                    contents.oci_layout = top;
                } else {
                    contents.index_json = top;
                }
            }
            ["blobs"] => {
                contents.blobs_dir = if kind.is_dir() {
                    Ok(())
                } else {
                    Err(format!("blobs is a {kind:?} entry, not a directory"))
                };
            }
            ["blobs", _] if kind.is_dir() => contents.blobs_dir = Ok(()),
            ["blobs", alg, enc] => {
                // Archives written without directory entries still have a blobs directory.
                contents.blobs_dir = Ok(());
                let key = format!("{alg}:{enc}");
                let scan = if !is_file {
                    Err(format!(
                        "a {kind:?} entry, not a regular file; not followed"
                    ))
                } else {
                    let algorithm = Algorithm::from_name(alg).unwrap_or(Algorithm::Sha256);
                    match scan_blob(&mut entry, algorithm, &opts.limits) {
                        Ok(scan) => {
                            json_bytes += scan.json.as_ref().map_or(0, Vec::len);
                            if json_bytes > opts.max_archive_json_bytes {
                                return Err(LayoutError::TooLarge {
                                    path: path.to_path_buf(),
                                    what: "the JSON documents of the archive",
                                    limit: opts.max_archive_json_bytes as u64,
                                });
                            }
                            Ok(scan)
                        }
                        Err(e) => Err(e.to_string()),
                    }
                };
                contents.blobs.insert(
                    key,
                    BlobEntry {
                        path: rel,
                        algorithm: (*alg).to_string(),
                        encoded: (*enc).to_string(),
                        scan,
                    },
                );
            }
            ["blobs", ..] if !kind.is_dir() => contents
                .stray
                .push((rel, "not of the form blobs/<alg>/<encoded>".to_string())),
            _ => {}
        }
    }
    Ok(contents)
}

/// Whether a file looks like an oci-archive (tar, or gzip) rather than a JSON document.
pub fn looks_like_archive(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || head.get(257..262) == Some(b"ustar")
}

/// Every requirement the walker records outcomes for (besides those of the documents it hands
/// to the validators), for coverage. A test keeps this list in step with the code.
pub const RECORDED: &[&str] = &[
    "image.config.rootfs.diff-ids-match-layers",
    "image.config.rootfs.diff-ids-order",
    "image.descriptor.digest.matches-content",
    "image.descriptor.size.matches-content",
    "image.layout.blobs.content-matches-path",
    "image.layout.blobs.dir-required",
    "image.layout.blobs.missing-external-store",
    "image.layout.blobs.name-grammar",
    "image.layout.index-json.required",
    "image.layout.oci-layout.required",
    "image.manifest.subject.references-manifest",
];

/// The walker's checks as coverage sees them: [`RECORDED`] and the layer facts it grades.
pub fn checks() -> Vec<oci_certify_core::coverage::CheckInfo> {
    RECORDED
        .iter()
        .chain(layer::REQUIREMENTS.iter())
        .map(|id| oci_certify_core::coverage::CheckInfo {
            engine: "layout",
            requirement: id,
        })
        .collect()
}

const LAYOUT: &str = "layout";
const INDEX_JSON: &str = "index.json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";

fn short(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, enc)) if enc.len() > 12 => format!("{alg}:{}", &enc[..12]),
        _ => digest.to_string(),
    }
}

/// Judges a layout whose contents were read.
pub fn check_contents(runner: &Runner<'_>, contents: &Contents, opts: &Options) {
    let mut walk = Walk {
        runner,
        contents,
        opts,
        documents: HashSet::new(),
        layers: HashSet::new(),
    };
    walk.layout();
    walk.index_json();
}

/// How a descriptor is used by the document that holds it.
#[derive(Debug, Clone, Copy)]
enum Role<'a> {
    /// An entry of an index's `manifests`.
    IndexEntry,
    /// A manifest's `config`.
    Config,
    /// A manifest's `layers[i]`, with the config's `diff_ids` when known.
    Layer(usize, Option<&'a [Value]>),
    /// A `subject`.
    Subject,
}

struct Walk<'a, 'r> {
    runner: &'a Runner<'r>,
    contents: &'a Contents,
    opts: &'a Options,
    /// Digests whose document checks already ran.
    documents: HashSet<String>,
    /// Digests whose layer checks already ran.
    layers: HashSet<String>,
}

impl Walk<'_, '_> {
    fn record(&self, group: &str, target: Option<&str>, id: &str, outcome: Outcome) {
        self.runner.record(group, target, id, outcome);
    }

    fn path_location(&self, rel: &str) -> Location {
        Location::Path {
            path: format!("{}/{rel}", self.contents.name),
        }
    }

    fn top_file(&self, name: &str, file: &TopFile, required: &str, kind: DocKind) {
        let loc = self.path_location(name);
        match file {
            TopFile::Missing => self.record(
                LAYOUT,
                Some(name),
                required,
                Outcome::fail(
                    Failure::new(format!("there is no {name} file"))
                        .expected(format!("a regular file named {name} at the layout root"))
                        .at(loc),
                ),
            ),
            TopFile::NotRegular(what) => self.record(
                LAYOUT,
                Some(name),
                required,
                Outcome::fail(
                    Failure::new(format!(
                        "{name} is a {what}, not a regular file; not followed"
                    ))
                    .expected("a regular file")
                    .actual(what)
                    .at(loc),
                ),
            ),
            TopFile::TooLarge(size) => {
                self.record(LAYOUT, Some(name), required, Outcome::pass());
                self.runner.diagnostic(format!(
                    "{name} is {size} bytes, over the JSON limit of {} bytes; it was not read",
                    self.opts.json.max_bytes
                ));
            }
            TopFile::Bytes(bytes) => {
                self.record(LAYOUT, Some(name), required, Outcome::pass());
                let group = if kind == DocKind::OciLayout {
                    LAYOUT
                } else {
                    INDEX_JSON
                };
                let display = format!("{}/{name}", self.contents.name);
                check_document(
                    self.runner,
                    group,
                    Some(name),
                    &display,
                    bytes,
                    kind,
                    self.opts.json,
                );
            }
        }
    }

    /// The layout rules: the top-level files, the blobs directory, blob names and contents.
    fn layout(&mut self) {
        let c = self.contents;
        self.top_file(
            "oci-layout",
            &c.oci_layout,
            "image.layout.oci-layout.required",
            DocKind::OciLayout,
        );
        self.record(
            LAYOUT,
            None,
            "image.layout.blobs.dir-required",
            match &c.blobs_dir {
                Ok(()) => Outcome::pass(),
                Err(why) => Outcome::fail(
                    Failure::new(why.clone())
                        .expected("a directory named blobs at the layout root")
                        .at(self.path_location("blobs")),
                ),
            },
        );
        let mut names = Vec::new();
        for (rel, why) in &c.stray {
            names.push(Failure::new(format!("{rel}: {why}")).at(self.path_location(rel)));
        }
        let mut contents = Vec::new();
        let (mut verified, mut unverifiable) = (0usize, Vec::new());
        for entry in c.blobs.values() {
            if !valid_algorithm(&entry.algorithm) {
                names.push(
                    Failure::new(format!(
                        "{:?} is not a digest algorithm name",
                        entry.algorithm
                    ))
                    .expected("lower-case letters and digits, joined by + . _ -")
                    .actual(&entry.algorithm)
                    .at(self.path_location(&entry.path)),
                );
            }
            if !valid_encoded(&entry.encoded) {
                names.push(
                    Failure::new(format!("{:?} is not an encoded digest", entry.encoded))
                        .expected("letters, digits, = _ -")
                        .actual(&entry.encoded)
                        .at(self.path_location(&entry.path)),
                );
            }
            match (&entry.scan, entry.registered()) {
                (Err(why), _) => contents.push(
                    Failure::new(format!("{}: cannot be verified: {why}", entry.path))
                        .at(self.path_location(&entry.path)),
                ),
                (Ok(scan), Some(_)) => {
                    let named = format!("{}:{}", entry.algorithm, entry.encoded);
                    if scan.digest == named {
                        verified += 1;
                    } else {
                        contents.push(
                            Failure::new(format!(
                                "{} does not hold the content its name says",
                                entry.path
                            ))
                            .expected(&named)
                            .actual(&scan.digest)
                            .at(self.path_location(&entry.path)),
                        );
                    }
                }
                (Ok(_), None) => unverifiable.push(entry.path.clone()),
            }
        }
        self.record(
            LAYOUT,
            None,
            "image.layout.blobs.name-grammar",
            Outcome::from_failures(names),
        );
        let outcome = if !contents.is_empty() {
            Outcome::Fail { failures: contents }
        } else if verified == 0 && !unverifiable.is_empty() {
            Outcome::skip(format!(
                "no blob uses a registered algorithm (sha256, sha512); not verifiable: {}",
                unverifiable.join(", ")
            ))
        } else if unverifiable.is_empty() {
            Outcome::pass_with_note(format!("{verified} blobs hash to their names"))
        } else {
            Outcome::pass_with_note(format!(
                "{verified} blobs hash to their names; {} use unregistered algorithms and were not verified",
                unverifiable.len()
            ))
        };
        self.record(
            LAYOUT,
            None,
            "image.layout.blobs.content-matches-path",
            outcome,
        );
        self.runner.finish_group(LAYOUT);
    }

    fn index_json(&mut self) {
        let c = self.contents;
        self.top_file(
            "index.json",
            &c.index_json,
            "image.layout.index-json.required",
            DocKind::ImageIndex,
        );
        let TopFile::Bytes(bytes) = &c.index_json else {
            self.runner.finish_group(INDEX_JSON);
            return;
        };
        // check_document already judged it; parse again (small) to walk its descriptors.
        let display = format!("{}/index.json", c.name);
        let Ok(document) =
            oci_certify_validators::json::Document::parse(&display, bytes, self.opts.json)
        else {
            self.runner.finish_group(INDEX_JSON);
            return;
        };
        let doc = Doc {
            document,
            kind: DocKind::ImageIndex,
        };
        let mut selected = 0usize;
        if let Some(Value::Array(items)) = doc.value().get("manifests") {
            for (i, item) in items.iter().enumerate() {
                if let Some(want) = &self.opts.ref_name {
                    let name = item
                        .pointer("/annotations/org.opencontainers.image.ref.name")
                        .and_then(Value::as_str);
                    if name != Some(want.as_str()) {
                        continue;
                    }
                }
                selected += 1;
                self.descriptor(
                    INDEX_JSON,
                    &doc,
                    &format!("/manifests/{i}"),
                    Role::IndexEntry,
                    1,
                    &mut Vec::new(),
                );
            }
        }
        if let (Some(want), 0) = (&self.opts.ref_name, selected) {
            self.runner.diagnostic(format!(
                "no index.json entry has org.opencontainers.image.ref.name {want:?}; no image was walked"
            ));
        }
        self.runner.finish_group(INDEX_JSON);
    }

    /// Judges one descriptor against the blob it names, then what the blob holds.
    fn descriptor(
        &mut self,
        group: &str,
        parent: &Doc,
        pointer: &str,
        role: Role<'_>,
        depth: usize,
        ancestors: &mut Vec<String>,
    ) {
        let Some(d) = parent.value().pointer(pointer).and_then(Value::as_object) else {
            return;
        };
        // Malformed descriptors are the schema and rule layers' findings; nothing to follow.
        let (Some(digest), Some(media_type)) = (
            d.get("digest").and_then(Value::as_str),
            d.get("mediaType").and_then(Value::as_str),
        ) else {
            return;
        };
        let Ok(parsed) = Digest::parse(digest) else {
            return;
        };
        let key = format!("{}:{}", parsed.algorithm(), parsed.encoded());
        let target = Some(digest);
        let Some(entry) = self.contents.blobs.get(&key) else {
            if !matches!(role, Role::Subject) {
                self.record(
                    group,
                    target,
                    "image.layout.blobs.missing-external-store",
                    Outcome::fail(
                        parent
                            .failure_at(
                                pointer,
                                format!("{digest} is referenced but not in the layout"),
                            )
                            .expected(format!(
                                "blobs/{}/{}, or the blob available from an external store",
                                parsed.algorithm(),
                                parsed.encoded()
                            ))
                            .actual("no such blob"),
                    ),
                );
            } else {
                self.record(
                    group,
                    target,
                    "image.manifest.subject.references-manifest",
                    Outcome::skip(format!("the subject {digest} is not in the layout")),
                );
            }
            return;
        };
        let scan = match &entry.scan {
            Ok(scan) => scan,
            Err(why) => {
                self.runner
                    .diagnostic(format!("{} was not read: {why}", entry.path));
                return;
            }
        };
        if let Some(size) = d.get("size").and_then(Value::as_u64) {
            self.record(
                group,
                target,
                "image.descriptor.size.matches-content",
                if size == scan.size {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        parent
                            .failure_at(
                                &format!("{pointer}/size"),
                                format!(
                                    "the descriptor says {size} bytes, the blob has {}",
                                    scan.size
                                ),
                            )
                            .expected(scan.size)
                            .actual(size),
                    )
                },
            );
        }
        if entry.registered().is_some() {
            self.record(
                group,
                target,
                "image.descriptor.digest.matches-content",
                if scan.digest == digest {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        parent
                            .failure_at(
                                &format!("{pointer}/digest"),
                                format!("the content at {} hashes to {}", entry.path, scan.digest),
                            )
                            .expected(digest)
                            .actual(&scan.digest),
                    )
                },
            );
        }
        match role {
            Role::Layer(i, diff_ids) => {
                self.layer(group, parent, pointer, entry, scan, media_type, i, diff_ids)
            }
            Role::Subject => {
                let is_manifest = scan
                    .json
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .is_some_and(|v| {
                        v.get("mediaType")
                            .and_then(Value::as_str)
                            .is_some_and(|m| m == MANIFEST_TYPE || m == INDEX_TYPE)
                            || v.get("config").is_some() && v.get("schemaVersion").is_some()
                    });
                self.record(
                    group,
                    target,
                    "image.manifest.subject.references-manifest",
                    if is_manifest {
                        Outcome::pass()
                    } else {
                        Outcome::fail(
                            parent
                                .failure_at(
                                    pointer,
                                    format!("the subject {digest} is not a manifest"),
                                )
                                .expected("a manifest")
                                .actual("content that is not an OCI manifest"),
                        )
                    },
                );
            }
            Role::IndexEntry | Role::Config => {
                let kind = match (role, media_type) {
                    (Role::Config, CONFIG_TYPE) => Some(DocKind::ImageConfig),
                    (Role::IndexEntry, MANIFEST_TYPE) => Some(DocKind::ImageManifest),
                    (Role::IndexEntry, INDEX_TYPE) => Some(DocKind::ImageIndex),
                    _ => None,
                };
                if let Some(kind) = kind {
                    self.document(entry, scan, kind, depth, ancestors);
                }
            }
        }
    }

    /// Judges a manifest, index or config blob once, then follows its descriptors.
    fn document(
        &mut self,
        entry: &BlobEntry,
        scan: &BlobScan,
        kind: DocKind,
        depth: usize,
        ancestors: &mut Vec<String>,
    ) {
        let digest = scan.digest.clone();
        if ancestors.contains(&digest) {
            self.runner.diagnostic(format!(
                "{} refers back to itself through its descendants; the cycle was not followed",
                entry.path
            ));
            return;
        }
        if depth > self.opts.max_index_depth {
            self.runner.diagnostic(format!(
                "{} is nested {depth} indexes deep, over the limit of {}; not followed",
                entry.path, self.opts.max_index_depth
            ));
            return;
        }
        let first_time = self.documents.insert(digest.clone());
        let prefix = match kind {
            DocKind::ImageManifest => "manifest",
            DocKind::ImageIndex => "index",
            _ => "config",
        };
        let group = format!("{prefix} {}", short(&digest));
        let display = format!("{}/{}", self.contents.name, entry.path);
        let Some(bytes) = &scan.json else {
            if first_time {
                let why = if scan.json_too_large {
                    format!(
                        "is larger than the JSON limit of {} bytes",
                        self.opts.limits.max_json_bytes
                    )
                } else {
                    "is not JSON".to_string()
                };
                let err = oci_certify_validators::json::JsonError::Syntax {
                    at: oci_certify_validators::json::Position {
                        offset: 0,
                        line: 1,
                        column: 1,
                    },
                    message: format!("the blob {why}"),
                };
                oci_certify_validators::document::record_unreadable(
                    self.runner,
                    &group,
                    None,
                    &display,
                    kind,
                    &err,
                );
                self.runner.finish_group(&group);
            }
            return;
        };
        let doc = if first_time {
            let doc = check_document(
                self.runner,
                &group,
                None,
                &display,
                bytes,
                kind,
                self.opts.json,
            );
            self.runner.finish_group(&group);
            doc
        } else {
            oci_certify_validators::json::Document::parse(&display, bytes, self.opts.json)
                .ok()
                .map(|document| Doc { document, kind })
        };
        let Some(doc) = doc else { return };
        if !first_time && kind == DocKind::ImageConfig {
            return;
        }
        ancestors.push(digest);
        match kind {
            DocKind::ImageIndex => {
                if let Some(Value::Array(items)) = doc.value().get("manifests") {
                    for i in 0..items.len() {
                        self.descriptor(
                            &group,
                            &doc,
                            &format!("/manifests/{i}"),
                            Role::IndexEntry,
                            depth + 1,
                            ancestors,
                        );
                    }
                }
                if doc.value().get("subject").is_some() {
                    self.descriptor(&group, &doc, "/subject", Role::Subject, depth, ancestors);
                }
            }
            DocKind::ImageManifest if first_time => {
                self.manifest(&group, &doc, depth, ancestors);
            }
            _ => {}
        }
        ancestors.pop();
        self.runner.finish_group(&group);
    }

    fn manifest(&mut self, group: &str, doc: &Doc, depth: usize, ancestors: &mut Vec<String>) {
        self.descriptor(group, doc, "/config", Role::Config, depth, ancestors);
        // The config's diff_ids, when the config is an OCI image config in the layout.
        let diff_ids: Option<Vec<Value>> = doc
            .value()
            .pointer("/config/digest")
            .and_then(Value::as_str)
            .filter(|_| {
                doc.value()
                    .pointer("/config/mediaType")
                    .and_then(Value::as_str)
                    == Some(CONFIG_TYPE)
            })
            .and_then(|d| {
                Digest::parse(d)
                    .ok()
                    .map(|p| format!("{}:{}", p.algorithm(), p.encoded()))
            })
            .and_then(|key| self.contents.blobs.get(&key))
            .and_then(|e| e.scan.as_ref().ok())
            .and_then(|s| s.json.as_deref())
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .and_then(|c| {
                c.pointer("/rootfs/diff_ids")
                    .and_then(Value::as_array)
                    .cloned()
            });
        let layers = doc
            .value()
            .get("layers")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if let Some(ids) = &diff_ids {
            self.record(
                group,
                None,
                "image.config.rootfs.diff-ids-order",
                if ids.len() == layers {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        doc.failure_at(
                            "/layers",
                            format!(
                                "the manifest has {layers} layers but its config lists {} diff_ids",
                                ids.len()
                            ),
                        )
                        .expected(format!("{layers} diff_ids, one per layer in order"))
                        .actual(ids.len()),
                    )
                },
            );
        }
        for i in 0..layers {
            self.descriptor(
                group,
                doc,
                &format!("/layers/{i}"),
                Role::Layer(i, diff_ids.as_deref()),
                depth,
                ancestors,
            );
        }
        if doc.value().get("subject").is_some() {
            self.descriptor(group, doc, "/subject", Role::Subject, depth, ancestors);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn layer(
        &mut self,
        group: &str,
        parent: &Doc,
        pointer: &str,
        entry: &BlobEntry,
        scan: &BlobScan,
        media_type: &str,
        index: usize,
        diff_ids: Option<&[Value]>,
    ) {
        let digest = scan.digest.as_str();
        let expected = layer_compression(media_type);
        // The DiffID of layer i, judged in the manifest's group.
        if let (Some(ids), Some(layer)) = (diff_ids, &scan.layer) {
            if let Some(want) = ids.get(index).and_then(Value::as_str) {
                let outcome = match (&layer.diff_id, layer.limit_exceeded()) {
                    (_, Some(limit)) => Outcome::skip(format!(
                        "decompression stopped at the {} bound ({}); the DiffID could not be computed",
                        limit.field(),
                        "raise it to verify this layer"
                    )),
                    (Some(have), None) if have == want => Outcome::pass(),
                    (Some(have), None) => Outcome::fail(
                        parent
                            .failure_at(pointer, format!("layer {index} uncompressed hashes to {have}, but the config's diff_ids[{index}] is {want}"))
                            .expected(want)
                            .actual(have),
                    ),
                    (None, None) => Outcome::skip(format!(
                        "layer {index} could not be decompressed ({}); its DiffID is unknown",
                        layer.error.as_deref().unwrap_or("unknown error")
                    )),
                };
                self.record(
                    group,
                    Some(digest),
                    "image.config.rootfs.diff-ids-match-layers",
                    outcome,
                );
            }
        }
        if !self.layers.insert(digest.to_string()) {
            return;
        }
        let Some(expected) = expected else {
            // Not an OCI layer media type: tolerated, not judged.
            return;
        };
        let lgroup = format!("layer {}", short(digest));
        let format_req = match expected {
            Compression::None => layer::REQ_TAR_ARCHIVE,
            Compression::Gzip => layer::REQ_GZIP_FORMAT,
            Compression::Zstd => layer::REQ_ZSTD_FORMAT,
        };
        let loc = self.path_location(&entry.path);
        let Some(scan_layer) = &scan.layer else {
            self.record(
                &lgroup,
                None,
                format_req,
                Outcome::fail(
                    Failure::new(format!(
                        "the blob is not a {} stream",
                        stream_name(expected)
                    ))
                    .expected(format!("{} ({media_type})", stream_name(expected)))
                    .actual("neither tar, gzip nor zstd")
                    .at(loc),
                ),
            );
            self.runner.finish_group(&lgroup);
            return;
        };
        self.judge_layer(&lgroup, scan_layer, expected, format_req, media_type, loc);
        self.runner.finish_group(&lgroup);
    }

    fn judge_layer(
        &self,
        group: &str,
        scan: &LayerScan,
        expected: Compression,
        format_req: &str,
        media_type: &str,
        loc: Location,
    ) {
        // Compression and tar well-formedness.
        let mut format = Vec::new();
        if scan.compression != expected {
            format.push(
                Failure::new(format!(
                    "the media type says {}, the content is {}",
                    stream_name(expected),
                    stream_name(scan.compression)
                ))
                .expected(format!("{} ({media_type})", stream_name(expected)))
                .actual(stream_name(scan.compression))
                .at(loc.clone()),
            );
        }
        for fact in scan.facts_for(format_req) {
            format.push(Failure::new(format!("{}: {}", fact.path, fact.detail)).at(loc.clone()));
        }
        if format_req != layer::REQ_TAR_ARCHIVE {
            for fact in scan.facts_for(layer::REQ_TAR_ARCHIVE) {
                format
                    .push(Failure::new(format!("{}: {}", fact.path, fact.detail)).at(loc.clone()));
            }
        }
        self.record(group, None, format_req, Outcome::from_failures(format));
        // What the tar walk learned, one point per requirement it judges.
        let stopped = scan
            .limit_exceeded()
            .map(|l| format!("the walk stopped at the {} bound", l.field()));
        for req in layer::REQUIREMENTS {
            if [
                layer::REQ_TAR_ARCHIVE,
                layer::REQ_GZIP_FORMAT,
                layer::REQ_ZSTD_FORMAT,
            ]
            .contains(&req)
            {
                continue;
            }
            let failures: Vec<Failure> = scan
                .facts_for(req)
                .map(|f| Failure::new(format!("{}: {}", f.path, f.detail)).at(loc.clone()))
                .collect();
            let outcome = match (&stopped, failures.is_empty()) {
                (_, false) => Outcome::Fail { failures },
                (Some(why), true) => Outcome::skip(format!("{why}; not every entry was read")),
                (None, true) => Outcome::pass(),
            };
            self.record(group, None, req, outcome);
        }
        // Findings no image-spec requirement covers (paths escaping the root, bounds) are
        // still shown: extractors must not follow them.
        let unkeyed: Vec<String> = scan
            .facts
            .iter()
            .filter(|f| f.requirement.is_none())
            .take(5)
            .map(|f| format!("{}: {}", f.path, f.detail))
            .collect();
        if !unkeyed.is_empty() {
            self.runner.diagnostic(format!(
                "{group}: {} (no image-spec requirement covers these; they do not change the verdict)",
                unkeyed.join("; ")
            ));
        }
    }
}

fn stream_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "plain tar",
        Compression::Gzip => "gzip-compressed tar",
        Compression::Zstd => "zstd-compressed tar",
    }
}

/// The compression an OCI layer media type names; `None` for media types that are not OCI
/// layer types.
fn layer_compression(media_type: &str) -> Option<Compression> {
    Some(match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar" => Compression::None,
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" => Compression::Gzip,
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Compression::Zstd,
        _ => return None,
    })
}

/// Reads `path` (a layout directory or an oci-archive) and judges it.
pub fn check_path(runner: &Runner<'_>, path: &Path, opts: &Options) -> Result<(), LayoutError> {
    let meta = std::fs::metadata(path).map_err(|source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let contents = if meta.is_dir() {
        read_dir(path, opts)?
    } else {
        read_archive(path, opts)?
    };
    check_contents(runner, &contents, opts);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_lists_every_id_the_walker_uses() {
        let source = include_str!("layout.rs");
        let body = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let mut rest = body;
        while let Some(i) = rest.find("\"image.") {
            let tail = &rest[i + 1..];
            let end = tail.find('"').unwrap_or(tail.len());
            let id = &tail[..end];
            assert!(
                RECORDED.contains(&id),
                "{id} is recorded but not in RECORDED"
            );
            rest = &tail[end..];
        }
    }

    #[test]
    fn layer_media_types_name_their_compression() {
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar"),
            Some(Compression::None)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar+zstd"),
            Some(Compression::Zstd)
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"),
            Some(Compression::Gzip)
        );
        assert_eq!(layer_compression("application/vnd.in-toto+json"), None);
    }

    #[test]
    fn archive_paths_refuse_escapes() {
        assert_eq!(
            archive_path(Path::new("./blobs/sha256/x")).unwrap(),
            vec!["blobs", "sha256", "x"]
        );
        assert!(archive_path(Path::new("blobs/../../x")).is_err());
        assert!(archive_path(Path::new("/etc/passwd")).is_err());
    }
}
