//! Content digests (`algorithm:encoded`) as distribution-spec and image-spec use them.

use sha2::{Digest as _, Sha256, Sha512};

/// A hash algorithm the suite can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha256`.
    Sha256,
    /// `sha512`.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name in a digest string.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Digest of `bytes` with `alg`, as `alg:hex`.
pub fn of(alg: Algorithm, bytes: &[u8]) -> String {
    match alg {
        Algorithm::Sha256 => format!("sha256:{}", hex::encode(Sha256::digest(bytes))),
        Algorithm::Sha512 => format!("sha512:{}", hex::encode(Sha512::digest(bytes))),
    }
}

/// sha256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    of(Algorithm::Sha256, bytes)
}

/// Splits a digest the suite can verify into its algorithm and lowercase hex part. `None` for
/// an unknown algorithm or a malformed encoding (which also rules out path tricks: the encoded
/// part is only ever lowercase hex of the algorithm's length).
pub fn parse(digest: &str) -> Option<(Algorithm, &str)> {
    let (alg, hex) = digest.split_once(':')?;
    let alg = match alg {
        "sha256" => Algorithm::Sha256,
        "sha512" => Algorithm::Sha512,
        _ => return None,
    };
    (hex.len() == alg.hex_len()
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some((alg, hex))
}

/// Whether `digest` is syntactically a digest per the image-spec grammar (any algorithm).
pub fn is_well_formed(digest: &str) -> bool {
    let Some((alg, enc)) = digest.split_once(':') else {
        return false;
    };
    !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
        && !enc.is_empty()
        && enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
}

/// A streaming hasher for either algorithm.
pub enum Hasher {
    /// sha256 state.
    Sha256(Sha256),
    /// sha512 state.
    Sha512(Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(alg: Algorithm) -> Hasher {
        match alg {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest string.
    pub fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            Hasher::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_blob_digest() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(parse(&sha256(b"")).is_some());
        assert!(parse(&of(Algorithm::Sha512, b"x")).is_some());
        assert!(parse("sha256:../../etc").is_none());
        assert!(parse("md5:00").is_none());
        assert!(is_well_formed("sha256:abc"));
        assert!(!is_well_formed("sha256"));
    }
}
