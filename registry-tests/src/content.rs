//! Generated test content: blobs, images, indexes, artifacts and referrers, with real digests
//! and sizes. Every run generates fresh bytes (seeded from the clock), so content pushed by one
//! run never satisfies a check of another.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::digest::{self, Algorithm};

/// OCI image manifest.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer.
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// The empty descriptor's media type.
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Every manifest media type the suite sends in `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A blob with its digest.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Content.
    pub bytes: Bytes,
    /// Digest.
    pub digest: String,
    /// Media type used in descriptors.
    pub media_type: String,
}

impl Blob {
    /// A blob of `bytes`, digested with sha256.
    pub fn new(bytes: impl Into<Bytes>, media_type: &str) -> Blob {
        Blob::with(Algorithm::Sha256, bytes, media_type)
    }

    /// A blob digested with `alg`.
    pub fn with(alg: Algorithm, bytes: impl Into<Bytes>, media_type: &str) -> Blob {
        let bytes = bytes.into();
        Blob {
            digest: digest::of(alg, &bytes),
            bytes,
            media_type: media_type.to_string(),
        }
    }

    /// Its descriptor.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// A manifest or index: its bytes, digest, media type and the blobs it needs.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Exact bytes pushed.
    pub bytes: Bytes,
    /// sha256 digest.
    pub digest: String,
    /// Media type (the `Content-Type` of the push).
    pub media_type: String,
    /// `artifactType`, if any.
    pub artifact_type: Option<String>,
    /// Blobs to push first.
    pub blobs: Vec<Blob>,
    /// Manifests to push first (children of an index).
    pub children: Vec<Manifest>,
}

impl Manifest {
    fn from_value(
        v: &Value,
        media_type: &str,
        blobs: Vec<Blob>,
        children: Vec<Manifest>,
    ) -> Manifest {
        let bytes = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
        Manifest::from_bytes(bytes, media_type, blobs, children, v)
    }

    fn from_bytes(
        bytes: Bytes,
        media_type: &str,
        blobs: Vec<Blob>,
        children: Vec<Manifest>,
        v: &Value,
    ) -> Manifest {
        Manifest {
            digest: digest::sha256(&bytes),
            bytes,
            media_type: media_type.to_string(),
            artifact_type: v
                .get("artifactType")
                .and_then(|a| a.as_str())
                .map(str::to_string),
            blobs,
            children,
        }
    }

    /// Its descriptor.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// Deterministic bytes from a seed (splitmix64).
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from the clock and a salt.
    pub fn new(salt: u64) -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Rng(t ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }

    /// A short lowercase hex string.
    pub fn word(&mut self) -> String {
        format!("{:012x}", self.next_u64() & 0xffff_ffff_ffff)
    }
}

/// The empty JSON blob `{}`.
pub fn empty_config() -> Blob {
    Blob::new(&b"{}"[..], EMPTY)
}

/// A random layer of `size` bytes.
pub fn layer(rng: &mut Rng, size: usize) -> Blob {
    Blob::new(rng.bytes(size), LAYER)
}

/// A small image: config and one layer.
pub fn image(rng: &mut Rng) -> Manifest {
    image_with(rng, vec![])
}

/// A small image with extra layers.
pub fn image_with(rng: &mut Rng, extra_layers: Vec<Blob>) -> Manifest {
    let size = 512 + (rng.next_u64() % 512) as usize;
    let l = layer(rng, size);
    let config_doc = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [l.digest]},
        "config": {"Labels": {"org.example.nonce": rng.word()}}
    });
    let config = Blob::new(serde_json::to_vec(&config_doc).unwrap_or_default(), CONFIG);
    let mut layers = vec![l];
    layers.extend(extra_layers);
    let v = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let mut blobs = vec![config];
    blobs.extend(layers);
    Manifest::from_value(&v, MANIFEST, blobs, vec![])
}

/// An image manifest padded with an annotation to exactly `size` bytes.
pub fn image_of_size(rng: &mut Rng, size: usize) -> Manifest {
    let base = image(rng);
    let mut v: Value = serde_json::from_slice(&base.bytes).unwrap_or(Value::Null);
    v["annotations"] = json!({"org.example.padding": ""});
    let len = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
    let pad = size.saturating_sub(len);
    v["annotations"]["org.example.padding"] = Value::String("x".repeat(pad));
    Manifest::from_value(&v, MANIFEST, base.blobs, vec![])
}

/// The same image manifest, but serialised with unusual whitespace and key order, so a
/// registry that re-encodes it is caught.
pub fn oddly_formatted(m: &Manifest) -> Manifest {
    let v: Value = serde_json::from_slice(&m.bytes).unwrap_or(Value::Null);
    let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
    let text = format!("  {}\n\n", pretty.replace("\n", "\r\n\t"));
    Manifest::from_bytes(
        Bytes::from(text),
        &m.media_type,
        m.blobs.clone(),
        vec![],
        &v,
    )
}

/// An index of `children`.
pub fn index(children: Vec<Manifest>) -> Manifest {
    let v = json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": children.iter().map(|c| {
            let mut d = c.descriptor();
            if c.media_type == MANIFEST {
                d["platform"] = json!({"architecture": "amd64", "os": "linux"});
            }
            d
        }).collect::<Vec<_>>(),
    });
    Manifest::from_value(&v, INDEX, vec![], children)
}

/// An artifact: `artifactType`, the empty config, one layer of custom media type, annotations,
/// and optionally a `subject`.
pub fn artifact(rng: &mut Rng, artifact_type: &str, subject: Option<&Manifest>) -> Manifest {
    let config = empty_config();
    let payload = Blob::new(rng.bytes(64), "application/vnd.example.payload.v1+octets");
    let mut v = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": artifact_type,
        "config": config.descriptor(),
        "layers": [payload.descriptor()],
        "annotations": {"org.example.kind": artifact_type, "org.example.nonce": rng.word()},
    });
    if let Some(s) = subject {
        v["subject"] = s.descriptor();
    }
    Manifest::from_value(&v, MANIFEST, vec![config, payload], vec![])
}

/// A referrer without `artifactType`: its config media type stands in for it.
pub fn config_typed_referrer(rng: &mut Rng, config_type: &str, subject: &Manifest) -> Manifest {
    let config = Blob::new(
        format!("{{\"nonce\":\"{}\"}}", rng.word()).into_bytes(),
        config_type,
    );
    let v = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config.descriptor(),
        "layers": [empty_config().descriptor()],
        "subject": subject.descriptor(),
        "annotations": {"org.example.nonce": rng.word()},
    });
    Manifest::from_value(&v, MANIFEST, vec![config, empty_config()], vec![])
}

/// An index referrer without `artifactType`.
pub fn index_referrer(children: Vec<Manifest>, subject: &Manifest) -> Manifest {
    let mut i = index(children);
    let mut v: Value = serde_json::from_slice(&i.bytes).unwrap_or(Value::Null);
    v["subject"] = subject.descriptor();
    v["annotations"] = json!({"org.example.index-referrer": "yes"});
    let children = std::mem::take(&mut i.children);
    Manifest::from_value(&v, INDEX, vec![], children)
}

/// A manifest whose layer is never pushed.
pub fn with_missing_layer(rng: &mut Rng) -> (Manifest, Blob) {
    let missing = layer(rng, 100);
    let m = image_with(rng, vec![missing.clone()]);
    let blobs: Vec<Blob> = m
        .blobs
        .iter()
        .filter(|b| b.digest != missing.digest)
        .cloned()
        .collect();
    (Manifest { blobs, ..m }, missing)
}
