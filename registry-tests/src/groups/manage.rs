//! Content management: deleting tags, manifests and blobs, and what a registry with deletion
//! switched off answers (`400` or `405`, both permitted).

use oci_certify_core::check::Outcome;
use oci_certify_core::Runner;

use crate::client::{Exchange, Request};
use crate::content;
use crate::engine::{Caps, Ctx, G};

/// Ids this group records.
pub const IDS: &[&str] = &[
    "distribution.api.endpoints.end-9-manifest-delete",
    "distribution.api.endpoints.end-10-blob-delete",
    "distribution.management.delete-tag.success-202",
    "distribution.management.delete-tag.disabled-400-or-405",
    "distribution.management.delete-manifest.success-202",
    "distribution.management.delete-manifest.disabled-400-or-405",
    "distribution.management.delete-manifest.unknown-repository-404",
    "distribution.management.delete-blob.success-202",
    "distribution.management.delete-blob.disabled-400-or-405",
    "distribution.management.delete-blob.not-found-404",
];

/// Runs the group; returns how the registry's management category looks.
pub async fn run(runner: &Runner<'_>, ctx: &Ctx, caps: &Caps) -> String {
    let g = G::new(runner, ctx, "management");
    if let Some(why) = &caps.push {
        g.skip_all(
            IDS,
            "deletion",
            &format!("the suite deletes content it pushes, and push is not offered ({why})"),
        );
        g.finish();
        return "not probed (push not offered)".into();
    }
    let r = match body(&g).await {
        Ok(s) => s,
        Err(e) => {
            runner.diagnostic(format!("management: a request failed: {e}"));
            "probe failed".into()
        }
    };
    g.finish();
    r
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Deleted,
    Disabled,
    Other,
}

/// Judges one DELETE: 202 deleted (then the content must be gone), 400/405 disabled, else red.
async fn judge_delete(
    g: &G<'_, '_>,
    t: &str,
    ex: &Exchange,
    success: &str,
    disabled: &str,
    end: &str,
    gone: Request,
) -> Result<Answer, crate::client::ClientError> {
    g.status(end, t, ex, &[202, 400, 405]);
    match ex.status {
        202 => {
            g.pass(success, t);
            g.rec(disabled, t, Outcome::skip("deletion is enabled"));
            let res = g
                .ctx
                .poll(|| {
                    let req = gone.clone();
                    async move {
                        match g.ctx.send(req).await {
                            Ok(ex) if ex.status == 404 => (Some(()), Some(ex)),
                            Ok(ex) => (None, Some(ex)),
                            Err(_) => (None, None),
                        }
                    }
                })
                .await;
            let after = format!("{t}, then fetch it");
            match res {
                Ok(()) => g.pass(success, &after),
                Err(Some(ex)) => g.fail(
                    success,
                    &after,
                    &ex,
                    "the deleted content is still served (after the consistency window)",
                    404,
                    ex.status,
                ),
                Err(None) => {}
            }
            Ok(Answer::Deleted)
        }
        400 | 405 => {
            g.rec(
                disabled,
                t,
                Outcome::pass_with_note(format!(
                    "deletion is disabled ({}), which the spec permits",
                    ex.status
                )),
            );
            g.rec(
                success,
                t,
                Outcome::skip(format!(
                    "deletion is disabled ({}), which the spec permits",
                    ex.status
                )),
            );
            Ok(Answer::Disabled)
        }
        s if (200..300).contains(&s) => {
            g.fail(success, t, ex, format!("DELETE answered {s}"), 202, s);
            Ok(Answer::Other)
        }
        s => {
            g.fail(
                disabled,
                t,
                ex,
                format!("DELETE answered {s}"),
                "202 (deleted) or 400/405 (deletion disabled)",
                s,
            );
            Ok(Answer::Other)
        }
    }
}

async fn body(g: &G<'_, '_>) -> Result<String, crate::client::ClientError> {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let a = content::image(&mut rng);
    let b = content::image(&mut rng);
    for (m, tag) in [(&a, "keep"), (&a, "also"), (&b, "drop")] {
        let ex = ctx.push_manifest(repo, m, tag).await?;
        if !ex.is_success() {
            g.skip_all(
                IDS,
                "deletion",
                &format!(
                    "pushing the content to delete failed: {} answered {}",
                    ex.request_line(),
                    ex.status
                ),
            );
            return Ok("not probed (push failed)".into());
        }
    }
    let blob = content::layer(&mut rng, 300);
    ctx.push_blob(repo, &blob).await?;
    let get = |r: &str| {
        Request::get(format!("/v2/{repo}/manifests/{r}"))
            .header("Accept", content::ACCEPT_MANIFESTS)
    };

    let ex = ctx
        .send(Request::delete(format!("/v2/{repo}/manifests/drop")))
        .await?;
    let tag = judge_delete(
        g,
        "DELETE a tag",
        &ex,
        "distribution.management.delete-tag.success-202",
        "distribution.management.delete-tag.disabled-400-or-405",
        "distribution.api.endpoints.end-9-manifest-delete",
        get("drop"),
    )
    .await?;

    let ex = ctx
        .send(Request::delete(format!(
            "/v2/{repo}/manifests/{}",
            a.digest
        )))
        .await?;
    let manifest = judge_delete(
        g,
        "DELETE a manifest by digest",
        &ex,
        "distribution.management.delete-manifest.success-202",
        "distribution.management.delete-manifest.disabled-400-or-405",
        "distribution.api.endpoints.end-9-manifest-delete",
        get(&a.digest),
    )
    .await?;
    if manifest == Answer::Deleted {
        // Its tags go with it.
        let res = ctx
            .poll(|| async {
                match ctx.send(get("keep")).await {
                    Ok(ex) if ex.status == 404 => (Some(()), Some(ex)),
                    Ok(ex) => (None, Some(ex)),
                    Err(_) => (None, None),
                }
            })
            .await;
        let t = "DELETE a manifest by digest, then fetch a tag of it";
        match res {
            Ok(()) => g.pass("distribution.management.delete-manifest.success-202", t),
            Err(Some(ex)) => g.fail(
                "distribution.management.delete-manifest.success-202",
                t,
                &ex,
                "a tag of the deleted manifest still resolves",
                404,
                ex.status,
            ),
            Err(None) => {}
        }
    }

    let ex = ctx
        .send(Request::delete(format!("/v2/{repo}/blobs/{}", blob.digest)))
        .await?;
    let blobs = judge_delete(
        g,
        "DELETE a blob",
        &ex,
        "distribution.management.delete-blob.success-202",
        "distribution.management.delete-blob.disabled-400-or-405",
        "distribution.api.endpoints.end-10-blob-delete",
        Request::get(format!("/v2/{repo}/blobs/{}", blob.digest)),
    )
    .await?;

    // 404s: an unknown repository, an unknown blob. With deletion disabled, 400/405 is also
    // what the spec asks for, so both are accepted then.
    let absent = crate::digest::sha256(&rng.bytes(32));
    let ex = ctx
        .send(Request::delete(format!(
            "/v2/{}-absent-{}/manifests/{absent}",
            ctx.prefix,
            rng.word()
        )))
        .await?;
    let want: &[u16] = if manifest == Answer::Disabled {
        &[404, 400, 405]
    } else {
        &[404]
    };
    g.status(
        "distribution.management.delete-manifest.unknown-repository-404",
        "unknown repository",
        &ex,
        want,
    );
    let ex = ctx
        .send(Request::delete(format!("/v2/{repo}/blobs/{absent}")))
        .await?;
    let want: &[u16] = if blobs == Answer::Disabled {
        &[404, 400, 405]
    } else {
        &[404]
    };
    g.status(
        "distribution.management.delete-blob.not-found-404",
        "unknown blob",
        &ex,
        want,
    );
    g.status(
        "distribution.api.endpoints.end-10-blob-delete",
        "unknown blob",
        &ex,
        &[404, 400, 405],
    );

    let word = |a: Answer| match a {
        Answer::Deleted => "enabled",
        Answer::Disabled => "disabled (permitted)",
        Answer::Other => "answered outside the spec",
    };
    Ok(format!(
        "tag deletion {}, manifest deletion {}, blob deletion {}; graded",
        word(tag),
        word(manifest),
        word(blobs)
    ))
}
