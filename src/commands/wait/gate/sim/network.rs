//! Between the gate and the simulated GitLab: a proxy, a load balancer, GitLab's own
//! front. Each request may fail before GitLab acts (a throttle's 429, a 503, a refused
//! connection, a timeout), after it acted (a 502, 500 or 504 in its place, a reset, a
//! timeout, a page that is not JSON), or come back as valid JSON that is odd (a list
//! read as `[]` or missing a check, a check twice, a status or state word GitLab never
//! sends, a head GitLab does not say). A check is never missing from two reads of its
//! list in a row: one odd read is what the gate must survive; a proxy that always lies
//! is beyond any gate.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use super::Answer;
use super::faults::{Before, is_lie};
use super::scenario::{Fault, Scenario};
use super::world::{EPOCH, MrTruth, SimGitlab};
use crate::gitlab::Reply;
use crate::gitlab::error::{ApiError, ApiErrorKind, Transport};
use crate::gitlab::response::Headers;

/// What the gate asked, as the simulated GitLab's routes see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    LookUp { page: u32 },
    List { iid: u64, page: u32 },
    Head { iid: u64 },
    Retry { iid: u64, check: u64 },
}

/// One request as it was served, for the oracle.
#[derive(Clone, Debug)]
pub(super) struct Served {
    pub(super) endpoint: Endpoint,
    pub(super) sent: Duration,
    pub(super) answered: Duration,
    /// When GitLab handled it; `None`: it never reached GitLab.
    pub(super) acted: Option<Duration>,
    /// What GitLab itself answered, when it handled it.
    pub(super) gitlab_status: Option<u16>,
    /// The status the gate received; `None`: no answer (refused, reset, timeout).
    pub(super) status: Option<u16>,
    /// The answer says GitLab did not act (a 429, a 503, a refused connection),
    /// whether or not it did.
    pub(super) said_not_acted: bool,
    /// A 2xx that is not the endpoint's JSON, or a list naming a check twice.
    pub(super) bad_body: bool,
    /// The body was changed: valid JSON, not what GitLab said.
    pub(super) lie: Option<Fault>,
    /// The wait the answer asked for (`Retry-After`, on the server's clock).
    pub(super) retry_after: Option<Duration>,
    /// `RateLimit-Reset`, from the server's time now, when ahead.
    pub(super) reset_in: Option<Duration>,
    pub(super) poll_interval: Option<i64>,
    /// `X-Total`, as served.
    pub(super) total: Option<u64>,
    /// The body as served, when it is JSON.
    pub(super) json: Option<Value>,
    pub(super) next_page: Option<u32>,
    /// Every MR as the truth had it when GitLab acted (or when the answer came).
    pub(super) truth: Vec<MrTruth>,
    /// For a look-up: the MRs that held the gate's commit then.
    pub(super) holding: Vec<MrTruth>,
}

impl Served {
    /// A 2xx with the endpoint's JSON (odd or not), which ends a run of bad bodies.
    pub(super) fn good(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s)) && !self.bad_body
    }
}

pub(super) struct Network {
    faults: BTreeMap<usize, Fault>,
    pub(super) requests: usize,
    latency: Duration,
    skew: i64,
    revoked: bool,
    /// Per list (iid; 0: the look-up): how its reads went.
    reads: BTreeMap<u64, Reads>,
}

pub(super) type Wire = (u16, Vec<(String, String)>, String);

/// The reads of one list, as far as odd bodies that drop checks go.
#[derive(Default)]
struct Reads {
    /// The read under way dropped a check, and every page so far was good.
    dropped: bool,
    intact: bool,
    /// A complete read dropped a check: the next complete read is the truth.
    owe_truth: bool,
}

impl Network {
    pub(super) fn new(sc: &Scenario) -> Network {
        Network {
            faults: sc.faults.iter().copied().collect(),
            requests: 0,
            latency: sc.latency,
            skew: sc.skew,
            revoked: false,
            reads: BTreeMap::new(),
        }
    }

    /// Serves `endpoint` (`target` on the wire) sent at `now`, the client giving up after
    /// `limit`: the gate's answer, and the record of it.
    pub(super) fn serve(
        &mut self,
        gitlab: &mut SimGitlab,
        now: Duration,
        endpoint: Endpoint,
        target: &str,
        limit: Duration,
    ) -> (Answer, Served) {
        let (answer, served) = self.serve_one(gitlab, now, endpoint, target, limit);
        self.page_served(&served);
        (answer, served)
    }

    fn serve_one(
        &mut self,
        gitlab: &mut SimGitlab,
        now: Duration,
        endpoint: Endpoint,
        target: &str,
        limit: Duration,
    ) -> (Answer, Served) {
        let fault = self.next_fault(endpoint);
        let latency = match fault {
            Some(Fault::Slow(ms)) => Duration::from_millis(ms),
            _ => self.latency,
        };
        let mut served = Served {
            endpoint,
            sent: now,
            answered: now + latency.min(limit),
            acted: None,
            gitlab_status: None,
            status: None,
            said_not_acted: false,
            bad_body: false,
            lie: None,
            retry_after: None,
            reset_in: None,
            poll_interval: None,
            total: None,
            json: None,
            next_page: None,
            truth: Vec::new(),
            holding: Vec::new(),
        };
        let method = match endpoint {
            Endpoint::Retry { .. } => "POST",
            _ => "GET",
        };
        match fault.map_or(Before::Pass, |f| self.before(f, served.answered)) {
            Before::Answer(wire, asked) => {
                gitlab.advance(served.answered);
                served.truth = gitlab.truth();
                return self.answer(served, method, target, wire, asked);
            }
            Before::Lost(kind) => {
                if kind == Transport::Timeout {
                    served.answered = now + limit;
                }
                gitlab.advance(served.answered);
                served.truth = gitlab.truth();
                served.said_not_acted = kind == Transport::Connect;
                return (Err(lost(method, target, kind)), served);
            }
            Before::Pass => {}
        }
        // GitLab acts half way through (a slow answer: soon after it arrived).
        let acted = now + latency.min(limit) / 2;
        gitlab.advance(acted);
        served.acted = Some(acted);
        let exchange = gitlab.exchange(method, target);
        served.gitlab_status = Some(exchange.status);
        served.truth = gitlab.truth();
        if let Endpoint::LookUp { .. } = endpoint {
            served.holding = gitlab.holding();
        }
        if let Endpoint::Retry { iid, check } = endpoint
            && exchange.status == 202
        {
            gitlab.retried_now(iid, check);
        }
        if latency >= limit {
            served.answered = now + limit;
        }
        gitlab.advance(served.answered);
        let wire = (exchange.status, exchange.headers, exchange.body);
        let wire = match fault {
            _ if latency >= limit => {
                return (Err(lost(method, target, Transport::Timeout)), served);
            }
            Some(f) => match self.after(f, served.endpoint, wire) {
                Ok(wire) => wire,
                Err(kind) => {
                    if kind == Transport::Timeout {
                        served.answered = now + limit;
                    }
                    return (Err(lost(method, target, kind)), served);
                }
            },
            None => wire,
        };
        served.lie = fault.filter(|f| is_lie(*f) && (200..300).contains(&wire.0));
        self.answer(served, method, target, wire, None)
    }

    /// The fault the next request meets: the scenario's, or 401 for ever once the token
    /// was revoked; an odd body that drops checks only where `may_drop` allows it.
    fn next_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let fault = self.faults.get(&self.requests).copied();
        self.requests += 1;
        self.revoked |= fault == Some(Fault::Revoked);
        if self.revoked {
            return Some(Fault::Revoked);
        }
        self.page_begins(endpoint);
        fault.filter(|f| self.may_drop(endpoint, *f))
    }

    /// The list a request reads, when it reads one: (key, page).
    fn list_of(endpoint: Endpoint) -> Option<(u64, u32)> {
        match endpoint {
            Endpoint::List { iid, page } => Some((iid, page)),
            Endpoint::LookUp { page } => Some((0, page)),
            _ => None,
        }
    }

    fn page_begins(&mut self, endpoint: Endpoint) {
        if let Some((key, 1)) = Network::list_of(endpoint) {
            let reads = self.reads.entry(key).or_default();
            reads.dropped = false;
            reads.intact = true;
        }
    }

    /// Never drop checks from two complete reads of one list in a row.
    fn may_drop(&mut self, endpoint: Endpoint, fault: Fault) -> bool {
        let Some((key, _)) = Network::list_of(endpoint) else {
            return true;
        };
        if !matches!(fault, Fault::EmptyList | Fault::DropOne) {
            return true;
        }
        let reads = self.reads.entry(key).or_default();
        if reads.owe_truth {
            return false;
        }
        reads.dropped = true;
        true
    }

    /// A page was served: a read complete and intact settles what the next one owes.
    fn page_served(&mut self, served: &Served) {
        let Some((key, page)) = Network::list_of(served.endpoint) else {
            return;
        };
        let reads = self.reads.entry(key).or_default();
        reads.intact &= served.good();
        let last = served.next_page.is_none_or(|n| n <= page);
        if reads.intact && last {
            reads.owe_truth = reads.dropped;
        }
    }

    /// The gate's answer from `wire`, and the record completed; `asked`: the wait the
    /// network's own answer asked for.
    fn answer(
        &mut self,
        mut served: Served,
        method: &'static str,
        target: &str,
        wire: Wire,
        asked: Option<Duration>,
    ) -> (Answer, Served) {
        let (status, headers, body) = wire;
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        // The server's clock, as its `Date` says it: stamped when GitLab (or the proxy)
        // answered.
        let server = EPOCH + served.acted.unwrap_or(served.answered).as_secs();
        served.status = Some(status);
        // What the answer says, not what happened: a 502 may come before or after.
        served.said_not_acted = matches!(status, 429 | 503);
        // GitLab's own Retry-After is in seconds (its throttle's).
        served.retry_after = asked.or_else(|| {
            get("retry-after")
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs)
        });
        served.reset_in = get("ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
            .and_then(|reset| reset.checked_sub(server))
            .map(Duration::from_secs);
        served.poll_interval = get("poll-interval").and_then(|v| v.parse().ok());
        served.next_page = get("x-next-page").and_then(|v| v.parse().ok());
        served.total = get("x-total").and_then(|v| v.parse().ok());
        served.json = serde_json::from_str(&body).ok();
        let success = (200..300).contains(&status);
        served.bad_body = success && !shaped(served.endpoint, served.json.as_ref());
        let wall = UNIX_EPOCH + Duration::from_secs(EPOCH) + served.answered;
        let runner = match self.skew {
            s if s >= 0 => wall + Duration::from_secs(s.unsigned_abs()),
            s => wall - Duration::from_secs(s.unsigned_abs()),
        };
        let reply = Reply {
            method,
            path: api_path(target),
            status,
            headers: Headers::read(get, runner),
            body,
        };
        (Ok(reply), served)
    }
}

/// The path below `/api/v4`, without the query (as the client names an endpoint).
fn api_path(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    path.trim_start_matches("/api/v4").to_owned()
}

/// Is `json` what the endpoint answers: a list of checks (each id once), a list of
/// merge requests, an object? (The oracle's own reading of the wire.)
fn shaped(endpoint: Endpoint, json: Option<&Value>) -> bool {
    let Some(json) = json else {
        return false;
    };
    match endpoint {
        Endpoint::List { .. } => json.as_array().is_some_and(|items| {
            let mut ids: Vec<u64> = items.iter().filter_map(|i| i["id"].as_u64()).collect();
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            n == items.len()
                && ids.len() == n
                && items
                    .iter()
                    .all(|i| i["name"].is_string() && i["status"].is_string())
        }),
        Endpoint::LookUp { .. } => json
            .as_array()
            .is_some_and(|items| items.iter().all(|i| i["iid"].is_u64())),
        Endpoint::Head { .. } => json["iid"].is_u64(),
        Endpoint::Retry { .. } => true,
    }
}

fn lost(method: &'static str, target: &str, kind: Transport) -> ApiError {
    ApiError {
        method,
        path: api_path(target),
        kind: ApiErrorKind::Transport {
            kind,
            detail: format!("{kind:?} (simulated)"),
        },
    }
}
