//! The check groups. Each runs in its own repository and records outcomes keyed to
//! requirement ids; every id a group can record is listed in its `IDS`.

pub mod base;
pub mod manage;
pub mod pull;
pub mod push;
pub mod referrers;
pub mod tags;
