//! `oci-certify serve`: wiring to the validator service (`oci-certify-serve`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use oci_certify_core::exit;
use oci_certify_registry::client::Auth;
use oci_certify_serve::registry_fetcher::RegistryFetcher;
use oci_certify_serve::{Config, Limits};

use crate::cli::ServeArgs;

pub fn run(listen: SocketAddr, args: &ServeArgs) -> Result<i32> {
    let defaults = Limits::default();
    let config = Config {
        limits: Limits {
            max_upload_bytes: args.max_upload,
            max_decompressed_bytes: args.max_decompressed,
            max_blobs: args.max_blobs,
            max_json_bytes: usize::try_from(args.max_json).unwrap_or(usize::MAX),
            max_json_depth: args.max_json_depth,
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            max_concurrent_validations: args
                .max_concurrent
                .unwrap_or(defaults.max_concurrent_validations)
                .max(1),
            max_pending_requests: args.max_pending.max(1),
        },
        allow_private: args.allow_private,
        fetcher: Some(Arc::new(RegistryFetcher::new(
            registry_auth(args)?,
            args.plain_http_registry.clone(),
        ))),
        temp_dir: None,
    };
    oci_certify_serve::run_blocking(listen, config)
        .with_context(|| format!("serving on {listen}"))?;
    Ok(exit::SUCCESS)
}

/// The service's own registry credentials (never a caller's): a user name with the password
/// from OCI_CERTIFY_REGISTRY_PASSWORD, or a bearer token from OCI_CERTIFY_REGISTRY_TOKEN.
fn registry_auth(args: &ServeArgs) -> Result<Auth> {
    let token = std::env::var("OCI_CERTIFY_REGISTRY_TOKEN").ok();
    match (&args.registry_username, token) {
        (Some(user), _) => match std::env::var("OCI_CERTIFY_REGISTRY_PASSWORD") {
            Ok(password) => Ok(Auth::Basic {
                username: user.clone(),
                password,
            }),
            Err(_) => bail!(
                "--registry-username needs the password in the environment variable \
                 OCI_CERTIFY_REGISTRY_PASSWORD"
            ),
        },
        (None, Some(token)) => Ok(Auth::Bearer(token)),
        (None, None) => Ok(Auth::None),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    /// The flags' defaults are the library's defaults.
    #[test]
    fn flag_defaults_match_the_service_defaults() {
        let Command::Serve { listen, limits } = Cli::parse_from(["oci-certify", "serve"]).command
        else {
            panic!("not the serve command");
        };
        assert_eq!(listen.to_string(), "127.0.0.1:8080");
        let d = oci_certify_serve::Limits::default();
        assert_eq!(limits.max_upload, d.max_upload_bytes);
        assert_eq!(limits.max_decompressed, d.max_decompressed_bytes);
        assert_eq!(limits.max_blobs, d.max_blobs);
        assert_eq!(limits.max_json, d.max_json_bytes as u64);
        assert_eq!(limits.max_json_depth, d.max_json_depth);
        assert_eq!(limits.request_timeout, d.request_timeout.as_secs());
        assert_eq!(limits.max_concurrent, None);
        assert_eq!(limits.max_pending, d.max_pending_requests);
        assert!(!limits.allow_private);
    }
}
