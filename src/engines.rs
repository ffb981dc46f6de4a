//! Every check the engine crates declare, for `requirements --coverage`.
//!
//! Each engine crate exposes its checks' metadata; this list is the one place that gathers
//! them. An engine added to the build adds its line here.

use oci_certify_core::coverage::CheckInfo;

/// Metadata of every check in this build.
pub fn all_checks() -> Vec<CheckInfo> {
    let mut all = oci_certify_validators::rules::all_checks();
    all.extend(oci_certify_image::layout::checks());
    all.extend(
        oci_certify_runtime::engine::recorded()
            .into_iter()
            .map(|requirement| CheckInfo {
                engine: "runtime",
                requirement,
            }),
    );
    all.extend(
        oci_certify_registry::engine::recorded()
            .into_iter()
            .map(|requirement| CheckInfo {
                engine: "registry",
                requirement,
            }),
    );
    all.sort();
    all.dedup();
    all
}
