//! Arbitrary bytes through the document validators: the strict JSON reader, the schema layer
//! and the rule layer, for every document kind of both specs. Also a differential check of
//! the strict reader against `serde_json`: they must agree on what is JSON (up to the depth
//! limit) and, where both read it, on the value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_certify_core::Spec;
use oci_certify_fuzz::{runner, Strictness};
use oci_certify_validators::json::{Document, JsonError, Limits};
use oci_certify_validators::{check_document, DocKind};

fuzz_target!(|data: &[u8]| {
    differential(data);
    for spec in [Spec::Image, Spec::Runtime] {
        let runner = runner(spec, Strictness::NoDiagnostics);
        for kind in DocKind::ALL.into_iter().filter(|k| k.spec() == spec) {
            let doc = check_document(
                &runner,
                kind.def_name(),
                None,
                "fuzz.json",
                data,
                kind,
                Limits::default(),
            );
            if let Some(doc) = doc {
                assert!(
                    doc.document.position("").is_some(),
                    "the root has a position"
                );
            }
        }
        runner.finish().expect("a discarding sink never fails");
    }
});

fn differential(data: &[u8]) {
    let ours = Document::parse("fuzz.json", data, Limits::default());
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (&ours, &theirs) {
        (Ok(doc), Ok(value)) => {
            assert_eq!(
                &doc.value, value,
                "the strict reader and serde_json disagree"
            );
            for dup in &doc.duplicates {
                assert!(
                    doc.position(&dup.object).is_some(),
                    "duplicate key {dup:?} in an object without a position"
                );
            }
        }
        (Err(_), Err(_)) => {}
        // serde_json stops at its recursion limit (128), the strict reader at max_depth (128);
        // the two count slightly differently.
        (Err(JsonError::TooDeep { .. }), Ok(_)) => {}
        (Ok(_), Err(e)) if e.to_string().contains("recursion limit") => {}
        (Ok(_), Err(e)) => panic!("serde_json refuses what the strict reader accepts: {e}"),
        (Err(e), Ok(_)) => panic!("the strict reader refuses what serde_json accepts: {e}"),
    }
}
