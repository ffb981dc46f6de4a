//! The suite against the real CNCF distribution registry (Debian's docker-registry 2.8.2),
//! once with deletion enabled and once disabled. Every red is a divergence written down in
//! registry-tests/DIVERGENCES.md; nothing else may fail, nothing may be a harness error, and
//! what the spec lets a registry leave out (deletion, the referrers API, single-POST uploads)
//! is a skip with its reason, never a failure.

mod common;

use std::collections::BTreeSet;

use oci_certify_core::check::Outcome;
use oci_certify_registry::client::Auth;
use oci_certify_registry::harness::{LocalRegistry, RegistryConfig};

/// registry-tests/DIVERGENCES.md, by requirement id.
pub const DIVERGENCES: &[&str] = &[
    "distribution.discovery.tags.lexical-order",
    "distribution.discovery.tags.last-lexical-order",
    "distribution.discovery.tags.n-exact-count",
    "distribution.discovery.tags.n-lexical-order",
    "distribution.discovery.tags.n-zero-empty",
    "distribution.pull.manifests.not-found-404",
    "distribution.push.chunked.out-of-order-416",
    "distribution.push.manifests.too-large-413",
];

fn skip_reason(c: &oci_certify_core::event::Collector, id: &str) -> Vec<String> {
    c.results()
        .filter(|r| r.point.requirement.id == id)
        .filter_map(|r| match &r.outcome {
            Outcome::Skip { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn distribution_2_8_2_fails_exactly_its_known_divergences() {
    let want: BTreeSet<String> = DIVERGENCES.iter().map(|s| s.to_string()).collect();
    for delete_enabled in [true, false] {
        let reg = LocalRegistry::start(RegistryConfig { delete_enabled })
            .expect("docker-registry starts (cargo xtask setup installs it)");
        let t = std::time::Instant::now();
        let (end, c) = common::run(&reg.url(), Auth::None);
        let took = t.elapsed();
        eprintln!(
            "delete_enabled={delete_enabled}: {} points, {} requests, {took:?}",
            c.results().count(),
            end.requests
        );
        assert!(c.errors().is_empty(), "harness errors: {:?}", c.errors());
        assert_eq!(
            c.failed_ids(),
            want,
            "delete_enabled={delete_enabled}:\n{}",
            common::dump(&c)
        );
        assert!(c.results().count() > 200, "the whole suite ran");
        // No referrers API: skipped with the reason, never failed.
        assert!(skip_reason(&c, "distribution.discovery.referrers.list-200")[0].contains("allows"));
        let caps: Vec<String> = end
            .capabilities
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let mgmt = caps
            .iter()
            .find(|l| l.starts_with("content management"))
            .unwrap();
        if delete_enabled {
            assert!(
                mgmt.contains("manifest deletion enabled")
                    && mgmt.contains("blob deletion enabled"),
                "{mgmt}"
            );
            // Tag deletion is not offered by 2.8.2, and answers 400, which the spec permits.
            assert!(
                skip_reason(&c, "distribution.management.delete-tag.success-202")[0]
                    .contains("permits")
            );
        } else {
            assert!(
                mgmt.contains("manifest deletion disabled (permitted)"),
                "{mgmt}"
            );
            for id in [
                "distribution.management.delete-manifest.success-202",
                "distribution.management.delete-blob.success-202",
            ] {
                assert!(skip_reason(&c, id)[0].contains("405"), "{id}");
            }
        }
    }
}
