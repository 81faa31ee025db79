//! `cargo xtask foreign --exe PATH [--windows] [-- RUNNER ARGS...]`: a release binary
//! built for another platform, run through RUNNER (`wine`, `qemu-s390x-static`, ...)
//! against the fake GitLab, as a job would use it: `--version`, report, list, doctor,
//! wait, run with a passing and a failing command, the token from `--token-file` and
//! from a File-type variable, and https trusted through `--ca-file` and
//! `CI_SERVER_TLS_CA_FILE` (refused without them, after reading the system's store).
//! `--windows`: paths are given as
//! Wine's `Z:` drive sees them, and commands run through `cmd /c`.
//!
//! Prints one line per check; exits 1 at the first that fails, showing the output.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fake_gitlab::{DEV_TOKEN, FakeGitlab, SHA_A, World};

pub(crate) const USAGE: &str = "cargo xtask foreign --exe PATH [--windows] [-- RUNNER ARGS...]";

pub(crate) struct Foreign {
    exe: PathBuf,
    windows: bool,
    runner: Vec<String>,
    dir: PathBuf,
}

struct Ran {
    code: i32,
    output: String,
}

/// One check of the binary: what it shows, and how.
type Check = (&'static str, fn(&Foreign) -> Result<(), String>);

impl Foreign {
    pub(crate) fn from_args(args: &[String]) -> Result<Foreign, String> {
        let (own, runner) = match args.iter().position(|a| a == "--") {
            Some(i) => (&args[..i], args[i + 1..].to_vec()),
            None => (args, Vec::new()),
        };
        let mut exe = None;
        let mut windows = false;
        let mut it = own.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--exe" => exe = it.next().map(PathBuf::from),
                "--windows" => windows = true,
                other => return Err(format!("unknown argument {other}")),
            }
        }
        let exe = exe.ok_or("--exe PATH is required")?;
        let exe = fs::canonicalize(&exe).map_err(|e| format!("{}: {e}", exe.display()))?;
        let dir = std::env::temp_dir().join(format!("status-check-foreign-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Foreign {
            exe,
            windows,
            runner,
            dir,
        })
    }

    /// Every check, in order; the first failure ends the run.
    pub(crate) fn check_all(&self) -> Result<usize, String> {
        let checks: [Check; 7] = [
            ("--version", Foreign::version),
            ("report, list and doctor", Foreign::report_list_doctor),
            ("run: a passing and a failing command", Foreign::run),
            ("wait: the gate passes", Foreign::wait),
            (
                "the token from --token-file and a File variable",
                Foreign::token_files,
            ),
            ("https: --ca-file and CI_SERVER_TLS_CA_FILE", Foreign::tls),
            ("no token in any output", Foreign::no_token),
        ];
        for (what, check) in &checks {
            check(self).map_err(|e| format!("{what}: {e}"))?;
            println!("ok    {what}");
        }
        let _ = fs::remove_dir_all(&self.dir);
        Ok(checks.len())
    }

    fn version(&self) -> Result<(), String> {
        let ran = self.exec(&[], &["--version"])?;
        expect(&ran, 0, &["status-check "])
    }

    fn report_list_doctor(&self) -> Result<(), String> {
        let fake = FakeGitlab::start(World::demo());
        let env = job_env(&fake.api_url());
        let ran = self.exec(&env, &["report", "passed", "--name", "security-scan"])?;
        expect(&ran, 0, &["reported passed"])?;
        shows(&fake, "security-scan", "passed")?;
        let ran = self.exec(&env, &["list"])?;
        expect(&ran, 0, &["security-scan", "passed", "license-check"])?;
        let ran = self.exec(&env, &["doctor"])?;
        expect(&ran, 0, &["11 ok", "status checks should work here"])
    }

    fn run(&self) -> Result<(), String> {
        let fake = FakeGitlab::start(World::demo());
        let env = job_env(&fake.api_url());
        let mut args = vec!["run", "--name", "license-check", "--"];
        args.extend(self.shell("exit 3"));
        let ran = self.exec(&env, &args)?;
        expect(&ran, 3, &["exited with 3", "reported failed"])?;
        shows(&fake, "license-check", "failed")?;
        let mut args = vec!["run", "--name", "license-check", "--"];
        args.extend(self.shell("echo all good"));
        let ran = self.exec(&env, &args)?;
        expect(&ran, 0, &["all good", "exited with 0", "reported passed"])?;
        shows(&fake, "license-check", "passed")
    }

    fn wait(&self) -> Result<(), String> {
        let fake = FakeGitlab::start(World::demo());
        fake.world(|w| {
            for name in ["security-scan", "license-check"] {
                w.set_status(42, 7, name, "passed");
            }
        });
        let env = job_env(&fake.api_url());
        let args = [
            "wait",
            "--timeout",
            "60s",
            "--interval",
            "1s",
            "--max-interval",
            "2s",
        ];
        // The last check passes while the gate polls.
        let waiting = self.spawn(&env, &args)?;
        std::thread::sleep(Duration::from_secs(2));
        fake.world(|w| w.set_status(42, 7, "deploy-approval", "passed"));
        let ran = finish(waiting)?;
        expect(&ran, 0, &["passed"])
    }

    fn token_files(&self) -> Result<(), String> {
        let fake = FakeGitlab::start(World::demo());
        let token = self.write("token", DEV_TOKEN)?;
        let mut env = job_env(&fake.api_url());
        env.retain(|(k, _)| k != "STATUS_CHECK_TOKEN");
        let args = [
            "--token-file",
            &token,
            "report",
            "passed",
            "--name",
            "security-scan",
        ];
        expect(&self.exec(&env, &args)?, 0, &["reported passed"])?;
        env.push(("MY_TOKEN_FILE".into(), token.clone()));
        let args = ["--token-variable", "MY_TOKEN_FILE", "report", "failed"];
        let ran = self.exec(&env, &[&args[..], &["--name", "security-scan"]].concat())?;
        expect(&ran, 0, &["reported failed"])?;
        shows(&fake, "security-scan", "failed")
    }

    fn tls(&self) -> Result<(), String> {
        let pki = Pki::new()?;
        let fake = FakeGitlab::start_tls(World::demo(), &pki.chain_pem, &pki.key_pem);
        let ca = self.write("ca.pem", &pki.ca_pem)?;
        let env = job_env(&fake.api_url());
        expect(
            &self.exec(&env, &["--ca-file", &ca, "list"])?,
            0,
            &["security-scan"],
        )?;
        let mut with_var = env.clone();
        with_var.push(("CI_SERVER_TLS_CA_FILE".into(), ca));
        expect(&self.exec(&with_var, &["list"])?, 0, &["security-scan"])?;
        // Without them the handshake fails (exit 5): the system's store was read (on
        // Windows its ROOT store) and lacks this CA. An empty store would be exit 2.
        expect(&self.exec(&env, &["list"])?, 5, &["certificate"])
    }

    fn no_token(&self) -> Result<(), String> {
        let fake = FakeGitlab::start(World::demo());
        let env = job_env(&fake.api_url());
        let ran = self.exec(&env, &["--verbose", "report", "passed", "--name", "nope"])?;
        if ran.output.contains(DEV_TOKEN) {
            return Err(format!("the token is in the output:\n{}", ran.output));
        }
        expect(&ran, 2, &["nope"])
    }

    /// A shell command line as the platform runs it.
    fn shell<'a>(&self, line: &'a str) -> Vec<&'a str> {
        if self.windows {
            vec!["cmd", "/c", line]
        } else {
            vec!["sh", "-c", line]
        }
    }

    /// Writes `text` to a file of this run; returns its path as the binary sees it.
    fn write(&self, name: &str, text: &str) -> Result<String, String> {
        let path = self.dir.join(name);
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(self.seen(&path))
    }

    fn seen(&self, path: &Path) -> String {
        let unix = path.to_string_lossy().into_owned();
        if self.windows {
            format!("Z:{}", unix.replace('/', "\\"))
        } else {
            unix
        }
    }

    fn spawn(
        &self,
        env: &[(String, String)],
        args: &[&str],
    ) -> Result<std::process::Child, String> {
        let (program, before) = match self.runner.split_first() {
            Some((runner, rest)) => (runner.as_str(), rest.to_vec()),
            None => (self.exe.to_str().ok_or("a non-UTF-8 path")?, Vec::new()),
        };
        let mut cmd = Command::new(program);
        cmd.args(before);
        if !self.runner.is_empty() {
            cmd.arg(&self.exe);
        }
        // Only what a runner's job has, and what the runner (Wine, qemu) needs.
        cmd.env_clear();
        for (key, value) in std::env::vars() {
            if key == "PATH" || key == "HOME" || key.starts_with("WINE") || key.starts_with("QEMU")
            {
                cmd.env(key, value);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))
    }

    fn exec(&self, env: &[(String, String)], args: &[&str]) -> Result<Ran, String> {
        finish(self.spawn(env, args)?)
    }
}

fn finish(child: std::process::Child) -> Result<Ran, String> {
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(Ran {
        code: out.status.code().unwrap_or(-1),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

fn job_env(api_url: &str) -> Vec<(String, String)> {
    [
        ("CI", "true"),
        ("GITLAB_CI", "true"),
        ("CI_API_V4_URL", api_url),
        ("CI_PROJECT_ID", "42"),
        ("CI_MERGE_REQUEST_IID", "7"),
        ("CI_COMMIT_SHA", SHA_A),
        ("STATUS_CHECK_TOKEN", DEV_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn expect(ran: &Ran, code: i32, needles: &[&str]) -> Result<(), String> {
    let missing: Vec<&&str> = needles
        .iter()
        .filter(|n| !ran.output.contains(**n))
        .collect();
    if ran.code == code && missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "exit {} (want {code}), missing {missing:?}; output:\n{}",
        ran.code, ran.output
    ))
}

fn shows(fake: &FakeGitlab, check: &str, status: &str) -> Result<(), String> {
    let seen = fake.world(|w| w.status_of(42, 7, check));
    if seen == status {
        Ok(())
    } else {
        Err(format!("the fake shows {check}={seen}, not {status}"))
    }
}

/// A CA and a certificate it signed for 127.0.0.1.
struct Pki {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Result<Pki, String> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let err = |e: rcgen::Error| e.to_string();
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca.distinguished_name
            .push(DnType::CommonName, "status-check foreign test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
        let key = KeyPair::generate().map_err(err)?;
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).map_err(err)?;
        let cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(err)?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
