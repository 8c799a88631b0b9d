//! A small HTTP/1.1 client codec, sans-I/O: request emission and response
//! parsing (status line, headers, `Content-Length`, chunked transfer coding,
//! keep-alive), with hard size limits.
//!
//! Contract (like `ipmi::wire`): [`parse_response`] and [`parse_at_eof`] never
//! panic on any input and never allocate more than the limits allow; bytes that
//! are not a valid response are an [`ErrorKind::InvalidMessage`] error.
//! [`Request::emit`] never panics; the request line and header values it is
//! given are checked first ([`valid_path`], [`valid_header_value`]) so a BMC's
//! answer cannot inject headers into our next request.

use std::fmt;

use crate::{Error, ErrorKind};

/// The longest status line plus headers we accept.
pub const MAX_HEAD: usize = 16 * 1024;
/// The most header fields we accept.
pub const MAX_HEADERS: usize = 64;
/// The largest body we accept (a ComputerSystem resource is 2–20 KiB).
pub const MAX_BODY: usize = 1024 * 1024;
/// The longest chunk-size line (size, extensions) we accept.
const MAX_CHUNK_LINE: usize = 1024;

/// An HTTP method this client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET a resource.
    Get,
    /// POST an action or a session.
    Post,
    /// DELETE a session.
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        })
    }
}

/// One request. `Debug` never shows credential headers or a login body.
#[derive(Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The origin-form target (`/redfish/v1/...`), checked by [`valid_path`].
    pub path: String,
    /// Extra header fields (name, value); values checked by [`valid_header_value`].
    pub headers: Vec<(String, String)>,
    /// A JSON body (sent with `Content-Type: application/json`), if any.
    pub body: Option<Vec<u8>>,
    /// Whether the body carries a secret (a session login): never shown.
    pub secret_body: bool,
}

/// Header fields whose values are secrets.
fn is_secret_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-auth-token")
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if is_secret_header(n) {
                    format!("{n}: <redacted>")
                } else {
                    format!("{n}: {v}")
                }
            })
            .collect();
        let body = match (&self.body, self.secret_body) {
            (None, _) => "none".to_string(),
            (Some(_), true) => "<redacted>".to_string(),
            (Some(b), false) => String::from_utf8_lossy(b).into_owned(),
        };
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body", &body)
            .finish()
    }
}

impl Request {
    /// A request without extra headers or body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
            secret_body: false,
        }
    }

    /// Appends the wire form to `out`: `host` is the `Host` header value.
    /// Fails (no panic) if the path, the host or a header would break the
    /// request's framing.
    pub fn emit(&self, host: &str, out: &mut Vec<u8>) -> Result<(), Error> {
        if !valid_path(&self.path) {
            return Err(Error::new(
                ErrorKind::InvalidMessage,
                format!(
                    "refusing to send a request to the invalid path {:?}",
                    self.path
                ),
            ));
        }
        if !valid_header_value(host) || host.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the host {host:?} cannot be used in a Host header; check the address"),
            ));
        }
        for (n, v) in &self.headers {
            if !valid_token(n) || !valid_header_value(v) {
                return Err(Error::new(
                    ErrorKind::InvalidMessage,
                    format!("refusing to send the invalid header field {n:?}"),
                ));
            }
        }
        out.extend_from_slice(
            format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", self.method, self.path).as_bytes(),
        );
        out.extend_from_slice(
            b"User-Agent: ironbeat-fence\r\nAccept: application/json\r\nOData-Version: 4.0\r\nConnection: keep-alive\r\n",
        );
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match &self.body {
            Some(body) => {
                out.extend_from_slice(
                    format!(
                        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(body);
            }
            None if self.method != Method::Get => {
                out.extend_from_slice(b"Content-Length: 0\r\n\r\n")
            }
            None => out.extend_from_slice(b"\r\n"),
        }
        Ok(())
    }
}

/// Whether `path` is a safe origin-form request target: starts with `/`,
/// printable ASCII without spaces, at most 2048 bytes.
pub fn valid_path(path: &str) -> bool {
    path.starts_with('/') && path.len() <= 2048 && path.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `v` can be a header field value (no CR, LF or other controls).
pub fn valid_header_value(v: &str) -> bool {
    v.len() <= 8192
        && v.bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

fn valid_token(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Header fields in order (names as sent).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

impl Response {
    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The result of parsing the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// More bytes are needed.
    Incomplete,
    /// A whole response, and how many bytes of the input it used.
    Complete {
        /// The response.
        response: Response,
        /// Bytes consumed (any rest belongs to a later response).
        consumed: usize,
    },
}

fn invalid(what: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::InvalidMessage,
        format!("the BMC's HTTP response is malformed: {}", what.into()),
    )
}

/// How the body is delimited.
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    keep_alive: bool,
    framing: Framing,
    len: usize,
}

/// Parses the response at the start of `buf` (a response to a HEAD request
/// has no body when `head` is set). Interim 1xx responses are skipped.
pub fn parse_response(buf: &[u8], head: bool) -> Result<Parse, Error> {
    let mut start = 0usize;
    // At most a few interim responses: each consumes bytes, so this ends.
    for _ in 0..8 {
        let rest = buf.get(start..).unwrap_or(&[]);
        let Some(h) = parse_head(rest)? else {
            return Ok(Parse::Incomplete);
        };
        let body_start = start + h.len;
        if (100..200).contains(&h.status) {
            if h.status == 101 {
                return Err(invalid("101 Switching Protocols was not asked for"));
            }
            start = body_start;
            continue;
        }
        let framing = if head || h.status == 204 || h.status == 304 {
            Framing::None
        } else {
            h.framing
        };
        let body_bytes = buf.get(body_start..).unwrap_or(&[]);
        let (body, used) = match framing {
            Framing::None => (Vec::new(), 0),
            Framing::Length(n) => {
                if body_bytes.len() < n {
                    return Ok(Parse::Incomplete);
                }
                (body_bytes[..n].to_vec(), n)
            }
            Framing::Chunked => match dechunk(body_bytes)? {
                Some(x) => x,
                None => return Ok(Parse::Incomplete),
            },
            Framing::UntilClose => {
                if body_bytes.len() > MAX_BODY {
                    return Err(invalid(format!("body larger than {MAX_BODY} bytes")));
                }
                return Ok(Parse::Incomplete);
            }
        };
        return Ok(Parse::Complete {
            response: Response {
                status: h.status,
                reason: h.reason,
                headers: h.headers,
                body,
                keep_alive: h.keep_alive,
            },
            consumed: body_start + used,
        });
    }
    Err(invalid("too many interim (1xx) responses"))
}

/// Parses `buf` after the peer closed the connection: completes a body
/// delimited by the close, and fails on anything truncated.
pub fn parse_at_eof(buf: &[u8], head: bool) -> Result<Response, Error> {
    match parse_response(buf, head)? {
        Parse::Complete { response, .. } => Ok(response),
        Parse::Incomplete => {
            let mut start = 0usize;
            for _ in 0..8 {
                let rest = buf.get(start..).unwrap_or(&[]);
                let Some(h) = parse_head(rest)? else {
                    break;
                };
                if (100..200).contains(&h.status) {
                    start += h.len;
                    continue;
                }
                if let Framing::UntilClose = h.framing {
                    let body = buf.get(start + h.len..).unwrap_or(&[]).to_vec();
                    return Ok(Response {
                        status: h.status,
                        reason: h.reason,
                        headers: h.headers,
                        body,
                        keep_alive: false,
                    });
                }
                break;
            }
            Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                format!(
                    "the BMC closed the connection in the middle of a response ({} bytes received)",
                    buf.len()
                ),
            ))
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, Error> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= MAX_HEAD {
            return Err(invalid(format!(
                "status line and headers exceed {MAX_HEAD} bytes"
            )));
        }
        // Reject garbage early rather than waiting for the deadline.
        let probe = &buf[..buf.len().min(5)];
        if !b"HTTP/".starts_with(probe) {
            return Err(invalid("it does not start with HTTP/"));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&window[..end])
        .map_err(|_| invalid("the status line or a header is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let (version, rest) = status_line
        .split_once(' ')
        .ok_or_else(|| invalid("no status code in the status line"))?;
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => {
            return Err(invalid(format!(
                "unsupported version {:?}",
                truncate(version)
            )))
        }
    };
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "status code {:?} is not three digits",
            truncate(code)
        )));
    }
    let status: u16 = code.parse().map_err(|_| invalid("bad status code"))?;
    if !(100..=599).contains(&status) {
        return Err(invalid(format!("status code {status} is out of range")));
    }
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= MAX_HEADERS {
            return Err(invalid(format!("more than {MAX_HEADERS} header fields")));
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            return Err(invalid("obsolete header line folding"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("a header line without a colon"))?;
        if !valid_token(name) {
            return Err(invalid(format!("invalid header name {:?}", truncate(name))));
        }
        headers.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    fn get_all<'a>(
        headers: &'a [(String, String)],
        n: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    }
    let connection_has = |token: &str| {
        get_all(&headers, "connection")
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let mut keep_alive = if http10 {
        connection_has("keep-alive")
    } else {
        !connection_has("close")
    };
    let te: Vec<&str> = get_all(&headers, "transfer-encoding").collect();
    let framing = if !te.is_empty() {
        let last = te
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|t| !t.is_empty())
            .unwrap_or("");
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(invalid(format!(
                "unsupported transfer coding {:?}",
                truncate(last)
            )));
        }
        if get_all(&headers, "content-length").next().is_some() {
            return Err(invalid("both Transfer-Encoding and Content-Length"));
        }
        Framing::Chunked
    } else {
        let mut len: Option<usize> = None;
        for v in get_all(&headers, "content-length") {
            for part in v.split(',') {
                let part = part.trim();
                if part.is_empty() || part.len() > 10 || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(format!("bad Content-Length {:?}", truncate(v))));
                }
                let n: usize = part.parse().map_err(|_| invalid("bad Content-Length"))?;
                if len.is_some_and(|l| l != n) {
                    return Err(invalid("conflicting Content-Length values"));
                }
                len = Some(n);
            }
        }
        match len {
            Some(n) if n > MAX_BODY => {
                return Err(invalid(format!("body of {n} bytes exceeds {MAX_BODY}")))
            }
            Some(n) => Framing::Length(n),
            None => {
                keep_alive = false;
                Framing::UntilClose
            }
        }
    };
    Ok(Some(Head {
        status,
        reason: reason.to_string(),
        headers,
        keep_alive,
        framing,
        len: end + 4,
    }))
}

/// Decodes a chunked body; `None` if incomplete. Returns the body and the
/// bytes used (trailers included).
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, Error> {
    let mut body = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = buf.get(pos..).unwrap_or(&[]);
        let Some(eol) = find_crlf(&rest[..rest.len().min(MAX_CHUNK_LINE)]) else {
            if rest.len() >= MAX_CHUNK_LINE {
                return Err(invalid("chunk-size line too long"));
            }
            return Ok(None);
        };
        let line =
            std::str::from_utf8(&rest[..eol]).map_err(|_| invalid("chunk size not ASCII"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        if size_text.is_empty()
            || size_text.len() > 8
            || !size_text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(invalid(format!("bad chunk size {:?}", truncate(line))));
        }
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        pos += eol + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            for _ in 0..MAX_HEADERS + 1 {
                let rest = buf.get(pos..).unwrap_or(&[]);
                let Some(eol) = find_crlf(&rest[..rest.len().min(MAX_CHUNK_LINE)]) else {
                    if rest.len() >= MAX_CHUNK_LINE {
                        return Err(invalid("trailer line too long"));
                    }
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, pos)));
                }
            }
            return Err(invalid("too many trailer fields"));
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid(format!("chunked body exceeds {MAX_BODY} bytes")));
        }
        let rest = buf.get(pos..).unwrap_or(&[]);
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(invalid("chunk data not followed by CRLF"));
        }
        body.extend_from_slice(&rest[..size]);
        pos += size + 2;
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// HTTP Basic credentials: `Basic base64(user:password)`. The result is a
/// secret (never log it).
pub fn basic_auth(user: &str, password: &[u8]) -> String {
    let mut raw = Vec::with_capacity(user.len() + 1 + password.len());
    raw.extend_from_slice(user.as_bytes());
    raw.push(b':');
    raw.extend_from_slice(password);
    let s = format!("Basic {}", base64(&raw));
    raw.iter_mut().for_each(|b| *b = 0);
    s
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [
            c[0],
            c.get(1).copied().unwrap_or(0),
            c.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (Response, usize) {
        match parse_response(buf, false).expect("parses") {
            Parse::Complete { response, consumed } => (response, consumed),
            Parse::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn content_length_and_keep_alive() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}extra";
        let (r, used) = complete(raw);
        assert_eq!(
            (r.status, r.body.as_slice(), used, r.keep_alive),
            (200, &b"{}"[..], raw.len() - 5, true)
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        for cut in 0..raw.len() - 5 {
            assert_eq!(
                parse_response(&raw[..cut], false).unwrap(),
                Parse::Incomplete,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn http10_closes_and_eof_body() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
        assert_eq!(parse_response(raw, false).unwrap(), Parse::Incomplete);
        let r = parse_at_eof(raw, false).unwrap();
        assert_eq!(
            (r.body.as_slice(), r.keep_alive),
            (&b"{\"a\":1}"[..], false)
        );
        assert!(parse_at_eof(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false).is_err());
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
        let (r, used) = complete(raw);
        assert_eq!((r.body.as_slice(), used), (&b"Wikipedia"[..], raw.len()));
        for cut in 0..raw.len() {
            assert_eq!(
                parse_response(&raw[..cut], false).unwrap(),
                Parse::Incomplete,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn no_body_statuses_and_interim() {
        let raw =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
        let (r, used) = complete(raw);
        assert_eq!((r.status, r.body.len(), used), (204, 0, raw.len()));
        let (r, _) =
            match parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true).unwrap() {
                Parse::Complete { response, consumed } => (response, consumed),
                Parse::Incomplete => panic!(),
            };
        assert_eq!(r.body.len(), 0);
    }

    #[test]
    fn hostile_framing_is_refused() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 101 Switching\r\n\r\n",
        ] {
            assert!(
                parse_response(raw, false).is_err(),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        big.extend(std::iter::repeat(b'a').take(MAX_HEAD));
        assert!(parse_response(&big, false).is_err());
    }

    #[test]
    fn emit_refuses_injection_and_redacts() {
        let mut r = Request::new(Method::Get, "/redfish/v1/Systems/1");
        r.headers.push(("X-Auth-Token".into(), "tok123".into()));
        let mut out = Vec::new();
        r.emit("10.0.0.1:443", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /redfish/v1/Systems/1 HTTP/1.1\r\nHost: 10.0.0.1:443\r\n"));
        assert!(text.ends_with("X-Auth-Token: tok123\r\n\r\n"));
        assert!(!format!("{r:?}").contains("tok123"));
        let bad = Request::new(Method::Get, "/a\r\nX: y");
        assert!(bad.emit("h", &mut Vec::new()).is_err());
        let mut bad = Request::new(Method::Get, "/a");
        bad.headers.push(("X-Auth-Token".into(), "a\r\nb".into()));
        assert!(bad.emit("h", &mut Vec::new()).is_err());
        let mut p = Request::new(Method::Post, "/s");
        p.body = Some(b"{\"Password\":\"pw\"}".to_vec());
        p.secret_body = true;
        assert!(!format!("{p:?}").contains("pw\""));
    }

    #[test]
    fn basic_auth_matches_rfc7617() {
        assert_eq!(
            basic_auth("Aladdin", b"open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
