//! The messages of ../tests/regress.rpc, for the fuzz target.

fn main() {
    runtime_rpc::build::compile("../tests/regress.rpc").unwrap_or_else(|e| panic!("{e}"));
}
