//! A strict JSON reader that keeps what `serde_json` throws away.
//!
//! OCI documents are judged on their raw bytes: a duplicate key (runtime-spec's glossary and
//! image-spec's descriptor rules forbid them) vanishes in `serde_json::Value`, and a finding
//! needs a line and column, not only a JSON pointer. This reader parses RFC 8259 JSON into a
//! `serde_json::Value` and also records
//!
//! - the position (byte offset, line, column) of every value, by JSON pointer;
//! - every duplicate key, with its position;
//!
//! within hard limits on size and nesting depth, so hostile input gets a clear error, never a
//! stack overflow or unbounded memory. Numbers are handed to `serde_json::Number` as written.
//!
//! Time and memory are linear in the size of the text: positions are counted by one forward
//! scan (not from the start of the text for every value), each value's position is stored
//! under its parent and its own pointer token (not under its full pointer, which would repeat
//! a long key once per descendant), and the duplicate-key record is bounded (see
//! [`Document::duplicates`]).

use std::cell::Cell;
use std::collections::HashMap;

use oci_certify_core::check::Location;
use oci_certify_core::fault::{Blame, Fault};
use serde_json::{Map, Number, Value};

/// Limits on a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of arrays and objects.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 16 MiB and depth 128: far above any real OCI document (distribution-spec lets
    /// registries refuse manifests over 4 MiB), far below what would hurt.
    fn default() -> Self {
        Limits {
            max_bytes: 16 << 20,
            max_depth: 128,
        }
    }
}

/// A position in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset.
    pub offset: usize,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// A key that appears more than once in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// Pointer to the object holding the key.
    pub object: String,
    /// The key.
    pub key: String,
    /// Where the repeated occurrence starts.
    pub at: Position,
}

/// Why a document could not be read as JSON. The document is the user's input, so these are
/// input faults; a check that requires valid JSON turns them into findings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Larger than [`Limits::max_bytes`].
    #[error("document is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid UTF-8.
    #[error("not valid UTF-8 at line {}, column {} (byte {})", .at.line, .at.column, .at.offset)]
    NotUtf8 {
        /// Where the first invalid byte is.
        at: Position,
    },
    /// Not valid JSON.
    #[error("invalid JSON at line {}, column {}: {message}", .at.line, .at.column)]
    Syntax {
        /// Where.
        at: Position,
        /// What.
        message: String,
    },
    /// Nested deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {limit} levels at line {}, column {}", .at.line, .at.column)]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where.
        at: Position,
    },
}

impl JsonError {
    /// Where the problem is, when it has a position.
    pub fn position(&self) -> Option<Position> {
        match self {
            JsonError::TooLarge { .. } => None,
            JsonError::NotUtf8 { at }
            | JsonError::Syntax { at, .. }
            | JsonError::TooDeep { at, .. } => Some(*at),
        }
    }
}

impl Blame for JsonError {
    fn fault(&self) -> Fault {
        Fault::Input
    }
}

/// A parsed document with positions and duplicate keys.
#[derive(Debug, Clone)]
pub struct Document {
    /// The name findings use: a file path, a blob digest, `<stdin>`.
    pub name: String,
    /// The value (for duplicate keys, the last occurrence wins, as in `serde_json`).
    pub value: Value,
    /// The duplicate keys, in document order: every one, unless hostile input repeats keys
    /// beyond [`Limits::max_bytes`] bytes of records (pointer, key and bookkeeping); then the
    /// first ones, and always at least one.
    pub duplicates: Vec<DuplicateKey>,
    positions: Positions,
}

/// Where every value starts: the root's position, and each other value's under (its parent's
/// id, its own escaped pointer token). Ids number the values in document order, the root 0.
#[derive(Debug, Clone)]
struct Positions {
    root: Position,
    children: HashMap<(usize, String), (usize, Position)>,
}

impl Document {
    /// Parses `bytes` as one JSON text.
    pub fn parse(
        name: impl Into<String>,
        bytes: &[u8],
        limits: Limits,
    ) -> Result<Document, JsonError> {
        if bytes.len() > limits.max_bytes {
            return Err(JsonError::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| JsonError::NotUtf8 {
            at: position_of(bytes, e.valid_up_to()),
        })?;
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            i: 0,
            limits,
            cursor: Cell::new(LineCursor::START),
            children: HashMap::new(),
            next_id: 1,
            duplicates: Vec::new(),
            duplicate_bytes: 0,
        };
        p.skip_ws();
        let root = p.pos();
        let mut pointer = String::new();
        let value = p.value(&mut pointer, 0, 0)?;
        p.skip_ws();
        if p.i != p.bytes.len() {
            return Err(p.syntax("unexpected data after the JSON value"));
        }
        Ok(Document {
            name: name.into(),
            value,
            duplicates: p.duplicates,
            positions: Positions {
                root,
                children: p.children,
            },
        })
    }

    /// Where the value at `pointer` starts; for a pointer to something absent, the nearest
    /// existing ancestor. `None` for a string that is not a JSON pointer.
    pub fn position(&self, pointer: &str) -> Option<Position> {
        let mut tokens = pointer.split('/');
        if tokens.next() != Some("") {
            return None;
        }
        let (mut id, mut at) = (0, self.positions.root);
        for token in tokens {
            match self.positions.children.get(&(id, token.to_string())) {
                Some(&(child, pos)) => (id, at) = (child, pos),
                None => break,
            }
        }
        Some(at)
    }

    /// A report location for `pointer` in this document.
    pub fn location(&self, pointer: &str) -> Location {
        let pos = self.position(pointer);
        Location::Document {
            file: self.name.clone(),
            pointer: pointer.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
        }
    }
}

/// Escapes one reference token for a JSON pointer (RFC 6901).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn position_of(bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Position {
        offset,
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

/// Line and column (1-based, in characters) of a byte offset of valid UTF-8 text.
#[derive(Debug, Clone, Copy)]
struct LineCursor {
    offset: usize,
    line: usize,
    column: usize,
}

impl LineCursor {
    const START: LineCursor = LineCursor {
        offset: 0,
        line: 1,
        column: 1,
    };
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
    limits: Limits,
    /// The last position computed. The parser asks for positions in text order, so each is
    /// counted on from the previous one, and the text is scanned once overall.
    cursor: Cell<LineCursor>,
    children: HashMap<(usize, String), (usize, Position)>,
    next_id: usize,
    duplicates: Vec<DuplicateKey>,
    /// What the duplicate-key records hold, in bytes (bounded by `limits.max_bytes`).
    duplicate_bytes: usize,
}

impl Parser<'_> {
    fn pos(&self) -> Position {
        let mut c = self.cursor.get();
        if self.i < c.offset {
            c = LineCursor::START; // only after an error moved back
        }
        let end = self.i.min(self.bytes.len());
        for &b in &self.bytes[c.offset.min(end)..end] {
            if b == b'\n' {
                c.line += 1;
                c.column = 1;
            } else if b & 0xC0 != 0x80 {
                // Not a UTF-8 continuation byte: a new character.
                c.column += 1;
            }
        }
        c.offset = end;
        self.cursor.set(c);
        Position {
            offset: self.i,
            line: u32::try_from(c.line).unwrap_or(u32::MAX),
            column: u32::try_from(c.column).unwrap_or(u32::MAX),
        }
    }

    /// Records where the value about to be read starts, as `token` of value `parent`, and
    /// returns the new value's id.
    fn child(&mut self, parent: usize, token: String) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let at = self.pos();
        self.children.insert((parent, token), (id, at));
        id
    }

    fn syntax(&self, message: &str) -> JsonError {
        JsonError::Syntax {
            at: self.pos(),
            message: message.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.i) {
            self.i += 1;
        }
    }

    /// Reads the value with id `id` at `pointer` (kept for duplicate-key records).
    fn value(&mut self, pointer: &mut String, id: usize, depth: usize) -> Result<Value, JsonError> {
        match self.bytes.get(self.i) {
            None => Err(self.syntax("unexpected end of input, expected a value")),
            Some(b'{') => self.object(pointer, id, depth + 1),
            Some(b'[') => self.array(pointer, id, depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.syntax("expected a value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.limits.max_depth {
            Err(JsonError::TooDeep {
                limit: self.limits.max_depth,
                at: self.pos(),
            })
        } else {
            Ok(())
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.text[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(self.syntax("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        let b = self.bytes;
        if b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while b.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
            }
            _ => return Err(self.syntax("invalid number")),
        }
        if b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.syntax("invalid number: digit expected after '.'"));
            }
            while b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = b.get(self.i) {
                self.i += 1;
            }
            if !b.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.syntax("invalid number: digit expected in exponent"));
            }
            while b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
        }
        let text = &self.text[start..self.i];
        match text.parse::<Number>() {
            Ok(n) => Ok(Value::Number(n)),
            // serde_json refuses numbers it cannot represent (e.g. 1e400); keep the error clear.
            Err(_) => {
                self.i = start;
                Err(self.syntax("number out of range"))
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&c) = self.bytes.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.bytes.get(self.i) {
                None => return Err(self.syntax("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self.bytes.get(self.i).copied();
                    self.i += 1;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode_escape()?),
                        _ => {
                            self.i -= 1;
                            return Err(self.syntax("invalid escape in string"));
                        }
                    }
                }
                Some(_) => return Err(self.syntax("control character in string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.i..self.i + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.syntax("invalid \\u escape"))?;
        self.i += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.syntax("invalid \\u escape"))
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.text[self.i..].starts_with("\\u") {
                return Err(self.syntax("lone surrogate in \\u escape"));
            }
            self.i += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.syntax("lone surrogate in \\u escape"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else if (0xDC00..0xE000).contains(&first) {
            return Err(self.syntax("lone surrogate in \\u escape"));
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.syntax("invalid \\u escape"))
    }

    fn object(
        &mut self,
        pointer: &mut String,
        id: usize,
        depth: usize,
    ) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.i += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.bytes.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.i) != Some(&b'"') {
                return Err(self.syntax("expected a string key"));
            }
            let key_at = self.pos();
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.i) != Some(&b':') {
                return Err(self.syntax("expected ':' after key"));
            }
            self.i += 1;
            self.skip_ws();
            let len = pointer.len();
            let token = escape_token(&key);
            pointer.push('/');
            pointer.push_str(&token);
            let child = self.child(id, token);
            let value = self.value(pointer, child, depth)?;
            pointer.truncate(len);
            if map.contains_key(&key) {
                let cost = pointer.len() + key.len() + std::mem::size_of::<DuplicateKey>();
                if self.duplicates.is_empty()
                    || self.duplicate_bytes + cost <= self.limits.max_bytes
                {
                    self.duplicate_bytes += cost;
                    self.duplicates.push(DuplicateKey {
                        object: pointer.clone(),
                        key: key.clone(),
                        at: key_at,
                    });
                }
            }
            map.insert(key, value);
            self.skip_ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.syntax("expected ',' or '}' in object")),
            }
        }
    }

    fn array(&mut self, pointer: &mut String, id: usize, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.i += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            let len = pointer.len();
            let token = items.len().to_string();
            pointer.push('/');
            pointer.push_str(&token);
            let child = self.child(id, token);
            let value = self.value(pointer, child, depth)?;
            pointer.truncate(len);
            items.push(value);
            self.skip_ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.syntax("expected ',' or ']' in array")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document, JsonError> {
        Document::parse("t.json", s.as_bytes(), Limits::default())
    }

    #[test]
    fn agrees_with_serde_json_on_valid_documents() {
        for text in [
            r#"{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"\u00e9\ud83d\ude00\n"}}"#,
            "[]",
            " 0 ",
            r#""x""#,
            r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":18446744073709551615}"#,
        ] {
            let ours = parse(text).unwrap().value;
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn records_duplicates_and_positions() {
        let doc = parse("{\n  \"a\": 1,\n  \"b\": {\"x\": 1, \"x\": 2},\n  \"a\": 3\n}").unwrap();
        assert_eq!(doc.value["a"], 3);
        let dups: Vec<_> = doc
            .duplicates
            .iter()
            .map(|d| (d.object.as_str(), d.key.as_str(), d.at.line))
            .collect();
        assert_eq!(dups, vec![("/b", "x", 3), ("", "a", 4)]);
        let b = doc.position("/b/x").unwrap();
        assert_eq!((b.line, b.column), (3, 22));
        // Absent pointers fall back to the nearest ancestor.
        assert_eq!(doc.position("/b/nope/0"), doc.position("/b"));
    }

    #[test]
    fn rejects_bad_input_with_positions() {
        let cases: &[(&[u8], &str)] = &[
            (b"{\"a\":1,}", "expected a string key"),
            (b"[1 2]", "expected ',' or ']'"),
            (b"{\"a\" 1}", "expected ':'"),
            (b"\"\\ud800\"", "lone surrogate"),
            (b"01", "unexpected data"),
            (b"1.", "digit expected"),
            (b"1e999", "out of range"),
            (b"\"a\tb\"", "control character"),
            (b"", "unexpected end"),
            (b"{} {}", "unexpected data"),
        ];
        for (text, want) in cases {
            let err = Document::parse("t", text, Limits::default()).unwrap_err();
            assert!(
                err.to_string().contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(text)
            );
        }
        let err = Document::parse("t", b"{\"a\":\"\xff\"}", Limits::default()).unwrap_err();
        assert!(
            matches!(err, JsonError::NotUtf8 { at } if at.offset == 6),
            "{err}"
        );
    }

    #[test]
    fn limits_hold_against_hostile_input() {
        let deep = "[".repeat(100_000);
        let err = parse(&deep).unwrap_err();
        assert!(
            matches!(err, JsonError::TooDeep { limit: 128, .. }),
            "{err}"
        );
        let limits = Limits {
            max_bytes: 10,
            max_depth: 4,
        };
        assert!(matches!(
            Document::parse("t", b"[1,2,3,4,5,6]", limits),
            Err(JsonError::TooLarge {
                size: 13,
                limit: 10
            })
        ));
    }

    /// Every pointer of a value, with the value.
    fn pointers<'v>(v: &'v Value, at: String, out: &mut Vec<(String, &'v Value)>) {
        out.push((at.clone(), v));
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    pointers(c, format!("{at}/{}", escape_token(k)), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    pointers(c, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn positions_agree_with_a_count_from_the_start() {
        let text = "{\n \"é/~\": [1, \"ü\\u00e9\",\r\n  {\"\": null}],\n\t\"b\":\n  \"😀\", \"b\": [[true]]\n}";
        let doc = parse(text).unwrap();
        let mut all = Vec::new();
        pointers(&doc.value, String::new(), &mut all);
        assert_eq!(all.len(), 9);
        for (pointer, value) in all {
            let at = doc.position(&pointer).unwrap();
            assert_eq!(at, position_of(text.as_bytes(), at.offset), "{pointer}");
            let first = text[at.offset..].chars().next().unwrap();
            let want = match value {
                Value::Object(_) => '{',
                Value::Array(_) => '[',
                Value::String(_) => '"',
                _ => serde_json::to_string(value)
                    .unwrap()
                    .chars()
                    .next()
                    .unwrap(),
            };
            assert_eq!(first, want, "{pointer} starts at {at:?}");
        }
        // Pointers are matched token by token, escaped as RFC 6901 says.
        assert_eq!(doc.position("/é~1~0/2/").unwrap().line, 3);
        assert_eq!(doc.position("/b/0/0").unwrap().column, 15);
        // The last of duplicate keys wins, as in the value.
        assert_eq!(doc.position("/b/0").unwrap().line, 5);
        assert_eq!(doc.position("/é/~0"), doc.position(""));
        assert_eq!(doc.position("no leading slash"), None);
    }

    /// Regression: every value's position used to be counted from the start of the text, so
    /// a long one-line document took time quadratic in its size (a 80 KB array of zeros took
    /// 3.7 s in release builds; a 4 MiB one, hours).
    #[test]
    fn long_single_line_documents_parse_in_linear_time() {
        let n = 256 << 10;
        let mut text = String::with_capacity(2 * n + 2);
        text.push('[');
        for i in 0..n {
            if i > 0 {
                text.push(',');
            }
            text.push('0');
        }
        text.push(']');
        let started = std::time::Instant::now();
        let doc = parse(&text).unwrap();
        assert_eq!(
            doc.position(&format!("/{}", n - 1)).unwrap().column as usize,
            2 * n
        );
        // Generous: the quadratic version needed minutes here, the linear one well under 1 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    /// Regression: positions used to be stored under each value's full pointer, so a long key
    /// was stored again for every value below it: memory quadratic in the size of the text
    /// (a 24 KB document took 65 MB; a 16 MiB one could ask for terabytes).
    #[test]
    fn positions_take_memory_linear_in_the_text() {
        let key = "k".repeat(64 << 10);
        let text = format!("{{\"{key}\":[{}0]}}", "0,".repeat(32 << 10));
        let doc = parse(&text).unwrap();
        let stored: usize = doc.positions.children.keys().map(|(_, t)| t.len()).sum();
        assert!(stored < 2 * text.len(), "{stored} bytes of tokens");
        assert_eq!(
            doc.position(&format!("/{key}/7")).unwrap().column,
            64 * 1024 + 20
        );
    }

    /// Regression: a duplicate-key record holds the pointer of its object, so repeating keys
    /// under a long path took memory quadratic in the text. The records are bounded by
    /// `max_bytes`, and the first one is always kept.
    #[test]
    fn duplicate_records_are_bounded() {
        let limits = Limits {
            max_bytes: 1 << 20,
            max_depth: 8,
        };
        let key = "k".repeat(256 << 10);
        let text = format!("{{\"{key}\":{{{}\"a\":0}}}}", "\"a\":0,".repeat(40_000));
        let doc = Document::parse("t", text.as_bytes(), limits).unwrap();
        let held: usize = doc
            .duplicates
            .iter()
            .map(|d| d.object.len() + d.key.len() + std::mem::size_of::<DuplicateKey>())
            .sum();
        assert!(
            !doc.duplicates.is_empty() && held <= limits.max_bytes,
            "{held}"
        );
        assert_eq!(doc.duplicates[0].object, format!("/{key}"));
        // A single record larger than the bound is still kept: the document is judged.
        let tiny = Limits {
            max_bytes: 64,
            max_depth: 8,
        };
        let doc = Document::parse("t", br#"{"a-long-enough-key":{"x":1,"x":2}}"#, tiny).unwrap();
        assert_eq!(doc.duplicates.len(), 1);
    }

    #[test]
    fn never_panics_on_garbage() {
        // A deterministic stream of byte soup around JSON punctuation.
        let alphabet = b"{}[]:,\"\\u0123456789abcdefEe+-.tnrl \n\xff\xc3\xa9";
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (seed % 24) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if let Ok(doc) = Document::parse("t", &buf, Limits::default()) {
                let theirs: Result<Value, _> = serde_json::from_slice(&buf);
                if let Ok(v) = theirs {
                    assert_eq!(doc.value, v, "{:?}", String::from_utf8_lossy(&buf));
                }
            }
        }
    }
}
