//! Push: POST then PUT, single POST, chunked PATCH uploads (with the 416 rules), upload
//! status, cross-repository mount, and manifests by tag and by digest (byte-exact, size
//! limits, `subject`, missing references, custom media types).

use oci_certify_core::check::Outcome;
use oci_certify_core::Runner;

use crate::client::{Exchange, Request};
use crate::content::{self, Blob, Manifest};
use crate::engine::{with_query, Caps, Ctx, G};

/// Ids this group records.
pub const IDS: &[&str] = &[
    "distribution.api.endpoints.end-4a-upload-start",
    "distribution.api.endpoints.end-4b-single-post",
    "distribution.api.endpoints.end-5-patch",
    "distribution.api.endpoints.end-6-upload-put",
    "distribution.api.endpoints.end-7-manifest-put",
    "distribution.api.endpoints.end-11-mount",
    "distribution.api.endpoints.end-13-upload-status",
    "distribution.push.post-put.post-202",
    "distribution.push.post-put.location-header",
    "distribution.push.post-put.location-session-id",
    "distribution.push.post-put.put-201",
    "distribution.push.post-put.put-location-header",
    "distribution.push.single-post.success-201",
    "distribution.push.single-post.location-header",
    "distribution.push.single-post.unsupported-202",
    "distribution.push.single-post.unsupported-location",
    "distribution.push.chunked.min-length-header",
    "distribution.push.chunked.patch-202",
    "distribution.push.chunked.patch-location-header",
    "distribution.push.chunked.patch-range-header",
    "distribution.push.chunked.out-of-order-416",
    "distribution.push.chunked.status-204",
    "distribution.push.chunked.status-location-header",
    "distribution.push.chunked.status-range-header",
    "distribution.push.chunked.close-201",
    "distribution.push.chunked.close-location-header",
    "distribution.push.mount.success-201",
    "distribution.push.mount.location-header",
    "distribution.push.mount.fallback-202",
    "distribution.push.manifests.put-201",
    "distribution.push.manifests.location-header",
    "distribution.push.manifests.digest-header-matches",
    "distribution.push.manifests.byte-exact",
    "distribution.push.manifests.ignore-content-type-parameters",
    "distribution.push.manifests.subject-missing-accepted",
    "distribution.push.manifests.missing-references-error-code",
    "distribution.push.manifests.accept-4mb",
    "distribution.push.manifests.size-limit",
    "distribution.push.manifests.too-large-413",
    "distribution.push.subject.oci-subject-header",
    "distribution.pull.blobs.get-returns-blob",
    "distribution.definitions.tag.max-length",
    "distribution.definitions.tag.grammar",
    "distribution.definitions.name.grammar",
];

/// Runs the group.
pub async fn run(runner: &Runner<'_>, ctx: &Ctx, caps: &Caps) {
    let g = G::new(runner, ctx, "push");
    if let Some(why) = &caps.push {
        g.skip_all(IDS, "push", &format!("push is not offered ({why})"));
        g.finish();
        return;
    }
    let (a, b, c, d, e, f, h) = tokio::join!(
        post_put(&g),
        single_post(&g),
        chunked(&g),
        mount(&g),
        manifests(&g, caps),
        sizes(&g),
        names(&g)
    );
    for r in [a, b, c, d, e, f, h] {
        if let Err(err) = r {
            runner.diagnostic(format!("push: a request failed: {err}"));
        }
    }
    g.finish();
}

type R = Result<(), crate::client::ClientError>;

fn location_ok(ex: &Exchange) -> bool {
    ex.header("location").is_some_and(|l| !l.is_empty())
}

async fn post(g: &G<'_, '_>, repo: &str) -> Result<Exchange, crate::client::ClientError> {
    g.ctx
        .send(Request::post(format!("/v2/{repo}/blobs/uploads/")).header("Content-Length", "0"))
        .await
}

async fn post_put(g: &G<'_, '_>) -> R {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let blob = content::layer(&mut rng, 2000);
    let s1 = post(g, repo).await?;
    let s2 = post(g, repo).await?;
    for (ex, t) in [(&s1, "session 1"), (&s2, "session 2")] {
        g.status(
            "distribution.api.endpoints.end-4a-upload-start",
            t,
            ex,
            &[202],
        );
        g.status("distribution.push.post-put.post-202", t, ex, &[202]);
        g.judge(
            "distribution.push.post-put.location-header",
            t,
            location_ok(ex),
            ex,
            "no Location on the 202 of an upload POST",
            "Location: <upload URL>",
            "none",
        );
    }
    let (Some(l1), Some(l2)) = (s1.header("location"), s2.header("location")) else {
        return Ok(());
    };
    g.judge(
        "distribution.push.post-put.location-session-id",
        "two sessions",
        l1 != l2,
        &s2,
        "two upload sessions got the same Location",
        "a different URL per session",
        format!("{l1} twice"),
    );
    // A wrong digest on completion is refused with one of the listed codes, never 5xx.
    let wrong = content::layer(&mut rng, 10).digest;
    let bad = ctx
        .send(
            Request::put(with_query(l2, "digest", &wrong))
                .header("Content-Type", "application/octet-stream")
                .body(blob.bytes.clone()),
        )
        .await?;
    g.status(
        "distribution.api.endpoints.end-6-upload-put",
        "digest does not match the body",
        &bad,
        &[400, 404],
    );
    let put = ctx
        .send(
            Request::put(with_query(l1, "digest", &blob.digest))
                .header("Content-Type", "application/octet-stream")
                .body(blob.bytes.clone()),
        )
        .await?;
    g.status(
        "distribution.api.endpoints.end-6-upload-put",
        "monolithic PUT",
        &put,
        &[201],
    );
    if g.status(
        "distribution.push.post-put.put-201",
        "monolithic PUT",
        &put,
        &[201],
    ) {
        g.judge(
            "distribution.push.post-put.put-location-header",
            "monolithic PUT",
            location_ok(&put),
            &put,
            "no Location on the 201 of the completing PUT",
            "Location: <blob URL>",
            "none",
        );
    }
    verify_blob(g, repo, &blob, "POST then PUT").await
}

/// Pulls a pushed blob back: the upload stored exactly the bytes.
async fn verify_blob(g: &G<'_, '_>, repo: &str, blob: &Blob, target: &str) -> R {
    let ex = g
        .ctx
        .send(Request::get(format!("/v2/{repo}/blobs/{}", blob.digest)))
        .await?;
    g.judge(
        "distribution.pull.blobs.get-returns-blob",
        &format!("after {target}"),
        (200..300).contains(&ex.status) && ex.body == blob.bytes,
        &ex,
        "the uploaded blob does not read back as the bytes sent",
        format!("the {} bytes sent", blob.bytes.len()),
        format!("{} with {} bytes", ex.status, ex.body.len()),
    );
    Ok(())
}

async fn single_post(g: &G<'_, '_>) -> R {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let blob = content::layer(&mut rng, 1500);
    let t = "single POST";
    let ex = ctx
        .send(
            Request::post(with_query(
                &format!("/v2/{repo}/blobs/uploads/"),
                "digest",
                &blob.digest,
            ))
            .header("Content-Type", "application/octet-stream")
            .body(blob.bytes.clone()),
        )
        .await?;
    g.status(
        "distribution.api.endpoints.end-4b-single-post",
        t,
        &ex,
        &[201, 202],
    );
    match ex.status {
        201 => {
            g.pass("distribution.push.single-post.success-201", t);
            g.judge(
                "distribution.push.single-post.location-header",
                t,
                location_ok(&ex),
                &ex,
                "no Location on a 201 single POST",
                "Location: <blob URL>",
                "none",
            );
            g.rec(
                "distribution.push.single-post.unsupported-202",
                t,
                Outcome::skip("single POST is supported"),
            );
            verify_blob(g, repo, &blob, t).await?;
        }
        202 => {
            g.rec("distribution.push.single-post.success-201", t, Outcome::skip("the registry does not complete uploads in one POST; it answered 202, which the spec permits"));
            g.rec(
                "distribution.push.single-post.unsupported-202",
                t,
                Outcome::pass_with_note(
                    "single POST is not supported; a session was opened instead",
                ),
            );
            if g.judge(
                "distribution.push.single-post.unsupported-location",
                t,
                location_ok(&ex),
                &ex,
                "202 fallback without a Location",
                "Location: <upload URL>",
                "none",
            ) {
                let loc = ex.header("location").unwrap_or_default().to_string();
                let put = ctx
                    .send(
                        Request::put(with_query(&loc, "digest", &blob.digest))
                            .header("Content-Type", "application/octet-stream")
                            .body(blob.bytes.clone()),
                    )
                    .await?;
                g.status(
                    "distribution.push.post-put.put-201",
                    "PUT after single-POST fallback",
                    &put,
                    &[201],
                );
                verify_blob(g, repo, &blob, "single-POST fallback").await?;
            }
        }
        _ => {
            g.fail(
                "distribution.push.single-post.unsupported-202",
                t,
                &ex,
                format!("single POST answered {}", ex.status),
                "201 (supported) or 202 (fallback to a session)",
                ex.status,
            );
        }
    }
    Ok(())
}

async fn chunked(g: &G<'_, '_>) -> R {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let s = post(g, repo).await?;
    if !s.is_success() {
        return Ok(());
    }
    let min = match s.header("oci-chunk-min-length") {
        None => 0,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) => {
                g.pass(
                    "distribution.push.chunked.min-length-header",
                    "advertised minimum",
                );
                n
            }
            Err(_) => {
                g.fail(
                    "distribution.push.chunked.min-length-header",
                    "advertised minimum",
                    &s,
                    "OCI-Chunk-Min-Length is not a byte count",
                    "an integer",
                    v,
                );
                0
            }
        },
    };
    let c = min.max(1024);
    let blob = content::layer(&mut rng, 3 * c + 100);
    let bytes = blob.bytes.clone();
    let Some(mut loc) = s.header("location").map(str::to_string) else {
        return Ok(());
    };
    let patch = |loc: &str, from: usize, to: usize| {
        Request::patch(loc.to_string())
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", format!("{from}-{}", to - 1))
            .body(bytes.slice(from..to))
    };
    // First chunk.
    let p1 = ctx.send(patch(&loc, 0, c)).await?;
    let t1 = "first chunk";
    g.status("distribution.api.endpoints.end-5-patch", t1, &p1, &[202]);
    if !g.status("distribution.push.chunked.patch-202", t1, &p1, &[202]) {
        return Ok(());
    }
    chunk_headers(g, t1, &p1, c);
    if let Some(l) = p1.header("location") {
        loc = l.to_string();
    }
    upload_status(g, &loc, c, "after the first chunk").await?;
    // Out of order, each on a session of its own so that a registry that accepts one does not
    // spoil the rest: a chunk leaving a gap, and the first chunk sent again.
    for (t, from, to) in [
        ("chunk leaving a gap", 2 * c, 3 * c),
        ("first chunk sent again", 0, c),
    ] {
        let s = post(g, repo).await?;
        let Some(l) = s
            .header("location")
            .filter(|_| s.status == 202)
            .map(str::to_string)
        else {
            continue;
        };
        let first = ctx.send(patch(&l, 0, c)).await?;
        let Some(l) = first
            .header("location")
            .filter(|_| first.status == 202)
            .map(str::to_string)
        else {
            continue;
        };
        let bad = ctx.send(patch(&l, from, to)).await?;
        if g.status(
            "distribution.push.chunked.out-of-order-416",
            t,
            &bad,
            &[416],
        ) {
            upload_status(g, &l, c, &format!("after the refused {t}")).await?;
        }
    }
    // Second chunk.
    let p2 = ctx.send(patch(&loc, c, 2 * c)).await?;
    let t2 = "second chunk";
    g.status("distribution.api.endpoints.end-5-patch", t2, &p2, &[202]);
    if g.status("distribution.push.chunked.patch-202", t2, &p2, &[202]) {
        chunk_headers(g, t2, &p2, 2 * c);
        if let Some(l) = p2.header("location") {
            loc = l.to_string();
        }
    }
    // Final chunk in the closing PUT.
    let close = ctx
        .send(
            Request::put(with_query(&loc, "digest", &blob.digest))
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("{}-{}", 2 * c, bytes.len() - 1))
                .body(bytes.slice(2 * c..)),
        )
        .await?;
    let t = "closing PUT with the last chunk";
    if g.status("distribution.push.chunked.close-201", t, &close, &[201]) {
        g.judge(
            "distribution.push.chunked.close-location-header",
            t,
            location_ok(&close),
            &close,
            "no Location on the 201 closing a chunked upload",
            "Location: <blob URL>",
            "none",
        );
        verify_blob(g, repo, &blob, "chunked upload").await?;
    }
    Ok(())
}

fn chunk_headers(g: &G<'_, '_>, t: &str, ex: &Exchange, received: usize) {
    g.judge(
        "distribution.push.chunked.patch-location-header",
        t,
        location_ok(ex),
        ex,
        "no Location on a chunk's 202",
        "Location: <upload URL>",
        "none",
    );
    let want = format!("0-{}", received - 1);
    let got = ex.header("range");
    g.judge(
        "distribution.push.chunked.patch-range-header",
        t,
        got == Some(want.as_str()),
        ex,
        "Range does not end at the last byte received",
        &want,
        got.unwrap_or("no Range header"),
    );
}

async fn upload_status(g: &G<'_, '_>, loc: &str, received: usize, t: &str) -> R {
    let st = g.ctx.send(Request::get(loc.to_string())).await?;
    g.status(
        "distribution.api.endpoints.end-13-upload-status",
        t,
        &st,
        &[204],
    );
    if g.status("distribution.push.chunked.status-204", t, &st, &[204]) {
        g.judge(
            "distribution.push.chunked.status-location-header",
            t,
            location_ok(&st),
            &st,
            "no Location on the upload status",
            "Location: <upload URL>",
            "none",
        );
        let want = format!("0-{}", received - 1);
        let got = st.header("range");
        g.judge(
            "distribution.push.chunked.status-range-header",
            t,
            got == Some(want.as_str()),
            &st,
            "the upload status Range is not the bytes stored",
            &want,
            got.unwrap_or("no Range header"),
        );
    }
    Ok(())
}

async fn mount(g: &G<'_, '_>) -> R {
    let ctx = g.ctx;
    let from = &g.repo;
    let to = format!("{}-mount", g.repo);
    let mut rng = ctx.rng();
    let blob = content::layer(&mut rng, 700);
    ctx.push_blob(from, &blob).await?;
    let t = "blob present in the source repository";
    let url = with_query(
        &with_query(&format!("/v2/{to}/blobs/uploads/"), "mount", &blob.digest),
        "from",
        from,
    );
    let ex = ctx
        .send(Request::post(url).header("Content-Length", "0"))
        .await?;
    g.status(
        "distribution.api.endpoints.end-11-mount",
        t,
        &ex,
        &[201, 202],
    );
    match ex.status {
        201 => {
            g.pass("distribution.push.mount.success-201", t);
            g.judge(
                "distribution.push.mount.location-header",
                t,
                location_ok(&ex),
                &ex,
                "no Location on a 201 mount",
                "Location: <blob URL>",
                "none",
            );
            verify_blob(g, &to, &blob, "mount").await?;
        }
        202 => {
            g.rec("distribution.push.mount.success-201", t, Outcome::skip("the registry did not mount and opened a session instead, which the spec permits"));
            g.pass("distribution.push.mount.fallback-202", t);
        }
        _ => {
            g.fail(
                "distribution.push.mount.success-201",
                t,
                &ex,
                format!("mount answered {}", ex.status),
                "201 (mounted) or 202 (session)",
                ex.status,
            );
        }
    }
    // A blob the source does not have cannot be mounted: fall back to a session.
    let absent = content::layer(&mut rng, 10).digest;
    let t = "blob absent from the source repository";
    let url = with_query(
        &with_query(&format!("/v2/{to}/blobs/uploads/"), "mount", &absent),
        "from",
        from,
    );
    let ex = ctx
        .send(Request::post(url).header("Content-Length", "0"))
        .await?;
    g.status("distribution.api.endpoints.end-11-mount", t, &ex, &[202]);
    g.status("distribution.push.mount.fallback-202", t, &ex, &[202]);
    Ok(())
}

async fn put_manifest(
    g: &G<'_, '_>,
    m: &Manifest,
    reference: &str,
    t: &str,
) -> Result<Option<Exchange>, crate::client::ClientError> {
    let ex = g.ctx.push_manifest(&g.repo, m, reference).await?;
    g.status(
        "distribution.api.endpoints.end-7-manifest-put",
        t,
        &ex,
        &[201],
    );
    if !g.status("distribution.push.manifests.put-201", t, &ex, &[201]) {
        return Ok(None);
    }
    g.judge(
        "distribution.push.manifests.location-header",
        t,
        location_ok(&ex),
        &ex,
        "no Location on a manifest 201",
        "Location: <manifest URL>",
        "none",
    );
    if let Some(d) = ex.header("docker-content-digest") {
        g.judge(
            "distribution.push.manifests.digest-header-matches",
            t,
            d == m.digest,
            &ex,
            "Docker-Content-Digest is not the digest of the bytes pushed",
            &m.digest,
            d,
        );
    }
    Ok(Some(ex))
}

async fn manifests(g: &G<'_, '_>, caps: &Caps) -> R {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let image = content::image(&mut rng);
    put_manifest(g, &image, "by-tag", "image manifest by tag").await?;
    let image2 = content::image(&mut rng);
    put_manifest(g, &image2, &image2.digest, "image manifest by digest").await?;
    let index = content::index(vec![content::image(&mut rng), content::image(&mut rng)]);
    put_manifest(g, &index, "index", "index by tag").await?;
    let nested = content::index(vec![index.clone(), content::image(&mut rng)]);
    put_manifest(g, &nested, "nested", "nested index by tag").await?;
    let artifact = content::artifact(&mut rng, "application/vnd.example.custom.v1+json", None);
    put_manifest(
        g,
        &artifact,
        "artifact",
        "artifact with artifactType, empty config, custom layer type",
    )
    .await?;

    // Byte-exact: unusual whitespace and CRLFs must come back unchanged.
    let odd = content::oddly_formatted(&content::image(&mut rng));
    if put_manifest(g, &odd, "odd", "oddly formatted manifest")
        .await?
        .is_some()
    {
        for reference in ["odd", odd.digest.as_str()] {
            let ex = ctx.get_manifest(repo, reference).await?;
            g.judge(
                "distribution.push.manifests.byte-exact",
                &format!(
                    "oddly formatted manifest by {}",
                    if reference == "odd" { "tag" } else { "digest" }
                ),
                ex.is_success() && ex.body == odd.bytes,
                &ex,
                "the manifest read back differs from the bytes pushed",
                format!(
                    "200 with the {} bytes pushed ({})",
                    odd.bytes.len(),
                    odd.digest
                ),
                format!(
                    "{} with {} bytes ({})",
                    ex.status,
                    ex.body.len(),
                    crate::digest::sha256(&ex.body)
                ),
            );
        }
    }

    // Content-Type parameters are ignored.
    let p = content::image(&mut rng);
    for b in &p.blobs {
        ctx.push_blob(repo, b).await?;
    }
    let ex = ctx
        .send(
            Request::put(format!("/v2/{repo}/manifests/params"))
                .header("Content-Type", format!("{}; charset=utf-8", p.media_type))
                .body(p.bytes.clone()),
        )
        .await?;
    accepted(
        g,
        "distribution.push.manifests.ignore-content-type-parameters",
        "Content-Type with a charset parameter",
        &ex,
    );

    // A subject that does not exist yet.
    let ghost = content::image(&mut rng);
    let referrer = content::artifact(
        &mut rng,
        "application/vnd.example.signature.v1",
        Some(&ghost),
    );
    let t = "manifest whose subject is absent";
    let ex = ctx.push_manifest(repo, &referrer, &referrer.digest).await?;
    accepted(
        g,
        "distribution.push.manifests.subject-missing-accepted",
        t,
        &ex,
    );
    if caps.referrers {
        let got = ex.header("oci-subject");
        g.judge(
            "distribution.push.subject.oci-subject-header",
            t,
            got == Some(ghost.digest.as_str()),
            &ex,
            "no OCI-Subject naming the subject",
            &ghost.digest,
            got.unwrap_or("no OCI-Subject header"),
        );
    } else {
        g.rec("distribution.push.subject.oci-subject-header", t, Outcome::skip("the registry has no referrers API; OCI-Subject is required only of registries that offer it"));
    }

    // A layer that was never pushed.
    let (missing, _) = content::with_missing_layer(&mut rng);
    let ex = ctx.push_manifest(repo, &missing, "missing-layer").await?;
    let t = "manifest referencing an absent blob";
    if ex.is_success() {
        g.rec(
            "distribution.push.manifests.missing-references-error-code",
            t,
            Outcome::skip("the registry accepted the manifest, which the spec permits"),
        );
    } else {
        let codes = error_codes(&ex);
        g.judge(
            "distribution.push.manifests.missing-references-error-code",
            t,
            (400..500).contains(&ex.status) && codes.iter().any(|c| c == "MANIFEST_BLOB_UNKNOWN"),
            &ex,
            "a manifest refused for an absent blob does not say MANIFEST_BLOB_UNKNOWN",
            "4xx with MANIFEST_BLOB_UNKNOWN",
            format!("{} with codes [{}]", ex.status, codes.join(", ")),
        );
    }
    // Malformed JSON: a 4xx, never a 5xx.
    let ex = ctx
        .send(
            Request::put(format!("/v2/{repo}/manifests/broken"))
                .header("Content-Type", content::MANIFEST)
                .body(&b"{\"schemaVersion\": 2, \"mediaType\": "[..]),
        )
        .await?;
    g.status(
        "distribution.api.endpoints.end-7-manifest-put",
        "malformed JSON",
        &ex,
        &[400, 404, 413],
    );

    Ok(())
}

/// Size: just under 4 MiB is accepted; above, a bound answers 413.
async fn sizes(g: &G<'_, '_>) -> R {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let under = content::image_of_size(&mut rng, (4 << 20) - 1024);
    let ex = ctx.push_manifest(repo, &under, "big").await?;
    accepted(
        g,
        "distribution.push.manifests.accept-4mb",
        &format!("{} byte manifest", under.bytes.len()),
        &ex,
    );
    let over = content::image_of_size(&mut rng, (4 << 20) + 64 * 1024);
    let ex = ctx.push_manifest(repo, &over, "too-big").await?;
    let t = format!("{} byte manifest", over.bytes.len());
    match ex.status {
        200..=299 => {
            let why = format!(
                "the registry accepted {} bytes; any bound it has is higher than this suite probes",
                over.bytes.len()
            );
            g.rec(
                "distribution.push.manifests.size-limit",
                &t,
                Outcome::skip(why.clone()),
            );
            g.rec(
                "distribution.push.manifests.too-large-413",
                &t,
                Outcome::skip(why),
            );
        }
        s if (400..500).contains(&s) => {
            g.pass("distribution.push.manifests.size-limit", &t);
            g.status("distribution.push.manifests.too-large-413", &t, &ex, &[413]);
        }
        _ => {
            g.status("distribution.push.manifests.too-large-413", &t, &ex, &[413]);
        }
    }
    Ok(())
}

/// Tag and repository name grammar: names at the edges of the grammar are accepted, names
/// outside it are refused with a 4xx (never stored, never a 5xx).
async fn names(g: &G<'_, '_>) -> R {
    let ctx = g.ctx;
    let mut rng = ctx.rng();
    let m = content::image(&mut rng);
    for b in &m.blobs {
        ctx.push_blob(&g.repo, b).await?;
    }
    let put = |repo: String, tag: String| {
        Request::put(format!("/v2/{repo}/manifests/{tag}"))
            .header("Content-Type", m.media_type.clone())
            .body(m.bytes.clone())
    };
    let longest = format!("_{}", "a".repeat(127));
    let cases: Vec<(&str, String, Request, bool)> = vec![
        (
            "distribution.definitions.tag.max-length",
            "128-character tag".into(),
            put(g.repo.clone(), longest.clone()),
            true,
        ),
        (
            "distribution.definitions.tag.max-length",
            "129-character tag".into(),
            put(g.repo.clone(), format!("{longest}b")),
            false,
        ),
        (
            "distribution.definitions.tag.grammar",
            "tag `_x.y-Z9` (edges of the grammar)".into(),
            put(g.repo.clone(), "_x.y-Z9".into()),
            true,
        ),
        (
            "distribution.definitions.tag.grammar",
            "tag `.starts-with-dot`".into(),
            put(g.repo.clone(), ".starts-with-dot".into()),
            false,
        ),
        (
            "distribution.definitions.tag.grammar",
            "tag `-starts-with-dash`".into(),
            put(g.repo.clone(), "-starts-with-dash".into()),
            false,
        ),
    ];
    for (id, t, req, valid) in cases {
        let ex = ctx.send(req).await?;
        if valid {
            accepted(g, id, &t, &ex);
        } else {
            g.judge(
                id,
                &t,
                (400..500).contains(&ex.status),
                &ex,
                &format!("a tag outside the grammar was answered {}", ex.status),
                "a 4xx refusal",
                ex.status,
            );
        }
    }
    // Repository names: separators at the edges of the grammar, and an uppercase name.
    let ok_repo = format!("{}-names/a__b.c--d_e", ctx.prefix);
    let ex = ctx.push_manifest(&ok_repo, &m, "v1").await?;
    accepted(
        g,
        "distribution.definitions.name.grammar",
        "name with `__`, `.`, `--` and `_` separators",
        &ex,
    );
    let bad_repo = format!("{}-names/Upper", ctx.prefix);
    let ex = ctx
        .send(Request::post(format!("/v2/{bad_repo}/blobs/uploads/")).header("Content-Length", "0"))
        .await?;
    g.judge(
        "distribution.definitions.name.grammar",
        "name with an uppercase letter",
        (400..500).contains(&ex.status),
        &ex,
        &format!(
            "a repository name outside the grammar was answered {}",
            ex.status
        ),
        "a 4xx refusal",
        ex.status,
    );
    Ok(())
}

/// Acceptance (any 2xx; the exact 201 is judged by `put-201`).
fn accepted(g: &G<'_, '_>, id: &str, t: &str, ex: &Exchange) -> bool {
    let ok = ex.is_success();
    g.judge(
        id,
        t,
        ok,
        ex,
        &format!("{} answered {}", ex.request_line(), ex.status),
        "2xx (accepted)",
        ex.status,
    )
}

/// Error codes in a JSON error body.
pub fn error_codes(ex: &Exchange) -> Vec<String> {
    ex.json()
        .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .collect()
}
