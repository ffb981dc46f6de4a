//! Starts the real service on a free port, in this process, and builds uploads.

#![allow(dead_code)]

use std::path::Path;

use oci_certify_fixtures::layout::{gzip, Image, LayoutBuilder};
use oci_certify_serve::Config;

/// A running service; stopped (gracefully) on drop.
pub struct TestServer {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds 127.0.0.1:0 and serves `config` on the current runtime.
pub async fn start(config: Config) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(oci_certify_serve::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    TestServer {
        base: format!("http://{addr}"),
        stop: Some(stop),
    }
}

/// A tar of the layout `b` (gzip-compressed if `gz`).
pub fn archive(b: &LayoutBuilder, gz: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("layout.tar");
    b.write_archive(&file, gz).expect("write archive");
    std::fs::read(file).expect("read archive")
}

/// The fixtures' good layout, as a tar.
pub fn good_tar() -> Vec<u8> {
    let mut b = LayoutBuilder::new();
    Image::good().expect("good image").add(&mut b);
    archive(&b, false)
}

/// A tar of a directory, keeping symbolic links as links.
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.append_dir_all(".", dir).expect("tar the directory");
    builder.into_inner().expect("finish the tar")
}

/// gzip, re-exported for tests.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    gzip(bytes).expect("gzip")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
}

/// A multipart form with one file.
pub fn file_form(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    )
}
