//! Compiles the `.rpc` file the rpc-server / rpc-client examples and the
//! RPC tests speak (rpc/tests/regress.rpc, also readable by libevent's
//! event_rpcgen.py) into `OUT_DIR/regress.rs`.

fn main() {
    runtime_rpc::build::compile("rpc/tests/regress.rpc").unwrap_or_else(|e| panic!("{e}"));
}
