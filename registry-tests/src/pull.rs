//! Pull an image (or index) from a registry into an OCI image layout.
//!
//! [`pull_to_layout`] fetches the manifest named by a reference, then, for an index, its child
//! manifests (recursively, bounded by [`PullLimits::max_depth`] and
//! [`PullLimits::max_manifests`]), then every config and layer blob. Each blob is streamed to a
//! temporary file in the layout while its digest is computed; the file is renamed into
//! `blobs/<alg>/<hex>` only when its size and digest match the descriptor. Sizes are checked
//! before (descriptor sizes against the limits) and during the download (never more bytes
//! than the descriptor says). The layout's `index.json` names the top-level manifest with the
//! reference's tag as `org.opencontainers.image.ref.name`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use oci_certify_core::fault::{Blame, Fault};
use serde_json::{json, Value};
use thiserror::Error;
use tokio::io::AsyncWriteExt;

use crate::client::{Client, ClientError, Request};
use crate::content::ACCEPT_MANIFESTS;
use crate::digest::{self, Hasher};
use crate::reference::Reference;

/// Bounds on what a pull may fetch.
#[derive(Debug, Clone)]
pub struct PullLimits {
    /// Largest manifest or index, in bytes.
    pub max_manifest_bytes: u64,
    /// Largest single blob, in bytes.
    pub max_blob_bytes: u64,
    /// Most bytes in all.
    pub max_total_bytes: u64,
    /// Deepest nesting of indexes (1: an index of manifests).
    pub max_depth: usize,
    /// Most manifests and indexes in all.
    pub max_manifests: usize,
    /// Most blobs in all.
    pub max_blobs: usize,
}

impl Default for PullLimits {
    fn default() -> PullLimits {
        PullLimits {
            max_manifest_bytes: 4 << 20,
            max_blob_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
            max_depth: 4,
            max_manifests: 64,
            max_blobs: 1024,
        }
    }
}

/// What a pull wrote.
#[derive(Debug, Clone)]
pub struct PullSummary {
    /// Digest of the top-level manifest or index.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Manifests and indexes written (including the top level).
    pub manifests: usize,
    /// Config and layer blobs written.
    pub blobs: usize,
    /// Bytes written under `blobs/`.
    pub bytes: u64,
}

/// Why a pull failed.
#[derive(Debug, Error)]
pub enum PullError {
    /// The request could not be made.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The registry answered with an unexpected status.
    #[error("{what}: the registry answered {status}")]
    Status {
        /// What was fetched.
        what: String,
        /// The status.
        status: u16,
    },
    /// Content did not match its digest or size, or is not a manifest.
    #[error("{0}")]
    Content(String),
    /// A limit was crossed.
    #[error("limit: {0}")]
    Limit(String),
    /// Writing the layout failed.
    #[error("writing {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

impl Blame for PullError {
    fn fault(&self) -> Fault {
        match self {
            PullError::Client(e) => e.fault(),
            PullError::Status {
                status: 401 | 403 | 404,
                ..
            } => Fault::Input,
            PullError::Status { .. } | PullError::Content(_) => Fault::Subject,
            PullError::Limit(_) => Fault::Input,
            PullError::Io { .. } => Fault::Environment,
        }
    }
}

struct Puller<'a> {
    client: &'a Client,
    repo: &'a str,
    dest: &'a Path,
    limits: &'a PullLimits,
    seen: HashSet<String>,
    manifests: usize,
    blobs: usize,
    bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Pulls `reference` into an OCI image layout at `dest` (created if missing). See the module
/// docs.
pub async fn pull_to_layout(
    client: &Client,
    reference: &Reference,
    dest: &Path,
    limits: &PullLimits,
) -> Result<PullSummary, PullError> {
    tokio::fs::create_dir_all(dest.join("blobs"))
        .await
        .map_err(io(dest))?;
    let mut p = Puller {
        client,
        repo: reference.repository(),
        dest,
        limits,
        seen: HashSet::new(),
        manifests: 0,
        blobs: 0,
        bytes: 0,
    };
    let (bytes, media_type, digest) = p
        .fetch_manifest(reference.manifest_reference(), None)
        .await?;
    if let Some(want) = reference.digest() {
        if digest != want {
            return Err(PullError::Content(format!(
                "the manifest's digest is {digest}, not the {want} that was asked for"
            )));
        }
    }
    p.walk(&bytes, &media_type, 0).await?;
    p.write_blob_bytes(&digest, &bytes).await?;
    let mut desc = json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
    if let Some(tag) = reference.tag() {
        desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    }
    let index =
        json!({"schemaVersion": 2, "mediaType": crate::content::INDEX, "manifests": [desc]});
    let layout_path = dest.join("oci-layout");
    tokio::fs::write(&layout_path, br#"{"imageLayoutVersion":"1.0.0"}"#)
        .await
        .map_err(io(&layout_path))?;
    let index_path = dest.join("index.json");
    tokio::fs::write(&index_path, serde_json::to_vec(&index).unwrap_or_default())
        .await
        .map_err(io(&index_path))?;
    Ok(PullSummary {
        digest,
        media_type,
        manifests: p.manifests,
        blobs: p.blobs,
        bytes: p.bytes,
    })
}

impl Puller<'_> {
    /// Fetches a manifest; verifies it against `expect` (digest, size) when given.
    async fn fetch_manifest(
        &mut self,
        reference: &str,
        expect: Option<(&str, u64)>,
    ) -> Result<(bytes::Bytes, String, String), PullError> {
        self.manifests += 1;
        if self.manifests > self.limits.max_manifests {
            return Err(PullError::Limit(format!(
                "more than {} manifests",
                self.limits.max_manifests
            )));
        }
        if let Some((_, size)) = expect {
            if size > self.limits.max_manifest_bytes {
                return Err(PullError::Limit(format!(
                    "a manifest of {size} bytes (limit {})",
                    self.limits.max_manifest_bytes
                )));
            }
        }
        let what = format!("manifest {}:{reference}", self.repo);
        let streaming = self
            .client
            .stream(
                &Request::get(format!("/v2/{}/manifests/{reference}", self.repo))
                    .header("Accept", ACCEPT_MANIFESTS),
            )
            .await?;
        let status = streaming.response.status().as_u16();
        if status != 200 {
            return Err(PullError::Status { what, status });
        }
        let ct = streaming
            .response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or("").trim().to_string());
        let mut body = Vec::new();
        let mut stream = streaming.response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| PullError::Content(format!("{what}: {e}")))?;
            if (body.len() + chunk.len()) as u64 > self.limits.max_manifest_bytes {
                return Err(PullError::Limit(format!(
                    "{what} is larger than {} bytes",
                    self.limits.max_manifest_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let (alg, digest) = match expect
            .map(|(d, _)| d)
            .or_else(|| digest::parse(reference).map(|_| reference))
        {
            Some(d) => {
                let (alg, _) = digest::parse(d)
                    .ok_or_else(|| PullError::Content(format!("{what}: unsupported digest {d}")))?;
                (alg, Some(d.to_string()))
            }
            None => (digest::Algorithm::Sha256, None),
        };
        let got = digest::of(alg, &body);
        if let Some(want) = &digest {
            if &got != want {
                return Err(PullError::Content(format!(
                    "{what}: content digest is {got}"
                )));
            }
        }
        if let Some((_, size)) = expect {
            if body.len() as u64 != size {
                return Err(PullError::Content(format!(
                    "{what}: {} bytes, the descriptor says {size}",
                    body.len()
                )));
            }
        }
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|e| PullError::Content(format!("{what} is not JSON: {e}")))?;
        let media_type = doc
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .or(ct)
            .ok_or_else(|| PullError::Content(format!("{what} has no media type")))?;
        Ok((bytes::Bytes::from(body), media_type, got))
    }

    async fn walk(
        &mut self,
        bytes: &[u8],
        media_type: &str,
        depth: usize,
    ) -> Result<(), PullError> {
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| PullError::Content(e.to_string()))?;
        let descs = |key: &str| -> Vec<(String, u64, String)> {
            doc.get(key)
                .and_then(|m| m.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|d| {
                            Some((
                                d.get("digest")?.as_str()?.to_string(),
                                d.get("size")?.as_u64()?,
                                d.get("mediaType")
                                    .and_then(|m| m.as_str())
                                    .unwrap_or("")
                                    .to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let is_index = media_type.contains("index")
            || media_type.contains("manifest.list")
            || doc.get("manifests").is_some();
        if is_index {
            if depth >= self.limits.max_depth {
                return Err(PullError::Limit(format!(
                    "indexes nested deeper than {}",
                    self.limits.max_depth
                )));
            }
            for (d, size, _) in descs("manifests") {
                if !self.seen.insert(d.clone()) {
                    continue;
                }
                let (child, mt, got) = self.fetch_manifest(&d, Some((&d, size))).await?;
                Box::pin(self.walk(&child, &mt, depth + 1)).await?;
                self.write_blob_bytes(&got, &child).await?;
            }
        } else {
            let mut all = Vec::new();
            if let Some(c) = doc.get("config") {
                if let (Some(d), Some(s)) = (
                    c.get("digest").and_then(|d| d.as_str()),
                    c.get("size").and_then(|s| s.as_u64()),
                ) {
                    all.push((d.to_string(), s));
                }
            }
            all.extend(descs("layers").into_iter().map(|(d, s, _)| (d, s)));
            for (d, size) in all {
                if self.seen.insert(d.clone()) {
                    self.fetch_blob(&d, size).await?;
                }
            }
        }
        Ok(())
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, PullError> {
        let (alg, hex) = digest::parse(digest).ok_or_else(|| {
            PullError::Content(format!("unsupported or malformed digest `{digest}`"))
        })?;
        Ok(self.dest.join("blobs").join(alg.name()).join(hex))
    }

    async fn account(&mut self, size: u64) -> Result<(), PullError> {
        self.bytes += size;
        if self.bytes > self.limits.max_total_bytes {
            return Err(PullError::Limit(format!(
                "more than {} bytes in all",
                self.limits.max_total_bytes
            )));
        }
        Ok(())
    }

    async fn write_blob_bytes(&mut self, digest: &str, bytes: &[u8]) -> Result<(), PullError> {
        let path = self.blob_path(digest)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        }
        self.account(bytes.len() as u64).await?;
        tokio::fs::write(&path, bytes).await.map_err(io(&path))
    }

    async fn fetch_blob(&mut self, digest: &str, size: u64) -> Result<(), PullError> {
        self.blobs += 1;
        if self.blobs > self.limits.max_blobs {
            return Err(PullError::Limit(format!(
                "more than {} blobs",
                self.limits.max_blobs
            )));
        }
        if size > self.limits.max_blob_bytes {
            return Err(PullError::Limit(format!(
                "blob {digest} of {size} bytes (limit {})",
                self.limits.max_blob_bytes
            )));
        }
        self.account(size).await?;
        let path = self.blob_path(digest)?;
        let (alg, _) =
            digest::parse(digest).ok_or_else(|| PullError::Content(digest.to_string()))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        }
        let what = format!("blob {}@{digest}", self.repo);
        let streaming = self
            .client
            .stream(&Request::get(format!("/v2/{}/blobs/{digest}", self.repo)))
            .await?;
        let status = streaming.response.status().as_u16();
        if status != 200 {
            return Err(PullError::Status { what, status });
        }
        let tmp = path.with_extension("partial");
        let mut file = tokio::fs::File::create(&tmp).await.map_err(io(&tmp))?;
        let mut hasher = Hasher::new(alg);
        let mut written = 0u64;
        let mut stream = streaming.response.bytes_stream();
        let result: Result<(), PullError> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| PullError::Content(format!("{what}: {e}")))?;
                written += chunk.len() as u64;
                if written > size {
                    return Err(PullError::Content(format!(
                        "{what}: more bytes than the descriptor's {size}"
                    )));
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(io(&tmp))?;
            }
            file.flush().await.map_err(io(&tmp))?;
            if written != size {
                return Err(PullError::Content(format!(
                    "{what}: {written} bytes, the descriptor says {size}"
                )));
            }
            let got = hasher.finish();
            if got != digest {
                return Err(PullError::Content(format!(
                    "{what}: content digest is {got}"
                )));
            }
            Ok(())
        }
        .await;
        drop(file);
        match result {
            Ok(()) => tokio::fs::rename(&tmp, &path).await.map_err(io(&path)),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }
}
