//! Content discovery, referrers: the list for a subject, `artifactType` in descriptors, the
//! filter and `OCI-Filters-Applied`, the empty index, `Link` pagination, bad digests. A
//! registry without the API (404) is reported as the spec allows: skipped, with clients
//! falling back to the referrers tag schema.

use oci_certify_core::Runner;
use serde_json::Value;

use crate::client::{Exchange, Request};
use crate::content::{self, Manifest};
use crate::engine::{Caps, Ctx, G};
use crate::groups::tags::link_next;

/// Ids this group records.
pub const IDS: &[&str] = &[
    "distribution.api.endpoints.end-12a-referrers",
    "distribution.api.endpoints.end-12b-referrers-filtered",
    "distribution.discovery.referrers.list-200",
    "distribution.discovery.referrers.no-404",
    "distribution.discovery.referrers.invalid-400",
    "distribution.discovery.referrers.response-index",
    "distribution.discovery.referrers.content-type",
    "distribution.discovery.referrers.artifacttype",
    "distribution.discovery.referrers.artifacttype-from-config",
    "distribution.discovery.referrers.index-artifacttype-omitted",
    "distribution.discovery.referrers.annotations",
    "distribution.discovery.referrers.empty-index",
    "distribution.discovery.referrers.link-header-format",
    "distribution.discovery.referrers.artifacttype-filter",
    "distribution.discovery.referrers.filters-applied-header",
    "distribution.compat.enabling-referrers.new-manifests",
];

/// Runs the group.
pub async fn run(runner: &Runner<'_>, ctx: &Ctx, caps: &Caps) {
    let g = G::new(runner, ctx, "referrers");
    if let Some(why) = &caps.push {
        g.skip_all(IDS, "referrers", &format!("push is not offered ({why})"));
    } else if !caps.referrers {
        g.skip_all(
            IDS,
            "referrers API",
            "the registry has no referrers API (GET /v2/<name>/referrers/<digest> answered 404); the spec allows this: clients fall back to the referrers tag schema",
        );
    } else if let Err(e) = body(&g).await {
        runner.diagnostic(format!("referrers: a request failed: {e}"));
    }
    g.finish();
}

fn descriptors(ex: &Exchange) -> Option<Vec<Value>> {
    ex.json()?.get("manifests")?.as_array().cloned()
}

fn find<'v>(list: &'v [Value], m: &Manifest) -> Option<&'v Value> {
    list.iter()
        .find(|d| d.get("digest").and_then(|x| x.as_str()) == Some(m.digest.as_str()))
}

async fn body(g: &G<'_, '_>) -> Result<(), crate::client::ClientError> {
    let ctx = g.ctx;
    let repo = &g.repo;
    let mut rng = ctx.rng();
    let subject = content::image(&mut rng);
    ctx.push_manifest(repo, &subject, "subject").await?;
    let sbom = content::artifact(&mut rng, "application/vnd.example.sbom.v1", Some(&subject));
    let sig = content::artifact(
        &mut rng,
        "application/vnd.example.signature.v1",
        Some(&subject),
    );
    let cfg = content::config_typed_referrer(
        &mut rng,
        "application/vnd.example.config.v1+json",
        &subject,
    );
    let idx = content::index_referrer(vec![content::image(&mut rng)], &subject);
    let all = [&sbom, &sig, &cfg, &idx];
    for m in all {
        ctx.push_manifest(repo, m, &m.digest).await?;
    }
    let url = format!("/v2/{repo}/referrers/{}", subject.digest);
    let res = ctx
        .poll(|| async {
            match ctx.send(Request::get(url.clone())).await {
                Ok(ex) => {
                    let d = descriptors(&ex).unwrap_or_default();
                    let complete = all.iter().all(|m| find(&d, m).is_some());
                    (complete.then(|| ex.clone()), Some(ex))
                }
                Err(_) => (None, None),
            }
        })
        .await;
    let t = "subject with four referrers";
    let ex = match res {
        Ok(ex) => {
            g.pass("distribution.compat.enabling-referrers.new-manifests", t);
            ex
        }
        Err(Some(ex)) => {
            g.fail(
                "distribution.compat.enabling-referrers.new-manifests",
                t,
                &ex,
                "not every pushed referrer is listed (after the consistency window)",
                "4 referrers",
                format!("{:?}", descriptors(&ex).map(|d| d.len())),
            );
            ex
        }
        Err(None) => return Ok(()),
    };
    g.status(
        "distribution.api.endpoints.end-12a-referrers",
        t,
        &ex,
        &[200],
    );
    g.status("distribution.discovery.referrers.list-200", t, &ex, &[200]);
    index_shape(g, t, &ex);
    let list = descriptors(&ex).unwrap_or_default();
    for (m, want, id, what) in [
        (
            &sbom,
            Some("application/vnd.example.sbom.v1"),
            "distribution.discovery.referrers.artifacttype",
            "artifact",
        ),
        (
            &cfg,
            Some("application/vnd.example.config.v1+json"),
            "distribution.discovery.referrers.artifacttype-from-config",
            "manifest without artifactType",
        ),
        (
            &idx,
            None,
            "distribution.discovery.referrers.index-artifacttype-omitted",
            "index without artifactType",
        ),
    ] {
        if let Some(d) = find(&list, m) {
            let got = d.get("artifactType").and_then(|a| a.as_str());
            g.judge(
                id,
                what,
                got == want,
                &ex,
                "the descriptor's artifactType is wrong",
                format!("{want:?}"),
                format!("{got:?}"),
            );
            let doc: Value = serde_json::from_slice(&m.bytes).unwrap_or(Value::Null);
            g.judge(
                "distribution.discovery.referrers.annotations",
                what,
                d.get("annotations") == doc.get("annotations"),
                &ex,
                "the descriptor does not carry the referrer's annotations",
                doc.get("annotations").cloned().unwrap_or(Value::Null),
                d.get("annotations").cloned().unwrap_or(Value::Null),
            );
        }
    }
    if let Some(h) = ex.header("link") {
        g.judge(
            "distribution.discovery.referrers.link-header-format",
            t,
            link_next(h).is_some(),
            &ex,
            "Link is not `<url>; rel=\"next\"`",
            "<url>; rel=\"next\"",
            h,
        );
    }
    // Filter.
    let fex = ctx
        .send(Request::get(format!(
            "{url}?artifactType=application/vnd.example.sbom.v1"
        )))
        .await?;
    let t = "artifactType=application/vnd.example.sbom.v1";
    g.status(
        "distribution.api.endpoints.end-12b-referrers-filtered",
        t,
        &fex,
        &[200],
    );
    let fl = descriptors(&fex).unwrap_or_default();
    let applied = fex
        .header("oci-filters-applied")
        .is_some_and(|h| h.split(',').any(|x| x.trim() == "artifactType"));
    let only_sbom = fl.len() == 1 && find(&fl, &sbom).is_some();
    g.judge(
        "distribution.discovery.referrers.artifacttype-filter",
        t,
        only_sbom && applied,
        &fex,
        "the artifactType filter was not applied",
        "only the sbom referrer, with OCI-Filters-Applied: artifactType",
        format!(
            "{} descriptors, OCI-Filters-Applied {:?}",
            fl.len(),
            fex.header("oci-filters-applied")
        ),
    );
    if only_sbom || applied {
        g.judge(
            "distribution.discovery.referrers.filters-applied-header",
            t,
            applied && only_sbom,
            &fex,
            "filtered results and OCI-Filters-Applied disagree",
            "both or neither",
            format!("filtered: {only_sbom}, header: {applied}"),
        );
    }
    // Nothing refers to an unknown digest: an empty index, never 404.
    let absent = crate::digest::sha256(&rng.bytes(32));
    let eex = ctx
        .send(Request::get(format!("/v2/{repo}/referrers/{absent}")))
        .await?;
    let t = "unknown subject";
    g.judge(
        "distribution.discovery.referrers.no-404",
        t,
        eex.status != 404,
        &eex,
        "referrers answered 404",
        "not 404",
        eex.status,
    );
    g.judge(
        "distribution.discovery.referrers.empty-index",
        t,
        eex.status == 200 && descriptors(&eex).is_some_and(|d| d.is_empty()),
        &eex,
        "not an empty index",
        "200 with \"manifests\": []",
        eex.status,
    );
    let bad = ctx
        .send(Request::get(format!("/v2/{repo}/referrers/sha256:not-hex")))
        .await?;
    g.status(
        "distribution.discovery.referrers.invalid-400",
        "malformed digest",
        &bad,
        &[400],
    );
    Ok(())
}

fn index_shape(g: &G<'_, '_>, t: &str, ex: &Exchange) {
    let ct = ex.header("content-type").unwrap_or("");
    g.judge(
        "distribution.discovery.referrers.content-type",
        t,
        ct.split(';').next().map(str::trim) == Some(content::INDEX),
        ex,
        "wrong Content-Type",
        content::INDEX,
        ct,
    );
    let v = ex.json();
    let ok = v.as_ref().is_some_and(|v| {
        v.get("schemaVersion") == Some(&Value::from(2))
            && v.get("manifests").is_some_and(Value::is_array)
    });
    g.judge(
        "distribution.discovery.referrers.response-index",
        t,
        ok,
        ex,
        "the body is not an image index",
        "schemaVersion 2 with a manifests array",
        String::from_utf8_lossy(&ex.body[..ex.body.len().min(200)]),
    );
}
