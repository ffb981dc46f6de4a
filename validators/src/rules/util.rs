//! Small helpers shared by rule files.

use serde_json::Value;

use crate::json::escape_token;

/// Calls `f` with the pointer and value of each element of the array at `pointer`, if any.
pub(crate) fn each_item<'v>(root: &'v Value, pointer: &str, mut f: impl FnMut(String, &'v Value)) {
    if let Some(Value::Array(items)) = root.pointer(pointer) {
        for (i, item) in items.iter().enumerate() {
            f(format!("{pointer}/{i}"), item);
        }
    }
}

/// Calls `f` with the pointer, key and value of each member of the object at `pointer`.
pub(crate) fn each_member<'v>(
    root: &'v Value,
    pointer: &str,
    mut f: impl FnMut(String, &'v str, &'v Value),
) {
    if let Some(Value::Object(map)) = root.pointer(pointer) {
        for (k, v) in map {
            f(format!("{pointer}/{}", escape_token(k)), k, v);
        }
    }
}
