//! The certification run: capability discovery, the check groups (run concurrently, each in
//! its own repository), the response audit, and best-effort cleanup that is never graded.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use oci_certify_core::check::{Failure, Outcome};
use oci_certify_core::fault::{Blame, Fault};
use oci_certify_core::Runner;
use thiserror::Error;

use crate::audit::Audit;
use crate::client::{Client, ClientError, ClientOptions, Exchange, Request};
use crate::content::{Blob, Manifest, Rng};
use crate::groups;

/// What to certify.
#[derive(Debug, Clone)]
pub struct Options {
    /// How to reach the registry.
    pub client: ClientOptions,
    /// Repository namespace; each group gets `<namespace>/<run>-<group>`.
    pub namespace: String,
    /// Longest wait for eventually consistent results (tags, referrers, deletions).
    pub consistency_timeout: Duration,
}

impl Options {
    /// Defaults for a registry URL: namespace `oci-certify`, 5 s consistency window.
    pub fn new(client: ClientOptions) -> Options {
        Options {
            client,
            namespace: "oci-certify".into(),
            consistency_timeout: Duration::from_secs(5),
        }
    }
}

/// Why the run could not be completed.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The namespace breaks the name grammar.
    #[error("--namespace {0}: not a valid repository name (lowercase components joined by . _ __ or dashes, separated by /)")]
    Namespace(String),
    /// The HTTP client failed before any check could run.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// `/v2/` asked for credentials that were not given or not accepted.
    #[error("{0}")]
    Unauthorized(String),
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl Blame for EngineError {
    fn fault(&self) -> Fault {
        match self {
            EngineError::Namespace(_) | EngineError::Unauthorized(_) => Fault::Input,
            EngineError::Client(e) => e.fault(),
            EngineError::Runtime(_) => Fault::Environment,
        }
    }
}

/// What the run found and did.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    /// HTTP requests sent.
    pub requests: u64,
    /// Per workflow category: claimed or not, and how we know.
    pub capabilities: Vec<(String, String)>,
}

/// Every requirement id the engine can record (for coverage).
pub fn recorded() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    all.extend_from_slice(crate::audit::IDS);
    all.extend_from_slice(groups::base::IDS);
    all.extend_from_slice(groups::pull::IDS);
    all.extend_from_slice(groups::push::IDS);
    all.extend_from_slice(groups::tags::IDS);
    all.extend_from_slice(groups::referrers::IDS);
    all.extend_from_slice(groups::manage::IDS);
    all.sort_unstable();
    all.dedup();
    all
}

/// Shared by every group.
pub struct Ctx {
    /// The driver.
    pub client: Client,
    /// Repository prefix for this run: `<namespace>/<run-id>`.
    pub prefix: String,
    /// Consistency window.
    pub consistency: Duration,
    /// The response audit.
    pub audit: Audit,
    /// Content pushed, for cleanup: (repository, reference).
    cleanup: Mutex<Vec<(String, String)>>,
    /// Seed salt.
    salt: std::sync::atomic::AtomicU64,
}

impl Ctx {
    /// A fresh generator.
    pub fn rng(&self) -> Rng {
        Rng::new(self.salt.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The repository of a group.
    pub fn repo(&self, group: &str) -> String {
        format!("{}-{group}", self.prefix)
    }

    /// Sends and audits.
    pub async fn send(&self, req: Request) -> Result<Exchange, ClientError> {
        let ex = self.client.send(req).await?;
        self.audit.observe(&ex);
        Ok(ex)
    }

    /// Pushes a blob the quickest standard way (POST then PUT); returns the completing
    /// exchange, or the first failing one.
    pub async fn push_blob(&self, repo: &str, blob: &Blob) -> Result<Exchange, ClientError> {
        let post = self
            .send(Request::post(format!("/v2/{repo}/blobs/uploads/")).header("Content-Length", "0"))
            .await?;
        let Some(loc) = post.header("location").filter(|_| post.is_success()) else {
            return Ok(post);
        };
        let url = with_query(loc, "digest", &blob.digest);
        self.send(
            Request::put(url)
                .header("Content-Type", "application/octet-stream")
                .body(blob.bytes.clone()),
        )
        .await
    }

    /// Pushes a manifest (children and blobs first) under `reference`.
    pub async fn push_manifest(
        &self,
        repo: &str,
        m: &Manifest,
        reference: &str,
    ) -> Result<Exchange, ClientError> {
        Box::pin(self.push_manifest_inner(repo, m, reference)).await
    }

    async fn push_manifest_inner(
        &self,
        repo: &str,
        m: &Manifest,
        reference: &str,
    ) -> Result<Exchange, ClientError> {
        for b in &m.blobs {
            self.push_blob(repo, b).await?;
        }
        for c in &m.children {
            self.push_manifest(repo, c, &c.digest).await?;
        }
        let ex = self
            .send(
                Request::put(format!("/v2/{repo}/manifests/{reference}"))
                    .header("Content-Type", m.media_type.clone())
                    .body(m.bytes.clone()),
            )
            .await?;
        if ex.is_success() {
            self.remember(repo, &m.digest);
        }
        Ok(ex)
    }

    /// Remembers content for cleanup.
    pub fn remember(&self, repo: &str, reference: &str) {
        if let Ok(mut c) = self.cleanup.lock() {
            c.push((repo.to_string(), reference.to_string()));
        }
    }

    /// GET a manifest with an explicit Accept.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Exchange, ClientError> {
        self.send(
            Request::get(format!("/v2/{repo}/manifests/{reference}"))
                .header("Accept", crate::content::ACCEPT_MANIFESTS),
        )
        .await
    }

    /// Polls `probe` until it returns `Some`, or the consistency window ends (then the last
    /// value it saw is returned as `Err`). Backoff from 5 ms doubling to 250 ms.
    pub async fn poll<T, F, Fut>(&self, mut probe: F) -> Result<T, Option<Exchange>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (Option<T>, Option<Exchange>)>,
    {
        let deadline = Instant::now() + self.consistency;
        let mut delay = Duration::from_millis(5);
        loop {
            let (v, ex) = probe().await;
            if let Some(v) = v {
                return Ok(v);
            }
            if Instant::now() + delay > deadline {
                return Err(ex);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(250));
        }
    }
}

/// Appends a query parameter to a (possibly relative) URL that may already have a query.
pub fn with_query(url: &str, key: &str, value: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={enc}")
}

/// Records outcomes for one group.
pub struct G<'a, 'c> {
    /// The runner.
    pub runner: &'a Runner<'c>,
    /// Group name in reports.
    pub name: &'static str,
    /// The shared context.
    pub ctx: &'a Ctx,
    /// The group's repository.
    pub repo: String,
}

impl<'a, 'c> G<'a, 'c> {
    /// A group with its own repository.
    pub fn new(runner: &'a Runner<'c>, ctx: &'a Ctx, name: &'static str) -> G<'a, 'c> {
        G {
            runner,
            name,
            ctx,
            repo: ctx.repo(name),
        }
    }

    /// Records an outcome.
    pub fn rec(&self, id: &str, target: &str, outcome: Outcome) {
        self.runner.record(self.name, Some(target), id, outcome);
    }

    /// Records a pass.
    pub fn pass(&self, id: &str, target: &str) {
        self.rec(id, target, Outcome::pass());
    }

    /// Records a failure with the exchange as evidence.
    pub fn fail(
        &self,
        id: &str,
        target: &str,
        ex: &Exchange,
        message: impl Into<String>,
        expected: impl std::fmt::Display,
        actual: impl std::fmt::Display,
    ) {
        self.rec(
            id,
            target,
            Outcome::fail(
                Failure::new(message)
                    .expected(expected)
                    .actual(actual)
                    .at(ex.location()),
            ),
        );
    }

    /// Pass if `ok`, else a failure with the exchange.
    #[allow(clippy::too_many_arguments)]
    pub fn judge(
        &self,
        id: &str,
        target: &str,
        ok: bool,
        ex: &Exchange,
        message: &str,
        expected: impl std::fmt::Display,
        actual: impl std::fmt::Display,
    ) -> bool {
        if ok {
            self.pass(id, target);
        } else {
            self.fail(id, target, ex, message, expected, actual);
        }
        ok
    }

    /// Judges a status code: pass if it is one of `want`.
    pub fn status(&self, id: &str, target: &str, ex: &Exchange, want: &[u16]) -> bool {
        let ok = want.contains(&ex.status);
        let expected = want
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        self.judge(
            id,
            target,
            ok,
            ex,
            &format!("{} answered {}", ex.request_line(), ex.status),
            expected,
            ex.status,
        )
    }

    /// Skips several requirements with one reason.
    pub fn skip_all(&self, ids: &[&str], target: &str, reason: &str) {
        for id in ids {
            self.rec(id, target, Outcome::skip(reason));
        }
    }

    /// A harness error for several requirements (the subject is not blamed).
    pub fn error_all(&self, ids: &[&str], target: &str, err: &ClientError) {
        for id in ids {
            let o = match err.fault() {
                Fault::Subject => Outcome::fail(Failure::new(format!(
                    "the registry broke the exchange: {err}"
                ))),
                _ => Outcome::error(format!("request failed: {err}")),
            };
            self.rec(id, target, o);
        }
    }

    /// Ends the group.
    pub fn finish(&self) {
        self.runner.finish_group(self.name);
    }
}

/// What the capability probes found.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    /// Push is offered (an upload session could be opened).
    pub push: Option<String>,
    /// The referrers API answers (not 404).
    pub referrers: bool,
}

/// Checks, before any report is started, that the options are usable and the registry answers
/// `GET /v2/` (with the credentials given): an unreachable registry or refused credentials are
/// errors without a verdict.
pub fn preflight(opts: &Options) -> Result<(), EngineError> {
    if !crate::reference::is_valid_repository(&opts.namespace) {
        return Err(EngineError::Namespace(opts.namespace.clone()));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    rt.block_on(async {
        let client = Client::new(opts.client.clone())?;
        groups::base::reach(&client).await.map(|_| ())
    })
}

/// Runs the certification and records every outcome with `runner`.
pub fn certify(runner: &Runner<'_>, opts: &Options) -> Result<RunEnd, EngineError> {
    if !crate::reference::is_valid_repository(&opts.namespace) {
        return Err(EngineError::Namespace(opts.namespace.clone()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    rt.block_on(run(runner, opts))
}

async fn run(runner: &Runner<'_>, opts: &Options) -> Result<RunEnd, EngineError> {
    let client = Client::new(opts.client.clone())?;
    let mut rng = Rng::new(0);
    let ctx = Ctx {
        client,
        prefix: format!("{}/r{}", opts.namespace, &rng.word()[..8]),
        consistency: opts.consistency_timeout,
        audit: Audit::default(),
        cleanup: Mutex::new(Vec::new()),
        salt: std::sync::atomic::AtomicU64::new(1),
    };
    let base = groups::base::run(runner, &ctx).await?;
    let mut end = RunEnd::default();
    let caps = base.caps;
    end.capabilities
        .push(("pull".into(), "required of every registry; graded".into()));
    end.capabilities.push((
        "push".into(),
        match &caps.push {
            None => "claimed: an upload session opens; graded".into(),
            Some(why) => format!("not offered ({why}); push checks skipped"),
        },
    ));
    end.capabilities.push((
        "content discovery".into(),
        if caps.referrers {
            "tags list and referrers API; graded".into()
        } else {
            "tags list graded; no referrers API (404), which the spec allows: clients fall back to the referrers tag schema".into()
        },
    ));
    // A group none of whose requirements is selected (`--select`, `--skip`, `--level`) does
    // not run at all: no requests, no content pushed.
    let wanted = |ids: &[&str]| runner.selects_any(ids.iter().copied());
    let (_, _, _, _, manage) = tokio::join!(
        async {
            if wanted(groups::pull::IDS) {
                groups::pull::run(runner, &ctx, &caps).await;
            }
        },
        async {
            if wanted(groups::push::IDS) {
                groups::push::run(runner, &ctx, &caps).await;
            }
        },
        async {
            if wanted(groups::tags::IDS) {
                groups::tags::run(runner, &ctx, &caps).await;
            }
        },
        async {
            if wanted(groups::referrers::IDS) {
                groups::referrers::run(runner, &ctx, &caps).await;
            }
        },
        async {
            if wanted(groups::manage::IDS) {
                groups::manage::run(runner, &ctx, &caps).await
            } else {
                "not selected".to_string()
            }
        },
    );
    end.capabilities.push(("content management".into(), manage));
    ctx.audit.record(runner);
    for (cat, how) in &end.capabilities {
        runner.diagnostic(format!("capability: {cat}: {how}"));
    }
    cleanup(&ctx).await;
    end.requests = ctx.client.request_count();
    Ok(end)
}

/// Deletes what the run pushed, best effort; never graded, never audited. Sequential within a
/// repository and deduplicated: concurrent deletes of one manifest can wedge distribution
/// 2.8.2 (see the crate's notes), and cleanup must never be what breaks a registry.
async fn cleanup(ctx: &Ctx) {
    let items = ctx.cleanup.lock().map(|c| c.clone()).unwrap_or_default();
    let mut by_repo: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (repo, reference) in items.into_iter().rev() {
        let refs = by_repo.entry(repo).or_default();
        if !refs.contains(&reference) {
            refs.push(reference);
        }
    }
    let futs = by_repo.into_iter().map(|(repo, refs)| async move {
        for reference in refs {
            let req = Request::delete(format!("/v2/{repo}/manifests/{reference}"));
            let _ = tokio::time::timeout(Duration::from_secs(2), ctx.client.send(req)).await;
        }
    });
    futures_util::future::join_all(futs).await;
}
