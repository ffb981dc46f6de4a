//! `oci-certify image PATH`: wiring to the image engines.

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_certify_core::Spec;
use oci_certify_image::layout;
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
    let name = path.display().to_string();
    let mut head = [0u8; 512];
    let head_len = if meta.is_file() {
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .with_context(|| format!("reading {}", path.display()))?
    } else {
        0
    };
    if meta.is_dir() || layout::looks_like_archive(&head[..head_len]) {
        if media_type.is_some() {
            bail!("--media-type describes a single document; {name} is a layout or archive");
        }
        let opts = layout::Options {
            ref_name: ref_name.map(str::to_string),
            ..layout::Options::default()
        };
        return output::certify("image", Spec::Image, name, report, |runner| {
            layout::check_path(runner, path, &opts)?;
            Ok(())
        });
    }
    if ref_name.is_some() {
        bail!("--ref selects an image of a layout; {name} is a single document");
    }
    let limits = Limits::default();
    if meta.len() > limits.max_bytes as u64 {
        bail!(
            "{name} is {} bytes; a single JSON document is limited to {} bytes",
            meta.len(),
            limits.max_bytes
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {name}"))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let kind = image_kind_for(&file_name, &bytes, media_type)?;
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
