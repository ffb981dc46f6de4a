//! Sensitivity: the fault proxy breaks one behaviour of a real registry (Debian's
//! docker-registry, CNCF distribution 2.8.2) at a time, and the suite must flag exactly the
//! requirements that behaviour is about, in addition to the registry's own known divergences.

mod common;

use std::collections::BTreeSet;

use oci_certify_registry::client::Auth;
use oci_certify_registry::harness::{LocalRegistry, RegistryConfig};
use oci_certify_registry::proxy::{Fault, Proxy, ProxyOptions};

/// What distribution 2.8.2 fails on its own when the proxy serves conforming tag listings and
/// a referrers API (registry-tests/DIVERGENCES.md).
const BASELINE: &[&str] = &[
    "distribution.pull.manifests.not-found-404",
    "distribution.push.chunked.out-of-order-416",
    "distribution.push.manifests.too-large-413",
];

fn expected(fault: Fault) -> &'static [&'static str] {
    match fault {
        Fault::None => &[],
        Fault::DropManifestDigestHeader => &["distribution.pull.manifests.docker-content-digest"],
        Fault::CorruptBlobByte => &[
            "distribution.pull.blobs.get-returns-blob",
            "distribution.pull.blobs.digest-header-matches-body",
        ],
        Fault::BlobGetStatus203 => &[
            "distribution.pull.blobs.get-200",
            "distribution.api.endpoints.end-2-blob",
        ],
        Fault::ManifestPut200 => &[
            "distribution.push.manifests.put-201",
            "distribution.api.endpoints.end-7-manifest-put",
        ],
        Fault::DropPatchRange => &["distribution.push.chunked.patch-range-header"],
        Fault::UploadStatus200 => &[
            "distribution.push.chunked.status-204",
            "distribution.api.endpoints.end-13-upload-status",
        ],
        Fault::IgnoreTagsN => &[
            "distribution.discovery.tags.n-exact-count",
            "distribution.discovery.tags.n-zero-empty",
        ],
        Fault::ReverseTags => &[
            "distribution.discovery.tags.lexical-order",
            "distribution.discovery.tags.n-lexical-order",
            "distribution.discovery.tags.last-lexical-order",
        ],
        Fault::DeleteManifest200 => &[
            "distribution.management.delete-manifest.success-202",
            "distribution.api.endpoints.end-9-manifest-delete",
        ],
        // After a deletion the spec also says GET answers 404, judged under the deletion.
        Fault::ManifestNotFound500 => &[
            "distribution.pull.manifests.not-found-404",
            "distribution.pull.manifests.nonexistent-repository-404",
            "distribution.management.delete-manifest.success-202",
        ],
        Fault::IgnoreRange => &["distribution.pull.blobs.range-requests"],
        // A lowercased MANIFEST_BLOB_UNKNOWN is no longer that code.
        Fault::LowercaseErrorCodes => &[
            "distribution.api.errors.code-format",
            "distribution.api.errors.code-valid",
            "distribution.push.manifests.missing-references-error-code",
        ],
        Fault::BadWarning => &["distribution.api.warnings.warn-code-299"],
        Fault::ContentTypeCharset => &["distribution.pull.manifests.content-type-no-parameters"],
        // The suite's own manifests are compact JSON already; only the oddly formatted one changes.
        Fault::ReencodeManifest => &["distribution.push.manifests.byte-exact"],
        Fault::LinkOnNZero => &["distribution.discovery.tags.n-zero-no-link"],
        // The filter is applied, but unsaid: the registry does not claim the filter.
        Fault::DropFiltersApplied => &[
            "distribution.discovery.referrers.artifacttype-filter",
            "distribution.discovery.referrers.filters-applied-header",
        ],
        Fault::DropReferrerAnnotations => &["distribution.discovery.referrers.annotations"],
        Fault::NoConfigArtifactType => {
            &["distribution.discovery.referrers.artifacttype-from-config"]
        }
        Fault::DropOciSubject => &["distribution.push.subject.oci-subject-header"],
        Fault::AcceptBadNames => &[
            "distribution.definitions.tag.max-length",
            "distribution.definitions.tag.grammar",
            "distribution.definitions.name.grammar",
        ],
        // Permitted behaviour: followed, recorded, and nothing fails.
        Fault::RedirectBlobs => &[],
        Fault::ReferrersNotFound => &[
            "distribution.discovery.referrers.no-404",
            "distribution.discovery.referrers.empty-index",
        ],
    }
}

fn failed(url: &str) -> (BTreeSet<String>, String) {
    let (_, c) = common::run(url, Auth::None);
    assert!(c.errors().is_empty(), "harness errors: {:?}", c.errors());
    (c.failed_ids(), common::dump(&c))
}

#[test]
fn each_fault_is_flagged_by_exactly_its_requirements() {
    let reg = LocalRegistry::start(RegistryConfig {
        delete_enabled: true,
    })
    .expect("docker-registry starts (cargo xtask setup installs it)");
    let baseline: BTreeSet<String> = BASELINE.iter().map(|s| s.to_string()).collect();
    let mut faults = vec![Fault::None];
    faults.extend_from_slice(Fault::ALL);
    // A few at a time: every run has its own proxy and repositories on the one registry.
    let mut problems = Vec::new();
    for chunk in faults.chunks(3) {
        let results: Vec<(Fault, BTreeSet<String>, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&fault| {
                    let upstream = reg.url();
                    s.spawn(move || {
                        let proxy = Proxy::start(
                            &upstream,
                            ProxyOptions {
                                conforming_tags: true,
                                referrers: true,
                                ..ProxyOptions::fault(fault)
                            },
                        )
                        .unwrap();
                        let (ids, dump) = failed(&proxy.url());
                        (fault, ids, dump)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (fault, ids, dump) in results {
            let want: BTreeSet<String> = baseline
                .iter()
                .cloned()
                .chain(expected(fault).iter().map(|s| s.to_string()))
                .collect();
            if ids != want {
                problems.push(format!(
                    "{fault:?}: unexpected {:?}, missing {:?}\n{dump}",
                    ids.difference(&want).collect::<Vec<_>>(),
                    want.difference(&ids).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
