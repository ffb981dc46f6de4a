//! Runtime certification: one session, a smoke test, then the check groups, then the audited
//! cleanup.
//!
//! Each group creates its own container(s) with a generated bundle, drives them through the
//! runtime's CLI, observes from outside (operation results, `state`, `/proc/<pid>`) and from
//! inside (the probe's report), and records one outcome per requirement with the evidence: the
//! exact argv, exit status and stderr of the operation, or what the probe saw.
//!
//! If the runtime cannot create even a minimal container, the report says so once at the top
//! (its stderr) and the groups are skipped with that reason, instead of hundreds of reds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_certify_core::check::{Failure, Location, Outcome};
use oci_certify_core::Runner;
use oci_certify_validators::json::Limits;
use oci_certify_validators::{check_document, DocKind};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::cli::{ContainerStdio, Invocation};
use crate::driver::{CleanupReport, Container, Session, SessionOptions};
use crate::error::DriverError;
use crate::probe::{self, Observation};

/// How a certification run is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The runtime binary.
    pub runtime: PathBuf,
    /// Session options (timeouts, state root, global args).
    pub session: SessionOptions,
    /// How long a container may take to exit or print its report.
    pub exit_timeout: Duration,
    /// Run only these check groups (names of [`GROUPS`]); `None` runs all. The smoke test
    /// always runs. Sensitivity tests use it to run only the groups a mutation targets.
    pub groups: Option<Vec<String>>,
}

impl Options {
    /// Defaults for `binary`.
    pub fn new(binary: impl Into<PathBuf>) -> Options {
        Options {
            runtime: binary.into(),
            session: SessionOptions::default(),
            exit_timeout: Duration::from_secs(10),
            groups: None,
        }
    }
}

/// What a run left behind, and whether it was interrupted.
#[derive(Debug)]
pub struct RunEnd {
    /// The cleanup audit.
    pub cleanup: CleanupReport,
    /// The exit code to use if the run was interrupted (130 for SIGINT).
    pub interrupted: Option<i32>,
}

/// Shared state of the groups.
pub(crate) struct Ctx<'a, 'r> {
    pub runner: &'a Runner<'r>,
    pub session: &'a Session,
    pub opts: &'a Options,
    /// The runtime's `features` document, asked once (`None`: no features command).
    pub features: std::sync::OnceLock<Option<Value>>,
}

impl Ctx<'_, '_> {
    /// The runtime's `features` output as JSON, if it offers the command.
    pub(crate) fn features(&self) -> Option<&Value> {
        self.features
            .get_or_init(|| {
                self.session
                    .features()
                    .ok()
                    .filter(Invocation::ok)
                    .and_then(|inv| inv.json())
            })
            .as_ref()
    }

    /// Whether `features` lists `item` in the string array at `pointer`: `None` when the
    /// runtime has no features command or the array is absent (nothing claimed either way).
    pub(crate) fn claims(&self, pointer: &str, item: &str) -> Option<bool> {
        let list = self.features()?.pointer(pointer)?.as_array()?;
        Some(list.iter().any(|v| v.as_str() == Some(item)))
    }

    pub(crate) fn record(&self, group: &str, target: Option<&str>, id: &str, outcome: Outcome) {
        self.runner.record(group, target, id, outcome);
    }

    /// Records the same outcome for every id (skips of a group that could not run).
    pub(crate) fn record_all(&self, group: &str, ids: &[&str], outcome: &Outcome) {
        for id in ids {
            self.record(group, None, id, outcome.clone());
        }
    }
}

/// A failure located at a runtime invocation.
pub(crate) fn at_invocation(inv: &Invocation, message: impl Into<String>) -> Failure {
    Failure::new(message).at(inv.location())
}

/// Outcome of an operation that must fail: pass when it errored, fail (with the command) when
/// it succeeded.
pub(crate) fn must_error(inv: &Invocation, what: &str) -> Outcome {
    if inv.ok() {
        Outcome::fail(
            at_invocation(inv, format!("{what} succeeded"))
                .expected("an error (non-zero exit)")
                .actual("exit 0"),
        )
    } else {
        Outcome::pass()
    }
}

/// A driver error during a group is the harness's (or the environment's) problem.
pub(crate) fn harness(e: &DriverError) -> Outcome {
    Outcome::error(format!("driver: {e}"))
}

/// `(status, pid)` of a state JSON.
pub(crate) fn status_of(state: Option<&Value>) -> (Option<String>, Option<i64>) {
    (
        state
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            .map(str::to_string),
        state.and_then(|s| s.get("pid")).and_then(Value::as_i64),
    )
}

/// Whether `/proc/<pid>/exe` is the probe installed in `rootfs` (same device and inode).
pub(crate) fn runs_probe(pid: i64, rootfs: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::metadata(format!("/proc/{pid}/exe")).ok()?;
    let probe =
        std::fs::metadata(rootfs.join(probe::PATH_IN_ROOTFS.trim_start_matches('/'))).ok()?;
    Some(exe.dev() == probe.dev() && exe.ino() == probe.ino())
}

/// Waits until `pid` executes the probe, or `timeout` passes: `start` returns once the
/// runtime has released the container, and the exec follows asynchronously. Backoff from 1 ms
/// doubling to 50 ms; there is no event for "a process called execve".
pub(crate) fn wait_for_exec(pid: i64, rootfs: &Path, timeout: Duration) -> Option<bool> {
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match runs_probe(pid, rootfs) {
            Some(true) => return Some(true),
            other if std::time::Instant::now() >= deadline => return other,
            _ => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Validates a state document with the validators (schema and rule layers), in its own group.
pub(crate) fn check_state_document(ctx: &Ctx<'_, '_>, label: &str, inv: &Invocation) {
    let group = format!("state ({label})");
    check_document(
        ctx.runner,
        &group,
        None,
        &inv.command_line(),
        inv.stdout.as_bytes(),
        DocKind::RuntimeState,
        Limits::default(),
    );
    ctx.runner.finish_group(&group);
}

/// Creates, starts and reads the probe's report from a container running `probe report`.
pub(crate) fn observe(
    ctx: &Ctx<'_, '_>,
    container: &mut Container<'_>,
) -> Result<(Invocation, Invocation, Result<Observation, String>), DriverError> {
    let create = container.create(true)?;
    if !create.ok() {
        return Ok((create.clone(), create, Err("create failed".into())));
    }
    let start = container.start()?;
    if !start.ok() {
        return Ok((create, start, Err("start failed".into())));
    }
    let out = container.output_to_eof(ctx.opts.exit_timeout)?;
    let parsed = Observation::parse(&out.stdout).map_err(|e| {
        format!(
            "the probe's report could not be read: {e}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = container.wait_exit(ctx.opts.exit_timeout);
    let _ = container.delete(true);
    Ok((create, start, parsed))
}

/// A check group: its name, the requirements it records, and its entry point.
pub struct Group {
    /// The group's name (its module under `groups/`).
    pub name: &'static str,
    /// The requirements it records.
    pub ids: &'static [&'static str],
    run: fn(&Ctx<'_, '_>),
}

/// Every check group, each run on its own thread.
pub const GROUPS: &[Group] = &[
    Group {
        name: "lifecycle",
        ids: crate::groups::lifecycle::IDS,
        run: crate::groups::lifecycle::run,
    },
    Group {
        name: "process",
        ids: crate::groups::process::IDS,
        run: crate::groups::process::run,
    },
    Group {
        name: "hooks",
        ids: crate::groups::hooks::IDS,
        run: crate::groups::hooks::run,
    },
    Group {
        name: "errors",
        ids: crate::groups::errors::IDS,
        run: crate::groups::errors::run,
    },
    Group {
        name: "mounts",
        ids: crate::groups::mounts::IDS,
        run: crate::groups::mounts::run,
    },
    Group {
        name: "namespaces",
        ids: crate::groups::namespaces::IDS,
        run: crate::groups::namespaces::run,
    },
    Group {
        name: "terminal",
        ids: crate::groups::terminal::IDS,
        run: crate::groups::terminal::run,
    },
    Group {
        name: "propagation",
        ids: crate::groups::propagation::IDS,
        run: crate::groups::propagation::run,
    },
    Group {
        name: "cgroups",
        ids: crate::groups::cgroups::IDS,
        run: crate::groups::cgroups::run,
    },
    Group {
        name: "seccomp",
        ids: crate::groups::seccomp::IDS,
        run: crate::groups::seccomp::run,
    },
    Group {
        name: "devices",
        ids: crate::groups::devices::IDS,
        run: crate::groups::devices::run,
    },
    Group {
        name: "claims",
        ids: crate::groups::claims::IDS,
        run: crate::groups::claims::run,
    },
    Group {
        name: "features",
        ids: crate::groups::features::IDS,
        run: crate::groups::features::run,
    },
];

/// Every requirement the engine records, for coverage.
pub fn recorded() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = GROUPS.iter().flat_map(|g| g.ids.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Runs the certification of `opts.runtime` and records every outcome with `runner`.
pub fn certify(runner: &Runner<'_>, opts: &Options) -> Result<RunEnd, DriverError> {
    let session = Session::new(
        &opts.runtime,
        SessionOptions {
            interrupt_handler: true,
            ..opts.session.clone()
        },
    )?;
    let host = session.host().clone();
    runner.diagnostic(format!(
        "host: kernel {}, cgroups {}, LSMs [{}], capabilities missing from the bounding set: [{}]",
        host.kernel,
        host.cgroup.name(),
        host.lsms.join(", "),
        host.caps_missing_from_bounding().join(", ")
    ));
    let ctx = Ctx {
        runner,
        session: &session,
        opts,
        features: std::sync::OnceLock::new(),
    };
    if smoke(&ctx) {
        // Groups run in parallel; each uses its own containers and bundles.
        std::thread::scope(|scope| {
            let c = &ctx;
            let handles: Vec<_> = GROUPS
                .iter()
                .filter(|g| {
                    opts.groups
                        .as_ref()
                        .is_none_or(|names| names.iter().any(|n| n == g.name))
                })
                .map(|g| (g.name, scope.spawn(move || (g.run)(c))))
                .collect();
            for (name, handle) in handles {
                if handle.join().is_err() {
                    c.runner
                        .diagnostic(format!("harness error: the {name} check group panicked"));
                }
            }
        });
    }
    let interrupted = session.interrupt_exit_code();
    let cleanup = session.finish();
    if !cleanup.is_clean() {
        runner.diagnostic(format!("cleanup: {cleanup:?}"));
    }
    Ok(RunEnd {
        cleanup,
        interrupted,
    })
}

/// Can the runtime create and run a minimal container at all? If not, one diagnosis with its
/// stderr, and every group is skipped with that reason.
fn smoke(ctx: &Ctx<'_, '_>) -> bool {
    let config = base_config(&["exit", "0"], &ctx.session.cgroups_path("smoke"));
    let result = ctx
        .session
        .container("smoke", &config, prepare_rootfs)
        .and_then(|mut c| {
            let create = c.create(false)?;
            if create.ok() {
                let start = c.start()?;
                let _ = c.wait_exit(ctx.opts.exit_timeout);
                let _ = c.delete(true);
                Ok((create, Some(start)))
            } else {
                Ok((create, None))
            }
        });
    let failed = match &result {
        Ok((create, Some(start))) if create.ok() && start.ok() => return true,
        // create works but start did not: the groups still run (they judge start themselves).
        Ok((create, Some(start))) if create.ok() => {
            ctx.runner.diagnostic(format!(
                "smoke test: create worked but start failed ({}): {}",
                start.command_line(),
                start.stderr.trim()
            ));
            return true;
        }
        Ok((create, _)) => create.clone(),
        Err(e) => {
            ctx.runner
                .diagnostic(format!("harness error before any check: {e}"));
            let outcome = Outcome::error(format!("the driver failed: {e}"));
            for id in recorded() {
                ctx.record("smoke", None, id, outcome.clone());
            }
            return false;
        }
    };
    let stderr = failed.stderr.trim();
    ctx.runner.diagnostic(format!(
        "the runtime cannot create and start even a minimal container; every check is skipped.\n\
         command: {}\nexit status: {:?}\nstderr: {}",
        failed.command_line(),
        failed.status,
        if stderr.is_empty() { "(empty)" } else { stderr }
    ));
    ctx.record(
        "smoke",
        None,
        "runtime.runtime.create.creates-container",
        Outcome::fail(
            at_invocation(
                &failed,
                "a minimal container could not be created and started",
            )
            .expected("create and start succeed for a minimal bundle")
            .actual(format!("exit {:?}: {stderr}", failed.status)),
        ),
    );
    let skip = Outcome::skip(
        "the runtime could not create a minimal container (see the diagnosis at the top)",
    );
    for id in recorded() {
        if id != "runtime.runtime.create.creates-container" {
            ctx.record("smoke", None, id, skip.clone());
        }
    }
    false
}

/// A probe failure as an outcome: the runtime garbled or never produced the report.
pub(crate) fn no_report(why: &str, create: &Invocation, start: &Invocation) -> Outcome {
    let inv = if create.ok() { start } else { create };
    Outcome::fail(at_invocation(
        inv,
        format!("no observation from inside the container: {why}"),
    ))
}

/// JSON helper for configs.
pub(crate) fn set(config: &mut Value, pointer: &str, value: Value) {
    let mut parts: Vec<&str> = pointer.split('/').skip(1).collect();
    let Some(last) = parts.pop() else { return };
    let mut node = config;
    for p in parts {
        if node.get(p).is_none() {
            node[p] = json!({});
        }
        node = &mut node[p];
    }
    node[last] = value;
}

/// Location for findings about what the probe saw.
pub(crate) fn inside(what: &str) -> Location {
    Location::Path {
        path: format!("inside the container: {what}"),
    }
}

/// The stdio mode groups use for containers whose output they read.
pub(crate) const PIPES: ContainerStdio = ContainerStdio::Pipes;
