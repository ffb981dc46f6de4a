//! The bundle engine: `oci-certify bundle PATH` (bundle.md, config.md).
//!
//! [`check_bundle`] judges a runtime bundle directory, or a lone config.json:
//!
//! 1. It looks for `config.json` at the root of the directory and, when it is not there, for
//!    the usual mistakes (a misnamed `Config.json` at the root, a `config.json` one directory
//!    down), so that the finding names the rule actually broken.
//! 2. It reads config.json within [`Limits::max_bytes`] and judges it as a document
//!    ([`crate::document::check_document`], kind [`DocKind::RuntimeConfig`]; group
//!    `runtime-config`).
//! 3. It judges what the filesystem decides ([`CHECKS`], group `bundle`): config.json present,
//!    at the root, correctly named; `root.path` naming an existing directory; config.json and
//!    the root filesystem lying together in the bundle directory.
//!
//! Symbolic links are followed the way a runtime follows them (a runtime opens
//! `BUNDLE/config.json` and `BUNDLE/ROOT.PATH` with ordinary path resolution), and the result
//! is judged: a config.json or rootfs that resolves outside the bundle directory breaks the
//! single-directory rule; one that does not resolve (dangling, looping) is missing.
//! config.json is only ever read when it resolves to a regular file: FIFOs, devices,
//! sockets and directories are findings, never opened for reading (the open itself is
//! non-blocking, so a FIFO swapped in after the check cannot hang the run either).
//!
//! [`check_state_or_features`] judges one `state` or `features` document from a file.
//!
//! Errors ([`BundleError`]) are reserved for input that is not a bundle at all (a path that
//! does not exist, a FIFO given as the bundle) or that cannot be read (permissions); every
//! defect of a bundle is a finding.

use std::fs::{self, File, FileType, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_certify_core::check::{Check, Failure, Location, Outcome};
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_core::Runner;

use crate::document::{check_document, record_unreadable, Doc};
use crate::json::{JsonError, Limits};
use crate::schema::DocKind;

/// The report group of the filesystem checks.
pub const GROUP: &str = "bundle";

/// Checks of a bundle that need its files, not only config.json's text.
pub const CHECKS: &[Check<Bundle>] = &[
    Check::new(
        "runtime.bundle.container-format.config-required",
        config_required,
    ),
    Check::new(
        "runtime.bundle.container-format.config-at-root",
        config_at_root,
    ),
    Check::new("runtime.bundle.container-format.config-name", config_name),
    Check::new(
        "runtime.bundle.container-format.single-directory",
        single_directory,
    ),
    Check::new("runtime.config.root.path-exists", root_path_exists),
];

/// Skip reason of the bundle-directory rules when a lone config.json is judged.
const LONE_DIRECTORY: &str = "a lone config.json was given; the bundle directory cannot be checked";

/// Skip reason of the rootfs rules when a lone config.json is judged.
const LONE_ROOTFS: &str = "a lone config.json was given; the rootfs cannot be checked";

/// How many entries of the bundle directory are looked at when config.json is missing.
const MAX_SCANNED_ENTRIES: usize = 10_000;

/// Why a bundle, config.json, state or features file could not be judged at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The path given does not exist.
    #[error("{} does not exist", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The path given, or config.json in it, could not be inspected (e.g. permissions).
    #[error("cannot inspect {}: {source}", path.display())]
    Inspect {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The path given as a bundle is neither a directory nor a regular file.
    #[error("{} is a {kind}; a bundle is a directory or a lone config.json file", path.display())]
    NotBundle {
        /// The path.
        path: PathBuf,
        /// What it is: `FIFO`, `socket`, `character device`, ...
        kind: &'static str,
    },
    /// The path given as a state or features document is not a regular file.
    #[error("{} is a {kind}, not a regular file", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// [`check_state_or_features`] was asked for a kind it does not judge.
    #[error("{kind} documents are not judged here; expected runtime-state or runtime-features")]
    UnsupportedKind {
        /// The kind's name.
        kind: &'static str,
    },
}

impl Blame for BundleError {
    fn fault(&self) -> Fault {
        match self {
            BundleError::Inspect { source, .. } | BundleError::Read { source, .. }
                if source.kind() == io::ErrorKind::OutOfMemory =>
            {
                Fault::Environment
            }
            _ => Fault::Input,
        }
    }
}

/// What [`CHECKS`] judge: the facts gathered from the filesystem and config.json.
#[derive(Debug)]
pub struct Bundle {
    source: Source,
    config: ConfigLookup,
    rootfs: RootfsLookup,
}

#[derive(Debug)]
enum Source {
    /// A bundle directory, as given and canonicalized.
    Directory { canonical: PathBuf },
    /// A lone config.json.
    LoneFile,
}

/// Where config.json was found, or what was found instead.
#[derive(Debug)]
enum ConfigLookup {
    /// A regular file at the root; `link_target` when reached through a symbolic link.
    Found {
        path: PathBuf,
        link_target: Option<PathBuf>,
    },
    /// Something at the root is named config.json but is not a regular file.
    NotRegular { path: PathBuf, kind: &'static str },
    /// config.json is a symbolic link that does not resolve.
    Unresolvable { path: PathBuf, error: String },
    /// No config.json at the root, but a file whose name differs only in case or blanks.
    Misnamed { path: PathBuf },
    /// No config.json at the root, but one in a subdirectory.
    Nested { path: PathBuf },
    /// No config.json anywhere near.
    Missing { dir: PathBuf },
    /// A lone config.json was given.
    Lone,
}

/// What `root.path` resolved to.
#[derive(Debug)]
enum RootfsLookup {
    /// Not judged, with the reason.
    NotJudged(String),
    /// `root.path` as declared, joined to the bundle directory, and the resolution result:
    /// the canonical path and its file kind.
    Resolved {
        declared: String,
        joined: PathBuf,
        result: Result<(PathBuf, &'static str), io::Error>,
    },
}

/// What reading a file gave.
enum Contents {
    Bytes(Vec<u8>),
    NotRegular(&'static str),
    TooLarge(u64),
}

/// A file kind in words.
fn kind_of(ft: FileType) -> &'static str {
    if ft.is_dir() {
        return "directory";
    }
    if ft.is_file() {
        return "regular file";
    }
    if ft.is_symlink() {
        return "symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
    }
    "special file"
}

/// Opens `path` without blocking (a FIFO would otherwise wait for a writer) and reads it if
/// it is a regular file of at most `max` bytes.
fn read_limited(path: &Path, max: usize) -> io::Result<Contents> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file: File = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Contents::NotRegular(kind_of(meta.file_type())));
    }
    let limit = u64::try_from(max).unwrap_or(u64::MAX);
    if meta.len() > limit {
        return Ok(Contents::TooLarge(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(max));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        // The file grew while it was read.
        return Ok(Contents::TooLarge(
            u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        ));
    }
    Ok(Contents::Bytes(bytes))
}

/// Judges a bundle directory, or a lone config.json, and records every outcome with
/// `runner`: the document checks of config.json (group `runtime-config`) and [`CHECKS`]
/// (group [`GROUP`]).
pub fn check_bundle(runner: &Runner<'_>, path: &Path, limits: Limits) -> Result<(), BundleError> {
    let meta = fs::metadata(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => BundleError::Missing {
            path: path.to_path_buf(),
        },
        _ => BundleError::Inspect {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let doc_group = DocKind::RuntimeConfig.def_name();
    let (source, config, contents) = if meta.is_dir() {
        let canonical = fs::canonicalize(path).map_err(|source| BundleError::Inspect {
            path: path.to_path_buf(),
            source,
        })?;
        let config = find_config(path)?;
        let contents = match &config {
            ConfigLookup::Found { path, .. } => Some(read_config(path, limits)?),
            _ => None,
        };
        (Source::Directory { canonical }, config, contents)
    } else if meta.is_file() {
        let contents = read_config(path, limits)?;
        (Source::LoneFile, ConfigLookup::Lone, Some(contents))
    } else {
        return Err(BundleError::NotBundle {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    };

    // A regular file that turned into something else between the lookup and the open.
    let (config, contents) = match (config, contents) {
        (ConfigLookup::Found { path, .. }, Some(Contents::NotRegular(kind))) => {
            (ConfigLookup::NotRegular { path, kind }, None)
        }
        other => other,
    };

    let name = match &config {
        ConfigLookup::Found { path, .. } => path.display().to_string(),
        _ => path.display().to_string(),
    };
    let doc = match contents {
        Some(Contents::Bytes(bytes)) => check_document(
            runner,
            doc_group,
            None,
            &name,
            &bytes,
            DocKind::RuntimeConfig,
            limits,
        ),
        Some(Contents::TooLarge(size)) => {
            let err = JsonError::TooLarge {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                limit: limits.max_bytes,
            };
            record_unreadable(runner, doc_group, None, &name, DocKind::RuntimeConfig, &err);
            None
        }
        Some(Contents::NotRegular(_)) | None => None,
    };
    runner.finish_group(doc_group);

    let rootfs = match &source {
        Source::LoneFile => RootfsLookup::NotJudged(LONE_ROOTFS.to_string()),
        Source::Directory { .. } => lookup_rootfs(path, doc.as_ref(), &config),
    };
    let bundle = Bundle {
        source,
        config,
        rootfs,
    };
    runner.run_checks(GROUP, None, CHECKS, &bundle);
    runner.finish_group(GROUP);
    Ok(())
}

/// Reads config.json (or the lone file), turning read errors into [`BundleError::Read`].
fn read_config(path: &Path, limits: Limits) -> Result<Contents, BundleError> {
    read_limited(path, limits.max_bytes).map_err(|source| BundleError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Looks for config.json in the bundle directory `dir`.
fn find_config(dir: &Path) -> Result<ConfigLookup, BundleError> {
    let path = dir.join("config.json");
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => Ok(match fs::canonicalize(&path) {
            Err(e) => ConfigLookup::Unresolvable {
                path,
                error: e.to_string(),
            },
            Ok(target) => match fs::metadata(&target) {
                Ok(m) if m.is_file() => ConfigLookup::Found {
                    path,
                    link_target: Some(target),
                },
                Ok(m) => ConfigLookup::NotRegular {
                    path,
                    kind: kind_of(m.file_type()),
                },
                Err(e) => ConfigLookup::Unresolvable {
                    path,
                    error: e.to_string(),
                },
            },
        }),
        Ok(meta) if meta.is_file() => Ok(ConfigLookup::Found {
            path,
            link_target: None,
        }),
        Ok(meta) => Ok(ConfigLookup::NotRegular {
            path,
            kind: kind_of(meta.file_type()),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(find_misplaced(dir)),
        Err(source) => Err(BundleError::Inspect { path, source }),
    }
}

/// With no config.json at the root: a misnamed one at the root, or one a level down.
fn find_misplaced(dir: &Path) -> ConfigLookup {
    let Ok(entries) = fs::read_dir(dir) else {
        return ConfigLookup::Missing {
            dir: dir.to_path_buf(),
        };
    };
    let mut nested = None;
    for entry in entries.take(MAX_SCANNED_ENTRIES).flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.trim().eq_ignore_ascii_case("config.json") {
            return ConfigLookup::Misnamed { path: entry.path() };
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if nested.is_none() && is_dir {
            let candidate = entry.path().join("config.json");
            if fs::symlink_metadata(&candidate).is_ok() {
                nested = Some(candidate);
            }
        }
    }
    match nested {
        Some(path) => ConfigLookup::Nested { path },
        None => ConfigLookup::Missing {
            dir: dir.to_path_buf(),
        },
    }
}

/// Resolves `root.path` of the parsed config against the bundle directory `dir`.
fn lookup_rootfs(dir: &Path, doc: Option<&Doc>, config: &ConfigLookup) -> RootfsLookup {
    let Some(doc) = doc else {
        let why = match config {
            ConfigLookup::Found { .. } => "config.json could not be read as JSON",
            _ => "there is no usable config.json",
        };
        return RootfsLookup::NotJudged(format!("{why}; root.path is unknown"));
    };
    let v = doc.value();
    let on = |k: &str| v.get(k).is_some_and(|x| !x.is_null());
    if on("windows") && !on("linux") {
        return RootfsLookup::NotJudged(
            "the config targets Windows; root.path is a volume GUID path, not checked here".into(),
        );
    }
    let Some(declared) = v.pointer("/root/path").and_then(|p| p.as_str()) else {
        return RootfsLookup::NotJudged(
            "config.json has no root.path string; the schema layer reports it".into(),
        );
    };
    let joined = if Path::new(declared).is_absolute() {
        PathBuf::from(declared)
    } else {
        dir.join(declared)
    };
    let result = fs::canonicalize(&joined).and_then(|canonical| {
        fs::metadata(&canonical).map(|m| (canonical, kind_of(m.file_type())))
    });
    RootfsLookup::Resolved {
        declared: declared.to_string(),
        joined,
        result,
    }
}

fn at(path: &Path) -> Location {
    Location::Path {
        path: path.display().to_string(),
    }
}

/// bundle.md, Container Format: a bundle includes its configuration file, config.json.
fn config_required(b: &Bundle) -> Outcome {
    match &b.config {
        ConfigLookup::Lone => Outcome::skip(LONE_DIRECTORY),
        ConfigLookup::Found {
            link_target: Some(target),
            ..
        } => Outcome::pass_with_note(format!(
            "config.json is a symbolic link to {}",
            target.display()
        )),
        ConfigLookup::Found { .. } => Outcome::pass(),
        ConfigLookup::Misnamed { path } | ConfigLookup::Nested { path } => {
            Outcome::pass_with_note(format!(
                "a configuration file was found at {}; its placement and name are judged separately",
                path.display()
            ))
        }
        ConfigLookup::NotRegular { path, kind } => Outcome::fail(
            Failure::new(format!("config.json is a {kind}, not a file"))
                .expected("config.json, a regular file holding the configuration")
                .actual(format!("a {kind}"))
                .at(at(path)),
        ),
        ConfigLookup::Unresolvable { path, error } => Outcome::fail(
            Failure::new("config.json is a symbolic link that does not resolve")
                .expected("config.json, a regular file holding the configuration")
                .actual(format!("unresolvable link: {error}"))
                .at(at(path)),
        ),
        ConfigLookup::Missing { dir } => Outcome::fail(
            Failure::new("the bundle has no config.json")
                .expected("a config.json file at the root of the bundle directory")
                .actual("no config.json")
                .at(at(dir)),
        ),
    }
}

/// bundle.md, Container Format: config.json sits at the root of the bundle directory.
fn config_at_root(b: &Bundle) -> Outcome {
    match &b.config {
        ConfigLookup::Lone => Outcome::skip(LONE_DIRECTORY),
        ConfigLookup::Found { .. } => Outcome::pass(),
        ConfigLookup::Nested { path } => Outcome::fail(
            Failure::new("config.json is in a subdirectory, not at the root of the bundle")
                .expected("BUNDLE/config.json")
                .actual(path.display())
                .at(at(path)),
        ),
        ConfigLookup::Misnamed { .. } => Outcome::skip(
            "the configuration file at the root is misnamed; its name is judged separately",
        ),
        ConfigLookup::NotRegular { .. } | ConfigLookup::Unresolvable { .. } => {
            Outcome::skip("the config.json at the root is not a usable file; reported as missing")
        }
        ConfigLookup::Missing { .. } => {
            Outcome::skip("no config.json was found anywhere to locate")
        }
    }
}

/// bundle.md, Container Format: the configuration file is named exactly `config.json`.
fn config_name(b: &Bundle) -> Outcome {
    match &b.config {
        ConfigLookup::Lone => Outcome::skip(LONE_DIRECTORY),
        ConfigLookup::Found { .. } => Outcome::pass(),
        ConfigLookup::Misnamed { path } => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            Outcome::fail(
                Failure::new(format!(
                    "the configuration file is named {name:?}, not \"config.json\""
                ))
                .expected("\"config.json\"")
                .actual(format!("{name:?}"))
                .at(at(path)),
            )
        }
        ConfigLookup::Nested { .. } => Outcome::skip(
            "the only config.json is in a subdirectory; its placement is judged separately",
        ),
        ConfigLookup::NotRegular { .. }
        | ConfigLookup::Unresolvable { .. }
        | ConfigLookup::Missing { .. } => Outcome::skip("no configuration file was found to name"),
    }
}

/// bundle.md, Container Format: config.json and the root filesystem lie together in the
/// bundle directory (the directory itself is not part of the bundle, so `root.path` naming
/// the bundle directory does not count). Judged on resolved paths: a symbolic link or `..`
/// leading outside the directory breaks the rule.
fn single_directory(b: &Bundle) -> Outcome {
    let Source::Directory { canonical: dir } = &b.source else {
        return Outcome::skip(LONE_DIRECTORY);
    };
    let mut failures = Vec::new();
    let mut judged = 0;
    if let ConfigLookup::Found { path, link_target } = &b.config {
        judged += 1;
        if let Some(target) = link_target {
            if !target.starts_with(dir) {
                failures.push(
                    Failure::new(
                        "config.json is a symbolic link to a file outside the bundle directory",
                    )
                    .expected(format!("config.json inside {}", dir.display()))
                    .actual(target.display())
                    .at(at(path)),
                );
            }
        }
    }
    if let RootfsLookup::Resolved {
        declared,
        joined,
        result: Ok((resolved, _)),
    } = &b.rootfs
    {
        judged += 1;
        if resolved == dir {
            failures.push(
                Failure::new(format!(
                    "root.path {declared:?} names the bundle directory itself"
                ))
                .expected(format!(
                    "a root filesystem directory inside {}",
                    dir.display()
                ))
                .actual(resolved.display())
                .at(at(joined)),
            );
        } else if !resolved.starts_with(dir) {
            failures.push(
                Failure::new(format!(
                    "root.path {declared:?} resolves outside the bundle directory"
                ))
                .expected(format!(
                    "a root filesystem directory inside {}",
                    dir.display()
                ))
                .actual(resolved.display())
                .at(at(joined)),
            );
        }
    }
    if !failures.is_empty() {
        Outcome::from_failures(failures)
    } else if judged == 0 {
        Outcome::skip("neither config.json nor the root filesystem could be located")
    } else {
        Outcome::pass()
    }
}

/// config.md, Root: a directory exists at `root.path` (relative paths are taken from the
/// bundle directory).
fn root_path_exists(b: &Bundle) -> Outcome {
    let (declared, joined, result) = match &b.rootfs {
        RootfsLookup::NotJudged(why) => return Outcome::skip(why.clone()),
        RootfsLookup::Resolved {
            declared,
            joined,
            result,
        } => (declared, joined, result),
    };
    let expected = "an existing directory, the container's root filesystem";
    match result {
        Ok((_, "directory")) => Outcome::pass(),
        Ok((resolved, kind)) => Outcome::fail(
            Failure::new(format!(
                "root.path {declared:?} is a {kind}, not a directory"
            ))
            .expected(expected)
            .actual(format!("a {kind} at {}", resolved.display()))
            .at(at(joined)),
        ),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Outcome::skip(format!("root.path {declared:?} cannot be inspected: {e}"))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Outcome::fail(
            Failure::new(format!("root.path {declared:?} does not exist"))
                .expected(expected)
                .actual(format!("nothing at {}", joined.display()))
                .at(at(joined)),
        ),
        Err(e) => Outcome::fail(
            Failure::new(format!(
                "root.path {declared:?} does not resolve to a directory"
            ))
            .expected(expected)
            .actual(e)
            .at(at(joined)),
        ),
    }
}

/// Judges one runtime `state` or `features` document read from `path` (for
/// `oci-certify bundle --media-type state|features FILE`), recording the document checks in
/// the group named after the kind (`runtime-state`, `runtime-features`).
pub fn check_state_or_features(
    runner: &Runner<'_>,
    path: &Path,
    kind: DocKind,
    limits: Limits,
) -> Result<(), BundleError> {
    if !matches!(kind, DocKind::RuntimeState | DocKind::RuntimeFeatures) {
        return Err(BundleError::UnsupportedKind {
            kind: kind.def_name(),
        });
    }
    let meta = fs::metadata(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => BundleError::Missing {
            path: path.to_path_buf(),
        },
        _ => BundleError::Inspect {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_file() {
        return Err(BundleError::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    let name = path.display().to_string();
    let group = kind.def_name();
    match read_config(path, limits)? {
        Contents::Bytes(bytes) => {
            check_document(runner, group, None, &name, &bytes, kind, limits);
        }
        Contents::TooLarge(size) => {
            let err = JsonError::TooLarge {
                size: usize::try_from(size).unwrap_or(usize::MAX),
                limit: limits.max_bytes,
            };
            record_unreadable(runner, group, None, &name, kind, &err);
        }
        Contents::NotRegular(found) => {
            return Err(BundleError::NotRegularFile {
                path: path.to_path_buf(),
                kind: found,
            })
        }
    }
    runner.finish_group(group);
    Ok(())
}
