//! `cargo xtask share --out DIR`: status-check's shell completions (bash, zsh,
//! fish) and man pages, generated from its clap definition at build time, in the
//! `share/` layout that `scripts/stage-rootfs` installs under `/usr/share` and
//! the release ships as `status-check-share.tar.gz`:
//!
//! ```text
//! DIR/bash-completion/completions/status-check
//! DIR/zsh/site-functions/_status-check
//! DIR/fish/vendor_completions.d/status-check.fish
//! DIR/man/man1/status-check.1            the command and its global options
//! DIR/man/man1/status-check-<command>.1  one page per command (git-style)
//! ```
//!
//! `cargo xtask foreign --exe PATH ...`: a binary of another platform against the
//! fake GitLab (`foreign.rs`).

mod foreign;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

const USAGE: &str = "usage: cargo xtask share --out DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [task, flag, dir] if task == "share" && flag == "--out" => PathBuf::from(dir),
        [task, rest @ ..] if task == "foreign" => return foreign(rest),
        _ => {
            eprintln!("{USAGE}\n{}", foreign::USAGE);
            return ExitCode::from(2);
        }
    };
    match share(&out) {
        Ok(files) => {
            for file in files {
                println!("{}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask share: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn foreign(args: &[String]) -> ExitCode {
    let foreign = match foreign::Foreign::from_args(args) {
        Ok(foreign) => foreign,
        Err(e) => {
            eprintln!("xtask foreign: {e}\nusage: {}", foreign::USAGE);
            return ExitCode::from(2);
        }
    };
    match foreign.check_all() {
        Ok(n) => {
            println!("{n} checks passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask foreign: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the completions and man pages under `out`; returns the files written.
fn share(out: &Path) -> io::Result<Vec<PathBuf>> {
    let mut cmd = status_check::command();
    cmd.build();
    let name = cmd.get_name().to_owned();
    let mut written = Vec::new();
    for (shell, path) in [
        (Shell::Bash, format!("bash-completion/completions/{name}")),
        (Shell::Zsh, format!("zsh/site-functions/_{name}")),
        (
            Shell::Fish,
            format!("fish/vendor_completions.d/{name}.fish"),
        ),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), &name, &mut text);
        if shell == Shell::Bash {
            text = bash_fix(&name, text);
        }
        written.push(write(out, &path, &text)?);
    }
    // The pages list the commands, each with a page of its own, and not `help`.
    let mut man = status_check::command().disable_help_subcommand(true);
    man.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(man.clone()).render(&mut page)?;
    written.push(write(out, &format!("man/man1/{name}.1"), &page)?);
    // clap takes static names and versions (this process ends right after).
    let version: &'static str = man.get_version().unwrap_or_default().to_owned().leak();
    for sub in man.get_subcommands() {
        // A page named like git's: `status-check-wait(1)`.
        let full: &'static str = format!("{name}-{}", sub.get_name()).leak();
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(full).version(version)).render(&mut page)?;
        written.push(write(out, &format!("man/man1/{full}.1"), &page)?);
    }
    Ok(written)
}

/// clap_complete 4.6's bash script labels the options of a subcommand of a
/// hyphenated command with the hyphen turned into its subcommand separator
/// (`status__subcmd__check__subcmd__wait)`) while its dispatcher names it with
/// the hyphen turned into `__` (`status__check__subcmd__wait`): no subcommand
/// option would complete. The labels are renamed to the dispatcher's names
/// (suite 12-share completes `status-check wait --prog`).
fn bash_fix(name: &str, text: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8(text).expect("clap_complete writes UTF-8");
    let wrong = name.replace('-', "__subcmd__");
    let right = name.replace('-', "__");
    text.replace(&format!("{wrong}__subcmd__"), &format!("{right}__subcmd__"))
        .into_bytes()
}

fn write(out: &Path, relative: &str, content: &[u8]) -> io::Result<PathBuf> {
    let path = out.join(relative);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&path, content)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_three_completions_and_a_page_per_command() {
        let dir = std::env::temp_dir().join(format!("xtask-share-{}", std::process::id()));
        let files = share(&dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        for expected in [
            "bash-completion/completions/status-check",
            "zsh/site-functions/_status-check",
            "fish/vendor_completions.d/status-check.fish",
            "man/man1/status-check.1",
            "man/man1/status-check-wait.1",
            "man/man1/status-check-report.1",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        let bash =
            fs::read_to_string(dir.join("bash-completion/completions/status-check")).unwrap();
        for word in ["--progress-every", "--token-variable", "wait", "sync"] {
            assert!(bash.contains(word), "bash completion lacks {word}");
        }
        let wait = fs::read_to_string(dir.join("man/man1/status-check-wait.1")).unwrap();
        assert!(wait.starts_with(".ie") || wait.contains(".TH"), "{wait}");
        assert!(
            wait.contains("STATUS_CHECK_PROGRESS_EVERY"),
            "the page names the variables"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
