//! Report sinks of oci-certify: TAP 14, JSON, JUnit XML, HTML and the terminal display; and a
//! lenient TAP reader.
//!
//! # How reports work
//!
//! A run is a stream of [`Event`]s (see [`oci_certify_core::event`]): one `RunStarted` with
//! what is certified, then for each test point a `PointStarted` and a `PointFinished` carrying
//! the requirement's metadata (id, level, anchor URL, summary, spec document) and the
//! [`Outcome`](oci_certify_core::check::Outcome) with its evidence, a `GroupFinished` after the
//! last point of each group, `Diagnostic`s at any time, and one `RunFinished` with the counts
//! and the verdict. The [`Runner`](oci_certify_core::runner::Runner) fans every event out to
//! every [`Sink`] in order.
//!
//! A sink is anything that implements [`Sink::handle`]. Reports never see a check, only
//! events, so this crate depends on `oci-certify-core` alone and any engine's results render
//! the same way. There are two kinds of sink:
//!
//! * **streaming** sinks write as events arrive: [`tap::TapSink`] writes each group as a TAP 14
//!   subtest when the group finishes and flushes, so a long run can be followed live (points of
//!   groups that run in parallel may interleave; the sink buffers each group until its
//!   `GroupFinished`); [`terminal::TerminalSink`] shows progress and prints diagnostics at once;
//! * **rendering** sinks keep what they need and write one document on `RunFinished`:
//!   [`json::JsonSink`], [`junit::JunitSink`], [`html::HtmlSink`].
//!
//! A sink that cannot write returns a [`SinkError`] (an environment fault: full disk, closed
//! pipe). The runner keeps feeding the other sinks and reports the first error when the run
//! finishes, so one broken output never hides the others.
//!
//! The same outcome reads the same way in every format:
//!
//! | outcome | TAP 14 | JUnit | verdict |
//! |---|---|---|---|
//! | pass | `ok` | passing test case | green |
//! | fail, MUST / MUST NOT | `not ok` | `<failure type="MUST">` | red |
//! | fail, SHOULD / SHOULD NOT | `not ok ... # TODO should` | passing, `WARNING (SHOULD)` in `<system-out>` | yellow |
//! | fail, MAY | `not ok ... # TODO may` | passing, `WARNING (MAY)` in `<system-out>` | — |
//! | skip | `ok ... # SKIP reason` | `<skipped>` | — |
//! | harness error | `not ok ... # harness error` | `<error>` | exit 2 |
//!
//! # Using the sinks
//!
//! ```
//! use oci_certify_core::catalogue::SpecCatalogue;
//! use oci_certify_core::{Failure, Outcome, RunInfo, Runner, Selection, Spec};
//! use oci_certify_reports::{sink_for, Format};
//!
//! let catalogue = SpecCatalogue::parse(
//!     "demo.toml",
//!     r#"
//! spec = "image"
//! spec_version = "1.1.1"
//! repository = "https://github.com/opencontainers/image-spec"
//! [[requirement]]
//! id = "image.manifest.media-type"
//! anchor = "manifest.md#image-manifest-property-descriptions"
//! level = "MUST"
//! subject = "image"
//! platform = "all"
//! summary = "The manifest's mediaType is the OCI image manifest media type."
//! "#,
//! )?;
//! let info = RunInfo {
//!     tool: "oci-certify".into(),
//!     tool_version: "0.1.0".into(),
//!     spec: Spec::Image,
//!     spec_version: "1.1.1".into(),
//!     subject: "./layout".into(),
//!     command: "image".into(),
//! };
//! // Any writer: a file, stdout, a buffer. Several formats at once is fine.
//! let sinks = vec![
//!     sink_for(Format::Tap, Box::new(std::io::sink())),
//!     sink_for(Format::from_extension(".json").unwrap(), Box::new(std::io::sink())),
//! ];
//! let runner = Runner::start(&catalogue, Selection::all(), info, sinks);
//! runner.record(
//!     "manifest",
//!     None,
//!     "image.manifest.media-type",
//!     Outcome::fail(Failure::new("wrong media type").expected("application/vnd.oci.image.manifest.v1+json")),
//! );
//! runner.finish_group("manifest");
//! let end = runner.finish()?; // the first sink error, if any sink failed to write
//! assert_eq!(end.verdict.as_str(), "red");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Writing a sink
//!
//! Handle the events you need and ignore the rest; keep state in the sink; do the writing
//! on the event that completes what you render.
//!
//! ```
//! use oci_certify_core::event::{Event, Sink, SinkError};
//!
//! /// Counts failed points per group.
//! #[derive(Default)]
//! struct FailuresPerGroup(std::collections::BTreeMap<String, usize>);
//!
//! impl Sink for FailuresPerGroup {
//!     fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
//!         if let Event::PointFinished(r) = event {
//!             if r.outcome.is_fail() {
//!                 *self.0.entry(r.point.group.clone()).or_default() += 1;
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! # Reading TAP
//!
//! [`tap_reader`] parses TAP 13 and 14 (ours or anyone's) into a tree, leniently and without
//! ever panicking; its docs say why the `tap_parser` crate is not used.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

pub use oci_certify_core::event::{Event, Sink, SinkError};

mod common;
pub mod html;
pub mod json;
pub mod junit;
pub mod tap;
pub mod tap_reader;
pub mod terminal;
mod xml;
mod yaml;

pub use html::HtmlSink;
pub use json::JsonSink;
pub use junit::JunitSink;
pub use tap::TapSink;
pub use terminal::TerminalSink;

/// A report file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TAP 14 ([`TapSink`]).
    Tap,
    /// One JSON document ([`JsonSink`]).
    Json,
    /// JUnit XML ([`JunitSink`]).
    Junit,
    /// One self-contained HTML page ([`HtmlSink`]).
    Html,
}

/// A format name or extension that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report format `{0}` (expected tap, json, junit or html)")]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [Format::Tap, Format::Json, Format::Junit, Format::Html];

    /// The name used on the command line: `tap`, `json`, `junit`, `html`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tap => "tap",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Html => "html",
        }
    }

    /// The usual file extension, with its dot: `.tap`, `.json`, `.xml`, `.html`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tap => ".tap",
            Format::Json => ".json",
            Format::Junit => ".xml",
            Format::Html => ".html",
        }
    }

    /// The format of a file extension, with or without its dot, in any case: `.tap`, `.json`,
    /// `.xml` (JUnit), `.html` or `.htm`.
    pub fn from_extension(extension: &str) -> Option<Format> {
        let ext = extension.strip_prefix('.').unwrap_or(extension);
        match ext.to_ascii_lowercase().as_str() {
            "tap" => Some(Format::Tap),
            "json" => Some(Format::Json),
            "xml" => Some(Format::Junit),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }

    /// The format a file name implies by its extension (`report.xml` is JUnit).
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_extension)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses a name (`tap`, `json`, `junit`, `html`, any case); `xml` is accepted for JUnit.
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tap" => Ok(Format::Tap),
            "json" => Ok(Format::Json),
            "junit" | "xml" => Ok(Format::Junit),
            "html" => Ok(Format::Html),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// The sink of a file format, writing to `writer`. TAP writes as the run goes, one whole
/// group per write, flushing after each; the others write one document when the run finishes.
/// Every sink writes whole chunks, so a plain `File` needs no buffering.
pub fn sink_for(format: Format, writer: Box<dyn Write + Send>) -> Box<dyn Sink> {
    match format {
        Format::Tap => Box::new(TapSink::new(writer)),
        Format::Json => Box::new(JsonSink::new(writer)),
        Format::Junit => Box::new(JunitSink::new(writer)),
        Format::Html => Box::new(HtmlSink::new(writer)),
    }
}

#[cfg(test)]
#[path = "../tests/common/sample.rs"]
pub(crate) mod sample;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_and_extensions() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(Format::from_extension(f.extension()), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!(Format::from_extension("XML"), Some(Format::Junit));
        assert_eq!(Format::from_extension(".htm"), Some(Format::Html));
        assert_eq!(Format::from_extension(".txt"), None);
        assert_eq!(
            Format::from_path(Path::new("out/report.TAP")),
            Some(Format::Tap)
        );
        assert_eq!("JUnit".parse::<Format>(), Ok(Format::Junit));
        assert!("yaml".parse::<Format>().is_err());
    }

    #[test]
    fn sink_for_writes_each_format() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let events = sample::events();
        for f in Format::ALL {
            let buf = Shared::default();
            let mut sink = sink_for(f, Box::new(buf.clone()));
            for e in &events {
                sink.handle(e).unwrap();
            }
            let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            let starts = match f {
                Format::Tap => "TAP version 14\n",
                Format::Json => "{",
                Format::Junit => "<?xml",
                Format::Html => "<!DOCTYPE html>",
            };
            assert!(text.starts_with(starts), "{f}: {text}");
        }
    }
}
