//! Recorded client/BMC exchanges and their offline replay.
//!
//! The client's randomness comes from a seed, so with the same seed and
//! configuration it sends the same bytes. A transcript recorded against
//! ipmi_sim (`ipmi_interop.rs` records fresh ones on every run, and writes them
//! here when `IBF_RECORD_TRANSCRIPTS=1`) can therefore be replayed without the
//! BMC: the replay checks that every datagram we send is byte-identical to the
//! recording, and lets the hostile-input tests inject mutated and foreign
//! datagrams into a genuine session.
//!
//! File format (`transcripts/<name>.txt`): `# config <name>`, `# seed <hex>`,
//! then one datagram per line, `> hex` sent by us, `< hex` received.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ironbeat_fence::ipmi::client::{
    CipherPolicy, Client, Config, Event, Outcome, Protocol, V15Auth,
};
use ironbeat_fence::ipmi::crypto::{CipherSuite, Secret};
use ironbeat_fence::power::Action;
use ironbeat_fence::Error;

/// The recorded exchanges: (name, what it does).
pub const NAMES: &[&str] = &[
    "lanplus-c3-reboot",
    "lanplus-auto-off",
    "lanplus-c2-reset",
    "lanplus-c1-status",
    "lan15-md5-reboot",
    "lan15-password-on",
];

/// The configuration a transcript was recorded with.
pub fn config(name: &str) -> Config {
    let fixed = |id| Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::from_id(id).unwrap()));
    let (action, protocol) = match name {
        "lanplus-c3-reboot" => (Action::Reboot, fixed(3)),
        "lanplus-auto-off" => (Action::Off, Protocol::LanPlus(CipherPolicy::Auto)),
        "lanplus-c2-reset" => (Action::Reset, fixed(2)),
        "lanplus-c1-status" => (Action::Status, fixed(1)),
        "lan15-md5-reboot" => (Action::Reboot, Protocol::Lan15(V15Auth::Md5)),
        "lan15-password-on" => (Action::On, Protocol::Lan15(V15Auth::Password)),
        other => panic!("no transcript config {other}"),
    };
    let mut c = Config::new("admin", Secret::from("labpass"), action);
    c.protocol = protocol;
    c
}

/// The seed a transcript was recorded with (fixed per name).
pub fn seed(name: &str) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in name.bytes().enumerate() {
        s[i % 32] ^= b.wrapping_mul(31).wrapping_add(i as u8);
    }
    s
}

/// One recorded exchange.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub name: String,
    pub seed: [u8; 32],
    /// (sent by us?, datagram)
    pub datagrams: Vec<(bool, Vec<u8>)>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

pub fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/ipmi_sim/transcripts"
    ))
}

impl Transcript {
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "# ironbeat-fence IPMI client transcript recorded against OpenIPMI ipmi_sim\n\
             # (fence/tests/ipmi_sim/lan.conf.in; user admin, password labpass)\n\
             # config {}\n# seed {}\n",
            self.name,
            hex(&self.seed)
        );
        for (sent, d) in &self.datagrams {
            out.push_str(if *sent { "> " } else { "< " });
            out.push_str(&hex(d));
            out.push('\n');
        }
        out
    }

    pub fn parse(text: &str) -> Transcript {
        let mut t = Transcript {
            name: String::new(),
            seed: [0; 32],
            datagrams: Vec::new(),
        };
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("# config ") {
                t.name = name.trim().to_string();
            } else if let Some(seed) = line.strip_prefix("# seed ") {
                t.seed.copy_from_slice(&unhex(seed.trim()));
            } else if let Some(d) = line.strip_prefix("> ") {
                t.datagrams.push((true, unhex(d.trim())));
            } else if let Some(d) = line.strip_prefix("< ") {
                t.datagrams.push((false, unhex(d.trim())));
            }
        }
        t
    }

    pub fn load(name: &str) -> Transcript {
        let path = dir().join(format!("{name}.txt"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        Transcript::parse(&text)
    }
}

/// How a replay went.
pub struct Replay {
    pub result: Result<Outcome, Error>,
    pub events: Vec<Event>,
    /// Whether every datagram we sent matched the recording, in order.
    pub identical: bool,
    /// Datagrams we sent (retransmits and extra ones included).
    pub sent: Vec<Vec<u8>>,
}

/// Replays `t`. Instead of each received datagram `i`, `inject(i, genuine)`
/// says what to deliver (e.g. garbage, then the genuine one).
pub fn replay(t: &Transcript, mut inject: impl FnMut(usize, &[u8]) -> Vec<Vec<u8>>) -> Replay {
    let mut now = Instant::now();
    let mut client = Client::new(config(&t.name), now, t.seed).expect("transcript config is valid");
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut expected_count = 0;
    for (i, (is_sent, genuine)) in t.datagrams.iter().enumerate() {
        if *is_sent {
            expected_count += 1;
            // The client sends it now, or after a sleep (a power poll).
            for _ in 0..10 {
                while let Some(d) = client.poll_transmit() {
                    sent.push(d);
                }
                if sent.len() >= expected_count || client.is_finished() {
                    break;
                }
                match client.poll_timeout() {
                    Some(wake) => {
                        now = now.max(wake);
                        client.handle_timeout(now);
                    }
                    None => break,
                }
            }
        } else {
            now += Duration::from_micros(500);
            for d in inject(i, genuine) {
                client.handle_datagram(now, &d);
            }
        }
    }
    // Let the client finish (retransmits, give-ups) on its own clock.
    for _ in 0..1000 {
        while let Some(d) = client.poll_transmit() {
            sent.push(d);
        }
        if client.is_finished() {
            break;
        }
        match client.poll_timeout() {
            Some(wake) => {
                now = now.max(wake);
                client.handle_timeout(now);
            }
            None => break,
        }
    }
    while let Some(d) = client.poll_transmit() {
        sent.push(d);
    }
    let mut events = Vec::new();
    while let Some(e) = client.poll_event() {
        events.push(e);
    }
    let recorded: Vec<&Vec<u8>> = t
        .datagrams
        .iter()
        .filter(|(s, _)| *s)
        .map(|(_, d)| d)
        .collect();
    let identical = sent.iter().collect::<Vec<_>>() == recorded;
    let result = client
        .poll_outcome()
        .unwrap_or_else(|| panic!("{}: replay ended without an outcome", t.name));
    Replay {
        result,
        events,
        identical,
        sent,
    }
}
