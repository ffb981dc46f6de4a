//! Namespaces (config-linux.md#namespaces): each of the eight types in a container of its own
//! (so one type a runtime cannot give does not hide the others), the user namespace with its
//! ID mappings, and joining namespaces by path.
//!
//! A type the runtime's `features` does not list is skipped with that reason; a runtime
//! without a `features` command is tried on every type.
//!
//! Joining: a `sleep` container holds fresh network, UTS and IPC namespaces; a second container
//! names them by path (`/proc/<pid>/ns/...`) and must run in exactly those (same links as
//! the holder's, read on the host).

use oci_certify_core::check::{Failure, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::engine::{at_invocation, harness, inside, no_report, observe, Ctx};
use crate::error::DriverError;
use crate::probe::Observation;

const GROUP: &str = "namespaces";

/// A namespace type: config name, /proc/self/ns name.
const TYPES: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

/// The mapping of the user-namespace container.
const HOST_ID: u64 = 200_000;
const SIZE: u64 = 65_536;

const JOIN: &str = "runtime.config-linux.namespaces.path-join";

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    "runtime.config-linux.namespaces.pid-supported",
    "runtime.config-linux.namespaces.network-supported",
    "runtime.config-linux.namespaces.mount-supported",
    "runtime.config-linux.namespaces.ipc-supported",
    "runtime.config-linux.namespaces.uts-supported",
    "runtime.config-linux.namespaces.user-supported",
    "runtime.config-linux.namespaces.cgroup-supported",
    "runtime.config-linux.namespaces.time-supported",
    JOIN,
    RECOGNIZED,
];

const RECOGNIZED: &str = "runtime.features-linux.namespaces.recognized";

fn supported_id(kind: &str) -> String {
    format!("runtime.config-linux.namespaces.{kind}-supported")
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    std::thread::scope(|scope| {
        let handles: Vec<_> = TYPES
            .iter()
            .map(|(kind, proc_name)| scope.spawn(move || one_type(ctx, kind, proc_name)))
            .collect();
        if let Err(e) = join(ctx) {
            ctx.record(GROUP, None, JOIN, harness(&e));
        }
        for h in handles {
            if h.join().is_err() {
                ctx.runner
                    .diagnostic("harness error: a namespace check panicked");
            }
        }
    });
    ctx.runner.finish_group(GROUP);
}

/// The base config with only `kind` as a new namespace besides the mount namespace the
/// rootfs needs (and, for `user`, its mappings).
fn config_for(ctx: &Ctx<'_, '_>, name: &str, kind: &str) -> Value {
    let mut c = base_config(&["report"], &ctx.session.cgroups_path(name));
    let mut ns = vec![json!({"type": "mount"})];
    if kind != "mount" {
        ns.push(json!({"type": kind}));
    }
    if kind == "pid" || kind == "user" {
        // /proc of a new pid namespace; a user namespace's /proc needs its own pid namespace.
        ns.push(json!({"type": "pid"}));
    }
    ns.dedup();
    c["linux"]["namespaces"] = Value::Array(ns);
    if kind != "uts" {
        // Without its own UTS namespace the container must not set a hostname.
        if let Some(o) = c.as_object_mut() {
            o.remove("hostname");
        }
    }
    if kind == "user" {
        let map = json!([{"containerID": 0, "hostID": HOST_ID, "size": SIZE}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        // sysfs cannot be mounted from a user namespace that does not own the network
        // namespace; the container keeps the host's network namespace here.
        if let Some(m) = c["mounts"].as_array_mut() {
            m.retain(|m| m["type"] != "sysfs" && m["type"] != "mqueue");
        }
    }
    c
}

fn one_type(ctx: &Ctx<'_, '_>, kind: &str, proc_name: &str) {
    let id = supported_id(kind);
    if ctx.claims("/linux/namespaces", kind) == Some(false) {
        ctx.record(
            GROUP,
            None,
            &id,
            Outcome::skip(format!(
                "the runtime's features does not list the {kind} namespace"
            )),
        );
        return;
    }
    let name = format!("ns-{kind}");
    let config = config_for(ctx, &name, kind);
    let result = ctx
        .session
        .container(&name, &config, prepare_rootfs)
        .and_then(|mut c| observe(ctx, &mut c));
    let outcome = match &result {
        Err(e) => harness(e),
        Ok((create, start, Err(why))) => no_report(why, create, start),
        Ok((_, _, Ok(obs))) => judge_type(kind, proc_name, obs),
    };
    // A type the runtime's features lists must be accepted in linux.namespaces.
    if ctx.claims("/linux/namespaces", kind) == Some(true) {
        let recognized = match &result {
            Err(e) => harness(e),
            Ok((create, _, _)) if !create.ok() => Outcome::fail(
                at_invocation(
                    create,
                    format!("features lists the {kind} namespace, but create refuses it"),
                )
                .expected("exit 0"),
            ),
            Ok(_) => Outcome::pass(),
        };
        ctx.record(GROUP, Some(kind), RECOGNIZED, recognized);
    }
    ctx.record(GROUP, None, &id, outcome);
}

fn host_ns(proc_name: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/self/ns/{proc_name}"))
        .ok()
        .map(|p| p.display().to_string())
}

fn judge_type(kind: &str, proc_name: &str, obs: &Observation) -> Outcome {
    let inside_link = obs.namespaces.get(proc_name).cloned().flatten();
    let host = host_ns(proc_name);
    let (Some(inner), Some(host)) = (inside_link, host) else {
        return Outcome::skip(format!(
            "the {proc_name} namespace link could not be read (kernel without it?)"
        ));
    };
    if inner == host {
        return Outcome::fail(
            Failure::new(format!("the container runs in the host's {kind} namespace"))
                .expected(format!("a new {kind} namespace"))
                .actual(format!("{inner} (the host's)"))
                .at(inside(&format!("/proc/self/ns/{proc_name}"))),
        );
    }
    if kind == "user" {
        let want = format!("0 {HOST_ID} {SIZE}");
        let norm = |m: &Option<String>| {
            m.as_deref()
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        for (what, map) in [("uid_map", &obs.uid_map), ("gid_map", &obs.gid_map)] {
            if norm(map) != want {
                return Outcome::fail(
                    Failure::new(format!(
                        "the user namespace's {what} is not the configured mapping"
                    ))
                    .expected(want)
                    .actual(norm(map))
                    .at(inside(&format!("/proc/self/{what}"))),
                );
            }
        }
    }
    Outcome::pass()
}

/// Joins the network, UTS and IPC namespaces of a holder container by path.
fn join(ctx: &Ctx<'_, '_>) -> Result<(), DriverError> {
    let holder_cfg = base_config(&["sleep"], &ctx.session.cgroups_path("ns-holder"));
    let mut holder = ctx
        .session
        .container("ns-holder", &holder_cfg, prepare_rootfs)?;
    let create = holder.create(true)?;
    let Some(pid) = holder.pid().filter(|_| create.ok()) else {
        ctx.record(
            GROUP,
            None,
            JOIN,
            Outcome::fail(
                at_invocation(&create, "the namespace holder could not be created")
                    .expected("exit 0"),
            ),
        );
        return Ok(());
    };
    let kinds = [("network", "net"), ("uts", "uts"), ("ipc", "ipc")];
    let mut cfg = base_config(&["report"], &ctx.session.cgroups_path("ns-joiner"));
    if let Some(ns) = cfg["linux"]["namespaces"].as_array_mut() {
        for n in ns.iter_mut() {
            if let Some((_, p)) = kinds.iter().find(|(k, _)| n["type"] == *k) {
                n["path"] = json!(format!("/proc/{pid}/ns/{p}"));
            }
        }
    }
    // The joined UTS namespace is the holder's: setting a hostname would change it.
    if let Some(o) = cfg.as_object_mut() {
        o.remove("hostname");
    }
    let want: Vec<(&str, Option<String>)> = kinds
        .iter()
        .map(|(_, p)| {
            (
                *p,
                std::fs::read_link(format!("/proc/{pid}/ns/{p}"))
                    .ok()
                    .map(|l| l.display().to_string()),
            )
        })
        .collect();
    let result = ctx
        .session
        .container("ns-joiner", &cfg, prepare_rootfs)
        .and_then(|mut c| observe(ctx, &mut c));
    let _ = holder.kill("KILL");
    let _ = holder.wait_exit(ctx.opts.exit_timeout);
    let _ = holder.delete(true);
    match result? {
        (create, start, Err(why)) => {
            ctx.record(GROUP, None, JOIN, no_report(&why, &create, &start));
        }
        (_, _, Ok(obs)) => {
            for (p, link) in want {
                let got = obs.namespaces.get(p).cloned().flatten();
                let outcome = match (&link, &got) {
                    (Some(l), Some(g)) if l == g => Outcome::pass(),
                    (None, _) => Outcome::skip(format!(
                        "the holder's {p} namespace could not be read on the host"
                    )),
                    _ => Outcome::fail(
                        Failure::new(format!(
                            "the container did not join the {p} namespace at its path"
                        ))
                        .expected(format!("{link:?} (the holder's, /proc/{pid}/ns/{p})"))
                        .actual(format!("{got:?}"))
                        .at(inside(&format!("/proc/self/ns/{p}"))),
                    ),
                };
                ctx.record(GROUP, Some(p), JOIN, outcome);
            }
        }
    }
    Ok(())
}
