//! GitLab's authenticated API throttle, per token, as Rack::Attack counts: fixed windows
//! aligned to the Unix clock, every request of the token in the current window counted,
//! those over the limit answered 429 until the window ends, with the `RateLimit-*`
//! headers (on every answer, or on the 429s only). Times are Unix seconds, given by the
//! caller: the server's clock, or a simulator's.

use std::collections::HashMap;

use crate::http::{Response, http_date};
use crate::world::{RateLimitHeaders, TokenRateLimit};

/// Where a token stands in its window, for the `RateLimit-*` headers of an answer.
pub(crate) struct Budget {
    limit: u32,
    observed: u32,
    reset: u64,
}

impl Budget {
    pub(crate) fn headers(&self, r: Response) -> Response {
        r.header("RateLimit-Name", "throttle_authenticated_api")
            .header("RateLimit-Limit", self.limit.to_string())
            .header("RateLimit-Observed", self.observed.to_string())
            .header(
                "RateLimit-Remaining",
                self.limit.saturating_sub(self.observed).to_string(),
            )
            .header("RateLimit-Reset", self.reset.to_string())
    }
}

/// A 429 of the throttle: `Retry-After` (raw: seconds or a date) when given, and the
/// `RateLimit-*` headers of a spent budget that resets `reset_in` seconds after `now`.
pub(crate) fn too_many(
    retry_after: Option<String>,
    now: u64,
    reset_in: u64,
    limit: u32,
    observed: usize,
) -> Response {
    let reset = now + reset_in;
    let mut r = Response::raw(429, "text/plain", b"Retry later".to_vec());
    if let Some(ra) = retry_after {
        r = r.header("Retry-After", ra);
    }
    r.header("RateLimit-Name", "throttle_authenticated_api")
        .header("RateLimit-Limit", limit.to_string())
        .header("RateLimit-Observed", observed.to_string())
        .header("RateLimit-Remaining", "0")
        .header("RateLimit-Reset", reset.to_string())
        .header("RateLimit-ResetTime", http_date(reset))
}

/// The requests each token made in its current window.
#[derive(Default)]
pub struct Throttle {
    windows: HashMap<String, (u64, u32)>,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle::default()
    }

    /// Counts `n` requests of `token` at `now` (other users of the token, in a simulator).
    pub fn spend(&mut self, limit: &TokenRateLimit, token: &str, n: u32, now: u64) {
        let (window, count) = self.count(limit, token, now);
        self.windows.insert(token.to_owned(), (window, count + n));
    }

    /// Counts one request of `token` at `now`: `Ok(Some(budget))` when the answer carries
    /// the headers, `Err(429)` over the limit.
    pub(crate) fn admit(
        &mut self,
        limit: &TokenRateLimit,
        token: &str,
        now: u64,
    ) -> Result<Option<Budget>, Response> {
        let (window, count) = self.count(limit, token, now);
        self.windows.insert(token.to_owned(), (window, count + 1));
        let length = limit.window_secs.max(1);
        let budget = Budget {
            limit: limit.per_window,
            observed: count + 1,
            reset: (window + 1) * length,
        };
        if budget.observed > budget.limit {
            let retry_after = budget.reset.saturating_sub(now).max(1);
            return Err(too_many(
                Some(retry_after.to_string()),
                now,
                retry_after,
                budget.limit,
                budget.observed as usize,
            ));
        }
        Ok((limit.headers == RateLimitHeaders::Always).then_some(budget))
    }

    /// The token's window at `now` and what it counted so far.
    fn count(&self, limit: &TokenRateLimit, token: &str, now: u64) -> (u64, u32) {
        let window = now / limit.window_secs.max(1);
        match self.windows.get(token) {
            Some(&(w, count)) if w == window => (window, count),
            _ => (window, 0),
        }
    }
}
