//! The schema layer's own proof: schemas are keyed to real requirements, every constraint is
//! attributed, and each case file's documents produce exactly the expected requirement ids.
//!
//! Case files live in `tests/schema-cases/*.json`:
//! `{"kind": "image-manifest", "valid": [doc, ...], "invalid": [{"name": "...", "doc": {...},
//! "expect": ["requirement.id", ...]}]}`.

use std::collections::BTreeSet;
use std::path::Path;

use oci_certify_core::Catalogue;
use oci_certify_validators::schema::{DocKind, KindSchema};
use serde_json::Value;

const CONSTRAINTS: &[&str] = &[
    "type",
    "required",
    "enum",
    "const",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "format",
    "propertyNames",
    "contains",
    "not",
    "dependentRequired",
    "multipleOf",
    "oneOf",
    "anyOf",
    "if",
];

fn schema_files() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".schema.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((
                path.display().to_string(),
                serde_json::from_str(&text).unwrap(),
            ));
        }
    }
    out
}

fn lint(node: &Value, path: &str, keyed: bool, ids: &mut Vec<String>, unkeyed: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            let own = map.get("x-requirement").and_then(Value::as_str);
            if let Some(id) = own {
                ids.push(id.to_string());
            }
            let keyed = keyed || own.is_some();
            if !keyed && CONSTRAINTS.iter().any(|k| map.contains_key(*k)) {
                unkeyed.push(path.to_string());
            }
            for (k, v) in map {
                if matches!(
                    k.as_str(),
                    "const" | "enum" | "examples" | "default" | "x-requirement"
                ) {
                    continue;
                }
                // A definition starts fresh: it may be reached from anywhere.
                let child_keyed = keyed && k != "$defs";
                lint(v, &format!("{path}/{k}"), child_keyed, ids, unkeyed);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                lint(v, &format!("{path}/{i}"), keyed, ids, unkeyed);
            }
        }
        _ => {}
    }
}

#[test]
fn every_constraint_is_keyed_to_an_existing_requirement() {
    let catalogue = Catalogue::builtin().unwrap();
    for (file, schema) in schema_files() {
        let mut ids = Vec::new();
        let mut unkeyed = Vec::new();
        lint(&schema, "", false, &mut ids, &mut unkeyed);
        assert!(
            unkeyed.is_empty(),
            "{file}: constraints without x-requirement: {unkeyed:#?}"
        );
        let missing: BTreeSet<_> = ids
            .iter()
            .filter(|id| catalogue.get(id).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "{file}: x-requirement ids not in the catalogue: {missing:#?}"
        );
    }
}

#[test]
fn case_files_produce_exactly_the_expected_requirements() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema-cases");
    let mut failures = Vec::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kind = DocKind::parse(file["kind"].as_str().unwrap()).unwrap();
        let schema = KindSchema::get(kind).unwrap();
        for (i, doc) in file["valid"].as_array().into_iter().flatten().enumerate() {
            cases += 1;
            let found = schema.validate(doc).unwrap();
            if !found.is_empty() {
                failures.push(format!(
                    "{}: valid[{i}] has findings {found:#?}",
                    path.display()
                ));
            }
        }
        for case in file["invalid"].as_array().into_iter().flatten() {
            cases += 1;
            let name = case["name"].as_str().unwrap_or("?");
            let found: BTreeSet<String> = schema
                .validate(&case["doc"])
                .unwrap()
                .into_iter()
                .map(|f| f.requirement)
                .collect();
            let expect: BTreeSet<String> = case["expect"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            if found != expect {
                failures.push(format!(
                    "{}: {name}: expected {expect:?}, found {found:?}",
                    path.display()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn no_requirement_is_judged_by_both_layers() {
    for kind in DocKind::ALL {
        let schema = KindSchema::get(kind).unwrap();
        let both: Vec<_> = oci_certify_validators::rules::checks_for(kind)
            .iter()
            .filter(|c| schema.requirements().contains(c.requirement))
            .map(|c| c.requirement)
            .collect();
        assert!(
            both.is_empty(),
            "{kind:?}: judged by the schema and a rule: {both:?}"
        );
    }
}
