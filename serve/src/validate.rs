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
    /// The report in the requested format when it is TAP or JUnit.
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
        // What an archive's JSON documents may hold in memory together: far above real
        // images (kilobytes), far below what 256 MiB of JSON-looking blobs would take.
        max_archive_json_bytes: limits.max_json_bytes.saturating_mul(16),
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

/// How a feed ended.
#[derive(Debug)]
enum FeedEnd {
    /// Everything was written.
    Done,
    /// The engine stopped reading (it had what it needed, or refused the archive).
    ReaderGone,
    /// The decompressed archive crossed `max_decompressed_bytes`.
    TooLarge,
    /// The request was abandoned.
    Cancelled,
    /// The gzip stream is broken.
    BadGzip(String),
    /// The upload could not be read.
    Io(String),
}

/// Validates an uploaded oci-archive, fed to the engine through a pipe.
///
/// The engine reads an archive from a path. Here that path (`link`, named like the upload so
/// reports read naturally) is a symbolic link to `/proc/self/fd/N`, the read end of a pipe; a
/// feeder thread writes the upload into the pipe, inflating it first if it is gzip. The feeder
/// is where the service keeps control of a running validation:
///
/// * it counts the inflated bytes and stops at `max_decompressed_bytes` (an outer
///   decompression bomb: 413);
/// * it checks `cancel` between chunks, so an abandoned request (timeout) stops feeding, the
///   engine reads end-of-file, and the blocking thread and its permit are free within one
///   buffer's worth of work.
#[allow(clippy::too_many_arguments)]
pub fn run_archive(
    upload: &Path,
    link: &Path,
    subject: &str,
    hide: &[&Path],
    format: Format,
    limits: &Limits,
    cancel: Arc<AtomicBool>,
) -> Result<Reports, ValidateError> {
    use std::os::fd::AsRawFd;
    let harness = |what: &str, e: std::io::Error| ValidateError::Harness(format!("{what}: {e}"));
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| harness("creating a pipe", e.into()))?;
    std::os::unix::fs::symlink(format!("/proc/self/fd/{}", read.as_raw_fd()), link)
        .map_err(|e| harness("linking the pipe", e))?;
    let file = std::fs::File::open(upload).map_err(|e| harness("reading the upload", e))?;
    let max = limits.max_decompressed_bytes;
    let feeder = std::thread::Builder::new()
        .name("oci-certify-serve-feed".into())
        .spawn(move || feed(file, std::fs::File::from(write), max, &cancel))
        .map_err(|e| harness("starting the feeder", e))?;
    let result = run(
        &Input::Layout(link.to_path_buf()),
        subject,
        hide,
        format,
        limits,
    );
    // The engine has closed its end; closing ours makes a feeder still writing see EPIPE.
    drop(read);
    let end = feeder
        .join()
        .map_err(|_| ValidateError::Harness("the feeder thread panicked".into()))?;
    match end {
        FeedEnd::Done | FeedEnd::ReaderGone => result,
        FeedEnd::TooLarge => Err(ValidateError::TooLarge {
            what: "the decompressed archive",
            limit: max,
        }),
        FeedEnd::Cancelled => Err(ValidateError::Cancelled),
        FeedEnd::BadGzip(e) => Err(ValidateError::Unusable(format!(
            "the upload starts like gzip but does not inflate: {e}"
        ))),
        FeedEnd::Io(e) => Err(ValidateError::Harness(format!("reading the upload: {e}"))),
    }
}

fn feed(
    mut file: std::fs::File,
    mut pipe: std::fs::File,
    max: u64,
    cancel: &AtomicBool,
) -> FeedEnd {
    let mut magic = [0u8; 2];
    let gzip = match file.read(&mut magic) {
        Ok(2) => magic == [0x1f, 0x8b],
        Ok(_) => false,
        Err(e) => return FeedEnd::Io(e.to_string()),
    };
    if let Err(e) = std::io::Seek::rewind(&mut file) {
        return FeedEnd::Io(e.to_string());
    }
    let mut source: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        )))
    } else {
        Box::new(file)
    };
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return FeedEnd::Cancelled;
        }
        let n = match source.read(&mut buf) {
            Ok(0) => return FeedEnd::Done,
            Ok(n) => n,
            Err(e) if gzip => return FeedEnd::BadGzip(e.to_string()),
            Err(e) => return FeedEnd::Io(e.to_string()),
        };
        total += n as u64;
        if total > max {
            return FeedEnd::TooLarge;
        }
        if pipe.write_all(&buf[..n]).is_err() {
            return FeedEnd::ReaderGone;
        }
    }
}

/// Runs one validation to the end and returns its reports. `subject` names the content in the
/// reports; `hide` lists path prefixes (the request's temporary directories) removed from
/// every report, in order, so no server path leaks and locations read as the user's own names.
pub fn run(
    input: &Input,
    subject: &str,
    hide: &[&Path],
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
    // The result page is rendered from the JSON report; TAP and JUnit come from their sinks.
    let other = matches!(format, Format::Tap | Format::Junit).then(Buffer::default);
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
    let hide: Vec<String> = hide.iter().map(|p| format!("{}/", p.display())).collect();
    let clean = |bytes: Vec<u8>| hide.iter().fold(bytes, |b, p| strip(b, p));
    engine.map_err(|e| {
        let text = clean(e.into_bytes());
        ValidateError::Unusable(String::from_utf8_lossy(&text).into_owned())
    })?;
    if end.summary.total() == 0 {
        return Err(ValidateError::Unusable(
            "no test point was run on this input".into(),
        ));
    }
    Ok(Reports {
        json: clean(json.take()),
        other: other.map(|b| clean(b.take())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(bytes: &[u8]) -> (tempfile::TempDir, std::fs::File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        (dir, file)
    }

    #[test]
    fn a_cancelled_feed_stops_before_writing() {
        let (_dir, file) = upload(&[1u8; 4096]);
        let mut out = tempfile::tempfile().unwrap();
        let end = feed(
            file,
            out.try_clone().unwrap(),
            1 << 20,
            &AtomicBool::new(true),
        );
        assert!(matches!(end, FeedEnd::Cancelled), "{end:?}");
        assert_eq!(std::io::Seek::stream_position(&mut out).unwrap(), 0);
    }

    #[test]
    fn a_feed_stops_at_the_decompressed_bound_and_when_the_reader_goes() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&vec![0u8; 4 << 20]).unwrap();
        let (_dir, file) = upload(&gz.finish().unwrap());
        let out = tempfile::tempfile().unwrap();
        let end = feed(file, out, 1 << 20, &AtomicBool::new(false));
        assert!(matches!(end, FeedEnd::TooLarge), "{end:?}");

        let (_dir, file) = upload(&[1u8; 1 << 20]);
        let (read, write) = rustix::pipe::pipe().unwrap();
        drop(read);
        let end = feed(
            file,
            std::fs::File::from(write),
            8 << 20,
            &AtomicBool::new(false),
        );
        assert!(matches!(end, FeedEnd::ReaderGone), "{end:?}");
    }

    #[test]
    fn prefixes_are_stripped_everywhere() {
        assert_eq!(
            strip(b"/tmp/x/a and /tmp/x/b /tmp/y".to_vec(), "/tmp/x/"),
            b"a and b /tmp/y".to_vec()
        );
    }
}
