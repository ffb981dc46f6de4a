//! A small, lenient reader of TAP 13 and TAP 14 that returns a tree.
//!
//! # Why this exists
//!
//! The suite has to read TAP back: its own tests check what the TAP sink wrote, and TAP from
//! other tools (a runtime's own test suite, a CI log) is worth importing. The Rust crate one
//! would reach for, `tap_parser` 0.1.1, is not usable for that:
//!
//! * it **silently drops test points from valid TAP 14**: as soon as anything (a comment, a
//!   pragma) precedes a leading plan, it treats the plan as a trailing one, stops, and returns
//!   `Ok` with no test points at all — failures included (`tests/tap_parser_crate.rs` shows it);
//! * it **rejects TAP 13** (and TAP without a version line), which most producers still emit;
//! * it panics on some malformed input (a YAML block after a subtest's plan reaches an
//!   `unreachable!`).
//!
//! This reader is deliberately forgiving: it never fails and never panics. Lines it does not
//! understand are kept as [`Item::Unknown`], structural oddities (a second plan, a YAML block
//! that never ends) are listed in [`Document::problems`], and callers decide how strict to be.
//!
//! # What it reads
//!
//! * the version line `TAP version 13|14` (optional);
//! * the plan, leading or trailing, including `1..0 # SKIP reason`;
//! * test points: `ok` / `not ok`, optional number, optional `-`, the description with the
//!   TAP 14 escapes `\#` and `\\` undone, and a directive: `# SKIP` / `# TODO` (any case, with
//!   an optional reason); text after an unescaped `#` that is not a directive is kept in
//!   [`TestPoint::comment`] (the TAP sink writes harness errors as `# harness error`);
//! * YAML diagnostics blocks (`---` ... `...`, indented under their point): kept raw in
//!   [`TestPoint::yaml`], parsed on demand by [`TestPoint::yaml_value`] (see [`parse_yaml`]);
//! * subtests: lines indented by four spaces form the child document of the test point that
//!   follows them, with or without a `# Subtest: name` comment before them (the TAP 14 form and
//!   the older node-tap form, where the comment sits inside the indentation, are both read);
//! * comments, `pragma +name` / `pragma -name`, and `Bail out!` (which ends reading; a bail out
//!   inside a subtest bails the whole document out).
//!
//! ```
//! use oci_certify_reports::tap_reader::{parse, Directive};
//!
//! let doc = parse("TAP version 14\n# Subtest: g\n    ok 1 - a \\# b\n    not ok 2 - c # TODO should\n    1..2\nok 1 - g\n1..1\n");
//! let g = doc.points().next().unwrap();
//! let child = &g.subtest.as_ref().unwrap().document;
//! assert_eq!(child.points().next().unwrap().description, "a # b");
//! assert_eq!(child.points().nth(1).unwrap().directive, Some(Directive::Todo("should".into())));
//! assert!(doc.is_ok());
//! ```

use serde_json::Value;

pub use crate::yaml::YamlError;

/// Subtests nested deeper than this are not descended into (their lines become
/// [`Item::Unknown`]), so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 32;

/// A parsed TAP document, or the child document of a subtest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// The version line's number, when there was one.
    pub version: Option<u32>,
    /// The plan, leading or trailing.
    pub plan: Option<Plan>,
    /// Everything else, in order.
    pub items: Vec<Item>,
    /// The reason given by `Bail out!`, when the producer bailed out (here or in a subtest).
    pub bail_out: Option<String>,
    /// Structural oddities noticed while reading.
    pub problems: Vec<Problem>,
}

/// A plan line: `1..N`, possibly with `# SKIP reason` or another comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// First test number (1 in every real document).
    pub start: u64,
    /// Last test number.
    pub end: u64,
    /// `Some(reason)` for `1..0 # SKIP reason` (the reason may be empty).
    pub skip: Option<String>,
    /// Any other text after `#`.
    pub comment: Option<String>,
    /// 1-based line number.
    pub line: usize,
}

impl Plan {
    /// How many test points the plan announces.
    pub fn count(&self) -> u64 {
        if self.end >= self.start {
            self.end - self.start + 1
        } else {
            0
        }
    }
}

/// A `# SKIP` or `# TODO` directive with its reason (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Not run.
    Skip(String),
    /// Expected to fail; harnesses do not count its failure.
    Todo(String),
}

/// One test point, possibly closing a subtest.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPoint {
    /// `ok` or `not ok`.
    pub ok: bool,
    /// The test number, when given.
    pub number: Option<u64>,
    /// The description, TAP 14 escapes undone, trimmed.
    pub description: String,
    /// The SKIP or TODO directive.
    pub directive: Option<Directive>,
    /// Text after an unescaped `#` that is not a SKIP or TODO directive.
    pub comment: Option<String>,
    /// The YAML diagnostics block, without its `---` / `...` lines and indentation.
    pub yaml: Option<String>,
    /// The child document when this point closes a subtest.
    pub subtest: Option<Subtest>,
    /// 1-based line number.
    pub line: usize,
}

impl TestPoint {
    /// Whether the point has a SKIP directive.
    pub fn is_skip(&self) -> bool {
        matches!(self.directive, Some(Directive::Skip(_)))
    }

    /// Whether the point has a TODO directive.
    pub fn is_todo(&self) -> bool {
        matches!(self.directive, Some(Directive::Todo(_)))
    }

    /// Whether a harness counts this point as passing (`ok`, or a TODO).
    pub fn passes(&self) -> bool {
        self.ok || self.is_todo()
    }

    /// The YAML block parsed into a JSON value (`None` when there is no block). Understands the
    /// subset described at [`parse_yaml`], which covers everything the TAP sink writes.
    pub fn yaml_value(&self) -> Option<Result<Value, YamlError>> {
        self.yaml.as_deref().map(parse_yaml)
    }
}

/// The child document of a subtest.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtest {
    /// The name from the `# Subtest: name` comment, when there was one.
    pub name: Option<String>,
    /// The indented lines, parsed.
    pub document: Document,
}

/// One line (or block) of a document that is not its version, plan or bail out.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A test point (with its YAML block and, for a subtest, its children).
    Point(TestPoint),
    /// Indented lines that no test point closed (a truncated stream).
    UnclosedSubtest(Subtest),
    /// A `#` comment, without the `#` and surrounding space.
    Comment(String),
    /// `pragma +key` (enabled) or `pragma -key`.
    Pragma {
        /// The pragma's name.
        key: String,
        /// `+` or `-`.
        enabled: bool,
    },
    /// A line that is not TAP.
    Unknown {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// A structural oddity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    /// What is odd.
    pub message: String,
}

/// Counts of test points at one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every test point.
    pub total: usize,
    /// `ok` without directive.
    pub pass: usize,
    /// `not ok` without TODO.
    pub fail: usize,
    /// With a SKIP directive.
    pub skip: usize,
    /// With a TODO directive.
    pub todo: usize,
}

impl Counts {
    fn add(&mut self, p: &TestPoint) {
        self.total += 1;
        match (&p.directive, p.ok) {
            (Some(Directive::Skip(_)), _) => self.skip += 1,
            (Some(Directive::Todo(_)), _) => self.todo += 1,
            (None, true) => self.pass += 1,
            (None, false) => self.fail += 1,
        }
    }
}

impl Document {
    /// The test points at this level, in order.
    pub fn points(&self) -> impl Iterator<Item = &TestPoint> {
        self.items.iter().filter_map(|i| match i {
            Item::Point(p) => Some(p),
            _ => None,
        })
    }

    /// Every test point at every depth, in stream order (a subtest's children before the
    /// point that closes it), with its depth (0 at this level).
    pub fn walk(&self) -> Vec<(usize, &TestPoint)> {
        fn go<'a>(doc: &'a Document, depth: usize, out: &mut Vec<(usize, &'a TestPoint)>) {
            for item in &doc.items {
                match item {
                    Item::Point(p) => {
                        if let Some(s) = &p.subtest {
                            go(&s.document, depth + 1, out);
                        }
                        out.push((depth, p));
                    }
                    Item::UnclosedSubtest(s) => go(&s.document, depth + 1, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        go(self, 0, &mut out);
        out
    }

    /// Counts of the test points at this level.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for p in self.points() {
            c.add(p);
        }
        c
    }

    /// The comments at this level.
    pub fn comments(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            Item::Comment(c) => Some(c.as_str()),
            _ => None,
        })
    }

    /// Whether a harness would call this document a pass: no bail out, a plan that matches the
    /// number of points, no failing point (TODO points do not fail), and every subtest ok.
    pub fn is_ok(&self) -> bool {
        let points: Vec<&TestPoint> = self.points().collect();
        self.bail_out.is_none()
            && self
                .plan
                .as_ref()
                .is_some_and(|p| p.count() == points.len() as u64)
            && points.iter().all(|p| p.passes())
            && points
                .iter()
                .all(|p| p.subtest.as_ref().is_none_or(|s| s.document.is_ok()))
    }
}

/// Parses the YAML subset of TAP diagnostics into a JSON value: block mappings and sequences,
/// quoted and plain scalars, `|` / `>` block scalars, comments, JSON flow collections.
/// Anchors, aliases, tags and complex keys are refused.
pub fn parse_yaml(text: &str) -> Result<Value, YamlError> {
    crate::yaml::parse(text)
}

/// Parses a TAP stream. Never fails and never panics; see the module docs.
pub fn parse(input: &str) -> Document {
    let lines: Vec<(usize, &str)> = input.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
    parse_lines(&lines, 0)
}

fn leading_spaces(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

/// A subtest being collected: its name and its lines, four spaces removed.
struct Pending<'a> {
    name: Option<String>,
    lines: Vec<(usize, &'a str)>,
    line: usize,
}

fn subtest_name(comment: &str) -> Option<Option<String>> {
    let head = comment.get(..7)?;
    if !head.eq_ignore_ascii_case("subtest") {
        return None;
    }
    let rest = comment[7..].trim_start();
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim();
    Some((!rest.is_empty()).then(|| rest.to_string()))
}

fn header_comment(name: Option<String>) -> Item {
    Item::Comment(match name {
        Some(n) => format!("Subtest: {n}"),
        None => "Subtest".to_string(),
    })
}

fn finish_subtest(pending: Pending<'_>, depth: usize) -> Subtest {
    let mut document = parse_lines(&pending.lines, depth + 1);
    let mut name = pending.name;
    // The older node-tap form puts `# Subtest: name` inside the indentation.
    if name.is_none() {
        if let Some(Item::Comment(c)) = document.items.first() {
            if let Some(n) = subtest_name(c) {
                name = n;
                document.items.remove(0);
            }
        }
    }
    Subtest { name, document }
}

fn parse_lines(lines: &[(usize, &str)], depth: usize) -> Document {
    let mut doc = Document::default();
    let mut pending: Option<Pending<'_>> = None;
    let mut i = 0;
    while i < lines.len() {
        let (no, raw) = lines[i];
        let raw = raw.trim_end();
        let indent = leading_spaces(raw);

        if indent >= 4 {
            if depth + 1 >= MAX_DEPTH {
                doc.items.push(Item::Unknown {
                    line: no,
                    text: raw.to_string(),
                });
                doc.problems.push(Problem {
                    line: no,
                    message: format!("subtests nested deeper than {MAX_DEPTH} levels"),
                });
            } else {
                pending
                    .get_or_insert_with(|| Pending {
                        name: None,
                        lines: Vec::new(),
                        line: no,
                    })
                    .lines
                    .push((no, &raw[4..]));
            }
            i += 1;
            continue;
        }
        if raw.is_empty() {
            if let Some(p) = &mut pending {
                p.lines.push((no, ""));
            }
            i += 1;
            continue;
        }
        let line = raw.trim_start();
        i += 1;

        if let Some(mut point) = parse_point(line, no) {
            i = read_yaml(lines, i, &mut point.yaml, &mut doc.problems);
            match pending.take() {
                // A header with nothing indented under it is the older form, where the header
                // sits inside the child's own indentation: only a comment here.
                Some(p) if p.lines.is_empty() => doc.items.push(header_comment(p.name)),
                Some(p) => {
                    let sub = finish_subtest(p, depth);
                    if let Some(reason) = &sub.document.bail_out {
                        doc.bail_out = Some(reason.clone());
                    }
                    point.subtest = Some(sub);
                }
                None => {}
            }
            let bailed = doc.bail_out.is_some();
            doc.items.push(Item::Point(point));
            if bailed {
                break;
            }
            continue;
        }

        if line == "---" {
            let mut orphan = None;
            i = read_yaml(lines, i - 1, &mut orphan, &mut doc.problems);
            doc.problems.push(Problem {
                line: no,
                message: "YAML block without a test point before it".into(),
            });
            continue;
        }

        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(name) = subtest_name(comment) {
                if let Some(p) = pending.take() {
                    doc.items
                        .push(Item::UnclosedSubtest(finish_subtest(p, depth)));
                }
                pending = Some(Pending {
                    name,
                    lines: Vec::new(),
                    line: no,
                });
            } else {
                // A comment between a subtest's lines and its closing point keeps it open.
                doc.items.push(Item::Comment(comment.to_string()));
            }
            continue;
        }

        // Any other line ends a subtest that no point closed.
        if let Some(p) = pending.take() {
            if p.lines.is_empty() {
                // A `# Subtest` header with nothing under it was only a comment.
                doc.items.push(header_comment(p.name));
            } else {
                doc.problems.push(Problem {
                    line: p.line,
                    message: "subtest without a closing test point".into(),
                });
                let sub = finish_subtest(p, depth);
                if let Some(reason) = &sub.document.bail_out {
                    doc.bail_out = Some(reason.clone());
                }
                doc.items.push(Item::UnclosedSubtest(sub));
                if doc.bail_out.is_some() {
                    break;
                }
            }
        }

        if let Some(reason) = bail_out(line) {
            doc.bail_out = Some(reason);
            break;
        }
        if let Some(v) = version(line) {
            if doc.version.is_some() || !doc.items.is_empty() || doc.plan.is_some() {
                doc.problems.push(Problem {
                    line: no,
                    message: "version line after the start of the document".into(),
                });
            }
            doc.version.get_or_insert(v);
            continue;
        }
        if let Some(plan) = parse_plan(line, no) {
            if doc.plan.is_some() {
                doc.problems.push(Problem {
                    line: no,
                    message: "a second plan".into(),
                });
            } else {
                doc.plan = Some(plan);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("pragma ") {
            let rest = rest.trim();
            let (enabled, key) = match rest.strip_prefix('+') {
                Some(k) => (true, k),
                None => (false, rest.strip_prefix('-').unwrap_or(rest)),
            };
            doc.items.push(Item::Pragma {
                key: key.to_string(),
                enabled,
            });
            continue;
        }
        doc.items.push(Item::Unknown {
            line: no,
            text: raw.to_string(),
        });
    }
    if let Some(p) = pending.take() {
        if p.lines.is_empty() {
            doc.items.push(header_comment(p.name));
        } else {
            doc.problems.push(Problem {
                line: p.line,
                message: "subtest without a closing test point".into(),
            });
            let sub = finish_subtest(p, depth);
            if let Some(reason) = &sub.document.bail_out {
                doc.bail_out.get_or_insert(reason.clone());
            }
            doc.items.push(Item::UnclosedSubtest(sub));
        }
    }
    doc
}

/// Reads a YAML block starting at `lines[i]` when that line is `---` (indented); returns the
/// index of the first line after the block (or `i` when there is none).
fn read_yaml(
    lines: &[(usize, &str)],
    i: usize,
    yaml: &mut Option<String>,
    problems: &mut Vec<Problem>,
) -> usize {
    let Some(&(start_no, first)) = lines.get(i) else {
        return i;
    };
    if first.trim() != "---" {
        return i;
    }
    let indent = leading_spaces(first);
    let mut body = String::new();
    let mut j = i + 1;
    while let Some(&(_, l)) = lines.get(j) {
        let l = l.trim_end();
        if l.trim() == "..." {
            *yaml = Some(body);
            return j + 1;
        }
        if !l.is_empty() && leading_spaces(l) < indent {
            break;
        }
        let cut = leading_spaces(l).min(indent);
        body.push_str(&l[cut..]);
        body.push('\n');
        j += 1;
    }
    problems.push(Problem {
        line: start_no,
        message: "YAML block without its closing `...`".into(),
    });
    *yaml = Some(body);
    j
}

fn bail_out(line: &str) -> Option<String> {
    let head = line.get(..9)?;
    head.eq_ignore_ascii_case("bail out!")
        .then(|| line[9..].trim().to_string())
}

fn version(line: &str) -> Option<u32> {
    let head = line.get(..11)?;
    if !head.eq_ignore_ascii_case("tap version") {
        return None;
    }
    line[11..].trim().parse().ok()
}

fn parse_plan(line: &str, no: usize) -> Option<Plan> {
    let (a, rest) = line.split_once("..")?;
    if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (b, tail) = rest.split_at(digits);
    let tail = tail.trim();
    let (skip, comment) = if tail.is_empty() {
        (None, None)
    } else {
        let text = tail.strip_prefix('#')?.trim();
        match directive_word(text, "skip") {
            Some(reason) => (Some(reason), None),
            None => (None, Some(text.to_string())),
        }
    };
    Some(Plan {
        start: a.parse().ok()?,
        end: b.parse().ok()?,
        skip,
        comment,
        line: no,
    })
}

/// When `text` starts with the directive word (any case, any suffix such as `SKIPPED`), the
/// reason after it.
fn directive_word(text: &str, word: &str) -> Option<String> {
    let head = text.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = &text[word.len()..];
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    Some(rest.trim().to_string())
}

fn parse_point(line: &str, no: usize) -> Option<TestPoint> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("not ok") {
        (false, r)
    } else if let Some(r) = line.strip_prefix("ok") {
        (true, r)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let mut rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut number = None;
    if digits > 0 {
        let after = &rest[digits..];
        if after.is_empty() || after.starts_with([' ', '\t']) {
            number = rest[..digits].parse().ok();
            rest = after.trim_start();
        }
    }
    if rest == "-" {
        rest = "";
    } else if let Some(r) = rest.strip_prefix("- ") {
        rest = r.trim_start();
    }
    let mut description = String::new();
    let mut directive_text = None;
    let mut chars = rest.char_indices();
    while let Some((idx, c)) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some((_, e @ ('\\' | '#'))) => {
                    description.push(e);
                    chars.next();
                }
                _ => description.push('\\'),
            },
            '#' => {
                directive_text = Some(rest[idx + 1..].trim());
                break;
            }
            c => description.push(c),
        }
    }
    let (directive, comment) = match directive_text {
        None => (None, None),
        Some(text) => {
            if let Some(reason) = directive_word(text, "skip") {
                (Some(Directive::Skip(reason)), None)
            } else if let Some(reason) = directive_word(text, "todo") {
                (Some(Directive::Todo(reason)), None)
            } else {
                (None, Some(text.to_string()))
            }
        }
    };
    Some(TestPoint {
        ok,
        number,
        description: description.trim().to_string(),
        directive,
        comment,
        yaml: None,
        subtest: None,
        line: no,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tap13_with_leading_plan_comment_and_yaml() {
        let doc = parse(
            "TAP version 13\n# produced by x\n1..3\nok 1 - a\nnot ok 2 - b\n  ---\n  message: 'bad'\n  severity: fail\n  ...\nok 3 # skip not here\n",
        );
        assert_eq!(doc.version, Some(13));
        assert_eq!(doc.plan.as_ref().map(Plan::count), Some(3));
        let c = doc.counts();
        assert_eq!((c.total, c.pass, c.fail, c.skip), (3, 1, 1, 1));
        let b = doc.points().nth(1).unwrap();
        assert_eq!(
            b.yaml_value().unwrap().unwrap(),
            json!({"message": "bad", "severity": "fail"})
        );
        let skipped = doc.points().nth(2).unwrap();
        assert_eq!(skipped.description, "");
        assert_eq!(skipped.directive, Some(Directive::Skip("not here".into())));
        assert!(!doc.is_ok());
    }

    #[test]
    fn no_version_trailing_plan_and_skip_all() {
        let doc = parse("ok\nok 2\n1..2\n");
        assert_eq!(doc.version, None);
        assert!(doc.is_ok());
        let all = parse("TAP version 14\n1..0 # SKIP no runtime\n");
        assert_eq!(all.plan.unwrap().skip.as_deref(), Some("no runtime"));
    }

    #[test]
    fn descriptions_unescape_and_directives_are_case_insensitive() {
        let doc = parse(
            r"not ok 7 - a \# b \\ c\d # todo: later
ok 8 - x # Skipped because
not ok 9 - y # harness error
okay
not okay",
        );
        let p: Vec<&TestPoint> = doc.points().collect();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].description, r"a # b \ c\d");
        assert_eq!(p[0].number, Some(7));
        assert_eq!(p[0].directive, Some(Directive::Todo("later".into())));
        assert_eq!(p[1].directive, Some(Directive::Skip("because".into())));
        assert_eq!(p[2].comment.as_deref(), Some("harness error"));
        assert_eq!(p[2].directive, None);
        assert_eq!(doc.items.len(), 5);
    }

    #[test]
    fn subtests_with_and_without_headers_nested() {
        let doc = parse(
            "TAP version 14
# Subtest: outer
    # Subtest: inner
        ok 1 - leaf
          ---
          id: \"x\"
          ...
        1..1
    ok 1 - inner
    1..1
ok 1 - outer
    ok 1 - headerless
    1..1
ok 2 - second
    # Subtest: old style
    ok 1 - c
    1..1
ok 3 - old style
1..3
",
        );
        assert!(doc.is_ok(), "{doc:#?}");
        let walk: Vec<(usize, &str)> = doc
            .walk()
            .into_iter()
            .map(|(d, p)| (d, p.description.as_str()))
            .collect();
        assert_eq!(
            walk,
            vec![
                (2, "leaf"),
                (1, "inner"),
                (0, "outer"),
                (1, "headerless"),
                (0, "second"),
                (1, "c"),
                (0, "old style")
            ]
        );
        let points: Vec<&TestPoint> = doc.points().collect();
        assert_eq!(
            points[0].subtest.as_ref().unwrap().name.as_deref(),
            Some("outer")
        );
        assert_eq!(points[1].subtest.as_ref().unwrap().name, None);
        assert_eq!(
            points[2].subtest.as_ref().unwrap().name.as_deref(),
            Some("old style")
        );
        let leaf = doc.walk()[0].1;
        assert_eq!(leaf.yaml_value().unwrap().unwrap(), json!({"id": "x"}));
    }

    #[test]
    fn bail_out_in_a_subtest_bails_the_document() {
        let doc = parse("1..2\n# Subtest: a\n    ok 1\n    Bail out! disk full\nok 1 - a\nok 2\n");
        assert_eq!(doc.bail_out.as_deref(), Some("disk full"));
        assert_eq!(doc.points().count(), 1);
        assert!(!doc.is_ok());
        let top = parse("ok 1\nbail OUT!\nok 2\n");
        assert_eq!(top.bail_out.as_deref(), Some(""));
        assert_eq!(top.points().count(), 1);
    }

    #[test]
    fn pragmas_unknown_lines_and_problems() {
        let doc = parse(
            "pragma +strict\nhello\n1..1\n1..1\nok 1\n  ---\n  a: 1\n# Subtest: cut\n    ok 1\n",
        );
        assert_eq!(
            doc.items.first(),
            Some(&Item::Pragma {
                key: "strict".into(),
                enabled: true
            })
        );
        assert!(matches!(&doc.items[1], Item::Unknown { text, .. } if text == "hello"));
        let messages: Vec<&str> = doc.problems.iter().map(|p| p.message.as_str()).collect();
        assert!(messages.contains(&"a second plan"), "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("closing `...`")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("without a closing test point")),
            "{messages:?}"
        );
    }

    /// A deterministic generator: xorshift, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const FRAGMENTS: &[&str] = &[
        "TAP version 14",
        "TAP version 13",
        "TAP version",
        "1..",
        "1..3",
        "1..0 # SKIP",
        "1..99999999999999999999",
        "ok",
        "not ok",
        "ok 1 - a",
        "not ok 2 - b # TODO",
        "ok 3 # SKIP",
        "ok 18446744073709551616 x",
        "# Subtest: s",
        "# Subtest",
        "    ",
        "        ok 1",
        "  ---",
        "  ...",
        "---",
        "...",
        "  a: \"b",
        "  - x",
        "  k: |",
        "Bail out!",
        "bail out",
        "pragma +x",
        "pragma",
        "#",
        "\\",
        "\\#",
        "#\\",
        "é",
        "ok 1 - é # ś",
        "\t",
        "\r",
        "\u{0}",
        "  ? k",
        "  &a *b",
        "    # Subtest: t",
        "ok -",
        "ok 1 -",
    ];

    fn garbage(rng: &mut Rng) -> String {
        let mut s = String::new();
        for _ in 0..rng.below(40) {
            match rng.below(4) {
                0 => {
                    // Random bytes, lossily decoded.
                    let bytes: Vec<u8> = (0..rng.below(20)).map(|_| rng.next() as u8).collect();
                    s.push_str(&String::from_utf8_lossy(&bytes));
                }
                1 => s.push_str(&" ".repeat(rng.below(200))),
                _ => s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]),
            }
            if rng.below(3) > 0 {
                s.push('\n');
            }
        }
        s
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let input = garbage(&mut rng);
            let doc = parse(&input);
            for (_, p) in doc.walk() {
                let _ = p.yaml_value();
            }
            let _ = doc.is_ok();
            let _ = parse_yaml(&input);
        }
    }

    #[test]
    fn deep_indentation_is_bounded() {
        let deep = format!("{}ok 1\n", " ".repeat(4 * 10_000));
        let doc = parse(&deep);
        assert!(!doc.problems.is_empty());
        let nested: String = (0..200)
            .map(|d| format!("{}# Subtest: s{d}\n", " ".repeat(4 * d)))
            .collect();
        let _ = parse(&nested);
    }
}
