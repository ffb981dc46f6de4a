//! The YAML of TAP diagnostics blocks: a writer that emits a JSON value as block YAML with every
//! string JSON-quoted, and a reader of the small YAML subset that TAP producers emit.
//!
//! Writing: mappings and sequences are block style, strings are double-quoted with JSON escapes
//! (plus `\u` escapes for the characters YAML does not allow raw, such as C1 controls), so a
//! multi-line stderr, a colon or a `#` can never break the block. Numbers, booleans and null
//! are plain.
//!
//! Reading ([`parse`]): block mappings and sequences, double- and single-quoted scalars, plain
//! scalars (null, booleans, integers, floats, strings), `|` and `>` block scalars, comments,
//! and flow collections written as JSON (`[]`, `{}`, `["a", 1]`). Anchors, aliases, tags,
//! complex keys and multi-line flow or quoted scalars are refused with a [`YamlError`]: the
//! raw text stays available to callers that need more.

use serde_json::{Map, Number, Value};

/// The nesting depth past which the reader refuses input, so hostile input cannot exhaust
/// the stack.
const MAX_DEPTH: usize = 64;

/// YAML text the subset reader does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("YAML line {line}: {problem}")]
pub struct YamlError {
    /// 1-based line within the block.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A string as a double-quoted scalar that is both valid JSON and valid YAML.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        k.to_string()
    } else {
        quote(k)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) if a.is_empty() => "[]".to_string(),
        Value::Object(m) if m.is_empty() => "{}".to_string(),
        // Not reached: non-empty collections are written as blocks.
        Value::Array(_) | Value::Object(_) => "null".to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

/// Writes the entries of `map` as a block mapping, each line indented by `indent` spaces.
pub(crate) fn write_mapping(out: &mut String, indent: usize, map: &Map<String, Value>) {
    for (k, v) in map {
        push_indent(out, indent);
        out.push_str(&key(k));
        out.push(':');
        write_value_after_key(out, indent, v);
    }
}

fn write_value_after_key(out: &mut String, indent: usize, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_mapping(out, indent + 2, m);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_sequence(out, indent + 2, a);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_sequence(out: &mut String, indent: usize, items: &[Value]) {
    for item in items {
        if is_block(item) {
            // Render the item two columns in, then put the dash in the first line's indent.
            let mut inner = String::new();
            match item {
                Value::Object(m) => write_mapping(&mut inner, indent + 2, m),
                Value::Array(a) => write_sequence(&mut inner, indent + 2, a),
                _ => {}
            }
            push_indent(out, indent);
            out.push_str("- ");
            out.push_str(inner.get(indent + 2..).unwrap_or(""));
        } else {
            push_indent(out, indent);
            out.push_str("- ");
            out.push_str(&scalar(item));
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

// ---------------------------------------------------------------------------------------------
// Reading

#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: usize,
    indent: usize,
    text: &'a str,
    /// The whole line, trailing whitespace removed.
    raw: &'a str,
    /// Blank, or a comment line: skipped by the structure, kept for block scalars.
    filler: bool,
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    depth: usize,
}

fn err<T>(line: usize, problem: impl Into<String>) -> Result<T, YamlError> {
    Err(YamlError {
        line,
        problem: problem.into(),
    })
}

/// Parses the YAML subset described in the module docs into a JSON value. An empty document
/// is `null`.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim_end();
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let text = &raw[indent..];
        if text.starts_with('\t') {
            return err(i + 1, "tab used for indentation");
        }
        let marker = indent == 0 && (text == "---" || text == "...");
        let filler = text.is_empty() || text.starts_with('#') || marker;
        lines.push(Line {
            no: i + 1,
            indent,
            text,
            raw,
            filler,
        });
    }
    let mut r = Reader {
        lines,
        pos: 0,
        depth: 0,
    };
    let Some(first) = r.peek() else {
        return Ok(Value::Null);
    };
    let value = if is_entry_start(first.text) || is_seq_item(first.text) {
        r.node(first.indent)?
    } else {
        r.pos += 1;
        inline_scalar(first.text, first.no)?
    };
    if let Some(extra) = r.peek() {
        return err(extra.no, "unexpected content after the document");
    }
    Ok(value)
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

fn is_entry_start(text: &str) -> bool {
    split_key(text, 0).is_ok()
}

impl<'a> Reader<'a> {
    fn peek(&mut self) -> Option<Line<'a>> {
        while let Some(l) = self.lines.get(self.pos) {
            if l.filler {
                self.pos += 1;
            } else {
                return Some(*l);
            }
        }
        None
    }

    fn node(&mut self, indent: usize) -> Result<Value, YamlError> {
        self.depth += 1;
        let line = self.peek().map_or(0, |l| l.no);
        if self.depth > MAX_DEPTH {
            return err(line, "nesting too deep");
        }
        let result = match self.peek() {
            Some(l) if is_seq_item(l.text) => self.sequence(indent),
            Some(_) => self.mapping(indent),
            None => Ok(Value::Null),
        };
        self.depth -= 1;
        result
    }

    fn sequence(&mut self, indent: usize) -> Result<Value, YamlError> {
        let mut items = Vec::new();
        while let Some(l) = self.peek() {
            if l.indent < indent {
                break;
            }
            if l.indent > indent {
                return err(l.no, "unexpected indentation in a sequence");
            }
            if !is_seq_item(l.text) {
                break;
            }
            let rest = l.text[1..].trim_start();
            if rest.is_empty() {
                self.pos += 1;
                items.push(self.nested_or_null(indent, false)?);
                continue;
            }
            let col = indent + (l.text.len() - rest.len());
            if is_seq_item(rest) || is_entry_start(rest) {
                // `- key: value` or `- - x`: the item is a block starting at column `col`.
                self.lines[self.pos] = Line {
                    indent: col,
                    text: rest,
                    ..l
                };
                items.push(self.node(col)?);
            } else {
                self.pos += 1;
                items.push(self.value_text(rest, indent, l.no)?);
            }
        }
        Ok(Value::Array(items))
    }

    fn mapping(&mut self, indent: usize) -> Result<Value, YamlError> {
        let mut map = Map::new();
        while let Some(l) = self.peek() {
            if l.indent < indent {
                break;
            }
            if l.indent > indent {
                return err(l.no, "unexpected indentation in a mapping");
            }
            if is_seq_item(l.text) {
                break;
            }
            let (k, rest) = split_key(l.text, l.no)?;
            self.pos += 1;
            let v = if rest.is_empty() {
                self.nested_or_null(indent, true)?
            } else {
                self.value_text(rest, indent, l.no)?
            };
            map.insert(k, v);
        }
        Ok(Value::Object(map))
    }

    /// The value of a key or dash with nothing after it: a nested block, or null.
    fn nested_or_null(&mut self, indent: usize, in_mapping: bool) -> Result<Value, YamlError> {
        match self.peek() {
            Some(n) if n.indent > indent => self.node(n.indent),
            // A sequence may sit at the same indentation as its key.
            Some(n) if in_mapping && n.indent == indent && is_seq_item(n.text) => self.node(indent),
            _ => Ok(Value::Null),
        }
    }

    /// The text after `key:` or `- `: a block scalar header or an inline scalar.
    fn value_text(&mut self, rest: &str, indent: usize, no: usize) -> Result<Value, YamlError> {
        let header = strip_comment(rest);
        if let Some(style) = header.chars().next().filter(|c| *c == '|' || *c == '>') {
            let chomp = &header[1..];
            if !matches!(chomp, "" | "-" | "+") {
                return err(no, "unsupported block scalar header");
            }
            return Ok(Value::String(self.block_scalar(
                indent,
                style == '>',
                chomp,
            )));
        }
        inline_scalar(rest, no)
    }

    fn block_scalar(&mut self, parent: usize, folded: bool, chomp: &str) -> String {
        let mut body: Vec<&str> = Vec::new();
        let mut content_indent = None;
        while let Some(l) = self.lines.get(self.pos) {
            let blank = l.text.is_empty();
            if !blank && l.indent <= parent {
                break;
            }
            if !blank && content_indent.is_none() {
                content_indent = Some(l.indent);
            }
            // Keep indentation beyond the content's own (spaces are ASCII: slicing is safe).
            let line = match content_indent {
                _ if blank => "",
                Some(ci) if l.indent >= ci => l.raw.get(ci..).unwrap_or(l.text),
                _ => l.text,
            };
            body.push(line);
            self.pos += 1;
        }
        let trailing_blank = body.iter().rev().take_while(|l| l.is_empty()).count();
        let content = &body[..body.len() - trailing_blank];
        let mut s = String::new();
        if folded {
            let mut prev_blank = true;
            for l in content {
                if l.is_empty() {
                    s.push('\n');
                    prev_blank = true;
                } else {
                    if !prev_blank && !s.ends_with('\n') {
                        s.push(' ');
                    }
                    s.push_str(l);
                    prev_blank = false;
                }
            }
        } else {
            s = content.join("\n");
        }
        match chomp {
            "-" => {}
            "+" => {
                s.push('\n');
                s.extend(std::iter::repeat_n('\n', trailing_blank));
            }
            _ if !content.is_empty() => s.push('\n'),
            _ => {}
        }
        s
    }
}

/// Splits `key: rest`. The key may be plain, double-quoted or single-quoted.
fn split_key(text: &str, no: usize) -> Result<(String, &str), YamlError> {
    let (key, after) = if text.starts_with('"') {
        let (k, used) = double_quoted(text, no)?;
        (k, &text[used..])
    } else if text.starts_with('\'') {
        let (k, used) = single_quoted(text, no)?;
        (k, &text[used..])
    } else {
        let idx = text
            .find(": ")
            .or_else(|| text.ends_with(':').then(|| text.len() - 1));
        match idx {
            Some(i)
                if i > 0 && !text.starts_with(['[', '{', '#', '&', '*', '!', '?', '|', '>']) =>
            {
                (text[..i].trim_end().to_string(), &text[i..])
            }
            _ => return err(no, "expected `key: value`"),
        }
    };
    let after = after.trim_start_matches(' ');
    match after.strip_prefix(':') {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => Ok((key, rest.trim())),
        _ => err(no, "expected `:` after the key"),
    }
}

fn strip_comment(s: &str) -> &str {
    match s.find(" #") {
        Some(i) => s[..i].trim_end(),
        None => s.trim_end(),
    }
}

fn inline_scalar(text: &str, no: usize) -> Result<Value, YamlError> {
    let text = text.trim();
    if text.starts_with('"') {
        let (s, used) = double_quoted(text, no)?;
        return only_comment_after(&text[used..], no).map(|_| Value::String(s));
    }
    if text.starts_with('\'') {
        let (s, used) = single_quoted(text, no)?;
        return only_comment_after(&text[used..], no).map(|_| Value::String(s));
    }
    let plain = strip_comment(text);
    if plain.starts_with('[') || plain.starts_with('{') {
        return serde_json::from_str(plain)
            .or_else(|_| err(no, "flow collections are only read when they are JSON"));
    }
    if plain.starts_with(['&', '*', '!', '?', '%', '@', '`']) {
        return err(
            no,
            "anchors, aliases, tags and reserved indicators are not supported",
        );
    }
    Ok(plain_scalar(plain))
}

fn only_comment_after(rest: &str, no: usize) -> Result<(), YamlError> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        err(no, "text after a quoted scalar")
    }
}

fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = s.parse::<u64>() {
            return Value::Number(u.into());
        }
    }
    let looks_float = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float {
        if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

/// Reads a double-quoted scalar at the start of `text`; returns it and the bytes consumed.
fn double_quoted(text: &str, no: usize) -> Result<(String, usize), YamlError> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    let mut pending_high: Option<u32> = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                if pending_high.is_some() {
                    out.push('\u{fffd}');
                }
                return Ok((out, i + 1));
            }
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    break;
                };
                let simple = match e {
                    '0' => Some('\0'),
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    't' | '\t' => Some('\t'),
                    'n' => Some('\n'),
                    'v' => Some('\u{b}'),
                    'f' => Some('\u{c}'),
                    'r' => Some('\r'),
                    'e' => Some('\u{1b}'),
                    ' ' => Some(' '),
                    '"' => Some('"'),
                    '/' => Some('/'),
                    '\\' => Some('\\'),
                    'N' => Some('\u{85}'),
                    '_' => Some('\u{a0}'),
                    'L' => Some('\u{2028}'),
                    'P' => Some('\u{2029}'),
                    _ => None,
                };
                if let Some(ch) = simple {
                    if pending_high.take().is_some() {
                        out.push('\u{fffd}');
                    }
                    out.push(ch);
                    continue;
                }
                let width = match e {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    _ => return err(no, format!("unknown escape \\{e}")),
                };
                let mut code = 0u32;
                for _ in 0..width {
                    let d = chars
                        .next()
                        .and_then(|(_, d)| d.to_digit(16))
                        .ok_or_else(|| YamlError {
                            line: no,
                            problem: "bad hexadecimal escape".into(),
                        })?;
                    code = code * 16 + d;
                }
                match (pending_high.take(), code) {
                    (Some(high), 0xDC00..=0xDFFF) => {
                        let combined = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00);
                        out.push(char::from_u32(combined).unwrap_or('\u{fffd}'));
                    }
                    (high, 0xD800..=0xDBFF) => {
                        if high.is_some() {
                            out.push('\u{fffd}');
                        }
                        pending_high = Some(code);
                    }
                    (high, _) => {
                        if high.is_some() {
                            out.push('\u{fffd}');
                        }
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                }
            }
            c => {
                if pending_high.take().is_some() {
                    out.push('\u{fffd}');
                }
                out.push(c);
            }
        }
    }
    err(
        no,
        "unterminated double-quoted scalar (multi-line scalars are not supported)",
    )
}

fn single_quoted(text: &str, no: usize) -> Result<(String, usize), YamlError> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                out.push('\'');
            } else {
                return Ok((out, i + 1));
            }
        } else {
            out.push(c);
        }
    }
    err(no, "unterminated single-quoted scalar")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(v: &Value) -> Value {
        let Value::Object(m) = v else {
            panic!("test values are mappings")
        };
        let mut s = String::new();
        write_mapping(&mut s, 0, m);
        parse(&s).unwrap_or_else(|e| panic!("{e}\n{s}"))
    }

    #[test]
    fn writes_and_reads_back_nested_values() {
        let v = json!({
            "id": "runtime.config.x",
            "level": "MUST NOT",
            "n": 3, "neg": -4, "f": 1.5, "t": true, "z": null,
            "empty_list": [], "empty_map": {},
            "failures": [
                {"message": "a: b # c", "location": {"kind": "command", "argv": ["runc", "create"], "status": 1,
                  "stderr": "line 1\nline 2\r\n\ttab \u{1b}[31m \u{85} \u{2028} \"q\" \\"}},
                {"message": "second"}
            ],
            "nested": [["a", "b"], [], [{"k": "v"}]],
            "weird key: #": "v",
            "null": "keyword key",
            "unicode": "héllo ✓ 😀",
        });
        assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn quoted_strings_are_json_too() {
        let s = "x\u{7f}\u{9f}\u{feff}\n\"";
        let q = quote(s);
        assert_eq!(serde_json::from_str::<String>(&q).unwrap(), s);
        assert!(!q.contains('\u{7f}') && !q.contains('\n'));
    }

    #[test]
    fn reads_common_producer_yaml() {
        let text = "message: 'it''s broken'\nseverity: fail\nat:\n  line: 12\n  file: test.js\n\
                    stack: |\n  a\n  b\n\nwanted: 1.0\nlist:\n- 1\n- two # comment\nflow: [1, \"a\"]\n";
        let v = parse(text).unwrap();
        assert_eq!(
            v,
            json!({"message": "it's broken", "severity": "fail", "at": {"line": 12, "file": "test.js"},
                   "stack": "a\nb\n", "wanted": 1.0, "list": [1, "two"], "flow": [1, "a"]})
        );
    }

    #[test]
    fn folded_and_chomped_block_scalars() {
        let v = parse("a: >-\n  one\n  two\n\n  three\nb: |+\n  x\n\nc: 1\n").unwrap();
        assert_eq!(v, json!({"a": "one two\nthree", "b": "x\n\n", "c": 1}));
    }

    #[test]
    fn refuses_what_it_does_not_know_without_panicking() {
        for bad in [
            "a: &x 1",
            "a: \"open",
            "? complex",
            "a: b\n    c: d",
            "- a\nb: c",
            "a: {x: 1}",
            "\tkey: v",
            "a: \"\\q\"",
            "a: \"\\u12\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let deep: String = (0..200)
            .map(|i| format!("{}k:\n", " ".repeat(i * 2)))
            .collect();
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(parse("").unwrap(), Value::Null);
        assert_eq!(parse("\"just a string\"").unwrap(), json!("just a string"));
        assert_eq!(
            parse("a: 18446744073709551615\nb: 1e3\nc: 1.2.3\nd: ~\ne: \"\\ud83d\\ude00\"")
                .unwrap(),
            json!({"a": 18446744073709551615u64, "b": 1000.0, "c": "1.2.3", "d": null, "e": "😀"})
        );
    }
}
