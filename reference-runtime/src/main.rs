//! The reference runtime: a small, readable OCI runtime that `oci-certify runtime` certifies by
//! default. It shares no code with the suite and is driven only through its command line.
//!
//! Status: not written yet (issue 5). The binary says so and exits 2 rather than pretend.

fn main() {
    eprintln!("oci-reference-runtime: not implemented yet (see the project's issue on the reference runtime)");
    std::process::exit(2);
}
