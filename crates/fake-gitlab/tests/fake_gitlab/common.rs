//! A raw HTTP/1.1 client over TcpStream: one request per connection, so tests see exactly
//! what the fake wrote (including resets and truncated bodies).

#![allow(dead_code)]

use fake_gitlab::FakeGitlab;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Body shorter than Content-Length.
    pub truncated: bool,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Sends raw bytes, reads until the server closes. Err(bytes) when no status line came.
pub fn raw(fg: &FakeGitlab, request: &[u8]) -> Result<Resp, Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", fg.port())).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse(&out).ok_or(out)
}

fn parse(out: &[u8]) -> Option<Resp> {
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body_bytes = &out[end + 4..];
    let declared = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    Some(Resp {
        status,
        truncated: declared.is_some_and(|n| body_bytes.len() < n),
        body: String::from_utf8_lossy(body_bytes).into_owned(),
        headers,
    })
}

/// One request under /api/v4 with optional extra headers and body; Connection: close.
pub fn call(
    fg: &FakeGitlab,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut req = format!(
        "{method} /api/v4{path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        fg.port()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    raw(fg, req.as_bytes()).unwrap_or_else(|b| {
        panic!(
            "no HTTP response to {method} {path}: {:?}",
            String::from_utf8_lossy(&b)
        )
    })
}

pub fn get(fg: &FakeGitlab, path: &str, token: &str) -> Resp {
    call(fg, "GET", path, &[("PRIVATE-TOKEN", token)], None)
}

pub fn post_form(fg: &FakeGitlab, path: &str, token: &str, form: &str) -> Resp {
    call(
        fg,
        "POST",
        path,
        &[
            ("PRIVATE-TOKEN", token),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(form),
    )
}

pub fn post_json(fg: &FakeGitlab, path: &str, token: &str, json: &Value) -> Resp {
    call(
        fg,
        "POST",
        path,
        &[
            ("PRIVATE-TOKEN", token),
            ("Content-Type", "application/json"),
        ],
        Some(&json.to_string()),
    )
}

pub const LIST: &str = "/projects/42/merge_requests/7/status_checks";
pub const RESPONSES: &str = "/projects/42/merge_requests/7/status_check_responses";
