//! Scanning one blob in a single pass.
//!
//! [`scan_blob`] reads a blob once, front to back, and learns everything the image checks need
//! from its bytes on the way:
//!
//! ```text
//!  reader ──▶ RawTee ──────────────┬──▶ (opaque or JSON blob) drained to EOF
//!             · digest (expected   │
//!               algorithm)         └──▶ decompressor ──▶ DiffTee ──▶ BufReader ──▶ TarWalker
//!             · size                    (gzip / zstd /   · sha256 (DiffID)         · LayerFacts
//!             · JSON capture             pass-through)   · size, limits
//! ```
//!
//! - **Tee hashing.** [`RawTee`] sits directly on the reader: every byte anybody reads through
//!   it is hashed with the expected algorithm and counted, whoever asked for it (the sniffer,
//!   the decompressor or the final drain). The decompressed stream goes through a second tee,
//!   `DiffTee`, that computes the SHA-256 of the uncompressed tar stream (the DiffID). No byte
//!   is read twice, and no blob is held whole in memory.
//! - **Sniffing.** The first up to 1 KiB are read through the raw tee and classified: gzip
//!   magic `1f 8b`, zstd magic `28 b5 2f fd` (or a zstd skippable frame), a tar header
//!   (`ustar` magic at offset 257, or a valid header checksum, or an empty archive of zero
//!   blocks) make it a layer candidate; those bytes are then replayed to the decompressor from
//!   memory, not re-read. Independently, a blob whose first non-whitespace byte is `{` or `[`
//!   is captured for JSON parsing, up to `max_json_bytes` ([`BlobScan::json_too_large`] beyond).
//! - **Draining.** When the tar walk ends (end-of-archive marker, a malformation, or a walk
//!   limit), the rest of the decompressed stream is still read so the DiffID covers it, and
//!   then the rest of the raw stream so the digest covers it. A broken gzip or zstd stream
//!   becomes a [`LayerFact`](crate::layer::LayerFact) and the raw digest is still completed.
//! - **Limits.** Decompression is bounded by [`Limits`]: total uncompressed bytes and the ratio
//!   of uncompressed to compressed bytes stop a decompression bomb early, with a
//!   [`FactKind::LimitExceeded`] fact and no DiffID; the raw digest still completes. Memory
//!   per scan is a constant (the read buffer, the decompressor's window, at most
//!   `max_json_bytes` of JSON, and the walker's bounded path keys), whatever the input.
//!
//! Only failures of the underlying reader are errors ([`ScanError`]); everything wrong with
//! the bytes themselves is a finding.

use crate::digest::{Algorithm, Hasher};
use crate::error::ScanError;
use crate::layer::{
    checksum_ok, read_full, Compression, FactKind, LayerFact, LayerScan, Limit, TarWalker,
};
use std::cell::Cell;
use std::io::{self, BufReader, Read};

/// Default size of the read buffer (and of the decompressors' input buffers): 1 MiB.
pub const DEFAULT_READ_BUFFER: usize = 1 << 20;

/// How many leading bytes are read to classify a blob.
const SNIFF_LEN: usize = 1024;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Bounds on the work and memory one blob scan may take. Exceeding a decompression or walk
/// bound is a finding ([`FactKind::LimitExceeded`]), never an error, and never stops the raw
/// digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes after which decompression stops. Default 64 GiB: above the largest
    /// layers seen in practice (ML images), and at 1 GB/s about a minute of work.
    pub max_uncompressed_bytes: u64,
    /// Largest accepted ratio of decompressed to compressed bytes, checked once the output is
    /// past `ratio_grace_bytes`. Default 100. Ordinary layers compress 2:1 to 10:1; deflate
    /// itself cannot exceed about 1032:1 (gzip -9 of zeros), so a bound of 1000 would never
    /// catch a gzip bomb. With this default the decompression work of one blob is at most
    /// `max(ratio_grace_bytes, 100 × its compressed size)`. A genuine layer that is almost
    /// all zeros past 256 MiB (a preallocated disk image, the infamous sparse `lastlog`) is
    /// reported too; raise the bound to verify its DiffID.
    pub max_ratio: u64,
    /// Decompressed bytes always allowed before the ratio is checked. Default 256 MiB, so a
    /// small layer holding a large zero-filled file is not reported.
    pub ratio_grace_bytes: u64,
    /// Tar entries after which the walk stops (decompression goes on for the DiffID).
    /// Default 1,000,000. Bounds the walker's path keys (about 100 bytes per entry at worst).
    pub max_entries: u64,
    /// Longest path or link target (GNU long name, PAX record) that is tracked. Default 4096
    /// (Linux `PATH_MAX`).
    pub max_path_len: usize,
    /// Largest PAX extended header, or GNU sparse map, that is read. Default 1 MiB.
    pub max_header_bytes: usize,
    /// Largest JSON candidate kept in memory. Default 4 MiB (the size registries commonly
    /// accept for a manifest).
    pub max_json_bytes: usize,
    /// Most facts kept per layer; the rest are only counted. Default 10,000.
    pub max_facts: usize,
    /// Largest zstd window accepted, as a power of two. Default 27 (128 MiB): zstd's own
    /// default decoder limit; larger windows need `--long` and a matching decoder flag.
    pub max_zstd_window_log: u32,
}

impl Limits {
    /// The documented defaults.
    pub const DEFAULT: Limits = Limits {
        max_uncompressed_bytes: 64 * GIB,
        max_ratio: 100,
        ratio_grace_bytes: 256 * MIB,
        max_entries: 1_000_000,
        max_path_len: 4096,
        max_header_bytes: MIB as usize,
        max_json_bytes: 4 * MIB as usize,
        max_facts: 10_000,
        max_zstd_window_log: 27,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// What one pass over a blob learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobScan {
    /// Bytes in the blob.
    pub size: u64,
    /// `alg:hex` of the blob's bytes, with the algorithm the caller expected.
    pub digest: String,
    /// The whole blob, when its first non-whitespace byte is `{` or `[` and it is at most
    /// `max_json_bytes` long. Not parsed here.
    pub json: Option<Vec<u8>>,
    /// The blob starts like JSON but is larger than `max_json_bytes`.
    pub json_too_large: bool,
    /// Set when the blob looks like a layer (gzip, zstd, or tar).
    pub layer: Option<LayerScan>,
}

/// Classifies a blob from its first bytes (up to 1 KiB is used): the compression of a layer
/// candidate, or `None` when it does not look like a layer.
pub fn sniff_layer(prefix: &[u8]) -> Option<Compression> {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        return Some(Compression::Gzip);
    }
    if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Some(Compression::Zstd);
    }
    // A zstd skippable frame (magic 0x184D2A50..=0x184D2A5F, little-endian).
    if prefix.len() >= 4 && prefix[0] & 0xf0 == 0x50 && prefix[1..4] == [0x2a, 0x4d, 0x18] {
        return Some(Compression::Zstd);
    }
    // ustar magic ("ustar\0" POSIX, "ustar " GNU), even in a blob cut short of 512 bytes.
    if prefix.get(257..262) == Some(b"ustar") {
        return Some(Compression::None);
    }
    let block = prefix.get(..512)?;
    if checksum_ok(block) {
        return Some(Compression::None);
    }
    // An empty archive: zero blocks only.
    let zeros = |b: &[u8]| b.iter().all(|x| *x == 0);
    if zeros(block) && (prefix.len() == 512 || prefix.get(512..1024).is_some_and(zeros)) {
        return Some(Compression::None);
    }
    None
}

/// Scans a blob with the default read buffer. See the [module documentation](self).
///
/// `expected_algorithm` is the algorithm the blob's name or descriptor gives. For a blob whose
/// algorithm is not registered, pass [`Algorithm::Sha256`]: the digest is then informational
/// and everything else is still learned.
pub fn scan_blob(
    reader: impl Read,
    expected_algorithm: Algorithm,
    limits: &Limits,
) -> Result<BlobScan, ScanError> {
    scan_blob_with_buffer(reader, expected_algorithm, limits, DEFAULT_READ_BUFFER)
}

/// Scans a blob, reading in chunks of `read_buffer` bytes (at least 4 KiB is used).
pub fn scan_blob_with_buffer(
    reader: impl Read,
    expected_algorithm: Algorithm,
    limits: &Limits,
    read_buffer: usize,
) -> Result<BlobScan, ScanError> {
    let read_buffer = read_buffer.max(4 * KIB as usize);
    let raw_count = Cell::new(0u64);
    let mut raw = RawTee {
        inner: reader,
        hasher: Hasher::new(expected_algorithm),
        count: &raw_count,
        json: JsonCapture::new(limits.max_json_bytes),
        failed: None,
    };

    let mut prefix = vec![0u8; SNIFF_LEN];
    let n = read_full(&mut raw, &mut prefix).map_err(|e| raw.fatal(e))?;
    prefix.truncate(n);

    let mut scratch = vec![0u8; read_buffer];
    let layer = match sniff_layer(&prefix) {
        Some(compression) => Some(scan_layer(
            &mut raw,
            prefix,
            compression,
            expected_algorithm,
            limits,
            &mut scratch,
        )?),
        None => None,
    };

    drain(&mut raw, &mut scratch).map_err(|e| raw.fatal(e))?;

    let RawTee { hasher, json, .. } = raw;
    let digest = hasher.finalize();
    let (json, json_too_large) = json.finish();
    let layer = layer.map(|mut l| {
        if l.compression == Compression::None
            && expected_algorithm == Algorithm::Sha256
            && l.diff_id.is_some()
        {
            // The uncompressed stream is the blob itself: its DiffID is its digest, which was
            // computed once instead of twice (see scan_layer).
            l.diff_id = Some(digest.clone());
        }
        l
    });
    Ok(BlobScan {
        size: raw_count.get(),
        digest,
        json,
        json_too_large,
        layer,
    })
}

/// Reads `r` to its end, discarding the bytes (the tees have seen them).
fn drain<R: Read + ?Sized>(r: &mut R, scratch: &mut [u8]) -> io::Result<()> {
    loop {
        match r.read(scratch) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The raw tee: hashes, counts and JSON-captures every byte read from the blob.
struct RawTee<'c, R> {
    inner: R,
    hasher: Hasher,
    count: &'c Cell<u64>,
    json: JsonCapture,
    /// The reader's own error, kept so the scan can report it as a [`ScanError`] after the
    /// decompressor that saw a copy of it is gone.
    failed: Option<io::Error>,
}

impl<R: Read> RawTee<'_, R> {
    /// The fatal error for a failed read of the blob.
    fn fatal(&mut self, seen: io::Error) -> ScanError {
        ScanError::Read {
            offset: self.count.get(),
            source: self.failed.take().unwrap_or(seen),
        }
    }
}

impl<R: Read> Read for RawTee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                let Some(bytes) = buf.get(..n) else {
                    let e = io::Error::other("reader returned more bytes than asked for");
                    self.failed = Some(io::Error::other(e.to_string()));
                    return Err(e);
                };
                self.hasher.update(bytes);
                self.count.set(self.count.get() + n as u64);
                self.json.feed(bytes);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(copy)
            }
        }
    }
}

/// Keeps the bytes of a blob that starts like JSON, up to a bound.
struct JsonCapture {
    max: usize,
    state: JsonState,
}

enum JsonState {
    /// Only JSON whitespace so far (kept, so line and column numbers stay right).
    Undecided(Vec<u8>),
    /// Only whitespace so far, but more of it than the bound.
    UndecidedTooLarge,
    /// Starts with `{` or `[`; all bytes so far.
    Capturing(Vec<u8>),
    /// Starts with `{` or `[` but exceeds the bound.
    TooLarge,
    /// Does not start like JSON.
    NotJson,
}

fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl JsonCapture {
    fn new(max: usize) -> JsonCapture {
        JsonCapture {
            max,
            state: JsonState::Undecided(Vec::new()),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let max = self.max;
        let state = &mut self.state;
        match state {
            JsonState::Undecided(buf) => match bytes.iter().position(|b| !is_json_space(*b)) {
                None if buf.len() + bytes.len() > max => *state = JsonState::UndecidedTooLarge,
                None => buf.extend_from_slice(bytes),
                Some(i) if matches!(bytes[i], b'{' | b'[') => {
                    if buf.len() + bytes.len() > max {
                        *state = JsonState::TooLarge;
                    } else {
                        let mut v = std::mem::take(buf);
                        v.extend_from_slice(bytes);
                        *state = JsonState::Capturing(v);
                    }
                }
                Some(_) => *state = JsonState::NotJson,
            },
            JsonState::UndecidedTooLarge => match bytes.iter().find(|b| !is_json_space(**b)) {
                None => {}
                Some(b'{' | b'[') => *state = JsonState::TooLarge,
                Some(_) => *state = JsonState::NotJson,
            },
            JsonState::Capturing(buf) => {
                if buf.len() + bytes.len() > max {
                    *state = JsonState::TooLarge;
                } else {
                    buf.extend_from_slice(bytes);
                }
            }
            JsonState::TooLarge | JsonState::NotJson => {}
        }
    }

    /// `(json, json_too_large)`.
    fn finish(self) -> (Option<Vec<u8>>, bool) {
        match self.state {
            JsonState::Capturing(v) => (Some(v), false),
            JsonState::TooLarge => (None, true),
            _ => (None, false),
        }
    }
}

/// The decompressor chosen by the sniffer; reads the replayed prefix, then the raw tee.
enum Decoder<R: io::BufRead> {
    Plain(R),
    // Boxed: zlib-rs's inflate state is large, and moves of the enum should stay cheap.
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: io::BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

/// A decompression bound that was hit.
#[derive(Debug, Clone, Copy)]
struct LimitHit {
    limit: Limit,
    detail_value: u64,
}

/// The DiffID tee: hashes and counts the decompressed stream and enforces the limits.
struct DiffTee<'c, D> {
    inner: D,
    /// `None` when the DiffID equals the blob's digest (uncompressed, sha256).
    hasher: Option<Hasher>,
    count: u64,
    raw_count: &'c Cell<u64>,
    /// `None` for an uncompressed stream: reading it costs no more than reading the blob.
    limits: Option<&'c Limits>,
    hit: Option<LimitHit>,
}

fn limit_error() -> io::Error {
    io::Error::other("decompression stopped at a scan limit")
}

impl<D: Read> Read for DiffTee<'_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.hit.is_some() {
            return Err(limit_error());
        }
        let n = self.inner.read(buf)?;
        let Some(bytes) = buf.get(..n) else {
            return Err(io::Error::other(
                "decompressor returned more bytes than asked for",
            ));
        };
        let total = self.count + n as u64;
        if let Some(limits) = self.limits {
            if total > limits.max_uncompressed_bytes {
                self.hit = Some(LimitHit {
                    limit: Limit::UncompressedBytes,
                    detail_value: total,
                });
                return Err(limit_error());
            }
            if total > limits.ratio_grace_bytes
                && total > limits.max_ratio.saturating_mul(self.raw_count.get())
            {
                self.hit = Some(LimitHit {
                    limit: Limit::CompressionRatio,
                    detail_value: total,
                });
                return Err(limit_error());
            }
        }
        self.count = total;
        if let Some(h) = &mut self.hasher {
            h.update(bytes);
        }
        Ok(n)
    }
}

/// Decompresses and walks a layer candidate. Returns `Err` only when the blob itself could
/// not be read.
fn scan_layer<R: Read>(
    raw: &mut RawTee<'_, R>,
    prefix: Vec<u8>,
    compression: Compression,
    expected_algorithm: Algorithm,
    limits: &Limits,
    scratch: &mut [u8],
) -> Result<LayerScan, ScanError> {
    let raw_count = raw.count;
    let src = BufReader::with_capacity(scratch.len(), io::Cursor::new(prefix).chain(&mut *raw));
    let mut walker = TarWalker::new(limits);
    let mut error: Option<String> = None;

    let decoder = match compression {
        Compression::None => Decoder::Plain(src),
        Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(src))),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(src)
                .map_err(|e| ScanError::Harness(format!("cannot set up a zstd decoder: {e}")))?;
            d.window_log_max(limits.max_zstd_window_log)
                .map_err(|e| ScanError::Harness(format!("cannot bound the zstd window: {e}")))?;
            Decoder::Zstd(d)
        }
    };
    // For an uncompressed layer checked against sha256, the DiffID is the blob's digest:
    // hash once.
    let same_as_digest =
        compression == Compression::None && expected_algorithm == Algorithm::Sha256;
    let mut diff = DiffTee {
        inner: decoder,
        hasher: (!same_as_digest).then(|| Hasher::new(Algorithm::Sha256)),
        count: 0,
        raw_count,
        limits: (compression != Compression::None).then_some(limits),
        hit: None,
    };

    // Walk through a buffer so 512-byte header reads do not each reach the decompressor.
    let walked = {
        let mut buffered = BufReader::with_capacity(64 * KIB as usize, &mut diff);
        walker.walk(&mut buffered, scratch)
    };
    let read_error = match walked {
        Ok(_) => drain(&mut diff, scratch).err(),
        Err(e) => Some(e),
    };
    let DiffTee {
        hasher, count, hit, ..
    } = diff; // releases the raw tee

    if raw.failed.is_some() {
        return Err(raw.fatal(io::Error::other("read failed")));
    }

    let mut diff_id = None;
    match (read_error, hit) {
        (None, _) => {
            diff_id = Some(match hasher {
                Some(h) => h.finalize(),
                // Filled in with the blob's digest by the caller.
                None => String::new(),
            });
        }
        (Some(_), Some(hit)) => {
            let (what, bound) = match hit.limit {
                Limit::UncompressedBytes => (
                    format!(
                        "decompressed stream exceeds max_uncompressed_bytes ({})",
                        limits.max_uncompressed_bytes
                    ),
                    hit.detail_value,
                ),
                _ => (
                    format!(
                        "decompressed stream exceeds max_ratio ({}:1) of the compressed bytes read ({}) past ratio_grace_bytes ({})",
                        limits.max_ratio,
                        raw_count.get(),
                        limits.ratio_grace_bytes
                    ),
                    hit.detail_value,
                ),
            };
            let detail = format!(
                "{what} after {bound} bytes: possible decompression bomb; decompression stopped, no DiffID"
            );
            error = Some(detail.clone());
            walker.facts.push(LayerFact::new(
                FactKind::LimitExceeded { limit: hit.limit },
                "",
                detail,
            ));
        }
        (Some(e), None) => {
            let msg = e.to_string();
            let kind = if compression == Compression::Zstd && msg.contains("too much memory") {
                FactKind::LimitExceeded {
                    limit: Limit::ZstdWindow,
                }
            } else {
                FactKind::Decompression { compression }
            };
            let detail = match kind {
                FactKind::LimitExceeded { .. } => format!(
                    "zstd frame needs a window larger than 2^{} bytes (max_zstd_window_log): {msg}; decompression stopped, no DiffID",
                    limits.max_zstd_window_log
                ),
                _ => format!(
                    "{compression} stream is broken after {count} decompressed bytes: {msg}"
                ),
            };
            error = Some(detail.clone());
            walker.facts.push(LayerFact::new(kind, "", detail));
        }
    }
    if error.is_none() {
        // A malformed tar (the stream itself decompressed fine) is the layer's first error.
        error = walker
            .facts
            .facts
            .iter()
            .find(|f| {
                f.kind == FactKind::TarFormat
                    || matches!(f.kind, FactKind::LimitExceeded { limit } if limit != Limit::PathLength)
            })
            .map(|f| f.detail.clone());
    }

    Ok(LayerScan {
        compression,
        diff_id,
        uncompressed_size: count,
        entries: walker.entries,
        facts: walker.facts.facts,
        facts_dropped: walker.facts.dropped,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_numbers() {
        assert_eq!(sniff_layer(&[0x1f, 0x8b, 8, 0]), Some(Compression::Gzip));
        assert_eq!(
            sniff_layer(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            sniff_layer(&[0x5a, 0x2a, 0x4d, 0x18, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(sniff_layer(b"{\"a\":1}"), None);
        assert_eq!(sniff_layer(&[0u8; 1024]), Some(Compression::None));
        let mut not_empty = vec![0u8; 1024];
        not_empty[700] = 1;
        assert_eq!(sniff_layer(&not_empty), None);
        assert_eq!(sniff_layer(&[0u8; 100]), None);
    }
}
