//! `oci-certify registry URL`: wiring to the registry certification engine.

use std::io::BufRead;

use anyhow::{bail, Context, Result};
use oci_certify_core::Spec;
use oci_certify_registry::client::{Auth, ClientOptions};
use oci_certify_registry::engine::{certify, Options};

use crate::cli::ReportArgs;
use crate::output;

/// The environment variable holding a ready bearer token.
pub const TOKEN_ENV: &str = "OCI_CERTIFY_TOKEN";

pub fn run(
    url: &str,
    namespace: Option<&str>,
    username: Option<&str>,
    password_stdin: bool,
    report: &ReportArgs,
) -> Result<i32> {
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    };
    let base = oci_certify_registry::Url::parse(&with_scheme)
        .with_context(|| format!("registry URL {url}"))?;
    if base.path() != "/" || base.query().is_some() {
        bail!("registry URL {url}: give the base URL only (scheme, host and port), without /v2/ or a path");
    }
    let auth = match (username, password_stdin) {
        (Some(user), true) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            Auth::Basic {
                username: user.to_string(),
                password: line.trim_end_matches(['\r', '\n']).to_string(),
            }
        }
        (Some(_), false) => {
            bail!("--username needs --password-stdin (passwords are never taken as arguments)")
        }
        (None, _) => match std::env::var(TOKEN_ENV) {
            Ok(t) if !t.is_empty() => Auth::Bearer(t),
            _ => Auth::None,
        },
    };
    let mut client = ClientOptions::new(base);
    client.auth = auth;
    let mut opts = Options::new(client);
    if let Some(ns) = namespace {
        opts.namespace = ns.trim_matches('/').to_string();
    }
    // An unreachable registry or refused credentials: exit 2 before any report is started.
    oci_certify_registry::engine::preflight(&opts)?;
    output::certify(
        "registry",
        Spec::Distribution,
        url.to_string(),
        report,
        |runner| {
            let end = certify(runner, &opts)?;
            for (category, how) in &end.capabilities {
                eprintln!("oci-certify registry: {category}: {how}");
            }
            eprintln!("oci-certify registry: {} HTTP requests", end.requests);
            Ok(())
        },
    )
}
