//! Operations that must fail, and what they must leave behind (runtime.md#runtimeErrors,
//! #runtimeOperations; config.md and config-linux.md rules whose violation is an error):
//! missing container ids and bundle, properties that cannot be applied, duplicate rlimits and
//! namespaces, a namespace path of the wrong type, a config without `process`. Each failing
//! `create` is followed by `state ID`, which must not know the container, and a look at the
//! runtime's state root, which must hold nothing of it.
//!
//! It also holds the checks that a create must *not* fail on an unknown annotation key, and
//! that edits to config.json after create have no effect.

use oci_certify_core::check::{Failure, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::cli::Invocation;
use crate::engine::{at_invocation, harness, must_error, no_report, set, Ctx};
use crate::error::DriverError;
use crate::probe::Observation;

const GROUP: &str = "errors";

const NO_SIDE_EFFECTS: &str = "runtime.runtime.errors.no-side-effects";

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    "runtime.runtime.state-op.missing-id-error",
    "runtime.runtime.start.missing-id-error",
    "runtime.runtime.kill.missing-id-error",
    "runtime.runtime.delete.missing-id-error",
    "runtime.runtime.create.missing-id-error",
    "runtime.runtime.create.missing-bundle-error",
    "runtime.runtime.create.unapplicable-error",
    "runtime.runtime.create.unapplicable-no-container",
    "runtime.config.process.rlimits-type-unmappable-error",
    "runtime.config.process.rlimits-duplicate-error",
    "runtime.config-linux.namespaces.type-unique",
    "runtime.config-linux.namespaces.path-type-mismatch-error",
    "runtime.runtime.start.no-process-error",
    "runtime.config.annotations.unknown-keys",
    "runtime.runtime.state.annotations-optional",
    "runtime.runtime.lifecycle.config-changes-ignored",
    NO_SIDE_EFFECTS,
];

/// One independent part of the group: its name, the ids it records, and its function.
type Step = (
    &'static str,
    &'static [&'static str],
    fn(&Ctx<'_, '_>) -> Result<(), DriverError>,
);

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    let steps: [Step; 7] = [
        (
            "missing ids",
            &[
                "runtime.runtime.state-op.missing-id-error",
                "runtime.runtime.start.missing-id-error",
                "runtime.runtime.kill.missing-id-error",
                "runtime.runtime.delete.missing-id-error",
                "runtime.runtime.create.missing-id-error",
            ],
            missing_ids,
        ),
        (
            "missing bundle",
            &["runtime.runtime.create.missing-bundle-error"],
            missing_bundle,
        ),
        (
            "unapplicable",
            &[
                "runtime.runtime.create.unapplicable-error",
                "runtime.runtime.create.unapplicable-no-container",
            ],
            unapplicable,
        ),
        (
            "invalid configs",
            &[
                "runtime.config.process.rlimits-type-unmappable-error",
                "runtime.config.process.rlimits-duplicate-error",
                "runtime.config-linux.namespaces.type-unique",
                "runtime.config-linux.namespaces.path-type-mismatch-error",
            ],
            invalid_configs,
        ),
        (
            "no process",
            &["runtime.runtime.start.no-process-error"],
            no_process,
        ),
        (
            "annotations",
            &[
                "runtime.config.annotations.unknown-keys",
                "runtime.runtime.state.annotations-optional",
            ],
            annotations,
        ),
        (
            "config edits",
            &["runtime.runtime.lifecycle.config-changes-ignored"],
            config_edits,
        ),
    ];
    std::thread::scope(|scope| {
        let handles: Vec<_> = steps
            .iter()
            .map(|(what, ids, f)| {
                scope.spawn(move || {
                    if let Err(e) = f(ctx) {
                        ctx.runner
                            .diagnostic(format!("harness error in errors/{what}: {e}"));
                        for id in *ids {
                            ctx.record(GROUP, None, id, harness(&e));
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            if h.join().is_err() {
                ctx.runner
                    .diagnostic("harness error: an error-path check panicked");
            }
        }
    });
    ctx.runner.finish_group(GROUP);
}

/// After a failed create of `id`: `state` must not know it and the state root must hold
/// nothing of it. Records [`NO_SIDE_EFFECTS`] with `target`.
fn no_container(
    ctx: &Ctx<'_, '_>,
    id: &str,
    create: &Invocation,
    target: &str,
) -> Result<Outcome, DriverError> {
    let state = ctx.session.runtime().state(id)?;
    let leftover = ctx
        .session
        .state_root()
        .map(|root| root.join(id))
        .filter(|p| p.exists());
    let outcome = match (state.ok(), leftover) {
        (true, _) => Outcome::fail(
            at_invocation(&state, "a container exists after the failed create")
                .expected("state reports an unknown container")
                .actual(format!("state answers: {}", state.stdout.trim())),
        ),
        (false, Some(p)) => Outcome::fail(
            at_invocation(
                create,
                format!("the failed create left state behind at {}", p.display()),
            )
            .expected("nothing of the container in the runtime's state root"),
        ),
        (false, None) => Outcome::pass(),
    };
    if !create.ok() {
        ctx.record(GROUP, Some(target), NO_SIDE_EFFECTS, outcome.clone());
    }
    Ok(outcome)
}

fn missing_ids(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let rt = ctx.session.runtime();
    for (op, id) in [
        ("state", "runtime.runtime.state-op.missing-id-error"),
        ("start", "runtime.runtime.start.missing-id-error"),
        ("kill", "runtime.runtime.kill.missing-id-error"),
        ("delete", "runtime.runtime.delete.missing-id-error"),
    ] {
        let inv = rt.run_args(&[op])?;
        ctx.record(
            GROUP,
            None,
            id,
            must_error(&inv, &format!("{op} without a container id")),
        );
    }
    // create with a valid bundle but no id.
    let config = base_config(&["exit", "0"], &ctx.session.cgroups_path("errors-no-id"));
    let c = ctx
        .session
        .container("errors-no-id", &config, prepare_rootfs)?;
    let bundle = c.bundle().display().to_string();
    let inv = rt.run_args(&["create", "--bundle", &bundle])?;
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.create.missing-id-error",
        must_error(&inv, "create without a container id"),
    );
    Ok(())
}

fn missing_bundle(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    // A tracked container name, so that whatever a wrong runtime creates is cleaned up. The
    // runtime runs in an empty working directory (runc defaults --bundle to it).
    let config = base_config(
        &["exit", "0"],
        &ctx.session.cgroups_path("errors-no-bundle"),
    );
    let c = ctx
        .session
        .container("errors-no-bundle", &config, prepare_rootfs)?;
    let inv = ctx.session.runtime().run_args(&["create", c.id()])?;
    let mut outcome = must_error(&inv, "create without a bundle");
    if inv.ok() {
        // Whatever it created goes.
        let _ = c.delete(true);
    } else {
        outcome = no_container(ctx, c.id(), &inv, "missing bundle")?;
    }
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.create.missing-bundle-error",
        outcome,
    );
    Ok(())
}

/// A sysctl the kernel does not have cannot be applied: create must fail and leave nothing.
fn unapplicable(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let name = "errors-unapplicable";
    let mut config = base_config(&["exit", "0"], &ctx.session.cgroups_path(name));
    set(
        &mut config,
        "/linux/sysctl",
        json!({"net.ipv4.oci_certify_no_such_sysctl": "1"}),
    );
    let mut c = ctx.session.container(name, &config, prepare_rootfs)?;
    let create = c.create(false)?;
    ctx.record(
        GROUP,
        Some("linux.sysctl"),
        "runtime.runtime.create.unapplicable-error",
        must_error(&create, "create with a sysctl the kernel does not have"),
    );
    let outcome = if create.ok() {
        Outcome::fail(
            at_invocation(&create, "create succeeded, so a container exists")
                .expected("no container"),
        )
    } else {
        no_container(ctx, c.id(), &create, "linux.sysctl")?
    };
    ctx.record(
        GROUP,
        Some("linux.sysctl"),
        "runtime.runtime.create.unapplicable-no-container",
        outcome,
    );
    Ok(())
}

/// Configs the runtime must refuse: create fails and leaves nothing behind.
fn invalid_configs(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    type Edit = fn(&mut Value);
    let cases: [(&str, &str, &str, Edit); 4] = [
        (
            "errors-rlimit-type",
            "runtime.config.process.rlimits-type-unmappable-error",
            "an rlimit type the kernel does not know",
            |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_OCI_CERTIFY", "soft": 1, "hard": 1}]),
                )
            },
        ),
        (
            "errors-rlimit-dup",
            "runtime.config.process.rlimits-duplicate-error",
            "two RLIMIT_NOFILE entries",
            |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([
                        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
                        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512}
                    ]),
                )
            },
        ),
        (
            "errors-ns-dup",
            "runtime.config-linux.namespaces.type-unique",
            "the network namespace listed twice",
            |c| {
                if let Some(ns) = c
                    .pointer_mut("/linux/namespaces")
                    .and_then(Value::as_array_mut)
                {
                    ns.push(json!({"type": "network"}));
                }
            },
        ),
        (
            "errors-ns-path",
            "runtime.config-linux.namespaces.path-type-mismatch-error",
            "a network namespace entry whose path is a UTS namespace",
            |c| {
                if let Some(ns) = c
                    .pointer_mut("/linux/namespaces")
                    .and_then(Value::as_array_mut)
                {
                    for n in ns.iter_mut() {
                        if n["type"] == "network" {
                            n["path"] = json!("/proc/1/ns/uts");
                        }
                    }
                }
            },
        ),
    ];
    for (name, id, what, edit) in cases {
        let mut config = base_config(&["exit", "0"], &ctx.session.cgroups_path(name));
        edit(&mut config);
        let mut c = ctx.session.container(name, &config, prepare_rootfs)?;
        let create = c.create(false)?;
        ctx.record(
            GROUP,
            None,
            id,
            must_error(&create, &format!("create with {what}")),
        );
        if !create.ok() {
            no_container(ctx, c.id(), &create, name.trim_start_matches("errors-"))?;
        }
    }
    Ok(())
}

fn no_process(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let name = "errors-no-process";
    let mut config = base_config(&["exit", "0"], &ctx.session.cgroups_path(name));
    if let Some(o) = config.as_object_mut() {
        o.remove("process");
    }
    let mut c = ctx.session.container(name, &config, prepare_rootfs)?;
    let create = c.create(false)?;
    // A runtime may already refuse at create (the program cannot be run); then start has no
    // container to start and must fail too.
    let start = c.start()?;
    let outcome = must_error(&start, "start of a container whose config has no process");
    ctx.record(
        GROUP,
        Some(if create.ok() {
            "created"
        } else {
            "create refused"
        }),
        "runtime.runtime.start.no-process-error",
        outcome,
    );
    Ok(())
}

/// Unknown annotation keys are not an error; the state may carry the annotations.
fn annotations(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let name = "errors-annotations";
    let mut config = base_config(&["sleep"], &ctx.session.cgroups_path(name));
    let annotations = json!({
        "org.oci-certify.unknown-key": "value",
        "com.example.oci-certify.empty": ""
    });
    set(&mut config, "/annotations", annotations.clone());
    let mut c = ctx.session.container(name, &config, prepare_rootfs)?;
    let create = c.create(false)?;
    ctx.record(
        GROUP,
        None,
        "runtime.config.annotations.unknown-keys",
        if create.ok() {
            Outcome::pass()
        } else {
            Outcome::fail(
                at_invocation(
                    &create,
                    "create failed on a config with unknown annotation keys",
                )
                .expected("exit 0: unknown annotations are ignored"),
            )
        },
    );
    let outcome = if create.ok() {
        let (inv, state) = c.state()?;
        let got = state.as_ref().and_then(|s| s.get("annotations")).cloned();
        if got.as_ref() == Some(&annotations) {
            Outcome::pass()
        } else {
            Outcome::fail(
                at_invocation(&inv, "the state does not carry the config's annotations")
                    .expected(annotations.to_string())
                    .actual(
                        got.map(|v| v.to_string())
                            .unwrap_or_else(|| "no annotations".into()),
                    ),
            )
        }
    } else {
        Outcome::skip("create failed (see runtime.config.annotations.unknown-keys)")
    };
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.state.annotations-optional",
        outcome,
    );
    let _ = c.delete(true);
    Ok(())
}

/// After create, config.json is rewritten (other argv, other env, other hostname); start must
/// run the container as created.
fn config_edits(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let id = "runtime.runtime.lifecycle.config-changes-ignored";
    let name = "errors-config-edits";
    let mut config = base_config(&["report"], &ctx.session.cgroups_path(name));
    set(
        &mut config,
        "/process/env",
        json!(["PATH=/bin", "OCI_CERTIFY_EDIT=before"]),
    );
    let mut c = ctx.session.container(name, &config, prepare_rootfs)?;
    let create = c.create(true)?;
    if !create.ok() {
        ctx.record(
            GROUP,
            None,
            id,
            Outcome::fail(at_invocation(&create, "create failed").expected("exit 0")),
        );
        return Ok(());
    }
    let mut edited = config.clone();
    set(
        &mut edited,
        "/process/env",
        json!(["PATH=/bin", "OCI_CERTIFY_EDIT=after"]),
    );
    set(&mut edited, "/hostname", json!("edited-after-create"));
    let path = c.bundle().join("config.json");
    let bytes = serde_json::to_vec_pretty(&edited).map_err(DriverError::Config)?;
    std::fs::write(&path, bytes).map_err(|e| DriverError::io("write", &path, e))?;
    let start = c.start()?;
    if !start.ok() {
        ctx.record(
            GROUP,
            None,
            id,
            Outcome::fail(at_invocation(&start, "start failed").expected("exit 0")),
        );
        return Ok(());
    }
    let out = c.output_to_eof(ctx.opts.exit_timeout)?;
    let _ = c.wait_exit(ctx.opts.exit_timeout);
    let _ = c.delete(true);
    let obs = match Observation::parse(&out.stdout) {
        Ok(o) => o,
        Err(e) => {
            ctx.record(GROUP, None, id, no_report(&e.to_string(), &create, &start));
            return Ok(());
        }
    };
    let env_edit = obs
        .env
        .iter()
        .find(|e| e.starts_with("OCI_CERTIFY_EDIT="))
        .cloned();
    let mut changed = Vec::new();
    if env_edit.as_deref() != Some("OCI_CERTIFY_EDIT=before") {
        changed.push(format!("process.env has {env_edit:?}"));
    }
    if obs.hostname.as_deref() != Some("oci-certify") {
        changed.push(format!("hostname is {:?}", obs.hostname));
    }
    ctx.record(
        GROUP,
        None,
        id,
        if changed.is_empty() {
            Outcome::pass()
        } else {
            Outcome::fail(
                Failure::new("edits to config.json after create reached the container")
                    .expected("OCI_CERTIFY_EDIT=before and hostname \"oci-certify\" (as created)")
                    .actual(changed.join("; "))
                    .at(start.location()),
            )
        },
    );
    Ok(())
}
