//! Outcomes of an RPC: [`RpcError`] and libevent's `EVRPC_STATUS_*`
//! ([`Status`]).

use crate::error::DecodeError;
use runtime_http::http::StatusCode;
use std::fmt;

/// libevent's `EVRPC_STATUS_*` codes: what an evrpc completion callback
/// sees in `status->error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// `EVRPC_STATUS_ERR_NONE`: the reply arrived and decoded.
    Ok = 0,
    /// `EVRPC_STATUS_ERR_TIMEOUT`: the pool's timeout elapsed, or the
    /// connection failed (libevent reports both as a timeout).
    Timeout = 1,
    /// `EVRPC_STATUS_ERR_BADPAYLOAD`: the server answered with an error
    /// status (503) or a reply that does not decode.
    BadPayload = 2,
    /// `EVRPC_STATUS_ERR_UNSTARTED`: the request could not be sent.
    Unstarted = 3,
    /// `EVRPC_STATUS_ERR_HOOKABORTED`: a hook terminated the request.
    HookAborted = 4,
}

/// Why an RPC failed, on either side. [`RpcError::status`] gives the
/// matching `EVRPC_STATUS_*` code.
#[derive(Debug)]
pub enum RpcError {
    /// The pool's timeout elapsed before the reply arrived.
    Timeout,
    /// Connecting, sending or receiving failed.
    Transport(runtime_http::Error),
    /// The server answered with a status other than 200 (libevent servers
    /// answer 503 to every failure).
    HttpStatus(StatusCode),
    /// The reply (on the client) or the request (on the server) does not
    /// decode, or is incomplete.
    BadPayload(DecodeError),
    /// The request could not be started (for example, an invalid address
    /// or RPC name).
    Unstarted(String),
    /// A hook terminated the request.
    HookAborted,
    /// A server handler refused the request (answered with 503).
    Failed(String),
}

impl RpcError {
    /// A handler's refusal with a reason (the client sees a 503).
    pub fn failed(reason: impl Into<String>) -> RpcError {
        RpcError::Failed(reason.into())
    }

    /// The `EVRPC_STATUS_*` code libevent reports for this failure.
    pub fn status(&self) -> Status {
        match self {
            RpcError::Timeout | RpcError::Transport(_) => Status::Timeout,
            RpcError::HttpStatus(_) | RpcError::BadPayload(_) | RpcError::Failed(_) => {
                Status::BadPayload
            }
            RpcError::Unstarted(_) => Status::Unstarted,
            RpcError::HookAborted => Status::HookAborted,
        }
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::Timeout => f.write_str("rpc timed out"),
            RpcError::Transport(e) => write!(f, "rpc transport: {e}"),
            RpcError::HttpStatus(s) => write!(f, "rpc server answered {s}"),
            RpcError::BadPayload(e) => write!(f, "rpc bad payload: {e}"),
            RpcError::Unstarted(why) => write!(f, "rpc not started: {why}"),
            RpcError::HookAborted => f.write_str("rpc aborted by a hook"),
            RpcError::Failed(why) => write!(f, "rpc failed: {why}"),
        }
    }
}

impl std::error::Error for RpcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RpcError::Transport(e) => Some(e),
            RpcError::BadPayload(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for RpcError {
    fn from(e: DecodeError) -> RpcError {
        RpcError::BadPayload(e)
    }
}
