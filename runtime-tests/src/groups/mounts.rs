//! Mounts and their options (config.md#mounts, config.md#linux-mount-options): every option
//! whose effect /proc/self/mountinfo shows is given to a mount of its own, and the probe's
//! mountinfo is read back.
//!
//! Four containers, so that one option a runtime refuses does not hide the others:
//!
//! - `mounts-flags`: one tmpfs per per-mount flag (`ro`, `nosuid`, `noatime`, ...). An option
//!   that clears a flag (`rw`, `suid`, `atime`, ...) follows the option that sets it on the
//!   same mount, so only the clearing option can explain the outcome.
//! - `mounts-sb`: superblock flags (`sync`, `dirsync`, `lazytime`, their inverses),
//!   propagation (`shared`, `private`, `unbindable`) and an unknown option passed as data.
//! - `mounts-tree`: the listed order (a tmpfs, then one inside it), a bind mount with a
//!   relative source, and a relative destination.
//! - `mounts-recursive`: recursive binds of the host's /dev with recursive options, which
//!   reach the submounts (skipped when the host's /dev has none).
//!
//! Options whose effect mountinfo does not show (`iversion`, `loud`, `silent`, `remount`,
//! `norelatime`, `slave`...) are not judged here; nor is `relatime`, which is the kernel's
//! default (and `strictatime` wins over it when both are given, for mount(8) as well).

use oci_certify_core::check::{Failure, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::engine::{harness, inside, no_report, observe, set, Ctx};
use crate::probe::{mount_at, MountInfo, Observation};

const GROUP: &str = "mounts";
const OPT: &str = "runtime.config.linux-mount-options.";

/// What the mount at `/m/<name>` must show.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The per-mount options contain this.
    Has(&'static str),
    /// The per-mount options lack this.
    Lacks(&'static str),
    /// Neither of two per-mount options (strictatime: no relatime, no noatime).
    LacksBoth(&'static str, &'static str),
    /// The superblock options contain this.
    SuperHas(&'static str),
    /// The superblock options lack this.
    SuperLacks(&'static str),
    /// An optional field starts with this (`shared:`, `unbindable`).
    Optional(&'static str),
    /// No optional field starts with this.
    NoOptional(&'static str),
}

/// One tmpfs at `/m/<name>` with `options`, judged for requirement `OPT + option`.
struct Case {
    name: &'static str,
    options: &'static [&'static str],
    option: &'static str,
    expect: Expect,
}

const fn case(name: &'static str, options: &'static [&'static str], expect: Expect) -> Case {
    Case {
        name,
        options,
        option: name,
        expect,
    }
}

const FLAGS: &[Case] = &[
    case("ro", &["ro"], Expect::Has("ro")),
    case("rw", &["ro", "rw"], Expect::Has("rw")),
    case("nosuid", &["nosuid"], Expect::Has("nosuid")),
    case("suid", &["nosuid", "suid"], Expect::Lacks("nosuid")),
    case("nodev", &["nodev"], Expect::Has("nodev")),
    case("dev", &["nodev", "dev"], Expect::Lacks("nodev")),
    case("noexec", &["noexec"], Expect::Has("noexec")),
    case("exec", &["noexec", "exec"], Expect::Lacks("noexec")),
    case("noatime", &["noatime"], Expect::Has("noatime")),
    case("atime", &["noatime", "atime"], Expect::Lacks("noatime")),
    case(
        "strictatime",
        &["strictatime"],
        Expect::LacksBoth("relatime", "noatime"),
    ),
    case(
        "nostrictatime",
        &["strictatime", "nostrictatime"],
        Expect::Has("relatime"),
    ),
    case("nodiratime", &["nodiratime"], Expect::Has("nodiratime")),
    case(
        "diratime",
        &["nodiratime", "diratime"],
        Expect::Lacks("nodiratime"),
    ),
    case("nosymfollow", &["nosymfollow"], Expect::Has("nosymfollow")),
    case(
        "symfollow",
        &["nosymfollow", "symfollow"],
        Expect::Lacks("nosymfollow"),
    ),
    case("defaults", &["defaults"], Expect::Has("rw")),
];

const SUPER: &[Case] = &[
    case("sync", &["sync"], Expect::SuperHas("sync")),
    case("async", &["sync", "async"], Expect::SuperLacks("sync")),
    case("dirsync", &["dirsync"], Expect::SuperHas("dirsync")),
    case("lazytime", &["lazytime"], Expect::SuperHas("lazytime")),
    case(
        "nolazytime",
        &["lazytime", "nolazytime"],
        Expect::SuperLacks("lazytime"),
    ),
    case("shared", &["shared"], Expect::Optional("shared:")),
    case(
        "private",
        &["shared", "private"],
        Expect::NoOptional("shared:"),
    ),
    case(
        "unbindable",
        &["unbindable"],
        Expect::Optional("unbindable"),
    ),
    Case {
        name: "data",
        options: &["nr_inodes=4321"],
        option: "unknown-as-data",
        expect: Expect::SuperHas("nr_inodes=4321"),
    },
];

/// Recursive options on an `rbind` of the host's /dev: every mount of the copied tree must
/// show the effect, the submounts included.
const RECURSIVE: &[Case] = &[
    case("rbind", &["rbind"], Expect::Has("")),
    case("rro", &["rbind", "rro"], Expect::Has("ro")),
    case("rnoexec", &["rbind", "rnoexec"], Expect::Has("noexec")),
    case("rnoatime", &["rbind", "rnoatime"], Expect::Has("noatime")),
    case(
        "rnodiratime",
        &["rbind", "rnodiratime"],
        Expect::Has("nodiratime"),
    ),
    case(
        "rnosymfollow",
        &["rbind", "rnosymfollow"],
        Expect::Has("nosymfollow"),
    ),
    case(
        "runbindable",
        &["rbind", "runbindable"],
        Expect::Optional("unbindable"),
    ),
    case(
        "rshared",
        &["rbind", "rshared"],
        Expect::Optional("shared:"),
    ),
    case(
        "rprivate",
        &["rbind", "rshared", "rprivate"],
        Expect::NoOptional("shared:"),
    ),
];

const TREE_IDS: &[&str] = &[
    "runtime.config.mounts.order",
    "runtime.config.linux-mount-options.bind",
    "runtime.config.mounts.source-bind-relative",
    "runtime.config.mounts.destination-linux-relative-root",
];

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    "runtime.config.linux-mount-options.ro",
    "runtime.config.linux-mount-options.rw",
    "runtime.config.linux-mount-options.nosuid",
    "runtime.config.linux-mount-options.suid",
    "runtime.config.linux-mount-options.nodev",
    "runtime.config.linux-mount-options.dev",
    "runtime.config.linux-mount-options.noexec",
    "runtime.config.linux-mount-options.exec",
    "runtime.config.linux-mount-options.noatime",
    "runtime.config.linux-mount-options.atime",
    "runtime.config.linux-mount-options.strictatime",
    "runtime.config.linux-mount-options.nostrictatime",
    "runtime.config.linux-mount-options.nodiratime",
    "runtime.config.linux-mount-options.diratime",
    "runtime.config.linux-mount-options.nosymfollow",
    "runtime.config.linux-mount-options.symfollow",
    "runtime.config.linux-mount-options.defaults",
    "runtime.config.linux-mount-options.sync",
    "runtime.config.linux-mount-options.async",
    "runtime.config.linux-mount-options.dirsync",
    "runtime.config.linux-mount-options.lazytime",
    "runtime.config.linux-mount-options.nolazytime",
    "runtime.config.linux-mount-options.shared",
    "runtime.config.linux-mount-options.private",
    "runtime.config.linux-mount-options.unbindable",
    "runtime.config.linux-mount-options.unknown-as-data",
    "runtime.config.linux-mount-options.rbind",
    "runtime.config.linux-mount-options.rro",
    "runtime.config.linux-mount-options.rnoexec",
    "runtime.config.linux-mount-options.rnoatime",
    "runtime.config.linux-mount-options.rnodiratime",
    "runtime.config.linux-mount-options.rnosymfollow",
    "runtime.config.linux-mount-options.runbindable",
    "runtime.config.linux-mount-options.rshared",
    "runtime.config.linux-mount-options.rprivate",
    "runtime.config.mounts.order",
    "runtime.config.linux-mount-options.bind",
    "runtime.config.mounts.source-bind-relative",
    "runtime.config.mounts.destination-linux-relative-root",
];

fn id_of(c: &Case) -> String {
    format!("{OPT}{}", c.option)
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    std::thread::scope(|scope| {
        let a = scope.spawn(|| cases(ctx, "mounts-flags", FLAGS, None));
        let b = scope.spawn(|| cases(ctx, "mounts-sb", SUPER, None));
        let c = scope.spawn(|| recursive(ctx));
        tree(ctx);
        for h in [a, b, c] {
            if h.join().is_err() {
                ctx.runner
                    .diagnostic("harness error: a mounts check panicked");
            }
        }
    });
    ctx.runner.finish_group(GROUP);
}

/// Runs `probe report` in a container `name` whose config was edited by `edit`; the
/// observation, or the outcome every id gets when there is none.
fn observe_with(
    ctx: &Ctx<'_, '_>,
    name: &str,
    report_args: &[&str],
    edit: impl FnOnce(&mut Value),
    prepare: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) -> Result<Observation, Outcome> {
    let mut args = vec!["report"];
    args.extend_from_slice(report_args);
    let mut config = base_config(&args, &ctx.session.cgroups_path(name));
    edit(&mut config);
    let result = ctx
        .session
        .container(name, &config, prepare)
        .and_then(|mut c| observe(ctx, &mut c));
    match result {
        Err(e) => Err(harness(&e)),
        Ok((create, start, Err(why))) => Err(no_report(&why, &create, &start)),
        Ok((_, _, Ok(obs))) => Ok(obs),
    }
}

fn push_mounts(config: &mut Value, mounts: Vec<Value>) {
    if let Some(m) = config.pointer_mut("/mounts").and_then(Value::as_array_mut) {
        m.extend(mounts);
    }
}

fn tmpfs(dest: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options})
}

/// Creates `/m/<name>` for every case in the rootfs (the root is read-only).
fn prepare_points<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> impl FnOnce(&std::path::Path) -> std::io::Result<()> {
    let names: Vec<String> = names.into_iter().map(str::to_string).collect();
    move |rootfs| {
        prepare_rootfs(rootfs)?;
        for n in names {
            std::fs::create_dir_all(rootfs.join("m").join(n))?;
        }
        Ok(())
    }
}

/// Judges `list` in one container; if that container cannot be created (a runtime refusing
/// one option fails the whole create), each case gets a container of its own, so the refusal
/// is charged to its option alone.
fn cases(ctx: &Ctx<'_, '_>, name: &str, list: &[Case], source: Option<&str>) {
    match batch(ctx, name, list, source) {
        Ok(mounts) => {
            for c in list {
                ctx.record(GROUP, None, &id_of(c), judge(&mounts, c, source.is_some()));
            }
        }
        Err(outcome) if list.len() == 1 => ctx.record(GROUP, None, &id_of(&list[0]), outcome),
        Err(_) => {
            std::thread::scope(|scope| {
                for (i, c) in list.iter().enumerate() {
                    let one = std::slice::from_ref(c);
                    let name = format!("{name}-{i}");
                    scope.spawn(move || {
                        let outcome = match batch(ctx, &name, one, source) {
                            Ok(mounts) => judge(&mounts, c, source.is_some()),
                            Err(o) => o,
                        };
                        ctx.record(GROUP, None, &id_of(c), outcome);
                    });
                }
            });
        }
    }
}

/// One container with a mount per case; its mountinfo.
fn batch(
    ctx: &Ctx<'_, '_>,
    name: &str,
    list: &[Case],
    source: Option<&str>,
) -> Result<Vec<MountInfo>, Outcome> {
    let mounts: Vec<Value> = list
        .iter()
        .map(|c| {
            let dest = format!("/m/{}", c.name);
            match source {
                Some(src) => json!({"destination": dest, "type": "bind", "source": src, "options": c.options}),
                None => tmpfs(&dest, c.options),
            }
        })
        .collect();
    let obs = observe_with(
        ctx,
        name,
        &[],
        |c| push_mounts(c, mounts),
        prepare_points(list.iter().map(|c| c.name)),
    )?;
    obs.mounts()
        .map_err(|e| Outcome::fail(Failure::new(e.to_string()).at(inside("mountinfo"))))
}

fn describe(m: &MountInfo) -> String {
    format!(
        "{} {} opts [{}] super [{}] optional [{}]",
        m.mount_point,
        m.fs_type,
        m.options.join(","),
        m.super_options.join(","),
        m.optional.join(" ")
    )
}

/// Judges one case: the mount at `/m/<name>` (and, when `tree`, every mount below it).
fn judge(mounts: &[MountInfo], c: &Case, tree: bool) -> Outcome {
    let point = format!("/m/{}", c.name);
    let Some(top) = mount_at(mounts, &point) else {
        return Outcome::fail(
            Failure::new(format!("nothing is mounted at {point}"))
                .expected(format!("a mount with options {:?}", c.options))
                .actual("no such mount point in /proc/self/mountinfo")
                .at(inside("mountinfo")),
        );
    };
    let mut targets = vec![top];
    if tree {
        let prefix = format!("{point}/");
        let subs: Vec<&MountInfo> = mounts
            .iter()
            .filter(|m| m.mount_point.starts_with(&prefix))
            .collect();
        if subs.is_empty() {
            return Outcome::fail(
                Failure::new(format!("the recursive bind at {point} has no submounts"))
                    .expected("the submounts of the host's /dev copied below it")
                    .actual(describe(top))
                    .at(inside("mountinfo")),
            );
        }
        targets.extend(subs);
    }
    let wrong: Vec<String> = targets
        .iter()
        .filter(|m| !holds(m, c.expect))
        .map(|m| describe(m))
        .collect();
    if wrong.is_empty() {
        Outcome::pass()
    } else {
        Outcome::fail(
            Failure::new(format!(
                "the mount options {:?} did not take effect at {point}",
                c.options
            ))
            .expected(format!("{:?}", c.expect))
            .actual(wrong.join("; "))
            .at(inside("mountinfo")),
        )
    }
}

fn holds(m: &MountInfo, e: Expect) -> bool {
    let has = |list: &[String], o: &str| list.iter().any(|x| x == o);
    match e {
        Expect::Has("") => true,
        Expect::Has(o) => has(&m.options, o),
        Expect::Lacks(o) => !has(&m.options, o),
        Expect::LacksBoth(a, b) => !has(&m.options, a) && !has(&m.options, b),
        Expect::SuperHas(o) => has(&m.super_options, o),
        Expect::SuperLacks(o) => !has(&m.super_options, o),
        Expect::Optional(p) => m.optional.iter().any(|x| x.starts_with(p)),
        Expect::NoOptional(p) => !m.optional.iter().any(|x| x.starts_with(p)),
    }
}

/// Whether the host's /dev has submounts for a recursive bind to copy.
fn host_dev_has_submounts() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|t| {
        t.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|p| p.starts_with("/dev/"))
    })
}

fn recursive(ctx: &Ctx<'_, '_>) {
    if !host_dev_has_submounts() {
        let skip = Outcome::skip(
            "the host's /dev has no submounts, so a recursive bind of it shows no recursion",
        );
        for c in RECURSIVE {
            ctx.record(GROUP, None, &id_of(c), skip.clone());
        }
        return;
    }
    // The bind copies the host's /dev tree into the container's mount namespace; the options
    // change only those copies, never the host's mounts.
    cases(ctx, "mounts-recursive", RECURSIVE, Some("/dev"));
}

fn tree(ctx: &Ctx<'_, '_>) {
    let name = "mounts-tree";
    let mounts = vec![
        tmpfs("/m/order", &["mode=755"]),
        tmpfs("/m/order/inner", &["mode=755"]),
        json!({"destination": "/m/bind", "type": "bind", "source": "bind-src", "options": ["bind", "ro"]}),
        tmpfs("m/relative", &["mode=755"]),
    ];
    let obs = observe_with(
        ctx,
        name,
        &["--path", "/m/bind/marker"],
        |c| {
            push_mounts(c, mounts);
            // runtime-spec 1.0.2 already allows a relative destination; say nothing newer.
            set(c, "/ociVersion", json!("1.0.2"));
        },
        |rootfs| {
            prepare_points(["order", "bind", "relative"])(rootfs)?;
            let src = rootfs.parent().map(|b| b.join("bind-src"));
            if let Some(src) = src {
                std::fs::create_dir_all(&src)?;
                std::fs::write(src.join("marker"), b"bound from the bundle\n")?;
            }
            Ok(())
        },
    );
    let obs = match obs {
        Ok(o) => o,
        Err(outcome) => {
            ctx.record_all(GROUP, TREE_IDS, &outcome);
            return;
        }
    };
    let mounts = match obs.mounts() {
        Ok(m) => m,
        Err(e) => {
            let o = Outcome::fail(Failure::new(e.to_string()).at(inside("mountinfo")));
            for id in TREE_IDS {
                ctx.record(GROUP, None, id, o.clone());
            }
            return;
        }
    };
    // Order: the inner tmpfs is mounted on top of the outer one.
    let outer = mount_at(&mounts, "/m/order");
    let inner = mount_at(&mounts, "/m/order/inner");
    ctx.record(
        GROUP,
        None,
        "runtime.config.mounts.order",
        match (outer, inner) {
            (Some(o), Some(i)) if i.parent_id == o.mount_id => Outcome::pass(),
            (o, i) => Outcome::fail(
                Failure::new("the mounts were not performed in their listed order")
                    .expected("/m/order/inner mounted on the tmpfs at /m/order (listed after it)")
                    .actual(format!(
                        "/m/order: {:?}; /m/order/inner: {:?}",
                        o.map(|m| (m.mount_id, m.parent_id)),
                        i.map(|m| (m.mount_id, m.parent_id))
                    ))
                    .at(inside("mountinfo")),
            ),
        },
    );
    // Bind with a relative source: the bundle's bind-src, with its marker file.
    let bind = mount_at(&mounts, "/m/bind");
    let marker = obs.paths.iter().find(|p| p.path == "/m/bind/marker");
    ctx.record(
        GROUP,
        None,
        "runtime.config.linux-mount-options.bind",
        match bind {
            Some(m) if m.root != "/" => Outcome::pass(),
            other => Outcome::fail(
                Failure::new("/m/bind is not a bind mount of a directory")
                    .expected("a mount whose root is the bound directory")
                    .actual(format!("{:?}", other.map(describe)))
                    .at(inside("mountinfo")),
            ),
        },
    );
    let suffix = format!("/bundles/{name}/bind-src");
    ctx.record(
        GROUP,
        None,
        "runtime.config.mounts.source-bind-relative",
        match (bind, marker) {
            (Some(m), Some(p)) if m.root.ends_with(&suffix) && p.exists => Outcome::pass(),
            (m, p) => Outcome::fail(
                Failure::new("the relative bind source was not taken relative to the bundle")
                    .expected(format!("a bind of <bundle>/bind-src (root ending in {suffix}) with its marker file"))
                    .actual(format!(
                        "mount: {:?}; marker exists: {:?}",
                        m.map(describe),
                        p.map(|p| p.exists)
                    ))
                    .at(inside("/m/bind")),
            ),
        },
    );
    ctx.record(
        GROUP,
        None,
        "runtime.config.mounts.destination-linux-relative-root",
        match mount_at(&mounts, "/m/relative") {
            Some(m) if m.fs_type == "tmpfs" => Outcome::pass(),
            other => Outcome::fail(
                Failure::new("the relative destination m/relative was not mounted at /m/relative")
                    .expected("a tmpfs at /m/relative")
                    .actual(format!("{:?}", other.map(describe)))
                    .at(inside("mountinfo")),
            ),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_an_id_of_the_group() {
        for c in FLAGS.iter().chain(SUPER).chain(RECURSIVE) {
            assert!(IDS.contains(&id_of(c).as_str()), "{}", id_of(c));
        }
        for id in TREE_IDS {
            assert!(IDS.contains(id));
        }
        assert_eq!(
            IDS.len(),
            FLAGS.len() + SUPER.len() + RECURSIVE.len() + TREE_IDS.len()
        );
    }
}
