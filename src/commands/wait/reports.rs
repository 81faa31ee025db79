//! Report files for GitLab: JUnit XML (`artifacts:reports:junit`, shown in
//! the MR widget) and dotenv (`artifacts:reports:dotenv`, variables for
//! later jobs).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use crate::config::WaitTask;
use crate::error::Error;
use crate::exit::Code;
use crate::sha::Sha;

/// One check's final state, as the gate saw it.
pub struct CheckResult {
    pub iid: u64,
    pub name: String,
    pub status: String,
    /// Seconds from the start of the wait to this status.
    pub seconds: f64,
}

pub struct GateReport<'a> {
    /// `passed`, `failed`, `timeout`, `stale` or `error`.
    pub result: &'a str,
    pub sha: &'a str,
    pub waited_seconds: f64,
    pub checks: &'a [CheckResult],
}

pub fn junit(report: &GateReport) -> String {
    let failures = report
        .checks
        .iter()
        .filter(|c| c.status == "failed")
        .count();
    let errors = report
        .checks
        .iter()
        .filter(|c| c.status != "failed" && c.status != "passed")
        .count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"external status checks\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        report.checks.len(),
        report.waited_seconds
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"external status checks at {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        escape(&report.sha[..report.sha.len().min(8)]),
        report.checks.len(),
        report.waited_seconds
    );
    for check in report.checks {
        let open = format!(
            "    <testcase classname=\"status-check.mr-{}\" name=\"{}\" time=\"{:.3}\"",
            check.iid,
            escape(&check.name),
            check.seconds
        );
        match check.status.as_str() {
            "passed" => {
                let _ = writeln!(xml, "{open}/>");
            }
            "failed" => {
                let _ = writeln!(
                    xml,
                    "{open}>\n      <failure type=\"failed\" message=\"{} failed on !{}\">The external service reported failed for {} on !{}.</failure>\n    </testcase>",
                    escape(&check.name),
                    check.iid,
                    escape(report.sha),
                    check.iid
                );
            }
            other => {
                let why = match report.result {
                    "timeout" => "still pending when the gate timed out",
                    "stale" => "not decided: the merge request's head moved",
                    _ => "not decided when the gate stopped",
                };
                let _ = writeln!(
                    xml,
                    "{open}>\n      <error type=\"{}\" message=\"{} {why}\">Status {}: {why}.</error>\n    </testcase>",
                    escape(report.result),
                    escape(&check.name),
                    escape(other)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all: C0 controls but
            // tab and line breaks, and the non-characters U+FFFE, U+FFFF.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            '\u{fffe}' | '\u{ffff}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// GitLab accepts at most 20 variables from a dotenv report (the default
/// limit on GitLab.com): 5 summary lines, then per-check lines up to that.
const DOTENV_MAX_VARIABLES: usize = 20;

pub fn dotenv(report: &GateReport) -> String {
    let names_with = |status: &str| {
        report
            .checks
            .iter()
            .filter(|c| c.status == status)
            .map(|c| single_line(&c.name))
            .collect::<Vec<_>>()
            .join(",")
    };
    let pending: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.status != "passed" && c.status != "failed")
        .map(|c| single_line(&c.name))
        .collect();
    let mut lines = vec![
        format!("STATUS_CHECKS_RESULT={}", report.result),
        format!("STATUS_CHECKS_SHA={}", report.sha),
        format!(
            "STATUS_CHECKS_WAITED_SECONDS={}",
            report.waited_seconds.round() as u64
        ),
        format!("STATUS_CHECKS_FAILED={}", names_with("failed")),
        format!("STATUS_CHECKS_PENDING={}", pending.join(",")),
    ];
    let room = DOTENV_MAX_VARIABLES - lines.len();
    let multiple_mrs = report.checks.iter().any(|c| c.iid != report.checks[0].iid);
    for check in report.checks.iter().take(room) {
        let key = if multiple_mrs {
            format!(
                "STATUS_CHECK_MR{}_{}",
                check.iid,
                variable_name(&check.name)
            )
        } else {
            format!("STATUS_CHECK_{}", variable_name(&check.name))
        };
        lines.push(format!("{key}={}", status_value(&check.status)));
    }
    lines.join("\n") + "\n"
}

/// `security-scan` → `SECURITY_SCAN`: letters, digits and underscores only.
pub(crate) fn variable_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A name in a comma-separated dotenv value: no line break, control
/// character or comma can split the line or the list.
fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, ',' | '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A status word as GitLab sent it, safe as a dotenv value: letters,
/// digits, `_` and `-` (an unknown word from a newer server must not be
/// able to add variables).
fn status_value(status: &str) -> String {
    status
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(super) fn write_reports(settings: &mut WaitTask, report: &GateReport) -> Result<(), Error> {
    if let Some((path, file)) = settings.junit.as_mut() {
        write_file(file, path, "--junit", &junit(report))?;
    }
    if let Some((path, file)) = settings.dotenv.as_mut() {
        write_file(file, path, "--dotenv", &dotenv(report))?;
    }
    Ok(())
}

/// On an error, the dotenv report still tells later jobs what happened.
pub(super) fn write_error_reports(settings: &mut WaitTask, sha: &Sha, error: Error) -> Error {
    let result = if error.code == Code::Stale {
        "stale"
    } else {
        "error"
    };
    let report = GateReport {
        result,
        sha: sha.as_str(),
        waited_seconds: 0.0,
        checks: &[],
    };
    match write_reports(settings, &report) {
        Ok(()) => error,
        Err(write_error) => write_error,
    }
}

fn write_file(file: &mut File, path: &Path, flag: &str, text: &str) -> Result<(), Error> {
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| Error::usage(format!("{flag}: cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<CheckResult> {
        vec![
            CheckResult {
                iid: 7,
                name: "security-scan".into(),
                status: "passed".into(),
                seconds: 4.0,
            },
            CheckResult {
                iid: 7,
                name: "lic<ense> & \"co\"".into(),
                status: "failed".into(),
                seconds: 9.5,
            },
            CheckResult {
                iid: 7,
                name: "slow".into(),
                status: "pending".into(),
                seconds: 30.0,
            },
        ]
    }

    #[test]
    fn junit_marks_failures_and_errors_and_escapes() {
        let checks = sample();
        let xml = junit(&GateReport {
            result: "timeout",
            sha: "a1a1a1a1a1",
            waited_seconds: 30.0,
            checks: &checks,
        });
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""));
        assert!(xml.contains("name=\"lic&lt;ense&gt; &amp; &quot;co&quot;\""));
        assert!(xml.contains("<failure type=\"failed\""));
        assert!(xml.contains("<error type=\"timeout\""));
        assert!(!xml.contains("<ense>"));
    }

    #[test]
    fn junit_replaces_what_xml_cannot_carry() {
        let checks = vec![CheckResult {
            iid: 7,
            name: "a\u{fffe}b\u{ffff}\u{1}c".into(),
            status: "passed".into(),
            seconds: 1.0,
        }];
        let xml = junit(&GateReport {
            result: "passed",
            sha: "abc",
            waited_seconds: 1.0,
            checks: &checks,
        });
        assert!(xml.contains("name=\"a?b??c\""), "{xml}");
    }

    #[test]
    fn dotenv_lines() {
        let checks = sample();
        let env = dotenv(&GateReport {
            result: "failed",
            sha: "abc",
            waited_seconds: 9.6,
            checks: &checks,
        });
        assert!(env.starts_with("STATUS_CHECKS_RESULT=failed\n"));
        assert!(env.contains("STATUS_CHECKS_WAITED_SECONDS=10\n"));
        assert!(env.contains("STATUS_CHECK_SECURITY_SCAN=passed\n"));
        assert!(env.contains("STATUS_CHECKS_PENDING=slow\n"));
        assert!(env.lines().all(|l| l.contains('=') && !l.is_empty()));
    }

    #[test]
    fn dotenv_stays_within_gitlabs_variable_limit() {
        let checks: Vec<CheckResult> = (0..50)
            .map(|i| CheckResult {
                iid: 7,
                name: format!("c{i}"),
                status: "passed".into(),
                seconds: 1.0,
            })
            .collect();
        let env = dotenv(&GateReport {
            result: "passed",
            sha: "abc",
            waited_seconds: 1.0,
            checks: &checks,
        });
        assert_eq!(env.lines().count(), DOTENV_MAX_VARIABLES);
    }

    #[test]
    fn dotenv_values_from_gitlab_cannot_add_lines() {
        let checks = vec![
            CheckResult {
                iid: 7,
                name: "evil\nDEPLOY=yes,x\u{2028}y".into(),
                status: "pending\nDEPLOY=yes".into(),
                seconds: 1.0,
            },
            CheckResult {
                iid: 7,
                name: "b".into(),
                status: "failed\r".into(),
                seconds: 1.0,
            },
        ];
        let env = dotenv(&GateReport {
            result: "timeout",
            sha: "abc",
            waited_seconds: 1.0,
            checks: &checks,
        });
        assert_eq!(env.lines().count(), 7, "{env}");
        assert!(!env.lines().any(|l| l.starts_with("DEPLOY")), "{env}");
        assert!(env.contains("STATUS_CHECK_EVIL_DEPLOY_YES_X_Y=pending_DEPLOY_yes\n"));
        assert!(
            env.contains("STATUS_CHECKS_PENDING=evil DEPLOY=yes x y,b\n"),
            "{env}"
        );
    }

    #[test]
    fn variable_names() {
        assert_eq!(variable_name("security-scan"), "SECURITY_SCAN");
        assert_eq!(variable_name("2fa check"), "_2FA_CHECK");
    }
}
