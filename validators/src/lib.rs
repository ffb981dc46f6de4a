//! Static validators of OCI documents: the schema layer (JSON Schemas written from the spec
//! prose) and the rule layer (every MUST and SHOULD a schema cannot express), both judging raw
//! documents so that unknown fields and absent defaults are seen as they are.
//!
//! - [`json`]: the strict reader every document goes through first. It keeps positions (for
//!   `file:line:column` in findings) and duplicate keys, which `serde_json` drops.
//! - [`schema`]: the schema layer; constraints keyed to catalogue ids by `x-requirement`.
//! - [`rules`]: the rule layer; `Check<Doc>` declarations per document kind.
//! - [`document`]: [`document::check_document`], which runs all of it on one document and
//!   records the outcomes with a [`oci_certify_core::Runner`].

pub mod bundle;
pub mod document;
pub mod json;
pub mod rules;
pub mod schema;

pub use document::{check_document, Doc};
pub use schema::DocKind;
