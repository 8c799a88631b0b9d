//! ironbeat-hw-tests: tests against real kernels and real peers.
#![forbid(unsafe_code)]
