//! Who is at fault when something goes wrong.
//!
//! Every library error type of the suite implements [`Blame`], so the CLI can tell a vendor
//! whether their implementation broke a rule, their input could not be read, the host lacks
//! something, or the suite itself broke.

use serde::Serialize;

/// The party responsible for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The implementation or content under test misbehaved (that is usually a finding, not an
    /// error; this is for failures that stop a whole run, such as a runtime that cannot start).
    Subject,
    /// The user's input could not be used (missing file, not a layout, bad URL).
    Input,
    /// The host or network lacks something the run needs (a package, a capability, a port).
    Environment,
    /// A bug in oci-certify itself.
    Harness,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::Subject => "subject under test",
            Fault::Input => "input",
            Fault::Environment => "environment",
            Fault::Harness => "harness (a bug in oci-certify)",
        })
    }
}

/// Implemented by every error type of the suite's library crates.
pub trait Blame {
    /// Who is at fault for this error.
    fn fault(&self) -> Fault;
}
