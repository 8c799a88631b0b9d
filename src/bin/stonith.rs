//! `stonith`: cluster-glue's STONITH command for IPMI over LAN (see
//! `ironbeat::cli::stonith`).

fn main() -> std::process::ExitCode {
    ironbeat::cli::stonith::main()
}
