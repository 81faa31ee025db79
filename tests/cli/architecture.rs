//! docs/architecture.md, checked on the source: imports point down its import order
//! (the order itself as documented), a command never imports another command,
//! `commands/mod.rs` only dispatches, and every module the page names exists and is
//! named.

use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir`, with its path relative to `dir` and its text.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = all_paths(dir)
        .into_iter()
        .filter(|path| path.ends_with(".rs"))
        .map(|path| {
            let text = fs::read_to_string(dir.join(&path)).unwrap();
            (path, text)
        })
        .collect();
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

/// docs/architecture.md's import order, top to bottom: a module imports only modules
/// after it (the entry points, `lib.rs`, `main.rs` and `parse.rs`, import anything).
const IMPORT_ORDER: &[&str] = &[
    "commands",
    "control",
    "checks",
    "config",
    "output",
    "cli",
    "ci",
    "gitlab",
    "backoff",
    "user_file",
    "error",
    "exit",
    "log",
    "names",
    "secret",
    "sha",
    "duration",
    "platform",
];

/// The top-level module a file of `src/` belongs to (`commands/wait/mod.rs` → `commands`).
fn top_module(file: &str) -> &str {
    let first = file.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The `crate::NAME` modules a line imports or names.
fn crate_modules(line: &str) -> Vec<&str> {
    line.match_indices("crate::")
        .map(|(at, _)| {
            let rest = &line[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn imports_only_point_down() {
    let rank = |module: &str| IMPORT_ORDER.iter().position(|m| *m == module);
    let mut upward = Vec::new();
    for (file, text) in rust_files(&src()) {
        let from = top_module(&file);
        if matches!(from, "lib" | "main" | "parse") {
            continue;
        }
        let Some(from_rank) = rank(from) else {
            panic!(
                "src/{file}: its module `{from}` is not in IMPORT_ORDER (nor in docs/architecture.md's order)"
            );
        };
        for line in code_lines_with(&text, "crate::") {
            for to in crate_modules(line) {
                match rank(to) {
                    Some(to_rank) if to_rank > from_rank || to == from => {}
                    _ => upward.push(format!("src/{file} ({from} → {to}): {}", line.trim())),
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "{} import(s) point up docs/architecture.md's import order:\n{}",
        upward.len(),
        upward.join("\n")
    );
}

#[test]
fn the_import_order_is_the_documented_one() {
    let doc = fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let order = doc
        .split("## The import order")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("docs/architecture.md has a fenced import order");
    let mut at = 0;
    for module in IMPORT_ORDER {
        let needle = if src().join(module).is_dir() {
            format!("{module}/")
        } else {
            module.to_string()
        };
        let found = order[at..].find(needle.as_str()).unwrap_or_else(|| {
            panic!("`{needle}` is missing from the documented order, or before the module above it")
        });
        at += found;
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The paths docs/architecture.md names in backticks: `gate/`, `check_ref.rs`, `tests/cli/fuzz.rs`.
fn documented_paths(doc: &str) -> Vec<&str> {
    doc.split('`')
        .skip(1)
        .step_by(2)
        .filter(|token| token.ends_with(".rs") || token.ends_with('/'))
        .filter(|token| token.len() > 1 && !token.contains(' '))
        // Placeholders of the recipes: commands/NAME.rs.
        .filter(|token| !token.contains(|c: char| c.is_ascii_uppercase()))
        .collect()
}

/// Every file and folder of `dir`, relative to it, folders ending in `/`.
fn all_paths(dir: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                paths.push(format!("{relative}/"));
                pending.push(path);
            } else {
                paths.push(relative);
            }
        }
    }
    paths
}

/// A documented path names `path` when it is `path` or its last components.
fn names(documented: &str, path: &str) -> bool {
    path == documented || path.ends_with(&format!("/{documented}"))
}

#[test]
fn every_module_the_architecture_names_exists() {
    let doc = fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let mut known: Vec<String> = all_paths(&src());
    // The fake GitLab's files, named in the recipe for a new endpoint.
    known.extend(all_paths(&repo().join("crates/fake-gitlab/src")));
    let missing: Vec<&str> = documented_paths(&doc)
        .into_iter()
        .filter(|path| !repo().join(path).exists())
        .filter(|path| !known.iter().any(|known| names(path, known)))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md names modules that are gone: {missing:?}"
    );
}

#[test]
fn every_module_is_in_the_architecture() {
    let doc = fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let documented = documented_paths(&doc);
    let unnamed: Vec<String> = all_paths(&src())
        .into_iter()
        .filter(|path| !path.ends_with("mod.rs") && !path.ends_with("_tests.rs"))
        .filter(|path| !documented.iter().any(|d| names(d, path)))
        .collect();
    assert!(
        unnamed.is_empty(),
        "docs/architecture.md's module table does not name: {unnamed:?}"
    );
}
