//! The rule layer: every requirement on a single document that a JSON Schema cannot express
//! (uniqueness, relations between fields, SHOULD-level advice, value grammars that need code).
//!
//! Each file holds the checks of one area as `pub const CHECKS: &[Check<Doc>]`, one line per
//! check: the requirement id and the function. Adding a check is adding a function and its
//! line. A requirement is judged either by the schema (`validators/schemas/`) or here, never
//! both (a test enforces it).

pub mod image;
pub mod runtime;
pub(crate) mod util;

use oci_certify_core::check::Check;
use oci_certify_core::coverage::CheckInfo;

use crate::document::Doc;
use crate::schema::{DocKind, KindSchema};

/// The rule-layer checks of a document kind.
pub fn checks_for(kind: DocKind) -> &'static [Check<Doc>] {
    match kind {
        DocKind::ImageManifest => image::MANIFEST,
        DocKind::ImageIndex => image::INDEX,
        DocKind::ImageConfig => image::CONFIG,
        DocKind::Descriptor => image::DESCRIPTOR,
        DocKind::OciLayout => image::LAYOUT_HEADER,
        DocKind::RuntimeConfig => runtime::CONFIG,
        DocKind::RuntimeState => runtime::STATE,
        DocKind::RuntimeFeatures => runtime::FEATURES,
    }
}

/// Metadata of every check this crate declares (schema constraints and rules), for coverage.
pub fn all_checks() -> Vec<CheckInfo> {
    let mut out = Vec::new();
    for kind in DocKind::ALL {
        if let Ok(schema) = KindSchema::get(kind) {
            out.extend(schema.requirements().iter().map(|id| CheckInfo {
                engine: "schema",
                requirement: id,
            }));
        }
        out.extend(checks_for(kind).iter().map(|c| c.info("rules")));
    }
    out.extend(crate::bundle::CHECKS.iter().map(|c| c.info("bundle")));
    out.sort();
    out.dedup();
    out
}
