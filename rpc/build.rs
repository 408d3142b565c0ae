//! Compiles the test messages (tests/regress.rpc) with the crate's own
//! `.rpc` reader, for the integration tests (`include!` from `OUT_DIR`).
//! A crate cannot be its own build-dependency, so the reader's module is
//! compiled in here by path; it depends on nothing else in the crate.

#[allow(dead_code)]
#[path = "src/idl.rs"]
mod idl;

fn main() {
    let rpc = "tests/regress.rpc";
    println!("cargo:rerun-if-changed={rpc}");
    println!("cargo:rerun-if-changed=src/idl.rs");
    let source = std::fs::read_to_string(rpc).expect("tests/regress.rpc");
    let structs = idl::parse(&source, rpc).unwrap_or_else(|e| panic!("{e}"));
    let code = idl::generate(&structs, "regress.rpc", "::runtime_rpc");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("regress.rs"), code).expect("write regress.rs");
}
