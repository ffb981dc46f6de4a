//! Control groups (config-linux.md, "Control groups" and "cgroupsPath"): where the runtime puts
//! the container, and whether the `linux.resources` it asks for are in force, read back from the
//! host's cgroupfs ([`crate::cgroupfs`]: v1 per-controller hierarchies, or the v2 unified one).
//!
//! - One container with an absolute `cgroupsPath` and memory, cpu, cpuset and pids settings:
//!   after `create` (its init is alive, blocked before exec) `/proc/<pid>/cgroup` must name that
//!   path in every hierarchy, relative to the hierarchy's root, the directory must exist, and
//!   each setting must be in the interface file of the process's cgroup. The probe's own
//!   `/proc/self/cgroup` is the view from inside. After `delete`, the cgroup must be gone.
//! - Two containers, one after the other, with the same relative `cgroupsPath`: where it lands
//!   is the runtime's choice, but both must land in the same place.
//!
//! A controller or kernel feature the host lacks (not mounted, swap accounting off, no CFS
//! bandwidth control) is left out of the config and skipped with the reason. On v2, `cpu.shares`
//! becomes `cpu.weight` by a conversion each runtime defines, so it is not graded there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_certify_core::check::{Failure, Location, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::cgroupfs::{parse_list, CgValue, Layout, Setting, Version};
use crate::engine::{at_invocation, harness, inside, set, Ctx};
use crate::probe::Observation;

const GROUP: &str = "cgroups";
const APPLY: &str = "runtime.runtime.create.apply-config";
const FROM_MOUNT: &str = "runtime.config-linux.cgroups-path.absolute-from-mount";
const CONSISTENT: &str = "runtime.config-linux.cgroups-path.consistent";
const RELATIVE: &str = "runtime.config-linux.cgroups-path.relative-location";
const CREATED: &str = "runtime.runtime.lifecycle.create-resources";
const REMOVED: &str = "runtime.runtime.delete.remove-resources";
const PIDS_ZERO: &str = "runtime.config-linux.pids.zero-limit";

/// The probe tag of this group's containers (`observe cgroups`), which the mutating wrapper
/// keys on.
pub const TAG: &str = "cgroups";
/// The tag of the two relative-path containers.
pub const TAG_RELATIVE: &str = "cgroups-relative";

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    APPLY, FROM_MOUNT, CONSISTENT, RELATIVE, CREATED, REMOVED, PIDS_ZERO,
];
/// The tag of the container whose pids limit is 0.
pub const TAG_PIDS_ZERO: &str = "cgroups-pids-zero";

const MIB: i64 = 1024 * 1024;
const MEMORY_LIMIT: i64 = 64 * MIB;
const MEMORY_RESERVATION: i64 = 32 * MIB;
const MEMORY_SWAP: i64 = 128 * MIB;
const CPU_SHARES: i64 = 512;
const CPU_QUOTA: i64 = 50_000;
const CPU_PERIOD: i64 = 100_000;
const PIDS_LIMIT: i64 = 32;

/// What the config asks for, and what the host cannot do (setting → reason).
struct Plan {
    config: Value,
    wanted: Vec<(Setting, Value)>,
    unsupported: Vec<(Setting, String)>,
}

fn first_of(list_file: &Path) -> Option<u32> {
    std::fs::read_to_string(list_file)
        .ok()
        .and_then(|t| parse_list(&t))
        .and_then(|s| s.into_iter().next())
}

fn plan(layout: &Layout, cgroups_path: &str) -> Plan {
    let mut config = base_config(&["observe", TAG], cgroups_path);
    // The first CPU and memory node the host's root cpuset offers: valid on any machine.
    let root = layout.root("cpuset").map(Path::to_path_buf);
    let effective = |v1: &str, v2: &str| {
        root.as_ref().and_then(|r| {
            first_of(&r.join(v1))
                .or_else(|| first_of(&r.join(v2)))
                .or_else(|| first_of(&r.join(v1.replace("cpuset.", "cpuset.effective_"))))
        })
    };
    let cpu = effective("cpuset.cpus", "cpuset.cpus.effective");
    let mem = effective("cpuset.mems", "cpuset.mems.effective");
    let mut wanted = Vec::new();
    let mut unsupported = Vec::new();
    let mut want = |setting: Setting, value: Value, config: &mut Value| {
        let why = match layout.root(setting.controller()) {
            None => Some(format!(
                "the host has no {} controller ({} cgroups)",
                setting.controller(),
                if layout.version() == Version::V1 {
                    "v1"
                } else {
                    "v2"
                }
            )),
            Some(_) if !layout.supports(setting) => Some(format!(
                "the kernel offers no {} file (feature not built in or switched off)",
                setting.file(layout.version())
            )),
            Some(_) => None,
        };
        match why {
            Some(why) => unsupported.push((setting, why)),
            None => {
                let pointer = format!("/{}", setting.property().replace('.', "/"));
                set(config, &pointer, value.clone());
                wanted.push((setting, value));
            }
        }
    };
    want(Setting::MemoryLimit, json!(MEMORY_LIMIT), &mut config);
    want(
        Setting::MemoryReservation,
        json!(MEMORY_RESERVATION),
        &mut config,
    );
    want(Setting::MemorySwap, json!(MEMORY_SWAP), &mut config);
    want(Setting::CpuShares, json!(CPU_SHARES), &mut config);
    want(Setting::CpuQuota, json!(CPU_QUOTA), &mut config);
    want(Setting::CpuPeriod, json!(CPU_PERIOD), &mut config);
    want(Setting::PidsLimit, json!(PIDS_LIMIT), &mut config);
    if let Some(c) = cpu {
        want(Setting::Cpus, json!(c.to_string()), &mut config);
    }
    if let Some(m) = mem {
        want(Setting::Mems, json!(m.to_string()), &mut config);
    }
    if cpu.is_none() {
        unsupported.push((Setting::Cpus, "no cpuset CPU list on the host".into()));
    }
    if mem.is_none() {
        unsupported.push((
            Setting::Mems,
            "no cpuset memory-node list on the host".into(),
        ));
    }
    Plan {
        config,
        wanted,
        unsupported,
    }
}

/// The value the interface file must hold for `setting` configured as `value`, or the reason
/// the spec leaves it to the runtime.
fn expected(version: Version, setting: Setting, value: &Value) -> Result<CgValue, String> {
    let n = value.as_i64();
    match (version, setting) {
        (_, Setting::Cpus | Setting::Mems) => value
            .as_str()
            .and_then(parse_list)
            .map(CgValue::List)
            .ok_or_else(|| format!("not a list: {value}")),
        (Version::V2, Setting::CpuShares) => {
            Err("on cgroup v2, shares become cpu.weight by a conversion the runtime defines".into())
        }
        // v2's memory.swap.max holds swap alone; the config's swap is memory plus swap.
        (Version::V2, Setting::MemorySwap) => Ok(CgValue::Num(
            n.unwrap_or(0) - MEMORY_LIMIT.min(n.unwrap_or(0)),
        )),
        _ => n
            .map(|n| if n < 0 { CgValue::Max } else { CgValue::Num(n) })
            .ok_or_else(|| format!("not a number: {value}")),
    }
}

fn at_path(path: &Path) -> Location {
    Location::Path {
        path: path.display().to_string(),
    }
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    let Some(layout) = Layout::from_mode(&ctx.session.host().cgroup) else {
        ctx.record_all(
            GROUP,
            IDS,
            &Outcome::skip("no cgroup filesystem is mounted on this host"),
        );
        ctx.runner.finish_group(GROUP);
        return;
    };
    absolute(ctx, &layout);
    relative(ctx, &layout);
    pids_zero(ctx, &layout);
    ctx.runner.finish_group(GROUP);
}

/// The hierarchies (with a representative controller each) whose membership is checked.
fn checked(layout: &Layout) -> Vec<&'static str> {
    layout.checked_controllers()
}

fn absolute(ctx: &Ctx<'_, '_>, layout: &Layout) {
    let path = ctx.session.cgroups_path("cgroups");
    let plan = plan(layout, &path);
    let mut c = match ctx
        .session
        .container("cgroups", &plan.config, prepare_rootfs)
    {
        Ok(c) => c,
        Err(e) => {
            return ctx.record_all(GROUP, &[APPLY, FROM_MOUNT, CREATED, REMOVED], &harness(&e))
        }
    };
    let create = match c.create(true) {
        Ok(inv) => inv,
        Err(e) => {
            return ctx.record_all(GROUP, &[APPLY, FROM_MOUNT, CREATED, REMOVED], &harness(&e))
        }
    };
    if !create.ok() {
        let outcome = Outcome::fail(
            at_invocation(&create, "create failed for a config with linux.resources")
                .actual(create.stderr.trim().to_string()),
        );
        return ctx.record_all(GROUP, &[APPLY, FROM_MOUNT, CREATED, REMOVED], &outcome);
    }
    // From outside, while the init waits before exec.
    let proc_cgroup = c
        .pid()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok());
    let Some(proc_cgroup) = proc_cgroup else {
        let outcome = Outcome::error("the container's init process could not be read from /proc");
        return ctx.record_all(GROUP, &[APPLY, FROM_MOUNT, CREATED, REMOVED], &outcome);
    };
    let mut actual_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for controller in checked(layout) {
        let got = layout.membership(&proc_cgroup, controller);
        ctx.record(
            GROUP,
            Some(controller),
            FROM_MOUNT,
            if got.as_deref() == Some(path.as_str()) {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!(
                        "the container's process is not in {path} of the {controller} hierarchy"
                    ))
                    .expected(format!("{path} (cgroupsPath from the hierarchy's root)"))
                    .actual(format!("{got:?}, from /proc/<pid>/cgroup:\n{proc_cgroup}"))
                    .at(Location::Path {
                        path: "/proc/<container pid>/cgroup".into(),
                    }),
                )
            },
        );
        if let Some(dir) = got.as_deref().and_then(|g| layout.dir(controller, g)) {
            actual_dirs.insert(dir);
        }
    }
    // The directory the config names.
    if let Some(dir) = layout
        .dir("memory", &path)
        .or_else(|| layout.dir("pids", &path))
    {
        ctx.record(
            GROUP,
            Some("cgroup directory"),
            CREATED,
            if dir.is_dir() {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new("create did not make the container's cgroup")
                        .expected(format!("{} exists", dir.display()))
                        .actual("no such directory")
                        .at(at_path(&dir)),
                )
            },
        );
    }
    // The settings, in the process's actual cgroup (so a misplaced cgroup is one finding, not
    // one per setting).
    let actual_path = layout
        .membership(&proc_cgroup, "memory")
        .unwrap_or_else(|| path.clone());
    for (setting, value) in &plan.wanted {
        let target = setting.property();
        let outcome = match (
            expected(layout.version(), *setting, value),
            layout.read(*setting, &actual_path),
        ) {
            (Err(why), Ok(reading)) => Outcome::skip(format!("{why}; read {reading}")),
            (Err(why), Err(e)) => Outcome::skip(format!("{why}; {e}")),
            (Ok(want), Ok(reading)) if reading.value == want => Outcome::pass(),
            (Ok(want), Ok(reading)) => Outcome::fail(
                Failure::new(format!(
                    "{target} is not in force in the container's cgroup"
                ))
                .expected(format!("{} = {want}", reading.file.display()))
                .actual(reading.to_string())
                .at(at_path(&reading.file)),
            ),
            (Ok(want), Err(e)) => Outcome::fail(
                Failure::new(format!("{target} could not be read back: {e}"))
                    .expected(want.to_string()),
            ),
        };
        ctx.record(GROUP, Some(target), APPLY, outcome);
    }
    for (setting, why) in &plan.unsupported {
        ctx.record(
            GROUP,
            Some(setting.property()),
            APPLY,
            Outcome::skip(format!("not configured: {why}")),
        );
    }
    // From inside.
    let report = c.start().and_then(|start| {
        let out = c.output_to_eof(ctx.opts.exit_timeout)?;
        let _ = c.wait_exit(ctx.opts.exit_timeout);
        Ok((start, out))
    });
    let outcome = match &report {
        Err(e) => harness(e),
        Ok((start, _)) if !start.ok() => Outcome::fail(at_invocation(start, "start failed")),
        Ok((_, out)) => match Observation::parse(&out.stdout) {
            Err(e) => Outcome::fail(Failure::new(format!("no report from inside: {e}"))),
            Ok(obs) => {
                let got = obs
                    .cgroup
                    .as_deref()
                    .and_then(|t| layout.membership(t, "memory"));
                if got.as_deref() == Some(path.as_str()) {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        Failure::new("inside, the process is not in the configured cgroup")
                            .expected(path.clone())
                            .actual(format!("{got:?} in {:?}", obs.cgroup))
                            .at(inside("/proc/self/cgroup")),
                    )
                }
            }
        },
    };
    ctx.record(GROUP, Some("inside the container"), FROM_MOUNT, outcome);
    // After delete, no cgroup of the container may remain.
    let delete = c.delete(true);
    let mut dirs: BTreeSet<PathBuf> = actual_dirs;
    for controller in checked(layout) {
        if let Some(d) = layout.dir(controller, &path) {
            dirs.insert(d);
        }
    }
    ctx.record(
        GROUP,
        Some("cgroup"),
        REMOVED,
        match delete {
            Err(e) => harness(&e),
            Ok(inv) if !inv.ok() => Outcome::fail(at_invocation(&inv, "delete --force failed")),
            Ok(inv) => {
                let left: Vec<PathBuf> = dirs.into_iter().filter(|d| d.is_dir()).collect();
                if left.is_empty() {
                    Outcome::pass()
                } else {
                    // Remove them so the session stays clean; the finding keeps the evidence.
                    for d in &left {
                        let _ = std::fs::remove_dir(d);
                    }
                    Outcome::fail(
                        at_invocation(&inv, "the container's cgroups remain after delete")
                            .expected("no cgroup directory of the container")
                            .actual(
                                left.iter()
                                    .map(|d| d.display().to_string())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ),
                    )
                }
            }
        },
    );
}

/// Creates a container with the relative `cgroupsPath` `rel`, returns where its process
/// landed (memory hierarchy, or the unified one) and the raw /proc/<pid>/cgroup.
fn land(
    ctx: &Ctx<'_, '_>,
    layout: &Layout,
    name: &str,
    rel: &str,
) -> Result<(String, String), Outcome> {
    let config = base_config(&["observe", TAG_RELATIVE], rel);
    let mut c = ctx
        .session
        .container(name, &config, prepare_rootfs)
        .map_err(|e| harness(&e))?;
    let create = c.create(true).map_err(|e| harness(&e))?;
    if !create.ok() {
        return Err(Outcome::fail(
            at_invocation(&create, "create failed with a relative cgroupsPath")
                .actual(create.stderr.trim().to_string()),
        ));
    }
    let text = c
        .pid()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok())
        .unwrap_or_default();
    let _ = c.kill("KILL");
    let _ = c.wait_exit(ctx.opts.exit_timeout);
    let _ = c.delete(true);
    // Leftovers of this relative path (and its parents the runtime made) go now: they are
    // not under the session's cgroups parent, where the audit expects them.
    remove_relative(ctx, &text);
    match layout.membership(&text, "memory") {
        Some(p) => Ok((p, text)),
        None => Err(Outcome::error(format!(
            "no memory cgroup in /proc/<pid>/cgroup:\n{text}"
        ))),
    }
}

/// Removes the landing places of the relative path (`.../<run id>/relative*`) and the parent
/// named after the run id that the runtime made for them, in every hierarchy, ignoring what is
/// already gone or still busy. The parents are found from the container's /proc/<pid>/cgroup
/// (when it could be read) and from this process's own cgroups (where runc resolves relative
/// paths). The session's own parent `/<run id>` is left to the audit: other groups create
/// cgroups in it.
fn remove_relative(ctx: &Ctx<'_, '_>, proc_cgroup: &str) {
    let run_id = ctx.session.run_id();
    let roots = ctx.session.host().cgroup.hierarchies();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut parents: BTreeSet<String> = BTreeSet::new();
    for line in crate::cgroupfs::parse_proc_cgroup(proc_cgroup) {
        if let Some(at) = line.path.find(&format!("/{run_id}/")) {
            parents.insert(line.path[..at + 1 + run_id.len()].to_string());
        }
    }
    for line in crate::cgroupfs::parse_proc_cgroup(&own) {
        parents.insert(format!("{}/{run_id}", line.path.trim_end_matches('/')));
    }
    parents.remove(&format!("/{run_id}"));
    for root in &roots {
        for parent in &parents {
            let dir = root.join(parent.trim_start_matches('/'));
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("relative") {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

fn relative(ctx: &Ctx<'_, '_>, layout: &Layout) {
    let rel = format!("{}/relative", ctx.session.run_id());
    let first = land(ctx, layout, "cgroups-relative", &rel);
    let second = land(ctx, layout, "cgroups-relative-again", &rel);
    match (&first, &second) {
        (Ok((a, _)), Ok((b, text))) => {
            ctx.record(
                GROUP,
                Some("relative cgroupsPath"),
                RELATIVE,
                if a.ends_with(&format!("/{rel}")) {
                    Outcome::pass_with_note(format!("{rel:?} was placed at {a}"))
                } else {
                    Outcome::fail(
                        Failure::new(
                            "a relative cgroupsPath did not end up as a path under some location",
                        )
                        .expected(format!("<runtime-chosen location>/{rel}"))
                        .actual(a.clone()),
                    )
                },
            );
            ctx.record(
                GROUP,
                Some("relative cgroupsPath"),
                CONSISTENT,
                if a == b {
                    Outcome::pass()
                } else {
                    Outcome::fail(
                        Failure::new(format!(
                            "the same cgroupsPath {rel:?} led to two places in the hierarchy"
                        ))
                        .expected(a.clone())
                        .actual(format!("{b}, from /proc/<pid>/cgroup:\n{text}")),
                    )
                },
            );
        }
        (Err(o), _) | (_, Err(o)) => {
            ctx.record(GROUP, Some("relative cgroupsPath"), RELATIVE, o.clone());
            ctx.record(GROUP, Some("relative cgroupsPath"), CONSISTENT, o.clone());
        }
    }
}

/// `pids.limit` 0 is a limit of zero tasks, not "unset": read back after `create` (the init
/// already exists, so the limit does not stop it from being created).
fn pids_zero(ctx: &Ctx<'_, '_>, layout: &Layout) {
    let target = "pids.limit 0";
    if !layout.supports(Setting::PidsLimit) {
        return ctx.record(
            GROUP,
            Some(target),
            PIDS_ZERO,
            Outcome::skip("the host has no pids controller"),
        );
    }
    let path = ctx.session.cgroups_path("cgroups-pids-zero");
    let mut config = base_config(&["observe", TAG_PIDS_ZERO], &path);
    set(&mut config, "/linux/resources/pids/limit", json!(0));
    let run = ctx
        .session
        .container("cgroups-pids-zero", &config, prepare_rootfs)
        .and_then(|mut c| {
            let create = c.create(true)?;
            let reading = create.ok().then(|| {
                let at = c
                    .pid()
                    .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok())
                    .and_then(|t| layout.membership(&t, "pids"))
                    .unwrap_or_else(|| path.clone());
                layout.read(Setting::PidsLimit, &at)
            });
            if create.ok() {
                let _ = c.kill("KILL");
                let _ = c.wait_exit(ctx.opts.exit_timeout);
                let _ = c.delete(true);
            }
            Ok((create, reading))
        });
    let outcome = match run {
        Err(e) => harness(&e),
        Ok((create, None)) => Outcome::fail(
            at_invocation(&create, "create failed for pids.limit 0")
                .actual(create.stderr.trim().to_string()),
        ),
        Ok((_, Some(Err(e)))) => Outcome::fail(Failure::new(format!(
            "pids.limit could not be read back: {e}"
        ))),
        Ok((_, Some(Ok(r)))) if r.value == CgValue::Num(0) => Outcome::pass(),
        Ok((_, Some(Ok(r)))) => Outcome::fail(
            Failure::new("pids.limit 0 was taken as no limit")
                .expected(format!("{} = 0", r.file.display()))
                .actual(r.to_string())
                .at(at_path(&r.file)),
        ),
    };
    ctx.record(GROUP, Some(target), PIDS_ZERO, outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_values_per_version() {
        assert_eq!(
            expected(Version::V1, Setting::MemorySwap, &json!(MEMORY_SWAP)),
            Ok(CgValue::Num(MEMORY_SWAP))
        );
        assert_eq!(
            expected(Version::V2, Setting::MemorySwap, &json!(MEMORY_SWAP)),
            Ok(CgValue::Num(MEMORY_SWAP - MEMORY_LIMIT))
        );
        assert!(expected(Version::V2, Setting::CpuShares, &json!(512)).is_err());
        assert_eq!(
            expected(Version::V1, Setting::CpuShares, &json!(512)),
            Ok(CgValue::Num(512))
        );
        assert_eq!(
            expected(Version::V2, Setting::Cpus, &json!("0-1")),
            Ok(CgValue::List([0, 1].into()))
        );
        assert_eq!(
            expected(Version::V1, Setting::PidsLimit, &json!(-1)),
            Ok(CgValue::Max)
        );
    }

    /// On a unified host the plan configures what the root offers and reads the effective
    /// cpuset; a v1 host without a pids hierarchy leaves pids out with the reason.
    #[test]
    fn plans_follow_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("cgroup.controllers", "cpuset cpu memory pids\n");
        write("cpuset.cpus.effective", "2-3\n");
        write("cpuset.mems.effective", "0\n");
        for f in [
            "memory.max",
            "memory.low",
            "memory.swap.max",
            "cpu.max",
            "cpu.weight",
            "pids.max",
            "cpuset.cpus",
            "cpuset.mems",
        ] {
            write(&format!("init.scope/{f}"), "max\n");
        }
        let v2 = Layout::V2 {
            mount: root.to_path_buf(),
            controllers: ["cpuset", "cpu", "memory", "pids"]
                .map(String::from)
                .to_vec(),
        };
        let p = plan(&v2, "/run/c");
        assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
        assert_eq!(p.wanted.len(), 9);
        assert_eq!(
            p.config.pointer("/linux/resources/cpu/cpus"),
            Some(&json!("2"))
        );
        assert_eq!(
            p.config.pointer("/linux/resources/memory/swap"),
            Some(&json!(MEMORY_SWAP))
        );
        assert_eq!(
            p.config.pointer("/linux/cgroupsPath"),
            Some(&json!("/run/c"))
        );

        let mut controllers = std::collections::BTreeMap::new();
        controllers.insert("memory".to_string(), root.join("memory"));
        write("memory/memory.limit_in_bytes", "9223372036854771712\n");
        write("memory/memory.soft_limit_in_bytes", "9223372036854771712\n");
        let v1 = Layout::V1 { controllers };
        let p = plan(&v1, "/run/c");
        let missing: Vec<Setting> = p.unsupported.iter().map(|(s, _)| *s).collect();
        assert!(missing.contains(&Setting::PidsLimit));
        assert!(
            missing.contains(&Setting::MemorySwap),
            "no memsw file: swap accounting off"
        );
        assert!(p.config.pointer("/linux/resources/pids").is_none());
        assert_eq!(
            p.wanted.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![Setting::MemoryLimit, Setting::MemoryReservation]
        );
    }
}
