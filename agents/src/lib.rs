//! ironbeat-agents: the resources a cluster moves (virtual IPs, filesystems, LSB,
//! OCF and systemd services, heartbeat `resource.d` scripts).
//!
//! Filled by the cluster-daemon issue; it holds no code yet.
#![forbid(unsafe_code)]
