//! The checks file of `status-check sync`: YAML (or JSON) → validated specs.
//!
//! ```yaml
//! only_allow_merge_if_all_status_checks_passed: true   # optional
//! checks:
//!   - name: security-scan
//!     external_url: https://scanner.example.com/hook
//!     protected_branches: [main, release]   # optional: names; none = every branch
//!     shared_secret_env: SCANNER_SECRET      # optional: the variable holding the HMAC secret
//! ```
//!
//! YAML is parsed by yaml-rust2 into a JSON value, so both formats share one
//! validator, which names the file, the entry and the key of every problem.
//! Unknown keys are errors: a typo must not silently drop a setting.

use std::path::Path;

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::Error;
use crate::names::quote;
use crate::user_file;

pub(super) const SETTING: &str = "only_allow_merge_if_all_status_checks_passed";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SyncFile {
    /// "Status checks must succeed", when the file sets it.
    pub only_allow_merge: Option<bool>,
    pub checks: Vec<CheckSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CheckSpec {
    /// Position in the file, for messages (`checks[2]`).
    pub index: usize,
    pub name: String,
    pub external_url: String,
    /// Protected branch names, without duplicates; empty = every branch.
    pub protected_branches: Vec<String>,
    /// The variable holding the shared secret (never the secret itself).
    pub shared_secret_env: Option<String>,
}

impl CheckSpec {
    /// `checks[2] ("security-scan")`, for messages.
    pub(super) fn label(&self) -> String {
        format!("checks[{}] ({})", self.index, quote(&self.name))
    }
}

const EXAMPLE: &str = "the file looks like: `checks: [{name: security-scan, external_url: https://scanner.example.com/hook, protected_branches: [main], shared_secret_env: SCANNER_SECRET}]` (see the README, \"Checks as code\")";

/// Reads and validates the file at `path`.
pub(super) fn load(path: &Path) -> Result<SyncFile, Error> {
    let text = user_file::read(
        path,
        "the checks file",
        "(--file/STATUS_CHECK_SYNC_FILE)",
        "give the path of a YAML or JSON file, relative to the job's working directory",
        |path| std::fs::read_to_string(path),
    )?;
    parse(&text, &path.display().to_string())
}

/// Parses `text`; `file` names it in messages. JSON when the name ends in
/// `.json`, else YAML (which also reads most JSON).
pub(super) fn parse(text: &str, file: &str) -> Result<SyncFile, Error> {
    let value = if file.to_ascii_lowercase().ends_with(".json") {
        serde_json::from_str(text)
            .map_err(|e| Error::usage(format!("{file} is not valid JSON: {e}")).hint(EXAMPLE))?
    } else {
        yaml_to_json(text, file)?
    };
    validate(&value, file)
}

fn yaml_to_json(text: &str, file: &str) -> Result<Value, Error> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        Error::usage(format!(
            "{file} is not valid YAML: {} (line {}, column {})",
            e.info(),
            e.marker().line(),
            e.marker().col() + 1
        ))
        .hint("YAML indents with spaces, not tabs; quote values that contain `: ` or start with a special character")
    })?;
    match docs.as_slice() {
        [] => Err(Error::usage(format!("{file} is empty")).hint(EXAMPLE)),
        [doc] => convert(doc, file, ""),
        more => Err(Error::usage(format!(
            "{file} holds {} YAML documents (separated by `---`); give one",
            more.len()
        ))),
    }
}

/// Where a value sits in the file, for messages: `checks[0].name`, or "the top level".
fn place(at: &str) -> &str {
    if at.is_empty() { "the top level" } else { at }
}

fn convert(yaml: &Yaml, file: &str, at: &str) -> Result<Value, Error> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(text.clone()), Value::Number),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(item, file, &format!("{}[{i}]", place(at))))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (key, item) in hash {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    other => {
                        return Err(Error::usage(format!(
                            "{file}: {} has a key that is not a string ({other:?})",
                            place(at)
                        )));
                    }
                };
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                let value = convert(item, file, &path)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(Error::usage(format!(
                "{file}: {} uses a YAML alias or an invalid value; write the value out",
                place(at)
            )));
        }
    })
}

fn validate(value: &Value, file: &str) -> Result<SyncFile, Error> {
    let bad = |message: String| Error::usage(format!("{file}: {message}")).hint(EXAMPLE);
    let Value::Object(top) = value else {
        return Err(bad(format!(
            "the top level must be a mapping with a `checks` list, not {}",
            kind(value)
        )));
    };
    for key in top.keys() {
        if key != "checks" && key != SETTING {
            return Err(bad(format!(
                "unknown key `{key}` at the top level (known: checks, {SETTING})"
            )));
        }
    }
    let only_allow_merge = match top.get(SETTING) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(bad(format!(
                "{SETTING} must be true or false, not {}",
                kind(other)
            )));
        }
    };
    let items = match top.get("checks") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(bad(
                "no `checks` list (write `checks: []` to declare that the project has none)"
                    .to_owned(),
            ));
        }
        Some(other) => return Err(bad(format!("`checks` must be a list, not {}", kind(other)))),
    };
    let mut checks: Vec<CheckSpec> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let spec = check_spec(index, item).map_err(bad)?;
        if let Some(first) = checks.iter().find(|c| c.name == spec.name) {
            return Err(bad(format!(
                "checks[{index}] repeats the name {} of checks[{}]: names are unique in a project",
                quote(&spec.name),
                first.index
            )));
        }
        if let Some(first) = checks.iter().find(|c| c.external_url == spec.external_url) {
            return Err(bad(format!(
                "{} repeats the external_url of {}: GitLab requires each check's URL to be unique in a project",
                spec.label(),
                first.label()
            )));
        }
        checks.push(spec);
    }
    Ok(SyncFile {
        only_allow_merge,
        checks,
    })
}

fn check_spec(index: usize, item: &Value) -> Result<CheckSpec, String> {
    let at = format!("checks[{index}]");
    let Value::Object(map) = item else {
        return Err(format!(
            "{at} must be a mapping with name and external_url, not {}",
            kind(item)
        ));
    };
    let name = match map.get("name") {
        // Exactly as written: GitLab stores names as given, spaces included.
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(format!("{at}: `name` is empty")),
        None | Some(Value::Null) => return Err(format!("{at} has no `name`")),
        Some(other) => {
            return Err(format!(
                "{at}: `name` must be a string, not {} (quote it)",
                kind(other)
            ));
        }
    };
    let at = format!("{at} ({})", quote(&name));
    for key in map.keys() {
        match key.as_str() {
            "name" | "external_url" | "protected_branches" | "shared_secret_env" => {}
            "shared_secret" => {
                return Err(format!(
                    "{at}: do not write the secret into the file; put it in a masked CI/CD variable and give the variable's name as `shared_secret_env`"
                ));
            }
            other => {
                return Err(format!(
                    "{at}: unknown key `{other}` (known: name, external_url, protected_branches, shared_secret_env)"
                ));
            }
        }
    }
    let external_url = match map.get("external_url") {
        Some(Value::String(s)) => s.trim().to_owned(),
        None | Some(Value::Null) => return Err(format!("{at} has no `external_url`")),
        Some(other) => {
            return Err(format!(
                "{at}: `external_url` must be a string, not {}",
                kind(other)
            ));
        }
    };
    let host = external_url
        .strip_prefix("https://")
        .or_else(|| external_url.strip_prefix("http://"));
    if !host.is_some_and(|h| !h.is_empty() && !h.starts_with('/'))
        || external_url.contains(char::is_whitespace)
    {
        return Err(format!(
            "{at}: external_url `{}` is not an http(s) URL",
            redact_url(&external_url)
        ));
    }
    let mut protected_branches: Vec<String> = Vec::new();
    match map.get("protected_branches") {
        None | Some(Value::Null) => {}
        Some(Value::Array(names)) => {
            for (i, name) in names.iter().enumerate() {
                match name {
                    Value::String(s) if !s.trim().is_empty() => {
                        let s = s.trim().to_owned();
                        if !protected_branches.contains(&s) {
                            protected_branches.push(s);
                        }
                    }
                    other => {
                        return Err(format!(
                            "{at}: protected_branches[{i}] must be a branch name, not {} (quote names like \"1.0\")",
                            kind(other)
                        ));
                    }
                }
            }
        }
        Some(Value::String(s)) => {
            return Err(format!(
                "{at}: protected_branches must be a list, e.g. [{s}]"
            ));
        }
        Some(other) => {
            return Err(format!(
                "{at}: protected_branches must be a list of branch names, not {}",
                kind(other)
            ));
        }
    }
    let shared_secret_env = match map.get("shared_secret_env") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_variable_name(s.trim()) => Some(s.trim().to_owned()),
        Some(Value::String(s)) => {
            return Err(format!(
                "{at}: shared_secret_env must name a variable (letters, digits, _), not `{}`; the secret itself goes in that variable",
                s.chars().take(40).collect::<String>()
            ));
        }
        Some(other) => {
            return Err(format!(
                "{at}: shared_secret_env must be a variable name, not {}",
                kind(other)
            ));
        }
    };
    Ok(CheckSpec {
        index,
        name,
        external_url,
        protected_branches,
        shared_secret_env,
    })
}

fn is_variable_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A URL for output: the query string (which may carry a secret) is hidden.
pub(super) fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = parse(text, "checks.yml").unwrap_err();
        assert_eq!(e.code, crate::exit::Code::Usage);
        assert!(e.message.starts_with("checks.yml"), "{}", e.message);
        e.message
    }

    #[test]
    fn a_bad_key_is_named_by_its_place() {
        assert_eq!(
            err("checks:\n  - {name: a, external_url: https://a, 3: x}\n"),
            "checks.yml: checks[0] has a key that is not a string (Integer(3))"
        );
        assert_eq!(
            err("7: x\n"),
            "checks.yml: the top level has a key that is not a string (Integer(7))"
        );
    }

    #[test]
    fn reads_the_documented_shape() {
        let f = parse(
            "# the project's checks\n\
             only_allow_merge_if_all_status_checks_passed: true\n\
             checks:\n\
             \x20 - name: security-scan\n\
             \x20   external_url: https://scanner.example.com/hook\n\
             \x20   protected_branches: [main, release, main]\n\
             \x20   shared_secret_env: SCANNER_SECRET\n\
             \x20 - name: 'license check'\n\
             \x20   external_url: \"https://lic.example.com/x?team=a\"\n",
            "checks.yml",
        )
        .unwrap();
        assert_eq!(f.only_allow_merge, Some(true));
        assert_eq!(f.checks.len(), 2);
        let a = &f.checks[0];
        assert_eq!(a.name, "security-scan");
        assert_eq!(a.protected_branches, ["main", "release"]);
        assert_eq!(a.shared_secret_env.as_deref(), Some("SCANNER_SECRET"));
        let b = &f.checks[1];
        assert_eq!(b.name, "license check");
        assert_eq!(b.index, 1);
        assert!(b.protected_branches.is_empty());
        assert_eq!(b.shared_secret_env, None);
    }

    #[test]
    fn json_reads_the_same() {
        let json = r#"{"checks":[{"name":"a","external_url":"https://a.example.com","protected_branches":["main"]}]}"#;
        let from_json = parse(json, "checks.json").unwrap();
        let from_yaml = parse(json, "checks.yml").unwrap();
        assert_eq!(from_json, from_yaml);
        assert_eq!(from_json.only_allow_merge, None);
        assert!(
            parse("{", "checks.json")
                .unwrap_err()
                .message
                .contains("not valid JSON")
        );
    }

    #[test]
    fn an_empty_list_is_allowed_but_a_missing_one_is_not() {
        assert!(parse("checks: []", "c.yml").unwrap().checks.is_empty());
        assert!(
            err("only_allow_merge_if_all_status_checks_passed: true\n")
                .contains("no `checks` list")
        );
        assert!(err("").contains("is empty"));
        assert!(err("checks:\n").contains("no `checks` list"));
    }

    #[test]
    fn names_the_entry_and_key_of_each_problem() {
        assert!(err("checks: [{external_url: https://x}]").contains("checks[0] has no `name`"));
        assert!(err("checks: [{name: a}]").contains("checks[0] (\"a\") has no `external_url`"));
        assert!(
            err("checks: [{name: a, external_url: x.example.com}]")
                .contains("external_url `x.example.com` is not an http(s) URL")
        );
        assert!(
            err("checks: [{name: a, external_url: https://x, protected_branch: [main]}]")
                .contains("unknown key `protected_branch`")
        );
        assert!(
            err("checks: [{name: a, external_url: https://x, protected_branches: main}]")
                .contains("must be a list, e.g. [main]")
        );
        assert!(
            err("checks: [{name: a, external_url: https://x, protected_branches: [1.0]}]")
                .contains("quote names")
        );
        assert!(err("checks: [{name: 7, external_url: https://x}]").contains("must be a string"));
        assert!(err("check: []").contains("unknown key `check`"));
        assert!(err("- a\n- b\n").contains("top level must be a mapping"));
        assert!(
            err("checks: []\nonly_allow_merge_if_all_status_checks_passed: yes\n")
                .contains("true or false")
        );
    }

    #[test]
    fn secrets_never_go_in_the_file() {
        let e = err("checks: [{name: a, external_url: https://x, shared_secret: hunter2}]");
        assert!(e.contains("do not write the secret into the file"));
        assert!(!e.contains("hunter2"));
        let e = err("checks: [{name: a, external_url: https://x, shared_secret_env: 'hunter 2!'}]");
        assert!(e.contains("must name a variable"));
    }

    #[test]
    fn names_and_urls_are_unique() {
        let e = err(
            "checks:\n  - {name: a, external_url: https://x}\n  - {name: a, external_url: https://y}\n",
        );
        assert!(
            e.contains("checks[1] repeats the name \"a\" of checks[0]"),
            "{e}"
        );
        let e = err(
            "checks:\n  - {name: a, external_url: https://x}\n  - {name: b, external_url: https://x}\n",
        );
        assert!(e.contains("repeats the external_url of checks[0]"), "{e}");
    }

    #[test]
    fn yaml_errors_give_the_line() {
        let e = err("checks:\n  - name: a\n   external_url: https://x\n");
        assert!(e.contains("not valid YAML") && e.contains("line"), "{e}");
        assert!(err("checks: []\n---\nchecks: []\n").contains("2 YAML documents"));
    }

    #[test]
    fn urls_lose_their_query_in_output() {
        assert_eq!(redact_url("https://x/h?token=s3"), "https://x/h?…");
        assert_eq!(redact_url("https://x/h"), "https://x/h");
    }
}
