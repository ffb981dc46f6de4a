//! Full-stack proof of the document validators: each case document goes through
//! `check_document` (strict parse, schema layer, rule layer) and the set of requirement ids
//! that FAIL must be exactly the expected set; valid documents fail nothing, at any level.
//!
//! Case files live in `tests/document-cases/*.json`:
//! `{"kind": "runtime-config", "valid": [case...], "invalid": [case...]}` where a case is
//! `{"name": "...", "json": <document>}` or `{"name": "...", "text": "<raw bytes as a string>"}`
//! (raw text allows duplicate keys and broken JSON), and invalid cases add
//! `"expect": ["requirement.id", ...]`.

use std::collections::BTreeSet;
use std::path::Path;

use oci_certify_core::testing::collect;
use oci_certify_validators::json::Limits;
use oci_certify_validators::{check_document, DocKind};
use serde_json::Value;

/// Runs one document and returns (failed ids, harness errors and diagnostics).
fn failing_ids(kind: DocKind, bytes: &[u8]) -> (BTreeSet<String>, Vec<String>) {
    let ((), col) = collect(kind.spec(), "case", |runner| {
        check_document(
            runner,
            "doc",
            None,
            "case.json",
            bytes,
            kind,
            Limits::default(),
        );
    })
    .unwrap();
    let mut errors = col.diagnostics();
    errors.extend(col.errors());
    (col.failed_ids(), errors)
}

fn bytes_of(case: &Value) -> Vec<u8> {
    match (case.get("text"), case.get("json")) {
        (Some(Value::String(t)), _) => t.as_bytes().to_vec(),
        (_, Some(v)) => serde_json::to_vec_pretty(v).unwrap(),
        _ => panic!("case without json or text: {case}"),
    }
}

#[test]
fn document_cases_fail_exactly_the_expected_requirements() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/document-cases");
    let mut problems = Vec::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kind = DocKind::parse(file["kind"].as_str().unwrap()).unwrap();
        let file_name = path.file_name().unwrap().to_string_lossy().to_string();
        for (list, valid) in [("valid", true), ("invalid", false)] {
            for case in file[list].as_array().into_iter().flatten() {
                cases += 1;
                let name = case["name"].as_str().unwrap_or("?");
                let (failed, errors) = failing_ids(kind, &bytes_of(case));
                if !errors.is_empty() {
                    problems.push(format!("{file_name}: {name}: harness errors {errors:?}"));
                }
                let expect: BTreeSet<String> = if valid {
                    BTreeSet::new()
                } else {
                    case["expect"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{file_name}: {name}: no expect"))
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect()
                };
                if failed != expect {
                    problems.push(format!(
                        "{file_name}: {name}: expected {expect:?}, failed {failed:?}"
                    ));
                }
            }
        }
    }
    assert!(cases > 0, "no document cases found");
    assert!(
        problems.is_empty(),
        "{} of {cases} cases wrong:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
