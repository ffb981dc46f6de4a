//! Pull: manifests by tag and by digest (GET and HEAD), blobs (GET, HEAD, Range), and the
//! 404s for what does not exist.

use oci_certify_core::Runner;

use crate::client::{Exchange, Request};
use crate::content::{self, Blob, Manifest};
use crate::digest::{self, Algorithm};
use crate::engine::{Caps, Ctx, G};

/// Ids this group records.
pub const IDS: &[&str] = &[
    "distribution.pull.manifests.get-200",
    "distribution.pull.manifests.get-returns-manifest",
    "distribution.pull.manifests.docker-content-digest",
    "distribution.pull.manifests.content-type-header",
    "distribution.pull.manifests.content-type-no-parameters",
    "distribution.pull.manifests.not-found-404",
    "distribution.pull.manifests.nonexistent-repository-404",
    "distribution.pull.head.manifest-200",
    "distribution.pull.head.blob-200",
    "distribution.pull.head.docker-content-digest",
    "distribution.pull.head.content-length",
    "distribution.pull.head.manifest-not-found-404",
    "distribution.pull.head.blob-not-found-404",
    "distribution.pull.blobs.get-200",
    "distribution.pull.blobs.get-returns-blob",
    "distribution.pull.blobs.docker-content-digest",
    "distribution.pull.blobs.digest-header-matches-body",
    "distribution.pull.blobs.not-found-404",
    "distribution.pull.blobs.range-requests",
    "distribution.api.endpoints.end-2-blob",
    "distribution.api.endpoints.end-3-manifest",
];

/// Runs the group.
pub async fn run(runner: &Runner<'_>, ctx: &Ctx, caps: &Caps) {
    let g = G::new(runner, ctx, "pull");
    if let Some(why) = &caps.push {
        g.skip_all(
            IDS,
            "pushed content",
            &format!("the suite pushes the content it pulls, and push is not offered ({why})"),
        );
        g.finish();
        return;
    }
    let mut rng = ctx.rng();
    let image = content::image(&mut rng);
    let index = content::index(vec![
        content::image(&mut rng),
        content::artifact(&mut rng, "application/vnd.example.sbom.v1", None),
    ]);
    let nested = content::index(vec![
        content::index(vec![content::image(&mut rng)]),
        content::image(&mut rng),
    ]);
    let empty = Blob::new(bytes::Bytes::new(), content::LAYER);
    let sha512 = Blob::with(Algorithm::Sha512, rng.bytes(300), content::LAYER);
    let repo = g.repo.clone();
    let mut ready = Vec::new();
    for (m, tag) in [(&image, "v1"), (&index, "multi"), (&nested, "nested")] {
        match ctx.push_manifest(&repo, m, tag).await {
            Ok(ex) if ex.is_success() => ready.push((m, tag)),
            Ok(ex) => runner.diagnostic(format!(
                "pull: could not push the {tag} test content: {} answered {}",
                ex.request_line(),
                ex.status
            )),
            Err(e) => {
                runner.diagnostic(format!("pull: could not push the {tag} test content: {e}"))
            }
        }
    }
    if ready.is_empty() {
        g.skip_all(
            IDS,
            "pushed content",
            "the test content could not be pushed (see the push group)",
        );
        g.finish();
        return;
    }
    for (m, tag) in &ready {
        let kind = if m.media_type == content::INDEX {
            "index"
        } else {
            "image manifest"
        };
        for (by, reference) in [("tag", *tag), ("digest", m.digest.as_str())] {
            let target = format!("{kind} {tag} by {by}");
            match ctx.get_manifest(&repo, reference).await {
                Ok(ex) => manifest_get(&g, &target, &ex, m),
                Err(e) => g.error_all(&["distribution.pull.manifests.get-200"], &target, &e),
            }
            let head = ctx
                .send(
                    Request::head(format!("/v2/{repo}/manifests/{reference}"))
                        .header("Accept", content::ACCEPT_MANIFESTS),
                )
                .await;
            match head {
                Ok(ex) => head_checks(
                    &g,
                    &format!("HEAD {target}"),
                    &ex,
                    &m.digest,
                    m.bytes.len(),
                    true,
                ),
                Err(e) => g.error_all(&["distribution.pull.head.manifest-200"], &target, &e),
            }
        }
    }
    let mut blobs: Vec<(String, Blob)> = vec![
        ("config blob".into(), image.blobs[0].clone()),
        ("layer blob".into(), image.blobs[1].clone()),
    ];
    for (name, b) in [("empty blob", &empty), ("sha512 blob", &sha512)] {
        match ctx.push_blob(&repo, b).await {
            Ok(ex) if ex.is_success() => blobs.push((name.into(), b.clone())),
            Ok(ex) => runner.diagnostic(format!(
                "pull: the {name} could not be pushed: {} answered {}",
                ex.request_line(),
                ex.status
            )),
            Err(e) => runner.diagnostic(format!("pull: the {name} could not be pushed: {e}")),
        }
    }
    for (name, b) in &blobs {
        if let Ok(ex) = ctx
            .send(Request::get(format!("/v2/{repo}/blobs/{}", b.digest)))
            .await
        {
            blob_get(&g, name, &ex, b);
        }
        if let Ok(ex) = ctx
            .send(Request::head(format!("/v2/{repo}/blobs/{}", b.digest)))
            .await
        {
            head_checks(
                &g,
                &format!("HEAD {name}"),
                &ex,
                &b.digest,
                b.bytes.len(),
                false,
            );
        }
    }
    // Range: bytes 10..=19 of the layer.
    let layer = &image.blobs[1];
    if let Ok(ex) = ctx
        .send(
            Request::get(format!("/v2/{repo}/blobs/{}", layer.digest))
                .header("Range", "bytes=10-19"),
        )
        .await
    {
        let want = &layer.bytes[10..20];
        let cr = ex.header("content-range").unwrap_or("");
        let ok = ex.status == 206 && ex.body.as_ref() == want && cr.starts_with("bytes 10-19/");
        g.judge(
            "distribution.pull.blobs.range-requests",
            "Range: bytes=10-19",
            ok,
            &ex,
            "a range request did not get exactly the range",
            format!(
                "206 with Content-Range bytes 10-19/{} and those 10 bytes",
                layer.bytes.len()
            ),
            format!(
                "{} with Content-Range `{cr}` and {} bytes",
                ex.status,
                ex.body.len()
            ),
        );
    }
    not_found(&g, ctx, &repo, &mut rng).await;
    // A digest that names a blob of the repository, but no manifest.
    let config = &image.blobs[0];
    if let Ok(ex) = ctx.get_manifest(&repo, &config.digest).await {
        g.status(
            "distribution.pull.manifests.not-found-404",
            "digest of a config blob, not of a manifest",
            &ex,
            &[404],
        );
    }
    g.finish();
}

fn manifest_get(g: &G<'_, '_>, target: &str, ex: &Exchange, m: &Manifest) {
    g.status(
        "distribution.api.endpoints.end-3-manifest",
        target,
        ex,
        &[200],
    );
    if !g.status("distribution.pull.manifests.get-200", target, ex, &[200]) {
        return;
    }
    g.judge(
        "distribution.pull.manifests.get-returns-manifest",
        target,
        ex.body == m.bytes,
        ex,
        "the manifest body is not the bytes that were pushed",
        format!("{} bytes, {}", m.bytes.len(), m.digest),
        format!("{} bytes, {}", ex.body.len(), digest::sha256(&ex.body)),
    );
    let ct = ex.header("content-type").unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    g.judge(
        "distribution.pull.manifests.content-type-header",
        target,
        essence == m.media_type,
        ex,
        "Content-Type differs from the one the manifest was pushed with",
        &m.media_type,
        if ct.is_empty() { "no Content-Type" } else { ct },
    );
    g.judge(
        "distribution.pull.manifests.content-type-no-parameters",
        target,
        !ct.contains(';'),
        ex,
        "Content-Type carries parameters",
        "a bare media type",
        ct,
    );
    digest_header(
        g,
        "distribution.pull.manifests.docker-content-digest",
        target,
        ex,
        &m.digest,
    );
}

/// A SHOULD: Docker-Content-Digest present and, for the same algorithm, equal to `want`.
fn digest_header(g: &G<'_, '_>, id: &str, target: &str, ex: &Exchange, want: &str) {
    let got = ex.header("docker-content-digest");
    let ok = match got {
        None => false,
        Some(d) => match (digest::parse(d), digest::parse(want)) {
            (Some((a, _)), Some((b, _))) if a == b => d == want,
            // Another algorithm is the registry's canonical digest (permitted); it must at
            // least be a digest.
            _ => digest::is_well_formed(d),
        },
    };
    g.judge(
        id,
        target,
        ok,
        ex,
        "Docker-Content-Digest is missing or names other content",
        want,
        got.unwrap_or("no Docker-Content-Digest header"),
    );
}

fn head_checks(
    g: &G<'_, '_>,
    target: &str,
    ex: &Exchange,
    want: &str,
    size: usize,
    manifest: bool,
) {
    let (id200, end) = if manifest {
        (
            "distribution.pull.head.manifest-200",
            "distribution.api.endpoints.end-3-manifest",
        )
    } else {
        (
            "distribution.pull.head.blob-200",
            "distribution.api.endpoints.end-2-blob",
        )
    };
    g.status(end, target, ex, &[200]);
    if !g.status(id200, target, ex, &[200]) {
        return;
    }
    digest_header(
        g,
        "distribution.pull.head.docker-content-digest",
        target,
        ex,
        want,
    );
    let cl = ex.header("content-length");
    g.judge(
        "distribution.pull.head.content-length",
        target,
        cl == Some(size.to_string().as_str()),
        ex,
        "HEAD does not report the content's size in Content-Length",
        size,
        cl.unwrap_or("no Content-Length"),
    );
}

fn blob_get(g: &G<'_, '_>, target: &str, ex: &Exchange, b: &Blob) {
    g.status("distribution.api.endpoints.end-2-blob", target, ex, &[200]);
    if !g.status("distribution.pull.blobs.get-200", target, ex, &[200]) {
        return;
    }
    g.judge(
        "distribution.pull.blobs.get-returns-blob",
        target,
        ex.body == b.bytes,
        ex,
        "the blob body is not the bytes that were pushed",
        format!("{} bytes, {}", b.bytes.len(), b.digest),
        format!("{} bytes", ex.body.len()),
    );
    let got = ex.header("docker-content-digest");
    g.judge(
        "distribution.pull.blobs.docker-content-digest",
        target,
        got.is_some(),
        ex,
        "no Docker-Content-Digest on a blob GET",
        &b.digest,
        "no header",
    );
    if let Some(d) = got {
        let body_digest = match digest::parse(d) {
            Some((alg, _)) => digest::of(alg, &ex.body),
            None => format!("(cannot compute a `{d}` digest)"),
        };
        g.judge(
            "distribution.pull.blobs.digest-header-matches-body",
            target,
            body_digest == d,
            ex,
            "Docker-Content-Digest is not the digest of the body",
            &body_digest,
            d,
        );
    }
}

async fn not_found(g: &G<'_, '_>, ctx: &Ctx, repo: &str, rng: &mut content::Rng) {
    let absent = digest::sha256(&rng.bytes(32));
    let checks: Vec<(&str, &str, Request)> = vec![
        (
            "distribution.pull.manifests.not-found-404",
            "unknown tag",
            Request::get(format!("/v2/{repo}/manifests/absent-{}", rng.word()))
                .header("Accept", content::ACCEPT_MANIFESTS),
        ),
        (
            "distribution.pull.manifests.not-found-404",
            "unknown digest",
            Request::get(format!("/v2/{repo}/manifests/{absent}"))
                .header("Accept", content::ACCEPT_MANIFESTS),
        ),
        (
            "distribution.pull.head.manifest-not-found-404",
            "unknown tag",
            Request::head(format!("/v2/{repo}/manifests/absent-{}", rng.word()))
                .header("Accept", content::ACCEPT_MANIFESTS),
        ),
        (
            "distribution.pull.blobs.not-found-404",
            "unknown blob",
            Request::get(format!("/v2/{repo}/blobs/{absent}")),
        ),
        (
            "distribution.pull.head.blob-not-found-404",
            "unknown blob",
            Request::head(format!("/v2/{repo}/blobs/{absent}")),
        ),
        (
            "distribution.pull.manifests.nonexistent-repository-404",
            "unknown repository",
            Request::get(format!(
                "/v2/{}-absent-{}/manifests/latest",
                ctx.prefix,
                rng.word()
            ))
            .header("Accept", content::ACCEPT_MANIFESTS),
        ),
    ];
    let futs = checks
        .into_iter()
        .map(|(id, target, req)| async move { (id, target, ctx.send(req).await) });
    for (id, target, res) in futures_util::future::join_all(futs).await {
        match res {
            Ok(ex) => {
                g.status(id, target, &ex, &[404]);
            }
            Err(e) => g.error_all(&[id], target, &e),
        }
    }
}
