//! ironbeat's front ends for APC PDUs against the real snmpd peer: `stonith
//! -t apc | apcmastersnmp | external/rackpdu` (cluster-glue's parameter
//! names) and `fence_ironbeat_apc` (fence_apc_snmp's options and stdin
//! protocol), checked against the simulator's state, fence_apc_snmp, and
//! cluster-glue's own stonith plugins on the same agent.
//!
//! Needs the binaries built (`cargo build -p ironbeat --bins`, as
//! scripts/test-all.sh does).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ironbeat_hw_tests::snmpd::{Pdu, PduSpec, Personality};
use ironbeat_hw_tests::{binary, cmd};

fn ready(test: &str) -> Option<(PathBuf, PathBuf)> {
    let bins = binary::named("stonith").and_then(|s| Ok((s, binary::named("fence_ironbeat")?)));
    let missing: Vec<&str> = ["snmpd", "snmpget", "fence_apc_snmp"]
        .into_iter()
        .filter(|t| !ironbeat_hw_tests::env::has_tool(t))
        .collect();
    match bins {
        Ok(b) if missing.is_empty() => Some(b),
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(_) => format!("missing {missing:?}"),
            };
            if ironbeat_hw_tests::env::required() {
                panic!("{test}: {why}");
            }
            eprintln!("SKIPPED: {test}: {why}");
            None
        }
    }
}

fn run(c: &mut Command) -> (i32, String) {
    let out = cmd::run(c, Duration::from_secs(30)).expect("running");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", out.stdout, out.stderr),
    )
}

fn stonith(bin: &PathBuf, args: &[String]) -> (i32, String) {
    run(Command::new(bin).args(args))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn stonith_types_switch_and_verify_outlets() {
    let Some((bin, _)) = ready("stonith_types_switch_and_verify_outlets") else {
        return;
    };
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::Rpdu)).expect("snmpd");
    let ip = format!("ipaddr={}", pdu.host());
    let port = format!("ipport={}", pdu.port());

    // -t apc: off by node name, read back by fence_apc_snmp and the simulator.
    let mut a = s(&[
        "-t",
        "apc",
        &ip,
        &port,
        "community=private",
        "-T",
        "off",
        "node2",
    ]);
    let (code, text) = stonith(&bin, &a);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("powered off (seen off)"), "{text}");
    assert!(!text.contains("private"), "community leaked: {text}");
    assert_eq!(pdu.outlet_on(2), Some(false));
    let (code, _) = run(Command::new("fence_apc_snmp").args([
        format!("--ip={}", pdu.host()),
        format!("--ipport={}", pdu.port()),
        "--community=private".into(),
        "--plug=2".into(),
        "--action=status".into(),
    ]));
    assert_eq!(code, 2, "fence_apc_snmp sees outlet 2 off");

    // -l lists the outlet names.
    let (code, text) = stonith(
        &bin,
        &s(&["-t", "apc", &ip, &port, "community=private", "-l"]),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines().any(|l| l == "node3") && text.contains("Outlet 5"),
        "{text}"
    );

    // apcmastersnmp's names: port is honoured here; hosts lower-cased.
    let mport = format!("port={}", pdu.port());
    let (code, text) = stonith(
        &bin,
        &s(&[
            "-t",
            "apcmastersnmp",
            &ip,
            &mport,
            "community=private",
            "-T",
            "on",
            "NODE2",
        ]),
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(pdu.outlet_on(2), Some(true));
    let (code, text) = stonith(
        &bin,
        &s(&[
            "-t",
            "apcmastersnmp",
            &ip,
            &mport,
            "community=private",
            "-l",
        ]),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.lines().any(|l| l == "outlet 5"), "{text}");
    let (code, text) = stonith(
        &bin,
        &s(&[
            "-t",
            "apcmastersnmp",
            &ip,
            &mport,
            "community=private",
            "-T",
            "off",
            "nosuchnode",
        ]),
    );
    assert_eq!(code, 4, "S_BADHOST: {text}");

    // external/rackpdu's names: pduip with the port, hostlist AUTO; reset = off, verify, on.
    let before = pdu.events().lines().count();
    let pduip = format!("pduip={}", pdu.target());
    let (code, text) = stonith(
        &bin,
        &s(&[
            "-t",
            "external/rackpdu",
            "hostlist=AUTO",
            &pduip,
            "community=private",
            "-T",
            "reset",
            "node3",
        ]),
    );
    assert_eq!(code, 0, "{text}");
    let log: Vec<String> = pdu
        .events()
        .lines()
        .skip(before)
        .map(str::to_string)
        .collect();
    assert!(
        log.iter().any(|l| l.contains("outlet 3 off"))
            && log.iter().any(|l| l.contains("outlet 3 on")),
        "{log:?}"
    );
    let (code, text) = stonith(
        &bin,
        &s(&[
            "-t",
            "external/rackpdu",
            "hostlist=node1",
            &pduip,
            "community=private",
            "-T",
            "off",
            "node3",
        ]),
    );
    assert_eq!(code, 4, "node3 is not in hostlist: {text}");

    // Wrong community: S_ACCESS within the deadline, and says why.
    a = s(&[
        "-t",
        "apc",
        &ip,
        &port,
        "community=wrong",
        "timeout=1s",
        "-T",
        "off",
        "node1",
    ]);
    let t0 = std::time::Instant::now();
    let (code, text) = stonith(&bin, &a);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("wrong community or unreachable"), "{text}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(pdu.outlet_on(1), Some(true));
}

#[test]
fn credentials_file_and_snmpv3() {
    let Some((bin, _)) = ready("credentials_file_and_snmpv3") else {
        return;
    };
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::Rpdu2)).expect("snmpd");
    let dir = ironbeat_hw_tests::Scratch::new("apccreds").unwrap();
    let file = dir.join("pdu.snmp");
    std::fs::write(
        &file,
        "user = fenceuser\nauth_password = fenceauth1\npriv_password = fencepriv1\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = |extra: &[&str]| {
        let mut v = s(&["-t", "apc"]);
        v.push(format!("ipaddr={}", pdu.host()));
        v.push(format!("ipport={}", pdu.port()));
        v.push(format!("credentials_file={}", file.display()));
        v.push("snmp_version=3".into());
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    let (code, text) = stonith(&bin, &args(&["-T", "off", "node4"]));
    assert_eq!(code, 1, "a 0644 credentials file is refused: {text}");
    assert!(text.contains("chmod 600"), "{text}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, text) = stonith(&bin, &args(&["-T", "off", "node4"]));
    assert_eq!(code, 0, "{text}");
    assert_eq!(pdu.outlet_on(4), Some(false));
    assert!(!text.contains("fenceauth1") && !text.contains("fencepriv1"));
    // Wrong v3 passphrase: fails fast with S_ACCESS.
    std::fs::write(
        &file,
        "user = fenceuser\nauth_password = wrongpass1\npriv_password = fencepriv1\n",
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    let (code, text) = stonith(&bin, &args(&["-T", "on", "node4"]));
    assert_eq!(code, 2, "{text}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(!text.contains("wrongpass1"), "{text}");
}

#[test]
fn fence_ironbeat_apc_speaks_fence_apc_snmp() {
    let Some((_, agent)) = ready("fence_ironbeat_apc_speaks_fence_apc_snmp") else {
        return;
    };
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::MasterSwitch)).expect("snmpd");
    let dir = ironbeat_hw_tests::Scratch::new("apcagent").unwrap();
    let link = dir.join("fence_ironbeat_apc");
    std::os::unix::fs::symlink(&agent, &link).unwrap();
    let stdin_run = |text: String| {
        let mut c = Command::new(&link);
        c.stdin(std::process::Stdio::piped());
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let base = format!(
        "ip={}\nipport={}\ncommunity=private\n",
        pdu.host(),
        pdu.port()
    );
    let (code, text) = stdin_run(format!("{base}plug=node4\naction=off\n"));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Success: Powered OFF"), "{text}");
    let (code, text) = stdin_run(format!("{base}plug=4\naction=status\n"));
    assert_eq!(code, 2, "status off is exit 2: {text}");
    // Same command line as fence_apc_snmp, both tools agree.
    let common = [
        format!("--ip={}", pdu.host()),
        format!("--ipport={}", pdu.port()),
        "--community=private".into(),
    ];
    let (ours, _) = run(Command::new(&link)
        .args(&common)
        .args(["--plug=4", "--action=status"]));
    let (theirs, _) = run(Command::new("fence_apc_snmp")
        .args(&common)
        .args(["--plug=4", "--action=status"]));
    assert_eq!(ours, theirs);
    let (code, ours_list) = run(Command::new(&link).args(&common).arg("--action=list"));
    assert_eq!(code, 0);
    let (_, theirs_list) = run(Command::new("fence_apc_snmp")
        .args(&common)
        .arg("--action=list"));
    for line in ours_list.lines().filter(|l| l.contains(',')) {
        assert!(theirs_list.contains(line), "{line:?} not in {theirs_list}");
    }
    let (code, text) = run(Command::new(&link)
        .args(&common)
        .arg("--action=list-status"));
    assert_eq!(code, 0);
    assert!(text.contains("4,node4,OFF"), "{text}");
    let (code, text) = run(Command::new(&link).arg("--action=metadata"));
    assert_eq!(code, 0);
    assert!(text.contains("<resource-agent name=\"fence_ironbeat_apc\""));
    // Plug 99: a clear error, exit 1.
    let (code, text) = stdin_run(format!("{base}plug=99\naction=off\n"));
    assert_eq!(code, 1);
    assert!(text.contains("outlet 99 does not exist"), "{text}");
}

#[test]
fn cluster_glue_plugins_and_ours_agree() {
    let Some((bin, _)) = ready("cluster_glue_plugins_and_ours_agree") else {
        return;
    };
    let glue = PathBuf::from("/usr/sbin/stonith");
    if !glue.exists() {
        if ironbeat_hw_tests::env::required() {
            panic!("cluster_glue_plugins_and_ours_agree: /usr/sbin/stonith missing (apt-get install cluster-glue)");
        }
        eprintln!("SKIPPED: cluster_glue_plugins_and_ours_agree: cluster-glue's /usr/sbin/stonith missing");
        return;
    }
    // external/rackpdu takes pduip=host:port: on loopback.
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::Rpdu)).expect("snmpd");
    let pduip = format!("pduip={}", pdu.target());
    let (code, text) = run(Command::new(&glue).args([
        "-t",
        "external/rackpdu",
        "hostlist=AUTO",
        &pduip,
        "community=private",
        "-T",
        "off",
        "node1",
    ]));
    assert_eq!(code, 0, "cluster-glue rackpdu: {text}");
    let (code, text) = stonith(
        &bin,
        &s(&[
            "-t",
            "apc",
            &format!("ipaddr={}", pdu.host()),
            &format!("ipport={}", pdu.port()),
            "community=private",
            "plug=1",
            "-T",
            "on",
            "node1",
        ]),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("powered on (seen on)"),
        "ours saw theirs off and switched on: {text}"
    );
    // apcmastersnmp always uses UDP/161: the agent in a namespace of its own.
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: cluster_glue_plugins_and_ours_agree (apcmastersnmp part): needs root for a namespace");
        return;
    }
    let pdu = Pdu::start_in_netns("apcglue", "198.18.62", &PduSpec::new(Personality::Rpdu))
        .expect("snmpd in a namespace");
    let ip = format!("ipaddr={}", pdu.host());
    let in_ns = |program: &PathBuf, args: &[&str]| {
        let mut c = pdu.client_command(program);
        c.args(args);
        run(&mut c)
    };
    let (code, text) = in_ns(
        &glue,
        &[
            "-t",
            "apcmastersnmp",
            &ip,
            "port=161",
            "community=private",
            "-T",
            "off",
            "node2",
        ],
    );
    assert_eq!(code, 0, "cluster-glue apcmastersnmp: {text}");
    assert_eq!(pdu.outlet_on(2), Some(false));
    let (code, text) = in_ns(
        &bin,
        &[
            "-t",
            "apcmastersnmp",
            &ip,
            "port=161",
            "community=private",
            "-T",
            "on",
            "node2",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("powered on (seen on)"), "{text}");
    let (code, glue_hosts) = in_ns(
        &glue,
        &[
            "-t",
            "apcmastersnmp",
            &ip,
            "port=161",
            "community=private",
            "-l",
        ],
    );
    assert_eq!(code, 0);
    let (code, our_hosts) = in_ns(
        &bin,
        &[
            "-t",
            "apcmastersnmp",
            &ip,
            "port=161",
            "community=private",
            "-l",
        ],
    );
    assert_eq!(code, 0);
    let mut g: Vec<&str> = glue_hosts.lines().filter(|l| !l.is_empty()).collect();
    let mut o: Vec<&str> = our_hosts.lines().filter(|l| !l.is_empty()).collect();
    g.sort();
    o.sort();
    assert_eq!(g, o, "the same host list");
}

#[test]
fn native_config_device_fences_a_dual_psu_node() {
    let Some((bin, _)) = ready("native_config_device_fences_a_dual_psu_node") else {
        return;
    };
    let mut spec = PduSpec::new(Personality::Rpdu);
    spec.names = ["node1", "node2", "node2", "node3"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let pdu = Pdu::start_loopback(&spec).expect("snmpd");
    let dir = ironbeat_hw_tests::Scratch::new("apcnative").unwrap();
    let creds = dir.join("pdu1.snmp");
    std::fs::write(&creds, "community = private\n").unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.join("ironbeat.toml");
    std::fs::write(
        &config,
        format!(
            "[cluster]\nnodes = [\"node1\", \"node2\", \"node3\"]\n[[link]]\nkind = \"ether\"\niface = \"lo\"\n\
             [[fence.device]]\nname = \"pdu1\"\ntype = \"apc\"\nnodes = [\"node2\", \"node3\"]\nip = \"{}\"\n\
             port = {}\ncredentials_file = \"pdu1.snmp\"\ntimeout = \"5s\"\n",
            pdu.host(),
            pdu.port()
        ),
    )
    .unwrap();
    let h = |node: &str, action: &str| {
        let c = config.display().to_string();
        stonith(
            &bin,
            &s(&["--config", &c, "--node", "node1", "-H", node, action]),
        )
    };
    let (code, text) = h("node2", "off");
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        (pdu.outlet_on(2), pdu.outlet_on(3)),
        (Some(false), Some(false)),
        "both PSUs off"
    );
    assert_eq!(pdu.outlet_on(4), Some(true));
    let (code, text) = h("node2", "status");
    assert_eq!(code, 7, "S_ISOFF: {text}");
    let (code, text) = h("node3", "reset");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("then on (seen on)"), "{text}");
}

#[test]
fn ha_cf_stonith_host_lines_of_apc_types() {
    let Some((bin, _)) = ready("ha_cf_stonith_host_lines_of_apc_types") else {
        return;
    };
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::Rpdu2)).expect("snmpd");
    let dir = ironbeat_hw_tests::Scratch::new("apchacf").unwrap();
    std::fs::write(
        dir.join("ha.cf"),
        format!(
            "node node1\nnode node2\nnode node3\nbcast lo\n\
             stonith_host * external/rackpdu node3 {} private\n\
             stonith_host * apcmastersnmp {} {} private\n",
            pdu.target(),
            pdu.host(),
            pdu.port()
        ),
    )
    .unwrap();
    let h = |node: &str, action: &str| {
        let d = dir.path().display().to_string();
        stonith(
            &bin,
            &s(&["--ha-d", &d, "--node", "node1", "-v", "-H", node, action]),
        )
    };
    let (code, text) = h("node2", "off");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("apcmastersnmp"),
        "the second line serves node2: {text}"
    );
    assert_eq!(pdu.outlet_on(2), Some(false));
    let (code, text) = h("node3", "off");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("external/rackpdu"),
        "rackpdu's hostlist names node3: {text}"
    );
    assert_eq!(pdu.outlet_on(3), Some(false));
    assert!(!text.contains("private"), "{text}");
}
