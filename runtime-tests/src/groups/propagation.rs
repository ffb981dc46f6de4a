//! `linux.rootfsPropagation` (config-linux.md#rootfs-mount-propagation): one container per
//! value, and the propagation of the container's `/` read from its mountinfo: `shared` gives
//! it a peer group (`shared:N`), `unbindable` the `unbindable` field, `private` neither.
//! `slave` shows (`master:N`) only when the host mount holding the bundle is shared; otherwise
//! it is skipped with that reason.
//!
//! The spec describes the values without a MUST on applying them, so the points are graded at
//! the requirement's level (MAY): a runtime that ignores the field is reported, not failed.

use oci_certify_core::check::{Failure, Outcome};
use serde_json::json;

use crate::bundles::{base_config, prepare_rootfs};
use crate::engine::{harness, inside, no_report, observe, set, Ctx};
use crate::probe::{mount_at, MountInfo};

const GROUP: &str = "rootfs propagation";
const ID: &str = "runtime.config-linux.rootfs-propagation.optional";

/// The requirements this group judges.
pub const IDS: &[&str] = &[ID];

const VALUES: [&str; 4] = ["shared", "slave", "private", "unbindable"];

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    std::thread::scope(|scope| {
        for value in VALUES {
            scope.spawn(move || one(ctx, value));
        }
    });
    ctx.runner.finish_group(GROUP);
}

/// Whether the host mount under which the session's bundles live is shared.
fn host_bundles_shared(ctx: &Ctx<'_, '_>) -> bool {
    let dir = ctx.session.dir().display().to_string();
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let mounts = crate::probe::parse_mountinfo(&text).unwrap_or_default();
    mounts
        .iter()
        .filter(|m| dir.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len())
        .is_some_and(|m| m.optional.iter().any(|o| o.starts_with("shared:")))
}

fn one(ctx: &Ctx<'_, '_>, value: &str) {
    if value == "slave" && !host_bundles_shared(ctx) {
        ctx.record(
            GROUP,
            Some(value),
            ID,
            Outcome::skip(
                "the host mount holding the bundle is not shared, so a slave rootfs has no \
                 master to show",
            ),
        );
        return;
    }
    let name = format!("propagation-{value}");
    let mut config = base_config(&["report"], &ctx.session.cgroups_path(&name));
    set(&mut config, "/linux/rootfsPropagation", json!(value));
    let result = ctx
        .session
        .container(&name, &config, prepare_rootfs)
        .and_then(|mut c| observe(ctx, &mut c));
    let outcome = match result {
        Err(e) => harness(&e),
        Ok((create, start, Err(why))) => no_report(&why, &create, &start),
        Ok((_, _, Ok(obs))) => match obs.mounts() {
            Err(e) => Outcome::fail(Failure::new(e.to_string()).at(inside("mountinfo"))),
            Ok(mounts) => judge(value, mount_at(&mounts, "/")),
        },
    };
    ctx.record(GROUP, Some(value), ID, outcome);
}

fn judge(value: &str, root: Option<&MountInfo>) -> Outcome {
    let Some(root) = root else {
        return Outcome::fail(
            Failure::new("no mount at / in the container's mountinfo").at(inside("mountinfo")),
        );
    };
    let has = |p: &str| root.optional.iter().any(|o| o.starts_with(p));
    let ok = match value {
        "shared" => has("shared:"),
        "slave" => has("master:"),
        "unbindable" => has("unbindable"),
        _ => !has("shared:") && !has("master:") && !has("unbindable"),
    };
    if ok {
        Outcome::pass()
    } else {
        Outcome::fail(
            Failure::new(format!("the rootfs does not have {value} propagation"))
                .expected(format!("/ with {value} propagation"))
                .actual(format!("optional fields [{}]", root.optional.join(" ")))
                .at(inside("mountinfo")),
        )
    }
}
