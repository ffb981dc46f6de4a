//! One file per lifecycle verb.

pub mod create;
pub mod delete;
pub mod features;
pub mod kill;
pub mod start;
pub mod state;
