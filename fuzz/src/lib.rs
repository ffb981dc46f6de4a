//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use oci_certify_core::event::{Event, RunInfo, Sink, SinkError};
use oci_certify_core::{Catalogue, Outcome, Runner, Selection, Spec};

/// What a sink lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Discards every event, but panics on a harness error: an `Outcome::Error` point (a
    /// check keyed to an unknown id, a check that broke) or any diagnostic. For engines that
    /// never emit a diagnostic about their input (the document validators).
    NoDiagnostics,
    /// Discards every event, but panics on an `Outcome::Error` point. Diagnostics are allowed
    /// (the layout walker uses them to tell the reader what it did not follow).
    NoErrors,
}

/// A sink that discards events and turns harness errors into panics, so libFuzzer reports
/// them as crashes: on hostile input the harness must still judge, not break.
#[derive(Debug)]
pub struct Discard(pub Strictness);

impl Sink for Discard {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        match event {
            Event::Diagnostic { message } if self.0 == Strictness::NoDiagnostics => {
                panic!("harness diagnostic: {message}")
            }
            Event::PointFinished(r) => {
                if let Outcome::Error { message } = &r.outcome {
                    panic!("harness error for {}: {message}", r.point.requirement.id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A runner over the built-in catalogue of `spec`, selecting everything, with one
/// [`Discard`] sink.
pub fn runner(spec: Spec, strictness: Strictness) -> Runner<'static> {
    let catalogue = Catalogue::builtin()
        .expect("the built-in catalogue loads")
        .spec(spec, None)
        .expect("the built-in catalogue has every spec");
    let info = RunInfo {
        tool: "oci-certify-fuzz".into(),
        tool_version: "0".into(),
        spec,
        spec_version: catalogue.version.clone(),
        subject: "fuzz input".into(),
        command: "fuzz".into(),
    };
    Runner::start(
        catalogue,
        Selection::all(),
        info,
        vec![Box::new(Discard(strictness))],
    )
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// gzip of `bytes` (fastest level: the fuzz input, not the compressor, is under test).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

/// zstd of `bytes` (level 1).
pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 1).expect("zstd compresses any input")
}
