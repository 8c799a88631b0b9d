//! Runs one APC fence request ([`crate::snmp::Fence`]) over SNMP with the
//! snmp2 crate's tokio session (v1, v2c, v3 USM with pure-Rust crypto).
//!
//! The driver only performs the operations the flow asks for, each bounded
//! by the flow's next timer, and reports how each ended. Every attempt of an
//! operation after the first runs on a fresh session (a new UDP socket, and
//! for v3 a new engine discovery), so a late answer to an earlier attempt can
//! never be taken for the answer to this one. Credentials go to snmp2 and
//! nowhere else: events and errors carry none.

use std::fs;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use snmp2::v3;
use snmp2::AsyncSession;

use crate::snmp::config::{
    AuthProtocol, Config, Credentials, PrivProtocol, SecurityLevel, Version, MAX_CREDENTIALS_FILE,
};
use crate::snmp::{Event, Fence, Op, Outcome, Response};
use crate::{Error, ErrorKind};

/// The SNMP agent port.
pub const PORT: u16 = 161;

/// One APC fence request: where the PDU is, and what to do there.
#[derive(Debug, Clone)]
pub struct ApcRequest {
    /// The PDU's host name or address.
    pub host: String,
    /// Its SNMP port (161).
    pub port: u16,
    /// Version, credentials, request, outlet, timing.
    pub config: Config,
    /// Print every operation and answer to stderr.
    pub verbose: bool,
}

impl ApcRequest {
    /// A request to `host` on port 161, not verbose.
    pub fn new(host: impl Into<String>, config: Config) -> Self {
        ApcRequest {
            host: host.into(),
            port: PORT,
            config,
            verbose: false,
        }
    }
}

/// Reads a credentials file ([`Credentials::parse`]); refuses one that
/// group or others may read or write, or that is not a regular file.
pub fn read_credentials(path: &Path) -> Result<Credentials, Error> {
    let shown = path.display();
    let meta = fs::metadata(path)
        .map_err(|e| Error::io(format!("reading the credentials file {shown}"), e))?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("credentials file {shown} is not a regular file"),
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "credentials file {shown} has mode {mode:04o}: group and others must have no \
                 access; run chmod 600 {shown}"
            ),
        ));
    }
    let uid = nix_uid();
    if uid != 0 && meta.uid() != uid {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "credentials file {shown} belongs to uid {}, not to us (uid {uid}); chown it",
                meta.uid()
            ),
        ));
    }
    let mut text = String::new();
    fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_CREDENTIALS_FILE as u64 + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| Error::io(format!("reading the credentials file {shown}"), e))?;
    Credentials::parse(&text).map_err(|e| Error::new(e.kind(), format!("{shown}: {}", e.message())))
}

fn nix_uid() -> u32 {
    // The owner of /proc/self is the process's effective uid.
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// Runs `request`; with `verbose`, events go to stderr as they happen.
pub async fn run(request: ApcRequest) -> Result<Outcome, Error> {
    let prefix = format!("apc {}:{}", request.host, request.port);
    let events = super::stderr_events(prefix, request.verbose);
    run_with_events(request, events).await
}

/// Runs `request` on a new single-threaded runtime (for synchronous callers).
pub fn run_blocking(request: ApcRequest) -> Result<Outcome, Error> {
    super::block_on(run(request))?
}

/// Runs `request`, handing every event to `on_event` as it happens.
pub async fn run_with_events(
    request: ApcRequest,
    mut on_event: impl FnMut(&Event),
) -> Result<Outcome, Error> {
    let start = Instant::now();
    request.config.validate()?;
    let budget = request.config.timing.timeout;
    let end = tokio::time::Instant::from_std(start) + budget;
    let addr = super::resolve("PDU", &request.host, request.port, end).await?;
    let mut config = request.config.clone();
    // Name resolution spent part of the budget.
    config.timing.timeout = budget
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(1));
    let device = format!("the PDU at {addr}");
    let mut fence = Fence::new(&config, device, Instant::now());
    let mut ids = RequestIds::new(super::kernel_seed()?);
    let mut session: Option<AsyncSession> = None;
    let mut discovered = false;
    loop {
        while let Some(event) = fence.poll_event() {
            on_event(&event);
        }
        if let Some(result) = fence.poll_outcome() {
            return result;
        }
        let now = Instant::now();
        let Some(wake) = fence.poll_timeout() else {
            return Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                "the APC flow stopped without a result",
            ));
        };
        let Some(op) = fence.poll_op(now) else {
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
            fence.handle_timeout(Instant::now());
            continue;
        };
        let attempt = perform(&mut session, &mut discovered, addr, &config, &mut ids, &op);
        let result = tokio::time::timeout_at(tokio::time::Instant::from_std(wake), attempt).await;
        let now = Instant::now();
        match result {
            Err(_elapsed) => {
                // A fresh session for the next attempt.
                session = None;
                fence.handle_timeout(now);
            }
            Ok(Ok(None)) => fence.handle_discovered(now),
            Ok(Ok(Some(response))) => fence.handle_response(now, response),
            Ok(Err(failure)) => {
                session = None;
                match failure {
                    Failure::Auth(why) => fence.handle_auth_failure(now, &why),
                    Failure::BadReply(why) => fence.handle_bad_reply(now, &why),
                    Failure::Network(why) => fence.handle_network_error(now, &why),
                    Failure::Fatal(e) => return Err(e),
                }
            }
        }
    }
}

/// How an operation failed.
enum Failure {
    /// v3 authentication or decryption failed.
    Auth(String),
    /// A reply that does not answer the request.
    BadReply(String),
    /// The socket reported an error.
    Network(String),
    /// Cannot go on (a local error).
    Fatal(Error),
}

/// Performs `op`, opening (and for v3 discovering) a session first when
/// there is none. `Ok(None)`: discovery done.
async fn perform(
    session: &mut Option<AsyncSession>,
    discovered: &mut bool,
    addr: SocketAddr,
    config: &Config,
    ids: &mut RequestIds,
    op: &Op,
) -> Result<Option<Response>, Failure> {
    let v3 = matches!(config.version, Version::V3(_));
    if session.is_none() {
        let mut s = open(addr, config, ids.next()).await?;
        if v3 && (*discovered || *op == Op::Discover) {
            s.init().await.map_err(|e| classify(e, v3))?;
            *discovered = true;
        }
        *session = Some(s);
        if *op == Op::Discover {
            return Ok(None);
        }
    } else if *op == Op::Discover {
        let s = session
            .as_mut()
            .ok_or_else(|| Failure::Fatal(Error::new(ErrorKind::Io, "no session")))?;
        s.init().await.map_err(|e| classify(e, v3))?;
        *discovered = true;
        return Ok(None);
    }
    let s = session
        .as_mut()
        .ok_or_else(|| Failure::Fatal(Error::new(ErrorKind::Io, "no session")))?;
    let pdu = match op {
        Op::Discover => return Ok(None),
        Op::Get(oids) => {
            let converted = oids.iter().map(to_snmp2).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&snmp2::Oid<'_>> = converted.iter().collect();
            s.get_many(&refs).await
        }
        Op::GetNext(oid) => s.getnext(&to_snmp2(oid)?).await,
        Op::Set(oid, value) => {
            let oid = to_snmp2(oid)?;
            s.set(&[(&oid, snmp2::Value::Integer(*value))]).await
        }
    };
    let pdu = pdu.map_err(|e| classify(e, v3))?;
    Ok(Some(Response::from_pdu(&pdu)))
}

fn to_snmp2(oid: &crate::snmp::Oid) -> Result<snmp2::Oid<'static>, Failure> {
    let arcs: Vec<u64> = oid.arcs().iter().map(|&a| u64::from(a)).collect();
    snmp2::Oid::from(&arcs).map_err(|_| {
        Failure::Fatal(Error::new(
            ErrorKind::Config,
            format!("{oid} cannot be encoded as an OID"),
        ))
    })
}

async fn open(addr: SocketAddr, config: &Config, request_id: i32) -> Result<AsyncSession, Failure> {
    let c = &config.credentials;
    let community = || {
        c.community
            .as_ref()
            .map(|s| s.expose().to_vec())
            .unwrap_or_default()
    };
    let opened = match config.version {
        Version::V1 => AsyncSession::new_v1(addr, &community(), request_id).await,
        Version::V2c => AsyncSession::new_v2c(addr, &community(), request_id).await,
        Version::V3(usm) => {
            let user = c.user.as_deref().unwrap_or_default().as_bytes();
            let auth = c
                .auth_password
                .as_ref()
                .map(|s| s.expose())
                .unwrap_or_default();
            let mut security = v3::Security::new(user, auth).with_auth_protocol(match usm.auth {
                AuthProtocol::Md5 => v3::AuthProtocol::Md5,
                AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
                AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
                AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
                AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
                AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
            });
            security = match usm.level {
                SecurityLevel::NoAuthNoPriv => security.with_auth(v3::Auth::NoAuthNoPriv),
                SecurityLevel::AuthNoPriv => security.with_auth(v3::Auth::AuthNoPriv),
                SecurityLevel::AuthPriv => {
                    let cipher = match usm.privacy {
                        PrivProtocol::Des => v3::Cipher::Des,
                        PrivProtocol::Aes128 => v3::Cipher::Aes128,
                        PrivProtocol::Aes192 => v3::Cipher::Aes192,
                        PrivProtocol::Aes256 => v3::Cipher::Aes256,
                    };
                    let privacy_password = c
                        .priv_password
                        .as_ref()
                        .map(|s| s.expose().to_vec())
                        .unwrap_or_default();
                    security
                        .with_auth(v3::Auth::AuthPriv {
                            cipher,
                            privacy_password,
                        })
                        .with_key_extension_method(v3::KeyExtension::Blumenthal)
                }
            };
            AsyncSession::new_v3(addr, request_id, security).await
        }
    };
    opened.map_err(|e| {
        if matches!(e.raw_os_error(), Some(101) | Some(113)) {
            Failure::Network(format!("cannot send to {addr}: {e}"))
        } else {
            Failure::Fatal(Error::io(format!("opening a UDP socket to {addr}"), e))
        }
    })
}

/// Sorts an snmp2 error by who is at fault. With v3, a reply that does not
/// decode after authentication is a wrong privacy passphrase or protocol.
fn classify(e: snmp2::Error, v3: bool) -> Failure {
    use snmp2::Error as E;
    match e {
        E::AuthFailure(v3::AuthErrorKind::MessageIdMismatch) | E::AuthUpdated => {
            Failure::BadReply(e.to_string())
        }
        E::AuthFailure(kind) => Failure::Auth(match kind {
            v3::AuthErrorKind::NotAuthenticated | v3::AuthErrorKind::SignatureMismatch => {
                format!("{kind}: the agent rejected our authentication (wrong auth_password or snmp_auth_prot, or unknown user)")
            }
            other => other.to_string(),
        }),
        E::Crypto(why) => Failure::Auth(format!(
            "decryption failed ({why}): wrong priv_password or snmp_priv_prot?"
        )),
        E::Send => Failure::Network("send failed (no route, or the address is unreachable)".into()),
        E::Receive => Failure::Network(
            "receive failed (ICMP port unreachable: nothing listens on the SNMP port?)".into(),
        ),
        E::AsnParse
        | E::AsnInvalidLen
        | E::AsnWrongType
        | E::AsnUnsupportedType
        | E::AsnEof
        | E::AsnIntOverflow
            if v3 =>
        {
            Failure::Auth(format!(
                "the reply does not decode ({e}): wrong priv_password or snmp_priv_prot?"
            ))
        }
        other => Failure::BadReply(other.to_string()),
    }
}

/// Request ids: a different random start for each session.
struct RequestIds(u64);

impl RequestIds {
    fn new(seed: [u8; 32]) -> Self {
        let mut s = [0u8; 8];
        s.copy_from_slice(&seed[..8]);
        RequestIds(u64::from_le_bytes(s) | 1)
    }

    fn next(&mut self) -> i32 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        // Positive, below 2^30, so a long session never wraps to negative.
        ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 34) as i32) & 0x3fff_ffff
    }
}
