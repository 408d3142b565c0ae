//! Compiling `.rpc` files from a build script: one IDL file serves the C
//! peers (through libevent's `event_rpcgen.py`) and the Rust ones.
//!
//! ```no_run
//! // build.rs's main (with runtime-rpc as a build-dependency,
//! // default-features = false):
//! runtime::rpc::build::compile("proto/service.rpc").unwrap_or_else(|e| panic!("{e}"));
//! ```
//!
//! ```ignore
//! // src/lib.rs
//! include!(concat!(env!("OUT_DIR"), "/service.rs"));
//! ```

use crate::idl::{self, IdlError};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a `.rpc` file could not be compiled.
#[derive(Debug)]
pub enum BuildError {
    /// Reading the `.rpc` file or writing the Rust file failed.
    Io(PathBuf, std::io::Error),
    /// `OUT_DIR` is not set (not running from a build script).
    NoOutDir,
    /// The `.rpc` file is malformed; the error names file, line and column.
    Idl(IdlError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            BuildError::NoOutDir => f.write_str("OUT_DIR is not set (call this from build.rs)"),
            BuildError::Idl(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io(_, e) => Some(e),
            BuildError::Idl(e) => Some(e),
            BuildError::NoOutDir => None,
        }
    }
}

/// Options of a compilation; [`compile`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Builder {
    crate_path: String,
    out_dir: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            crate_path: "::runtime_rpc".into(),
            out_dir: None,
        }
    }
}

impl Builder {
    /// Defaults: the generated code names the crate `::runtime_rpc` and is
    /// written to `OUT_DIR`.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The path the generated code reaches `message!` through, e.g.
    /// `::runtime::rpc` for users of the `runtime` facade.
    pub fn crate_path(mut self, path: &str) -> Builder {
        self.crate_path = path.to_string();
        self
    }

    /// Writes to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// Reads `rpc_file`, writes `<out>/<stem>.rs` and returns its path.
    /// Prints `cargo:rerun-if-changed` for the file.
    pub fn compile(&self, rpc_file: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
        let rpc_file = rpc_file.as_ref();
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or(BuildError::NoOutDir)?),
        };
        println!("cargo:rerun-if-changed={}", rpc_file.display());
        let source = std::fs::read_to_string(rpc_file)
            .map_err(|e| BuildError::Io(rpc_file.to_path_buf(), e))?;
        let name = rpc_file.display().to_string();
        let structs = idl::parse(&source, &name).map_err(BuildError::Idl)?;
        let file_name = rpc_file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or(name);
        let code = idl::generate(&structs, &file_name, &self.crate_path);
        let stem = rpc_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "rpc".into());
        let out = out_dir.join(format!("{stem}.rs"));
        std::fs::write(&out, code).map_err(|e| BuildError::Io(out.clone(), e))?;
        Ok(out)
    }
}

/// Compiles `rpc_file` into `OUT_DIR/<stem>.rs` with the default
/// [`Builder`]: include it with
/// `include!(concat!(env!("OUT_DIR"), "/<stem>.rs"))`.
pub fn compile(rpc_file: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
    Builder::new().compile(rpc_file)
}
