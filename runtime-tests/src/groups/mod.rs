//! Check groups, one file per area of the spec. Each group owns its containers, records one
//! outcome per requirement it judges, and lists those ids in `IDS` (for coverage, and so a
//! group that cannot run skips exactly its own requirements).

pub mod cgroups;
pub mod claims;
pub mod devices;
pub mod errors;
pub mod features;
pub mod hooks;
pub mod lifecycle;
pub mod mounts;
pub mod namespaces;
pub mod process;
pub mod propagation;
pub mod seccomp;
pub mod terminal;
