//! `GET /v2/` and capability discovery: can an upload session be opened, does the referrers
//! API answer.

use oci_certify_core::Runner;

use crate::client::{Client, Exchange, Request};
use crate::content;
use crate::engine::{Caps, Ctx, EngineError, G};

/// Ids this group records.
pub const IDS: &[&str] = &["distribution.api.endpoints.end-1-base"];

/// What the base group found.
pub struct Base {
    /// Capabilities.
    pub caps: Caps,
}

/// `GET /v2/`; a 401 that the credentials cannot answer is an input error.
pub async fn reach(client: &Client) -> Result<Exchange, EngineError> {
    let ex = match client.send(Request::get("/v2/")).await {
        Ok(ex) => ex,
        Err(crate::client::ClientError::Token { realm, message }) => {
            return Err(EngineError::Unauthorized(format!(
                "GET /v2/ needs a token, and the token endpoint {realm} refused: {message}; give --username with --password-stdin, or a token in OCI_CERTIFY_TOKEN"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if ex.status == 401 {
        return Err(EngineError::Unauthorized(format!(
            "GET {} answered 401: the registry needs credentials (--username with --password-stdin, or a token in OCI_CERTIFY_TOKEN)",
            ex.url
        )));
    }
    Ok(ex)
}

/// Runs the group.
pub async fn run(runner: &Runner<'_>, ctx: &Ctx) -> Result<Base, EngineError> {
    let g = G::new(runner, ctx, "base");
    let ex = reach(&ctx.client).await?;
    ctx.audit.observe(&ex);
    g.status(
        "distribution.api.endpoints.end-1-base",
        "GET /v2/",
        &ex,
        &[200],
    );
    g.finish();

    let mut caps = Caps::default();
    let repo = ctx.repo("probe");
    let post = ctx
        .send(Request::post(format!("/v2/{repo}/blobs/uploads/")).header("Content-Length", "0"))
        .await?;
    if !post.is_success() {
        caps.push = Some(format!("POST {} answered {}", post.url.path(), post.status));
        return Ok(Base { caps });
    }
    let mut rng = ctx.rng();
    let image = content::image(&mut rng);
    let pushed = ctx.push_manifest(&repo, &image, "probe").await?;
    if pushed.is_success() {
        // Ask about a subject that has a referrer, so that a registry answering 404 for a
        // subject without referrers is not mistaken for one without the API.
        let probe = content::artifact(
            &mut rng,
            "application/vnd.oci-certify.probe.v1",
            Some(&image),
        );
        ctx.push_manifest(&repo, &probe, &probe.digest).await?;
        let r = ctx
            .send(Request::get(format!(
                "/v2/{repo}/referrers/{}",
                image.digest
            )))
            .await?;
        caps.referrers = r.status != 404;
    }
    Ok(Base { caps })
}
