//! `oci-certify bundle PATH`: wiring to the bundle validator.

use std::path::Path;

use anyhow::Result;
use oci_certify_core::Spec;
use oci_certify_validators::bundle::{check_bundle, check_state_or_features};
use oci_certify_validators::json::Limits;
use oci_certify_validators::DocKind;

use crate::cli::ReportArgs;
use crate::output;

pub fn run(path: &Path, media_type: Option<&str>, report: &ReportArgs) -> Result<i32> {
    let subject = path.display().to_string();
    let limits = Limits::default();
    output::certify("bundle", Spec::Runtime, subject, report, |runner| {
        match media_type {
            Some("state") => check_state_or_features(runner, path, DocKind::RuntimeState, limits)?,
            Some("features") => {
                check_state_or_features(runner, path, DocKind::RuntimeFeatures, limits)?
            }
            _ => check_bundle(runner, path, limits)?,
        }
        Ok(())
    })
}
