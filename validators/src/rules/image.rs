//! Rule-layer checks of image-spec documents: manifest, index, config, descriptor, layout
//! header.
//!
//! The schema layer judges single-document shape (required fields, types, constant values,
//! digest patterns). Everything else that one document can tell lives here:
//!
//! - descriptor rules, applied to every descriptor a document holds (a manifest's `config`,
//!   `layers[]` and `subject`; an index's `manifests[]` and `subject`; a descriptor document
//!   itself): RFC 6838 media types, inline `data` (RFC 4648 base64 that decodes to exactly the
//!   described content), RFC 3986 `urls`, registered-algorithm digest encodings, the empty
//!   descriptor;
//! - annotation rules, applied to every annotation map (and to a config's `Labels`): unique,
//!   reverse-domain keys, the reserved `org.opencontainers` namespaces, and the value formats of
//!   the pre-defined keys;
//! - manifest, index and config rules that relate fields or carry SHOULD-level advice;
//! - duplicate JSON keys outside annotation maps, as the canonical-JSON recommendation.
//!
//! Rules that need several documents (a descriptor against its blob, `diff_ids` against the
//! layers, walking `index.json`) belong to the image-tests crate. Rules that bind tools ("must
//! not error on unknown ...") are not judged on content; where content meets them (an unknown
//! media type, an unregistered digest algorithm) the related check passes with a note.
//!
//! Conventions: a rule that does not apply holds (pass); a value the schema layer already
//! rejects (wrong type, absent) is left to it, and a check skips only when nothing in the
//! document could be judged for that reason. The exception is a field whose requirement is
//! itself "a string holding X" (`data`, `artifactType`, `created`): the schema keys the bare
//! type to an informational MAY id, so a non-string value fails the MUST here as well.
//!
//! Each defect is reported once, under the most specific requirement: a layer's media type is
//! judged by the manifest's layer rule, not also by the generic descriptor rule; a value that
//! breaks a character set is not also reported by the grammar built on that set.

use base64::Engine as _;
use oci_certify_core::check::{Check, Failure, Outcome};
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::document::Doc;
use crate::json::escape_token;
use crate::schema::DocKind;

// ---------------------------------------------------------------------------------------------
// Check lists
// ---------------------------------------------------------------------------------------------

/// Checks of an image manifest.
pub const MANIFEST: &[Check<Doc>] = &[
    Check::new("image.manifest.layers.non-empty", manifest_has_layers),
    Check::new(
        "image.manifest.media-type.should-be-set",
        manifest_media_type_set,
    ),
    Check::new(
        "image.manifest.artifact-type.rfc6838",
        manifest_artifact_type_rfc6838,
    ),
    Check::new(
        "image.manifest.artifact-type.required-when-empty-config",
        manifest_artifact_type_with_empty_config,
    ),
    Check::new(
        "image.manifest.config.other-type-rfc6838",
        manifest_config_media_type,
    ),
    Check::new(
        "image.manifest.config.portable-image-type",
        manifest_portable_config_type,
    ),
    Check::new(
        "image.manifest.artifact.config-media-type",
        manifest_artifact_config_type,
    ),
    Check::new(
        "image.manifest.layers.other-type-rfc6838",
        manifest_layer_media_types,
    ),
    Check::new(
        "image.manifest.layers.portable-media-types",
        manifest_portable_layer_types,
    ),
    Check::new(
        "image.manifest.empty-descriptor.use-for-no-content",
        manifest_no_zero_size_blobs,
    ),
    Check::new(
        "image.manifest.subject.references-manifest",
        manifest_subject_is_manifest,
    ),
    Check::new(
        "image.manifest.empty-descriptor.content",
        empty_descriptor_content,
    ),
    Check::new(
        "image.descriptor.media-type.rfc6838",
        descriptor_media_type_rfc6838,
    ),
    Check::new(
        "image.descriptor.artifact-type.rfc6838",
        descriptor_artifact_type_rfc6838,
    ),
    Check::new("image.descriptor.data.base64", descriptor_data_base64),
    Check::new(
        "image.descriptor.data.matches-content",
        descriptor_data_matches,
    ),
    Check::new("image.descriptor.urls.rfc3986", descriptor_urls_rfc3986),
    Check::new("image.descriptor.urls.http-schemes", descriptor_urls_http),
    Check::new("image.descriptor.digest.sha256-lower-hex", sha256_lower_hex),
    Check::new(
        "image.descriptor.digest.sha256-no-uppercase",
        sha256_no_uppercase,
    ),
    Check::new("image.descriptor.digest.sha512-lower-hex", sha512_lower_hex),
    Check::new(
        "image.descriptor.digest.sha512-no-uppercase",
        sha512_no_uppercase,
    ),
    Check::new(
        "image.descriptor.digest.prefer-sha256",
        digests_prefer_sha256,
    ),
    Check::new("image.annotations.rules.key-unique", annotation_keys_unique),
    Check::new(
        "image.annotations.rules.key-reverse-domain",
        annotation_keys_reverse_domain,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-reserved",
        oci_namespace_reserved,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-image-reserved",
        oci_image_namespace_reserved,
    ),
    Check::new("image.annotations.created.rfc3339", annotation_created),
    Check::new("image.annotations.url.url", annotation_url),
    Check::new(
        "image.annotations.documentation.url",
        annotation_documentation,
    ),
    Check::new("image.annotations.source.url", annotation_source),
    Check::new("image.annotations.licenses.spdx", annotation_licenses),
    Check::new(
        "image.annotations.ref-name.charset",
        annotation_ref_name_charset,
    ),
    Check::new(
        "image.annotations.ref-name.grammar",
        annotation_ref_name_grammar,
    ),
    Check::new(
        "image.annotations.base-digest.format",
        annotation_base_digest,
    ),
    Check::new(
        "image.annotations.base-name.reference-format",
        annotation_base_name_format,
    ),
    Check::new(
        "image.annotations.base-name.fully-qualified",
        annotation_base_name_qualified,
    ),
    Check::new(
        "image.considerations.json.canonical-json",
        no_duplicate_keys,
    ),
];

/// Checks of an image index.
pub const INDEX: &[Check<Doc>] = &[
    Check::new("image.index.media-type.should-be-set", index_media_type_set),
    Check::new(
        "image.index.artifact-type.rfc6838",
        index_artifact_type_rfc6838,
    ),
    Check::new(
        "image.index.manifests.portable-media-types",
        index_portable_media_types,
    ),
    Check::new(
        "image.descriptor.platform.manifest-descriptors",
        index_entries_have_platform,
    ),
    Check::new(
        "image.index.platform.architecture-goarch",
        platform_architecture,
    ),
    Check::new("image.index.platform.os-goos", platform_os),
    Check::new(
        "image.index.platform.os-features-windows-values",
        platform_os_features,
    ),
    Check::new("image.index.platform.variant-table", platform_variant),
    Check::new(
        "image.index.platform.features-reserved",
        platform_features_reserved,
    ),
    Check::new(
        "image.index.subject.references-manifest",
        index_subject_is_manifest,
    ),
    Check::new(
        "image.manifest.empty-descriptor.content",
        empty_descriptor_content,
    ),
    Check::new(
        "image.descriptor.media-type.rfc6838",
        descriptor_media_type_rfc6838,
    ),
    Check::new(
        "image.descriptor.artifact-type.rfc6838",
        descriptor_artifact_type_rfc6838,
    ),
    Check::new("image.descriptor.data.base64", descriptor_data_base64),
    Check::new(
        "image.descriptor.data.matches-content",
        descriptor_data_matches,
    ),
    Check::new("image.descriptor.urls.rfc3986", descriptor_urls_rfc3986),
    Check::new("image.descriptor.urls.http-schemes", descriptor_urls_http),
    Check::new("image.descriptor.digest.sha256-lower-hex", sha256_lower_hex),
    Check::new(
        "image.descriptor.digest.sha256-no-uppercase",
        sha256_no_uppercase,
    ),
    Check::new("image.descriptor.digest.sha512-lower-hex", sha512_lower_hex),
    Check::new(
        "image.descriptor.digest.sha512-no-uppercase",
        sha512_no_uppercase,
    ),
    Check::new(
        "image.descriptor.digest.prefer-sha256",
        digests_prefer_sha256,
    ),
    Check::new("image.annotations.rules.key-unique", annotation_keys_unique),
    Check::new(
        "image.annotations.rules.key-reverse-domain",
        annotation_keys_reverse_domain,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-reserved",
        oci_namespace_reserved,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-image-reserved",
        oci_image_namespace_reserved,
    ),
    Check::new("image.annotations.created.rfc3339", annotation_created),
    Check::new("image.annotations.url.url", annotation_url),
    Check::new(
        "image.annotations.documentation.url",
        annotation_documentation,
    ),
    Check::new("image.annotations.source.url", annotation_source),
    Check::new("image.annotations.licenses.spdx", annotation_licenses),
    Check::new(
        "image.annotations.ref-name.charset",
        annotation_ref_name_charset,
    ),
    Check::new(
        "image.annotations.ref-name.grammar",
        annotation_ref_name_grammar,
    ),
    Check::new(
        "image.annotations.base-digest.format",
        annotation_base_digest,
    ),
    Check::new(
        "image.annotations.base-name.reference-format",
        annotation_base_name_format,
    ),
    Check::new(
        "image.annotations.base-name.fully-qualified",
        annotation_base_name_qualified,
    ),
    Check::new(
        "image.considerations.json.canonical-json",
        no_duplicate_keys,
    ),
];

/// Checks of an image configuration.
pub const CONFIG: &[Check<Doc>] = &[
    Check::new("image.config.created.rfc3339", config_created),
    Check::new("image.config.architecture.goarch", config_architecture),
    Check::new("image.config.os.goos", config_os),
    Check::new(
        "image.config.os-features.windows-values",
        config_os_features,
    ),
    Check::new("image.config.variant.table", config_variant),
    Check::new("image.config.env.format", config_env_format),
    Check::new(
        "image.config.exposed-ports.key-format",
        config_exposed_port_keys,
    ),
    Check::new(
        "image.config.exposed-ports.empty-values",
        config_exposed_port_values,
    ),
    Check::new("image.config.volumes.empty-values", config_volume_values),
    Check::new(
        "image.config.history.created-rfc3339",
        config_history_created,
    ),
    Check::new(
        "image.config.history.layer-count",
        config_history_layer_count,
    ),
    Check::new("image.descriptor.digest.sha256-lower-hex", sha256_lower_hex),
    Check::new(
        "image.descriptor.digest.sha256-no-uppercase",
        sha256_no_uppercase,
    ),
    Check::new("image.descriptor.digest.sha512-lower-hex", sha512_lower_hex),
    Check::new(
        "image.descriptor.digest.sha512-no-uppercase",
        sha512_no_uppercase,
    ),
    Check::new(
        "image.descriptor.digest.prefer-sha256",
        digests_prefer_sha256,
    ),
    Check::new("image.annotations.rules.key-unique", annotation_keys_unique),
    Check::new(
        "image.annotations.rules.key-reverse-domain",
        annotation_keys_reverse_domain,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-reserved",
        oci_namespace_reserved,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-image-reserved",
        oci_image_namespace_reserved,
    ),
    Check::new("image.annotations.created.rfc3339", annotation_created),
    Check::new("image.annotations.url.url", annotation_url),
    Check::new(
        "image.annotations.documentation.url",
        annotation_documentation,
    ),
    Check::new("image.annotations.source.url", annotation_source),
    Check::new("image.annotations.licenses.spdx", annotation_licenses),
    Check::new(
        "image.annotations.ref-name.charset",
        annotation_ref_name_charset,
    ),
    Check::new(
        "image.annotations.ref-name.grammar",
        annotation_ref_name_grammar,
    ),
    Check::new(
        "image.annotations.base-digest.format",
        annotation_base_digest,
    ),
    Check::new(
        "image.annotations.base-name.reference-format",
        annotation_base_name_format,
    ),
    Check::new(
        "image.annotations.base-name.fully-qualified",
        annotation_base_name_qualified,
    ),
    Check::new(
        "image.considerations.json.canonical-json",
        no_duplicate_keys,
    ),
];

/// Checks of a descriptor on its own.
pub const DESCRIPTOR: &[Check<Doc>] = &[
    Check::new(
        "image.descriptor.media-type.rfc6838",
        descriptor_media_type_rfc6838,
    ),
    Check::new(
        "image.descriptor.artifact-type.rfc6838",
        descriptor_artifact_type_rfc6838,
    ),
    Check::new("image.descriptor.data.base64", descriptor_data_base64),
    Check::new(
        "image.descriptor.data.matches-content",
        descriptor_data_matches,
    ),
    Check::new("image.descriptor.urls.rfc3986", descriptor_urls_rfc3986),
    Check::new("image.descriptor.urls.http-schemes", descriptor_urls_http),
    Check::new("image.descriptor.digest.sha256-lower-hex", sha256_lower_hex),
    Check::new(
        "image.descriptor.digest.sha256-no-uppercase",
        sha256_no_uppercase,
    ),
    Check::new("image.descriptor.digest.sha512-lower-hex", sha512_lower_hex),
    Check::new(
        "image.descriptor.digest.sha512-no-uppercase",
        sha512_no_uppercase,
    ),
    Check::new(
        "image.descriptor.digest.prefer-sha256",
        digests_prefer_sha256,
    ),
    Check::new(
        "image.manifest.empty-descriptor.content",
        empty_descriptor_content,
    ),
    Check::new("image.annotations.rules.key-unique", annotation_keys_unique),
    Check::new(
        "image.annotations.rules.key-reverse-domain",
        annotation_keys_reverse_domain,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-reserved",
        oci_namespace_reserved,
    ),
    Check::new(
        "image.annotations.rules.org-opencontainers-image-reserved",
        oci_image_namespace_reserved,
    ),
    Check::new("image.annotations.created.rfc3339", annotation_created),
    Check::new("image.annotations.url.url", annotation_url),
    Check::new(
        "image.annotations.documentation.url",
        annotation_documentation,
    ),
    Check::new("image.annotations.source.url", annotation_source),
    Check::new("image.annotations.licenses.spdx", annotation_licenses),
    Check::new(
        "image.annotations.ref-name.charset",
        annotation_ref_name_charset,
    ),
    Check::new(
        "image.annotations.ref-name.grammar",
        annotation_ref_name_grammar,
    ),
    Check::new(
        "image.annotations.base-digest.format",
        annotation_base_digest,
    ),
    Check::new(
        "image.annotations.base-name.reference-format",
        annotation_base_name_format,
    ),
    Check::new(
        "image.annotations.base-name.fully-qualified",
        annotation_base_name_qualified,
    ),
    Check::new(
        "image.considerations.json.canonical-json",
        no_duplicate_keys,
    ),
];

/// Checks of a layout's `oci-layout` file.
pub const LAYOUT_HEADER: &[Check<Doc>] = &[Check::new(
    "image.considerations.json.canonical-json",
    no_duplicate_keys,
)];

// ---------------------------------------------------------------------------------------------
// Media types and other constants of the spec
// ---------------------------------------------------------------------------------------------

const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MT_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// `sha256` of the two bytes `{}`.
const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// The empty descriptor's size.
const EMPTY_SIZE: u64 = 2;

/// The layer types every implementation supports (manifest.md, `layers[].mediaType`).
const PORTABLE_LAYER_TYPES: [&str; 4] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
];

/// Media types that name manifests (OCI and the Docker formats of the compatibility matrix).
const MANIFEST_TYPES: [&str; 6] = [
    MT_MANIFEST,
    MT_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Whether a media type is a filesystem layer of an image (OCI or Docker layer families).
fn is_image_layer_type(media_type: &str) -> bool {
    let m = media_type.to_ascii_lowercase();
    m.starts_with("application/vnd.oci.image.layer.")
        || m.starts_with("application/vnd.docker.image.rootfs.")
}

/// Whether a media type certainly names something that is not a manifest.
fn is_known_non_manifest_type(media_type: &str) -> bool {
    let m = media_type.to_ascii_lowercase();
    is_image_layer_type(&m)
        || [
            MT_CONFIG,
            MT_EMPTY,
            "application/vnd.oci.descriptor.v1+json",
            "application/vnd.oci.layout.header.v1+json",
            "application/vnd.docker.container.image.v1+json",
        ]
        .contains(&m.as_str())
}

fn same_type(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

// ---------------------------------------------------------------------------------------------
// Where descriptors and annotation maps are in each kind of document
// ---------------------------------------------------------------------------------------------

/// The place a descriptor occupies in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The document is the descriptor.
    Document,
    /// A manifest's `config`.
    Config,
    /// An element of a manifest's `layers`.
    Layer,
    /// A manifest's or index's `subject`.
    Subject,
    /// An element of an index's `manifests`.
    Entry,
}

/// JSON objects of a document with their pointers (annotation maps, platform objects).
type Objects<'v> = Vec<(String, &'v Map<String, Value>)>;

/// One descriptor found in a document.
struct Desc<'v> {
    ptr: String,
    obj: &'v Map<String, Value>,
    role: Role,
}

impl<'v> Desc<'v> {
    fn str(&self, field: &str) -> Option<&'v str> {
        self.obj.get(field).and_then(Value::as_str)
    }

    fn at(&self, field: &str) -> String {
        format!("{}/{}", self.ptr, escape_token(field))
    }
}

fn push_desc<'v>(out: &mut Vec<Desc<'v>>, ptr: String, value: Option<&'v Value>, role: Role) {
    if let Some(Value::Object(obj)) = value {
        out.push(Desc { ptr, obj, role });
    }
}

fn push_desc_array<'v>(out: &mut Vec<Desc<'v>>, root: &'v Value, field: &str, role: Role) {
    if let Some(Value::Array(items)) = root.get(field) {
        for (i, item) in items.iter().enumerate() {
            push_desc(out, format!("/{field}/{i}"), Some(item), role);
        }
    }
}

/// Every descriptor of the document, by kind.
fn descriptors(doc: &Doc) -> Vec<Desc<'_>> {
    let root = doc.value();
    let mut out = Vec::new();
    match doc.kind {
        DocKind::Descriptor => push_desc(&mut out, String::new(), Some(root), Role::Document),
        DocKind::ImageManifest => {
            push_desc(&mut out, "/config".into(), root.get("config"), Role::Config);
            push_desc_array(&mut out, root, "layers", Role::Layer);
            push_desc(
                &mut out,
                "/subject".into(),
                root.get("subject"),
                Role::Subject,
            );
        }
        DocKind::ImageIndex => {
            push_desc_array(&mut out, root, "manifests", Role::Entry);
            push_desc(
                &mut out,
                "/subject".into(),
                root.get("subject"),
                Role::Subject,
            );
        }
        _ => {}
    }
    out
}

/// Every annotation map of the document (pointer and map): top-level and descriptor
/// `annotations`, and a config's `config.Labels`, which follow the same rules.
fn annotation_maps(doc: &Doc) -> Objects<'_> {
    fn push<'v>(
        out: &mut Vec<(String, &'v Map<String, Value>)>,
        ptr: String,
        value: Option<&'v Value>,
    ) {
        if let Some(Value::Object(map)) = value {
            out.push((ptr, map));
        }
    }
    let root = doc.value();
    let mut out = Vec::new();
    match doc.kind {
        DocKind::ImageConfig => push(
            &mut out,
            "/config/Labels".into(),
            root.get("config").and_then(|c| c.get("Labels")),
        ),
        DocKind::ImageManifest | DocKind::ImageIndex => {
            push(&mut out, "/annotations".into(), root.get("annotations"));
        }
        _ => {}
    }
    for d in descriptors(doc) {
        push(&mut out, d.at("annotations"), d.obj.get("annotations"));
    }
    out
}

/// The string values of one annotation key across all annotation maps.
fn annotation_values<'v>(doc: &'v Doc, key: &str) -> Vec<(String, &'v str)> {
    annotation_maps(doc)
        .into_iter()
        .filter_map(|(ptr, map)| {
            map.get(key)
                .and_then(Value::as_str)
                .map(|v| (format!("{ptr}/{}", escape_token(key)), v))
        })
        .collect()
}

/// Every digest string of the document: descriptor digests and a config's `rootfs.diff_ids`
/// (which use the descriptor digest format).
fn digest_sites(doc: &Doc) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = descriptors(doc)
        .into_iter()
        .filter_map(|d| d.str("digest").map(|s| (d.at("digest"), s)))
        .collect();
    if doc.kind == DocKind::ImageConfig {
        if let Some(Value::Array(ids)) = doc.value().pointer("/rootfs/diff_ids") {
            for (i, id) in ids.iter().enumerate() {
                if let Some(s) = id.as_str() {
                    out.push((format!("/rootfs/diff_ids/{i}"), s));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reporting helpers
// ---------------------------------------------------------------------------------------------

/// A JSON pointer as a reader writes the path: `/layers/2/digest` is `layers[2].digest`,
/// `/annotations/org.opencontainers.image.created` is
/// `annotations["org.opencontainers.image.created"]`.
fn shown(ptr: &str) -> String {
    if ptr.is_empty() {
        return "the document".into();
    }
    let mut out = String::new();
    for raw in ptr.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let ident = !token.is_empty()
            && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !token.starts_with(|c: char| c.is_ascii_digit());
        if !out.is_empty() && !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else if ident {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        } else {
            out.push_str(&format!("[{token:?}]"));
        }
    }
    out
}

/// Outcome accumulator: failures, notes, and items that could not be judged.
#[derive(Default)]
struct Findings {
    failures: Vec<Failure>,
    notes: Vec<String>,
    unjudged: Vec<String>,
    judged: usize,
}

impl Findings {
    fn judged(&mut self) {
        self.judged += 1;
    }

    fn fail(&mut self, failure: Failure) {
        self.judged += 1;
        self.failures.push(failure);
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn unjudged(&mut self, why: impl Into<String>) {
        self.unjudged.push(why.into());
    }

    fn outcome(self) -> Outcome {
        if !self.failures.is_empty() {
            return Outcome::Fail {
                failures: self.failures,
            };
        }
        if self.judged == 0 && !self.unjudged.is_empty() {
            return Outcome::skip(summarize(&self.unjudged));
        }
        let mut notes = self.notes;
        notes.extend(
            self.unjudged
                .into_iter()
                .map(|u| format!("not judged: {u}")),
        );
        if notes.is_empty() {
            Outcome::pass()
        } else {
            Outcome::pass_with_note(summarize(&notes))
        }
    }
}

fn summarize(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        s.push_str(&format!("; and {} more", items.len() - SHOWN));
    }
    s
}

/// A skip for documents whose root is not an object (the schema layer reports that).
fn root_object(doc: &Doc) -> Result<&Map<String, Value>, Outcome> {
    match doc.value() {
        Value::Object(map) => Ok(map),
        other => Err(Outcome::skip(format!(
            "the document is {} rather than a JSON object; the schema layer reports it",
            json_type(other)
        ))),
    }
}

/// A string-valued field: `Ok(None)` when absent (or null, if `nullable`), `Ok(Some(text))` for
/// a string, `Err(type name)` for any other value.
fn string_field(v: Option<&Value>, nullable: bool) -> Result<Option<&str>, &'static str> {
    match v {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(json_type(other)),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// Descriptor rules
// ---------------------------------------------------------------------------------------------

/// Judges the media-type-valued `field` of the descriptors `select` picks with the RFC 6838
/// grammar; media types outside `known` that pass are noted as tolerated. With `judge_type`, a
/// value that is not a string (null counts as absent) fails too; otherwise the type is left to
/// the schema layer.
fn media_types_of(
    doc: &Doc,
    field: &str,
    select: impl Fn(Role) -> bool,
    known: &[&str],
    judge_type: bool,
) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    let mut foreign = Vec::new();
    for d in descriptors(doc).into_iter().filter(|d| select(d.role)) {
        let at = d.at(field);
        let mt = match string_field(d.obj.get(field), true) {
            Ok(Some(mt)) => mt,
            Ok(None) => continue,
            Err(_) if !judge_type => continue,
            Err(ty) => {
                f.fail(
                    doc.failure_at(
                        &at,
                        format!("{} is {ty}, not a media type string", shown(&at)),
                    )
                    .expected("a media type string, e.g. application/vnd.example.thing.v1+json")
                    .actual(ty),
                );
                continue;
            }
        };
        match media_type_problem(mt) {
            Some(problem) => f.fail(
                doc.failure_at(&at, format!("{} {mt:?} is not an RFC 6838 media type: {problem}", shown(&at)))
                    .expected("type \"/\" subtype, each an RFC 6838 §4.2 restricted name (e.g. application/vnd.example.thing.v1+json)")
                    .actual(mt),
            ),
            None => {
                f.judged();
                if !known.iter().any(|k| same_type(k, mt)) {
                    foreign.push(format!("{} {mt}", shown(&at)));
                }
            }
        }
    }
    if !foreign.is_empty() {
        f.note(format!(
            "media types outside the spec's list, valid and tolerated: {}",
            summarize(&foreign)
        ));
    }
    f.outcome()
}

/// descriptor.md, Properties: a descriptor's `mediaType` complies with RFC 6838 and its §4.2
/// naming rules. Judged here for descriptors with no more specific rule: a descriptor document,
/// an index's `manifests[]`, a `subject`. (A manifest's `config` and `layers[]` have their own.)
fn descriptor_media_type_rfc6838(doc: &Doc) -> Outcome {
    media_types_of(
        doc,
        "mediaType",
        |r| matches!(r, Role::Document | Role::Entry | Role::Subject),
        &[MT_MANIFEST, MT_INDEX, MT_CONFIG, MT_EMPTY],
        false,
    )
}

/// descriptor.md, Properties: when a descriptor sets `artifactType`, it is an RFC 6838 media
/// type (registration with IANA is optional).
fn descriptor_artifact_type_rfc6838(doc: &Doc) -> Outcome {
    media_types_of(doc, "artifactType", |_| true, &[], true)
}

/// manifest.md, `config.mediaType`: a config media type other than the OCI image config is an
/// RFC 6838 media type. An unknown but well-formed type is not an error (tools must treat the
/// blob as opaque), so it passes with a note.
fn manifest_config_media_type(doc: &Doc) -> Outcome {
    media_types_of(
        doc,
        "mediaType",
        |r| r == Role::Config,
        &[MT_CONFIG, MT_EMPTY],
        false,
    )
}

/// manifest.md, `layers[].mediaType`: a layer media type other than the OCI layer types is an
/// RFC 6838 media type. Unknown but well-formed types pass with a note.
fn manifest_layer_media_types(doc: &Doc) -> Outcome {
    let mut known: Vec<&str> = PORTABLE_LAYER_TYPES.to_vec();
    known.push("application/vnd.oci.image.layer.v1.tar+zstd");
    known.push(MT_EMPTY);
    media_types_of(doc, "mediaType", |r| r == Role::Layer, &known, false)
}

/// Judges the top-level `artifactType` of a manifest or index with the RFC 6838 grammar.
fn top_level_artifact_type(doc: &Doc) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    let at = match string_field(root.get("artifactType"), true) {
        Ok(Some(at)) => at,
        Ok(None) => return Outcome::pass(),
        Err(ty) => {
            return Outcome::fail(
                doc.failure_at(
                    "/artifactType",
                    format!("artifactType is {ty}, not a media type string"),
                )
                .expected("a media type string, e.g. application/vnd.example.sbom.v1+json")
                .actual(ty),
            )
        }
    };
    match media_type_problem(at) {
        Some(problem) => Outcome::fail(
            doc.failure_at("/artifactType", format!("artifactType {at:?} is not an RFC 6838 media type: {problem}"))
                .expected("type \"/\" subtype, each an RFC 6838 §4.2 restricted name (e.g. application/vnd.example.sbom.v1+json)")
                .actual(at),
        ),
        None => Outcome::pass(),
    }
}

/// manifest.md, `artifactType`: when set, a manifest's artifact type is an RFC 6838 media type.
fn manifest_artifact_type_rfc6838(doc: &Doc) -> Outcome {
    top_level_artifact_type(doc)
}

/// image-index.md, `artifactType`: when set, an index's artifact type is an RFC 6838 media type.
fn index_artifact_type_rfc6838(doc: &Doc) -> Outcome {
    top_level_artifact_type(doc)
}

/// descriptor.md, Properties, `data`: the value is base64 in the standard alphabet with
/// padding, as RFC 4648 §4 defines it (no URL-safe characters, no line breaks, canonical
/// padding bits).
fn descriptor_data_base64(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for d in descriptors(doc) {
        let at = d.at("data");
        let data = match string_field(d.obj.get("data"), false) {
            Ok(Some(data)) => data,
            Ok(None) => continue,
            Err(ty) => {
                f.fail(
                    doc.failure_at(&at, format!("{} is {ty}, not a base64 string", shown(&at)))
                        .expected("a base64 string per RFC 4648 §4")
                        .actual(ty),
                );
                continue;
            }
        };
        match decode_base64(data) {
            Ok(_) => f.judged(),
            Err(problem) => f.fail(
                doc.failure_at(&at, format!("{} is not standard base64: {problem}", shown(&at)))
                    .expected("base64 per RFC 4648 §4: alphabet A-Z a-z 0-9 + /, '=' padding to a multiple of 4")
                    .actual(abbreviate(data)),
            ),
        }
    }
    f.outcome()
}

/// descriptor.md, Properties, `data`: the decoded bytes are the referenced content itself, so
/// their length is `size` and their digest is `digest`. Digests with an unregistered algorithm
/// cannot be recomputed: the size is still compared and the rest passes with a note.
fn descriptor_data_matches(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for d in descriptors(doc) {
        let Some(data) = d.str("data") else { continue };
        let Ok(bytes) = decode_base64(data) else {
            f.unjudged(format!(
                "{} is not valid base64 (reported by image.descriptor.data.base64)",
                shown(&d.at("data"))
            ));
            continue;
        };
        let before = f.failures.len();
        match d.obj.get("size").and_then(Value::as_u64) {
            Some(size) if usize::try_from(size).ok() != Some(bytes.len()) => f.fail(
                doc.failure_at(
                    &d.at("data"),
                    format!(
                        "{} decodes to {} bytes but {} is {size}",
                        shown(&d.at("data")),
                        bytes.len(),
                        shown(&d.at("size"))
                    ),
                )
                .expected(format!("{size} bytes, as size says"))
                .actual(format!("{} bytes", bytes.len())),
            ),
            Some(_) => f.judged(),
            None => f.unjudged(format!(
                "{} is absent or not an integer",
                shown(&d.at("size"))
            )),
        }
        if let Some(digest) = d.str("digest") {
            match digest_of(digest, &bytes) {
                Some(computed) if !computed.eq_ignore_ascii_case(digest) => f.fail(
                    doc.failure_at(
                        &d.at("data"),
                        format!(
                            "{} does not hash to {}",
                            shown(&d.at("data")),
                            shown(&d.at("digest"))
                        ),
                    )
                    .expected(digest)
                    .actual(computed),
                ),
                Some(_) => f.judged(),
                None => f.note(format!(
                    "{} uses an algorithm this suite cannot compute ({digest}); only the size of data was compared",
                    shown(&d.at("digest"))
                )),
            }
        }
        if f.failures.len() == before {
            f.judged();
        }
    }
    f.outcome()
}

/// descriptor.md, Properties, `urls`: every entry is a URI as RFC 3986 defines it (with a
/// scheme).
fn descriptor_urls_rfc3986(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for (at, url) in descriptor_urls(doc) {
        match fluent_uri::Uri::parse(url) {
            Ok(_) => f.judged(),
            Err(e) => f.fail(
                doc.failure_at(&at, format!("{} is not an RFC 3986 URI: {e}", shown(&at)))
                    .expected("an absolute URI, e.g. https://example.com/blobs/layer.tar.gz")
                    .actual(url),
            ),
        }
    }
    f.outcome()
}

/// descriptor.md, Properties, `urls`: entries use the `http` or `https` scheme.
fn descriptor_urls_http(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for (at, url) in descriptor_urls(doc) {
        let Ok(uri) = fluent_uri::Uri::parse(url) else {
            f.unjudged(format!(
                "{} is not a URI (reported by image.descriptor.urls.rfc3986)",
                shown(&at)
            ));
            continue;
        };
        let scheme = uri.scheme().as_str();
        if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            f.judged();
        } else {
            f.fail(
                doc.failure_at(&at, format!("{} uses the {scheme:?} scheme", shown(&at)))
                    .expected("an http or https URL")
                    .actual(url),
            );
        }
    }
    f.outcome()
}

fn descriptor_urls(doc: &Doc) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for d in descriptors(doc) {
        if let Some(Value::Array(urls)) = d.obj.get("urls") {
            for (i, u) in urls.iter().enumerate() {
                if let Some(s) = u.as_str() {
                    out.push((format!("{}/{i}", d.at("urls")), s));
                }
            }
        }
    }
    out
}

/// A registered algorithm's encoding: lower-case hex of a fixed length.
#[derive(Clone, Copy)]
struct Registered {
    name: &'static str,
    hex_len: usize,
}

const SHA256: Registered = Registered {
    name: "sha256",
    hex_len: 64,
};
const SHA512: Registered = Registered {
    name: "sha512",
    hex_len: 128,
};

/// Judges the encoded part of every digest of algorithm `alg`: with `uppercase` false, its
/// length and hex alphabet; with `uppercase` true, the absence of A-F once length and alphabet
/// hold (so each defect is reported under one requirement).
fn registered_encoding(doc: &Doc, alg: Registered, uppercase: bool) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for (at, digest) in digest_sites(doc) {
        let Some((a, enc)) = split_digest(digest) else {
            continue; // the generic grammar is the schema layer's
        };
        if a != alg.name {
            continue;
        }
        let hex = enc.len() == alg.hex_len && enc.bytes().all(|b| b.is_ascii_hexdigit());
        if !uppercase {
            if hex {
                f.judged();
            } else {
                let what = match enc.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
                    Some((i, c)) => format!("has the non-hex character {c:?} at offset {i}"),
                    None => format!("has {} characters", enc.len()),
                };
                f.fail(
                    doc.failure_at(
                        &at,
                        format!(
                            "{} is a {} digest whose encoded part {what}",
                            shown(&at),
                            alg.name
                        ),
                    )
                    .expected(format!(
                        "{}: followed by exactly {} lower-case hex digits [a-f0-9]",
                        alg.name, alg.hex_len
                    ))
                    .actual(digest),
                );
            }
        } else if hex {
            if enc.bytes().any(|b| b.is_ascii_uppercase()) {
                f.fail(
                    doc.failure_at(&at, format!("{} uses upper-case hex", shown(&at)))
                        .expected(format!("{}:{}", alg.name, enc.to_ascii_lowercase()))
                        .actual(digest),
                );
            } else {
                f.judged();
            }
        }
    }
    f.outcome()
}

/// descriptor.md, SHA-256: the encoded part of a `sha256` digest is exactly 64 hex digits
/// [a-f0-9]. Upper-case letters are judged by the no-upper-case rule.
fn sha256_lower_hex(doc: &Doc) -> Outcome {
    registered_encoding(doc, SHA256, false)
}

/// descriptor.md, SHA-256: a `sha256` digest never uses the hex letters A-F.
fn sha256_no_uppercase(doc: &Doc) -> Outcome {
    registered_encoding(doc, SHA256, true)
}

/// descriptor.md, SHA-512: the encoded part of a `sha512` digest is exactly 128 hex digits
/// [a-f0-9]. Upper-case letters are judged by the no-upper-case rule.
fn sha512_lower_hex(doc: &Doc) -> Outcome {
    registered_encoding(doc, SHA512, false)
}

/// descriptor.md, SHA-512: a `sha512` digest never uses the hex letters A-F.
fn sha512_no_uppercase(doc: &Doc) -> Outcome {
    registered_encoding(doc, SHA512, true)
}

/// descriptor.md, Registered algorithms: content should be addressed with SHA-256. Other
/// algorithms stay valid (`sha512` is registered; unregistered ones that fit the grammar must
/// be accepted by tools): this is advice, and the message says so.
fn digests_prefer_sha256(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for (at, digest) in digest_sites(doc) {
        let Some((alg, _)) = split_digest(digest) else {
            continue;
        };
        if alg == "sha256" {
            f.judged();
            continue;
        }
        let why = if alg == "sha512" {
            "sha512 is registered and valid, but the spec recommends sha256".to_string()
        } else {
            format!("{alg:?} is not a registered algorithm (valid by the grammar, and tools must accept it), and the spec recommends sha256")
        };
        f.fail(
            doc.failure_at(&at, format!("{} uses {alg}: {why}", shown(&at)))
                .expected("a sha256 digest")
                .actual(digest),
        );
    }
    f.outcome()
}

/// manifest.md, Guidance for an empty descriptor: a descriptor of type
/// `application/vnd.oci.empty.v1+json` describes the two bytes `{}`: size 2 and the digest of
/// `{}`. (Inline `data`, when present, is judged by the data rules.)
fn empty_descriptor_content(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for d in descriptors(doc) {
        if !d.str("mediaType").is_some_and(|m| same_type(m, MT_EMPTY)) {
            continue;
        }
        f.judged();
        match d.obj.get("size") {
            Some(size) if size.as_u64() != Some(EMPTY_SIZE) => f.fail(
                doc.failure_at(
                    &d.at("size"),
                    format!(
                        "{} is an empty descriptor but its size is {size}",
                        shown(&d.ptr)
                    ),
                )
                .expected("size 2 (the bytes {})")
                .actual(size),
            ),
            _ => {}
        }
        match d.str("digest") {
            Some(digest) if digest != EMPTY_DIGEST => f.fail(
                doc.failure_at(
                    &d.at("digest"),
                    format!(
                        "{} is an empty descriptor but its digest is not the digest of {{}}",
                        shown(&d.ptr)
                    ),
                )
                .expected(EMPTY_DIGEST)
                .actual(digest),
            ),
            _ => {}
        }
    }
    f.outcome()
}

// ---------------------------------------------------------------------------------------------
// Manifest rules
// ---------------------------------------------------------------------------------------------

/// manifest.md, `layers`: a manifest should hold at least one layer (for an image; an artifact
/// without content uses the empty descriptor as its single layer).
fn manifest_has_layers(doc: &Doc) -> Outcome {
    match doc.value().get("layers") {
        Some(Value::Array(layers)) if !layers.is_empty() => Outcome::pass(),
        Some(Value::Array(_)) => Outcome::fail(
            doc.failure_at("/layers", "layers is empty")
                .expected("at least one layer (the empty descriptor if there is no content)")
                .actual("[]"),
        ),
        // Absence or a wrong type is the schema layer's finding.
        _ => Outcome::skip("layers is absent or not an array; the schema layer reports it"),
    }
}

/// Judges that the top-level `mediaType` is present (its value is the schema layer's).
fn media_type_present(doc: &Doc, expected: &str) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    if root.contains_key("mediaType") {
        Outcome::pass()
    } else {
        Outcome::fail(
            doc.failure_at("", "the top-level mediaType field is not set")
                .expected(format!("\"mediaType\": \"{expected}\""))
                .actual("no mediaType field"),
        )
    }
}

/// manifest.md, `mediaType`: a manifest should carry a top-level `mediaType`, for
/// compatibility with earlier versions and similar formats.
fn manifest_media_type_set(doc: &Doc) -> Outcome {
    media_type_present(doc, MT_MANIFEST)
}

/// image-index.md, `mediaType`: an index should carry a top-level `mediaType`.
fn index_media_type_set(doc: &Doc) -> Outcome {
    media_type_present(doc, MT_INDEX)
}

fn config_media_type(root: &Map<String, Value>) -> Option<&str> {
    root.get("config")
        .and_then(|c| c.get("mediaType"))
        .and_then(Value::as_str)
}

/// manifest.md, `artifactType`: a manifest whose `config.mediaType` is the empty type sets
/// `artifactType` (the guidelines for artifact usage repeat the rule).
fn manifest_artifact_type_with_empty_config(doc: &Doc) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    let empty_config = config_media_type(root).is_some_and(|m| same_type(m, MT_EMPTY));
    let has_artifact_type = !matches!(root.get("artifactType"), None | Some(Value::Null));
    if empty_config && !has_artifact_type {
        Outcome::fail(
            doc.failure_at("", format!("config.mediaType is {MT_EMPTY} but artifactType is not set"))
                .expected("an artifactType naming the artifact, e.g. \"artifactType\": \"application/vnd.example.sbom.v1+json\"")
                .actual("no artifactType"),
        )
    } else {
        Outcome::pass()
    }
}

/// What a manifest packages, as far as one document tells.
struct Packaging<'v> {
    /// The reason the manifest is an artifact (`artifactType`, or a layer that is no
    /// filesystem layer), if it is one.
    artifact_because: Option<String>,
    /// The layer media types (strings only), with their pointers.
    layer_types: Vec<(String, &'v str)>,
}

fn packaging(root: &Map<String, Value>) -> Packaging<'_> {
    let layer_types: Vec<(String, &str)> = match root.get("layers") {
        Some(Value::Array(layers)) => layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                l.get("mediaType")
                    .and_then(Value::as_str)
                    .map(|m| (format!("/layers/{i}/mediaType"), m))
            })
            .collect(),
        _ => Vec::new(),
    };
    let artifact_because = match root.get("artifactType").and_then(Value::as_str) {
        Some(at) => Some(format!("artifactType is {at}")),
        None => layer_types
            .iter()
            .find(|(_, m)| !is_image_layer_type(m))
            .map(|(p, m)| format!("{} is {m}, not a filesystem layer", shown(p))),
    };
    Packaging {
        artifact_because,
        layer_types,
    }
}

/// manifest.md, Guidelines for artifact usage (and artifacts-guidance.md): a manifest that
/// packages an artifact sets `config.mediaType` to a type of its own or to the empty type, not
/// to the OCI image config type. A manifest is taken to package an artifact when it sets
/// `artifactType` or lists a layer that is not a filesystem layer (OCI or Docker layer types).
fn manifest_artifact_config_type(doc: &Doc) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    let p = packaging(root);
    match (config_media_type(root), p.artifact_because) {
        (Some(cfg), Some(because)) if same_type(cfg, MT_CONFIG) => Outcome::fail(
            doc.failure_at("/config/mediaType", format!("the manifest packages an artifact ({because}) but config.mediaType is the image config type"))
                .expected(format!("a config media type specific to the artifact, or {MT_EMPTY}"))
                .actual(cfg),
        ),
        _ => Outcome::pass(),
    }
}

/// manifest.md, `config.mediaType`: a portable container-image manifest uses the OCI image
/// config type. A manifest is taken to be a container image when it has no `artifactType` and
/// at least one layer, all of them filesystem layers.
fn manifest_portable_config_type(doc: &Doc) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    let p = packaging(root);
    let Some(cfg) = config_media_type(root) else {
        return Outcome::pass();
    };
    if p.artifact_because.is_some() || p.layer_types.is_empty() || same_type(cfg, MT_EMPTY) {
        return Outcome::pass();
    }
    if same_type(cfg, MT_CONFIG) {
        Outcome::pass()
    } else {
        Outcome::fail(
            doc.failure_at("/config/mediaType", format!("the manifest describes a container image (filesystem layers only) but config.mediaType is {cfg}"))
                .expected(MT_CONFIG)
                .actual(cfg),
        )
    }
}

/// manifest.md, `layers[].mediaType`: a portable container-image manifest uses the four layer
/// types every implementation supports (tar or tar+gzip, distributable or not). Artifacts carry
/// their own layer types and are not judged here.
fn manifest_portable_layer_types(doc: &Doc) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    let p = packaging(root);
    if let Some(because) = p.artifact_because {
        return Outcome::pass_with_note(format!(
            "the manifest packages an artifact ({because}); the portable layer types apply to container images"
        ));
    }
    let failures = p
        .layer_types
        .iter()
        .filter(|(_, m)| !PORTABLE_LAYER_TYPES.iter().any(|t| same_type(t, m)))
        .map(|(at, m)| {
            doc.failure_at(
                at,
                format!(
                    "{} is {m}, which not every implementation is required to support",
                    shown(at)
                ),
            )
            .expected(format!("one of {}", PORTABLE_LAYER_TYPES.join(", ")))
            .actual(m)
        })
        .collect();
    Outcome::from_failures(failures)
}

/// manifest.md, Guidance for an empty descriptor: where there is no content, use the empty
/// descriptor (`{}`, size 2) rather than a zero-length blob, which not every implementation
/// handles. Judged on `config` and `layers[]`.
fn manifest_no_zero_size_blobs(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let failures = descriptors(doc)
        .into_iter()
        .filter(|d| matches!(d.role, Role::Config | Role::Layer))
        .filter(|d| d.obj.get("size").and_then(Value::as_u64) == Some(0))
        .map(|d| {
            doc.failure_at(
                &d.at("size"),
                format!("{} describes a zero-length blob", shown(&d.ptr)),
            )
            .expected(format!(
                "the empty descriptor: mediaType {MT_EMPTY}, size 2, digest {EMPTY_DIGEST}"
            ))
            .actual("size 0")
        })
        .collect();
    Outcome::from_failures(failures)
}

/// manifest.md, `subject`: a manifest's subject descriptor points at another manifest (or an
/// index), never at a config or layer blob.
fn manifest_subject_is_manifest(doc: &Doc) -> Outcome {
    subject_is_manifest(doc)
}

/// image-index.md, `subject`: an index's subject descriptor points at another manifest (or an
/// index), never at a config or layer blob.
fn index_subject_is_manifest(doc: &Doc) -> Outcome {
    subject_is_manifest(doc)
}

/// Judges the `subject` descriptor by its `mediaType`: manifest types pass, types that
/// certainly name blobs (configs, layers, the empty type) fail, and a type this suite cannot
/// classify passes with a note.
fn subject_is_manifest(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let Some(subject) = descriptors(doc)
        .into_iter()
        .find(|d| d.role == Role::Subject)
    else {
        return Outcome::pass();
    };
    let Some(mt) = subject.str("mediaType") else {
        return Outcome::skip(
            "subject.mediaType is absent or not a string; the schema layer reports it",
        );
    };
    if MANIFEST_TYPES.iter().any(|t| same_type(t, mt)) {
        Outcome::pass()
    } else if is_known_non_manifest_type(mt) {
        Outcome::fail(
            doc.failure_at(
                &subject.at("mediaType"),
                format!("subject points at {mt}, which is not a manifest"),
            )
            .expected(format!("a manifest, e.g. {MT_MANIFEST} or {MT_INDEX}"))
            .actual(mt),
        )
    } else {
        Outcome::pass_with_note(format!(
            "subject.mediaType {mt} is not a type this suite knows; whether it names a manifest cannot be told from the document"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Index rules
// ---------------------------------------------------------------------------------------------

/// image-index.md, `manifests[].mediaType`: a portable index lists image manifests and image
/// indexes only. A malformed media type is reported by the RFC 6838 rule alone.
fn index_portable_media_types(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for d in descriptors(doc)
        .into_iter()
        .filter(|d| d.role == Role::Entry)
    {
        let Some(mt) = d.str("mediaType") else {
            continue;
        };
        let at = d.at("mediaType");
        if same_type(mt, MT_MANIFEST) || same_type(mt, MT_INDEX) {
            f.judged();
        } else if media_type_problem(mt).is_some() {
            f.unjudged(format!(
                "{} is not a valid media type (reported by image.descriptor.media-type.rfc6838)",
                shown(&at)
            ));
        } else {
            f.fail(
                doc.failure_at(
                    &at,
                    format!(
                        "{} is {mt}, outside the types portable indexes use",
                        shown(&at)
                    ),
                )
                .expected(format!("{MT_MANIFEST} or {MT_INDEX}"))
                .actual(mt),
            );
        }
    }
    f.outcome()
}

/// descriptor.md, Properties: a descriptor of an image manifest should carry `platform`, the
/// field image-index.md defines for index entries. Judged on index entries; an entry with
/// `artifactType` names an artifact, which image-index.md scopes out (platform is for
/// platform-specific targets), and passes with a note.
fn index_entries_have_platform(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let mut f = Findings::default();
    for d in descriptors(doc)
        .into_iter()
        .filter(|d| d.role == Role::Entry)
    {
        if !d
            .str("mediaType")
            .is_some_and(|m| same_type(m, MT_MANIFEST))
        {
            continue;
        }
        if !matches!(d.obj.get("platform"), None | Some(Value::Null)) {
            f.judged();
        } else if d.obj.contains_key("artifactType") {
            f.note(format!(
                "{} names an artifact (artifactType) and has no platform",
                shown(&d.ptr)
            ));
        } else {
            f.fail(
                doc.failure_at(
                    &d.ptr,
                    format!(
                        "{} points at an image manifest but has no platform",
                        shown(&d.ptr)
                    ),
                )
                .expected(
                    "a platform object, e.g. {\"architecture\": \"amd64\", \"os\": \"linux\"}",
                )
                .actual("no platform"),
            );
        }
    }
    f.outcome()
}

/// The platform objects of an index's entries.
fn platforms(doc: &Doc) -> Objects<'_> {
    descriptors(doc)
        .into_iter()
        .filter(|d| d.role == Role::Entry)
        .filter_map(|d| match d.obj.get("platform") {
            Some(Value::Object(p)) => Some((d.at("platform"), p)),
            _ => None,
        })
        .collect()
}

/// The values of Go's `GOOS` listed in the Go documentation (Installing Go from source,
/// environment).
const GOOS: [&str; 15] = [
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
];

/// The values of Go's `GOARCH` listed in the Go documentation.
const GOARCH: [&str; 14] = [
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64",
    "ppc64le", "riscv64", "s390x", "wasm",
];

/// A likely intended GOARCH value for a common non-Go architecture name.
fn goarch_hint(arch: &str) -> Option<&'static str> {
    let lower = arch.to_ascii_lowercase();
    if let Some(v) = GOARCH.iter().find(|a| **a == lower) {
        return Some(v);
    }
    Some(match lower.as_str() {
        "x86_64" | "x86-64" | "x64" => "amd64",
        "aarch64" | "armv8" | "armv8l" => "arm64",
        "armhf" | "armel" | "armv7" | "armv7l" | "armv6" | "armv6l" | "arm32" => "arm",
        "i386" | "i486" | "i586" | "i686" | "x86" => "386",
        "ppc64el" => "ppc64le",
        _ => return None,
    })
}

/// Judges an `architecture` value; `None` when it is a GOARCH value.
fn goarch_problem(arch: &str) -> Option<String> {
    if GOARCH.contains(&arch) {
        return None;
    }
    Some(match goarch_hint(arch) {
        Some(hint) => format!("{arch:?} is not a GOARCH value (the Go name is {hint:?})"),
        None => format!("{arch:?} is not a GOARCH value"),
    })
}

/// Judges an `os` value; `None` when it is a GOOS value.
fn goos_problem(os: &str) -> Option<String> {
    if GOOS.contains(&os) {
        return None;
    }
    let lower = os.to_ascii_lowercase();
    Some(if GOOS.contains(&lower.as_str()) {
        format!("{os:?} is not a GOOS value (GOOS values are lower-case: {lower:?})")
    } else if lower == "macos" || lower == "osx" {
        format!("{os:?} is not a GOOS value (the Go name is \"darwin\")")
    } else {
        format!("{os:?} is not a GOOS value")
    })
}

/// Judges one string field of platform-like objects against a value list.
fn platform_field(
    doc: &Doc,
    objects: Objects<'_>,
    field: &str,
    problem: fn(&str) -> Option<String>,
    expected: &str,
) -> Outcome {
    let mut f = Findings::default();
    for (ptr, obj) in objects {
        let Some(value) = obj.get(field).and_then(Value::as_str) else {
            continue;
        };
        let at = format!("{ptr}/{}", escape_token(field));
        match problem(value) {
            Some(p) => f.fail(
                doc.failure_at(&at, format!("{}: {p}", shown(&at)))
                    .expected(expected)
                    .actual(value),
            ),
            None => f.judged(),
        }
    }
    f.outcome()
}

const GOARCH_EXPECTED: &str =
    "a GOARCH value: 386, amd64, arm, arm64, loong64, mips, mipsle, mips64, mips64le, ppc64, ppc64le, riscv64, s390x, wasm";
const GOOS_EXPECTED: &str = "a GOOS value: aix, android, darwin, dragonfly, freebsd, illumos, ios, js, linux, netbsd, openbsd, plan9, solaris, wasip1, windows";

/// image-index.md, `platform.architecture`: indexes use GOARCH values.
fn platform_architecture(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    platform_field(
        doc,
        platforms(doc),
        "architecture",
        goarch_problem,
        GOARCH_EXPECTED,
    )
}

/// image-index.md, `platform.os`: indexes use GOOS values.
fn platform_os(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    platform_field(doc, platforms(doc), "os", goos_problem, GOOS_EXPECTED)
}

/// Judges `os.features` of platform-like objects: on `windows`, only the spec's values.
fn windows_features(doc: &Doc, objects: Objects<'_>) -> Outcome {
    let mut f = Findings::default();
    for (ptr, obj) in objects {
        if obj.get("os").and_then(Value::as_str) != Some("windows") {
            continue;
        }
        let Some(Value::Array(features)) = obj.get("os.features") else {
            continue;
        };
        for (i, feature) in features.iter().enumerate() {
            let Some(name) = feature.as_str() else {
                continue;
            };
            let at = format!("{ptr}/os.features/{i}");
            if name == "win32k" {
                f.judged();
            } else {
                f.fail(
                    doc.failure_at(
                        &at,
                        format!(
                            "{} is {name:?}, not a Windows OS feature the spec defines",
                            shown(&at)
                        ),
                    )
                    .expected("win32k")
                    .actual(name),
                );
            }
        }
    }
    f.outcome()
}

/// image-index.md, `platform.os.features`: when `os` is `windows`, the features are the
/// values the spec defines (`win32k`). Other systems' values are implementation-defined.
fn platform_os_features(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    windows_features(doc, platforms(doc))
}

/// The verdict on a CPU variant.
enum VariantVerdict {
    /// A value of the Platform Variants table.
    Listed,
    /// Not in the table but in the table's form for the architecture, or an architecture the
    /// table does not cover: implementation-defined.
    Unlisted(String),
    /// Not in the table's form for an architecture the table covers.
    Bad(String),
}

/// Whether `s` is `prefix` followed by one or more digits and then `suffix`.
fn digits_between(s: &str, prefix: &str, suffix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Judges `variant` for `arch` against the Platform Variants table of image-index.md.
fn variant_verdict(arch: &str, variant: &str) -> VariantVerdict {
    let (listed, form_ok, form): (&[&str], bool, &str) = match arch {
        "arm" => (&["v6", "v7", "v8"], digits_between(variant, "v", ""), "v6, v7, v8"),
        "arm64" => {
            let ok = match variant.split_once('.') {
                Some((major, minor)) => {
                    digits_between(major, "v", "") && digits_between(minor, "", "")
                }
                None => digits_between(variant, "v", ""),
            };
            (&["v8", "v8.1"], ok, "v8, v8.1, ... (v<major>[.<minor>])")
        }
        "amd64" => (&["v1", "v2", "v3"], digits_between(variant, "v", ""), "v1, v2, v3, ..."),
        "ppc64le" => (
            &["power8", "power9"],
            digits_between(variant, "power", ""),
            "power8, power9, ...",
        ),
        "riscv64" => (
            &["rva20u64"],
            digits_between(variant, "rva", "u64"),
            "rva20u64, ... (rva<NN>u64)",
        ),
        _ => {
            return VariantVerdict::Unlisted(format!(
                "the Platform Variants table has no entry for architecture {arch:?}; variant {variant:?} is implementation-defined"
            ))
        }
    };
    if listed.contains(&variant) {
        VariantVerdict::Listed
    } else if form_ok {
        VariantVerdict::Unlisted(format!(
            "variant {variant:?} of {arch} is not in the table but follows its form; implementation-defined"
        ))
    } else {
        VariantVerdict::Bad(form.to_string())
    }
}

/// Judges the `variant` of platform-like objects.
fn variants(doc: &Doc, objects: Objects<'_>) -> Outcome {
    let mut f = Findings::default();
    for (ptr, obj) in objects {
        let Some(variant) = obj.get("variant").and_then(Value::as_str) else {
            continue;
        };
        let Some(arch) = obj.get("architecture").and_then(Value::as_str) else {
            f.unjudged(format!("{} has no architecture string", shown(&ptr)));
            continue;
        };
        let at = format!("{ptr}/variant");
        match variant_verdict(arch, variant) {
            VariantVerdict::Listed => f.judged(),
            VariantVerdict::Unlisted(note) => {
                f.judged();
                f.note(note);
            }
            VariantVerdict::Bad(form) => f.fail(
                doc.failure_at(
                    &at,
                    format!(
                        "{} {variant:?} does not follow the Platform Variants table for {arch}",
                        shown(&at)
                    ),
                )
                .expected(form)
                .actual(variant),
            ),
        }
    }
    f.outcome()
}

/// image-index.md, `platform.variant` and Platform Variants: variants of the architectures the
/// table covers use the table's values (`v7` for arm, `v8` for arm64, `v2` for amd64, ...).
/// Values the table does not list but that follow its form, and variants of architectures the
/// table does not cover, are implementation-defined and pass with a note.
fn platform_variant(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    variants(doc, platforms(doc))
}

/// image-index.md, `platform.features`: the field is reserved for future versions of the spec
/// and is not populated.
fn platform_features_reserved(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let failures = platforms(doc)
        .into_iter()
        .filter_map(|(ptr, p)| {
            let value = p.get("features")?;
            let at = format!("{ptr}/features");
            Some(
                doc.failure_at(
                    &at,
                    format!(
                        "{} is set, but the field is reserved for future versions of the spec",
                        shown(&at)
                    ),
                )
                .expected("no platform.features field")
                .actual(value),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

// ---------------------------------------------------------------------------------------------
// Config rules
// ---------------------------------------------------------------------------------------------

/// The config document itself as the one platform-like object it holds.
fn config_platform(doc: &Doc) -> Result<Objects<'_>, Outcome> {
    root_object(doc).map(|root| vec![(String::new(), root)])
}

/// config.md, `created`: the image creation time is an RFC 3339 §5.6 date-time.
fn config_created(doc: &Doc) -> Outcome {
    let root = match root_object(doc) {
        Ok(r) => r,
        Err(skip) => return skip,
    };
    match created_problem(root.get("created")) {
        Some((p, actual)) => Outcome::fail(
            doc.failure_at("/created", format!("created {p}"))
                .expected("an RFC 3339 §5.6 date-time string, e.g. 2024-05-01T12:00:00Z")
                .actual(actual),
        ),
        None => Outcome::pass(),
    }
}

/// Judges a nullable `created` field of a config: absent, null or an RFC 3339 date-time string.
/// Returns the problem and the value as found.
fn created_problem(v: Option<&Value>) -> Option<(String, String)> {
    match string_field(v, true) {
        Ok(None) => None,
        Ok(Some(created)) => rfc3339_problem(created).map(|p| {
            (
                format!("{created:?} is not an RFC 3339 date-time: {p}"),
                created.to_string(),
            )
        }),
        Err(ty) => Some((format!("is {ty}, not a date-time string"), ty.to_string())),
    }
}

/// config.md, `architecture`: configurations use GOARCH values.
fn config_architecture(doc: &Doc) -> Outcome {
    match config_platform(doc) {
        Ok(objects) => platform_field(
            doc,
            objects,
            "architecture",
            goarch_problem,
            GOARCH_EXPECTED,
        ),
        Err(skip) => skip,
    }
}

/// config.md, `os`: configurations use GOOS values.
fn config_os(doc: &Doc) -> Outcome {
    match config_platform(doc) {
        Ok(objects) => platform_field(doc, objects, "os", goos_problem, GOOS_EXPECTED),
        Err(skip) => skip,
    }
}

/// config.md, `os.features`: when `os` is `windows`, the features are the spec's values
/// (`win32k`).
fn config_os_features(doc: &Doc) -> Outcome {
    match config_platform(doc) {
        Ok(objects) => windows_features(doc, objects),
        Err(skip) => skip,
    }
}

/// config.md, `variant`: the CPU variant follows the Platform Variants table of image-index.md
/// (values outside the table in its form, and architectures it does not cover, pass with a
/// note).
fn config_variant(doc: &Doc) -> Outcome {
    match config_platform(doc) {
        Ok(objects) => variants(doc, objects),
        Err(skip) => skip,
    }
}

/// config.md, `config.Env`: every entry has the form `VARNAME=VARVALUE` (a non-empty name,
/// then `=`, then a value that may be empty).
fn config_env_format(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let Some(Value::Array(env)) = doc.value().pointer("/config/Env") else {
        return Outcome::pass();
    };
    let failures = env
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let entry = e.as_str()?;
            let at = format!("/config/Env/{i}");
            let problem = match entry.split_once('=') {
                None => "has no '='",
                Some(("", _)) => "has an empty variable name before '='",
                Some(_) => return None,
            };
            Some(
                doc.failure_at(&at, format!("{} {entry:?} {problem}", shown(&at)))
                    .expected("VARNAME=VARVALUE, e.g. PATH=/usr/bin:/bin")
                    .actual(entry),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

/// Judges an `ExposedPorts` key; `None` when it is `port`, `port/tcp` or `port/udp`.
fn port_key_problem(key: &str) -> Option<String> {
    let (port, proto) = match key.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (key, None),
    };
    if let Some(proto) = proto {
        if proto != "tcp" && proto != "udp" {
            return Some(format!("protocol {proto:?} is not tcp or udp"));
        }
    }
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("{port:?} is not a port number"));
    }
    match port.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => None,
        _ => Some(format!("{port} is outside the port range 1-65535")),
    }
}

/// config.md, `config.ExposedPorts`: keys have the form `port/tcp`, `port/udp` or `port`
/// (tcp).
fn config_exposed_port_keys(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let Some(Value::Object(ports)) = doc.value().pointer("/config/ExposedPorts") else {
        return Outcome::pass();
    };
    let failures = ports
        .keys()
        .filter_map(|key| {
            let problem = port_key_problem(key)?;
            let at = format!("/config/ExposedPorts/{}", escape_token(key));
            Some(
                doc.failure_at(&at, format!("exposed port {key:?}: {problem}"))
                    .expected("port/tcp, port/udp or port, e.g. 8080/tcp")
                    .actual(key),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

/// Judges that every member of the object at `pointer` is the empty object `{}`.
fn empty_object_values(doc: &Doc, pointer: &str, what: &str) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let Some(Value::Object(map)) = doc.value().pointer(pointer) else {
        return Outcome::pass();
    };
    let failures = map
        .iter()
        .filter(|(_, v)| !matches!(v, Value::Object(o) if o.is_empty()))
        .map(|(k, v)| {
            let at = format!("{pointer}/{}", escape_token(k));
            doc.failure_at(
                &at,
                format!("{what} {k:?} maps to {}, not to {{}}", json_type(v)),
            )
            .expected("{}")
            .actual(v)
        })
        .collect();
    Outcome::from_failures(failures)
}

/// config.md, `config.ExposedPorts`: each key maps to an empty object (the JSON form of Go's
/// `map[string]struct{}`).
fn config_exposed_port_values(doc: &Doc) -> Outcome {
    empty_object_values(doc, "/config/ExposedPorts", "exposed port")
}

/// config.md, `config.Volumes`: each key maps to an empty object.
fn config_volume_values(doc: &Doc) -> Outcome {
    empty_object_values(doc, "/config/Volumes", "volume")
}

/// config.md, `history[].created`: a history entry's creation time is an RFC 3339 §5.6
/// date-time.
fn config_history_created(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let Some(Value::Array(history)) = doc.value().get("history") else {
        return Outcome::pass();
    };
    let failures = history
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let (p, actual) = created_problem(h.get("created"))?;
            let at = format!("/history/{i}/created");
            Some(
                doc.failure_at(&at, format!("{} {p}", shown(&at)))
                    .expected("an RFC 3339 §5.6 date-time string, e.g. 2024-05-01T12:00:00Z")
                    .actual(actual),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

/// config.md, `history`: the entries not marked `empty_layer: true` correspond one to one to
/// the layers, so there are exactly as many of them as `rootfs.diff_ids` entries.
fn config_history_layer_count(doc: &Doc) -> Outcome {
    if let Err(skip) = root_object(doc) {
        return skip;
    }
    let history = match doc.value().get("history") {
        None | Some(Value::Null) => return Outcome::pass(),
        Some(Value::Array(h)) => h,
        Some(_) => return Outcome::skip("history is not an array; the schema layer reports it"),
    };
    let Some(Value::Array(diff_ids)) = doc.value().pointer("/rootfs/diff_ids") else {
        return Outcome::skip(
            "rootfs.diff_ids is absent or not an array; the schema layer reports it",
        );
    };
    let mut layers = 0usize;
    for (i, h) in history.iter().enumerate() {
        match h.get("empty_layer") {
            Some(Value::Bool(true)) => {}
            None | Some(Value::Bool(false) | Value::Null) => layers += 1,
            Some(_) => {
                return Outcome::skip(format!(
                    "history[{i}].empty_layer is not a boolean; the schema layer reports it"
                ))
            }
        }
    }
    if layers == diff_ids.len() {
        Outcome::pass()
    } else {
        Outcome::fail(
            doc.failure_at("/history", format!(
                "history has {layers} entries that made a layer (not empty_layer) but rootfs.diff_ids lists {} layers",
                diff_ids.len()
            ))
            .expected(format!("{} non-empty history entries, one per diff_id", diff_ids.len()))
            .actual(format!("{layers} non-empty history entries")),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Annotation rules
// ---------------------------------------------------------------------------------------------

/// annotations.md, Rules: keys are unique within an annotation map (a config's `Labels`
/// included); a repeated member name in the JSON text breaks it.
fn annotation_keys_unique(doc: &Doc) -> Outcome {
    let maps: std::collections::HashSet<String> =
        annotation_maps(doc).into_iter().map(|(p, _)| p).collect();
    let failures = doc
        .document
        .duplicates
        .iter()
        .filter(|d| maps.contains(&d.object))
        .map(|d| {
            let at = format!("{}/{}", d.object, escape_token(&d.key));
            doc.failure_at(
                &at,
                format!(
                    "annotation key {:?} appears more than once in {}",
                    d.key,
                    shown(&d.object)
                ),
            )
            .expected("each key once per annotation map")
            .actual(format!(
                "{:?} repeated at line {}, column {}",
                d.key, d.at.line, d.at.column
            ))
        })
        .collect();
    Outcome::from_failures(failures)
}

/// Judges a key's reverse-domain form; `None` when it is `tld.domain[.more]`, the first
/// component a DNS label with a letter, no component empty, no white space.
fn reverse_domain_problem(key: &str) -> Option<&'static str> {
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("contains white space");
    }
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() < 2 {
        return Some("has no dot-separated domain prefix");
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Some("has an empty component");
    }
    let tld = parts.first().copied().unwrap_or_default();
    let label = tld.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !tld.starts_with('-')
        && !tld.ends_with('-')
        && tld.bytes().any(|b| b.is_ascii_alphabetic());
    if !label {
        return Some("does not start with a domain name component");
    }
    None
}

/// annotations.md, Rules: keys are named in reverse domain notation (`com.example.myKey`).
fn annotation_keys_reverse_domain(doc: &Doc) -> Outcome {
    let mut failures = Vec::new();
    for (ptr, map) in annotation_maps(doc) {
        for key in map.keys() {
            if let Some(problem) = reverse_domain_problem(key) {
                let at = format!("{ptr}/{}", escape_token(key));
                failures.push(
                    doc.failure_at(&at, format!("annotation key {key:?} in {} is not in reverse domain notation: it {problem}", shown(&ptr)))
                        .expected("a key such as com.example.myKey")
                        .actual(key),
                );
            }
        }
    }
    Outcome::from_failures(failures)
}

/// Keys the image-spec defines under `org.opencontainers.image`: the pre-defined annotations
/// (annotations.md) and the implicit annotations of the runtime conversion (conversion.md).
const IMAGE_SPEC_KEYS: [&str; 22] = [
    "org.opencontainers.image.created",
    "org.opencontainers.image.authors",
    "org.opencontainers.image.url",
    "org.opencontainers.image.documentation",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.vendor",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.ref.name",
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.base.digest",
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.os",
    "org.opencontainers.image.architecture",
    "org.opencontainers.image.variant",
    "org.opencontainers.image.os.version",
    "org.opencontainers.image.os.features",
    "org.opencontainers.image.author",
    "org.opencontainers.image.stopSignal",
    "org.opencontainers.image.exposedPorts",
];

/// Namespaces under `org.opencontainers` that belong to OCI specifications and projects
/// (`image` is judged separately).
const OCI_NAMESPACES: [&str; 4] = ["artifact", "distribution", "runtime", "runc"];

/// The component after `org.opencontainers` of a key in that namespace: `Some(None)` for the
/// bare prefix, `None` for keys outside it.
fn oci_namespace(key: &str) -> Option<Option<&str>> {
    let rest = key.strip_prefix("org.opencontainers")?;
    if rest.is_empty() {
        return Some(None);
    }
    let rest = rest.strip_prefix('.')?;
    Some(Some(rest.split('.').next().unwrap_or_default()))
}

fn all_keys(doc: &Doc) -> Vec<(String, String, &str)> {
    let mut out = Vec::new();
    for (ptr, map) in annotation_maps(doc) {
        for key in map.keys() {
            out.push((
                format!("{ptr}/{}", escape_token(key)),
                ptr.clone(),
                key.as_str(),
            ));
        }
    }
    out
}

/// annotations.md, Rules: the `org.opencontainers` prefix is reserved for keys that OCI
/// specifications define. A key in that namespace that belongs to no OCI specification or
/// project (`image`, judged by its own rule, `artifact`, `distribution`, `runtime`, `runc`)
/// cannot have been defined by one.
fn oci_namespace_reserved(doc: &Doc) -> Outcome {
    let failures = all_keys(doc)
        .into_iter()
        .filter_map(|(at, map, key)| {
            let ns = oci_namespace(key)?;
            if ns.is_some_and(|n| n == "image" || OCI_NAMESPACES.contains(&n)) {
                return None;
            }
            Some(
                doc.failure_at(&at, format!("annotation key {key:?} in {} uses the reserved org.opencontainers prefix but no OCI specification defines it", shown(&map)))
                    .expected("a key in your own reverse-domain namespace, e.g. com.example.feature")
                    .actual(key),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

/// annotations.md, Rules: the `org.opencontainers.image` namespace is reserved for the
/// image-spec; a key there that the image-spec does not define is used by someone else.
fn oci_image_namespace_reserved(doc: &Doc) -> Outcome {
    let failures = all_keys(doc)
        .into_iter()
        .filter(|(_, _, key)| oci_namespace(key) == Some(Some("image")))
        .filter(|(_, _, key)| !IMAGE_SPEC_KEYS.contains(key))
        .map(|(at, map, key)| {
            doc.failure_at(&at, format!("annotation key {key:?} in {} is in the org.opencontainers.image namespace but the image-spec does not define it", shown(&map)))
                .expected("one of the keys the image-spec defines (e.g. org.opencontainers.image.licenses), or a key in your own namespace")
                .actual(key)
        })
        .collect();
    Outcome::from_failures(failures)
}

/// Judges every value of a pre-defined annotation key with `problem`. Empty values are
/// allowed by the annotation rules and pass with a note.
fn predefined_values(
    doc: &Doc,
    key: &str,
    problem: impl Fn(&str) -> Option<String>,
    expected: &str,
) -> Outcome {
    let mut f = Findings::default();
    for (at, value) in annotation_values(doc, key) {
        if value.is_empty() {
            f.judged();
            f.note(format!(
                "{} is empty, which the annotation rules allow",
                shown(&at)
            ));
            continue;
        }
        match problem(value) {
            Some(p) => f.fail(
                doc.failure_at(&at, format!("{} {value:?}: {p}", shown(&at)))
                    .expected(expected)
                    .actual(value),
            ),
            None => f.judged(),
        }
    }
    f.outcome()
}

/// annotations.md, Pre-defined annotation keys: `org.opencontainers.image.created` is an
/// RFC 3339 date-time.
fn annotation_created(doc: &Doc) -> Outcome {
    predefined_values(
        doc,
        "org.opencontainers.image.created",
        |v| rfc3339_problem(v).map(|p| format!("not an RFC 3339 date-time: {p}")),
        "an RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z",
    )
}

fn url_problem(v: &str) -> Option<String> {
    fluent_uri::Uri::parse(v)
        .err()
        .map(|e| format!("not a URL (RFC 3986): {e}"))
}

/// annotations.md, Pre-defined annotation keys: `org.opencontainers.image.url` is a URL.
fn annotation_url(doc: &Doc) -> Outcome {
    predefined_values(
        doc,
        "org.opencontainers.image.url",
        url_problem,
        "a URL, e.g. https://example.com/my-image",
    )
}

/// annotations.md, Pre-defined annotation keys: `org.opencontainers.image.documentation` is a
/// URL.
fn annotation_documentation(doc: &Doc) -> Outcome {
    predefined_values(
        doc,
        "org.opencontainers.image.documentation",
        url_problem,
        "a URL, e.g. https://example.com/docs",
    )
}

/// annotations.md, Pre-defined annotation keys: `org.opencontainers.image.source` is a URL.
fn annotation_source(doc: &Doc) -> Outcome {
    predefined_values(
        doc,
        "org.opencontainers.image.source",
        url_problem,
        "a URL, e.g. https://github.com/example/project",
    )
}

/// annotations.md, Pre-defined annotation keys: `org.opencontainers.image.licenses` is an SPDX
/// license expression. The check is syntactic (SPDX 2.3 Annex D); identifiers are not looked
/// up in the SPDX license list.
fn annotation_licenses(doc: &Doc) -> Outcome {
    predefined_values(
        doc,
        "org.opencontainers.image.licenses",
        |v| {
            spdx_problem(v).map(|p| format!("not an SPDX license expression: {p} (syntax only; identifiers are not looked up)"))
        },
        "an SPDX license expression, e.g. Apache-2.0 or (MIT OR Apache-2.0)",
    )
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn ref_name_charset_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._:@/+".contains(c)
}

/// annotations.md, `org.opencontainers.image.ref.name`: values use the characters
/// `A-Za-z0-9` and the separators `-._:@/+`.
fn annotation_ref_name_charset(doc: &Doc) -> Outcome {
    let failures = annotation_values(doc, REF_NAME)
        .into_iter()
        .filter_map(|(at, v)| {
            let (i, c) = v.char_indices().find(|(_, c)| !ref_name_charset_ok(*c))?;
            Some(
                doc.failure_at(&at, format!("{} {v:?} has the character {c:?} at offset {i}, outside A-Za-z0-9 and -._:@/+", shown(&at)))
                    .expected("only A-Za-z0-9 and the separators - . _ : @ / +")
                    .actual(v),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

/// annotations.md, `org.opencontainers.image.ref.name`: a valid reference is `/`-separated
/// components, each alphanumeric runs joined by one of `-._:@+` or by `--`. Values with
/// characters outside the set are reported by the character-set rule alone.
fn annotation_ref_name_grammar(doc: &Doc) -> Outcome {
    let mut f = Findings::default();
    for (at, v) in annotation_values(doc, REF_NAME) {
        if !v.chars().all(ref_name_charset_ok) {
            f.unjudged(format!(
                "{} has characters outside the set (reported by image.annotations.ref-name.charset)",
                shown(&at)
            ));
            continue;
        }
        match ref_name_problem(v) {
            Some(p) => f.fail(
                doc.failure_at(&at, format!("{} {v:?} does not match the ref.name grammar: {p}", shown(&at)))
                    .expected("component (\"/\" component)*, a component being [A-Za-z0-9]+ runs joined by one of - . _ : @ + or by --, e.g. v1.0 or stable-release")
                    .actual(v),
            ),
            None => f.judged(),
        }
    }
    f.outcome()
}

/// annotations.md, `org.opencontainers.image.base.digest`: the value is a digest as
/// descriptors write them (grammar, and the encoding of registered algorithms). An
/// unregistered algorithm that fits the grammar passes with a note.
fn annotation_base_digest(doc: &Doc) -> Outcome {
    let mut f = Findings::default();
    for (at, v) in annotation_values(doc, "org.opencontainers.image.base.digest") {
        match digest_problem(v) {
            Some(p) => f.fail(
                doc.failure_at(&at, format!("{} {v:?} is not a digest: {p}", shown(&at)))
                    .expected(
                        "algorithm:encoded, e.g. sha256: followed by 64 lower-case hex digits",
                    )
                    .actual(v),
            ),
            None => {
                f.judged();
                if let Some((alg, _)) = split_digest(v) {
                    if alg != "sha256" && alg != "sha512" {
                        f.note(format!(
                            "{} uses the unregistered algorithm {alg:?}, accepted by the grammar",
                            shown(&at)
                        ));
                    }
                }
            }
        }
    }
    f.outcome()
}

const BASE_NAME: &str = "org.opencontainers.image.base.name";

/// annotations.md, `org.opencontainers.image.base.name`: the value is an image reference in
/// the syntax of distribution/distribution's reference package
/// (`[host[:port]/]path[:tag][@digest]`).
fn annotation_base_name_format(doc: &Doc) -> Outcome {
    let failures = annotation_values(doc, BASE_NAME)
        .into_iter()
        .filter_map(|(at, v)| {
            let p = parse_reference(v).err()?;
            Some(
                doc.failure_at(
                    &at,
                    format!("{} {v:?} is not an image reference: {p}", shown(&at)),
                )
                .expected(
                    "[host[:port]/]path[:tag][@digest], e.g. registry.example.com/org/app:1.2",
                )
                .actual(v),
            )
        })
        .collect();
    Outcome::from_failures(failures)
}

/// annotations.md, `org.opencontainers.image.base.name`: the reference is fully qualified, its
/// first component naming the registry host (with a dot or a port, or `localhost`). Malformed
/// references are reported by the reference-format rule alone.
fn annotation_base_name_qualified(doc: &Doc) -> Outcome {
    let mut f = Findings::default();
    for (at, v) in annotation_values(doc, BASE_NAME) {
        match parse_reference(v) {
            Err(_) => f.unjudged(format!(
                "{} is not a reference (reported by image.annotations.base-name.reference-format)",
                shown(&at)
            )),
            Ok(Some(_)) => f.judged(),
            Ok(None) => f.fail(
                doc.failure_at(
                    &at,
                    format!(
                        "{} {v:?} does not name its registry, so it relies on a default one",
                        shown(&at)
                    ),
                )
                .expected(
                    "a fully qualified reference, e.g. registry.example.com/my-org/my-image:tag",
                )
                .actual(v),
            ),
        }
    }
    f.outcome()
}

// ---------------------------------------------------------------------------------------------
// Duplicate keys
// ---------------------------------------------------------------------------------------------

/// considerations.md, JSON: JSON content should be canonical JSON. Only one property of the
/// canonical form is judged: no object repeats a member name (a repeated key makes the
/// document ambiguous; key order and white space are not judged, as real producers do not emit
/// canonical JSON). Duplicates inside annotation maps are reported by the annotation rule.
fn no_duplicate_keys(doc: &Doc) -> Outcome {
    let maps: std::collections::HashSet<String> =
        annotation_maps(doc).into_iter().map(|(p, _)| p).collect();
    let failures: Vec<Failure> = doc
        .document
        .duplicates
        .iter()
        .filter(|d| !maps.contains(&d.object))
        .map(|d| {
            let at = format!("{}/{}", d.object, escape_token(&d.key));
            doc.failure_at(&at, format!(
                "key {:?} appears more than once in {} (only duplicate keys were judged, not the rest of the canonical JSON form)",
                d.key,
                shown(&d.object)
            ))
            .expected("each member name once per object")
            .actual(format!("{:?} repeated at line {}, column {}", d.key, d.at.line, d.at.column))
        })
        .collect();
    if failures.is_empty() {
        Outcome::pass_with_note("no duplicate keys; only duplicate keys were judged, not the rest of the canonical JSON form")
    } else {
        Outcome::Fail { failures }
    }
}

// ---------------------------------------------------------------------------------------------
// Grammars
// ---------------------------------------------------------------------------------------------

/// Shortens a long value for a report.
fn abbreviate(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}... ({} characters)", s.chars().count())
    }
}

/// RFC 6838 §4.2 `restricted-name`.
fn restricted_name_problem(name: &str, what: &str) -> Option<String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Some(format!("the {what} is empty"));
    };
    if !first.is_ascii_alphanumeric() {
        return Some(format!(
            "the {what} {name:?} starts with {first:?}, not a letter or digit"
        ));
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(*c))) {
        return Some(format!(
            "the {what} {name:?} contains {c:?}, outside the RFC 6838 restricted-name characters"
        ));
    }
    if name.len() > 127 {
        return Some(format!(
            "the {what} is {} characters long, over 127",
            name.len()
        ));
    }
    None
}

/// Top-level media types registered with IANA (RFC 6838 §4.2 and later registrations).
const TOP_LEVEL_TYPES: [&str; 11] = [
    "application",
    "audio",
    "example",
    "font",
    "haptics",
    "image",
    "message",
    "model",
    "multipart",
    "text",
    "video",
];

/// Judges a media type (with optional `; name=value` parameters) against RFC 6838; `None`
/// when it complies.
fn media_type_problem(s: &str) -> Option<String> {
    let (essence, params) = match s.split_once(';') {
        Some((e, p)) => (e, Some(p)),
        None => (s, None),
    };
    let Some((ty, sub)) = essence.split_once('/') else {
        return Some("there is no '/' between type and subtype".into());
    };
    if let Some(p) = restricted_name_problem(ty, "type") {
        return Some(p);
    }
    if let Some(p) = restricted_name_problem(sub, "subtype") {
        return Some(p);
    }
    if !TOP_LEVEL_TYPES.contains(&ty.to_ascii_lowercase().as_str()) {
        return Some(format!(
            "{ty:?} is not a registered top-level type (application, text, image, ...)"
        ));
    }
    params.and_then(parameters_problem)
}

/// RFC 6838 §4.3 parameters: `name=value` pairs separated by `;`, the value a token or a
/// quoted string.
fn parameters_problem(params: &str) -> Option<String> {
    let mut rest = params;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let Some((name, after)) = trimmed.split_once('=') else {
            return Some(format!("parameter {trimmed:?} has no '='"));
        };
        if let Some(p) = restricted_name_problem(name, "parameter name") {
            return Some(p);
        }
        let (value_ok, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted_string_end(quoted) {
                Some(end) => (true, quoted.get(end..).unwrap_or_default()),
                None => return Some("a quoted parameter value is not terminated".into()),
            }
        } else {
            let end = after.find([';', ' ', '\t']).unwrap_or(after.len());
            let (value, remainder) = after.split_at(end);
            let token = !value.is_empty()
                && value.chars().all(|c| {
                    c.is_ascii() && !c.is_ascii_control() && !" ()<>@,;:\\\"/[]?=".contains(c)
                });
            (token, remainder)
        };
        if !value_ok {
            return Some(format!(
                "parameter {name:?} has a value that is not a token or a quoted string"
            ));
        }
        let remainder = remainder.trim_start_matches([' ', '\t']);
        if remainder.is_empty() {
            return None;
        }
        let Some(next) = remainder.strip_prefix(';') else {
            return Some(format!("unexpected {remainder:?} after parameter {name:?}"));
        };
        rest = next;
    }
}

/// The offset just past the closing quote of a quoted string whose opening quote was removed.
fn quoted_string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Splits a digest that fits the generic grammar of descriptor.md into algorithm and encoded
/// part; `None` when it does not fit.
fn split_digest(s: &str) -> Option<(&str, &str)> {
    let (alg, enc) = s.split_once(':')?;
    (algorithm_problem(alg).is_none() && encoded_problem(enc).is_none()).then_some((alg, enc))
}

fn algorithm_problem(alg: &str) -> Option<String> {
    if alg.is_empty() {
        return Some("the algorithm is empty".into());
    }
    let mut after_separator = true;
    for (i, c) in alg.char_indices() {
        match c {
            'a'..='z' | '0'..='9' => after_separator = false,
            '+' | '.' | '_' | '-' if !after_separator => after_separator = true,
            '+' | '.' | '_' | '-' => {
                return Some(format!(
                    "the algorithm has a misplaced separator {c:?} at offset {i}"
                ))
            }
            _ => {
                return Some(format!(
                    "the algorithm has {c:?} at offset {i}, outside [a-z0-9+._-]"
                ))
            }
        }
    }
    after_separator.then(|| "the algorithm ends with a separator".into())
}

fn encoded_problem(enc: &str) -> Option<String> {
    if enc.is_empty() {
        return Some("the encoded part is empty".into());
    }
    enc.char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '=' | '_' | '-')))
        .map(|(i, c)| format!("the encoded part has {c:?} at offset {i}, outside [a-zA-Z0-9=_-]"))
}

/// Judges a whole digest: the generic grammar, then the encoding of registered algorithms.
fn digest_problem(s: &str) -> Option<String> {
    let Some((alg, enc)) = s.split_once(':') else {
        return Some("there is no ':' between algorithm and encoded part".into());
    };
    if let Some(p) = algorithm_problem(alg).or_else(|| encoded_problem(enc)) {
        return Some(p);
    }
    let reg = match alg {
        "sha256" => SHA256,
        "sha512" => SHA512,
        _ => return None,
    };
    if enc.len() != reg.hex_len || !enc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(format!(
            "a {alg} encoded part is {} hex digits, this one has {} characters",
            reg.hex_len,
            enc.len()
        ));
    }
    if enc.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!("a {alg} encoded part uses lower-case hex only"));
    }
    None
}

/// The digest of `bytes` with the algorithm `digest` names, if this suite can compute it.
fn digest_of(digest: &str, bytes: &[u8]) -> Option<String> {
    let (alg, _) = split_digest(digest)?;
    let hex = match alg {
        "sha256" => lower_hex(&sha2::Sha256::digest(bytes)),
        "sha512" => lower_hex(&sha2::Sha512::digest(bytes)),
        _ => return None,
    };
    Some(format!("{alg}:{hex}"))
}

fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes RFC 4648 §4 base64 (standard alphabet, padded, canonical), explaining refusals.
fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    if let Some((i, c)) = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(match c {
            '-' | '_' => format!("{c:?} at offset {i} belongs to the URL-safe alphabet (RFC 4648 §5), not to standard base64"),
            c if c.is_whitespace() => format!("white space at offset {i}; base64 data carries no line breaks or spaces"),
            c => format!("{c:?} at offset {i} is not a base64 character"),
        });
    }
    if s.len() % 4 != 0 {
        return Err(format!(
            "its length {} is not a multiple of 4 (missing or extra '=' padding)",
            s.len()
        ));
    }
    if let Some(i) = s.find('=') {
        let pad = s.get(i..).unwrap_or_default();
        if pad.len() > 2 || pad.bytes().any(|b| b != b'=') {
            return Err(format!(
                "'=' at offset {i} is padding but is followed by data"
            ));
        }
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| match e {
            base64::DecodeError::InvalidLastSymbol(i, _) => format!(
                "the character at offset {i} leaves non-zero padding bits (not the canonical encoding)"
            ),
            other => other.to_string(),
        })
}

fn two_digits(s: &str, at: usize) -> Option<u32> {
    let d = s.get(at..at + 2)?;
    d.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| d.parse().ok())?
}

/// Judges an RFC 3339 §5.6 `date-time`; `None` when it is one.
fn rfc3339_problem(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let sep = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    let year = s
        .get(0..4)
        .filter(|y| y.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|y| y.parse::<u32>().ok());
    let (Some(year), true) = (year, sep(4, b'-')) else {
        return Some("expected a four-digit year and '-' at the start".into());
    };
    let (Some(month), true) = (two_digits(s, 5), sep(7, b'-')) else {
        return Some("expected a two-digit month and '-' after the year".into());
    };
    let Some(day) = two_digits(s, 8) else {
        return Some("expected a two-digit day after the month".into());
    };
    if !(1..=12).contains(&month) {
        return Some(format!("month {month:02} is out of range"));
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > days {
        return Some(format!(
            "day {day:02} does not exist in month {month:02} of {year}"
        ));
    }
    if !sep(10, b'T') {
        return Some("expected 'T' between date and time (RFC 3339 §5.6 full date-time)".into());
    }
    let (Some(hour), true, Some(minute), true, Some(second)) = (
        two_digits(s, 11),
        sep(13, b':'),
        two_digits(s, 14),
        sep(16, b':'),
        two_digits(s, 17),
    ) else {
        return Some("expected hh:mm:ss after 'T'".into());
    };
    if hour > 23 || minute > 59 || second > 60 {
        return Some(format!(
            "time {hour:02}:{minute:02}:{second:02} is out of range"
        ));
    }
    let mut i = 19;
    if sep(i, b'.') {
        let digits = b
            .get(i + 1..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
        if digits == 0 {
            return Some("expected digits after '.' in the seconds".into());
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => None,
        Some(b'+' | b'-') => {
            let (Some(oh), true, Some(om)) =
                (two_digits(s, i + 1), sep(i + 3, b':'), two_digits(s, i + 4))
            else {
                return Some("expected a time offset of the form +hh:mm".into());
            };
            if oh > 23 || om > 59 {
                return Some(format!("offset {oh:02}:{om:02} is out of range"));
            }
            (i + 6 != b.len()).then(|| "unexpected text after the time offset".into())
        }
        None => Some("the time offset (Z or +hh:mm) is missing".into()),
        _ => Some("expected Z or +hh:mm after the time".into()),
    }
}

/// Checks a string of alphanumeric runs joined by separator runs: it starts and ends with an
/// alphanumeric run, and `separator` accepts every run of non-alphanumerics.
fn runs_problem(
    s: &str,
    alnum: impl Fn(char) -> bool,
    separator: impl Fn(&str) -> bool,
) -> Option<String> {
    if s.is_empty() {
        return Some("a component is empty".into());
    }
    let mut sep_start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if alnum(c) {
            if let Some(start) = sep_start.take() {
                let sep = s.get(start..i).unwrap_or_default();
                if start == 0 {
                    return Some(format!("{s:?} starts with the separator {sep:?}"));
                }
                if !separator(sep) {
                    return Some(format!("{sep:?} in {s:?} is not a valid separator"));
                }
            }
        } else if sep_start.is_none() {
            sep_start = Some(i);
        }
    }
    sep_start.map(|start| {
        format!(
            "{s:?} ends with the separator {:?}",
            s.get(start..).unwrap_or_default()
        )
    })
}

/// The ref.name grammar of annotations.md.
fn ref_name_problem(v: &str) -> Option<String> {
    v.split('/').find_map(|component| {
        runs_problem(
            component,
            |c| c.is_ascii_alphanumeric(),
            |sep| sep == "--" || (sep.len() == 1 && "-._:@+".contains(sep)),
        )
    })
}

/// distribution/reference `path-component`: `[a-z0-9]+` runs joined by `.`, `_`, `__` or
/// dashes.
fn path_component_problem(c: &str) -> Option<String> {
    runs_problem(
        c,
        |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit(),
        |sep| matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-'),
    )
}

/// distribution/reference `domain`: a host name (dot-separated labels), an IPv4 address or a
/// bracketed IPv6 address, with an optional port.
fn is_domain(c: &str) -> bool {
    let (host, port) = if let Some(rest) = c.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty()
            || !v6
                .chars()
                .all(|ch| ch.is_ascii_hexdigit() || ch == ':' || ch == '.')
        {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match c.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (c, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    port_ok && host_ok
}

/// Parses a distribution/reference image reference. `Ok(Some(host))` when it names a registry
/// host explicitly (a dot or a port in the first component, or `localhost`), `Ok(None)` when
/// it relies on a default registry.
fn parse_reference(s: &str) -> Result<Option<&str>, String> {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else {
            return Err(format!("the digest {d:?} has no ':'"));
        };
        let alg_ok = alg.split(['+', '.', '_', '-']).all(|c| {
            c.starts_with(|ch: char| ch.is_ascii_alphabetic())
                && c.chars().all(|ch| ch.is_ascii_alphanumeric())
        });
        if !alg_ok {
            return Err(format!("the digest algorithm {alg:?} is malformed"));
        }
        if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "the digest {d:?} does not end in at least 32 hex digits"
            ));
        }
    }
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(i) if last_slash.is_none_or(|j| i > j) => (
            rest.get(..i).unwrap_or_default(),
            Some(rest.get(i + 1..).unwrap_or_default()),
        ),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !first_ok || !rest_ok || tag.len() > 128 {
            return Err(format!(
                "the tag {tag:?} is not [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
            ));
        }
    }
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    if name.len() > 255 {
        return Err(format!(
            "the name is {} characters long, over 255",
            name.len()
        ));
    }
    let components: Vec<&str> = name.split('/').collect();
    let (domain, path) = match components.split_first() {
        Some((first, path)) if !path.is_empty() && is_domain(first) => (Some(*first), path),
        _ => (None, components.as_slice()),
    };
    if let Some(p) = path.iter().find_map(|c| path_component_problem(c)) {
        return Err(format!(
            "in the repository path: {p} (path components are lower-case)"
        ));
    }
    Ok(domain.filter(|d| d.contains(['.', ':']) || *d == "localhost"))
}

/// A tokenizer and recursive-descent parser for SPDX license expressions (SPDX 2.3 Annex D):
/// `OR` binds loosest, then `AND`, then `WITH`; operators are upper-case.
struct Spdx<'a> {
    tokens: Vec<&'a str>,
    at: usize,
}

fn spdx_problem(s: &str) -> Option<String> {
    let mut tokens = Vec::new();
    for word in s.split_whitespace() {
        let mut rest = word;
        while !rest.is_empty() {
            let end = rest.find(['(', ')']).unwrap_or(rest.len());
            let (tok, after) = if end == 0 {
                rest.split_at(1)
            } else {
                rest.split_at(end)
            };
            tokens.push(tok);
            rest = after;
        }
    }
    if tokens.is_empty() {
        return Some("the expression is empty".into());
    }
    let mut p = Spdx { tokens, at: 0 };
    if let Err(e) = p.expression(0) {
        return Some(e);
    }
    p.peek()
        .map(|t| format!("unexpected {t:?}; terms are joined by AND, OR or WITH"))
}

impl<'a> Spdx<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.at).copied()
    }

    fn next(&mut self) -> Option<&'a str> {
        let t = self.peek();
        self.at += 1;
        t
    }

    fn expression(&mut self, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Err("parentheses are nested too deeply".into());
        }
        self.conjunction(depth)?;
        while self.peek() == Some("OR") {
            self.next();
            self.conjunction(depth)?;
        }
        Ok(())
    }

    fn conjunction(&mut self, depth: usize) -> Result<(), String> {
        self.term(depth)?;
        while self.peek() == Some("AND") {
            self.next();
            self.term(depth)?;
        }
        Ok(())
    }

    fn term(&mut self, depth: usize) -> Result<(), String> {
        match self.next() {
            None => Err("the expression ends where a license is expected".into()),
            Some("(") => {
                self.expression(depth + 1)?;
                match self.next() {
                    Some(")") => Ok(()),
                    Some(t) => Err(format!("expected ')' but found {t:?}")),
                    None => Err("a '(' is not closed".into()),
                }
            }
            Some(t) => {
                simple_license(t)?;
                if self.peek() == Some("WITH") {
                    self.next();
                    match self.next() {
                        Some(e) if idstring(e) => Ok(()),
                        Some(e) => Err(format!("{e:?} after WITH is not an exception identifier")),
                        None => Err("WITH is not followed by an exception identifier".into()),
                    }
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// SPDX `idstring`: letters, digits, `-` and `.`.
fn idstring(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// SPDX `simple-expression`: `license-id["+"]`, or `[DocumentRef-x:]LicenseRef-y`.
fn simple_license(t: &str) -> Result<(), String> {
    if ["AND", "OR", "WITH"].contains(&t) || t == ")" {
        return Err(format!("{t:?} appears where a license is expected"));
    }
    if ["and", "or", "with"].contains(&t.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "the operator {t:?} is written in upper case in SPDX expressions ({})",
            t.to_ascii_uppercase()
        ));
    }
    let license_ref = match t.split_once(':') {
        Some((doc_ref, lic)) => {
            let ok = doc_ref.strip_prefix("DocumentRef-").is_some_and(idstring);
            if !ok {
                return Err(format!("{t:?} is not DocumentRef-<id>:LicenseRef-<id>"));
            }
            Some(lic)
        }
        None => t.starts_with("LicenseRef-").then_some(t),
    };
    if let Some(lic) = license_ref {
        return if lic.strip_prefix("LicenseRef-").is_some_and(idstring) {
            Ok(())
        } else {
            Err(format!("{t:?} is not a valid LicenseRef-<id>"))
        };
    }
    let id = t.strip_suffix('+').unwrap_or(t);
    if idstring(id) {
        Ok(())
    } else {
        Err(format!(
            "{t:?} is not a license identifier (letters, digits, '-' and '.')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        for ok in [
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.example+type",
            "text/plain; charset=utf-8",
            "application/x.foo;a=\"b;c\"",
        ] {
            assert_eq!(media_type_problem(ok), None, "{ok}");
        }
        for bad in [
            "application",
            "application/",
            "vnd.example/thing",
            "application/json ",
            "application/.json",
            "application/a b",
            "text/plain;",
            "text/plain; charset",
            "text/plain; charset=\"utf-8",
        ] {
            assert!(media_type_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn rfc3339() {
        for ok in [
            "2015-10-31T22:22:56.015925234Z",
            "2024-02-29t00:00:00z",
            "1985-04-12T23:20:50.52+05:30",
            "0001-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert_eq!(rfc3339_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00Zjunk",
            "2024-1-01T00:00:00Z",
            "٢٠٢٤-01-01T00:00:00Z",
        ] {
            assert!(rfc3339_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn spdx() {
        for ok in [
            "MIT",
            "Apache-2.0 OR MIT",
            "(MIT OR Apache-2.0) AND BSD-3-Clause",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "GPL-2.0+",
            "LicenseRef-my-license",
            "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2",
            "((MIT))",
        ] {
            assert_eq!(spdx_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "Apache License 2.0",
            "MIT, Apache-2.0",
            "MIT or Apache-2.0",
            "(MIT",
            "MIT)",
            "AND MIT",
            "MIT AND",
            "MIT WITH",
            "LicenseRef-",
            "(MIT) WITH x",
        ] {
            assert!(spdx_problem(bad).is_some(), "{bad}");
        }
        let deep = format!("{}MIT{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(spdx_problem(&deep).is_some());
    }

    #[test]
    fn references() {
        assert_eq!(
            parse_reference("registry.example.com/org/app:1.2"),
            Ok(Some("registry.example.com"))
        );
        assert_eq!(
            parse_reference("localhost:5000/app@sha256:0123456789abcdef0123456789abcdef"),
            Ok(Some("localhost:5000"))
        );
        assert_eq!(parse_reference("[::1]:5000/app"), Ok(Some("[::1]:5000")));
        assert_eq!(parse_reference("library/ubuntu:22.04"), Ok(None));
        assert_eq!(parse_reference("ubuntu"), Ok(None));
        for bad in [
            "Ubuntu",
            "ex.com/App",
            "ex.com/app:",
            "ex.com//app",
            "ex.com/app@sha256:abc",
            ":tag",
            "ex.com/-app",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ref_names() {
        for ok in [
            "v1.0",
            "stable-release",
            "1.0.0-vendor.0",
            "a--b",
            "example.com/app:v1@x+y",
        ] {
            assert_eq!(ref_name_problem(ok), None, "{ok}");
        }
        for bad in ["", "a..b", "-a", "a-", "a/", "a---b", "a/-b", "a.-b"] {
            assert!(ref_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn base64_and_digests() {
        assert_eq!(decode_base64("e30="), Ok(b"{}".to_vec()));
        assert_eq!(decode_base64(""), Ok(Vec::new()));
        for bad in [
            "e30",
            "e31=",
            "e3-=",
            "e3 0=",
            "e=30",
            "e30=====",
            "Zm9v\nYmFy",
        ] {
            assert!(decode_base64(bad).is_err(), "{bad}");
        }
        assert_eq!(
            digest_of(EMPTY_DIGEST, b"{}").as_deref(),
            Some(EMPTY_DIGEST)
        );
        assert_eq!(digest_of("multihash+base58:Qm", b"{}"), None);
        assert!(digest_problem("sha256:abc").is_some());
        assert!(digest_problem("SHA256:abc").is_some());
        assert!(
            digest_problem("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564").is_none()
        );
        assert!(split_digest("a++b:x").is_none());
    }

    #[test]
    fn ports_and_keys() {
        for ok in ["80", "8080/tcp", "53/udp", "65535"] {
            assert_eq!(port_key_problem(ok), None, "{ok}");
        }
        for bad in [
            "0",
            "65536",
            "80/sctp",
            "8000-8010/tcp",
            "http",
            "/tcp",
            "80/TCP",
        ] {
            assert!(port_key_problem(bad).is_some(), "{bad}");
        }
        for ok in ["com.example.myKey", "org.label-schema.build-date", "io.k8s"] {
            assert_eq!(reverse_domain_problem(ok), None, "{ok}");
        }
        for bad in [
            "maintainer",
            "com..example",
            "1.0",
            "my key.x",
            "https://x.y",
        ] {
            assert!(reverse_domain_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(
            oci_namespace("org.opencontainers.image.created"),
            Some(Some("image"))
        );
        assert_eq!(oci_namespace("org.opencontainers"), Some(None));
        assert_eq!(oci_namespace("org.opencontainersfoo"), None);
    }

    #[test]
    fn variants_and_platforms() {
        assert!(matches!(
            variant_verdict("arm", "v7"),
            VariantVerdict::Listed
        ));
        assert!(matches!(
            variant_verdict("arm", "v5"),
            VariantVerdict::Unlisted(_)
        ));
        assert!(matches!(
            variant_verdict("arm", "armv7l"),
            VariantVerdict::Bad(_)
        ));
        assert!(matches!(
            variant_verdict("arm64", "v8.2"),
            VariantVerdict::Unlisted(_)
        ));
        assert!(matches!(
            variant_verdict("arm64", "v8."),
            VariantVerdict::Bad(_)
        ));
        assert!(matches!(
            variant_verdict("riscv64", "rva22u64"),
            VariantVerdict::Unlisted(_)
        ));
        assert!(matches!(
            variant_verdict("386", "sse2"),
            VariantVerdict::Unlisted(_)
        ));
        assert!(goarch_problem("x86_64").is_some_and(|p| p.contains("amd64")));
        assert!(goos_problem("Linux").is_some_and(|p| p.contains("\"linux\"")));
    }

    /// Every check of every kind, on every document obtained by replacing one value of a
    /// realistic document with a value of another type, returns without panicking.
    #[test]
    fn checks_never_panic_on_mistyped_documents() {
        use crate::json::{Document, Limits};
        let seeds = [
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha512:00","size":0,"urls":["http://x/"],"annotations":{"org.opencontainers.image.ref.name":"a","org.opencontainers.image.base.name":"a/b"}}],"subject":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"x:y","size":1},"annotations":{"org.opencontainers.image.licenses":"(MIT)","org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}"#,
            r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1,"platform":{"architecture":"arm","os":"windows","variant":"v7","os.features":["win32k"],"features":[]}}],"subject":{"mediaType":"a/b","digest":"a:b","size":1}}"#,
            r#"{"created":"2024-01-01T00:00:00Z","architecture":"arm64","variant":"v8","os":"windows","os.features":["x"],"config":{"Env":["A=b"],"ExposedPorts":{"80":{}},"Volumes":{"/v":{}},"Labels":{"a.b":"c"}},"rootfs":{"type":"layers","diff_ids":["sha256:00"]},"history":[{"created":"x","empty_layer":true},{}]}"#,
        ];
        let odd = [
            Value::Null,
            Value::from(-1),
            Value::from(1.5),
            Value::from(""),
            Value::from("\u{e9}:/;="),
            Value::Array(vec![Value::Null]),
            Value::Object(Map::new()),
            Value::Bool(true),
        ];
        fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => m
                    .iter()
                    .for_each(|(k, c)| pointers(c, format!("{at}/{}", escape_token(k)), out)),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
                _ => {}
            }
            out.push(at);
        }
        let kinds = [
            DocKind::ImageManifest,
            DocKind::ImageIndex,
            DocKind::ImageConfig,
            DocKind::Descriptor,
            DocKind::OciLayout,
        ];
        let mut runs = 0;
        for seed in seeds {
            let value: Value = serde_json::from_str(seed).unwrap();
            let mut ptrs = Vec::new();
            pointers(&value, String::new(), &mut ptrs);
            for ptr in ptrs {
                for replacement in &odd {
                    let mut mutated = value.clone();
                    match mutated.pointer_mut(&ptr) {
                        Some(slot) => *slot = replacement.clone(),
                        None => continue,
                    }
                    let bytes = serde_json::to_vec(&mutated).unwrap();
                    for kind in kinds {
                        let doc = Doc {
                            document: Document::parse("t", &bytes, Limits::default()).unwrap(),
                            kind,
                        };
                        for check in crate::rules::checks_for(kind) {
                            let _ = check.run(&doc);
                            runs += 1;
                        }
                    }
                }
            }
        }
        assert!(runs > 10_000, "{runs}");
    }

    #[test]
    fn shown_paths() {
        assert_eq!(shown("/layers/2/digest"), "layers[2].digest");
        assert_eq!(
            shown("/annotations/org.opencontainers.image.created"),
            "annotations[\"org.opencontainers.image.created\"]"
        );
        assert_eq!(shown("/os.features/0"), "[\"os.features\"][0]");
        assert_eq!(shown(""), "the document");
    }
}
