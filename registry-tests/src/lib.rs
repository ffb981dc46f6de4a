//! Registry certification against distribution-spec, and the registry client the rest of
//! oci-certify pulls images with.
//!
//! # Architecture
//!
//! - [`client`] is the HTTP driver on reqwest. No automatic redirects or decompression; the
//!   driver follows redirects itself and records every hop, answers basic and bearer-token
//!   challenges, keeps every exchange as evidence with credentials redacted, and (with
//!   `deny_private_addresses`) enforces SSRF rules in its own DNS resolver and on every hop.
//! - [`reference`] parses `host[:port]/repository[:tag][@digest]`.
//! - [`pull`] with [`pull::pull_to_layout`] writes an OCI image layout from a registry: the
//!   manifest or index (recursively, depth- and count-bounded) and every blob, streamed to disk
//!   with sizes bounded and digests verified while streaming.
//! - [`content`] generates test content (images, indexes, nested indexes, artifacts with
//!   `artifactType` and the empty config, referrers with `subject`, empty and sha512 blobs,
//!   manifests around 4 MiB, custom media types).
//! - [`engine`] is the certification run. `GET /v2/` and capability discovery first (can an
//!   upload session be opened, does the referrers API answer), then the check groups in
//!   [`groups`] concurrently, each in a fresh repository: pull, push, tags, referrers,
//!   management. Every response passes through [`audit`], which checks 4xx JSON bodies
//!   against the error-code table and `Warning` headers. Unclaimed capabilities are skips
//!   with the reason the spec allows them; cleanup is best effort and never graded; eventual
//!   consistency is waited on by bounded polling with backoff.
//! - [`harness`] runs Debian's `docker-registry` on a free port with a generated config and
//!   temporary storage, for the tests; [`proxy`]: a fault-injecting proxy that breaks one
//!   behaviour of a real registry at a time (and can demand basic or token auth), proving the
//!   checks can fail.

pub mod audit;
pub mod client;
pub mod content;
pub mod digest;
pub mod engine;
pub mod groups;
pub mod harness;
pub mod proxy;
pub mod pull;
pub mod reference;
pub use url::Url;
