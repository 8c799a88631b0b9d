//! Sans-I/O protocol state machines: bytes and `now` in; bytes to send,
//! events and the next deadline out.

pub mod endpoint;
pub mod garp;
pub mod ping;
