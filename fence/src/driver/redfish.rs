//! Runs one Redfish fence request ([`crate::redfish::Client`]) over ONE TCP
//! connection (TLS by rustls with the *ring* provider, or plain HTTP when
//! explicitly configured), kept alive for the whole operation.
//!
//! The driver only moves bytes and time: it connects, wraps TLS, writes what
//! the client asks, parses responses with [`crate::redfish::http`], and sleeps
//! until the client's next instant. Connect, handshake, writes and reads are
//! all bounded by the client's one deadline, so a black-holed BMC fails at
//! the deadline (fence_redfish passes no timeout and hangs ~135 s).
//!
//! TLS modes ([`TlsMode`]): verified against a CA file (or the system bundle),
//! pinned to the certificate's SHA-256 fingerprint (factory iLO certificates
//! carry no subjectAltName, so name verification cannot succeed), or insecure
//! when asked.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::redfish::http::{parse_at_eof, parse_response, Parse, Response};
use crate::redfish::{Client, Config, Event, Outcome};
use crate::{Error, ErrorKind};

/// The system CA bundle used by [`TlsMode::Verify`] without a file (Debian).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How the BMC's certificate is checked.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Verify the chain and the name against this CA file (PEM), or the system
    /// bundle when `None`.
    Verify(Option<PathBuf>),
    /// Accept exactly the certificate with this SHA-256 fingerprint (of its DER).
    Pinned([u8; 32]),
    /// Accept any certificate (fence-agents' `ssl_insecure`): encrypted, not authenticated.
    Insecure,
    /// No TLS at all (`http://`): only for emulators and tests, when configured.
    PlainHttp,
}

impl fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsMode::Verify(None) => write!(f, "Verify(system CA bundle)"),
            TlsMode::Verify(Some(p)) => write!(f, "Verify({})", p.display()),
            TlsMode::Pinned(fp) => write!(f, "Pinned({})", fingerprint_text(fp)),
            TlsMode::Insecure => f.write_str("Insecure"),
            TlsMode::PlainHttp => f.write_str("PlainHttp"),
        }
    }
}

/// One Redfish fence request: where the BMC is, how to reach it, what to do.
#[derive(Debug, Clone)]
pub struct RedfishRequest {
    /// The BMC's host name or address.
    pub host: String,
    /// The BMC's TCP port (443; 80 for plain HTTP).
    pub port: u16,
    /// Certificate checking, or plain HTTP.
    pub tls: TlsMode,
    /// Credentials, vendor, systems URI, action, timing.
    pub config: Config,
    /// Print every request and response line (never a secret) to stderr.
    pub verbose: bool,
}

impl RedfishRequest {
    /// A request to `host` on port 443, verified against the system CA bundle.
    pub fn new(host: impl Into<String>, config: Config) -> Self {
        RedfishRequest {
            host: host.into(),
            port: 443,
            tls: TlsMode::Verify(None),
            config,
            verbose: false,
        }
    }
}

/// Parses a SHA-256 fingerprint: 64 hex digits, optionally separated by `:`
/// (as `openssl x509 -fingerprint -sha256` prints it), optionally prefixed `sha256:`.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], Error> {
    let t = text.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .or_else(|| t.strip_prefix("sha256 Fingerprint="))
        .or_else(|| t.strip_prefix("SHA256 Fingerprint="))
        .unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != ':' && *c != ' ').collect();
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!(
                "the certificate fingerprint {text:?} is not a SHA-256 fingerprint; give 64 hex \
                 digits (openssl x509 -noout -fingerprint -sha256 -in cert.pem)"
            ),
        )
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// `AB:CD:...` form of a fingerprint.
pub fn fingerprint_text(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Runs `request`; with `verbose`, events go to stderr as they happen.
pub async fn run(request: RedfishRequest) -> Result<Outcome, Error> {
    let prefix = format!("redfish {}:{}", request.host, request.port);
    let events = super::stderr_events(prefix, request.verbose);
    run_with_events(request, events).await
}

/// Runs `request` on a new single-threaded runtime (for synchronous callers).
pub fn run_blocking(request: RedfishRequest) -> Result<Outcome, Error> {
    super::block_on(run(request))?
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Connection {
    stream: Box<dyn Stream>,
    /// Bytes received beyond the last response.
    pending: Vec<u8>,
    /// Responses already read on it (a reused connection may have been closed
    /// by the BMC while idle: then one reconnect is allowed).
    used: u32,
}

/// Runs `request`, handing every event to `on_event` as it happens.
pub async fn run_with_events(
    request: RedfishRequest,
    mut on_event: impl FnMut(&Event),
) -> Result<Outcome, Error> {
    let start = Instant::now();
    let mut config = request.config.clone();
    let default_port = if request.tls == TlsMode::PlainHttp {
        80
    } else {
        443
    };
    let host_part = if request.host.contains(':') && !request.host.starts_with('[') {
        format!("[{}]", request.host)
    } else {
        request.host.clone()
    };
    config.host = if request.port == default_port {
        host_part
    } else {
        format!("{host_part}:{}", request.port)
    };
    config.validate()?;
    let tls = match &request.tls {
        TlsMode::PlainHttp => None,
        mode => Some(tls_connector(mode)?),
    };
    let mut client = Client::new(config.clone(), start)?;
    let end = tokio::time::Instant::from_std(client.deadline().end());
    let mut conn: Option<Connection> = None;
    let mut wire = Vec::with_capacity(1024);
    loop {
        while let Some(event) = client.poll_event() {
            on_event(&event);
        }
        if let Some(outcome) = client.poll_outcome() {
            if let Some(c) = conn.as_mut() {
                // Close politely, but never past the deadline.
                let _ = tokio::time::timeout_at(end, c.stream.shutdown()).await;
            }
            return outcome;
        }
        if let Some(req) = client.poll_request() {
            wire.clear();
            if let Err(e) = req.emit(&config.host, &mut wire) {
                client.handle_transport_error(Instant::now(), e);
                continue;
            }
            // No HEAD requests are sent: every response may carry a body.
            let head = false;
            let mut attempt = 0;
            let result = loop {
                attempt += 1;
                if conn.is_none() {
                    match connect(&request, tls.as_ref(), end, &mut on_event).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => break Err(Some(e)),
                    }
                }
                let Some(c) = conn.as_mut() else {
                    break Err(Some(Error::new(ErrorKind::Io, "no connection")));
                };
                let reused = c.used > 0;
                match exchange(c, &wire, head, end).await {
                    Ok(resp) => {
                        c.used += 1;
                        if !resp.keep_alive {
                            conn = None;
                        }
                        break Ok(resp);
                    }
                    Err(Exchange::Stale) if reused && attempt == 1 => {
                        on_event(&Event::Note(
                            "the BMC closed the idle connection; reconnecting".into(),
                        ));
                        conn = None;
                    }
                    Err(Exchange::Stale) => {
                        conn = None;
                        break Err(Some(Error::new(
                            ErrorKind::DeviceMisbehaved,
                            format!(
                                "the BMC at {}:{} closed the connection without answering",
                                request.host, request.port
                            ),
                        )));
                    }
                    Err(Exchange::Failed(e)) => {
                        conn = None;
                        break Err(Some(e));
                    }
                    Err(Exchange::Deadline) => {
                        conn = None;
                        break Err(None);
                    }
                }
            };
            match result {
                Ok(resp) => client.handle_response(Instant::now(), &resp),
                // The deadline passed with the response outstanding.
                Err(None) => client.handle_timeout(Instant::now().max(client.deadline().end())),
                Err(Some(e)) => client.handle_transport_error(Instant::now(), e),
            }
            continue;
        }
        let Some(wake) = client.poll_timeout() else {
            return Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                "the Redfish client stopped without a result",
            ));
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        client.handle_timeout(Instant::now());
    }
}

enum Exchange {
    /// The connection was closed before any byte of the response.
    Stale,
    /// The deadline passed.
    Deadline,
    /// Anything else.
    Failed(Error),
}

async fn exchange(
    c: &mut Connection,
    wire: &[u8],
    head: bool,
    end: tokio::time::Instant,
) -> Result<Response, Exchange> {
    match tokio::time::timeout_at(end, c.stream.write_all(wire)).await {
        Err(_) => return Err(Exchange::Deadline),
        Ok(Err(_)) if c.used > 0 => return Err(Exchange::Stale),
        Ok(Err(e)) => return Err(Exchange::Failed(Error::io("sending to the BMC", e))),
        Ok(Ok(())) => {}
    }
    let _ = tokio::time::timeout_at(end, c.stream.flush()).await;
    let mut buf = std::mem::take(&mut c.pending);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match parse_response(&buf, head) {
            Ok(Parse::Complete { response, consumed }) => {
                c.pending = buf.split_off(consumed.min(buf.len()));
                return Ok(response);
            }
            Ok(Parse::Incomplete) => {}
            Err(e) => return Err(Exchange::Failed(e)),
        }
        let n = match tokio::time::timeout_at(end, c.stream.read(&mut chunk)).await {
            Err(_) => return Err(Exchange::Deadline),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if buf.is_empty() && c.used > 0 => {
                let _ = e;
                return Err(Exchange::Stale);
            }
            // rustls reports a close without close_notify as UnexpectedEof.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Ok(Err(e)) => return Err(Exchange::Failed(Error::io("receiving from the BMC", e))),
        };
        if n == 0 {
            if buf.is_empty() {
                return Err(Exchange::Stale);
            }
            return parse_at_eof(&buf, head).map_err(Exchange::Failed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn connect(
    request: &RedfishRequest,
    tls: Option<&tokio_rustls::TlsConnector>,
    end: tokio::time::Instant,
    on_event: &mut impl FnMut(&Event),
) -> Result<Connection, Error> {
    let where_ = format!("{}:{}", request.host, request.port);
    let addr = super::resolve("BMC", &request.host, request.port, end).await?;
    let tcp = match tokio::time::timeout_at(end, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Unreachable,
                format!(
                    "no TCP connection to the BMC at {where_} before the request's deadline (no \
                     answer to SYN: down, wrong address, or filtered); check the address and \
                     the routes"
                ),
            ))
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Error::new(
                ErrorKind::Unreachable,
                format!(
                    "the BMC at {where_} refused the connection: nothing listens on that port; \
                     check ipport and that the BMC's {} is enabled",
                    if tls.is_some() { "HTTPS" } else { "HTTP" }
                ),
            ))
        }
        Ok(Err(e)) => {
            return Err(Error::new(
                ErrorKind::Unreachable,
                format!("cannot connect to the BMC at {where_}: {e}; check the address and routes"),
            ))
        }
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    on_event(&Event::Note(format!("connected to {addr}")));
    let Some(connector) = tls else {
        return Ok(Connection {
            stream: Box::new(tcp),
            pending: Vec::new(),
            used: 0,
        });
    };
    let name =
        ServerName::try_from(request.host.trim_matches(['[', ']']).to_string()).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!("{:?} is not a valid TLS server name", request.host),
            )
        })?;
    let stream = match tokio::time::timeout_at(end, connector.connect(name, tcp)).await {
        Err(_) => {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the TLS handshake with the BMC at {where_} did not finish before the deadline"
                ),
            ))
        }
        Ok(Err(e)) => return Err(tls_error(&where_, &request.tls, e)),
        Ok(Ok(s)) => s,
    };
    {
        let (_, session) = stream.get_ref();
        let fp = session
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| fingerprint_text(&Sha256::digest(c.as_ref()).into()))
            .unwrap_or_else(|| "none".into());
        on_event(&Event::Note(format!(
            "TLS {}, {}, certificate SHA-256 {fp}",
            session
                .protocol_version()
                .map_or("?".to_string(), |v| format!("{v:?}")),
            session
                .negotiated_cipher_suite()
                .map_or("?".to_string(), |s| format!("{:?}", s.suite())),
        )));
    }
    Ok(Connection {
        stream: Box::new(stream),
        pending: Vec::new(),
        used: 0,
    })
}

fn tls_error(where_: &str, mode: &TlsMode, e: std::io::Error) -> Error {
    let text = e.to_string();
    let cert_problem =
        text.contains("certificate") || text.contains("Certificate") || text.contains("pinned");
    if cert_problem {
        let hint = match mode {
            TlsMode::Verify(_) => {
                "give the CA that signed it (ssl_ca), pin its fingerprint (ssl_fingerprint; \
                 factory iLO certificates have no subjectAltName and fail name checks), or, \
                 knowingly, ssl_insecure"
            }
            TlsMode::Pinned(_) => "check ssl_fingerprint against the BMC's current certificate",
            _ => "check the BMC's certificate",
        };
        Error::new(
            ErrorKind::Config,
            format!("the BMC at {where_} presented a certificate we do not trust ({text}); {hint}"),
        )
    } else {
        Error::new(
            ErrorKind::DeviceIncompatible,
            format!(
                "TLS with the BMC at {where_} failed ({text}); it needs TLS 1.2 or 1.3 (iLO 4 \
                 FW 2.30+, iLO 5+, iDRAC 8+)"
            ),
        )
    }
}

fn tls_connector(mode: &TlsMode) -> Result<tokio_rustls::TlsConnector, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Config, format!("TLS set-up failed: {e}")))?;
    let config = match mode {
        TlsMode::Verify(file) => {
            let path = file
                .clone()
                .unwrap_or_else(|| PathBuf::from(SYSTEM_CA_BUNDLE));
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&path).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "cannot read the CA file {}: {e}; give a PEM file",
                        path.display()
                    ),
                )
            })?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("the CA file {} is not valid PEM: {e}", path.display()),
                    )
                })?;
                // Bundles hold the odd certificate webpki cannot use; skip those.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("the CA file {} holds no usable certificate", path.display()),
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsMode::Pinned(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                sha256: Some(*fp),
                algs: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        TlsMode::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                sha256: None,
                algs: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        TlsMode::PlainHttp => {
            return Err(Error::new(
                ErrorKind::Config,
                "plain HTTP has no TLS connector",
            ))
        }
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Accepts the certificate whose DER has the pinned SHA-256 (any, when
/// `None`: insecure mode). Handshake signatures are still verified, so the
/// peer holds the certificate's private key.
#[derive(Debug)]
struct Pinned {
    sha256: Option<[u8; 32]>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(want) = self.sha256 else {
            return Ok(ServerCertVerified::assertion());
        };
        let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if subtle::ConstantTimeEq::ct_eq(&got[..], &want[..]).into() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the certificate's SHA-256 is {}, not the pinned {}",
                fingerprint_text(&got),
                fingerprint_text(&want)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_both_ways() {
        let fp = [0xABu8; 32];
        let text = fingerprint_text(&fp);
        assert_eq!(parse_fingerprint(&text).unwrap(), fp);
        assert_eq!(
            parse_fingerprint(&format!("sha256 Fingerprint={text}")).unwrap(),
            fp
        );
        assert_eq!(parse_fingerprint(&"ab".repeat(32)).unwrap(), fp);
        assert_eq!(
            parse_fingerprint("abc").unwrap_err().kind(),
            ErrorKind::Config
        );
        assert!(format!("{:?}", TlsMode::Pinned(fp)).contains("AB:AB"));
    }
}
