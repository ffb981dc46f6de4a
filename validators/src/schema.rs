//! The schema layer: JSON Schemas written by this project from the spec prose, keyed to the
//! catalogue.
//!
//! One schema file per spec version lives in `validators/schemas/`, with one `$defs` entry per
//! document kind (see [`DocKind::def_name`]). Every subschema that constrains something carries
//! an `"x-requirement": "<catalogue id>"` annotation; a validation error is attributed to the
//! innermost annotation on the error's schema path (following local `$ref`s). So the schema is
//! data keyed to requirements, exactly like a check: each annotated id reachable from a kind's
//! entry point becomes one test point for every document of that kind.
//!
//! Schemas are compiled once per process and kind, on first use (draft 7 semantics, offline:
//! only local `$ref`s; `$ref` siblings are kept in force by [`wrap_refs`]).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_core::Spec;
use serde_json::Value;

/// The kinds of document the validators know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocKind {
    /// An image manifest.
    ImageManifest,
    /// An image index (also a layout's `index.json`).
    ImageIndex,
    /// An image configuration.
    ImageConfig,
    /// A content descriptor on its own.
    Descriptor,
    /// A layout's `oci-layout` file.
    OciLayout,
    /// A runtime bundle's `config.json`.
    RuntimeConfig,
    /// A runtime's `state` output.
    RuntimeState,
    /// A runtime's `features` output.
    RuntimeFeatures,
}

impl DocKind {
    /// Every kind.
    pub const ALL: [DocKind; 8] = [
        DocKind::ImageManifest,
        DocKind::ImageIndex,
        DocKind::ImageConfig,
        DocKind::Descriptor,
        DocKind::OciLayout,
        DocKind::RuntimeConfig,
        DocKind::RuntimeState,
        DocKind::RuntimeFeatures,
    ];

    /// The spec that defines the kind.
    pub fn spec(self) -> Spec {
        match self {
            DocKind::RuntimeConfig | DocKind::RuntimeState | DocKind::RuntimeFeatures => {
                Spec::Runtime
            }
            _ => Spec::Image,
        }
    }

    /// The name of the kind: the `$defs` entry of its schema and the name on the command line.
    pub fn def_name(self) -> &'static str {
        match self {
            DocKind::ImageManifest => "image-manifest",
            DocKind::ImageIndex => "image-index",
            DocKind::ImageConfig => "image-config",
            DocKind::Descriptor => "descriptor",
            DocKind::OciLayout => "oci-layout",
            DocKind::RuntimeConfig => "runtime-config",
            DocKind::RuntimeState => "runtime-state",
            DocKind::RuntimeFeatures => "runtime-features",
        }
    }

    /// Parses a kind name (see [`DocKind::def_name`]).
    pub fn parse(name: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.def_name() == name)
    }

    /// The kind an OCI media type names, if any.
    pub fn from_media_type(media_type: &str) -> Option<DocKind> {
        Some(match media_type {
            "application/vnd.oci.image.manifest.v1+json" => DocKind::ImageManifest,
            "application/vnd.oci.image.index.v1+json" => DocKind::ImageIndex,
            "application/vnd.oci.image.config.v1+json" => DocKind::ImageConfig,
            "application/vnd.oci.descriptor.v1+json" => DocKind::Descriptor,
            "application/vnd.oci.layout.header.v1+json" => DocKind::OciLayout,
            _ => return None,
        })
    }
}

/// One schema violation, attributed to a requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFinding {
    /// Catalogue id from the innermost `x-requirement` on the schema path.
    pub requirement: String,
    /// JSON pointer into the document.
    pub pointer: String,
    /// The validator's message.
    pub message: String,
}

/// The schema layer itself broke: a harness fault, caught by this crate's tests.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    /// A schema file is not valid JSON or not a valid schema.
    #[error("schema {file}: {message}")]
    Invalid {
        /// The schema file.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An error's schema path has no `x-requirement` annotation.
    #[error("schema {file}: constraint at {schema_path} is not keyed to a requirement")]
    Unkeyed {
        /// The schema file.
        file: &'static str,
        /// Where the constraint is.
        schema_path: String,
    },
}

impl Blame for SchemaError {
    fn fault(&self) -> Fault {
        Fault::Harness
    }
}

/// Schema files, embedded at build time.
const FILES: &[(Spec, &str, &str)] = &[
    (
        Spec::Image,
        "image-spec-v1.1.1.schema.json",
        include_str!("../schemas/image-spec-v1.1.1.schema.json"),
    ),
    (
        Spec::Runtime,
        "runtime-spec-v1.3.0.schema.json",
        include_str!("../schemas/runtime-spec-v1.3.0.schema.json"),
    ),
];

/// A compiled schema for one kind.
pub struct KindSchema {
    kind: DocKind,
    file: &'static str,
    root: Value,
    validator: Validator,
    requirements: BTreeSet<&'static str>,
}

impl std::fmt::Debug for KindSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindSchema")
            .field("kind", &self.kind)
            .field("file", &self.file)
            .finish()
    }
}

fn compile(kind: DocKind) -> Result<KindSchema, SchemaError> {
    let (_, file, text) = FILES
        .iter()
        .find(|(spec, _, _)| *spec == kind.spec())
        .ok_or(SchemaError::Invalid {
            file: "?",
            message: format!("no schema file for {}", kind.spec()),
        })?;
    let invalid = |message: String| SchemaError::Invalid { file, message };
    let mut root: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if let Some(defs) = root.get_mut("$defs") {
        wrap_refs(defs);
    }
    let def = format!("#/$defs/{}", kind.def_name());
    if resolve(&root, &def).is_none() {
        return Err(invalid(format!("no $defs entry {}", kind.def_name())));
    }
    root.as_object_mut()
        .ok_or_else(|| invalid("the schema is not an object".into()))?
        .insert("$ref".into(), Value::String(def.clone()));
    // Draft 7: the schemas use nothing newer, and jsonschema 0.33 spends ~300 ms and ~160 MiB
    // validating a schema against the 2020-12 meta-schema, against ~10 ms for draft 7.
    let validator = jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| invalid(e.to_string()))?;
    let mut ids = BTreeSet::new();
    let mut seen = BTreeSet::new();
    collect_requirements(&root, &def, &mut ids, &mut seen);
    // Requirement ids live as long as the process: the schemas are compiled once.
    let requirements = ids
        .into_iter()
        .map(|id| &*Box::leak(id.into_boxed_str()))
        .collect();
    Ok(KindSchema {
        kind,
        file,
        root,
        validator,
        requirements,
    })
}

/// Rewrites every `{"$ref": R, ...siblings}` as `{"allOf": [{"$ref": R}], ...siblings}`.
/// Draft 7 ignores the siblings of `$ref`; the rewrite keeps them in force, and means the same
/// in every draft. Schema paths of errors then run through `allOf/N/$ref`, which attribution
/// follows like any other path.
fn wrap_refs(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let constrained = map.contains_key("$ref")
                && map.keys().any(|k| {
                    !matches!(
                        k.as_str(),
                        "$ref" | "x-requirement" | "$comment" | "description"
                    )
                });
            if constrained {
                if let Some(reference) = map.remove("$ref") {
                    let mut inner = serde_json::Map::new();
                    inner.insert("$ref".into(), reference);
                    match map.get_mut("allOf") {
                        Some(Value::Array(items)) => items.push(Value::Object(inner)),
                        _ => {
                            map.insert("allOf".into(), Value::Array(vec![Value::Object(inner)]));
                        }
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                if !matches!(key.as_str(), "const" | "enum" | "examples" | "default") {
                    wrap_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(wrap_refs),
        _ => {}
    }
}

/// Resolves a local reference `#/a/b` against the root schema.
fn resolve<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    root.pointer(reference.strip_prefix('#')?)
}

fn collect_requirements(
    root: &Value,
    reference: &str,
    ids: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    if !seen.insert(reference.to_string()) {
        return;
    }
    if let Some(node) = resolve(root, reference) {
        walk(root, node, ids, seen);
    }
}

fn walk(root: &Value, node: &Value, ids: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("x-requirement") {
                ids.insert(id.clone());
            }
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(r)) => collect_requirements(root, r, ids, seen),
                    // Definitions are reached through $ref only; values of const, enum and
                    // examples are data, not subschemas.
                    ("$defs" | "const" | "enum" | "examples" | "default", _) => {}
                    _ => walk(root, child, ids, seen),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(root, i, ids, seen)),
        _ => {}
    }
}

impl KindSchema {
    /// The compiled schema of a kind (compiled on first use, then shared).
    pub fn get(kind: DocKind) -> Result<&'static KindSchema, SchemaError> {
        // One cell per kind: a run compiles only the schemas of the kinds it meets.
        static CELLS: [OnceLock<Result<KindSchema, SchemaError>>; DocKind::ALL.len()] =
            [const { OnceLock::new() }; DocKind::ALL.len()];
        let index = DocKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        match CELLS[index].get_or_init(|| compile(kind)) {
            Ok(s) => Ok(s),
            Err(e) => Err(e.clone()),
        }
    }

    /// Every requirement id this kind's schema judges.
    pub fn requirements(&self) -> &BTreeSet<&'static str> {
        &self.requirements
    }

    /// Validates a document; every violation is attributed to a requirement.
    pub fn validate(&self, instance: &Value) -> Result<Vec<SchemaFinding>, SchemaError> {
        let mut out = Vec::new();
        for error in self.validator.iter_errors(instance) {
            let schema_path = error.schema_path.as_str();
            let requirement = self
                .attribute(schema_path)
                .ok_or_else(|| SchemaError::Unkeyed {
                    file: self.file,
                    schema_path: schema_path.to_string(),
                })?;
            out.push(SchemaFinding {
                requirement,
                pointer: error.instance_path.as_str().to_string(),
                message: error.to_string(),
            });
        }
        Ok(out)
    }

    /// The innermost `x-requirement` along a schema path (the last segment is the keyword).
    fn attribute(&self, schema_path: &str) -> Option<String> {
        let segments: Vec<String> = schema_path
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut node = &self.root;
        let mut found = node.get("x-requirement").and_then(Value::as_str);
        for seg in segments.iter().take(segments.len().saturating_sub(1)) {
            node = if seg == "$ref" {
                resolve(&self.root, node.get("$ref")?.as_str()?)?
            } else {
                match node {
                    Value::Object(m) => m.get(seg)?,
                    Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                    _ => return None,
                }
            };
            if let Some(id) = node.get("x-requirement").and_then(Value::as_str) {
                found = Some(id);
            }
        }
        found.map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_compiles_and_judges_something() {
        for kind in DocKind::ALL {
            let s = KindSchema::get(kind).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert!(
                !s.requirements().is_empty(),
                "{kind:?} judges no requirement"
            );
        }
    }

    #[test]
    fn media_types_name_kinds() {
        assert_eq!(
            DocKind::from_media_type("application/vnd.oci.image.index.v1+json"),
            Some(DocKind::ImageIndex)
        );
        assert_eq!(DocKind::from_media_type("text/plain"), None);
        for k in DocKind::ALL {
            assert_eq!(DocKind::parse(k.def_name()), Some(k));
        }
    }
}
