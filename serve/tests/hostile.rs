//! Hostile uploads: each gets a clear 4xx or a red report, the service keeps serving, and no
//! request leaves a file behind.

mod common;

use common::{archive, client, gz, start, tar_dir};
use oci_certify_fixtures::layout::{sha256, Image, LayoutBuilder};
use oci_certify_serve::{Config, Limits};
use serde_json::{json, Value};

struct Hostile {
    server: common::TestServer,
    temp: tempfile::TempDir,
    client: reqwest::Client,
}

impl Hostile {
    async fn new(limits: Limits) -> Hostile {
        let temp = tempfile::tempdir().unwrap();
        let server = start(Config {
            limits,
            temp_dir: Some(temp.path().to_path_buf()),
            ..Config::default()
        })
        .await;
        Hostile {
            server,
            temp,
            client: client(),
        }
    }

    async fn post(&self, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/api/v1/check", self.server.base))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
        // Whatever happened, the request's temp dir is gone and the service answers.
        assert_eq!(
            std::fs::read_dir(self.temp.path()).unwrap().count(),
            0,
            "a temp dir was left behind"
        );
        let health = self
            .client
            .get(format!("{}/healthz", self.server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        (status, value)
    }
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn failed(v: &Value, id: &str) -> Option<String> {
    v["results"]
        .as_array()?
        .iter()
        .find(|r| r["id"] == id && r["outcome"] == "fail")
        .map(|r| r["failures"].to_string())
}

fn hostile_tar(name: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    // Bypass the tar crate's own path checks to write the hostile name.
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    builder.append(&h, &b"x"[..]).unwrap();
    builder.into_inner().unwrap()
}

#[tokio::test]
async fn path_traversal_entries_are_refused_with_422() {
    let h = Hostile::new(Limits::default()).await;
    for name in ["../escape", "/etc/passwd", "blobs/../../x"] {
        for body in [hostile_tar(name), gz(&hostile_tar(name))] {
            let (status, v) = h.post(body).await;
            assert_eq!(status, 422, "{name}: {v}");
            assert!(message(&v).contains("hostile archive entry"), "{v}");
            assert!(
                !message(&v).contains("oci-certify-serve-"),
                "server path leaked: {v}"
            );
        }
    }
}

#[tokio::test]
async fn symlinked_blobs_and_top_files_are_red_and_not_followed() {
    let h = Hostile::new(Limits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = LayoutBuilder::new();
    Image::good().unwrap().add(&mut b);
    b.write(dir.path()).unwrap();
    let link = dir
        .path()
        .join("blobs/sha256")
        .join(sha256(b"root:x:0:0").trim_start_matches("sha256:"));
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    std::fs::remove_file(dir.path().join("oci-layout")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("oci-layout")).unwrap();
    let (status, v) = h.post(tar_dir(dir.path())).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["verdict"], "red");
    assert!(
        failed(&v, "image.layout.blobs.content-matches-path").is_some(),
        "{v}"
    );
    assert!(!v.to_string().contains("root:x:0:0"));
}

#[tokio::test]
async fn an_outer_decompression_bomb_is_refused_with_413() {
    let h = Hostile::new(Limits {
        max_decompressed_bytes: 8 << 20,
        ..Limits::default()
    })
    .await;
    // 64 MiB of zeros inside a tar, gzipped to about 64 KiB.
    let mut tar = tar::Builder::new(Vec::new());
    let zeros = vec![0u8; 64 << 20];
    let mut header = tar::Header::new_gnu();
    header.set_size(zeros.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, "blobs/sha256/zeros", &zeros[..])
        .unwrap();
    let bomb = gz(&tar.into_inner().unwrap());
    assert!(bomb.len() < 1 << 20);
    let (status, v) = h.post(bomb).await;
    assert_eq!(status, 413, "{v}");
    assert!(message(&v).contains("decompressed archive"), "{v}");
}

#[tokio::test]
async fn a_layer_bomb_is_stopped_and_reported() {
    let h = Hostile::new(Limits {
        max_decompressed_bytes: 8 << 20,
        ..Limits::default()
    })
    .await;
    let mut b = LayoutBuilder::new();
    let mut img = Image::good().unwrap();
    let zeros = vec![0u8; 64 << 20];
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(zeros.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, "zeros", &zeros[..]).unwrap();
    img.layer_tar = tar.into_inner().unwrap();
    img.layer_blob = gz(&img.layer_tar);
    img.config["rootfs"]["diff_ids"] = json!([sha256(&img.layer_tar)]);
    img.add(&mut b);
    let (status, v) = h.post(archive(&b, false)).await;
    assert_eq!(status, 200, "{v}");
    let diag = v["diagnostics"].to_string();
    assert!(diag.contains("layer "), "{diag}");
    let point = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "image.config.rootfs.diff-ids-match-layers")
        .expect("the DiffID point is reported");
    assert_eq!(point["outcome"], "skip", "{point}");
}

#[tokio::test]
async fn a_cyclic_index_is_reported_red() {
    let h = Hostile::new(Limits::default()).await;
    let mut b = LayoutBuilder::new();
    let name = sha256(b"the name of the cycle");
    let cyclic = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": name, "size": 1}]
    });
    let bytes = serde_json::to_vec(&cyclic).unwrap();
    let size = bytes.len();
    b.blobs.push((name.clone(), bytes));
    b.add_to_index(json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": name, "size": size}));
    let (status, v) = h.post(archive(&b, true)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["verdict"], "red");
    assert!(failed(&v, "image.layout.blobs.content-matches-path").is_some());
    assert!(v["diagnostics"].to_string().contains("cycle"), "{v}");
}

#[tokio::test]
async fn too_many_blobs_and_broken_archives_are_4xx() {
    let h = Hostile::new(Limits {
        max_blobs: 3,
        ..Limits::default()
    })
    .await;
    let mut b = LayoutBuilder::new();
    Image::good().unwrap().add(&mut b);
    let (status, v) = h.post(archive(&b, false)).await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains("exceeds the limit of 3"), "{v}");
    // A gzip stream that breaks off.
    let mut broken = gz(&archive(&b, false));
    broken.truncate(broken.len() / 2);
    let (status, v) = h.post(broken).await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains("does not inflate"), "{v}");
    // A tar header followed by garbage.
    let mut junk = hostile_tar("oci-layout");
    junk.truncate(512);
    junk.extend_from_slice(&[0xffu8; 2048]);
    let (status, _) = h.post(junk).await;
    assert!(status == 422 || status == 200, "{status}");
}

/// Many JSON-looking blobs: what an archive keeps in memory is bounded (16 × the JSON limit).
#[tokio::test]
async fn json_heavy_archives_are_bounded_in_memory() {
    let h = Hostile::new(Limits {
        max_json_bytes: 1024,
        ..Limits::default()
    })
    .await;
    let mut b = LayoutBuilder::new();
    for i in 0..40 {
        let doc = json!({"n": i, "pad": "x".repeat(900)});
        b.json_blob("application/vnd.oci.image.config.v1+json", &doc);
    }
    let (status, v) = h.post(archive(&b, false)).await;
    assert_eq!(status, 422, "{v}");
    assert!(message(&v).contains("JSON documents of the archive"), "{v}");
}

/// A file name that climbs out of the temp dir is reduced to its last component.
#[tokio::test]
async fn upload_file_names_cannot_escape_the_temp_dir() {
    let h = Hostile::new(Limits::default()).await;
    let outside = h.temp.path().join("escaped.tar");
    let form = common::file_form("../escaped.tar", common::good_tar());
    let r = h
        .client
        .post(format!("{}/api/v1/check", h.server.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["verdict"], "green");
    assert!(!outside.exists());
    assert_eq!(std::fs::read_dir(h.temp.path()).unwrap().count(), 0);
    // Too many form fields.
    let mut form = reqwest::multipart::Form::new();
    for i in 0..40 {
        form = form.text(format!("f{i}"), "x");
    }
    let r = h
        .client
        .post(format!("{}/api/v1/check", h.server.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
