//! The one-way rule of docs/architecture.md, checked on the source: a command never
//! imports another command, `commands/mod.rs` only dispatches, and the lower layers
//! never reach up (`checks` knows no command, `gitlab` knows neither, nor the config).

use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`, with its path relative to `dir`.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((relative, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The lines of `text` that mention `needle`, outside comments and the file's unit
/// tests (where `super` is the file itself).
fn code_lines_with<'t>(text: &'t str, needle: &str) -> Vec<&'t str> {
    let lines: Vec<&str> = text.lines().collect();
    let tests = lines
        .windows(2)
        .position(|w| w[0] == "#[cfg(test)]" && w[1].ends_with("mod tests {"))
        .unwrap_or(lines.len());
    lines[..tests]
        .iter()
        .copied()
        .filter(|line| !line.trim_start().starts_with("//"))
        .filter(|line| line.contains(needle))
        .collect()
}

#[test]
fn a_command_never_imports_another() {
    let mut problems = Vec::new();
    for (file, text) in rust_files(&src().join("commands")) {
        if file == "mod.rs" {
            continue;
        }
        for line in code_lines_with(&text, "crate::commands") {
            problems.push(format!("commands/{file}: {}", line.trim()));
        }
        // In commands/NAME.rs `super` is the dispatcher and every other command; in
        // commands/NAME/PART.rs it is the command's own module, and `super::super::` the rest.
        let reaches_out = if file.contains('/') {
            "super::super::"
        } else {
            "super::"
        };
        for line in code_lines_with(&text, reaches_out) {
            problems.push(format!("commands/{file}: {}", line.trim()));
        }
    }
    assert!(
        problems.is_empty(),
        "a command imports another (what several need goes to src/checks/):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_commands_module_only_dispatches() {
    let text = fs::read_to_string(src().join("commands/mod.rs")).unwrap();
    let functions: Vec<&str> = code_lines_with(&text, "fn ");
    assert_eq!(
        functions.len(),
        1,
        "commands/mod.rs holds one function, dispatch: {functions:?}"
    );
    for kind in ["struct ", "enum ", "impl ", "trait "] {
        assert!(
            code_lines_with(&text, kind).is_empty(),
            "commands/mod.rs defines a type ({kind}): it belongs in src/checks/"
        );
    }
}

#[test]
fn the_lower_layers_never_reach_up() {
    let rules: [(&str, &[&str]); 2] = [
        ("checks", &["crate::commands"]),
        (
            "gitlab",
            &[
                "crate::commands",
                "crate::checks",
                "crate::config",
                "crate::cli",
            ],
        ),
    ];
    let mut problems = Vec::new();
    for (layer, above) in rules {
        for (file, text) in rust_files(&src().join(layer)) {
            for needle in above {
                for line in code_lines_with(&text, needle) {
                    problems.push(format!("{layer}/{file}: {}", line.trim()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
