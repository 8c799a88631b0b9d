//! The `ironbeat` command line: argument parsing and the one place where
//! errors become exit codes.

pub mod admin;
pub mod config_check;
pub mod crm;
pub mod exit;
pub mod fence_agent;
pub mod link;
#[cfg(test)]
mod mutate;
pub mod output;
pub mod run;
pub mod stonith;
pub mod watchdog;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::daemon::protocol::Request;

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
    /// Build a two-node cluster in network namespaces on this machine (a
    /// VIP, fencing through a BMC per node), kill the active node and show
    /// the timeline of detection, fencing, takeover and failback.
    Demo(DemoArgs),
    /// The policy engine: what the cluster manager would decide.
    #[command(subcommand)]
    Crm(CrmCommand),
    /// The cluster as this node's daemon sees it: DC, quorum, nodes, links,
    /// resources, fencing history.
    Status(admin::StatusArgs),
    /// Put this node in standby: its resources move away (hb_standby).
    Standby(admin::SocketArg),
    /// Bring this node back from standby.
    Online(admin::SocketArg),
    /// Bring the resources to this node (hb_takeover).
    Takeover(admin::SocketArg),
    /// Start, stop, move or clean up a resource.
    #[command(subcommand)]
    Resource(admin::ResourceCommand),
    /// Print the cluster's events as they happen (Ctrl-C ends).
    Events(admin::EventsArgs),
    /// Fencing by hand: vouch that a node is powered off.
    #[command(subcommand)]
    Fence(admin::FenceCommand),
    /// The configuration: check it before `ironbeat run` uses it.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The cluster daemon: run this node as a member of its cluster.
    Run(run::RunArgs),
    /// Watchdog devices (self-fencing): list them, feed one, test a reset.
    #[command(subcommand)]
    Watchdog(watchdog::WatchdogCommand),
}

#[derive(Debug, Subcommand)]
enum CrmCommand {
    /// Read a Pacemaker CIB (`--xml`), the native config (`--config`) or
    /// `/etc/ha.d` (`--ha-d`) and print what would happen, as `crm_simulate -S`
    /// prints it: current status, Transition Summary, revised status.
    Simulate(crm::SimulateArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load everything `ironbeat run` would and print a summary or every
    /// error (`--runnable`: also check this machine).
    Check(config_check::CheckArgs),
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
    #[arg(long, default_value_t = 50)]
    keepalive_ms: u64,
    /// deadtime of the demo cluster, in milliseconds.
    #[arg(long, default_value_t = 250)]
    deadtime_ms: u64,
    /// The priority fencing delay of the demo cluster, in milliseconds (the
    /// node that runs no service waits this long before it fences).
    #[arg(long, default_value_t = 1000)]
    fence_delay_ms: u64,
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
        Command::Status(args) => admin::status(&args),
        Command::Standby(args) => admin::request(&args.socket, &Request::Standby),
        Command::Online(args) => admin::request(&args.socket, &Request::Online),
        Command::Takeover(args) => admin::request(&args.socket, &Request::Takeover),
        Command::Resource(command) => admin::resource(&command),
        Command::Events(args) => admin::events(&args),
        Command::Fence(command) => admin::fence(&command),
        Command::Config(ConfigCommand::Check(args)) => config_check::check(&args),
        Command::Run(args) => run::run(&args),
        Command::Watchdog(command) => watchdog::run(&command),
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
        fence_delay_ms: args.fence_delay_ms,
    })
}
