//! The six hook kinds (config.md#posix-platform-hooks, runtime.md#lifecycle): when each runs,
//! in which namespaces, in what order, with the state on stdin, and what a failing hook does
//! to the lifecycle.
//!
//! Every hook is the probe in `hook` mode: it appends one JSON line to a log (its name, its
//! stdin, the time, the namespaces it runs in, and whether its `/` is the container's rootfs).
//! The log lives in a directory that is bind-mounted into the container at the same path, so
//! hooks in the container's namespaces (before and after `pivot_root`) write to the same file;
//! the line order is the order the hooks ran. The container's own program is the probe in
//! `hook` mode too (named `program`), so "startContainer runs before the program" is a line
//! order. The hook executable for the runtime-namespace hooks is a copy of the probe at a host
//! path that is *not* mounted into the container; `startContainer` names the probe's path in
//! the rootfs (which does not exist on the host): each path resolves only in the namespace the
//! spec names.
//!
//! Failure semantics use one container per hook kind whose single hook exits 1.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oci_certify_core::check::{Failure, Location, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::cli::Invocation;
use crate::driver::Container;
use crate::engine::{at_invocation, harness, set, Ctx};
use crate::error::DriverError;
use crate::probe::{self, parse_hook_log, HookRecord};

const GROUP: &str = "hooks";

/// A hook kind: its config key and the id segment the catalogue uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kind {
    key: &'static str,
    slug: &'static str,
    /// Runs in the container's namespaces (else the runtime's).
    in_container: bool,
}

const KINDS: [Kind; 6] = [
    Kind {
        key: "prestart",
        slug: "prestart",
        in_container: false,
    },
    Kind {
        key: "createRuntime",
        slug: "create-runtime",
        in_container: false,
    },
    Kind {
        key: "createContainer",
        slug: "create-container",
        in_container: true,
    },
    Kind {
        key: "startContainer",
        slug: "start-container",
        in_container: true,
    },
    Kind {
        key: "poststart",
        slug: "poststart",
        in_container: false,
    },
    Kind {
        key: "poststop",
        slug: "poststop",
        in_container: false,
    },
];

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    "runtime.config.hooks.call-order",
    "runtime.config.hooks.state-on-stdin",
    "runtime.config.hooks.prestart.timing",
    "runtime.config.hooks.prestart.before-create-runtime",
    "runtime.config.hooks.create-runtime.timing",
    "runtime.config.hooks.create-container.timing",
    "runtime.config.hooks.create-container.after-create-runtime",
    "runtime.config.hooks.start-container.timing",
    "runtime.config.hooks.poststart.timing",
    "runtime.config.hooks.poststop.timing",
    "runtime.config.hooks.prestart.path-resolve-namespace",
    "runtime.config.hooks.prestart.exec-namespace",
    "runtime.config.hooks.create-runtime.path-resolve-namespace",
    "runtime.config.hooks.create-runtime.exec-namespace",
    "runtime.config.hooks.create-container.path-resolve-namespace",
    "runtime.config.hooks.create-container.exec-namespace",
    "runtime.config.hooks.start-container.path-resolve-namespace",
    "runtime.config.hooks.start-container.exec-namespace",
    "runtime.config.hooks.poststart.path-resolve-namespace",
    "runtime.config.hooks.poststart.exec-namespace",
    "runtime.config.hooks.poststop.path-resolve-namespace",
    "runtime.config.hooks.poststop.exec-namespace",
    "runtime.runtime.lifecycle.prestart-invoked",
    "runtime.runtime.lifecycle.create-runtime-invoked",
    "runtime.runtime.lifecycle.create-container-invoked",
    "runtime.runtime.lifecycle.start-container-invoked",
    "runtime.runtime.lifecycle.poststart-invoked",
    "runtime.runtime.lifecycle.poststop-invoked",
    "runtime.runtime.lifecycle.prestart-failure-error",
    "runtime.runtime.lifecycle.prestart-failure-stop",
    "runtime.runtime.lifecycle.prestart-failure-destroy",
    "runtime.runtime.lifecycle.create-runtime-failure-error",
    "runtime.runtime.lifecycle.create-runtime-failure-stop",
    "runtime.runtime.lifecycle.create-runtime-failure-destroy",
    "runtime.runtime.lifecycle.create-container-failure-error",
    "runtime.runtime.lifecycle.create-container-failure-stop",
    "runtime.runtime.lifecycle.create-container-failure-destroy",
    "runtime.runtime.lifecycle.start-container-failure-error",
    "runtime.runtime.lifecycle.start-container-failure-stop",
    "runtime.runtime.lifecycle.start-container-failure-destroy",
    "runtime.runtime.lifecycle.poststart-failure-error",
    "runtime.runtime.lifecycle.poststart-failure-stop",
    "runtime.runtime.lifecycle.poststart-failure-destroy",
    "runtime.runtime.lifecycle.poststop-failure-continue",
    PID_VIEW,
    "runtime.features.hooks.supported",
];

const PID_VIEW: &str = "runtime.runtime.state.pid-namespace-view";

/// Namespace kinds compared between a hook and the runtime or the container.
const NS_KINDS: [&str; 4] = ["mnt", "net", "uts", "ipc"];

/// Where one container's hooks live: the executable (host only) and the log (also mounted
/// into the container at the same path).
struct HookDirs {
    bin: PathBuf,
    log_dir: PathBuf,
    log: PathBuf,
}

impl HookDirs {
    fn new(ctx: &Ctx<'_, '_>, name: &str) -> HookDirs {
        let base = ctx.session.hooks_dir().join(name);
        let log_dir = base.join("log");
        HookDirs {
            bin: base.join("bin").join("oci-certify-probe"),
            log: log_dir.join("hooks.jsonl"),
            log_dir,
        }
    }

    /// Writes the host copy of the probe and the log directory; prepares the rootfs with the
    /// mount point of the log directory.
    fn prepare(&self, rootfs: &Path) -> std::io::Result<()> {
        prepare_rootfs(rootfs)?;
        if let Some(parent) = self.bin.parent() {
            std::fs::create_dir_all(parent)?;
        }
        probe::write_to(&self.bin)?;
        std::fs::create_dir_all(&self.log_dir)?;
        let inner = rootfs.join(self.log_dir.strip_prefix("/").unwrap_or(&self.log_dir));
        std::fs::create_dir_all(inner)
    }

    fn log_arg(&self) -> String {
        self.log.display().to_string()
    }

    /// A hook entry: the probe in `mode` recording `name`.
    fn hook(&self, kind: Kind, mode: &str, name: &str) -> Value {
        self.hook_with(kind, &[mode, name, &self.log_arg()])
    }

    /// A hook entry running the probe with `args`; the path resolves only in the namespace
    /// the spec names for `kind`.
    fn hook_with(&self, kind: Kind, args: &[&str]) -> Value {
        let path = if kind.key == "startContainer" {
            probe::PATH_IN_ROOTFS.to_string()
        } else {
            self.bin.display().to_string()
        };
        let mut argv = vec!["oci-certify-probe".to_string()];
        argv.extend(args.iter().map(|a| a.to_string()));
        json!({"path": path, "args": argv})
    }

    fn read(&self) -> Result<Vec<HookRecord>, String> {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => parse_hook_log(&text).map_err(|e| e.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(format!("reading {}: {e}", self.log.display())),
        }
    }
}

/// A config whose process is the probe recording `program` in the hook log, with the log
/// directory bind-mounted at its own path.
fn config_with_log(ctx: &Ctx<'_, '_>, name: &str, dirs: &HookDirs, program: &[&str]) -> Value {
    let mut c = base_config(program, &ctx.session.cgroups_path(name));
    if let Some(m) = c.pointer_mut("/mounts").and_then(Value::as_array_mut) {
        let dir = dirs.log_dir.display().to_string();
        m.push(
            json!({"destination": dir, "type": "bind", "source": dir, "options": ["rbind", "rw"]}),
        );
    }
    c
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn ns_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// An invocation and the wall-clock window it ran in.
struct Timed {
    inv: Invocation,
    from: u64,
    to: u64,
}

fn timed(f: impl FnOnce() -> Result<Invocation, DriverError>) -> Result<Timed, DriverError> {
    let from = ns_of(now());
    let inv = f()?;
    Ok(Timed {
        inv,
        from,
        to: ns_of(now()),
    })
}

/// The namespaces of `pid` (`self` for the suite, i.e. the runtime namespace).
fn namespaces(pid: &str) -> Vec<(String, Option<String>)> {
    NS_KINDS
        .iter()
        .map(|k| {
            (
                k.to_string(),
                std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
                    .ok()
                    .map(|p| p.display().to_string()),
            )
        })
        .collect()
}

fn log_location(dirs: &HookDirs) -> Location {
    Location::Path {
        path: format!("hook log {}", dirs.log.display()),
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    std::thread::scope(|scope| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|kind| scope.spawn(move || failing_hook(ctx, *kind)))
            .collect();
        all_hooks(ctx);
        for h in handles {
            if h.join().is_err() {
                ctx.runner
                    .diagnostic("harness error: a hook failure check panicked");
            }
        }
    });
    ctx.runner.finish_group(GROUP);
}

/// The ids judged by the container with every hook succeeding.
fn success_ids() -> Vec<String> {
    IDS.iter()
        .filter(|id| !id.contains("failure"))
        .map(|s| s.to_string())
        .collect()
}

fn all_hooks(ctx: &Ctx<'_, '_>) {
    if let Err(e) = all_hooks_inner(ctx) {
        let outcome = harness(&e);
        for id in success_ids() {
            ctx.record(GROUP, None, &id, outcome.clone());
        }
    }
}

fn all_hooks_inner(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let name = "hooks";
    let dirs = HookDirs::new(ctx, name);
    let log = dirs.log.display().to_string();
    let mut config = config_with_log(ctx, name, &dirs, &["hook", "program", &log]);
    let mut hooks = serde_json::Map::new();
    for kind in KINDS {
        // Two hooks of each kind, to see the listed order kept within a kind.
        // The first startContainer hook takes a second, so that a runtime that runs the
        // poststart hooks before the user program was executed (that is, before the
        // startContainer hooks are done) is caught every time, not by chance.
        let list: Vec<Value> = (1..=2)
            .map(|i| {
                let name = format!("{}-{i}", kind.key);
                if kind.key == "startContainer" && i == 1 {
                    dirs.hook_with(kind, &["hook-sleep", &name, &dirs.log_arg(), "1"])
                } else {
                    dirs.hook(kind, "hook", &name)
                }
            })
            .collect();
        hooks.insert(kind.key.to_string(), Value::Array(list));
    }
    set(&mut config, "/hooks", Value::Object(hooks));
    let mut c = ctx
        .session
        .container(name, &config, |rootfs| dirs.prepare(rootfs))?;
    let runtime_ns = namespaces("self");

    let create = timed(|| c.create(true))?;
    if !create.inv.ok() {
        let outcome = Outcome::fail(
            at_invocation(&create.inv, "create with all six hook kinds failed")
                .expected("exit 0 (every hook exits 0)"),
        );
        for id in success_ids() {
            ctx.record(GROUP, None, &id, outcome.clone());
        }
        return Ok(());
    }
    let container_ns = c
        .pid()
        .map(|p| namespaces(&p.to_string()))
        .unwrap_or_default();
    let host_pid = c.pid();
    let start = timed(|| c.start())?;
    let _ = c.wait_exit(ctx.opts.exit_timeout)?;
    let delete = timed(|| c.delete(true))?;
    let records = match dirs.read() {
        Ok(r) => r,
        Err(why) => {
            let outcome = Outcome::fail(Failure::new(why).at(log_location(&dirs)));
            for id in success_ids() {
                ctx.record(GROUP, None, &id, outcome.clone());
            }
            return Ok(());
        }
    };
    let judge = Judge {
        ctx,
        dirs: &dirs,
        records: &records,
        create: &create,
        start: &start,
        delete: &delete,
        bundle: c.bundle(),
        id: c.id(),
    };
    judge.invoked();
    judge.order();
    judge.stdin();
    judge.timing();
    judge.namespaces(&runtime_ns, &container_ns);
    judge.pid_view(host_pid);
    Ok(())
}

struct Judge<'a, 'c, 'r> {
    ctx: &'a Ctx<'c, 'r>,
    dirs: &'a HookDirs,
    records: &'a [HookRecord],
    create: &'a Timed,
    start: &'a Timed,
    delete: &'a Timed,
    bundle: &'a Path,
    id: &'a str,
}

impl Judge<'_, '_, '_> {
    fn position(&self, name: &str) -> Option<usize> {
        self.records.iter().position(|r| r.hook == name)
    }

    fn record_of(&self, name: &str) -> Option<&HookRecord> {
        self.records.iter().find(|r| r.hook == name)
    }

    fn seen(&self) -> String {
        let names: Vec<&str> = self.records.iter().map(|r| r.hook.as_str()).collect();
        format!("{names:?}")
    }

    fn record(&self, id: &str, target: Option<&str>, outcome: Outcome) {
        self.ctx.record(GROUP, target, id, outcome);
    }

    fn not_run(&self, kind: Kind) -> Outcome {
        Outcome::skip(format!(
            "the {} hooks did not run (judged by runtime.runtime.lifecycle.{}-invoked)",
            kind.key, kind.slug
        ))
    }

    fn invoked(&self) {
        for kind in KINDS {
            let missing: Vec<String> = (1..=2)
                .map(|i| format!("{}-{i}", kind.key))
                .filter(|n| self.position(n).is_none())
                .collect();
            let outcome = if missing.is_empty() {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!("the {} hooks {missing:?} never ran", kind.key))
                        .expected(format!("both {} hooks in the log", kind.key))
                        .actual(format!("hooks that ran, in order: {}", self.seen()))
                        .at(log_location(self.dirs)),
                )
            };
            // A hook kind the runtime's features lists must work when configured.
            if self.ctx.claims("/hooks", kind.key) == Some(true) {
                self.record(
                    "runtime.features.hooks.supported",
                    Some(kind.key),
                    outcome.clone(),
                );
            }
            self.record(
                &format!("runtime.runtime.lifecycle.{}-invoked", kind.slug),
                None,
                outcome,
            );
        }
    }

    /// Hooks run kind after kind in lifecycle order (target `kinds`), and within a kind in
    /// listed order (target: the kind).
    fn order(&self) {
        let kind_of = |hook: &str| {
            KINDS
                .iter()
                .position(|k| hook.strip_prefix(k.key).is_some_and(|r| r.starts_with('-')))
        };
        let sequence: Vec<(usize, &str)> = self
            .records
            .iter()
            .filter_map(|r| kind_of(&r.hook).map(|k| (k, r.hook.as_str())))
            .collect();
        let sorted = sequence.windows(2).all(|w| w[0].0 <= w[1].0);
        let names: Vec<&str> = sequence.iter().map(|(_, h)| *h).collect();
        self.record(
            "runtime.config.hooks.call-order",
            Some("kinds"),
            if sorted {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new("hook kinds ran out of lifecycle order")
                        .expected("prestart, createRuntime, createContainer, startContainer, poststart, poststop")
                        .actual(format!("{names:?}"))
                        .at(log_location(self.dirs)),
                )
            },
        );
        for kind in KINDS {
            let first = self.position(&format!("{}-1", kind.key));
            let second = self.position(&format!("{}-2", kind.key));
            let outcome = match (first, second) {
                (Some(a), Some(b)) if a < b => Outcome::pass(),
                (Some(_), Some(_)) => Outcome::fail(
                    Failure::new(format!(
                        "the {} hooks ran out of their listed order",
                        kind.key
                    ))
                    .expected(format!("{0}-1 before {0}-2", kind.key))
                    .actual(format!("{names:?}"))
                    .at(log_location(self.dirs)),
                ),
                _ => self.not_run(kind),
            };
            self.record("runtime.config.hooks.call-order", Some(kind.key), outcome);
        }
        let before = |a: &str, b: &str| match (self.position(a), self.position(b)) {
            (Some(x), Some(y)) => Some(x < y),
            _ => None,
        };
        for (id, first, then, what) in [
            (
                "runtime.config.hooks.prestart.before-create-runtime",
                "prestart-2",
                "createRuntime-1",
                "prestart before createRuntime",
            ),
            (
                "runtime.config.hooks.create-container.after-create-runtime",
                "createRuntime-2",
                "createContainer-1",
                "createContainer after createRuntime",
            ),
        ] {
            let outcome = match before(first, then) {
                Some(true) => Outcome::pass(),
                Some(false) => Outcome::fail(
                    Failure::new(format!("expected {what}"))
                        .expected(format!("{first} before {then}"))
                        .actual(self.seen())
                        .at(log_location(self.dirs)),
                ),
                None => Outcome::skip(format!(
                    "{first} or {then} did not run (judged by the -invoked requirements)"
                )),
            };
            self.record(id, None, outcome);
        }
    }

    /// Every hook got the container's state on stdin: a JSON object naming this container
    /// and its bundle.
    fn stdin(&self) {
        let bundle = self.bundle.display().to_string();
        for kind in KINDS {
            let Some(r) = self.record_of(&format!("{}-1", kind.key)) else {
                self.record(
                    "runtime.config.hooks.state-on-stdin",
                    Some(kind.key),
                    self.not_run(kind),
                );
                continue;
            };
            let parsed: Option<Value> = serde_json::from_str(r.stdin.trim()).ok();
            let problem = match &parsed {
                None => Some("stdin is not a JSON document".to_string()),
                Some(v) => {
                    let id_ok = v.get("id").and_then(Value::as_str) == Some(self.id);
                    let bundle_ok = v
                        .get("bundle")
                        .and_then(Value::as_str)
                        .is_some_and(|b| Path::new(b) == Path::new(&bundle));
                    let has = |k: &str| v.get(k).is_some();
                    if !id_ok {
                        Some(format!("\"id\" is not {:?}", self.id))
                    } else if !bundle_ok {
                        Some(format!("\"bundle\" is not {bundle:?}"))
                    } else if !has("ociVersion") || !has("status") {
                        Some("\"ociVersion\" or \"status\" is missing".to_string())
                    } else {
                        None
                    }
                }
            };
            let outcome = match problem {
                None => Outcome::pass(),
                Some(p) => Outcome::fail(
                    Failure::new(format!(
                        "the {} hook's stdin is not the state: {p}",
                        kind.key
                    ))
                    .expected(format!(
                        "the state of container {:?} (id, bundle, ociVersion, status)",
                        self.id
                    ))
                    .actual(format!("{:?}", truncate(&r.stdin, 400)))
                    .at(log_location(self.dirs)),
                ),
            };
            self.record(
                "runtime.config.hooks.state-on-stdin",
                Some(kind.key),
                outcome,
            );
        }
    }

    fn timing(&self) {
        let within = |r: &HookRecord, t: &Timed| r.time_ns >= t.from && r.time_ns <= t.to;
        for kind in KINDS {
            let id = format!("runtime.config.hooks.{}.timing", kind.slug);
            let Some(r) = self.record_of(&format!("{}-1", kind.key)) else {
                self.record(&id, None, self.not_run(kind));
                continue;
            };
            let (op, window) = match kind.key {
                "prestart" | "createRuntime" | "createContainer" => ("create", self.create),
                "startContainer" | "poststart" => ("start", self.start),
                _ => ("delete", self.delete),
            };
            let mut problems = Vec::new();
            // startContainer runs in the container's init, which the runtime releases at
            // start: the spec orders it before the program, not before `start` returns, and
            // runtimes may return first. Only "after start began" is judged for it (the
            // program's order is below).
            let started_in_time = if kind.key == "startContainer" {
                r.time_ns >= window.from
            } else {
                within(r, window)
            };
            if !started_in_time {
                problems.push(format!(
                    "it ran outside the {op} operation (at {} ns; {op} ran from {} to {} ns)",
                    r.time_ns, window.from, window.to
                ));
            }
            match kind.key {
                // Before pivot_root: the hook's root is not yet the container's rootfs (for
                // the runtime-namespace hooks this holds trivially).
                "prestart" | "createRuntime" | "createContainer" if r.root_is_rootfs => problems
                    .push("its root was already the container's rootfs (after pivot_root)".into()),
                "startContainer" => {
                    if let (Some(h), Some(p)) = (
                        self.position(&format!("{}-2", kind.key)),
                        self.position("program"),
                    ) {
                        if h > p {
                            problems.push("the user program ran before it".into());
                        }
                    }
                }
                "poststart" => {
                    if let (Some(h), Some(s)) = (
                        self.position("poststart-1"),
                        self.position("startContainer-2"),
                    ) {
                        if h < s {
                            problems.push("it ran before the startContainer hooks".into());
                        }
                    }
                }
                _ => {}
            }
            let outcome = if problems.is_empty() {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!("the {} hook ran at the wrong time", kind.key))
                        .expected(format!("during {op}, at its point of the lifecycle"))
                        .actual(problems.join("; "))
                        .at(window.inv.location()),
                )
            };
            self.record(&id, None, outcome);
        }
    }

    fn namespaces(
        &self,
        runtime: &[(String, Option<String>)],
        container: &[(String, Option<String>)],
    ) {
        for kind in KINDS {
            let exec = format!("runtime.config.hooks.{}.exec-namespace", kind.slug);
            let resolve = format!("runtime.config.hooks.{}.path-resolve-namespace", kind.slug);
            let Some(r) = self.record_of(&format!("{}-1", kind.key)) else {
                self.record(&exec, None, self.not_run(kind));
                self.record(&resolve, None, self.not_run(kind));
                continue;
            };
            // The hook ran, so its path resolved; the path exists only in the namespace the
            // spec names (see the module docs).
            self.record(
                &resolve,
                None,
                Outcome::pass_with_note(if kind.in_container {
                    "the hook's path exists only inside the container's rootfs"
                } else {
                    "the hook's path exists only on the host"
                }),
            );
            let (want, label) = if kind.in_container {
                (container, "the container's")
            } else {
                (runtime, "the runtime's")
            };
            if want.is_empty() || want.iter().any(|(_, l)| l.is_none()) {
                self.record(
                    &exec,
                    None,
                    Outcome::skip(format!("{label} namespaces could not be read from /proc")),
                );
                continue;
            }
            let differ: Vec<String> = want
                .iter()
                .filter(|(k, l)| r.ns.get(k.as_str()).cloned().flatten() != *l)
                .map(|(k, l)| {
                    format!(
                        "{k}: hook in {:?}, {label} is {:?}",
                        r.ns.get(k.as_str()).cloned().flatten(),
                        l
                    )
                })
                .collect();
            let outcome = if differ.is_empty() {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!(
                        "the {} hook did not run in {label} namespaces",
                        kind.key
                    ))
                    .expected(format!("{label} namespaces"))
                    .actual(differ.join("; "))
                    .at(log_location(self.dirs)),
                )
            };
            self.record(&exec, None, outcome);
        }
    }
}

/// Whether the hook `name` left its line in the log.
fn ran(dirs: &HookDirs, name: &str) -> bool {
    dirs.read()
        .unwrap_or_default()
        .iter()
        .any(|r| r.hook == name)
}

impl Judge<'_, '_, '_> {
    /// The `pid` in a hook's state is in the hook's pid namespace: the host pid for hooks in
    /// the runtime namespace, the container's own view (1, its init) for hooks in the
    /// container namespace. poststop runs after the process is gone and is not judged.
    fn pid_view(&self, host_pid: Option<i32>) {
        for kind in KINDS.iter().filter(|k| k.key != "poststop") {
            let Some(r) = self.record_of(&format!("{}-1", kind.key)) else {
                self.record(PID_VIEW, Some(kind.key), self.not_run(*kind));
                continue;
            };
            let got = serde_json::from_str::<Value>(r.stdin.trim())
                .ok()
                .and_then(|v| v.get("pid").and_then(Value::as_i64));
            let want = if kind.in_container {
                Some(1)
            } else {
                host_pid.map(i64::from)
            };
            let Some(want) = want else {
                self.record(
                    PID_VIEW,
                    Some(kind.key),
                    Outcome::skip("the container's pid is unknown (no pid file)"),
                );
                continue;
            };
            let outcome = if got == Some(want) {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!(
                        "the {} hook's state has a pid outside its pid namespace's view",
                        kind.key
                    ))
                    .expected(format!(
                        "{want} ({})",
                        if kind.in_container {
                            "the container init as the container sees it"
                        } else {
                            "the container init as the host sees it"
                        }
                    ))
                    .actual(format!("{got:?}"))
                    .at(log_location(self.dirs)),
                )
            };
            self.record(PID_VIEW, Some(kind.key), outcome);
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// One container whose single `kind` hook fails: the operation that runs it must fail, the
/// container must be stopped and destroyed (poststop: the failure is only a warning, delete
/// succeeds and the next poststop hook still runs).
fn failing_hook(ctx: &Ctx<'_, '_>, kind: Kind) {
    let ids: Vec<String> = if kind.key == "poststop" {
        vec!["runtime.runtime.lifecycle.poststop-failure-continue".into()]
    } else {
        ["error", "stop", "destroy"]
            .iter()
            .map(|w| format!("runtime.runtime.lifecycle.{}-failure-{w}", kind.slug))
            .collect()
    };
    if let Err(e) = failing_hook_inner(ctx, kind, &ids) {
        for id in &ids {
            ctx.record(GROUP, None, id, harness(&e));
        }
    }
}

fn failing_hook_inner(ctx: &Ctx<'_, '_>, kind: Kind, ids: &[String]) -> Result<(), DriverError> {
    let name = format!("hook-fail-{}", kind.slug);
    let dirs = HookDirs::new(ctx, &name);
    let mut config = config_with_log(ctx, &name, &dirs, &["sleep"]);
    let mut list = vec![dirs.hook(kind, "hook-fail", &format!("{}-fails", kind.key))];
    if kind.key == "poststop" {
        list.push(dirs.hook(kind, "hook", "poststop-after"));
    }
    set(
        &mut config,
        &format!("/hooks/{}", kind.key),
        Value::Array(list),
    );
    let mut c = ctx
        .session
        .container(&name, &config, |rootfs| dirs.prepare(rootfs))?;
    let create = c.create(true)?;
    let at_create = matches!(kind.key, "prestart" | "createRuntime" | "createContainer");
    if at_create {
        return judge_failure(ctx, &c, kind, ids, &create, "create");
    }
    if !create.ok() && ran(&dirs, &format!("{}-fails", kind.key)) {
        // The hook ran during create (too early: its timing requirement says so); judge the
        // failure semantics on the operation that ran it.
        return judge_failure(ctx, &c, kind, ids, &create, "create");
    }
    if !create.ok() {
        let outcome = Outcome::fail(
            at_invocation(
                &create,
                format!("create failed, but no {} hook runs at create", kind.key),
            )
            .expected("exit 0"),
        );
        for id in ids {
            ctx.record(GROUP, None, id, outcome.clone());
        }
        return Ok(());
    }
    let start = c.start()?;
    if kind.key != "poststop" {
        return judge_failure(ctx, &c, kind, ids, &start, "start");
    }
    // poststop: stop the container, delete it; the failing hook is only a warning.
    let _ = c.kill("KILL")?;
    let _ = c.wait_exit(ctx.opts.exit_timeout)?;
    let delete = c.delete(false)?;
    let (gone, _) = c.state()?;
    let after = dirs.read().unwrap_or_default();
    let ran_after = after.iter().any(|r| r.hook == "poststop-after");
    let outcome = match (delete.ok(), gone.ok(), ran_after) {
        (true, false, true) => Outcome::pass(),
        (false, ..) => Outcome::fail(
            at_invocation(&delete, "delete failed because a poststop hook failed")
                .expected("exit 0: a failing poststop hook is only a warning"),
        ),
        (true, true, _) => Outcome::fail(at_invocation(
            &gone,
            "the container still exists after delete with a failing poststop hook",
        )),
        (true, false, false) => Outcome::fail(
            at_invocation(&delete, "the poststop hook after the failing one never ran")
                .expected("the remaining poststop hooks run")
                .actual(format!(
                    "hooks that ran: {:?}",
                    after.iter().map(|r| r.hook.as_str()).collect::<Vec<_>>()
                )),
        ),
    };
    // Whether `start` worked is judged elsewhere; poststop hooks run at delete either way.
    ctx.record(GROUP, None, &ids[0], outcome);
    Ok(())
}

/// After the operation that ran a failing hook: it must have failed, and the container must
/// be stopped (no process left) and destroyed (`state` no longer knows it).
fn judge_failure(
    ctx: &Ctx<'_, '_>,
    c: &Container<'_>,
    kind: Kind,
    ids: &[String],
    op: &Invocation,
    op_name: &str,
) -> Result<(), DriverError> {
    ctx.record(
        GROUP,
        None,
        &ids[0],
        if op.ok() {
            Outcome::fail(
                at_invocation(
                    op,
                    format!("{op_name} succeeded although a {} hook failed", kind.key),
                )
                .expected("an error (non-zero exit)")
                .actual("exit 0"),
            )
        } else {
            Outcome::pass()
        },
    );
    // Stopped: the container's process (if it ever had one) is gone. The runtime may need a
    // moment after it returned; wait on the pidfd.
    let alive = match c.pid() {
        Some(pid) => {
            let exited = c.wait_exit(Duration::from_secs(2))?;
            exited.is_none().then_some(pid)
        }
        None => None,
    };
    let (state, json) = c.state()?;
    let status = json
        .as_ref()
        .and_then(|v| v.get("status"))
        .and_then(Value::as_str)
        .map(str::to_string);
    ctx.record(
        GROUP,
        None,
        &ids[1],
        match (alive, status.as_deref()) {
            (Some(pid), _) => Outcome::fail(
                at_invocation(op, format!("the container process {pid} still runs"))
                    .expected("the container stopped")
                    .actual(format!("state: {:?}", status)),
            ),
            (None, None | Some("stopped")) => Outcome::pass(),
            (None, Some(s)) => Outcome::fail(
                at_invocation(&state, format!("the container is {s:?}, not stopped"))
                    .expected("stopped or gone")
                    .actual(s.to_string()),
            ),
        },
    );
    ctx.record(
        GROUP,
        None,
        &ids[2],
        if state.ok() {
            Outcome::fail(
                at_invocation(
                    &state,
                    format!(
                        "the container still exists after its {} hook failed",
                        kind.key
                    ),
                )
                .expected("the container destroyed: state reports an unknown id")
                .actual(format!(
                    "state answers: {}",
                    truncate(state.stdout.trim(), 300)
                )),
            )
        } else {
            Outcome::pass()
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_ids() {
        for kind in KINDS {
            for id in [
                format!("runtime.config.hooks.{}.timing", kind.slug),
                format!("runtime.config.hooks.{}.exec-namespace", kind.slug),
                format!("runtime.runtime.lifecycle.{}-invoked", kind.slug),
            ] {
                assert!(IDS.contains(&id.as_str()), "{id}");
            }
        }
    }
}
