//! GitLab answering in-process, on a clock the caller sets: for a simulator that runs
//! thousands of timelines, where a socket and a thread per request would cost more
//! than everything else. The same endpoints, eras and throttle as the server; no faults
//! (a simulator brings its own) and no scripted timeline (it changes the world itself).

use crate::api;
use crate::http::{Request, http_date};
use crate::throttle::Throttle;
use crate::world::World;

/// One request as a client sends it.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub method: &'a str,
    /// Path (from `/api/v4/`) and query.
    pub target: &'a str,
    /// Sent as `PRIVATE-TOKEN`.
    pub token: &'a str,
    pub body: &'a str,
}

/// One answer as the wire carries it, a `Date` on the server's clock included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub status: u16,
    /// Names as GitLab writes them.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Exchange {
    /// A header's value, its name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The base URL of the `Link` headers of in-process answers.
const BASE: &str = "https://gitlab.example.com";

impl World {
    /// Answers `call` with the world's clock at `now_ms` and the server's Unix clock at
    /// `now_unix` (the throttle's windows, `Date`), through `throttle` when the world has
    /// a token rate limit.
    pub fn exchange(
        &mut self,
        throttle: &mut Throttle,
        call: &Call,
        now_ms: u64,
        now_unix: u64,
    ) -> Exchange {
        self.set_now_ms(now_ms);
        let (path, query) = call.target.split_once('?').unwrap_or((call.target, ""));
        let request = Request {
            method: call.method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            http10: false,
            headers: vec![
                ("private-token".into(), call.token.to_owned()),
                ("content-type".into(), "application/json".into()),
            ],
            body: call.body.as_bytes().to_vec(),
        };
        let admitted = match self.token_rate_limit {
            Some(limit) => throttle.admit(&limit, call.token, now_unix),
            None => Ok(None),
        };
        let response = match admitted {
            Ok(budget) => {
                let answer = api::handle(self, &request, BASE);
                match budget {
                    Some(b) => b.headers(answer),
                    None => answer,
                }
            }
            Err(throttled) => throttled,
        };
        let mut headers = response.headers;
        headers.push(("Date".into(), http_date(now_unix)));
        Exchange {
            status: response.status,
            headers,
            body: String::from_utf8_lossy(&response.body).into_owned(),
        }
    }
}
