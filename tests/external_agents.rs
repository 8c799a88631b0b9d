//! External agents through ironbeat's front ends (`stonith -t`, `stonith -H`
//! with the native file's `[[fence.device]]`): cluster-glue's real
//! `external/ipmi` plugin (which runs ipmitool) and fence-agents' real
//! `fence_ipmilan`, both against OpenIPMI's `ipmi_sim` in a private network
//! namespace (tests/fence_cli/bmc.rs), plus agents written by the tests: one
//! that hangs (killed at the deadline with its children) and one that lies
//! (says off succeeded, status keeps saying on).
//!
//! The ipmi_sim tests need root, ipmi_sim and ipmitool (else `SKIPPED:`);
//! the agent-script tests need only /bin/sh.

mod fence_cli;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fence_cli::bmc::{self, Bmc};
use fence_cli::{Outcome, Scratch};

const STONITH: &str = env!("CARGO_BIN_EXE_stonith");
const PLUGIN_IPMI: &str = "/usr/lib/stonith/plugins/external/ipmi";
const FENCE_IPMILAN: &str = "/usr/sbin/fence_ipmilan";

const S_OK: i32 = 0;
const S_BADCONFIG: i32 = 1;
const S_RESETFAIL: i32 = 5;
const S_TIMEOUT: i32 = 6;
const S_ISOFF: i32 = 7;
const S_OOPS: i32 = 8;

fn skip_without(test: &str, path: &str) -> bool {
    if Path::new(path).is_file() {
        return false;
    }
    eprintln!(
        "\nSKIPPED: {test}: {path} is not installed (apt-get install cluster-glue fence-agents)"
    );
    true
}

/// A native configuration of node1 and node2 whose one device fences node2.
fn native(dir: &Scratch, device: &str) -> PathBuf {
    dir.write(
        "ironbeat.toml",
        &format!(
            "[cluster]\nnodes = [\"node1\", \"node2\"]\n\n\
             [[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"{}\"\n\n\
             [[fence.device]]\nname = \"node2-fence\"\nnodes = [\"node2\"]\n{device}",
            bmc::CLIENT_IP
        ),
    )
}

fn short(config: &Path, action: &str) -> Vec<String> {
    fence_cli::owned(&[
        "-H",
        "node2",
        action,
        "--config",
        config.to_str().unwrap(),
        "--node",
        "node1",
    ])
}

fn in_lab(lab: &Bmc, args: &[String]) -> Outcome {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.run(STONITH, &args, None)
}

fn local(args: &[String]) -> Outcome {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fence_cli::run(STONITH, &args, &[], None)
}

#[test]
fn cluster_glue_external_ipmi_plugin_against_ipmi_sim() {
    let test = "cluster_glue_external_ipmi_plugin_against_ipmi_sim";
    if skip_without(test, PLUGIN_IPMI) {
        return;
    }
    let Some(lab) = Bmc::start(test) else {
        return;
    };
    let dir = Scratch::new("external-plugin");
    let pass = dir.write("node2.pass", "labpass\n");
    let device = |accept: bool| {
        format!(
            "type = \"external\"\nplugin = \"ipmi\"\n\
             params = {{ hostname = \"node2\", ipaddr = \"{}\", userid = \"admin\", interface = \"lan\" }}\n\
             password_file = \"{}\"\naccept_unverified = {accept}\ntimeout = \"20s\"\n",
            bmc::BMC_IP,
            pass.display()
        )
    };

    // Without consent the plugin's word is not enough: it did reset, but
    // nobody saw the node off, so it is not reported fenced.
    let strict = native(&dir, &device(false));
    let out = in_lab(&lab, &short(&strict, "off"));
    out.expect(S_RESETFAIL);
    assert!(out.stderr.contains("unverified"), "{}", out.stderr);
    assert!(
        out.stderr.contains("accept_unverified=yes"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("labpass"), "{}", out.stderr);
    assert!(!lab.power_on(), "the plugin did run ipmitool power off");
    assert_eq!(lab.ipmitool_power(), "Chassis Power is off");

    // With consent: on, off, reset through the real plugin; the BMC's hook
    // saw each one.
    let config = native(&dir, &device(true));
    let out = in_lab(&lab, &short(&config, "on"));
    out.expect(S_OK);
    assert!(lab.power_on());
    let out = in_lab(&lab, &short(&config, "off"));
    out.expect(S_OK);
    assert!(out.stderr.contains("unverified"), "{}", out.stderr);
    assert!(!lab.power_on());
    assert_eq!(lab.ipmitool_power(), "Chassis Power is off");
    lab.run("true", &[], None);
    let before = lab.events().len();
    let out = in_lab(&lab, &short(&config, "reset"));
    out.expect(S_OK);
    // external/ipmi's reset: power on when off (its own logic), else reset.
    assert!(lab.power_on(), "events: {:?}", lab.events());
    assert!(lab.events().len() > before, "{:?}", lab.events());
    // status: the device answers (the plugin cannot say more).
    let out = in_lab(&lab, &short(&config, "status"));
    out.expect(S_OK);

    // The same plugin through cluster-glue's command line vocabulary: -n
    // from getconfignames (external/ipmi itself stays native).
    let out = local(&fence_cli::owned(&["-t", "external/ipmi", "-n"]));
    out.expect(S_OK);
    // A wrong password: the plugin's failure, with its words, no secret.
    let bad = dir.write("bad.pass", "wrongpass\n");
    let wrong = native(
        &dir,
        &format!(
            "type = \"external\"\nplugin = \"ipmi\"\n\
             params = {{ hostname = \"node2\", ipaddr = \"{}\", userid = \"admin\" }}\n\
             password_file = \"{}\"\naccept_unverified = true\ntimeout = \"20s\"\n",
            bmc::BMC_IP,
            bad.display()
        ),
    );
    let out = in_lab(&lab, &short(&wrong, "off"));
    assert_ne!(out.code, S_OK, "{}", out.stderr);
    assert!(
        out.stderr.contains("external/ipmi `off` failed"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrongpass"), "{}", out.stderr);
    assert!(lab.power_on(), "a failed login changes nothing");
}

#[test]
fn fence_ipmilan_against_ipmi_sim() {
    let test = "fence_ipmilan_against_ipmi_sim";
    if skip_without(test, FENCE_IPMILAN) {
        return;
    }
    let Some(lab) = Bmc::start(test) else {
        return;
    };
    let dir = Scratch::new("external-agent");
    let pass = dir.write("node2.pass", "labpass\n");
    let config = native(
        &dir,
        &format!(
            "type = \"fence-agent\"\nagent = \"fence_ipmilan\"\n\
             params = {{ ip = \"{}\", username = \"admin\", lanplus = 1, cipher = 3 }}\n\
             password_file = \"{}\"\ntimeout = \"40s\"\n",
            bmc::BMC_IP,
            pass.display()
        ),
    );

    // status reads the power state: on, then off after an off that was
    // read back with action=status.
    let out = in_lab(&lab, &short(&config, "status"));
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2: on\n");
    let out = in_lab(&lab, &short(&config, "off"));
    out.expect(S_OK);
    assert!(out.stderr.contains("seen off"), "{}", out.stderr);
    assert!(!lab.power_on());
    assert_eq!(lab.ipmitool_power(), "Chassis Power is off");
    let out = in_lab(&lab, &short(&config, "status"));
    out.expect(S_ISOFF);
    assert_eq!(out.stdout, "node2: off\n");
    let out = in_lab(&lab, &short(&config, "on"));
    out.expect(S_OK);
    assert!(lab.power_on());

    // reboot = off, verify off, on, verify on: the hook saw off then on.
    let before = lab.events().len();
    let mut verbose = short(&config, "reset");
    verbose.insert(0, "-v".into());
    let out = in_lab(&lab, &verbose);
    out.expect(S_OK);
    assert!(lab.power_on());
    let ours = out.elapsed;
    let events = lab.events()[before..].join("\n");
    let off = events.find("set power 0").expect(&events);
    let on = events.rfind("set power 1").expect(&events);
    assert!(off < on, "{events}");
    // -v shows each run of the agent, never a parameter value.
    assert!(
        out.stderr.contains("fence_ipmilan (action=off on stdin)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("fence_ipmilan (action=status on stdin): exit 2"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("labpass"), "{}", out.stderr);

    // fence_ipmilan on its own, same BMC, same reboot: both agree, and the
    // cost of our verification (two extra status runs) is visible.
    let direct = lab.run(
        FENCE_IPMILAN,
        &[],
        Some(&format!(
            "action=reboot\nip={}\nusername=admin\npassword=labpass\nlanplus=1\ncipher=3\n",
            bmc::BMC_IP
        )),
    );
    direct.expect(0);
    assert!(lab.power_on());
    eprintln!(
        "reboot through ironbeat (off, status, on, status): {:.2} s; fence_ipmilan alone: {:.2} s",
        ours.as_secs_f64(),
        direct.elapsed.as_secs_f64()
    );

    // The cluster-glue command line with a fence-agents agent as its type.
    let pw = format!("password_file={}", pass.display());
    let ip = format!("ip={}", bmc::BMC_IP);
    let dash_t = |tail: &[&str]| {
        let mut a = fence_cli::owned(&[
            "-t",
            "fence_ipmilan",
            &ip,
            "username=admin",
            &pw,
            "lanplus=1",
            "cipher=3",
            "hostname=node2",
            "timeout=40s",
        ]);
        a.extend(fence_cli::owned(tail));
        a
    };
    let out = in_lab(&lab, &dash_t(&["-T", "off", "node2"]));
    out.expect(S_OK);
    assert!(!lab.power_on());
    let out = in_lab(&lab, &dash_t(&["-S"]));
    out.expect(S_OK);
    assert!(
        out.stderr.contains("fence_ipmilan device OK (power off)"),
        "{}",
        out.stderr
    );
    let out = in_lab(&lab, &dash_t(&["-l"]));
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2\n");

    // A wrong password: fence_ipmilan cannot tell it from a missing plug
    // ("Unable to obtain correct plug status"): a failure with its words,
    // without the secret, and nothing changes.
    let bad = dir.write("bad.pass", "wrongpass\n");
    let out = in_lab(
        &lab,
        &fence_cli::owned(&[
            "-t",
            "fence_ipmilan",
            &ip,
            "username=admin",
            &format!("password_file={}", bad.display()),
            "lanplus=1",
            "cipher=3",
            "-T",
            "on",
            "node2",
        ]),
    );
    out.expect(S_RESETFAIL);
    assert!(
        out.stderr.contains("fence_ipmilan `on` failed (exit 1)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Unable to obtain correct plug status"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrongpass"), "{}", out.stderr);
    assert!(!lab.power_on());

    // ha.cf's stonith_host line of a fence-agents type: what the daemon's
    // fencer and the -H short form use.
    let ha_d = Scratch::new("external-ha-d");
    ha_d.write(
        "ha.cf",
        &format!(
            "node node1 node2\nucast eth0 198.18.0.2\n\
             stonith_host * fence_ipmilan {ip} username=admin {pw} lanplus=1 cipher=3 \
             hostname=node2 timeout=40s\n"
        ),
    );
    let ha = |action: &str| {
        fence_cli::owned(&[
            "-H",
            "node2",
            action,
            "--ha-d",
            ha_d.path().to_str().unwrap(),
            "--node",
            "node1",
        ])
    };
    let out = in_lab(&lab, &ha("status"));
    out.expect(S_ISOFF);
    assert_eq!(out.stdout, "node2: off\n");
    let out = in_lab(&lab, &ha("on"));
    out.expect(S_OK);
    assert!(lab.power_on());
}

/// Writes an executable agent script into `dir`.
fn script(dir: &Scratch, name: &str, body: &str) -> PathBuf {
    let path = dir.write(name, &format!("#!/bin/sh\n{body}"));
    dir.chmod(name, 0o700);
    path
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn hanging_agent_is_killed_at_the_deadline() {
    let dir = Scratch::new("external-hang");
    let pids = dir.path().join("pids");
    let agent = script(
        &dir,
        "fence_hang",
        &format!("sleep 300 &\necho $$ $! > {}\nwait\n", pids.display()),
    );
    let config = native(
        &dir,
        &format!(
            "type = \"fence-agent\"\nagent = \"{}\"\nparams = {{ ip = \"198.18.11.9\" }}\n\
             timeout = \"2s\"\n",
            agent.display()
        ),
    );
    let out = local(&short(&config, "off"));
    out.expect(S_TIMEOUT);
    assert!(out.stderr.contains("deadline"), "{}", out.stderr);
    eprintln!(
        "hanging agent, timeout 2s: stonith returned after {:.3} s",
        out.elapsed.as_secs_f64()
    );
    assert!(
        out.elapsed >= Duration::from_millis(1900) && out.elapsed < Duration::from_secs(5),
        "{:?}",
        out.elapsed
    );
    // The agent and its child were killed with their process group.
    let text = std::fs::read_to_string(&pids).expect("the agent ran");
    for pid in text.split_whitespace().map(|p| p.parse::<u32>().unwrap()) {
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !pid_alive(pid)
        });
        assert!(gone, "process {pid} of the hanging agent survived");
    }
}

#[test]
fn lying_agent_is_caught_by_the_status_check() {
    let dir = Scratch::new("external-liar");
    // Says every off succeeded; its status (exit 0) says the plug is on.
    let agent = script(
        &dir,
        "fence_liar",
        "while read line; do case \"$line\" in action=*) action=${line#action=};; esac; done\n\
         case \"$action\" in off|on|status) exit 0;; *) exit 1;; esac\n",
    );
    let config = native(
        &dir,
        &format!(
            "type = \"fence-agent\"\nagent = \"{}\"\nparams = {{ ip = \"198.18.11.9\" }}\n\
             timeout = \"3s\"\n",
            agent.display()
        ),
    );
    let out = local(&short(&config, "off"));
    out.expect(S_RESETFAIL);
    assert!(out.stderr.contains("still reads on"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(6), "{:?}", out.elapsed);
    // Status itself is believed: on.
    let out = local(&short(&config, "status"));
    out.expect(S_OK);
    assert_eq!(out.stdout, "node2: on\n");
}

#[test]
fn bad_parameters_give_clear_errors() {
    let dir = Scratch::new("external-bad");
    // A secret in the configuration file.
    let config = native(
        &dir,
        "type = \"fence-agent\"\nagent = \"fence_ipmilan\"\n\
         params = { ip = \"198.18.11.9\", password = \"hunter22\" }\n",
    );
    let out = local(&short(&config, "status"));
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("secret_files"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter22"), "{}", out.stderr);
    // IPMI keys on an external device, the other type's program key.
    for (device, says) in [
        (
            "type = \"external\"\nplugin = \"ssh\"\nip = \"198.18.11.9\"\n",
            "move `ip` there",
        ),
        (
            "type = \"external\"\nagent = \"fence_ipmilan\"\n",
            "`agent` belongs to the other",
        ),
        ("type = \"fence-agent\"\n", "needs `agent`"),
        (
            "type = \"fence-agent\"\nagent = \"ipmilan\"\n",
            "is not valid",
        ),
        (
            "type = \"fence-agent\"\nagent = \"fence_ipmilan\"\naccept_unverified = true\n",
            "always read back",
        ),
    ] {
        let config = native(&dir, device);
        let out = local(&short(&config, "status"));
        out.expect(S_BADCONFIG);
        assert!(out.stderr.contains(says), "{device}: {}", out.stderr);
        assert!(
            out.stderr.contains("ironbeat.toml:"),
            "no file:line: {}",
            out.stderr
        );
    }
    // An agent that is not installed; a plugin type that does not exist.
    let config = native(&dir, "type = \"fence-agent\"\nagent = \"fence_nonesuch\"\n");
    let out = local(&short(&config, "status"));
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.contains("no fence agent fence_nonesuch"),
        "{}",
        out.stderr
    );
    let out = local(&fence_cli::owned(&["-t", "external/nonesuch", "-n"]));
    out.expect(S_OOPS);
    assert!(
        out.stderr.contains("no cluster-glue plugin nonesuch"),
        "{}",
        out.stderr
    );
    if !Path::new(PLUGIN_IPMI).is_file() {
        return;
    }
    // Too many positional values for the plugin's getconfignames; a value
    // with a line break; an unknown ironbeat switch value.
    let out = local(&fence_cli::owned(&[
        "-t",
        "external/ssh",
        "hostlist=node2",
        "accept_unverified=perhaps",
        "-S",
    ]));
    out.expect(3);
    assert!(
        out.stderr.contains("accept_unverified=perhaps"),
        "{}",
        out.stderr
    );
    let out = local(&fence_cli::owned(&[
        "-t",
        "external/ssh",
        "hostlist=a\nb",
        "-l",
    ]));
    out.expect(S_BADCONFIG);
    assert!(out.stderr.contains("line break"), "{}", out.stderr);
    // A plugin asked about a host it does not control.
    let out = local(&fence_cli::owned(&[
        "-t",
        "external/ssh",
        "hostlist=node3",
        "-T",
        "off",
        "node2",
    ]));
    out.expect(S_BADCONFIG);
    assert!(
        out.stderr.contains("does not control node2"),
        "{}",
        out.stderr
    );
}

/// `-n`, `-m` and `-l` of plugin types print what cluster-glue's own
/// `stonith` prints, byte for byte (same plugins, same parameters).
#[test]
fn plugin_queries_match_cluster_glue() {
    let test = "plugin_queries_match_cluster_glue";
    if skip_without(test, "/usr/sbin/stonith")
        || skip_without(test, "/usr/lib/stonith/plugins/external/ssh")
    {
        return;
    }
    let theirs = |args: &[&str]| fence_cli::run("/usr/sbin/stonith", args, &[], None);
    for ty in [
        "external/ssh",
        "external/riloe",
        "external/libvirt",
        "external/drac5",
    ] {
        if !Path::new("/usr/lib/stonith/plugins").join(ty).is_file() {
            continue;
        }
        for flag in ["-n", "-m"] {
            let ours = local(&fence_cli::owned(&["-t", ty, flag]));
            ours.expect(S_OK);
            let cg = theirs(&["-t", ty, flag]);
            assert_eq!(ours.stdout, cg.stdout, "{ty} {flag}");
        }
    }
    for args in [
        &["-t", "external/ssh", "-p", "node1 node2", "-l"][..],
        &["-t", "external/ssh", "hostlist=node1 node2 node3", "-l"],
    ] {
        let ours = local(&fence_cli::owned(args));
        ours.expect(S_OK);
        assert_eq!(ours.stdout, theirs(args).stdout, "{args:?}");
    }
}
