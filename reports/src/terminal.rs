//! What a person sees on the terminal: a progress line while the run lasts, then the findings
//! that matter and a coloured verdict.
//!
//! ```text
//! MUST failures (1)
//!   ✗ runtime.config.process.cwd-absolute (bundle/config.json) [MUST]
//!     group: bundle
//!     process.cwd is relative
//!       expected: an absolute path
//!       actual: tmp
//!       at: config.json:3:12 /process/cwd
//!     see https://github.com/opencontainers/runtime-spec/blob/v1.3.0/config.md#process
//!
//! 12 test points: 9 pass, 1 MUST failed, 0 SHOULD failed, 0 MAY not met, 2 skipped, 0 harness errors
//! RED  1 MUST failed · 0 SHOULD failed · 0 harness errors · 9 pass · 2 skipped
//! ```
//!
//! The progress line (an `indicatif` spinner on stderr with the number of points done and the
//! one under way) appears only when the run lasts longer than [`PROGRESS_DELAY`] and stderr is
//! a terminal. Diagnostics are printed as they arrive. Colour is used only when asked for;
//! [`TerminalSink::stderr`] asks for it when stderr is a terminal and `NO_COLOR` is unset or
//! empty (<https://no-color.org>).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_certify_core::event::{
    Event, PointResult, ResultClass, RunEnd, Sink, SinkError, Summary, Verdict,
};

use crate::common::{failure_text, one_line, show_controls, sink_error};
use oci_certify_core::check::Outcome;

const NAME: &str = "terminal";

/// How long a run goes before the progress line appears.
pub const PROGRESS_DELAY: Duration = Duration::from_millis(400);

/// The terminal display. See the module docs.
pub struct TerminalSink {
    out: Box<dyn Write + Send>,
    colour: bool,
    progress: Option<Progress>,
    done: usize,
    current: String,
    findings: Vec<PointResult>,
}

/// The spinner and the guard that keeps a late timer from showing it after the run ended.
struct Progress {
    bar: ProgressBar,
    finished: Arc<Mutex<bool>>,
}

impl TerminalSink {
    /// A display writing to `out`; `colour` turns ANSI styles on, `progress` allows the
    /// progress line (drawn on stderr).
    pub fn new(out: Box<dyn Write + Send>, colour: bool, progress: bool) -> TerminalSink {
        TerminalSink {
            out,
            colour,
            progress: progress.then(|| Progress {
                bar: ProgressBar::hidden(),
                finished: Arc::new(Mutex::new(false)),
            }),
            done: 0,
            current: String::new(),
            findings: Vec::new(),
        }
    }

    /// A display on stderr, with colour and progress when stderr is a terminal (and colour
    /// only when `NO_COLOR` is unset or empty).
    pub fn stderr() -> TerminalSink {
        let tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        TerminalSink::new(Box::new(std::io::stderr()), tty && !no_color, tty)
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.colour {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    /// Writes text, keeping the progress line out of the way.
    fn emit(&mut self, text: &str) -> Result<(), SinkError> {
        let out = &mut self.out;
        let write = |out: &mut Box<dyn Write + Send>| {
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        };
        match &self.progress {
            Some(p) => p.bar.suspend(|| write(out)),
            None => write(out),
        }
        .map_err(|e| sink_error(NAME, e))
    }

    fn start_progress(&mut self) {
        let Some(p) = &self.progress else {
            return;
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} checked {wide_msg}") {
            p.bar.set_style(style);
        }
        let bar = p.bar.clone();
        let finished = Arc::clone(&p.finished);
        // Show the spinner only when the run lasts: a timer, not an event, so a single long
        // check (a runtime that hangs) still gets a live display.
        std::thread::spawn(move || {
            std::thread::sleep(PROGRESS_DELAY);
            let finished = finished.lock().unwrap_or_else(|e| e.into_inner());
            if !*finished {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.enable_steady_tick(Duration::from_millis(120));
            }
        });
    }

    fn update_progress(&self) {
        let Some(p) = &self.progress else {
            return;
        };
        let failed = self
            .findings
            .iter()
            .filter(|r| r.class() == ResultClass::FailMust)
            .count();
        p.bar.set_position(self.done as u64);
        p.bar.set_message(if failed == 0 {
            self.current.clone()
        } else {
            format!("({failed} MUST failed) {}", self.current)
        });
    }

    fn stop_progress(&mut self) {
        if let Some(p) = &self.progress {
            *p.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
            p.bar.finish_and_clear();
        }
    }

    fn finding(&self, r: &PointResult) -> String {
        let req = &r.point.requirement;
        let (mark, style) = match r.class() {
            ResultClass::FailMust => ("✗", red()),
            ResultClass::FailShould => ("!", yellow()),
            _ => ("?", magenta()),
        };
        let mut s = format!(
            "  {} {} [{}]\n",
            self.paint(style.bold(), mark),
            self.paint(Style::new().bold(), &one_line(&r.point.describe())),
            req.level
        );
        s.push_str(&format!("    group: {}\n", one_line(&r.point.group)));
        match &r.outcome {
            Outcome::Fail { failures } => {
                for f in failures {
                    s.push_str(&show_controls(&failure_text(f, "    ")));
                }
            }
            Outcome::Error { message } => {
                for line in show_controls(message).lines() {
                    s.push_str(&format!("    {line}\n"));
                }
            }
            Outcome::Pass { .. } | Outcome::Skip { .. } => {}
        }
        s.push_str(&format!(
            "    see {}\n",
            self.paint(Style::new().underline(), &one_line(&req.anchor))
        ));
        s
    }

    fn report(&mut self, end: &RunEnd) -> Result<(), SinkError> {
        let mut text = String::new();
        for (class, title) in [
            (ResultClass::FailMust, "MUST failures"),
            (ResultClass::FailShould, "SHOULD failures"),
            (ResultClass::Error, "Harness errors"),
        ] {
            let items: Vec<&PointResult> = self
                .findings
                .iter()
                .filter(|r| r.class() == class)
                .collect();
            if items.is_empty() {
                continue;
            }
            let style = match class {
                ResultClass::FailMust => red(),
                ResultClass::FailShould => yellow(),
                _ => magenta(),
            };
            text.push_str(&self.paint(style.bold(), &format!("{title} ({})", items.len())));
            text.push('\n');
            for r in items {
                text.push_str(&self.finding(r));
            }
            text.push('\n');
        }
        let s = &end.summary;
        text.push_str(&format!("{} test points: {}\n", s.total(), counts(s)));
        let (word, style) = match end.verdict {
            Verdict::Red => ("RED", red()),
            // Harness errors make the run incomplete (exit 2): no green or yellow banner over
            // checks that did not run.
            _ if s.error > 0 => ("INCOMPLETE", magenta()),
            Verdict::Yellow => ("YELLOW", yellow()),
            Verdict::Green => ("GREEN", green()),
        };
        let line = format!(
            "{word}  {} MUST failed · {} SHOULD failed · {} harness errors · {} pass · {} skipped",
            s.fail_must, s.fail_should, s.error, s.pass, s.skip
        );
        text.push_str(&self.paint(style.bold(), &line));
        text.push('\n');
        self.emit(&text)
    }
}

fn counts(s: &Summary) -> String {
    format!(
        "{} pass, {} MUST failed, {} SHOULD failed, {} MAY not met, {} skipped, {} harness errors",
        s.pass, s.fail_must, s.fail_should, s.fail_may, s.skip, s.error
    )
}

fn red() -> Style {
    Style::new().fg_color(Some(AnsiColor::Red.into()))
}
fn yellow() -> Style {
    Style::new().fg_color(Some(AnsiColor::Yellow.into()))
}
fn green() -> Style {
    Style::new().fg_color(Some(AnsiColor::Green.into()))
}
fn magenta() -> Style {
    Style::new().fg_color(Some(AnsiColor::Magenta.into()))
}

impl Sink for TerminalSink {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        match event {
            Event::RunStarted(_) => {
                self.start_progress();
                Ok(())
            }
            Event::PointStarted(p) => {
                self.current = one_line(&p.describe());
                self.update_progress();
                Ok(())
            }
            Event::PointFinished(r) => {
                self.done += 1;
                self.current.clear();
                if matches!(
                    r.class(),
                    ResultClass::FailMust | ResultClass::FailShould | ResultClass::Error
                ) {
                    self.findings.push(r.clone());
                }
                self.update_progress();
                Ok(())
            }
            Event::GroupFinished { .. } => Ok(()),
            Event::Diagnostic { message } => {
                let label = self.paint(yellow().bold(), "note:");
                let mut text = String::new();
                for (i, line) in show_controls(message).lines().enumerate() {
                    if i == 0 {
                        text.push_str(&format!("{label} {line}\n"));
                    } else {
                        text.push_str(&format!("      {line}\n"));
                    }
                }
                self.emit(&text)
            }
            Event::RunFinished(end) => {
                self.stop_progress();
                self.report(end)
            }
        }
    }
}

impl Drop for TerminalSink {
    fn drop(&mut self) {
        // A run that ends without RunFinished (a panic) must not leave a spinner behind.
        self.stop_progress();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

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

    fn run(colour: bool) -> String {
        let buf = Shared::default();
        let mut sink = TerminalSink::new(Box::new(buf.clone()), colour, false);
        for e in sample::events() {
            sink.handle(&e).unwrap();
        }
        drop(sink);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn prints_findings_counts_and_verdict() {
        let text = run(false);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("| \\u001b[31mred\\u001b[0m"), "{text}");
        assert!(text.starts_with("note: host has cgroup v1 only"), "{text}");
        assert!(text.contains("MUST failures (2)\n"), "{text}");
        assert!(text.contains("SHOULD failures (2)\n"), "{text}");
        assert!(text.contains("Harness errors (1)\n"), "{text}");
        assert!(text.contains(
            "  ✗ runtime.lifecycle.kill.no-signal-after-stop (container abc#1) [MUST NOT]\n"
        ));
        assert!(
            text.contains("command: runc kill 'id with space' KILL"),
            "{text}"
        );
        assert!(
            text.contains("| second line: <b>&amp; # not a comment"),
            "{text}"
        );
        assert!(text.contains(
            "see https://github.com/opencontainers/runtime-spec/blob/v1.3.0/config.md#root"
        ));
        // MAY failures and skips are counted, not listed.
        assert!(!text.contains("annotations.reverse-domain"), "{text}");
        assert!(text.contains("9 test points: 2 pass, 2 MUST failed, 2 SHOULD failed, 1 MAY not met, 1 skipped, 1 harness errors\n"));
        assert!(text.ends_with(
            "RED  2 MUST failed · 2 SHOULD failed · 1 harness errors · 2 pass · 1 skipped\n"
        ));
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = run(false);
        let coloured = run(true);
        assert!(
            coloured.contains("\u{1b}[1m\u{1b}[31mRED  2 MUST failed"),
            "{coloured}"
        );
        assert!(!plain.contains('\u{1b}'));
    }
}
