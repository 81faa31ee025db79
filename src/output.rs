//! Everything status-check prints to stdout: results as text or JSON, and
//! errors. A closed stdout (`status-check list | head -1`) is not an error.

use std::io::{self, Write};

use serde_json::{Value, json};

use crate::cli::OutputFormat;
use crate::error::Error;
use crate::exit::{Code, Status};

/// What a command produced: its exit status and its result in both forms.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub status: Status,
    pub text: String,
    pub json: Value,
}

impl Outcome {
    pub(crate) fn new(status: impl Into<Status>, text: impl Into<String>, json: Value) -> Outcome {
        Outcome {
            status: status.into(),
            text: text.into(),
            json,
        }
    }
}

/// Prints the outcome and returns its exit code.
pub(crate) fn emit(outcome: &Outcome, format: OutputFormat) -> u8 {
    let printed = match format {
        OutputFormat::Text if outcome.text.is_empty() => Ok(()),
        OutputFormat::Text => print_stdout(outcome.text.trim_end()),
        OutputFormat::Json => print_stdout(&outcome.json.to_string()),
    };
    match printed {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Code::Api.as_u8(),
        _ => outcome.status.as_u8(),
    }
}

/// Prints `status-check: error: …` and its hints on stderr (and, with
/// `--output json`, a JSON object on stdout), and returns the exit code.
pub(crate) fn emit_error(error: &Error, format: OutputFormat) -> u8 {
    let mut text = format!("status-check: error: {}", error.message);
    for hint in &error.hints {
        text.push_str("\n  hint: ");
        text.push_str(hint);
    }
    let _ = writeln!(io::stderr().lock(), "{text}");
    if format == OutputFormat::Json {
        let _ = print_stdout(
            &json!({
                "error": error.message,
                "hints": error.hints,
                "exit_code": error.code.as_u8(),
            })
            .to_string(),
        );
    }
    error.code.as_u8()
}

fn print_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()
}

/// `1 check`, `3 checks`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A plain left-aligned table; the last column is not padded.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_counts() {
        assert_eq!(plural(1, "warning"), "1 warning");
        assert_eq!(plural(2, "warning"), "2 warnings");
        assert_eq!(plural(0, "check"), "0 checks");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["ID", "NAME", "STATUS"],
            &[
                vec!["1".into(), "security-scan".into(), "passed".into()],
                vec!["22".into(), "x".into(), "pending".into()],
            ],
        );
        assert_eq!(
            t,
            "ID  NAME           STATUS\n1   security-scan  passed\n22  x              pending"
        );
    }
}
