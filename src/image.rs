//! `oci-certify image PATH`: wiring to the image engines.

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_certify_core::Spec;
use oci_certify_validators::document::image_kind_for;
use oci_certify_validators::json::Limits;

use crate::cli::ReportArgs;
use crate::output;

pub fn run(
    path: &Path,
    media_type: Option<&str>,
    ref_name: Option<&str>,
    report: &ReportArgs,
) -> Result<i32> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_dir() {
        bail!(
            "{} is a directory: image layout validation is not available in oci-certify {} yet; \
             single JSON documents are (see README.md, section Status)",
            path.display(),
            oci_certify_core::TOOL_VERSION
        );
    }
    if ref_name.is_some() {
        bail!(
            "--ref selects an image of a layout; {} is a single document",
            path.display()
        );
    }
    let limits = Limits::default();
    if meta.len() > limits.max_bytes as u64 {
        bail!(
            "{} is {} bytes; a single JSON document is limited to {} bytes (archives are not supported yet)",
            path.display(),
            meta.len(),
            limits.max_bytes
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) || bytes.get(257..262) == Some(b"ustar") {
        bail!(
            "{} is an archive: oci-archive validation is not available in oci-certify {} yet",
            path.display(),
            oci_certify_core::TOOL_VERSION
        );
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let kind = image_kind_for(&file_name, &bytes, media_type)?;
    let name = path.display().to_string();
    output::certify("image", Spec::Image, name.clone(), report, |runner| {
        oci_certify_validators::check_document(
            runner,
            kind.def_name(),
            None,
            &name,
            &bytes,
            kind,
            limits,
        );
        runner.finish_group(kind.def_name());
        Ok(())
    })
}
