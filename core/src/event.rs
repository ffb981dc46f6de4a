//! The event stream of a run, and the [`Sink`] trait that reports implement.
//!
//! A run emits, in order: one [`Event::RunStarted`], then for each test point a
//! [`Event::PointStarted`] and a [`Event::PointFinished`], a [`Event::GroupFinished`] after the
//! last point of each group, any number of [`Event::Diagnostic`]s, and one
//! [`Event::RunFinished`]. Points of different groups may interleave when an engine runs in
//! parallel; a group's points never arrive after its `GroupFinished`.

use std::time::Duration;

use serde::Serialize;

use crate::catalogue::{Level, Requirement, Severity, Spec, Subject};
use crate::check::Outcome;

/// What reports need to know about a requirement: its metadata, never its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequirementMeta {
    /// Catalogue id.
    pub id: String,
    /// Level.
    pub level: Level,
    /// Full version-pinned anchor URL.
    pub anchor: String,
    /// Spec.
    pub spec: Spec,
    /// Spec version.
    pub spec_version: String,
    /// Who the requirement binds.
    pub subject: Subject,
    /// Summary in the project's words.
    pub summary: String,
    /// The spec file the anchor points into (e.g. `config.md`), used to group reports.
    pub document: String,
}

impl From<&Requirement> for RequirementMeta {
    fn from(r: &Requirement) -> Self {
        RequirementMeta {
            id: r.id.clone(),
            level: r.level,
            anchor: r.anchor.clone(),
            spec: r.spec,
            spec_version: r.spec_version.clone(),
            subject: r.subject,
            summary: r.summary.clone(),
            document: r
                .source
                .split_once('#')
                .map_or(r.source.as_str(), |(d, _)| d)
                .to_string(),
        }
    }
}

/// Identity of one test point: a requirement judged against one target in one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointMeta {
    /// The requirement.
    pub requirement: RequirementMeta,
    /// The group (a TAP subtest): a document, a container scenario, a registry workflow.
    pub group: String,
    /// What was judged when a requirement is checked on several things (a blob digest, a
    /// file, a container scenario); `None` when the group says it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl PointMeta {
    /// A one-line description: `id` or `id (target)`.
    pub fn describe(&self) -> String {
        match &self.target {
            Some(t) => format!("{} ({t})", self.requirement.id),
            None => self.requirement.id.clone(),
        }
    }
}

/// A finished test point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointResult {
    /// Which point.
    #[serde(flatten)]
    pub point: PointMeta,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long the check took.
    #[serde(skip)]
    pub duration: Duration,
}

impl PointResult {
    /// How this result counts in the summary.
    pub fn class(&self) -> ResultClass {
        match &self.outcome {
            Outcome::Pass { .. } => ResultClass::Pass,
            Outcome::Skip { .. } => ResultClass::Skip,
            Outcome::Error { .. } => ResultClass::Error,
            Outcome::Fail { .. } => match self.point.requirement.level.severity() {
                Severity::Must => ResultClass::FailMust,
                Severity::Should => ResultClass::FailShould,
                Severity::May => ResultClass::FailMay,
            },
        }
    }
}

/// The counting class of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultClass {
    /// Passed.
    Pass,
    /// A MUST or MUST NOT failed.
    FailMust,
    /// A SHOULD or SHOULD NOT failed.
    FailShould,
    /// A check keyed to a MAY found the option not taken or taken wrongly: informational.
    FailMay,
    /// Skipped with a reason.
    Skip,
    /// Harness error.
    Error,
}

impl ResultClass {
    /// The name reports use: `pass`, `fail_must`, `fail_should`, `fail_may`, `skip`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultClass::Pass => "pass",
            ResultClass::FailMust => "fail_must",
            ResultClass::FailShould => "fail_should",
            ResultClass::FailMay => "fail_may",
            ResultClass::Skip => "skip",
            ResultClass::Error => "error",
        }
    }
}

/// What a run is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// Tool name.
    pub tool: String,
    /// Tool version.
    pub tool_version: String,
    /// The spec certified against.
    pub spec: Spec,
    /// Its version.
    pub spec_version: String,
    /// What is being certified: a path, a URL, a runtime binary.
    pub subject: String,
    /// The kind of run: `image`, `bundle`, `runtime`, `registry`.
    pub command: String,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed points.
    pub pass: usize,
    /// Failed MUST / MUST NOT points.
    pub fail_must: usize,
    /// Failed SHOULD / SHOULD NOT points.
    pub fail_should: usize,
    /// Failed MAY points (informational).
    pub fail_may: usize,
    /// Skipped points.
    pub skip: usize,
    /// Harness errors.
    pub error: usize,
}

impl Summary {
    /// Counts one result.
    pub fn add(&mut self, class: ResultClass) {
        match class {
            ResultClass::Pass => self.pass += 1,
            ResultClass::FailMust => self.fail_must += 1,
            ResultClass::FailShould => self.fail_should += 1,
            ResultClass::FailMay => self.fail_may += 1,
            ResultClass::Skip => self.skip += 1,
            ResultClass::Error => self.error += 1,
        }
    }

    /// Total number of test points.
    pub fn total(&self) -> usize {
        self.pass + self.fail_must + self.fail_should + self.fail_may + self.skip + self.error
    }

    /// Red if any MUST failed, yellow if only SHOULDs did, green otherwise.
    pub fn verdict(&self) -> Verdict {
        if self.fail_must > 0 {
            Verdict::Red
        } else if self.fail_should > 0 {
            Verdict::Yellow
        } else {
            Verdict::Green
        }
    }
}

/// The verdict of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No MUST and no SHOULD failed.
    Green,
    /// Only SHOULD-level requirements failed.
    Yellow,
    /// At least one MUST-level requirement failed.
    Red,
}

impl Verdict {
    /// `green`, `yellow` or `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Green => "green",
            Verdict::Yellow => "yellow",
            Verdict::Red => "red",
        }
    }
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEnd {
    /// Counts.
    pub summary: Summary,
    /// Verdict from the counts.
    pub verdict: Verdict,
    /// Wall time of the run.
    #[serde(skip)]
    pub duration: Duration,
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run begins.
    RunStarted(RunInfo),
    /// A test point begins (for progress displays).
    PointStarted(PointMeta),
    /// A test point has its outcome.
    PointFinished(PointResult),
    /// No more points of this group will come.
    GroupFinished {
        /// The group name.
        group: String,
    },
    /// Something the reader must see that is not a test point: a one-time diagnosis (a runtime
    /// that cannot create any container, a registry that is not reachable), or information.
    Diagnostic {
        /// The message.
        message: String,
    },
    /// The run is over.
    RunFinished(RunEnd),
}

/// A sink failed to write its report (a full disk, a closed pipe): an environment fault.
#[derive(Debug, thiserror::Error)]
#[error("writing the {sink} report: {source}")]
pub struct SinkError {
    /// Which report.
    pub sink: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

impl crate::fault::Blame for SinkError {
    fn fault(&self) -> crate::fault::Fault {
        crate::fault::Fault::Environment
    }
}

/// A consumer of events: every report format, the terminal display, test collectors.
pub trait Sink: Send {
    /// Handles one event. Sinks see every event in order.
    fn handle(&mut self, event: &Event) -> Result<(), SinkError>;
}

/// A sink that keeps every event, for tests and for reports that render at the end.
#[derive(Debug, Default, Clone)]
pub struct Collector {
    /// Events received so far.
    pub events: Vec<Event>,
}

impl Collector {
    /// The finished points, in arrival order.
    pub fn results(&self) -> impl Iterator<Item = &PointResult> {
        self.events.iter().filter_map(|e| match e {
            Event::PointFinished(r) => Some(r),
            _ => None,
        })
    }

    /// Every diagnostic message.
    pub fn diagnostics(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Diagnostic { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    /// Ids of the requirements with at least one failed point.
    pub fn failed_ids(&self) -> std::collections::BTreeSet<String> {
        self.results()
            .filter(|r| r.outcome.is_fail())
            .map(|r| r.point.requirement.id.clone())
            .collect()
    }

    /// Failed points as `id[target]` (an empty target for points without one).
    pub fn failed_points(&self) -> std::collections::BTreeSet<String> {
        self.results()
            .filter(|r| r.outcome.is_fail())
            .map(|r| {
                format!(
                    "{}[{}]",
                    r.point.requirement.id,
                    r.point.target.as_deref().unwrap_or_default()
                )
            })
            .collect()
    }

    /// Harness errors, as `id: message`.
    pub fn errors(&self) -> Vec<String> {
        self.results()
            .filter_map(|r| match &r.outcome {
                Outcome::Error { message } => {
                    Some(format!("{}: {message}", r.point.requirement.id))
                }
                _ => None,
            })
            .collect()
    }

    /// The final summary, once the run finished.
    pub fn end(&self) -> Option<&RunEnd> {
        self.events.iter().rev().find_map(|e| match e {
            Event::RunFinished(end) => Some(end),
            _ => None,
        })
    }
}

/// A [`Collector`] shared between the runner (as one of its sinks) and the caller, who reads
/// it after the run: what every engine's tests need.
#[derive(Debug, Clone, Default)]
pub struct SharedCollector(std::sync::Arc<std::sync::Mutex<Collector>>);

impl SharedCollector {
    /// A sink feeding this collector.
    pub fn sink(&self) -> Box<dyn Sink> {
        Box::new(self.clone())
    }

    /// A copy of everything collected so far.
    pub fn snapshot(&self) -> Collector {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Sink for SharedCollector {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .handle(event)
    }
}

impl Sink for Collector {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        self.events.push(event.clone());
        Ok(())
    }
}
