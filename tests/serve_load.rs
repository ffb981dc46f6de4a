//! Load: 50 validations at once against the real `oci-certify serve` binary. Every answer is
//! checked (status, verdict, the exact failing ids), and the server's resident memory, read
//! from /proc, stays under a stated cap although ten of the uploads carry a 16 MiB layer.

mod serve_common;

use std::time::{Duration, Instant};

use oci_certify_fixtures::layout::{gzip, Image};
use serde_json::Value;
use serve_common::{archive, good, Service};

/// The bound on the server's peak resident set during the run. Uploads are streamed to disk,
/// at most `--max-concurrent` validations run at once, and each holds bounded buffers, so the
/// peak does not grow with the number or size of uploads.
const RSS_CAP_MIB: u64 = 160;
const CLIENTS: usize = 50;

struct Case {
    name: &'static str,
    content_type: &'static str,
    query: &'static str,
    body: Vec<u8>,
    verdict: &'static str,
    failed: Vec<&'static str>,
}

/// 16 MiB that do not compress: a layer that makes the upload large.
fn big_layer_layout() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..16 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut tar = tar_builder();
    let mut h = tar_header(noise.len());
    tar.append_data(&mut h, "noise.bin", &noise[..])
        .expect("tar");
    let mut img = Image::good().expect("image");
    img.layer_tar = tar.into_inner().expect("tar");
    img.layer_blob = gzip(&img.layer_tar).expect("gzip");
    img.config["rootfs"]["diff_ids"] =
        serde_json::json!([oci_certify_fixtures::layout::sha256(&img.layer_tar)]);
    let mut b = oci_certify_fixtures::layout::LayoutBuilder::new();
    img.add(&mut b);
    archive(&b, false)
}

fn tar_builder() -> tar::Builder<Vec<u8>> {
    tar::Builder::new(Vec::new())
}

fn tar_header(size: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

fn cases() -> Vec<Case> {
    let manifest = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/manifest.json"
    ))
    .expect("examples/manifest.json");
    let mut broken = good();
    broken.oci_layout = None;
    vec![
        Case {
            name: "good tar",
            content_type: "application/x-tar",
            query: "",
            body: archive(&good(), false),
            verdict: "green",
            failed: vec![],
        },
        Case {
            name: "good tar.gz",
            content_type: "application/gzip",
            query: "",
            body: archive(&good(), true),
            verdict: "green",
            failed: vec![],
        },
        Case {
            name: "no oci-layout",
            content_type: "application/x-tar",
            query: "",
            body: archive(&broken, false),
            verdict: "red",
            failed: vec!["image.layout.oci-layout.required"],
        },
        Case {
            name: "manifest document",
            content_type: "application/vnd.oci.image.manifest.v1+json",
            query: "",
            body: manifest,
            verdict: "green",
            failed: vec![],
        },
        Case {
            name: "16 MiB layer",
            content_type: "application/x-tar",
            query: "",
            body: big_layer_layout(),
            verdict: "green",
            failed: vec![],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_validations_are_all_answered_correctly_in_bounded_memory() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let service = Service::start_in(
        &["--max-concurrent", "2", "--max-pending", "64"],
        tmp.path(),
    );
    let cases = cases();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let (idle_rss, _) = service.rss_kib();

    // Sample the resident set while the load runs.
    let pid = service.child.id();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut max = 0u64;
        loop {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(kib) = s
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    max = max.max(kib);
                }
            }
            tokio::select! {
                _ = &mut stopped => return max,
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    });

    let started = Instant::now();
    let requests = (0..CLIENTS).map(|i| {
        let case = &cases[i % cases.len()];
        let client = client.clone();
        let url = format!("{}/api/v1/check{}", service.base, case.query);
        async move {
            let r = client
                .post(url)
                .header("content-type", case.content_type)
                .body(case.body.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("request {i} ({}): {e}", case.name));
            let status = r.status();
            let text = r.text().await.expect("body");
            assert_eq!(status, 200, "request {i} ({}): {text}", case.name);
            let report: Value = serde_json::from_str(&text).expect("a JSON report");
            assert_eq!(report["format_version"], 1);
            assert_eq!(
                report["verdict"], case.verdict,
                "request {i} ({})",
                case.name
            );
            let mut failed: Vec<&str> = report["results"]
                .as_array()
                .expect("results")
                .iter()
                .filter(|r| r["outcome"] == "fail")
                .filter_map(|r| r["id"].as_str())
                .collect();
            failed.sort_unstable();
            failed.dedup();
            assert_eq!(failed, case.failed, "request {i} ({})", case.name);
            i
        }
    });
    let answered = futures_util::future::join_all(requests).await;
    let elapsed = started.elapsed();
    assert_eq!(answered.len(), CLIENTS);
    let _ = stop.send(());
    let sampled_peak = sampler.await.expect("sampler");
    let (after, hwm) = service.rss_kib();

    // Still serving after the load.
    let health = client
        .get(format!("{}/healthz", service.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    // Every request removed its temporary files.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read TMPDIR")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    let upload_mib: usize = (0..CLIENTS)
        .map(|i| cases[i % cases.len()].body.len())
        .sum::<usize>()
        >> 20;
    eprintln!(
        "load: {CLIENTS} validations ({upload_mib} MiB uploaded) in {:.2} s; server RSS idle {} MiB, \
         peak {} MiB (sampled {} MiB), after {} MiB; cap {RSS_CAP_MIB} MiB",
        elapsed.as_secs_f64(),
        idle_rss >> 10,
        hwm >> 10,
        sampled_peak >> 10,
        after >> 10,
    );
    assert!(
        hwm >> 10 < RSS_CAP_MIB,
        "peak RSS {} MiB is over the cap of {RSS_CAP_MIB} MiB",
        hwm >> 10
    );
}
