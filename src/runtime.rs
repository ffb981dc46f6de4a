//! `oci-certify runtime [BINARY]`: wiring to the runtime certification engine.

use std::path::Path;

use anyhow::{bail, Result};
use oci_certify_core::Spec;
use oci_certify_runtime::engine::{certify, Options};

use crate::cli::ReportArgs;
use crate::output;

pub fn run(binary: Option<&Path>, report: &ReportArgs) -> Result<i32> {
    let Some(binary) = binary else {
        bail!(
            "the bundled reference runtime is not available in oci-certify {} yet; \
             name a runtime binary, e.g. `oci-certify runtime /usr/sbin/runc`",
            oci_certify_core::TOOL_VERSION
        );
    };
    let opts = Options::new(binary);
    let mut interrupted = None;
    let code = output::certify(
        "runtime",
        Spec::Runtime,
        binary.display().to_string(),
        report,
        |runner| {
            let end = certify(runner, &opts)?;
            interrupted = end.interrupted;
            if !end.cleanup.is_clean() {
                eprintln!("oci-certify runtime: cleanup audit: {:?}", end.cleanup);
            }
            Ok(())
        },
    )?;
    // Ctrl-C: the run stopped early, cleaned up, and exits as interrupted processes do.
    Ok(interrupted.unwrap_or(code))
}
