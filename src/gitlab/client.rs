//! The HTTP side of GitLab: one agent, the auth header, timeouts, no
//! redirects, retries with backoff and `Retry-After`, pagination, a cap on
//! what is read.

use std::cell::Cell;
use std::io::ErrorKind;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;
use ureq::tls::Certificate;

use super::error::{ApiError, ApiErrorKind, Transport};
use super::reply::Reply;
use super::response::Headers;
use crate::backoff::{Backoff, Jitter};
use crate::log::Log;
use crate::secret::Token;

/// No GitLab status-check answer comes near this; a bigger one is not GitLab.
const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// Items per page: GitLab's maximum, so a list costs as few requests as possible.
pub(crate) const PER_PAGE: u32 = 100;
/// Guard against a server that always announces a next page.
pub(crate) const MAX_PAGES: u32 = 1000;
/// Longest single wait between retries, whatever `Retry-After` says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(120);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(crate) struct ClientSettings {
    pub base_url: String,
    /// `None` only for `doctor`'s reachability probe: requests carry no credential.
    pub token: Option<Token>,
    pub ca_certs: Vec<Certificate<'static>>,
    pub request_timeout: Duration,
    pub retries: usize,
    pub retry_delay: Duration,
}

pub(crate) struct Client<'a> {
    agent: ureq::Agent,
    base: String,
    token: Option<Token>,
    request_timeout: Duration,
    retries: usize,
    retry_delay: Duration,
    log: &'a Log,
    /// `host:port` of the proxy from the environment, when it applies to the
    /// API host (never its credentials): errors say a proxy was in the way.
    proxy: Option<String>,
    requests: Cell<u32>,
    deadline: Cell<Option<Instant>>,
}

/// Every page of a list.
pub(crate) struct Listing<T> {
    pub items: Vec<T>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl<'a> Client<'a> {
    pub(crate) fn new(settings: ClientSettings, log: &'a Log) -> Client<'a> {
        let proxy = ureq::Proxy::try_from_env();
        let proxy_in_use = proxy.as_ref().and_then(|p| {
            let uri: ureq::http::Uri = settings.base_url.parse().ok()?;
            (!p.is_no_proxy(&uri)).then(|| format!("{}:{}", p.host(), p.port()))
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Never follow a redirect: the token must not reach another host.
            .max_redirects(0)
            .user_agent(concat!("status-check/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(settings.request_timeout.min(Duration::from_secs(10))))
            .proxy(proxy)
            .tls_config(super::tls::config(settings.ca_certs))
            .build()
            .new_agent();
        Client {
            agent,
            base: settings.base_url,
            token: settings.token,
            request_timeout: settings.request_timeout,
            retries: settings.retries,
            retry_delay: settings.retry_delay,
            log,
            proxy: proxy_in_use,
            requests: Cell::new(0),
            deadline: Cell::new(None),
        }
    }

    /// The API base URL, for messages.
    pub(crate) fn base_url(&self) -> &str {
        &self.base
    }

    /// Requests sent so far (each attempt counts).
    pub(crate) fn request_count(&self) -> u32 {
        self.requests.get()
    }

    /// No attempt, and no sleep between attempts, goes past this instant.
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send(Method::Get, path, None)?.decode()
    }

    /// Follows `X-Next-Page` (or the `Link` header) to the last page.
    pub(crate) fn get_all<T: DeserializeOwned>(&self, path: &str) -> Result<Listing<T>, ApiError> {
        let mut items = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let reply = self.send(Method::Get, &page_path(path, page), None)?;
            let mut batch: Vec<T> = reply.decode()?;
            items.append(&mut batch);
            match reply.headers.next_page {
                Some(next) if next > page => page = next,
                _ => break,
            }
        }
        Ok(Listing { items })
    }

    /// A POST retried only when GitLab certainly did not act on it (429,
    /// 503, refused connection). When the outcome is unknown the error is
    /// returned: the caller re-reads state before trying again.
    pub(crate) fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ApiError> {
        self.send(Method::Post, path, Some(body.to_string()))?
            .decode()
    }

    pub(crate) fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ApiError> {
        self.send(Method::Put, path, Some(body.to_string()))?
            .decode()
    }

    pub(crate) fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send(Method::Delete, path, None).map(|_| ())
    }

    fn send(&self, method: Method, path: &str, body: Option<String>) -> Result<Reply, ApiError> {
        let mut backoff =
            Backoff::new(self.retry_delay, MAX_BACKOFF, Jitter::Added).limited(self.retries);
        loop {
            let error = match self.send_once(method, path, body.as_deref()) {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let retry = error.is_transient() && (method == Method::Get || !error.outcome_unknown());
            if !retry {
                return Err(error);
            }
            let Some(backoff_delay) = backoff.next() else {
                return Err(error);
            };
            let delay = error
                .retry_after()
                .map_or(backoff_delay, |after| after.min(MAX_RETRY_WAIT));
            if self.past_deadline_after(delay) {
                return Err(error);
            }
            self.log.once(
                &error.fault_class(),
                format!(
                    "{error}; retrying in {:.1}s (transient)",
                    delay.as_secs_f64()
                ),
            );
            thread::sleep(delay);
        }
    }

    fn past_deadline_after(&self, delay: Duration) -> bool {
        self.deadline
            .get()
            .is_some_and(|deadline| Instant::now() + delay >= deadline)
    }

    fn attempt_timeout(&self) -> Duration {
        match self.deadline.get() {
            Some(deadline) => self
                .request_timeout
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(100)),
            None => self.request_timeout,
        }
    }

    /// This attempt's timeout, the caller's headers, and the auth header: the one place
    /// the token leaves its type.
    fn authorized<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        headers: &[(&str, &str)],
    ) -> ureq::RequestBuilder<B> {
        let request = request
            .config()
            .timeout_global(Some(self.attempt_timeout()))
            .build();
        let request = headers.iter().fold(request, |request, (name, value)| {
            request.header(*name, *value)
        });
        match &self.token {
            Some(token) => request.header("PRIVATE-TOKEN", token.expose()),
            None => request,
        }
    }

    /// One attempt: a 2xx, or the error any other answer stands for.
    fn send_once(&self, method: Method, path: &str, body: Option<&str>) -> Result<Reply, ApiError> {
        self.exchange(method, path, body)?.success()
    }

    /// One attempt, and the answer whatever its status: an `Err` only when none came
    /// (the connection, TLS, a timeout, a body cut off or over the cap). For a caller
    /// that reads every status itself (the gate's core).
    pub(crate) fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, ApiError> {
        self.exchange_with(method, path, body, &[])
    }

    /// `exchange`, with headers of the caller's (an external control's signature).
    pub(crate) fn exchange_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ApiError> {
        let url = format!("{}{path}", self.base);
        let started = Instant::now();
        self.requests.set(self.requests.get() + 1);
        let json = |request: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            self.authorized(request, headers)
                .content_type("application/json")
                .send(body.unwrap_or("{}"))
        };
        let result = match method {
            Method::Get => self.authorized(self.agent.get(&url), headers).call(),
            Method::Delete => self.authorized(self.agent.delete(&url), headers).call(),
            Method::Post => json(self.agent.post(&url)),
            Method::Put => json(self.agent.put(&url)),
            Method::Patch => json(self.agent.patch(&url)),
        };
        let endpoint = strip_query(path);
        let fail = |kind: ApiErrorKind| ApiError {
            method: method.as_str(),
            path: endpoint.to_owned(),
            kind,
        };
        let mut response = match result {
            Ok(response) => response,
            Err(e) => {
                let kind = through_proxy(transport_error(&e), self.proxy.as_deref());
                self.log.detail(format!(
                    "{} {path} → {e} ({} ms)",
                    method.as_str(),
                    started.elapsed().as_millis()
                ));
                return Err(fail(kind));
            }
        };
        let status = response.status().as_u16();
        let headers = Headers::read(
            |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            },
            SystemTime::now(),
        );
        if let Some(declared) = headers.content_length.filter(|n| *n > MAX_BODY_BYTES) {
            // Not read at all: the cap is on what is read, and a server that
            // announces more is not GitLab.
            self.log.detail(format!(
                "{} {path} → {status}, {declared} bytes announced: not read",
                method.as_str()
            ));
            return Err(fail(ApiErrorKind::Transport {
                kind: Transport::TooLarge,
                detail: format!(
                    "answered {status}, but the answer is larger than {} MiB ({declared} bytes announced)",
                    MAX_BODY_BYTES >> 20
                ),
            }));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string();
        self.log.detail(format!(
            "{} {path} → {status} ({} ms)",
            method.as_str(),
            started.elapsed().as_millis()
        ));
        let body = match body {
            Ok(body) => body,
            // The status line came, the body did not: say which status it was.
            Err(e) => return Err(fail(body_error(status, &e))),
        };
        Ok(Reply {
            method: method.as_str(),
            path: endpoint.to_owned(),
            status,
            headers,
            body,
        })
    }
}

fn strip_query(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// `path` asking for page `page` of a list, `PER_PAGE` items a page.
pub(crate) fn page_path(path: &str, page: u32) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}per_page={PER_PAGE}&page={page}")
}

/// A connection failure names the proxy when one was in the way.
fn through_proxy(kind: ApiErrorKind, proxy: Option<&str>) -> ApiErrorKind {
    match (kind, proxy) {
        (
            ApiErrorKind::Transport {
                kind: Transport::Connect,
                detail,
            },
            Some(proxy),
        ) => ApiErrorKind::Transport {
            kind: Transport::Connect,
            detail: format!("{detail}, through the proxy {proxy} (from the *_PROXY variables)"),
        },
        (kind, _) => kind,
    }
}

/// A body that broke off after the status line: the transport error, with the status.
fn body_error(status: u16, e: &ureq::Error) -> ApiErrorKind {
    match transport_error(e) {
        ApiErrorKind::Transport { kind, detail } => {
            let detail = match kind {
                Transport::Timeout => "the body did not arrive within the request timeout".into(),
                _ => detail,
            };
            ApiErrorKind::Transport {
                kind,
                detail: format!("answered {status}, but {detail}"),
            }
        }
        other => other,
    }
}

fn transport_error(e: &ureq::Error) -> ApiErrorKind {
    let kind = match e {
        ureq::Error::HostNotFound => Transport::Dns,
        ureq::Error::Timeout(_) | ureq::Error::BodyStalled => Transport::Timeout,
        ureq::Error::ConnectionFailed | ureq::Error::ConnectProxyFailed(_) => Transport::Connect,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => Transport::Tls,
        ureq::Error::BodyExceedsLimit(_) | ureq::Error::LargeResponseHeader(_, _) => {
            Transport::TooLarge
        }
        ureq::Error::Protocol(_) => Transport::Reset,
        // getaddrinfo's failures come as plain I/O errors.
        ureq::Error::Io(io) if io.to_string().contains("failed to lookup address") => {
            if io.to_string().contains("Temporary failure") {
                // EAI_AGAIN: the resolver may answer the next attempt.
                return ApiErrorKind::Transport {
                    kind: Transport::Connect,
                    detail: "the host name could not be resolved for now (a temporary DNS failure)"
                        .to_owned(),
                };
            }
            Transport::Dns
        }
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => Transport::Connect,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Transport::Timeout,
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => Transport::Reset,
            _ if io.to_string().contains("certificate") => Transport::Tls,
            _ => Transport::Other,
        },
        _ => Transport::Other,
    };
    let detail = match kind {
        Transport::Dns => "the host name could not be resolved".to_owned(),
        Transport::Connect => format!("could not connect ({e})"),
        Transport::Timeout => "no answer within the request timeout".to_owned(),
        Transport::Reset => format!("the connection broke ({e})"),
        Transport::TooLarge => format!("the answer is larger than {} MiB", MAX_BODY_BYTES >> 20),
        Transport::Tls => format!("TLS failed ({e})"),
        Transport::Other => e.to_string(),
    };
    ApiErrorKind::Transport { kind, detail }
}
