//! The runner: the hub between engines, which produce outcomes, and sinks, which report them.
//!
//! Engines call [`Runner::run_checks`] (declared checks over a context) or [`Runner::record`]
//! (outcomes an engine computed itself, e.g. from one container observed once for many
//! requirements). The runner drops points the [`Selection`] does not select, attaches the
//! requirement's metadata from the catalogue, counts, and forwards events to every sink.
//! It is `Sync`: engines may record from several threads.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::catalogue::SpecCatalogue;
use crate::check::{Check, Outcome};
use crate::event::{
    Event, PointMeta, PointResult, RequirementMeta, RunEnd, RunInfo, Sink, SinkError, Summary,
};
use crate::selection::Selection;

struct Inner {
    sinks: Vec<Box<dyn Sink>>,
    summary: Summary,
    open_groups: BTreeSet<String>,
    first_error: Option<SinkError>,
}

impl Inner {
    fn emit(&mut self, event: Event) {
        for sink in &mut self.sinks {
            if let Err(e) = sink.handle(&event) {
                self.first_error.get_or_insert(e);
            }
        }
    }
}

/// Drives one run against one spec version. See the module docs.
pub struct Runner<'c> {
    catalogue: &'c SpecCatalogue,
    selection: Selection,
    started: Instant,
    inner: Mutex<Inner>,
}

impl<'c> Runner<'c> {
    /// Starts a run: emits [`Event::RunStarted`] to every sink.
    pub fn start(
        catalogue: &'c SpecCatalogue,
        selection: Selection,
        info: RunInfo,
        sinks: Vec<Box<dyn Sink>>,
    ) -> Runner<'c> {
        let runner = Runner {
            catalogue,
            selection,
            started: Instant::now(),
            inner: Mutex::new(Inner {
                sinks,
                summary: Summary::default(),
                open_groups: BTreeSet::new(),
                first_error: None,
            }),
        };
        runner.lock().emit(Event::RunStarted(info));
        runner
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a sink while holding the lock must not hide the rest of the report.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The spec version this run grades against.
    pub fn catalogue(&self) -> &'c SpecCatalogue {
        self.catalogue
    }

    /// Whether a requirement id is selected for this run (unknown ids are not).
    pub fn selects(&self, requirement: &str) -> bool {
        self.catalogue
            .get(requirement)
            .is_some_and(|r| self.selection.selects(r))
    }

    /// Whether any of the ids is selected; engines use it to skip expensive set-up.
    pub fn selects_any<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        ids.any(|id| self.selects(id))
    }

    fn meta(&self, group: &str, target: Option<&str>, requirement: &str) -> Option<PointMeta> {
        self.catalogue.get(requirement).map(|r| PointMeta {
            requirement: RequirementMeta::from(r),
            group: group.to_string(),
            target: target.map(str::to_string),
        })
    }

    /// Records an outcome an engine computed. Unselected requirements are dropped; an id
    /// missing from the catalogue is a harness bug and is recorded as an error point.
    pub fn record(&self, group: &str, target: Option<&str>, requirement: &str, outcome: Outcome) {
        self.record_timed(group, target, requirement, outcome, Duration::ZERO);
    }

    /// Records an outcome with the time the engine measured for it.
    pub fn record_timed(
        &self,
        group: &str,
        target: Option<&str>,
        requirement: &str,
        outcome: Outcome,
        duration: Duration,
    ) {
        let (point, outcome) = match self.meta(group, target, requirement) {
            Some(point) => {
                if !self.selects(requirement) {
                    return;
                }
                (point, outcome)
            }
            // A check keyed to an id the catalogue lacks is a harness bug. It still becomes a
            // test point (an error), so every report lists what it counts.
            None => (
                PointMeta {
                    requirement: RequirementMeta {
                        id: requirement.to_string(),
                        level: crate::catalogue::Level::Must,
                        anchor: String::new(),
                        spec: self.catalogue.spec,
                        spec_version: self.catalogue.version.clone(),
                        subject: crate::catalogue::Subject::Runtime,
                        summary: "not a requirement of this spec version".to_string(),
                        document: "unknown".to_string(),
                    },
                    group: group.to_string(),
                    target: target.map(str::to_string),
                },
                Outcome::error(format!(
                    "harness error: a check is keyed to {requirement}, which is not a requirement of {} v{}",
                    self.catalogue.spec, self.catalogue.version
                )),
            ),
        };
        let result = PointResult {
            point,
            outcome,
            duration,
        };
        let mut inner = self.lock();
        inner.summary.add(result.class());
        inner.open_groups.insert(group.to_string());
        inner.emit(Event::PointFinished(result));
    }

    /// Runs one check against a context and records its outcome.
    pub fn run_check<C: ?Sized>(
        &self,
        group: &str,
        target: Option<&str>,
        check: &Check<C>,
        ctx: &C,
    ) {
        if !self.selects(check.requirement) {
            return;
        }
        if let Some(point) = self.meta(group, target, check.requirement) {
            self.lock().emit(Event::PointStarted(point));
        }
        let t = Instant::now();
        let outcome = check.run(ctx);
        self.record_timed(group, target, check.requirement, outcome, t.elapsed());
    }

    /// Runs every check against one context, in declaration order.
    pub fn run_checks<C: ?Sized>(
        &self,
        group: &str,
        target: Option<&str>,
        checks: &[Check<C>],
        ctx: &C,
    ) {
        for check in checks {
            self.run_check(group, target, check, ctx);
        }
    }

    /// Records the same outcome for several requirements (e.g. all checks of a scenario whose
    /// container could not be created are skipped with one reason).
    pub fn record_all<'a>(
        &self,
        group: &str,
        target: Option<&str>,
        requirements: impl IntoIterator<Item = &'a str>,
        outcome: &Outcome,
    ) {
        for id in requirements {
            self.record(group, target, id, outcome.clone());
        }
    }

    /// Says that a group is complete.
    pub fn finish_group(&self, group: &str) {
        let mut inner = self.lock();
        if inner.open_groups.remove(group) {
            inner.emit(Event::GroupFinished {
                group: group.to_string(),
            });
        }
    }

    /// Emits a diagnostic for the reader.
    pub fn diagnostic(&self, message: impl Into<String>) {
        self.lock().emit(Event::Diagnostic {
            message: message.into(),
        });
    }

    /// Counts so far.
    pub fn summary(&self) -> Summary {
        self.lock().summary
    }

    /// Ends the run: closes open groups, emits [`Event::RunFinished`], and returns the counts.
    /// Fails with the first sink error, if any sink failed to write.
    pub fn finish(self) -> Result<RunEnd, SinkError> {
        let duration = self.started.elapsed();
        let mut inner = self
            .inner
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for group in std::mem::take(&mut inner.open_groups) {
            inner.emit(Event::GroupFinished { group });
        }
        let end = RunEnd {
            summary: inner.summary,
            verdict: inner.summary.verdict(),
            duration,
        };
        inner.emit(Event::RunFinished(end.clone()));
        match inner.first_error.take() {
            Some(e) => Err(e),
            None => Ok(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Spec;
    use crate::check::Failure;
    use crate::event::{Collector, Verdict};

    fn catalogue() -> SpecCatalogue {
        let text = r#"
spec = "image"
spec_version = "1.1.1"
repository = "https://github.com/opencontainers/image-spec"
[[requirement]]
id = "image.manifest.media-type"
anchor = "manifest.md#image-manifest-property-descriptions"
level = "MUST"
subject = "image"
platform = "all"
summary = "m"
[[requirement]]
id = "image.manifest.layers.min-one"
anchor = "manifest.md#image-manifest-property-descriptions"
level = "SHOULD"
subject = "image"
platform = "all"
summary = "s"
"#;
        SpecCatalogue::parse("t.toml", text).unwrap()
    }

    fn info() -> RunInfo {
        RunInfo {
            tool: "t".into(),
            tool_version: "0".into(),
            spec: Spec::Image,
            spec_version: "1.1.1".into(),
            subject: "x".into(),
            command: "image".into(),
        }
    }

    struct Shared(std::sync::Arc<Mutex<Collector>>);
    impl Sink for Shared {
        fn handle(&mut self, e: &Event) -> Result<(), SinkError> {
            self.0.lock().unwrap().handle(e)
        }
    }

    #[test]
    fn grades_and_orders_events() {
        let cat = catalogue();
        let col = std::sync::Arc::new(Mutex::new(Collector::default()));
        let r = Runner::start(
            &cat,
            Selection::all(),
            info(),
            vec![Box::new(Shared(col.clone()))],
        );
        const PASS: Check<str> = Check::new("image.manifest.media-type", |_| Outcome::pass());
        const FAIL: Check<str> = Check::new("image.manifest.layers.min-one", |_| {
            Outcome::fail(Failure::new("no layers"))
        });
        r.run_checks("manifest", None, &[PASS, FAIL], "doc");
        r.finish_group("manifest");
        let done = r.finish().unwrap();
        assert_eq!(done.verdict, Verdict::Yellow);
        assert_eq!(done.summary.pass, 1);
        assert_eq!(done.summary.fail_should, 1);
        let col = col.lock().unwrap();
        assert!(matches!(col.events.first(), Some(Event::RunStarted(_))));
        assert!(matches!(col.events.last(), Some(Event::RunFinished(_))));
        let group_end = col
            .events
            .iter()
            .position(|e| matches!(e, Event::GroupFinished { .. }))
            .unwrap();
        assert_eq!(group_end, col.events.len() - 2);
    }

    #[test]
    fn unknown_ids_are_harness_errors_and_selection_applies() {
        let cat = catalogue();
        let sel = Selection {
            levels: vec![crate::Level::Must],
            ..Selection::default()
        };
        let r = Runner::start(&cat, sel, info(), vec![Box::new(Collector::default())]);
        r.record("g", None, "image.nope.nope", Outcome::pass());
        r.record("g", None, "image.manifest.layers.min-one", Outcome::pass());
        r.record(
            "g",
            None,
            "image.manifest.media-type",
            Outcome::fail(Failure::new("x")),
        );
        let done = r.finish().unwrap();
        assert_eq!(done.summary.error, 1);
        assert_eq!(done.summary.fail_must, 1);
        assert_eq!(done.summary.total(), 2);
        assert_eq!(done.verdict, Verdict::Red);
    }
}
