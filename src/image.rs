//! `oci-certify image PATH`: wiring to the image engines.

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_certify_core::Spec;
use oci_certify_image::layout;
use oci_certify_validators::document::image_kind_for;
use oci_certify_validators::json::Limits;

use crate::cli::ReportArgs;
use crate::output;

/// `oci-certify image HOST/REPO:TAG`: pulls the reference with the registry crate's client
/// (manifest or index, recursively, and every blob, digest-checked while streaming) into a
/// temporary layout, validates that layout like a directory, and removes it.
fn run_reference(
    reference: &oci_certify_registry::reference::Reference,
    plain_http: bool,
    media_type: Option<&str>,
    ref_name: Option<&str>,
    report: &ReportArgs,
) -> Result<i32> {
    use oci_certify_registry::client::{Auth, Client, ClientOptions};
    use oci_certify_registry::pull::{pull_to_layout, PullLimits};
    if media_type.is_some() || ref_name.is_some() {
        bail!("--media-type and --ref apply to files; {reference} is a registry reference");
    }
    let mut opts = ClientOptions::for_registry(reference.registry(), plain_http)?;
    if let Ok(token) = std::env::var(crate::registry::TOKEN_ENV) {
        if !token.is_empty() {
            opts.auth = Auth::Bearer(token);
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("oci-certify-pull-")
        .tempdir()
        .context("making a temporary directory for the pulled image")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP client's runtime")?;
    runtime
        .block_on(async {
            let client = Client::new(opts)?;
            pull_to_layout(&client, reference, dir.path(), &PullLimits::default()).await
        })
        .with_context(|| format!("pulling {reference}"))?;
    let name = reference.to_string();
    output::certify("image", Spec::Image, name, report, |runner| {
        layout::check_path(runner, dir.path(), &layout::Options::default())?;
        Ok(())
    })
}

pub fn run(
    path: &Path,
    plain_http: bool,
    media_type: Option<&str>,
    ref_name: Option<&str>,
    report: &ReportArgs,
) -> Result<i32> {
    // Not a file here but shaped like a registry reference: pull it into a temporary layout.
    if !path.exists() {
        if let Some(reference) = path
            .to_str()
            .and_then(|s| oci_certify_registry::reference::Reference::parse(s).ok())
        {
            return run_reference(&reference, plain_http, media_type, ref_name, report);
        }
    }
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
