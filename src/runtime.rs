//! `oci-certify runtime [BINARY]`: wiring to the runtime certification engine.
//!
//! Without BINARY the subject is the bundled reference runtime: this same executable, reached
//! through a symlink named `oci-reference-runtime` in a private temp directory (see
//! `main`'s multi-call dispatch). The suite drives it like any other binary, through exec
//! and its command line; the directory is removed afterwards by a guard, also on error.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_certify_core::Spec;
use oci_certify_runtime::engine::{certify, Options};

use crate::cli::ReportArgs;
use crate::output;

/// Whether argv[0]'s file name asks for the reference runtime.
pub fn invoked_as_reference_runtime() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| {
            p.file_name()
                .map(|n| n == oci_reference_runtime::BINARY_NAME)
        })
        .unwrap_or(false)
}

/// A private directory holding `oci-reference-runtime` → this executable; removed on drop.
struct ReferenceRuntime {
    dir: tempfile::TempDir,
}

impl ReferenceRuntime {
    fn new() -> Result<ReferenceRuntime> {
        let exe = std::env::current_exe().context("find this executable")?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("oci-certify-reference-{}-", std::process::id()))
            .tempdir()
            .context("create a temp dir for the reference runtime")?;
        std::os::unix::fs::symlink(&exe, dir.path().join(oci_reference_runtime::BINARY_NAME))
            .context("link the reference runtime")?;
        Ok(ReferenceRuntime { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join(oci_reference_runtime::BINARY_NAME)
    }
}

pub fn run(binary: Option<&Path>, report: &ReportArgs) -> Result<i32> {
    // Held until the end of this function: the guard removes the directory on every path.
    let reference = match binary {
        Some(_) => None,
        None => Some(ReferenceRuntime::new()?),
    };
    let binary: PathBuf = match (&reference, binary) {
        (Some(r), _) => r.path(),
        (None, Some(b)) => b.to_path_buf(),
        (None, None) => anyhow::bail!("no runtime binary"),
    };
    let label = match &reference {
        Some(_) => format!(
            "oci-reference-runtime {} (bundled)",
            oci_certify_core::TOOL_VERSION
        ),
        None => binary.display().to_string(),
    };
    let opts = Options::new(&binary);
    let mut interrupted = None;
    let code = output::certify("runtime", Spec::Runtime, label, report, |runner| {
        let end = certify(runner, &opts)?;
        interrupted = end.interrupted;
        if !end.cleanup.is_clean() {
            eprintln!("oci-certify runtime: cleanup audit: {:?}", end.cleanup);
        }
        Ok(())
    })?;
    drop(reference);
    // Ctrl-C: the run stopped early, cleaned up, and exits as interrupted processes do.
    Ok(interrupted.unwrap_or(code))
}
