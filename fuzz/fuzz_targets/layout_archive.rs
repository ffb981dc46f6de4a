//! Arbitrary bytes as an oci-archive file through the whole image path: the archive reader,
//! a blob scan per entry, and the layout walk (every document through the validators). The
//! bytes are written to a temporary file because the archive reader takes a path.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oci_certify_core::Spec;
use oci_certify_fuzz::{runner, Strictness};
use oci_certify_image::blob::Limits;
use oci_certify_image::layout::{check_path, Options};

fn options() -> Options {
    Options {
        limits: Limits {
            max_uncompressed_bytes: 1 << 20,
            ratio_grace_bytes: 64 << 10,
            max_entries: 256,
            max_header_bytes: 8 << 10,
            max_facts: 64,
            max_zstd_window_log: 20,
            ..Limits::default()
        },
        max_index_depth: 8,
        max_blobs: 256,
        max_archive_json_bytes: 1 << 20,
        ..Options::default()
    }
}

/// One file per fuzzing process, rewritten for each input, in the temporary directory
/// (`cargo xtask fuzz` points `TMPDIR` at `fuzz/target/scratch` and removes it afterwards).
fn scratch_file() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("oci-certify-fuzz-{}.tar", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch_file();
    std::fs::write(path, data).expect("writing the scratch file");
    let runner = runner(Spec::Image, Strictness::NoErrors);
    // An unreadable or hostile archive is an error, not a panic.
    let _ = check_path(&runner, path, &options());
    runner.finish().expect("a discarding sink never fails");
});
