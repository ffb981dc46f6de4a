//! The `features` command (features.md): optional for a runtime (MAY); when offered, its
//! output is a Features document judged by the validators' schema and rule layers.

use oci_certify_core::check::Outcome;
use oci_certify_validators::json::Limits;
use oci_certify_validators::{check_document, DocKind};

use crate::engine::{harness, Ctx};

const GROUP: &str = "features";

/// The requirements this group records itself (the document's are the validators').
pub const IDS: &[&str] = &["runtime.features.provide"];

pub(crate) fn run(ctx: &Ctx<'_, '_>) {
    match ctx.session.features() {
        Err(e) => ctx.record(GROUP, None, "runtime.features.provide", harness(&e)),
        Ok(inv) if !inv.ok() => ctx.record(
            GROUP,
            None,
            "runtime.features.provide",
            Outcome::skip(format!(
                "the runtime offers no features command ({} exited {:?}: {}); offering one is optional",
                inv.command_line(),
                inv.status,
                inv.stderr.trim()
            )),
        ),
        Ok(inv) => {
            ctx.record(GROUP, None, "runtime.features.provide", Outcome::pass_with_note("the runtime offers a features command"));
            check_document(ctx.runner, GROUP, None, &inv.command_line(), inv.stdout.as_bytes(), DocKind::RuntimeFeatures, Limits::default());
        }
    }
    ctx.runner.finish_group(GROUP);
}
