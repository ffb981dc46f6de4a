//! Helpers shared by the sinks: error wrapping, one-line text, result ordering, plain-text
//! rendering of failures, and the event recorder of the sinks that render at the end.

use std::collections::BTreeMap;
use std::io;

use oci_certify_core::check::{Failure, Location};
use oci_certify_core::event::{Event, PointResult, ResultClass, RunEnd, RunInfo, Summary};

/// Wraps an I/O error of the named report.
pub(crate) fn sink_error(sink: &str, source: io::Error) -> oci_certify_core::event::SinkError {
    oci_certify_core::event::SinkError {
        sink: sink.to_string(),
        source,
    }
}

/// The counting class's name as every report writes it.
pub(crate) fn class_name(class: ResultClass) -> &'static str {
    match class {
        ResultClass::Pass => "pass",
        ResultClass::FailMust => "fail_must",
        ResultClass::FailShould => "fail_should",
        ResultClass::FailMay => "fail_may",
        ResultClass::Skip => "skip",
        ResultClass::Error => "error",
    }
}

/// Sort rank of a class: what a reader must see first comes first.
pub(crate) fn class_rank(class: ResultClass) -> u8 {
    match class {
        ResultClass::FailMust => 0,
        ResultClass::Error => 1,
        ResultClass::FailShould => 2,
        ResultClass::FailMay => 3,
        ResultClass::Skip => 4,
        ResultClass::Pass => 5,
    }
}

/// Text on one line: line breaks and other control characters become spaces.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// Text with control characters other than line feed and tab made visible as `\u001b`-style
/// escapes: evidence from a subject (stderr, an HTTP body) must not drive the user's terminal.
pub(crate) fn show_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes one argument for a shell, only when it needs quoting.
pub(crate) fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'=' | b',' | b'+' | b'@' | b'%'
                )
        });
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// An argv as a copy-pasteable command line.
pub(crate) fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fields of a location as label/value pairs, in reading order. Values may span lines.
pub(crate) fn location_fields(location: &Location) -> Vec<(&'static str, String)> {
    match location {
        Location::Document {
            file,
            pointer,
            line,
            column,
        } => {
            let mut v = vec![("file", file.clone())];
            if !pointer.is_empty() {
                v.push(("pointer", pointer.clone()));
            }
            if let Some(l) = line {
                v.push(("line", l.to_string()));
            }
            if let Some(c) = column {
                v.push(("column", c.to_string()));
            }
            v
        }
        Location::Path { path } => vec![("path", path.clone())],
        Location::Http { request, response } => {
            vec![("request", request.clone()), ("response", response.clone())]
        }
        Location::Command {
            argv,
            status,
            stderr,
        } => {
            let mut v = vec![("command", command_line(argv))];
            if let Some(s) = status {
                v.push(("exit status", s.to_string()));
            }
            if !stderr.is_empty() {
                v.push(("stderr", stderr.clone()));
            }
            v
        }
    }
}

/// The location's kind as the JSON and YAML renderings name it.
pub(crate) fn location_kind(location: &Location) -> &'static str {
    match location {
        Location::Document { .. } => "document",
        Location::Path { .. } => "path",
        Location::Http { .. } => "http",
        Location::Command { .. } => "command",
    }
}

/// Appends `label: value` to `out`, indenting continuation lines of a multi-line value.
pub(crate) fn push_field(out: &mut String, indent: &str, label: &str, value: &str) {
    let mut lines = value.lines();
    out.push_str(indent);
    out.push_str(label);
    out.push(':');
    match lines.next() {
        Some(first) if value.contains('\n') => {
            out.push('\n');
            out.push_str(indent);
            out.push_str("  | ");
            out.push_str(first);
            out.push('\n');
            for l in lines {
                out.push_str(indent);
                out.push_str("  | ");
                out.push_str(l);
                out.push('\n');
            }
        }
        Some(first) => {
            out.push(' ');
            out.push_str(first);
            out.push('\n');
        }
        None => out.push('\n'),
    }
}

/// A failure as plain text: message, expected, actual, location fields; one per line,
/// multi-line values as indented `| ` blocks.
pub(crate) fn failure_text(failure: &Failure, indent: &str) -> String {
    let mut out = String::new();
    out.push_str(indent);
    out.push_str(&one_line(&failure.message));
    out.push('\n');
    let inner = format!("{indent}  ");
    if let Some(e) = &failure.expected {
        push_field(&mut out, &inner, "expected", e);
    }
    if let Some(a) = &failure.actual {
        push_field(&mut out, &inner, "actual", a);
    }
    match &failure.location {
        // Places in files read best as one `file:line:column /pointer` line.
        Some(Location::Document {
            file,
            pointer,
            line,
            column,
        }) => {
            let mut at = file.clone();
            if let Some(l) = line {
                at.push_str(&format!(":{l}"));
                if let Some(c) = column {
                    at.push_str(&format!(":{c}"));
                }
            }
            if !pointer.is_empty() {
                at.push_str(&format!(" {pointer}"));
            }
            push_field(&mut out, &inner, "at", &at);
        }
        Some(Location::Path { path }) => push_field(&mut out, &inner, "at", path),
        _ => {}
    }
    if let Some(loc) = failure
        .location
        .as_ref()
        .filter(|l| !matches!(l, Location::Document { .. } | Location::Path { .. }))
    {
        out.push_str(&inner);
        out.push_str("at (");
        out.push_str(location_kind(loc));
        out.push_str("):\n");
        let deeper = format!("{inner}  ");
        for (label, value) in location_fields(loc) {
            push_field(&mut out, &deeper, label, &value);
        }
    }
    out
}

/// Counts results.
pub(crate) fn count<'a>(results: impl IntoIterator<Item = &'a PointResult>) -> Summary {
    let mut s = Summary::default();
    for r in results {
        s.add(r.class());
    }
    s
}

/// The events a report needs when it renders at the end of the run.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub info: Option<RunInfo>,
    pub results: Vec<PointResult>,
    pub diagnostics: Vec<String>,
}

impl Recorder {
    /// Records an event; returns the end of the run when the event is `RunFinished`.
    pub fn record<'e>(&mut self, event: &'e Event) -> Option<&'e RunEnd> {
        match event {
            Event::RunStarted(info) => self.info = Some(info.clone()),
            Event::PointFinished(r) => self.results.push(r.clone()),
            Event::Diagnostic { message } => self.diagnostics.push(message.clone()),
            Event::RunFinished(end) => return Some(end),
            Event::PointStarted(_) | Event::GroupFinished { .. } => {}
        }
        None
    }

    /// Results per spec document, sorted by document name, each list ordered failures first
    /// and otherwise in arrival order. The key is the document (`config.md`), prefixed by the
    /// spec's repository name (`image-spec/config.md`) when the run mixes specs, since
    /// runtime-spec and image-spec both have a `config.md`.
    pub fn by_document(&self) -> BTreeMap<String, Vec<&PointResult>> {
        let first_spec = self.results.first().map(|r| r.point.requirement.spec);
        let mixed = self
            .results
            .iter()
            .any(|r| Some(r.point.requirement.spec) != first_spec);
        let mut docs: BTreeMap<String, Vec<&PointResult>> = BTreeMap::new();
        for r in &self.results {
            let req = &r.point.requirement;
            let key = if mixed {
                format!("{}/{}", req.spec.repository_name(), req.document)
            } else {
                req.document.clone()
            };
            docs.entry(key).or_default().push(r);
        }
        for list in docs.values_mut() {
            list.sort_by_key(|r| class_rank(r.class()));
        }
        docs
    }
}

/// `"runtime-spec 1.3.0"` or a placeholder when the run never said.
pub(crate) fn spec_label(info: Option<&RunInfo>) -> String {
    match info {
        Some(i) => format!("{} {}", i.spec, i.spec_version),
        None => "unknown spec".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_flattens_controls() {
        assert_eq!(one_line("a\nb\r\n\tc\u{1b}[0m"), "a b c [0m");
        assert_eq!(one_line("\n x \n"), "x");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("runc"), "runc");
        assert_eq!(shell_quote("--bundle=/tmp/b"), "--bundle=/tmp/b");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn failure_text_indents_multiline_values() {
        let f = Failure::new("boom").expected("x").at(Location::Command {
            argv: vec!["runc".into(), "create".into(), "a b".into()],
            status: Some(1),
            stderr: "line1\nline2".into(),
        });
        let t = failure_text(&f, "");
        assert!(t.contains("  expected: x\n"), "{t}");
        assert!(t.contains("    command: runc create 'a b'\n"), "{t}");
        assert!(
            t.contains("    stderr:\n      | line1\n      | line2\n"),
            "{t}"
        );
    }
}
