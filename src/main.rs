//! `oci-certify`: the command line. Wiring only: it parses arguments, builds the sinks the user
//! asked for, hands the work to an engine crate, and turns the verdict into an exit code
//! (see `oci_certify_core::exit`). No check logic lives here.

mod bundle;
mod cli;
mod engines;
mod image;
mod output;
mod registry;
mod requirements;
mod runtime;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use oci_certify_core::exit;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        // A closed pipe (`oci-certify requirements | head`) is the reader's choice, not an error.
        Err(err)
            if err.chain().any(|e| {
                let kind = e
                    .downcast_ref::<std::io::Error>()
                    .map(std::io::Error::kind)
                    .or_else(|| {
                        e.downcast_ref::<serde_json::Error>()
                            .and_then(serde_json::Error::io_error_kind)
                    });
                kind == Some(std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            exit::SUCCESS
        }
        Err(err) => {
            eprintln!("oci-certify: error: {err:#}");
            exit::ERROR
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Requirements {
            spec,
            spec_version,
            coverage,
            format,
        } => requirements::run(spec, spec_version.as_deref(), coverage, format),
        Command::Runtime { binary, report } => runtime::run(binary.as_deref(), &report),
        Command::Image {
            path,
            plain_http,
            media_type,
            ref_name,
            report,
        } => image::run(
            &path,
            plain_http,
            media_type.as_deref(),
            ref_name.as_deref(),
            &report,
        ),
        Command::Bundle {
            path,
            media_type,
            report,
        } => bundle::run(&path, media_type.as_deref(), &report),
        Command::Registry {
            url,
            namespace,
            username,
            password_stdin,
            report,
        } => registry::run(
            &url,
            namespace.as_deref(),
            username.as_deref(),
            password_stdin,
            &report,
        ),
        Command::Serve { listen, limits } => serve::run(listen, &limits),
    }
}
