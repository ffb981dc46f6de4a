//! A check: one requirement id, one function, one context type.
//!
//! ```
//! use oci_certify_core::check::{Check, Outcome, Failure};
//!
//! struct Doc { cwd: String }
//!
//! fn cwd_absolute(doc: &Doc) -> Outcome {
//!     if doc.cwd.starts_with('/') {
//!         Outcome::pass()
//!     } else {
//!         Outcome::fail(Failure::new("process.cwd is relative").expected("an absolute path").actual(&doc.cwd))
//!     }
//! }
//!
//! // The whole declaration: the requirement it judges and the function that judges it.
//! const CWD: Check<Doc> = Check::new("runtime.config.process.cwd-absolute", cwd_absolute);
//! assert!(CWD.run(&Doc { cwd: "/".into() }).is_pass());
//! ```
//!
//! The requirement's anchor, level and summary come from the catalogue through the id, so a
//! check cannot disagree with the catalogue about how strong its rule is.

use serde::Serialize;

/// One check: the requirement it judges and the function that judges it, given a context `C`.
pub struct Check<C: ?Sized> {
    /// Catalogue id of the requirement.
    pub requirement: &'static str,
    run: fn(&C) -> Outcome,
}

impl<C: ?Sized> Check<C> {
    /// Declares a check.
    pub const fn new(requirement: &'static str, run: fn(&C) -> Outcome) -> Check<C> {
        Check { requirement, run }
    }

    /// Runs the check against a context.
    pub fn run(&self, ctx: &C) -> Outcome {
        (self.run)(ctx)
    }
}

impl<C: ?Sized> Clone for Check<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: ?Sized> Copy for Check<C> {}

impl<C: ?Sized> std::fmt::Debug for Check<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("requirement", &self.requirement)
            .finish()
    }
}

/// Where a finding was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    /// A place in a JSON document.
    Document {
        /// The file (or blob, or `<stdin>`).
        file: String,
        /// RFC 6901 JSON pointer; empty for the whole document.
        pointer: String,
        /// 1-based line, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        /// 1-based column, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        column: Option<u32>,
    },
    /// A file or directory (in a layout, archive, bundle or rootfs).
    Path {
        /// The path.
        path: String,
    },
    /// An HTTP exchange, secrets redacted.
    Http {
        /// Method, URL and the relevant request headers.
        request: String,
        /// Status line and the relevant response headers and body.
        response: String,
    },
    /// A command the suite ran (a runtime operation, a hook).
    Command {
        /// The exact argv.
        argv: Vec<String>,
        /// Exit status, when it exited.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<i32>,
        /// What it printed on stderr (truncated).
        #[serde(skip_serializing_if = "String::is_empty")]
        stderr: String,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Document {
                file,
                pointer,
                line,
                column,
            } => {
                write!(f, "{file}")?;
                if let Some(l) = line {
                    write!(f, ":{l}")?;
                    if let Some(c) = column {
                        write!(f, ":{c}")?;
                    }
                }
                if !pointer.is_empty() {
                    write!(f, " at {pointer}")?;
                }
                Ok(())
            }
            Location::Path { path } => f.write_str(path),
            Location::Http { request, .. } => f.write_str(request.lines().next().unwrap_or("")),
            Location::Command { argv, status, .. } => {
                write!(f, "{}", argv.join(" "))?;
                if let Some(s) = status {
                    write!(f, " (exit {s})")?;
                }
                Ok(())
            }
        }
    }
}

/// One violation found by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// What is wrong, in one line.
    pub message: String,
    /// What the requirement expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Where it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Failure {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            expected: None,
            actual: None,
            location: None,
        }
    }

    /// Adds what was expected.
    pub fn expected(mut self, expected: impl std::fmt::Display) -> Failure {
        self.expected = Some(expected.to_string());
        self
    }

    /// Adds what was found.
    pub fn actual(mut self, actual: impl std::fmt::Display) -> Failure {
        self.actual = Some(actual.to_string());
        self
    }

    /// Adds where it was found.
    pub fn at(mut self, location: Location) -> Failure {
        self.location = Some(location);
        self
    }
}

/// The outcome of one test point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    /// The requirement holds.
    Pass {
        /// Optional information (e.g. an unknown media type that was correctly tolerated).
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The requirement is violated; one entry per violation found.
    Fail {
        /// The violations, at least one.
        failures: Vec<Failure>,
    },
    /// The requirement cannot be tested here.
    Skip {
        /// Why (the kernel lacks a feature, the runtime's `features` says unsupported, ...).
        reason: String,
    },
    /// The harness broke while testing; says nothing about the subject.
    Error {
        /// What broke.
        message: String,
    },
}

impl Outcome {
    /// A plain pass.
    pub fn pass() -> Outcome {
        Outcome::Pass { note: None }
    }

    /// A pass with information attached.
    pub fn pass_with_note(note: impl Into<String>) -> Outcome {
        Outcome::Pass {
            note: Some(note.into()),
        }
    }

    /// A failure with one violation.
    pub fn fail(failure: Failure) -> Outcome {
        Outcome::Fail {
            failures: vec![failure],
        }
    }

    /// Pass when `failures` is empty, otherwise fail with all of them.
    pub fn from_failures(failures: Vec<Failure>) -> Outcome {
        if failures.is_empty() {
            Outcome::pass()
        } else {
            Outcome::Fail { failures }
        }
    }

    /// A skip with its reason.
    pub fn skip(reason: impl Into<String>) -> Outcome {
        Outcome::Skip {
            reason: reason.into(),
        }
    }

    /// A harness error.
    pub fn error(message: impl Into<String>) -> Outcome {
        Outcome::Error {
            message: message.into(),
        }
    }

    /// Whether the requirement held.
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass { .. })
    }

    /// Whether the requirement was violated.
    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail { .. })
    }

    /// The outcome's name as reports write it: `pass`, `fail`, `skip`, `error`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Pass { .. } => "pass",
            Outcome::Fail { .. } => "fail",
            Outcome::Skip { .. } => "skip",
            Outcome::Error { .. } => "error",
        }
    }

    /// A one-line message: the first failure, the skip reason, the error, or the note.
    pub fn message(&self) -> Option<String> {
        match self {
            Outcome::Pass { note } => note.clone(),
            Outcome::Fail { failures } => {
                let first = failures
                    .first()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                if failures.len() > 1 {
                    Some(format!("{first} (and {} more)", failures.len() - 1))
                } else {
                    Some(first)
                }
            }
            Outcome::Skip { reason } => Some(reason.clone()),
            Outcome::Error { message } => Some(message.clone()),
        }
    }
}

impl<C: ?Sized> Check<C> {
    /// This check as coverage sees it, declared by `engine`.
    pub fn info(&self, engine: &'static str) -> crate::coverage::CheckInfo {
        crate::coverage::CheckInfo {
            engine,
            requirement: self.requirement,
        }
    }
}
