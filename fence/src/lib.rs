//! ironbeat-fence: STONITH devices (IPMI over LAN, Redfish, APC PDUs over SNMP,
//! watchdog self-fencing, manual and external agents).
//!
//! Layers, as in the rest of ironbeat: sans-I/O protocol cores (one module per
//! protocol) driven by thin I/O drivers. The crate is filled by the fencing issues;
//! it holds no code yet.
#![forbid(unsafe_code)]
