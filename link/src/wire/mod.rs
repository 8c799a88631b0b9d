//! Byte formats, sans-I/O: views over buffers and the `Repr`s we support.
//!
//! Contract of every module here: after the length check nothing panics;
//! `parse` never panics on any input; `emit` never panics into a buffer of
//! `buffer_len()` bytes. Unknown protocol codes are kept (`Unknown(raw)`).

pub mod arp;
pub mod frame;
pub mod icmp;
pub mod ndp;
pub mod serial;
