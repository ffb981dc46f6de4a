//! Judging one document: parse strictly, run the schema layer, then the rule layer.
//!
//! [`check_document`] is what every engine calls for a JSON document, whether it came from a
//! file, a layout blob, a registry response or a runtime's `state` output. It records one test
//! point per requirement the kind's schema judges, then one per rule-layer check of the kind.

use oci_certify_core::check::{Failure, Outcome};
use oci_certify_core::Runner;

use crate::json::{Document, JsonError, Limits};
use crate::rules;
use crate::schema::{DocKind, KindSchema};

/// A parsed document and what kind it is: the context of every rule-layer check.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The parsed document (value, positions, duplicate keys).
    pub document: Document,
    /// Its kind.
    pub kind: DocKind,
}

impl Doc {
    /// The value.
    pub fn value(&self) -> &serde_json::Value {
        &self.document.value
    }

    /// A failure located at `pointer` in this document.
    pub fn failure_at(&self, pointer: &str, message: impl Into<String>) -> Failure {
        Failure::new(message).at(self.document.location(pointer))
    }
}

/// The requirement a document violates when it cannot be read as JSON at all: the kind's most
/// basic presence rule, which cannot hold for a document with no readable properties.
pub fn unreadable_requirement(kind: DocKind) -> &'static str {
    match kind {
        DocKind::ImageManifest => "image.manifest.schema-version.required",
        DocKind::ImageIndex => "image.index.schema-version.required",
        DocKind::ImageConfig => "image.config.architecture.required",
        DocKind::Descriptor => "image.descriptor.media-type.required",
        DocKind::OciLayout => "image.layout.oci-layout.json-object",
        DocKind::RuntimeConfig => "runtime.config.oci-version.required",
        DocKind::RuntimeState => "runtime.runtime.state.oci-version-required",
        DocKind::RuntimeFeatures => "runtime.features.oci-version-min-required",
    }
}

/// Parses `bytes` and judges the document. `group` is the report group; `target` names the
/// document when the group holds several. Returns the parsed document for callers that walk
/// further (a manifest's descriptors), or `None` when it could not be read.
pub fn check_document(
    runner: &Runner<'_>,
    group: &str,
    target: Option<&str>,
    name: &str,
    bytes: &[u8],
    kind: DocKind,
    limits: Limits,
) -> Option<Doc> {
    match Document::parse(name, bytes, limits) {
        Ok(document) => {
            let doc = Doc { document, kind };
            check_parsed(runner, group, target, &doc);
            Some(doc)
        }
        Err(err) => {
            record_unreadable(runner, group, target, name, kind, &err);
            None
        }
    }
}

/// Records that a document could not be parsed: a failure of its kind's basic requirement
/// (and, for UTF-8 problems in runtime documents, of the UTF-8 rule), with the position.
pub fn record_unreadable(
    runner: &Runner<'_>,
    group: &str,
    target: Option<&str>,
    name: &str,
    kind: DocKind,
    err: &JsonError,
) {
    let location = oci_certify_core::Location::Document {
        file: name.to_string(),
        pointer: String::new(),
        line: err.position().map(|p| p.line),
        column: err.position().map(|p| p.column),
    };
    let failure = Failure::new(format!("cannot be read as JSON: {err}"))
        .expected(format!("a JSON {}", kind.def_name()))
        .actual(err.to_string())
        .at(location);
    if matches!(err, JsonError::NotUtf8 { .. }) && kind.spec() == oci_certify_core::Spec::Runtime {
        runner.record(
            group,
            target,
            "runtime.glossary.json.utf8",
            Outcome::fail(failure.clone()),
        );
    }
    runner.record(
        group,
        target,
        unreadable_requirement(kind),
        Outcome::fail(failure),
    );
}

/// A value as compact JSON, cut at 200 characters.
fn compact(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Runs the schema layer and the rule layer on a parsed document.
pub fn check_parsed(runner: &Runner<'_>, group: &str, target: Option<&str>, doc: &Doc) {
    match KindSchema::get(doc.kind).and_then(|s| Ok((s, s.validate(doc.value())?))) {
        Ok((schema, findings)) => {
            for id in schema.requirements() {
                let summary = runner.catalogue().get(id).map(|r| r.summary.as_str());
                let failures: Vec<Failure> = findings
                    .iter()
                    .filter(|f| f.requirement == *id)
                    .map(|f| {
                        let mut failure = doc.failure_at(&f.pointer, f.message.clone());
                        if let Some(summary) = summary {
                            failure = failure.expected(summary);
                        }
                        // A missing member is reported at its parent object; say "absent"
                        // rather than print the whole parent.
                        match doc.value().pointer(&f.pointer) {
                            Some(_) if f.message.contains("is a required property") => {
                                failure.actual("absent")
                            }
                            Some(found) => failure.actual(compact(found)),
                            None => failure.actual("absent"),
                        }
                    })
                    .collect();
                runner.record(group, target, id, Outcome::from_failures(failures));
            }
        }
        Err(e) => runner.diagnostic(format!("harness error in the schema layer: {e}")),
    }
    runner.run_checks(group, target, rules::checks_for(doc.kind), doc);
}

/// Why the kind of a lone document could not be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    /// `--media-type` named something the validators do not know.
    #[error("unknown media type {0:?}; known: the OCI manifest, index, config, descriptor and layout header media types, or a kind name ({1})")]
    UnknownMediaType(String, String),
    /// The document does not say, and the caller did not either.
    #[error(
        "cannot tell what kind of document this is: it has no known mediaType; pass --media-type"
    )]
    Undetermined,
}

impl oci_certify_core::fault::Blame for KindError {
    fn fault(&self) -> oci_certify_core::Fault {
        oci_certify_core::Fault::Input
    }
}

/// The kind of a lone image document: from `media_type` (a media type or a kind name) when
/// given, else from the file name (`oci-layout`, `index.json`), else from its own `mediaType`.
pub fn image_kind_for(
    file_name: &str,
    bytes: &[u8],
    media_type: Option<&str>,
) -> Result<DocKind, KindError> {
    if let Some(mt) = media_type {
        return DocKind::from_media_type(mt)
            .or_else(|| DocKind::parse(mt).filter(|k| k.spec() == oci_certify_core::Spec::Image))
            .ok_or_else(|| {
                KindError::UnknownMediaType(
                    mt.to_string(),
                    DocKind::ALL
                        .iter()
                        .filter(|k| k.spec() == oci_certify_core::Spec::Image)
                        .map(|k| k.def_name())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            });
    }
    match file_name {
        "oci-layout" => return Ok(DocKind::OciLayout),
        "index.json" => return Ok(DocKind::ImageIndex),
        _ => {}
    }
    // A lenient look at the document's own mediaType; the strict reader judges it later.
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("mediaType")?
                .as_str()
                .and_then(DocKind::from_media_type)
        })
        .ok_or(KindError::Undetermined)
}
