//! `pull::pull_to_layout` against the real registry: images, nested indexes and artifacts
//! come out as OCI layouts whose every blob matches its name; corrupted bytes, crossed limits
//! and private addresses are refused.

use std::path::Path;

use oci_certify_registry::client::{Client, ClientError, ClientOptions, Request};
use oci_certify_registry::content::{self, Manifest, Rng};
use oci_certify_registry::harness::{LocalRegistry, RegistryConfig};
use oci_certify_registry::proxy::{Fault, Proxy, ProxyOptions};
use oci_certify_registry::pull::{pull_to_layout, PullError, PullLimits};
use oci_certify_registry::reference::Reference;

fn client(url: &str) -> Client {
    Client::new(ClientOptions::new(url::Url::parse(url).unwrap())).unwrap()
}

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
    for child in &m.children {
        Box::pin(push(c, repo, child, &child.digest)).await;
    }
    let ex = c
        .send(
            Request::put(format!("/v2/{repo}/manifests/{reference}"))
                .header("Content-Type", m.media_type.clone())
                .body(m.bytes.clone()),
        )
        .await
        .unwrap();
    assert_eq!(ex.status, 201, "{}", String::from_utf8_lossy(&ex.body));
}

/// Every file under blobs/ is named by its digest, index.json names the top level.
fn verify_layout(dir: &Path, top: &str, tag: Option<&str>) -> usize {
    assert_eq!(
        std::fs::read_to_string(dir.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], top);
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"].as_str(),
        tag
    );
    let mut n = 0;
    for alg in ["sha256", "sha512"] {
        let Ok(rd) = std::fs::read_dir(dir.join("blobs").join(alg)) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let name = format!("{alg}:{}", e.file_name().to_string_lossy());
            let a = if alg == "sha256" {
                oci_certify_registry::digest::Algorithm::Sha256
            } else {
                oci_certify_registry::digest::Algorithm::Sha512
            };
            assert_eq!(oci_certify_registry::digest::of(a, &bytes), name);
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_images_indexes_and_artifacts_into_layouts() {
    let reg = LocalRegistry::start(RegistryConfig {
        delete_enabled: false,
    })
    .expect("docker-registry starts");
    let c = client(&reg.url());
    let mut rng = Rng::new(7);
    let image = content::image(&mut rng);
    let nested = content::index(vec![
        content::index(vec![content::image(&mut rng)]),
        content::artifact(&mut rng, "application/vnd.example.x", None),
    ]);
    push(&c, "pull/app", &image, "v1").await;
    push(&c, "pull/app", &nested, "multi").await;
    let host = format!("127.0.0.1:{}", reg.port());

    let dir = tempfile::tempdir().unwrap();
    let r = Reference::parse(&format!("{host}/pull/app:v1")).unwrap();
    let s = pull_to_layout(&c, &r, dir.path(), &PullLimits::default())
        .await
        .unwrap();
    assert_eq!(
        (s.digest.as_str(), s.manifests, s.blobs),
        (image.digest.as_str(), 1, 2)
    );
    assert_eq!(verify_layout(dir.path(), &image.digest, Some("v1")), 3);

    let dir = tempfile::tempdir().unwrap();
    let r = Reference::parse(&format!("{host}/pull/app@{}", nested.digest)).unwrap();
    let s = pull_to_layout(&c, &r, dir.path(), &PullLimits::default())
        .await
        .unwrap();
    assert_eq!(s.manifests, 4, "nested index, inner index, image, artifact");
    // 4 manifests + image config and layer + empty config and artifact payload.
    assert_eq!(verify_layout(dir.path(), &nested.digest, None), 8);

    // Too deep for the limits.
    let dir = tempfile::tempdir().unwrap();
    let limits = PullLimits {
        max_depth: 1,
        ..PullLimits::default()
    };
    let e = pull_to_layout(
        &c,
        &Reference::parse(&format!("{host}/pull/app:multi")).unwrap(),
        dir.path(),
        &limits,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PullError::Limit(_)), "{e}");
    // A blob larger than allowed is refused before it is fetched.
    let limits = PullLimits {
        max_blob_bytes: 10,
        ..PullLimits::default()
    };
    let e = pull_to_layout(
        &c,
        &Reference::parse(&format!("{host}/pull/app:v1")).unwrap(),
        dir.path(),
        &limits,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PullError::Limit(_)), "{e}");
    // A digest that is not the manifest's.
    let wrong = format!("{host}/pull/app@{}", image.blobs[0].digest);
    let e = pull_to_layout(
        &c,
        &Reference::parse(&wrong).unwrap(),
        dir.path(),
        &PullLimits::default(),
    )
    .await
    .unwrap_err();
    // (distribution 2.8.2 answers 500 here: registry-tests/DIVERGENCES.md)
    assert!(
        matches!(e, PullError::Status { .. } | PullError::Content(_)),
        "{e}"
    );

    // Corrupted blob bytes are caught while streaming, and nothing is left under its name.
    let proxy = Proxy::start(&reg.url(), ProxyOptions::fault(Fault::CorruptBlobByte)).unwrap();
    let pc = client(&proxy.url());
    let dir = tempfile::tempdir().unwrap();
    let e = pull_to_layout(
        &pc,
        &Reference::parse(&format!("{host}/pull/app:v1")).unwrap(),
        dir.path(),
        &PullLimits::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, PullError::Content(ref m) if m.contains("digest")),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs/sha256"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "a corrupt blob was kept: {left:?}");

    // Blobs served by a redirect (object storage): followed, every hop recorded as evidence.
    let proxy = Proxy::start(&reg.url(), ProxyOptions::fault(Fault::RedirectBlobs)).unwrap();
    let rc = client(&proxy.url());
    let dir = tempfile::tempdir().unwrap();
    let s = pull_to_layout(
        &rc,
        &Reference::parse(&format!("{host}/pull/app:v1")).unwrap(),
        dir.path(),
        &PullLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(s.blobs, 2);
    let ex = rc
        .send(Request::get(format!(
            "/v2/pull/app/blobs/{}",
            image.blobs[1].digest
        )))
        .await
        .unwrap();
    assert_eq!((ex.status, ex.hops.len(), ex.hops[0].status), (200, 1, 307));
    assert_eq!(ex.body, image.blobs[1].bytes);
    match ex.location() {
        oci_certify_core::check::Location::Http { request, .. } => assert!(
            request.contains("-> 307 Location: http://127.0.0.1"),
            "{request}"
        ),
        other => panic!("{other:?}"),
    }
    // SSRF: a client that denies private addresses refuses the loopback registry.
    let mut o = ClientOptions::new(url::Url::parse(&reg.url()).unwrap());
    o.deny_private_addresses = true;
    let denied = Client::new(o).unwrap();
    let e = pull_to_layout(
        &denied,
        &Reference::parse(&format!("{host}/pull/app:v1")).unwrap(),
        dir.path(),
        &PullLimits::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, PullError::Client(ClientError::Denied(_))),
        "{e}"
    );
}
