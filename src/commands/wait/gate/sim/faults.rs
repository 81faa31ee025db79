//! What the network does to one request: answer before GitLab (a throttle, a proxy's
//! error page, a refused connection, a timeout), replace or lose GitLab's answer after it
//! acted, or hand on a body made odd.

use std::time::Duration;

use fake_gitlab::http_date;
use serde_json::Value;

use super::network::{Endpoint, Network, Wire};
use super::scenario::{After, Fault};
use super::world::EPOCH;
use crate::gitlab::error::Transport;

/// The nginx page a proxy answers an error with.
fn html(status: u16) -> String {
    format!(
        "<html><head><title>{status} Error</title></head><body><center>nginx</center></body></html>"
    )
}

/// What a fault does before GitLab: answer in its place, leave no answer, or nothing.
pub(super) enum Before {
    /// The network's answer, and the wait it asks for.
    Answer(Wire, Option<Duration>),
    Lost(Transport),
    Pass,
}

impl Network {
    /// A fault before GitLab: its answer, the one it leaves out, or nothing.
    pub(super) fn before(&self, fault: Fault, at: Duration) -> Before {
        let server = EPOCH + at.as_secs();
        let after = |a: After| match a {
            After::Secs(s) => (s.to_string(), Duration::from_secs(s)),
            After::Date(s) => (http_date(server + s), Duration::from_secs(s)),
        };
        // A proxy's answer carries its own Date, on the server's clock.
        let typed = |ct: &str| {
            vec![
                ("Content-Type".to_owned(), ct.to_owned()),
                ("Date".to_owned(), http_date(server)),
            ]
        };
        let (wire, asked) = match fault {
            Fault::Bare429 => ((429, typed("text/plain"), "Too Many Requests".into()), None),
            Fault::Throttled(retry_after, reset) => {
                let mut headers = typed("text/plain");
                let asked = retry_after.map(after);
                if let Some((value, _)) = &asked {
                    headers.push(("Retry-After".into(), value.clone()));
                }
                if let Some(reset) = reset {
                    let reset = server.saturating_add_signed(reset);
                    headers.push(("RateLimit-Limit".into(), "600".into()));
                    headers.push(("RateLimit-Remaining".into(), "0".into()));
                    headers.push(("RateLimit-Reset".into(), reset.to_string()));
                }
                ((429, headers, "Retry later".into()), asked.map(|a| a.1))
            }
            Fault::Unavailable503(retry_after) => {
                let mut headers = typed("text/html");
                let asked = retry_after.map(after);
                if let Some((value, _)) = &asked {
                    headers.push(("Retry-After".into(), value.clone()));
                }
                ((503, headers, html(503)), asked.map(|a| a.1))
            }
            Fault::Html502 => ((502, typed("text/html"), html(502)), None),
            Fault::Revoked => {
                let body = r#"{"message":"401 Unauthorized"}"#.to_owned();
                ((401, typed("application/json"), body), None)
            }
            Fault::Refused => return Before::Lost(Transport::Connect),
            Fault::Timeout => return Before::Lost(Transport::Timeout),
            _ => return Before::Pass,
        };
        Before::Answer(wire, asked)
    }

    /// A fault after GitLab acted: its answer replaced, lost, or made odd.
    pub(super) fn after(
        &self,
        fault: Fault,
        endpoint: Endpoint,
        wire: Wire,
    ) -> Result<Wire, Transport> {
        let (status, headers, body) = wire;
        let html_of = |code| {
            (
                code,
                vec![("Content-Type".into(), "text/html".into())],
                html(code),
            )
        };
        Ok(match fault {
            Fault::Html502After => html_of(502),
            Fault::Gateway504After => html_of(504),
            Fault::Json500After => (
                500,
                vec![("Content-Type".into(), "application/json".into())],
                r#"{"message":"500 Internal Server Error"}"#.into(),
            ),
            Fault::ResetAfter => return Err(Transport::Reset),
            Fault::TimeoutAfter => return Err(Transport::Timeout),
            Fault::GarbageAfter => {
                // A proxy's page, or GitLab's answer cut short: no header of GitLab's.
                let (ct, garbage) = match self.requests % 2 {
                    0 => (
                        "text/html",
                        "<html><head><title>Sign in</title></head></html>".to_owned(),
                    ),
                    _ => (
                        "application/json",
                        body.chars().take(body.len() / 2).collect::<String>() + "\u{1}",
                    ),
                };
                let date = headers.into_iter().filter(|(k, _)| k == "Date");
                let headers = date
                    .chain([("Content-Type".to_owned(), ct.to_owned())])
                    .collect();
                (200, headers, garbage)
            }
            // A stale answer of an empty list, consistent with itself.
            Fault::EmptyList if (200..300).contains(&status) => {
                let mut headers: Vec<(String, String)> = headers
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("X-") && k != "Link")
                    .collect();
                headers.push(("X-Total".into(), "0".into()));
                headers.push(("X-Next-Page".into(), String::new()));
                (status, headers, "[]".into())
            }
            // A body changed on the way: the headers still say what GitLab listed.
            lie if is_lie(lie) && (200..300).contains(&status) => {
                (status, headers, self.odd(lie, endpoint, &body))
            }
            _ => (status, headers, body),
        })
    }

    /// `body` made odd by `lie`, as valid JSON.
    fn odd(&self, lie: Fault, endpoint: Endpoint, body: &str) -> String {
        let Ok(mut json) = serde_json::from_str::<Value>(body) else {
            return body.to_owned();
        };
        let pick = self.requests;
        let list = matches!(endpoint, Endpoint::List { .. });
        match (&mut json, lie) {
            (Value::Array(items), Fault::DropOne) if list && !items.is_empty() => {
                items.remove(pick % items.len());
            }
            (Value::Array(items), Fault::Duplicate) if list && !items.is_empty() => {
                let twice = items[pick % items.len()].clone();
                items.push(twice);
            }
            (Value::Array(items), Fault::OddWord) if list && !items.is_empty() => {
                let n = items.len();
                items[pick % n]["status"] =
                    Value::from(["running", "Passed", "success", ""][pick % 4]);
            }
            (Value::Array(items), Fault::NullSha) if !list => {
                items.iter_mut().for_each(|i| i["sha"] = Value::Null);
            }
            (Value::Object(mr), Fault::NullSha) => _ = mr.insert("sha".into(), Value::Null),
            (Value::Object(mr), Fault::MissingSha) => _ = mr.remove("sha"),
            (Value::Object(mr), Fault::OddState) => {
                mr.insert("state".into(), Value::from("reopened"));
            }
            _ => {}
        }
        json.to_string()
    }
}

/// Is this fault an odd body (valid JSON that is not what GitLab said)?
pub(super) fn is_lie(fault: Fault) -> bool {
    matches!(
        fault,
        Fault::EmptyList
            | Fault::DropOne
            | Fault::Duplicate
            | Fault::OddWord
            | Fault::NullSha
            | Fault::MissingSha
            | Fault::OddState
    )
}
