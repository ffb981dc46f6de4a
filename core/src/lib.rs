//! The core of oci-certify: what a requirement is, what a check is, and how a run is reported.
//!
//! Everything else in the suite is built on four ideas that live here:
//!
//! 1. **The catalogue** ([`catalogue`]): one TOML file per specification version
//!    (`core/catalogue/*.toml`) lists every normative statement of that spec, each with a stable
//!    dotted id, a version-pinned anchor into the spec text, a level (MUST ... MAY), the party it
//!    binds and a summary in this project's own words. The catalogue is data, embedded in the
//!    binary at build time.
//! 2. **A check** ([`check::Check`]): one declaration that ties a requirement id to the function
//!    that judges it, typed by the context it needs (a JSON document, a bundle, a running
//!    container, a registry session). Engines (validators, image, runtime and registry crates)
//!    own their checks; nothing else does.
//! 3. **Events** ([`event::Event`]): a run is a stream of events: run started, test point
//!    finished with its [`check::Outcome`] and evidence, group finished, run finished with the
//!    [`event::Verdict`]. Every test point carries the requirement's metadata, so reports render
//!    from events alone and never import a check.
//! 4. **The runner** ([`runner::Runner`]): the hub between engines and sinks. It applies the
//!    user's [`selection::Selection`], counts outcomes, grades the verdict (red when a MUST
//!    failed, yellow when only SHOULDs did, green otherwise) and fans events out to every
//!    [`event::Sink`].
//!
//! Errors say who is at fault ([`fault::Fault`]): the subject under test, the user's input, the
//! environment, or the harness itself. That split decides exit codes and keeps a broken host
//! from being reported as a broken runtime.

pub mod anchors;
pub mod catalogue;
pub mod check;
pub mod coverage;
pub mod event;
pub mod exit;
pub mod fault;
pub mod runner;
pub mod selection;
pub mod testing;

pub use catalogue::{Catalogue, Level, Platform, Requirement, Spec, Subject};
pub use check::{Check, Failure, Location, Outcome};
pub use event::{Event, PointMeta, PointResult, RunInfo, Sink, Summary, Verdict};
pub use fault::Fault;
pub use runner::Runner;
pub use selection::Selection;

/// The name and version of this tool, as reports print it.
pub const TOOL_NAME: &str = "oci-certify";
/// The version of this tool (the workspace version).
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
