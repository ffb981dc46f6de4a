//! The requirement catalogue: every normative statement of each supported spec version.
//!
//! The data lives in `core/catalogue/*.toml` (see the README there for the format) and is
//! embedded at build time. [`Catalogue::builtin`] parses it once per process.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::fault::{Blame, Fault};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalogue_files.rs"));
}

/// The three OCI specifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spec {
    /// runtime-spec: bundles, config.json, the runtime's lifecycle.
    Runtime,
    /// image-spec: layouts, manifests, indexes, configs, layers, descriptors.
    Image,
    /// distribution-spec: the registry HTTP API.
    Distribution,
}

impl Spec {
    /// All specs, in the order reports list them.
    pub const ALL: [Spec; 3] = [Spec::Runtime, Spec::Image, Spec::Distribution];

    /// The short name used in ids and on the command line (`runtime`, `image`, `distribution`).
    pub fn name(self) -> &'static str {
        match self {
            Spec::Runtime => "runtime",
            Spec::Image => "image",
            Spec::Distribution => "distribution",
        }
    }

    /// The repository name of the spec (`runtime-spec`, ...).
    pub fn repository_name(self) -> &'static str {
        match self {
            Spec::Runtime => "runtime-spec",
            Spec::Image => "image-spec",
            Spec::Distribution => "distribution-spec",
        }
    }

    /// Parses `runtime`, `image` or `distribution` (also the `-spec` forms).
    pub fn parse(s: &str) -> Option<Spec> {
        Spec::ALL
            .into_iter()
            .find(|spec| s == spec.name() || s == spec.repository_name())
    }
}

impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.repository_name())
    }
}

/// The strength of a requirement, after folding RFC 2119 synonyms
/// (REQUIRED and SHALL into MUST, RECOMMENDED into SHOULD, OPTIONAL into MAY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// An absolute requirement.
    #[serde(rename = "MUST")]
    Must,
    /// An absolute prohibition.
    #[serde(rename = "MUST NOT")]
    MustNot,
    /// A recommendation; failing it makes the verdict yellow.
    #[serde(rename = "SHOULD")]
    Should,
    /// A recommendation against; failing it makes the verdict yellow.
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    /// A permission; a check keyed to it is informational.
    #[serde(rename = "MAY")]
    May,
}

/// How a failure of a requirement counts towards the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// MUST and MUST NOT: a failure is red.
    Must,
    /// SHOULD and SHOULD NOT: a failure is yellow.
    Should,
    /// MAY: a failure is informational only.
    May,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Level; 5] = [
        Level::Must,
        Level::MustNot,
        Level::Should,
        Level::ShouldNot,
        Level::May,
    ];

    /// The level as the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::MustNot => "MUST NOT",
            Level::Should => "SHOULD",
            Level::ShouldNot => "SHOULD NOT",
            Level::May => "MAY",
        }
    }

    /// How a failure at this level counts.
    pub fn severity(self) -> Severity {
        match self {
            Level::Must | Level::MustNot => Severity::Must,
            Level::Should | Level::ShouldNot => Severity::Should,
            Level::May => Severity::May,
        }
    }

    /// Parses a level as the spec or the command line writes it (`MUST`, `must-not`, `should`,
    /// also the synonyms REQUIRED, SHALL, RECOMMENDED, OPTIONAL).
    pub fn parse(s: &str) -> Option<Level> {
        let norm = s.trim().to_ascii_uppercase().replace(['-', '_'], " ");
        Some(match norm.as_str() {
            "MUST" | "REQUIRED" | "SHALL" => Level::Must,
            "MUST NOT" | "SHALL NOT" => Level::MustNot,
            "SHOULD" | "RECOMMENDED" => Level::Should,
            "SHOULD NOT" | "NOT RECOMMENDED" => Level::ShouldNot,
            "MAY" | "OPTIONAL" => Level::May,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The party a requirement binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// The runtime implementation.
    Runtime,
    /// The bundle (config.json and rootfs), i.e. its author.
    Bundle,
    /// Image content: layout, index, manifest, config, layers, descriptors.
    Image,
    /// Software that produces, consumes, converts or extracts images.
    ImageTool,
    /// A distribution-spec registry.
    Registry,
    /// A distribution-spec client.
    Client,
}

impl Subject {
    /// The name as the catalogue writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Runtime => "runtime",
            Subject::Bundle => "bundle",
            Subject::Image => "image",
            Subject::ImageTool => "image-tool",
            Subject::Registry => "registry",
            Subject::Client => "client",
        }
    }
}

/// The platform a requirement applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Every platform.
    All,
    /// The POSIX platforms (Linux, Solaris, FreeBSD, z/OS).
    Posix,
    /// Linux.
    Linux,
    /// Windows.
    Windows,
    /// FreeBSD.
    Freebsd,
    /// Solaris.
    Solaris,
    /// Virtual-machine based runtimes.
    Vm,
    /// z/OS.
    Zos,
}

impl Platform {
    /// Whether this suite, which certifies Linux implementations, can test requirements of
    /// this platform.
    pub fn tested_here(self) -> bool {
        matches!(self, Platform::All | Platform::Posix | Platform::Linux)
    }

    /// The name as the catalogue writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::All => "all",
            Platform::Posix => "posix",
            Platform::Linux => "linux",
            Platform::Windows => "windows",
            Platform::Freebsd => "freebsd",
            Platform::Solaris => "solaris",
            Platform::Vm => "vm",
            Platform::Zos => "zos",
        }
    }
}

/// One normative statement of a spec version.
#[derive(Debug, Clone, Serialize)]
pub struct Requirement {
    /// Stable dotted id, e.g. `runtime.config.process.cwd-absolute`.
    pub id: String,
    /// The spec it belongs to.
    pub spec: Spec,
    /// The spec version, e.g. `1.3.0`.
    pub spec_version: String,
    /// Full version-pinned URL of the anchor in the spec text.
    pub anchor: String,
    /// The anchor as `FILE.md#fragment`, relative to the spec repository.
    pub source: String,
    /// Strength of the statement.
    pub level: Level,
    /// Who it binds.
    pub subject: Subject,
    /// Which platform it applies to.
    pub platform: Platform,
    /// The statement in this project's own words.
    pub summary: String,
    /// Why this suite cannot test it, when the reason is not platform or subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_testable: Option<String>,
}

impl Requirement {
    /// `None` when the suite can test this requirement, otherwise the reason it cannot.
    pub fn untestable_reason(&self) -> Option<String> {
        if let Some(reason) = &self.not_testable {
            return Some(reason.clone());
        }
        if !self.platform.tested_here() {
            return Some(format!(
                "applies to platform {}; this suite certifies Linux implementations",
                self.platform.as_str()
            ));
        }
        match self.subject {
            Subject::Client => Some(
                "binds registry clients; this suite certifies registries, not clients".to_string(),
            ),
            Subject::ImageTool => Some(
                "binds image tools (producers, extractors, converters); this suite validates image content"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// All requirements of one spec version.
#[derive(Debug, Clone)]
pub struct SpecCatalogue {
    /// The spec.
    pub spec: Spec,
    /// Its version, e.g. `1.3.0`.
    pub version: String,
    /// Repository URL, e.g. `https://github.com/opencontainers/runtime-spec`.
    pub repository: String,
    /// The name of the data file it came from.
    pub file: String,
    /// Requirements in the order of the data file (which follows the spec text).
    pub requirements: Vec<Requirement>,
    index: HashMap<String, usize>,
}

/// Every embedded spec version. Ids are unique within a spec version; the same id may appear
/// in several versions of one spec (a requirement that did not change keeps its id).
#[derive(Debug, Clone)]
pub struct Catalogue {
    specs: Vec<SpecCatalogue>,
}

/// A catalogue data file could not be used. Always a harness fault: the data ships with the
/// tool, and its tests reject bad data.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The TOML did not parse or did not have the documented shape.
    #[error("catalogue file {file}: {source}")]
    Parse {
        /// The data file.
        file: String,
        /// The parser's complaint.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// Two entries share an id.
    #[error("requirement id {id} appears twice (in {first} and {second})")]
    DuplicateId {
        /// The id.
        id: String,
        /// File of the first entry.
        first: String,
        /// File of the second entry.
        second: String,
    },
    /// An id or anchor has the wrong shape.
    #[error("catalogue file {file}: requirement {id}: {problem}")]
    Invalid {
        /// The data file.
        file: String,
        /// The entry's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

impl Blame for CatalogueError {
    fn fault(&self) -> Fault {
        Fault::Harness
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    spec: Spec,
    spec_version: String,
    repository: String,
    #[serde(default)]
    requirement: Vec<RawRequirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: String,
    anchor: String,
    level: Level,
    subject: Subject,
    platform: Platform,
    summary: String,
    not_testable: Option<String>,
}

/// Whether `id` has the catalogue's id shape: `spec.segment.segment...`, at least three
/// segments, each lower-case alphanumeric words joined by single hyphens.
pub fn valid_id(id: &str) -> bool {
    let segments: Vec<&str> = id.split('.').collect();
    segments.len() >= 3
        && Spec::parse(segments[0]).is_some_and(|s| s.name() == segments[0])
        && segments.iter().all(|seg| {
            !seg.is_empty()
                && seg.split('-').all(|w| {
                    !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

impl SpecCatalogue {
    /// Parses one catalogue data file.
    pub fn parse(file: &str, text: &str) -> Result<SpecCatalogue, CatalogueError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| CatalogueError::Parse {
            file: file.to_string(),
            source: Box::new(e),
        })?;
        let base = format!(
            "{}/blob/v{}/",
            raw.repository.trim_end_matches('/'),
            raw.spec_version
        );
        let mut requirements = Vec::with_capacity(raw.requirement.len());
        let mut index = HashMap::with_capacity(raw.requirement.len());
        for r in raw.requirement {
            let invalid = |problem: &str| CatalogueError::Invalid {
                file: file.to_string(),
                id: r.id.clone(),
                problem: problem.to_string(),
            };
            if !valid_id(&r.id) || !r.id.starts_with(&format!("{}.", raw.spec.name())) {
                return Err(invalid(
                    "id must be dotted lower-case words starting with the spec name",
                ));
            }
            match r.anchor.split_once('#') {
                Some((path, frag)) if path.ends_with(".md") && !frag.is_empty() => {}
                _ => return Err(invalid("anchor must be FILE.md#fragment")),
            }
            if r.summary.trim().is_empty() {
                return Err(invalid("summary is empty"));
            }
            if index.insert(r.id.clone(), requirements.len()).is_some() {
                return Err(CatalogueError::DuplicateId {
                    id: r.id.clone(),
                    first: file.to_string(),
                    second: file.to_string(),
                });
            }
            requirements.push(Requirement {
                anchor: format!("{base}{}", r.anchor),
                source: r.anchor,
                spec: raw.spec,
                spec_version: raw.spec_version.clone(),
                id: r.id,
                level: r.level,
                subject: r.subject,
                platform: r.platform,
                summary: r.summary.trim().to_string(),
                not_testable: r.not_testable,
            });
        }
        Ok(SpecCatalogue {
            spec: raw.spec,
            version: raw.spec_version,
            repository: raw.repository,
            file: file.to_string(),
            requirements,
            index,
        })
    }

    /// Looks a requirement of this spec version up by id.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.index.get(id).map(|&i| &self.requirements[i])
    }

    /// Counts of requirements per level.
    pub fn count_by_level(&self) -> BTreeMap<Level, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.requirements {
            *counts.entry(r.level).or_insert(0) += 1;
        }
        counts
    }
}

impl Catalogue {
    /// Builds a catalogue from parsed spec files, rejecting two files for one spec version.
    pub fn from_specs(mut specs: Vec<SpecCatalogue>) -> Result<Catalogue, CatalogueError> {
        specs.sort_by(|a, b| {
            a.spec
                .cmp(&b.spec)
                .then_with(|| compare_versions(&b.version, &a.version))
        });
        for pair in specs.windows(2) {
            if pair[0].spec == pair[1].spec && pair[0].version == pair[1].version {
                return Err(CatalogueError::Invalid {
                    file: pair[1].file.clone(),
                    id: String::new(),
                    problem: format!(
                        "{} v{} is also defined by {}",
                        pair[0].spec, pair[0].version, pair[0].file
                    ),
                });
            }
        }
        Ok(Catalogue { specs })
    }

    /// Parses the embedded data files.
    pub fn load_embedded() -> Result<Catalogue, CatalogueError> {
        let specs = embedded::EMBEDDED
            .iter()
            .map(|(name, text)| SpecCatalogue::parse(name, text))
            .collect::<Result<Vec<_>, _>>()?;
        Catalogue::from_specs(specs)
    }

    /// The embedded catalogue, parsed once per process.
    pub fn builtin() -> Result<&'static Catalogue, &'static CatalogueError> {
        static CELL: OnceLock<Result<Catalogue, CatalogueError>> = OnceLock::new();
        CELL.get_or_init(Catalogue::load_embedded).as_ref()
    }

    /// Every spec version in the catalogue.
    pub fn specs(&self) -> &[SpecCatalogue] {
        &self.specs
    }

    /// The catalogue of one spec version; `version` `None` means the newest embedded one.
    pub fn spec(&self, spec: Spec, version: Option<&str>) -> Option<&SpecCatalogue> {
        self.specs
            .iter()
            .filter(|s| s.spec == spec && version.is_none_or(|v| s.version == v))
            .max_by(|a, b| compare_versions(&a.version, &b.version))
    }

    /// Looks a requirement up by id in the newest version of the spec its id names.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        let spec = Spec::parse(id.split('.').next()?)?;
        self.spec(spec, None)?.get(id)
    }

    /// Every requirement of every spec version.
    pub fn iter(&self) -> impl Iterator<Item = &Requirement> {
        self.specs.iter().flat_map(|s| s.requirements.iter())
    }
}

fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a).cmp(&parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
spec = "runtime"
spec_version = "1.3.0"
repository = "https://github.com/opencontainers/runtime-spec"

[[requirement]]
id = "runtime.config.process.cwd-absolute"
anchor = "config.md#configProcess"
level = "MUST"
subject = "bundle"
platform = "all"
summary = "cwd is absolute."
"#;

    #[test]
    fn parses_and_pins_the_anchor() {
        let c = SpecCatalogue::parse("x.toml", SAMPLE).unwrap();
        let r = &c.requirements[0];
        assert_eq!(
            r.anchor,
            "https://github.com/opencontainers/runtime-spec/blob/v1.3.0/config.md#configProcess"
        );
        assert_eq!(r.level, Level::Must);
        assert_eq!(r.untestable_reason(), None);
    }

    #[test]
    fn rejects_duplicate_ids_and_duplicate_versions() {
        let twice = format!(
            "{SAMPLE}{}",
            &SAMPLE[SAMPLE.find("[[requirement]]").unwrap()..]
        );
        let err = SpecCatalogue::parse("x.toml", &twice).unwrap_err();
        assert!(matches!(err, CatalogueError::DuplicateId { .. }), "{err}");
        let a = SpecCatalogue::parse("a.toml", SAMPLE).unwrap();
        let b = SpecCatalogue::parse("b.toml", SAMPLE).unwrap();
        assert!(Catalogue::from_specs(vec![a, b]).is_err());
        // The same id in another version is fine; lookups by id use the newest version.
        let older = SpecCatalogue::parse("o.toml", &SAMPLE.replace("1.3.0", "1.2.1")).unwrap();
        let newer = SpecCatalogue::parse("n.toml", SAMPLE).unwrap();
        let c = Catalogue::from_specs(vec![older, newer]).unwrap();
        assert_eq!(
            c.get("runtime.config.process.cwd-absolute")
                .unwrap()
                .spec_version,
            "1.3.0"
        );
    }

    #[test]
    fn rejects_bad_ids_and_unknown_fields() {
        let bad = SAMPLE.replace("runtime.config.process.cwd-absolute", "runtime.Config");
        assert!(SpecCatalogue::parse("x.toml", &bad).is_err());
        let extra = format!("{SAMPLE}color = \"red\"\n");
        assert!(SpecCatalogue::parse("x.toml", &extra).is_err());
    }

    #[test]
    fn id_shape() {
        assert!(valid_id("image.manifest.media-type"));
        assert!(valid_id("distribution.push.chunked.out-of-order-416"));
        assert!(!valid_id("image.manifest"));
        assert!(!valid_id("image.manifest.media--type"));
        assert!(!valid_id("docker.manifest.x"));
    }

    #[test]
    fn levels_fold_synonyms() {
        assert_eq!(Level::parse("REQUIRED"), Some(Level::Must));
        assert_eq!(Level::parse("must-not"), Some(Level::MustNot));
        assert_eq!(Level::parse("RECOMMENDED"), Some(Level::Should));
        assert_eq!(Level::parse("OPTIONAL"), Some(Level::May));
        assert_eq!(Level::parse("maybe"), None);
    }
}
