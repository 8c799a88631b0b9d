//! `ironbeat config check [--ha-d DIR | --config FILE] [--node NAME] [--runnable]`.
//!
//! Loads everything `ironbeat run` loads — the link configuration and its
//! keys, the resource model (haresources or the native tables), the fence
//! devices and their password files — and prints a summary, or every error
//! found (`FILE:LINE: what is wrong; how to fix it`), one per loader: a
//! broken ha.cf does not hide a broken haresources.
//!
//! `--runnable` also checks this machine: running as root, the interfaces
//! and serial ports the links name, the ping nodes' names, the agents the
//! resources name, the fence password files, the state directory. Each
//! check prints `ok` or `FAIL` with the fix.
//!
//! Exit codes: 0 valid (and runnable), 3 the configuration is wrong,
//! 7 valid but this machine cannot run it (`cli::exit`).

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::Args;
use ironbeat_agents::{AgentSpec, Backend, ExecEnv};
use ironbeat_crm::model::{Cluster, ResourceKind};

use crate::cli::exit;
use crate::cli::link::{load_config, node_name, path_specs};
use crate::cli::stonith::{self, device::read_password_file, Source};
use crate::config::to_crm::{load_ha_d_crm, load_native_crm};
use crate::config::{Config, FenceAgent, Medium, PasswordSource};
use crate::daemon::log::describe_config;
use crate::daemon::setup::FenceDevices;

/// Where heartbeat's directory is when neither `--ha-d` nor `--config` is given.
pub const DEFAULT_HA_D: &str = "/etc/ha.d";

/// Options of `ironbeat config check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// A classic heartbeat directory holding ha.cf, authkeys and haresources
    /// (the default: /etc/ha.d).
    #[arg(long = "ha-d", value_name = "DIR", conflicts_with = "config")]
    pub ha_d: Option<PathBuf>,
    /// The native configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This node's name (default: `uname -n`, as heartbeat does).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Accept `crc` keys in authkeys (they authenticate nothing).
    #[arg(long)]
    pub allow_insecure_crc: bool,
    /// Also check that this machine can run it: root, interfaces, serial
    /// ports, agents, password files, state directory.
    #[arg(long)]
    pub runnable: bool,
    /// The state directory `--runnable` checks.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/ironbeat")]
    pub state_dir: PathBuf,
}

/// `config check` found problems; the report is already printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailed {
    /// The configuration is wrong (this many errors).
    #[error("the configuration has {0} error(s); fix them and run `ironbeat config check` again")]
    Config(usize),
    /// The configuration is valid but this many checks of this machine failed.
    #[error(
        "the configuration is valid, but {0} check(s) of this machine failed (see FAIL above)"
    )]
    NotRunnable(usize),
}

impl CheckFailed {
    /// The exit code (`cli::exit`).
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckFailed::Config(_) => exit::CONFIG,
            CheckFailed::NotRunnable(_) => exit::NOT_RUNNABLE,
        }
    }
}

/// One check of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineCheck {
    /// What was checked.
    pub what: String,
    /// `None`: ok; else what is wrong and the fix.
    pub failure: Option<String>,
}

/// What `config check` loaded: everything the daemon would.
#[derive(Debug)]
pub struct Loaded {
    /// The link configuration (with keys and fence devices).
    pub config: Option<Config>,
    /// The resource model.
    pub cluster: Option<Cluster>,
    /// Every error, `FILE:LINE: message` where a line is to blame.
    pub errors: Vec<String>,
    /// Things that work but deserve attention.
    pub warnings: Vec<String>,
}

/// Runs `ironbeat config check`.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let node = node_name(args.node.as_deref())?;
    let loaded = load(args, &node);
    let mut out = String::new();
    let source = match (&args.config, &args.ha_d) {
        (Some(file), _) => format!("{} (native)", file.display()),
        (None, Some(dir)) => format!("{} (heartbeat)", dir.display()),
        (None, None) => format!("{DEFAULT_HA_D} (heartbeat)"),
    };
    let _ = writeln!(out, "Checking {source} for node {node}");
    if let Some(config) = &loaded.config {
        for line in describe_config(config) {
            let _ = writeln!(out, "  {line}");
        }
        if let Some(line) = crate::config::describe_watchdog(&config.heartbeat) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(cluster) = &loaded.cluster {
        describe_resources(&mut out, cluster);
    }
    for warning in &loaded.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    for error in &loaded.errors {
        let _ = writeln!(out, "error: {error}");
    }
    let mut failed_checks = 0;
    if args.runnable && loaded.errors.is_empty() {
        let _ = writeln!(out, "This machine:");
        for check in machine_checks(&loaded, args) {
            match &check.failure {
                None => {
                    let _ = writeln!(out, "  ok    {}", check.what);
                }
                Some(why) => {
                    failed_checks += 1;
                    let _ = writeln!(out, "  FAIL  {}: {why}", check.what);
                }
            }
        }
    }
    let verdict = if !loaded.errors.is_empty() {
        Err(CheckFailed::Config(loaded.errors.len()))
    } else if failed_checks > 0 {
        Err(CheckFailed::NotRunnable(failed_checks))
    } else {
        let _ = writeln!(
            out,
            "The configuration is valid{}.",
            if args.runnable {
                " and this machine can run it"
            } else {
                " (add --runnable to check this machine too)"
            }
        );
        Ok(())
    };
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    Ok(verdict?)
}

/// Loads what the daemon loads, collecting every loader's error.
pub fn load(args: &CheckArgs, node: &str) -> Loaded {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let ha_d = args
        .ha_d
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_HA_D));
    let config = match load_config(
        args.config.is_none().then_some(ha_d.as_path()),
        args.config.as_deref(),
        node,
        args.allow_insecure_crc,
    ) {
        Ok(config) => Some(config),
        Err(e) => {
            errors.push(format!("{e:#}"));
            None
        }
    };
    let mut fencing = None;
    if let Some(config) = &config {
        if let Err(e) = path_specs(config) {
            errors.push(format!("{e:#}"));
        }
        fencing = check_fencing(config, args, &ha_d, &mut errors);
        errors.extend(crate::config::watchdog_errors(config, fencing));
        warnings.extend(no_effect(config));
        if config.allow_insecure_crc {
            warnings.push(format!(
                "{}: crc keys are allowed: frames are not authenticated",
                config.authkeys.display()
            ));
        }
    }
    let cluster = match &args.config {
        Some(file) => load_native_crm(file, Some(Path::new(DEFAULT_HA_D))),
        None => load_ha_d_crm(&ha_d),
    };
    let cluster = match cluster {
        Ok(cluster) => Some(cluster),
        Err(e) => {
            // The link loader reports the same ha.cf/native syntax error first.
            let text = e.to_string();
            if !errors.contains(&text) {
                errors.push(text);
            }
            None
        }
    };
    if let Some(cluster) = &cluster {
        for (id, primitive) in primitives(cluster) {
            if primitive.class == "stonith" {
                continue;
            }
            if let Err(e) = AgentSpec::from_primitive(id, primitive) {
                errors.push(format!("{}: {e}", origin(args, &ha_d)));
            }
        }
    }
    if let (Some(config), Some(false)) = (&config, fencing) {
        if !config.heartbeat.stonith_hosts.is_empty() {
            warnings.push(format!(
                "{}: no stonith_host line is usable by {} for a peer (each names its node as \
                 hostname, and * or {} as the first word): fencing is off",
                config.origin.display(),
                config.local_node,
                config.local_node
            ));
        }
        if config.nodes.len() == 2 {
            warnings.push(format!(
                "{}: a two-node cluster without fencing: when the nodes lose each other both \
                 run the resources; configure stonith_host (ha.cf) or a [[fence.device]] \
                 (docs/fencing.md)",
                config.origin.display()
            ));
        }
    }
    Loaded {
        config,
        cluster,
        errors,
        warnings,
    }
}

/// The fence devices, resolved as the daemon resolves them (every peer's
/// device, its password file read), and the ha.cf fencing lines the daemon
/// would pass over: `stonith` (a cluster-glue plugin's own file) and
/// `stonith_host` lines of a type ironbeat does not speak.
/// Returns whether fencing is on (`None` when the devices are in error).
fn check_fencing(
    config: &Config,
    args: &CheckArgs,
    ha_d: &Path,
    errors: &mut Vec<String>,
) -> Option<bool> {
    let source = match &args.config {
        Some(file) => Source::Native {
            file: file.clone(),
            defaulted: false,
        },
        None => Source::HaD(ha_d.to_path_buf()),
    };
    let enabled = match FenceDevices::resolve(config, Some(&source)) {
        Ok(devices) => match devices.enabled(&config.origin) {
            Ok(enabled) => Some(enabled),
            Err(e) => {
                errors.push(format!("{e:#}"));
                None
            }
        },
        Err(e) => {
            errors.push(format!("{e:#}"));
            None
        }
    };
    if let Some(line) = &config.heartbeat.stonith {
        errors.push(format!(
            "{}: `stonith {} {}` runs a cluster-glue plugin with its own configuration file, \
             which ironbeat does not load; write a `stonith_host * ipmi NODE BMC-ADDRESS USER \
             passwd_file=FILE` line per node instead (docs/fencing.md)",
            line.location,
            line.value.kind,
            line.value.config_file.display()
        ));
    }
    for line in &config.heartbeat.stonith_hosts {
        let kind = line.value.kind.as_str();
        if stonith::external::is_external_type(kind) {
            // Run as the installed cluster-glue plugin or fence-agents agent.
            let program = match kind.strip_prefix("external/") {
                Some(plugin) => ironbeat_fence::driver::external::plugin_program(plugin),
                None => ironbeat_fence::driver::external::agent_program(kind),
            };
            if let Err(e) = program {
                errors.push(format!(
                    "{}: stonith_host type `{kind}`: {e}; install the package that provides \
                     it (cluster-glue for external/*, fence-agents for fence_*), or use a type \
                     ironbeat speaks itself",
                    line.location
                ));
            }
        } else if stonith::device_type(kind).is_none() {
            let known: Vec<&str> = stonith::TYPES.iter().map(|t| t.name).collect();
            errors.push(format!(
                "{}: stonith_host type `{}` is not one ironbeat fences with; use {}",
                line.location,
                line.value.kind,
                known.join(", ")
            ));
        }
    }
    enabled
}

/// ha.cf directives this version of the daemon reads but does not act on,
/// so that none is silently ignored.
fn no_effect(config: &Config) -> Vec<String> {
    let o = &config.heartbeat;
    let mut found = Vec::new();
    let mut add = |location: &crate::config::Location, name: &str, why: &str| {
        found.push(format!("{location}: `{name}` {why}"));
    };
    for c in &o.children {
        add(
            &c.location,
            if c.value.failfast {
                "failfast"
            } else {
                "respawn"
            },
            "children are not run by ironbeat; run the program as a systemd service (or a \
             cluster resource) instead",
        );
    }
    for a in &o.apiauth {
        add(
            &a.location,
            "apiauth",
            "has no effect: ironbeat has no client API; the admin socket is root's only",
        );
    }
    if let Some(u) = o.use_logd.as_ref().filter(|u| u.value) {
        add(
            &u.location,
            "use_logd",
            "has no effect: ironbeat logs itself (logfacility, logfile, debugfile, the journal)",
        );
    }
    found
}

/// Where resource errors without a line are reported.
fn origin(args: &CheckArgs, ha_d: &Path) -> String {
    match &args.config {
        Some(file) => file.display().to_string(),
        None => ha_d.join("haresources").display().to_string(),
    }
}

/// Every primitive with its id.
fn primitives(cluster: &Cluster) -> impl Iterator<Item = (&str, &ironbeat_crm::model::Primitive)> {
    cluster.resources.iter().filter_map(|r| match &r.kind {
        ResourceKind::Primitive(p) => Some((r.id.as_str(), p)),
        _ => None,
    })
}

fn describe_resources(out: &mut String, cluster: &Cluster) {
    let count = primitives(cluster)
        .filter(|(_, p)| p.class != "stonith")
        .count();
    if count == 0 {
        let _ = writeln!(out, "  resources: none");
        return;
    }
    let _ = writeln!(out, "  resources: {count}");
    for resource in &cluster.resources {
        let parent = resource
            .parent
            .and_then(|p| cluster.resources.get(p.0))
            .map(|p| format!(" in {}", p.id))
            .unwrap_or_default();
        match &resource.kind {
            ResourceKind::Primitive(p) if p.class != "stonith" => {
                let runs = match AgentSpec::from_primitive(&resource.id, p).map(|s| s.backend()) {
                    Ok(Backend::BuiltinIp) => " (built-in IP address agent)",
                    Ok(Backend::BuiltinFilesystem) => " (built-in Filesystem agent)",
                    _ => "",
                };
                let _ = writeln!(out, "    {}{parent}: {}{runs}", resource.id, p.agent_spec());
            }
            ResourceKind::Group(_) => {
                let _ = writeln!(out, "    group {}{parent}", resource.id);
            }
            ResourceKind::Clone(_) => {
                let _ = writeln!(out, "    clone {}{parent}", resource.id);
            }
            ResourceKind::Primitive(_) => {}
        }
    }
}

/// The checks of this machine, in order.
pub fn machine_checks(loaded: &Loaded, args: &CheckArgs) -> Vec<MachineCheck> {
    let mut checks = Vec::new();
    let root = nix::unistd::geteuid().is_root();
    checks.push(MachineCheck {
        what: "running as root".to_string(),
        failure: (!root).then(|| {
            "ironbeat run needs root (addresses, mounts, real-time scheduling, the admin \
             socket); run this check with sudo"
                .to_string()
        }),
    });
    if let Some(config) = &loaded.config {
        checks.push(MachineCheck {
            what: format!("this node {} is in the node list", config.local_node),
            failure: (!config.nodes.contains(&config.local_node)).then(|| {
                "add it, or pass --node NAME if `uname -n` is not its cluster name".to_string()
            }),
        });
        for link in &config.links {
            checks.push(check_link(&link.medium, &link.location.to_string()));
        }
        let o = &config.heartbeat;
        if !o.ping.is_empty() || !o.ping_groups.is_empty() {
            checks.push(MachineCheck {
                what: "every ping node resolves to an address".to_string(),
                failure: crate::daemon::setup::ping_config(config, 0)
                    .err()
                    .map(|e| e.to_string()),
            });
        }
        if let Some(device) = &o.watchdog {
            checks.push(crate::cli::watchdog::machine_check(
                &device.value,
                &device.location,
            ));
        }
        for device in &config.fencing.devices {
            let FenceAgent::Ipmi(ipmi) = &device.agent else {
                continue;
            };
            if let PasswordSource::File(path) = &ipmi.password {
                checks.push(MachineCheck {
                    what: format!(
                        "password file {} of fence device {}",
                        path.display(),
                        device.name
                    ),
                    failure: read_password_file(path).err().map(|p| p.message),
                });
            }
        }
    }
    if let Some(cluster) = &loaded.cluster {
        let env = ExecEnv::default();
        for (id, primitive) in primitives(cluster) {
            if primitive.class == "stonith" {
                continue;
            }
            if let Ok(spec) = AgentSpec::from_primitive(id, primitive) {
                checks.push(check_agent(&spec, &env));
            }
        }
    }
    if let Some(config) = &loaded.config {
        let options = &config.heartbeat;
        for file in [&options.logfile, &options.debugfile].into_iter().flatten() {
            checks.push(check_log_file(&file.value, &file.location.to_string()));
        }
    }
    checks.push(check_state_dir(&args.state_dir));
    checks
}

fn check_link(medium: &Medium, location: &str) -> MachineCheck {
    match medium {
        Medium::Serial { tty, .. } => {
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
                .open(tty);
            MachineCheck {
                what: format!("serial port {} ({location}) opens", tty.display()),
                failure: opened.err().map(|e| match e.kind() {
                    io::ErrorKind::NotFound => format!(
                        "{e}: no such device; check the cable's port (dmesg | grep tty) and \
                         fix the serial line"
                    ),
                    io::ErrorKind::PermissionDenied => format!("{e}: run as root"),
                    _ => format!("{e}: is another program (getty, heartbeat) holding it?"),
                }),
            }
        }
        other => {
            let iface = other.iface().unwrap_or_default();
            MachineCheck {
                what: format!("interface {iface} ({location}) exists and is up"),
                failure: interface_problem(iface),
            }
        }
    }
}

/// `None` when the interface exists and is administratively up.
fn interface_problem(iface: &str) -> Option<String> {
    let dir = Path::new("/sys/class/net").join(iface);
    if !dir.exists() {
        let known: Vec<String> = fs::read_dir("/sys/class/net")
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut known = known;
        known.sort();
        return Some(format!(
            "no interface {iface} on this machine (it has {}); fix the link's interface name",
            known.join(", ")
        ));
    }
    let flags = fs::read_to_string(dir.join("flags")).unwrap_or_default();
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap_or(0);
    // IFF_UP
    (flags & 0x1 == 0).then(|| format!("{iface} is down; run ip link set {iface} up"))
}

fn check_agent(spec: &AgentSpec, env: &ExecEnv) -> MachineCheck {
    let what = |path: &Path| format!("resource {} runs {}", spec.id, path.display());
    let script = |path: PathBuf| MachineCheck {
        what: what(&path),
        failure: executable_problem(&path),
    };
    match spec.backend() {
        Backend::BuiltinIp | Backend::BuiltinFilesystem => MachineCheck {
            what: format!(
                "resource {} runs a built-in agent ({})",
                spec.id,
                spec.name()
            ),
            failure: None,
        },
        Backend::OcfScript => script(ironbeat_agents::ocf::script_path(spec, env)),
        Backend::Lsb => script(env.init_dir.join(&spec.agent)),
        Backend::Heartbeat => match ironbeat_agents::legacy::script_path(spec, env) {
            Some(path) => script(path),
            None => MachineCheck {
                what: format!("resource {} runs {}", spec.id, spec.name()),
                failure: Some(format!(
                    "no script {} in {} or {}; install it there (heartbeat looked in the same \
                     places)",
                    spec.agent,
                    env.heartbeat_resource_dir.display(),
                    env.init_dir.display()
                )),
            },
        },
        Backend::Systemd => MachineCheck {
            what: format!("resource {} runs systemd unit {}", spec.id, spec.agent),
            failure: (!ironbeat_agents::systemd::is_running())
                .then(|| ironbeat_agents::systemd::NOT_RUNNING_REASON.to_string()),
        },
    }
}

fn executable_problem(path: &Path) -> Option<String> {
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(
            "not installed; install the package that provides it (Debian: resource-agents \
             for /usr/lib/ocf/resource.d/heartbeat) or fix the agent's name"
                .to_string(),
        ),
        Err(e) => Some(format!("{e}")),
        Ok(m) if !m.is_file() => Some("is not a regular file".to_string()),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(format!(
            "is not executable; run chmod +x {}",
            path.display()
        )),
        Ok(_) => None,
    }
}

fn check_state_dir(dir: &Path) -> MachineCheck {
    let what = format!("state directory {} is writable", dir.display());
    // The daemon creates it when missing: then its nearest existing parent must be writable.
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let failure = writable_dir(existing)
        .err()
        .map(|e| format!("{e} (point --state-dir, and the daemon's, at a writable directory)"));
    MachineCheck { what, failure }
}

/// A log file can be appended to (or created, when missing).
fn check_log_file(path: &Path, location: &str) -> MachineCheck {
    let what = format!("log file {} ({location}) is writable", path.display());
    let failure = if path.exists() {
        OpenOptions::new()
            .append(true)
            .open(path)
            .err()
            .map(|e| format!("{e}; run as root, or choose a file the daemon may write"))
    } else {
        match path.parent().filter(|p| p.is_dir()) {
            None => Some(format!(
                "its directory does not exist; create {} or choose another file",
                path.parent().unwrap_or(Path::new("/")).display()
            )),
            Some(dir) => writable_dir(dir).err(),
        }
    };
    MachineCheck { what, failure }
}

/// Creates and removes a probe file in `dir`.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".ironbeat-check-{}", std::process::id()));
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot write in {}: {e}; run as root, or choose a writable place",
            dir.display()
        )),
    }
}
