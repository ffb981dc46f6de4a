//! The service over real HTTP: routes, formats, the same report as the CLI, errors, limits and
//! references through a test fetcher.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{client, file_form, good_tar, start};
use oci_certify_core::event::RunInfo;
use oci_certify_core::{Catalogue, Runner, Selection, Spec};
use oci_certify_fixtures::layout::{layouts, Image, LayoutBuilder};
use oci_certify_image::layout;
use oci_certify_reports::{sink_for, Format};
use oci_certify_serve::fetch::{
    AddressPolicy, FetchError, FetchFuture, FetchLimits, Fetcher, Reference,
};
use oci_certify_serve::{Config, Limits};
use serde_json::Value;

async fn json_of(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
}

fn failed_ids(report: &Value) -> Vec<String> {
    let mut ids: Vec<String> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["outcome"] == "fail")
        .map(|r| r["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn without_durations(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("duration_ms");
            m.values_mut().for_each(without_durations);
        }
        Value::Array(a) => a.iter_mut().for_each(without_durations),
        _ => {}
    }
}

#[tokio::test]
async fn health_page_and_api_overview() {
    let server = start(Config::default()).await;
    let c = client();
    let r = c
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok\n");
    let page = c.get(&server.base).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let page = page.text().await.unwrap();
    for needle in [
        "enctype=\"multipart/form-data\"",
        "name=\"file\"",
        "name=\"document\"",
        "name=\"ref\"",
        "runtime-config",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    assert!(!page.contains("<script"));
    // No script may run even if escaping failed somewhere.
    let api = c
        .get(format!("{}/api/v1", server.base))
        .send()
        .await
        .unwrap();
    assert!(api.text().await.unwrap().contains("/api/v1/check"));
}

/// The report of an upload is the CLI's report: same runner, same engine, same JSON sink.
#[tokio::test]
async fn an_uploaded_layout_gets_the_same_json_report_as_the_cli() {
    let server = start(Config::default()).await;
    let tar = good_tar();
    let r = client()
        .post(format!("{}/api/v1/check", server.base))
        .multipart(file_form("good.tar", tar.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["oci-certify-verdict"], "green");
    let digest = r.headers()["oci-certify-digest"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(digest, oci_certify_fixtures::layout::sha256(&tar));
    let mut served = json_of(r).await;
    assert_eq!(served["format_version"], 1);
    assert_eq!(served["verdict"], "green");
    assert_eq!(served["subject"], "good.tar");

    // The CLI's wiring (src/image.rs + src/output.rs) with the JSON sink into memory.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.tar");
    std::fs::write(&path, &tar).unwrap();
    let catalogue = Catalogue::builtin()
        .unwrap()
        .spec(Spec::Image, None)
        .unwrap();
    let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
    struct W(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for W {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let info = RunInfo {
        tool: oci_certify_core::TOOL_NAME.into(),
        tool_version: oci_certify_core::TOOL_VERSION.into(),
        spec: Spec::Image,
        spec_version: catalogue.version.clone(),
        subject: "good.tar".into(),
        command: "image".into(),
    };
    let runner = Runner::start(
        catalogue,
        Selection {
            specs: vec![Spec::Image],
            ..Selection::all()
        },
        info,
        vec![sink_for(Format::Json, Box::new(W(buffer.clone())))],
    );
    layout::check_path(&runner, &path, &layout::Options::default()).unwrap();
    runner.finish().unwrap();
    let cli_text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    let hide = format!("{}/", dir.path().display());
    let mut cli: Value = serde_json::from_str(&cli_text.replace(&hide, "")).unwrap();
    without_durations(&mut served);
    without_durations(&mut cli);
    assert_eq!(served, cli);
    // No server path leaks into the report.
    assert!(!served.to_string().contains("oci-certify-serve-"));
}

#[tokio::test]
async fn every_broken_layout_fixture_fails_exactly_its_ids() {
    let server = start(Config::default()).await;
    let c = client();
    for fixture in layouts() {
        let b = (fixture.build)().unwrap();
        for gz in [false, true] {
            let body = common::archive(&b, gz);
            // Raw bodies with a Content-Type, this time.
            let r = c
                .post(format!("{}/api/v1/check", server.base))
                .header(
                    "content-type",
                    if gz {
                        "application/gzip"
                    } else {
                        "application/x-tar"
                    },
                )
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", fixture.name);
            let report = json_of(r).await;
            assert!(
                !report.to_string().contains("inflated/"),
                "a server path leaked into the report"
            );
            let mut want: Vec<String> = fixture.expect.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(failed_ids(&report), want, "{} (gz {gz})", fixture.name);
        }
    }
}

#[tokio::test]
async fn documents_by_upload_paste_and_raw_body() {
    let server = start(Config::default()).await;
    let c = client();
    let manifest =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/manifest.json"))
            .unwrap();
    // Uploaded; kind from its own mediaType.
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .multipart(file_form("manifest.json", manifest.clone()))
        .send()
        .await
        .unwrap();
    let report = json_of(r).await;
    assert_eq!(report["verdict"], "green");
    assert_eq!(report["spec"], "image");
    // Pasted, with a kind, and broken: a relative cwd in a runtime config.
    let config = r#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "process": {"cwd": "relative", "args": ["sh"]}}"#;
    let form = reqwest::multipart::Form::new()
        .text("document", config)
        .text("kind", "runtime-config");
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report = json_of(r).await;
    assert_eq!(report["spec"], "runtime");
    assert_eq!(report["verdict"], "red");
    assert!(failed_ids(&report).contains(&"runtime.config.process.cwd-absolute".to_string()));
    // A file named config.json is a runtime config without saying so.
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .multipart(file_form("config.json", config.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await["spec"], "runtime");
    // A raw body whose Content-Type is an OCI media type.
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await["verdict"], "green");
    // A document too deep for the limit fails its kind's most basic requirement: red.
    let deep = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"annotations\":{}{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let r = c
        .post(format!("{}/api/v1/check?kind=image-manifest", server.base))
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    let report = json_of(r).await;
    assert_eq!(report["verdict"], "red", "{report}");
}

#[tokio::test]
async fn output_formats_by_query_and_accept() {
    let server = start(Config::default()).await;
    let c = client();
    let tar = good_tar();
    let check = |q: &'static str, accept: Option<&'static str>| {
        let mut req = c
            .post(format!("{}/api/v1/check{q}", server.base))
            .header("content-type", "application/x-tar")
            .body(tar.clone());
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        req.send()
    };
    let r = check("?out=tap", None).await.unwrap();
    assert!(r.text().await.unwrap().starts_with("TAP version 14\n"));
    let r = check("", Some("application/xml")).await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/xml");
    assert!(r.text().await.unwrap().contains("<testsuites"));
    let r = check("", Some("text/html,application/xhtml+xml;q=0.9"))
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("data-verdict=\"green\""), "{page}");
    let r = check("", None).await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = check("?out=yaml", None).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("json, tap, junit or html"));
}

#[tokio::test]
async fn unusable_requests_get_a_clear_4xx() {
    let server = start(Config::default()).await;
    let c = client();
    let post = |body: Vec<u8>, q: &'static str| {
        c.post(format!("{}/api/v1/check{q}", server.base))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };
    let r = post(b"not json, not a tar".to_vec(), "").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("pick a kind"));
    let r = post(b"{}".to_vec(), "?kind=bogus").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post(Vec::new(), "").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .multipart(reqwest::multipart::Form::new().text("kind", "auto"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Errors for a browser come as a page.
    let r = c
        .post(format!("{}/api/v1/check?out=html", server.base))
        .header("content-type", "application/octet-stream")
        .body(b"junk".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("<h1>400 Bad Request</h1>"));
}

/// Records what it was asked and writes the fixtures' good layout.
#[derive(Default)]
struct TestFetcher {
    calls: AtomicUsize,
}

impl Fetcher for TestFetcher {
    fn fetch_to_layout<'a>(
        &'a self,
        reference: &'a Reference,
        dest: &'a Path,
        _policy: AddressPolicy,
        _limits: &'a FetchLimits,
    ) -> FetchFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if reference.repository == "missing" {
                return Err(FetchError::NotFound(reference.to_string()));
            }
            let mut b = LayoutBuilder::new();
            Image::good().map_err(FetchError::Io)?.add(&mut b);
            if reference.tag.as_deref() == Some("broken") {
                b.oci_layout = None;
            }
            b.write(dest).map_err(FetchError::Io)
        })
    }
}

#[tokio::test]
async fn references_without_a_fetcher_are_not_available() {
    let server = start(Config::default()).await;
    let c = client();
    let r = c
        .get(format!(
            "{}/api/v1/check?ref=registry.example.com/a/b:1",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not available in this build"));
    let r = c
        .get(format!(
            "{}/api/v1/badge?ref=registry.example.com/a/b:1",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    assert!(r.text().await.unwrap().contains("unavailable"));
}

#[tokio::test]
async fn references_are_fetched_validated_and_policed() {
    let fetcher = Arc::new(TestFetcher::default());
    let server = start(Config {
        fetcher: Some(fetcher.clone()),
        ..Config::default()
    })
    .await;
    let c = client();
    let get = |q: String| c.get(format!("{}/api/v1/check?{q}", server.base)).send();
    // A public address literal (no DNS needed): fetched and validated.
    let r = get("ref=93.184.216.34:5000/library/app:1.0".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report = json_of(r).await;
    assert_eq!(report["verdict"], "green");
    assert_eq!(report["subject"], "93.184.216.34:5000/library/app:1.0");
    let r = get("ref=93.184.216.34/library/app:broken&out=html".into())
        .await
        .unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("image.layout.oci-layout.required"));
    let r = get("ref=93.184.216.34/missing:1".into()).await.unwrap();
    assert_eq!(r.status(), 404);
    let calls = fetcher.calls.load(Ordering::SeqCst);
    // Loopback, private and link-local hosts are refused before the fetcher is asked.
    for host in [
        "localhost:5000",
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "[::1]:5000",
    ] {
        let r = get(format!("ref={host}/a:b")).await.unwrap();
        assert_eq!(r.status(), 403, "{host}");
        assert!(json_of(r).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--allow-private"));
    }
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), calls);
    let r = get("ref=not-a-reference".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    // Badges: by reference, and by the digest a reference named.
    let digest = format!("sha256:{}", "b".repeat(64));
    let r = c
        .get(format!(
            "{}/api/v1/badge?ref=93.184.216.34/a@{digest}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().contains(">green</text>"));
    let r = c
        .get(format!("{}/api/v1/badge?digest={digest}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(">green</text>"));

    // With --allow-private the same loopback reference is fetched.
    let open = start(Config {
        fetcher: Some(fetcher.clone()),
        allow_private: true,
        ..Config::default()
    })
    .await;
    let r = c
        .get(format!("{}/api/v1/check?ref=localhost:5000/a:b", open.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_badge_of_an_upload_is_found_by_its_digest() {
    let server = start(Config::default()).await;
    let c = client();
    let mut b = (layouts()[1].build)().unwrap();
    b.oci_layout = None;
    let tar = common::archive(&b, false);
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/x-tar")
        .body(tar)
        .send()
        .await
        .unwrap();
    let digest = r.headers()["oci-certify-digest"]
        .to_str()
        .unwrap()
        .to_string();
    let r = c
        .get(format!("{}/api/v1/badge?digest={digest}", server.base))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains(">red</text>"));
    let r = c
        .get(format!(
            "{}/api/v1/badge?digest=sha256:{}",
            server.base,
            "0".repeat(64)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains(">unknown</text>"));
}

#[tokio::test]
async fn limits_are_configurable() {
    let server = start(Config {
        limits: Limits {
            max_upload_bytes: 64 << 10,
            max_json_bytes: 1024,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    let c = client();
    // Declared too large: refused before reading.
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/x-tar")
        .body(vec![0u8; 256 << 10])
        .send()
        .await;
    // The server may close the connection before the client has sent everything.
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    // Streamed without a length: counted while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..32).map(|_| Ok(vec![b' '; 8 << 10])).collect();
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    // A document over the JSON limit.
    let big = format!("{{\"schemaVersion\": 2, \"x\": \"{}\"}}", "a".repeat(2000));
    let r = c
        .post(format!("{}/api/v1/check?kind=image-manifest", server.base))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limited to 1024 bytes"));
    // Still serving.
    let r = c
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A client that sends part of a body and stalls is cut off at the request timeout with 503;
/// with one pending slot, a second request meanwhile is refused at once; the temp dir goes.
#[tokio::test]
async fn slow_requests_time_out_and_excess_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let server = start(Config {
        limits: Limits {
            request_timeout: Duration::from_millis(1500),
            max_pending_requests: 1,
            ..Limits::default()
        },
        temp_dir: Some(temp.path().to_path_buf()),
        ..Config::default()
    })
    .await;
    let c = client();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(b"{\"schemaVersion\": ".to_vec())).await.unwrap();
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    }));
    let slow = tokio::spawn(
        c.post(format!("{}/api/v1/check?kind=image-manifest", server.base))
            .header("content-type", "application/json")
            .body(body)
            .send(),
    );
    // Wait until the slow request holds its temp dir (bounded polling: no event for this).
    let mut delay = Duration::from_millis(5);
    for _ in 0..40 {
        if std::fs::read_dir(temp.path()).unwrap().count() > 0 {
            break;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 1);
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/x-tar")
        .body(good_tar())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), 503);
    assert!(json_of(r).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("longer than 1.5 s"));
    drop(tx);
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
    // And the slot is free again.
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/x-tar")
        .body(good_tar())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A tar.gz that inflates to 8 GiB of zeros in one blob, in 8 MiB gzip members (about 8 MiB
/// sent): many seconds of hashing, unless the validation is stopped.
fn slow_archive() -> Vec<u8> {
    let member = common::gz(&vec![0u8; 8 << 20]);
    let size: u64 = 8 << 30;
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header
        .set_path(format!("blobs/sha256/{}", "0".repeat(64)))
        .unwrap();
    header.set_cksum();
    let mut body = common::gz(header.as_bytes());
    for _ in 0..(size >> 23) {
        body.extend_from_slice(&member);
    }
    body.extend_from_slice(&common::gz(&[0u8; 1024]));
    body
}

/// A request abandoned at its timeout stops its running validation: the next request gets the
/// only validation slot at once. Without the stop, the first validation would hold the slot
/// for many more seconds and the second request would time out too.
#[tokio::test]
async fn an_abandoned_validation_stops_and_frees_its_slot() {
    let temp = tempfile::tempdir().unwrap();
    let server = start(Config {
        limits: Limits {
            request_timeout: Duration::from_secs(2),
            max_concurrent_validations: 1,
            max_decompressed_bytes: 16 << 30,
            ..Limits::default()
        },
        temp_dir: Some(temp.path().to_path_buf()),
        ..Config::default()
    })
    .await;
    let c = client();
    let started = std::time::Instant::now();
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/gzip")
        .body(slow_archive())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "{}", r.text().await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(10));
    let r = c
        .post(format!("{}/api/v1/check", server.base))
        .header("content-type", "application/x-tar")
        .body(good_tar())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
}
