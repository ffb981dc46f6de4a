//! One self-contained HTML page per run, written when the run finishes: inline CSS, no
//! script, no external resource, so it can be attached to a CI job or mailed as is.
//!
//! The page shows a verdict banner coloured red, yellow or green with the counts, the run's
//! diagnostics, then one section per spec document with a table of its results — failures
//! first — where each requirement id links to its anchor in the spec text, and each failure
//! unfolds (a `<details>` element) into what was expected, what was found and where.
//! Every piece of text is escaped; only `http(s)` anchors become links.

use std::fmt::Write as _;
use std::io::Write;

use oci_certify_core::check::{Failure, Outcome};
use oci_certify_core::event::{Event, PointResult, ResultClass, RunEnd, Sink, SinkError, Verdict};

use crate::common::{
    class_name, count, location_fields, location_kind, sink_error, spec_label, Recorder,
};

const NAME: &str = "HTML";

/// Writes the HTML report at the end of the run. See the module docs.
pub struct HtmlSink<W: Write + Send> {
    out: W,
    recorder: Recorder,
}

impl<W: Write + Send> HtmlSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> HtmlSink<W> {
        HtmlSink {
            out,
            recorder: Recorder::default(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Escapes text for HTML content and attribute values. Control characters other than tab and
/// line breaks are shown as `\u001b`-style escapes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            '\r' => {}
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--bg:#ffffff;--panel:#f6f8fa;--line:#d1d9e0;
--red:#b42318;--red-bg:#fef3f2;--red-line:#fda29b;--yellow:#93370d;--yellow-bg:#fffaeb;--yellow-line:#fec84b;
--green:#067647;--green-bg:#ecfdf3;--green-line:#75e0a7;--blue:#175cd3;--blue-bg:#eff8ff;--grey:#475467;--grey-bg:#f2f4f7;
--purple:#6941c6;--purple-bg:#f4f3ff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:13px}
pre{margin:0;white-space:pre-wrap;word-break:break-word}
a{color:var(--blue);text-decoration:none}a:hover{text-decoration:underline}
.run{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 20px;color:var(--muted)}
.run dt{font-weight:600}.run dd{margin:0;color:var(--fg);word-break:break-all}
.banner{border:1px solid;border-radius:10px;padding:18px 22px;display:flex;flex-wrap:wrap;align-items:center;gap:12px 28px}
.banner.red{background:var(--red-bg);border-color:var(--red-line);color:var(--red)}
.banner.yellow{background:var(--yellow-bg);border-color:var(--yellow-line);color:var(--yellow)}
.banner.green{background:var(--green-bg);border-color:var(--green-line);color:var(--green)}
.verdict{font-size:34px;font-weight:800;letter-spacing:.06em}
.why{margin:0;font-weight:500;flex:1 1 260px}
.doc .counts{margin:0 0 10px}
.counts{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:8px;width:100%}
.counts li{background:rgba(255,255,255,.75);border:1px solid var(--line);border-radius:8px;padding:4px 12px;color:var(--fg)}
.counts .n{font-weight:700;font-size:17px;margin-right:4px}
.diagnostics{margin-top:20px;border-left:4px solid var(--yellow-line);background:var(--panel);padding:8px 16px;border-radius:0 8px 8px 0}
.diagnostics h2{margin-top:8px}.diagnostics ul{padding-left:18px}
.toc ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:8px}
.toc li a{display:inline-block;border:1px solid var(--line);border-radius:999px;padding:2px 12px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%;table-layout:fixed;min-width:760px}
th:nth-child(1){width:88px}th:nth-child(3){width:104px}th:nth-child(4){width:22%}th:nth-child(5){width:30%}
th,td{text-align:left;vertical-align:top;padding:7px 10px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{background:var(--panel);font-size:13px;color:var(--muted);font-weight:600}
tr:last-child td{border-bottom:0}
td.msg{white-space:pre-wrap;word-break:break-word;max-width:460px}
.sum{color:var(--muted);font-size:13px}.target{color:var(--muted);font-size:13px;word-break:break-all}
.badge{display:inline-block;min-width:64px;text-align:center;font-size:12px;font-weight:700;border-radius:6px;padding:2px 8px;white-space:nowrap}
.b-pass{background:var(--green-bg);color:var(--green)}.b-fail_must{background:var(--red);color:#fff}
.b-fail_should{background:var(--yellow-line);color:#4e1d09}.b-fail_may{background:var(--blue-bg);color:var(--blue)}
.b-skip{background:var(--grey-bg);color:var(--grey)}.b-error{background:var(--purple-bg);color:var(--purple)}
tr.details td{background:var(--panel);padding-top:0}
details{padding:6px 0}summary{cursor:pointer;color:var(--muted);font-size:13px}
.failure{border-left:3px solid var(--line);margin:8px 0 4px;padding:2px 12px}
.failure.must{border-color:var(--red-line)}.failure.should{border-color:var(--yellow-line)}
.failure p{margin:2px 0 6px;font-weight:600}
.failure dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}
.failure dt{color:var(--muted);font-size:13px}.failure dd{margin:0}
.failure dd dl{grid-template-columns:max-content 1fr}
footer{margin-top:40px;color:var(--muted);font-size:13px}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#151b23;--line:#3d444d;
--red-bg:#2d1214;--yellow-bg:#2b2111;--green-bg:#0f2a1d;--blue-bg:#102240;--grey-bg:#21262d;--purple-bg:#231a3d;
--red:#ff7b72;--yellow:#e3b341;--green:#56d364;--blue:#79c0ff;--grey:#9198a1;--purple:#bc8cff}
.counts li{background:rgba(0,0,0,.25)}.b-fail_must{background:#da3633}}
@media print{.toc{display:none}details{display:block}}
"#;

fn badge(class: ResultClass) -> &'static str {
    match class {
        ResultClass::Pass => "PASS",
        ResultClass::FailMust => "FAIL",
        ResultClass::FailShould => "WARN",
        ResultClass::FailMay => "NOTE",
        ResultClass::Skip => "SKIP",
        ResultClass::Error => "ERROR",
    }
}

fn verdict_why(v: Verdict) -> &'static str {
    match v {
        Verdict::Red => "At least one MUST requirement failed.",
        Verdict::Yellow => {
            "Every MUST requirement that was tested holds; some SHOULD requirements failed."
        }
        Verdict::Green => "Every requirement that was tested holds.",
    }
}

fn link(anchor: &str, label: &str) -> String {
    if anchor.starts_with("https://") || anchor.starts_with("http://") {
        format!(
            "<a href=\"{}\"><code>{}</code></a>",
            esc(anchor),
            esc(label)
        )
    } else {
        format!("<code>{}</code>", esc(label))
    }
}

fn failure_html(out: &mut String, f: &Failure, severity: &str) {
    let _ = write!(
        out,
        "<div class=\"failure {severity}\"><p>{}</p><dl>",
        esc(&f.message)
    );
    if let Some(e) = &f.expected {
        let _ = write!(out, "<dt>expected</dt><dd><pre>{}</pre></dd>", esc(e));
    }
    if let Some(a) = &f.actual {
        let _ = write!(out, "<dt>actual</dt><dd><pre>{}</pre></dd>", esc(a));
    }
    if let Some(loc) = &f.location {
        let _ = write!(out, "<dt>location</dt><dd>{}<dl>", esc(location_kind(loc)));
        for (label, value) in location_fields(loc) {
            let _ = write!(
                out,
                "<dt>{}</dt><dd><pre>{}</pre></dd>",
                esc(label),
                esc(&value)
            );
        }
        out.push_str("</dl></dd>");
    }
    out.push_str("</dl></div>");
}

fn row(out: &mut String, r: &PointResult) {
    let class = r.class();
    let req = &r.point.requirement;
    let name = class_name(class);
    let _ = write!(
        out,
        "<tr class=\"r-{name}\"><td><span class=\"badge b-{name}\" title=\"{}\">{}</span></td>\
         <td>{}<div class=\"sum\">{}</div></td><td>{}</td><td>{}",
        esc(name),
        badge(class),
        link(&req.anchor, &req.id),
        esc(&req.summary),
        esc(req.level.as_str()),
        esc(&r.point.group)
    );
    if let Some(t) = &r.point.target {
        let _ = write!(out, "<div class=\"target\">{}</div>", esc(t));
    }
    let _ = writeln!(
        out,
        "</td><td class=\"msg\">{}</td></tr>",
        esc(&r.outcome.message().unwrap_or_default())
    );
    if let Outcome::Fail { failures } = &r.outcome {
        let severity = match class {
            ResultClass::FailMust => "must",
            ResultClass::FailShould => "should",
            _ => "may",
        };
        let open = if class == ResultClass::FailMust {
            " open"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr class=\"details\"><td></td><td colspan=\"4\"><details{open}><summary>{} finding{}</summary>",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" }
        );
        for f in failures {
            failure_html(out, f, severity);
        }
        out.push_str("</details></td></tr>\n");
    }
}

fn count_items(out: &mut String, s: &oci_certify_core::event::Summary, with_total: bool) {
    out.push_str("<ul class=\"counts\">");
    let mut items = vec![
        ("pass", s.pass, "pass"),
        ("fail_must", s.fail_must, "MUST failed"),
        ("fail_should", s.fail_should, "SHOULD failed"),
        ("fail_may", s.fail_may, "MAY not met"),
        ("skip", s.skip, "skipped"),
        ("error", s.error, "harness errors"),
    ];
    if with_total {
        items.push(("total", s.total(), "total"));
    }
    for (key, n, label) in items {
        if n == 0 && !with_total {
            continue;
        }
        let _ = write!(
            out,
            "<li class=\"c-{key}\"><span class=\"n\" data-count=\"{key}\">{n}</span>{label}</li>"
        );
    }
    out.push_str("</ul>\n");
}

/// Renders the page of a finished run.
pub(crate) fn render(recorder: &Recorder, end: &RunEnd) -> String {
    let info = recorder.info.as_ref();
    let verdict = end.verdict.as_str();
    let upper = verdict.to_ascii_uppercase();
    let mut out = String::with_capacity(16 * 1024 + recorder.results.len() * 600);
    let subject = info.map_or("", |i| i.subject.as_str());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{upper} · {} · {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&spec_label(info)),
        esc(subject)
    );
    let tool = info.map_or(
        format!(
            "{} {}",
            oci_certify_core::TOOL_NAME,
            oci_certify_core::TOOL_VERSION
        ),
        |i| format!("{} {}", i.tool, i.tool_version),
    );
    let _ = write!(
        out,
        "<header><h1>Conformance report</h1>\n<dl class=\"run\"><dt>Subject</dt><dd><code>{}</code></dd>\
         <dt>Specification</dt><dd>{}</dd><dt>Command</dt><dd>{}</dd><dt>Duration</dt><dd>{:.1} s</dd></dl></header>\n",
        esc(subject),
        esc(&spec_label(info)),
        esc(info.map_or("", |i| i.command.as_str())),
        end.duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "<section class=\"banner {verdict}\" id=\"verdict\" data-verdict=\"{verdict}\">\
         <div class=\"verdict\">{upper}</div><p class=\"why\">{}</p>",
        verdict_why(end.verdict)
    );
    count_items(&mut out, &end.summary, true);
    out.push_str("</section>\n");

    if !recorder.diagnostics.is_empty() {
        out.push_str("<section class=\"diagnostics\"><h2>Diagnostics</h2><ul>");
        for d in &recorder.diagnostics {
            let _ = write!(out, "<li><pre>{}</pre></li>", esc(d));
        }
        out.push_str("</ul></section>\n");
    }

    let docs = recorder.by_document();
    if docs.len() > 1 {
        out.push_str("<nav class=\"toc\"><h2>Documents</h2><ul>");
        for (i, (doc, results)) in docs.iter().enumerate() {
            let c = count(results.iter().copied());
            let flag = match c.verdict() {
                Verdict::Red => " ✗",
                Verdict::Yellow => " !",
                Verdict::Green => "",
            };
            let _ = write!(out, "<li><a href=\"#doc-{i}\">{}{flag}</a></li>", esc(doc));
        }
        out.push_str("</ul></nav>\n");
    }
    if docs.is_empty() {
        out.push_str("<p>No test point was selected.</p>\n");
    }
    for (i, (doc, results)) in docs.iter().enumerate() {
        let c = count(results.iter().copied());
        let _ = writeln!(
            out,
            "<section class=\"doc\" id=\"doc-{i}\"><h2>{}</h2>",
            esc(doc)
        );
        count_items(&mut out, &c, false);
        out.push_str(
            "<div class=\"table-wrap\"><table>\n<thead><tr><th>Status</th><th>Requirement</th>\
             <th>Level</th><th>Group / target</th><th>Message</th></tr></thead>\n<tbody>\n",
        );
        for r in results {
            row(&mut out, r);
        }
        out.push_str("</tbody></table></div></section>\n");
    }
    let _ = write!(
        out,
        "<footer>Generated by {}. Requirement ids link to the version of the specification \
         they were checked against.</footer>\n</main>\n</body>\n</html>\n",
        esc(&tool)
    );
    out
}

impl<W: Write + Send> Sink for HtmlSink<W> {
    fn handle(&mut self, event: &Event) -> Result<(), SinkError> {
        let Some(end) = self.recorder.record(event) else {
            return Ok(());
        };
        let page = render(&self.recorder, end);
        self.out
            .write_all(page.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| sink_error(NAME, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<a href='x'>&\"\u{1b}[0m\r\n"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\\u001b[0m\n"
        );
    }

    #[test]
    fn links_only_web_anchors() {
        assert!(link("https://x/y#z", "id").starts_with("<a href=\"https://x/y#z\">"));
        assert_eq!(link("javascript:alert(1)", "id"), "<code>id</code>");
    }
}
