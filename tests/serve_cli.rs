//! `oci-certify serve` as a command: flags, the listening line, a request, a clean stop.

mod serve_common;

use std::process::Command;

use serve_common::Service;

#[test]
fn serve_starts_answers_and_stops_on_sigterm() {
    let mut service = Service::start(&["--max-upload", "1M", "--request-timeout", "5"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = c
            .get(format!("{}/healthz", service.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page = c.get(format!("{}/", service.base)).send().await.unwrap();
        let page = page.text().await.unwrap();
        assert!(page.contains("Up to 1 MiB"), "the flag reaches the service");
        let r = c
            .post(format!("{}/api/v1/check", service.base))
            .header("content-type", "application/x-tar")
            .body(vec![0u8; 2 << 20])
            .send()
            .await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 413);
        }
    });
    let pid = service.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = service.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "a graceful stop exits 0");
}

#[test]
fn serve_rejects_bad_flags_with_a_usage_error() {
    for args in [
        &["serve", "--listen", "nowhere"][..],
        &["serve", "--max-upload", "lots"],
        &["serve", "--max-json-depth", "-1"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty());
    }
    // An address in use is an environment error: exit 2 with the reason.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_oci-certify"))
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("in use"),
        "{o:?}"
    );
}
