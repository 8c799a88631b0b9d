//! The QEMU tier: a real machine fenced for real.
//!
//! OpenIPMI's `ipmi_sim` runs as the BMC in a network namespace (`198.18.12.2`,
//! [`SimBmc::start_with_vm`]) and powers a QEMU guest (a stock Debian kernel
//! and a busybox `/init`, built by `scripts/build-qemu-guest.sh` if missing):
//! "power on" starts qemu through ipmi_sim's `startcmd`, power off and hard
//! reset reach qemu over its KCS link (the VM serial codec), and the power
//! state is "the qemu process exists". Our real `stonith` and `fence_ironbeat`
//! binaries, in the client namespace (`198.18.12.1`), fence it over IPMI LAN
//! (RMCP+, cipher suite 3), and the test checks the machine, not the BMC's
//! word: the guest prints a boot line with the kernel's fresh `boot_id` at
//! every kernel start, and qemu's `-pidfile` names the process that must be
//! gone after an off.
//!
//! Runs as root with qemu-system-x86, openipmi and the `ironbeat`, `stonith`
//! and `fence_ironbeat` binaries built (`cargo test --workspace` builds them);
//! otherwise SKIPPED, and a failure under `CI=true`/`IBT_REQUIRE=1`. TCG only:
//! about 15 s on two cores with the guest cached (20 s when it is built
//! first), most of it five guest boots of 2-3 s each, one guest at a time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ironbeat_hw_tests::cmd;
use ironbeat_hw_tests::ipmi_sim::SimBmc;
use ironbeat_hw_tests::qemu::{Boot, GuestImage, Vm};
use ironbeat_hw_tests::{binary, env};

/// The node the BMC powers, as `stonith` names it.
const NODE: &str = "vm1";
/// The management LAN of this test (inside 198.18.0.0/15).
const NET: &str = "198.18.12";
/// The BMC password (a test lab's; it goes to a 0600 file and stdin, never argv).
const PASSWORD: &str = "labpass";
/// Bound on one guest boot (TCG boots to /init in ~3 s; a loaded box is slower).
const BOOT_LIMIT: Duration = Duration::from_secs(60);
/// Bound on one fencing command (its own deadline is 20 s).
const COMMAND_LIMIT: Duration = Duration::from_secs(40);

/// What one command run did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    #[track_caller]
    fn expect(&self, code: i32, what: &str) {
        assert_eq!(
            self.code, code,
            "{what}: exit code {} instead of {code}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
    }
}

/// The binaries under test and the guest.
struct Kit {
    stonith: PathBuf,
    agent: PathBuf,
    image: GuestImage,
}

/// Skips (or fails in CI) unless root, namespaces, the tools, the binaries
/// and the guest are there; builds the guest if it is missing.
fn kit(test: &str) -> Option<Kit> {
    if !env::can_run(test, &["ss", "ipmi_sim", "qemu-system-x86_64"]) {
        return None;
    }
    let skip = |why: String| {
        if env::required() {
            panic!("{test}: {why}");
        }
        let _ = std::io::stderr().write_all(format!("\nSKIPPED: {test}: {why}\n").as_bytes());
        None
    };
    let (stonith, agent) = match (binary::named("stonith"), binary::named("fence_ironbeat")) {
        (Ok(s), Ok(a)) => (s, a),
        (Err(e), _) | (_, Err(e)) => return skip(e.to_string()),
    };
    match GuestImage::ensure() {
        Ok(image) => Some(Kit {
            stonith,
            agent,
            image,
        }),
        Err(e) => skip(format!("cannot build the QEMU guest: {e:#}")),
    }
}

/// A BMC powering a guest, and the commands that fence it.
struct Lab {
    kit: Kit,
    bmc: SimBmc,
    passwd: PathBuf,
}

impl Lab {
    fn start(kit: Kit, net: &str) -> Lab {
        let bmc = SimBmc::start_with_vm("ibq", net, NODE, &kit.image).expect("starting ipmi_sim");
        let passwd = bmc.state().join("passwd");
        fs::write(&passwd, format!("{PASSWORD}\n")).expect("password file");
        fs::set_permissions(&passwd, fs::Permissions::from_mode(0o600)).expect("chmod 600");
        Lab { kit, bmc, passwd }
    }

    fn vm(&self) -> &Vm {
        self.bmc.vm().expect("a VM-backed BMC")
    }

    /// `stonith -t ipmi hostname=vm1 ipaddr=… userid=admin passwd_file=…
    /// interface=lanplus cipher=3 EXTRA… TAIL…`
    fn stonith(&self, extra: &[&str], tail: &[&str]) -> Run {
        let hostname = format!("hostname={NODE}");
        let ipaddr = format!("ipaddr={}", self.bmc.bmc_ip());
        let passwd_file = format!("passwd_file={}", self.passwd.display());
        let mut args = vec![
            "-t",
            "ipmi",
            &hostname,
            &ipaddr,
            "userid=admin",
            &passwd_file,
            "interface=lanplus",
            "cipher=3",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(tail);
        run(&self.bmc, &self.kit.stonith, &args, None)
    }

    /// `fence_ironbeat` with `action=ACTION` and the BMC's options on stdin.
    fn agent(&self, action: &str) -> Run {
        let stdin = format!(
            "action={action}\nip={}\nusername=admin\npassword={PASSWORD}\nlanplus=1\ncipher=3\n",
            self.bmc.bmc_ip()
        );
        run(&self.bmc, &self.kit.agent, &[], Some(&stdin))
    }
}

/// One guest at a time: two TCG guests on two cores slow each other down.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `program ARGS` in the BMC's client namespace, `stdin` fed and closed,
/// output to files in the BMC's state directory; killed after `COMMAND_LIMIT`.
fn run(bmc: &SimBmc, program: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let out_path = bmc.state().join(format!("run{n}.out"));
    let err_path = bmc.state().join(format!("run{n}.err"));
    let started = Instant::now();
    let mut child = bmc
        .client_command(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(fs::File::create(&out_path).expect("stdout file"))
        .stderr(fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("writing stdin");
    }
    let status = cmd::wait_deadline(&mut child, COMMAND_LIMIT);
    let elapsed = started.elapsed();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Run {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed,
    }
}

/// Whether any process has this PID (zombies included).
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits for boot number `count` and checks it is a new kernel start: a
/// `boot_id` no earlier boot had, `/init` reached a few seconds after start.
#[track_caller]
fn wait_new_boot(vm: &Vm, count: usize) -> Boot {
    let boots = vm.wait_boots(count, BOOT_LIMIT).expect("guest boot");
    let new = boots[count - 1].clone();
    for earlier in &boots[..count - 1] {
        assert_ne!(
            earlier.boot_id, new.boot_id,
            "boot {count} repeats an earlier boot_id: the kernel did not start again"
        );
    }
    assert_eq!(new.name, NODE);
    assert!(
        new.uptime < BOOT_LIMIT.as_secs_f64(),
        "boot {count}: uptime {} s at /init",
        new.uptime
    );
    new
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[test]
fn stonith_and_fence_agent_fence_a_qemu_guest() {
    let test = "ipmi_qemu::stonith_and_fence_agent_fence_a_qemu_guest";
    let _one = one_at_a_time();
    let Some(kit) = kit(test) else {
        return;
    };
    let whole = Instant::now();
    let lab = Lab::start(kit, NET);
    let vm = lab.vm();
    let stonith = |extra: &[&str], tail: &[&str]| lab.stonith(extra, tail);
    let agent = |action: &str| lab.agent(action);
    let mut timings = Vec::new();

    // Power is off at the start: ipmi_sim runs nothing until "power on".
    let status = stonith(&[], &["-S"]);
    status.expect(0, "stonith -S before power on");
    assert!(status.stderr.contains("(power off)"), "{}", status.stderr);
    assert_eq!(vm.pid(), None, "a qemu runs before power on");
    assert!(vm.boots().is_empty());

    // on: a qemu process exists and the guest's kernel boots.
    let started = Instant::now();
    let on = stonith(&[], &["-T", "on", NODE]);
    on.expect(0, "stonith -T on");
    assert!(on.stderr.contains("powered on (seen on)"), "{}", on.stderr);
    let pid_on = vm
        .wait_pid(Duration::from_secs(10))
        .expect("qemu after power on");
    let boot1 = wait_new_boot(vm, 1);
    timings.push(("-T on -> boot line", started.elapsed(), on.elapsed));

    // reset (default: off, verify off, on): the first qemu is gone before the
    // command returns, and a kernel starts again.
    let started = Instant::now();
    let reset = stonith(&[], &["-T", "reset", NODE]);
    reset.expect(0, "stonith -T reset");
    assert!(
        reset
            .stderr
            .contains("powered off (seen off), then on (seen on)"),
        "{}",
        reset.stderr
    );
    assert!(
        !exists(pid_on),
        "qemu {pid_on} still exists after -T reset saw the power off"
    );
    let boot2 = wait_new_boot(vm, 2);
    let pid_reset = vm
        .wait_pid(Duration::from_secs(10))
        .expect("qemu after reset");
    assert_ne!(pid_reset, pid_on);
    timings.push((
        "-T reset -> 2nd boot line",
        started.elapsed(),
        reset.elapsed,
    ));

    // reset_method=hard_reset: one Chassis Control "hard reset"; ipmi_sim
    // passes it to qemu over the KCS link: the same process, a new kernel.
    let started = Instant::now();
    let hard = stonith(&["reset_method=hard_reset"], &["-T", "reset", NODE]);
    hard.expect(0, "stonith reset_method=hard_reset -T reset");
    let boot3 = wait_new_boot(vm, 3);
    assert_eq!(
        vm.pid(),
        Some(pid_reset),
        "a hard reset keeps the machine (qemu process) and restarts its kernel"
    );
    timings.push((
        "hard reset -> 3rd boot line",
        started.elapsed(),
        hard.elapsed,
    ));

    // off: exit 0 only once Off is seen, and by then qemu is gone.
    let started = Instant::now();
    let off = stonith(&[], &["-T", "off", NODE]);
    off.expect(0, "stonith -T off");
    let gone_at_exit = !exists(pid_reset);
    assert!(
        off.stderr.contains("powered off (seen off)"),
        "{}",
        off.stderr
    );
    assert!(
        gone_at_exit,
        "qemu {pid_reset} still exists when stonith -T off returned"
    );
    assert_eq!(vm.pid(), None);
    timings.push(("-T off -> qemu gone", started.elapsed(), off.elapsed));

    // -S reports off; and nothing boots by itself meanwhile.
    let status = stonith(&[], &["-S"]);
    status.expect(0, "stonith -S after off");
    assert!(status.stderr.contains("(power off)"), "{}", status.stderr);
    let agent_status = agent("status");
    agent_status.expect(2, "fence_ironbeat action=status while off");
    assert_eq!(vm.boots().len(), 3, "the guest booted while off");

    // fence_ironbeat action=reboot on stdin brings the machine back.
    let started = Instant::now();
    let reboot = agent("reboot");
    reboot.expect(0, "fence_ironbeat action=reboot");
    let boot4 = wait_new_boot(vm, 4);
    let pid_agent = vm
        .wait_pid(Duration::from_secs(10))
        .expect("qemu after reboot");
    assert_ne!(pid_agent, pid_reset);
    timings.push((
        "fence_ironbeat reboot -> 4th boot line",
        started.elapsed(),
        reboot.elapsed,
    ));
    agent("status").expect(0, "fence_ironbeat action=status while on");

    // And off again with the agent: the process goes.
    let started = Instant::now();
    let off = agent("off");
    off.expect(0, "fence_ironbeat action=off");
    assert!(!exists(pid_agent), "qemu {pid_agent} outlived action=off");
    timings.push((
        "fence_ironbeat off -> qemu gone",
        started.elapsed(),
        off.elapsed,
    ));

    let ids: Vec<&str> = [&boot1, &boot2, &boot3, &boot4]
        .iter()
        .map(|b| b.boot_id.as_str())
        .collect();
    eprintln!(
        "ipmi_qemu: guest kernel {}, boot ids {ids:?}, /init at uptime {:.2}/{:.2}/{:.2}/{:.2} s",
        lab.kit.image.kernel_release, boot1.uptime, boot2.uptime, boot3.uptime, boot4.uptime
    );
    for (what, total, command) in &timings {
        eprintln!(
            "ipmi_qemu: {what:40} {} (command {})",
            secs(*total),
            secs(*command)
        );
    }
    eprintln!("ipmi_qemu: whole test {}", secs(whole.elapsed()));
}

/// The harness's promise: a test that ends (or panics) with the guest running
/// leaves no qemu, no namespace and no state directory behind.
#[test]
fn dropping_the_bmc_stops_its_running_guest() {
    let test = "ipmi_qemu::dropping_the_bmc_stops_its_running_guest";
    let _one = one_at_a_time();
    let Some(kit) = kit(test) else {
        return;
    };
    let lab = Lab::start(kit, "198.18.13");
    lab.stonith(&[], &["-T", "on", NODE])
        .expect(0, "stonith -T on");
    let pid = lab
        .vm()
        .wait_pid(Duration::from_secs(10))
        .expect("qemu after power on");
    wait_new_boot(lab.vm(), 1);
    let namespaces = [lab.bmc.bmc_ns().to_string(), lab.bmc.cli_ns().to_string()];
    let state = lab.bmc.state().to_path_buf();
    drop(lab);
    assert!(!exists(pid), "qemu {pid} survived the drop of its BMC");
    let listed = cmd::run(
        std::process::Command::new("ip").args(["netns", "list"]),
        cmd::SHORT,
    )
    .expect("ip netns list")
    .stdout;
    for ns in &namespaces {
        assert!(
            !listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns)),
            "namespace {ns} survived the drop"
        );
    }
    assert!(!state.exists(), "{} survived the drop", state.display());
}
