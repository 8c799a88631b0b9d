//! The config layer through its public entry points: real files in a scratch
//! directory, fixtures from a real heartbeat deployment and the Debian package,
//! and one test per kind of error, each checking `FILE:LINE:` and the fix.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ironbeat::config::{
    load_fencing, load_ha_d, load_native, parse_ha_cf, AutoFailback, Autojoin, ConfigError,
    FenceAgent, IpmiInterface, IpmiPrivilege, LogFacility, Medium, Pacemaker, PasswordSource,
    RebootMethod, DIRECTIVES,
};
use ironbeat_link::ErrorKind;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config");

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ironbeat-config-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// A copy of a fixture directory, authkeys made 0600 (git keeps 0644).
    fn fixture(name: &str) -> Self {
        let s = Scratch::new();
        for entry in fs::read_dir(Path::new(FIXTURES).join(name)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), s.0.join(entry.file_name())).unwrap();
        }
        if s.0.join("authkeys").exists() {
            s.chmod("authkeys", 0o600);
        }
        for entry in fs::read_dir(&s.0).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".pass") {
                s.chmod(&name, 0o600);
            }
        }
        s
    }

    /// An ha.d with this ha.cf and a good authkeys.
    fn ha_d(ha_cf: &str) -> Self {
        let s = Scratch::new();
        s.write("ha.cf", ha_cf);
        s.write("authkeys", "auth 1\n1 sha256 test-secret\n");
        s.chmod("authkeys", 0o600);
        s
    }

    fn write(&self, name: &str, text: &str) {
        fs::write(self.0.join(name), text).unwrap();
    }

    fn chmod(&self, name: &str, mode: u32) {
        fs::set_permissions(self.0.join(name), fs::Permissions::from_mode(mode)).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn shown(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const GOOD_HA_CF: &str = "keepalive 100ms\ndeadtime 500ms\nwarntime 300ms\ninitdead 10\n\
                          ucast eth0 198.18.0.2\nnode node1 node2\n";

fn ha_d_error(ha_cf: &str) -> (Scratch, ConfigError) {
    let s = Scratch::ha_d(ha_cf);
    let e = load_ha_d(&s.0, "node1", false).unwrap_err();
    (s, e)
}

/// Asserts the error starts with `FILE:LINE: ` and contains every fragment.
fn assert_located(e: &ConfigError, file: &str, line: usize, fragments: &[&str]) {
    let text = e.to_string();
    let prefix = format!("{file}:{line}: ");
    assert!(
        text.starts_with(&prefix),
        "expected prefix {prefix:?}: {text}"
    );
    assert_eq!(e.line(), Some(line), "{text}");
    for f in fragments {
        assert!(text.contains(f), "missing {f:?}: {text}");
    }
}

/// Test names start with `config::` so `cargo test -p ironbeat config` runs them.
mod config {
    use super::*;

    // ---------------------------------------------------------------- fixtures

    #[test]
    fn lab_deployment_loads() {
        // The lab's rendered /etc/ha.d of node1 (heartbeat 3.0.6, profile tight),
        // haresources included: the importer must not trip over it.
        let s = Scratch::fixture("lab-node1");
        assert!(s.path("haresources").exists());
        let c = load_ha_d(&s.0, "node1", false).unwrap();
        assert_eq!(c.cluster, "linux-ha");
        assert_eq!(c.nodes, ["node1", "node2"]);
        assert_eq!(c.peers(), ["node2"]);
        assert_eq!(c.local_node, "node1");
        assert_eq!(c.timing.keepalive, Duration::from_millis(100));
        assert_eq!(c.timing.warntime, Duration::from_millis(300));
        assert_eq!(c.timing.deadtime, Duration::from_millis(500));
        assert_eq!(c.timing.initdead, Duration::from_secs(10));
        assert_eq!(c.udp_port, 694);
        assert_eq!(c.links.len(), 1);
        assert_eq!(c.links[0].name(), "ucast eth0 198.18.4.2");
        assert_eq!(c.links[0].location.line, 12);
        assert!(matches!(c.links[0].medium, Medium::Ucast { port: 694, .. }));
        assert_eq!(c.path_ids().len(), 1);
        assert_eq!(c.keys.active().index(), 1);
        assert_eq!(c.authkeys, s.path("authkeys"));
        assert_eq!(c.autojoin, Autojoin::None);
        assert_eq!(
            c.heartbeat.auto_failback.as_ref().unwrap().value,
            AutoFailback::On
        );
        assert_eq!(
            c.heartbeat.pacemaker.as_ref().unwrap().value,
            Pacemaker::Off
        );
        assert_eq!(
            c.heartbeat.logfacility.as_ref().unwrap().value,
            LogFacility::None
        );
        // The same directory seen from the other node.
        let c2 = load_ha_d(&s.0, "node2", false).unwrap();
        assert_eq!(c2.peers(), ["node1"]);
        assert_eq!(c2.cluster_id(), c.cluster_id());
        assert_ne!(c2.node_id(), c.node_id());
    }

    #[test]
    fn every_directive_fixture_loads_typed() {
        let s = Scratch::fixture("every-directive");
        let c = load_ha_d(&s.0, "db1", false).unwrap();
        assert_eq!(c.cluster, "prod-db");
        assert_eq!(c.peers(), ["db2"]);
        assert_eq!(c.keys.active().index(), 2);
        let names: Vec<String> = c.links.iter().map(|l| l.name()).collect();
        assert_eq!(
            names,
            [
                "ucast eth0 198.18.0.2",
                "ucast6 eth1 fe80::5054:ff:fe29:3949",
                "bcast eth2",
                "bcast eth3",
                "mcast eth4 239.198.18.4 694 1 0",
                "mcast6 eth4 ff12::1:2:3:4 694 1 0",
                "serial /dev/ttyS0",
                "ether eth5",
            ]
        );
        assert!(matches!(
            c.links[6].medium,
            Medium::Serial { baud: 115200, .. }
        ));
        let h = &c.heartbeat;
        assert!(h.auto_failback.is_some() && h.deadping.is_some() && h.pacemaker.is_some());
        assert!(h.crm_daemon_dir.is_some() && h.crmd_spawns_pengine.is_some());
        assert!(h.stonith.is_some() && h.watchdog.is_some() && h.logfile.is_some());
        assert!(h.debugfile.is_some() && h.logfacility.is_some() && h.use_logd.is_some());
        assert!(h.conn_logd_time.is_some() && h.syslogmsgfmt.is_some() && h.log_badpack.is_some());
        assert!(h.use_apphbd.is_some() && h.debug.is_some() && h.realtime.is_some());
        assert!(h.rtprio.is_some() && h.hopfudge.is_some() && h.hbgenmethod.is_some());
        assert!(h.uuidfrom.is_some() && h.msgfmt.is_some() && h.compression.is_some());
        assert!(h.compression_threshold.is_some() && h.traditional_compression.is_some());
        assert!(h.max_rexmit_delay.is_some() && h.coredumps.is_some() && h.coreroot.is_some());
        assert!(h.record_config_changes.is_some() && h.record_pengine_inputs.is_some());
        assert!(h.enable_config_writes.is_some() && h.memreserve.is_some());
        assert!(h.quorum_server.is_some());
        assert_eq!(h.ping.len(), 2);
        assert_eq!(h.ping_groups[0].value.hosts.len(), 2);
        assert_eq!(h.children.len(), 2);
        assert!(h.children[1].value.failfast);
        assert_eq!(h.apiauth.len(), 2);
        assert_eq!(h.stonith_hosts.len(), 2);
        assert_eq!(h.env[0].value.name, "logpriority");
        assert!(!format!("{:?}", h.stonith_hosts).contains("s3cret"));
    }

    #[test]
    fn the_fixtures_use_every_known_directive() {
        let mut used = std::collections::BTreeSet::new();
        for file in [
            "every-directive/ha.cf",
            "legacy-spellings.ha.cf",
            "lab-node1/ha.cf",
        ] {
            let text = fs::read_to_string(Path::new(FIXTURES).join(file)).unwrap();
            for line in text.lines() {
                let content = line.split('#').next().unwrap_or("").trim();
                if let Some(word) = content.split_whitespace().next() {
                    used.insert(word.to_string());
                }
            }
        }
        let missing: Vec<&str> = DIRECTIVES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !used.contains(*name))
            .collect();
        assert!(missing.is_empty(), "fixtures lack: {missing:?}");
    }

    #[test]
    fn legacy_spellings_are_accepted_with_warnings() {
        let path = Path::new(FIXTURES).join("legacy-spellings.ha.cf");
        let cf = parse_ha_cf(&fs::read_to_string(&path).unwrap(), &path).unwrap();
        assert_eq!(cf.links[0].name(), "bcast eth0");
        assert_eq!(cf.warnings.len(), 2);
        assert!(cf.warnings[0].value.contains("write `bcast`"));
        assert_eq!(
            cf.options.auto_failback.as_ref().unwrap().value,
            AutoFailback::Off
        );
        assert_eq!(cf.options.pacemaker.as_ref().unwrap().value, Pacemaker::Off);
        assert_eq!(cf.members("ALPHA").unwrap().0, ["alpha", "beta"]);
    }

    #[test]
    fn debian_sample_parses_unmodified() {
        // /usr/share/doc/heartbeat/ha.cf.gz of heartbeat 1:3.0.6-13+b2, unzipped.
        let path = Path::new(FIXTURES).join("debian-sample.ha.cf");
        let text = fs::read_to_string(&path).unwrap();
        let cf = parse_ha_cf(&text, &path).unwrap();
        assert_eq!(
            cf.options.auto_failback.as_ref().unwrap().value,
            AutoFailback::On
        );
        assert_eq!(
            cf.options.logfacility.as_ref().unwrap().value,
            LogFacility::Syslog("local0".into())
        );
        // Its commented-out examples parse too, once uncommented, except the
        // templates (`yes/no`, `classic/netstring`, `...`) and hbaping, which
        // heartbeat 3.0.6 never shipped.
        let names: Vec<&str> = DIRECTIVES.iter().map(|(n, _)| *n).collect();
        let mut examples = 0;
        for (number, line) in text.lines().enumerate() {
            let Some(example) = line.strip_prefix('#') else {
                continue;
            };
            let Some(word) = example.split_whitespace().next() else {
                continue;
            };
            if example.starts_with(char::is_whitespace) || !names.contains(&word) {
                continue;
            }
            if example.contains("...")
                || example.contains("yes/no")
                || example.contains("/netstring")
            {
                continue;
            }
            let parsed = parse_ha_cf(example, &path);
            assert!(
                parsed.is_ok(),
                "line {}: {example:?}: {:?}",
                number + 1,
                parsed.err()
            );
            examples += 1;
        }
        assert!(examples >= 30, "only {examples} examples found");
    }

    #[test]
    fn native_fixture_loads() {
        let s = Scratch::fixture("native");
        let c = load_native(&s.path("ironbeat.toml"), "node1").unwrap();
        assert_eq!(c.cluster, "prod");
        assert_eq!(c.peers(), ["node2"]);
        assert_eq!(c.timing.keepalive, Duration::from_millis(20));
        assert_eq!(c.authkeys, s.path("authkeys"));
        let names: Vec<String> = c.links.iter().map(|l| l.name()).collect();
        assert_eq!(
            names,
            [
                "ucast eth0 198.18.0.2",
                "mcast eth1 239.198.18.4 694 1 0",
                "bcast eth2",
                "ether eth3",
                "serial /dev/ttyS0"
            ]
        );
        assert_eq!(c.links[0].location.line, 17);
        assert!(c.heartbeat.pacemaker.is_none());
        let device = c.fencing.device_for("node2").unwrap();
        assert_eq!(device.name, "node2-bmc");
        assert_eq!(device.location.line, 44);
        let FenceAgent::Ipmi(ipmi) = &device.agent else {
            panic!("{device:?}")
        };
        assert_eq!(ipmi.address, "198.18.1.2");
        assert_eq!(
            ipmi.password,
            PasswordSource::File(s.path("node2-bmc.pass")),
            "relative to the file's directory"
        );
        assert_eq!(ipmi.interface, IpmiInterface::Lanplus { cipher: Some(17) });
        assert_eq!(ipmi.privilege, IpmiPrivilege::Operator);
        assert_eq!(ipmi.timeout, Some(Duration::from_secs(5)));
        assert_eq!(ipmi.method, RebootMethod::OnOff);
        assert!(c.fencing.device_for("node1").is_none());
        // The password is checked, never kept: Debug cannot show it.
        assert!(!format!("{c:?}").contains("fixture-bmc-pw"));
    }

    #[test]
    fn both_doors_give_the_same_model() {
        let s = Scratch::ha_d(
            "keepalive 20ms\nwarntime 60ms\ndeadtime 100ms\ninitdead 10\n\
                               ucast eth0 198.18.0.2\nnode node1 node2\n",
        );
        s.write(
            "ironbeat.toml",
            "[cluster]\nnodes = [\"node1\", \"node2\"]\n[timing]\nkeepalive = \"20ms\"\n\
             warntime = \"60ms\"\ndeadtime = \"100ms\"\ninitdead = \"10s\"\n\
             [[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"198.18.0.2\"\n",
        );
        let a = load_ha_d(&s.0, "node1", false).unwrap();
        let b = load_native(&s.path("ironbeat.toml"), "node1").unwrap();
        assert_eq!(a.cluster, b.cluster);
        assert_eq!(a.nodes, b.nodes);
        assert_eq!(a.timing, b.timing);
        assert_eq!(a.udp_port, b.udp_port);
        let media = |c: &ironbeat::config::Config| {
            c.links.iter().map(|l| l.medium.clone()).collect::<Vec<_>>()
        };
        assert_eq!(media(&a), media(&b));
        assert_eq!(a.authkeys, b.authkeys);
    }

    // ------------------------------------------------------- one test per error

    #[test]
    fn unknown_directive() {
        let (s, e) = ha_d_error(&format!("{GOOD_HA_CF}# tuning\nkeepalives 2\n"));
        assert_located(
            &e,
            &s.shown("ha.cf"),
            8,
            &["unknown directive `keepalives`", "did you mean `keepalive`"],
        );
        assert_eq!(e.kind(), ErrorKind::Config);
    }

    #[test]
    fn bad_duration() {
        let (s, e) =
            ha_d_error("keepalive 100ms\ndeadtime 5x\nucast eth0 198.18.0.2\nnode node1\n");
        assert_located(
            &e,
            &s.shown("ha.cf"),
            2,
            &["deadtime `5x` is not a duration", "`deadtime 500ms`"],
        );
    }

    #[test]
    fn bad_timing_relation() {
        let (s, e) = ha_d_error("keepalive 1\ndeadtime 2\nucast eth0 198.18.0.2\nnode node1\n");
        assert_located(
            &e,
            &s.shown("ha.cf"),
            2,
            &["more than twice keepalive", "raise deadtime"],
        );
        let (s, e) = ha_d_error(
            "deadtime 10\nwarntime 10\ninitdead 20\nucast eth0 198.18.0.2\nnode node1\n",
        );
        assert_located(
            &e,
            &s.shown("ha.cf"),
            2,
            &["warntime", "less than deadtime", "try warntime"],
        );
    }

    #[test]
    fn bad_ip_address() {
        let (s, e) = ha_d_error("node node1\nucast eth0 198.18.0.256\n");
        assert_located(
            &e,
            &s.shown("ha.cf"),
            2,
            &[
                "`198.18.0.256` is not an IP address",
                "ucast eth0 198.18.0.2",
            ],
        );
        let (s, e) = ha_d_error("node node1\nmcast eth0 198.18.0.1 694 1 0\n");
        assert_located(
            &e,
            &s.shown("ha.cf"),
            2,
            &["not a multicast group", "239.192.0.1"],
        );
    }

    #[test]
    fn bad_baud() {
        let (s, e) = ha_d_error("node node1\nbaud 14400\nserial /dev/ttyS0\n");
        assert_located(
            &e,
            &s.shown("ha.cf"),
            2,
            &["baud 14400", "use one of 9600, 19200"],
        );
    }

    #[test]
    fn serial_line_too_slow_for_keepalive() {
        let (s, e) = ha_d_error(
            "node node1\nkeepalive 20ms\nwarntime 60ms\ndeadtime 100ms\ninitdead 10\n\
             baud 9600\nserial /dev/ttyS0\n",
        );
        assert_located(
            &e,
            &s.shown("ha.cf"),
            7,
            &[
                "9600 baud cannot carry a heartbeat every 20 ms",
                "raise keepalive to at least",
                "baud to 115200",
            ],
        );
        // The same line at 115200 baud carries it.
        let s = Scratch::ha_d(
            "node node1\nkeepalive 20ms\nwarntime 60ms\ndeadtime 100ms\ninitdead 10\n\
             baud 115200\nserial /dev/ttyS0\n",
        );
        assert!(load_ha_d(&s.0, "node1", false).is_ok());
    }

    #[test]
    fn node_not_listed() {
        let s = Scratch::ha_d(GOOD_HA_CF);
        let e = load_ha_d(&s.0, "node7", false).unwrap_err();
        assert_located(
            &e,
            &s.shown("ha.cf"),
            6,
            &[
                "`node7` is not among the nodes",
                "add `node node7`",
                "--node",
            ],
        );
    }

    #[test]
    fn no_media_and_no_nodes() {
        let (s, e) = ha_d_error("node node1\n");
        assert_eq!(e.line(), None);
        assert!(
            e.to_string()
                .starts_with(&format!("{}: no heartbeat medium", s.shown("ha.cf"))),
            "{e}"
        );
        assert!(e.to_string().contains("add at least one"), "{e}");
        let (s, e) = ha_d_error("bcast eth0\n");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: no `node` line", s.shown("ha.cf"))),
            "{e}"
        );
    }

    #[test]
    fn missing_ha_cf() {
        let s = Scratch::new();
        let e = load_ha_d(&s.0, "node1", false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}: cannot read", s.shown("ha.cf"))),
            "{text}"
        );
        assert!(text.contains("copy the annotated sample"), "{text}");
    }

    #[test]
    fn missing_authkeys() {
        let s = Scratch::ha_d(GOOD_HA_CF);
        fs::remove_file(s.path("authkeys")).unwrap();
        let e = load_ha_d(&s.0, "node1", false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "{}: cannot read the cluster keys",
                s.shown("authkeys")
            )),
            "{text}"
        );
        assert!(
            text.contains("`auth 1`") && text.contains("chmod 600"),
            "{text}"
        );
    }

    #[test]
    fn insecure_authkeys_mode() {
        let s = Scratch::ha_d(GOOD_HA_CF);
        s.chmod("authkeys", 0o644);
        let e = load_ha_d(&s.0, "node1", false).unwrap_err();
        let shown = s.shown("authkeys");
        assert_eq!(
            e.to_string(),
            format!(
                "{shown}: mode 0644 lets other users read the cluster key; run chmod 600 {shown}"
            )
        );
        assert_eq!(e.kind(), ErrorKind::Auth);
        s.chmod("authkeys", 0o640);
        assert!(load_ha_d(&s.0, "node1", false).is_err());
        s.chmod("authkeys", 0o400);
        assert!(load_ha_d(&s.0, "node1", false).is_ok());
    }

    #[test]
    fn crc_needs_explicit_permission() {
        let s = Scratch::ha_d(GOOD_HA_CF);
        s.write("authkeys", "auth 1\n1 crc\n");
        let e = load_ha_d(&s.0, "node1", false).unwrap_err();
        assert_located(
            &e,
            &s.shown("authkeys"),
            2,
            &["crc", "authenticates nothing", "sha256"],
        );
        let c = load_ha_d(&s.0, "node1", true).unwrap();
        assert!(c.keys.has_crc());
        assert!(c.allow_insecure_crc);
    }

    #[test]
    fn authkeys_syntax_error_keeps_its_line() {
        let s = Scratch::ha_d(GOOD_HA_CF);
        s.write("authkeys", "auth 1\n1 sha256 secret\n1 md5 again\n");
        let e = load_ha_d(&s.0, "node1", false).unwrap_err();
        assert_located(&e, &s.shown("authkeys"), 3, &["defined twice", "keep one"]);
    }

    #[test]
    fn not_utf8() {
        let s = Scratch::ha_d("");
        fs::write(s.path("ha.cf"), b"node node1\nbcast eth0\nnode \xff\n").unwrap();
        let e = load_ha_d(&s.0, "node1", false).unwrap_err();
        assert_located(&e, &s.shown("ha.cf"), 3, &["not UTF-8", "save it as UTF-8"]);
    }

    const NATIVE_HEAD: &str = "[cluster]\nnodes = [\"node1\", \"node2\"]\n";
    const NATIVE_LINK: &str =
        "[[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"198.18.0.2\"\n";

    fn native_error(text: &str) -> (Scratch, ConfigError) {
        let s = Scratch::new();
        s.write("ironbeat.toml", text);
        s.write("authkeys", "auth 1\n1 sha256 k\n");
        s.chmod("authkeys", 0o600);
        let e = load_native(&s.path("ironbeat.toml"), "node1").unwrap_err();
        (s, e)
    }

    #[test]
    fn unknown_toml_key() {
        let (s, e) = native_error(&format!("{NATIVE_HEAD}autojion = \"none\"\n{NATIVE_LINK}"));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            3,
            &["unknown key `autojion`", "did you mean `autojoin`"],
        );
        let (s, e) = native_error(&format!(
            "{NATIVE_HEAD}[timing]\nkeepalive = \"1s\"\nheartbeat = \"1s\"\n{NATIVE_LINK}"
        ));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            5,
            &["unknown key `heartbeat`", "remove it"],
        );
        let (s, e) = native_error(&format!("{NATIVE_HEAD}[timers]\n{NATIVE_LINK}"));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            3,
            &["unknown key `timers`", "did you mean `timing`"],
        );
    }

    #[test]
    fn wrong_toml_type() {
        let (s, e) = native_error(&format!(
            "{NATIVE_HEAD}[timing]\ndeadtime = 30\n{NATIVE_LINK}"
        ));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            4,
            &["invalid type", "quote it"],
        );
        let (s, e) = native_error(&format!("[cluster]\nnodes = \"node1\"\n{NATIVE_LINK}"));
        assert_located(&e, &s.shown("ironbeat.toml"), 2, &["invalid type"]);
        let (s, e) = native_error(&format!("{NATIVE_HEAD}{NATIVE_LINK}port = \"694\"\n"));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            7,
            &["invalid type", "without quotes"],
        );
    }

    #[test]
    fn missing_required_toml_key() {
        let (s, e) = native_error(&format!(
            "{NATIVE_HEAD}[[link]]\nkind = \"mcast\"\niface = \"eth1\"\n"
        ));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            4,
            &["needs `group`", "group = \"239.192.0.42\""],
        );
        let (s, e) = native_error(&format!("[cluster]\nname = \"x\"\n{NATIVE_LINK}"));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            1,
            &["no `nodes`", "nodes = [\"node1\""],
        );
    }

    #[test]
    fn toml_value_errors() {
        let (s, e) = native_error(&format!(
            "{NATIVE_HEAD}[timing]\nkeepalive = \"1s\"\ndeadtime = \"2s\"\n{NATIVE_LINK}"
        ));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            5,
            &["more than twice keepalive"],
        );
        let (s, e) = native_error(&format!(
            "{NATIVE_HEAD}[[link]]\nkind = \"serial\"\ntty = \"/dev/ttyS0\"\nbaud = 14400\n"
        ));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            6,
            &["baud 14400", "use one of"],
        );
        let (s, e) = native_error(&format!(
            "{NATIVE_HEAD}[[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"node2\"\n"
        ));
        assert_located(&e, &s.shown("ironbeat.toml"), 6, &["not an IP address"]);
        let (s, e) = native_error(&format!("{NATIVE_HEAD}{NATIVE_LINK}ttl = 1\n"));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            7,
            &["`ttl` does not apply to a ucast link", "remove it"],
        );
        let (s, e) = native_error(&format!("[cluster]\nnodes = [\"node2\"]\n{NATIVE_LINK}"));
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            2,
            &["\"node1\" is not in `nodes`", "--node"],
        );
    }

    #[test]
    fn native_authkeys_checks() {
        let s = Scratch::new();
        s.write("ironbeat.toml", &format!("{NATIVE_HEAD}{NATIVE_LINK}"));
        let e = load_native(&s.path("ironbeat.toml"), "node1").unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "{}: cannot read the cluster keys",
                s.shown("authkeys")
            )),
            "{e}"
        );
        s.write("authkeys", "auth 1\n1 sha256 k\n");
        s.chmod("authkeys", 0o604);
        let e = load_native(&s.path("ironbeat.toml"), "node1").unwrap_err();
        assert!(
            e.to_string()
                .contains("mode 0604 lets other users read the cluster key"),
            "{e}"
        );
        s.chmod("authkeys", 0o600);
        s.write("authkeys", "auth 1\n1 crc\n");
        let e = load_native(&s.path("ironbeat.toml"), "node1").unwrap_err();
        assert_eq!(e.line(), Some(2), "{e}");
        s.write(
            "ironbeat.toml",
            &format!("{NATIVE_HEAD}allow_insecure_crc = true\n{NATIVE_LINK}"),
        );
        assert!(load_native(&s.path("ironbeat.toml"), "node1")
            .unwrap()
            .keys
            .has_crc());
    }

    #[test]
    fn missing_native_file() {
        let s = Scratch::new();
        let e = load_native(&s.path("ironbeat.toml"), "node1").unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "{}: cannot read the configuration",
                s.shown("ironbeat.toml")
            )),
            "{e}"
        );
        assert!(e.to_string().contains("--ha-d"), "{e}");
    }

    #[test]
    fn errors_travel_through_anyhow() {
        fn run(dir: &Path) -> anyhow::Result<()> {
            load_ha_d(dir, "node1", false)?;
            Ok(())
        }
        let (s, _) = ha_d_error("node node1\nbcast eth0\nwatchdog\n");
        let e = run(&s.0).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("{}:3: ", s.shown("ha.cf"))),
            "{e}"
        );
        let link_error: ironbeat_link::Error = e.downcast::<ConfigError>().unwrap().into();
        assert_eq!(link_error.kind(), ErrorKind::Config);
    }

    // ------------------------------------------------------------- fencing

    const FENCE_DEVICE: &str = "[[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\n\
                                nodes = [\"node2\"]\nip = \"198.18.1.2\"\nusername = \"admin\"\n\
                                password_file = \"node2.pass\"\n";
    /// The line of `password_file` in `{NATIVE_HEAD}{NATIVE_LINK}{FENCE_DEVICE}`.
    const PASSWORD_FILE_LINE: usize = 13;

    /// A native file with one fence device whose password file is
    /// `node2.pass` beside it, holding `password` with `mode`.
    fn fenced(password: Option<&[u8]>, mode: u32, extra: &str) -> Scratch {
        let s = Scratch::new();
        s.write(
            "ironbeat.toml",
            &format!("{NATIVE_HEAD}{NATIVE_LINK}{FENCE_DEVICE}{extra}"),
        );
        s.write("authkeys", "auth 1\n1 sha256 k\n");
        s.chmod("authkeys", 0o600);
        if let Some(p) = password {
            fs::write(s.path("node2.pass"), p).unwrap();
            s.chmod("node2.pass", mode);
        }
        s
    }

    fn fence_error(s: &Scratch) -> ConfigError {
        let e = load_native(&s.path("ironbeat.toml"), "node1").unwrap_err();
        // The fencing-only loader finds the same problem at the same place.
        assert_eq!(load_fencing(&s.path("ironbeat.toml")).unwrap_err(), e);
        e
    }

    #[test]
    fn fence_password_file_checks() {
        let s = fenced(Some(b"labpass\n"), 0o600, "");
        let c = load_native(&s.path("ironbeat.toml"), "node1").unwrap();
        assert_eq!(c.fencing.devices.len(), 1);

        let s = fenced(None, 0, "");
        let e = fence_error(&s);
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            PASSWORD_FILE_LINE,
            &["does not exist", "install -m 600 /dev/null"],
        );

        for mode in [0o644, 0o640, 0o604, 0o660] {
            let s = fenced(Some(b"labpass\n"), mode, "");
            let e = fence_error(&s);
            let pw = s.shown("node2.pass");
            assert_located(
                &e,
                &s.shown("ironbeat.toml"),
                PASSWORD_FILE_LINE,
                &[&format!("mode {mode:04o}"), &format!("run chmod 600 {pw}")],
            );
            assert_eq!(e.kind(), ErrorKind::Auth);
            assert!(!e.to_string().contains("labpass"), "{e}");
        }
        // 0400 is stricter than 0600: fine.
        let s = fenced(Some(b"labpass\n"), 0o400, "");
        load_native(&s.path("ironbeat.toml"), "node1").unwrap();

        let s = fenced(Some(b"\nlabpass\n"), 0o600, "");
        assert_located(
            &fence_error(&s),
            &s.shown("ironbeat.toml"),
            PASSWORD_FILE_LINE,
            &["empty first line"],
        );
        let s = fenced(Some(b"a-password-of-21-byte\n"), 0o600, "");
        let e = fence_error(&s);
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            PASSWORD_FILE_LINE,
            &["21 bytes long", "at most 20"],
        );
        assert!(!e.to_string().contains("a-password"), "{e}");
        let s = fenced(
            Some(b"seventeen-bytes-x\r\n"),
            0o600,
            "interface = \"lan\"\n",
        );
        assert_located(
            &fence_error(&s),
            &s.shown("ironbeat.toml"),
            PASSWORD_FILE_LINE,
            &["17 bytes long", "IPMI 1.5", "at most 16"],
        );
        // A CR before the newline is not part of the password.
        let s = fenced(
            Some(b"sixteen-bytes-xx\r\n"),
            0o600,
            "interface = \"lan\"\n",
        );
        load_native(&s.path("ironbeat.toml"), "node1").unwrap();

        let s = fenced(None, 0, "");
        fs::create_dir(s.path("node2.pass")).unwrap();
        assert_located(
            &fence_error(&s),
            &s.shown("ironbeat.toml"),
            PASSWORD_FILE_LINE,
            &["not a regular file"],
        );
    }

    #[test]
    fn fence_password_file_owned_by_another_user() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: fence_password_file_owned_by_another_user: not root (chown)");
            return;
        }
        let s = fenced(Some(b"labpass\n"), 0o600, "");
        std::os::unix::fs::chown(s.path("node2.pass"), Some(65534), None).unwrap();
        let e = fence_error(&s);
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            PASSWORD_FILE_LINE,
            &[
                "belongs to uid 65534",
                &format!("chown root: {}", s.shown("node2.pass")),
            ],
        );
        // The group does not matter (mode 0600 keeps it out).
        std::os::unix::fs::chown(s.path("node2.pass"), Some(0), Some(65534)).unwrap();
        load_native(&s.path("ironbeat.toml"), "node1").unwrap();
    }

    #[test]
    fn fence_section_errors() {
        // One per kind of mistake, through load_native: located, with the fix.
        for (extra, line, fragments) in [
            (
                "colour = \"red\"\n",
                14,
                &["unknown key `colour`", "valid here"][..],
            ),
            (
                "cipher = 5\n",
                14,
                &["cipher suite 5 is not supported", "use 17 or 3"],
            ),
            (
                "password = \"hunter2\"\n",
                14,
                &["not written in this file", "password_file"],
            ),
            (
                "[[fence.device]]\nname = \"node2-bmc\"\n",
                15,
                &["\"node2-bmc\" is already used at line 8"],
            ),
            (
                "[[fence.device]]\nname = \"other\"\ntype = \"manual\"\nnodes = [\"node2\"]\n",
                17,
                &["node2 is fenced by \"node2-bmc\" (line 8) and by \"other\""],
            ),
            (
                "[[fence.device]]\nname = \"pdu\"\ntype = \"vmware\"\n",
                16,
                &["unknown fence device type \"vmware\"", "known types: ipmi"],
            ),
        ] {
            let s = fenced(Some(b"labpass\n"), 0o600, extra);
            let e = fence_error(&s);
            assert_located(&e, &s.shown("ironbeat.toml"), line, fragments);
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let s = fenced(Some(b"labpass\n"), 0o600, "");
        s.write(
            "ironbeat.toml",
            &format!(
                "{NATIVE_HEAD}{NATIVE_LINK}{}",
                FENCE_DEVICE.replace("node2\"]", "node7\"]")
            ),
        );
        let e = fence_error(&s);
        assert_located(
            &e,
            &s.shown("ironbeat.toml"),
            10,
            &["\"node7\" is not a member", "add it to [cluster] nodes"],
        );
    }

    #[test]
    fn load_fencing_needs_no_keys_and_no_membership() {
        // Fencing may be run from a machine outside the cluster, without the
        // cluster keys.
        let s = fenced(Some(b"labpass\n"), 0o600, "");
        fs::remove_file(s.path("authkeys")).unwrap();
        let fencing = load_fencing(&s.path("ironbeat.toml")).unwrap();
        assert_eq!(fencing.fenced_nodes(), ["node2"]);
        assert!(load_native(&s.path("ironbeat.toml"), "node1").is_err());
        // But the whole file is still checked.
        s.write(
            "ironbeat.toml",
            &format!("{NATIVE_HEAD}{NATIVE_LINK}port = 0\n{FENCE_DEVICE}"),
        );
        let e = load_fencing(&s.path("ironbeat.toml")).unwrap_err();
        assert_located(&e, &s.shown("ironbeat.toml"), 7, &["not a UDP port"]);
        let e = load_fencing(&s.path("missing.toml")).unwrap_err();
        assert!(
            e.to_string().contains("cannot read the configuration"),
            "{e}"
        );
    }
}
