//! Registry certification: the HTTP driver, the test-content generator, and the push, pull,
//! discovery and management checks of distribution-spec.
//!
//! Status: the crate is empty until registry certification lands (issue 6); it defines no checks.
