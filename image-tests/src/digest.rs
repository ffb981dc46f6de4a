//! Digest strings and the hashes behind them.
//!
//! A descriptor's `digest` is `algorithm ":" encoded` (descriptor.md, "Digests"):
//!
//! ```text
//! algorithm           ::= algorithm-component (algorithm-separator algorithm-component)*
//! algorithm-component ::= [a-z0-9]+
//! algorithm-separator ::= [+._-]
//! encoded             ::= [a-zA-Z0-9=_-]+
//! ```
//!
//! Two algorithms are registered: `sha256` (encoded: exactly 64 lower-case hex digits) and
//! `sha512` (exactly 128). A digest whose algorithm is not registered but fits the grammar is
//! *valid* (implementations SHOULD let it pass, `image.descriptor.digest.unknown-algorithm-accepted`);
//! it is merely not verifiable by this suite. [`Digest::parse`] therefore succeeds for it and
//! [`Digest::verifiability`] says [`Verifiability::NotVerifiable`].
//!
//! Every parse error names the catalogue requirement it breaks ([`DigestError::requirement`]),
//! so a check can turn it into a finding without a second table.
//!
//! Hashing goes through [`Hasher`], an enum over `sha2`'s SHA-256 and SHA-512. `sha2` 0.10 picks
//! the SHA-NI instructions at run time on x86_64 CPUs that have them (no feature flag needed),
//! which is what makes single-pass verification disk-bound rather than CPU-bound; the
//! `hash_throughput` example measures it.
//!
//! ```
//! use oci_certify_image::digest::{Algorithm, Digest, Verifiability};
//!
//! let d = Digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
//! assert_eq!(d.verifiability(), Verifiability::Verifiable(Algorithm::Sha256));
//! assert_eq!(Algorithm::Sha256.digest_of(b""), d.as_str());
//!
//! let unknown = Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8").unwrap();
//! assert_eq!(unknown.verifiability(), Verifiability::NotVerifiable);
//!
//! let upper = Digest::parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
//! assert_eq!(upper.unwrap_err().requirement(), "image.descriptor.digest.sha256-no-uppercase");
//! ```

use sha2::Digest as _;
use std::fmt;
use std::str::FromStr;

/// Requirement: a digest string fits the generic grammar.
pub const REQ_GRAMMAR: &str = "image.descriptor.digest.grammar";
/// Requirement: a sha256 encoded part is 64 lower-case hex digits.
pub const REQ_SHA256_LOWER_HEX: &str = "image.descriptor.digest.sha256-lower-hex";
/// Requirement: a sha256 encoded part has no upper-case A-F.
pub const REQ_SHA256_NO_UPPERCASE: &str = "image.descriptor.digest.sha256-no-uppercase";
/// Requirement: a sha512 encoded part is 128 lower-case hex digits.
pub const REQ_SHA512_LOWER_HEX: &str = "image.descriptor.digest.sha512-lower-hex";
/// Requirement: a sha512 encoded part has no upper-case A-F.
pub const REQ_SHA512_NO_UPPERCASE: &str = "image.descriptor.digest.sha512-no-uppercase";

/// A registered digest algorithm: one this suite can compute and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha256`: SHA-256, hex encoded (64 characters). Every implementation MUST support it.
    Sha256,
    /// `sha512`: SHA-512, hex encoded (128 characters).
    Sha512,
}

impl Algorithm {
    /// All registered algorithms.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    /// The algorithm identifier as it appears in digests and under `blobs/`.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The length of the encoded part (lower-case hex of the hash).
    pub const fn encoded_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// The registered algorithm with this identifier, if any.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// A fresh incremental hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        Hasher::new(self)
    }

    /// The digest string (`alg:hex`) of a byte slice held in memory.
    pub fn digest_of(self, bytes: &[u8]) -> String {
        let mut h = self.hasher();
        h.update(bytes);
        h.finalize()
    }

    fn lower_hex_requirement(self) -> &'static str {
        match self {
            Algorithm::Sha256 => REQ_SHA256_LOWER_HEX,
            Algorithm::Sha512 => REQ_SHA512_LOWER_HEX,
        }
    }

    fn no_uppercase_requirement(self) -> &'static str {
        match self {
            Algorithm::Sha256 => REQ_SHA256_NO_UPPERCASE,
            Algorithm::Sha512 => REQ_SHA512_NO_UPPERCASE,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Algorithm, UnknownAlgorithm> {
        Algorithm::from_name(s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

/// An algorithm identifier that is not registered (it may still be grammatically valid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest algorithm {0:?} is not registered (registered: sha256, sha512)")]
pub struct UnknownAlgorithm(pub String);

/// An incremental hash over one of the registered algorithms.
///
/// Cloning is cheap (the state is a few hundred bytes), which lets callers fork a hash.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hasher({})", self.algorithm())
    }
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feeds bytes.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The lower-case hex encoding of the hash (the digest's encoded part).
    pub fn finalize_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => to_lower_hex(&h.finalize()),
            Hasher::Sha512(h) => to_lower_hex(&h.finalize()),
        }
    }

    /// The full digest string, `alg:hex`.
    pub fn finalize(self) -> String {
        let alg = self.algorithm();
        let hex = self.finalize_hex();
        let mut s = String::with_capacity(alg.name().len() + 1 + hex.len());
        s.push_str(alg.name());
        s.push(':');
        s.push_str(&hex);
        s
    }
}

fn to_lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// Whether a digest can be verified by this suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verifiability {
    /// A registered algorithm: recompute and compare.
    Verifiable(Algorithm),
    /// A grammatically valid digest with an algorithm this suite does not know. Not an error:
    /// the spec asks validators to let it pass.
    NotVerifiable,
}

/// A digest string that fits the grammar (and, for registered algorithms, their encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest<'a> {
    text: &'a str,
    colon: usize,
    registered: Option<Algorithm>,
}

impl<'a> Digest<'a> {
    /// Parses and validates a digest string.
    ///
    /// Registered algorithms get their algorithm-specific check (lower-case hex of the exact
    /// length); unknown algorithms only the generic grammar.
    pub fn parse(text: &'a str) -> Result<Digest<'a>, DigestError> {
        let Some(colon) = text.find(':') else {
            return Err(DigestError::MissingColon {
                digest: text.to_owned(),
            });
        };
        let (algorithm, encoded) = (&text[..colon], &text[colon + 1..]);
        if let Err(reason) = check_algorithm(algorithm) {
            return Err(DigestError::Algorithm {
                digest: text.to_owned(),
                reason,
            });
        }
        if let Err(reason) = check_encoded(encoded) {
            return Err(DigestError::Encoded {
                digest: text.to_owned(),
                reason,
            });
        }
        let registered = Algorithm::from_name(algorithm);
        if let Some(alg) = registered {
            check_registered_encoding(alg, encoded).map_err(|problem| {
                DigestError::RegisteredEncoding {
                    digest: text.to_owned(),
                    algorithm: alg,
                    problem,
                }
            })?;
        }
        Ok(Digest {
            text,
            colon,
            registered,
        })
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The algorithm part.
    pub fn algorithm(&self) -> &'a str {
        &self.text[..self.colon]
    }

    /// The encoded part.
    pub fn encoded(&self) -> &'a str {
        &self.text[self.colon + 1..]
    }

    /// The registered algorithm, if the algorithm part names one.
    pub fn registered(&self) -> Option<Algorithm> {
        self.registered
    }

    /// Whether this suite can verify content against the digest.
    pub fn verifiability(&self) -> Verifiability {
        match self.registered {
            Some(alg) => Verifiability::Verifiable(alg),
            None => Verifiability::NotVerifiable,
        }
    }
}

impl fmt::Display for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `:` between algorithm and encoded part.
    #[error("digest {digest:?} has no ':' between algorithm and encoded part")]
    MissingColon {
        /// The offending string.
        digest: String,
    },
    /// The algorithm part breaks the grammar.
    #[error("digest {digest:?}: algorithm {reason}")]
    Algorithm {
        /// The offending string.
        digest: String,
        /// What is wrong.
        reason: GrammarProblem,
    },
    /// The encoded part breaks the grammar.
    #[error("digest {digest:?}: encoded part {reason}")]
    Encoded {
        /// The offending string.
        digest: String,
        /// What is wrong.
        reason: GrammarProblem,
    },
    /// The grammar holds but a registered algorithm's encoding rule does not.
    #[error("digest {digest:?}: {algorithm} encoded part {problem}")]
    RegisteredEncoding {
        /// The offending string.
        digest: String,
        /// The registered algorithm.
        algorithm: Algorithm,
        /// What is wrong.
        problem: EncodingProblem,
    },
}

impl DigestError {
    /// The catalogue requirement this error violates.
    pub fn requirement(&self) -> &'static str {
        match self {
            DigestError::MissingColon { .. }
            | DigestError::Algorithm { .. }
            | DigestError::Encoded { .. } => REQ_GRAMMAR,
            DigestError::RegisteredEncoding {
                algorithm,
                problem: EncodingProblem::Uppercase,
                ..
            } => algorithm.no_uppercase_requirement(),
            DigestError::RegisteredEncoding { algorithm, .. } => algorithm.lower_hex_requirement(),
        }
    }
}

/// A break of the generic digest grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarProblem {
    /// Nothing there.
    #[error("is empty")]
    Empty,
    /// A character outside the allowed set, at a byte offset of the part.
    #[error("has character {ch:?} at offset {offset}, outside the allowed set")]
    BadChar {
        /// The character.
        ch: char,
        /// Byte offset within the part.
        offset: usize,
    },
    /// A separator (`+._-`) at the start, at the end, or next to another separator.
    #[error("has a separator {ch:?} at offset {offset} that does not sit between two components")]
    MisplacedSeparator {
        /// The separator.
        ch: char,
        /// Byte offset within the part.
        offset: usize,
    },
}

/// A break of a registered algorithm's encoding rule (lower-case hex of a fixed length).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingProblem {
    /// Wrong number of characters.
    #[error("has {actual} characters, expected {expected}")]
    WrongLength {
        /// Characters found.
        actual: usize,
        /// Characters required.
        expected: usize,
    },
    /// Right length, hex, but with upper-case A-F.
    #[error("uses upper-case hex digits A-F")]
    Uppercase,
    /// A character that is not a hex digit.
    #[error("has non-hex character {ch:?} at offset {offset}")]
    NotHex {
        /// The character.
        ch: char,
        /// Byte offset.
        offset: usize,
    },
}

/// Whether `s` fits the `algorithm` production of the digest grammar.
///
/// Used for digest strings and for the algorithm directory names under `blobs/`.
pub fn valid_algorithm(s: &str) -> bool {
    check_algorithm(s).is_ok()
}

/// Whether `s` fits the `encoded` production of the digest grammar.
///
/// Used for digest strings and for blob file names under `blobs/<alg>/`.
pub fn valid_encoded(s: &str) -> bool {
    check_encoded(s).is_ok()
}

fn check_algorithm(s: &str) -> Result<(), GrammarProblem> {
    if s.is_empty() {
        return Err(GrammarProblem::Empty);
    }
    let mut prev_was_separator = true; // a separator may not come first
    for (offset, ch) in s.char_indices() {
        match ch {
            'a'..='z' | '0'..='9' => prev_was_separator = false,
            '+' | '.' | '_' | '-' => {
                if prev_was_separator {
                    return Err(GrammarProblem::MisplacedSeparator { ch, offset });
                }
                prev_was_separator = true;
            }
            _ => return Err(GrammarProblem::BadChar { ch, offset }),
        }
    }
    if prev_was_separator {
        // The last character is a separator (s is not empty).
        let offset = s.len() - 1;
        let ch = char::from(s.as_bytes()[offset]);
        return Err(GrammarProblem::MisplacedSeparator { ch, offset });
    }
    Ok(())
}

fn check_encoded(s: &str) -> Result<(), GrammarProblem> {
    if s.is_empty() {
        return Err(GrammarProblem::Empty);
    }
    for (offset, ch) in s.char_indices() {
        if !(ch.is_ascii_alphanumeric() || matches!(ch, '=' | '_' | '-')) {
            return Err(GrammarProblem::BadChar { ch, offset });
        }
    }
    Ok(())
}

fn check_registered_encoding(alg: Algorithm, encoded: &str) -> Result<(), EncodingProblem> {
    // Report the first hex problem before the length: "has a 'g'" is more useful than
    // "wrong length" when both hold, and an upper-case-only problem gets its own requirement.
    let mut uppercase = false;
    for (offset, ch) in encoded.char_indices() {
        match ch {
            '0'..='9' | 'a'..='f' => {}
            'A'..='F' => uppercase = true,
            _ => return Err(EncodingProblem::NotHex { ch, offset }),
        }
    }
    if encoded.len() != alg.encoded_len() {
        return Err(EncodingProblem::WrongLength {
            actual: encoded.len(),
            expected: alg.encoded_len(),
        });
    }
    if uppercase {
        return Err(EncodingProblem::Uppercase);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const EMPTY512: &str = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

    #[test]
    fn hashes_known_vectors() {
        assert_eq!(
            Algorithm::Sha256.digest_of(b""),
            format!("sha256:{EMPTY256}")
        );
        assert_eq!(
            Algorithm::Sha512.digest_of(b""),
            format!("sha512:{EMPTY512}")
        );
        assert_eq!(
            Algorithm::Sha256.digest_of(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finalize(), Algorithm::Sha256.digest_of(b"abc"));
    }

    #[test]
    fn registered_digests_parse() {
        let s = format!("sha256:{EMPTY256}");
        let d = Digest::parse(&s).unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.encoded(), EMPTY256);
        assert_eq!(
            d.verifiability(),
            Verifiability::Verifiable(Algorithm::Sha256)
        );
        let s = format!("sha512:{EMPTY512}");
        assert_eq!(
            Digest::parse(&s).unwrap().registered(),
            Some(Algorithm::Sha512)
        );
    }

    #[test]
    fn unknown_algorithms_from_the_spec_table_are_valid_but_not_verifiable() {
        for s in [
            "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
            "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
            "blake3:abc",
            "a.b_c-d+e:=",
            "sha384:ABCxyz",
        ] {
            let d = Digest::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(d.verifiability(), Verifiability::NotVerifiable, "{s}");
        }
    }

    #[test]
    fn grammar_violations_name_the_grammar_requirement() {
        for s in [
            "",
            "sha256",
            ":abc",
            "sha256:",
            "SHA256:abc",
            "+sha:abc",
            "sha+:abc",
            "sha++x:abc",
            "sha 256:abc",
            "sha256:ab/c",
            "sha256:ab:c",
            "sha256:abc+",
            "é:abc",
        ] {
            let e = Digest::parse(s).unwrap_err();
            assert_eq!(e.requirement(), REQ_GRAMMAR, "{s}: {e}");
        }
    }

    #[test]
    fn registered_encoding_violations_name_their_requirement() {
        let upper = format!("sha256:{}", EMPTY256.to_uppercase());
        assert_eq!(
            Digest::parse(&upper).unwrap_err().requirement(),
            REQ_SHA256_NO_UPPERCASE
        );
        let short = "sha256:abc";
        assert_eq!(
            Digest::parse(short).unwrap_err().requirement(),
            REQ_SHA256_LOWER_HEX
        );
        let nonhex = format!("sha256:{}g", &EMPTY256[..63]);
        assert_eq!(
            Digest::parse(&nonhex).unwrap_err().requirement(),
            REQ_SHA256_LOWER_HEX
        );
        let upper512 = format!("sha512:{}", EMPTY512.to_uppercase());
        assert_eq!(
            Digest::parse(&upper512).unwrap_err().requirement(),
            REQ_SHA512_NO_UPPERCASE
        );
        // A sha256-length digest under sha512 is a length error.
        let wrong = format!("sha512:{EMPTY256}");
        assert!(matches!(
            Digest::parse(&wrong).unwrap_err(),
            DigestError::RegisteredEncoding {
                problem: EncodingProblem::WrongLength {
                    actual: 64,
                    expected: 128
                },
                ..
            }
        ));
    }

    #[test]
    fn name_helpers_follow_the_grammar() {
        assert!(valid_algorithm("sha256"));
        assert!(valid_algorithm("multihash+base58"));
        assert!(!valid_algorithm("sha256."));
        assert!(!valid_algorithm("Sha256"));
        assert!(valid_encoded("abc=_-XYZ09"));
        assert!(!valid_encoded("abc.def"));
        assert!(!valid_encoded(""));
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.name());
        }
        assert!("md5".parse::<Algorithm>().is_err());
    }
}
