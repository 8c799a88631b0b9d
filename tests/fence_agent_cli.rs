//! `fence_ironbeat` through its binary: the fence-agents protocol on the
//! command line and on stdin, metadata validated against fence-agents'
//! schema, every input error with its exit code, the names it answers to,
//! and (when ipmi_sim is installed and we are root) real runs against
//! OpenIPMI's BMC simulator in a network namespace.

mod fence_cli;

use std::os::unix::fs::symlink;

use fence_cli::Scratch;

const AGENT: &str = env!("CARGO_BIN_EXE_fence_ironbeat");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/fence/metadata.rng"
);

fn agent(args: &[&str]) -> fence_cli::Outcome {
    fence_cli::run(AGENT, args, &[], None)
}

fn agent_stdin(text: &str) -> fence_cli::Outcome {
    fence_cli::run(AGENT, &[], &[], Some(text))
}

#[test]
fn metadata_validates_against_the_fence_agents_schema() {
    let scratch = Scratch::new("fence-meta");
    let out = agent(&["-o", "metadata"]);
    out.expect(0);
    let file = scratch.write("fence_ironbeat.xml", &out.stdout);
    fence_cli::xmllint(&["--noout", "--relaxng", SCHEMA, file.to_str().unwrap()]);
    assert!(out
        .stdout
        .contains("<resource-agent name=\"fence_ironbeat\""));
    assert!(out.stdout.contains("<symlink name=\"fence_ironbeat_ipmi\""));
    for name in [
        "ip",
        "ipaddr",
        "username",
        "login",
        "password",
        "passwd",
        "lanplus",
        "cipher",
        "privlvl",
        "method",
        "power_timeout",
        "power_wait",
        "delay",
        "plug",
        "port",
    ] {
        assert!(
            out.stdout.contains(&format!("<parameter name=\"{name}\"")),
            "{name}"
        );
    }
    // Announced actions: not list (a BMC has no outlets; an announced list
    // would make Pacemaker expect node names from it).
    assert!(out.stdout.contains("<action name=\"reboot\""));
    assert!(!out.stdout.contains("<action name=\"list\""));
    // The same through stdin, as Pacemaker asks for it.
    let stdin = agent_stdin("action=metadata\n");
    stdin.expect(0);
    assert_eq!(stdin.stdout, out.stdout);
    // The schema really rejects a broken document (the check can fail).
    let broken = scratch.write(
        "broken.xml",
        &out.stdout
            .replace("<vendor-url>", "<vendor>")
            .replace("</vendor-url>", "</vendor>"),
    );
    let lint = fence_cli::run(
        "xmllint",
        &["--noout", "--relaxng", SCHEMA, broken.to_str().unwrap()],
        &[],
        None,
    );
    assert_ne!(lint.code, 0);
}

#[test]
fn one_binary_several_names() {
    let scratch = Scratch::new("fence-names");
    let link = scratch.path().join("fence_ironbeat_ipmi");
    symlink(AGENT, &link).unwrap();
    let out = fence_cli::run(link.to_str().unwrap(), &["-o", "metadata"], &[], None);
    out.expect(0);
    assert!(out
        .stdout
        .contains("<resource-agent name=\"fence_ironbeat_ipmi\""));
    let file = scratch.write("meta.xml", &out.stdout);
    fence_cli::xmllint(&["--noout", "--relaxng", SCHEMA, file.to_str().unwrap()]);
    let help = fence_cli::run(link.to_str().unwrap(), &["-h"], &[], None);
    help.expect(0);
    assert!(help.stdout.contains("fence_ironbeat_ipmi [options]"));
}

#[test]
fn help_and_version() {
    let out = agent(&["--help"]);
    out.expect(0);
    for option in [
        "--ip=",
        "--username=",
        "--password=",
        "--lanplus",
        "--cipher=",
        "--privlvl=",
        "--method=",
        "--power-timeout=",
        "--delay=",
    ] {
        assert!(out.stdout.contains(option), "{option}");
    }
    let out = agent(&["-V"]);
    out.expect(0);
    assert!(out.stdout.contains("ironbeat"));
}

#[test]
fn missing_and_bad_input_exit_1() {
    for (stdin, says) in [
        ("action=off\n", "You have to enter fence address"),
        ("action=off\nip=198.18.1.2\nusername=admin\n", "password"),
        (
            "action=explode\nip=h\npassword=p\n",
            "Unrecognised action 'explode'",
        ),
        (
            "ip=h\npassword=p\ncipher=9\n",
            "cipher suite 9 is not supported",
        ),
        ("ip=h\npassword=p\ncipher=three\n", "not a valid integer"),
        ("ip=h\npassword=p\ncipher=0\n", "any password"),
        (
            "ip=h\npassword=p\nlanplus=0\ncipher=3\n",
            "cipher applies to lanplus",
        ),
        (
            "ip=h\npassword=p\nprivlvl=user\n",
            "valid choice for --privlvl",
        ),
        (
            "ip=h\npassword=p\nmethod=yank\n",
            "valid choice for --method",
        ),
        ("ip=h\npassword=p\nauth=md2\n", "valid choice for --auth"),
        ("ip=h\npassword=p\nipport=99999\n", "not a UDP port"),
        (
            "ip=h\npassword=p\npower_timeout=later\n",
            "not a valid time in seconds",
        ),
        ("ip=h\npassword=p\npower_timeout=0\n", "zero timeout"),
        (
            "ip=h\npassword=p\nhexadecimal_kg=0x1\n",
            "hexadecimal digits",
        ),
        ("ip=h\npassword=p\ntarget=0x72\n", "bridging"),
        ("ip=h\npassword_script=exit 4\n", "password script failed"),
        (
            "ip=h\npassword=12345678901234567\nlanplus=0\n",
            "at most 16",
        ),
    ] {
        let out = agent_stdin(stdin);
        out.expect(1);
        assert!(out.stderr.contains(says), "{stdin:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{stdin:?}: {}", out.stdout);
    }
    // The same on the command line, plus getopt errors.
    for (args, says) in [
        (&["-o", "off"][..], "fence address"),
        (&["-a", "h", "-p", "x", "--cipher=5"], "cipher suite 5"),
        (
            &["-a", "h", "-p", "x", "--frobnicate"],
            "unknown option --frobnicate",
        ),
        (&["-a", "h", "-p", "x", "-Z"], "unknown option -Z"),
        (&["-a", "h", "-p", "x", "--lanplus=maybe"], "takes 1 or 0"),
        (&["-a"], "needs a value"),
    ] {
        let out = agent(args);
        out.expect(1);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    // quiet silences the failure text, not the exit code.
    let out = agent_stdin("action=off\nquiet=1\n");
    out.expect(1);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn validate_all_checks_without_contacting_anything() {
    // 198.18.1.3 answers nothing: validate-all must not try.
    let out = agent_stdin(
        "action=validate-all\nip=198.18.1.3\nusername=admin\npassword=labpass\nlanplus=1\n\
         cipher=17\nprivlvl=operator\nmethod=onoff\npower_wait=0\ndelay=0\nplug=node2\n\
         nodename=node2\nshell_timeout=3\nretry_on=1\n",
    );
    out.expect(0);
    assert!(out.elapsed.as_secs() < 2);
    assert!(
        out.stderr.contains("shell_timeout has no effect"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("nodename"), "{}", out.stderr);
    // Unknown keys are warned about and ignored, as fence-agents do.
    let out = agent_stdin("action=validate-all\nip=h\npassword=p\ncolour=red\n");
    out.expect(0);
    assert!(
        out.stderr.contains("Ignoring unknown option 'colour'"),
        "{}",
        out.stderr
    );
    // Old names, quotes, `-` for `_`, booleans in every spelling, IPMI 1.5.
    let out = agent_stdin(
        "action=validate-all\nipaddr=\"198.18.1.2\"\nlogin=admin\npasswd_script=echo labpass\n\
         lanplus=off\nauth=md5\npower-timeout=3\n",
    );
    out.expect(0);
    let out = agent(&[
        "-o",
        "validate-all",
        "-a",
        "198.18.1.2",
        "-l",
        "admin",
        "-p",
        "labpass",
        "-P",
        "-C",
        "3",
        "-L",
        "OPERATOR",
        "--method=cycle",
    ]);
    out.expect(0);
}

#[test]
fn passwords_never_appear_in_output() {
    for stdin in [
        "ip=h\npassword=SeCrEt-pw1\ncipher=9\n",
        "ip=h\npassword=SeCrEt-pw1\naction=nope\n",
        "ip=h\npassword=SeCrEt-pw1\nSeCrEt-pw1\n",
        "ip=h\npassword=SeCrEt-pw1SeCrEt-pw1\nlanplus=0\n",
        "ip=h\npassword_script=echo SeCrEt-pw1; exit 3\n",
    ] {
        let out = agent_stdin(stdin);
        assert!(
            !out.stderr.contains("SeCrEt-pw1") && !out.stdout.contains("SeCrEt-pw1"),
            "{stdin:?}: {}",
            out.stderr
        );
    }
}

use fence_cli::bmc::{self, Bmc};

/// The agent as Pacemaker runs it (stdin) and as an operator runs it
/// (options), against OpenIPMI's ipmi_sim.
#[test]
fn against_ipmi_sim() {
    let Some(lab) = Bmc::start("fence_agent_cli::against_ipmi_sim") else {
        return;
    };
    let stdin = |lines: &str| {
        let text = format!(
            "# sent by pacemaker-fenced\nip={}\nusername=admin\npassword=labpass\nlanplus=1\n\
             cipher=3\nport=node2\nnodename=node2\n{lines}",
            bmc::BMC_IP
        );
        lab.run(AGENT, &[], Some(&text))
    };

    let out = stdin("action=status\n");
    out.expect(0);
    assert_eq!(out.stdout, "Status: ON\n");
    let out = stdin("action=off\n");
    out.expect(0);
    assert_eq!(out.stdout, "Success: Powered OFF\n");
    assert!(!lab.power_on());
    assert_eq!(lab.ipmitool_power(), "Chassis Power is off");
    let out = stdin("action=off\n");
    out.expect(0);
    assert_eq!(out.stdout, "Success: Already OFF\n");
    let out = stdin("action=status\n");
    out.expect(2);
    assert_eq!(out.stdout, "Status: OFF\n");
    // monitor: the device answers, the node being off is not a device fault.
    stdin("action=monitor\n").expect(0);
    stdin("action=list\n").expect(0);
    let out = stdin("action=on\n");
    out.expect(0);
    assert_eq!(out.stdout, "Success: Powered ON\n");
    assert!(lab.power_on());

    // reboot: off seen, then on; the hook saw both, in that order.
    let before = lab.events().len();
    let out = stdin("action=reboot\n");
    out.expect(0);
    assert_eq!(out.stdout, "Success: Rebooted\n");
    let events = lab.events().split_off(before);
    let off = events.iter().position(|e| e.contains("set power 0"));
    let on = events.iter().position(|e| e.contains("set power 1"));
    assert!(
        matches!((off, on), (Some(a), Some(b)) if a < b),
        "{events:?}"
    );
    // method=cycle sends one power cycle.
    let before = lab.events().len();
    stdin("action=reboot\nmethod=cycle\n").expect(0);
    assert!(lab.events()[before..]
        .iter()
        .any(|e| e.contains("set power 0")));
    // ipmi_sim powers back on 1 s after a cycle (bounded wait: 40 x 100 ms).
    for _ in 0..40 {
        if lab.power_on() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(lab.power_on());

    // fence_ipmilan's command line, IPMI 2.0 and 1.5.
    let out = lab.run(
        AGENT,
        &[
            "-a",
            bmc::BMC_IP,
            "-l",
            "admin",
            "-p",
            "labpass",
            "-P",
            "-C",
            "3",
            "-o",
            "status",
        ],
        None,
    );
    out.expect(0);
    let out = lab.run(
        AGENT,
        &[
            "--ip",
            bmc::BMC_IP,
            "--username=operator",
            "--password=oppass",
            "--lanplus=0",
            "--auth=md5",
            "--privlvl=operator",
            "--action=status",
        ],
        None,
    );
    out.expect(0);
    // password_script.
    stdin("action=status\npassword=\npassword_script=echo labpass\n").expect(1);
    let text = format!(
        "action=status\nip={}\nlogin=admin\npasswd_script=echo labpass\ncipher=2\n",
        bmc::BMC_IP
    );
    lab.run(AGENT, &[], Some(&text)).expect(0);

    // verbose: the exchange, never the password.
    let out = stdin("action=status\nverbose=1\n");
    out.expect(0);
    assert!(
        out.stderr.lines().filter(|l| l.contains(" -> ")).count() >= 5,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("labpass"), "{}", out.stderr);

    // Failures exit 1: wrong password, BMC refusing the suite, a command the
    // BMC does not support (ipmi_sim answers diag with 0xcc), a black hole
    // within login_timeout, a machine that never powers off.
    let out = stdin("action=status\npassword=wrongpass\n");
    out.expect(1);
    assert!(out.stderr.contains("wrong password"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrongpass"), "{}", out.stderr);
    stdin("action=status\ncipher=17\n").expect(1);
    let out = stdin("action=diag\n");
    out.expect(1);
    assert!(
        out.stderr.contains("0xcc") || out.stderr.contains("0xCC"),
        "{}",
        out.stderr
    );
    let text = format!(
        "action=off\nip={}\nusername=admin\npassword=labpass\nlogin_timeout=1\n",
        bmc::BLACK_HOLE_IP
    );
    let out = lab.run(AGENT, &[], Some(&text));
    out.expect(1);
    assert!(out.elapsed.as_millis() < 2_500, "{:?}", out.elapsed);
    lab.set_stuck(true);
    let out = stdin("action=off\npower_timeout=2\n");
    lab.set_stuck(false);
    out.expect(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("NOT fenced"), "{}", out.stderr);
    // delay waits before off.
    let out = stdin("action=off\ndelay=1\n");
    out.expect(0);
    assert!(out.elapsed.as_millis() >= 1_000);
    stdin("action=on\n").expect(0);
    // No session left behind.
    assert_eq!(lab.ipmitool_power(), "Chassis Power is on");
}
