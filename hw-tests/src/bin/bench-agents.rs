//! bench-agents: the built-in IP address agent beside the OCF IPaddr2 script
//! from resource-agents, on the same virtual IP in the same namespaces, in
//! one run: start → first gratuitous ARP seen on the peer, start (call to
//! return), monitor and stop latency; medians of N runs each and the ratio.
//!
//!   bench-agents [--runs N]        (root; default 20 runs per agent)
//!
//! The peer's side is a raw packet socket in the peer namespace; both
//! timestamps come from the same monotonic clock. Each run waits 1.3 s after
//! start so the previous burst (5 × 200 ms) is over before the next.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ironbeat_agents::{execute, AgentSpec, Class, ExecEnv, OcfCode, Operation};
use ironbeat_hw_tests::{Cable, Netns};
use nix::sys::socket::{
    recv, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};

const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Samples {
    garp: Vec<Duration>,
    start: Vec<Duration>,
    monitor: Vec<Duration>,
    stop: Vec<Duration>,
    failures: Vec<String>,
}

fn main() -> Result<()> {
    let mut runs = 20usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .context("--runs N")?
                    .parse()
                    .context("--runs N")?
            }
            other => bail!("unknown argument {other:?}; usage: bench-agents [--runs N]"),
        }
    }
    if runs == 0 || runs > 1000 {
        bail!("--runs must be 1..=1000");
    }
    if !nix::unistd::Uid::effective().is_root() {
        bail!("bench-agents needs root (network namespaces)");
    }
    ironbeat_hw_tests::netns::sweep_stale();
    let node = Netns::new("benchag", "n1")?;
    let peer = Netns::new("benchag", "n2")?;
    let cable = Cable::connect("benchag", "c0", &node, "eth0", &peer, "eth0")?;
    let vip = cable.subnet.host(100);

    // The peer: timestamps of every gratuitous ARP for the VIP.
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let peer_path = format!("/run/netns/{}", peer.name());
    let receiver = {
        let (seen, done) = (Arc::clone(&seen), Arc::clone(&done));
        std::thread::spawn(move || -> Result<()> {
            let ns = std::fs::File::open(&peer_path)?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            let fd = socket(
                AddressFamily::Packet,
                SockType::Raw,
                SockFlag::SOCK_CLOEXEC,
                SockProtocol::EthAll,
            )?;
            setsockopt(
                &fd,
                sockopt::ReceiveTimeout,
                &nix::sys::time::TimeVal::new(0, 100_000),
            )?;
            let mut buf = [0u8; 2048];
            let want = vip.octets();
            while !done.load(Ordering::Relaxed) {
                use std::os::fd::AsRawFd;
                let Ok(n) = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) else {
                    continue;
                };
                let at = Instant::now();
                // Ethernet (14) + ARP: EtherType 0x0806, sender IP at 28..32, target IP at 38..42.
                if n >= 42
                    && buf[12..14] == [0x08, 0x06]
                    && buf[28..32] == want
                    && buf[38..42] == want
                {
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push(at);
                }
            }
            Ok(())
        })
    };

    let node_path = format!("/run/netns/{}", node.name());
    let params = [
        ("ip".to_string(), vip.to_string()),
        ("cidr_netmask".to_string(), "24".to_string()),
        ("nic".to_string(), "eth0".to_string()),
    ];
    let seen_by_node = Arc::clone(&seen);
    let measured = std::thread::spawn(move || -> Result<Vec<(&'static str, Samples)>> {
        let ns = std::fs::File::open(&node_path)?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut out = Vec::new();
        for (label, builtin) in [("built-in", true), ("OCF IPaddr2 script", false)] {
            let spec = AgentSpec {
                id: "vip".into(),
                class: Class::Ocf,
                provider: Some("heartbeat".into()),
                agent: "IPaddr2".into(),
                params: params.iter().cloned().collect(),
                builtin,
            };
            let samples = runtime.block_on(measure(&spec, runs, &seen_by_node));
            out.push((label, samples));
        }
        Ok(out)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the measuring thread panicked"))??;
    done.store(true, Ordering::Relaxed);
    receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the receiver panicked"))??;
    drop(cable);

    println!("## Resource agents: virtual IP ({runs} runs each, medians, ms)\n");
    println!("| operation | built-in | OCF IPaddr2 script | script / built-in |");
    println!("| --- | --- | --- | --- |");
    let (ours, theirs) = (&measured[0].1, &measured[1].1);
    for (name, a, b) in [
        ("start → first GARP on the peer", &ours.garp, &theirs.garp),
        ("start (call returns)", &ours.start, &theirs.start),
        ("monitor", &ours.monitor, &theirs.monitor),
        ("stop", &ours.stop, &theirs.stop),
    ] {
        let (ma, mb) = (median(a), median(b));
        let ratio = match (ma, mb) {
            (Some(x), Some(y)) if x > 0.0 => format!("{:.0}x", y / x),
            _ => "-".into(),
        };
        println!(
            "| {name} | {} | {} | {ratio} |",
            show(ma, a.len()),
            show(mb, b.len())
        );
    }
    for (label, s) in &measured {
        for f in &s.failures {
            println!("\n{label}: {f}");
        }
    }
    Ok(())
}

async fn measure(spec: &AgentSpec, runs: usize, seen: &Mutex<Vec<Instant>>) -> Samples {
    let env = ExecEnv::default();
    let mut s = Samples::default();
    let _ = execute(spec, Operation::Stop, TIMEOUT, &env).await;
    for run in 0..runs {
        let t0 = Instant::now();
        let r = execute(spec, Operation::Start, TIMEOUT, &env).await;
        if r.code != OcfCode::Ok {
            s.failures.push(format!("run {run}: start {r:?}"));
            continue;
        }
        s.start.push(r.elapsed);
        // Bounded: the first GARP after t0, waiting up to 2 s.
        for _ in 0..200 {
            let first = seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied()
                .find(|&at| at >= t0);
            if let Some(at) = first {
                s.garp.push(at - t0);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if s.garp.len() < s.start.len() {
            s.failures
                .push(format!("run {run}: no GARP seen within 2 s"));
        }
        let rest = Duration::from_millis(1300).saturating_sub(t0.elapsed());
        tokio::time::sleep(rest).await;
        let m = execute(
            spec,
            Operation::Monitor {
                interval: Duration::from_secs(10),
            },
            TIMEOUT,
            &env,
        )
        .await;
        if m.code == OcfCode::Ok {
            s.monitor.push(m.elapsed);
        } else {
            s.failures.push(format!("run {run}: monitor {m:?}"));
        }
        let st = execute(spec, Operation::Stop, TIMEOUT, &env).await;
        if st.code == OcfCode::Ok {
            s.stop.push(st.elapsed);
        } else {
            s.failures.push(format!("run {run}: stop {st:?}"));
        }
    }
    s
}

fn median(samples: &[Duration]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    Some(ms[ms.len() / 2])
}

fn show(median: Option<f64>, n: usize) -> String {
    match median {
        Some(m) => format!("{m:.2} (n={n})"),
        None => "no sample".into(),
    }
}
