//! The container as the process sees it (config.md, config-linux.md, runtime-linux.md): one
//! container with a fully specified `process` and Linux settings runs `probe report`, and each
//! property is compared with what the probe saw from inside.
//!
//! Properties without a requirement of their own (args, env, cwd, user, hostname...) are judged
//! under the operations that must apply them: `start` runs the program "as configured in
//! process", `create` applies every other property. The point's target names the property.

use oci_certify_core::check::{Failure, Outcome};
use serde_json::json;

use crate::bundles::{base_config, prepare_rootfs};
use crate::engine::{harness, inside, no_report, observe, set, Ctx};
use crate::probe::{cap_mask, mount_at, FileKind, Observation};

const GROUP: &str = "process";
const EROFS: i32 = 30;
const RUN: &str = "runtime.runtime.start.run-program";
const APPLY: &str = "runtime.runtime.create.apply-config";

/// The requirements this group judges.
pub const IDS: &[&str] = &[
    RUN,
    APPLY,
    "runtime.config.process.rlimits-getrlimit-succeeds",
    "runtime.config.process.rlimits-soft-applied",
    "runtime.config.process.rlimits-hard-applied",
    "runtime.config.process.oom-score-adj-set",
    "runtime.config.root.readonly-applied",
    "runtime.runtime-linux.dev-symlinks.dev-fd",
    "runtime.runtime-linux.dev-symlinks.dev-stdin",
    "runtime.runtime-linux.dev-symlinks.dev-stdout",
    "runtime.runtime-linux.dev-symlinks.dev-stderr",
    "runtime.config-linux.default-devices.dev-null",
    "runtime.config-linux.default-devices.dev-zero",
    "runtime.config-linux.default-devices.dev-full",
    "runtime.config-linux.default-devices.dev-random",
    "runtime.config-linux.default-devices.dev-urandom",
    "runtime.config-linux.default-devices.dev-tty",
    "runtime.config-linux.default-devices.dev-ptmx",
    "runtime.config-linux.default-filesystems.proc",
    "runtime.config-linux.default-filesystems.sys",
    "runtime.config-linux.default-filesystems.dev-pts",
    "runtime.config-linux.default-filesystems.dev-shm",
    "runtime.config-linux.namespaces.create-without-path",
    "runtime.config-linux.namespaces.inherit-unlisted",
];

/// The config this group runs: every property set to a value unlike the defaults.
fn config(cgroups_path: &str) -> serde_json::Value {
    let mut c = base_config(
        &[
            "report",
            "--path",
            "/masked-file",
            "--write",
            "/tmp",
            "--write",
            "/scratch",
            "--sysctl",
            "net.ipv4.ip_forward",
        ],
        cgroups_path,
    );
    set(
        &mut c,
        "/process/env",
        json!(["PATH=/bin", "OCI_CERTIFY=process group", "EMPTY="]),
    );
    set(&mut c, "/process/cwd", json!("/tmp"));
    set(
        &mut c,
        "/process/user",
        json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000], "umask": 23}),
    );
    let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
    set(
        &mut c,
        "/process/capabilities",
        json!({
            "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps
        }),
    );
    set(
        &mut c,
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}]),
    );
    set(&mut c, "/process/oomScoreAdj", json!(123));
    set(&mut c, "/hostname", json!("oci-certify-process"));
    set(&mut c, "/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
    // A world-writable tmpfs made read-only through readonlyPaths: a write there can only fail
    // because of readonlyPaths (the process is not root, so root-only paths would not tell).
    if let Some(m) = c.pointer_mut("/mounts").and_then(|m| m.as_array_mut()) {
        m.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=0755", "uid=1000", "gid=1000"]}));
    }
    if let Some(r) = c
        .pointer_mut("/linux/readonlyPaths")
        .and_then(|m| m.as_array_mut())
    {
        r.push(json!("/scratch"));
    }
    // A world-readable file of the rootfs (see bundles::prepare_rootfs), masked.
    if let Some(r) = c
        .pointer_mut("/linux/maskedPaths")
        .and_then(|m| m.as_array_mut())
    {
        r.push(json!("/masked-file"));
    }
    c
}

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    let config = config(&ctx.session.cgroups_path("process"));
    let result = ctx
        .session
        .container("process", &config, prepare_rootfs)
        .and_then(|mut c| observe(ctx, &mut c));
    match result {
        Err(e) => ctx.record_all(GROUP, IDS, &harness(&e)),
        Ok((create, start, Err(why))) => {
            let outcome = no_report(&why, &create, &start);
            ctx.record_all(GROUP, IDS, &outcome);
        }
        Ok((_, _, Ok(obs))) => judge(ctx, &config, &obs),
    }
    ctx.runner.finish_group(GROUP);
}

fn compare(ctx: &Ctx<'_, '_>, id: &str, target: &str, expected: String, actual: String) {
    let outcome = if expected == actual {
        Outcome::pass()
    } else {
        Outcome::fail(
            Failure::new(format!("{target} differs inside the container"))
                .expected(expected)
                .actual(actual)
                .at(inside(target)),
        )
    };
    ctx.record(GROUP, Some(target), id, outcome);
}

fn judge(ctx: &Ctx<'_, '_>, config: &serde_json::Value, obs: &Observation) {
    let strings = |p: &str| -> Vec<String> {
        config
            .pointer(p)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // process: args, env, cwd, user, umask, capabilities, noNewPrivileges
    compare(
        ctx,
        RUN,
        "process.args",
        format!("{:?}", strings("/process/args")),
        format!("{:?}", obs.argv),
    );
    let mut env_want = strings("/process/env");
    let mut env_got = obs.env.clone();
    env_want.sort();
    env_got.sort();
    // Runtimes may add HOME when the config lacks it (runc and crun do); every configured
    // variable must be there with its value, and nothing else but HOME.
    env_got.retain(|e| !e.starts_with("HOME=") || env_want.iter().any(|w| w.starts_with("HOME=")));
    compare(
        ctx,
        RUN,
        "process.env",
        format!("{env_want:?}"),
        format!("{env_got:?}"),
    );
    compare(
        ctx,
        RUN,
        "process.cwd",
        "/tmp".into(),
        obs.cwd.clone().unwrap_or_default(),
    );
    let ids = |x: &Option<crate::probe::Ids>| {
        x.as_ref()
            .map(|i| format!("{} {} {}", i.real, i.effective, i.saved))
            .unwrap_or_default()
    };
    compare(
        ctx,
        RUN,
        "process.user.uid",
        "1000 1000 1000".into(),
        ids(&obs.uid),
    );
    compare(
        ctx,
        RUN,
        "process.user.gid",
        "1000 1000 1000".into(),
        ids(&obs.gid),
    );
    let mut groups = obs.groups.clone().unwrap_or_default();
    groups.sort_unstable();
    groups.retain(|g| *g != 1000);
    compare(
        ctx,
        RUN,
        "process.user.additionalGids",
        "[2000, 3000]".into(),
        format!("{groups:?}"),
    );
    compare(
        ctx,
        RUN,
        "process.user.umask",
        "0027".into(),
        obs.umask_value()
            .map(|u| format!("{u:04o}"))
            .unwrap_or_else(|e| e.to_string()),
    );
    match (obs.cap_sets(), cap_mask(["CAP_CHOWN", "CAP_KILL"])) {
        (Ok(sets), Ok(want)) => {
            for (name, got) in [
                ("bounding", sets.bounding),
                ("effective", sets.effective),
                ("permitted", sets.permitted),
                ("inheritable", sets.inheritable),
                ("ambient", sets.ambient),
            ] {
                compare(
                    ctx,
                    RUN,
                    &format!("process.capabilities.{name}"),
                    crate::probe::cap_names(want).join(","),
                    crate::probe::cap_names(got).join(","),
                );
            }
        }
        (Err(e), _) | (_, Err(e)) => ctx.record(
            GROUP,
            Some("process.capabilities"),
            RUN,
            Outcome::error(e.to_string()),
        ),
    }
    compare(
        ctx,
        RUN,
        "process.noNewPrivileges",
        "true".into(),
        format!("{}", obs.no_new_privs.unwrap_or(false)),
    );

    // rlimits
    match obs.rlimit("RLIMIT_NOFILE") {
        Ok(row) => {
            ctx.record(
                GROUP,
                Some("RLIMIT_NOFILE"),
                "runtime.config.process.rlimits-getrlimit-succeeds",
                Outcome::pass(),
            );
            let got = |l: crate::probe::Limit| l.as_u64().to_string();
            compare(
                ctx,
                "runtime.config.process.rlimits-soft-applied",
                "RLIMIT_NOFILE",
                "512".into(),
                got(row.soft),
            );
            compare(
                ctx,
                "runtime.config.process.rlimits-hard-applied",
                "RLIMIT_NOFILE",
                "1000".into(),
                got(row.hard),
            );
        }
        Err(e) => ctx.record(
            GROUP,
            Some("RLIMIT_NOFILE"),
            "runtime.config.process.rlimits-getrlimit-succeeds",
            Outcome::fail(Failure::new(e.to_string()).at(inside("/proc/self/limits"))),
        ),
    }
    compare(
        ctx,
        "runtime.config.process.oom-score-adj-set",
        "oomScoreAdj",
        "123".into(),
        obs.oom_score_adj.map(|v| v.to_string()).unwrap_or_default(),
    );

    // hostname, sysctl, masked and read-only paths, read-only root
    compare(
        ctx,
        APPLY,
        "hostname",
        "oci-certify-process".into(),
        obs.hostname.clone().unwrap_or_default(),
    );
    compare(
        ctx,
        APPLY,
        "linux.sysctl",
        "Some(\"1\")".into(),
        format!("{:?}", obs.sysctl("net.ipv4.ip_forward").flatten()),
    );
    // /masked-file is world-readable and not empty when not masked.
    let masked = obs.path_report("/masked-file");
    ctx.record(
        GROUP,
        Some("linux.maskedPaths"),
        APPLY,
        match masked {
            Some(r) if !r.exists || r.read_len.unwrap_or(0) == 0 || r.read_ok == Some(false) => {
                Outcome::pass()
            }
            Some(r) => Outcome::fail(
                Failure::new("/masked-file is readable inside the container")
                    .expected("masked (empty or unreadable)")
                    .actual(format!("{} bytes read", r.read_len.unwrap_or(0)))
                    .at(inside("/masked-file")),
            ),
            None => Outcome::error("the probe did not report /masked-file"),
        },
    );
    // Writable for the process but for the read-only property: only EROFS proves it.
    let read_only = |path: &str, what: &str| match obs.write_report(path).map(|w| (w.ok, w.errno)) {
        Some((false, Some(EROFS))) => Outcome::pass(),
        Some((true, _)) => Outcome::fail(
            Failure::new(format!("{path} is writable"))
                .expected(format!("{what}: writes fail with EROFS"))
                .actual("the write succeeded")
                .at(inside(path)),
        ),
        Some((false, errno)) => Outcome::skip(format!(
            "writing {path} failed with errno {errno:?}, not EROFS; inconclusive"
        )),
        None => Outcome::error(format!("the probe did not report {path}")),
    };
    ctx.record(
        GROUP,
        Some("linux.readonlyPaths"),
        APPLY,
        read_only("/scratch", "listed in readonlyPaths"),
    );
    ctx.record(
        GROUP,
        Some("root.readonly"),
        "runtime.config.root.readonly-applied",
        read_only("/tmp", "root.readonly is true"),
    );

    // /dev symlinks and default devices
    for (id, path, want) in [
        (
            "runtime.runtime-linux.dev-symlinks.dev-fd",
            "/dev/fd",
            "/proc/self/fd",
        ),
        (
            "runtime.runtime-linux.dev-symlinks.dev-stdin",
            "/dev/stdin",
            "/proc/self/fd/0",
        ),
        (
            "runtime.runtime-linux.dev-symlinks.dev-stdout",
            "/dev/stdout",
            "/proc/self/fd/1",
        ),
        (
            "runtime.runtime-linux.dev-symlinks.dev-stderr",
            "/dev/stderr",
            "/proc/self/fd/2",
        ),
    ] {
        let got = obs
            .dev_entry(path)
            .map(|e| format!("{:?} -> {}", e.kind, e.link.clone().unwrap_or_default()));
        compare(
            ctx,
            id,
            path,
            format!("{:?} -> {want}", FileKind::Symlink),
            got.unwrap_or_else(|| "absent".into()),
        );
    }
    for (id, path, major, minor) in [
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
    ] {
        let got = obs.dev_entry(path).map(|e| {
            format!(
                "{:?} {}:{}",
                e.kind,
                e.major.unwrap_or(0),
                e.minor.unwrap_or(0)
            )
        });
        compare(
            ctx,
            id,
            path,
            format!("{:?} {major}:{minor}", FileKind::Char),
            got.unwrap_or_else(|| "absent".into()),
        );
    }
    let ptmx = obs.dev_entry("/dev/ptmx");
    ctx.record(
        GROUP,
        Some("/dev/ptmx"),
        "runtime.config-linux.default-devices.dev-ptmx",
        match ptmx {
            Some(e)
                if e.kind == FileKind::Symlink
                    && e.link
                        .as_deref()
                        .is_some_and(|l| l == "pts/ptmx" || l == "/dev/pts/ptmx") =>
            {
                Outcome::pass()
            }
            // A bind mount of /dev/pts/ptmx shows as a character device 5:2 with a mount on top.
            Some(e) if e.kind == FileKind::Char && e.major == Some(5) && e.minor == Some(2) => {
                Outcome::pass()
            }
            other => Outcome::fail(
                Failure::new("/dev/ptmx is neither a symlink to pts/ptmx nor a bind mount of it")
                    .actual(format!("{other:?}"))
                    .at(inside("/dev/ptmx")),
            ),
        },
    );

    // default filesystems
    match obs.mounts() {
        Ok(mounts) => {
            for (id, point, fs) in [
                (
                    "runtime.config-linux.default-filesystems.proc",
                    "/proc",
                    "proc",
                ),
                (
                    "runtime.config-linux.default-filesystems.sys",
                    "/sys",
                    "sysfs",
                ),
                (
                    "runtime.config-linux.default-filesystems.dev-pts",
                    "/dev/pts",
                    "devpts",
                ),
                (
                    "runtime.config-linux.default-filesystems.dev-shm",
                    "/dev/shm",
                    "tmpfs",
                ),
            ] {
                compare(
                    ctx,
                    id,
                    point,
                    fs.into(),
                    mount_at(&mounts, point)
                        .map(|m| m.fs_type.clone())
                        .unwrap_or_else(|| "no mount".into()),
                );
            }
        }
        Err(e) => ctx.record(
            GROUP,
            Some("mountinfo"),
            "runtime.config-linux.default-filesystems.proc",
            Outcome::error(e.to_string()),
        ),
    }

    // namespaces: the listed ones are new, the others are the runtime's own.
    let host = |kind: &str| {
        std::fs::read_link(format!("/proc/self/ns/{kind}"))
            .ok()
            .map(|p| p.display().to_string())
    };
    for kind in ["pid", "net", "ipc", "uts", "mnt"] {
        let got = obs.namespace(kind).map(str::to_string);
        ctx.record(
            GROUP,
            Some(kind),
            "runtime.config-linux.namespaces.create-without-path",
            if got.is_some() && got != host(kind) {
                Outcome::pass()
            } else {
                Outcome::fail(
                    Failure::new(format!(
                        "the container shares the {kind} namespace of the runtime"
                    ))
                    .expected("a new namespace")
                    .actual(format!("{got:?}"))
                    .at(inside(&format!("/proc/self/ns/{kind}"))),
                )
            },
        );
    }
    for kind in ["user", "cgroup"] {
        if host(kind).is_none() {
            continue;
        }
        compare(
            ctx,
            "runtime.config-linux.namespaces.inherit-unlisted",
            kind,
            format!("{:?}", host(kind)),
            format!("{:?}", obs.namespace(kind)),
        );
    }
}
