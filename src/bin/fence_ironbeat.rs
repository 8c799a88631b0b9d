//! `fence_ironbeat` (also `fence_ironbeat_ipmi`): a fence-agents agent for
//! IPMI over LAN (see `ironbeat::cli::fence_agent`).

fn main() -> std::process::ExitCode {
    ironbeat::cli::fence_agent::main()
}
