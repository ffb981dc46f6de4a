//! The HTTP driver: every request the suite or a puller makes goes through [`Client`].
//!
//! - **No hidden behaviour.** reqwest is built without automatic decompression and without
//!   automatic redirects: the driver follows redirects itself (GET and HEAD only, bounded),
//!   records every hop, and drops credentials when a redirect leaves the origin. Bytes and
//!   lengths are exactly what the registry sent.
//! - **Authentication.** Basic credentials are sent when the registry challenges for them; a
//!   `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge is answered by asking
//!   the realm for a token (with the basic credentials, if any) and retrying once. Tokens are
//!   cached per repository.
//! - **Evidence.** [`Exchange`] keeps the request line, the request headers, the status, the
//!   response headers and a bounded body, and renders them as a [`Location::Http`] with
//!   credentials redacted.
//! - **SSRF.** With [`ClientOptions::deny_private_addresses`], a custom DNS resolver drops
//!   loopback, link-local, private, unique-local, CGNAT, unspecified, broadcast and multicast
//!   addresses, literal-IP hosts are checked before every hop, and so are redirect targets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_certify_core::check::Location;
use oci_certify_core::fault::{Blame, Fault};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use thiserror::Error;
use url::Url;

/// Credentials.
#[derive(Clone, Default)]
pub enum Auth {
    /// Anonymous.
    #[default]
    None,
    /// User name and password: sent as basic auth, or to a token endpoint.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// A ready bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// How to build a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The registry's base URL (scheme, host, port), e.g. `http://127.0.0.1:5000`.
    pub base_url: Url,
    /// Credentials.
    pub auth: Auth,
    /// Refuse to connect to non-public addresses (see the module docs).
    pub deny_private_addresses: bool,
    /// Timeout of one request (connect to last byte).
    pub timeout: Duration,
    /// Largest response body [`Client::send`] buffers; more is a [`ClientError::TooLarge`].
    pub max_body_bytes: u64,
    /// Most redirects followed for one request.
    pub max_redirects: usize,
}

impl ClientOptions {
    /// Options for a base URL: anonymous, private addresses allowed, 30 s timeout, 16 MiB bodies.
    pub fn new(base_url: Url) -> ClientOptions {
        ClientOptions {
            base_url,
            auth: Auth::None,
            deny_private_addresses: false,
            timeout: Duration::from_secs(30),
            max_body_bytes: 16 << 20,
            max_redirects: 5,
        }
    }

    /// Options for a registry host as written in a reference: `https://HOST` unless `insecure`
    /// (then `http://HOST`).
    pub fn for_registry(host: &str, insecure: bool) -> Result<ClientOptions, ClientError> {
        let scheme = if insecure { "http" } else { "https" };
        let url = Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| ClientError::Url(format!("{host}: {e}")))?;
        Ok(ClientOptions::new(url))
    }
}

/// Why a request could not be completed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// A URL could not be built or parsed.
    #[error("bad URL: {0}")]
    Url(String),
    /// The connection failed, timed out, or the body broke off.
    #[error("{method} {url}: {message}")]
    Transport {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// reqwest's error chain.
        message: String,
    },
    /// A host resolved only to addresses the client refuses.
    #[error("refused to connect to {0}: not a public address")]
    Denied(String),
    /// Too many redirects, or a redirect without a usable Location.
    #[error("{0}")]
    Redirect(String),
    /// The body was larger than allowed.
    #[error("{url}: the response body is larger than {limit} bytes")]
    TooLarge {
        /// URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The token endpoint failed.
    #[error("token endpoint {realm}: {message}")]
    Token {
        /// The realm.
        realm: String,
        /// What went wrong.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Build(String),
}

impl Blame for ClientError {
    fn fault(&self) -> Fault {
        match self {
            ClientError::Url(_) | ClientError::Denied(_) => Fault::Input,
            ClientError::Transport { .. } => Fault::Environment,
            ClientError::Redirect(_) | ClientError::TooLarge { .. } | ClientError::Token { .. } => {
                Fault::Subject
            }
            ClientError::Build(_) => Fault::Harness,
        }
    }
}

/// Whether an address is one [`ClientOptions::deny_private_addresses`] refuses.
pub fn is_denied_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => denied_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return denied_v4(v4);
            }
            let seg0 = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link local fe80::/10
                || (seg0 & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
                || (seg0 == 0x64 && v6.segments()[1] == 0xff9b) // NAT64 64:ff9b::/96
        }
    }
}

fn denied_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || o[0] >= 240 // reserved
}

/// The resolver used with `deny_private_addresses`.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_denied_address(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(ClientError::Denied(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// One request the driver sends. The URL is absolute or relative to the base URL.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL, or a path (with query) relative to the base URL.
    pub url: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// Follow redirects (GET and HEAD only).
    pub follow_redirects: bool,
}

impl Request {
    /// A request without body.
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            follow_redirects: true,
        }
    }
    /// GET.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::GET, url)
    }
    /// HEAD.
    pub fn head(url: impl Into<String>) -> Request {
        Request::new(Method::HEAD, url)
    }
    /// PUT.
    pub fn put(url: impl Into<String>) -> Request {
        Request::new(Method::PUT, url)
    }
    /// POST.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new(Method::POST, url)
    }
    /// PATCH.
    pub fn patch(url: impl Into<String>) -> Request {
        Request::new(Method::PATCH, url)
    }
    /// DELETE.
    pub fn delete(url: impl Into<String>) -> Request {
        Request::new(Method::DELETE, url)
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = body.into();
        self
    }
    /// Do not follow redirects.
    pub fn no_redirects(mut self) -> Request {
        self.follow_redirects = false;
        self
    }
}

/// One redirect the driver followed.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The URL that answered with a redirect.
    pub url: Url,
    /// Its status.
    pub status: u16,
    /// Where it pointed.
    pub location: String,
}

/// A completed request and its response, kept as evidence.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Method.
    pub method: Method,
    /// The URL of the final hop.
    pub url: Url,
    /// Request headers as sent by the suite (credentials are added by the driver and never
    /// recorded).
    pub request_headers: Vec<(String, String)>,
    /// Length of the request body.
    pub request_body_len: usize,
    /// Redirects followed before the final response.
    pub hops: Vec<Hop>,
    /// Final status.
    pub status: u16,
    /// Final response headers.
    pub headers: HeaderMap,
    /// Final response body (empty for HEAD).
    pub body: Bytes,
}

impl Exchange {
    /// The first value of a response header, if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a response header.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The request line.
    pub fn request_line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    /// The exchange as report evidence: request line and headers; status line, headers and
    /// the first 2 KiB of the body. Credentials are never part of it.
    pub fn location(&self) -> Location {
        let mut request = String::new();
        for hop in &self.hops {
            request.push_str(&format!(
                "{} {} -> {} Location: {}\n",
                self.method, hop.url, hop.status, hop.location
            ));
        }
        request.push_str(&self.request_line());
        for (k, v) in &self.request_headers {
            request.push_str(&format!("\n{k}: {}", redact(k, v)));
        }
        if self.request_body_len > 0 {
            request.push_str(&format!("\n({} body bytes)", self.request_body_len));
        }
        let mut response = format!("HTTP {}", self.status);
        for (k, v) in &self.headers {
            response.push_str(&format!(
                "\n{k}: {}",
                redact(k.as_str(), &String::from_utf8_lossy(v.as_bytes()))
            ));
        }
        if !self.body.is_empty() {
            const SHOWN: usize = 2048;
            let shown = &self.body[..self.body.len().min(SHOWN)];
            response.push_str("\n\n");
            match std::str::from_utf8(shown) {
                Ok(text) => response.push_str(text),
                Err(_) => response.push_str(&format!("({} binary bytes)", self.body.len())),
            }
            if self.body.len() > SHOWN {
                response.push_str(&format!("\n... ({} bytes in all)", self.body.len()));
            }
        }
        Location::Http { request, response }
    }
}

fn redact(name: &str, value: &str) -> String {
    let n = name.to_ascii_lowercase();
    if n == "authorization" || n == "proxy-authorization" || n == "cookie" || n == "set-cookie" {
        "<redacted>".to_string()
    } else {
        value.to_string()
    }
}

/// A response whose body has not been read yet (for streaming pulls).
pub struct Streaming {
    /// Final URL.
    pub url: Url,
    /// Redirects followed.
    pub hops: Vec<Hop>,
    /// The response.
    pub response: reqwest::Response,
}

/// The driver. Cheap to clone; clones share the connection pool, token cache and counter.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    options: Arc<ClientOptions>,
    tokens: Arc<Mutex<HashMap<String, String>>>,
    requests: Arc<AtomicU64>,
}

impl Client {
    /// Builds a client.
    pub fn new(options: ClientOptions) -> Result<Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .no_proxy()
            .pool_max_idle_per_host(16)
            .user_agent(concat!("oci-certify/", env!("CARGO_PKG_VERSION")));
        if options.deny_private_addresses {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Client {
            http,
            options: Arc::new(options),
            tokens: Arc::new(Mutex::new(HashMap::new())),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The options it was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// How many HTTP requests it has sent (every hop, token request and retry counts).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Resolves a request URL against the base URL.
    pub fn url(&self, url: &str) -> Result<Url, ClientError> {
        self.options
            .base_url
            .join(url)
            .map_err(|e| ClientError::Url(format!("{url}: {e}")))
    }

    fn check_target(&self, url: &Url) -> Result<(), ClientError> {
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(ClientError::Url(format!(
                    "{url}: scheme {other} is not http(s)"
                )))
            }
        }
        if self.options.deny_private_addresses {
            let ip = match url.host() {
                Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
                Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
                Some(url::Host::Domain(d)) => {
                    if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") {
                        return Err(ClientError::Denied(d.to_string()));
                    }
                    None
                }
                None => return Err(ClientError::Url(format!("{url}: no host"))),
            };
            if let Some(ip) = ip {
                if is_denied_address(ip) {
                    return Err(ClientError::Denied(ip.to_string()));
                }
            }
        }
        Ok(())
    }

    fn transport(method: &Method, url: &Url, e: &reqwest::Error) -> ClientError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        if message.contains("not a public address") {
            return ClientError::Denied(url.host_str().unwrap_or_default().to_string());
        }
        ClientError::Transport {
            method: method.to_string(),
            url: url.to_string(),
            message,
        }
    }

    async fn once(
        &self,
        req: &Request,
        url: &Url,
        authorization: Option<&str>,
    ) -> Result<reqwest::Response, ClientError> {
        self.check_target(url)?;
        let mut headers = HeaderMap::new();
        for (k, v) in &req.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| ClientError::Url(format!("header {k}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| ClientError::Url(format!("header {k}: {e}")))?;
            headers.append(name, value);
        }
        if let Some(a) = authorization {
            if let Ok(v) = HeaderValue::from_str(a) {
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.http
            .request(req.method.clone(), url.clone())
            .headers(headers)
            .body(req.body.clone())
            .send()
            .await
            .map_err(|e| Self::transport(&req.method, url, &e))
    }

    fn same_origin(a: &Url, b: &Url) -> bool {
        a.scheme() == b.scheme()
            && a.host() == b.host()
            && a.port_or_known_default() == b.port_or_known_default()
    }

    fn cache_key(url: &Url) -> String {
        // /v2/<name>/(manifests|blobs|tags|referrers)/... -> <name>
        let path = url.path();
        let Some(rest) = path.strip_prefix("/v2/") else {
            return String::new();
        };
        for marker in ["/manifests/", "/blobs/", "/tags/", "/referrers/"] {
            if let Some(i) = rest.find(marker) {
                return rest[..i].to_string();
            }
        }
        String::new()
    }

    fn static_authorization(&self) -> Option<String> {
        match &self.options.auth {
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            _ => None,
        }
    }

    /// Sends a request, handling authentication and (for GET and HEAD) redirects, and returns
    /// the response with its body unread.
    pub async fn stream(&self, req: &Request) -> Result<Streaming, ClientError> {
        let origin = self.url(&req.url)?;
        let mut url = origin.clone();
        let mut hops = Vec::new();
        loop {
            let same = Self::same_origin(&url, &self.options.base_url);
            let key = Self::cache_key(&url);
            let cached = if same {
                self.tokens
                    .lock()
                    .map(|t| t.get(&key).cloned())
                    .unwrap_or(None)
                    .or_else(|| self.static_authorization())
            } else {
                None
            };
            let mut resp = self.once(req, &url, cached.as_deref()).await?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED && same {
                if let Some(auth) = self.answer_challenge(resp.headers()).await? {
                    if let Ok(mut t) = self.tokens.lock() {
                        t.insert(key, auth.clone());
                    }
                    resp = self.once(req, &url, Some(&auth)).await?;
                }
            }
            let status = resp.status().as_u16();
            let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
            if !(redirect
                && req.follow_redirects
                && (req.method == Method::GET || req.method == Method::HEAD))
            {
                return Ok(Streaming {
                    url,
                    hops,
                    response: resp,
                });
            }
            if hops.len() >= self.options.max_redirects {
                return Err(ClientError::Redirect(format!(
                    "{} {origin}: more than {} redirects",
                    req.method, self.options.max_redirects
                )));
            }
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ClientError::Redirect(format!("{url}: {status} without a Location"))
                })?
                .to_string();
            let next = url
                .join(&location)
                .map_err(|e| ClientError::Redirect(format!("{url}: Location {location}: {e}")))?;
            hops.push(Hop {
                url: url.clone(),
                status,
                location,
            });
            url = next;
        }
    }

    /// Sends a request and reads the body (bounded by `max_body_bytes`).
    pub async fn send(&self, req: Request) -> Result<Exchange, ClientError> {
        let Streaming {
            url,
            hops,
            response,
        } = self.stream(&req).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let limit = self.options.max_body_bytes;
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Self::transport(&req.method, &url, &e))?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(ClientError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Exchange {
            method: req.method,
            url,
            request_headers: req.headers,
            request_body_len: req.body.len(),
            hops,
            status,
            headers,
            body: Bytes::from(body),
        })
    }

    /// Answers a 401's challenge: the Authorization value to retry with, if any.
    async fn answer_challenge(&self, headers: &HeaderMap) -> Result<Option<String>, ClientError> {
        let challenges: Vec<String> = headers
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &challenges {
            let (scheme, params) = c.split_once(' ').unwrap_or((c.as_str(), ""));
            if scheme.eq_ignore_ascii_case("basic") {
                if let Auth::Basic { username, password } = &self.options.auth {
                    use base64::Engine as _;
                    let enc = base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"));
                    return Ok(Some(format!("Basic {enc}")));
                }
            } else if scheme.eq_ignore_ascii_case("bearer") {
                let params = parse_challenge_params(params);
                let Some(realm) = params.get("realm") else {
                    continue;
                };
                return self.fetch_token(realm, &params).await.map(Some);
            }
        }
        Ok(None)
    }

    async fn fetch_token(
        &self,
        realm: &str,
        params: &HashMap<String, String>,
    ) -> Result<String, ClientError> {
        let token_err = |message: String| ClientError::Token {
            realm: realm.to_string(),
            message,
        };
        let mut url = Url::parse(realm).map_err(|e| token_err(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = params.get("service") {
                q.append_pair("service", s);
            }
            if let Some(s) = params.get("scope") {
                for scope in s.split(' ') {
                    q.append_pair("scope", scope);
                }
            }
        }
        self.check_target(&url)?;
        let mut req = self.http.get(url.clone());
        if let Auth::Basic { username, password } = &self.options.auth {
            req = req.basic_auth(username, Some(password));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = req
            .send()
            .await
            .map_err(|e| Self::transport(&Method::GET, &url, &e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Self::transport(&Method::GET, &url, &e))?;
        if !status.is_success() {
            return Err(token_err(format!("answered {status}")));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| token_err(format!("not JSON: {e}")))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| token_err("no token or access_token in the answer".into()))?;
        Ok(format!("Bearer {token}"))
    }
}

/// Parses `k="v",k2=v2` challenge parameters.
fn parse_challenge_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let key = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denies_private_ranges() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_denied_address(a.parse().unwrap()), "{a}");
        }
        for a in [
            "8.8.8.8",
            "100.128.0.1",
            "2001:4860:4860::8888",
            "172.32.0.1",
        ] {
            assert!(!is_denied_address(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn challenge_params() {
        let p = parse_challenge_params(
            r#"realm="http://a/token",service="reg",scope="repository:x:pull,push""#,
        );
        assert_eq!(p["realm"], "http://a/token");
        assert_eq!(p["scope"], "repository:x:pull,push");
        assert_eq!(p["service"], "reg");
    }

    #[tokio::test]
    async fn literal_private_hosts_are_refused() {
        let mut o = ClientOptions::new(Url::parse("http://127.0.0.1:1/").unwrap());
        o.deny_private_addresses = true;
        let c = Client::new(o).unwrap();
        for u in [
            "http://127.0.0.1:1/v2/",
            "http://[::1]:1/v2/",
            "http://localhost:1/v2/",
            "http://169.254.169.254/",
        ] {
            let e = c.send(Request::get(u)).await.unwrap_err();
            assert!(matches!(e, ClientError::Denied(_)), "{u}: {e}");
        }
    }
}
