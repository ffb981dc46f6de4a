//! Compiles the in-container probe (`probe/main.rs`, standard library only) with a bare `rustc`
//! into a static executable, which `src/probe.rs` embeds with `include_bytes!`.
//!
//! The probe runs in a rootfs that holds nothing else, so it must not need a dynamic loader or
//! a shared libc: it is linked with `+crt-static` against glibc's `libc.a` (Debian package
//! `libc6-dev`). It is built for the crate's target; on a target other than Linux the probe
//! cannot run anyway, so an empty file is embedded and `probe::install` refuses to work.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "probe/main.rs";
const BINARY: &str = "oci-certify-probe";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let output = out_dir.join(BINARY);
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();

    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        println!("cargo:warning=the oci-certify probe runs on Linux only; embedding an empty probe for {target}");
        std::fs::write(&output, b"").expect("writing the empty probe into OUT_DIR");
        return;
    }

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(&rustc);
    cmd.args(["--edition", "2021", "--crate-name", "oci_certify_probe"])
        .args(["-C", "opt-level=2"])
        .args(["-C", "panic=abort"])
        .args(["-C", "target-feature=+crt-static"])
        .args(["-C", "strip=symbols"]);
    if !target.is_empty() && target != host {
        cmd.args(["--target", &target]);
        // Use the linker the user configured for that target, as cargo would.
        let var = format!(
            "CARGO_TARGET_{}_LINKER",
            target.to_uppercase().replace(['-', '.'], "_")
        );
        println!("cargo:rerun-if-env-changed={var}");
        if let Some(linker) = env::var_os(&var) {
            let mut arg = std::ffi::OsString::from("linker=");
            arg.push(linker);
            cmd.arg("-C").arg(arg);
        }
    }
    cmd.arg(SOURCE).arg("-o").arg(&output);

    let result = cmd.output();
    let failure = match result {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "{} exited with {}\n{}",
            rustc.to_string_lossy(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Some(format!("could not run {}: {e}", rustc.to_string_lossy())),
    };
    if let Some(detail) = failure {
        let hint = if detail.contains("-lc") || detail.contains("libc.a") || detail.contains("crt1")
        {
            "\nThe static C library is missing: install libc6-dev (Debian/Ubuntu; `cargo xtask setup` does it) or glibc-static (Fedora)."
        } else {
            "\nThe probe is linked statically against glibc: libc.a comes from libc6-dev (Debian/Ubuntu; `cargo xtask setup` installs it) or glibc-static (Fedora)."
        };
        panic!("oci-certify-runtime: compiling the in-container probe ({SOURCE}) failed: {detail}{hint}");
    }
}
