//! Runtime certification: drive a runc-compatible runtime through its CLI against generated
//! bundles, observe each container from outside and from inside, and grade every observation
//! against runtime-spec requirements.
//!
//! - [`probe`]: the in-container probe, a static std-only binary compiled by `build.rs` and
//!   embedded here; it reports what the container sees as JSON ([`probe::Observation`]).
//! - [`cgroupfs`]: a container's cgroup read back from the host, for cgroup v1 and v2.
//! - [`host`]: what the host offers (cgroup v1/v2/hybrid, capability bounding set, LSMs), so
//!   environment limits become skips with a reason.
//! - [`cli`]: the runc-style CLI adapter; every operation's argv, exit status, stdout and
//!   stderr become evidence ([`cli::Invocation`]), with a hard timeout.
//! - [`driver`]: sessions and containers: private state root, unique ids and cgroup paths,
//!   waiting on pidfds (never fixed sleeps), audited cleanup that also runs on Ctrl-C.
//! - [`bundles`]: the base config and rootfs every group starts from.
//! - [`groups`]: the check groups, one file per area of the spec: lifecycle and state; the
//!   process as seen from inside; hooks; error paths; mounts and their options; namespaces;
//!   the terminal; rootfs propagation; cgroups and resources; seccomp; devices; the
//!   `features` command and its claims checked against behaviour.
//! - [`engine`]: the run: smoke test with one clear diagnosis, the groups of
//!   [`engine::GROUPS`] in parallel, cleanup.
//!
//! The sensitivity of the checks is proven by `oci-certify-mutant-runtime` (src/bin), a
//! wrapper that breaks one behaviour of a real runtime at a time (tests/mutants.rs).

pub mod bundles;
pub mod cgroupfs;
pub mod cli;
pub mod driver;
pub mod engine;
pub mod error;
pub mod groups;
pub mod host;
pub mod probe;
