//! A builder that makes each integration test read like its spec:
//! world (the fake GitLab's state) → environment and arguments → expected
//! exit code, output facts, and the fake's request log.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use fake_gitlab::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_status-check");

/// Every token the fake knows: none may ever appear in any output.
pub const ALL_TOKENS: [&str; 7] = [
    DEV_TOKEN,
    MAINTAINER_TOKEN,
    REPORTER_TOKEN,
    GUEST_TOKEN,
    PROJECT_TOKEN,
    JOB_TOKEN,
    EXPIRED_TOKEN,
];

pub struct Test {
    world: World,
    env: BTreeMap<String, String>,
    args: Vec<String>,
    faults: Vec<Fault>,
    events: Vec<Event>,
    dir: Option<tempdir::TempDir>,
}

/// The `Poll-Interval` of the tests' GitLab (milliseconds).
pub const FAST_POLL_INTERVAL_MS: i64 = 50;

impl Test {
    /// A merge request pipeline on GitLab 17.5: project 42, MR !7 at SHA_A,
    /// a Developer access token in STATUS_CHECK_TOKEN.
    pub fn new() -> Test {
        Test::on_version("17.5.0-ee")
    }

    pub fn on_version(version: &str) -> Test {
        let (major, minor) = major_minor(version);
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_ID", "42"),
            ("CI_PROJECT_PATH", "acme/app"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "42"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ("CI_MERGE_REQUEST_EVENT_TYPE", "detached"),
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_COMMIT_SHA", SHA_A),
            ("CI_COMMIT_REF_NAME", "feature"),
            ("CI_JOB_TOKEN", JOB_TOKEN),
            ("STATUS_CHECK_TOKEN", DEV_TOKEN),
            ("STATUS_CHECK_RETRY_DELAY", "50ms"),
        ] {
            env.insert(k.to_owned(), v.to_owned());
        }
        env.insert("CI_SERVER_VERSION".into(), version.into());
        env.insert("CI_SERVER_VERSION_MAJOR".into(), major.to_string());
        env.insert("CI_SERVER_VERSION_MINOR".into(), minor.to_string());
        let mut world = World::new(version);
        // GitLab's 10 s would make every wait test last tens of seconds: a fast
        // server (an admin's small multiplier). The gate never polls faster than it,
        // so `--interval` below it has no effect. Tests of the default set 10 s.
        world.poll_interval_ms = FAST_POLL_INTERVAL_MS;
        Test {
            world,
            env,
            args: Vec::new(),
            faults: Vec::new(),
            events: Vec::new(),
            dir: None,
        }
    }

    /// A branch pipeline: no MR variables, only the commit.
    pub fn branch_pipeline(mut self) -> Test {
        for k in [
            "CI_MERGE_REQUEST_IID",
            "CI_MERGE_REQUEST_PROJECT_ID",
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
            "CI_MERGE_REQUEST_EVENT_TYPE",
        ] {
            self.env.remove(k);
        }
        self.env.insert("CI_PIPELINE_SOURCE".into(), "push".into());
        self
    }

    pub fn world(mut self, f: impl FnOnce(&mut World)) -> Test {
        f(&mut self.world);
        self
    }

    /// Adds checks (applying to every branch) to project 42.
    pub fn checks(self, names: &[&str]) -> Test {
        self.world(|w| {
            for name in names {
                w.add_check(
                    42,
                    name,
                    &format!("https://checks.example.com/{name}?secret=s3"),
                );
            }
        })
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn unset(mut self, key: &str) -> Test {
        self.env.remove(key);
        self
    }

    pub fn token(self, token: &str) -> Test {
        self.env("STATUS_CHECK_TOKEN", token)
    }

    /// Drops the version variables, so status-check must ask `GET /version`.
    pub fn no_version_vars(self) -> Test {
        self.unset("CI_SERVER_VERSION")
            .unset("CI_SERVER_VERSION_MAJOR")
            .unset("CI_SERVER_VERSION_MINOR")
    }

    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn fault(mut self, fault: Fault) -> Test {
        self.faults.push(fault);
        self
    }

    pub fn event(mut self, event: Event) -> Test {
        self.events.push(event);
        self
    }

    /// A scratch directory for files a test hands to the binary.
    pub fn tempdir(&mut self) -> PathBuf {
        self.dir
            .get_or_insert_with(tempdir::TempDir::new)
            .path()
            .to_path_buf()
    }

    /// Starts the fake, runs the binary against it, and returns what happened.
    pub fn run(self) -> Run {
        let server = FakeGitlab::start(self.world.clone());
        self.run_against(server)
    }

    /// Like `run`, against the fake over HTTPS with this certificate chain and key.
    pub fn run_tls(self, cert_chain_pem: &str, key_pem: &str) -> Run {
        let server = FakeGitlab::start_tls(self.world.clone(), cert_chain_pem, key_pem);
        self.run_against(server)
    }

    pub fn run_against(mut self, server: FakeGitlab) -> Run {
        let env = self.env_for(&server);
        let started = std::time::Instant::now();
        let output = command(&env, &self.args)
            .output()
            .expect("the status-check binary runs");
        Run {
            elapsed: started.elapsed(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            server,
            args: self.args,
            _dir: self.dir,
        }
    }

    /// Starts the fake and the binary, without waiting for it: for tests
    /// that act while it runs (move the MR's head, send a signal).
    pub fn spawn(mut self) -> Running {
        let server = FakeGitlab::start(self.world.clone());
        let env = self.env_for(&server);
        let child = command(&env, &self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the status-check binary starts");
        Running {
            started: std::time::Instant::now(),
            child,
            server,
            args: self.args,
            dir: self.dir,
        }
    }

    /// Installs the faults and events on `server`; the environment pointing at it.
    fn env_for(&mut self, server: &FakeGitlab) -> BTreeMap<String, String> {
        for fault in self.faults.drain(..) {
            server.fault(fault);
        }
        for event in self.events.drain(..) {
            server.on(event);
        }
        let mut env = self.env.clone();
        env.entry("CI_API_V4_URL".into())
            .or_insert_with(|| server.api_url());
        env.entry("CI_SERVER_URL".into())
            .or_insert_with(|| server.base_url());
        env
    }
}

/// The binary while it runs (from `Test::spawn`).
pub struct Running {
    started: std::time::Instant,
    pub child: std::process::Child,
    pub server: FakeGitlab,
    args: Vec<String>,
    dir: Option<tempdir::TempDir>,
}

impl Running {
    /// Sends `signal` (`TERM`, `INT`, ...) to the status-check process only.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits until the fake's state or request log satisfies `pred`; fails
    /// the test (with the binary's output) after `secs` seconds.
    pub fn wait_for(
        self,
        what: &str,
        secs: u64,
        pred: impl Fn(&World, &[LoggedRequest]) -> bool,
    ) -> Running {
        if self
            .server
            .wait_until(std::time::Duration::from_secs(secs), pred)
        {
            return self;
        }
        let run = self.finish_after_kill();
        panic!("timed out waiting for {what}{}", run.context());
    }

    /// Waits for the binary to exit.
    pub fn wait(self) -> Run {
        let output = self
            .child
            .wait_with_output()
            .expect("the status-check binary ends");
        Run {
            elapsed: self.started.elapsed(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            server: self.server,
            args: self.args,
            _dir: self.dir,
        }
    }

    fn finish_after_kill(mut self) -> Run {
        let _ = self.child.kill();
        self.wait()
    }
}

/// Waits until `path` exists (a command under test writes it); false after `secs`.
pub fn wait_for_file(path: &std::path::Path, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    path.exists()
}

/// The binary with exactly this environment (nothing inherited but PATH).
pub fn command(env: &BTreeMap<String, String>, args: &[String]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split(['.', '-']);
    let major = parts.next().unwrap().parse().unwrap();
    let minor = parts.next().unwrap().parse().unwrap();
    (major, minor)
}

pub struct Run {
    pub code: i32,
    /// Wall time of the process, for deadline checks (not benchmarks).
    pub elapsed: std::time::Duration,
    pub stdout: String,
    pub stderr: String,
    pub server: FakeGitlab,
    args: Vec<String>,
    _dir: Option<tempdir::TempDir>,
}

impl Run {
    fn context(&self) -> String {
        format!(
            "\nargs: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- requests ---\n{}",
            self.args,
            self.stdout,
            self.stderr,
            self.requests()
                .iter()
                .map(|r| format!("{} {}?{} → {}", r.method, r.path, r.query, r.status))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }

    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(self.code, expected, "exit code{}", self.context());
        self
    }

    pub fn stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}{}",
            self.context()
        );
        self
    }

    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}{}",
            self.context()
        );
        self
    }

    pub fn stderr_lacks(&self, needle: &str) -> &Run {
        assert!(
            !self.stderr.contains(needle),
            "stderr has {needle:?}{}",
            self.context()
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}){}", self.context()))
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.server.requests()
    }

    pub fn request_count(&self, expected: usize) -> &Run {
        assert_eq!(
            self.requests().len(),
            expected,
            "request count{}",
            self.context()
        );
        self
    }

    /// Requests whose method is `method` and whose path ends with `suffix`.
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    pub fn status_of(&self, check: &str) -> String {
        self.server.world(|w| w.status_of(42, 7, check))
    }

    /// No token of the fake appears in stdout or stderr.
    pub fn no_token_in_output(&self) -> &Run {
        for token in ALL_TOKENS {
            assert!(
                !self.stdout.contains(token),
                "token in stdout{}",
                self.context()
            );
            assert!(
                !self.stderr.contains(token),
                "token in stderr{}",
                self.context()
            );
        }
        self
    }
}

/// A small temporary directory, removed on drop (no dependency for this).
pub mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    static NEXT: AtomicU32 = AtomicU32::new(0);

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            let n = NEXT.fetch_add(1, Ordering::SeqCst);
            let path =
                std::env::temp_dir().join(format!("status-check-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
