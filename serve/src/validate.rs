//! One validation, run on a blocking thread: the same engines, runner and report sinks as
//! `oci-certify image` and `oci-certify bundle`, writing into memory instead of files.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use oci_certify_core::event::RunInfo;
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_core::{Catalogue, Runner, Selection, Spec, Verdict};
use oci_certify_image::layout;
use oci_certify_reports::{sink_for, Format};
use oci_certify_validators::bundle::{check_bundle, check_state_or_features};
use oci_certify_validators::json::Limits as JsonLimits;
use oci_certify_validators::DocKind;

use crate::Limits;

/// What is validated.
#[derive(Debug, Clone)]
pub enum Input {
    /// A layout directory (a fetched reference) or an oci-archive.
    Layout(PathBuf),
    /// A single JSON document of a known kind, stored at the path.
    Document {
        /// The stored bytes.
        path: PathBuf,
        /// Its kind.
        kind: DocKind,
    },
}

/// The reports of one finished validation.
#[derive(Debug, Clone)]
pub struct Reports {
    /// The JSON report (format_version 1), exactly as `--format json` writes it.
    pub json: Vec<u8>,
    /// The report in the requested format when it is not JSON (TAP, JUnit or the HTML sink).
    pub other: Option<Vec<u8>>,
    /// The verdict.
    pub verdict: Verdict,
}

/// A validation that produced no verdict.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The input could not be used at all (not an archive, a hostile entry, a bound crossed).
    #[error("{0}")]
    Unusable(String),
    /// A bound of the service was crossed while preparing the input.
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// The request was abandoned (timeout) while the input was being prepared.
    #[error("cancelled")]
    Cancelled,
    /// The catalogue, a sink, or the disk failed: the service's fault.
    #[error("internal error: {0}")]
    Harness(String),
}

impl Blame for ValidateError {
    fn fault(&self) -> Fault {
        match self {
            ValidateError::Unusable(_) | ValidateError::TooLarge { .. } => Fault::Input,
            ValidateError::Cancelled => Fault::Environment,
            ValidateError::Harness(_) => Fault::Harness,
        }
    }
}

/// A writer shared between a sink (which the runner owns) and the caller.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The layout options the service's limits describe.
pub fn layout_options(limits: &Limits) -> layout::Options {
    let defaults = layout::Options::default();
    let mut blob = defaults.limits.clone();
    blob.max_uncompressed_bytes = limits.max_decompressed_bytes;
    blob.ratio_grace_bytes = blob.ratio_grace_bytes.min(limits.max_decompressed_bytes);
    blob.max_json_bytes = limits.max_json_bytes;
    layout::Options {
        limits: blob,
        json: json_limits(limits),
        max_blobs: limits.max_blobs,
        max_archive_json_bytes: limits
            .max_json_bytes
            .saturating_mul(limits.max_blobs.min(1024)),
        scan: oci_certify_image::ScanOptions {
            read_buffer: 256 << 10,
            threads: 1,
        },
        ..defaults
    }
}

fn json_limits(limits: &Limits) -> JsonLimits {
    JsonLimits {
        max_bytes: limits.max_json_bytes,
        max_depth: limits.max_json_depth,
    }
}

/// The directory, beside an upload, that holds its inflated tar.
const INFLATED: &str = "inflated";

/// If `path` is gzip-compressed, inflates it next to itself (`<path>.tar`), stopping at
/// `limits.max_decompressed_bytes` or when `cancel` is set, and returns the plain tar's path.
/// The engine inflates a `.tar.gz` itself, but without a total bound; inflating here first is
/// what bounds an outer decompression bomb.
pub fn inflate_archive(
    path: &Path,
    limits: &Limits,
    cancel: &AtomicBool,
) -> Result<PathBuf, ValidateError> {
    let io = |e: std::io::Error| ValidateError::Harness(format!("reading the upload: {e}"));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    if n < 2 || magic != [0x1f, 0x8b] {
        return Ok(path.to_path_buf());
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    // Same file name, in a sibling directory whose prefix `run` hides too: reports name the
    // user's file, not ours.
    let out_dir = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(INFLATED);
    std::fs::create_dir_all(&out_dir).map_err(io)?;
    let out_path = out_dir.join(path.file_name().unwrap_or_else(|| "upload".as_ref()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path).map_err(io)?);
    let mut buf = vec![0u8; 128 << 10];
    let mut total = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ValidateError::Cancelled);
        }
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(ValidateError::Unusable(format!(
                    "the upload starts like gzip but does not inflate: {e}"
                )))
            }
        };
        total += n as u64;
        if total > limits.max_decompressed_bytes {
            return Err(ValidateError::TooLarge {
                what: "the decompressed archive",
                limit: limits.max_decompressed_bytes,
            });
        }
        out.write_all(&buf[..n]).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(out_path)
}

/// Runs one validation to the end and returns its reports. `subject` names the content in the
/// reports; `hide` is a path prefix (the request's temporary directory) removed from every
/// report, so no server path leaks and locations read as the user's own names.
pub fn run(
    input: &Input,
    subject: &str,
    hide: &Path,
    format: Format,
    limits: &Limits,
) -> Result<Reports, ValidateError> {
    let spec = match input {
        Input::Layout(_) => Spec::Image,
        Input::Document { kind, .. } => kind.spec(),
    };
    let catalogue = Catalogue::builtin()
        .map_err(|e| ValidateError::Harness(e.to_string()))?
        .spec(spec, None)
        .ok_or_else(|| ValidateError::Harness(format!("no {spec} catalogue is embedded")))?;
    let command = match (spec, input) {
        (Spec::Runtime, _) => "bundle",
        _ => "image",
    };
    let info = RunInfo {
        tool: oci_certify_core::TOOL_NAME.to_string(),
        tool_version: oci_certify_core::TOOL_VERSION.to_string(),
        spec,
        spec_version: catalogue.version.clone(),
        subject: subject.to_string(),
        command: command.to_string(),
    };
    let json = Buffer::default();
    let mut sinks = vec![sink_for(Format::Json, Box::new(json.clone()))];
    let other = (format != Format::Json).then(Buffer::default);
    if let Some(buffer) = &other {
        sinks.push(sink_for(format, Box::new(buffer.clone())));
    }
    let selection = Selection {
        specs: vec![spec],
        ..Selection::all()
    };
    let runner = Runner::start(catalogue, selection, info, sinks);
    let engine: Result<(), String> = match input {
        Input::Layout(path) => {
            layout::check_path(&runner, path, &layout_options(limits)).map_err(|e| e.to_string())
        }
        Input::Document { path, kind } => run_document(&runner, path, *kind, limits),
    };
    let end = runner
        .finish()
        .map_err(|e| ValidateError::Harness(e.to_string()))?;
    let hide = [
        format!("{}/{INFLATED}/", hide.display()),
        format!("{}/", hide.display()),
    ];
    engine.map_err(|e| ValidateError::Unusable(e.replace(&hide[0], "").replace(&hide[1], "")))?;
    if end.summary.total() == 0 {
        return Err(ValidateError::Unusable(
            "no test point was run on this input".into(),
        ));
    }
    Ok(Reports {
        json: strip(strip(json.take(), &hide[0]), &hide[1]),
        other: other.map(|b| strip(strip(b.take(), &hide[0]), &hide[1])),
        verdict: end.verdict,
    })
}

/// The wiring of `oci-certify image FILE.json` and `oci-certify bundle [--media-type] FILE`.
fn run_document(
    runner: &Runner<'_>,
    path: &Path,
    kind: DocKind,
    limits: &Limits,
) -> Result<(), String> {
    let json = json_limits(limits);
    match kind {
        DocKind::RuntimeConfig => check_bundle(runner, path, json).map_err(|e| e.to_string()),
        DocKind::RuntimeState | DocKind::RuntimeFeatures => {
            check_state_or_features(runner, path, kind, json).map_err(|e| e.to_string())
        }
        _ => {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            oci_certify_validators::check_document(
                runner,
                kind.def_name(),
                None,
                &name,
                &bytes,
                kind,
                json,
            );
            runner.finish_group(kind.def_name());
            Ok(())
        }
    }
}

fn strip(bytes: Vec<u8>, prefix: &str) -> Vec<u8> {
    let p = prefix.as_bytes();
    if p.len() < 2 || !bytes.windows(p.len()).any(|w| w == p) {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(p) {
            i += p.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
