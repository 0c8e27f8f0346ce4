//! Syslog transports (`--syslog URL`): `udp://host:port` (RFC 5426, one message per datagram),
//! `tcp://host:port` (RFC 6587 octet counting: `LEN SP MSG`), `tls://host:port` (RFC 5425, the same
//! framing inside TLS; rustls, CA from `--syslog-ca`, optional client certificate, the server's name
//! or IP verified against its certificate).
//!
//! Each destination runs on its own thread and reads the spool; the packet path never waits for it.
//!
//! Delivery over TCP and TLS is at-least-once. Syslog over TCP has no acknowledgement, so an alert
//! counts as **confirmed** when it was written to the socket and then either (a) at least
//! [`CONFIRM_AFTER`] later the connection is still open (no FIN, no reset, no TLS alert from the
//! receiver), or (b) at shutdown we closed our side and the receiver closed its side after reading
//! everything. Everything written but not yet confirmed when a connection fails is sent again on the
//! next connection (same alert `id`, so the receiver can drop duplicates). UDP is fire-and-forget: an
//! alert counts as confirmed once the datagram left.

use super::format::{format, Format, Header};
use super::spool::Spool;
use super::OutputStats;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a written alert must stay on a live connection before it counts as delivered.
pub const CONFIRM_AFTER: Duration = Duration::from_millis(1000);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
const BATCH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// A parsed `--syslog` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            format!("{s:?}: expected udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT")
        })?;
        let transport = match scheme {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => {
                return Err(format!(
                    "{s:?}: unknown scheme {scheme:?} (udp, tcp or tls)"
                ))
            }
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?}: missing :PORT"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
            return Err(format!("{s:?}: bad host {host:?}"));
        }
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{s:?}: bad port {port:?} (1-65535)")),
        };
        Ok(Target {
            url: s.to_string(),
            transport,
            host: host.to_string(),
            port,
        })
    }

    /// Resolves the host (once, at startup: a name that does not resolve is a configuration error).
    pub fn resolve(&self) -> Result<SocketAddr, String> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("--syslog {}: cannot resolve {}: {e}", self.url, self.host))?
            .next()
            .ok_or_else(|| format!("--syslog {}: {} has no address", self.url, self.host))
    }
}

/// TLS settings: CA file (required for tls://), optional client certificate and key.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Builds the rustls client configuration; any unreadable or invalid file is one error line.
pub fn tls_config(f: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
    let ca = f.ca.as_deref().ok_or(
        "--syslog tls://… needs --syslog-ca FILE (the CA that signed the receiver's certificate)",
    )?;
    let mut roots = rustls::RootCertStore::empty();
    let certs = read_certs(ca, "--syslog-ca")?;
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("--syslog-ca {}: {e}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let cfg = match (&f.cert, &f.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "--syslog-cert")?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("--syslog-key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("--syslog-cert/--syslog-key: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--syslog-cert and --syslog-key go together".into()),
    };
    Ok(Arc::new(cfg))
}

fn read_certs(p: &Path, opt: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let v = CertificateDer::pem_file_iter(p)
        .map_err(|e| format!("{opt} {}: {e}", p.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{opt} {}: {e}", p.display()))?;
    if v.is_empty() {
        return Err(format!(
            "{opt} {}: no PEM certificate in the file",
            p.display()
        ));
    }
    Ok(v)
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<ClientConnection>, TcpStream),
}

fn connect(t: &Target, addr: SocketAddr, tls: Option<&Arc<ClientConfig>>) -> Result<Conn, String> {
    if t.transport == Transport::Udp {
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let s = UdpSocket::bind(local).map_err(|e| e.to_string())?;
        s.connect(addr).map_err(|e| e.to_string())?;
        return Ok(Conn::Udp(s));
    }
    let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    tcp.set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let Some(cfg) = tls.filter(|_| t.transport == Transport::Tls) else {
        return Ok(Conn::Tcp(tcp));
    };
    let name = ServerName::try_from(t.host.clone()).map_err(|e| format!("server name: {e}"))?;
    let mut c = ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
    let mut tcp = tcp;
    while c.is_handshaking() {
        c.complete_io(&mut tcp)
            .map_err(|e| format!("TLS handshake: {e}"))?;
    }
    Ok(Conn::Tls(Box::new(c), tcp))
}

impl Conn {
    /// One datagram (UDP).
    fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(msg).map(|_| ()),
            _ => self.write_stream(msg),
        }
    }

    /// Already framed bytes (TCP, TLS).
    fn write_stream(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(bytes).map(|_| ()),
            Conn::Tcp(s) => s.write_all(bytes),
            Conn::Tls(c, s) => {
                while !bytes.is_empty() {
                    let n = c.writer().write(bytes)?;
                    bytes = bytes.get(n..).unwrap_or_default();
                    let mut flushed = false;
                    while c.wants_write() {
                        c.write_tls(s)?;
                        flushed = true;
                    }
                    if n == 0 && !flushed {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                }
                Ok(())
            }
        }
    }

    /// True while the receiver has not closed or reset the connection (checked without blocking).
    fn alive(&mut self) -> bool {
        match self {
            Conn::Udp(_) => true,
            Conn::Tcp(s) => {
                if s.set_nonblocking(true).is_err() {
                    return false;
                }
                let mut b = [0u8; 256];
                let ok = loop {
                    match s.read(&mut b) {
                        Ok(0) => break false,
                        Ok(_) => continue, // a syslog receiver sends nothing; ignore it
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break false,
                    }
                };
                ok && s.set_nonblocking(false).is_ok()
            }
            Conn::Tls(c, s) => {
                if s.set_nonblocking(true).is_err() {
                    return false;
                }
                let ok = loop {
                    match read_tls_discarding(c, s) {
                        Ok(TlsRead::PeerClosed) | Err(TlsReadError::Fatal) => break false,
                        Ok(TlsRead::More) | Err(TlsReadError::Interrupted) => continue,
                        Err(TlsReadError::WouldBlock) => break true,
                    }
                };
                ok && s.set_nonblocking(false).is_ok()
            }
        }
    }

    /// Closes our side and waits (until `deadline`) for the receiver to close its side: then it has
    /// read everything we sent.
    fn close_and_wait(&mut self, deadline: Instant) -> bool {
        let wait_eof = |s: &mut TcpStream| -> bool {
            let mut b = [0u8; 512];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
                    return false;
                }
                match s.read(&mut b) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
            }
        };
        match self {
            Conn::Udp(_) => true,
            Conn::Tcp(s) => s.shutdown(Shutdown::Write).is_ok() && wait_eof(s),
            Conn::Tls(c, s) => {
                c.send_close_notify();
                while c.wants_write() {
                    if c.write_tls(s).is_err() {
                        return false;
                    }
                }
                if s.shutdown(Shutdown::Write).is_err() {
                    return false;
                }
                // Read through TLS: a fatal alert from the receiver (it refused us) is a failure,
                // its close_notify or a clean EOF after our close is success.
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
                        return false;
                    }
                    match read_tls_discarding(c, s) {
                        Ok(TlsRead::PeerClosed) => return true,
                        Ok(TlsRead::More) | Err(TlsReadError::Interrupted) => continue,
                        Err(TlsReadError::WouldBlock | TlsReadError::Fatal) => return false,
                    }
                }
            }
        }
    }
}

enum TlsRead {
    /// EOF or the receiver's close_notify.
    PeerClosed,
    /// Records were read (any plaintext is discarded); there may be more.
    More,
}

enum TlsReadError {
    WouldBlock,
    Interrupted,
    /// A socket error or a TLS error (a fatal alert from the receiver).
    Fatal,
}

/// One read from the socket into the TLS session, discarding any plaintext the receiver sent.
fn read_tls_discarding(
    c: &mut ClientConnection,
    s: &mut TcpStream,
) -> Result<TlsRead, TlsReadError> {
    match c.read_tls(s) {
        Ok(0) => Ok(TlsRead::PeerClosed),
        Ok(_) => match c.process_new_packets() {
            Ok(st) if st.peer_has_closed() => Ok(TlsRead::PeerClosed),
            Ok(_) => {
                let mut b = [0u8; 256];
                while matches!(c.reader().read(&mut b), Ok(n) if n > 0) {}
                Ok(TlsRead::More)
            }
            Err(_) => Err(TlsReadError::Fatal),
        },
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(TlsReadError::WouldBlock),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(TlsReadError::Interrupted),
        Err(_) => Err(TlsReadError::Fatal),
    }
}

/// One destination's settings.
pub struct Dest {
    pub target: Target,
    pub addr: SocketAddr,
    pub tls: Option<Arc<ClientConfig>>,
    pub format: Format,
    pub header: Header,
    pub db: PathBuf,
    pub phi: Option<Arc<super::PhiGuard>>,
}

/// Signals from the spooler to a destination thread.
pub struct Control {
    /// Set when input has ended: deliver what is spooled, then stop (by `drain_until`).
    pub stopping: std::sync::atomic::AtomicBool,
    /// Highest spooled sequence number.
    pub spooled: std::sync::atomic::AtomicI64,
    pub drain_until: std::sync::Mutex<Option<Instant>>,
}

/// The destination thread: sends what the spool holds past this destination's cursor.
pub fn run_dest(
    d: Dest,
    ctl: Arc<Control>,
    wake: crossbeam_channel::Receiver<()>,
    st: Arc<OutputStats>,
) {
    let url = d.target.url.clone();
    let spool = match Spool::open(&d.db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("iomt-sensor: error: syslog {url}: {e:#}");
            return;
        }
    };
    let mut confirmed = match spool.cursor(&url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iomt-sensor: error: syslog {url}: {e:#}");
            return;
        }
    };
    let mut saved = confirmed;
    let mut sent = confirmed;
    let mut inflight: VecDeque<(i64, Instant)> = VecDeque::new();
    let mut conn: Option<Conn> = None;
    let mut backoff = BACKOFF_MIN;
    let mut next_try = Instant::now();
    let mut down = false;
    let mut connected_at = Instant::now();
    let mut more = false;
    let fail = |conn: &mut Option<Conn>,
                inflight: &mut VecDeque<(i64, Instant)>,
                sent: &mut i64,
                confirmed: i64,
                down: &mut bool,
                what: &str| {
        *conn = None;
        st.requeued.fetch_add(inflight.len() as u64, Relaxed);
        inflight.clear();
        *sent = confirmed;
        if !*down {
            eprintln!(
                "iomt-sensor: warning: syslog {url}: {what}; alerts stay spooled and are resent after a reconnect"
            );
            *down = true;
        }
    };
    loop {
        let now = Instant::now();
        if conn.is_none() && now >= next_try {
            match connect(&d.target, d.addr, d.tls.as_ref()) {
                Ok(c) => {
                    // The backoff is reset, and "delivering again" said, only once the connection
                    // has proved itself (below): a receiver that accepts and then drops us is
                    // retried at the growing backoff, with no line per attempt.
                    conn = Some(c);
                    connected_at = now;
                    st.connects.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    st.connect_failures.fetch_add(1, Relaxed);
                    if !down {
                        eprintln!(
                            "iomt-sensor: warning: syslog {url}: cannot connect: {e}; alerts stay spooled and are retried"
                        );
                        down = true;
                    }
                    next_try = now + backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            // Confirm what has been on a live connection long enough.
            let settled = now.duration_since(connected_at) >= CONFIRM_AFTER;
            if !inflight.is_empty() || (down && settled) {
                if c.alive() {
                    if settled {
                        backoff = BACKOFF_MIN;
                        if down {
                            eprintln!("iomt-sensor: syslog {url}: delivering again");
                            down = false;
                        }
                    }
                    while let Some(&(seq, at)) = inflight.front() {
                        if now.duration_since(at) < CONFIRM_AFTER {
                            break;
                        }
                        confirmed = seq;
                        inflight.pop_front();
                    }
                } else {
                    fail(
                        &mut conn,
                        &mut inflight,
                        &mut sent,
                        confirmed,
                        &mut down,
                        "the receiver closed the connection",
                    );
                    next_try = now + backoff;
                    continue;
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            match spool.after(sent, BATCH) {
                Ok(rows) => {
                    more = rows.len() == BATCH;
                    let stream = d.target.transport != Transport::Udp;
                    // TCP/TLS: the batch goes out in one write; (seq, withheld) in order.
                    let mut buf: Vec<u8> = Vec::new();
                    let mut seqs: Vec<(i64, bool, String)> = Vec::new();
                    for r in rows {
                        let msg = format(d.format, &d.header, &r.alert, &r.eve);
                        let withheld = d.phi.as_ref().is_some_and(|g| g.hit(&msg));
                        if withheld {
                            // Withheld, counted, and treated as handled (never retried).
                            st.phi_blocked.fetch_add(1, Relaxed);
                        }
                        if stream {
                            if !withheld {
                                buf.extend_from_slice(format!("{} ", msg.len()).as_bytes());
                                buf.extend_from_slice(msg.as_bytes());
                            }
                            seqs.push((r.seq, withheld, r.alert.id));
                            continue;
                        }
                        if !withheld {
                            match c.send(msg.as_bytes()) {
                                Ok(()) => {
                                    st.sent.fetch_add(1, Relaxed);
                                    st.alert_clock.delivered(&r.alert.id);
                                }
                                // Fire-and-forget: a refused datagram is counted, not resent.
                                Err(_) => {
                                    st.send_failures.fetch_add(1, Relaxed);
                                }
                            }
                        }
                        sent = r.seq;
                        confirmed = sent;
                    }
                    if !seqs.is_empty() {
                        let res = if buf.is_empty() {
                            Ok(())
                        } else {
                            c.write_stream(&buf)
                        };
                        match res {
                            Ok(()) => {
                                let at = Instant::now();
                                let old = at.checked_sub(CONFIRM_AFTER).unwrap_or(at);
                                for (seq, withheld, id) in seqs {
                                    sent = seq;
                                    if !withheld {
                                        st.sent.fetch_add(1, Relaxed);
                                        st.alert_clock.delivered(&id);
                                    }
                                    inflight.push_back((seq, if withheld { old } else { at }));
                                }
                            }
                            Err(e) => {
                                st.send_failures.fetch_add(1, Relaxed);
                                fail(
                                    &mut conn,
                                    &mut inflight,
                                    &mut sent,
                                    confirmed,
                                    &mut down,
                                    &format!("send failed: {e}"),
                                );
                                next_try = Instant::now() + backoff;
                            }
                        }
                    }
                }
                Err(e) => eprintln!("iomt-sensor: warning: syslog {url}: {e:#}"),
            }
        }
        let stopping = ctl.stopping.load(Relaxed);
        let top = ctl.spooled.load(Relaxed);
        if stopping && sent >= top {
            if let Some(c) = conn.as_mut() {
                if !inflight.is_empty() {
                    let deadline = ctl
                        .drain_until
                        .lock()
                        .ok()
                        .and_then(|g| *g)
                        .unwrap_or_else(Instant::now);
                    // `alive` first: a receiver that closed before our last writes must not pass
                    // for one that read everything.
                    if c.alive() && c.close_and_wait(deadline) {
                        confirmed = sent;
                        inflight.clear();
                        conn = None;
                    } else {
                        fail(
                            &mut conn,
                            &mut inflight,
                            &mut sent,
                            confirmed,
                            &mut down,
                            "the receiver closed the connection before confirming",
                        );
                        next_try = Instant::now() + backoff;
                    }
                }
            }
        }
        if confirmed != saved {
            if spool.set_cursor(&url, confirmed).is_ok() {
                saved = confirmed;
            }
            st.confirmed_seq.fetch_max(confirmed, Relaxed);
        }
        if stopping {
            let past = ctl
                .drain_until
                .lock()
                .ok()
                .and_then(|g| *g)
                .is_none_or(|t| Instant::now() >= t);
            if confirmed >= top || past {
                if confirmed < top {
                    let left = spool.count_after(confirmed).unwrap_or(0);
                    st.left_spooled.fetch_add(left, Relaxed);
                    eprintln!(
                        "iomt-sensor: warning: syslog {url}: {left} alerts not confirmed at exit; they stay spooled in the state directory and go out on the next run"
                    );
                }
                break;
            }
        }
        if more && conn.is_some() {
            continue;
        }
        let wait = if inflight.is_empty() {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(50)
        };
        let _ = wake.recv_timeout(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("tcp://127.0.0.77:6514").unwrap();
        assert_eq!(
            (t.transport, t.host.as_str(), t.port),
            (Transport::Tcp, "127.0.0.77", 6514)
        );
        assert_eq!(Target::parse("udp://[::1]:514").unwrap().host, "::1");
        assert_eq!(
            Target::parse("tls://siem.example:6514").unwrap().transport,
            Transport::Tls
        );
        for bad in [
            "127.0.0.1:514",
            "http://x:1",
            "tcp://x",
            "tcp://x:0",
            "tcp://x:99999",
            "tcp://:514",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
