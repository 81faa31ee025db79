//! A secret held by a variable named on the command line (`--token-variable`, and the
//! control secret's variable): its value, or, when the value is an absolute path (what
//! a CI/CD variable of type File holds), the file's content. Every error names the
//! variable and never shows its value, which is a secret or the path of one.

use crate::error::Error;
use crate::secret::Secret;

/// Which variable, named by which flag, holds what.
pub(super) struct NamedVariable<'a> {
    /// The variable's name, as given.
    pub name: &'a str,
    /// The flag (and its variable) that named it, for messages; `None`: a variable read
    /// by default.
    pub flag: Option<&'static str>,
    /// What it holds, for messages: "token", "secret".
    pub holds: &'static str,
    /// A name to give as an example: `STATUS_CHECK_TOKEN`.
    pub example: &'static str,
    /// How to define it, when it is unset or empty.
    pub fix: String,
}

/// The text the variable holds, and how to name where it came from in a message about
/// the text itself (`the variable NAME (flag)`, or `the file in NAME (flag)`).
pub(super) fn read(var: &NamedVariable) -> Result<(Secret<String>, String), Error> {
    let NamedVariable {
        name,
        flag,
        holds,
        example,
        fix,
    } = var;
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        return Err(Error::usage(format!(
            "{} is not a variable name (letters, digits and _, not starting with a digit)",
            flag.unwrap_or("the default")
        ))
        .hint(format!(
            "give the name of the variable that holds the {holds} (e.g. {example}), not the {holds} itself"
        )));
    }
    let named = flag.map_or_else(String::new, |f| format!(" named by {f}"));
    let Some(value) = crate::ci::secret_variable(name)? else {
        return Err(Error::usage(format!("the variable {name}{named} is not set")).hint(fix));
    };
    let raw = value.expose();
    if raw.trim().is_empty() {
        return Err(Error::usage(format!("the variable {name}{named} is empty")).hint(fix));
    }
    let from = flag.map_or_else(String::new, |f| format!(" ({f})"));
    // A File variable holds an absolute path (`/builds/...`, `C:\builds\...`); a
    // secret never looks like one.
    if !std::path::Path::new(raw).is_absolute() {
        return Ok((value.clone(), format!("the variable {name}{from}")));
    }
    let text = std::fs::read_to_string(raw).map_err(|e| {
        Error::usage(format!(
            "cannot read the {holds} file that {name} names{from}: {}",
            io_reason(&e)
        ))
        .hint(format!(
            "{name} holds a path (a CI/CD variable of type File): check that the variable is of type File and its file readable"
        ))
    })?;
    Ok((Secret::new(text), format!("the file in {name}{from}")))
}

/// Why a file could not be read, without its path (`io::Error` shows none).
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
