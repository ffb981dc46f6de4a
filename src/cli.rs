//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  verdict green, or yellow without --strict
  1  verdict red (a MUST-level requirement failed), or yellow with --strict
  2  usage error, unusable input, or harness error (the run could not be completed)";

/// Certify OCI implementations against the runtime, image and distribution specifications.
///
/// Every test point is keyed to a requirement of a version-pinned spec, with its level. The
/// verdict is red when a MUST failed, yellow when only SHOULDs failed, green otherwise.
#[derive(Debug, Parser)]
#[command(name = "oci-certify", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Certify a runc-compatible runtime binary against runtime-spec (default: the bundled
    /// reference runtime).
    #[command(after_help = AFTER_HELP)]
    Runtime {
        /// The runtime binary, e.g. /usr/sbin/runc. Without it, the bundled reference runtime.
        binary: Option<PathBuf>,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Validate image content against image-spec: an OCI image layout directory, an
    /// oci-archive (.tar, .tar.gz), or a single JSON document.
    #[command(after_help = AFTER_HELP)]
    Image {
        /// Layout directory, archive, JSON document, or a registry reference
        /// (HOST[:PORT]/REPO[:TAG][@DIGEST]) to pull into a temporary layout and validate.
        path: PathBuf,
        /// Reach the registry of a reference over plain HTTP instead of HTTPS.
        #[arg(long)]
        plain_http: bool,
        /// The media type of a single JSON document (default: its own mediaType field).
        #[arg(long)]
        media_type: Option<String>,
        /// Validate only the image whose org.opencontainers.image.ref.name is NAME.
        #[arg(long = "ref", value_name = "NAME")]
        ref_name: Option<String>,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Validate a runtime bundle (config.json and rootfs) against runtime-spec.
    #[command(after_help = AFTER_HELP)]
    Bundle {
        /// Bundle directory, or a lone config.json.
        path: PathBuf,
        /// Validate the file as a runtime's `state` or `features` output instead.
        #[arg(long, value_parser = ["config", "state", "features"])]
        media_type: Option<String>,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Certify a registry against distribution-spec by pushing generated test content.
    ///
    /// Credentials: --username with --password-stdin (basic auth, or a token endpoint that
    /// takes them), or a ready bearer token in the OCI_CERTIFY_TOKEN environment variable.
    #[command(after_help = AFTER_HELP)]
    Registry {
        /// Base URL of the registry, e.g. http://127.0.0.1:5000 (https:// when no scheme is given).
        url: String,
        /// Repository namespace under which test repositories are created.
        #[arg(long, value_name = "REPO")]
        namespace: Option<String>,
        /// User name for basic or token authentication.
        #[arg(long)]
        username: Option<String>,
        /// Read the password from standard input.
        #[arg(long, requires = "username")]
        password_stdin: bool,
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Run the validator web service: a web page and an HTTP API that validate uploaded
    /// oci-archives and JSON documents (and, in builds with a registry client, references).
    #[command(after_help = "\
Examples:
  oci-certify serve
  oci-certify serve --listen 0.0.0.0:8080 --max-upload 64M --max-concurrent 4
  curl -F file=@image.tar http://127.0.0.1:8080/api/v1/check")]
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        limits: ServeArgs,
    },
    /// List the requirement catalogue, or how much of it the suite's checks cover.
    #[command(after_help = "\
Examples:
  oci-certify requirements --spec runtime
  oci-certify requirements --format json --spec image
  oci-certify requirements --coverage")]
    Requirements {
        /// Only this spec.
        #[arg(long, value_enum)]
        spec: Option<SpecArg>,
        /// Only this spec version (default: every embedded version).
        #[arg(long)]
        spec_version: Option<String>,
        /// Print per spec and level how many requirements have a check, and list the rest
        /// with the reason they are not covered.
        #[arg(long)]
        coverage: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SpecArg {
    Runtime,
    Image,
    Distribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Tap,
    Json,
    Junit,
    Html,
}

/// Report and selection flags shared by every certifying command.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Write the full report to standard output in this format.
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write a report to a file; the format comes from a `FORMAT=` prefix or the extension
    /// (.tap, .json, .xml, .html). Repeatable.
    #[arg(long, short = 'o', value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,
    /// The spec version to certify against (default: the newest in the catalogue).
    #[arg(long)]
    pub spec_version: Option<String>,
    /// Exit 1 on a yellow verdict too.
    #[arg(long)]
    pub strict: bool,
    /// Only requirements under this id prefix (repeatable), e.g. runtime.config.process.
    #[arg(long, value_name = "PREFIX")]
    pub select: Vec<String>,
    /// Leave out requirements under this id prefix (repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub skip: Vec<String>,
    /// Only these levels (repeatable): must, must-not, should, should-not, may.
    #[arg(long, value_name = "LEVEL")]
    pub level: Vec<String>,
    /// No progress display and no colour on the terminal.
    #[arg(long)]
    pub plain: bool,
}

/// Bounds and policy of `oci-certify serve`. Sizes take a K, M or G suffix (powers of 1024).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Allow registry references that resolve to loopback, link-local or private addresses.
    #[arg(long)]
    pub allow_private: bool,
    /// Reach this registry (`host` or `host:port`) over plain HTTP instead of HTTPS
    /// (repeatable).
    #[arg(long, value_name = "HOST")]
    pub plain_http_registry: Vec<String>,
    /// User name for registry references; the password is read from the environment
    /// variable OCI_CERTIFY_REGISTRY_PASSWORD. A ready bearer token can be given in
    /// OCI_CERTIFY_REGISTRY_TOKEN instead. Nothing a caller sends is forwarded.
    #[arg(long, value_name = "USER")]
    pub registry_username: Option<String>,
    /// Largest upload.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size)]
    pub max_upload: u64,
    /// Most bytes a gzip archive, or one layer, may decompress to.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_decompressed: u64,
    /// Most blobs in a layout.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_blobs: usize,
    /// Largest JSON document.
    #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_size)]
    pub max_json: u64,
    /// Deepest JSON nesting.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_json_depth: usize,
    /// Longest a request may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub request_timeout: u64,
    /// Validations running at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Requests in progress at once; more are answered 503 at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_pending: usize,
}

/// Parses `123`, `64K`, `256M`, `1G` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 10),
        Some((i, 'm' | 'M')) => (&s[..i], 20),
        Some((i, 'g' | 'G')) => (&s[..i], 30),
        _ => (s, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("{s:?}: expected a size such as 4096, 64K, 256M or 1G"))
}
