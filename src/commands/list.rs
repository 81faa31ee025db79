//! `status-check list`: the merge request's checks as a table or JSON.

use serde_json::{Value, json};

use crate::checks::{self, Ctx, Want};
use crate::error::Error;
use crate::exit::Code;
use crate::output::{Outcome, table};

pub(super) fn run(ctx: &Ctx) -> Result<Outcome, Error> {
    let found = checks::find_targets(ctx, None, Want::Open)?;
    if found.mrs.is_empty() {
        if let Some(err) = found.none_found() {
            return Err(err);
        }
        return Ok(Outcome::new(
            Code::Ok,
            found.nothing_open(&ctx.project()?.raw),
            json!([]),
        ));
    }
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for mr in &found.mrs {
        for check in ctx.mr_checks(mr)?.items {
            rows.push(vec![
                mr.label.clone(),
                check.id.to_string(),
                check.name.clone(),
                check.status.to_string(),
                check.external_url.clone(),
            ]);
            items.push(json!({
                "id": check.id,
                "name": check.name,
                "status": check.status.as_str(),
                "external_url": check.external_url,
                "merge_request_iid": mr.iid,
            }));
        }
    }
    let text = if rows.is_empty() {
        format!("no external status checks apply to {}", found.how)
    } else if found.mrs.len() == 1 {
        let rows: Vec<Vec<String>> = rows.into_iter().map(|r| r[1..].to_vec()).collect();
        table(&["ID", "NAME", "STATUS", "URL"], &rows)
    } else {
        table(&["MR", "ID", "NAME", "STATUS", "URL"], &rows)
    };
    Ok(Outcome::new(Code::Ok, text, Value::Array(items)))
}
