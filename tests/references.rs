//! Registry references against the real registry (Debian's docker-registry, started on a free
//! loopback port): `oci-certify image HOST/REPO:TAG` pulls and validates a pushed image, and
//! `oci-certify serve` does the same for `?ref=`, refuses it (403) without `--allow-private`,
//! and answers 404 for an unknown tag. Needs docker-registry (`cargo xtask setup`); missing it
//! is a failure, never a silent pass.

mod serve_common;

use oci_certify_registry::client::{Client, ClientOptions, Request};
use oci_certify_registry::content::{self, Manifest, Rng};
use oci_certify_registry::harness::{LocalRegistry, RegistryConfig};
use serve_common::Service;

async fn push(c: &Client, repo: &str, m: &Manifest, reference: &str) {
    for b in &m.blobs {
        let post = c
            .send(Request::post(format!("/v2/{repo}/blobs/uploads/")))
            .await
            .unwrap();
        let loc = post.header("location").unwrap().to_string();
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put = c
            .send(Request::put(format!("{loc}{sep}digest={}", b.digest)).body(b.bytes.clone()))
            .await
            .unwrap();
        assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    }
    let put = c
        .send(
            Request::put(format!("/v2/{repo}/manifests/{reference}"))
                .header("Content-Type", m.media_type.clone())
                .body(m.bytes.clone()),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_are_pulled_from_the_real_registry_and_validated() {
    let reg = LocalRegistry::start(RegistryConfig {
        delete_enabled: false,
    })
    .expect("docker-registry starts (cargo xtask setup installs it)");
    let c = Client::new(ClientOptions::new(url::Url::parse(&reg.url()).unwrap())).unwrap();
    let image = content::image(&mut Rng::new(11));
    push(&c, "serve/app", &image, "v1").await;
    let host = format!("127.0.0.1:{}", reg.port());

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let allowed = Service::start(&["--allow-private", "--plain-http-registry", &host]);
    let url = format!(
        "{}/api/v1/check?ref={host}/serve/app:v1&out=json",
        allowed.base
    );
    let resp = http.get(&url).send().await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(
        ids.iter().any(|i| i.starts_with("image.manifest.")),
        "the pulled manifest was validated: {ids:?}"
    );
    assert!(
        ids.iter().any(|i| i.starts_with("image.layout.")),
        "as a layout: {ids:?}"
    );

    let missing = http
        .get(format!(
            "{}/api/v1/check?ref={host}/serve/app:nope&out=json",
            allowed.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    // Without --allow-private the loopback registry is refused before any request is made.
    let strict = Service::start(&["--plain-http-registry", &host]);
    let refused = http
        .get(format!(
            "{}/api/v1/check?ref={host}/serve/app:v1&out=json",
            strict.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_command_pulls_and_validates_a_reference() {
    let reg = LocalRegistry::start(RegistryConfig {
        delete_enabled: false,
    })
    .expect("docker-registry starts (cargo xtask setup installs it)");
    let c = Client::new(ClientOptions::new(url::Url::parse(&reg.url()).unwrap())).unwrap();
    let image = content::image(&mut Rng::new(12));
    push(&c, "cli/app", &image, "v1").await;
    let reference = format!("127.0.0.1:{}/cli/app:v1", reg.port());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .args([
            "image",
            &reference,
            "--plain-http",
            "--plain",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "a verdict, not an error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["subject"], reference.as_str(), "{report}");
    let ids: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(
        ids.iter().any(|i| i.starts_with("image.manifest.")),
        "{ids:?}"
    );

    // An unknown tag is an error (exit 2) that names the reference, not a report.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .args([
            "image",
            &format!("127.0.0.1:{}/cli/app:nope", reg.port()),
            "--plain-http",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cli/app:nope"));
}
