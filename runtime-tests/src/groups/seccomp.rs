//! Seccomp (config-linux.md, "Seccomp"): the filter of `linux.seccomp` must be in force when
//! the program runs, which the probe can see for itself.
//!
//! - `SCMP_ACT_ERRNO` with an `errnoRet`: the probe's `mkdir` fails with exactly that errno
//!   (`EROFS` without the filter: the root is read-only); without `errnoRet`, its `rmdir`
//!   fails with `EPERM` (`ENOENT` without the filter). A syscall no rule names (`readlink`)
//!   succeeds, as the default action `SCMP_ACT_ALLOW` says, and `/proc/self/status` shows
//!   seccomp mode 2 (filter).
//! - `SCMP_ACT_KILL` and `SCMP_ACT_KILL_PROCESS`: the probe's `mkdir` ends the process with
//!   SIGSYS, seen from outside in the exit status the driver collects as the subreaper.
//! - An `errnoRet` (or `defaultErrnoRet`) given to an action that cannot return an errno: the
//!   runtime must refuse the config.
//!
//! The probe uses only syscalls runtimes do not make themselves between installing the filter
//! and `execve` (runc calls `getppid` there, so that one is never denied or killed). Actions the
//! runtime's `features` declares unsupported are skipped with that reason.

use oci_certify_core::check::{Failure, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::driver::ProcessExit;
use crate::engine::{at_invocation, harness, inside, must_error, no_report, set, Ctx};
use crate::probe::Observation;

const GROUP: &str = "seccomp";
const APPLY: &str = "runtime.runtime.create.apply-config";
const DEFAULT_ERRNO_UNSUPPORTED: &str =
    "runtime.config-linux.seccomp.default-errno-ret-unsupported-error";
const ERRNO_UNSUPPORTED: &str = "runtime.config-linux.seccomp.syscalls-errno-ret-unsupported-error";

/// The probe tag of the container that reports (`observe seccomp`).
pub const TAG: &str = "seccomp";

/// The requirements this group judges.
pub const IDS: &[&str] = &[APPLY, DEFAULT_ERRNO_UNSUPPORTED, ERRNO_UNSUPPORTED];

/// The errno the ERRNO rule asks for: EPROTO, which nothing here would return by itself.
pub const ERRNO_RET: i32 = 71;
const EPERM: i32 = 1;
const SIGSYS: i32 = 31;
const MKDIR_PATH: &str = "/tmp/oci-certify-seccomp";
const RMDIR_PATH: &str = "/oci-certify-absent";
const READLINK_PATH: &str = "/proc/self/exe";

/// Targets of the points.
pub const T_MODE: &str = "linux.seccomp (Seccomp mode in /proc/self/status)";
/// The ERRNO rule with errnoRet.
pub const T_ERRNO: &str = "linux.seccomp.syscalls SCMP_ACT_ERRNO errnoRet 71 (mkdir)";
/// The ERRNO rule without errnoRet.
pub const T_EPERM: &str = "linux.seccomp.syscalls SCMP_ACT_ERRNO without errnoRet (rmdir)";
/// The default action.
pub const T_ALLOW: &str = "linux.seccomp.defaultAction SCMP_ACT_ALLOW (readlink)";

/// What the runtime's `features` says about seccomp.
#[derive(Debug, Default)]
struct Support {
    /// `linux.seccomp.enabled` false: the runtime was built without seccomp.
    disabled: bool,
    /// `linux.seccomp.actions`, when listed.
    actions: Option<Vec<String>>,
}

impl Support {
    fn read(ctx: &Ctx<'_, '_>) -> Support {
        let Some(doc) = ctx.features() else {
            return Support::default();
        };
        let seccomp = doc.pointer("/linux/seccomp");
        Support {
            disabled: seccomp.and_then(|s| s.get("enabled")) == Some(&json!(false)),
            actions: seccomp
                .and_then(|s| s.get("actions"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                }),
        }
    }

    /// Why `action` cannot be tested, if it cannot.
    fn lacks(&self, action: &str) -> Option<String> {
        if self.disabled {
            return Some("the runtime's features say seccomp is not enabled".into());
        }
        match &self.actions {
            Some(list) if !list.iter().any(|a| a == action) => Some(format!(
                "the runtime's features do not list {action} among linux.seccomp.actions"
            )),
            _ => None,
        }
    }
}

fn with_seccomp(args: &[&str], cgroups_path: &str, seccomp: Value) -> Value {
    let mut c = base_config(args, cgroups_path);
    set(&mut c, "/linux/seccomp", seccomp);
    c
}

fn mkdir_rule(action: &str) -> Value {
    json!({"names": ["mkdir", "mkdirat"], "action": action})
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    let support = Support::read(ctx);
    errno_rules(ctx, &support);
    for (name, action) in [
        ("seccomp-kill", "SCMP_ACT_KILL"),
        ("seccomp-kill-process", "SCMP_ACT_KILL_PROCESS"),
    ] {
        kill_rule(ctx, &support, name, action);
    }
    refused(ctx, &support);
    ctx.runner.finish_group(GROUP);
}

fn errno_rules(ctx: &Ctx<'_, '_>, support: &Support) {
    let targets = [T_MODE, T_ERRNO, T_EPERM, T_ALLOW];
    let record_all = |outcome: &Outcome| {
        for t in targets {
            ctx.record(GROUP, Some(t), APPLY, outcome.clone());
        }
    };
    if let Some(why) = support
        .lacks("SCMP_ACT_ERRNO")
        .or_else(|| support.lacks("SCMP_ACT_ALLOW"))
    {
        return record_all(&Outcome::skip(why));
    }
    let mut rules = vec![mkdir_rule("SCMP_ACT_ERRNO")];
    rules[0]["errnoRet"] = json!(ERRNO_RET);
    rules.push(json!({"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}));
    let config = with_seccomp(
        &[
            "observe",
            TAG,
            "--try",
            &format!("mkdir:{MKDIR_PATH}"),
            "--try",
            &format!("rmdir:{RMDIR_PATH}"),
            "--try",
            &format!("readlink:{READLINK_PATH}"),
        ],
        &ctx.session.cgroups_path("seccomp"),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}),
    );
    let result = ctx
        .session
        .container("seccomp", &config, prepare_rootfs)
        .and_then(|mut c| crate::engine::observe(ctx, &mut c));
    let obs = match result {
        Err(e) => return record_all(&harness(&e)),
        Ok((create, start, Err(why))) => return record_all(&no_report(&why, &create, &start)),
        Ok((_, _, Ok(obs))) => obs,
    };
    judge(ctx, &obs);
}

fn judge(ctx: &Ctx<'_, '_>, obs: &Observation) {
    ctx.record(
        GROUP,
        Some(T_MODE),
        APPLY,
        match obs.seccomp {
            Some(2) => Outcome::pass(),
            other => Outcome::fail(
                Failure::new("the container process runs without a seccomp filter")
                    .expected("Seccomp: 2 (filter)")
                    .actual(format!("Seccomp: {other:?}"))
                    .at(inside("/proc/self/status")),
            ),
        },
    );
    let errno_of = |name: &str, arg: &str, target: &str, want: i32, what: &str| {
        let outcome = match obs.attempt(name, arg) {
            None => Outcome::error(format!("the probe did not report its {name} attempt")),
            Some(t) if !t.ok && t.errno == Some(want) => Outcome::pass(),
            Some(t) => Outcome::fail(
                Failure::new(format!("{name}({arg}) was not denied as the filter says"))
                    .expected(format!("{what}: errno {want}"))
                    .actual(if t.ok {
                        "it succeeded".to_string()
                    } else {
                        format!("errno {:?}", t.errno)
                    })
                    .at(inside(&format!("{name}({arg})"))),
            ),
        };
        ctx.record(GROUP, Some(target), APPLY, outcome);
    };
    errno_of(
        "mkdir",
        MKDIR_PATH,
        T_ERRNO,
        ERRNO_RET,
        "SCMP_ACT_ERRNO with errnoRet 71",
    );
    errno_of(
        "rmdir",
        RMDIR_PATH,
        T_EPERM,
        EPERM,
        "SCMP_ACT_ERRNO without errnoRet means EPERM",
    );
    ctx.record(
        GROUP,
        Some(T_ALLOW),
        APPLY,
        match obs.attempt("readlink", READLINK_PATH) {
            None => Outcome::error("the probe did not report its readlink attempt"),
            Some(t) if t.ok => Outcome::pass(),
            Some(t) => Outcome::fail(
                Failure::new("a syscall no rule names was not allowed")
                    .expected("readlink succeeds (defaultAction SCMP_ACT_ALLOW)")
                    .actual(format!("errno {:?}", t.errno))
                    .at(inside(&format!("readlink({READLINK_PATH})"))),
            ),
        },
    );
}

fn kill_rule(ctx: &Ctx<'_, '_>, support: &Support, name: &str, action: &str) {
    let target = format!("linux.seccomp.syscalls {action} (mkdir)");
    if let Some(why) = support.lacks(action) {
        return ctx.record(GROUP, Some(&target), APPLY, Outcome::skip(why));
    }
    let path = format!("{MKDIR_PATH}-{name}");
    let config = with_seccomp(
        &["syscall", "mkdir", &path],
        &ctx.session.cgroups_path(name),
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [mkdir_rule(action)]}),
    );
    let run = ctx
        .session
        .container(name, &config, prepare_rootfs)
        .and_then(|mut c| {
            let create = c.create(true)?;
            if !create.ok() {
                return Ok(Err(create));
            }
            let start = c.start()?;
            if !start.ok() {
                let _ = c.delete(true);
                return Ok(Err(start));
            }
            let out = c.output_to_eof(ctx.opts.exit_timeout)?;
            let exit = c.wait_exit(ctx.opts.exit_timeout)?;
            let _ = c.delete(true);
            Ok(Ok((start, out, exit)))
        });
    let outcome = match run {
        Err(e) => harness(&e),
        Ok(Err(inv)) => Outcome::fail(
            at_invocation(
                &inv,
                format!("a container with an {action} rule did not run"),
            )
            .actual(inv.stderr.trim().to_string()),
        ),
        Ok(Ok((start, out, exit))) => match exit.and_then(|e| e.status) {
            Some(ProcessExit::Signal(SIGSYS)) => Outcome::pass(),
            None => Outcome::skip(
                "the exit status of the container process could not be collected (this process \
                 is not its subreaper)",
            ),
            Some(status) => Outcome::fail(
                at_invocation(
                    &start,
                    format!("the process survived a syscall the filter kills ({action})"),
                )
                .expected("killed by SIGSYS (31)")
                .actual(format!(
                    "{status:?}; the probe printed {:?}",
                    String::from_utf8_lossy(&out.stdout).trim()
                )),
            ),
        },
    };
    ctx.record(GROUP, Some(&target), APPLY, outcome);
}

/// Configs the runtime must refuse: an errno for actions that cannot return one.
fn refused(ctx: &Ctx<'_, '_>, support: &Support) {
    let cases = [
        (
            "seccomp-default-errno-ret",
            DEFAULT_ERRNO_UNSUPPORTED,
            "defaultErrnoRet with defaultAction SCMP_ACT_ALLOW",
            "SCMP_ACT_ALLOW",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5}),
        ),
        (
            "seccomp-kill-errno-ret",
            ERRNO_UNSUPPORTED,
            "errnoRet on an SCMP_ACT_KILL rule",
            "SCMP_ACT_KILL",
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL", "errnoRet": 5}
            ]}),
        ),
    ];
    for (name, id, target, action, seccomp) in cases {
        if let Some(why) = support.lacks(action) {
            ctx.record(GROUP, Some(target), id, Outcome::skip(why));
            continue;
        }
        let config = with_seccomp(&["exit", "0"], &ctx.session.cgroups_path(name), seccomp);
        let outcome = match ctx
            .session
            .container(name, &config, prepare_rootfs)
            .and_then(|mut c| {
                let inv = c.create(false)?;
                if inv.ok() {
                    let _ = c.kill("KILL");
                    let _ = c.wait_exit(ctx.opts.exit_timeout);
                    let _ = c.delete(true);
                }
                Ok(inv)
            }) {
            Err(e) => harness(&e),
            Ok(inv) => must_error(&inv, &format!("create with {target}")),
        };
        ctx.record(GROUP, Some(target), id, outcome);
    }
}
