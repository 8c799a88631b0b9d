//! `stonith` through its binary: cluster-glue's command lines, the `-H`
//! short form, every input error with its exit code, and (when ipmi_sim is
//! installed and we are root) real runs against OpenIPMI's BMC simulator in a
//! network namespace.

mod fence_cli;

use std::path::Path;

use fence_cli::{Outcome, Scratch};

const STONITH: &str = env!("CARGO_BIN_EXE_stonith");

fn stonith(args: &[&str]) -> Outcome {
    fence_cli::run(STONITH, args, &[], None)
}

fn stonith_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    fence_cli::run(STONITH, args, env, None)
}

const S_OK: i32 = 0;
const S_BADCONFIG: i32 = 1;
const S_INVAL: i32 = 3;
const S_BADHOST: i32 = 4;
const S_OOPS: i32 = 8;

/// A parameter set that passes every check (the address is never contacted
/// by the tests that use it: they fail before).
const GOOD: &[&str] = &[
    "hostname=node2",
    "ipaddr=198.18.1.2",
    "userid=admin",
    "passwd=SeCrEt-pw1",
];

fn with<'a>(extra: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-t", "ipmi"];
    args.extend_from_slice(GOOD);
    args.extend_from_slice(extra);
    args.extend_from_slice(tail);
    args
}

#[test]
fn lists_types_and_parameter_names() {
    let out = stonith(&["-L"]);
    out.expect(S_OK);
    assert_eq!(
        out.stdout,
        "ipmi\nexternal/ipmi\nipmilan\nmeatware\nredfish\nilo\nidrac\napc\napcmastersnmp\n\
         external/rackpdu\n"
    );
    let out = stonith(&["-t", "ipmi", "-n"]);
    out.expect(S_OK);
    assert!(out
        .stdout
        .starts_with("hostname  ipaddr  userid  passwd  interface  ipport  cipher"));
    // The compatibility types print exactly what cluster-glue prints.
    for ty in ["external/ipmi", "ipmilan"] {
        let ours = stonith(&["-t", ty, "-n"]);
        ours.expect(S_OK);
        if Path::new("/usr/sbin/stonith").exists() {
            let theirs = fence_cli::run("/usr/sbin/stonith", &["-t", ty, "-n"], &[], None);
            assert_eq!(ours.stdout, theirs.stdout, "{ty}");
        } else {
            eprintln!("cluster-glue not installed: -n of {ty} not compared");
        }
    }
    let out = stonith(&["-V"]);
    out.expect(S_OK);
    assert!(out.stdout.starts_with("stonith: ironbeat "));
}

#[test]
fn metadata_is_well_formed_and_follows_the_ra_dtd() {
    let scratch = Scratch::new("stonith-meta");
    for ty in ["ipmi", "external/ipmi", "ipmilan"] {
        let out = stonith(&["-t", ty, "-m"]);
        out.expect(S_OK);
        assert!(out
            .stdout
            .contains(&format!("<resource-agent name=\"{ty}\">")));
        assert!(out.stdout.contains("<parameter name=\"hostname\""));
        let file = scratch.write("meta.xml", &out.stdout);
        fence_cli::xmllint(&["--noout", file.to_str().unwrap()]);
        let dtd = Path::new("/usr/share/resource-agents/ra-api-1.dtd");
        if dtd.exists() {
            fence_cli::xmllint(&[
                "--noout",
                "--dtdvalid",
                dtd.to_str().unwrap(),
                file.to_str().unwrap(),
            ]);
        } else {
            eprintln!("resource-agents' ra-api-1.dtd not installed: DTD not checked");
        }
    }
}

#[test]
fn help_describes_every_type_or_one() {
    let out = stonith(&["-h"]);
    out.expect(S_OK);
    for ty in ["ipmi", "external/ipmi", "ipmilan"] {
        assert!(
            out.stdout.contains(&format!("STONITH Device: {ty} - ")),
            "{ty}"
        );
    }
    assert!(out.stdout.contains("-H"));
    let out = stonith(&["-t", "ipmilan", "-h"]);
    out.expect(S_OK);
    assert!(out.stdout.contains("STONITH Device: ipmilan"));
    assert!(!out.stdout.contains("STONITH Device: ipmi -"));
}

#[test]
fn unknown_type_is_s_oops() {
    for args in [
        &["-t", "apcmaster", "-n"][..],
        &["-t", "baytech", "ipaddr=x", "-S"],
        &[
            "-t",
            "apcmaster",
            "-H",
            "node2",
            "reset",
            "--ha-d",
            "/nonexistent",
        ],
    ] {
        let out = stonith(args);
        out.expect(S_OOPS);
        assert!(out.stderr.contains("Invalid device type"), "{}", out.stderr);
    }
}

#[test]
fn usage_errors_exit_1_with_the_usage() {
    for args in [
        &["-S"][..],
        &["-t", "ipmi"],
        &["-t", "ipmi", "-p", "a b", "-F", "/etc/passwd", "-S"],
        &["-t", "ipmi", "-p", "a b", "ipaddr=x", "node2"],
        &["-t", "ipmi", "-T", "explode", "ipaddr=x", "node2"],
        &["-t", "ipmi", "-c", "0", "ipaddr=x", "-S"],
        &["-t", "ipmi", "ipaddr=x", "node2", "node3"],
        &["-t", "ipmi", "-Q"],
        &["-H", "node2"],
        &["-H", "node2", "explode"],
    ] {
        let out = stonith(args);
        out.expect(S_BADCONFIG);
        assert!(out.stderr.contains("usage:"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn missing_parameters_are_s_badconfig_and_named() {
    let out = stonith(&["-t", "ipmi", "hostname=node2", "-S"]);
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.contains("missing parameter ipaddr"),
        "{}",
        out.stderr
    );
    let out = stonith(&["-t", "ipmi", "hostname=node2", "ipaddr=h", "userid=u", "-S"]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("passwd_file"), "{}", out.stderr);
    // -l and -T need the node the device powers.
    let out = stonith(&["-t", "ipmi", "ipaddr=h", "userid=u", "passwd=p", "-l"]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("hostname"), "{}", out.stderr);
    // Unknown names are errors, not silently ignored.
    let out = stonith(&with(&["colour=red"], &["-l"]));
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.contains("unknown parameter `colour`"),
        "{}",
        out.stderr
    );
    // Too many positional values.
    let out = stonith(&["-t", "external/ipmi", "-p", "a b c d e f", "-l"]);
    out.expect(S_BADCONFIG);
    assert!(out
        .stderr
        .contains("hostname ipaddr userid passwd interface"));
}

#[test]
fn bad_values_are_s_inval() {
    for (extra, says) in [
        ("cipher=5", "cipher suite 5 is not supported"),
        ("cipher=x", "not a number"),
        ("cipher=0", "any password"),
        ("interface=lanplus -C 99", "cipher suite 99"),
        ("interface=serial", "lan (IPMI 1.5) or"),
        ("interface=lanplus -N 2", "-N"),
        ("priv=user", "cannot control chassis power"),
        ("auth=md2", "md2"),
        ("ipport=70000", "not a UDP port"),
        ("timeout=soon", "not a duration"),
        ("reset_method=kick", "reset_method"),
    ] {
        let out = stonith(&with(&[extra], &["-l"]));
        out.expect(S_INVAL);
        assert!(out.stderr.contains(says), "{extra}: {}", out.stderr);
    }
    // Consent makes suite 0 acceptable.
    stonith(&with(&["cipher=0", "allow_cipher_zero=yes"], &["-l"])).expect(S_OK);
}

#[test]
fn list_hosts_prints_the_node_and_contacts_nothing() {
    for ty in ["ipmi", "external/ipmi"] {
        let mut args = vec!["-t", ty];
        args.extend_from_slice(GOOD);
        args.push("-l");
        let out = stonith(&args);
        out.expect(S_OK);
        assert_eq!(out.stdout, "node2\n");
    }
    // Positional -p in ipmilan's order, and -c repeats.
    let out = stonith(&[
        "-t",
        "ipmilan",
        "-p",
        "node2 198.18.1.2 623 md5 admin admin labpass",
        "-c",
        "2",
        "-l",
    ]);
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2\nnode2\n");
}

#[test]
fn params_from_file_and_environment() {
    let scratch = Scratch::new("stonith-params");
    let file = scratch.write(
        "ipmi.cfg",
        "# the BMC of node2\nnode2 198.18.1.2\n# credentials\nadmin labpass lanplus\n",
    );
    let out = stonith(&["-t", "external/ipmi", "-F", file.to_str().unwrap(), "-l"]);
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2\n");
    let out = stonith(&["-t", "ipmi", "-F", "/nonexistent/ipmi.cfg", "-l"]);
    out.expect(S_BADCONFIG);
    let out = stonith_env(
        &["-t", "external/ipmi", "-E", "-l"],
        &[
            ("hostname", "node3"),
            ("ipaddr", "198.18.1.2"),
            ("userid", "admin"),
            ("passwd", "labpass"),
        ],
    );
    out.expect(S_OK);
    assert_eq!(out.stdout, "node3\n");
}

#[test]
fn a_node_this_device_does_not_power_is_s_badhost() {
    let out = stonith(&with(&[], &["-T", "reset", "node3"]));
    out.expect(S_BADHOST);
    assert!(
        out.stderr.contains("node3 is not controlled"),
        "{}",
        out.stderr
    );
    // Node names compare case-insensitively, as cluster-glue lower-cases them;
    // the check comes before any packet: no BMC is contacted here.
    let out = stonith(&with(&["hostname=NODE2x"], &["-T", "off", "NODE2"]));
    out.expect(S_BADCONFIG); // hostname given twice
}

#[test]
fn password_files_must_be_private_and_readable() {
    let scratch = Scratch::new("stonith-pw");
    let open = scratch.write("open.pw", "labpass\n");
    scratch.chmod("open.pw", 0o644);
    let args = |file: &str| {
        vec![
            "-t".to_string(),
            "ipmi".to_string(),
            "hostname=node2".to_string(),
            "ipaddr=198.18.1.2".to_string(),
            "userid=admin".to_string(),
            format!("passwd_file={file}"),
            "-l".to_string(),
        ]
    };
    let run = |file: &str| {
        let a = args(file);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        stonith(&a)
    };
    let out = run(open.to_str().unwrap());
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("mode 0644"), "{}", out.stderr);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    let out = run("/nonexistent/node2.pw");
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.contains("cannot read password file"),
        "{}",
        out.stderr
    );
    let out = run(scratch.path().to_str().unwrap());
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    let private = scratch.write("private.pw", "labpass\n");
    scratch.chmod("private.pw", 0o600);
    run(private.to_str().unwrap()).expect(S_OK);
    // external/ipmi's passwd_method=file names the file in passwd.
    let out = stonith(&[
        "-t",
        "external/ipmi",
        "hostname=node2",
        "ipaddr=h",
        "userid=u",
        &format!("passwd={}", open.display()),
        "passwd_method=file",
        "-l",
    ]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("mode 0644"));
}

#[test]
fn passwords_never_appear_in_output() {
    for args in [
        with(&["cipher=9"], &["-l"]),
        with(&["colour=red"], &["-l"]),
        with(&[], &["-T", "reset", "node3"]),
        with(&["passwd_file=/x"], &["-l"]),
        vec![
            "-t",
            "ipmi",
            "-p",
            "node2 h admin SeCrEt-pw1 lanplus x y z w v u t s r q",
        ],
    ] {
        let out = stonith(&args);
        assert_ne!(out.code, S_OK, "{args:?}");
        assert!(
            !out.stderr.contains("SeCrEt-pw1") && !out.stdout.contains("SeCrEt-pw1"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// An ha.d holding only what `-H` reads.
fn ha_d(scratch: &Scratch, stonith_hosts: &str) -> String {
    scratch.write(
        "ha.cf",
        &format!("node node1 node2 node3\nucast eth0 198.18.0.2\n{stonith_hosts}"),
    );
    scratch.chmod("ha.cf", 0o644);
    scratch.path().to_str().unwrap().to_string()
}

#[test]
fn short_form_finds_the_node_in_ha_cf() {
    let scratch = Scratch::new("stonith-ha-d");
    let dir = ha_d(
        &scratch,
        "stonith_host * external/ipmi node2 198.18.1.2 admin labpass lanplus\n\
         stonith_host node3 ipmi hostname=node1 ipaddr=198.18.1.5 userid=admin passwd_file=/x\n",
    );
    // Unknown node: S_BADHOST, naming the nodes that are configured.
    let out = stonith(&["-t", "ipmi", "-H", "node4", "reset", "--ha-d", &dir]);
    out.expect(S_BADHOST);
    assert!(out.stderr.contains("node4"), "{}", out.stderr);
    assert!(out.stderr.contains("node2 ("), "{}", out.stderr);
    assert!(
        out.stderr.contains("stonith_host * ipmi node4"),
        "{}",
        out.stderr
    );
    // A line only another node may use.
    let out = stonith(&["-H", "node1", "off", "--ha-d", &dir, "--node", "node2"]);
    out.expect(S_BADHOST);
    assert!(out.stderr.contains("for node3 only"), "{}", out.stderr);
    // Found for node3, whose password file is missing: the error names the
    // ha.cf line.
    let out = stonith(&["-H", "node1", "status", "--ha-d", &dir, "--node", "node3"]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("ha.cf:4:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read password file /x"),
        "{}",
        out.stderr
    );
    // ha.cf missing or broken.
    let out = stonith(&["-H", "node2", "status", "--ha-d", "/nonexistent"]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("--ha-d"), "{}", out.stderr);
    let broken = Scratch::new("stonith-ha-d-broken");
    broken.write("ha.cf", "node node1\nkeepalive soon\n");
    let out = stonith(&[
        "-H",
        "node1",
        "status",
        "--ha-d",
        broken.path().to_str().unwrap(),
    ]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("ha.cf:2:"), "{}", out.stderr);
    // A bad value on the node's line: S_INVAL, located.
    let bad = Scratch::new("stonith-ha-d-bad");
    let dir = ha_d(
        &bad,
        "stonith_host * ipmi node2 198.18.1.2 admin pw lanplus cipher=4\n",
    );
    let out = stonith(&["-H", "node2", "status", "--ha-d", &dir]);
    out.expect(S_INVAL);
    assert!(out.stderr.contains("ha.cf:3:"), "{}", out.stderr);
    assert!(!out.stderr.contains(" pw "), "{}", out.stderr);
}

/// A native configuration whose device "node2-bmc" (line 10) is a BMC on
/// loopback's discard port, where nobody answers; `extra` adds device keys.
fn native(scratch: &Scratch, extra: &str) -> String {
    scratch.write("node2-bmc.pass", "SeCrEt-pw1\n");
    scratch
        .write(
            "ironbeat.toml",
            &format!(
                "[cluster]\nnodes = [\"node1\", \"node2\", \"node3\"]\n\n\
                 [[link]]\nkind = \"ucast\"\niface = \"lo\"\npeer = \"127.0.0.2\"\n\n\
                 [[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\nnodes = [\"node2\"]\n\
                 ip = \"127.0.0.1\"\nport = 9\nusername = \"admin\"\n\
                 password_file = \"node2-bmc.pass\"\ntimeout = \"1s\"\n{extra}"
            ),
        )
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn short_form_finds_the_node_in_the_native_config() {
    let scratch = Scratch::new("stonith-native");
    let config = native(&scratch, "");
    let shown = |line: usize| format!("{config}:{line}: ");

    // Unknown node: S_BADHOST, naming the nodes the file fences.
    let out = stonith(&["-t", "ipmi", "--config", &config, "-H", "node4", "reset"]);
    out.expect(S_BADHOST);
    assert!(
        out.stderr.contains("node node4 has no fence device"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("node2 (node2-bmc, line 10)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nodes = [\"node4\"]"), "{}", out.stderr);
    assert!(!out.stderr.contains("usage:"), "{}", out.stderr);

    // Found (any case): the BMC is tried. Nobody listens on loopback's port
    // 9, so the device is unreachable within its 1 s deadline.
    let out = stonith(&["-v", "--config", &config, "-H", "NODE2", "status"]);
    assert!(out.code == 2 || out.code == 6, "{out:?}");
    assert!(out.elapsed.as_millis() < 3_000, "{:?}", out.elapsed);
    assert!(
        out.stderr.contains(&format!(
            "info: node2's fence device is BMC 127.0.0.1:9 (IPMI) ({config}:10, device \
             node2-bmc, ipmi)"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("SeCrEt-pw1"), "{}", out.stderr);
    // --node only matters for ha.cf; the native file has no FROM field.
    let out = stonith(&[
        "--config",
        &config,
        "--node",
        "elsewhere",
        "-H",
        "node2",
        "on",
    ]);
    assert!(out.code == 2 || out.code == 6, "{out:?}");

    // A password file others can read: refused with the fix, nothing sent.
    scratch.chmod("node2-bmc.pass", 0o644);
    let out = stonith(&["--config", &config, "-H", "node2", "off"]);
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.starts_with(&format!("ERROR: {}", shown(16))),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("mode 0644"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "run chmod 600 {}",
            scratch.path().join("node2-bmc.pass").display()
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("SeCrEt-pw1"), "{}", out.stderr);
    std::fs::remove_file(scratch.path().join("node2-bmc.pass")).unwrap();
    let out = stonith(&["--config", &config, "-H", "node2", "off"]);
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);

    // Bad values in the file: S_BADCONFIG, located, with the fix.
    for (extra, line, says) in [
        ("cipher = 4\n", 18, "cipher suite 4 is not supported"),
        ("password = \"SeCrEt-pw1\"\n", 18, "password_file = "),
        ("privilege = \"user\"\n", 18, "cannot control chassis power"),
        ("colour = \"red\"\n", 18, "unknown key `colour`"),
    ] {
        let config = native(&scratch, extra);
        let out = stonith(&["--config", &config, "-H", "node2", "status"]);
        out.expect(S_BADCONFIG);
        assert!(
            out.stderr.contains(&format!("{config}:{line}: ")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{extra}: {}", out.stderr);
        assert!(!out.stderr.contains("SeCrEt-pw1"), "{}", out.stderr);
    }

    // No [fence] section at all: S_BADHOST.
    let bare = Scratch::new("stonith-native-bare");
    let bare_config = bare.write(
        "ironbeat.toml",
        "[cluster]\nnodes = [\"node1\", \"node2\"]\n[[link]]\nkind = \"ether\"\niface = \"lo\"\n",
    );
    let out = stonith(&[
        "--config",
        bare_config.to_str().unwrap(),
        "-H",
        "node2",
        "reset",
    ]);
    out.expect(S_BADHOST);
    assert!(
        out.stderr.contains("has no [[fence.device]]"),
        "{}",
        out.stderr
    );

    // A missing file: S_BADCONFIG, saying which file.
    let out = stonith(&[
        "--config",
        "/nonexistent/ironbeat.toml",
        "-H",
        "node2",
        "reset",
    ]);
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr
            .contains("/nonexistent/ironbeat.toml: cannot read the configuration"),
        "{}",
        out.stderr
    );

    // --config and --ha-d exclude each other; both belong to -H.
    for args in [
        &["--config", "/x", "--ha-d", "/y", "-H", "node2", "status"][..],
        &["--config", "/x", "-t", "ipmi", "ipaddr=h", "-S"],
    ] {
        let out = stonith(args);
        out.expect(S_BADCONFIG);
        assert!(out.stderr.contains("usage:"), "{}", out.stderr);
    }
}

use fence_cli::bmc::{self, Bmc};

/// Runs stonith inside the BMC's client namespace.
fn in_lab(lab: &Bmc, args: &[String]) -> Outcome {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.run(STONITH, &args, None)
}

/// cluster-glue command lines, the short form and every device-side exit
/// code against OpenIPMI's ipmi_sim (suites 1-3 and IPMI 1.5; no suite 17).
#[test]
fn against_ipmi_sim() {
    let Some(lab) = Bmc::start("stonith_cli::against_ipmi_sim") else {
        return;
    };
    let scratch = Scratch::new("stonith-lab");
    let pw = scratch.write("node2.bmc", "labpass\n");
    let pw_param = format!("passwd_file={}", pw.display());
    let device = |extra: &[&str], tail: &[&str]| {
        let mut args = fence_cli::owned(&[
            "-t",
            "ipmi",
            "hostname=node2",
            &format!("ipaddr={}", bmc::BMC_IP),
            "userid=admin",
            &pw_param,
        ]);
        args.extend(fence_cli::owned(extra));
        args.extend(fence_cli::owned(tail));
        args
    };
    let suite3 = ["interface=lanplus -C 3"];

    // -S reads the power state.
    let out = in_lab(&lab, &device(&suite3, &["-S"]));
    out.expect(S_OK);
    assert!(
        out.stderr.contains("ipmi device OK (power on)"),
        "{}",
        out.stderr
    );

    // -T off: the machine is off, and ipmitool reads back what we set.
    let out = in_lab(&lab, &device(&suite3, &["-T", "off", "node2"]));
    out.expect(S_OK);
    assert!(!lab.power_on());
    assert_eq!(lab.ipmitool_power(), "Chassis Power is off");

    // The short form reads ha.cf; status of an off node is S_ISOFF.
    let ha_d = Scratch::new("stonith-lab-ha-d");
    ha_d.write(
        "ha.cf",
        &format!(
            "node node1 node2\nucast eth0 198.18.0.2\n\
             stonith_host * ipmi node2 {} admin {pw_param} interface=lanplus cipher=3\n",
            bmc::BMC_IP
        ),
    );
    let short = |action: &str| {
        fence_cli::owned(&[
            "-t",
            "ipmi",
            "-H",
            "node2",
            action,
            "--ha-d",
            ha_d.path().to_str().unwrap(),
            "--node",
            "node1",
        ])
    };
    let out = in_lab(&lab, &short("status"));
    out.expect(7);
    assert_eq!(out.stdout, "node2: off\n");
    // We read back the state ipmitool set.
    let on = lab.ipmitool(&[
        "-I", "lanplus", "-C", "3", "-U", "admin", "-P", "labpass", "chassis", "power", "on",
    ]);
    on.expect(0);
    let out = in_lab(&lab, &short("status"));
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2: on\n");

    // reset = off, verify off, on: the hook saw both, in that order.
    let before = lab.events().len();
    let out = in_lab(&lab, &short("reset"));
    out.expect(S_OK);
    assert!(out.stderr.contains("seen off"), "{}", out.stderr);
    let events: Vec<String> = lab.events().split_off(before);
    let off = events.iter().position(|e| e.contains("set power 0"));
    let on = events.iter().position(|e| e.contains("set power 1"));
    assert!(
        matches!((off, on), (Some(a), Some(b)) if a < b),
        "{events:?}"
    );
    assert!(lab.power_on());

    // cluster-glue's own command lines, binary changed only.
    let out = in_lab(
        &lab,
        &fence_cli::owned(&[
            "-t",
            "external/ipmi",
            "hostname=node2",
            &format!("ipaddr={}", bmc::BMC_IP),
            "userid=admin",
            "passwd=labpass",
            "interface=lan",
            "-T",
            "off",
            "node2",
        ]),
    );
    out.expect(S_OK);
    assert!(!lab.power_on());
    let out = in_lab(
        &lab,
        &fence_cli::owned(&[
            "-t",
            "ipmilan",
            "-p",
            &format!("node2 {} 623 md5 operator operator oppass", bmc::BMC_IP),
            "-T",
            "on",
            "node2",
        ]),
    );
    out.expect(S_OK);
    assert!(lab.power_on());

    // -v prints the exchange, packet by packet, and never the password.
    let out = in_lab(&lab, &device(&suite3, &["-v", "-S"]));
    out.expect(S_OK);
    let sent = out.stderr.lines().filter(|l| l.contains(" -> ")).count();
    let received = out.stderr.lines().filter(|l| l.contains(" <- ")).count();
    assert!(sent >= 5 && received >= 5, "{}", out.stderr);
    assert!(!out.stderr.contains("labpass"), "{}", out.stderr);
    let out = in_lab(
        &lab,
        &device(&["interface=lan", "auth=password"], &["-v", "-S"]),
    );
    out.expect(S_OK);
    assert!(!out.stderr.contains("labpass"), "{}", out.stderr);

    // S_ACCESS: wrong password (RMCP+ and IPMI 1.5), wrong user.
    let wrong = scratch.write("wrong.bmc", "wrongpass\n");
    let wrong_param = format!("passwd_file={}", wrong.display());
    for interface in ["interface=lanplus -C 3", "interface=lan"] {
        let mut args = device(&[interface, "timeout=3s"], &["-S"]);
        args.retain(|a| !a.starts_with("passwd_file="));
        args.push(wrong_param.clone());
        let out = in_lab(&lab, &args);
        out.expect(2);
        assert!(out.elapsed.as_secs() < 5, "{:?}", out.elapsed);
    }
    let mut args = device(&suite3, &["-S"]);
    args.retain(|a| a != "userid=admin");
    args.push("userid=nobody".into());
    in_lab(&lab, &args).expect(2);

    // Within the deadline: a black-holed BMC and a closed port.
    for address in [bmc::BLACK_HOLE_IP, bmc::CLOSED_PORT_IP] {
        let mut args = device(&suite3, &["timeout=2s", "-S"]);
        args.retain(|a| !a.starts_with("ipaddr="));
        args.push(format!("ipaddr={address}"));
        let out = in_lab(&lab, &args);
        assert!(
            out.code == 2 || out.code == 6,
            "{address}: {}\n{}",
            out.code,
            out.stderr
        );
        assert!(
            out.elapsed.as_millis() < 3_500,
            "{address}: {:?}",
            out.elapsed
        );
    }

    // S_RESETFAIL: suite 17 is unknown to ipmi_sim (the BMC refuses it).
    in_lab(&lab, &device(&["cipher=17"], &["-S"])).expect(5);
    // S_TIMEOUT: the BMC accepts power off, the machine never goes off.
    lab.set_stuck(true);
    let out = in_lab(
        &lab,
        &device(&suite3, &["timeout=2s", "-T", "off", "node2"]),
    );
    lab.set_stuck(false);
    out.expect(6);
    assert!(out.stderr.contains("NOT fenced"), "{}", out.stderr);
    assert!(lab.power_on());
    // S_INVAL before any packet: suite 0 without consent.
    in_lab(&lab, &device(&["cipher=0"], &["-S"])).expect(S_INVAL);
    // ipmitool still gets in: we left no session behind.
    assert_eq!(lab.ipmitool_power(), "Chassis Power is on");
}

/// The short form reading the native file, against ipmi_sim: every action,
/// the operator account over IPMI 1.5, a password file others can read
/// (refused before any packet) and an unknown node.
#[test]
fn native_config_against_ipmi_sim() {
    let Some(lab) = Bmc::start("stonith_cli::native_config_against_ipmi_sim") else {
        return;
    };
    let scratch = Scratch::new("stonith-native-lab");
    let config = lab.native_config(&scratch, "admin", "labpass", "cipher = 3\n");
    let config = config.to_str().unwrap();
    let short =
        |action: &str| fence_cli::owned(&["-t", "ipmi", "--config", config, "-H", "node2", action]);

    let out = in_lab(&lab, &short("status"));
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2: on\n");

    let out = in_lab(&lab, &short("off"));
    out.expect(S_OK);
    assert!(
        out.stderr.contains("powered off (seen off)"),
        "{}",
        out.stderr
    );
    assert!(!lab.power_on());
    assert_eq!(lab.ipmitool_power(), "Chassis Power is off");
    let out = in_lab(&lab, &short("status"));
    out.expect(7);
    assert_eq!(out.stdout, "node2: off\n");

    let out = in_lab(&lab, &short("on"));
    out.expect(S_OK);
    assert!(lab.power_on());
    assert_eq!(lab.ipmitool_power(), "Chassis Power is on");

    // reset = off, verify off, on: the hook saw both, in that order.
    let before = lab.events().len();
    let out = in_lab(&lab, &short("reset"));
    out.expect(S_OK);
    assert!(out.stderr.contains("seen off"), "{}", out.stderr);
    let events = lab.events().split_off(before);
    let off = events.iter().position(|e| e.contains("set power 0"));
    let on = events.iter().position(|e| e.contains("set power 1"));
    assert!(
        matches!((off, on), (Some(a), Some(b)) if a < b),
        "{events:?}"
    );
    assert!(lab.power_on());

    // -v names the device's line and prints the exchange, never the password.
    let mut verbose = short("status");
    verbose.insert(0, "-v".into());
    let out = in_lab(&lab, &verbose);
    out.expect(S_OK);
    assert!(
        out.stderr.contains(&format!(
            "node2's fence device is BMC {}:623 (IPMI) ({config}:10, device node2-bmc, ipmi)",
            bmc::BMC_IP
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.lines().filter(|l| l.contains(" -> ")).count() >= 5);
    assert!(!out.stderr.contains("labpass"), "{}", out.stderr);

    // The operator account over IPMI 1.5 with MD5, method cycle.
    let operator = Scratch::new("stonith-native-lab-op");
    let op_config = lab.native_config(
        &operator,
        "operator",
        "oppass",
        "interface = \"lan\"\nauth = \"md5\"\nprivilege = \"operator\"\nmethod = \"cycle\"\n",
    );
    let op = |action: &str| {
        fence_cli::owned(&[
            "--config",
            op_config.to_str().unwrap(),
            "-H",
            "node2",
            action,
        ])
    };
    in_lab(&lab, &op("off")).expect(S_OK);
    assert!(!lab.power_on());
    in_lab(&lab, &op("on")).expect(S_OK);
    assert!(lab.power_on());
    let before = lab.events().len();
    let out = in_lab(&lab, &op("reset"));
    out.expect(S_OK);
    assert!(out.stderr.contains("power cycle sent"), "{}", out.stderr);
    // ipmi_sim turns a cycle into "set power 0", and "set power 1" a second later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !lab.power_on() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let events = lab.events().split_off(before);
    assert!(
        events.iter().any(|e| e.contains("set power 0")),
        "{events:?}"
    );
    assert!(lab.power_on(), "{events:?}");

    // A wrong password in the file: the BMC refuses the login (S_ACCESS).
    scratch.write("node2-bmc.pass", "wrongpass\n");
    in_lab(&lab, &short("status")).expect(2);

    // Too open: refused with the fix, and the BMC never hears of it.
    scratch.write("node2-bmc.pass", "labpass\n");
    scratch.chmod("node2-bmc.pass", 0o644);
    let before = lab.events().len();
    let out = in_lab(&lab, &short("off"));
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.contains(&format!("{config}:15: ")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("mode 0644"), "{}", out.stderr);
    assert!(out.stderr.contains("run chmod 600"), "{}", out.stderr);
    assert_eq!(lab.events().len(), before);
    assert!(lab.power_on());
    scratch.chmod("node2-bmc.pass", 0o600);

    // A node the file does not fence: S_BADHOST, listing the ones it does.
    let out = in_lab(
        &lab,
        &fence_cli::owned(&["--config", config, "-H", "node3", "reset"]),
    );
    out.expect(S_BADHOST);
    assert!(
        out.stderr.contains("node2 (node2-bmc, line 10)"),
        "{}",
        out.stderr
    );
    assert!(lab.power_on());

    // Fencing levels: a manual level first (nothing here can run it), then
    // the BMC. -H runs them in order, as the daemon does.
    let text = std::fs::read_to_string(config).unwrap();
    let leveled = scratch.write(
        "leveled.toml",
        &format!(
            "{text}[[fence.device]]\nname = \"hands\"\ntype = \"manual\"\n\
             nodes = [\"node2\"]\n[[fence.level]]\nnode = \"node2\"\n\
             devices = [\"hands\"]\n[[fence.level]]\nnode = \"node2\"\n\
             devices = [\"node2-bmc\"]\n"
        ),
    );
    let leveled = leveled.to_str().unwrap();
    let before = lab.events().len();
    let out = in_lab(
        &lab,
        &fence_cli::owned(&["--config", leveled, "-H", "node2", "reset"]),
    );
    out.expect(S_OK);
    assert!(
        out.stderr.contains("node2 fenced by level 2")
            && out
                .stderr
                .contains("after level 1: node2 must be fenced by hand"),
        "{}",
        out.stderr
    );
    let events = lab.events().split_off(before);
    assert!(
        events.iter().any(|e| e.contains("set power 0")),
        "{events:?}"
    );
    assert!(lab.power_on());

    // ipmitool still gets in: we left no session behind.
    assert_eq!(lab.ipmitool_power(), "Chassis Power is on");
}
