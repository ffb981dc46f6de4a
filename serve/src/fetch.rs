//! Registry references: parsing, the address policy (no server-side request forgery), and the
//! [`Fetcher`] seam through which a registry client plugs in.
//!
//! The service never talks to a registry itself. A [`Fetcher`] pulls a reference into an OCI
//! image layout directory; the service then validates that directory with the same engine as
//! `oci-certify image DIR`. Without a fetcher (the default build), every reference request is
//! answered `501 Not Implemented` with a plain sentence, never a verdict.
//!
//! Before a fetcher is called, the service resolves the reference's host and refuses it when
//! any address is loopback, link-local, private, or otherwise not globally routable, unless the
//! operator passed `--allow-private` ([`AddressPolicy`]). The same policy is handed to the
//! fetcher, which must apply it to every connection it makes (redirects, token realms, blob
//! URLs), since a name may resolve differently a moment later.
//!
//! Credentials are the fetcher's own configuration: the service never forwards anything a
//! client sent (no `Authorization` header passes through).
//!
//! # Plugging a registry client in
//!
//! Implement [`Fetcher`] over the client and hand it to [`Config::fetcher`](crate::Config) in
//! the binary (`src/serve.rs`); nothing else changes. A sketch for `oci-certify-registry`:
//!
//! ```text
//! struct RegistryFetcher { /* credentials from the service's configuration */ }
//!
//! impl Fetcher for RegistryFetcher {
//!     fn fetch_to_layout<'a>(&'a self, reference: &'a Reference, dest: &'a Path,
//!                            policy: AddressPolicy, limits: &'a FetchLimits) -> FetchFuture<'a> {
//!         Box::pin(async move {
//!             let r = registry::Reference::parse(&reference.to_string()).map_err(..)?;
//!             let client = registry::client::Client::new(ClientOptions {
//!                 deny_private_addresses: !policy.allow_private, /* auth, timeouts */ ..
//!             }).map_err(..)?;
//!             registry::pull::pull_to_layout(&client, &r, dest, &PullLimits { /* from limits */ })
//!                 .map_err(/* not found -> NotFound, bound -> TooLarge, else Registry */)
//!         })
//!     }
//! }
//! ```
//!
//! (If the pull is blocking, run it with `tokio::task::spawn_blocking` inside the future.)

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use oci_certify_core::fault::{Blame, Fault};

/// A parsed `host[:port]/repository[:tag][@algorithm:encoded]` reference. The registry host is
/// always explicit: there is no default registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host` or `host:port` (an IPv6 literal in brackets).
    pub registry: String,
    /// The repository path, e.g. `library/busybox`.
    pub repository: String,
    /// The tag, if given.
    pub tag: Option<String>,
    /// The digest, if given.
    pub digest: Option<String>,
}

/// A reference that cannot be parsed: the caller's input is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference {input:?}: {why}")]
pub struct ReferenceError {
    /// The input (truncated to 200 characters).
    pub input: String,
    /// What is wrong.
    pub why: &'static str,
}

impl Blame for ReferenceError {
    fn fault(&self) -> Fault {
        Fault::Input
    }
}

/// Longest reference accepted.
pub const MAX_REFERENCE_LEN: usize = 1024;

impl Reference {
    /// Parses a reference. The grammar follows distribution-spec's repository name, tag and
    /// digest rules; the registry part must name a host (contain a dot or a port, be
    /// `localhost`, or be an IP literal).
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let err = |why| ReferenceError {
            input: input.chars().take(200).collect(),
            why,
        };
        if input.len() > MAX_REFERENCE_LEN {
            return Err(err("longer than 1024 bytes"));
        }
        let input_trimmed = input.trim();
        let (registry, rest) = input_trimmed
            .split_once('/')
            .ok_or_else(|| err("expected host/repository[:tag][@digest]"))?;
        if !valid_registry(registry) {
            return Err(err(
                "the first component must be a registry host (with a dot or a port, localhost, or an IP address)",
            ));
        }
        let (name_tag, digest) = match rest.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (rest, None),
        };
        let (repository, tag) = match name_tag.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (name_tag, None),
        };
        if !valid_repository(repository) {
            return Err(err(
                "the repository name is not [a-z0-9] components joined by . _ __ - and /",
            ));
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(err("the tag is not [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"));
            }
        }
        if let Some(d) = digest {
            if !valid_digest(d) {
                return Err(err("the digest is not algorithm:encoded"));
            }
        }
        if tag.is_none() && digest.is_none() {
            return Err(err("give a tag (:tag) or a digest (@sha256:...)"));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// The host part of the registry, without port or IPv6 brackets.
    pub fn host(&self) -> &str {
        if let Some(rest) = self.registry.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        self.registry.split(':').next().unwrap_or(&self.registry)
    }

    /// The registry's port, if given (else the fetcher's default, 443).
    pub fn port(&self) -> Option<u16> {
        let after_host = match self.registry.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map(|(_, p)| p)?,
            None => self.registry.split_once(':').map_or("", |(_, p)| p),
        };
        after_host.trim_start_matches(':').parse().ok()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

fn valid_registry(r: &str) -> bool {
    if let Some(rest) = r.strip_prefix('[') {
        let Some((ip, port)) = rest.split_once(']') else {
            return false;
        };
        return ip.parse::<Ipv6Addr>().is_ok()
            && (port.is_empty()
                || port
                    .strip_prefix(':')
                    .is_some_and(|p| p.parse::<u16>().is_ok()));
    }
    let (host, port) = match r.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (r, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return false;
    }
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    host_ok && (host.contains('.') || port.is_some() || host == "localhost")
}

fn valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|component| {
            // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
            let b = component.as_bytes();
            if b.is_empty() || !alnum_lower(b[0]) || !alnum_lower(b[b.len() - 1]) {
                return false;
            }
            let mut i = 0;
            while i < b.len() {
                if alnum_lower(b[i]) {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !alnum_lower(b[i]) {
                    i += 1;
                }
                let sep = &component[start..i];
                let ok = sep == "."
                    || sep == "_"
                    || sep == "__"
                    || (!sep.is_empty() && sep.bytes().all(|c| c == b'-'));
                if !ok {
                    return false;
                }
            }
            true
        })
}

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    let Some((alg, enc)) = d.split_once(':') else {
        return false;
    };
    !alg.is_empty()
        && alg
            .split(['+', '.', '_', '-'])
            .all(|c| !c.is_empty() && c.bytes().all(alnum_lower))
        && !enc.is_empty()
        && enc
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'))
}

/// Which addresses the service (and its fetcher) may connect to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Allow loopback, link-local, private and other non-global addresses (`--allow-private`).
    pub allow_private: bool,
}

impl AddressPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_private || is_global(ip)
    }

    /// Resolves `host:port` and returns its addresses when every one is allowed. A name with
    /// one forbidden address is refused as a whole (a resolver may hand out either).
    pub async fn check(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| FetchError::Resolve {
                    host: host.to_string(),
                    message: e.to_string(),
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(FetchError::Resolve {
                host: host.to_string(),
                message: "no address".into(),
            });
        }
        if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip())) {
            return Err(FetchError::Denied {
                host: host.to_string(),
                address: bad.ip(),
            });
        }
        Ok(addrs)
    }
}

/// Whether an address is globally routable: not loopback, link-local, private (RFC 1918, unique
/// local), shared (CGNAT), unspecified, broadcast, multicast, documentation, benchmarking or
/// reserved; IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address they carry.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_global_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let o = v6.octets();
                return is_global_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
                || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

/// Bounds a fetcher must respect while pulling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    /// Most bytes written into the layout in total.
    pub max_total_bytes: u64,
    /// Most blobs pulled.
    pub max_blobs: usize,
    /// Largest manifest or index accepted.
    pub max_manifest_bytes: usize,
    /// How long the pull may take.
    pub timeout: Duration,
}

/// Why a reference could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// This build has no registry client.
    #[error("registry references are not available in this build of oci-certify serve")]
    NotAvailable,
    /// The address policy refused the host.
    #[error("{host} resolves to {address}, a loopback, link-local, private or reserved address; the service was not started with --allow-private")]
    Denied {
        /// The host of the reference.
        host: String,
        /// The refused address.
        address: IpAddr,
    },
    /// The host name could not be resolved.
    #[error("cannot resolve {host}: {message}")]
    Resolve {
        /// The host.
        host: String,
        /// The resolver's error.
        message: String,
    },
    /// The registry has no such repository, tag or digest.
    #[error("not found: {0}")]
    NotFound(String),
    /// A bound of [`FetchLimits`] was crossed.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was counted.
        what: String,
        /// The bound.
        limit: u64,
    },
    /// The registry answered in a way the fetcher could not use, or could not be reached.
    #[error("registry error: {0}")]
    Registry(String),
    /// Writing the layout failed.
    #[error("writing the layout: {0}")]
    Io(#[from] std::io::Error),
}

impl Blame for FetchError {
    fn fault(&self) -> Fault {
        match self {
            FetchError::NotAvailable | FetchError::Io(_) => Fault::Environment,
            FetchError::Denied { .. } | FetchError::NotFound(_) | FetchError::TooLarge { .. } => {
                Fault::Input
            }
            FetchError::Resolve { .. } | FetchError::Registry(_) => Fault::Subject,
        }
    }
}

/// The future a [`Fetcher`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<(), FetchError>> + Send + 'a>>;

/// Pulls a reference into an OCI image layout directory. This is the seam where a registry
/// client plugs in (see the module docs): `dest` exists and is empty; on success it holds
/// `oci-layout`, `index.json` (naming the pulled manifest or index) and `blobs/`.
///
/// The implementation must connect only to addresses `policy` permits (every connection,
/// including redirects), respect `limits`, and use only credentials from its own
/// configuration.
pub trait Fetcher: Send + Sync {
    /// Pulls `reference` into `dest`.
    fn fetch_to_layout<'a>(
        &'a self,
        reference: &'a Reference,
        dest: &'a Path,
        policy: AddressPolicy,
        limits: &'a FetchLimits,
    ) -> FetchFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = Reference::parse("registry.example.com:5000/library/busybox:1.36").unwrap();
        assert_eq!(r.registry, "registry.example.com:5000");
        assert_eq!(r.host(), "registry.example.com");
        assert_eq!(r.port(), Some(5000));
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.tag.as_deref(), Some("1.36"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("[::1]:5000/a/b@{d}")).unwrap();
        assert_eq!(r.host(), "::1");
        assert_eq!(r.port(), Some(5000));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.to_string(), format!("[::1]:5000/a/b@{d}"));
        for bad in [
            "busybox:latest",
            "docker.io/Library/busybox:latest",
            "example.com/a//b:t",
            "example.com/a:-t",
            "example.com/a",
            "example.com/a@sha256",
            "exa mple.com/a:t",
            "",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert!(Reference::parse("localhost/a_b/c--d:t").is_ok());
    }

    #[test]
    fn only_global_addresses_are_permitted_by_default() {
        let deny = AddressPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!deny.permits(ip.parse().unwrap()), "{ip}");
            assert!(AddressPolicy {
                allow_private: true
            }
            .permits(ip.parse().unwrap()));
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(deny.permits(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn localhost_is_resolved_and_refused() {
        let e = AddressPolicy::default()
            .check("localhost", 5000)
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::Denied { .. }), "{e}");
        assert!(AddressPolicy {
            allow_private: true
        }
        .check("localhost", 5000)
        .await
        .is_ok());
    }
}
