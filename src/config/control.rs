//! An external control's inputs (`control`, and `run`/`doctor` with `--control-id`):
//! its id, the project (a number: the signature covers it as GitLab decodes it), and
//! the secret, from `--secret-file`, the variable `--secret-variable` names, or
//! `STATUS_CHECK_CONTROL_SECRET` (its value, or a File variable's file).

use super::named_variable::{self, NamedVariable};
use super::{Config, Sourced};
use crate::cli::ControlSelector;
use crate::error::Error;
use crate::secret::Secret;
use crate::user_file;

const CONTROL_ID: &str = "--control-id/STATUS_CHECK_CONTROL_ID";
const SECRET_VARIABLE: &str = "--secret-variable/STATUS_CHECK_CONTROL_SECRET_VARIABLE";
const SECRET_FILE: &str = "--secret-file/STATUS_CHECK_CONTROL_SECRET_FILE";
/// The variable read when neither flag names another.
const DEFAULT_SECRET_VARIABLE: &str = "STATUS_CHECK_CONTROL_SECRET";

/// Which control, on which project, with which secret: validated here.
#[derive(Debug)]
pub(crate) struct Control {
    pub id: Sourced<u64>,
    pub project_id: Sourced<u64>,
    pub secret: Secret<String>,
    /// Where the secret came from, for messages (never the value).
    pub secret_source: String,
}

impl Config {
    /// The control `args` name, or `None` without `--control-id`.
    pub(crate) fn control(&self, args: &ControlSelector) -> Result<Option<Control>, Error> {
        let Some(id) = self.control_id(args)? else {
            return Ok(None);
        };
        let project_id = self.control_project()?;
        let (secret, secret_source) = self.control_secret(args)?;
        Ok(Some(Control {
            id,
            project_id,
            secret,
            secret_source,
        }))
    }

    /// `--control-id`, when given.
    pub(crate) fn control_id(&self, args: &ControlSelector) -> Result<Option<Sourced<u64>>, Error> {
        let Some(raw) = args.control_id.as_deref().filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        match raw.trim().parse::<u64>() {
            Ok(value) if value > 0 => Ok(Some(Sourced {
                value,
                source: CONTROL_ID,
            })),
            _ => Err(Error::usage(format!(
                "{CONTROL_ID} `{raw}` is not a positive number"
            ))
            .hint("the control's id is a number: the external control of a requirement in the compliance framework")),
        }
    }

    /// The control's secret and where it came from: `--secret-file`, else the variable
    /// `--secret-variable` names, else `STATUS_CHECK_CONTROL_SECRET`.
    pub(crate) fn control_secret(
        &self,
        args: &ControlSelector,
    ) -> Result<(Secret<String>, String), Error> {
        secret(args)
    }

    /// The control `args` name: `control` cannot do without one.
    pub(crate) fn require_control(&self, args: &ControlSelector) -> Result<Control, Error> {
        self.control(args)?.ok_or_else(|| {
            Error::usage("which control? none was named").hint(
                "give --control-id ID (or STATUS_CHECK_CONTROL_ID): the id of an external control of a compliance requirement",
            )
        })
    }

    /// `--project` when given, else the pipeline's own project (`CI_PROJECT_ID`, not
    /// a merge request's target): a number.
    pub(crate) fn control_project(&self) -> Result<Sourced<u64>, Error> {
        let (raw, source) = match &self.project {
            Some(p) if p.source == super::inputs::PROJECT_FLAG => (p.value.raw.clone(), p.source),
            _ => match self
                .ci
                .project_id
                .as_deref()
                .filter(|v| !v.trim().is_empty())
            {
                Some(id) => (id.to_owned(), "CI_PROJECT_ID"),
                None => {
                    return Err(Error::usage(
                        "which project? a control's status is set on a project: none is known",
                    )
                    .hint("in a job, CI_PROJECT_ID says; outside one, give --project ID (the project's number)"));
                }
            },
        };
        match raw.trim().parse::<u64>() {
            Ok(value) if value > 0 => Ok(Sourced { value, source }),
            _ => Err(Error::usage(format!(
                "a control's status is set on a project by its number, and {source} is `{raw}`"
            ))
            .hint("give the project's id (Settings → General, or CI_PROJECT_ID in a job): GitLab signs the path with it")),
        }
    }
}

fn secret(args: &ControlSelector) -> Result<(Secret<String>, String), Error> {
    if let Some(path) = &args.secret_file {
        let text = user_file::read(
            path,
            "the control's secret file",
            &format!("({SECRET_FILE})"),
            "check the path; in a job, a CI/CD variable of type File gives a path",
            |path| std::fs::read_to_string(path),
        )?;
        return validated(&text, SECRET_FILE.to_owned());
    }
    let (name, flag) = match args.secret_variable.as_deref() {
        Some(name) => (name, Some(SECRET_VARIABLE)),
        None => (DEFAULT_SECRET_VARIABLE, None),
    };
    let (text, source) = named_variable::read(&NamedVariable {
        name,
        flag,
        holds: "secret",
        example: DEFAULT_SECRET_VARIABLE,
        fix: format!(
            "define {name} as a masked CI/CD variable holding the control's secret (or of type File), or give --secret-variable NAME or --secret-file PATH; a protected variable exists only in pipelines of protected branches"
        ),
    })?;
    validated(text.expose(), source)
}

/// A secret as read: one trailing newline (a file's) dropped; empty is refused.
fn validated(text: &str, source: String) -> Result<(Secret<String>, String), Error> {
    let value = text.strip_suffix('\n').unwrap_or(text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(Error::usage(format!("the control's secret from {source} is empty"))
            .hint("the secret is the control's HMAC shared secret, as set in the compliance framework"));
    }
    Ok((Secret::new(value.to_owned()), source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_a_file_s_not_the_secret_s() {
        let read = |text: &str| validated(text, "f".into()).map(|(s, _)| s.expose().clone());
        assert_eq!(read("abc\n").unwrap(), "abc");
        assert_eq!(read("abc\r\n").unwrap(), "abc");
        assert_eq!(read("a b ").unwrap(), "a b ");
        assert!(read("\n").is_err());
        assert!(read("").is_err());
    }
}
