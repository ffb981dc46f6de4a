//! The registry client behind references: [`RegistryFetcher`] implements [`Fetcher`] with
//! `oci-certify-registry`'s pull (the same HTTP driver `oci-certify registry` uses). It pulls
//! the manifest or index, recursively, and every blob into an OCI image layout, streamed and
//! digest-checked, within the request's [`FetchLimits`].
//!
//! The address policy is enforced by the client on every connection it makes (its resolver
//! refuses non-public addresses, redirects included) unless the service runs with
//! `--allow-private`. Credentials are the service's own configuration (never a caller's).

use std::path::Path;

use oci_certify_registry::client::{Auth, Client, ClientError, ClientOptions};
use oci_certify_registry::pull::{pull_to_layout, PullError, PullLimits};
use oci_certify_registry::reference::Reference as RegistryReference;

use crate::fetch::{AddressPolicy, FetchError, FetchFuture, FetchLimits, Fetcher, Reference};

/// Pulls references with the registry crate's client.
#[derive(Debug, Clone, Default)]
pub struct RegistryFetcher {
    auth: Auth,
    plain_http: Vec<String>,
}

impl RegistryFetcher {
    /// A fetcher that authenticates with `auth` and reaches the registries named in
    /// `plain_http` (`host` or `host:port`) over HTTP instead of HTTPS.
    pub fn new(auth: Auth, plain_http: Vec<String>) -> RegistryFetcher {
        RegistryFetcher { auth, plain_http }
    }
}

fn map_pull(e: PullError, limits: &FetchLimits) -> FetchError {
    match e {
        PullError::Status { what, status: 404 } => FetchError::NotFound(what),
        PullError::Limit(what) => FetchError::TooLarge {
            what,
            limit: limits.max_total_bytes,
        },
        PullError::Client(ClientError::TooLarge { url, limit }) => {
            FetchError::TooLarge { what: url, limit }
        }
        PullError::Io { source, .. } => FetchError::Io(source),
        other => FetchError::Registry(other.to_string()),
    }
}

impl Fetcher for RegistryFetcher {
    fn fetch_to_layout<'a>(
        &'a self,
        reference: &'a Reference,
        dest: &'a Path,
        policy: AddressPolicy,
        limits: &'a FetchLimits,
    ) -> FetchFuture<'a> {
        Box::pin(async move {
            let r = RegistryReference::parse(&reference.to_string())
                .map_err(|e| FetchError::Registry(e.to_string()))?;
            let plain = self.plain_http.iter().any(|h| h == r.registry());
            let mut opts = ClientOptions::for_registry(r.registry(), plain)
                .map_err(|e| FetchError::Registry(e.to_string()))?;
            opts.auth = self.auth.clone();
            opts.deny_private_addresses = !policy.allow_private;
            opts.timeout = limits.timeout;
            opts.max_body_bytes = limits.max_manifest_bytes as u64;
            let client = Client::new(opts).map_err(|e| FetchError::Registry(e.to_string()))?;
            let pull = PullLimits {
                max_manifest_bytes: limits.max_manifest_bytes as u64,
                max_blob_bytes: limits.max_total_bytes,
                max_total_bytes: limits.max_total_bytes,
                max_blobs: limits.max_blobs,
                ..PullLimits::default()
            };
            pull_to_layout(&client, &r, dest, &pull)
                .await
                .map(|_| ())
                .map_err(|e| map_pull(e, limits))
        })
    }
}
