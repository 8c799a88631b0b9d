//! The `ironbeat` command line: argument parsing and the one place where
//! errors become exit codes.

pub mod crm;
pub mod exit;
pub mod fence_agent;
pub mod link;
#[cfg(test)]
mod mutate;
pub mod output;
pub mod stonith;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// ironbeat: keeps services alive on bare-metal clusters.
#[derive(Debug, Parser)]
#[command(name = "ironbeat", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The link layer alone: watch heartbeat paths, send gratuitous ARP.
    #[command(subcommand)]
    Link(LinkCommand),
    /// Build a two-node cluster in network namespaces on this machine and
    /// show what the link layer sees when cables are pulled and nodes die.
    Demo(DemoArgs),
    /// The policy engine: what the cluster manager would decide.
    #[command(subcommand)]
    Crm(CrmCommand),
}

#[derive(Debug, Subcommand)]
enum CrmCommand {
    /// Read a Pacemaker CIB (`--xml`), the native config (`--config`) or
    /// `/etc/ha.d` (`--ha-d`) and print what would happen, as `crm_simulate -S`
    /// prints it: current status, Transition Summary, revised status.
    Simulate(crm::SimulateArgs),
}

#[derive(Debug, Subcommand)]
enum LinkCommand {
    /// Run the link layer and print every event (the cable tester).
    Watch(link::WatchArgs),
    /// Announce addresses with gratuitous ARP (IPv4) or unsolicited
    /// neighbour advertisements (IPv6), as heartbeat's send_arp did.
    SendArp(link::SendArpArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// keepalive of the demo cluster, in milliseconds.
    #[arg(long, default_value_t = 100)]
    keepalive_ms: u64,
    /// deadtime of the demo cluster, in milliseconds.
    #[arg(long, default_value_t = 500)]
    deadtime_ms: u64,
    /// The ironbeat binary to run in the namespaces (default: this one).
    #[arg(long)]
    binary: Option<PathBuf>,
}

/// Parses the command line, runs the command, returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                exit::OK
            };
        }
    };
    let result = match cli.command {
        Command::Link(LinkCommand::Watch(args)) => link::watch(&args),
        Command::Link(LinkCommand::SendArp(args)) => link::send_arp(&args),
        Command::Demo(args) => run_demo(&args),
        Command::Crm(CrmCommand::Simulate(args)) => crm::simulate(&args),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("ironbeat: {e:#}");
            exit::for_error(&e)
        }
    }
}

fn run_demo(args: &DemoArgs) -> anyhow::Result<()> {
    let binary = match &args.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe()?,
    };
    crate::demo::run(&crate::demo::DemoOptions {
        binary,
        keepalive_ms: args.keepalive_ms,
        deadtime_ms: args.deadtime_ms,
    })
}
