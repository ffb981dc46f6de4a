//! Content discovery, tags: the full list and its order, `n`, `last`, `Link` pagination and
//! `n=0`.

use oci_certify_core::check::Outcome;
use oci_certify_core::Runner;

use crate::client::{Exchange, Request};
use crate::content;
use crate::engine::{Caps, Ctx, G};

/// Ids this group records.
pub const IDS: &[&str] = &[
    "distribution.api.endpoints.end-8a-tags",
    "distribution.api.endpoints.end-8b-tags-paginated",
    "distribution.discovery.tags.list-200",
    "distribution.discovery.tags.response-body",
    "distribution.discovery.tags.lexical-order",
    "distribution.discovery.tags.n-exact-count",
    "distribution.discovery.tags.n-lexical-order",
    "distribution.discovery.tags.link-header-format",
    "distribution.discovery.tags.n-zero-empty",
    "distribution.discovery.tags.n-zero-no-link",
    "distribution.discovery.tags.last-lexical-order",
];

/// Tags pushed, deliberately not in order. Lowercase only: the spec's "case-insensitive" order
/// leaves mixed-case ties undefined, so the suite does not probe them.
const TAGS: &[&str] = &["c10", "a", "f.z", "c2", "b", "e_y", "c1", "d-x", "0"];

struct Page {
    ex: Exchange,
    tags: Option<Vec<String>>,
    next: Option<String>,
}

fn parse(ex: Exchange) -> Page {
    let tags = ex.json().and_then(|v| {
        v.get("tags")?
            .as_array()?
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
    });
    let next = ex.header("link").and_then(link_next);
    Page { ex, tags, next }
}

/// The target of an RFC 5988 `Link: <url>; rel="next"`, if the header has that shape.
pub fn link_next(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let part = part.trim();
        let (url, params) = part.strip_prefix('<')?.split_once('>')?;
        let rel_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        rel_next.then(|| url.to_string())
    })
}

/// Runs the group.
pub async fn run(runner: &Runner<'_>, ctx: &Ctx, caps: &Caps) {
    let g = G::new(runner, ctx, "tags");
    if let Some(why) = &caps.push {
        g.skip_all(
            IDS,
            "tags",
            &format!("the suite tags content it pushes, and push is not offered ({why})"),
        );
        g.finish();
        return;
    }
    if let Err(e) = body(&g).await {
        runner.diagnostic(format!("tags: a request failed: {e}"));
    }
    g.finish();
}

async fn list(g: &G<'_, '_>, query: &str) -> Result<Page, crate::client::ClientError> {
    Ok(parse(
        g.ctx
            .send(Request::get(format!("/v2/{}/tags/list{query}", g.repo)))
            .await?,
    ))
}

async fn body(g: &G<'_, '_>) -> Result<(), crate::client::ClientError> {
    let ctx = g.ctx;
    let mut rng = ctx.rng();
    let m = content::image(&mut rng);
    for tag in TAGS {
        let ex = ctx.push_manifest(&g.repo, &m, tag).await?;
        if !ex.is_success() {
            g.skip_all(
                IDS,
                "tags",
                &format!(
                    "tagging failed: {} answered {}",
                    ex.request_line(),
                    ex.status
                ),
            );
            return Ok(());
        }
    }
    let mut sorted: Vec<String> = TAGS.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    // Bounded polling: the listing may lag behind the pushes.
    let full = match ctx
        .poll(|| async {
            match list(g, "").await {
                Ok(p)
                    if p.tags
                        .as_ref()
                        .is_some_and(|t| TAGS.iter().all(|x| t.iter().any(|y| y == x))) =>
                {
                    let ex = p.ex.clone();
                    (Some(p), Some(ex))
                }
                Ok(p) => (None, Some(p.ex)),
                Err(_) => (None, None),
            }
        })
        .await
    {
        Ok(p) => p,
        Err(Some(ex)) => {
            let p = parse(ex);
            g.status(
                "distribution.api.endpoints.end-8a-tags",
                "full list",
                &p.ex,
                &[200],
            );
            g.status(
                "distribution.discovery.tags.list-200",
                "full list",
                &p.ex,
                &[200],
            );
            g.fail(
                "distribution.discovery.tags.response-body",
                "full list",
                &p.ex,
                "the listing does not name every pushed tag (after the consistency window)",
                sorted.join(", "),
                p.tags
                    .map(|t| t.join(", "))
                    .unwrap_or_else(|| "no tags array".into()),
            );
            return Ok(());
        }
        Err(None) => return Ok(()),
    };
    let t = "full list";
    g.status(
        "distribution.api.endpoints.end-8a-tags",
        t,
        &full.ex,
        &[200],
    );
    g.status("distribution.discovery.tags.list-200", t, &full.ex, &[200]);
    let name = full
        .ex
        .json()
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string));
    let tags = full.tags.clone().unwrap_or_default();
    g.judge(
        "distribution.discovery.tags.response-body",
        t,
        name.as_deref() == Some(g.repo.as_str()) && tags.len() == TAGS.len(),
        &full.ex,
        "the listing is not {name, tags} with exactly the repository's tags",
        format!("name {} and {} tags", g.repo, TAGS.len()),
        format!("name {name:?} and {} tags", tags.len()),
    );
    if full.next.is_none() {
        g.judge(
            "distribution.discovery.tags.lexical-order",
            t,
            tags == sorted,
            &full.ex,
            "tags are not in lexical order",
            sorted.join(", "),
            tags.join(", "),
        );
    } else {
        g.rec(
            "distribution.discovery.tags.lexical-order",
            t,
            Outcome::skip("the registry paged the full list; order is checked on the pages"),
        );
    }

    // n=3 from the start, then every page by Link.
    let p = list(g, "?n=3").await?;
    let t = "n=3";
    g.status(
        "distribution.api.endpoints.end-8b-tags-paginated",
        t,
        &p.ex,
        &[200],
    );
    let got = p.tags.clone().unwrap_or_default();
    match &p.next {
        None => {
            g.judge(
                "distribution.discovery.tags.n-exact-count",
                t,
                got.len() == 3,
                &p.ex,
                "`n` was not honoured and no Link says more follow",
                "exactly 3 tags",
                format!("{} tags", got.len()),
            );
        }
        Some(_) => {
            g.judge(
                "distribution.discovery.tags.n-exact-count",
                t,
                got.len() <= 3,
                &p.ex,
                "more tags than `n`",
                "at most 3 tags",
                format!("{} tags", got.len()),
            );
        }
    }
    let prefix: Vec<String> = sorted.iter().take(got.len()).cloned().collect();
    g.judge(
        "distribution.discovery.tags.n-lexical-order",
        t,
        got == prefix && !got.is_empty(),
        &p.ex,
        "the first page is not the start of the sorted list",
        prefix.join(", "),
        got.join(", "),
    );
    link_format(g, t, &p.ex);
    let mut all = got.clone();
    let mut next = p.next.clone();
    let mut pages = 1;
    while let Some(url) = next.take() {
        if pages > TAGS.len() + 1 {
            break;
        }
        pages += 1;
        let page = parse(ctx.send(Request::get(url)).await?);
        link_format(g, "following Link", &page.ex);
        all.extend(page.tags.clone().unwrap_or_default());
        next = page.next;
    }
    if pages > 1 {
        // The pages together are the sorted list, each starting after the previous page.
        let ok = all == sorted;
        let target = format!("{pages} pages by Link");
        if ok {
            g.pass("distribution.discovery.tags.last-lexical-order", &target);
        } else {
            g.fail(
                "distribution.discovery.tags.last-lexical-order",
                &target,
                &p.ex,
                "the pages do not add up to the sorted list",
                sorted.join(", "),
                all.join(", "),
            );
        }
    }

    // last=c1&n=2 -> c10, c2.
    let p = list(g, "?n=2&last=c1").await?;
    let t = "n=2&last=c1";
    g.status(
        "distribution.api.endpoints.end-8b-tags-paginated",
        t,
        &p.ex,
        &[200],
    );
    let got = p.tags.clone().unwrap_or_default();
    let after: Vec<String> = sorted
        .iter()
        .filter(|x| x.as_str() > "c1")
        .cloned()
        .collect();
    let head: Vec<String> = after.iter().take(got.len()).cloned().collect();
    g.judge(
        "distribution.discovery.tags.last-lexical-order",
        t,
        !got.is_empty() && got == head,
        &p.ex,
        "the tags after `last` are not the next ones in order",
        head.join(", "),
        got.join(", "),
    );
    if p.next.is_none() {
        g.judge(
            "distribution.discovery.tags.n-exact-count",
            t,
            got.len() == 2,
            &p.ex,
            "`n` was not honoured and no Link says more follow",
            "exactly 2 tags",
            format!("{} tags", got.len()),
        );
    }
    link_format(g, t, &p.ex);
    // last alone.
    let p = list(g, "?last=c2").await?;
    let t = "last=c2";
    let got = p.tags.clone().unwrap_or_default();
    let want: Vec<String> = sorted
        .iter()
        .filter(|x| x.as_str() > "c2")
        .cloned()
        .collect();
    let ok = if p.next.is_some() {
        !got.is_empty() && want.starts_with(&got)
    } else {
        got == want
    };
    g.judge(
        "distribution.discovery.tags.last-lexical-order",
        t,
        ok,
        &p.ex,
        "the tags after `last` are not the rest in order",
        want.join(", "),
        got.join(", "),
    );

    // n=0.
    let p = list(g, "?n=0").await?;
    let t = "n=0";
    g.status(
        "distribution.api.endpoints.end-8b-tags-paginated",
        t,
        &p.ex,
        &[200],
    );
    let got = p.tags.clone();
    g.judge(
        "distribution.discovery.tags.n-zero-empty",
        t,
        p.ex.status == 200 && got.as_ref().is_some_and(|t| t.is_empty()),
        &p.ex,
        "n=0 did not return an empty list",
        "200 with \"tags\": []",
        format!("{} with {:?}", p.ex.status, got),
    );
    g.judge(
        "distribution.discovery.tags.n-zero-no-link",
        t,
        p.ex.header("link").is_none(),
        &p.ex,
        "n=0 answered with a Link header",
        "no Link",
        p.ex.header("link").unwrap_or(""),
    );
    Ok(())
}

fn link_format(g: &G<'_, '_>, t: &str, ex: &Exchange) {
    if let Some(h) = ex.header("link") {
        g.judge(
            "distribution.discovery.tags.link-header-format",
            t,
            link_next(h).is_some(),
            ex,
            "Link is not `<url>; rel=\"next\"`",
            "<url>; rel=\"next\"",
            h,
        );
    }
}
