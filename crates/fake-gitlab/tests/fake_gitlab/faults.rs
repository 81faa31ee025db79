//! Faults, the rate limiter, the timeline, the request log, and real-client interop.

use crate::common::*;
use fake_gitlab::*;
use serde_json::{Value, json};
use std::time::Duration;

fn demo() -> FakeGitlab {
    FakeGitlab::start(World::demo())
}

const W: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------ faults

#[test]
fn too_many_requests_with_and_without_retry_after() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::TooManyRequests {
        retry_after: Some("7".into()),
    }));
    fg.fault(Fault::new(FaultKind::TooManyRequests { retry_after: None }));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 429);
    assert_eq!(r.body, "Retry later");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("Retry-After"), Some("7"));
    assert_eq!(
        r.header("RateLimit-Name"),
        Some("throttle_authenticated_api")
    );
    assert_eq!(r.header("RateLimit-Remaining"), Some("0"));
    let reset: u64 = r.header("RateLimit-Reset").unwrap().parse().unwrap();
    assert!(reset > 1_700_000_000);
    assert_eq!(
        r.header("RateLimit-ResetTime"),
        Some(http_date(reset).as_str())
    );
    assert!(r.header("RateLimit-Limit").is_some());
    assert!(r.header("RateLimit-Observed").is_some());
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), None);
    assert!(r.header("RateLimit-Reset").is_some());
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
    let statuses: Vec<u16> = fg.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
}

#[test]
fn status_and_html_error_faults() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::Status {
        code: 500,
        body: r#"{"message":"500 Internal Server Error"}"#.into(),
        content_type: "application/json".into(),
    }));
    fg.fault(Fault::new(FaultKind::HtmlError(502)));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (500, json!({"message": "500 Internal Server Error"}))
    );
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 502);
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    assert!(r.body.contains("<title>502 Bad Gateway</title>"));
    assert!(r.body.contains("nginx"));
}

#[test]
fn reset_closes_without_answer_and_is_logged_as_0() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::Reset).on("GET", "status_checks"));
    let req = format!(
        "GET /api/v4{LIST} HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: {DEV_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    let out = raw(&fg, req.as_bytes()).expect_err("no response expected");
    assert!(out.is_empty());
    assert!(fg.wait_until(W, |_, log| log.len() == 1 && log[0].status == 0));
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
}

#[test]
fn reset_mid_body_sends_part_of_a_real_answer() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::ResetMidBody));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 200);
    assert!(r.truncated, "body should be cut: {:?}", r.body);
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    assert!(fg.wait_until(W, |_, log| log.len() == 1 && log[0].status == 0));
}

#[test]
fn delay_then_normal_answer() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::Delay(30)));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().unwrap().len(), 3);
}

#[test]
fn malformed_bodies() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::InvalidJson).times(2));
    fg.fault(Fault::new(FaultKind::WrongShape).times(2));
    fg.fault(Fault::new(FaultKind::Empty));
    for path in [LIST, "/projects/42/merge_requests/7"] {
        let r = get(&fg, path, DEV_TOKEN);
        assert_eq!(
            (r.status, r.header("Content-Type")),
            (200, Some("application/json"))
        );
        assert!(
            serde_json::from_str::<Value>(&r.body).is_err(),
            "{}",
            r.body
        );
    }
    assert_eq!(
        get(&fg, LIST, DEV_TOKEN).json(),
        json!({"unexpected": true})
    );
    assert_eq!(
        get(&fg, "/projects/42/merge_requests/7", DEV_TOKEN).json(),
        json!([])
    );
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.header("Content-Length"), Some("0"));
}

#[test]
fn redirect_fault() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::Redirect {
        code: 301,
        location: "http://elsewhere.invalid/api/v4/x".into(),
    }));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("Location"),
        Some("http://elsewhere.invalid/api/v4/x")
    );
}

#[test]
fn slow_drip_delivers_the_whole_body() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::SlowDrip { interval_ms: 0 }));
    let r = get(&fg, "/version", DEV_TOKEN);
    assert_eq!(r.status, 200);
    assert!(!r.truncated);
    assert_eq!(r.json()["version"], "17.5.0-ee");
}

#[test]
fn huge_body_is_a_valid_array() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::Huge { bytes: 200_000 }));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 200);
    assert!(
        r.body.len() >= 200_000 && r.body.len() < 201_000,
        "{}",
        r.body.len()
    );
    assert!(r.json().as_array().unwrap().len() > 1000);
}

#[test]
fn fault_matching_and_times() {
    let fg = demo();
    fg.fault(
        Fault::new(FaultKind::HtmlError(503))
            .on("POST", "status_check_responses")
            .times(2),
    );
    // not matching: GET
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
    assert_eq!(post_form(&fg, RESPONSES, DEV_TOKEN, "").status, 503);
    assert_eq!(post_form(&fg, RESPONSES, DEV_TOKEN, "").status, 503);
    assert_eq!(post_form(&fg, RESPONSES, DEV_TOKEN, "").status, 400);
    // the query is part of what path_contains sees
    fg.fault(Fault::new(FaultKind::HtmlError(504)).on("get", "page=2"));
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
    assert_eq!(get(&fg, &format!("{LIST}?page=2"), DEV_TOKEN).status, 504);
    fg.fault(Fault::new(FaultKind::HtmlError(500)));
    fg.clear_faults();
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
}

// ------------------------------------------------------------------ rate limiter

#[test]
fn rate_limiter_sliding_window() {
    let mut w = World::demo();
    w.rate_limit_per_minute = Some(3);
    let fg = FakeGitlab::start(w);
    for _ in 0..3 {
        assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
    }
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 429);
    assert_eq!(r.body, "Retry later");
    let secs: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs));
    assert_eq!(r.header("RateLimit-Limit"), Some("3"));
    assert_eq!(r.header("RateLimit-Observed"), Some("4"));
    // unauthenticated requests count too
    assert_eq!(call(&fg, "GET", "/version", &[], None).status, 429);
    assert_eq!(fg.requests().len(), 5);
    fg.world(|w| w.rate_limit_per_minute = None);
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
}

/// The answers of `f`'s requests to a fake whose tokens may make `limit` requests a
/// minute, all made within one window (the windows are aligned to the clock's minutes: a
/// run that crosses one is made again).
fn in_one_window(
    limit: u32,
    headers: RateLimitHeaders,
    f: impl Fn(&FakeGitlab) -> Vec<Resp>,
) -> Vec<Resp> {
    let minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 60
    };
    for _ in 0..3 {
        let mut w = World::demo();
        w.token_rate_limit = Some(TokenRateLimit {
            headers,
            ..TokenRateLimit::per_minute(limit)
        });
        let fg = FakeGitlab::start(w);
        let before = minute();
        let answers = f(&fg);
        if minute() == before {
            return answers;
        }
    }
    panic!("three runs crossed a minute boundary");
}

#[test]
fn token_rate_limit_with_headers_on_every_answer() {
    let answers = in_one_window(3, RateLimitHeaders::Always, |fg| {
        let mut answers: Vec<Resp> = (0..4).map(|_| get(fg, LIST, DEV_TOKEN)).collect();
        // Another token has its own budget; no token, no limit.
        answers.push(get(fg, LIST, MAINTAINER_TOKEN));
        answers.push(call(fg, "GET", "/version", &[], None));
        answers
    });
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 200, 401]);
    let remaining: Vec<Option<&str>> = answers[..4]
        .iter()
        .map(|r| r.header("RateLimit-Remaining"))
        .collect();
    assert_eq!(remaining, [Some("2"), Some("1"), Some("0"), Some("0")]);
    let reset: u64 = answers[0]
        .header("RateLimit-Reset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(reset % 60, 0, "windows end on a whole minute");
    assert_eq!(answers[0].header("RateLimit-Limit"), Some("3"));
    let retry: u64 = answers[3].header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(answers[3].header("RateLimit-Observed"), Some("4"));
    assert_eq!(answers[4].header("RateLimit-Remaining"), Some("2"));
}

#[test]
fn token_rate_limit_with_headers_on_429_only() {
    let answers = in_one_window(2, RateLimitHeaders::On429, |fg| {
        (0..3).map(|_| get(fg, LIST, DEV_TOKEN)).collect()
    });
    assert_eq!(answers[0].header("RateLimit-Remaining"), None);
    assert_eq!(answers[1].header("RateLimit-Limit"), None);
    assert_eq!(answers[2].status, 429);
    assert_eq!(answers[2].header("RateLimit-Remaining"), Some("0"));
    assert!(answers[2].header("Retry-After").is_some());
}

// ------------------------------------------------------------------ timeline

#[test]
fn after_polls_fires_before_answering_that_poll() {
    let fg = demo();
    fg.on(Event {
        trigger: Trigger::AfterPolls {
            project_id: 42,
            iid: 7,
            polls: 3,
        },
        action: Action::SetStatus {
            project_id: 42,
            iid: 7,
            check: "security-scan".into(),
            status: "passed".into(),
        },
    });
    let status = || get(&fg, LIST, DEV_TOKEN).json()[0]["status"].clone();
    assert_eq!(status(), "pending");
    // page 2 and other MRs do not count
    get(&fg, &format!("{LIST}?page=2"), DEV_TOKEN);
    assert_eq!(status(), "pending");
    assert_eq!(status(), "passed");
}

#[test]
fn after_polls_counts_path_encoded_ids_and_other_actions() {
    let fg = demo();
    fg.on(Event {
        trigger: Trigger::AfterPolls {
            project_id: 42,
            iid: 7,
            polls: 1,
        },
        action: Action::PushHead {
            project_id: 42,
            iid: 7,
            sha: SHA_B.into(),
        },
    });
    fg.on(Event {
        trigger: Trigger::AfterPolls {
            project_id: 42,
            iid: 7,
            polls: 2,
        },
        action: Action::SetMrState {
            project_id: 42,
            iid: 7,
            state: "merged".into(),
        },
    });
    fg.on(Event {
        trigger: Trigger::AfterPolls {
            project_id: 42,
            iid: 7,
            polls: 2,
        },
        action: Action::AddCheck {
            project_id: 42,
            name: "late".into(),
            external_url: "https://late".into(),
        },
    });
    get(
        &fg,
        "/projects/acme%2Fapp/merge_requests/7/status_checks",
        DEV_TOKEN,
    );
    assert_eq!(fg.world(|w| w.mr_mut(42, 7).sha.clone()), SHA_B);
    let v = get(&fg, LIST, DEV_TOKEN).json();
    assert_eq!(v.as_array().unwrap().len(), 4);
    assert_eq!(fg.world(|w| w.mr_mut(42, 7).state.clone()), "merged");
}

#[test]
fn after_ms_fires_on_request_and_in_wait_until() {
    let fg = demo();
    fg.on(Event {
        trigger: Trigger::AfterMs(0),
        action: Action::SetStatus {
            project_id: 42,
            iid: 7,
            check: "license-check".into(),
            status: "failed".into(),
        },
    });
    assert_eq!(get(&fg, LIST, DEV_TOKEN).json()[1]["status"], "failed");
    fg.on(Event {
        trigger: Trigger::AfterMs(20),
        action: Action::SetStatus {
            project_id: 42,
            iid: 7,
            check: "license-check".into(),
            status: "passed".into(),
        },
    });
    assert!(fg.wait_until(W, |w, _| w.status_of(42, 7, "license-check") == "passed"));
    // an event naming a missing check is ignored, not a panic
    fg.on(Event {
        trigger: Trigger::AfterMs(0),
        action: Action::SetStatus {
            project_id: 42,
            iid: 7,
            check: "nope".into(),
            status: "passed".into(),
        },
    });
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
}

#[test]
fn wait_until_times_out_false() {
    let fg = demo();
    assert!(!fg.wait_until(Duration::from_millis(30), |_, log| !log.is_empty()));
}

// ------------------------------------------------------------------ added latency

#[test]
fn latency_ms_delays_every_answer_and_is_off_by_default() {
    assert_eq!(World::demo().latency_ms, 0);
    let fg = demo();
    fg.world(|w| w.latency_ms = 80);
    for _ in 0..2 {
        let started = std::time::Instant::now();
        assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "answered after {:?}",
            started.elapsed()
        );
    }
    // Refused requests wait too: the latency is the network's, not the endpoint's.
    let started = std::time::Instant::now();
    assert_eq!(get(&fg, LIST, "glpat-WRONG").status, 401);
    assert!(started.elapsed() >= Duration::from_millis(80));
    // A world loaded from JSON without the field has none.
    let w: World = serde_json::from_str(r#"{"version":"17.5.0-ee"}"#).unwrap();
    assert_eq!(w.latency_ms, 0);
    let w: World = serde_json::from_str(r#"{"latency_ms":50}"#).unwrap();
    assert_eq!(w.latency_ms, 50);
}

// ------------------------------------------------------------------ log

#[test]
fn request_log_records_everything() {
    let fg = demo();
    call(
        &fg,
        "POST",
        &format!("{RESPONSES}?x=1&y=a%20b"),
        &[("PRIVATE-TOKEN", DEV_TOKEN), ("X-Custom", "Yes")],
        Some("sha=abc"),
    );
    call(&fg, "GET", LIST, &[("Authorization", "Bearer tok")], None);
    call(&fg, "GET", LIST, &[("JOB-TOKEN", JOB_TOKEN)], None);
    call(&fg, "GET", LIST, &[], None);
    let log = fg.requests();
    assert_eq!(log.len(), 4);
    let first = &log[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, format!("/api/v4{RESPONSES}"));
    assert_eq!(first.query, "x=1&y=a%20b");
    assert_eq!(first.query_param("y").as_deref(), Some("a b"));
    assert_eq!(first.query_param("z"), None);
    assert_eq!(first.header("x-custom"), Some("Yes"));
    assert!(first.headers.iter().any(|(k, _)| k == "private-token"));
    assert_eq!(first.body, "sha=abc");
    assert_eq!(first.status, 400);
    assert_eq!(first.auth(), Auth::PrivateToken(DEV_TOKEN.into()));
    assert_eq!(log[1].auth(), Auth::Bearer("tok".into()));
    assert_eq!(log[2].auth(), Auth::JobToken(JOB_TOKEN.into()));
    assert_eq!(log[3].auth(), Auth::None);
    assert!(log.windows(2).all(|p| p[0].at_ms <= p[1].at_ms));
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [400, 401, 401, 401]
    );
}

// ------------------------------------------------------------------ interop and lifecycle

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

#[test]
fn ureq_keep_alive_and_post() {
    let fg = demo();
    let a = agent();
    for _ in 0..3 {
        let mut r = a
            .get(format!("{}{LIST}", fg.api_url()))
            .header("PRIVATE-TOKEN", DEV_TOKEN)
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3);
    }
    let id = fg.world(|w| w.project_mut(42).checks[0].id);
    let mut r = a
        .post(format!("{}{RESPONSES}", fg.api_url()))
        .header("PRIVATE-TOKEN", DEV_TOKEN)
        .send_form([
            ("sha", SHA_A),
            ("external_status_check_id", &id.to_string()),
            ("status", "passed"),
        ])
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let _ = r.body_mut().read_to_string();
    let r = a.get(format!("{}/version", fg.api_url())).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(fg.requests().len(), 5);
}

#[test]
fn ureq_sees_reset_as_error_and_recovers() {
    let fg = demo();
    fg.fault(Fault::new(FaultKind::Reset));
    let a = agent();
    let url = format!("{}/version", fg.api_url());
    assert!(
        a.get(&url)
            .header("PRIVATE-TOKEN", DEV_TOKEN)
            .call()
            .is_err()
    );
    let r = a
        .get(&url)
        .header("PRIVATE-TOKEN", DEV_TOKEN)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn urls_and_drop_stops_the_server() {
    let fg = demo();
    let port = fg.port();
    assert_eq!(fg.base_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(fg.api_url(), format!("http://127.0.0.1:{port}/api/v4"));
    // an idle keep-alive connection does not keep the server alive
    let idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    drop(fg);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    drop(idle);
}

#[test]
fn start_on_reports_bind_errors() {
    let fg = demo();
    let taken = format!("127.0.0.1:{}", fg.port());
    assert!(FakeGitlab::start_on(World::demo(), &taken).is_err());
}

#[test]
fn concurrent_clients() {
    let fg = std::sync::Arc::new(demo());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let fg = fg.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(fg.requests().len(), 80);
}

// ------------------------------------------------------------------ after acting

fn responses_stored(fg: &FakeGitlab) -> usize {
    fg.world(|w| w.mr(42, 7).unwrap().responses.len())
}

fn post_passed(fg: &FakeGitlab) -> Result<Resp, Vec<u8>> {
    let id = fg.world(|w| w.project_mut(42).checks[0].id);
    let body = json!({ "sha": SHA_A, "external_status_check_id": id, "status": "passed" });
    let body = body.to_string();
    let req = format!(
        "POST /api/v4{RESPONSES} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nPRIVATE-TOKEN: {DEV_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    raw(fg, req.as_bytes())
}

#[test]
fn after_acting_stores_the_response_then_fails_on_the_wire() {
    for (inner, expect_status) in [
        (FaultKind::Reset, None),
        (FaultKind::HtmlError(502), Some(502)),
        (FaultKind::InvalidJson, Some(200)),
        (FaultKind::Empty, Some(200)),
        (FaultKind::ResetMidBody, Some(201)),
    ] {
        let fg = demo();
        fg.fault(
            Fault::new(FaultKind::AfterActing(Box::new(inner.clone())))
                .on("POST", "status_check_responses"),
        );
        let answer = post_passed(&fg);
        match expect_status {
            None => assert!(answer.is_err(), "{inner:?}: no answer"),
            Some(code) => assert_eq!(answer.unwrap().status, code, "{inner:?}"),
        }
        assert_eq!(responses_stored(&fg), 1, "{inner:?}: the endpoint ran once");
        // The fault is used up: the next POST is answered normally.
        assert_eq!(post_passed(&fg).unwrap().status, 201);
        assert_eq!(responses_stored(&fg), 2);
    }
}

#[test]
fn after_acting_with_a_delay_acts_at_once_and_answers_late() {
    let fg = demo();
    fg.fault(
        Fault::new(FaultKind::AfterActing(Box::new(FaultKind::Delay(400))))
            .on("POST", "status_check_responses"),
    );
    let started = std::time::Instant::now();
    // Stored before the answer comes.
    let fg = std::sync::Arc::new(fg);
    let poster = {
        let fg = fg.clone();
        std::thread::spawn(move || post_passed(&fg).map(|r| r.status))
    };
    assert!(fg.wait_until(W, |w, _| w.mr(42, 7).unwrap().responses.len() == 1));
    assert_eq!(poster.join().unwrap(), Ok(201));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(fg.requests()[0].status, 201);
}

#[test]
fn plain_faults_do_not_act() {
    for kind in [
        FaultKind::Reset,
        FaultKind::HtmlError(502),
        FaultKind::InvalidJson,
    ] {
        let fg = demo();
        fg.fault(Fault::new(kind.clone()).on("POST", "status_check_responses"));
        let _ = post_passed(&fg);
        assert_eq!(responses_stored(&fg), 0, "{kind:?}");
    }
}

#[test]
fn after_acting_round_trips_through_json() {
    let fault = Fault::new(FaultKind::AfterActing(Box::new(FaultKind::Delay(5))));
    let text = serde_json::to_string(&fault).unwrap();
    assert_eq!(serde_json::from_str::<Fault>(&text).unwrap(), fault);
}
