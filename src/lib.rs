//! ironbeat: the cluster daemon, its admin CLI and the compact CRM.
#![forbid(unsafe_code)]
