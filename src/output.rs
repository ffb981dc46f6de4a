//! Report destinations and the common frame of every certifying command: `--format` (standard
//! output), `--output [FORMAT=]FILE` (repeatable), the terminal summary on stderr, the
//! selection flags, and the exit code.

use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use oci_certify_core::catalogue::SpecCatalogue;
use oci_certify_core::event::{RunInfo, Sink};
use oci_certify_core::{exit, Catalogue, Level, Runner, Selection, Spec};
use oci_certify_reports::terminal::TerminalSink;
use oci_certify_reports::{sink_for, Format};

use crate::cli::{ReportArgs, ReportFormat};

fn format_of(f: ReportFormat) -> Format {
    match f {
        ReportFormat::Tap => Format::Tap,
        ReportFormat::Json => Format::Json,
        ReportFormat::Junit => Format::Junit,
        ReportFormat::Html => Format::Html,
    }
}

/// Parses `--output` values: `FORMAT=FILE` or a file whose extension names the format.
pub fn parse_output(spec: &str) -> Result<(Format, PathBuf)> {
    if let Some((fmt, file)) = spec.split_once('=') {
        if let Ok(format) = fmt.parse::<Format>() {
            return Ok((format, PathBuf::from(file)));
        }
    }
    let path = PathBuf::from(spec);
    let format = Format::from_path(&path).ok_or_else(|| {
        anyhow!("--output {spec}: say the format as FORMAT=FILE (tap, json, junit, html) or use .tap, .json, .xml or .html")
    })?;
    Ok((format, path))
}

/// Builds the sinks the user asked for, plus the terminal summary.
pub fn sinks(args: &ReportArgs) -> Result<Vec<Box<dyn Sink>>> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let tty = std::io::stderr().is_terminal() && !args.plain;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    sinks.push(Box::new(TerminalSink::new(
        Box::new(std::io::stderr()),
        tty && !no_color,
        tty,
    )));
    if let Some(f) = args.format {
        sinks.push(sink_for(format_of(f), Box::new(std::io::stdout())));
    }
    for spec in &args.output {
        let (format, path) = parse_output(spec)?;
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        sinks.push(sink_for(format, Box::new(BufWriter::new(file))));
    }
    Ok(sinks)
}

/// The selection the flags describe, for one spec.
pub fn selection(args: &ReportArgs, spec: Spec) -> Result<Selection> {
    let levels = args
        .level
        .iter()
        .flat_map(|l| l.split(','))
        .map(|l| {
            Level::parse(l).ok_or_else(|| {
                anyhow!("--level {l}: expected must, must-not, should, should-not or may")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Selection {
        include: args.select.clone(),
        exclude: args.skip.clone(),
        levels,
        specs: vec![spec],
    })
}

/// The spec version a command certifies against.
pub fn spec_version(spec: Spec, wanted: Option<&str>) -> Result<&'static SpecCatalogue> {
    let catalogue = Catalogue::builtin().map_err(|e| anyhow!("{e}"))?;
    catalogue.spec(spec, wanted).ok_or_else(|| {
        let have: Vec<String> = catalogue
            .specs()
            .iter()
            .filter(|s| s.spec == spec)
            .map(|s| s.version.clone())
            .collect();
        match wanted {
            Some(v) => anyhow!(
                "{spec} v{v} is not in the catalogue; available: {}",
                have.join(", ")
            ),
            None => anyhow!("no {spec} catalogue is embedded"),
        }
    })
}

/// Runs one certification: starts the run with the user's sinks and selection, lets the
/// engine record outcomes, finishes, and returns the documented exit code. An engine error
/// (unusable input) still closes the reports, then exits 2.
pub fn certify(
    command: &str,
    spec: Spec,
    subject: String,
    args: &ReportArgs,
    engine: impl FnOnce(&Runner<'_>) -> Result<()>,
) -> Result<i32> {
    let catalogue = spec_version(spec, args.spec_version.as_deref())?;
    let selection = selection(args, spec)?;
    let sinks = sinks(args)?;
    let info = RunInfo {
        tool: oci_certify_core::TOOL_NAME.to_string(),
        tool_version: oci_certify_core::TOOL_VERSION.to_string(),
        spec,
        spec_version: catalogue.version.clone(),
        subject,
        command: command.to_string(),
    };
    let runner = Runner::start(catalogue, selection, info, sinks);
    let outcome = engine(&runner);
    if let Err(e) = &outcome {
        // Nothing was judged: no report and no verdict (a verdict over nothing would read
        // GREEN), only the error and exit 2.
        if runner.summary().total() == 0 {
            drop(runner);
            return outcome.map(|()| exit::ERROR);
        }
        runner.diagnostic(format!(
            "the run stopped early and is incomplete: {e:#}; the exit code is 2 whatever the \
             verdict of the points recorded so far"
        ));
    }
    let end = runner.finish().context("writing the reports")?;
    // An engine that could not use its input has no verdict: exit 2 with its error.
    outcome?;
    if end.summary.total() == 0 {
        bail!("no test point was selected or run; check --select, --skip and --level");
    }
    Ok(exit::for_run(&end.summary, args.strict))
}
