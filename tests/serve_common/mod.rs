//! Starts the real `oci-certify serve` binary on a free port and stops it on drop; builds
//! uploads from the fixtures.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use oci_certify_fixtures::layout::{Image, LayoutBuilder};

/// A running `oci-certify serve`; killed and reaped on drop.
pub struct Service {
    pub child: Child,
    pub base: String,
}

impl Service {
    /// Starts the binary on 127.0.0.1:0 with extra flags and waits for its "listening" line
    /// (an event: the line is printed once the socket is bound).
    pub fn start(extra: &[&str]) -> Service {
        Service::start_in(extra, &std::env::temp_dir())
    }

    /// As [`Service::start`], with the service's temporary files under `tmp` (TMPDIR).
    pub fn start_in(extra: &[&str], tmp: &std::path::Path) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("TMPDIR", tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start oci-certify serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("oci-certify serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Service { child, base }
    }

    /// The server's resident set now and at its peak, in KiB, from /proc.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// target/test-output/serve, created.
pub fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-output/serve");
    std::fs::create_dir_all(&dir).expect("create the test output dir");
    dir
}

/// A tar (or tar.gz) of a layout.
pub fn archive(b: &LayoutBuilder, gz: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("layout.tar");
    b.write_archive(&file, gz).expect("write archive");
    std::fs::read(file).expect("read archive")
}

/// The fixtures' good image in a layout.
pub fn good() -> LayoutBuilder {
    let mut b = LayoutBuilder::new();
    Image::good().expect("good image").add(&mut b);
    b
}
