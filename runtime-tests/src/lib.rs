//! Runtime certification: the runc-style CLI adapter, the bundle generator, the lifecycle
//! driver, host-side checks and the in-container probe.
//!
//! Status: the crate is empty until runtime certification lands (issue 4); it defines no checks.
