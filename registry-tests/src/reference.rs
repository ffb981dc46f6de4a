//! Image references: `host[:port]/repository[:tag][@digest]`.
//!
//! The registry host is required (there is no implicit `docker.io`): the suite and the
//! validator service pull from the registry they are told about, never from a default one.

use thiserror::Error;

use oci_certify_core::fault::{Blame, Fault};

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a reference could not be parsed (always the input's fault).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// Empty, or no `/` after the host.
    #[error("`{0}` is not host[:port]/repository[:tag][@digest]")]
    Shape(String),
    /// The first component does not look like a registry host.
    #[error(
        "`{0}` does not start with a registry host (a name with a dot or a port, or localhost)"
    )]
    NoHost(String),
    /// The repository breaks the distribution-spec name grammar.
    #[error("repository `{0}` breaks the name grammar (lowercase components joined by . _ __ or dashes)")]
    Repository(String),
    /// The tag breaks the tag grammar.
    #[error("tag `{0}` breaks the tag grammar ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})")]
    Tag(String),
    /// The digest is malformed.
    #[error("digest `{0}` is not algorithm:encoded")]
    Digest(String),
}

impl Blame for ReferenceError {
    fn fault(&self) -> Fault {
        Fault::Input
    }
}

/// Whether `name` matches the distribution-spec repository name grammar.
pub fn is_valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|component| {
            // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
            let b = component.as_bytes();
            if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
                return false;
            }
            let mut i = 0;
            while i < b.len() {
                if is_alnum(b[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !is_alnum(b[i]) {
                    i += 1;
                }
                let sep = &component[start..i];
                let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
                if !ok {
                    return false;
                }
            }
            true
        })
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Whether `tag` matches the tag grammar.
pub fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

impl Reference {
    /// Parses `host[:port]/repository[:tag][@digest]`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !crate::digest::is_well_formed(d) {
                    return Err(ReferenceError::Digest(d.to_string()));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| ReferenceError::Shape(s.to_string()))?;
        if host.is_empty() || path.is_empty() {
            return Err(ReferenceError::Shape(s.to_string()));
        }
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(ReferenceError::NoHost(s.to_string()));
        }
        // A tag is after the last ':' of the path, if that ':' follows the last '/'.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
            _ => (path, None),
        };
        if !is_valid_repository(repository) {
            return Err(ReferenceError::Repository(repository.to_string()));
        }
        if let Some(t) = &tag {
            if !is_valid_tag(t) {
                return Err(ReferenceError::Tag(t.clone()));
            }
        }
        Ok(Reference {
            registry: host.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The registry host, with its port if one was given.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository name.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to ask the manifests endpoint for: the digest when given, else the tag, else
    /// `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let r = Reference::parse("127.0.0.1:5000/a/b:v1").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("127.0.0.1:5000", "a/b", Some("v1"), None)
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost/x@{d}")).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(r.manifest_reference(), d);
        let r = Reference::parse("reg.example:443/x:t@sha256:00").unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("t"), Some("sha256:00")));
        assert_eq!(r.to_string(), "reg.example:443/x:t@sha256:00");
        assert!(matches!(
            Reference::parse("ubuntu:22.04"),
            Err(ReferenceError::Shape(_))
        ));
        assert!(matches!(
            Reference::parse("library/ubuntu"),
            Err(ReferenceError::NoHost(_))
        ));
        assert!(matches!(
            Reference::parse("r.io/Upper"),
            Err(ReferenceError::Repository(_))
        ));
        assert!(matches!(
            Reference::parse("r.io/a:-bad"),
            Err(ReferenceError::Tag(_))
        ));
        assert!(matches!(
            Reference::parse("r.io/a@nope"),
            Err(ReferenceError::Digest(_))
        ));
        assert!(is_valid_repository("a__b/c-d/e.f"));
        assert!(!is_valid_repository("a/"));
        assert!(!is_valid_repository("a..b"));
    }
}
