//! Checks every response the suite sees, whatever group caused it: `4xx` JSON error bodies
//! against the error-code table, and `Warning` headers against the warning rules.

use std::collections::BTreeMap;
use std::sync::Mutex;

use oci_certify_core::check::{Failure, Outcome};
use oci_certify_core::Runner;

use crate::client::Exchange;

/// Error codes of the spec's table.
pub const CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// Docker schema1 codes the spec lets a registry send (`distribution.api.legacy-errors.optional`).
pub const LEGACY_CODES: &[&str] = &["TAG_INVALID", "MANIFEST_UNVERIFIED"];

/// Requirement ids the audit records.
pub const IDS: &[&str] = &[
    "distribution.api.errors.json-body-shape",
    "distribution.api.errors.code-format",
    "distribution.api.errors.code-valid",
    "distribution.api.warnings.warn-code-299",
    "distribution.api.warnings.warn-agent-dash",
    "distribution.api.warnings.no-warn-date",
    "distribution.api.warnings.max-4096-bytes",
];

#[derive(Default)]
struct State {
    error_bodies: usize,
    warnings: usize,
    failures: BTreeMap<&'static str, Vec<Failure>>,
    legacy: Vec<String>,
}

/// The audit; shared by every group.
#[derive(Default)]
pub struct Audit {
    state: Mutex<State>,
}

const MAX_EVIDENCE: usize = 5;

impl Audit {
    fn fail(state: &mut State, id: &'static str, f: Failure) {
        let v = state.failures.entry(id).or_default();
        if v.len() < MAX_EVIDENCE {
            v.push(f);
        }
    }

    /// Looks at one exchange.
    pub fn observe(&self, ex: &Exchange) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if (400..500).contains(&ex.status) && !ex.body.is_empty() {
            let ct = ex.header("content-type").unwrap_or("").to_ascii_lowercase();
            let parsed: Option<serde_json::Value> = serde_json::from_slice(&ex.body).ok();
            if ct.contains("json") || parsed.is_some() {
                st.error_bodies += 1;
                check_error_body(&mut st, ex, parsed.as_ref());
            }
        }
        let warnings = ex.header_all("warning");
        if !warnings.is_empty() {
            st.warnings += 1;
            check_warnings(&mut st, ex, &warnings);
        }
    }

    /// Records the audit's requirements.
    pub fn record(&self, runner: &Runner<'_>) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let (bodies, warnings) = (st.error_bodies, st.warnings);
        let legacy = std::mem::take(&mut st.legacy);
        for id in IDS {
            let is_warning = id.contains(".warnings.");
            let outcome = match st.failures.remove(id) {
                Some(f) => Outcome::Fail { failures: f },
                None if is_warning && warnings == 0 => {
                    Outcome::pass_with_note("the registry sent no Warning header")
                }
                None if is_warning => Outcome::pass_with_note(format!("{warnings} responses with Warning headers checked")),
                None if bodies == 0 => Outcome::skip("no 4xx response with a JSON body was seen"),
                None if *id == "distribution.api.errors.code-valid" && !legacy.is_empty() => Outcome::pass_with_note(format!(
                    "{bodies} 4xx JSON bodies checked; Docker schema1 codes seen, which the spec permits: {}",
                    legacy.join(", ")
                )),
                None => Outcome::pass_with_note(format!("{bodies} 4xx JSON bodies checked")),
            };
            runner.record("errors", Some("every response"), id, outcome);
        }
        runner.finish_group("errors");
    }
}

fn check_error_body(st: &mut State, ex: &Exchange, v: Option<&serde_json::Value>) {
    let shape = |what: &str| {
        Failure::new(format!("4xx JSON body {what}"))
            .expected("an object with an `errors` array of objects, each with a string `code`")
            .actual(String::from_utf8_lossy(&ex.body[..ex.body.len().min(200)]))
            .at(ex.location())
    };
    let Some(errors) = v.and_then(|v| v.get("errors")).and_then(|e| e.as_array()) else {
        Audit::fail(
            st,
            "distribution.api.errors.json-body-shape",
            shape("has no `errors` array"),
        );
        return;
    };
    for e in errors {
        let Some(code) = e.get("code").and_then(|c| c.as_str()) else {
            Audit::fail(
                st,
                "distribution.api.errors.json-body-shape",
                shape("has an entry without a string `code`"),
            );
            continue;
        };
        if let Some(m) = e.get("message") {
            if !m.is_string() {
                Audit::fail(
                    st,
                    "distribution.api.errors.json-body-shape",
                    shape("has a non-string `message`"),
                );
            }
        }
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            Audit::fail(
                st,
                "distribution.api.errors.code-format",
                Failure::new(format!(
                    "error code `{code}` is not uppercase letters and underscores"
                ))
                .expected("[A-Z_]+")
                .actual(code)
                .at(ex.location()),
            );
        }
        if LEGACY_CODES.contains(&code) {
            if !st.legacy.iter().any(|l| l == code) {
                st.legacy.push(code.to_string());
            }
        } else if !CODES.contains(&code) {
            Audit::fail(
                st,
                "distribution.api.errors.code-valid",
                Failure::new(format!("error code `{code}` is not in the spec's table"))
                    .expected(CODES.join(", "))
                    .actual(code)
                    .at(ex.location()),
            );
        }
    }
}

fn check_warnings(st: &mut State, ex: &Exchange, warnings: &[String]) {
    let mut total = 0usize;
    for w in warnings {
        let w = w.trim();
        let mut parts = w.splitn(3, ' ');
        let code = parts.next().unwrap_or("");
        let agent = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("");
        if code != "299" {
            Audit::fail(
                st,
                "distribution.api.warnings.warn-code-299",
                Failure::new("Warning header with another warn-code")
                    .expected("299")
                    .actual(w)
                    .at(ex.location()),
            );
        }
        if agent != "-" {
            Audit::fail(
                st,
                "distribution.api.warnings.warn-agent-dash",
                Failure::new("Warning header with another warn-agent")
                    .expected("-")
                    .actual(w)
                    .at(ex.location()),
            );
        }
        // warn-text is one quoted string; anything after its closing quote is a warn-date.
        let text = rest.strip_prefix('"').and_then(|r| {
            let mut esc = false;
            for (i, c) in r.char_indices() {
                match c {
                    '\\' if !esc => esc = true,
                    '"' if !esc => return Some((&r[..i], r[i + 1..].trim())),
                    _ => esc = false,
                }
            }
            None
        });
        match text {
            Some((t, tail)) => {
                total += t.len();
                if !tail.is_empty() {
                    Audit::fail(
                        st,
                        "distribution.api.warnings.no-warn-date",
                        Failure::new("Warning header carries a warn-date")
                            .expected("299 - \"text\" and nothing after")
                            .actual(w)
                            .at(ex.location()),
                    );
                }
            }
            None => total += rest.len(),
        }
    }
    if total > 4096 {
        Audit::fail(
            st,
            "distribution.api.warnings.max-4096-bytes",
            Failure::new("Warning texts of one response exceed 4096 bytes")
                .expected("<= 4096 bytes")
                .actual(format!("{total} bytes"))
                .at(ex.location()),
        );
    }
}
