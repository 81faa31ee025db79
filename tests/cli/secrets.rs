//! The token (and a check's shared secret) never leaves through an output,
//! and reaches only the API host, only in its header. The fault matrix
//! (faults.rs) scans report, list, retry, wait and run; this adds doctor and
//! sync under every fault, every token source, and what the fake received.

use crate::faults::{GLOBAL, fault_cases, in_parallel, with_fault};
use crate::support::*;

const SHARED_SECRET: &str = "hmac-s3cret-of-the-check";

const SYNC_FILE: &str = "\
checks:
  - name: scan
    external_url: https://scanner.example.com/hook
    shared_secret_env: SCANNER_SECRET
";

#[derive(Clone, Copy, Debug)]
enum Extra {
    Doctor,
    Sync,
}

fn leaks(run: &Run, other: Option<&FakeGitlab>) -> Vec<String> {
    let mut problems = Vec::new();
    let outputs = format!("{}\n{}", run.stdout, run.stderr);
    for token in ALL_TOKENS.iter().copied().chain([SHARED_SECRET]) {
        if outputs.contains(token) {
            problems.push(format!("{}… in the output", &token[..6]));
        }
    }
    for r in run.requests() {
        let url = format!("{}?{}", r.path, r.query);
        if ALL_TOKENS.iter().any(|t| url.contains(t)) {
            problems.push(format!("a token in the URL {url}"));
        }
    }
    if outputs.contains("panicked") || !(0..=5).contains(&run.code) {
        problems.push(format!("exit {} / panic", run.code));
    }
    if let Some(other) = other
        && !other.requests().is_empty()
    {
        problems.push("the redirect's target got a request".into());
    }
    problems
}

#[test]
fn doctor_and_sync_under_every_fault_leak_nothing() {
    let mut jobs = Vec::new();
    for case in fault_cases() {
        for extra in [Extra::Doctor, Extra::Sync] {
            for json in [false, true] {
                jobs.push((case.clone(), extra, json));
            }
        }
    }
    in_parallel(&jobs, 4, |(case, extra, json)| {
        let mut test = Test::new().checks(&["scan"]).args(&GLOBAL);
        if *json {
            test = test.args(&["--output", "json"]);
        }
        test = match extra {
            Extra::Doctor => test.args(&["doctor", "--name", "scan"]),
            Extra::Sync => {
                let file = test.tempdir().join("checks.yml");
                std::fs::write(&file, SYNC_FILE).unwrap();
                test.token(MAINTAINER_TOKEN)
                    .env("SCANNER_SECRET", SHARED_SECRET)
                    .args(&["sync", "--file", file.to_str().unwrap()])
            }
        };
        let (test, other) = with_fault(test, &case.net);
        let run = test.run();
        let problems = leaks(&run, other.as_ref());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{extra:?} × {} (json: {json}): {}\n{}{}",
                case.name,
                problems.join("; "),
                run.stdout,
                run.stderr
            ))
        }
    });
}

/// Each way of giving the token, for each command: it is sent as
/// PRIVATE-TOKEN and nowhere else in the request, and never printed.
#[test]
fn the_token_from_each_source_goes_only_into_its_header() {
    let sources = [
        "--token",
        "STATUS_CHECK_TOKEN",
        "--token-file",
        "STATUS_CHECK_TOKEN_FILE",
        "GITLAB_TOKEN",
    ];
    let commands: [&[&str]; 5] = [
        &["report", "passed", "--name", "scan"],
        &["list"],
        &["retry", "--name", "scan"],
        &["wait", "--interval", "50ms", "--timeout", "5s"],
        &["run", "--name", "scan", "--", "true"],
    ];
    let mut jobs = Vec::new();
    for source in sources {
        for command in commands {
            jobs.push((source, command));
        }
    }
    in_parallel(&jobs, 4, |(source, command)| {
        let mut test = Test::new()
            .checks(&["scan"])
            .world(|w| w.set_status(42, 7, "scan", "failed"))
            .unset("STATUS_CHECK_TOKEN")
            .args(&["--verbose", "--output", "json"]);
        let file = test.tempdir().join("token");
        std::fs::write(&file, format!("{DEV_TOKEN}\n")).unwrap();
        let file = file.to_str().unwrap().to_owned();
        test = match *source {
            "--token" => test.args(&["--token", DEV_TOKEN]),
            "--token-file" => test.args(&["--token-file", &file]),
            "STATUS_CHECK_TOKEN_FILE" => test.env("STATUS_CHECK_TOKEN_FILE", &file),
            var => test.env(var, DEV_TOKEN),
        };
        let run = test.args(command).run();
        let mut problems = leaks(&run, None);
        if run.requests().is_empty() {
            problems.push("no request".into());
        }
        for r in run.requests() {
            if r.auth() != Auth::PrivateToken(DEV_TOKEN.into()) {
                problems.push(format!("{} {} carried {:?}", r.method, r.path, r.auth()));
            }
            let elsewhere = r
                .headers
                .iter()
                .filter(|(name, _)| name != "private-token")
                .any(|(_, value)| value.contains(DEV_TOKEN));
            if elsewhere || r.body.contains(DEV_TOKEN) {
                problems.push(format!(
                    "the token in another header or the body of {}",
                    r.path
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{source} / {}: {} (exit {})\n{}",
                command[0],
                problems.join("; "),
                run.code,
                run.stderr
            ))
        }
    });
}

/// Every redirect status, for every command: not followed, so the second
/// host never sees a request (nor the token).
#[test]
fn a_redirect_never_takes_the_token_along_for_any_command() {
    let commands: [&[&str]; 4] = [
        &["report", "passed", "--name", "scan"],
        &["list"],
        &["wait", "--interval", "50ms", "--timeout", "2s"],
        &["run", "--name", "scan", "--", "true"],
    ];
    for code in [301, 302, 307, 308] {
        for command in commands {
            let second = FakeGitlab::start(World::new("17.5.0"));
            let location = format!("{}/api/v4/anything", second.base_url());
            let run = Test::new()
                .checks(&["scan"])
                .args(&["--verbose"])
                .args(command)
                .fault(
                    Fault::new(FaultKind::Redirect {
                        code,
                        location: location.clone(),
                    })
                    .times(100),
                )
                .run();
            run.code(5)
                .stderr_has(&format!("answered {code}, a redirect to {location}"))
                .no_token_in_output();
            assert!(
                second.requests().is_empty(),
                "{code} {}: the redirect target was contacted",
                command[0]
            );
        }
    }
}
