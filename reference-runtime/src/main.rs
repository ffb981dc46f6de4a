//! The `oci-reference-runtime` executable: everything lives in the library (see its docs);
//! `oci-certify` links the same library and dispatches to it when invoked under this name.

fn main() {
    std::process::exit(oci_reference_runtime::main_from_args(std::env::args_os()));
}
