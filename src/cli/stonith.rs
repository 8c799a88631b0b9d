//! `stonith`: cluster-glue's command line, for IPMI over LAN.
//!
//! ```text
//! stonith [-svhdV] -L
//! stonith [-svh] -t TYPE -n
//! stonith [-svh] -t TYPE -m
//! stonith [-svh] -t TYPE {-p PARAMS | -F FILE | -E | name=value...} [-c N] -lS
//! stonith [-svh] -t TYPE {-p PARAMS | -F FILE | -E | name=value...} [-c N] -T {reset|on|off} NODE
//! stonith [-sv] [-t ipmi] [--config FILE | --ha-d DIR] [--node SELF] -H NODE {reset|on|off|status}
//! ```
//!
//! The types are `ipmi` (ours), and cluster-glue's `external/ipmi` and
//! `ipmilan`, whose parameter names, positional `-p` order and defaults are
//! kept so existing command lines, `-F` files and ha.cf `stonith_host` lines
//! work by changing the binary only. Every type accepts every parameter name
//! (`ipaddr` or `ip`, `userid` or `login`, `passwd` or `password` …).
//!
//! What differs from cluster-glue, on purpose:
//! - `reset` is off, *verify off*, on (a node is never reported fenced before
//!   its power was seen off); `reset_method=power_cycle|hard_reset` asks for
//!   the single chassis command instead (with their literal meanings:
//!   cluster-glue's ipmilan swapped them).
//! - one deadline per request (`timeout=`): a silent BMC fails in seconds,
//!   not 20 s (external/ipmi) or never (ipmilan).
//! - unknown parameter names are errors, not ignored.
//! - `-H NODE ACTION` finds NODE's BMC in the cluster configuration: the
//!   native file's `[[fence.device]]` tables (`--config FILE`), or ha.cf's
//!   `stonith_host` lines (`--ha-d DIR`); with neither,
//!   `/etc/ironbeat/ironbeat.toml` if it exists, else `/etc/ha.d`.
//!
//! Results go to the exit code (cluster-glue's `S_*` values, chosen in
//! [`crate::cli::exit`]); messages go to stderr as `info: …` / `ERROR: …`;
//! `-l`, `-n`, `-m`, `-L` and the short form's `status` print on stdout.
//! Passwords never appear in any output.

pub mod agent_input;
pub mod apc;
pub mod args;
pub mod device;
pub mod external;
pub mod redfish;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use ironbeat_fence::power::{Action, PowerState};

use crate::cli::exit::{self, stonith as codes, Fault};
use crate::config::{
    FenceAgent, FenceDevice, IpmiAuth, IpmiDevice, IpmiInterface, IpmiPrivilege, PasswordSource,
    RebootMethod, DEFAULT_NATIVE_CONFIG,
};
use args::{Argument, Item, Spec};
use device::{
    parse_bool, parse_cipher, parse_port, read_password_file, xml_escape, Bmc, Privilege, Problem,
    Secret, Target, DEFAULT_PORT,
};

/// Where `-H` looks for ha.cf by default.
pub const DEFAULT_HA_D: &str = "/etc/ha.d";

/// One parameter every device type accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The node the BMC powers.
    Hostname,
    /// The BMC's address.
    Ipaddr,
    /// The BMC's UDP port.
    Ipport,
    /// The BMC user.
    Userid,
    /// The password itself.
    Passwd,
    /// A 0600 file holding the password.
    PasswdFile,
    /// external/ipmi's `param|env|file`.
    PasswdMethod,
    /// `lan` or `lanplus`, with ipmitool's `-C`, `-L`, `-A`, `-p`.
    Interface,
    /// RMCP+ cipher suite.
    Cipher,
    /// Session privilege.
    Priv,
    /// IPMI 1.5 authentication type.
    Auth,
    /// What `reset` does.
    ResetMethod,
    /// Overall deadline of one request.
    Timeout,
    /// Consent to cipher suite 0.
    AllowCipherZero,
    /// external/ipmi's path of ipmitool (accepted, unused).
    Ipmitool,
    /// meatware's nodes, powered off by hand.
    Hostlist,
    /// Redfish: the ComputerSystem's URI.
    SystemsUri,
    /// Redfish: a CA file (PEM) the BMC certificate must chain to.
    SslCa,
    /// Redfish: the BMC certificate's SHA-256 fingerprint (pinning).
    SslFingerprint,
    /// Redfish: accept any certificate.
    SslInsecure,
    /// Redfish: HTTPS (yes, the default) or plain HTTP (no).
    Ssl,
    /// APC: the SNMP community (v1/v2c).
    Community,
    /// APC: the SNMP version (1, 2c, 3).
    SnmpVersion,
    /// APC: a 0600 file with the community or the SNMPv3 user and passphrases.
    CredentialsFile,
    /// APC: the outlet (number or name).
    Plug,
    /// APC: the table set instead of detection.
    ApcProfile,
    /// APC, SNMPv3: the authentication protocol.
    SnmpAuthProt,
    /// APC, SNMPv3: the privacy protocol.
    SnmpPrivProt,
    /// APC, SNMPv3: the security level.
    SnmpSecLevel,
    /// APC, SNMPv3: the privacy passphrase.
    SnmpPrivPasswd,
}

/// A parameter's names and documentation.
#[derive(Debug)]
pub struct ParamInfo {
    /// Which parameter.
    pub key: Key,
    /// The name `-n` of type `ipmi` shows.
    pub name: &'static str,
    /// Other names accepted for it (cluster-glue's and fence-agents').
    pub aliases: &'static [&'static str],
    /// One line.
    pub shortdesc: &'static str,
    /// The full story.
    pub longdesc: &'static str,
    /// Whether every device has its own value (metadata `unique`).
    pub unique: bool,
}

/// Every parameter, in `-n` order of type `ipmi`.
pub const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        key: Key::Hostname,
        name: "hostname",
        aliases: &[],
        shortdesc: "Hostname",
        longdesc: "The node this BMC powers, as the cluster names it (uname -n).",
        unique: true,
    },
    ParamInfo {
        key: Key::Ipaddr,
        name: "ipaddr",
        aliases: &["ip", "pduip"],
        shortdesc: "IP Address",
        longdesc: "The BMC's IP address or host name.",
        unique: true,
    },
    ParamInfo {
        key: Key::Userid,
        name: "userid",
        aliases: &["login", "username"],
        shortdesc: "Login",
        longdesc: "The BMC user name (at most 16 bytes; may be empty for the anonymous user).",
        unique: false,
    },
    ParamInfo {
        key: Key::Passwd,
        name: "passwd",
        aliases: &["password"],
        shortdesc: "Password",
        longdesc: "The BMC password. Prefer passwd_file: a command line is visible to every \
                   user in ps, and ha.cf is usually world-readable.",
        unique: false,
    },
    ParamInfo {
        key: Key::Interface,
        name: "interface",
        aliases: &[],
        shortdesc: "IPMI interface",
        longdesc: "lan (IPMI 1.5) or lanplus (IPMI 2.0 RMCP+), optionally followed by \
                   ipmitool's -C SUITE, -L PRIVILEGE, -A AUTH or -p PORT, as in \
                   \"lanplus -C 3\". Default: lanplus for type ipmi, lan for external/ipmi \
                   and ipmilan (their behaviour).",
        unique: false,
    },
    ParamInfo {
        key: Key::Ipport,
        name: "ipport",
        aliases: &["port"],
        shortdesc: "UDP port",
        longdesc: "The BMC's UDP port (default 623).",
        unique: false,
    },
    ParamInfo {
        key: Key::Cipher,
        name: "cipher",
        aliases: &[],
        shortdesc: "RMCP+ cipher suite",
        longdesc: "17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128), 3 (RAKP-HMAC-SHA1, \
                   HMAC-SHA1-96, AES-CBC-128), 2 or 1. Unset: try 17, then 3, falling back \
                   only when the BMC says a suite is unsupported. A configured suite is used \
                   directly, with no cipher-suite query. 0 (no authentication) only with \
                   allow_cipher_zero=yes. Implies interface lanplus.",
        unique: false,
    },
    ParamInfo {
        key: Key::Priv,
        name: "priv",
        aliases: &["privlvl"],
        shortdesc: "The privilege level of the user",
        longdesc: "operator or administrator (default administrator), raised with Set \
                   Session Privilege Level after login.",
        unique: false,
    },
    ParamInfo {
        key: Key::Auth,
        name: "auth",
        aliases: &[],
        shortdesc: "IPMI 1.5 authentication type",
        longdesc: "md5, password (also: straight) or none; default: the best the BMC offers. \
                   Implies interface lan.",
        unique: false,
    },
    ParamInfo {
        key: Key::PasswdFile,
        name: "passwd_file",
        aliases: &["password_file"],
        shortdesc: "Password file",
        longdesc: "A file only its owner may read (mode 0600) whose first line is the BMC \
                   password.",
        unique: false,
    },
    ParamInfo {
        key: Key::ResetMethod,
        name: "reset_method",
        aliases: &["method"],
        shortdesc: "What reset does",
        longdesc: "onoff (default): power off, verify off, power on. power_cycle: one \
                   chassis power cycle (off is never observed). hard_reset: a chassis hard \
                   reset (the node never loses power). cluster-glue's ipmilan sent the one \
                   for the other; here they mean what they say.",
        unique: false,
    },
    ParamInfo {
        key: Key::Timeout,
        name: "timeout",
        aliases: &[],
        shortdesc: "Deadline of one request",
        longdesc: "How long one request may take, all steps and retransmits included: \
                   seconds (10) or with a unit (500ms, 10s). Default 20s; a BMC silent for \
                   5s (or the whole timeout, if shorter) is declared unreachable.",
        unique: false,
    },
    ParamInfo {
        key: Key::AllowCipherZero,
        name: "allow_cipher_zero",
        aliases: &[],
        shortdesc: "Allow cipher suite 0",
        longdesc: "yes lets cipher=0 be used: no authentication, the BMC accepts any \
                   password. Only for BMCs that offer nothing else.",
        unique: false,
    },
    ParamInfo {
        key: Key::PasswdMethod,
        name: "passwd_method",
        aliases: &[],
        shortdesc: "Method for passing passwd parameter",
        longdesc: "external/ipmi's: param or env (passwd is the password), file (passwd \
                   names a password file, checked like passwd_file).",
        unique: false,
    },
    ParamInfo {
        key: Key::Ipmitool,
        name: "ipmitool",
        aliases: &[],
        shortdesc: "IPMI command (ipmitool)",
        longdesc: "external/ipmi's path of ipmitool. Accepted for existing configurations \
                   and unused: ironbeat speaks IPMI itself.",
        unique: false,
    },
    ParamInfo {
        key: Key::Hostlist,
        name: "hostlist",
        aliases: &[],
        shortdesc: "Nodes fenced by hand",
        longdesc: "meatware's list of the nodes an operator powers off by hand, separated by \
                   spaces or commas. The cluster waits until `ironbeat fence confirm NODE`.",
        unique: false,
    },
    ParamInfo {
        key: Key::SystemsUri,
        name: "systems_uri",
        aliases: &["systems-uri"],
        shortdesc: "Redfish systems URI",
        longdesc: "Redfish types: the ComputerSystem to power, e.g. /redfish/v1/Systems/1. \
                   Defaults: /redfish/v1/Systems/1 (ilo), \
                   /redfish/v1/Systems/System.Embedded.1 (idrac); type redfish discovers the \
                   only system and refuses to guess among several.",
        unique: true,
    },
    ParamInfo {
        key: Key::SslCa,
        name: "ssl_ca",
        aliases: &["ssl-ca"],
        shortdesc: "CA file",
        longdesc: "Redfish types: a PEM file of the CA that signed the BMC's certificate \
                   (default: the system CA bundle).",
        unique: false,
    },
    ParamInfo {
        key: Key::SslFingerprint,
        name: "ssl_fingerprint",
        aliases: &["ssl-fingerprint"],
        shortdesc: "Certificate SHA-256 fingerprint",
        longdesc: "Redfish types: accept exactly the certificate with this SHA-256 \
                   fingerprint (openssl x509 -noout -fingerprint -sha256). For factory iLO \
                   certificates, which have no subjectAltName and fail name verification.",
        unique: true,
    },
    ParamInfo {
        key: Key::SslInsecure,
        name: "ssl_insecure",
        aliases: &["ssl-insecure"],
        shortdesc: "Do not verify the certificate",
        longdesc: "Redfish types: yes accepts any certificate (encrypted, not authenticated), \
                   as fence_redfish --ssl-insecure.",
        unique: false,
    },
    ParamInfo {
        key: Key::Ssl,
        name: "ssl",
        aliases: &[],
        shortdesc: "Use HTTPS",
        longdesc: "Redfish types: yes (default) or no, plain HTTP on port 80 (emulators only; \
                   real BMCs redirect to HTTPS).",
        unique: false,
    },
    ParamInfo {
        key: Key::Community,
        name: "community",
        aliases: &[],
        shortdesc: "SNMP community",
        longdesc: "APC types: the SNMP v1/v2c community (APC default read-write: private). Prefer credentials_file.",
        unique: false,
    },
    ParamInfo {
        key: Key::SnmpVersion,
        name: "snmp_version",
        aliases: &["snmp-version"],
        shortdesc: "SNMP version",
        longdesc: "APC types: 1 (default), 2c or 3.",
        unique: false,
    },
    ParamInfo {
        key: Key::CredentialsFile,
        name: "credentials_file",
        aliases: &["credentials-file"],
        shortdesc: "SNMP credentials file",
        longdesc: "APC types: a file only root can read (mode 0600) with community = ... or user = ..., auth_password = ..., priv_password = ... lines.",
        unique: false,
    },
    ParamInfo {
        key: Key::Plug,
        name: "plug",
        aliases: &["outlet"],
        shortdesc: "Outlet",
        longdesc: "APC types: the outlet number, or its name (every outlet with the name is switched: a dual-PSU node). Default: the outlets named like the node.",
        unique: true,
    },
    ParamInfo {
        key: Key::ApcProfile,
        name: "apc_profile",
        aliases: &["apc-profile"],
        shortdesc: "APC table set",
        longdesc: "APC types: rpdu (AP79xx), rpdu2 (AP8xxx) or masterswitch (AP92xx); default: detected by sysObjectID.",
        unique: false,
    },
    ParamInfo {
        key: Key::SnmpAuthProt,
        name: "snmp_auth_prot",
        aliases: &["snmp-auth-prot"],
        shortdesc: "SNMPv3 authentication protocol",
        longdesc: "APC types, SNMPv3: MD5, SHA (default), SHA-224, SHA-256, SHA-384, SHA-512.",
        unique: false,
    },
    ParamInfo {
        key: Key::SnmpPrivProt,
        name: "snmp_priv_prot",
        aliases: &["snmp-priv-prot"],
        shortdesc: "SNMPv3 privacy protocol",
        longdesc: "APC types, SNMPv3: DES, AES (default), AES-192, AES-256.",
        unique: false,
    },
    ParamInfo {
        key: Key::SnmpSecLevel,
        name: "snmp_sec_level",
        aliases: &["snmp-sec-level"],
        shortdesc: "SNMPv3 security level",
        longdesc: "APC types, SNMPv3: noAuthNoPriv, authNoPriv or authPriv (default).",
        unique: false,
    },
    ParamInfo {
        key: Key::SnmpPrivPasswd,
        name: "snmp_priv_passwd",
        aliases: &["snmp-priv-passwd"],
        shortdesc: "SNMPv3 privacy passphrase",
        longdesc: "APC types, SNMPv3: the privacy passphrase (userid is the user, passwd the authentication passphrase). Prefer credentials_file.",
        unique: false,
    },
];

/// One device type of `-t`.
#[derive(Debug)]
pub struct DeviceType {
    /// The `-t` name.
    pub name: &'static str,
    /// `-n` output and the positional order of `-p`, `-F` and ha.cf.
    pub names: &'static [&'static str],
    /// One line.
    pub shortdesc: &'static str,
    /// The device description of `-h` and `-m`.
    pub description: &'static str,
    /// The interface when none is configured (IPMI types).
    pub default_lanplus: bool,
    /// Which protocol serves the type (which parser its parameters go to).
    pub protocol: Protocol,
}

/// The protocol behind a device type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// IPMI over LAN, spoken natively.
    Ipmi,
    /// Fencing by hand (cluster-glue's meatware): an operator powers the
    /// node off and confirms it with `ironbeat fence confirm NODE`.
    Manual,
    /// Redfish over HTTPS (iLO, iDRAC, any DMTF Redfish BMC).
    Redfish,
    /// APC switched PDUs over SNMP.
    Apc,
}

/// The parameters of the Redfish types, in `-n` order.
const REDFISH_NAMES: &[&str] = &[
    "hostname",
    "ipaddr",
    "userid",
    "passwd",
    "ipport",
    "systems_uri",
    "ssl_ca",
    "ssl_fingerprint",
    "ssl_insecure",
    "ssl",
    "auth",
    "passwd_file",
    "reset_method",
    "timeout",
];

/// A Redfish type's description: what is particular to it, then what every
/// Redfish type does.
macro_rules! redfish_description {
    ($particular:literal) => {
        concat!(
            $particular,
            " ComputerSystem.Reset over HTTPS (rustls), the certificate verified, pinned \
             (ssl_fingerprint) or, when asked, not (ssl_insecure). off is ForceOff, reported \
             only once PowerState is seen Off; reset is off, verify off, on. Every HTTP status \
             checked, one deadline per request, one connection."
        )
    };
}

/// The types `-L` lists.
pub const TYPES: &[DeviceType] = &[
    DeviceType {
        name: "ipmi",
        names: &[
            "hostname",
            "ipaddr",
            "userid",
            "passwd",
            "interface",
            "ipport",
            "cipher",
            "priv",
            "auth",
            "passwd_file",
            "reset_method",
            "timeout",
            "allow_cipher_zero",
        ],
        shortdesc: "IPMI over LAN (ironbeat)",
        description: "IPMI over LAN, spoken natively: IPMI 1.5 (MD5, password) and IPMI 2.0 \
                      RMCP+ (cipher suites 17, 3, 2, 1). A node is reported off only after \
                      its power is seen off: reset is off, verify off, on. One deadline per \
                      request; sessions are always closed. Accepts the parameter names of \
                      external/ipmi and ipmilan.",
        default_lanplus: true,
        protocol: Protocol::Ipmi,
    },
    DeviceType {
        name: "external/ipmi",
        names: &["hostname", "ipaddr", "userid", "passwd", "interface"],
        shortdesc: "IPMI STONITH device",
        description: "cluster-glue's external/ipmi parameters, served by ironbeat's native \
                      IPMI client (no ipmitool). interface defaults to lan, as it did; \
                      reset is off, verify off, on.",
        default_lanplus: false,
        protocol: Protocol::Ipmi,
    },
    DeviceType {
        name: "ipmilan",
        names: &[
            "hostname",
            "ipaddr",
            "port",
            "auth",
            "priv",
            "login",
            "password",
            "reset_method",
        ],
        shortdesc: "IPMI Over LAN",
        description: "cluster-glue's ipmilan parameters, served by ironbeat's native IPMI \
                      client. IPMI 1.5 unless interface=lanplus; unlike cluster-glue's \
                      plugin it gives up at its deadline and reads the real power state.",
        default_lanplus: false,
        protocol: Protocol::Ipmi,
    },
    DeviceType {
        name: "meatware",
        names: &["hostlist"],
        shortdesc: "Manual fencing (an operator confirms)",
        description: "Fencing by hand, as cluster-glue's meatware: when a node of hostlist must \
                      be fenced the cluster logs what to do and waits until an operator has \
                      powered it off and run `ironbeat fence confirm NODE` (cluster-glue's \
                      meatclient -c NODE). Nothing is verified by a device: the operator \
                      vouches for it. `stonith -T` cannot run it and says so.",
        default_lanplus: false,
        protocol: Protocol::Manual,
    },
    DeviceType {
        name: "redfish",
        names: REDFISH_NAMES,
        shortdesc: "Redfish BMC (ironbeat)",
        description: redfish_description!("Any DMTF Redfish BMC: discovers the only system (several: set systems_uri), HTTP Basic auth unless auth=session."),
        default_lanplus: false,
        protocol: Protocol::Redfish,
    },
    DeviceType {
        name: "ilo",
        names: REDFISH_NAMES,
        shortdesc: "HPE iLO 4/5/6 over Redfish (ironbeat)",
        description: redfish_description!("HPE iLO 4 (FW 2.30+), 5 and 6: systems_uri /redfish/v1/Systems/1, a Redfish session deleted afterwards."),
        default_lanplus: false,
        protocol: Protocol::Redfish,
    },
    DeviceType {
        name: "idrac",
        names: REDFISH_NAMES,
        shortdesc: "Dell iDRAC 7/8/9 over Redfish (ironbeat)",
        description: redfish_description!("Dell iDRAC 7/8 (FW 2.40.40.40+) and 9: systems_uri /redfish/v1/Systems/System.Embedded.1, a Redfish session deleted afterwards."),
        default_lanplus: false,
        protocol: Protocol::Redfish,
    },
    DeviceType {
        name: "apc",
        names: &[
            "hostname",
            "ipaddr",
            "ipport",
            "credentials_file",
            "snmp_version",
            "plug",
            "community",
            "userid",
            "passwd",
            "snmp_sec_level",
            "snmp_auth_prot",
            "snmp_priv_prot",
            "snmp_priv_passwd",
            "apc_profile",
            "timeout",
        ],
        shortdesc: "APC switched PDU over SNMP (ironbeat)",
        description: "APC Switched Rack PDU (AP79xx), Rack PDU 2G (AP8xxx) and MasterSwitch \
                      (AP92xx), detected by sysObjectID, over SNMP v1, v2c or v3 (SHA/AES, \
                      MD5/DES). The node's outlets are those named like it (a dual-PSU node's \
                      two are both switched), or plug. off is reported only once every outlet \
                      is seen off with no command pending; reset is off, verify off, on. One \
                      deadline per request; a wrong community is reported as no response.",
        default_lanplus: false,
        protocol: Protocol::Apc,
    },
    DeviceType {
        name: "apcmastersnmp",
        names: &["ipaddr", "port", "community"],
        shortdesc: "APC MasterSwitch (SNMP)",
        description: "cluster-glue's apcmastersnmp parameters, served by ironbeat's SNMP client: \
                      the hosts are the outlet names (lower-cased); every outlet named like the \
                      node is switched and read back. Unlike cluster-glue's plugin, port is \
                      honoured and reset does not wait for RebootDuration (off, verify, on).",
        default_lanplus: false,
        protocol: Protocol::Apc,
    },
    DeviceType {
        name: "external/rackpdu",
        names: &["hostlist", "pduip", "community"],
        shortdesc: "APC Switched Rack PDU",
        description: "cluster-glue's external/rackpdu parameters (hostlist, pduip, community), \
                      served by ironbeat's SNMP client: hostlist AUTO takes the outlet names \
                      (spaces as _). Unlike the plugin, every change is read back and status \
                      asks the PDU, not ping.",
        default_lanplus: false,
        protocol: Protocol::Apc,
    },
];

/// Finds a device type by its `-t` name.
pub fn device_type(name: &str) -> Option<&'static DeviceType> {
    TYPES.iter().find(|t| t.name == name)
}

/// The parameter a name (canonical or alias) stands for.
pub fn param_by_name(name: &str) -> Option<&'static ParamInfo> {
    PARAMS
        .iter()
        .find(|p| p.name == name || p.aliases.contains(&name))
}

fn param(key: Key) -> &'static ParamInfo {
    // PARAMS has one entry per Key (checked by the test `every_key_documented`).
    PARAMS.iter().find(|p| p.key == key).unwrap_or(&PARAMS[0])
}

/// Raw parameters as given, before their values are checked.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: Vec<(Key, String, String)>,
}

impl Params {
    /// Adds `name=value` from `origin`; unknown or repeated names are errors.
    pub fn insert(&mut self, name: &str, value: &str, origin: &str) -> Result<(), Problem> {
        let Some(info) = param_by_name(name) else {
            return Err(Problem::config(format!(
                "{origin}: unknown parameter `{name}`; valid names are {}",
                PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            )));
        };
        if let Some((_, _, first)) = self.values.iter().find(|(k, _, _)| *k == info.key) {
            return Err(Problem::config(format!(
                "{origin}: parameter {} is given twice (first in {first}); keep one",
                info.name
            )));
        }
        self.values
            .push((info.key, value.to_string(), origin.to_string()));
        Ok(())
    }

    /// The value of a parameter, if given.
    pub fn get(&self, key: Key) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, _)| v.as_str())
    }

    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Parses cluster-glue's `-p` / `-F` / `stonith_host` words: values in
    /// the type's `-n` order, then (or instead) `name=value` words whose name
    /// is a parameter name. Fewer values than names is fine (missing ones are
    /// reported by name when needed).
    pub fn from_words(ty: &DeviceType, text: &str, origin: &str) -> Result<Params, Problem> {
        let mut params = Params::default();
        if ty.protocol == Protocol::Manual && !text.contains('=') {
            // meatware takes its whole -p text as the host list, as
            // cluster-glue's plugin did (`stonith_host * meatware node1 node2`).
            if !text.trim().is_empty() {
                params.insert("hostlist", text.trim(), origin)?;
            }
            return Ok(params);
        }
        let mut position = 0;
        let mut named_seen = false;
        for word in text.split_whitespace() {
            if let Some((name, value)) = word.split_once('=') {
                if param_by_name(name).is_some() {
                    params.insert(name, value, origin)?;
                    named_seen = true;
                    continue;
                }
            }
            if named_seen {
                // The word itself is not shown: it may be a password.
                return Err(Problem::config(format!(
                    "{origin}: a value without a name follows name=value words; give values \
                     in -n order first ({}), or name every value",
                    ty.names.join(" ")
                )));
            }
            let Some(name) = ty.names.get(position) else {
                return Err(Problem::config(format!(
                    "{origin}: more values than {} takes ({}); values go in this order: {}",
                    ty.name,
                    ty.names.len(),
                    ty.names.join(" ")
                )));
            };
            params.insert(name, word, &format!("{origin} (value {})", position + 1))?;
            position += 1;
        }
        Ok(params)
    }

    /// Reads `-E`: an environment variable per name of the type, and our
    /// own parameter names.
    pub fn from_env(ty: &DeviceType) -> Result<Params, Problem> {
        let mut params = Params::default();
        let names = ty
            .names
            .iter()
            .copied()
            .chain(PARAMS.iter().map(|p| p.name));
        let mut seen: Vec<Key> = Vec::new();
        for name in names {
            let Some(info) = param_by_name(name) else {
                continue;
            };
            if seen.contains(&info.key) {
                continue;
            }
            if let Some(value) = std::env::var_os(name) {
                let value = value.into_string().map_err(|_| {
                    Problem::config(format!("environment variable {name} is not UTF-8 text"))
                })?;
                params.insert(name, &value, &format!("environment variable {name}"))?;
                seen.push(info.key);
            }
        }
        Ok(params)
    }
}

/// A device, checked and ready to be asked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The node it powers, if configured.
    pub hostname: Option<String>,
    /// The device and how to reach it.
    pub target: Target,
    /// What `reset` does.
    pub reset: RebootMethod,
    /// Parameters accepted for compatibility that change nothing (said with `-v`).
    pub notes: Vec<String>,
}

/// What an `interface` value holds.
#[derive(Debug, Default, PartialEq, Eq)]
struct InterfaceWords {
    lanplus: bool,
    cipher: Option<u8>,
    privilege: Option<IpmiPrivilege>,
    auth: Option<IpmiAuth>,
    port: Option<u16>,
}

fn parse_interface(text: &str) -> Result<InterfaceWords, Problem> {
    let mut words = text.split_whitespace();
    let mut parsed = InterfaceWords {
        lanplus: match words.next() {
            Some("lan") => false,
            Some("lanplus") => true,
            Some(other) => {
                return Err(Problem::invalid(format!(
                    "interface `{other}` is not an IPMI LAN interface; use lan (IPMI 1.5) or \
                     lanplus (IPMI 2.0), e.g. interface=\"lanplus -C 3\""
                )))
            }
            None => return Err(Problem::invalid("interface is empty; use lan or lanplus")),
        },
        ..InterfaceWords::default()
    };
    while let Some(option) = words.next() {
        let mut value = || {
            words.next().ok_or_else(|| {
                Problem::invalid(format!("interface: ipmitool option {option} needs a value"))
            })
        };
        match option {
            "-C" => parsed.cipher = Some(parse_cipher(value()?)?),
            "-L" => {
                parsed.privilege = Some(IpmiPrivilege::parse(value()?).map_err(Problem::invalid)?)
            }
            "-A" => parsed.auth = Some(IpmiAuth::parse(value()?).map_err(Problem::invalid)?),
            "-p" => parsed.port = Some(parse_port(value()?)?),
            other => {
                return Err(Problem::invalid(format!(
                    "interface: `{other}` is an ipmitool option ironbeat does not take; only \
                     -C SUITE, -L PRIVILEGE, -A AUTH and -p PORT are understood there (or use \
                     the parameters cipher, priv, auth, ipport)"
                )))
            }
        }
    }
    if parsed.lanplus && parsed.auth.is_some() {
        return Err(Problem::invalid(
            "interface: -A (IPMI 1.5 authentication) does not apply to lanplus",
        ));
    }
    if !parsed.lanplus && parsed.cipher.is_some() {
        return Err(Problem::invalid(
            "interface: -C (cipher suite) applies to lanplus, not lan",
        ));
    }
    Ok(parsed)
}

/// Two sources of one setting must agree.
fn agree<T: PartialEq + Copy>(
    a: Option<T>,
    b: Option<T>,
    what: &str,
) -> Result<Option<T>, Problem> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(Problem::invalid(format!(
            "{what} is given twice with different values (in interface and as a parameter); \
             keep one"
        ))),
        (x, y) => Ok(x.or(y)),
    }
}

impl Settings {
    /// Checks the parameters of a device of type `ty` (`-p`, `-F`, `-E`,
    /// `name=value`, ha.cf `stonith_host`): cluster-glue's vocabulary turned
    /// into the configuration model's [`IpmiDevice`], then
    /// [`Settings::from_device`].
    pub fn from_params(ty: &DeviceType, params: &Params) -> Result<Settings, Problem> {
        match ty.protocol {
            Protocol::Ipmi => Settings::from_ipmi_params(ty, params),
            Protocol::Manual => Settings::from_manual_params(params),
            Protocol::Redfish => redfish::settings(ty, params),
            Protocol::Apc => apc::settings(ty, params),
        }
    }

    /// The nodes the device fences: `hostname`, or a manual device's list.
    pub fn hosts(&self) -> Vec<String> {
        match &self.target {
            Target::Manual { hosts } => hosts.clone(),
            _ => self.hostname.iter().cloned().collect(),
        }
    }

    /// meatware's `hostlist`.
    fn from_manual_params(params: &Params) -> Result<Settings, Problem> {
        let hosts = params
            .get(Key::Hostlist)
            .map(host_words)
            .unwrap_or_default();
        if hosts.is_empty() {
            return Err(Problem::config(
                "missing parameter hostlist (the nodes an operator fences by hand); give \
                 hostlist=\"node1 node2\"",
            ));
        }
        Ok(Settings {
            hostname: None,
            target: Target::Manual { hosts },
            reset: RebootMethod::OnOff,
            notes: Vec::new(),
        })
    }

    /// [`Settings::from_params`] of the IPMI types.
    fn from_ipmi_params(ty: &DeviceType, params: &Params) -> Result<Settings, Problem> {
        let mut notes = Vec::new();
        let missing = |key: Key, how: &str| {
            let p = param(key);
            Problem::config(format!(
                "missing parameter {} ({}); {how}",
                p.name,
                p.longdesc.split(". ").next().unwrap_or(p.shortdesc)
            ))
        };
        let address = params
            .get(Key::Ipaddr)
            .ok_or_else(|| missing(Key::Ipaddr, "give ipaddr=ADDRESS"))?
            .to_string();
        let username = params
            .get(Key::Userid)
            .ok_or_else(|| missing(Key::Userid, "give userid=NAME"))?
            .to_string();
        let password = password(params)?;
        let interface_words = match params.get(Key::Interface) {
            Some(text) => Some(parse_interface(text)?),
            None => None,
        };
        let cipher = params.get(Key::Cipher).map(parse_cipher).transpose()?;
        let auth = params
            .get(Key::Auth)
            .map(|a| IpmiAuth::parse(a).map_err(Problem::invalid))
            .transpose()?;
        let lanplus = match &interface_words {
            Some(words) => {
                if words.lanplus && auth.is_some() {
                    return Err(Problem::invalid(
                        "auth (IPMI 1.5 authentication) does not apply to interface=lanplus; \
                         drop auth or use interface=lan",
                    ));
                }
                if !words.lanplus && cipher.is_some() {
                    return Err(Problem::invalid(
                        "cipher applies to interface=lanplus, not lan; drop cipher or use \
                         interface=lanplus",
                    ));
                }
                words.lanplus
            }
            None if cipher.is_some() && auth.is_some() => {
                return Err(Problem::invalid(
                    "cipher (IPMI 2.0) and auth (IPMI 1.5) exclude each other; keep one",
                ))
            }
            None if cipher.is_some() => true,
            None if auth.is_some() => false,
            None => ty.default_lanplus,
        };
        let words = interface_words.unwrap_or_default();
        let privilege = params
            .get(Key::Priv)
            .map(|p| IpmiPrivilege::parse(p).map_err(Problem::invalid))
            .transpose()?;
        let privilege =
            agree(words.privilege, privilege, "priv")?.unwrap_or(IpmiPrivilege::Administrator);
        let port = params.get(Key::Ipport).map(parse_port).transpose()?;
        let port = agree(words.port, port, "port")?.unwrap_or(DEFAULT_PORT);
        let interface = if lanplus {
            IpmiInterface::Lanplus {
                cipher: agree(words.cipher, cipher, "cipher")?,
            }
        } else {
            IpmiInterface::Lan {
                auth: agree(words.auth, auth, "auth")?,
            }
        };
        let method = match params.get(Key::ResetMethod) {
            None => RebootMethod::OnOff,
            Some(text) => RebootMethod::parse(text).map_err(|m| {
                Problem::invalid(format!(
                    "reset_method: {m} (cluster-glue's power_cycle is accepted too)"
                ))
            })?,
        };
        let timeout = match params.get(Key::Timeout) {
            None => None,
            Some(text) => match ironbeat_link::parse_duration(text) {
                Some(d) if !d.is_zero() => Some(d),
                _ => {
                    return Err(Problem::invalid(format!(
                        "timeout `{}` is not a duration; write seconds (10) or a number \
                         with a unit (500ms, 10s)",
                        text.trim()
                    )))
                }
            },
        };
        let allow_cipher_zero = match params.get(Key::AllowCipherZero) {
            None => false,
            Some(text) => parse_bool(text).ok_or_else(|| {
                Problem::invalid(format!(
                    "allow_cipher_zero `{}` is not yes or no",
                    text.trim()
                ))
            })?,
        };
        if params.get(Key::Ipmitool).is_some() {
            notes.push("ipmitool= is ignored: ironbeat speaks IPMI itself".to_string());
        }
        let hostname = params.get(Key::Hostname).map(|h| h.trim().to_string());
        let device = IpmiDevice {
            address,
            port,
            username,
            password,
            interface,
            privilege,
            allow_cipher_zero,
            timeout,
            power_wait: std::time::Duration::ZERO,
            method,
        };
        let mut settings = Settings::from_device(hostname, &device)?;
        settings.notes = notes;
        Ok(settings)
    }

    /// Builds the [`Bmc`] of an IPMI device, whichever front door it came
    /// through (the native file's `[[fence.device]]`, or cluster-glue's
    /// parameters by way of [`Settings::from_params`]): the one place a
    /// `Bmc` is made. Reads the password file, then checks what no BMC
    /// would accept.
    pub fn from_device(hostname: Option<String>, device: &IpmiDevice) -> Result<Settings, Problem> {
        let password = match &device.password {
            PasswordSource::File(path) => read_password_file(path)?,
            PasswordSource::Inline(secret) => secret.clone(),
        };
        let bmc = Bmc {
            host: device.address.clone(),
            port: device.port,
            username: device.username.clone(),
            password,
            interface: device.interface,
            privilege: match device.privilege {
                IpmiPrivilege::Operator => Privilege::Operator,
                IpmiPrivilege::Administrator => Privilege::Administrator,
            },
            allow_cipher_zero: device.allow_cipher_zero,
            bmc_key: None,
            timeout: device.timeout,
            unreachable_after: None,
            power_wait: device.power_wait,
        };
        bmc.check()?;
        Ok(Settings {
            hostname,
            target: Target::Ipmi(bmc),
            reset: device.method,
            notes: Vec::new(),
        })
    }
}

/// A host list's names, lower-cased (spaces or commas between them).
fn host_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Where the password comes from: `passwd_file`, or `passwd` (the password,
/// or with external/ipmi's `passwd_method=file` a file name). A file is read
/// by [`Settings::from_device`].
fn password(params: &Params) -> Result<PasswordSource, Problem> {
    let method = params.get(Key::PasswdMethod).map(str::trim);
    let file = params.get(Key::PasswdFile);
    let passwd = params.get(Key::Passwd);
    match method {
        None | Some("param") | Some("env") | Some("file") | Some("") => {}
        Some(other) => {
            return Err(Problem::invalid(format!(
                "passwd_method `{other}` is unknown; use param, env or file"
            )))
        }
    }
    match (passwd, file) {
        (Some(_), Some(_)) => Err(Problem::config(
            "both passwd and passwd_file are given; keep passwd_file (a 0600 file)",
        )),
        (None, Some(path)) => Ok(PasswordSource::File(PathBuf::from(path.trim()))),
        (Some(path), None) if method == Some("file") => {
            Ok(PasswordSource::File(PathBuf::from(path.trim())))
        }
        (Some(text), None) => Ok(PasswordSource::Inline(Secret::new(text.as_bytes()))),
        (None, None) => Err(Problem::config(
            "missing parameter passwd_file (a file, mode 0600, holding the BMC password) or \
             passwd",
        )),
    }
}

/// cluster-glue's `-m` metadata for a type.
pub fn metadata(ty: &DeviceType) -> String {
    let mut xml = String::new();
    let _ = write!(
        xml,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n\
         <resource-agent name=\"{}\">\n<version>1.0</version>\n\
         <longdesc lang=\"en\">\n{}\n</longdesc>\n<shortdesc lang=\"en\">{}</shortdesc>\n\
         <parameters>\n",
        xml_escape(ty.name),
        xml_escape(ty.description),
        xml_escape(ty.shortdesc)
    );
    let mut shown: Vec<Key> = Vec::new();
    let names = ty
        .names
        .iter()
        .copied()
        .chain(PARAMS.iter().map(|p| p.name));
    for name in names {
        let Some(info) = param_by_name(name) else {
            continue;
        };
        if shown.contains(&info.key) {
            continue;
        }
        shown.push(info.key);
        let required = matches!(info.key, Key::Hostname | Key::Ipaddr | Key::Userid);
        let _ = write!(
            xml,
            "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">\n\
             <longdesc lang=\"en\">\n{}\n</longdesc>\n\
             <shortdesc lang=\"en\">\n{}\n</shortdesc>\n\
             <content type=\"string\"{} />\n</parameter>\n",
            xml_escape(name),
            u8::from(info.unique),
            u8::from(required),
            xml_escape(info.longdesc),
            xml_escape(info.shortdesc),
            default_attribute(ty, info.key)
        );
    }
    xml.push_str(
        "</parameters>\n<actions>\n\
         <action name=\"start\"   timeout=\"20\" />\n\
         <action name=\"stop\"    timeout=\"15\" />\n\
         <action name=\"status\"  timeout=\"20\" />\n\
         <action name=\"monitor\" timeout=\"20\" interval=\"3600\" />\n\
         <action name=\"meta-data\"  timeout=\"15\" />\n\
         </actions>\n</resource-agent>\n",
    );
    xml
}

fn default_attribute(ty: &DeviceType, key: Key) -> String {
    let default = match key {
        Key::Interface if ty.default_lanplus => "lanplus",
        Key::Interface => "lan",
        Key::Ipport => "623",
        Key::Priv => "administrator",
        Key::ResetMethod => "onoff",
        Key::PasswdMethod => "param",
        Key::AllowCipherZero => "no",
        _ => return String::new(),
    };
    format!(" default=\"{default}\"")
}

/// `-h` text for one type (cluster-glue's layout, then ours).
pub fn type_help(ty: &DeviceType) -> String {
    let mut text = format!(
        "\n\nSTONITH Device: {} - {}\nFor more information see docs/fencing.md\n\
         List of valid parameter names for {} STONITH device:\n",
        ty.name, ty.description, ty.name
    );
    for name in ty.names {
        let _ = writeln!(text, "\t{name}");
    }
    text.push_str(
        "For Config info [-p] syntax, give each of the above parameters in order as\n\
         the -p value.\nArguments are separated by white space.\n\
         Config file [-F] syntax is the same as -p, except # at the start of a line\n\
         denotes a comment\n",
    );
    let others: Vec<&str> = PARAMS
        .iter()
        .filter(|p| {
            !ty.names
                .iter()
                .any(|n| param_by_name(n).map(|i| i.key) == Some(p.key))
        })
        .map(|p| p.name)
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            text,
            "Also accepted as name=value (in -p, -F, -E, ha.cf too): {}",
            others.join(" ")
        );
    }
    text
}

/// The usage text.
pub fn usage() -> String {
    "usage:\n\
     \t stonith [-svh] -L\n\
     \t stonith [-svh] -t stonith-device-type -n\n\
     \t stonith [-svh] -t stonith-device-type -m\n\
     \t stonith [-svh] -t stonith-device-type {-p stonith-device-parameters | \
     -F stonith-device-parameters-file | -E | name=value...} [-c count] -lS\n\
     \t stonith [-svh] -t stonith-device-type {-p stonith-device-parameters | \
     -F stonith-device-parameters-file | -E | name=value...} [-c count] -T {reset|on|off} nodename\n\
     \t stonith [-sv] [-t ipmi] [--config FILE | --ha-d DIR] [--node SELF] -H nodename {reset|on|off|status}\n\
     \nwhere:\n\
     \t-L\tlist supported stonith device types\n\
     \t-l\tlist hosts controlled by this stonith device\n\
     \t-S\treport stonith device status\n\
     \t-s\tsilent\n\
     \t-v\tverbose: print the exchange with the BMC, packet by packet\n\
     \t-n\toutput the config names of stonith-device-parameters\n\
     \t-m\tdisplay meta-data of the stonith device type\n\
     \t-h\tdisplay detailed help message with stonith device description(s)\n\
     \t-H\tthe node to act on; its BMC comes from the cluster configuration:\n\
     \t\t--config FILE: the [[fence.device]] tables of a native ironbeat.toml;\n\
     \t\t--ha-d DIR: the stonith_host lines of DIR/ha.cf (--node names this node,\n\
     \t\tdefault uname -n); neither: /etc/ironbeat/ironbeat.toml if it exists,\n\
     \t\telse /etc/ha.d\n\
     \nexit status: 0 S_OK, 1 S_BADCONFIG (and usage errors), 2 S_ACCESS, 3 S_INVAL,\n\
     4 S_BADHOST, 5 S_RESETFAIL, 6 S_TIMEOUT, 7 S_ISOFF (status: the node is off), 8 S_OOPS\n"
        .to_string()
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Help(Option<String>),
    Version,
    ListTypes,
    Names(String),
    Metadata(String),
    Device(DeviceRequest),
    Short(ShortRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ParamSource {
    Words(String),
    File(PathBuf),
    Env,
    Pairs(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DeviceRequest {
    type_name: String,
    source: ParamSource,
    status: bool,
    list_hosts: bool,
    reset: Option<(ResetKind, String)>,
    count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResetKind {
    Reset,
    On,
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ShortRequest {
    type_name: Option<String>,
    node: String,
    action: ShortAction,
    source: ClusterConfig,
    local_node: Option<String>,
}

/// Where `-H` looks for the node's device, as the command line says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClusterConfig {
    /// `--config FILE`: the native file's `[[fence.device]]` tables.
    Native(PathBuf),
    /// `--ha-d DIR`: the `stonith_host` lines of `DIR/ha.cf`.
    HaD(PathBuf),
    /// Neither: [`DEFAULT_NATIVE_CONFIG`] if it exists, else [`DEFAULT_HA_D`].
    Default,
}

/// Where a node's fence device is configured (`stonith -H` once decided,
/// and `ironbeat run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A native file's `[[fence.device]]` tables; `defaulted` when no option
    /// named it.
    Native {
        /// The file.
        file: PathBuf,
        /// Chosen because it exists, not by `--config`.
        defaulted: bool,
    },
    /// The `stonith_host` lines of an ha.d directory's ha.cf.
    HaD(PathBuf),
}

/// A node's fence device, ready to use.
#[derive(Debug)]
pub struct NodeDevice {
    /// The BMC and the reset method.
    pub settings: Settings,
    /// Where it is configured (file:line, device or type).
    pub origin: String,
    /// Something the operator should fix although the device is usable.
    pub warning: Option<String>,
    /// Waited before the device acts (native `delay`; ha.cf lines: none).
    pub delay: Duration,
}

/// `node`'s fencing levels as seen from `local`, in the order to try them;
/// the devices of one level must all succeed. Native: its
/// `[[fence.level]]`s, or its one device. ha.cf: every `stonith_host` line
/// for the node, one level each, in file order (heartbeat tried them in
/// turn). The daemon's fencer uses this; `stonith -H` the first device.
pub fn node_levels(
    source: &Source,
    local: &str,
    node: &str,
) -> Result<Vec<Vec<NodeDevice>>, Problem> {
    let single = || node_device(source, local, node).map(|d| vec![vec![d]]);
    match source {
        Source::Native { file, .. } => {
            let fencing =
                crate::config::load_fencing(file).map_err(|e| Problem::config(e.to_string()))?;
            if fencing
                .levels
                .iter()
                .all(|l| !l.node.eq_ignore_ascii_case(node))
            {
                return single();
            }
            fencing
                .levels_for(node)
                .iter()
                .map(|level| {
                    level
                        .iter()
                        .map(|device| {
                            let (settings, origin) = native_settings(device, node)?;
                            Ok(NodeDevice {
                                settings,
                                origin,
                                warning: None,
                                delay: device.delay,
                            })
                        })
                        .collect()
                })
                .collect()
        }
        Source::HaD(dir) => {
            let Ok(all) = devices_for_node(dir, local, node) else {
                return single();
            };
            if all.len() < 2 {
                return single();
            }
            all.into_iter()
                .map(|found| {
                    let settings = Settings::from_params(found.ty, &found.params).map_err(|p| {
                        Problem::new(p.fault, format!("{}: {}", found.origin, p.message))
                    })?;
                    Ok(vec![NodeDevice {
                        settings,
                        origin: format!("{}, {}", found.origin, found.ty.name),
                        warning: found.warning,
                        delay: Duration::ZERO,
                    }])
                })
                .collect()
        }
    }
}

/// Finds the device that fences `node` as seen from `local` (this node) in
/// `source` and builds its settings (password files read and checked). The
/// one lookup both `stonith -H` and `ironbeat run`'s fencer use.
pub fn node_device(source: &Source, local: &str, node: &str) -> Result<NodeDevice, Problem> {
    match source {
        Source::Native { file, defaulted } => {
            let (settings, origin) = native_device(file, *defaulted, node)?;
            Ok(NodeDevice {
                settings,
                origin,
                warning: None,
                delay: Duration::ZERO,
            })
        }
        Source::HaD(dir) => {
            // No native line: a cluster-glue plugin or fence-agents agent line?
            let found = match device_for_node(dir, local, node) {
                Ok(found) => found,
                Err(p) => match external::node_settings_from_ha_cf(dir, local, node)? {
                    Some((settings, origin)) => {
                        return Ok(NodeDevice {
                            settings,
                            origin,
                            warning: None,
                            delay: Duration::ZERO,
                        })
                    }
                    None => match apc::node_settings_from_ha_cf(dir, local, node)? {
                        Some((settings, origin)) => {
                            return Ok(NodeDevice {
                                settings,
                                origin,
                                warning: None,
                                delay: Duration::ZERO,
                            })
                        }
                        None => return Err(p),
                    },
                },
            };
            let settings = Settings::from_params(found.ty, &found.params)
                .map_err(|p| Problem::new(p.fault, format!("{}: {}", found.origin, p.message)))?;
            Ok(NodeDevice {
                settings,
                origin: format!("{}, {}", found.origin, found.ty.name),
                warning: found.warning,
                delay: Duration::ZERO,
            })
        }
    }
}

impl ClusterConfig {
    /// Applies the default order: the native file if it exists, else ha.cf.
    fn resolve(&self) -> Source {
        match self {
            ClusterConfig::Native(file) => Source::Native {
                file: file.clone(),
                defaulted: false,
            },
            ClusterConfig::HaD(dir) => Source::HaD(dir.clone()),
            ClusterConfig::Default if Path::new(DEFAULT_NATIVE_CONFIG).exists() => Source::Native {
                file: PathBuf::from(DEFAULT_NATIVE_CONFIG),
                defaulted: true,
            },
            ClusterConfig::Default => Source::HaD(PathBuf::from(DEFAULT_HA_D)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShortAction {
    Reset(ResetKind),
    Status,
}

/// Output switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Switches {
    silent: bool,
    verbose: bool,
}

const SPEC: Spec<'static> = Spec {
    short_with_argument: "cFptTH",
    short_flags: "EsnSlLmvhVd",
    long: &[
        ("ha-d", Argument::Required),
        ("config", Argument::Required),
        ("node", Argument::Required),
        ("help", Argument::No),
        ("version", Argument::No),
    ],
};

fn parse_reset_kind(text: &str) -> Option<ResetKind> {
    match text {
        "reset" => Some(ResetKind::Reset),
        "on" => Some(ResetKind::On),
        "off" => Some(ResetKind::Off),
        _ => None,
    }
}

fn parse_command_line(args: &[String]) -> Result<(Request, Switches), Problem> {
    let items = args::parse(args, &SPEC)?;
    let mut switches = Switches::default();
    let (mut help, mut version, mut list_types, mut names, mut meta) =
        (false, false, false, false, false);
    let (mut status, mut list_hosts, mut env) = (false, false, false);
    let mut type_name = None;
    let mut words = None;
    let mut file = None;
    let mut reset_kind = None;
    let mut count = 1u32;
    let mut node = None;
    let mut ha_d = None;
    let mut config_file = None;
    let mut local_node = None;
    let mut operands = Vec::new();
    for item in items {
        match item {
            Item::Short('c', Some(v)) => {
                count = match v.trim().parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(Problem::usage(format!("bad count [{v}]"))),
                }
            }
            Item::Short('F', v) => file = v.map(PathBuf::from),
            Item::Short('p', v) => words = v,
            Item::Short('t', v) => type_name = v,
            Item::Short('T', Some(v)) => {
                reset_kind = Some(
                    parse_reset_kind(&v)
                        .ok_or_else(|| Problem::usage(format!("bad reset type [{v}]")))?,
                )
            }
            Item::Short('H', v) => node = v,
            Item::Short('E', _) => env = true,
            Item::Short('s', _) => switches.silent = true,
            Item::Short('n', _) => names = true,
            Item::Short('S', _) => status = true,
            Item::Short('l', _) => list_hosts = true,
            Item::Short('L', _) => list_types = true,
            Item::Short('m', _) => meta = true,
            Item::Short('v', _) | Item::Short('d', _) => switches.verbose = true,
            Item::Short('h', _) | Item::Long("help", _) => help = true,
            Item::Short('V', _) | Item::Long("version", _) => version = true,
            Item::Long("ha-d", v) => ha_d = v.map(PathBuf::from),
            Item::Long("config", v) => config_file = v.map(PathBuf::from),
            Item::Long("node", v) => local_node = v,
            Item::Operand(o) => operands.push(o),
            other => return Err(Problem::usage(format!("unexpected {other:?}"))),
        }
    }
    if version {
        return Ok((Request::Version, switches));
    }
    if help {
        return Ok((Request::Help(type_name), switches));
    }
    if list_types {
        return Ok((Request::ListTypes, switches));
    }
    if let Some(node) = node {
        if words.is_some() || file.is_some() || env || status || list_hosts || names || meta {
            return Err(Problem::usage(
                "-H takes its device from the cluster configuration: it cannot be combined \
                 with -p, -F, -E, -S, -l, -n or -m",
            ));
        }
        let source = match (config_file, ha_d) {
            (Some(_), Some(_)) => {
                return Err(Problem::usage(
                    "--config and --ha-d exclude each other: give the native file or the ha.d \
                     directory, not both",
                ))
            }
            (Some(file), None) => ClusterConfig::Native(file),
            (None, Some(dir)) => ClusterConfig::HaD(dir),
            (None, None) => ClusterConfig::Default,
        };
        let action = match (reset_kind, &operands[..]) {
            (Some(kind), []) => ShortAction::Reset(kind),
            (None, [word]) if word == "status" => ShortAction::Status,
            (None, [word]) => ShortAction::Reset(parse_reset_kind(word).ok_or_else(|| {
                Problem::usage(format!(
                    "-H {node} {word}: the action is reset, on, off or status"
                ))
            })?),
            (None, []) => {
                return Err(Problem::usage(format!(
                    "-H {node}: what to do? add reset, on, off or status"
                )))
            }
            _ => {
                return Err(Problem::usage(
                    "-H NODE takes one action (reset, on, off or status), or -T, not both",
                ))
            }
        };
        return Ok((
            Request::Short(ShortRequest {
                type_name,
                node: node.to_lowercase(),
                action,
                source,
                local_node,
            }),
            switches,
        ));
    }
    if ha_d.is_some() || config_file.is_some() || local_node.is_some() {
        return Err(Problem::usage(
            "--config, --ha-d and --node go with -H NODE",
        ));
    }
    let sources = [words.is_some(), file.is_some(), env]
        .iter()
        .filter(|b| **b)
        .count();
    if sources > 1 {
        return Err(Problem::usage(
            "Please use just one of -F, -p, and -E options",
        ));
    }
    let split = operands
        .iter()
        .position(|o| !o.contains('='))
        .unwrap_or(operands.len());
    let (pairs, rest) = operands.split_at(split);
    if !pairs.is_empty() && sources > 0 {
        return Err(Problem::usage(
            "Cannot mix name=value and -p, -F, or -E style arguments",
        ));
    }
    let nodename = match rest {
        [] => None,
        [one] => Some(one.to_lowercase()),
        _ => {
            return Err(Problem::usage(format!(
                "one node name only; `{}` is extra (a name=value parameter must come before \
                 the node name)",
                rest[1]
            )))
        }
    };
    if nodename.is_none() && !(status || list_hosts || names || meta) {
        return Err(Problem::usage(
            "nothing to do: give -l, -S, -n, -m, or -T ACTION NODENAME",
        ));
    }
    let Some(type_name) = type_name else {
        return Err(Problem::usage("Must specify device type (-t option)"));
    };
    if names {
        return Ok((Request::Names(type_name), switches));
    }
    if meta {
        return Ok((Request::Metadata(type_name), switches));
    }
    let source = if let Some(w) = words {
        ParamSource::Words(w)
    } else if let Some(f) = file {
        ParamSource::File(f)
    } else if env {
        ParamSource::Env
    } else if !pairs.is_empty() {
        ParamSource::Pairs(
            pairs
                .iter()
                .filter_map(|p| p.split_once('='))
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    } else {
        return Err(Problem::usage(
            "Must specify either -p option, -F option, -E option, or name=value style arguments",
        ));
    };
    let reset = nodename.map(|n| (reset_kind.unwrap_or(ResetKind::Reset), n));
    Ok((
        Request::Device(DeviceRequest {
            type_name,
            source,
            status,
            list_hosts,
            reset,
            count,
        }),
        switches,
    ))
}

/// An error on the way to an exit code.
#[derive(Debug)]
enum Failure {
    Input(Problem),
    Fence(ironbeat_fence::Error),
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        Failure::Input(p)
    }
}

impl From<ironbeat_fence::Error> for Failure {
    fn from(e: ironbeat_fence::Error) -> Self {
        Failure::Fence(e)
    }
}

/// Runs `stonith` with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    let args = match args::utf8_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(p) => return usage_exit(&p),
    };
    ExitCode::from(run(&args))
}

fn usage_exit(problem: &Problem) -> ExitCode {
    eprintln!("{}", problem.message);
    eprint!("{}", usage());
    ExitCode::from(exit::stonith_fault_code(problem.fault))
}

/// Runs one command line; returns the exit code (stdout and stderr are
/// written as it goes).
pub fn run(args: &[String]) -> u8 {
    let (request, switches) = match parse_command_line(args) {
        Ok(r) => r,
        Err(p) => {
            eprintln!("{}", p.message);
            eprint!("{}", usage());
            return exit::stonith_fault_code(p.fault);
        }
    };
    if let Some(code) = external::intercept(&request, switches) {
        return code;
    }
    if let Some(code) = apc::intercept(&request, switches) {
        return code;
    }
    let result = match request {
        Request::Version => {
            println!("stonith: ironbeat {}", env!("CARGO_PKG_VERSION"));
            Ok(codes::S_OK)
        }
        Request::Help(None) => {
            print!("{}", usage());
            println!("\nSTONITH -t device types and associated configuration details:");
            for ty in TYPES {
                print!("{}", type_help(ty));
            }
            Ok(codes::S_OK)
        }
        Request::Help(Some(name)) => known_type(&name).map(|ty| {
            print!("{}", type_help(ty));
            codes::S_OK
        }),
        Request::ListTypes => {
            for ty in TYPES {
                println!("{}", ty.name);
            }
            Ok(codes::S_OK)
        }
        Request::Names(name) => known_type(&name).map(|ty| {
            let mut line = String::new();
            for n in ty.names {
                let _ = write!(line, "{n}  ");
            }
            println!("{line}");
            codes::S_OK
        }),
        Request::Metadata(name) => known_type(&name).map(|ty| {
            print!("{}", metadata(ty));
            codes::S_OK
        }),
        Request::Device(d) => run_device(&d, switches),
        Request::Short(s) => run_short(&s, switches),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Input(p)) => {
            eprintln!("ERROR: {}", p.message);
            exit::stonith_fault_code(p.fault)
        }
        Err(Failure::Fence(e)) => {
            eprintln!("ERROR: {e}");
            exit::stonith_code(&e)
        }
    }
}

fn known_type(name: &str) -> Result<&'static DeviceType, Failure> {
    device_type(name).ok_or_else(|| {
        Failure::Input(Problem::new(
            Fault::UnknownType,
            format!(
                "Invalid device type: '{name}'; this stonith implements {} (IPMI over LAN); \
                 keep cluster-glue's stonith for other devices",
                TYPES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            ),
        ))
    })
}

fn read_params(ty: &DeviceType, source: &ParamSource) -> Result<Params, Problem> {
    match source {
        ParamSource::Words(text) => Params::from_words(ty, text, "-p"),
        ParamSource::File(path) => {
            let text = fs::read_to_string(path).map_err(|e| {
                Problem::config(format!(
                    "cannot read the parameter file {}: {e}; give its path to -F",
                    path.display()
                ))
            })?;
            let body: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect();
            Params::from_words(ty, &body.join(" "), &path.display().to_string())
        }
        ParamSource::Env => Params::from_env(ty),
        ParamSource::Pairs(pairs) => {
            let mut params = Params::default();
            for (name, value) in pairs {
                params.insert(name, value, "command line")?;
            }
            Ok(params)
        }
    }
}

fn run_device(request: &DeviceRequest, switches: Switches) -> Result<u8, Failure> {
    let ty = known_type(&request.type_name)?;
    let params = read_params(ty, &request.source)?;
    let settings = Settings::from_params(ty, &params)?;
    if switches.verbose {
        for note in &settings.notes {
            eprintln!("info: {note}");
        }
    }
    let needs_host = request.list_hosts || request.reset.is_some();
    let hosts = settings.hosts();
    if needs_host && hosts.is_empty() {
        return Err(Problem::config(
            "missing parameter hostname (the node this BMC powers); give hostname=NODE",
        )
        .into());
    }
    let mut code = codes::S_OK;
    for _ in 0..request.count {
        code = codes::S_OK;
        if request.status && matches!(settings.target, Target::Manual { .. }) {
            // cluster-glue's meatware: the device is the operator, always there.
            if !switches.silent {
                eprintln!("info: {} device OK (an operator fences by hand).", ty.name);
            }
        } else if request.status {
            match execute(&settings, Action::Status, switches) {
                Ok(done) => {
                    if !switches.silent {
                        eprintln!("info: {} device OK (power {}).", ty.name, done.power);
                    }
                }
                Err(e) => {
                    eprintln!("ERROR: {} device not accessible: {e}", ty.name);
                    code = exit::stonith_code(&e);
                }
            }
        }
        if request.list_hosts {
            for h in &hosts {
                println!("{h}");
            }
        }
        if let Some((kind, node)) = &request.reset {
            if !hosts.iter().any(|h| h.eq_ignore_ascii_case(node)) {
                let host = hosts.join(" ");
                return Err(Problem::new(
                    Fault::UnknownNode,
                    format!(
                        "{node} is not controlled by this device: it powers {host} \
                         (hostname={host})"
                    ),
                )
                .into());
            }
            let action = match kind {
                ResetKind::Reset => settings.reset.action(),
                ResetKind::On => Action::On,
                ResetKind::Off => Action::Off,
            };
            let done = execute(&settings, action, switches)?;
            report_on(&settings.target, node, action, &done, switches);
        }
    }
    Ok(code)
}

/// The `info:` line of a power action (and its warning, if any).
/// [`report`], or for a device that cannot read the node's power, what was
/// done without claiming it was seen.
fn report_on(target: &Target, node: &str, action: Action, done: &device::Done, switches: Switches) {
    if !blind(target) {
        return report(node, action, done, switches);
    }
    if let Some(warning) = &done.warning {
        eprintln!("WARN: {node}: {warning}");
    }
    if !switches.silent {
        eprintln!(
            "info: {node}: {action} done by the plugin, which cannot read the node's power \
             (not seen off: accepted because accept_unverified is set)"
        );
    }
}

fn report(node: &str, action: Action, done: &device::Done, switches: Switches) {
    if let Some(warning) = &done.warning {
        eprintln!("WARN: {node}: {warning}");
    }
    if switches.silent {
        return;
    }
    let text = match (action, done.changed) {
        (Action::Off, false) => "already off",
        (Action::On, false) => "already on",
        (Action::Reboot, _) if done.warning.is_some() => "powered off (seen off)",
        (Action::Reboot, _) => "powered off (seen off), then on (seen on)",
        (Action::Off, true) => "powered off (seen off)",
        (Action::On, true) => "powered on (seen on)",
        (Action::Cycle, _) => "power cycle sent (off is not observable)",
        (Action::Reset, _) => "hard reset sent (the node never loses power)",
        (Action::Status | Action::Diag, _) => "done",
    };
    eprintln!("info: {node}: {text}; power is {}", done.power);
}

/// A cluster-glue plugin: it can say its device answers, never a node's power.
fn blind(target: &Target) -> bool {
    matches!(target, Target::External(t) if t.device.kind == ironbeat_fence::external::Kind::Plugin)
}

fn run_short(request: &ShortRequest, switches: Switches) -> Result<u8, Failure> {
    if let Some(name) = &request.type_name {
        known_type(name)?;
    }
    let local = match &request.local_node {
        Some(n) => n.to_lowercase(),
        None => nix::unistd::gethostname()
            .map_err(|e| {
                Problem::config(format!(
                    "cannot read this node's name (uname -n): {e}; give --node NAME"
                ))
            })?
            .to_string_lossy()
            .to_lowercase(),
    };
    let source = request.source.resolve();
    if let ShortAction::Reset(kind @ (ResetKind::Reset | ResetKind::Off)) = request.action {
        let levels = node_levels(&source, &local, &request.node)?;
        if levels.len() > 1 || levels.iter().any(|l| l.len() > 1) {
            // Fencing levels: tried in order, as the daemon does.
            let action = match kind {
                ResetKind::Off => ironbeat_crm::model::FenceAction::Off,
                _ => ironbeat_crm::model::FenceAction::Reboot,
            };
            return match crate::daemon::fencer::fence_now(&request.node, levels, action) {
                Ok(detail) => {
                    if !switches.silent {
                        eprintln!("info: {detail}");
                    }
                    Ok(codes::S_OK)
                }
                Err(detail) => {
                    eprintln!("ERROR: {detail}");
                    Ok(codes::S_RESETFAIL)
                }
            };
        }
    }
    let found = node_device(&source, &local, &request.node)?;
    if let Some(warning) = &found.warning {
        if !switches.silent {
            eprintln!("WARN: {warning}");
        }
    }
    let (settings, origin) = (found.settings, found.origin);
    if switches.verbose {
        eprintln!(
            "info: {}'s fence device is {} ({origin})",
            request.node,
            settings.target.describe()
        );
        for note in &settings.notes {
            eprintln!("info: {note}");
        }
    }
    match request.action {
        ShortAction::Status => {
            let done = execute(&settings, Action::Status, switches)?;
            if blind(&settings.target) {
                println!(
                    "{}: unknown (the plugin's device answers; cluster-glue plugins cannot read \
                     a node's power)",
                    request.node
                );
                return Ok(codes::S_OK);
            }
            println!("{}: {}", request.node, done.power);
            Ok(match done.power {
                PowerState::Off => codes::S_ISOFF,
                PowerState::On => codes::S_OK,
            })
        }
        ShortAction::Reset(kind) => {
            let action = match kind {
                ResetKind::Reset => settings.reset.action(),
                ResetKind::On => Action::On,
                ResetKind::Off => Action::Off,
            };
            let done = execute(&settings, action, switches)?;
            report_on(&settings.target, &request.node, action, &done, switches);
            Ok(codes::S_OK)
        }
    }
}

/// Finds `node`'s device in the `[[fence.device]]` tables of a native file
/// and builds its settings; returns them with where they came from.
/// `defaulted`: the file was chosen because it exists, not by `--config`.
fn native_device(file: &Path, defaulted: bool, node: &str) -> Result<(Settings, String), Problem> {
    let fencing = crate::config::load_fencing(file).map_err(|e| Problem::config(e.to_string()))?;
    let Some(device) = fencing.device_for(node) else {
        let shown = file.display();
        let mut message = if fencing.devices.is_empty() {
            format!("node {node} has no fence device: {shown} has no [[fence.device]]")
        } else {
            let known: Vec<String> = fencing
                .devices
                .iter()
                .flat_map(|d| {
                    d.nodes
                        .iter()
                        .map(move |n| format!("{n} ({}, line {})", d.name, d.location.line))
                })
                .collect();
            format!(
                "node {node} has no fence device in {shown}; its devices fence {}",
                known.join(", ")
            )
        };
        let _ = write!(
            message,
            "; add a [[fence.device]] with nodes = [\"{node}\"] (docs/fencing.md), or check \
             the node name"
        );
        if defaulted {
            let _ = write!(
                message,
                " ({shown} is read because it exists; pass --ha-d {DEFAULT_HA_D} to use ha.cf's \
                 stonith_host lines instead)"
            );
        }
        return Err(Problem::new(Fault::UnknownNode, message));
    };
    native_settings(device, node)
}

/// The settings of one `[[fence.device]]` for `node` (password files read
/// and checked), with where the device is configured.
pub fn native_settings(device: &FenceDevice, node: &str) -> Result<(Settings, String), Problem> {
    let origin = format!("{}, device {}", device.location, device.name);
    let settings = match &device.agent {
        FenceAgent::Ipmi(ipmi) => Settings::from_device(Some(node.to_string()), ipmi),
        FenceAgent::External(d) => external::settings_from_device(node, d),
        FenceAgent::Redfish(d) => redfish::settings_from_device(node, d),
        FenceAgent::Apc(d) => apc::settings_from_device(node, d),
        FenceAgent::Manual => Ok(Settings {
            hostname: None,
            target: Target::Manual {
                hosts: device.nodes.iter().map(|n| n.to_lowercase()).collect(),
            },
            reset: RebootMethod::OnOff,
            notes: Vec::new(),
        }),
    }
    .map_err(|p| Problem::new(p.fault, format!("{origin}: {}", p.message)))?;
    Ok((settings, format!("{origin}, {}", device.agent.type_name())))
}

/// A node's device, found in ha.cf.
#[derive(Debug)]
struct Found {
    ty: &'static DeviceType,
    params: Params,
    origin: String,
    warning: Option<String>,
}

/// Finds the `stonith_host` line of an IPMI type whose `hostname` is `node`
/// and that this node (`local`) may use.
fn device_for_node(ha_d: &Path, local: &str, node: &str) -> Result<Found, Problem> {
    let mut all = devices_for_node(ha_d, local, node)?;
    // devices_for_node returns at least one or an error.
    Ok(all.remove(0))
}

/// Every `stonith_host` line for `node` this node may use, in file order
/// (at least one, or the error saying what to write).
fn devices_for_node(ha_d: &Path, local: &str, node: &str) -> Result<Vec<Found>, Problem> {
    let path = ha_d.join("ha.cf");
    let text = fs::read_to_string(&path).map_err(|e| {
        Problem::config(format!(
            "cannot read {}: {e}; -H finds the BMC in ha.cf's stonith_host lines: point \
             --ha-d at the directory holding ha.cf",
            path.display()
        ))
    })?;
    let cf =
        crate::config::parse_ha_cf(&text, &path).map_err(|e| Problem::config(e.to_string()))?;
    let world_readable = fs::metadata(&path)
        .map(|m| m.permissions().mode() & 0o077 != 0)
        .unwrap_or(false);
    let mut known = Vec::new();
    let mut not_ours = Vec::new();
    let mut broken = Vec::new();
    let mut matches = Vec::new();
    for line in &cf.options.stonith_hosts {
        let host = &line.value;
        let origin = line.location.to_string();
        let Some(ty) = device_type(&host.kind) else {
            continue;
        };
        if ty.protocol == Protocol::Apc {
            // A PDU serves every node named on its outlets: apc::node_settings_from_ha_cf.
            continue;
        }
        let params = match Params::from_words(ty, &host.params, &origin) {
            Ok(p) => p,
            Err(p) => {
                broken.push(p.message);
                continue;
            }
        };
        let hosts = match (params.get(Key::Hostname), params.get(Key::Hostlist)) {
            (Some(h), _) => vec![h.to_lowercase()],
            (None, Some(list)) => host_words(list),
            (None, None) => Vec::new(),
        };
        if hosts.is_empty() {
            broken.push(format!("{origin}: stonith_host line without hostname"));
            continue;
        }
        if !hosts.iter().any(|h| h == node) {
            known.push(format!("{} ({origin})", hosts.join(" ")));
            continue;
        }
        if host.from != "*" && host.from != local {
            not_ours.push(format!("{origin} (for {} only)", host.from));
            continue;
        }
        let warning = (world_readable && params.get(Key::Passwd).is_some()).then(|| {
            format!(
                "{origin} holds a BMC password and {} is readable by other users; move the \
                 password to a 0600 file named by passwd_file=",
                path.display()
            )
        });
        matches.push(Found {
            ty,
            params,
            origin,
            warning,
        });
    }
    if !matches.is_empty() {
        return Ok(matches);
    }
    let mut message = format!(
        "node {node} has no IPMI device for this node ({local}) in {}",
        path.display()
    );
    if !not_ours.is_empty() {
        let _ = write!(
            message,
            "; its stonith_host lines are for other nodes: {} (run this there, or write * as \
             the first word)",
            not_ours.join(", ")
        );
    } else if known.is_empty() {
        message.push_str("; no stonith_host line of type ipmi, external/ipmi or ipmilan");
    } else {
        let _ = write!(message, "; stonith_host lines name {}", known.join(", "));
    }
    if !broken.is_empty() {
        let _ = write!(message, "; unreadable lines: {}", broken.join("; "));
    }
    let _ = write!(
        message,
        "; add `stonith_host * ipmi {node} BMC-ADDRESS USER passwd_file=/etc/ironbeat/{node}.bmc` \
         or check the node name"
    );
    Err(Problem::new(Fault::UnknownNode, message))
}

/// Runs one action against the device.
fn execute(
    settings: &Settings,
    action: Action,
    switches: Switches,
) -> Result<device::Done, ironbeat_fence::Error> {
    device::execute_target(&settings.target, action, switches.verbose)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::stonith::device::Interface;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn parse(args: &[&str]) -> Result<Request, Problem> {
        parse_command_line(&strings(args)).map(|(r, _)| r)
    }

    #[test]
    fn every_key_documented() {
        use Key::*;
        for key in [
            Hostname,
            Ipaddr,
            Ipport,
            Userid,
            Passwd,
            PasswdFile,
            PasswdMethod,
            Interface,
            Cipher,
            Priv,
            Auth,
            ResetMethod,
            Timeout,
            AllowCipherZero,
            Ipmitool,
            Community,
            SnmpVersion,
            CredentialsFile,
            Plug,
            ApcProfile,
            SnmpAuthProt,
            SnmpPrivProt,
            SnmpSecLevel,
            SnmpPrivPasswd,
        ] {
            assert_eq!(PARAMS.iter().filter(|p| p.key == key).count(), 1, "{key:?}");
        }
        for ty in TYPES {
            for name in ty.names {
                assert!(param_by_name(name).is_some(), "{}: {name}", ty.name);
            }
        }
    }

    #[test]
    fn cluster_glue_command_lines() {
        let r = parse(&[
            "-t",
            "external/ipmi",
            "hostname=node2",
            "ipaddr=198.18.1.2",
            "userid=admin",
            "passwd=labpass",
            "interface=lanplus -C 3",
            "-T",
            "reset",
            "NODE2",
        ])
        .unwrap();
        let Request::Device(d) = r else {
            panic!("{r:?}")
        };
        assert_eq!(d.reset, Some((ResetKind::Reset, "node2".into())));
        let ParamSource::Pairs(pairs) = &d.source else {
            panic!()
        };
        assert_eq!(pairs.len(), 5);
        assert_eq!(pairs[4], ("interface".into(), "lanplus -C 3".into()));

        let r = parse(&["-t", "ipmilan", "-p", "a b c", "-lS"]).unwrap();
        assert!(matches!(
            r,
            Request::Device(DeviceRequest {
                status: true,
                list_hosts: true,
                ..
            })
        ));
        assert!(matches!(parse(&["-L"]).unwrap(), Request::ListTypes));
        assert!(matches!(
            parse(&["-t", "ipmi", "-n"]).unwrap(),
            Request::Names(_)
        ));
        assert!(matches!(
            parse(&["-t", "ipmi", "-m"]).unwrap(),
            Request::Metadata(_)
        ));
    }

    #[test]
    fn usage_errors() {
        for args in [
            &["-t", "ipmi", "-p", "x", "-F", "f", "-S"][..],
            &["-t", "ipmi", "-p", "x", "a=b", "node"],
            &["-t", "ipmi", "-T", "bogus", "a=b", "node"],
            &["-t", "ipmi", "a=b"],
            &["-t", "ipmi", "a=b", "node", "extra"],
            &["a=b", "-S"],
            &["-t", "ipmi", "-S"],
            &["-c", "0", "-t", "ipmi", "a=b", "-S"],
            &["-H", "node2"],
            &["-H", "node2", "explode"],
            &["-H", "node2", "-S", "status"],
            &["--ha-d", "/x", "-t", "ipmi", "a=b", "-S"],
            &["--config", "/x", "-t", "ipmi", "a=b", "-S"],
            &["--config", "/x", "--ha-d", "/y", "-H", "node2", "status"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.fault, Fault::Usage, "{args:?}: {}", e.message);
        }
    }

    #[test]
    fn short_form() {
        let r = parse(&["-t", "ipmi", "-H", "Node2", "reset", "--ha-d", "/srv/ha.d"]).unwrap();
        assert_eq!(
            r,
            Request::Short(ShortRequest {
                type_name: Some("ipmi".into()),
                node: "node2".into(),
                action: ShortAction::Reset(ResetKind::Reset),
                source: ClusterConfig::HaD("/srv/ha.d".into()),
                local_node: None,
            })
        );
        let r = parse(&["-H", "node2", "-T", "off"]).unwrap();
        assert!(matches!(
            r,
            Request::Short(ShortRequest {
                action: ShortAction::Reset(ResetKind::Off),
                source: ClusterConfig::Default,
                ..
            })
        ));
        let r = parse(&["--config=/srv/ib.toml", "-H", "node2", "status"]).unwrap();
        assert!(matches!(
            r,
            Request::Short(ShortRequest {
                action: ShortAction::Status,
                source: ClusterConfig::Native(ref f),
                ..
            }) if f == Path::new("/srv/ib.toml")
        ));
    }

    /// The daemon's lookup: native `[[fence.level]]`s in order with each
    /// device's delay; ha.cf: every stonith_host line of the node, in order.
    #[test]
    fn node_levels_from_both_front_doors() {
        let dir = std::env::temp_dir().join(format!("ib-levels-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pass = dir.join("node2.pass");
        fs::write(&pass, "labpass\n").unwrap();
        fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
        let native = dir.join("ironbeat.toml");
        fs::write(
            &native,
            format!(
                "[cluster]\nnodes = [\"node1\", \"node2\"]\n[[link]]\nkind = \"ether\"\n\
                 iface = \"eth0\"\n[[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\n\
                 nodes = [\"node2\"]\nip = \"198.18.1.2\"\nusername = \"admin\"\n\
                 password_file = \"{}\"\n[[fence.device]]\nname = \"hands\"\n\
                 type = \"manual\"\nnodes = [\"node2\"]\ndelay = \"2s\"\n\
                 [[fence.level]]\nnode = \"node2\"\ndevices = [\"node2-bmc\"]\n\
                 [[fence.level]]\nnode = \"node2\"\ndevices = [\"hands\"]\n",
                pass.display()
            ),
        )
        .unwrap();
        let source = Source::Native {
            file: native.clone(),
            defaulted: false,
        };
        let levels = node_levels(&source, "node1", "node2").unwrap();
        assert_eq!(levels.len(), 2);
        assert!(levels[0][0].settings.target.bmc().is_some());
        assert!(matches!(
            levels[1][0].settings.target,
            Target::Manual { .. }
        ));
        assert_eq!(levels[1][0].delay, std::time::Duration::from_secs(2));
        assert!(
            levels[1][0].origin.contains("device hands"),
            "{}",
            levels[1][0].origin
        );
        // stonith -H takes the first device.
        let first = node_device(&source, "node1", "node2").unwrap();
        assert!(first.settings.target.bmc().is_some());

        let ha_d = dir.join("ha.d");
        fs::create_dir_all(&ha_d).unwrap();
        fs::write(
            ha_d.join("ha.cf"),
            format!(
                "node node1\nnode node2\nucast eth0 198.18.1.2\n\
                 stonith_host * ipmi node2 198.18.1.99 admin passwd_file={p} timeout=1\n\
                 stonith_host node1 ipmi node2 198.18.1.2 admin passwd_file={p}\n\
                 stonith_host node3 ipmi node2 198.18.1.3 admin passwd_file={p}\n",
                p = pass.display()
            ),
        )
        .unwrap();
        fs::set_permissions(ha_d.join("ha.cf"), fs::Permissions::from_mode(0o600)).unwrap();
        let levels = node_levels(&Source::HaD(ha_d.clone()), "node1", "node2").unwrap();
        let hosts: Vec<String> = levels
            .iter()
            .map(|l| l[0].settings.target.bmc().unwrap().host.clone())
            .collect();
        // node3's own line is not node1's to use.
        assert_eq!(hosts, ["198.18.1.99", "198.18.1.2"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn where_the_short_form_looks() {
        assert_eq!(
            ClusterConfig::Native("/srv/ib.toml".into()).resolve(),
            Source::Native {
                file: "/srv/ib.toml".into(),
                defaulted: false
            }
        );
        assert_eq!(
            ClusterConfig::HaD("/srv/ha.d".into()).resolve(),
            Source::HaD("/srv/ha.d".into())
        );
        // Neither option: the native file when it exists, else /etc/ha.d.
        let expected = if Path::new(DEFAULT_NATIVE_CONFIG).exists() {
            Source::Native {
                file: DEFAULT_NATIVE_CONFIG.into(),
                defaulted: true,
            }
        } else {
            Source::HaD(DEFAULT_HA_D.into())
        };
        assert_eq!(ClusterConfig::Default.resolve(), expected);
    }

    #[test]
    fn both_front_doors_build_the_same_bmc() {
        let from_words = settings(
            "ipmi",
            "node2 198.18.1.2 admin pw lanplus cipher=3 priv=operator timeout=5s \
             reset_method=power_cycle ipport=6230",
        )
        .unwrap();
        let device = IpmiDevice {
            address: "198.18.1.2".into(),
            port: 6230,
            username: "admin".into(),
            password: PasswordSource::Inline(Secret::new("pw")),
            interface: IpmiInterface::Lanplus { cipher: Some(3) },
            privilege: IpmiPrivilege::Operator,
            allow_cipher_zero: false,
            timeout: Some(std::time::Duration::from_secs(5)),
            power_wait: std::time::Duration::ZERO,
            method: RebootMethod::PowerCycle,
        };
        let from_model = Settings::from_device(Some("node2".into()), &device).unwrap();
        assert_eq!(from_words.target, from_model.target);
        assert_eq!(from_words.reset, from_model.reset);
        assert_eq!(from_words.hostname, from_model.hostname);
        // The model's checks are the Bmc's: suite 0 needs consent either way.
        let mut zero = device.clone();
        zero.interface = IpmiInterface::Lanplus { cipher: Some(0) };
        let e = Settings::from_device(None, &zero).unwrap_err();
        assert_eq!(e.fault, Fault::InvalidValue);
        // A password file is read (and checked) when the Bmc is built.
        let mut file = device;
        file.password = PasswordSource::File("/nonexistent/node2.pass".into());
        let e = Settings::from_device(None, &file).unwrap_err();
        assert!(
            e.message.contains("cannot read password file"),
            "{}",
            e.message
        );
    }

    fn settings(ty: &str, words: &str) -> Result<Settings, Problem> {
        let ty = device_type(ty).unwrap();
        Settings::from_params(ty, &Params::from_words(ty, words, "-p")?)
    }

    #[test]
    fn positional_orders_follow_the_type() {
        let s = settings("external/ipmi", "node2 198.18.1.2 admin labpass lanplus").unwrap();
        assert_eq!(s.hostname.as_deref(), Some("node2"));
        assert_eq!(s.target.bmc().unwrap().username, "admin");
        assert_eq!(s.target.bmc().unwrap().password.expose(), b"labpass");
        assert_eq!(
            s.target.bmc().unwrap().interface,
            Interface::Lanplus { cipher: None }
        );
        let s = settings(
            "ipmilan",
            "node2 198.18.1.2 6230 md5 operator admin labpass power_cycle",
        )
        .unwrap();
        assert_eq!(s.target.bmc().unwrap().port, 6230);
        assert_eq!(
            s.target.bmc().unwrap().interface,
            Interface::Lan {
                auth: Some(device::LanAuth::Md5)
            }
        );
        assert_eq!(s.target.bmc().unwrap().privilege, Privilege::Operator);
        assert_eq!(s.reset, RebootMethod::PowerCycle);
        let s = settings("ipmi", "node2 198.18.1.2 admin labpass").unwrap();
        assert_eq!(
            s.target.bmc().unwrap().interface,
            Interface::Lanplus { cipher: None }
        );
        let s = settings("external/ipmi", "node2 198.18.1.2 admin labpass").unwrap();
        assert_eq!(
            s.target.bmc().unwrap().interface,
            Interface::Lan { auth: None }
        );
        let s = settings("ipmi", "node2 198.18.1.2 admin labpass cipher=3 timeout=2s").unwrap();
        assert_eq!(
            s.target.bmc().unwrap().interface,
            Interface::Lanplus { cipher: Some(3) }
        );
        assert_eq!(
            s.target.bmc().unwrap().timeout,
            Some(std::time::Duration::from_secs(2))
        );
        let s = settings(
            "external/ipmi",
            "hostname=n ip=h login=u password=p cipher=17",
        )
        .unwrap();
        assert_eq!(
            s.target.bmc().unwrap().interface,
            Interface::Lanplus { cipher: Some(17) }
        );
    }

    #[test]
    fn interface_strings() {
        let w = parse_interface("lanplus -C 3 -L OPERATOR -p 6230").unwrap();
        assert_eq!(
            w,
            InterfaceWords {
                lanplus: true,
                cipher: Some(3),
                privilege: Some(IpmiPrivilege::Operator),
                auth: None,
                port: Some(6230)
            }
        );
        assert_eq!(
            parse_interface("lan -A MD5").unwrap().auth,
            Some(IpmiAuth::Md5)
        );
        for bad in [
            "",
            "serial",
            "lanplus -C",
            "lanplus -C 99",
            "lanplus -N 2",
            "lan -C 3",
            "lanplus -A md5",
        ] {
            assert_eq!(
                parse_interface(bad).unwrap_err().fault,
                Fault::InvalidValue,
                "{bad}"
            );
        }
    }

    #[test]
    fn parameter_problems() {
        let e = settings("ipmi", "node2").unwrap_err();
        assert_eq!(e.fault, Fault::Config);
        assert!(e.message.contains("ipaddr"), "{}", e.message);
        let e = settings("ipmi", "node2 h admin").unwrap_err();
        assert!(e.message.contains("passwd_file"), "{}", e.message);
        let e = settings("ipmi", "hostname=node2 ip=h colour=red").unwrap_err();
        assert_eq!(e.fault, Fault::Config);
        let mut p = Params::default();
        let e = p.insert("colour", "red", "command line").unwrap_err();
        assert!(
            e.message.contains("unknown parameter `colour`"),
            "{}",
            e.message
        );
        let e = settings("ipmi", "node2 h admin p lanplus cipher=4").unwrap_err();
        assert_eq!(e.fault, Fault::InvalidValue);
        let e = settings("ipmi", "node2 h admin p cipher=0").unwrap_err();
        assert!(e.message.contains("any password"), "{}", e.message);
        assert!(settings("ipmi", "node2 h admin p cipher=0 allow_cipher_zero=yes").is_ok());
        let e = settings("ipmi", "node2 h admin p interface=lan cipher=3").unwrap_err();
        assert_eq!(e.fault, Fault::InvalidValue);
        let e = settings("ipmi", "node2 h admin p lanplus priv=operator").unwrap();
        assert_eq!(e.target.bmc().unwrap().privilege, Privilege::Operator);
        assert!(settings("ipmi", "a b c d e f g h i j k l m n").is_err());
        let e = settings("ipmi", "node2 h admin p hostname=x").unwrap_err();
        assert!(e.message.contains("twice"), "{}", e.message);
        let e = settings("ipmi", "ip=h node2").unwrap_err();
        assert!(e.message.contains("follows"), "{}", e.message);
        assert!(!e.message.contains("node2"), "{}", e.message);
        let e = settings("ipmi", "n h u secretpw timeout=never").unwrap_err();
        assert!(!e.message.contains("secretpw"));
    }

    #[test]
    fn hostile_input_never_panics() {
        let base = "node2 198.18.1.2 admin labpass lanplus cipher=3 priv=operator \
                    interface=lanplus timeout=2s reset_method=onoff"
            .as_bytes()
            .to_vec();
        let alphabet = b"= \t-C0x9.\xc3\xa9\x00lanplus";
        for bytes in
            crate::cli::mutate::mutations(&base, alphabet, 0x9e37_79b9_7f4a_7c15u64, 20_000, b' ')
        {
            let text = String::from_utf8_lossy(&bytes);
            for ty in TYPES {
                if let Ok(params) = Params::from_words(ty, &text, "-p") {
                    if params.get(Key::PasswdFile).is_none()
                        && params.get(Key::PasswdMethod).is_none()
                    {
                        let _ = Settings::from_params(ty, &params);
                    }
                }
            }
            let args: Vec<String> = text.split_whitespace().map(String::from).collect();
            let _ = parse_command_line(&args);
            let _ = parse_interface(&text);
        }
    }

    #[test]
    fn metadata_names_every_parameter_once() {
        for ty in TYPES {
            let xml = metadata(ty);
            for p in PARAMS {
                let n = ty
                    .names
                    .iter()
                    .find(|n| param_by_name(n).map(|i| i.key) == Some(p.key))
                    .copied()
                    .unwrap_or(p.name);
                assert_eq!(
                    xml.matches(&format!("<parameter name=\"{n}\"")).count(),
                    1,
                    "{}: {n}",
                    ty.name
                );
            }
        }
    }
}
