//! A fault-injecting HTTP proxy in front of a real registry, for proving the checks can fail.
//!
//! [`Proxy::start`] listens on a free loopback port, forwards every request to the upstream
//! registry (bytes untouched, `Location` and `Link` rewritten to point back at the proxy) and
//! breaks exactly one behaviour, chosen by [`Fault`]. It can also stand in for an
//! authenticating front end: [`ProxyAuth::Basic`] demands basic credentials,
//! [`ProxyAuth::Token`] answers with a `WWW-Authenticate: Bearer` challenge and serves the
//! token endpoint itself, so both client auth flows are exercised for real.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One behaviour to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward faithfully.
    None,
    /// Drop `Docker-Content-Digest` from manifest GET responses.
    DropManifestDigestHeader,
    /// Flip the last byte of every blob GET body.
    CorruptBlobByte,
    /// Answer blob GETs with 203 instead of 200.
    BlobGetStatus203,
    /// Answer manifest PUTs with 200 instead of 201.
    ManifestPut200,
    /// Drop `Range` from chunk PATCH responses.
    DropPatchRange,
    /// Answer upload status GETs with 200 instead of 204.
    UploadStatus200,
    /// Strip `n` from tag listing requests.
    IgnoreTagsN,
    /// Reverse the tag arrays of tag listings.
    ReverseTags,
    /// Answer manifest DELETEs with 200 instead of 202.
    DeleteManifest200,
    /// Answer manifest GET 404s with 500.
    ManifestNotFound500,
    /// Strip `Range` from requests.
    IgnoreRange,
    /// Lowercase the error codes in JSON error bodies.
    LowercaseErrorCodes,
    /// Add a `Warning` header with warn-code 199 to every response.
    BadWarning,
    /// Add `; charset=utf-8` to manifest GET Content-Types.
    ContentTypeCharset,
    /// Re-encode manifest GET bodies as compact JSON.
    ReencodeManifest,
    /// Answer tag listings for `n=0` with a Link header.
    LinkOnNZero,
    /// (Referrers shim) leave out `OCI-Filters-Applied` although the filter was applied.
    DropFiltersApplied,
    /// (Referrers shim) leave the annotations out of referrer descriptors.
    DropReferrerAnnotations,
    /// (Referrers shim) no `artifactType` for referrers that only have a config media type.
    NoConfigArtifactType,
    /// (Referrers shim) no `OCI-Subject` on manifest PUTs with a subject.
    DropOciSubject,
    /// (Referrers shim) 404 for a subject nothing refers to.
    ReferrersNotFound,
    /// Accept manifest PUTs to tags outside the tag grammar, and upload POSTs to repository
    /// names outside the name grammar, without asking the registry.
    AcceptBadNames,
    /// Not a fault: answer blob GETs with a `307` to the upstream registry, as registries
    /// backed by object storage do. The suite must follow it and find nothing wrong.
    RedirectBlobs,
}

impl Fault {
    /// Every fault.
    pub const ALL: &'static [Fault] = &[
        Fault::DropManifestDigestHeader,
        Fault::CorruptBlobByte,
        Fault::BlobGetStatus203,
        Fault::ManifestPut200,
        Fault::DropPatchRange,
        Fault::UploadStatus200,
        Fault::IgnoreTagsN,
        Fault::ReverseTags,
        Fault::DeleteManifest200,
        Fault::ManifestNotFound500,
        Fault::IgnoreRange,
        Fault::LowercaseErrorCodes,
        Fault::BadWarning,
        Fault::ContentTypeCharset,
        Fault::ReencodeManifest,
        Fault::LinkOnNZero,
        Fault::DropFiltersApplied,
        Fault::DropReferrerAnnotations,
        Fault::NoConfigArtifactType,
        Fault::DropOciSubject,
        Fault::ReferrersNotFound,
        Fault::RedirectBlobs,
        Fault::AcceptBadNames,
    ];
}

/// Authentication the proxy demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyAuth {
    /// None.
    None,
    /// Basic credentials.
    Basic {
        /// User.
        username: String,
        /// Password.
        password: String,
    },
    /// Bearer tokens from the proxy's own `/token` endpoint, which takes these basic
    /// credentials.
    Token {
        /// User.
        username: String,
        /// Password.
        password: String,
    },
}

/// How the proxy behaves.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The behaviour to break.
    pub fault: Fault,
    /// Authentication to demand.
    pub auth: ProxyAuth,
    /// Serve tag listings the way the spec describes (sorted, `n`, `last`, `Link`), computed
    /// from the upstream's full list, so tag faults can be shown against a registry whose own
    /// listing diverges.
    pub conforming_tags: bool,
    /// Serve a referrers API (from the manifests with `subject` pushed through the proxy) the
    /// way the spec describes, and answer such pushes with `OCI-Subject`, so the referrers
    /// checks can be shown working and failing against a registry that has no referrers API.
    pub referrers: bool,
}

impl ProxyOptions {
    /// A proxy breaking `fault`, without auth, forwarding tag listings as they are.
    pub fn fault(fault: Fault) -> ProxyOptions {
        ProxyOptions {
            fault,
            auth: ProxyAuth::None,
            conforming_tags: false,
            referrers: false,
        }
    }
}

type Referrers =
    std::sync::Mutex<std::collections::HashMap<(String, String), Vec<serde_json::Value>>>;

struct State {
    conforming_tags: bool,
    referrers: Option<Referrers>,
    upstream: String,
    me: String,
    fault: Fault,
    auth: ProxyAuth,
    token: String,
    http: reqwest::Client,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (a base URL such as `http://127.0.0.1:5000`).
    pub fn start(upstream: &str, options: ProxyOptions) -> std::io::Result<Proxy> {
        let ProxyOptions {
            fault,
            auth,
            conforming_tags,
            referrers,
        } = options;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(State {
            conforming_tags,
            referrers: referrers.then(Default::default),
            upstream: upstream.trim_end_matches('/').to_string(),
            me: format!("http://{addr}"),
            fault,
            auth,
            token: format!(
                "tok-{}",
                crate::content::Rng::new(addr.port() as u64).word()
            ),
            http,
        });
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        acc = listener.accept() => {
                            let Ok((stream, _)) = acc else { continue };
                            let state = state.clone();
                            tokio::spawn(async move {
                                let svc = service_fn(move |req| handle(state.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        Ok(Proxy {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: u16, headers: &[(&str, String)], body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn basic_ok(req: &Request<Incoming>, user: &str, pass: &str) -> bool {
    use base64::Engine as _;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    );
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(want.as_str())
}

const UNAUTHORIZED: &str =
    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;

async fn handle(
    st: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    // Authentication.
    match &st.auth {
        ProxyAuth::None => {}
        ProxyAuth::Basic { username, password } => {
            if !basic_ok(&req, username, password) {
                return Ok(reply(
                    401,
                    &[
                        (
                            "WWW-Authenticate",
                            "Basic realm=\"oci-certify-proxy\"".into(),
                        ),
                        ("Content-Type", "application/json".into()),
                    ],
                    UNAUTHORIZED,
                ));
            }
        }
        ProxyAuth::Token { username, password } => {
            if path == "/token" {
                if !basic_ok(&req, username, password) {
                    return Ok(reply(401, &[], "bad credentials"));
                }
                return Ok(reply(
                    200,
                    &[("Content-Type", "application/json".into())],
                    format!("{{\"token\":\"{}\"}}", st.token),
                ));
            }
            let want = format!("Bearer {}", st.token);
            if req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                != Some(want.as_str())
            {
                let challenge = format!("Bearer realm=\"{}/token\",service=\"oci-certify-proxy\",scope=\"repository:x:pull,push\"", st.me);
                return Ok(reply(
                    401,
                    &[
                        ("WWW-Authenticate", challenge),
                        ("Content-Type", "application/json".into()),
                    ],
                    UNAUTHORIZED,
                ));
            }
        }
    }
    let method = req.method().clone();
    if st.referrers.is_some() && method == hyper::Method::GET {
        if let Some((repo, digest)) = path
            .strip_prefix("/v2/")
            .and_then(|p| p.split_once("/referrers/"))
        {
            return Ok(serve_referrers(
                &st,
                repo,
                digest,
                req.uri().query().unwrap_or(""),
            ));
        }
    }
    if st.fault == Fault::RedirectBlobs
        && method == hyper::Method::GET
        && path.contains("/blobs/sha")
    {
        let target = match req.uri().query() {
            Some(q) => format!("{}{path}?{q}", st.upstream),
            None => format!("{}{path}", st.upstream),
        };
        return Ok(reply(307, &[("Location", target)], Bytes::new()));
    }
    if st.fault == Fault::AcceptBadNames {
        if let Some(rest) = path.strip_prefix("/v2/") {
            if let Some((repo, tag)) = rest.split_once("/manifests/") {
                let is_digest = tag.contains(':');
                if method == hyper::Method::PUT
                    && !is_digest
                    && !crate::reference::is_valid_tag(tag)
                {
                    let loc = format!("/v2/{repo}/manifests/{tag}");
                    return Ok(reply(201, &[("Location", loc)], Bytes::new()));
                }
            }
            if let Some(repo) = rest.strip_suffix("/blobs/uploads/") {
                if method == hyper::Method::POST && !crate::reference::is_valid_repository(repo) {
                    let loc = format!("/v2/{repo}/blobs/uploads/fake");
                    return Ok(reply(202, &[("Location", loc)], Bytes::new()));
                }
            }
        }
    }
    let mut query = req.uri().query().unwrap_or("").to_string();
    let is_tags = path.ends_with("/tags/list");
    let is_manifest = path.contains("/manifests/");
    let is_blob = path.contains("/blobs/") && !path.contains("/blobs/uploads");
    let is_upload = path.contains("/blobs/uploads/")
        && path.len() > path.find("/blobs/uploads/").unwrap_or(0) + "/blobs/uploads/".len();
    if st.fault == Fault::IgnoreTagsN && is_tags {
        query = query
            .split('&')
            .filter(|p| !p.starts_with("n="))
            .collect::<Vec<_>>()
            .join("&");
    }
    let n_zero = is_tags && query.split('&').any(|p| p == "n=0");
    let shim = st.conforming_tags && is_tags && method == hyper::Method::GET;
    let shim_query = std::mem::take(&mut query);
    if !shim {
        query = shim_query.clone();
    }
    let url = if query.is_empty() {
        format!("{}{path}", st.upstream)
    } else {
        format!("{}{path}?{query}", st.upstream)
    };
    let mut fwd = st.http.request(method.clone(), url);
    for (k, v) in req.headers() {
        let name = k.as_str();
        let hop_by_hop = matches!(
            name,
            "host"
                | "authorization"
                | "content-length"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "te"
                | "upgrade"
        );
        if hop_by_hop || (st.fault == Fault::IgnoreRange && name == "range") {
            continue;
        }
        fwd = fwd.header(k.clone(), v.clone());
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(400, &[], "bad request body")),
    };
    let debug = std::env::var_os("PROXY_DEBUG").is_some();
    if debug {
        eprintln!("proxy > {method} {path}?{query}");
    }
    let pushed = (st.referrers.is_some() && is_manifest && method == hyper::Method::PUT)
        .then(|| body.clone());
    let resp = match fwd.body(body).send().await {
        Ok(r) => {
            if debug {
                eprintln!("proxy < {method} {path} {}", r.status());
            }
            r
        }
        Err(e) => return Ok(reply(502, &[], e.to_string())),
    };
    let mut status = resp.status().as_u16();
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        })
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).replace(&st.upstream, &st.me),
            )
        })
        .collect();
    let head = method == hyper::Method::HEAD;
    let upstream_len = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = resp.bytes().await.unwrap_or_default().to_vec();
    if shim && status == 200 {
        if let Some((b, link)) = conforming_tags(&body, &path, &shim_query) {
            body = b;
            if let Some(l) = link {
                headers.push(("link".into(), l));
            }
        }
    }
    if let (Some(bytes), true) = (pushed, status == 201) {
        if let Some(subject) = record_referrer(&st, &path, &bytes) {
            if st.fault != Fault::DropOciSubject {
                headers.push(("oci-subject".into(), subject));
            }
        }
    }
    let drop_header = |headers: &mut Vec<(String, String)>, name: &str| {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name))
    };
    match st.fault {
        Fault::DropManifestDigestHeader if is_manifest && method == hyper::Method::GET => {
            drop_header(&mut headers, "docker-content-digest")
        }
        Fault::CorruptBlobByte if is_blob && method == hyper::Method::GET && status == 200 => {
            if let Some(b) = body.last_mut() {
                *b ^= 0xff;
            }
        }
        Fault::BlobGetStatus203 if is_blob && method == hyper::Method::GET && status == 200 => {
            status = 203
        }
        Fault::ManifestPut200 if is_manifest && method == hyper::Method::PUT && status == 201 => {
            status = 200
        }
        Fault::DropPatchRange if is_upload && method == hyper::Method::PATCH => {
            drop_header(&mut headers, "range")
        }
        Fault::UploadStatus200 if is_upload && method == hyper::Method::GET && status == 204 => {
            status = 200
        }
        Fault::ReverseTags if is_tags => {
            if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) {
                if let Some(t) = v.get_mut("tags").and_then(|t| t.as_array_mut()) {
                    t.reverse();
                }
                body = serde_json::to_vec(&v).unwrap_or(body);
            }
        }
        Fault::DeleteManifest200
            if is_manifest && method == hyper::Method::DELETE && status == 202 =>
        {
            status = 200
        }
        Fault::ManifestNotFound500
            if is_manifest && method == hyper::Method::GET && status == 404 =>
        {
            status = 500
        }
        Fault::LowercaseErrorCodes if (400..500).contains(&status) => {
            if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) {
                if let Some(errs) = v.get_mut("errors").and_then(|e| e.as_array_mut()) {
                    for e in errs {
                        if let Some(c) = e
                            .get("code")
                            .and_then(|c| c.as_str())
                            .map(str::to_ascii_lowercase)
                        {
                            e["code"] = serde_json::Value::String(c);
                        }
                    }
                }
                body = serde_json::to_vec(&v).unwrap_or(body);
            }
        }
        Fault::BadWarning => {
            headers.push(("warning".into(), "199 - \"from the fault proxy\"".into()))
        }
        Fault::ContentTypeCharset
            if is_manifest && method == hyper::Method::GET && status == 200 =>
        {
            for (k, v) in headers.iter_mut() {
                if k == "content-type" {
                    v.push_str("; charset=utf-8");
                }
            }
        }
        Fault::ReencodeManifest if is_manifest && method == hyper::Method::GET && status == 200 => {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                body = serde_json::to_vec(&v).unwrap_or(body);
            }
        }
        Fault::LinkOnNZero if n_zero => {
            headers.push(("link".into(), format!("<{}{path}?n=1>; rel=\"next\"", "")))
        }
        _ => {}
    }
    let mut r = reply(status, &[], Bytes::new());
    for (k, v) in &headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    if head {
        // A HEAD answer keeps the upstream's Content-Length and has no body.
        if let Some(l) = upstream_len.and_then(|l| hyper::header::HeaderValue::from_str(&l).ok()) {
            r.headers_mut().insert("content-length", l);
        }
    } else {
        *r.body_mut() = Full::new(Bytes::from(body));
    }
    Ok(r)
}

/// A spec-conforming tag listing computed from the full list: sorted, after `last`, at most
/// `n`, with a `Link` when more remain (never for `n=0`).
fn conforming_tags(body: &[u8], path: &str, query: &str) -> Option<(Vec<u8>, Option<String>)> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut tags: Vec<String> = v
        .get("tags")?
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    let mut n = None;
    let mut last = None;
    for (k, val) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "n" => n = val.parse::<usize>().ok(),
            "last" => last = Some(val.into_owned()),
            _ => {}
        }
    }
    if let Some(l) = &last {
        tags.retain(|t| t > l);
    }
    let mut link = None;
    if let Some(n) = n {
        if tags.len() > n && n > 0 {
            link = Some(format!("<{path}?n={n}&last={}>; rel=\"next\"", tags[n - 1]));
        }
        tags.truncate(n);
    }
    v["tags"] = serde_json::json!(tags);
    Some((serde_json::to_vec(&v).ok()?, link))
}

/// Remembers a pushed manifest with a `subject`; returns the subject's digest.
fn record_referrer(st: &State, path: &str, bytes: &[u8]) -> Option<String> {
    let map = st.referrers.as_ref()?;
    let repo = path
        .strip_prefix("/v2/")?
        .split_once("/manifests/")?
        .0
        .to_string();
    let doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let subject = doc.get("subject")?.get("digest")?.as_str()?.to_string();
    let media_type = doc
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or(crate::content::MANIFEST);
    let mut d = serde_json::json!({"mediaType": media_type, "digest": crate::digest::sha256(bytes), "size": bytes.len()});
    let artifact_type = doc
        .get("artifactType")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
        .or_else(|| {
            if media_type == crate::content::INDEX || st.fault == Fault::NoConfigArtifactType {
                None
            } else {
                doc.get("config")?.get("mediaType")?.as_str()
            }
        });
    if let Some(a) = artifact_type {
        d["artifactType"] = serde_json::Value::String(a.to_string());
    }
    if let Some(a) = doc
        .get("annotations")
        .filter(|_| st.fault != Fault::DropReferrerAnnotations)
    {
        d["annotations"] = a.clone();
    }
    let mut m = map.lock().ok()?;
    let list = m.entry((repo, subject.clone())).or_default();
    if !list.iter().any(|x| x["digest"] == d["digest"]) {
        list.push(d);
    }
    Some(subject)
}

/// `GET /v2/<repo>/referrers/<digest>` as the spec describes it.
fn serve_referrers(st: &State, repo: &str, digest: &str, query: &str) -> Response<Full<Bytes>> {
    if crate::digest::parse(digest).is_none() {
        return reply(
            400,
            &[("Content-Type", "application/json".into())],
            r#"{"errors":[{"code":"DIGEST_INVALID","message":"invalid digest"}]}"#,
        );
    }
    let list = st
        .referrers
        .as_ref()
        .and_then(|m| {
            m.lock()
                .ok()
                .and_then(|m| m.get(&(repo.to_string(), digest.to_string())).cloned())
        })
        .unwrap_or_default();
    if list.is_empty() && st.fault == Fault::ReferrersNotFound {
        return reply(404, &[], "404 page not found");
    }
    let filter = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "artifactType")
        .map(|(_, v)| v.into_owned());
    let mut headers = vec![("Content-Type", crate::content::INDEX.to_string())];
    let list: Vec<serde_json::Value> = match &filter {
        Some(f) => {
            if st.fault != Fault::DropFiltersApplied {
                headers.push(("OCI-Filters-Applied", "artifactType".into()));
            }
            list.into_iter()
                .filter(|d| d.get("artifactType").and_then(|a| a.as_str()) == Some(f.as_str()))
                .collect()
        }
        None => list,
    };
    let body = serde_json::json!({"schemaVersion": 2, "mediaType": crate::content::INDEX, "manifests": list});
    reply(200, &headers, serde_json::to_vec(&body).unwrap_or_default())
}
