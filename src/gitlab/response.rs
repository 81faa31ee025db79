//! What GitLab's answers say besides their JSON: the one-line message of an error
//! body, why a 2xx body is not the JSON expected, and the headers status-check reads
//! (`Retry-After`, `X-Next-Page`/`Link`, `Poll-Interval`). Pure functions of text, so
//! the property tests reach them without the transport.

use std::time::{Duration, SystemTime};

/// The headers status-check reads from an answer, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Headers {
    pub(crate) content_type: String,
    pub(crate) location: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) next_page: Option<u32>,
    /// `X-Total`: how many items the whole list has (absent above 10,000).
    pub(crate) total: Option<u64>,
    pub(crate) poll_interval_ms: Option<i64>,
    /// `Content-Length`, when it is a number.
    pub(crate) content_length: Option<u64>,
    /// What the rate limiter says is left, when it says it.
    pub(crate) budget: Option<Budget>,
    /// `Date`: the server's clock when it answered (to the second).
    pub(crate) date: Option<SystemTime>,
}

impl Headers {
    /// Reads them through `get` (a header's value by lower-case name). A time the server
    /// names (a `Retry-After` date, `RateLimit-Reset`) is taken on the server's clock, the
    /// answer's `Date`, and on `now` without one: a runner's clock may be minutes off.
    pub(crate) fn read(get: impl Fn(&str) -> Option<String>, now: SystemTime) -> Headers {
        let date = get("date").and_then(|d| super::httpdate::parse(&d));
        let server_now = date.unwrap_or(now);
        Headers {
            content_type: get("content-type").unwrap_or_default(),
            location: get("location"),
            retry_after: get("retry-after").and_then(|v| parse_retry_after(&v, server_now)),
            next_page: parse_next_page(get("x-next-page").as_deref(), get("link").as_deref()),
            total: get("x-total").and_then(|v| v.trim().parse().ok()),
            poll_interval_ms: get("poll-interval").and_then(|v| parse_poll_interval(&v)),
            content_length: get("content-length").and_then(|v| v.trim().parse::<u64>().ok()),
            budget: parse_budget(
                get("ratelimit-limit").as_deref(),
                get("ratelimit-remaining").as_deref(),
                get("ratelimit-reset").as_deref(),
                server_now,
            ),
            date,
        }
    }
}

/// What GitLab's rate limiter says is left of the token's budget (docs/gitlab-api.md,
/// "Rate limit headers"): `limit` requests per window, `remaining` of them until the
/// window ends in `reset_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub remaining: u32,
    pub reset_in: Duration,
}

/// No throttle of GitLab's allows more; a bigger number is not a budget.
const MAX_BUDGET_LIMIT: u32 = 10_000_000;
/// GitLab's windows are a minute (a throttle's period may be set longer, not this long).
const MAX_BUDGET_RESET: Duration = Duration::from_secs(3600);

/// `RateLimit-Limit`, `-Remaining` and `-Reset` (Unix time) as a [`Budget`]; `None`
/// unless all three are there and make sense: whole numbers, at most `limit` remaining,
/// a reset within the hour ahead of `server_now` (the answer's `Date`, the clock `Reset`
/// is on; the runner's own without one).
pub fn parse_budget(
    limit: Option<&str>,
    remaining: Option<&str>,
    reset: Option<&str>,
    server_now: SystemTime,
) -> Option<Budget> {
    let limit: u32 = limit?.trim().parse().ok()?;
    let remaining: u32 = remaining?.trim().parse().ok()?;
    let reset: u64 = reset?.trim().parse().ok()?;
    if limit == 0 || limit > MAX_BUDGET_LIMIT || remaining > limit {
        return None;
    }
    let reset_at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
    let reset_in = reset_at.duration_since(server_now).ok()?;
    (reset_in <= MAX_BUDGET_RESET).then_some(Budget {
        limit,
        remaining,
        reset_in,
    })
}

/// Why a 2xx body is not what we expected, in one short line.
pub fn decode_detail(body: &str, error: &serde_json::Error) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "an empty body".to_owned();
    }
    if trimmed.starts_with('<') {
        return match html_title(trimmed) {
            Some(title) => format!("an HTML page ({title}) instead of JSON"),
            None => "an HTML page instead of JSON".to_owned(),
        };
    }
    one_line(
        &format!("not the expected JSON ({error})"),
        MAX_MESSAGE_CHARS,
    )
}

/// The longest message taken from a server's body: error lines stay one line.
const MAX_MESSAGE_CHARS: usize = 200;

/// GitLab's message from an error body: `message` (a string, a list, or an
/// object of field errors), else `error` and `error_description`; a proxy's
/// HTML page is summarised by its title. Always one line of at most 200
/// characters without control characters: the body is the server's, and the
/// message ends up in a job log.
pub fn error_message(status: u16, content_type: &str, body: &str) -> String {
    let message = one_line(
        &raw_error_message(status, content_type, body),
        MAX_MESSAGE_CHARS,
    );
    if message.is_empty() {
        reason_phrase(status).to_owned()
    } else {
        message
    }
}

fn raw_error_message(status: u16, content_type: &str, body: &str) -> String {
    let trimmed = body.trim();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(trimmed) {
        if let Some(message) = json.get("message") {
            return match message {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("; "),
                // `{"message":null}` (a service's error without a message): say the status.
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
        }
        if let Some(error) = json.get("error").and_then(|v| v.as_str()) {
            return match json.get("error_description").and_then(|v| v.as_str()) {
                Some(description) => format!("{error}: {description}"),
                None => error.to_owned(),
            };
        }
    }
    if content_type.contains("html") || trimmed.starts_with('<') {
        return match html_title(trimmed) {
            Some(title) => format!("an HTML error page ({title}), likely from a proxy"),
            None => "an HTML error page, likely from a proxy".to_owned(),
        };
    }
    let first_line = trimmed.lines().next().unwrap_or("").trim();
    if first_line.is_empty() {
        return reason_phrase(status).to_owned();
    }
    first_line.chars().take(200).collect()
}

/// The `<title>` of an HTML page, on one line, when it has a non-empty one.
fn html_title(html: &str) -> Option<String> {
    let start = html.find("<title>")?;
    let rest = &html[start + "<title>".len()..];
    let end = rest.find("</title>")?;
    Some(one_line(&rest[..end], 80)).filter(|t| !t.is_empty())
}

/// `text` as one line: control characters and runs of whitespace become one
/// space, and it is cut at `max` characters (with `…`).
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let words = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty());
    for word in words {
        let space = (!out.is_empty()).then_some(' ');
        for c in space.into_iter().chain(word.chars()) {
            if count == max {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "an empty error body",
    }
}

/// `Retry-After` as seconds or as an HTTP date (relative to `now`, the server's clock).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = super::httpdate::parse(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The next page from `X-Next-Page` (empty on the last page), else from the
/// `Link` header.
pub fn parse_next_page(x_next_page: Option<&str>, link: Option<&str>) -> Option<u32> {
    x_next_page
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| link.and_then(next_page_from_link))
}

/// `Poll-Interval` in milliseconds (`-1`: polling turned off).
pub fn parse_poll_interval(value: &str) -> Option<i64> {
    value.trim().parse().ok()
}

/// The `page` of the `rel="next"` entry of a `Link` header.
pub fn next_page_from_link(link: &str) -> Option<u32> {
    link.split(',')
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| {
            let url = part.split(['<', '>']).nth(1)?;
            let query = url.split_once('?')?.1;
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("page="))
                .and_then(|n| n.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_gitlab_bodies() {
        assert_eq!(
            error_message(401, "application/json", r#"{"message":"401 Unauthorized"}"#),
            "401 Unauthorized"
        );
        assert_eq!(
            error_message(
                422,
                "application/json",
                r#"{"message":["Name has already been taken"]}"#
            ),
            "Name has already been taken"
        );
        assert_eq!(
            error_message(400, "application/json", r#"{"error":"sha is missing"}"#),
            "sha is missing"
        );
        assert_eq!(
            error_message(
                401,
                "application/json",
                r#"{"error":"invalid_token","error_description":"Token is expired."}"#
            ),
            "invalid_token: Token is expired."
        );
        assert_eq!(
            error_message(429, "text/plain", "Retry later\n"),
            "Retry later"
        );
        assert_eq!(
            error_message(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head></html>"
            ),
            "an HTML error page (502 Bad Gateway), likely from a proxy"
        );
        assert_eq!(error_message(503, "", ""), "Service Unavailable");
        assert_eq!(
            error_message(404, "application/json", r#"{"message":null}"#),
            "Not Found"
        );
    }

    #[test]
    fn messages_from_a_server_are_one_short_line() {
        let body = r#"{"message":"line one\nline two\u001b[31m red\ttab"}"#;
        assert_eq!(
            error_message(500, "application/json", body),
            "line one line two [31m red tab"
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(5000));
        let message = error_message(500, "application/json", &long);
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
        assert_eq!(
            error_message(502, "text/html", "<title>\n 502\r\nBad\n</title>"),
            "an HTML error page (502 Bad), likely from a proxy"
        );
        assert_eq!(
            error_message(500, "", "\u{1b}\u{7}\n"),
            "Internal Server Error"
        );
        assert_eq!(one_line("  a \n\n b  ", 10), "a b");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[test]
    fn decode_details_say_what_came_instead() {
        let err = serde_json::from_str::<Vec<u8>>("x").unwrap_err();
        assert_eq!(decode_detail("  ", &err), "an empty body");
        assert_eq!(
            decode_detail("<html><title>Sign in · GitLab</title>", &err),
            "an HTML page (Sign in · GitLab) instead of JSON"
        );
        assert!(decode_detail("x", &err).starts_with("not the expected JSON"));
    }

    #[test]
    fn next_page_and_poll_interval_headers() {
        assert_eq!(parse_next_page(Some("3"), None), Some(3));
        assert_eq!(parse_next_page(Some(""), None), None);
        assert_eq!(
            parse_next_page(Some(""), Some(r#"<https://gl/x?page=4>; rel="next""#)),
            Some(4)
        );
        assert_eq!(parse_poll_interval(" 10000 "), Some(10_000));
        assert_eq!(parse_poll_interval("-1"), Some(-1));
        assert_eq!(parse_poll_interval("soon"), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn headers_are_read_by_name() {
        let now = SystemTime::UNIX_EPOCH;
        let headers = Headers::read(
            |name| match name {
                "content-type" => Some("text/html".into()),
                "retry-after" => Some("3".into()),
                "x-next-page" => Some("2".into()),
                "x-total" => Some(" 7".into()),
                "poll-interval" => Some("-1".into()),
                "content-length" => Some(" 12 ".into()),
                _ => None,
            },
            now,
        );
        assert_eq!(headers.content_type, "text/html");
        assert_eq!(headers.location, None);
        assert_eq!(headers.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(headers.next_page, Some(2));
        assert_eq!(headers.total, Some(7));
        assert_eq!(headers.poll_interval_ms, Some(-1));
        assert_eq!(headers.content_length, Some(12));
    }

    #[test]
    fn a_time_the_server_names_is_on_the_server_s_clock() {
        // The runner's clock is 10 minutes behind the server's `Date`.
        let server = 784_111_770;
        let runner = SystemTime::UNIX_EPOCH + Duration::from_secs(server - 600);
        let headers = Headers::read(
            |name| match name {
                "date" => Some("Sun, 06 Nov 1994 08:49:30 GMT".into()),
                "retry-after" => Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
                "ratelimit-limit" => Some("600".into()),
                "ratelimit-remaining" => Some("0".into()),
                "ratelimit-reset" => Some((server + 20).to_string()),
                _ => None,
            },
            runner,
        );
        assert_eq!(headers.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(
            headers.budget.map(|b| b.reset_in),
            Some(Duration::from_secs(20))
        );
    }

    #[test]
    fn next_page_from_a_link_header() {
        let link = r#"<https://gl/api/v4/x?id=1&page=1&per_page=3>; rel="prev", <https://gl/api/v4/x?id=1&page=3&per_page=3>; rel="next", <https://gl/api/v4/x?id=1&page=1&per_page=3>; rel="first""#;
        assert_eq!(next_page_from_link(link), Some(3));
        assert_eq!(
            next_page_from_link(r#"<https://gl/x?page=1>; rel="first""#),
            None
        );
        assert_eq!(next_page_from_link(""), None);
    }
}
