//! The service's pages: the form, the result page (rendered from the JSON report, so the page
//! shows exactly what the API returns), and error pages. Server-rendered, inline CSS, no
//! script; every piece of text that came from a user or a report is escaped, and only `http(s)`
//! anchors become links.

use std::fmt::Write as _;

use oci_certify_validators::DocKind;
use serde_json::Value;

use crate::Limits;

/// Escapes text for HTML content and attribute values; control characters are shown escaped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:14px 0}
header a{color:#fff;text-decoration:none;font-weight:600;font-size:18px}
header span{color:#9198a1;margin-left:10px;font-size:14px}
main{max-width:980px;margin:0 auto;padding:20px}
.wrap{max-width:980px;margin:0 auto;padding:0 20px}
h1{font-size:22px;margin:8px 0 16px}
h2{font-size:17px;margin:24px 0 10px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:0 0 16px}
.card h2{margin-top:0}
label{display:block;font-weight:600;margin:0 0 6px}
input[type=text],select,textarea{width:100%;font:14px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;padding:8px;border:1px solid #d0d7de;border-radius:6px;background:#fff}
textarea{min-height:160px}
input[type=file]{margin:4px 0 10px}
button{margin-top:10px;background:#1f883d;color:#fff;border:0;border-radius:6px;padding:8px 16px;font-weight:600;font-size:14px;cursor:pointer}
.hint{color:#59636e;font-size:13px;margin:6px 0 0}
.row{display:flex;gap:12px;align-items:end}.row>*{flex:1}
.banner{border-radius:8px;padding:16px 20px;color:#fff;margin:0 0 16px}
.banner b{font-size:26px;letter-spacing:.05em;margin-right:14px}
.red{background:#cf222e}.yellow{background:#bf8700}.green{background:#1a7f37}
.counts{display:flex;flex-wrap:wrap;gap:10px;margin:0 0 16px}
.counts div{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 14px;min-width:110px}
.counts strong{display:block;font-size:20px}
.counts span{color:#59636e;font-size:13px}
.finding{background:#fff;border:1px solid #d0d7de;border-left:5px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:0 0 10px}
.finding.must{border-left-color:#cf222e}.finding.should{border-left-color:#bf8700}.finding.may{border-left-color:#8250df}.finding.error{border-left-color:#24292f}
.level{display:inline-block;font-size:12px;font-weight:700;border-radius:10px;padding:1px 8px;margin-right:6px;color:#fff;background:#59636e}
.must .level{background:#cf222e}.should .level{background:#bf8700}.may .level{background:#8250df}
code,pre{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;border-radius:6px;padding:8px;margin:6px 0 0}
.meta{color:#59636e;font-size:13px}
.msg{margin:6px 0 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0 0;font-size:13px}
dt{color:#59636e}dd{margin:0;word-break:break-all}
table{width:100%;border-collapse:collapse;font-size:13px;background:#fff}
td{border-top:1px solid #d8dee4;padding:4px 8px;vertical-align:top}
details{margin:8px 0}
summary{cursor:pointer;font-weight:600}
.error-box{background:#fff;border:1px solid #cf222e;border-radius:8px;padding:16px 20px}
a{color:#0969da}
footer{color:#59636e;font-size:13px;text-align:center;padding:20px}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>\
<header><div class=\"wrap\"><a href=\"/\">oci-certify</a><span>validator for OCI images and runtime bundles</span></div></header>\
<main>{body}</main><footer>oci-certify {version} · <a href=\"/api/v1\">API</a> · every finding links to the version-pinned spec text</footer></body></html>\n",
        title = esc(title),
        version = esc(oci_certify_core::TOOL_VERSION),
    )
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// The form page.
pub fn index(limits: &Limits, references: bool) -> String {
    let mut kinds = String::from("<option value=\"auto\">detect (from mediaType)</option>");
    for k in DocKind::ALL {
        let _ = write!(kinds, "<option value=\"{0}\">{0}</option>", k.def_name());
    }
    let ref_note = if references {
        "A tag or a digest; the content is pulled into a temporary layout and validated like an upload."
    } else {
        "Registry references are not available in this build: the service will say so."
    };
    let body = format!(
        r#"<h1>Validate OCI content</h1>
<p class="meta">Every result is keyed to a requirement of a version-pinned specification (image-spec, runtime-spec), with its level and a link to the sentence that states it. Nothing you upload is kept after the answer.</p>
<form class="card" method="post" action="/api/v1/check?out=html" enctype="multipart/form-data">
<h2>Upload a file</h2>
<label for="file">oci-archive (.tar, .tar.gz), a JSON document, or a runtime config.json</label>
<input id="file" type="file" name="file" required>
<div class="row"><div><label for="file-kind">Kind of a JSON document</label><select id="file-kind" name="kind">{kinds}</select></div></div>
<p class="hint">Up to {upload}; archives may decompress to {decomp} and hold {blobs} blobs. A file named config.json is read as a runtime config.</p>
<button type="submit">Validate upload</button>
</form>
<form class="card" method="post" action="/api/v1/check?out=html" enctype="multipart/form-data">
<h2>Paste a JSON document</h2>
<label for="document">Document</label>
<textarea id="document" name="document" required spellcheck="false" placeholder='{{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", ...}}'></textarea>
<div class="row"><div><label for="doc-kind">Kind</label><select id="doc-kind" name="kind">{kinds}</select></div></div>
<p class="hint">Up to {json}, nested at most {depth} deep.</p>
<button type="submit">Validate document</button>
</form>
<form class="card" method="get" action="/api/v1/check">
<h2>Fetch from a registry</h2>
<input type="hidden" name="out" value="html">
<label for="ref">Reference</label>
<input id="ref" type="text" name="ref" required placeholder="registry.example.com/repository:tag or …/repository@sha256:…">
<p class="hint">{ref_note}</p>
<button type="submit">Fetch and validate</button>
</form>"#,
        upload = mib(limits.max_upload_bytes),
        decomp = mib(limits.max_decompressed_bytes),
        blobs = limits.max_blobs,
        json = mib(limits.max_json_bytes as u64),
        depth = limits.max_json_depth,
    );
    page("oci-certify validator", &body)
}

/// An error page.
pub fn error(status: u16, reason: &str, message: &str) -> String {
    page(
        &format!("{status} {reason}"),
        &format!(
            "<h1>{status} {reason}</h1><div class=\"error-box\"><p>{}</p></div><p><a href=\"/\">Validate something else</a></p>",
            esc(message),
            reason = esc(reason)
        ),
    )
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn link(anchor: &str, text: &str) -> String {
    if anchor.starts_with("https://") || anchor.starts_with("http://") {
        format!("<a href=\"{}\"><code>{}</code></a>", esc(anchor), esc(text))
    } else {
        format!("<code>{}</code>", esc(text))
    }
}

/// One location, as the terminal shows it.
fn location(loc: &Value) -> String {
    match s(loc, "kind") {
        "document" => {
            let mut out = s(loc, "file").to_string();
            if let Some(l) = loc.get("line").and_then(Value::as_u64) {
                let _ = write!(out, ":{l}");
                if let Some(c) = loc.get("column").and_then(Value::as_u64) {
                    let _ = write!(out, ":{c}");
                }
            }
            let p = s(loc, "pointer");
            if !p.is_empty() {
                let _ = write!(out, " {p}");
            }
            out
        }
        "path" => s(loc, "path").to_string(),
        "http" => format!("{}\n{}", s(loc, "request"), s(loc, "response")),
        "command" => {
            let argv: Vec<&str> = loc
                .get("argv")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            argv.join(" ")
        }
        _ => loc.to_string(),
    }
}

fn level_class(level: &str) -> &'static str {
    match level {
        "MUST" | "MUST NOT" => "must",
        "SHOULD" | "SHOULD NOT" => "should",
        "MAY" => "may",
        _ => "",
    }
}

/// The result page of a finished validation, from its JSON report.
pub fn result(report: &Value) -> String {
    let verdict = s(report, "verdict");
    let summary = report.get("summary").cloned().unwrap_or(Value::Null);
    let subject = s(report, "subject");
    let spec = format!("{}-spec v{}", s(report, "spec"), s(report, "spec_version"));
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Result for <code>{}</code></h1>\
<div class=\"banner {cls}\" id=\"verdict\" data-verdict=\"{cls}\"><b>{upper}</b>{must} MUST failed · {should} SHOULD failed · {errors} harness errors · {pass} pass · {skip} skipped</div>",
        esc(subject),
        cls = esc(verdict),
        upper = esc(&verdict.to_uppercase()),
        must = n(&summary, "fail_must"),
        should = n(&summary, "fail_should"),
        errors = n(&summary, "error"),
        pass = n(&summary, "pass"),
        skip = n(&summary, "skip"),
    );
    body.push_str("<div class=\"counts\">");
    for (key, label) in [
        ("total", "test points"),
        ("pass", "pass"),
        ("fail_must", "MUST failed"),
        ("fail_should", "SHOULD failed"),
        ("fail_may", "MAY not met"),
        ("skip", "skipped"),
        ("error", "harness errors"),
    ] {
        let _ = write!(
            body,
            "<div id=\"count-{key}\"><strong>{}</strong><span>{label}</span></div>",
            n(&summary, key)
        );
    }
    body.push_str("</div>");
    let _ = write!(
        body,
        "<p class=\"meta\">Checked against {} by {} {} in {} ms.</p>",
        esc(&spec),
        esc(s(report.get("tool").unwrap_or(&Value::Null), "name")),
        esc(s(report.get("tool").unwrap_or(&Value::Null), "version")),
        n(report, "duration_ms")
    );
    if let Some(diags) = report.get("diagnostics").and_then(Value::as_array) {
        if !diags.is_empty() {
            body.push_str("<h2>Diagnostics</h2><div class=\"card\">");
            for d in diags.iter().filter_map(Value::as_str) {
                let _ = write!(body, "<p class=\"msg\">{}</p>", esc(d));
            }
            body.push_str("</div>");
        }
    }
    let results: &[Value] = report
        .get("results")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let rank = |c: &str| match c {
        "error" => 0,
        "fail_must" => 1,
        "fail_should" => 2,
        "fail_may" => 3,
        _ => 4,
    };
    let mut findings: Vec<&Value> = results
        .iter()
        .filter(|r| {
            matches!(
                s(r, "class"),
                "fail_must" | "fail_should" | "fail_may" | "error"
            )
        })
        .collect();
    findings.sort_by_key(|r| rank(s(r, "class")));
    let _ = write!(
        body,
        "<h2 id=\"findings\">Findings ({})</h2>",
        findings.len()
    );
    if findings.is_empty() {
        body.push_str("<div class=\"card\">No requirement failed.</div>");
    }
    for r in findings {
        let level = s(r, "level");
        let cls = if s(r, "class") == "error" {
            "error"
        } else {
            level_class(level)
        };
        let _ = write!(
            body,
            "<div class=\"finding {cls}\"><span class=\"level\">{}</span>{}",
            if cls == "error" {
                "HARNESS ERROR".to_string()
            } else {
                esc(level)
            },
            link(s(r, "anchor"), s(r, "id"))
        );
        if let Some(t) = r.get("target").and_then(Value::as_str) {
            let _ = write!(body, " <span class=\"meta\">({})</span>", esc(t));
        }
        let _ = write!(
            body,
            "<div class=\"meta\">{} · group {}</div>",
            esc(s(r, "summary")),
            esc(s(r, "group"))
        );
        if let Some(m) = r.get("message").and_then(Value::as_str) {
            if cls == "error" {
                let _ = write!(body, "<p class=\"msg\">{}</p>", esc(m));
            }
        }
        for f in r
            .get("failures")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let _ = write!(body, "<p class=\"msg\">{}</p><dl>", esc(s(f, "message")));
            if let Some(e) = f.get("expected").and_then(Value::as_str) {
                let _ = write!(body, "<dt>expected</dt><dd>{}</dd>", esc(e));
            }
            if let Some(a) = f.get("actual").and_then(Value::as_str) {
                let _ = write!(body, "<dt>actual</dt><dd>{}</dd>", esc(a));
            }
            if let Some(l) = f.get("location") {
                let _ = write!(
                    body,
                    "<dt>at</dt><dd><code>{}</code></dd>",
                    esc(&location(l))
                );
            }
            let _ = write!(
                body,
                "<dt>spec</dt><dd>{}</dd></dl>",
                link(s(r, "anchor"), s(r, "anchor"))
            );
        }
        body.push_str("</div>");
    }
    for (class, title) in [("skip", "Skipped"), ("pass", "Passed")] {
        let rows: Vec<&Value> = results.iter().filter(|r| s(r, "class") == class).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            body,
            "<details><summary>{title} ({})</summary><table>",
            rows.len()
        );
        for r in rows {
            let note = r.get("message").and_then(Value::as_str).unwrap_or("");
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(s(r, "level")),
                link(s(r, "anchor"), s(r, "id")),
                esc(r.get("target").and_then(Value::as_str).unwrap_or("")),
                esc(note)
            );
        }
        body.push_str("</table></details>");
    }
    body.push_str("<p><a href=\"/\">Validate something else</a> · the same report as JSON: <code>POST /api/v1/check?out=json</code></p>");
    page(&format!("{} — {}", verdict.to_uppercase(), subject), &body)
}

/// The API overview at `/api/v1`.
pub fn api(limits: &Limits) -> String {
    let body = format!(
        r#"<h1>API</h1><div class="card"><pre>POST /api/v1/check            multipart (file=…, document=…, kind=…) or a raw body with a Content-Type
GET  /api/v1/check?ref=REF     fetch a registry reference and validate it
     ?out=json|tap|junit|html  or an Accept header; JSON (format_version 1) by default
     ?kind=KIND                the kind of a JSON document (image-manifest, runtime-config, …)
GET  /api/v1/badge?ref=REF     an SVG badge with the verdict
GET  /api/v1/badge?digest=D    the badge of content validated recently (D: the OCI-Certify-Digest header)
GET  /healthz                  liveness</pre>
<p class="hint">Uploads up to {}; {} validations at a time; {} s per request.</p></div>"#,
        mib(limits.max_upload_bytes),
        limits.max_concurrent_validations,
        limits.request_timeout.as_secs()
    );
    page("oci-certify API", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_and_only_web_anchors_link() {
        let report = serde_json::json!({
            "verdict": "red",
            "subject": "<script>alert(1)</script>",
            "summary": {"fail_must": 1, "total": 1},
            "results": [{
                "id": "x<y", "level": "MUST", "class": "fail_must",
                "anchor": "javascript:alert(1)", "summary": "s", "group": "g",
                "failures": [{"message": "<img src=x onerror=alert(1)>",
                              "location": {"kind": "path", "path": "\"><b>"}}]
            }]
        });
        let html = result(&report);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("href=\"javascript"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("data-verdict=\"red\""));
    }
}
