//! Property tests ("fuzz targets") of everything status-check parses from
//! GitLab or from the user: response bodies (models), error bodies, the
//! pagination, `Retry-After` and `Poll-Interval` headers, the 409 message,
//! durations, and what it writes from GitLab's data (JUnit, dotenv). They reach
//! the parsers through `status_check::parse`, never through the transport.
//!
//! Each `fuzz_*` test runs `PROPTEST_CASES` cases (2,000 when unset, so
//! `cargo test` stays fast); `scripts/fuzz` runs them with many more. Every
//! target checks "no panic" on arbitrary input plus a property of the result.
//! A failing case is kept in `proptest-regressions/fuzz.txt` and replayed first.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

use status_check::parse::gate::{self, CheckResult, GateReport, MAX_SERVER_FLOOR, Pacer, Setback};
use status_check::parse::{
    Budget, CheckStatus, MergeRequest, MrCheck, PostedResponse, Project, ProjectCheck,
    ProtectedBranch, ServerVersion, Token, TokenInfo, User, VersionInfo, decode_detail, duration,
    error_message, head_from_409, http_date, human_duration, name_list, next_page_from_link,
    one_line, parse_budget, parse_next_page, parse_poll_interval, parse_project, parse_retry_after,
    role_name, short_sha,
};

/// Cases per target: `PROPTEST_CASES`, else 2,000. Failing cases are kept where
/// they were when these tests lived in `src/fuzz.rs` (the test runs in the
/// package's directory).
fn config() -> Config {
    let mut config = Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fuzz.txt",
        ))),
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 2_000;
    }
    config
}

/// Any JSON value, a few levels deep, with the keys GitLab uses mixed in.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_owned()),
        Just("iid".to_owned()),
        Just("name".to_owned()),
        Just("status".to_owned()),
        Just("external_url".to_owned()),
        Just("sha".to_owned()),
        Just("state".to_owned()),
        Just("message".to_owned()),
        Just("error".to_owned()),
        Just("version".to_owned()),
        Just("permissions".to_owned()),
        Just("protected_branches".to_owned()),
        Just("scopes".to_owned()),
        "(?s).{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "(?s).{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Decodes `text` as every model; none may panic.
fn decode_all(text: &str) {
    let _ = serde_json::from_str::<Vec<MrCheck>>(text);
    let _ = serde_json::from_str::<MrCheck>(text);
    let _ = serde_json::from_str::<Vec<MergeRequest>>(text);
    let _ = serde_json::from_str::<MergeRequest>(text);
    let _ = serde_json::from_str::<VersionInfo>(text);
    let _ = serde_json::from_str::<PostedResponse>(text);
    let _ = serde_json::from_str::<Vec<ProjectCheck>>(text);
    let _ = serde_json::from_str::<User>(text);
    let _ = serde_json::from_str::<TokenInfo>(text);
    let _ = serde_json::from_str::<Vec<ProtectedBranch>>(text);
    if let Ok(project) = serde_json::from_str::<Project>(text) {
        let _ = project.access_level().map(role_name);
    }
    let _ = serde_json::from_str::<Value>(text);
}

fn status_word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("passed".to_owned()),
        Just("failed".to_owned()),
        Just("pending".to_owned()),
        Just("approved".to_owned()),
        Just("pass".to_owned()),
        "(?s).{0,12}",
    ]
}

fn expected_status(word: &str) -> CheckStatus {
    match word {
        "passed" | "approved" | "pass" => CheckStatus::Passed,
        "failed" => CheckStatus::Failed,
        "pending" => CheckStatus::Pending,
        other => CheckStatus::Other(other.to_owned()),
    }
}

/// A message as error_message must render it: one line, no control
/// characters, at most 200 characters and an ellipsis.
fn is_one_short_line(text: &str) -> bool {
    !text.is_empty()
        && text.chars().count() <= 201
        && !text.chars().any(|c| c.is_control())
        && text.trim() == text
}

proptest! {
    #![proptest_config(config())]

    /// Every model, from any text and from any JSON value.
    #[test]
    fn fuzz_models_from_any_body(text in "(?s).{0,300}", value in any_json()) {
        decode_all(&text);
        decode_all(&value.to_string());
        // A list wrapped around the value, as every list endpoint answers.
        decode_all(&Value::Array(vec![value.clone(), value]).to_string());
    }

    /// The MR's status-check list as GitLab sends it (any era's words,
    /// nulls, extra fields) reads back exactly.
    #[test]
    fn fuzz_mr_check_list(
        checks in prop::collection::vec(
            (any::<u64>(), "(?s).{0,30}", proptest::option::of("(?s).{0,40}"), status_word(), any::<bool>()),
            0..20,
        )
    ) {
        let body: Vec<Value> = checks
            .iter()
            .map(|(id, name, url, status, extra)| {
                let mut v = json!({ "id": id, "name": name, "external_url": url, "status": status });
                if *extra {
                    v["hmac"] = json!(true);
                    v["merge_request"] = json!({ "iid": 7 });
                }
                v
            })
            .collect();
        let parsed: Vec<MrCheck> = serde_json::from_str(&Value::Array(body).to_string()).unwrap();
        prop_assert_eq!(parsed.len(), checks.len());
        for (check, (id, name, url, status, _)) in parsed.iter().zip(&checks) {
            prop_assert_eq!(check.id, *id);
            prop_assert_eq!(&check.name, name);
            prop_assert_eq!(&check.external_url, &url.clone().unwrap_or_default());
            prop_assert_eq!(&check.status, &expected_status(status));
        }
    }

    /// A merge request with any head text; short() of it never panics.
    #[test]
    fn fuzz_merge_request(iid in any::<u64>(), sha in proptest::option::of("(?s).{0,64}"), state in "(?s).{0,10}") {
        let body = json!({ "iid": iid, "sha": sha, "state": state, "project_id": null, "target_branch": null });
        let mr: MergeRequest = serde_json::from_str(&body.to_string()).unwrap();
        prop_assert_eq!(mr.iid, iid);
        prop_assert_eq!(mr.is_open(), state == "opened");
        if let Some(head) = mr.sha {
            let s = short_sha(&head);
            prop_assert!(head.starts_with(s));
            prop_assert!(s.chars().count() <= 8);
        }
    }

    /// GitLab's message from any error body: never a panic, always one short line.
    #[test]
    fn fuzz_error_message(
        status in 100u16..600,
        content_type in prop_oneof![Just(""), Just("application/json"), Just("text/html"), Just("text/plain")],
        body in "(?s).{0,400}",
        value in any_json(),
        title in "(?s).{0,60}",
    ) {
        for body in [
            body.clone(),
            value.to_string(),
            json!({ "message": body }).to_string(),
            json!({ "message": value }).to_string(),
            json!({ "error": body, "error_description": title }).to_string(),
            format!("<html><head><title>{title}</title></head><body>{body}</body></html>"),
        ] {
            let message = error_message(status, content_type, &body);
            prop_assert!(is_one_short_line(&message), "{:?} from {:?}", message, body);
        }
    }

    /// A plain message comes through unchanged.
    #[test]
    fn fuzz_error_message_keeps_plain_text(words in prop::collection::vec("[A-Za-z0-9:.]{1,10}", 1..10)) {
        let text = words.join(" ");
        prop_assert_eq!(error_message(409, "application/json", &json!({ "message": text }).to_string()), text);
    }

    /// Why a 2xx body is not JSON: one line, whatever the body.
    #[test]
    fn fuzz_decode_detail(body in "(?s).{0,400}") {
        let err = serde_json::from_str::<Vec<MrCheck>>(&body).err();
        if let Some(err) = err {
            let detail = decode_detail(&body, &err);
            prop_assert!(is_one_short_line(&detail), "{:?}", detail);
        }
    }

    #[test]
    fn fuzz_one_line(text in "(?s).{0,300}", max in 0usize..250) {
        let line = one_line(&text, max);
        prop_assert!(line.chars().count() <= max + 1);
        prop_assert!(!line.chars().any(|c| c.is_control() || c == '\n'));
    }

    /// `Retry-After`: any text; seconds exactly; any HTTP date relative to now.
    #[test]
    fn fuzz_retry_after(text in "(?s).{0,40}", secs in any::<u64>(), at in 0u64..253_402_300_799, now in 0u64..253_402_300_799) {
        let now = UNIX_EPOCH + Duration::from_secs(now);
        let _ = parse_retry_after(&text, now);
        prop_assert_eq!(parse_retry_after(&format!(" {secs} "), now), Some(Duration::from_secs(secs)));
        let date = fake_gitlab::http_date(at);
        let wanted = (UNIX_EPOCH + Duration::from_secs(at))
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        prop_assert_eq!(parse_retry_after(&date, now), Some(wanted), "{}", date);
    }

    /// The HTTP date parser round-trips the fake's own formatter (an
    /// independent implementation) and never panics on near-misses.
    #[test]
    fn fuzz_http_date(at in 0u64..253_402_300_799, mutation in 0usize..29, byte in any::<u8>(), text in "(?s).{0,40}") {
        let date = fake_gitlab::http_date(at);
        prop_assert_eq!(http_date(&date), Some(UNIX_EPOCH + Duration::from_secs(at)));
        let mut bytes = date.into_bytes();
        bytes[mutation % 29] = byte;
        let _ = http_date(&String::from_utf8_lossy(&bytes));
        let _ = http_date(&text);
    }

    /// A GitLab `Link` header (any order, any extra parameters) gives the
    /// next page; any text gives no panic.
    #[test]
    fn fuzz_link_header(
        pages in prop::collection::vec((prop_oneof![Just("prev"), Just("next"), Just("first"), Just("last")], any::<u32>()), 0..5),
        extra in "[a-z_]{1,8}=[a-z0-9%]{0,8}",
        text in "(?s).{0,200}",
    ) {
        let _ = next_page_from_link(&text);
        let link = pages
            .iter()
            .map(|(rel, page)| format!("<https://gitlab.example.com/api/v4/projects/42/merge_requests/7/status_checks?{extra}&page={page}&per_page=100>; rel=\"{rel}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let wanted = pages.iter().find(|(rel, _)| *rel == "next").map(|(_, page)| *page);
        // `extra` may itself be a `page=` parameter; only then can it differ.
        if !extra.starts_with("page=") {
            prop_assert_eq!(next_page_from_link(&link), wanted, "{}", link);
        }
    }

    /// `X-Next-Page` wins over `Link`; an empty one (the last page) defers to it.
    #[test]
    fn fuzz_next_page_headers(x_next in "(?s).{0,12}", link in "(?s).{0,80}", page in any::<u32>()) {
        let _ = parse_next_page(Some(&x_next), Some(&link));
        prop_assert_eq!(parse_next_page(Some(&page.to_string()), Some(&link)), Some(page));
        prop_assert_eq!(parse_next_page(Some(""), None), None);
    }

    /// `Poll-Interval`: any header keeps the gate's delay between its
    /// interval and the larger of --max-interval and the 5-minute cap.
    #[test]
    fn fuzz_poll_interval(
        header in prop_oneof!["(?s).{0,24}", any::<i64>().prop_map(|n| n.to_string())],
        interval_ms in 1u64..60_000,
        extra_ms in 0u64..600_000,
        seed in any::<u64>(),
    ) {
        let interval = Duration::from_millis(interval_ms);
        let max_interval = interval + Duration::from_millis(extra_ms);
        let mut pacer = Pacer::new(interval, max_interval).seeded(seed);
        pacer.observe_poll_interval(parse_poll_interval(&header));
        let ceiling = max_interval.max(MAX_SERVER_FLOOR.max(interval));
        for i in 0..8u64 {
            let delay = pacer.after_success(Duration::from_secs(i));
            prop_assert!(delay >= interval && delay <= ceiling, "{:?} for {:?}", delay, header);
        }
    }

    /// `RateLimit-*`: any text is a budget that makes sense or none; well-formed ones
    /// read exactly, the time to the reset counted on the server's clock.
    #[test]
    fn fuzz_rate_limit_budget(
        texts in proptest::collection::vec(prop_oneof![
            "(?s).{0,24}",
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
        ], 3),
        limit in 1u32..1_000_000,
        spent in any::<u32>(),
        date in 0u64..253_402_296_000,
        reset_in in 0u64..3600,
        now in 0u64..253_402_300_799,
    ) {
        let now_t = UNIX_EPOCH + Duration::from_secs(now);
        let any = parse_budget(Some(&texts[0]), Some(&texts[1]), Some(&texts[2]), now_t);
        if let Some(b) = any {
            prop_assert!(b.limit > 0 && b.remaining <= b.limit && b.reset_in <= Duration::from_secs(3600));
        }
        let remaining = spent % (limit + 1);
        let (l, r, reset) = (limit.to_string(), remaining.to_string(), (date + reset_in).to_string());
        let server_now = UNIX_EPOCH + Duration::from_secs(date);
        prop_assert_eq!(
            parse_budget(Some(&l), Some(&r), Some(&reset), server_now),
            Some(Budget { limit, remaining, reset_in: Duration::from_secs(reset_in) })
        );
        // A reset before the server's time is in the past: no budget.
        let past = date.saturating_sub(reset_in + 1).to_string();
        prop_assert_eq!(parse_budget(Some(&l), Some(&r), Some(&past), server_now), None);
    }

    /// Whatever budgets and 429s the gate sees, its delay stays between its own pace
    /// and --max-interval, or what a 429 asked plus a tenth: a `Retry-After` in full, a
    /// spent budget's reset up to the 5-minute cap.
    #[test]
    fn fuzz_gate_pacing(
        events in proptest::collection::vec((any::<bool>(), 0u32..5000, 0u32..5000, 0u64..7200, proptest::option::of(0u64..100_000)), 0..12),
        interval_ms in 1u64..60_000,
        extra_ms in 0u64..60_000,
        seed in any::<u64>(),
    ) {
        let interval = Duration::from_millis(interval_ms);
        let max_interval = interval + Duration::from_millis(extra_ms);
        let mut pacer = Pacer::new(interval, max_interval).seeded(seed);
        let cap = MAX_SERVER_FLOOR.max(interval);
        let mut now = Duration::ZERO;
        for (throttled, limit, remaining, reset_s, retry_s) in events {
            let budget = (limit > 0 && remaining <= limit).then_some(Budget {
                limit,
                remaining,
                reset_in: Duration::from_secs(reset_s.min(3600)),
            });
            pacer.polling(now);
            let delay = if throttled {
                let retry_after = retry_s.map(Duration::from_secs);
                let delay = pacer.after_setback(now, Setback::Throttled { retry_after, budget });
                // A Retry-After in full (spread by a tenth of at most the cap); a
                // spent budget's reset up to the cap.
                let reset = budget.filter(|b| b.remaining == 0).map(|b| b.reset_in.min(cap));
                let asked = retry_after.or(reset);
                let allowed = match asked {
                    Some(a) => (a + a.min(cap).mul_f64(0.1)).max(max_interval),
                    None => max_interval,
                };
                prop_assert!(delay <= allowed + Duration::from_millis(1), "{:?} > {:?}", delay, allowed);
                delay
            } else {
                pacer.observe_budget(budget, now);
                let delay = pacer.after_success(now);
                // A budget too small for another round of the gates sharing it waits
                // for its reset (plus a tenth); otherwise it stretches up to --max-interval.
                let allowed = match budget {
                    Some(b) => b.reset_in.min(cap).mul_f64(1.1).max(max_interval),
                    None => max_interval,
                };
                prop_assert!(delay <= allowed + Duration::from_millis(1), "{:?} > {:?}", delay, allowed);
                delay
            };
            // Only a Retry-After is waited out past the cap.
            let longest = match (throttled, retry_s) {
                (true, Some(s)) => cap.mul_f64(1.1).max(Duration::from_secs(s) + cap.mul_f64(0.1)),
                _ => cap.mul_f64(1.1),
            };
            prop_assert!(delay >= interval && delay <= longest, "{:?}", delay);
            now += delay;
        }
    }

    /// The head SHA in a 409: found when GitLab names one, nothing invented otherwise.
    #[test]
    fn fuzz_409_head(text in "(?s).{0,120}", head in "[0-9a-f]{40}") {
        if let Some(found) = head_from_409(&text) {
            prop_assert!(text.contains(found));
            prop_assert!(found.len() >= 7 && found.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let message = format!("SHA does not match HEAD of source branch: {head}");
        prop_assert_eq!(head_from_409(&message), Some(head.as_str()));
    }

    /// `GET /version` and CI_SERVER_VERSION: any text, and every real form.
    #[test]
    fn fuzz_server_version(text in "(?s).{0,30}", major in any::<u32>(), minor in any::<u32>(), suffix in prop_oneof![Just(""), Just("-ee"), Just("-pre"), Just("+abc")]) {
        let _ = ServerVersion::parse(&text);
        let _ = ServerVersion::from_parts(&text, &text);
        prop_assert_eq!(
            ServerVersion::parse(&format!("{major}.{minor}.3{suffix}")),
            Some(ServerVersion::new(major, minor))
        );
    }

    /// Durations: any text; every sum of parts that fits the week reads back.
    #[test]
    fn fuzz_duration(
        text in "(?s).{0,24}",
        parts in prop::collection::vec((0u64..100_000, prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h")]), 1..5),
        millis in any::<u64>(),
    ) {
        if let Ok(d) = duration(&text) {
            prop_assert!(d <= Duration::from_secs(7 * 24 * 3600));
        }
        let text: String = parts.iter().map(|(n, unit)| format!("{n}{unit}")).collect();
        let total: u128 = parts
            .iter()
            .map(|(n, unit)| u128::from(*n) * match *unit { "ms" => 1, "s" => 1_000, "m" => 60_000, _ => 3_600_000 })
            .sum();
        match duration(&text) {
            Ok(d) => prop_assert_eq!(d.as_millis(), total),
            Err(_) => prop_assert!(total > 7 * 24 * 3_600_000, "{} refused", text),
        }
        let _ = human_duration(Duration::from_millis(millis));
    }

    /// Tokens: whatever is accepted (the text without its final line breaks)
    /// carries no whitespace or control character, and never shows.
    #[test]
    fn fuzz_token(raw in "(?s).{0,40}") {
        if let Ok(token) = Token::parse(&raw, "fuzz") {
            let value = raw.trim_end_matches(['\n', '\r']);
            prop_assert!(!value.chars().any(|c| c.is_whitespace() || c.is_control()));
            prop_assert_eq!(format!("{token:?}"), "Token((redacted))");
        }
    }

    /// Lists of names from a variable: any list of names, written as JSON (compact
    /// or with spaces, as GitLab writes an array input inside a string), reads
    /// back the same; any other text parses without a panic, and a text that
    /// does not start with `[` is one name, as it is.
    #[test]
    fn fuzz_name_list(names in prop::collection::vec("(?s).{0,12}", 0..6), text in "(?s).{0,40}") {
        let compact = serde_json::to_string(&names).unwrap();
        prop_assert_eq!(name_list(&compact), Ok(names.clone()));
        let quoted: Vec<String> = names.iter().map(|n| serde_json::to_string(n).unwrap()).collect();
        let spaced = format!(" [{}] ", quoted.join(", "));
        prop_assert_eq!(name_list(&spaced), Ok(names.clone()));
        match name_list(&text) {
            Ok(list) if !text.trim_start().starts_with('[') && !text.trim().is_empty() => {
                prop_assert_eq!(list, vec![text.clone()]);
            }
            Ok(_) => {}
            Err(e) => prop_assert!(e.starts_with("not a JSON array of names")),
        }
    }

    /// Project references: an accepted one is URL-safe.
    #[test]
    fn fuzz_project(raw in "(?s).{0,40}") {
        if let Some(project) = parse_project(&raw) {
            prop_assert!(!project.encoded.contains('/'));
            prop_assert!(project.encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"%_-.".contains(&b)));
        }
    }

    /// Reports from GitLab's names and words: the JUnit file parses as XML
    /// with one testcase per check; the dotenv file has one KEY=VALUE line
    /// per variable and nothing a name or status could add.
    #[test]
    fn fuzz_reports(
        checks in prop::collection::vec((1u64..4, "(?s).{0,20}", status_word(), 0f64..1e6), 0..25),
        result in prop_oneof![Just("passed"), Just("failed"), Just("timeout"), Just("stale"), Just("error")],
        waited in 0f64..1e7,
    ) {
        let checks: Vec<CheckResult> = checks
            .into_iter()
            .map(|(iid, name, status, seconds)| CheckResult { iid, name, status, seconds })
            .collect();
        let report = GateReport { result, sha: "0123456789abcdef0123456789abcdef01234567", waited_seconds: waited, checks: &checks };
        let xml = gate::junit(&report);
        let doc = roxmltree::Document::parse(&xml);
        prop_assert!(doc.is_ok(), "{:?}\n{}", doc.err(), xml);
        let doc = doc.unwrap();
        let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
        prop_assert_eq!(cases, checks.len());
        let env = gate::dotenv(&report);
        let lines: Vec<&str> = env.lines().collect();
        prop_assert_eq!(lines.len(), 5 + checks.len().min(15), "{}", env);
        for line in lines {
            let (key, _) = line.split_once('=').unwrap();
            prop_assert!(key.starts_with("STATUS_CHECK") && key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'), "{}", line);
        }
    }
}
