//! The `ironbeat` binary: daemon and admin CLI.

fn main() -> std::process::ExitCode {
    ironbeat::cli::main()
}
