//! What the runtime's `features` claims, checked against what it does (features.md): every
//! mount option it lists is recognized in a mount's `options`, every capability it lists is
//! recognized in `process.capabilities`, and configs at its `ociVersionMin` and
//! `ociVersionMax` are accepted. (Hooks and namespaces are checked by their own groups.)
//!
//! Mount options go into one container, a tmpfs per option; if the runtime refuses it, the
//! list is halved until each refusal is pinned to one option (a handful of containers, not one
//! per option). Options that need more than a fresh tmpfs to be meaningful (a bind source, ID
//! mappings, an existing mount) are left to the mounts group and listed in the point's note.
//!
//! A runtime without a `features` command claims nothing: the points are skipped.

use oci_certify_core::check::{Failure, Outcome};
use serde_json::{json, Value};

use crate::bundles::{base_config, prepare_rootfs};
use crate::cli::Invocation;
use crate::engine::{at_invocation, harness, set, Ctx};
use crate::error::DriverError;

const GROUP: &str = "features claims";
const MOUNT_OPTIONS: &str = "runtime.features.mount-options.recognized";
const CAPS: &str = "runtime.features-linux.capabilities.recognized";
const MIN: &str = "runtime.features.oci-version-min-accepted";
const MAX: &str = "runtime.features.oci-version-max-accepted";

/// The requirements this group judges.
pub const IDS: &[&str] = &[MOUNT_OPTIONS, CAPS, MIN, MAX];

/// Claimed options that a fresh tmpfs cannot exercise.
const NEEDS_MORE: &[&str] = &["bind", "rbind", "idmap", "ridmap", "remount"];

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    let Some(features) = ctx.features().cloned() else {
        ctx.record_all(
            GROUP,
            IDS,
            &Outcome::skip("the runtime has no features command, so it claims nothing"),
        );
        ctx.runner.finish_group(GROUP);
        return;
    };
    std::thread::scope(|scope| {
        let f = &features;
        let a = scope.spawn(move || {
            if let Err(e) = mount_options(ctx, f) {
                ctx.record(GROUP, None, MOUNT_OPTIONS, harness(&e));
            }
        });
        let b = scope.spawn(move || {
            if let Err(e) = capabilities(ctx, f) {
                ctx.record(GROUP, None, CAPS, harness(&e));
            }
        });
        for (id, key) in [(MIN, "ociVersionMin"), (MAX, "ociVersionMax")] {
            if let Err(e) = version(ctx, f, id, key) {
                ctx.record(GROUP, None, id, harness(&e));
            }
        }
        for h in [a, b] {
            if h.join().is_err() {
                ctx.runner
                    .diagnostic("harness error: a features claim check panicked");
            }
        }
    });
    ctx.runner.finish_group(GROUP);
}

fn strings(v: &Value, pointer: &str) -> Option<Vec<String>> {
    v.pointer(pointer)?.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

/// Creates (and deletes) a container `name` with `config`; the create invocation.
fn try_create(ctx: &Ctx<'_, '_>, name: &str, config: &Value) -> Result<Invocation, DriverError> {
    let mut c = ctx.session.container(name, config, |rootfs| {
        prepare_rootfs(rootfs)?;
        std::fs::create_dir_all(rootfs.join("m"))
    })?;
    let create = c.create(false)?;
    if create.ok() {
        let _ = c.delete(true);
    }
    Ok(create)
}

fn mount_options(ctx: &Ctx<'_, '_>, features: &Value) -> Result<(), DriverError> {
    let Some(claimed) = strings(features, "/mountOptions") else {
        ctx.record(
            GROUP,
            None,
            MOUNT_OPTIONS,
            Outcome::skip("features lists no mountOptions"),
        );
        return Ok(());
    };
    let (tested, skipped): (Vec<String>, Vec<String>) = claimed
        .into_iter()
        .partition(|o| !NEEDS_MORE.contains(&o.as_str()));
    let mut refused: Vec<(String, Invocation)> = Vec::new();
    let mut counter = 0;
    bisect(ctx, &tested, &mut counter, &mut refused)?;
    let note = format!(
        "{} claimed options each mounted on a tmpfs; not exercised here (they need a bind \
         source, ID mappings or an existing mount): {}",
        tested.len(),
        skipped.join(", ")
    );
    if refused.is_empty() {
        ctx.record(GROUP, None, MOUNT_OPTIONS, Outcome::pass_with_note(note));
    } else {
        for (option, inv) in refused {
            ctx.record(
                GROUP,
                Some(&option),
                MOUNT_OPTIONS,
                Outcome::fail(
                    at_invocation(
                        &inv,
                        format!("features lists the mount option {option:?}, but a mount using it is refused"),
                    )
                    .expected("create succeeds with a tmpfs mounted with the option"),
                ),
            );
        }
    }
    Ok(())
}

/// Tries `options` in one container (a tmpfs each); on refusal splits the list in two until
/// single options remain.
fn bisect(
    ctx: &Ctx<'_, '_>,
    options: &[String],
    counter: &mut usize,
    refused: &mut Vec<(String, Invocation)>,
) -> Result<(), DriverError> {
    if options.is_empty() {
        return Ok(());
    }
    *counter += 1;
    let name = format!("claims-mount-{counter}");
    let mut config = base_config(&["exit", "0"], &ctx.session.cgroups_path(&name));
    if let Some(m) = config.pointer_mut("/mounts").and_then(Value::as_array_mut) {
        for (i, o) in options.iter().enumerate() {
            m.push(json!({"destination": format!("/m/{i}"), "type": "tmpfs", "source": "tmpfs", "options": [o]}));
        }
    }
    let create = try_create(ctx, &name, &config)?;
    if create.ok() {
        return Ok(());
    }
    if options.len() == 1 {
        refused.push((options[0].clone(), create));
        return Ok(());
    }
    let (a, b) = options.split_at(options.len() / 2);
    bisect(ctx, a, counter, refused)?;
    bisect(ctx, b, counter, refused)
}

fn capabilities(ctx: &Ctx<'_, '_>, features: &Value) -> Result<(), DriverError> {
    let Some(claimed) = strings(features, "/linux/capabilities") else {
        ctx.record(
            GROUP,
            None,
            CAPS,
            Outcome::skip("features lists no capabilities"),
        );
        return Ok(());
    };
    let host = ctx.session.host();
    let (usable, missing): (Vec<String>, Vec<String>) =
        claimed.into_iter().partition(|c| host.cap_in_bounding(c));
    let name = "claims-capabilities";
    let mut config = base_config(&["exit", "0"], &ctx.session.cgroups_path(name));
    let caps = json!(usable);
    set(
        &mut config,
        "/process/capabilities",
        json!({"bounding": caps, "permitted": caps, "effective": caps}),
    );
    let create = try_create(ctx, name, &config)?;
    let note = if missing.is_empty() {
        format!(
            "all {} claimed capabilities requested at once",
            usable.len()
        )
    } else {
        format!(
            "{} claimed capabilities requested at once; left out because this host's bounding \
             set lacks them: {}",
            usable.len(),
            missing.join(", ")
        )
    };
    ctx.record(
        GROUP,
        None,
        CAPS,
        if create.ok() {
            Outcome::pass_with_note(note)
        } else {
            Outcome::fail(
                at_invocation(
                    &create,
                    "a config requesting the claimed capabilities is refused",
                )
                .expected(note),
            )
        },
    );
    Ok(())
}

fn version(ctx: &Ctx<'_, '_>, features: &Value, id: &str, key: &str) -> Result<(), DriverError> {
    let Some(v) = features.get(key).and_then(Value::as_str) else {
        ctx.record(
            GROUP,
            None,
            id,
            Outcome::skip(format!("features has no {key}")),
        );
        return Ok(());
    };
    let name = format!("claims-{}", key.to_lowercase());
    let mut config = base_config(&["exit", "0"], &ctx.session.cgroups_path(&name));
    set(&mut config, "/ociVersion", json!(v));
    let create = try_create(ctx, &name, &config)?;
    ctx.record(
        GROUP,
        Some(v),
        id,
        if create.ok() {
            Outcome::pass()
        } else {
            Outcome::fail(
                Failure::new(format!("a config with ociVersion {v:?} ({key}) is refused"))
                    .expected("create succeeds")
                    .actual(format!(
                        "exit {:?}: {}",
                        create.status,
                        create.stderr.trim()
                    ))
                    .at(create.location()),
            )
        },
    );
    Ok(())
}
