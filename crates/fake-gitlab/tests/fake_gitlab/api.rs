//! The fake's endpoints against docs/gitlab-api.md: codes, bodies, order of checks, versions.

use crate::common::*;
use fake_gitlab::*;
use serde_json::json;

fn demo() -> FakeGitlab {
    FakeGitlab::start(World::demo())
}

fn check_id(fg: &FakeGitlab, name: &str) -> u64 {
    fg.world(|w| {
        w.project_mut(42)
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .id
    })
}

// ------------------------------------------------------------------ world model

#[test]
fn world_new_has_tokens_project_and_mr() {
    let w = World::new("17.5.0-ee");
    assert_eq!(w.tokens.len(), 8);
    assert_eq!(w.pending_timeout_ms, Some(120_000));
    assert_eq!(w.poll_interval_ms, 10_000);
    assert_eq!(w.total_headers_limit, 10_000);
    let p = w.project(42).unwrap();
    assert_eq!(p.path, "acme/app");
    assert!(p.ultimate);
    let names: Vec<_> = p
        .protected_branches
        .iter()
        .map(|b| (b.id, b.name.as_str()))
        .collect();
    assert_eq!(names, [(1, "main"), (2, "release")]);
    assert!(p.checks.is_empty());
    let mr = w.mr(42, 7).unwrap();
    assert_eq!(
        (
            mr.source_branch.as_str(),
            mr.target_branch.as_str(),
            mr.sha.as_str()
        ),
        ("feature", "main", SHA_A)
    );
    assert_eq!(mr.commits, [SHA_A]);
    assert_eq!(World::new("16.5.3-ee").pending_timeout_ms, None);
    assert_eq!(World::new("16.6.0-ee").pending_timeout_ms, Some(120_000));
    let shas = [SHA_A, SHA_B, SHA_C, MERGE_SHA];
    for (i, a) in shas.iter().enumerate() {
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(shas[i + 1..].iter().all(|b| b != a));
    }
    assert!(Role::Guest < Role::Reporter && Role::Maintainer < Role::Owner);
    assert_eq!(Role::Developer.access_level(), 30);
}

#[test]
fn world_status_of_follows_head_and_version() {
    let mut w = World::demo();
    assert_eq!(w.status_of(42, 7, "security-scan"), "pending");
    w.set_status(42, 7, "security-scan", "failed");
    w.set_status(42, 7, "security-scan", "passed");
    assert_eq!(w.status_of(42, 7, "security-scan"), "passed");
    w.push_head(42, 7, SHA_B);
    assert_eq!(w.status_of(42, 7, "security-scan"), "pending");
    assert_eq!(w.mr(42, 7).unwrap().commits, [SHA_A, SHA_B]);

    let mut old = World::new("14.5.0-ee");
    old.add_check(42, "c", "https://x");
    old.set_status(42, 7, "c", "passed");
    assert_eq!(old.status_of(42, 7, "c"), "approved");
    let mut new = World::new("15.0.0-ee");
    new.add_check(42, "c", "https://x");
    new.set_status(42, 7, "c", "approved");
    assert_eq!(new.status_of(42, 7, "c"), "passed");
}

#[test]
fn world_pending_times_out_on_16_6() {
    let mut w = World::new("16.6.0-ee");
    w.add_check(42, "c", "https://x");
    w.set_status(42, 7, "c", "pending");
    assert_eq!(w.status_of(42, 7, "c"), "pending");
    w.pending_timeout_ms = Some(0);
    assert_eq!(w.status_of(42, 7, "c"), "failed");
    let mut w = World::new("16.5.0-ee");
    w.add_check(42, "c", "https://x");
    w.set_status(42, 7, "c", "pending");
    assert_eq!(w.status_of(42, 7, "c"), "pending");
}

#[test]
fn world_scoped_check_and_json_round_trip() {
    let mut w = World::new("17.0.0");
    let id = w.add_scoped_check(42, "rel", "https://r", &["release", "hotfix"]);
    let p = w.project(42).unwrap();
    let c = p.checks.iter().find(|c| c.id == id).unwrap();
    assert_eq!(c.protected_branch_ids.len(), 2);
    assert_eq!(c.protected_branch_ids[0], 2);
    assert!(p.protected_branches.iter().any(|b| b.name == "hotfix"));
    let text = serde_json::to_string(&w).unwrap();
    let back: World = serde_json::from_str(&text).unwrap();
    assert_eq!(back.projects, w.projects);
    assert_eq!(back.tokens, w.tokens);
    // A minimal JSON world fills in the defaults.
    let min: World = serde_json::from_str(r#"{"version":"15.3.0"}"#).unwrap();
    assert_eq!(min.tokens.len(), 8);
}

#[test]
fn scenario_files_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/");
    let w: World =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}small-world.json")).unwrap())
            .unwrap();
    assert_eq!(w.version, "16.4.0-ee");
    assert_eq!(w.status_of(42, 7, "security-scan"), "passed");
    let evs: Vec<Event> =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}demo-script.json")).unwrap())
            .unwrap();
    assert_eq!(evs.len(), 3);
    assert_eq!(demo_events().len(), 3);
}

// ------------------------------------------------------------------ authentication

#[test]
fn missing_unknown_and_expired_tokens_are_401() {
    let fg = demo();
    let r = call(&fg, "GET", LIST, &[], None);
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "401 Unauthorized"}))
    );
    let r = get(&fg, LIST, "glpat-nope");
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "401 Unauthorized"}))
    );
    let r = get(&fg, LIST, EXPIRED_TOKEN);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_token");
    assert_eq!(
        r.json()["error_description"],
        "Token is expired. You can either do re-authorization or token refresh."
    );
    // A job token in PRIVATE-TOKEN is not an access token.
    assert_eq!(get(&fg, LIST, JOB_TOKEN).status, 401);
}

#[test]
fn bearer_and_project_tokens_work() {
    let fg = demo();
    let r = call(
        &fg,
        "GET",
        LIST,
        &[("Authorization", &format!("Bearer {DEV_TOKEN}"))],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(get(&fg, LIST, PROJECT_TOKEN).status, 200);
}

#[test]
fn job_token_is_refused_except_on_mr_reads() {
    let fg = demo();
    let job = |method: &str, path: &str| {
        call(&fg, method, path, &[("JOB-TOKEN", JOB_TOKEN)], None).status
    };
    assert_eq!(job("GET", LIST), 401);
    assert_eq!(job("POST", RESPONSES), 401);
    assert_eq!(job("GET", "/version"), 401);
    assert_eq!(job("GET", "/user"), 401);
    assert_eq!(job("GET", "/personal_access_tokens/self"), 401);
    assert_eq!(job("GET", "/projects/42/external_status_checks"), 401);
    assert_eq!(job("GET", "/projects/42/merge_requests/7"), 200);
    assert_eq!(
        job(
            "GET",
            &format!("/projects/42/repository/commits/{SHA_A}/merge_requests")
        ),
        200
    );
    // A personal token in JOB-TOKEN is not a job token.
    let r = call(
        &fg,
        "GET",
        "/projects/42/merge_requests/7",
        &[("JOB-TOKEN", DEV_TOKEN)],
        None,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn order_auth_project_licence_role_params() {
    let fg = demo();
    // auth before project
    assert_eq!(
        call(
            &fg,
            "GET",
            "/projects/999/merge_requests/7/status_checks",
            &[],
            None
        )
        .status,
        401
    );
    // project 404
    let r = get(
        &fg,
        "/projects/999/merge_requests/7/status_checks",
        DEV_TOKEN,
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Project Not Found"}))
    );
    let r = get(
        &fg,
        "/projects/nope%2Fnope/merge_requests/7/status_checks",
        DEV_TOKEN,
    );
    assert_eq!(r.status, 404);
    // `error-order`: parameters (400) before the MR (404) and the role (403)
    let r = post_form(&fg, RESPONSES, GUEST_TOKEN, "");
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"error": "sha is missing, external_status_check_id is missing, status is missing"})
        )
    );
    let id = check_id(&fg, "security-scan");
    let valid = format!("sha={SHA_A}&external_status_check_id={id}&status=passed");
    let r = post_form(
        &fg,
        "/projects/42/merge_requests/99/status_check_responses",
        GUEST_TOKEN,
        &valid,
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not found"}))
    );
    // a Reporter or Guest posting a response: 403
    for token in [REPORTER_TOKEN, GUEST_TOKEN] {
        let r = post_form(&fg, RESPONSES, token, &valid);
        assert_eq!(
            (r.status, r.json()),
            (403, json!({"message": "403 Forbidden"}))
        );
    }
    // licence before parameters: without Ultimate even a Guest sees 401
    fg.world(|w| w.project_mut(42).ultimate = false);
    let r = post_form(&fg, RESPONSES, GUEST_TOKEN, "");
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "401 Unauthorized"}))
    );
    assert_eq!(get(&fg, LIST, MAINTAINER_TOKEN).status, 401);
    // ...but reading the MR itself needs no licence
    assert_eq!(
        get(&fg, "/projects/42/merge_requests/7", DEV_TOKEN).status,
        200
    );
}

#[test]
fn hidden_project_reads_as_not_found() {
    let fg = demo();
    fg.world(|w| w.set_role(42, 1, None));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Project Not Found"}))
    );
    fg.world(|w| w.set_role(42, 1, Some(Role::Maintainer)));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 200);
}

#[test]
fn read_api_scope_cannot_post() {
    let fg = demo();
    fg.world(|w| w.tokens[0].scopes = vec!["read_api".into()]);
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
    let r = post_form(&fg, RESPONSES, DEV_TOKEN, "");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "insufficient_scope");
}

// ------------------------------------------------------------------ MR status_checks list

#[test]
fn mr_list_shows_status_and_cuts_urls_by_role() {
    let fg = demo();
    fg.world(|w| w.set_status(42, 7, "license-check", "failed"));
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Poll-Interval"), Some("1000"));
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(
        v[0],
        json!({"id": check_id(&fg, "security-scan"), "name": "security-scan",
               "external_url": "https://checks.example.com/security-scan", "status": "pending"})
    );
    assert_eq!(v[1]["status"], "failed");
    // `url-cut-16-0`: cut for Maintainers too
    let v = get(&fg, LIST, MAINTAINER_TOKEN).json();
    assert_eq!(
        v[0]["external_url"],
        "https://checks.example.com/security-scan"
    );
    fg.world(|w| w.poll_interval_ms = -1);
    assert_eq!(
        get(&fg, LIST, DEV_TOKEN).header("Poll-Interval"),
        Some("-1")
    );
}

#[test]
fn mr_list_by_era() {
    let at = |version: &str| {
        let mut w = World::demo();
        w.version = version.into();
        FakeGitlab::start(w)
    };
    // `url-cut-16-0`: 14.x and 15.x show the whole URL
    let fg = at("14.10.0-ee");
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(
        r.json()[0]["external_url"],
        "https://checks.example.com/security-scan?token=abc"
    );
    assert_eq!(
        get(&at("15.11.0-ee"), LIST, DEV_TOKEN).json()[0]["external_url"],
        "https://checks.example.com/security-scan?token=abc"
    );
    assert_eq!(
        get(&at("16.0.0-ee"), LIST, DEV_TOKEN).json()[0]["external_url"],
        "https://checks.example.com/security-scan"
    );
    // `poll-interval-15-10`
    assert_eq!(r.header("Poll-Interval"), None);
    assert_eq!(
        get(&at("15.9.0-ee"), LIST, DEV_TOKEN).header("Poll-Interval"),
        None
    );
    assert_eq!(
        get(&at("15.10.0-ee"), LIST, DEV_TOKEN).header("Poll-Interval"),
        Some("1000")
    );
    // `reporter-read-17-4`: a Reporter reads the list (and sees no URL)
    assert_eq!(get(&at("17.3.0-ee"), LIST, REPORTER_TOKEN).status, 403);
    for version in ["17.4.0-ee", "18.9.0-ee", "19.4.0-ee"] {
        let r = get(&at(version), LIST, REPORTER_TOKEN);
        assert_eq!(r.status, 200, "{version}");
        assert_eq!(r.json()[0]["external_url"], "");
        assert_eq!(get(&at(version), LIST, GUEST_TOKEN).status, 403);
    }
    // Before, who may approve the MR reads it: a Reporter who authored it too.
    let authored = {
        let mut w = World::demo();
        w.version = "16.0.0-ee".into();
        w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER);
        FakeGitlab::start(w)
    };
    assert_eq!(get(&authored, LIST, REPORTER_TOKEN).status, 200);
}

/// A fake on `version` whose MR !7 was authored by the Reporter, with the demo's checks.
fn authored_by_the_reporter(version: &str) -> FakeGitlab {
    let mut w = World::demo();
    w.version = version.into();
    w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER);
    FakeGitlab::start(w)
}

#[test]
fn an_author_below_developer_gets_a_404_after_the_sha_check() {
    // `response-404-permission`: the MR, the check and the SHA pass; then a 404,
    // `not_found!` up to 18.x, a service's `null` from 18.9.
    for (version, body) in [
        ("15.0.0-ee", json!({"message": "404 Not Found"})),
        ("17.5.0-ee", json!({"message": "404 Not Found"})),
        ("18.9.0-ee", json!({"message": null})),
        ("19.4.0-ee", json!({"message": null})),
    ] {
        let fg = authored_by_the_reporter(version);
        let id = check_id(&fg, "security-scan");
        let post = |sha: &str, check: u64| {
            post_form(
                &fg,
                RESPONSES,
                REPORTER_TOKEN,
                &format!("sha={sha}&external_status_check_id={check}&status=passed"),
            )
        };
        // Before the permission: an unknown check (404, lower-case f), a stale SHA (409).
        let r = post(SHA_A, 9999);
        assert_eq!(
            (r.status, r.json()),
            (404, json!({"message": "404 Not found"})),
            "{version}"
        );
        assert_eq!(post(SHA_B, id).status, 409, "{version}");
        let r = post(SHA_A, id);
        assert_eq!((r.status, r.json()), (404, body), "{version}");
        assert_eq!(fg.world(|w| w.status_of(42, 7, "security-scan")), "pending");
        // A Reporter who is neither author nor assignee is stopped at the MR: 403.
        let other = FakeGitlab::start({
            let mut w = World::demo();
            w.version = version.into();
            w
        });
        let r = post_form(
            &other,
            RESPONSES,
            REPORTER_TOKEN,
            &format!("sha={SHA_A}&external_status_check_id={id}&status=passed"),
        );
        assert_eq!(r.status, 403, "{version}");
    }
}

#[test]
fn retry_permissions_and_pending_by_era() {
    let retry = |fg: &FakeGitlab, token: &str| {
        let id = check_id(fg, "security-scan");
        fg.world(|w| w.set_status(42, 7, "security-scan", "failed"));
        post_form(
            fg,
            &format!("/projects/42/merge_requests/7/status_checks/{id}/retry"),
            token,
            "",
        )
    };
    // `retry-permission-16-1`: 15.7–16.0 look the MR up for approvers, then answer 404
    // to one below Developer; from 16.1 the lookup itself needs Developer (403).
    let r = retry(&authored_by_the_reporter("16.0.0-ee"), REPORTER_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not Found"}))
    );
    assert_eq!(
        retry(&authored_by_the_reporter("16.1.0-ee"), REPORTER_TOKEN).status,
        403
    );
    let plain = |version: &str| {
        let mut w = World::demo();
        w.version = version.into();
        FakeGitlab::start(w)
    };
    assert_eq!(retry(&plain("16.4.0-ee"), REPORTER_TOKEN).status, 403);
    // `retry-pending-16-1`: 16.1 reads the check as pending again; 16.0 only re-sends the
    // webhook, and the list still says failed.
    let old = plain("16.0.0-ee");
    assert_eq!(retry(&old, DEV_TOKEN).status, 202);
    assert_eq!(old.world(|w| w.status_of(42, 7, "security-scan")), "failed");
    let new = plain("16.1.0-ee");
    assert_eq!(retry(&new, DEV_TOKEN).status, 202);
    assert_eq!(
        new.world(|w| w.status_of(42, 7, "security-scan")),
        "pending"
    );
}

#[test]
fn the_project_check_list_needs_maintainer_in_every_era() {
    // `admin_project` (15.x–16.x), `manage_merge_request_settings` (17.0–18.x),
    // `read_external_status_check` (seen in 19.4): all Maintainer; `unauthorized!`.
    for version in [
        "15.0.0-ee",
        "16.5.0-ee",
        "17.0.0-ee",
        "18.9.0-ee",
        "19.4.0-ee",
    ] {
        let mut w = World::demo();
        w.version = version.into();
        let fg = FakeGitlab::start(w);
        let path = "/projects/42/external_status_checks";
        assert_eq!(get(&fg, path, MAINTAINER_TOKEN).status, 200, "{version}");
        let r = get(&fg, path, DEV_TOKEN);
        assert_eq!(
            (r.status, r.json()),
            (401, json!({"message": "401 Unauthorized"})),
            "{version}"
        );
    }
}

#[test]
fn mr_list_roles_and_unknown_mr() {
    // Before `reporter-read-17-4`.
    let mut w = World::demo();
    w.version = "17.3.0-ee".into();
    let fg = FakeGitlab::start(w);
    let r = get(&fg, LIST, REPORTER_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "403 Forbidden"}))
    );
    assert_eq!(get(&fg, LIST, GUEST_TOKEN).status, 403);
    let r = get(
        &fg,
        "/projects/42/merge_requests/99/status_checks",
        DEV_TOKEN,
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not found"}))
    );
    let r = get(
        &fg,
        "/projects/acme%2Fapp/merge_requests/7/status_checks",
        DEV_TOKEN,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn scoped_check_only_on_mrs_targeting_its_branch() {
    let fg = demo();
    let rel = fg.world(|w| w.add_scoped_check(42, "release-gate", "https://r", &["release"]));
    let names: Vec<String> = get(&fg, LIST, DEV_TOKEN)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert!(!names.contains(&"release-gate".to_string()));
    // `response-any-project-check`: the response is accepted all the same, and its body
    // shows why it gates nothing
    let r = post_form(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &format!("sha={SHA_A}&external_status_check_id={rel}&status=passed"),
    );
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["merge_request"]["target_branch"], "main");
    assert_eq!(
        v["external_status_check"]["protected_branches"][0]["name"],
        "release"
    );
    let retry = format!("/projects/42/merge_requests/7/status_checks/{rel}/retry");
    assert_eq!(post_form(&fg, &retry, DEV_TOKEN, "").status, 422);
    fg.world(|w| w.mr_mut(42, 7).target_branch = "release".into());
    let v = get(&fg, LIST, DEV_TOKEN).json();
    assert_eq!(v.as_array().unwrap().len(), 4);
}

// ------------------------------------------------------------------ responses

#[test]
fn response_post_accepts_form_json_and_query() {
    let fg = demo();
    let id = check_id(&fg, "security-scan");
    let r = post_form(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &format!("sha={SHA_A}&external_status_check_id={id}&status=failed"),
    );
    assert_eq!(r.status, 201);
    let v = r.json();
    assert!(v["id"].as_u64().is_some());
    assert_eq!(v["merge_request"]["iid"], 7);
    assert_eq!(v["merge_request"]["sha"], SHA_A);
    assert_eq!(v["merge_request"]["project_id"], 42);
    assert_eq!(v["external_status_check"]["id"], id);
    assert_eq!(v["external_status_check"]["hmac"], false);
    assert_eq!(v["external_status_check"]["protected_branches"], json!([]));
    assert_eq!(fg.world(|w| w.status_of(42, 7, "security-scan")), "failed");

    let r = post_json(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &json!({"sha": SHA_A, "external_status_check_id": id, "status": "passed"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(fg.world(|w| w.status_of(42, 7, "security-scan")), "passed");

    let q = format!("{RESPONSES}?sha={SHA_A}&external_status_check_id={id}&status=failed");
    assert_eq!(post_form(&fg, &q, DEV_TOKEN, "").status, 201);
    assert_eq!(fg.world(|w| w.status_of(42, 7, "security-scan")), "failed");
    assert_eq!(fg.world(|w| w.mr_mut(42, 7).responses.len()), 3);
}

#[test]
fn response_post_chunked_body() {
    let fg = demo();
    let id = check_id(&fg, "security-scan");
    let body = format!("sha={SHA_A}&external_status_check_id={id}&status=passed");
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /api/v4{RESPONSES} HTTP/1.1\r\nHost: x\r\nPRIVATE-TOKEN: {DEV_TOKEN}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let r = raw(&fg, req.as_bytes()).unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(fg.requests()[0].body, body);
}

#[test]
fn response_post_parameter_errors() {
    let fg = demo();
    let id = check_id(&fg, "security-scan");
    let bad_parameters = [
        (
            format!("external_status_check_id={id}&status=passed"),
            "sha is missing",
        ),
        (
            format!("sha={SHA_A}&status=passed"),
            "external_status_check_id is missing",
        ),
        (
            format!("sha={SHA_A}&external_status_check_id={id}"),
            "status is missing",
        ),
        (
            format!("sha={SHA_A}&external_status_check_id={id}&status=approved"),
            "status does not have a valid value",
        ),
    ];
    for (form, error) in bad_parameters {
        let r = post_form(&fg, RESPONSES, DEV_TOKEN, &form);
        assert_eq!(
            (r.status, r.json()),
            (400, json!({ "error": error })),
            "{form}"
        );
    }
    // pending is valid on 17.5
    let r = post_form(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &format!("sha={SHA_A}&external_status_check_id={id}&status=pending"),
    );
    assert_eq!(r.status, 201);
    // unknown check, unknown MR
    let r = post_form(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &format!("sha={SHA_A}&external_status_check_id=9999&status=passed"),
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not found"}))
    );
    let r = post_form(
        &fg,
        "/projects/42/merge_requests/8/status_check_responses",
        DEV_TOKEN,
        &format!("sha={SHA_A}&external_status_check_id={id}&status=passed"),
    );
    assert_eq!(r.status, 404);
}

#[test]
fn response_post_stale_sha_is_409() {
    let fg = demo();
    let id = check_id(&fg, "security-scan");
    let r = post_form(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &format!("sha={MERGE_SHA}&external_status_check_id={id}&status=passed"),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            409,
            json!({"message": format!("SHA does not match HEAD of source branch: {SHA_A}")})
        )
    );
    assert_eq!(fg.world(|w| w.status_of(42, 7, "security-scan")), "pending");
}

#[test]
fn response_status_by_version() {
    let post = |version: &str, extra: &str| {
        let mut w = World::new(version);
        let id = w.add_check(42, "c", "https://c");
        let fg = FakeGitlab::start(w);
        let r = post_form(
            &fg,
            RESPONSES,
            DEV_TOKEN,
            &format!("sha={SHA_A}&external_status_check_id={id}{extra}"),
        );
        let shown = get(&fg, LIST, DEV_TOKEN).json()[0]["status"]
            .as_str()
            .unwrap()
            .to_string();
        (r.status, shown)
    };
    assert_eq!(
        post("14.5.0-ee", "&status=failed"),
        (201, "approved".into())
    );
    assert_eq!(post("14.5.0-ee", ""), (201, "approved".into()));
    assert_eq!(post("14.9.0-ee", ""), (201, "approved".into()));
    // `status-param-14-9`: a failed is stored, and reads approved (flag off)
    assert_eq!(
        post("14.10.1-ee", "&status=failed"),
        (201, "approved".into())
    );
    assert_eq!(post("14.10.1-ee", "&status=bogus").0, 400);
    assert_eq!(post("15.0.0-ee", "").0, 400);
    assert_eq!(post("15.0.0-ee", "&status=passed"), (201, "passed".into()));
    assert_eq!(post("16.4.0-ee", "&status=pending").0, 400);
    assert_eq!(
        post("16.5.0-ee", "&status=pending"),
        (201, "pending".into())
    );
}

#[test]
fn pending_response_times_out_to_failed_over_http() {
    let mut w = World::new("16.6.0-ee");
    let id = w.add_check(42, "c", "https://c");
    w.pending_timeout_ms = Some(0);
    let fg = FakeGitlab::start(w);
    let r = post_form(
        &fg,
        RESPONSES,
        DEV_TOKEN,
        &format!("sha={SHA_A}&external_status_check_id={id}&status=pending"),
    );
    assert_eq!(r.status, 201);
    assert_eq!(get(&fg, LIST, DEV_TOKEN).json()[0]["status"], "failed");
}

// ------------------------------------------------------------------ retry

#[test]
fn retry_only_on_failed_and_from_15_7() {
    let fg = demo();
    let id = check_id(&fg, "security-scan");
    let path = format!("/projects/42/merge_requests/7/status_checks/{id}/retry");
    let r = post_form(&fg, &path, DEV_TOKEN, "");
    assert_eq!(
        (r.status, r.json()),
        (
            422,
            json!({"message": "External status check must be failed"})
        )
    );
    fg.world(|w| w.set_status(42, 7, "security-scan", "failed"));
    let r = post_form(&fg, &path, DEV_TOKEN, "");
    assert_eq!(
        (r.status, r.json()),
        (202, json!({"message": "202 Accepted"}))
    );
    assert_eq!(fg.world(|w| w.status_of(42, 7, "security-scan")), "pending");
    assert_eq!(post_form(&fg, &path, REPORTER_TOKEN, "").status, 403);
    let r = post_form(
        &fg,
        "/projects/42/merge_requests/7/status_checks/9999/retry",
        DEV_TOKEN,
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not found"}))
    );

    let mut old = World::new("15.6.0-ee");
    let id = old.add_check(42, "c", "https://c");
    old.set_status(42, 7, "c", "failed");
    let fg = FakeGitlab::start(old);
    let r = post_form(
        &fg,
        &format!("/projects/42/merge_requests/7/status_checks/{id}/retry"),
        DEV_TOKEN,
        "",
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "404 Not Found"}))
    );
}

// ------------------------------------------------------------------ MR and commits

#[test]
fn mr_get_fields_and_merge_status() {
    let fg = demo();
    let r = get(&fg, "/projects/42/merge_requests/7", DEV_TOKEN);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["iid"], 7);
    assert_eq!(v["project_id"], 42);
    assert_eq!(v["source_project_id"], 42);
    assert_eq!(v["target_project_id"], 42);
    assert_eq!(v["source_branch"], "feature");
    assert_eq!(v["target_branch"], "main");
    assert_eq!(v["state"], "opened");
    assert_eq!(v["sha"], SHA_A);
    assert_eq!(v["diff_refs"]["head_sha"], SHA_A);
    assert_eq!(v["detailed_merge_status"], "mergeable");
    assert_eq!(
        v["web_url"],
        format!("{}/acme/app/-/merge_requests/7", fg.base_url())
    );
    fg.world(|w| {
        w.project_mut(42)
            .only_allow_merge_if_all_status_checks_passed = true
    });
    let v = get(&fg, "/projects/42/merge_requests/7", DEV_TOKEN).json();
    assert_eq!(v["detailed_merge_status"], "status_checks_must_pass");
    fg.world(|w| {
        for c in ["security-scan", "license-check", "deploy-approval"] {
            w.set_status(42, 7, c, "passed");
        }
    });
    let v = get(&fg, "/projects/42/merge_requests/7", DEV_TOKEN).json();
    assert_eq!(v["detailed_merge_status"], "mergeable");
    let r = get(&fg, "/projects/42/merge_requests/70", DEV_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not found"}))
    );
}

#[test]
fn commit_merge_requests() {
    let fg = demo();
    fg.world(|w| {
        w.add_mr(42, 8, "feature", "release", SHA_A, "closed");
        w.add_mr(42, 9, "other", "main", SHA_C, "opened");
    });
    let path = |sha: &str| format!("/projects/42/repository/commits/{sha}/merge_requests");
    let v = get(&fg, &path(SHA_A), DEV_TOKEN).json();
    let iids: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["iid"].as_u64().unwrap())
        .collect();
    assert_eq!(iids, [7, 8]);
    assert_eq!(v[1]["state"], "closed");
    assert_eq!(get(&fg, &path(MERGE_SHA), DEV_TOKEN).json(), json!([]));
    let r = get(
        &fg,
        &path("0123456789012345678901234567890123456789"),
        DEV_TOKEN,
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Commit Not Found"}))
    );
}

// ------------------------------------------------------------------ project checks

#[test]
fn shared_secrets_only_from_17_3() {
    // `hmac-17-3`: before 17.3 the parameter is dropped and the entity has no `hmac`
    let create = |version: &str| {
        let fg = FakeGitlab::start(World::new(version));
        let r = post_form(
            &fg,
            "/projects/42/external_status_checks",
            MAINTAINER_TOKEN,
            "name=sec&external_url=https%3A%2F%2Fsec&shared_secret=s3",
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let stored = fg.world(|w| w.project_mut(42).checks[0].shared_secret.clone());
        (r.json().get("hmac").cloned(), stored)
    };
    assert_eq!(create("17.2.0-ee"), (None, None));
    assert_eq!(
        create("17.3.0-ee"),
        (Some(json!(true)), Some("s3".to_string()))
    );
}

#[test]
fn must_succeed_setting_is_shown_on_ultimate_from_15_9() {
    let setting = |version: &str, ultimate: bool| {
        let mut w = World::new(version);
        w.project_mut(42).ultimate = ultimate;
        let fg = FakeGitlab::start(w);
        get(&fg, "/projects/42", MAINTAINER_TOKEN)
            .json()
            .get("only_allow_merge_if_all_status_checks_passed")
            .cloned()
    };
    assert_eq!(setting("17.5.0-ee", true), Some(json!(false)));
    assert_eq!(setting("17.5.0-ee", false), None);
    assert_eq!(setting("15.8.0-ee", true), None);
    assert_eq!(setting("15.9.0-ee", true), Some(json!(false)));
}

#[test]
fn commit_lookup_follows_the_latest_diff_and_merge_commits() {
    let fg = demo();
    let path = |sha: &str| format!("/projects/42/repository/commits/{sha}/merge_requests");
    let iids = |sha: &str| -> Vec<u64> {
        get(&fg, &path(sha), DEV_TOKEN)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["iid"].as_u64().unwrap())
            .collect()
    };
    // a push keeps the older commits in the diff
    fg.world(|w| w.push_head(42, 7, SHA_B));
    assert_eq!(iids(SHA_A), [7]);
    // `commits-latest-diff`: a force-push that dropped them does not
    fg.world(|w| w.force_push(42, 7, SHA_C));
    assert_eq!(iids(SHA_A), Vec::<u64>::new());
    assert_eq!(iids(SHA_B), Vec::<u64>::new());
    assert_eq!(iids(SHA_C), [7]);
    // `merged-mr-by-merge-commit`
    fg.world(|w| w.merge_mr(42, 7, Some(MERGE_SHA), None));
    assert_eq!(iids(MERGE_SHA), [7]);
    let v = get(&fg, &path(MERGE_SHA), DEV_TOKEN).json();
    assert_eq!(v[0]["state"], "merged");
    assert_eq!(v[0]["merge_commit_sha"], MERGE_SHA);
    assert_eq!(v[0]["squash_commit_sha"], json!(null));
    let squash = "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6";
    fg.world(|w| w.merge_mr(42, 7, None, Some(squash)));
    assert_eq!(iids(squash), [7]);
}

#[test]
fn wildcard_scopes_match_from_19_4_only() {
    let names_on_release_mr = |version: &str| -> Vec<String> {
        let mut w = World::new(version);
        w.add_scoped_check(42, "release-gate", "https://r", &["release/*"]);
        w.add_mr(42, 8, "fix", "release/1.0", SHA_B, "opened");
        let fg = FakeGitlab::start(w);
        get(
            &fg,
            "/projects/42/merge_requests/8/status_checks",
            DEV_TOKEN,
        )
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
    };
    // `wildcard-literal`: `release/*` is compared with `release/1.0` as text
    assert!(names_on_release_mr("19.3.0-ee").is_empty());
    // `wildcard-19-4`
    assert_eq!(names_on_release_mr("19.4.0-ee"), ["release-gate"]);
}

#[test]
fn response_answer_shows_the_check_until_19_4() {
    let answer = |version: &str| {
        let mut w = World::new(version);
        let id = w.add_scoped_check(42, "gate", "https://g?k=v", &["release"]);
        let fg = FakeGitlab::start(w);
        post_form(
            &fg,
            RESPONSES,
            DEV_TOKEN,
            &format!("sha={SHA_A}&external_status_check_id={id}&status=passed"),
        )
        .json()["external_status_check"]
            .clone()
    };
    let full = answer("19.3.0-ee");
    assert_eq!(full["protected_branches"][0]["name"], "release");
    assert_eq!(full["external_url"], "https://g?k=v");
    // `response-entity-19-4`
    let reduced = answer("19.4.0-ee");
    assert_eq!(reduced.get("protected_branches"), None);
    assert_eq!(reduced["external_url"], "https://g");
}

#[test]
fn gitlab_14_0_needs_a_feature_flag() {
    // `ff-14-0`: off by default, so every status-check endpoint answers 401
    let fg = FakeGitlab::start(World::new("14.0.0-ee"));
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 401);
    let fg = FakeGitlab::start(World::new("14.1.0-ee"));
    assert_eq!(get(&fg, LIST, DEV_TOKEN).status, 200);
}

#[test]
fn gitlab_14_0_looks_no_check_up_and_asks_no_more_than_approving() {
    // `response-14-0`: with the flag on, an unknown check id passes the SHA check and
    // fails the record's validation (500); the MR's author below Developer gets a 201.
    let mut w = World::demo();
    w.version = "14.0.5-ee".into();
    w.ff_external_status_checks = true;
    w.mr_mut(42, 7).authors_and_assignees.push(REPORTER_USER);
    let fg = FakeGitlab::start(w);
    let id = check_id(&fg, "security-scan");
    let post = |token: &str, sha: &str, check: u64| {
        post_form(
            &fg,
            RESPONSES,
            token,
            &format!("sha={sha}&external_status_check_id={check}"),
        )
    };
    assert_eq!(post(DEV_TOKEN, SHA_B, 9999).status, 409);
    assert_eq!(post(DEV_TOKEN, SHA_A, 9999).status, 500);
    assert_eq!(post(REPORTER_TOKEN, SHA_A, id).status, 201);
    assert_eq!(
        fg.world(|w| w.status_of(42, 7, "security-scan")),
        "approved"
    );
    // 15.0 looks the check up before the SHA, and asks for Developer after it.
    let fg = authored_by_the_reporter("15.0.0-ee");
    let id = check_id(&fg, "security-scan");
    assert_eq!(
        post_form(
            &fg,
            RESPONSES,
            DEV_TOKEN,
            &format!("sha={SHA_B}&external_status_check_id=9999&status=passed")
        )
        .status,
        404
    );
    assert_eq!(
        post_form(
            &fg,
            RESPONSES,
            REPORTER_TOKEN,
            &format!("sha={SHA_A}&external_status_check_id={id}&status=passed")
        )
        .status,
        404
    );
}

#[test]
fn project_check_crud() {
    let fg = FakeGitlab::start(World::new("17.5.0-ee"));
    let path = "/projects/42/external_status_checks";
    let r = post_form(
        &fg,
        path,
        MAINTAINER_TOKEN,
        "name=sec&external_url=https%3A%2F%2Fsec.example.com%2Fhook&shared_secret=s3&protected_branch_ids[]=1",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    let id = v["id"].as_u64().unwrap();
    assert_eq!(v["name"], "sec");
    assert_eq!(v["project_id"], 42);
    assert_eq!(v["external_url"], "https://sec.example.com/hook");
    assert_eq!(v["hmac"], true);
    assert_eq!(v["protected_branches"][0]["name"], "main");
    assert_eq!(v["protected_branches"][0]["project_id"], 42);

    let r = post_json(
        &fg,
        path,
        MAINTAINER_TOKEN,
        &json!({"name": "sec", "external_url": "https://other"}),
    );
    assert_eq!(
        (r.status, r.json()),
        (422, json!({"message": ["Name has already been taken"]}))
    );
    let r = post_json(
        &fg,
        path,
        MAINTAINER_TOKEN,
        &json!({"name": "sec2", "external_url": "https://sec.example.com/hook"}),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            422,
            json!({"message": ["External url has already been taken"]})
        )
    );
    let r = post_json(
        &fg,
        path,
        MAINTAINER_TOKEN,
        &json!({"external_url": "https://x"}),
    );
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "name is missing"}))
    );

    let r = call(
        &fg,
        "PUT",
        &format!("{path}/{id}"),
        &[
            ("PRIVATE-TOKEN", MAINTAINER_TOKEN),
            ("Content-Type", "application/json"),
        ],
        Some(r#"{"name":"sec-renamed","protected_branch_ids":[]}"#),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "sec-renamed");
    assert_eq!(r.json()["protected_branches"], json!([]));

    let list = get(&fg, path, MAINTAINER_TOKEN);
    assert_eq!(list.status, 200);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    assert_eq!(list.header("X-Total"), Some("1"));

    let r = call(
        &fg,
        "DELETE",
        &format!("{path}/{id}"),
        &[("PRIVATE-TOKEN", MAINTAINER_TOKEN)],
        None,
    );
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = call(
        &fg,
        "DELETE",
        &format!("{path}/{id}"),
        &[("PRIVATE-TOKEN", MAINTAINER_TOKEN)],
        None,
    );
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "404 Not found"}))
    );
}

#[test]
fn project_check_roles() {
    let fg = demo();
    let path = "/projects/42/external_status_checks";
    let r = get(&fg, path, DEV_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"message": "401 Unauthorized"}))
    );
    let r = post_form(&fg, path, DEV_TOKEN, "name=x&external_url=https://x");
    assert_eq!(
        (r.status, r.json()),
        (403, json!({"message": "403 Forbidden"}))
    );
    let r = call(
        &fg,
        "DELETE",
        &format!("{path}/1"),
        &[("PRIVATE-TOKEN", DEV_TOKEN)],
        None,
    );
    assert_eq!(r.status, 403);
    let r = get(&fg, "/projects/42/protected_branches", MAINTAINER_TOKEN);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[1]["name"], "release");
    // `protected-branches-15-11`: `read_code` (a Reporter) from 15.11, Maintainer before.
    for (version, reporter, guest) in [("15.10.0-ee", 403, 403), ("15.11.0-ee", 200, 403)] {
        fg.world(|w| w.version = version.into());
        let branches = "/projects/42/protected_branches";
        assert_eq!(
            get(&fg, branches, REPORTER_TOKEN).status,
            reporter,
            "{version}"
        );
        assert_eq!(get(&fg, branches, DEV_TOKEN).status, reporter, "{version}");
        assert_eq!(get(&fg, branches, GUEST_TOKEN).status, guest, "{version}");
    }
}

// ------------------------------------------------------------------ instance, project, members

#[test]
fn version_user_and_token_self() {
    let fg = demo();
    let v = get(&fg, "/version", DEV_TOKEN).json();
    assert_eq!(
        v,
        json!({"version": "17.5.0-ee", "revision": "abc123", "enterprise": true})
    );
    assert_eq!(call(&fg, "GET", "/version", &[], None).status, 401);
    let u = get(&fg, "/user", DEV_TOKEN).json();
    assert_eq!(
        (u["id"].clone(), u["username"].clone(), u["bot"].clone()),
        (json!(1), json!("dev"), json!(false))
    );
    assert_eq!(u["state"], "active");
    assert_eq!(get(&fg, "/user", PROJECT_TOKEN).json()["bot"], true);
    for t in [DEV_TOKEN, PROJECT_TOKEN] {
        let s = get(&fg, "/personal_access_tokens/self", t).json();
        assert_eq!(s["active"], true);
        assert_eq!(s["revoked"], false);
        assert_eq!(s["scopes"], json!(["api"]));
        assert!(s["expires_at"].is_null());
        assert!(s["user_id"].as_u64().is_some());
    }
}

#[test]
fn project_get_put_and_members() {
    let fg = demo();
    let v = get(&fg, "/projects/acme%2Fapp", DEV_TOKEN).json();
    assert_eq!(v["id"], 42);
    assert_eq!(v["path_with_namespace"], "acme/app");
    assert_eq!(v["web_url"], format!("{}/acme/app", fg.base_url()));
    assert_eq!(v["only_allow_merge_if_all_status_checks_passed"], false);
    assert_eq!(v["permissions"]["project_access"]["access_level"], 30);
    assert!(v["permissions"]["group_access"].is_null());
    let put = |token: &str| {
        call(
            &fg,
            "PUT",
            "/projects/42",
            &[
                ("PRIVATE-TOKEN", token),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some("only_allow_merge_if_all_status_checks_passed=true"),
        )
    };
    assert_eq!(put(DEV_TOKEN).status, 403);
    let r = put(MAINTAINER_TOKEN);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["only_allow_merge_if_all_status_checks_passed"],
        true
    );
    assert!(fg.world(|w| {
        w.project_mut(42)
            .only_allow_merge_if_all_status_checks_passed
    }));

    let m = get(&fg, "/projects/42/members/all/2", DEV_TOKEN).json();
    assert_eq!(m["access_level"], 40);
    assert_eq!(m["username"], "maintainer");
    let r = get(&fg, "/projects/42/members/all/999", DEV_TOKEN);
    assert_eq!(r.status, 404);
}

#[test]
fn unknown_route_is_404_before_auth() {
    let fg = demo();
    let r = call(&fg, "GET", "/nope", &[], None);
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "404 Not Found"}))
    );
    let r = call(&fg, "PATCH", LIST, &[("PRIVATE-TOKEN", DEV_TOKEN)], None);
    assert_eq!(r.status, 404);
    let r = raw(&fg, b"GET /other HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(r.status, 404);
}

// ------------------------------------------------------------------ pagination

fn many_checks(n: usize) -> FakeGitlab {
    let mut w = World::new("17.5.0-ee");
    for i in 0..n {
        w.add_check(42, &format!("check-{i:03}"), &format!("https://c/{i}"));
    }
    FakeGitlab::start(w)
}

#[test]
fn pagination_headers_and_links() {
    let fg = many_checks(45);
    let r = get(&fg, LIST, DEV_TOKEN);
    assert_eq!(r.json().as_array().unwrap().len(), 20);
    assert_eq!(r.header("X-Page"), Some("1"));
    assert_eq!(r.header("X-Per-Page"), Some("20"));
    assert_eq!(r.header("X-Next-Page"), Some("2"));
    assert_eq!(r.header("X-Prev-Page"), Some(""));
    assert_eq!(r.header("X-Total"), Some("45"));
    assert_eq!(r.header("X-Total-Pages"), Some("3"));

    let r = get(
        &fg,
        &format!("{LIST}?per_page=20&page=2&foo=bar"),
        DEV_TOKEN,
    );
    let v = r.json();
    assert_eq!(v[0]["name"], "check-020");
    let base = format!("http://127.0.0.1:{}/api/v4{LIST}", fg.port());
    assert_eq!(
        r.header("Link").unwrap(),
        format!(
            "<{base}?foo=bar&page=1&per_page=20>; rel=\"prev\", <{base}?foo=bar&page=3&per_page=20>; rel=\"next\", <{base}?foo=bar&page=1&per_page=20>; rel=\"first\", <{base}?foo=bar&page=3&per_page=20>; rel=\"last\""
        )
    );
    let r = get(&fg, &format!("{LIST}?page=3"), DEV_TOKEN);
    assert_eq!(r.json().as_array().unwrap().len(), 5);
    assert_eq!(r.header("X-Next-Page"), Some(""));
    assert_eq!(r.header("X-Prev-Page"), Some("2"));
    assert!(!r.header("Link").unwrap().contains("rel=\"next\""));
    let r = get(&fg, &format!("{LIST}?per_page=500"), DEV_TOKEN);
    assert_eq!(r.header("X-Per-Page"), Some("100"));
    assert_eq!(r.json().as_array().unwrap().len(), 45);
    let r = get(&fg, &format!("{LIST}?page=x"), DEV_TOKEN);
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "page is invalid"}))
    );
}

#[test]
fn pagination_omits_totals_above_limit() {
    let fg = many_checks(5);
    fg.world(|w| w.total_headers_limit = 4);
    let r = get(&fg, &format!("{LIST}?per_page=2"), DEV_TOKEN);
    assert_eq!(r.header("X-Total"), None);
    assert_eq!(r.header("X-Total-Pages"), None);
    assert_eq!(r.header("X-Next-Page"), Some("2"));
    let link = r.header("Link").unwrap();
    assert!(link.contains("rel=\"next\""));
    assert!(link.contains("rel=\"first\""));
    assert!(!link.contains("rel=\"last\""));
}

// ------------------------------------------------------------------ docs

/// Every version rule of the fake names a row of docs/gitlab-api.md, and every such row
/// exists there.
#[test]
fn every_rule_names_a_documented_row() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let doc = std::fs::read_to_string(format!("{root}/docs/gitlab-api.md")).unwrap();
    // A row is the first cell of a table line, or a section's "(row `x`)".
    let rows: Vec<&str> = doc
        .lines()
        .filter_map(|l| {
            l.strip_prefix("| `")
                .or_else(|| l.split_once("(row `").map(|(_, r)| r))
        })
        .filter_map(|l| l.split_once('`').map(|(row, _)| row))
        .collect();
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut named = Vec::new();
    for file in ["era.rs", "api.rs", "world.rs", "compliance.rs"] {
        let text = std::fs::read_to_string(format!("{here}/{file}")).unwrap();
        for piece in text
            .split("Row `")
            .skip(1)
            .chain(text.split("// `").skip(1))
        {
            // Row ids are kebab-case; other quoted words (flags, fields) are not rows.
            let kebab = |r: &str| {
                r.contains('-')
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            };
            if let Some((row, _)) = piece.split_once('`').filter(|(r, _)| kebab(r)) {
                named.push(row.to_string());
            }
        }
    }
    assert!(named.len() >= 15, "rules found: {named:?}");
    for row in &named {
        assert!(
            rows.contains(&row.as_str()),
            "`{row}` is not a row of docs/gitlab-api.md"
        );
    }
}
