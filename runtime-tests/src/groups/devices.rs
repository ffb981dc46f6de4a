//! Devices (config-linux.md, "Devices", "Default Devices" and "Device allowed list"): the
//! nodes `linux.devices` asks for, the default devices beside them, and the device cgroup.
//!
//! - One container lists a character device in /dev with a `fileMode`, `uid` and `gid`, a
//!   fifo, and a character device outside /dev (a path may be anywhere); the probe stats each
//!   one (type, major:minor, permission bits, owner). The default devices must still be there
//!   with their numbers. Its `linux.resources.devices` denies everything first and then allows
//!   `c 42:42 rw`: read from the v1 `devices.list` after `create`, the allow rule must have
//!   survived the deny-all that comes before it (rules apply in order). On cgroup v2 the device
//!   controller is an eBPF program, which the cgroupfs does not show: skipped with that reason.
//! - One container lists a device at a path where the rootfs already has a regular file: the
//!   runtime must refuse to create it.

use std::collections::BTreeMap;

use oci_certify_core::check::{Failure, Location, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::cgroupfs::Layout;
use crate::driver::Container;
use crate::engine::{at_invocation, harness, inside, must_error, no_report, set, Ctx};
use crate::probe::{FileKind, Observation};

const GROUP: &str = "devices";
const APPLY: &str = "runtime.runtime.create.apply-config";
const AVAILABLE: &str = "runtime.config-linux.devices.available";
const CONFLICT: &str = "runtime.config-linux.devices.path-conflict-error";
const IN_ORDER: &str = "runtime.config-linux.device-cgroup.apply-in-order";

/// The probe tag of the container that reports (`observe devices`).
pub const TAG: &str = "devices";

/// The default devices: requirement, path, major, minor.
const DEFAULTS: [(&str, &str, u64, u64); 6] = [
    (
        "runtime.config-linux.default-devices.dev-null",
        "/dev/null",
        1,
        3,
    ),
    (
        "runtime.config-linux.default-devices.dev-zero",
        "/dev/zero",
        1,
        5,
    ),
    (
        "runtime.config-linux.default-devices.dev-full",
        "/dev/full",
        1,
        7,
    ),
    (
        "runtime.config-linux.default-devices.dev-random",
        "/dev/random",
        1,
        8,
    ),
    (
        "runtime.config-linux.default-devices.dev-urandom",
        "/dev/urandom",
        1,
        9,
    ),
    (
        "runtime.config-linux.default-devices.dev-tty",
        "/dev/tty",
        5,
        0,
    ),
];

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    APPLY,
    AVAILABLE,
    CONFLICT,
    IN_ORDER,
    "runtime.config-linux.default-devices.dev-null",
    "runtime.config-linux.default-devices.dev-zero",
    "runtime.config-linux.default-devices.dev-full",
    "runtime.config-linux.default-devices.dev-random",
    "runtime.config-linux.default-devices.dev-urandom",
    "runtime.config-linux.default-devices.dev-tty",
];

/// A device the config lists, and what the probe must see.
struct Wanted {
    path: &'static str,
    kind: FileKind,
    numbers: Option<(u64, u64)>,
    mode: u32,
    uid: u32,
    gid: u32,
}

const WANTED: [Wanted; 3] = [
    // /dev/zero's numbers under another name: the node exists on every host.
    Wanted {
        path: "/dev/oci-certify-zero",
        kind: FileKind::Char,
        numbers: Some((1, 5)),
        mode: 0o640,
        uid: 1000,
        gid: 2000,
    },
    Wanted {
        path: "/dev/oci-certify-fifo",
        kind: FileKind::Fifo,
        numbers: None,
        mode: 0o600,
        uid: 0,
        gid: 0,
    },
    // Outside /dev, on the (read-only) root.
    Wanted {
        path: "/oci-certify-null",
        kind: FileKind::Char,
        numbers: Some((1, 3)),
        mode: 0o666,
        uid: 0,
        gid: 0,
    },
];

/// The device cgroup rule this group allows after denying everything.
pub const ALLOWED_RULE: &str = "c 42:42 rw";

fn device_json(w: &Wanted) -> Value {
    let mut d = json!({
        "path": w.path,
        "type": match w.kind { FileKind::Fifo => "p", FileKind::Block => "b", _ => "c" },
        "fileMode": w.mode,
        "uid": w.uid,
        "gid": w.gid,
    });
    if let Some((major, minor)) = w.numbers {
        d["major"] = json!(major);
        d["minor"] = json!(minor);
    }
    d
}

fn config(cgroups_path: &str) -> Value {
    let mut args = vec!["observe", TAG];
    for w in &WANTED {
        args.push("--path");
        args.push(w.path);
    }
    let mut c = base_config(&args, cgroups_path);
    set(
        &mut c,
        "/linux/devices",
        Value::Array(WANTED.iter().map(device_json).collect()),
    );
    set(
        &mut c,
        "/linux/resources/devices",
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 42, "minor": 42, "access": "rw"}
        ]),
    );
    c
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    listed(ctx);
    conflict(ctx);
    ctx.runner.finish_group(GROUP);
}

fn listed(ctx: &Ctx<'_, '_>) {
    let path = ctx.session.cgroups_path("devices");
    let config = config(&path);
    let ids: Vec<&str> = IDS.iter().copied().filter(|i| *i != CONFLICT).collect();
    let mut container = match ctx.session.container("devices", &config, prepare_rootfs) {
        Ok(c) => c,
        Err(e) => return ctx.record_all(GROUP, &ids, &harness(&e)),
    };
    let run = (|| {
        let create = container.create(true)?;
        if !create.ok() {
            return Ok((
                create.clone(),
                create,
                None,
                Err("create failed".to_string()),
            ));
        }
        let list = device_cgroup(ctx, &container, &path);
        let start = container.start()?;
        if !start.ok() {
            return Ok((create, start, Some(list), Err("start failed".to_string())));
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
        Ok::<_, crate::error::DriverError>((create, start, Some(list), parsed))
    })();
    match run {
        Err(e) => ctx.record_all(GROUP, &ids, &harness(&e)),
        Ok((create, start, list, obs)) => {
            if let Some(list) = list {
                judge_cgroup(ctx, list);
            } else {
                ctx.record(
                    GROUP,
                    None,
                    IN_ORDER,
                    no_report("create failed", &create, &start),
                );
            }
            match obs {
                Err(why) => {
                    let outcome = no_report(&why, &create, &start);
                    for id in ids.iter().filter(|i| **i != IN_ORDER) {
                        ctx.record(GROUP, None, id, outcome.clone());
                    }
                }
                Ok(obs) => judge(ctx, &obs),
            }
        }
    }
}

/// The container's v1 `devices.list`, read from outside after `create`, or why it cannot be.
fn device_cgroup(
    ctx: &Ctx<'_, '_>,
    container: &Container<'_>,
    path: &str,
) -> Result<(std::path::PathBuf, String), Outcome> {
    match Layout::from_mode(&ctx.session.host().cgroup) {
        None => Err(Outcome::skip(
            "no cgroup filesystem is mounted on this host",
        )),
        Some(Layout::V2 { .. }) => Err(Outcome::skip(
            "on cgroup v2 the device controller is an eBPF program attached to the cgroup; the \
             cgroupfs does not show its rules",
        )),
        Some(layout) => {
            // The process's own devices cgroup (where the rules must be), else the configured.
            let at = container
                .pid()
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok())
                .and_then(|t| layout.membership(&t, "devices"))
                .unwrap_or_else(|| path.to_string());
            let Some(dir) = layout.dir("devices", &at) else {
                return Err(Outcome::skip("the host has no v1 devices controller"));
            };
            let file = dir.join("devices.list");
            std::fs::read_to_string(&file)
                .map(|text| (file.clone(), text))
                .map_err(|e| {
                    Outcome::fail(
                        Failure::new(format!("cannot read {}: {e}", file.display())).at(
                            Location::Path {
                                path: file.display().to_string(),
                            },
                        ),
                    )
                })
        }
    }
}

fn judge_cgroup(ctx: &Ctx<'_, '_>, list: Result<(std::path::PathBuf, String), Outcome>) {
    let outcome = match list {
        Err(o) => o,
        Ok((file, text)) => {
            let rules: Vec<&str> = text.lines().map(str::trim).collect();
            if rules.contains(&ALLOWED_RULE) && !rules.contains(&"a *:* rwm") {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(
                        "the device cgroup does not reflect deny-all followed by an allow rule",
                    )
                    .expected(format!("{ALLOWED_RULE:?} listed, and no \"a *:* rwm\""))
                    .actual(text.trim().to_string())
                    .at(Location::Path {
                        path: file.display().to_string(),
                    }),
                )
            }
        }
    };
    ctx.record(GROUP, Some(ALLOWED_RULE), IN_ORDER, outcome);
}

fn judge(ctx: &Ctx<'_, '_>, obs: &Observation) {
    for w in &WANTED {
        let got = obs.path_report(w.path);
        let shown = |kind: Option<FileKind>, numbers: Option<(u64, u64)>| match numbers {
            Some((a, b)) => format!("{kind:?} {a}:{b}"),
            None => format!("{kind:?}"),
        };
        let want = shown(Some(w.kind), w.numbers);
        let outcome = match got {
            None => Outcome::error(format!("the probe did not report {}", w.path)),
            Some(r) if !r.exists => Outcome::fail(
                Failure::new(format!("{} is missing in the container", w.path))
                    .expected(want.clone())
                    .actual(format!("stat errno {:?}", r.stat_errno))
                    .at(inside(w.path)),
            ),
            Some(r) => {
                let numbers = r.major.zip(r.minor).filter(|_| w.numbers.is_some());
                let actual = shown(r.kind, numbers);
                if actual == want {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        Failure::new(format!("{} is not the device the config lists", w.path))
                            .expected(want.clone())
                            .actual(actual)
                            .at(inside(w.path)),
                    )
                }
            }
        };
        ctx.record(GROUP, Some(w.path), AVAILABLE, outcome);
        let Some(r) = got.filter(|r| r.exists) else {
            continue;
        };
        let fields: BTreeMap<&str, (String, String)> = [
            (
                "fileMode",
                (
                    format!("{:04o}", w.mode),
                    r.mode.clone().unwrap_or_default(),
                ),
            ),
            (
                "uid",
                (
                    w.uid.to_string(),
                    r.uid.map(|u| u.to_string()).unwrap_or_default(),
                ),
            ),
            (
                "gid",
                (
                    w.gid.to_string(),
                    r.gid.map(|g| g.to_string()).unwrap_or_default(),
                ),
            ),
        ]
        .into();
        for (field, (want, actual)) in fields {
            let target = format!("{} {field}", w.path);
            ctx.record(
                GROUP,
                Some(&target),
                APPLY,
                if want == actual {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        Failure::new(format!("linux.devices {target} differs in the container"))
                            .expected(want)
                            .actual(actual)
                            .at(inside(w.path)),
                    )
                },
            );
        }
    }
    for (id, path, major, minor) in DEFAULTS {
        let want = format!("{:?} {major}:{minor}", FileKind::Char);
        let got = obs
            .dev_entry(path)
            .map(|e| {
                format!(
                    "{:?} {}:{}",
                    e.kind,
                    e.major.unwrap_or(0),
                    e.minor.unwrap_or(0)
                )
            })
            .unwrap_or_else(|| "absent".into());
        let target = format!("{path} beside linux.devices");
        ctx.record(
            GROUP,
            Some(&target),
            id,
            if got == want {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!("{path} is not the default device"))
                        .expected(want)
                        .actual(got)
                        .at(inside(path)),
                )
            },
        );
    }
}

/// A regular file of the rootfs where the config wants a device node.
const CONFLICT_PATH: &str = "/oci-certify-conflict";

fn conflict(ctx: &Ctx<'_, '_>) {
    let mut config = base_config(
        &["exit", "0"],
        &ctx.session.cgroups_path("devices-conflict"),
    );
    set(
        &mut config,
        "/linux/devices",
        json!([{"path": CONFLICT_PATH, "type": "c", "major": 1, "minor": 3}]),
    );
    let prepare = |rootfs: &std::path::Path| {
        prepare_rootfs(rootfs)?;
        std::fs::write(
            rootfs.join(CONFLICT_PATH.trim_start_matches('/')),
            b"a regular file, not a device\n",
        )
    };
    let outcome = match ctx
        .session
        .container("devices-conflict", &config, prepare)
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
        Ok(inv) => match must_error(&inv, "create with a device over an existing regular file") {
            o if o.is_fail() => Outcome::fail(
                at_invocation(
                    &inv,
                    format!(
                        "create succeeded although {CONFLICT_PATH} is a regular file in the \
                         rootfs and linux.devices wants char 1:3 there"
                    ),
                )
                .expected("an error")
                .actual("exit 0"),
            ),
            o => o,
        },
    };
    ctx.record(GROUP, Some(CONFLICT_PATH), CONFLICT, outcome);
}
