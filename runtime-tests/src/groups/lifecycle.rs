//! Lifecycle and state (runtime.md): every operation, every status, errors for operations in
//! the wrong state, duplicate and invalid ids, state JSON, "an error leaves state unchanged",
//! and that create does not run the user program.

use oci_certify_core::check::Outcome;
use serde_json::Value;

use crate::bundles::{base_config, prepare_rootfs};
use crate::cli::Invocation;
use crate::driver::Container;
use crate::engine::{
    at_invocation, check_state_document, harness, must_error, runs_probe, status_of, wait_for_exec,
    Ctx, PIPES,
};
use crate::error::DriverError;

const GROUP: &str = "lifecycle";

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    "runtime.runtime.operations.supported",
    "runtime.runtime.create.creates-container",
    "runtime.runtime.state-op.returns-state",
    "runtime.runtime.state.id-required",
    "runtime.runtime.lifecycle.create-program-not-run",
    "runtime.runtime.create.args-deferred",
    "runtime.runtime.create.id-unique",
    "runtime.runtime.create.id-unique-no-container",
    "runtime.runtime.start.run-program",
    "runtime.runtime.lifecycle.run-program",
    "runtime.runtime.start.not-created-error",
    "runtime.runtime.start.not-created-no-effect",
    "runtime.runtime.delete.not-stopped-error",
    "runtime.runtime.delete.not-stopped-no-effect",
    "runtime.runtime.kill.send-signal",
    "runtime.runtime.kill.wrong-state-error",
    "runtime.runtime.kill.wrong-state-no-effect",
    "runtime.runtime.delete.remove-resources",
    "runtime.runtime.state-op.unknown-id-error",
    "runtime.runtime.create.id-invalid",
    "runtime.runtime.create.id-invalid-no-container",
];

/// A `state` call and what it said.
type Snapshot = (Invocation, Option<Value>, Option<String>, Option<i64>);

/// The observed (status, pid) of a container, and the state invocation.
fn snapshot(c: &Container<'_>) -> Result<Snapshot, DriverError> {
    let (inv, json) = c.state()?;
    let (status, pid) = status_of(json.as_ref());
    Ok((inv, json, status, pid))
}

/// "An operation that errors leaves the container as it was": the state after equals before.
fn unchanged(before: (&Option<String>, &Option<i64>), after: &Snapshot, what: &str) -> Outcome {
    if (&after.2, &after.3) == (before.0, before.1) {
        Outcome::pass()
    } else {
        Outcome::fail(
            at_invocation(
                &after.0,
                format!("the container changed after the {what}, which must be refused"),
            )
            .expected(format!("status {:?}, pid {:?}", before.0, before.1))
            .actual(format!("status {:?}, pid {:?}", after.2, after.3)),
        )
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    if let Err(e) = run_inner(ctx) {
        ctx.runner
            .diagnostic(format!("lifecycle group stopped: {e}"));
        ctx.record_all(
            GROUP,
            &["runtime.runtime.operations.supported"],
            &harness(&e),
        );
    }
    ctx.runner.finish_group(GROUP);
}

fn run_inner(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let session = ctx.session;
    let config = base_config(&["sleep"], &session.cgroups_path("lifecycle"));
    let mut c = session.container("lifecycle", &config, prepare_rootfs)?;
    let rootfs = c.rootfs();

    // create
    let create = c.create(true)?;
    if !create.ok() {
        ctx.record(
            GROUP,
            None,
            "runtime.runtime.create.creates-container",
            Outcome::fail(
                at_invocation(&create, "create failed")
                    .expected("exit 0")
                    .actual(format!("exit {:?}", create.status)),
            ),
        );
        let skip = Outcome::skip("create failed; the rest of the lifecycle cannot be observed");
        for id in IDS
            .iter()
            .filter(|i| **i != "runtime.runtime.create.creates-container")
        {
            ctx.record(GROUP, None, id, skip.clone());
        }
        return Ok(());
    }
    let created = snapshot(&c)?;
    check_state_document(ctx, "created", &created.0);
    ctx.record(
        GROUP,
        Some("created"),
        "runtime.runtime.create.creates-container",
        match created.2.as_deref() {
            Some("created") => Outcome::pass(),
            other => Outcome::fail(
                at_invocation(&created.0, "after create, state does not say created")
                    .expected("status \"created\"")
                    .actual(format!("{other:?}")),
            ),
        },
    );
    ctx.record(
        GROUP,
        Some("created"),
        "runtime.runtime.state-op.returns-state",
        state_outcome(&created.0, created.1.as_ref()),
    );
    ctx.record(
        GROUP,
        Some("created"),
        "runtime.runtime.state.id-required",
        id_outcome(&created.0, created.1.as_ref(), c.id()),
    );

    // create does not run the user program: the created process is not the probe yet, right
    // after create and again just before start (a runtime that runs it early has done so by
    // then).
    let right_after = created.3.and_then(|pid| runs_probe(pid, &rootfs));
    // A second create with the same id is refused and changes nothing.
    let (dup, _) = session
        .runtime()
        .create(c.id(), c.bundle(), None, None, PIPES)?;
    ctx.record(
        GROUP,
        Some("duplicate id"),
        "runtime.runtime.create.id-unique",
        must_error(&dup, "create with an id already in use"),
    );
    let after_dup = snapshot(&c)?;
    ctx.record(
        GROUP,
        Some("duplicate id"),
        "runtime.runtime.create.id-unique-no-container",
        unchanged((&created.2, &created.3), &after_dup, "duplicate create"),
    );

    let not_run = match (
        created.3,
        right_after,
        created.3.and_then(|pid| runs_probe(pid, &rootfs)),
    ) {
        (None, ..) => Outcome::skip("state gave no pid after create"),
        (Some(pid), Some(true), _) | (Some(pid), _, Some(true)) => Outcome::fail(
            at_invocation(
                &create,
                format!("after create, pid {pid} already executes the user program"),
            )
            .expected("the user program starts only with `start`")
            .actual(format!(
                "/proc/{pid}/exe is {}",
                crate::probe::PATH_IN_ROOTFS
            )),
        ),
        (Some(_), Some(false), Some(false)) => Outcome::pass(),
        (Some(pid), ..) => Outcome::skip(format!("/proc/{pid}/exe could not be read")),
    };
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.lifecycle.create-program-not-run",
        not_run.clone(),
    );
    ctx.record(GROUP, None, "runtime.runtime.create.args-deferred", not_run);

    // start runs the program.
    let start = c.start()?;
    let running = snapshot(&c)?;
    let started = match (start.ok(), running.2.as_deref(), running.3) {
        (false, ..) => Outcome::fail(at_invocation(&start, "start failed").expected("exit 0")),
        (true, Some("running"), Some(pid)) => {
            match wait_for_exec(pid, &rootfs, ctx.opts.exit_timeout) {
                Some(true) | None => Outcome::pass(),
                Some(false) => Outcome::fail(at_invocation(
                    &running.0,
                    format!("after start, pid {pid} does not execute process.args[0]"),
                )),
            }
        }
        (true, status, _) => Outcome::fail(
            at_invocation(&running.0, "after start, state does not say running")
                .expected("status \"running\" with a pid")
                .actual(format!("{status:?}")),
        ),
    };
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.start.run-program",
        started.clone(),
    );
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.lifecycle.run-program",
        started,
    );
    check_state_document(ctx, "running", &running.0);
    ctx.record(
        GROUP,
        Some("running"),
        "runtime.runtime.state-op.returns-state",
        state_outcome(&running.0, running.1.as_ref()),
    );

    // start again: refused, no change.
    let again = c.start()?;
    ctx.record(
        GROUP,
        Some("running"),
        "runtime.runtime.start.not-created-error",
        must_error(&again, "start of a running container"),
    );
    let after_again = snapshot(&c)?;
    ctx.record(
        GROUP,
        Some("running"),
        "runtime.runtime.start.not-created-no-effect",
        unchanged((&running.2, &running.3), &after_again, "start"),
    );

    // delete while running: refused, no change.
    let del = c.delete(false)?;
    ctx.record(
        GROUP,
        Some("running"),
        "runtime.runtime.delete.not-stopped-error",
        must_error(&del, "delete of a running container"),
    );
    let after_del = snapshot(&c)?;
    ctx.record(
        GROUP,
        Some("running"),
        "runtime.runtime.delete.not-stopped-no-effect",
        unchanged((&running.2, &running.3), &after_del, "delete"),
    );

    // kill delivers the signal. The probe is pid 1 of its pid namespace and has no handlers,
    // so only SIGKILL ends it: that is the signal sent.
    let kill = c.kill("KILL")?;
    let exited = c.wait_exit(ctx.opts.exit_timeout)?;
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.kill.send-signal",
        match (kill.ok(), exited) {
            (true, Some(_)) => Outcome::pass(),
            (false, _) => {
                Outcome::fail(at_invocation(&kill, "kill KILL failed").expected("exit 0"))
            }
            (true, None) => Outcome::fail(at_invocation(
                &kill,
                format!(
                    "the container process did not exit within {:?} of SIGKILL",
                    ctx.opts.exit_timeout
                ),
            )),
        },
    );
    let stopped = snapshot(&c)?;
    check_state_document(ctx, "stopped", &stopped.0);
    ctx.record(
        GROUP,
        Some("stopped"),
        "runtime.runtime.state-op.returns-state",
        state_outcome(&stopped.0, stopped.1.as_ref()),
    );

    // kill of a stopped container: refused, no change.
    let kill2 = c.kill("KILL")?;
    ctx.record(
        GROUP,
        Some("stopped"),
        "runtime.runtime.kill.wrong-state-error",
        must_error(&kill2, "kill of a stopped container"),
    );
    let after_kill2 = snapshot(&c)?;
    ctx.record(
        GROUP,
        Some("stopped"),
        "runtime.runtime.kill.wrong-state-no-effect",
        unchanged((&stopped.2, &stopped.3), &after_kill2, "kill"),
    );

    // delete removes it: state then errors, the state root holds nothing of it.
    let delete = c.delete(false)?;
    let (gone, _) = c.state()?;
    let leftover = session
        .state_root()
        .map(|root| root.join(c.id()))
        .filter(|p| p.exists());
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.delete.remove-resources",
        match (delete.ok(), gone.ok(), leftover) {
            (false, ..) => Outcome::fail(
                at_invocation(&delete, "delete of a stopped container failed").expected("exit 0"),
            ),
            (true, true, _) => {
                Outcome::fail(at_invocation(&gone, "state still answers after delete"))
            }
            (true, false, Some(p)) => Outcome::fail(at_invocation(
                &delete,
                format!(
                    "the runtime's state for the container remains at {}",
                    p.display()
                ),
            )),
            (true, false, None) => Outcome::pass(),
        },
    );
    ctx.record(
        GROUP,
        None,
        "runtime.runtime.state-op.unknown-id-error",
        must_error(&gone, "state of a deleted container"),
    );

    // An invalid id is refused and leaves nothing.
    let bad = format!("{}/../invalid id", c.id());
    let (inv, _) = session
        .runtime()
        .create(&bad, c.bundle(), None, None, PIPES)?;
    ctx.record(
        GROUP,
        Some("invalid id"),
        "runtime.runtime.create.id-invalid",
        must_error(&inv, "create with an id containing '/', '..' and a space"),
    );
    let probe_state = session.runtime().state(&bad)?;
    ctx.record(
        GROUP,
        Some("invalid id"),
        "runtime.runtime.create.id-invalid-no-container",
        if probe_state.ok() {
            let _ = session.runtime().delete(&bad, true);
            Outcome::fail(at_invocation(
                &probe_state,
                "a container with the invalid id exists",
            ))
        } else {
            Outcome::pass()
        },
    );

    // delete of a created (not stopped) container: refused, no change.
    let config = base_config(&["sleep"], &session.cgroups_path("created-delete"));
    let mut d = session.container("created-delete", &config, prepare_rootfs)?;
    let create = d.create(true)?;
    if create.ok() {
        let before = snapshot(&d)?;
        let del = d.delete(false)?;
        ctx.record(
            GROUP,
            Some("created"),
            "runtime.runtime.delete.not-stopped-error",
            must_error(&del, "delete of a created container"),
        );
        let after = snapshot(&d)?;
        ctx.record(
            GROUP,
            Some("created"),
            "runtime.runtime.delete.not-stopped-no-effect",
            unchanged((&before.2, &before.3), &after, "delete"),
        );
    }

    ctx.record(
        GROUP,
        None,
        "runtime.runtime.operations.supported",
        Outcome::pass_with_note("create, start, state, kill and delete all ran"),
    );
    Ok(())
}

fn state_outcome(inv: &Invocation, json: Option<&Value>) -> Outcome {
    match (inv.ok(), json) {
        (true, Some(Value::Object(_))) => Outcome::pass(),
        (true, _) => Outcome::fail(
            at_invocation(inv, "state did not print a JSON object")
                .actual(inv.stdout.chars().take(200).collect::<String>()),
        ),
        (false, _) => Outcome::fail(
            at_invocation(inv, "state failed for an existing container")
                .expected("exit 0 and the state JSON"),
        ),
    }
}

fn id_outcome(inv: &Invocation, json: Option<&Value>, id: &str) -> Outcome {
    match json.and_then(|j| j.get("id")).and_then(Value::as_str) {
        Some(got) if got == id => Outcome::pass(),
        Some(got) => Outcome::fail(
            at_invocation(inv, "state names another id")
                .expected(id)
                .actual(got),
        ),
        None => Outcome::skip("no state JSON to read the id from"),
    }
}
