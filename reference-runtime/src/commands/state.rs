//! `state ID`: prints the state JSON (runtime.md "State"), status derived from the process.

use crate::state::{StateError, Store};

/// Runs `state`: the JSON document, pretty-printed.
pub fn run(store: &Store, id: &str) -> Result<String, StateError> {
    let record = store.load(id)?;
    let st = record.oci_state(record.status());
    Ok(serde_json::to_string_pretty(&st).unwrap_or_default())
}
