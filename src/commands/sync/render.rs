//! The plan as text and JSON, for a dry run and after applying it.

use serde_json::{Value, json};

use super::file::SETTING;
use super::plan::{Change, Plan};
use crate::exit::Code;
use crate::names::quote;
use crate::output::{Outcome, plural};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    DryRun,
    Applied,
}

pub(super) fn render(plan: &Plan, project: &str, file: &str, mode: Mode) -> Outcome {
    let width = plan
        .steps
        .iter()
        .map(|s| quote(&s.name).chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for step in &plan.steps {
        let quoted = quote(&step.name);
        let detail = match step.action {
            Change::Unmanaged => "(not in the file: kept; --prune deletes it)".to_owned(),
            Change::Delete => format!("(id {})", step.id.unwrap_or(0)),
            Change::Unchanged => String::new(),
            Change::Create => format!(
                "({})",
                step.fields
                    .iter()
                    .map(|f| format!("{}: {}", f.name, f.new.as_deref().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Change::Update => format!(
                "({})",
                step.fields
                    .iter()
                    .map(|f| format!(
                        "{}: {} → {}",
                        f.name,
                        f.old.as_deref().unwrap_or("none"),
                        f.new.as_deref().unwrap_or("none")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let line = format!(
            "{} {:<9}  {quoted:<width$}  {detail}",
            step.action.sign(),
            step.action.word()
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if let Some(s) = plan.setting {
        if s.old == s.new {
            text.push_str(&format!("= unchanged  project {SETTING}: {}\n", s.new));
        } else {
            text.push_str(&format!(
                "~ update     project {SETTING}: {} → {}\n",
                s.old, s.new
            ));
        }
    }
    let changes = plan.changes();
    let in_sync = changes == 0;
    let summary = match (mode, in_sync) {
        (_, true) => format!("project {project} matches {file}: nothing to change"),
        (Mode::DryRun, false) => format!(
            "dry run: {} pending for project {project}; nothing was changed (run without --dry-run to apply)",
            plural(changes, "change")
        ),
        (Mode::Applied, false) => {
            format!(
                "applied {} to project {project}",
                plural(plan.applied, "change")
            )
        }
    };
    text.push_str(&summary);
    let checks: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "action": s.action.word(),
                "name": s.name,
                "id": s.id,
                "changes": s.fields.iter().map(|f| json!({
                    "field": f.name,
                    "old": f.old,
                    "new": f.new,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let setting = plan.setting.map(|s| {
        json!({
            "name": SETTING,
            "action": if s.old == s.new { "unchanged" } else { "update" },
            "old": s.old,
            "new": s.new,
        })
    });
    let json = json!({
        "project": project,
        "file": file,
        "dry_run": mode == Mode::DryRun,
        "in_sync": in_sync,
        "changes": changes,
        "applied": plan.applied,
        "checks": checks,
        "project_setting": setting,
        "warnings": plan.warnings,
    });
    let code = if mode == Mode::DryRun && !in_sync {
        Code::CheckFailed
    } else {
        Code::Ok
    };
    Outcome::new(code, text, json)
}
