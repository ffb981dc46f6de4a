//! Prints the time and peak memory of compiling each document kind's schema:
//! `cargo run --release -p oci-certify-validators --example schema_cost`.

use oci_certify_validators::schema::{DocKind, KindSchema};

fn hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("")
        .to_string()
}

fn main() {
    for kind in DocKind::ALL {
        let t = std::time::Instant::now();
        let ok = KindSchema::get(kind).is_ok();
        println!(
            "{:<18} {:>8.1} ms ok={ok} {}",
            kind.def_name(),
            t.elapsed().as_secs_f64() * 1e3,
            hwm()
        );
    }
}
