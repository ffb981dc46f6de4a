//! Why `tap_reader` exists: the `tap_parser` crate (0.1.1, the one on crates.io) loses test
//! points from valid TAP 14 without reporting an error, and refuses TAP 13. If a future version
//! fixes this, these tests fail and the choice can be revisited.

use oci_certify_reports::tap_reader;
use tap_parser::{TapParser, TapStatement};

fn points(statements: &[TapStatement<'_>]) -> usize {
    statements
        .iter()
        .filter(|s| matches!(s, TapStatement::TestPoint(_) | TapStatement::Subtest(_)))
        .count()
}

#[test]
fn tap_parser_drops_points_after_a_comment_and_a_leading_plan() {
    // Valid TAP 14: comments and pragmas may precede the plan.
    for doc in [
        "TAP version 14\n# produced by a tool\n1..3\nok 1 - a\nnot ok 2 - b\nok 3 - c\n",
        "TAP version 14\npragma +strict\n1..2\nok 1 - a\nnot ok 2 - b\n",
    ] {
        let mut parser = TapParser::new();
        let statements = parser.parse(doc).expect("tap_parser accepts the document");
        assert_eq!(
            points(&statements),
            0,
            "tap_parser silently drops every point"
        );

        let ours = tap_reader::parse(doc);
        assert_eq!(
            ours.points().count(),
            ours.plan.as_ref().unwrap().count() as usize
        );
        assert_eq!(ours.counts().fail, 1, "the failure is not lost");
    }
}

#[test]
fn tap_parser_rejects_tap13_and_unversioned_tap() {
    for doc in ["TAP version 13\n1..1\nok 1 - a\n", "1..1\nok 1 - a\n"] {
        assert!(TapParser::new().parse(doc).is_err());
        assert!(tap_reader::parse(doc).is_ok());
    }
}

#[test]
fn tap_parser_panics_on_malformed_input() {
    // A YAML block after a subtest's plan: malformed, but a reader must not crash on it.
    let doc = "TAP version 14\n# Subtest: a\n    ok 1 - x\n    1..1\n      ---\n      ...\nok 1 - a\n1..1\n";
    let crashed = std::panic::catch_unwind(|| {
        let _ = TapParser::new().parse(doc);
    })
    .is_err();
    assert!(crashed, "tap_parser 0.1.1 hits an unreachable!() here");
    let ours = tap_reader::parse(doc);
    assert_eq!(ours.walk().len(), 2);
    assert!(ours.walk()[0].1.subtest.is_none() && ours.walk()[1].1.subtest.is_some());
}
