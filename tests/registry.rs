//! `oci-certify registry URL` against the real CNCF distribution registry (Debian's
//! docker-registry 2.8.2, started by the test on a free port; `cargo xtask setup` installs it),
//! with deletion enabled and disabled, and through an authenticating proxy. The red verdict is
//! exactly the divergences in registry-tests/DIVERGENCES.md.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use oci_certify_registry::harness::{LocalRegistry, RegistryConfig};
use oci_certify_registry::proxy::{Fault, Proxy, ProxyAuth, ProxyOptions};
use serde_json::Value;

const DIVERGENCES: &[&str] = &[
    "distribution.discovery.tags.last-lexical-order",
    "distribution.discovery.tags.lexical-order",
    "distribution.discovery.tags.n-exact-count",
    "distribution.discovery.tags.n-lexical-order",
    "distribution.discovery.tags.n-zero-empty",
    "distribution.pull.manifests.not-found-404",
    "distribution.push.chunked.out-of-order-416",
    "distribution.push.manifests.too-large-413",
];

fn run(args: &[&str], stdin: Option<&str>) -> (Output, Option<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .env("NO_COLOR", "1")
        .env_remove("OCI_CERTIFY_TOKEN")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oci-certify runs");
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

fn failed_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "fail")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn registry_command_against_docker_registry() {
    for delete_enabled in [true, false] {
        let reg = LocalRegistry::start(RegistryConfig { delete_enabled })
            .expect("docker-registry starts");
        let (out, report) = run(
            &["registry", &reg.url(), "--format", "json", "--plain"],
            None,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "red: known divergences\n{stderr}"
        );
        let report = report.expect("a JSON report");
        assert_eq!(failed_ids(&report), DIVERGENCES, "{stderr}");
        assert!(
            stderr.contains("no referrers API (404), which the spec allows"),
            "{stderr}"
        );
        if !delete_enabled {
            assert!(
                stderr.contains("manifest deletion disabled (permitted)"),
                "{stderr}"
            );
        }
        // A selection without divergences is green, and only its group runs.
        let (out, _) = run(
            &[
                "registry",
                &reg.url(),
                "--select",
                "distribution.management",
                "--plain",
            ],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Only the selected group runs: far fewer requests than the full suite.
        let err = String::from_utf8_lossy(&out.stderr);
        let requests: u64 = err
            .lines()
            .find_map(|l| {
                l.strip_prefix("oci-certify registry: ")?
                    .strip_suffix(" HTTP requests")?
                    .parse()
                    .ok()
            })
            .unwrap_or(u64::MAX);
        assert!(requests < 100, "{requests} requests for one group\n{err}");
    }
}

#[test]
fn registry_command_with_basic_auth_and_without_credentials() {
    let reg = LocalRegistry::start(RegistryConfig {
        delete_enabled: true,
    })
    .expect("docker-registry starts");
    let auth = ProxyAuth::Basic {
        username: "alice".into(),
        password: "s3cret".into(),
    };
    let proxy = Proxy::start(
        &reg.url(),
        ProxyOptions {
            auth,
            ..ProxyOptions::fault(Fault::None)
        },
    )
    .unwrap();
    let args = [
        "registry",
        &proxy.url(),
        "--format",
        "json",
        "--plain",
        "--username",
        "alice",
        "--password-stdin",
        "--namespace",
        "team/ci",
    ];
    let (out, report) = run(&args, Some("s3cret\n"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = report.unwrap();
    assert_eq!(failed_ids(&report), DIVERGENCES);
    assert!(!report.to_string().contains("s3cret"));
    // Without credentials: an input error (exit 2), not a verdict.
    let (out, _) = run(&["registry", &proxy.url(), "--plain"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unreachable_or_malformed_registry_is_an_error_without_a_verdict() {
    let port = oci_certify_registry::harness::free_port().unwrap();
    let (out, _) = run(
        &["registry", &format!("http://127.0.0.1:{port}"), "--plain"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/v2/") && !err.contains("RED") && !err.contains("GREEN"),
        "{err}"
    );
    let (out, _) = run(&["registry", "http://127.0.0.1:5000/v2/", "--plain"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("base URL only"));
    let (out, _) = run(
        &[
            "registry",
            "http://127.0.0.1:5000",
            "--namespace",
            "Bad_Name",
            "--plain",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--namespace"));
}
