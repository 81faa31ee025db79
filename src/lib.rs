//! status-check: drive GitLab external status checks from CI jobs.
//!
//! Data flows one way: `cli` (clap types) and `ci` (the environment) are
//! validated into a `config::Config`; a command in `commands` uses the
//! `gitlab` client and returns an `output::Outcome` or an `error::Error`,
//! which `output` prints and `exit` turns into the process exit code.
//! docs/architecture.md draws the layers.
//!
//! The crate's surface is `run` (for `main.rs`), `command` (the clap
//! definition, for `crates/xtask`'s completions and man pages) and, for the
//! property tests, `parse`. Everything else is `pub(crate)`, and the `unreachable_pub` lint
//! (Cargo.toml) keeps it so: a plain `pub` marks what `parse` exports.

mod backoff;
mod checks;
mod ci;
mod cli;
mod commands;
mod config;
mod control;
mod duration;
mod error;
mod exit;
mod gitlab;
mod log;
mod names;
mod output;
#[doc(hidden)]
pub mod parse;
mod platform;
mod secret;
mod sha;
mod user_file;

use std::ffi::OsString;

/// The command line's clap definition, for the build-time generators of
/// `crates/xtask` (shell completions and man pages), which keep their crates out
/// of the binary. Not a stable API; the binary never calls it.
#[doc(hidden)]
pub fn command() -> clap::Command {
    <cli::Cli as clap::CommandFactory>::command()
}

/// Runs status-check with these arguments and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match cli::parse(&args) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            // clap does not say which input: name it.
            return output::emit_error(&ci::not_utf8(&args), cli::OutputFormat::Text);
        }
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for usage errors.
            return if e.use_stderr() {
                exit::Code::Usage.as_u8()
            } else {
                0
            };
        }
    };
    let ci = ci::CiContext::from_env();
    let log = log::Log::new(cli.global.verbose, ci.gitlab_ci);
    let format = cli.global.output;
    // `doctor` reports invalid inputs as lines instead of stopping at the first.
    let cfg = if matches!(cli.command, cli::Command::Doctor(_)) {
        Ok(config::Config::build_lenient(&cli.global, ci))
    } else {
        config::Config::build(&cli.global, ci)
    };
    // Every flag is validated before any command runs: commands get typed values.
    let result = cfg.and_then(|cfg| {
        let task = cfg.task(&cli.command)?;
        commands::dispatch(task, &cfg, &log)
    });
    match result {
        Ok(outcome) => output::emit(&outcome, format),
        Err(error) => output::emit_error(&error, format),
    }
}
