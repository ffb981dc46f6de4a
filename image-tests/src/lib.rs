//! Walking OCI image blobs: digests, layers, and the single-pass scanner every image check
//! relies on.
//!
//! # The design in one paragraph
//!
//! **Hash once, stream always.** A blob is read exactly once, front to back, in large chunks,
//! and never held whole in memory. While the bytes stream past, a *tee* hashes them with the
//! algorithm the blob's name or descriptor expects ([`digest::Hasher`], SHA-NI accelerated),
//! counts them, and keeps them only if the blob starts like JSON and is small
//! ([`blob::Limits::max_json_bytes`]). If the first bytes say "layer" (gzip, zstd, or a tar
//! header), the same stream is fed to a decompressor whose output passes a second tee that
//! computes the DiffID and into a tar walker ([`layer`]) that records what the image spec
//! cares about — duplicate paths, whiteouts, sparse files, paths escaping the root — as
//! [`layer::LayerFact`]s keyed to catalogue requirement ids. When the walk ends, the rest of
//! both streams is drained so the digest and DiffID cover every byte. Blobs are scanned in
//! parallel across cores ([`scan::scan_files`]).
//!
//! **Hostile input is a finding, not a crash.** Every bound — decompressed size and ratio
//! (decompression bombs), tar entries, path and header lengths, kept facts, the zstd window —
//! is in [`blob::Limits`] with a documented default. Crossing one stops that part of the work
//! and records [`layer::FactKind::LimitExceeded`]; the blob's own digest is always completed.
//! Only a failure to read the file itself is an error ([`error::ScanError`]), and it says who
//! is at fault ([`oci_certify_core::fault::Blame`]).
//!
//! ```
//! use oci_certify_image::blob::{scan_blob, Limits};
//! use oci_certify_image::digest::Algorithm;
//!
//! let scan = scan_blob(&b"{\"schemaVersion\":2}"[..], Algorithm::Sha256, &Limits::default()).unwrap();
//! assert_eq!(scan.size, 19);
//! assert!(scan.json.is_some() && scan.layer.is_none());
//! ```
//!
//! # Modules
//!
//! - [`digest`] — the digest grammar, registered algorithms, and the hasher.
//! - [`blob`] — [`blob::scan_blob`], [`blob::Limits`], [`blob::BlobScan`].
//! - [`layer`] — the tar walk and its facts.
//! - [`scan`] — opening blob files safely and scanning many in parallel.
//! - [`error`] — [`error::ScanError`].
//!
//! - [`layout`] — reading layouts and oci-archives into [`layout::Contents`] (every blob
//!   scanned once), then walking them from `index.json` down: the layout rules, every document
//!   through the validators, every descriptor against its blob, every layer against its media
//!   type and the config's `diff_ids`.

pub mod blob;
pub mod digest;
pub mod error;
pub mod layer;
pub mod layout;
pub mod scan;

pub use blob::{scan_blob, BlobScan, Limits};
pub use digest::{Algorithm, Digest, Hasher};
pub use error::ScanError;
pub use layer::{Compression, FactKind, LayerFact, LayerScan, Limit};
pub use scan::{scan_files, ScanOptions};
