//! The server: accept loop, one thread per connection, the request log, faults, the
//! timeline and the rate limiter. The world lives behind one mutex; no I/O happens while it
//! is held.

use crate::api;
use crate::http::{Conn, ReadError, Request, Response, http_date};
use crate::script::{Event, Fault, FaultKind, LoggedRequest, Trigger};
use crate::throttle::{Budget, Throttle, too_many};
use crate::world::World;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

struct State {
    world: World,
    log: Vec<LoggedRequest>,
    faults: Vec<Fault>,
    events: Vec<(Event, bool)>,
    polls: HashMap<(u64, u64), usize>,
    /// Arrival times (ms) of the requests admitted in the last 60 s.
    window: VecDeque<u64>,
    /// Per token: the requests counted in its current window.
    throttle: Throttle,
}

impl State {
    fn fire_time_events(&mut self, now: u64) {
        for (ev, fired) in self.events.iter_mut() {
            if !*fired
                && let Trigger::AfterMs(ms) = ev.trigger
                && now >= ms
            {
                *fired = true;
                ev.action.apply(&mut self.world);
            }
        }
    }

    /// Counts a GET of an MR's status_checks list (page 1) and fires due AfterPolls events.
    fn count_poll(&mut self, req: &Request) {
        if req.method != "GET" {
            return;
        }
        let Some(api::Route::MrChecks(id, iid)) = api::route(&req.method, &req.path) else {
            return;
        };
        let page = crate::http::parse_form(&req.query)
            .into_iter()
            .rev()
            .find(|(k, _)| k == "page")
            .map(|(_, v)| v);
        if page.as_deref().is_some_and(|p| p.trim() != "1") {
            return;
        }
        let decoded = crate::http::percent_decode(&id, false);
        let Some(project_id) = self
            .world
            .projects
            .iter()
            .find(|p| p.id.to_string() == decoded || p.path.eq_ignore_ascii_case(&decoded))
            .map(|p| p.id)
        else {
            return;
        };
        let Ok(iid) = iid.parse::<u64>() else {
            return;
        };
        let n = self.polls.entry((project_id, iid)).or_insert(0);
        *n += 1;
        let n = *n;
        for (ev, fired) in self.events.iter_mut() {
            if !*fired
                && let Trigger::AfterPolls {
                    project_id: p,
                    iid: i,
                    polls,
                } = ev.trigger
                && p == project_id
                && i == iid
                && n >= polls
            {
                *fired = true;
                ev.action.apply(&mut self.world);
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    cond: Condvar,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    log_stderr: AtomicBool,
    log_json: AtomicBool,
    started: Instant,
    scheme: &'static str,
}

enum Mode {
    Normal,
    Drip(u64),
    Partial,
}

enum Plan {
    Answer(Response, Mode),
    /// Sleep, then handle normally.
    Delayed(u64),
    /// Close without answering.
    Reset,
    /// Sleep, then send this answer (already computed: the endpoint ran on arrival).
    Late(u64, Response),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The per-token throttle (`World::token_rate_limit`) at the Unix clock's time.
fn token_budget(st: &mut State, req: &Request) -> Result<Option<Budget>, Response> {
    let Some(limit) = st.world.token_rate_limit else {
        return Ok(None);
    };
    let token = match crate::script::auth_of(&req.headers) {
        crate::script::Auth::PrivateToken(t)
        | crate::script::Auth::Bearer(t)
        | crate::script::Auth::JobToken(t) => t,
        // Unauthenticated requests are throttled per IP by GitLab: not modelled.
        crate::script::Auth::None => return Ok(None),
    };
    let now = st.world.unix_now().max(0) as u64;
    st.throttle.admit(&limit, &token, now)
}

fn html_error(code: u16) -> Response {
    let title = format!("{code} {}", crate::http::reason(code));
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    Response::raw(code, "text/html", body.into_bytes())
}

fn huge(bytes: usize) -> Response {
    let mut s = String::with_capacity(bytes + 128);
    s.push('[');
    let mut i = 0u64;
    while s.len() < bytes.saturating_sub(1) || i == 0 {
        if i > 0 {
            s.push(',');
        }
        i += 1;
        s.push_str(&format!(
            r#"{{"id":{i},"name":"check-{i}","external_url":"https://checks.example.com/check-{i}","status":"pending"}}"#
        ));
    }
    s.push(']');
    Response::raw(200, "application/json", s.into_bytes())
}

/// What a fault does on the wire. `acted` is the endpoint's answer when an `AfterActing`
/// fault already ran it (so it is not run twice).
fn fault_plan(
    st: &mut State,
    kind: FaultKind,
    req: &Request,
    base: &str,
    acted: Option<Response>,
) -> Plan {
    let json = |body: &str| Response::raw(200, "application/json", body.as_bytes().to_vec());
    let array = api::expects_array(&req.method, &req.path);
    let mut acted = acted;
    let mut endpoint = |st: &mut State| {
        acted
            .take()
            .unwrap_or_else(|| api::handle(&mut st.world, req, base))
    };
    match kind {
        FaultKind::TooManyRequests { retry_after } => {
            let reset_in = retry_after
                .as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(1);
            let limit = st.world.rate_limit_per_minute.unwrap_or(600);
            let now = st.world.unix_now().max(0) as u64;
            Plan::Answer(
                too_many(retry_after, now, reset_in, limit, limit as usize + 1),
                Mode::Normal,
            )
        }
        FaultKind::Status {
            code,
            body,
            content_type,
        } => Plan::Answer(
            Response::raw(code, &content_type, body.into_bytes()),
            Mode::Normal,
        ),
        FaultKind::HtmlError(code) => Plan::Answer(html_error(code), Mode::Normal),
        FaultKind::ExtraHeaders(headers) => {
            let answer = headers
                .into_iter()
                .fold(endpoint(st), |r, (name, value)| r.header(&name, value));
            Plan::Answer(answer, Mode::Normal)
        }
        FaultKind::Reset => Plan::Reset,
        FaultKind::ResetMidBody => Plan::Answer(endpoint(st), Mode::Partial),
        FaultKind::Delay(ms) => match acted {
            Some(resp) => Plan::Late(ms, resp),
            None => Plan::Delayed(ms),
        },
        FaultKind::InvalidJson => Plan::Answer(
            json(if array {
                r#"[{"id":1,"name":"security-scan","external_url":"https://chec"#
            } else {
                r#"{"id":1,"iid":7,"project_id":42,"sta"#
            }),
            Mode::Normal,
        ),
        FaultKind::WrongShape => Plan::Answer(
            json(if array {
                r#"{"unexpected":true}"#
            } else {
                "[]"
            }),
            Mode::Normal,
        ),
        FaultKind::Empty => Plan::Answer(json(""), Mode::Normal),
        FaultKind::Redirect { code, location } => Plan::Answer(
            Response::raw(code, "text/html", Vec::new()).header("Location", location),
            Mode::Normal,
        ),
        FaultKind::SlowDrip { interval_ms } => Plan::Answer(endpoint(st), Mode::Drip(interval_ms)),
        FaultKind::Huge { bytes } => Plan::Answer(huge(bytes), Mode::Normal),
        FaultKind::AfterActing(inner) => {
            let resp = endpoint(st);
            let inner = match *inner {
                FaultKind::AfterActing(inner) => *inner,
                other => other,
            };
            fault_plan(st, inner, req, base, Some(resp))
        }
    }
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn base(&self, req: &Request, fallback_host: &str) -> String {
        format!(
            "{}://{}",
            self.scheme,
            req.header("host").unwrap_or(fallback_host)
        )
    }

    /// Logs the request, fires events, applies a fault or the rate limiter, and (usually)
    /// answers it. Returns the log index and what to do on the wire.
    fn begin(&self, req: &Request, fallback_host: &str) -> (usize, Plan) {
        let now = self.now_ms();
        let base = self.base(req, fallback_host);
        let mut st = lock(&self.state);
        let idx = st.log.len();
        st.log.push(LoggedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            at_ms: now,
            status: 0,
            fault: None,
        });
        st.fire_time_events(now);
        st.count_poll(req);
        let target = req.target();
        let fault = st
            .faults
            .iter_mut()
            .find(|f| f.matches(&req.method, &target))
            .and_then(|f| {
                if f.after > 0 {
                    f.after -= 1;
                    return None;
                }
                f.times -= 1;
                Some(f.kind.clone())
            });
        if let Some(kind) = fault {
            st.log[idx].fault = Some(format!("{kind:?}"));
            return (idx, fault_plan(&mut st, kind, req, &base, None));
        }
        if let Some(limit) = st.world.rate_limit_per_minute {
            while st
                .window
                .front()
                .is_some_and(|t| now.saturating_sub(*t) >= 60_000)
            {
                st.window.pop_front();
            }
            if st.window.len() >= limit as usize {
                let oldest = st.window.front().copied().unwrap_or(now);
                let wait_ms = (oldest + 60_000).saturating_sub(now);
                let secs = wait_ms.div_ceil(1000).max(1);
                let observed = st.window.len() + 1;
                return (
                    idx,
                    Plan::Answer(
                        too_many(
                            Some(secs.to_string()),
                            st.world.unix_now().max(0) as u64,
                            secs,
                            limit,
                            observed,
                        ),
                        Mode::Normal,
                    ),
                );
            }
            st.window.push_back(now);
        }
        let budget = match token_budget(&mut st, req) {
            Ok(budget) => budget,
            Err(throttled) => return (idx, Plan::Answer(throttled, Mode::Normal)),
        };
        let mut resp = api::handle(&mut st.world, req, &base);
        if let Some(b) = budget {
            resp = b.headers(resp);
        }
        (idx, Plan::Answer(resp, Mode::Normal))
    }

    fn handle_now(&self, req: &Request, fallback_host: &str) -> Response {
        let base = self.base(req, fallback_host);
        let mut st = lock(&self.state);
        api::handle(&mut st.world, req, &base)
    }

    fn finish(&self, idx: usize, status: u16) {
        let mut st = lock(&self.state);
        if let Some(entry) = st.log.get_mut(idx) {
            entry.status = status;
            if self.log_stderr.load(Ordering::Relaxed) {
                if self.log_json.load(Ordering::Relaxed) {
                    eprintln!("{}", json_log_line(entry));
                } else {
                    // method, path, status only: never headers, query or body (tokens).
                    eprintln!("{} {} {}", entry.method, entry.path, status);
                }
            }
        }
        drop(st);
        self.cond.notify_all();
    }
}

/// One request as a JSON log line: arrival time, method, path, status and the pagination
/// parameters `page` / `per_page` (as sent, or null); never headers, the rest of the query
/// or the body, so never a token.
fn json_log_line(entry: &LoggedRequest) -> String {
    json!({
        "at_ms": entry.at_ms,
        "method": entry.method,
        "path": entry.path,
        "page": entry.query_param("page"),
        "per_page": entry.query_param("per_page"),
        "status": entry.status,
    })
    .to_string()
}

/// Serves HTTP/1.1 requests on one connection until it closes or a fault closes it.
fn serve<S: Read + Write>(shared: &Shared, stream: S, fallback_host: &str) {
    let mut conn = Conn::new(stream);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let req = match conn.read_request() {
            Ok(r) => r,
            Err(ReadError::Bad(m)) => {
                let _ =
                    Response::json(400, &json!({ "error": m })).write_all(&mut conn.stream, false);
                return;
            }
            Err(ReadError::Eof | ReadError::Io) => return,
        };
        let keep = req.keep_alive();
        let latency = lock(&shared.state).world.latency_ms;
        if latency > 0 {
            thread::sleep(Duration::from_millis(latency));
        }
        let (idx, mut plan) = shared.begin(&req, fallback_host);
        if let Plan::Delayed(ms) = plan {
            thread::sleep(Duration::from_millis(ms));
            plan = Plan::Answer(shared.handle_now(&req, fallback_host), Mode::Normal);
        } else if let Plan::Late(ms, resp) = plan {
            thread::sleep(Duration::from_millis(ms));
            plan = Plan::Answer(resp, Mode::Normal);
        }
        // Every answer is dated by the server's clock (`World::clock_offset_secs`).
        if let Plan::Answer(resp, mode) = plan {
            let now = lock(&shared.state).world.unix_now();
            plan = Plan::Answer(resp.header("Date", http_date(now.max(0) as u64)), mode);
        }
        // The status is logged before the answer is written: a client that exits on
        // reading it must find it in the log.
        let ok = match plan {
            Plan::Reset | Plan::Delayed(_) | Plan::Late(..) => {
                shared.finish(idx, 0);
                false
            }
            Plan::Answer(resp, Mode::Normal) => {
                shared.finish(idx, resp.status);
                resp.write_all(&mut conn.stream, keep).is_ok()
            }
            Plan::Answer(resp, Mode::Drip(ms)) => {
                shared.finish(idx, resp.status);
                resp.write_drip(&mut conn.stream, keep, Duration::from_millis(ms))
                    .is_ok()
            }
            Plan::Answer(resp, Mode::Partial) => {
                shared.finish(idx, 0);
                let _ = resp.write_partial(&mut conn.stream);
                false
            }
        };
        if !ok || !keep {
            return;
        }
    }
}

/// A rustls server configuration from PEM text (ring provider, no client auth).
fn tls_config(cert_chain_pem: &str, key_pem: &str) -> io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let certs = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate PEM", &e))?;
    if certs.is_empty() {
        return Err(bad("certificate PEM", &"no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| bad("key PEM", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate and key", &e))?;
    Ok(Arc::new(config))
}

/// A running fake GitLab. Dropping it stops the server and closes its connections.
pub struct FakeGitlab {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeGitlab {
    /// Binds 127.0.0.1:0. Panics if that fails.
    pub fn start(world: World) -> FakeGitlab {
        FakeGitlab::start_on(world, "127.0.0.1:0").expect("fake-gitlab: bind 127.0.0.1:0")
    }

    pub fn start_on(world: World, addr: &str) -> io::Result<FakeGitlab> {
        FakeGitlab::start_with(world, addr, None)
    }

    /// Like [`FakeGitlab::start`], but speaking HTTPS with this certificate chain and key
    /// (PEM; the chain's first certificate is the server's). Binds 127.0.0.1:0; the base
    /// URL is `https://127.0.0.1:PORT`, so the certificate should name IP 127.0.0.1 (and
    /// `localhost` for tests that use the name). Panics on a bad certificate or key.
    pub fn start_tls(world: World, cert_chain_pem: &str, key_pem: &str) -> FakeGitlab {
        FakeGitlab::start_tls_on(world, "127.0.0.1:0", cert_chain_pem, key_pem)
            .expect("fake-gitlab: TLS on 127.0.0.1:0")
    }

    /// [`FakeGitlab::start_tls`] on a given address; errors for a bad certificate or key.
    pub fn start_tls_on(
        world: World,
        addr: &str,
        cert_chain_pem: &str,
        key_pem: &str,
    ) -> io::Result<FakeGitlab> {
        let config = tls_config(cert_chain_pem, key_pem)?;
        FakeGitlab::start_with(world, addr, Some(config))
    }

    fn start_with(
        mut world: World,
        addr: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<FakeGitlab> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let started = Instant::now();
        world.start_clock(started);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                world,
                log: Vec::new(),
                faults: Vec::new(),
                events: Vec::new(),
                polls: HashMap::new(),
                window: VecDeque::new(),
                throttle: Throttle::new(),
            }),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            log_stderr: AtomicBool::new(false),
            log_json: AtomicBool::new(false),
            started,
            scheme: if tls.is_some() { "https" } else { "http" },
        });
        let sh = Arc::clone(&shared);
        let host = addr.to_string();
        let acceptor = thread::Builder::new()
            .name("fake-gitlab-accept".into())
            .spawn(move || {
                for incoming in listener.incoming() {
                    if sh.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = incoming else { continue };
                    let _ = stream.set_nodelay(true);
                    let id = sh.next_conn.fetch_add(1, Ordering::SeqCst);
                    if let Ok(c) = stream.try_clone() {
                        lock(&sh.conns).insert(id, c);
                    }
                    let sh2 = Arc::clone(&sh);
                    let host = host.clone();
                    let tls = tls.clone();
                    let spawned = thread::Builder::new()
                        .name("fake-gitlab-conn".into())
                        .spawn(move || {
                            match tls {
                                // A failed handshake (an untrusted certificate) ends
                                // the connection before any request is read or logged.
                                Some(config) => {
                                    if let Ok(conn) = rustls::ServerConnection::new(config) {
                                        serve(&sh2, rustls::StreamOwned::new(conn, stream), &host);
                                    }
                                }
                                None => serve(&sh2, stream, &host),
                            }
                            if let Some(c) = lock(&sh2.conns).remove(&id) {
                                let _ = c.shutdown(Shutdown::Both);
                            }
                        });
                    if spawned.is_err()
                        && let Some(c) = lock(&sh.conns).remove(&id)
                    {
                        let _ = c.shutdown(Shutdown::Both);
                    }
                }
            })?;
        Ok(FakeGitlab {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// "http://127.0.0.1:PORT"
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.shared.scheme, self.addr)
    }

    /// base_url + "/api/v4"
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.base_url())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Reads or mutates the world under the lock.
    pub fn world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut st = lock(&self.shared.state);
        let r = f(&mut st.world);
        // A replaced world keeps the server's clock.
        st.world.start_clock(self.shared.started);
        drop(st);
        self.shared.cond.notify_all();
        r
    }

    /// Everything received so far, in arrival order (faulted and refused requests too).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.state).log.clone()
    }

    /// Adds a fault; the first matching fault with `times > 0` fires on a request.
    pub fn fault(&self, fault: Fault) {
        lock(&self.shared.state).faults.push(fault);
    }

    /// Removes every pending fault (addition to the brief).
    pub fn clear_faults(&self) {
        lock(&self.shared.state).faults.clear();
    }

    /// Adds a timeline event (fires once).
    pub fn on(&self, event: Event) {
        lock(&self.shared.state).events.push((event, false));
    }

    /// Prints one line per answered request to stderr: method, path, status (addition to
    /// the brief; used by the binary's `--log`).
    pub fn log_to_stderr(&self, on: bool) {
        self.shared.log_stderr.store(on, Ordering::Relaxed);
    }

    /// With [`FakeGitlab::log_to_stderr`]: one JSON object per line instead, with the
    /// arrival time (`at_ms`) and the `page` / `per_page` parameters (used by the
    /// benchmarks; still never a header value, any other query parameter or a body).
    pub fn log_json(&self, on: bool) {
        self.shared.log_json.store(on, Ordering::Relaxed);
    }

    /// Waits until `pred` holds (checked on every state change and every 20 ms) or the
    /// timeout passes; returns whether it held.
    pub fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&World, &[LoggedRequest]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.shared.state);
        loop {
            let now = self.shared.now_ms();
            st.fire_time_events(now);
            if pred(&st.world, &st.log) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .shared
                .cond
                .wait_timeout(st, left.min(Duration::from_millis(20)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for FakeGitlab {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip([127, 0, 0, 1].into());
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        for (_, c) in lock(&self.shared.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}
