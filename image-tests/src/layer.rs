//! Layer facts: what a streaming walk over a layer's tar stream finds.
//!
//! [`crate::blob::scan_blob`] feeds the (decompressed) bytes of a blob that looks like a layer
//! through a [`TarWalker`], which collects [`LayerFact`]s while the bytes stream past. Nothing
//! is extracted and no entry's content is kept; the walker only looks at headers.
//!
//! # What is reported, and under which requirement
//!
//! Each fact carries a [`FactKind`] (what was seen) and, derived from it, the catalogue
//! requirement it would violate if the blob is a layer ([`FactKind::requirement`]). Only ids
//! that exist in `core/catalogue/image-spec-v1.1.1.toml` are used:
//!
//! | kind | requirement | level |
//! |---|---|---|
//! | [`FactKind::TarFormat`] (bad checksum, truncation, bad PAX record) | `image.layer.tar.archive` | MUST |
//! | [`FactKind::Decompression`] (gzip / zstd stream broken) | `image.layer.gzip.format` / `image.layer.zstd.format` | MUST |
//! | [`FactKind::DuplicatePath`] | `image.layer.tar.no-duplicate-paths` | MUST NOT |
//! | [`FactKind::SparseFile`] (GNU `S` entries, PAX `GNU.sparse.*`) | `image.layer.attributes.no-sparse` | SHOULD NOT |
//! | [`FactKind::WhiteoutNotEmptyRegularFile`] | `image.layer.whiteout.empty-regular-file` | MUST |
//! | [`FactKind::WhiteoutBadName`] (`.wh.` alone, `.wh..wh.x` other than the opaque marker) | `image.layer.whiteout.name-prefix` | MUST |
//! | [`FactKind::WhiteoutWithSameNameEntry`] | `image.layer.whiteout.lower-layers-only` | MUST |
//! | [`FactKind::WhiteoutAfterSibling`] | `image.layer.whiteout.before-siblings` | SHOULD |
//! | [`FactKind::OpaqueWhiteout`] | `image.layer.whiteout.prefer-explicit` | SHOULD |
//!
//! Some facts are hazards that no sentence of image-spec v1.1.1 forbids; they carry no
//! requirement (`requirement: None`) so that no check can turn them red by accident, yet they
//! are reported because extractors have been exploited through them or disagree about them:
//!
//! - [`FactKind::AbsolutePath`], [`FactKind::DotDotComponent`], [`FactKind::PathEscapesRoot`]:
//!   the spec builds changesets from paths relative to the root directory, but says nothing
//!   normative about other paths. Absolute entry paths are stripped by every common extractor.
//! - [`FactKind::HardlinkEscapesRoot`]: a hardlink's `linkname` is an archive path; one that
//!   climbs out of the root can only be extracted by writing outside the rootfs.
//! - [`FactKind::SymlinkEscapesRoot`]: a *relative* symlink target whose `..` components climb
//!   above the root, resolved from the link's directory. Absolute symlink targets are legal
//!   (they are resolved inside the rootfs when the container runs) and are not reported.
//! - [`FactKind::UnsupportedEntryType`]: a type flag outside the file types layer.md lists.
//! - [`FactKind::HeaderOnlyEntryWithData`]: a directory, link, device or FIFO header that
//!   declares data. Go's archive/tar (containerd, Docker, Podman) ignores that size while other
//!   readers skip the data, so the two see different entries. This walker follows Go.
//! - [`FactKind::NonUtf8Path`]: legal in POSIX tar, but not portable.
//! - [`FactKind::LimitExceeded`]: the walk or the decompression stopped at a [`Limits`] bound
//!   (a decompression bomb or a hostile archive); the blob's own digest is still computed.
//!
//! # Bounded memory
//!
//! The walker never holds a path set proportional to path lengths: every normalised path is
//! reduced to a 128-bit key (the first 16 bytes of its SHA-256), and each entry adds at most
//! two keys (its own path, and its directory or the name it whites out). Hash-table overhead
//! included that is at most about 100 bytes per entry, so at most about 100 MiB at the
//! default `max_entries` of 1,000,000 (a typical 50,000-entry layer: a few MiB). Paths are
//! bounded by `max_path_len` (GNU long names and PAX `path` records longer than that are
//! reported and not tracked), PAX extended headers and GNU sparse maps by `max_header_bytes`,
//! and the fact list by `max_facts` (further facts are counted in
//! [`LayerScan::facts_dropped`]). A collision of two 128-bit keys, which would show as a false
//! duplicate, has a probability around 2^-88 for a million entries.
//!
//! # What the walk does not see
//!
//! A whiteout `.wh.x` combined with a *descendant* `x/y` (rather than `x` itself) in the same
//! layer is not reported: checking every ancestor of every entry would cost time quadratic in
//! path depth on hostile input. Whiteouts are checked against the direct siblings of their
//! directory only.

use crate::blob::Limits;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read};

/// Requirement: a layer is a tar archive.
pub const REQ_TAR_ARCHIVE: &str = "image.layer.tar.archive";
/// Requirement: no two entries for the same path.
pub const REQ_NO_DUPLICATE_PATHS: &str = "image.layer.tar.no-duplicate-paths";
/// Requirement: no sparse files.
pub const REQ_NO_SPARSE: &str = "image.layer.attributes.no-sparse";
/// Requirement: a `+gzip` layer is a gzip stream.
pub const REQ_GZIP_FORMAT: &str = "image.layer.gzip.format";
/// Requirement: a `+zstd` layer is a zstd stream.
pub const REQ_ZSTD_FORMAT: &str = "image.layer.zstd.format";
/// Requirement: a whiteout's name is `.wh.` plus the deleted basename.
pub const REQ_WHITEOUT_NAME_PREFIX: &str = "image.layer.whiteout.name-prefix";
/// Requirement: a whiteout is an empty regular file.
pub const REQ_WHITEOUT_EMPTY_REGULAR: &str = "image.layer.whiteout.empty-regular-file";
/// Requirement: a whiteout only applies to lower layers.
pub const REQ_WHITEOUT_LOWER_LAYERS_ONLY: &str = "image.layer.whiteout.lower-layers-only";
/// Requirement (SHOULD): whiteouts come before their siblings.
pub const REQ_WHITEOUT_BEFORE_SIBLINGS: &str = "image.layer.whiteout.before-siblings";
/// Requirement (SHOULD): explicit whiteouts rather than opaque ones.
pub const REQ_WHITEOUT_PREFER_EXPLICIT: &str = "image.layer.whiteout.prefer-explicit";

/// Every requirement id a [`LayerFact`] can carry.
pub const REQUIREMENTS: [&str; 10] = [
    REQ_TAR_ARCHIVE,
    REQ_NO_DUPLICATE_PATHS,
    REQ_NO_SPARSE,
    REQ_GZIP_FORMAT,
    REQ_ZSTD_FORMAT,
    REQ_WHITEOUT_NAME_PREFIX,
    REQ_WHITEOUT_EMPTY_REGULAR,
    REQ_WHITEOUT_LOWER_LAYERS_ONLY,
    REQ_WHITEOUT_BEFORE_SIBLINGS,
    REQ_WHITEOUT_PREFER_EXPLICIT,
];

/// The basename of an opaque whiteout.
pub const OPAQUE_WHITEOUT: &[u8] = b".wh..wh..opq";
/// The prefix of a whiteout's basename.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// Longest path (in characters) a fact reports; longer ones are cut with a trailing `…`.
pub const FACT_PATH_MAX: usize = 1024;

/// How a layer's tar stream is compressed, as sniffed from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar stream.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// zstd (RFC 8478), possibly several frames.
    Zstd,
}

impl Compression {
    /// A lower-case name: `none`, `gzip`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which [`Limits`] bound stopped a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `max_uncompressed_bytes`: decompression stopped.
    UncompressedBytes,
    /// `max_ratio` (past `ratio_grace_bytes`): decompression stopped.
    CompressionRatio,
    /// `max_entries`: the tar walk stopped; decompression went on for the diff_id.
    Entries,
    /// `max_path_len`: this entry's path was not tracked; the walk went on.
    PathLength,
    /// `max_header_bytes`: a PAX or sparse extension header was too large; the walk stopped.
    HeaderBytes,
    /// `max_zstd_window_log`: the zstd frame asks for a larger window; decompression stopped.
    ZstdWindow,
}

impl Limit {
    /// The [`Limits`] field that sets this bound.
    pub fn field(self) -> &'static str {
        match self {
            Limit::UncompressedBytes => "max_uncompressed_bytes",
            Limit::CompressionRatio => "max_ratio",
            Limit::Entries => "max_entries",
            Limit::PathLength => "max_path_len",
            Limit::HeaderBytes => "max_header_bytes",
            Limit::ZstdWindow => "max_zstd_window_log",
        }
    }
}

/// What a fact is about. See the module documentation for the requirement of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactKind {
    /// The tar stream is malformed (bad header checksum, bad number field, truncation,
    /// malformed PAX record, extension header without an entry).
    TarFormat,
    /// The compressed stream is malformed or truncated.
    Decompression {
        /// Which compression.
        compression: Compression,
    },
    /// A scan bound was reached.
    LimitExceeded {
        /// Which one.
        limit: Limit,
    },
    /// A second entry for an already-seen (normalised) path.
    DuplicatePath,
    /// A sparse file entry.
    SparseFile,
    /// A whiteout that is not an empty regular file.
    WhiteoutNotEmptyRegularFile,
    /// A whiteout name that cannot name a deletion (`.wh.` alone, `.wh..wh.x`).
    WhiteoutBadName,
    /// A whiteout and an entry of the name it deletes in the same layer.
    WhiteoutWithSameNameEntry,
    /// An opaque whiteout (`.wh..wh..opq`).
    OpaqueWhiteout,
    /// A whiteout after a non-whiteout sibling in the same directory.
    WhiteoutAfterSibling,
    /// An entry path starting with `/`.
    AbsolutePath,
    /// An entry path with a `..` component that stays inside the root.
    DotDotComponent,
    /// An entry path whose `..` components climb above the root.
    PathEscapesRoot,
    /// A hardlink whose target climbs above the root.
    HardlinkEscapesRoot,
    /// A relative symlink whose target climbs above the root from the link's directory.
    SymlinkEscapesRoot,
    /// A tar type flag outside the file types a layer can hold.
    UnsupportedEntryType {
        /// The type flag byte.
        typeflag: u8,
    },
    /// A directory, link, device or FIFO header that declares a data size.
    HeaderOnlyEntryWithData,
    /// A path or link target that is not valid UTF-8.
    NonUtf8Path,
}

impl FactKind {
    /// The catalogue requirement this fact would violate in a layer, or `None` for hazards
    /// that no sentence of the spec forbids (see the module documentation).
    pub fn requirement(self) -> Option<&'static str> {
        match self {
            FactKind::TarFormat => Some(REQ_TAR_ARCHIVE),
            FactKind::Decompression {
                compression: Compression::Gzip,
            } => Some(REQ_GZIP_FORMAT),
            FactKind::Decompression {
                compression: Compression::Zstd,
            } => Some(REQ_ZSTD_FORMAT),
            // Only raw I/O can fail on an uncompressed stream, and that is a ScanError.
            FactKind::Decompression {
                compression: Compression::None,
            } => Some(REQ_TAR_ARCHIVE),
            FactKind::DuplicatePath => Some(REQ_NO_DUPLICATE_PATHS),
            FactKind::SparseFile => Some(REQ_NO_SPARSE),
            FactKind::WhiteoutNotEmptyRegularFile => Some(REQ_WHITEOUT_EMPTY_REGULAR),
            FactKind::WhiteoutBadName => Some(REQ_WHITEOUT_NAME_PREFIX),
            FactKind::WhiteoutWithSameNameEntry => Some(REQ_WHITEOUT_LOWER_LAYERS_ONLY),
            FactKind::WhiteoutAfterSibling => Some(REQ_WHITEOUT_BEFORE_SIBLINGS),
            FactKind::OpaqueWhiteout => Some(REQ_WHITEOUT_PREFER_EXPLICIT),
            FactKind::LimitExceeded { .. }
            | FactKind::AbsolutePath
            | FactKind::DotDotComponent
            | FactKind::PathEscapesRoot
            | FactKind::HardlinkEscapesRoot
            | FactKind::SymlinkEscapesRoot
            | FactKind::UnsupportedEntryType { .. }
            | FactKind::HeaderOnlyEntryWithData
            | FactKind::NonUtf8Path => None,
        }
    }
}

/// One thing the layer walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFact {
    /// What was seen.
    pub kind: FactKind,
    /// The catalogue requirement it would violate (always `kind.requirement()`).
    pub requirement: Option<&'static str>,
    /// The entry's path as written in the archive (non-UTF-8 bytes as `\xNN`, cut at
    /// [`FACT_PATH_MAX`]); empty for facts about the whole stream.
    pub path: String,
    /// What exactly is wrong, in one line.
    pub detail: String,
}

impl LayerFact {
    /// A fact; the requirement follows from the kind.
    pub fn new(kind: FactKind, path: impl Into<String>, detail: impl Into<String>) -> LayerFact {
        LayerFact {
            kind,
            requirement: kind.requirement(),
            path: path.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for LayerFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = self.requirement {
            write!(f, "[{r}] ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.detail)
    }
}

/// What the scan learned about a blob that looks like a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerScan {
    /// The compression sniffed from the blob's first bytes.
    pub compression: Compression,
    /// `sha256:<hex>` of the whole uncompressed stream (the DiffID), when it was read to its
    /// end cleanly; `None` when decompression failed or was stopped by a limit.
    pub diff_id: Option<String>,
    /// Uncompressed bytes read (all of them when `diff_id` is set).
    pub uncompressed_size: u64,
    /// Tar entries walked (extension headers such as PAX and GNU long names not counted).
    pub entries: u64,
    /// What the walk found, in archive order, at most `max_facts`.
    pub facts: Vec<LayerFact>,
    /// Facts found beyond `max_facts` and not kept.
    pub facts_dropped: u64,
    /// The first error that ended decompression or the tar walk early, if any (also recorded
    /// as a fact).
    pub error: Option<String>,
}

impl LayerScan {
    /// Facts with a given requirement id.
    pub fn facts_for<'a>(&'a self, requirement: &'a str) -> impl Iterator<Item = &'a LayerFact> {
        self.facts
            .iter()
            .filter(move |f| f.requirement == Some(requirement))
    }

    /// Whether the tar walk or decompression stopped at a limit.
    pub fn limit_exceeded(&self) -> Option<Limit> {
        self.facts.iter().find_map(|f| match f.kind {
            FactKind::LimitExceeded { limit } if limit != Limit::PathLength => Some(limit),
            _ => None,
        })
    }
}

/// Facts collected so far, capped.
#[derive(Debug)]
pub(crate) struct FactList {
    pub(crate) facts: Vec<LayerFact>,
    pub(crate) dropped: u64,
    max: usize,
}

impl FactList {
    pub(crate) fn new(max: usize) -> FactList {
        FactList {
            facts: Vec::new(),
            dropped: 0,
            max,
        }
    }

    pub(crate) fn push(&mut self, fact: LayerFact) {
        if self.facts.len() < self.max {
            self.facts.push(fact);
        } else {
            self.dropped += 1;
        }
    }
}

/// How a tar walk ended (errors reading the stream are returned as `Err` instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkEnd {
    /// A zero block: the end-of-archive marker.
    EndOfArchive,
    /// The stream ended on a header boundary without an end-of-archive marker (accepted, as
    /// Go's archive/tar and GNU tar accept it).
    EndOfStream,
    /// The archive is malformed; a [`FactKind::TarFormat`] fact was recorded.
    Malformed,
    /// A walk limit was reached; a [`FactKind::LimitExceeded`] fact was recorded.
    Stopped,
}

const BLOCK: u64 = 512;

/// A 128-bit key of a normalised path (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PathKey(u128);

fn path_key<'a>(components: impl IntoIterator<Item = &'a [u8]>) -> PathKey {
    let mut h = Sha256::new();
    for (i, c) in components.into_iter().enumerate() {
        if i > 0 {
            h.update(b"/");
        }
        h.update(c);
    }
    let out = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&out[..16]);
    PathKey(u128::from_be_bytes(first))
}

/// State carried by extension headers (PAX `x`, GNU `L`/`K`) to the next real entry.
#[derive(Debug, Default)]
struct Pending {
    any: bool,
    pax_path: Option<Vec<u8>>,
    pax_link: Option<Vec<u8>>,
    pax_size: Option<u64>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    sparse: bool,
    name_cut: bool,
    link_cut: bool,
}

/// A path split into normalised components, with what normalisation noticed.
struct Normalized<'p> {
    components: Vec<&'p [u8]>,
    absolute: bool,
    dotdot: bool,
    escapes: bool,
}

fn normalize(path: &[u8]) -> Normalized<'_> {
    let mut n = Normalized {
        components: Vec::new(),
        absolute: path.first() == Some(&b'/'),
        dotdot: false,
        escapes: false,
    };
    for c in path.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                n.dotdot = true;
                if n.components.pop().is_none() {
                    n.escapes = true;
                }
            }
            c => n.components.push(c),
        }
    }
    n
}

/// Whether a link target, resolved from `base` (components of a directory), climbs above the
/// root at some point.
fn climbs_above_root(base: &[&[u8]], target: &[u8]) -> bool {
    let mut depth = base.len();
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
    }
    false
}

/// Renders path bytes for a report: UTF-8 as is, other bytes as `\xNN`, cut at
/// [`FACT_PATH_MAX`] characters.
pub fn display_path(bytes: &[u8]) -> String {
    let mut s = String::new();
    let mut chars = 0usize;
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if chars >= FACT_PATH_MAX {
                s.push('…');
                return s;
            }
            s.push(ch);
            chars += 1;
        }
        for b in chunk.invalid() {
            if chars >= FACT_PATH_MAX {
                s.push('…');
                return s;
            }
            s.push_str(&format!("\\x{b:02x}"));
            chars += 1;
        }
    }
    s
}

/// Whether a 512-byte block carries a valid tar header checksum (unsigned or, as some old
/// tars wrote it, signed byte sum, with the checksum field counted as spaces).
pub(crate) fn checksum_ok(block: &[u8]) -> bool {
    if block.len() != BLOCK as usize {
        return false;
    }
    let Some(stored) = parse_octal(&block[148..156]) else {
        return false;
    };
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

/// An octal number field: optional leading spaces, at least one octal digit, then NUL or
/// space padding.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let mut digits = field
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| **b != 0 && **b != b' ')
        .peekable();
    digits.peek()?;
    let mut v: u64 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n.min(buf.len() - filled),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads and discards `n` bytes; returns how many were there before the stream ended.
pub(crate) fn skip<R: Read + ?Sized>(r: &mut R, mut n: u64, scratch: &mut [u8]) -> io::Result<u64> {
    let mut skipped = 0;
    while n > 0 {
        let want = usize::try_from(n).unwrap_or(usize::MAX).min(scratch.len());
        match r.read(&mut scratch[..want]) {
            Ok(0) => break,
            Ok(got) => {
                let got = got.min(want) as u64;
                n -= got;
                skipped += got;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(skipped)
}

fn padded(size: u64) -> Option<u64> {
    size.checked_add(BLOCK - 1).map(|s| s & !(BLOCK - 1))
}

fn is_header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

fn type_name(typeflag: u8) -> &'static str {
    match typeflag {
        b'0' | 0 => "regular file",
        b'1' => "hardlink",
        b'2' => "symlink",
        b'3' => "character device",
        b'4' => "block device",
        b'5' => "directory",
        b'6' => "FIFO",
        b'7' => "contiguous file",
        b'S' => "GNU sparse file",
        b'D' => "GNU dump directory",
        b'M' => "GNU multi-volume continuation",
        b'N' => "old GNU long name",
        b'V' => "volume label",
        _ => "unknown type",
    }
}

fn typeflag_display(typeflag: u8) -> String {
    if typeflag.is_ascii_graphic() {
        format!("'{}'", char::from(typeflag))
    } else {
        format!("0x{typeflag:02x}")
    }
}

/// The streaming tar walker. One per layer.
#[derive(Debug)]
pub(crate) struct TarWalker<'l> {
    limits: &'l Limits,
    pub(crate) facts: FactList,
    pub(crate) entries: u64,
    /// Bytes of the tar stream consumed (for messages).
    offset: u64,
    seen: HashMap<PathKey, u64>,
    whiteout_targets: HashMap<PathKey, u64>,
    dirs_with_children: HashSet<PathKey>,
}

impl<'l> TarWalker<'l> {
    pub(crate) fn new(limits: &'l Limits) -> TarWalker<'l> {
        TarWalker {
            limits,
            facts: FactList::new(limits.max_facts),
            entries: 0,
            offset: 0,
            seen: HashMap::new(),
            whiteout_targets: HashMap::new(),
            dirs_with_children: HashSet::new(),
        }
    }

    fn fact(&mut self, kind: FactKind, path: &[u8], detail: impl Into<String>) {
        self.facts
            .push(LayerFact::new(kind, display_path(path), detail));
    }

    fn malformed(&mut self, path: &[u8], detail: impl Into<String>) -> WalkEnd {
        self.fact(FactKind::TarFormat, path, detail);
        WalkEnd::Malformed
    }

    /// Walks the tar stream in `r` until its end-of-archive marker, its end, a malformation
    /// or a limit. Returns `Err` only for errors reading `r` (which the caller classifies:
    /// raw I/O, decompression, or a decompression limit).
    pub(crate) fn walk<R: Read + ?Sized>(
        &mut self,
        r: &mut R,
        scratch: &mut [u8],
    ) -> io::Result<WalkEnd> {
        let mut pending = Pending::default();
        let mut block = [0u8; BLOCK as usize];
        loop {
            let header_offset = self.offset;
            let n = read_full(r, &mut block)?;
            self.offset += n as u64;
            if n == 0 || block.iter().all(|b| *b == 0) {
                if pending.any {
                    return Ok(self.malformed(
                        b"",
                        format!(
                            "extension header (PAX or GNU long name) at offset {} is not followed by an entry",
                            header_offset.saturating_sub(BLOCK)
                        ),
                    ));
                }
                if n == 0 {
                    return Ok(WalkEnd::EndOfStream);
                }
                if n == BLOCK as usize {
                    return Ok(WalkEnd::EndOfArchive);
                }
            }
            if n < BLOCK as usize {
                return Ok(self.malformed(
                    b"",
                    format!("stream ends inside a tar header at offset {header_offset} ({n} of 512 bytes)"),
                ));
            }
            if !checksum_ok(&block) {
                return Ok(self.malformed(
                    b"",
                    format!(
                        "tar header at offset {header_offset} has a wrong or unreadable checksum"
                    ),
                ));
            }
            let header = tar::Header::from_byte_slice(&block);
            let header_path = header.path_bytes().into_owned();
            let typeflag = block[156];
            let size = match header.entry_size() {
                Ok(s) => s,
                Err(e) => {
                    return Ok(self.malformed(
                        &header_path,
                        format!(
                        "tar header at offset {header_offset} has an unreadable size field: {e}"
                    ),
                    ))
                }
            };
            let Some(padded_size) = padded(size) else {
                return Ok(self.malformed(&header_path, format!("entry size {size} overflows")));
            };

            match typeflag {
                b'x' => {
                    if size > self.limits.max_header_bytes as u64 {
                        self.fact(
                            FactKind::LimitExceeded {
                                limit: Limit::HeaderBytes,
                            },
                            &header_path,
                            format!(
                                "PAX extended header at offset {header_offset} holds {size} bytes, more than max_header_bytes ({}); tar walk stopped",
                                self.limits.max_header_bytes
                            ),
                        );
                        return Ok(WalkEnd::Stopped);
                    }
                    let mut data = vec![0u8; size as usize];
                    let got = read_full(r, &mut data)?;
                    let pad = skip(r, padded_size - size, scratch)?;
                    self.offset += got as u64 + pad;
                    if got < data.len() || pad < padded_size - size {
                        return Ok(self.malformed(
                            &header_path,
                            format!("stream ends inside the PAX extended header at offset {header_offset}"),
                        ));
                    }
                    if let Err(e) = self.apply_pax(&data, &mut pending) {
                        return Ok(self.malformed(
                            &header_path,
                            format!("PAX extended header at offset {header_offset}: {e}"),
                        ));
                    }
                    pending.any = true;
                    continue;
                }
                b'g' => {
                    // Global PAX headers: Go's archive/tar and the tar crate do not apply
                    // them to later entries either.
                    let got = skip(r, padded_size, scratch)?;
                    self.offset += got;
                    if got < padded_size {
                        return Ok(self.malformed(
                            &header_path,
                            format!("stream ends inside the PAX global header at offset {header_offset}"),
                        ));
                    }
                    continue;
                }
                b'L' | b'K' => {
                    let max = self.limits.max_path_len as u64 + 1; // + the NUL terminator
                    let keep = size.min(max);
                    let mut name = vec![0u8; keep as usize];
                    let got = read_full(r, &mut name)?;
                    let rest = skip(r, padded_size - got as u64, scratch)?;
                    self.offset += got as u64 + rest;
                    if (got as u64) + rest < padded_size {
                        return Ok(self.malformed(
                            &header_path,
                            format!(
                                "stream ends inside the GNU long name at offset {header_offset}"
                            ),
                        ));
                    }
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    let cut = size > max;
                    if typeflag == b'L' {
                        pending.long_name = Some(name);
                        pending.name_cut = cut;
                    } else {
                        pending.long_link = Some(name);
                        pending.link_cut = cut;
                    }
                    pending.any = true;
                    continue;
                }
                _ => {}
            }

            // GNU sparse extension blocks follow the header, before the data.
            if typeflag == b'S' {
                if let Some(gnu) = header.as_gnu() {
                    let mut extended = gnu.isextended[0] == 1;
                    let mut ext_bytes = 0u64;
                    while extended {
                        ext_bytes += BLOCK;
                        if ext_bytes > self.limits.max_header_bytes as u64 {
                            self.fact(
                                FactKind::LimitExceeded {
                                    limit: Limit::HeaderBytes,
                                },
                                &header_path,
                                format!(
                                    "GNU sparse map extends past max_header_bytes ({}); tar walk stopped",
                                    self.limits.max_header_bytes
                                ),
                            );
                            return Ok(WalkEnd::Stopped);
                        }
                        let mut ext = [0u8; BLOCK as usize];
                        let got = read_full(r, &mut ext)?;
                        self.offset += got as u64;
                        if got < ext.len() {
                            return Ok(self.malformed(
                                &header_path,
                                "stream ends inside a GNU sparse extension header",
                            ));
                        }
                        extended = ext[504] == 1;
                    }
                }
            }

            if self.entries >= self.limits.max_entries {
                self.fact(
                    FactKind::LimitExceeded {
                        limit: Limit::Entries,
                    },
                    &header_path,
                    format!(
                        "more than max_entries ({}) entries; tar walk stopped (the DiffID is still computed)",
                        self.limits.max_entries
                    ),
                );
                return Ok(WalkEnd::Stopped);
            }
            self.entries += 1;

            let pending_now = std::mem::take(&mut pending);
            let (data_size, path) = self.entry(header, typeflag, header_path, size, pending_now);
            let Some(padded_data) = padded(data_size) else {
                return Ok(self.malformed(&path, format!("entry size {data_size} overflows")));
            };
            let got = skip(r, padded_data, scratch)?;
            self.offset += got;
            if got < padded_data {
                return Ok(self.malformed(
                    &path,
                    format!(
                        "stream ends inside the data of entry #{} (header at offset {header_offset}, {data_size} bytes declared)",
                        self.entries
                    ),
                ));
            }
        }
    }

    fn apply_pax(&mut self, data: &[u8], pending: &mut Pending) -> Result<(), String> {
        for record in tar::PaxExtensions::new(data) {
            let record = record.map_err(|e| e.to_string())?;
            let key = record.key_bytes();
            let value = record.value_bytes();
            match key {
                b"path" => pending.pax_path = Some(self.bounded_path(value, &mut pending.name_cut)),
                b"linkpath" => {
                    pending.pax_link = Some(self.bounded_path(value, &mut pending.link_cut))
                }
                b"size" => {
                    let size = std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .ok_or_else(|| {
                            format!(
                                "size record {:?} is not a decimal number",
                                display_path(value)
                            )
                        })?;
                    pending.pax_size = Some(size);
                }
                b"GNU.sparse.name" => {
                    pending.sparse = true;
                    pending.pax_path = Some(self.bounded_path(value, &mut pending.name_cut));
                }
                k if k.starts_with(b"GNU.sparse.") => pending.sparse = true,
                _ => {}
            }
        }
        Ok(())
    }

    fn bounded_path(&self, value: &[u8], cut: &mut bool) -> Vec<u8> {
        if value.len() > self.limits.max_path_len {
            *cut = true;
            value[..self.limits.max_path_len].to_vec()
        } else {
            *cut = false;
            value.to_vec()
        }
    }

    /// Examines one real entry; returns the number of data bytes that follow its header, and
    /// the entry's path.
    fn entry(
        &mut self,
        header: &tar::Header,
        mut typeflag: u8,
        header_path: Vec<u8>,
        header_size: u64,
        pending: Pending,
    ) -> (u64, Vec<u8>) {
        // Which name wins follows Go's archive/tar: GNU long names over PAX records over the
        // header's own fields.
        let path = pending
            .long_name
            .or(pending.pax_path)
            .unwrap_or(header_path);
        let link: Option<Vec<u8>> = pending
            .long_link
            .or(pending.pax_link)
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()));
        let size = pending.pax_size.unwrap_or(header_size);
        let path_cut = pending.name_cut;
        let entry_no = self.entries;

        // Old-style directories: a '\0' type with a trailing slash (as Go reads them).
        if typeflag == 0 && path.last() == Some(&b'/') {
            typeflag = b'5';
        }

        if path_cut {
            self.fact(
                FactKind::LimitExceeded {
                    limit: Limit::PathLength,
                },
                &path,
                format!(
                    "entry #{entry_no} has a path longer than max_path_len ({}); it is not checked for duplicates or whiteouts",
                    self.limits.max_path_len
                ),
            );
        }
        if std::str::from_utf8(&path).is_err() {
            self.fact(
                FactKind::NonUtf8Path,
                &path,
                format!("entry #{entry_no}: path is not valid UTF-8"),
            );
        }
        if let Some(l) = &link {
            if std::str::from_utf8(l).is_err() {
                let l = l.clone();
                self.fact(
                    FactKind::NonUtf8Path,
                    &path,
                    format!(
                        "entry #{entry_no}: link target {} is not valid UTF-8",
                        display_path(&l)
                    ),
                );
            }
        }

        let norm = normalize(&path);
        if norm.absolute {
            self.fact(
                FactKind::AbsolutePath,
                &path,
                format!("entry #{entry_no}: path is absolute; extractors strip the leading '/'"),
            );
        }
        if norm.escapes {
            self.fact(
                FactKind::PathEscapesRoot,
                &path,
                format!("entry #{entry_no}: '..' components climb above the root of the layer"),
            );
        } else if norm.dotdot {
            self.fact(
                FactKind::DotDotComponent,
                &path,
                format!("entry #{entry_no}: path has a '..' component (it stays inside the root)"),
            );
        }

        // Data that follows the header: none for header-only types, as Go reads them.
        let data_size = if is_header_only(typeflag) {
            if size > 0 {
                self.fact(
                    FactKind::HeaderOnlyEntryWithData,
                    &path,
                    format!(
                        "entry #{entry_no}: {} header declares {size} bytes of data; readers disagree on whether data follows (read here as none, like Go's archive/tar)",
                        type_name(typeflag)
                    ),
                );
            }
            0
        } else {
            size
        };

        match typeflag {
            b'0' | 0 | b'7' | b'5' | b'3' | b'4' | b'6' | b'S' => {}
            b'1' => {
                if let Some(l) = &link {
                    if climbs_above_root(&[], l) {
                        let l = l.clone();
                        self.fact(
                            FactKind::HardlinkEscapesRoot,
                            &path,
                            format!(
                                "entry #{entry_no}: hardlink target {} climbs above the root of the layer",
                                display_path(&l)
                            ),
                        );
                    }
                }
            }
            b'2' => {
                if let Some(l) = &link {
                    let parent = &norm.components[..norm.components.len().saturating_sub(1)];
                    if l.first() != Some(&b'/') && climbs_above_root(parent, l) {
                        let l = l.clone();
                        self.fact(
                            FactKind::SymlinkEscapesRoot,
                            &path,
                            format!(
                                "entry #{entry_no}: relative symlink target {} climbs above the root from the link's directory",
                                display_path(&l)
                            ),
                        );
                    }
                }
            }
            other => self.fact(
                FactKind::UnsupportedEntryType { typeflag: other },
                &path,
                format!(
                    "entry #{entry_no}: type flag {} ({}) is not one of the file types a layer holds",
                    typeflag_display(other),
                    type_name(other)
                ),
            ),
        }

        if typeflag == b'S' || pending.sparse {
            self.fact(
                FactKind::SparseFile,
                &path,
                format!(
                    "entry #{entry_no} is a sparse file ({})",
                    if typeflag == b'S' {
                        "GNU 'S' type"
                    } else {
                        "PAX GNU.sparse records"
                    }
                ),
            );
        }

        if !path_cut {
            self.track(&path, &norm, typeflag, size, entry_no);
        }
        (data_size, path)
    }

    /// Duplicate, whiteout and sibling tracking for one entry.
    fn track(
        &mut self,
        path: &[u8],
        norm: &Normalized<'_>,
        typeflag: u8,
        size: u64,
        entry_no: u64,
    ) {
        let key = path_key(norm.components.iter().copied());
        if let Some(first) = self.seen.get(&key).copied() {
            self.fact(
                FactKind::DuplicatePath,
                path,
                format!("entry #{entry_no} repeats the path of entry #{first}"),
            );
        } else {
            self.seen.insert(key, entry_no);
        }

        let Some((basename, parent)) = norm.components.split_last() else {
            return; // the root directory itself
        };
        let parent_key = path_key(parent.iter().copied());

        if let Some(target) = basename.strip_prefix(WHITEOUT_PREFIX) {
            let opaque = *basename == OPAQUE_WHITEOUT;
            if opaque {
                self.fact(
                    FactKind::OpaqueWhiteout,
                    path,
                    format!("entry #{entry_no} is an opaque whiteout; explicit whiteouts are recommended"),
                );
            } else if target.is_empty() || target.starts_with(WHITEOUT_PREFIX) {
                self.fact(
                    FactKind::WhiteoutBadName,
                    path,
                    format!(
                        "entry #{entry_no}: whiteout name does not name a deletable file (after '.wh.' comes {:?})",
                        display_path(target)
                    ),
                );
            }
            let regular = matches!(typeflag, b'0' | 0 | b'7');
            if !regular || size != 0 {
                let what = if regular {
                    format!("a regular file of {size} bytes")
                } else {
                    format!("a {}", type_name(typeflag))
                };
                self.fact(
                    FactKind::WhiteoutNotEmptyRegularFile,
                    path,
                    format!("entry #{entry_no}: whiteout is {what}, not an empty regular file"),
                );
            }
            if !opaque && !target.is_empty() {
                let target_key = path_key(parent.iter().copied().chain(std::iter::once(target)));
                if let Some(other) = self.seen.get(&target_key).copied() {
                    self.fact(
                        FactKind::WhiteoutWithSameNameEntry,
                        path,
                        format!(
                            "entry #{entry_no} whites out {:?}, which entry #{other} of the same layer adds; a whiteout may only delete from lower layers",
                            display_path(target)
                        ),
                    );
                }
                self.whiteout_targets.entry(target_key).or_insert(entry_no);
            }
            if self.dirs_with_children.contains(&parent_key) {
                self.fact(
                    FactKind::WhiteoutAfterSibling,
                    path,
                    format!("entry #{entry_no} is a whiteout that comes after a non-whiteout entry of the same directory"),
                );
            }
        } else {
            if let Some(wh) = self.whiteout_targets.get(&key).copied() {
                self.fact(
                    FactKind::WhiteoutWithSameNameEntry,
                    path,
                    format!(
                        "entry #{entry_no} adds a path that whiteout entry #{wh} of the same layer deletes; a whiteout may only delete from lower layers"
                    ),
                );
            }
            self.dirs_with_children.insert(parent_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_dot_slash_and_trailing_slashes() {
        let a = normalize(b"./a/b/");
        let b = normalize(b"a//b");
        assert_eq!(a.components, b.components);
        assert!(!a.absolute && !a.dotdot && !a.escapes);
        let c = normalize(b"/etc/../x");
        assert!(c.absolute && c.dotdot && !c.escapes);
        assert_eq!(c.components, vec![&b"x"[..]]);
        let d = normalize(b"a/../../x");
        assert!(d.escapes);
        assert!(normalize(b"./").components.is_empty());
    }

    #[test]
    fn link_targets_climbing_above_the_root() {
        assert!(climbs_above_root(&[], b"../x"));
        assert!(!climbs_above_root(&[b"a"], b"../x"));
        assert!(climbs_above_root(&[b"a"], b"../../x"));
        assert!(climbs_above_root(&[b"a"], b"b/../../../x"));
        assert!(!climbs_above_root(&[b"a", b"b"], b"./../c"));
    }

    #[test]
    fn octal_fields() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b"  1234 \0"), Some(0o1234));
        assert_eq!(parse_octal(b"        "), None);
        assert_eq!(parse_octal(b"12389\0\0\0"), None);
    }

    #[test]
    fn display_escapes_invalid_utf8_and_cuts_long_paths() {
        assert_eq!(display_path(b"a/\xffb"), "a/\\xffb");
        let long = vec![b'a'; FACT_PATH_MAX + 10];
        let shown = display_path(&long);
        assert!(shown.ends_with('…'));
        assert_eq!(shown.chars().count(), FACT_PATH_MAX + 1);
    }

    #[test]
    fn every_fact_kind_maps_to_a_listed_requirement_or_none() {
        let kinds = [
            FactKind::TarFormat,
            FactKind::Decompression {
                compression: Compression::Gzip,
            },
            FactKind::Decompression {
                compression: Compression::Zstd,
            },
            FactKind::DuplicatePath,
            FactKind::SparseFile,
            FactKind::WhiteoutNotEmptyRegularFile,
            FactKind::WhiteoutBadName,
            FactKind::WhiteoutWithSameNameEntry,
            FactKind::OpaqueWhiteout,
            FactKind::WhiteoutAfterSibling,
        ];
        for k in kinds {
            let r = k.requirement().unwrap();
            assert!(REQUIREMENTS.contains(&r), "{k:?}");
        }
        assert_eq!(FactKind::PathEscapesRoot.requirement(), None);
    }
}
