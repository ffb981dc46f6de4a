//! A small XML 1.0 writer: escaping, forbidden characters, indentation. Enough for JUnit.

/// Whether XML 1.0 allows `c` in a document.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text content. Characters XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) are
/// replaced with a visible `\u001b`-style escape so the evidence stays readable.
pub(crate) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A carriage return would be normalised away by parsers.
            '\r' => out.push_str("&#13;"),
            c if !allowed(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value (for double quotes). Whitespace other than spaces is written as
/// character references, since parsers normalise raw newlines and tabs in attributes to spaces.
pub(crate) fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if !allowed(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Builds an indented XML document in memory.
pub(crate) struct XmlWriter {
    out: String,
    stack: Vec<String>,
}

impl XmlWriter {
    pub fn new() -> XmlWriter {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            stack: Vec::new(),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.stack.len() {
            self.out.push_str("  ");
        }
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            self.out.push_str(&attr(v));
            self.out.push('"');
        }
    }

    /// Opens an element whose children go on their own lines.
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.tag(name, attrs);
        self.out.push_str(">\n");
        self.stack.push(name.to_string());
    }

    /// Closes the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.stack.pop() {
            self.indent();
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push_str(">\n");
        }
    }

    /// Writes `<name attrs/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.tag(name, attrs);
        self.out.push_str("/>\n");
    }

    /// Writes `<name attrs>text</name>`; the text is written verbatim after escaping, so
    /// line breaks in it are preserved.
    pub fn text_element(&mut self, name: &str, attrs: &[(&str, &str)], body: &str) {
        self.indent();
        self.tag(name, attrs);
        self.out.push('>');
        self.out.push_str(&text(body));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// The document, closing whatever is still open.
    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_replaces_forbidden_characters() {
        assert_eq!(
            text("a<b & c>\u{1b}[0m\u{0}"),
            "a&lt;b &amp; c&gt;\\u001b[0m\\u0000"
        );
        assert_eq!(attr("\"x\"\n'y'\t"), "&quot;x&quot;&#10;&apos;y&apos;&#9;");
        assert_eq!(text("\u{fffe}ok\u{10000}"), "\\ufffeok\u{10000}");
    }

    #[test]
    fn nests_and_closes() {
        let mut w = XmlWriter::new();
        w.open("a", &[("n", "1")]);
        w.empty("b", &[]);
        w.text_element("c", &[], "t");
        let doc = w.finish();
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a n=\"1\">\n  <b/>\n  <c>t</c>\n</a>\n"
        );
    }
}
