//! Process exit codes of `oci-certify`, documented in one place.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | verdict green, or yellow without `--strict` |
//! | 1 | verdict red (a MUST-level requirement failed), or yellow with `--strict` |
//! | 2 | usage error, unusable input, or a harness error (the run could not be completed) |
//!
//! A run that found a MUST failure exits 1 even if some other check had a harness error: the
//! red finding stands on its own evidence. A run without MUST failures but with harness errors
//! exits 2, because its verdict is incomplete.

use crate::event::{Summary, Verdict};

/// Green, or yellow without `--strict`.
pub const SUCCESS: i32 = 0;
/// Red, or yellow with `--strict`.
pub const RED: i32 = 1;
/// Usage error, unusable input, engine not available, or harness error.
pub const ERROR: i32 = 2;

/// The exit code for a finished run.
pub fn for_run(summary: &Summary, strict: bool) -> i32 {
    match summary.verdict() {
        Verdict::Red => RED,
        _ if summary.error > 0 => ERROR,
        Verdict::Yellow if strict => RED,
        _ => SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_verdict() {
        let green = Summary::default();
        assert_eq!(for_run(&green, true), SUCCESS);
        let yellow = Summary {
            fail_should: 1,
            ..Summary::default()
        };
        assert_eq!(for_run(&yellow, false), SUCCESS);
        assert_eq!(for_run(&yellow, true), RED);
        let red = Summary {
            fail_must: 1,
            error: 3,
            ..Summary::default()
        };
        assert_eq!(for_run(&red, false), RED);
        let broken = Summary {
            error: 1,
            pass: 4,
            ..Summary::default()
        };
        assert_eq!(for_run(&broken, false), ERROR);
    }
}
