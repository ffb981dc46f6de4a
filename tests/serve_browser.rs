//! The web page in a real browser: Debian's Chromium, headless, with JavaScript disabled in
//! the page, uploads a layout through the form of the real `oci-certify serve` binary, reads
//! the verdict off the result page, and saves screenshots under target/test-output/serve/.
//!
//! Needs Node.js, Debian's `chromium`, and `npm ci --prefix tests/serve-browser` (playwright-core
//! pinned by its package-lock.json); `cargo xtask setup` installs all three. Without them the
//! test fails and says so: it never passes by skipping.

mod serve_common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use serve_common::{archive, good, output_dir, Service};

const INSTALL: &str =
    "install Node.js, Debian's chromium and `npm ci --prefix tests/serve-browser` \
                       (all done by `cargo xtask setup`)";

fn check_tools(dir: &Path) {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("`node --version` failed ({}): {INSTALL}", o.status),
        Err(e) => panic!("Node.js is not available ({e}): {INSTALL}"),
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: {INSTALL}"
    );
    let lock = dir.join("node_modules/playwright-core/package.json");
    assert!(lock.is_file(), "{} is missing: {INSTALL}", lock.display());
}

#[test]
fn chromium_uploads_a_layout_and_reads_the_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serve-browser");
    check_tools(&dir);
    let out = output_dir();
    let good_tar = out.join("good-layout.tar");
    std::fs::write(&good_tar, archive(&good(), false)).expect("write the good layout");
    let mut broken = good();
    broken.oci_layout = None;
    let broken_tar = out.join("no-oci-layout.tar.gz");
    std::fs::write(&broken_tar, archive(&broken, true)).expect("write the broken layout");
    let good_shot = out.join("result-green.png");
    let red_shot = out.join("result-red.png");
    for shot in [&good_shot, &red_shot] {
        let _ = std::fs::remove_file(shot);
    }

    let service = Service::start(&[]);
    let run = Command::new("node")
        .arg(dir.join("upload.mjs"))
        .arg(&service.base)
        .args([&good_tar, &good_shot, &broken_tar, &red_shot])
        .output()
        .expect("run node upload.mjs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "node upload.mjs failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per upload"))
        .collect();
    assert_eq!(results.len(), 2, "{stdout}");

    let green = &results[0];
    assert_eq!(green["verdict"], "green", "{green}");
    assert!(green["banner"].as_str().unwrap().starts_with("GREEN"));
    assert!(green["total"].as_u64().unwrap() > 50, "{green}");
    assert_eq!(green["findings"], "Findings (0)");
    assert_eq!(green["title"], "GREEN — good-layout.tar");

    let red = &results[1];
    assert_eq!(red["verdict"], "red", "{red}");
    assert_eq!(
        red["finding_ids"],
        serde_json::json!(["image.layout.oci-layout.required"]),
        "{red}"
    );
    assert!(red["links"][0]
        .as_str()
        .unwrap()
        .starts_with("https://github.com/opencontainers/image-spec/blob/v1.1.1/image-layout.md#"));

    for shot in [&good_shot, &red_shot] {
        let bytes = std::fs::read(shot).expect("a screenshot");
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            shot.display()
        );
        assert!(bytes.len() > 10_000, "{} looks empty", shot.display());
        eprintln!("screenshot: {}", shot.display());
    }
}
