//! `oci-certify serve`: what validator.w3.org is for HTML, for OCI content.
//!
//! # Architecture
//!
//! The service is a thin HTTP layer (axum on tokio) over the very engines, runner and report
//! sinks the CLI uses; it holds no check logic.
//!
//! ```text
//!  request ──► [pending permit] ──► stream body to a temp dir (size-capped, hashed)
//!                                      │
//!                                      ▼
//!            classify: archive (tar/gzip magic) │ JSON document (kind from ?kind=, the
//!            form, the Content-Type, the file name, or its own mediaType)
//!                                      │
//!                   [validation permit] ▼ spawn_blocking
//!            validate::run ─ Runner + JsonSink (+ TAP/JUnit/HTML sink) ─► image-tests /
//!            validators engines, exactly as `oci-certify image|bundle`
//!                                      │
//!                                      ▼
//!            response: JSON report (format_version 1), TAP, JUnit, or the result page
//!            rendered from the JSON report ([`html::result`]); the temp dir is removed
//! ```
//!
//! * **Bounds** ([`Limits`]): upload size (counted while streaming, never buffered whole),
//!   total decompressed size of a gzip archive (inflated by the feeder, below) and of each
//!   blob (the engine's `blob::Limits`), number of blobs, JSON size and depth and the JSON an
//!   archive keeps in memory, time per request, concurrent validations, and pending requests
//!   (excess is refused with 503 at once rather than queued without bound).
//! * **Blocking work** runs on tokio's blocking pool behind a semaphore of
//!   `max_concurrent_validations` permits. An archive reaches the engine through a pipe fed by
//!   a thread ([`validate::run_archive`]); when a request outlives `request_timeout` it is
//!   answered 503 at once, its temp dir removed, and its feeder stops, so the engine reads
//!   end-of-file and the permit is free within one buffer's worth of work. (Documents are
//!   small and bounded; fetched layout directories are bounded by the fetch limits.)
//! * **Hostile input** is the engines' business as for the CLI (hostile tar entries, symlinks,
//!   bombs, cycles become a finding or a clear error); the service maps an input the engine
//!   cannot read to 422, a crossed bound to 413, and a panic on a blocking thread to 500, and
//!   goes on serving.
//! * **Registry references** go through the [`fetch::Fetcher`] seam: without a fetcher the
//!   answer is 501; with one, the host must pass the [`fetch::AddressPolicy`] first (no
//!   loopback, link-local or private addresses unless `--allow-private`).
//! * **Reports name the user's files**: each request's temp dir prefixes are stripped from
//!   every report and error message, so no server path leaks.
//! * **Badges** ([`badge`]): `?ref=` validates the reference; `?digest=` shows the verdict of
//!   content validated recently (the `OCI-Certify-Digest` response header names it; a bounded
//!   in-memory map, nothing on disk).

pub mod badge;
pub mod fetch;
pub mod html;
pub mod registry_fetcher;
pub mod validate;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use oci_certify_core::Verdict;
use oci_certify_reports::Format;
use oci_certify_validators::document::image_kind_for;
use oci_certify_validators::DocKind;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::fetch::{AddressPolicy, FetchError, FetchLimits, Fetcher, Reference};
use crate::validate::{Input, Reports, ValidateError};

/// Every bound of the service. The defaults suit a public instance on a small machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body (an upload). Default 256 MiB.
    pub max_upload_bytes: u64,
    /// Most bytes a gzip archive may inflate to, and most bytes one blob's layer may
    /// decompress to. Default 1 GiB.
    pub max_decompressed_bytes: u64,
    /// Most blobs (archive entries) in a layout. Default 10,000.
    pub max_blobs: usize,
    /// Largest JSON document. Default 4 MiB.
    pub max_json_bytes: usize,
    /// Deepest JSON nesting. Default 64.
    pub max_json_depth: usize,
    /// Longest a request may take, from its first byte to its answer. Default 60 s.
    pub request_timeout: Duration,
    /// Validations running at once. Default: the number of cores.
    pub max_concurrent_validations: usize,
    /// Requests being received or validated at once, beyond which the service answers 503 at
    /// once. Default 64.
    pub max_pending_requests: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_upload_bytes: 256 << 20,
            max_decompressed_bytes: 1 << 30,
            max_blobs: 10_000,
            max_json_bytes: 4 << 20,
            max_json_depth: 64,
            request_timeout: Duration::from_secs(60),
            max_concurrent_validations: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get),
            max_pending_requests: 64,
        }
    }
}

/// How the service runs.
#[derive(Clone, Default)]
pub struct Config {
    /// The bounds.
    pub limits: Limits,
    /// Allow registry references to loopback, link-local and private addresses.
    pub allow_private: bool,
    /// The registry client; `None` answers every reference with 501.
    pub fetcher: Option<Arc<dyn Fetcher>>,
    /// Where each request's temporary directory is created (default: the system's).
    pub temp_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("limits", &self.limits)
            .field("allow_private", &self.allow_private)
            .field("fetcher", &self.fetcher.is_some())
            .field("temp_dir", &self.temp_dir)
            .finish()
    }
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The application: every route, with its state.
pub fn router(config: Config) -> Router {
    let limits = &config.limits;
    let state = Arc::new(AppState {
        validations: Arc::new(Semaphore::new(limits.max_concurrent_validations.max(1))),
        pending: Arc::new(Semaphore::new(limits.max_pending_requests.max(1))),
        verdicts: Mutex::new(VerdictCache::default()),
        config,
    });
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1", get(api_page))
        .route("/api/v1/check", get(check_reference).post(check_upload))
        .route("/api/v1/badge", get(badge_handler))
        // Bodies are streamed and counted by the handlers themselves.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every answer: pages may load nothing from elsewhere and run no script (a second
/// line of defence behind escaping), may not be framed, and are not content-sniffed.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

struct AppState {
    config: Config,
    validations: Arc<Semaphore>,
    pending: Arc<Semaphore>,
    verdicts: Mutex<VerdictCache>,
}

/// Verdicts of recently validated content by digest, for `badge?digest=`. Bounded: the
/// oldest entry goes first.
#[derive(Default)]
struct VerdictCache {
    map: HashMap<String, Verdict>,
    order: VecDeque<String>,
}

const VERDICT_CACHE_ENTRIES: usize = 4096;

impl VerdictCache {
    fn insert(&mut self, key: String, verdict: Verdict) {
        if self.map.insert(key.clone(), verdict).is_none() {
            self.order.push_back(key);
            while self.order.len() > VERDICT_CACHE_ENTRIES {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    out: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    digest: Option<String>,
}

/// An answer without a verdict, in the form the client asked for.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    html: bool,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            html: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let mut response = if self.html {
            (
                self.status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html::error(self.status.as_u16(), reason, &self.message),
            )
                .into_response()
        } else {
            let body = serde_json::json!({
                "error": {"status": self.status.as_u16(), "reason": reason, "message": self.message}
            });
            (
                self.status,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{body}\n"),
            )
                .into_response()
        };
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<ValidateError> for ApiError {
    fn from(e: ValidateError) -> ApiError {
        let status = match e {
            ValidateError::Unusable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ValidateError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ValidateError::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            ValidateError::Harness(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<FetchError> for ApiError {
    fn from(e: FetchError) -> ApiError {
        let status = match e {
            FetchError::NotAvailable => StatusCode::NOT_IMPLEMENTED,
            FetchError::Denied { .. } => StatusCode::FORBIDDEN,
            FetchError::NotFound(_) => StatusCode::NOT_FOUND,
            FetchError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FetchError::Resolve { .. } | FetchError::Registry(_) => StatusCode::BAD_GATEWAY,
            FetchError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The report format: `?out=` first, else the Accept header, else JSON.
fn negotiate(params: &Params, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(out) = &params.out {
        return match out.as_str() {
            "json" => Ok(Format::Json),
            "tap" => Ok(Format::Tap),
            "junit" | "xml" => Ok(Format::Junit),
            "html" => Ok(Format::Html),
            other => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("out={other:.40}: expected json, tap, junit or html"),
            )),
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for item in accept.split(',') {
        let media = item.split(';').next().unwrap_or("").trim();
        match media {
            "text/html" | "application/xhtml+xml" => return Ok(Format::Html),
            "application/json" => return Ok(Format::Json),
            "application/xml" | "text/xml" | "application/junit+xml" => return Ok(Format::Junit),
            "text/x-tap" | "application/x-tap" | "text/tap" => return Ok(Format::Tap),
            _ => {}
        }
    }
    Ok(Format::Json)
}

async fn index(State(st): State<Arc<AppState>>) -> Response {
    html_response(html::index(&st.config.limits, st.config.fetcher.is_some()))
}

async fn api_page(State(st): State<Arc<AppState>>) -> Response {
    html_response(html::api(&st.config.limits))
}

fn html_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// What the request carried, staged in the request's temp dir.
struct Staged {
    path: PathBuf,
    /// The name to show: the upload's file name, or what the kind implies.
    name: String,
    kind: Option<String>,
    content_type: Option<String>,
    digest: String,
    len: u64,
}

/// A file name safe to create in the temp dir, keeping what the user would recognise.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(100)
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() {
        "upload".to_string()
    } else {
        clean
    }
}

/// Writes chunks to `path`, counting against `budget` and hashing.
struct Sink {
    file: tokio::fs::File,
    hasher: Sha256,
    len: u64,
}

impl Sink {
    async fn create(path: &Path) -> Result<Sink, ApiError> {
        let file = tokio::fs::File::create(path).await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp file: {e}"))
        })?;
        Ok(Sink {
            file,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    async fn write(&mut self, chunk: &[u8], budget: &mut u64, limit: u64) -> Result<(), ApiError> {
        take_budget(budget, chunk.len(), limit)?;
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        self.file.write_all(chunk).await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp file: {e}"))
        })
    }

    async fn finish(mut self) -> Result<(String, u64), ApiError> {
        self.file.flush().await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp file: {e}"))
        })?;
        Ok((format!("sha256:{:x}", self.hasher.finalize()), self.len))
    }
}

fn take_budget(budget: &mut u64, n: usize, limit: u64) -> Result<(), ApiError> {
    *budget = budget.checked_sub(n as u64).ok_or_else(|| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload exceeds the limit of {limit} bytes"),
        )
    })?;
    Ok(())
}

fn too_large_by_header(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        // A multipart envelope adds a little; allow 64 KiB for it.
        Some(n) if n > limit.saturating_add(64 << 10) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload ({n} bytes) exceeds the limit of {limit} bytes"),
        )),
        _ => Ok(()),
    }
}

/// Receives a multipart form: `file` (an upload), or `document` (pasted text), and `kind`.
async fn receive_multipart(
    request: Request,
    dir: &Path,
    limits: &Limits,
) -> Result<Staged, ApiError> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let limit = limits.max_upload_bytes;
    let mut budget = limit.saturating_add(64 << 10);
    let mut staged: Option<Staged> = None;
    let mut kind: Option<String> = None;
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(e.status(), format!("reading the form: {}", e.body_text()))
    };
    for _ in 0..16 {
        let Some(mut field) = form.next_field().await.map_err(bad)? else {
            return match staged {
                Some(mut s) => {
                    s.kind = kind.filter(|k| !k.is_empty() && k != "auto").or(s.kind);
                    Ok(s)
                }
                None => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "the form has neither a file nor a document",
                )),
            };
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" | "document" => {
                if staged.is_some() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "give one file or one document per request",
                    ));
                }
                let shown = if name == "file" {
                    field.file_name().unwrap_or("upload").to_string()
                } else {
                    "document.json".to_string()
                };
                let content_type = field.content_type().map(str::to_string);
                let path = dir.join(safe_name(&shown));
                let mut sink = Sink::create(&path).await?;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    sink.write(&chunk, &mut budget, limit).await?;
                }
                let (digest, len) = sink.finish().await?;
                if len == 0 {
                    // An empty file input or textarea: not what the user meant to send.
                    let _ = tokio::fs::remove_file(&path).await;
                    continue;
                }
                staged = Some(Staged {
                    path,
                    name: shown
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect(),
                    kind: None,
                    content_type,
                    digest,
                    len,
                });
            }
            _ => {
                // Small text fields (kind, out); anything else is counted and dropped.
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    take_budget(&mut budget, chunk.len(), limit)?;
                    if text.len() < 256 {
                        text.extend_from_slice(&chunk[..chunk.len().min(256 - text.len())]);
                    }
                }
                if name == "kind" {
                    kind = Some(String::from_utf8_lossy(&text).trim().to_string());
                }
            }
        }
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "the form has too many fields",
    ))
}

/// Receives a raw body whose Content-Type says what it is.
async fn receive_raw(
    body: Body,
    headers: &HeaderMap,
    params: &Params,
    dir: &Path,
    limits: &Limits,
) -> Result<Staged, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let shown = params
        .name
        .clone()
        .unwrap_or_else(|| match content_type.as_deref() {
            Some(t) if t.contains("json") => "document.json".to_string(),
            _ => "upload".to_string(),
        });
    let path = dir.join(safe_name(&shown));
    let limit = limits.max_upload_bytes;
    let mut budget = limit;
    let mut sink = Sink::create(&path).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
        })?;
        sink.write(&chunk, &mut budget, limit).await?;
    }
    let (digest, len) = sink.finish().await?;
    if len == 0 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "the body is empty"));
    }
    Ok(Staged {
        path,
        name: shown
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
        kind: params.kind.clone().filter(|k| !k.is_empty() && k != "auto"),
        content_type,
        digest,
        len,
    })
}

/// What a staged upload is, decided from its bytes and what the client said about it.
enum Prepared {
    /// An oci-archive (inflated on the blocking thread if gzip).
    Archive(PathBuf),
    /// A layout directory (a fetched reference).
    Layout(PathBuf),
    /// A JSON document.
    Document(PathBuf, DocKind),
}

fn parse_kind(kind: &str) -> Result<DocKind, ApiError> {
    DocKind::parse(kind)
        .or_else(|| DocKind::from_media_type(kind))
        .ok_or_else(|| {
            let names: Vec<&str> = DocKind::ALL.iter().map(|k| k.def_name()).collect();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown kind {kind:.80?}; expected one of {}",
                    names.join(", ")
                ),
            )
        })
}

async fn classify(staged: &Staged, limits: &Limits) -> Result<Prepared, ApiError> {
    let mut head = vec![0u8; 512];
    let n = {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(&staged.path).await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp file: {e}"))
        })?;
        let mut n = 0;
        while n < head.len() {
            let m = f.read(&mut head[n..]).await.map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp file: {e}"))
            })?;
            if m == 0 {
                break;
            }
            n += m;
        }
        n
    };
    let head = &head[..n];
    if oci_certify_image::layout::looks_like_archive(head) {
        return Ok(Prepared::Archive(staged.path.clone()));
    }
    if staged.len > limits.max_json_bytes as u64 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} is {} bytes and not an archive; a JSON document is limited to {} bytes",
                staged.name, staged.len, limits.max_json_bytes
            ),
        ));
    }
    let explicit = staged.kind.clone().or_else(|| {
        staged
            .content_type
            .as_deref()
            .filter(|t| DocKind::from_media_type(t).is_some())
            .map(str::to_string)
    });
    let kind = match explicit {
        Some(k) => parse_kind(&k)?,
        None if safe_name(&staged.name) == "config.json" => DocKind::RuntimeConfig,
        None => {
            let bytes = tokio::fs::read(&staged.path).await.map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp file: {e}"))
            })?;
            image_kind_for(&safe_name(&staged.name), &bytes, None).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "cannot tell what kind of document this is: it is not an archive and has no known mediaType; pick a kind (?kind=image-manifest, runtime-config, …)",
                )
            })?
        }
    };
    Ok(Prepared::Document(staged.path.clone(), kind))
}

/// The subdirectory of a request's temp dir that holds what the client sent.
// A leading dot: no name `safe_name` returns can collide with it.
const UPLOADS: &str = ".upload";

/// A request's temp dir and its cancellation flag. Dropping the guard removes the directory.
struct Scratch {
    dir: Arc<tempfile::TempDir>,
    cancel: Arc<AtomicBool>,
}

impl Scratch {
    fn new(config: &Config) -> Result<Scratch, ApiError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("oci-certify-serve-");
        let dir = match &config.temp_dir {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp dir: {e}")))?;
        std::fs::create_dir(dir.path().join(UPLOADS)).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp dir: {e}"))
        })?;
        Ok(Scratch {
            dir: Arc::new(dir),
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The request ended before its validation did: stop what can be stopped and remove the
    /// files now (open descriptors of a running engine stay valid until it ends).
    fn abandon(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_dir_all(self.dir.path());
    }
}

/// Runs a validation on the blocking pool, behind the concurrency semaphore.
async fn validate(
    st: &AppState,
    scratch: &Scratch,
    prepared: Prepared,
    subject: String,
    format: Format,
) -> Result<Reports, ApiError> {
    let permit = st
        .validations
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let limits = st.config.limits.clone();
    let dir = scratch.dir.clone();
    let cancel = scratch.cancel.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let uploads = dir.path().join(UPLOADS);
        let hide = [uploads.as_path(), dir.path()];
        let result = match prepared {
            Prepared::Archive(path) => {
                let link = dir
                    .path()
                    .join(path.file_name().unwrap_or("upload".as_ref()));
                validate::run_archive(&path, &link, &subject, &hide, format, &limits, cancel)
            }
            Prepared::Layout(path) => {
                validate::run(&Input::Layout(path), &subject, &hide, format, &limits)
            }
            Prepared::Document(path, kind) => validate::run(
                &Input::Document { path, kind },
                &subject,
                &hide,
                format,
                &limits,
            ),
        };
        drop(dir);
        result
    });
    match task.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the validation broke (a bug in oci-certify, please report it): {e}"),
        )),
    }
}

fn report_response(st: &AppState, reports: Reports, format: Format, key: Option<&str>) -> Response {
    if let Some(key) = key {
        st.verdicts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), reports.verdict);
    }
    let (content_type, body) = match format {
        Format::Json => ("application/json", reports.json),
        Format::Tap => (
            "text/plain; charset=utf-8",
            reports.other.unwrap_or_default(),
        ),
        Format::Junit => ("application/xml", reports.other.unwrap_or_default()),
        Format::Html => {
            let page = serde_json::from_slice(&reports.json)
                .map(|v| html::result(&v))
                .unwrap_or_else(|e| html::error(500, "Internal Server Error", &e.to_string()));
            ("text/html; charset=utf-8", page.into_bytes())
        }
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "oci-certify-verdict",
        HeaderValue::from_static(reports.verdict.as_str()),
    );
    if let Some(v) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        h.insert("oci-certify-digest", v);
    }
    response
}

fn busy(st: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    st.pending.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is busy; try again shortly",
        )
    })
}

fn timed_out(limits: &Limits) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "the request took longer than {} s and was abandoned",
            limits.request_timeout.as_secs_f64()
        ),
    )
}

/// `POST /api/v1/check`.
async fn check_upload(
    State(st): State<Arc<AppState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let html = params.out.as_deref() == Some("html")
        || (params.out.is_none() && negotiate(&params, &headers).ok() == Some(Format::Html));
    match check_upload_inner(&st, &params, &headers, request).await {
        Ok(r) => r,
        Err(mut e) => {
            e.html = html;
            e.into_response()
        }
    }
}

async fn check_upload_inner(
    st: &Arc<AppState>,
    params: &Params,
    headers: &HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let format = negotiate(params, headers)?;
    let limits = &st.config.limits;
    too_large_by_header(headers, limits.max_upload_bytes)?;
    let _pending = busy(st)?;
    let scratch = Scratch::new(&st.config)?;
    let deadline = Instant::now() + limits.request_timeout;
    let work = async {
        let is_multipart = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        let staged = if is_multipart {
            receive_multipart(request, &scratch.dir.path().join(UPLOADS), limits).await?
        } else {
            receive_raw(
                request.into_body(),
                headers,
                params,
                &scratch.dir.path().join(UPLOADS),
                limits,
            )
            .await?
        };
        let prepared = classify(&staged, limits).await?;
        let reports = validate(st, &scratch, prepared, staged.name.clone(), format).await?;
        Ok(report_response(st, reports, format, Some(&staged.digest)))
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(result) => result,
        Err(_) => {
            scratch.abandon();
            Err(timed_out(limits))
        }
    }
}

/// Fetches a reference into the scratch dir and validates it.
async fn run_reference(
    st: &Arc<AppState>,
    reference: &str,
    format: Format,
) -> Result<(Reports, Option<String>), ApiError> {
    let reference = Reference::parse(reference)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let Some(fetcher) = st.config.fetcher.clone() else {
        return Err(FetchError::NotAvailable.into());
    };
    let limits = &st.config.limits;
    let _pending = busy(st)?;
    let scratch = Scratch::new(&st.config)?;
    let deadline = Instant::now() + limits.request_timeout;
    let policy = AddressPolicy {
        allow_private: st.config.allow_private,
    };
    let work = async {
        policy
            .check(reference.host(), reference.port().unwrap_or(443))
            .await?;
        let dest = scratch.dir.path().join("layout");
        std::fs::create_dir(&dest).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("temp dir: {e}"))
        })?;
        let fetch_limits = FetchLimits {
            max_total_bytes: limits.max_upload_bytes,
            max_blobs: limits.max_blobs,
            max_manifest_bytes: limits.max_json_bytes,
            timeout: limits.request_timeout,
        };
        fetcher
            .fetch_to_layout(&reference, &dest, policy, &fetch_limits)
            .await?;
        let reports = validate(
            st,
            &scratch,
            Prepared::Layout(dest),
            reference.to_string(),
            format,
        )
        .await?;
        Ok::<_, ApiError>((reports, reference.digest.clone()))
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(result) => result,
        Err(_) => {
            scratch.abandon();
            Err(timed_out(limits))
        }
    }
}

/// `GET /api/v1/check?ref=...`.
async fn check_reference(
    State(st): State<Arc<AppState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let html = params.out.as_deref() == Some("html")
        || (params.out.is_none() && negotiate(&params, &headers).ok() == Some(Format::Html));
    let result = async {
        let format = negotiate(&params, &headers)?;
        let Some(reference) = params.reference.as_deref().filter(|r| !r.trim().is_empty()) else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "give a registry reference: ?ref=host/repository:tag or …@sha256:…",
            ));
        };
        let (reports, digest) = run_reference(&st, reference, format).await?;
        Ok(report_response(&st, reports, format, digest.as_deref()))
    }
    .await;
    result.unwrap_or_else(|mut e| {
        e.html = html;
        e.into_response()
    })
}

/// `GET /api/v1/badge?ref=...` or `?digest=...`.
async fn badge_handler(State(st): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    let (status, value) = if let Some(digest) = params.digest.as_deref() {
        let found = st
            .verdicts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .get(digest)
            .copied();
        match found {
            Some(v) => (StatusCode::OK, v.as_str().to_string()),
            None => (StatusCode::NOT_FOUND, "unknown".to_string()),
        }
    } else if let Some(reference) = params.reference.as_deref() {
        match run_reference(&st, reference, Format::Json).await {
            Ok((reports, digest)) => {
                if let Some(d) = digest {
                    st.verdicts
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(d, reports.verdict);
                }
                (StatusCode::OK, reports.verdict.as_str().to_string())
            }
            Err(e) if e.status == StatusCode::NOT_IMPLEMENTED => (e.status, "unavailable".into()),
            Err(e) => (e.status, "error".into()),
        }
    } else {
        (StatusCode::BAD_REQUEST, "give ?ref= or ?digest=".into())
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        badge::svg(&value),
    )
        .into_response()
}

/// Binds `addr` and serves until Ctrl-C or SIGTERM; prints the address it listens on.
pub async fn run_until_signal(addr: SocketAddr, config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("oci-certify serve: listening on http://{local}/");
    serve(listener, config, async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
    .await
}

/// [`run_until_signal`] on a multi-threaded tokio runtime of its own: the entry point of
/// `oci-certify serve`.
pub fn run_blocking(addr: SocketAddr, config: Config) -> std::io::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_until_signal(addr, config))
}
