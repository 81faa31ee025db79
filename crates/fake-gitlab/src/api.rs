//! The REST v4 endpoints: routing, authentication, authorisation, parameters, JSON.
//!
//! Order on every status-check endpoint (`docs/gitlab-api.md`, row `error-order`):
//! authentication (401), project lookup (404), licence (401), parameters (400), then in the
//! endpoint body the MR (404), the role (403), the check (404) and the SHA (409).
//! Version-dependent rules ask [`crate::era::Era`], whose methods are named after the rows
//! of `docs/gitlab-api.md` they implement.

use crate::era::{Era, StatusParam};
use crate::http::{Request, Response, parse_form, percent_decode};
use crate::script::{Auth, auth_of};
use crate::world::{
    BASE_SHA, Check, MergeRequest, Project, ProtectedBranch, Role, Token, TokenKind, World,
};
use serde_json::{Value, json};

type R<T> = Result<T, Response>;

const CREATED: &str = "2024-01-15T09:30:00.000Z";

fn message(status: u16, m: &str) -> Response {
    Response::json(status, &json!({ "message": m }))
}
fn error(status: u16, e: &str) -> Response {
    Response::json(status, &json!({ "error": e }))
}
fn unauthorized() -> Response {
    message(401, "401 Unauthorized")
}
fn forbidden() -> Response {
    message(403, "403 Forbidden")
}
fn project_not_found() -> Response {
    message(404, "404 Project Not Found")
}
/// Unknown MR iid or check id (lower-case f, as GitLab writes it).
fn not_found() -> Response {
    message(404, "404 Not found")
}
/// `response-404-permission`: what a response gets from a user who may approve the MR
/// but not report on it: `not_found!` up to 18.x, a service's error from 18.9.
fn refused_404(era: Era) -> Response {
    if era.refusal_404_from_service() {
        Response::json(404, &json!({ "message": null }))
    } else {
        message(404, "404 Not Found")
    }
}

/// Unknown route.
pub(crate) fn route_not_found() -> Response {
    error(404, "404 Not Found")
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Route {
    Version,
    User,
    TokenSelf,
    ProjectGet(String),
    ProjectPut(String),
    Member(String, String),
    ProtectedBranches(String),
    ProjectChecks(String),
    ProjectCheckCreate(String),
    ProjectCheckUpdate(String, String),
    ProjectCheckDelete(String, String),
    Mr(String, String),
    MrChecks(String, String),
    MrResponse(String, String),
    MrRetry(String, String, String),
    CommitMrs(String, String),
    /// `PATCH projects/:id/compliance_external_controls/:control_id/status` (signed, no
    /// user: `compliance.rs`).
    ControlStatus(String, String),
}

pub(crate) fn route(method: &str, path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/api/v4/")?;
    let segs: Vec<&str> = rest.split('/').collect();
    let s = |x: &&str| x.to_string();
    Some(match (method, segs.as_slice()) {
        ("GET", ["version"]) => Route::Version,
        ("GET", ["user"]) => Route::User,
        ("GET", ["personal_access_tokens", "self"]) => Route::TokenSelf,
        ("GET", ["projects", id]) => Route::ProjectGet(s(id)),
        ("PUT", ["projects", id]) => Route::ProjectPut(s(id)),
        ("GET", ["projects", id, "members", "all", uid]) => Route::Member(s(id), s(uid)),
        ("GET", ["projects", id, "protected_branches"]) => Route::ProtectedBranches(s(id)),
        ("GET", ["projects", id, "external_status_checks"]) => Route::ProjectChecks(s(id)),
        ("POST", ["projects", id, "external_status_checks"]) => Route::ProjectCheckCreate(s(id)),
        ("PUT", ["projects", id, "external_status_checks", cid]) => {
            Route::ProjectCheckUpdate(s(id), s(cid))
        }
        ("DELETE", ["projects", id, "external_status_checks", cid]) => {
            Route::ProjectCheckDelete(s(id), s(cid))
        }
        ("GET", ["projects", id, "merge_requests", iid]) => Route::Mr(s(id), s(iid)),
        ("GET", ["projects", id, "merge_requests", iid, "status_checks"]) => {
            Route::MrChecks(s(id), s(iid))
        }
        (
            "POST",
            [
                "projects",
                id,
                "merge_requests",
                iid,
                "status_check_responses",
            ],
        ) => Route::MrResponse(s(id), s(iid)),
        (
            "POST",
            [
                "projects",
                id,
                "merge_requests",
                iid,
                "status_checks",
                cid,
                "retry",
            ],
        ) => Route::MrRetry(s(id), s(iid), s(cid)),
        (
            "GET",
            [
                "projects",
                id,
                "repository",
                "commits",
                sha,
                "merge_requests",
            ],
        ) => Route::CommitMrs(s(id), s(sha)),
        (
            "PATCH",
            [
                "projects",
                id,
                "compliance_external_controls",
                cid,
                "status",
            ],
        ) => Route::ControlStatus(s(id), s(cid)),
        _ => return None,
    })
}

impl Route {
    /// The fine-grained permission the route declares (`route_setting :authorization`,
    /// read in 18.9); `None`: it declares none, and a fine-grained token is refused.
    fn permission(&self) -> Option<&'static str> {
        Some(match self {
            Route::Version => "read_metadata",
            Route::User => "read_user",
            Route::TokenSelf => return None,
            Route::ProjectGet(_) => "read_project",
            Route::ProjectPut(_) => "update_project",
            Route::Member(..) => "read_member",
            Route::ProtectedBranches(_) => "read_protected_branch",
            Route::ProjectChecks(_) => "read_external_status_check_service",
            Route::ProjectCheckCreate(_) => "create_external_status_check_service",
            Route::ProjectCheckUpdate(..) => "update_external_status_check_service",
            Route::ProjectCheckDelete(..) => "delete_external_status_check_service",
            Route::Mr(..) => "read_merge_request",
            Route::MrChecks(..) => "read_external_status_check",
            Route::MrResponse(..) => "update_external_status_check",
            Route::MrRetry(..) => "retry_external_status_check",
            Route::CommitMrs(..) => "read_commit_merge_request",
            // `skip_granular_token_authorization`: no token is looked at.
            Route::ControlStatus(..) => return None,
        })
    }

    /// The project a route is about (its `:id`), if it is about one.
    fn project(&self) -> Option<&str> {
        match self {
            Route::Version | Route::User | Route::TokenSelf => None,
            Route::ProjectGet(id)
            | Route::ProjectPut(id)
            | Route::Member(id, _)
            | Route::ProtectedBranches(id)
            | Route::ProjectChecks(id)
            | Route::ProjectCheckCreate(id)
            | Route::ProjectCheckUpdate(id, _)
            | Route::ProjectCheckDelete(id, _)
            | Route::Mr(id, _)
            | Route::MrChecks(id, _)
            | Route::MrResponse(id, _)
            | Route::MrRetry(id, _, _)
            | Route::CommitMrs(id, _)
            | Route::ControlStatus(id, _) => Some(id),
        }
    }
}

/// Does this route answer with a JSON array (for the WrongShape / InvalidJson faults)?
pub(crate) fn expects_array(method: &str, path: &str) -> bool {
    matches!(
        route(method, path),
        Some(
            Route::ProtectedBranches(_)
                | Route::ProjectChecks(_)
                | Route::MrChecks(..)
                | Route::CommitMrs(..)
        )
    )
}

/// Request parameters from the query string and the body (form-urlencoded or JSON), body
/// last so it wins in `get`. Keys lose a trailing `[]`; JSON arrays become repeated keys.
pub(crate) struct Params(Vec<(String, String)>);

fn push_json(out: &mut Vec<(String, String)>, k: &str, v: Value) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push((k.to_string(), s)),
        // An empty array is present but empty (e.g. `protected_branch_ids: []` clears).
        Value::Array(a) if a.is_empty() => out.push((k.to_string(), String::new())),
        Value::Array(a) => a.into_iter().for_each(|x| push_json(out, k, x)),
        other => out.push((k.to_string(), other.to_string())),
    }
}

impl Params {
    pub fn from_request(req: &Request) -> Params {
        let mut v = parse_form(&req.query);
        let ct = req
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = String::from_utf8_lossy(&req.body);
        let looks_json = body.trim_start().starts_with('{');
        if ct.contains("json") || (!ct.contains("form") && looks_json) {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&body) {
                for (k, val) in m {
                    push_json(&mut v, &k, val);
                }
            }
        } else if !body.trim().is_empty() {
            v.extend(parse_form(body.trim()));
        }
        for (k, _) in v.iter_mut() {
            if let Some(stripped) = k.strip_suffix("[]") {
                *k = stripped.to_string();
            }
        }
        Params(v)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn int(&self, k: &str) -> R<Option<u64>> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| error(400, &format!("{k} is invalid"))),
        }
    }

    fn bool(&self, k: &str) -> R<Option<bool>> {
        match self.get(k).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" | "t" => Ok(Some(true)),
                "false" | "0" | "no" | "f" => Ok(Some(false)),
                _ => Err(error(400, &format!("{k} is invalid"))),
            },
        }
    }

    fn ids(&self, k: &str) -> R<Option<Vec<u64>>> {
        let raw = self.all(k);
        if raw.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for v in raw {
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                out.push(
                    part.parse::<u64>()
                        .map_err(|_| error(400, &format!("{k} is invalid")))?,
                );
            }
        }
        Ok(Some(out))
    }
}

struct Ctx<'a> {
    req: &'a Request,
    route: &'a Route,
    /// scheme://host, from the Host header.
    base: String,
    params: Params,
}

/// Answers one request against the world (faults and rate limits are handled by the caller).
pub(crate) fn handle(w: &mut World, req: &Request, base: &str) -> Response {
    let Some(route) = route(&req.method, &req.path) else {
        return route_not_found();
    };
    // `retry-15-7`: before, the route does not exist.
    if matches!(route, Route::MrRetry(..)) && !w.era().has_retry() {
        return route_not_found();
    }
    // `external-controls-17-11`: no user is authenticated; before 17.11, no route.
    if let Route::ControlStatus(id, cid) = &route {
        if !w.era().has_external_controls() {
            return route_not_found();
        }
        return crate::compliance::set_status(w, req, id, cid);
    }
    let ctx = Ctx {
        req,
        route: &route,
        base: base.to_string(),
        params: Params::from_request(req),
    };
    let r = match &route {
        Route::Version => version(w, &ctx),
        Route::User => user(w, &ctx),
        Route::TokenSelf => token_self(w, &ctx),
        Route::ProjectGet(id) => project_get(w, &ctx, id),
        Route::ProjectPut(id) => project_put(w, &ctx, id),
        Route::Member(id, uid) => member(w, &ctx, id, uid),
        Route::ProtectedBranches(id) => protected_branches(w, &ctx, id),
        Route::ProjectChecks(id) => project_checks(w, &ctx, id),
        Route::ProjectCheckCreate(id) => project_check_save(w, &ctx, id, None),
        Route::ProjectCheckUpdate(id, cid) => project_check_save(w, &ctx, id, Some(cid)),
        Route::ProjectCheckDelete(id, cid) => project_check_delete(w, &ctx, id, cid),
        Route::Mr(id, iid) => mr_get(w, &ctx, id, iid),
        Route::MrChecks(id, iid) => mr_checks(w, &ctx, id, iid),
        Route::MrResponse(id, iid) => mr_response(w, &ctx, id, iid),
        Route::MrRetry(id, iid, cid) => mr_retry(w, &ctx, id, iid, cid),
        Route::CommitMrs(id, sha) => commit_mrs(w, &ctx, id, sha),
        Route::ControlStatus(..) => unreachable!("answered above"),
    };
    r.unwrap_or_else(|e| e)
}

// ---------------------------------------------------------------- auth

fn authenticate(w: &World, ctx: &Ctx, allow_job: bool) -> R<Token> {
    let req = ctx.req;
    let found = match auth_of(&req.headers) {
        Auth::None => None,
        Auth::PrivateToken(t) | Auth::Bearer(t) => w
            .tokens
            .iter()
            .find(|k| k.value == t && k.kind != TokenKind::Job),
        Auth::JobToken(t) => w
            .tokens
            .iter()
            .find(|k| k.value == t && k.kind == TokenKind::Job),
    };
    let tok = found.ok_or_else(unauthorized)?;
    match tok.kind {
        TokenKind::Expired => {
            return Err(Response::json(
                401,
                &json!({
                    "error": "invalid_token",
                    "error_description": "Token is expired. You can either do re-authorization or token refresh."
                }),
            ));
        }
        TokenKind::Job if !allow_job => return Err(unauthorized()),
        TokenKind::Job => return Ok(tok.clone()),
        TokenKind::FineGrained if !w.era().fine_grained_tokens() => return Err(unauthorized()),
        TokenKind::FineGrained => granular(w, ctx, tok)?,
        _ => {}
    }
    let api = tok.scopes.iter().any(|s| s == "api");
    let read = tok.scopes.iter().any(|s| s == "read_api");
    if !(api || (read && req.method == "GET")) {
        return Err(Response::json(
            403,
            &json!({
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by the access token.",
                "scope": "api"
            }),
        ));
    }
    Ok(tok.clone())
}

/// Row `fine-grained-tokens`: a fine-grained token's permission for the route, checked
/// while authenticating (`lib/api/helpers.rb` `current_user`), so before the project's 404
/// and the licence's 401; refused with `lib/api/api_guard.rb`'s OAuth-style 403.
fn granular(w: &World, ctx: &Ctx, tok: &Token) -> R<()> {
    let refuse = |description: String| {
        Response::json(
            403,
            &json!({"error": "insufficient_granular_scope", "error_description": description}),
        )
    };
    let undetermined =
        || refuse("Unable to determine boundaries and permissions for authorization".into());
    let Some(permission) = ctx.route.permission() else {
        return Err(undetermined());
    };
    let boundary = match ctx.route.project() {
        Some(id) => {
            let pi = find_project(w, id).ok_or_else(undetermined)?;
            format!(" for \"{}\"", w.projects[pi].path)
        }
        None => String::new(),
    };
    if tok.permissions.iter().any(|p| p == permission) {
        return Ok(());
    }
    Err(refuse(format!(
        "Access denied: Your Personal Access Token lacks the required permissions: [{permission}]{boundary}."
    )))
}

struct Access {
    pi: usize,
    role: Role,
    token: Token,
}

fn find_project(w: &World, seg: &str) -> Option<usize> {
    let s = percent_decode(seg, false);
    if let Ok(id) = s.parse::<u64>() {
        return w.projects.iter().position(|p| p.id == id);
    }
    w.projects
        .iter()
        .position(|p| p.path.eq_ignore_ascii_case(&s))
}

/// Authentication, project lookup (invisible = not found), licence.
fn access(w: &World, ctx: &Ctx, id: &str, allow_job: bool, licence: bool) -> R<Access> {
    let token = authenticate(w, ctx, allow_job)?;
    let pi = find_project(w, id).ok_or_else(project_not_found)?;
    let role = World::role_in(&w.projects[pi], &token).ok_or_else(project_not_found)?;
    // `ff-14-0`: 14.0 also needs the feature flag `ff_external_status_checks`, off by
    // default.
    let flag_off = w.era().needs_feature_flag() && !w.ff_external_status_checks;
    if licence && (!w.projects[pi].ultimate || flag_off) {
        return Err(unauthorized());
    }
    Ok(Access { pi, role, token })
}

fn parse_path_id(v: &str, name: &str) -> R<u64> {
    percent_decode(v, false)
        .parse::<u64>()
        .map_err(|_| error(400, &format!("{name} is invalid")))
}

fn find_mr(p: &Project, iid: u64) -> R<usize> {
    p.merge_requests
        .iter()
        .position(|m| m.iid == iid)
        .ok_or_else(not_found)
}

// ---------------------------------------------------------------- JSON shapes

fn branch_json(p: &Project, b: &ProtectedBranch) -> Value {
    json!({
        "id": b.id,
        "project_id": p.id,
        "name": b.name,
        "created_at": CREATED,
        "updated_at": CREATED,
        "code_owner_approval_required": false
    })
}

fn check_json(w: &World, p: &Project, c: &Check) -> Value {
    let branches: Vec<Value> = c
        .protected_branch_ids
        .iter()
        .filter_map(|id| w.scope_branches(p).find(|(b, _)| b.id == *id))
        .map(|(b, _)| branch_json(p, b))
        .collect();
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "project_id": p.id,
        "external_url": c.external_url,
        "protected_branches": branches
    });
    // `hmac-17-3`: the key exists only where shared secrets do.
    if w.era().has_hmac() {
        v["hmac"] = json!(c.shared_secret.as_deref().is_some_and(|s| !s.is_empty()));
    }
    v
}

fn is_passed(s: &str) -> bool {
    matches!(s, "passed" | "approved" | "pass")
}

fn detailed_merge_status(w: &World, p: &Project, mr: &MergeRequest) -> &'static str {
    if mr.state != "opened" {
        return "not_open";
    }
    let blocked = p.only_allow_merge_if_all_status_checks_passed
        && p.checks
            .iter()
            .filter(|c| w.check_applies(p, c, &mr.target_branch))
            .any(|c| !is_passed(&w.read_status(mr, c.id)));
    if blocked {
        "status_checks_must_pass"
    } else {
        "mergeable"
    }
}

fn mr_json(w: &World, p: &Project, mr: &MergeRequest, base: &str) -> Value {
    json!({
        "id": mr.id,
        "iid": mr.iid,
        "project_id": p.id,
        "title": mr.title,
        "description": "",
        "state": mr.state,
        "created_at": CREATED,
        "updated_at": CREATED,
        "merged_at": if mr.state == "merged" { json!(CREATED) } else { Value::Null },
        "closed_at": null,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": mr.source_project_id,
        "target_project_id": p.id,
        "author": {"id": 1, "username": "dev", "name": "dev", "state": "active"},
        "draft": false,
        "work_in_progress": false,
        "merge_when_pipeline_succeeds": false,
        "merge_status": "can_be_merged",
        "detailed_merge_status": detailed_merge_status(w, p, mr),
        "sha": mr.sha,
        "merge_commit_sha": mr.merge_commit_sha,
        "squash_commit_sha": mr.squash_commit_sha,
        "diff_refs": {"base_sha": BASE_SHA, "head_sha": mr.sha, "start_sha": BASE_SHA},
        "references": {
            "short": format!("!{}", mr.iid),
            "relative": format!("!{}", mr.iid),
            "full": format!("{}!{}", p.path, mr.iid)
        },
        "web_url": format!("{base}/{}/-/merge_requests/{}", p.path, mr.iid)
    })
}

fn project_json(w: &World, p: &Project, role: Role, base: &str) -> Value {
    let name = p.path.rsplit('/').next().unwrap_or(&p.path);
    let mut v = json!({
        "id": p.id,
        "name": name,
        "path": name,
        "path_with_namespace": p.path,
        "name_with_namespace": p.path.replace('/', " / "),
        "default_branch": "main",
        "visibility": "private",
        "web_url": format!("{base}/{}", p.path),
        "permissions": {
            "project_access": {"access_level": role.access_level(), "notification_level": 3},
            "group_access": null
        }
    });
    // `must-succeed-15-9`: exposed only where the setting exists and the project has the
    // licensed feature.
    if w.era().has_must_succeed() && p.ultimate {
        v["only_allow_merge_if_all_status_checks_passed"] =
            json!(p.only_allow_merge_if_all_status_checks_passed);
    }
    v
}

// ---------------------------------------------------------------- pagination

fn page_url(ctx: &Ctx, page: u64, per_page: u64) -> String {
    let mut pairs: Vec<(String, String)> = ctx
        .req
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .filter(|(k, _)| k != "page" && k != "per_page")
        .collect();
    pairs.push(("page".into(), page.to_string()));
    pairs.push(("per_page".into(), per_page.to_string()));
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let q: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}{}?{}", ctx.base, ctx.req.path, q.join("&"))
}

fn paginate(w: &World, ctx: &Ctx, items: Vec<Value>) -> R<Response> {
    let page = ctx.params.int("page")?.unwrap_or(1).max(1);
    let per_page = match ctx.params.int("per_page")? {
        None | Some(0) => 20,
        Some(n) => n.min(100),
    };
    let total = items.len() as u64;
    let start = (page - 1).saturating_mul(per_page);
    let slice: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(per_page as usize)
        .collect();
    let total_pages = total.div_ceil(per_page).max(1);
    let next = (page.saturating_mul(per_page) < total).then_some(page + 1);
    let prev = (page > 1 && page <= total_pages).then(|| page - 1);
    let show_totals = total <= w.total_headers_limit;
    let opt = |o: Option<u64>| o.map(|n| n.to_string()).unwrap_or_default();
    let mut links = Vec::new();
    if let Some(p) = prev {
        links.push(format!("<{}>; rel=\"prev\"", page_url(ctx, p, per_page)));
    }
    if let Some(n) = next {
        links.push(format!("<{}>; rel=\"next\"", page_url(ctx, n, per_page)));
    }
    links.push(format!("<{}>; rel=\"first\"", page_url(ctx, 1, per_page)));
    if show_totals {
        links.push(format!(
            "<{}>; rel=\"last\"",
            page_url(ctx, total_pages, per_page)
        ));
    }
    let mut r = Response::json(200, &Value::Array(slice))
        .header("Link", links.join(", "))
        .header("X-Page", page.to_string())
        .header("X-Per-Page", per_page.to_string())
        .header("X-Next-Page", opt(next))
        .header("X-Prev-Page", opt(prev));
    if show_totals {
        r = r
            .header("X-Total", total.to_string())
            .header("X-Total-Pages", total_pages.to_string());
    }
    Ok(r)
}

// ---------------------------------------------------------------- instance endpoints

fn version(w: &World, ctx: &Ctx) -> R<Response> {
    authenticate(w, ctx, false)?;
    Ok(Response::json(
        200,
        &json!({
            "version": w.version,
            "revision": "abc123",
            "enterprise": !w.version.contains("-ce")
        }),
    ))
}

fn user(w: &World, ctx: &Ctx) -> R<Response> {
    let t = authenticate(w, ctx, false)?;
    Ok(Response::json(
        200,
        &json!({
            "id": t.user_id,
            "username": t.username,
            "name": t.username,
            "state": "active",
            "bot": matches!(t.kind, TokenKind::Project | TokenKind::Group),
            "is_admin": false,
            "web_url": format!("{}/{}", ctx.base, t.username)
        }),
    ))
}

fn token_self(w: &World, ctx: &Ctx) -> R<Response> {
    let t = authenticate(w, ctx, false)?;
    let idx = w
        .tokens
        .iter()
        .position(|k| k.value == t.value)
        .unwrap_or(0);
    Ok(Response::json(
        200,
        &json!({
            "id": idx as u64 + 1,
            "name": format!("{}-token", t.username),
            "revoked": false,
            "created_at": CREATED,
            "scopes": t.scopes,
            "user_id": t.user_id,
            "last_used_at": null,
            "active": true,
            "expires_at": null
        }),
    ))
}

// ---------------------------------------------------------------- project endpoints

fn project_get(w: &World, ctx: &Ctx, id: &str) -> R<Response> {
    let a = access(w, ctx, id, false, false)?;
    Ok(Response::json(
        200,
        &project_json(w, &w.projects[a.pi], a.role, &ctx.base),
    ))
}

fn project_put(w: &mut World, ctx: &Ctx, id: &str) -> R<Response> {
    let a = access(w, ctx, id, false, false)?;
    if a.role < Role::Maintainer {
        return Err(forbidden());
    }
    let v = ctx
        .params
        .bool("only_allow_merge_if_all_status_checks_passed")?;
    let p = &mut w.projects[a.pi];
    if let Some(v) = v {
        p.only_allow_merge_if_all_status_checks_passed = v;
    }
    let p = &w.projects[a.pi];
    Ok(Response::json(200, &project_json(w, p, a.role, &ctx.base)))
}

fn member(w: &World, ctx: &Ctx, id: &str, uid: &str) -> R<Response> {
    let a = access(w, ctx, id, false, false)?;
    let uid = parse_path_id(uid, "user_id")?;
    let p = &w.projects[a.pi];
    let tok = w
        .tokens
        .iter()
        .filter(|t| t.user_id == uid && t.kind != TokenKind::Job)
        .min_by_key(|t| t.kind == TokenKind::Expired)
        .ok_or_else(not_found)?;
    let role = World::role_in(p, tok).ok_or_else(not_found)?;
    Ok(Response::json(
        200,
        &json!({
            "id": tok.user_id,
            "username": tok.username,
            "name": tok.username,
            "state": "active",
            "access_level": role.access_level(),
            "web_url": format!("{}/{}", ctx.base, tok.username)
        }),
    ))
}

/// `GET protected_branches`: `read_code` (Reporter) from 15.11, Maintainer before (row
/// `protected-branches-15-11`); the project's and its top-level group's, `inherited`
/// marking the group's; at most 100 (`ProtectedBranchesFinder::LIMIT`, cut before
/// pagination).
fn protected_branches(w: &World, ctx: &Ctx, id: &str) -> R<Response> {
    let a = access(w, ctx, id, false, false)?;
    let needed = if w.era().protected_branches_read_code() {
        Role::Reporter
    } else {
        Role::Maintainer
    };
    if a.role < needed {
        return Err(forbidden());
    }
    let p = &w.projects[a.pi];
    let level = |id: u64| json!([{"id": id, "access_level": 40, "access_level_description": "Maintainers", "user_id": null, "group_id": null}]);
    // Group rows are listed whenever the group has them (seen in 18.9; the fake's choice
    // for older versions); they scope checks only from 18.0.
    let own = p.protected_branches.iter().map(|b| (b, false));
    let group = p.group_protected_branches.iter().map(|b| (b, true));
    let items = own
        .chain(group)
        .take(100)
        .map(|(b, inherited)| {
            json!({
                "id": b.id,
                "name": b.name,
                "push_access_levels": level(b.id * 10),
                "merge_access_levels": level(b.id * 10 + 1),
                "allow_force_push": false,
                "code_owner_approval_required": false,
                "inherited": inherited
            })
        })
        .collect();
    paginate(w, ctx, items)
}

fn project_checks(w: &World, ctx: &Ctx, id: &str) -> R<Response> {
    let a = access(w, ctx, id, false, true)?;
    if a.role < Role::Maintainer {
        return Err(unauthorized());
    }
    let p = &w.projects[a.pi];
    let items = p.checks.iter().map(|c| check_json(w, p, c)).collect();
    paginate(w, ctx, items)
}

/// POST (cid None) or PUT (cid Some) a project check.
fn project_check_save(w: &mut World, ctx: &Ctx, id: &str, cid: Option<&String>) -> R<Response> {
    let a = access(w, ctx, id, false, true)?;
    if a.role < Role::Maintainer {
        return Err(forbidden());
    }
    let cid = cid.map(|c| parse_path_id(c, "check_id")).transpose()?;
    let name = ctx.params.get("name").map(str::to_string);
    let url = ctx.params.get("external_url").map(str::to_string);
    if cid.is_none() {
        let mut missing = Vec::new();
        if name.is_none() {
            missing.push("name is missing");
        }
        if url.is_none() {
            missing.push("external_url is missing");
        }
        if !missing.is_empty() {
            return Err(error(400, &missing.join(", ")));
        }
    }
    let branch_ids = ctx.params.ids("protected_branch_ids")?;
    // `hmac-17-3`: before 17.3 the parameter is unknown, and Grape drops it silently.
    let secret = ctx
        .params
        .get("shared_secret")
        .filter(|_| w.era().has_hmac())
        .map(str::to_string);
    let p = &w.projects[a.pi];
    let existing = match cid {
        Some(c) => Some(
            p.checks
                .iter()
                .position(|x| x.id == c)
                .ok_or_else(not_found)?,
        ),
        None => None,
    };
    let others = || {
        p.checks
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != existing)
            .map(|(_, c)| c)
    };
    let mut problems = Vec::new();
    if let Some(n) = &name
        && others().any(|c| &c.name == n)
    {
        problems.push("Name has already been taken");
    }
    if let Some(u) = &url
        && others().any(|c| &c.external_url == u)
    {
        problems.push("External url has already been taken");
    }
    // `group-branches-18-0`: the project's protected branches, and from 18.0 its
    // top-level group's (`protected_branches_must_belong_to_project[_or_group_hierarchy]`).
    if let Some(ids) = &branch_ids
        && ids
            .iter()
            .any(|i| !w.scope_branches(p).any(|(b, _)| b.id == *i))
    {
        problems.push("all protected branches must exist within the project");
    }
    if !problems.is_empty() {
        return Err(Response::json(422, &json!({ "message": problems })));
    }
    let new_id = if existing.is_none() { w.alloc_id() } else { 0 };
    let p = &mut w.projects[a.pi];
    let (status, idx) = match existing {
        Some(i) => (200, i),
        None => {
            p.checks.push(Check {
                id: new_id,
                ..Check::default()
            });
            (201, p.checks.len() - 1)
        }
    };
    let c = &mut p.checks[idx];
    if let Some(n) = name {
        c.name = n;
    }
    if let Some(u) = url {
        c.external_url = u;
    }
    if let Some(s) = secret {
        c.shared_secret = (!s.is_empty()).then_some(s);
    }
    if let Some(ids) = branch_ids {
        c.protected_branch_ids = ids;
    }
    let p = &w.projects[a.pi];
    Ok(Response::json(status, &check_json(w, p, &p.checks[idx])))
}

fn project_check_delete(w: &mut World, ctx: &Ctx, id: &str, cid: &str) -> R<Response> {
    let a = access(w, ctx, id, false, true)?;
    if a.role < Role::Maintainer {
        return Err(forbidden());
    }
    let cid = parse_path_id(cid, "check_id")?;
    let p = &mut w.projects[a.pi];
    let i = p
        .checks
        .iter()
        .position(|c| c.id == cid)
        .ok_or_else(not_found)?;
    p.checks.remove(i);
    Ok(Response::new(204))
}

// ---------------------------------------------------------------- merge request endpoints

fn mr_get(w: &World, ctx: &Ctx, id: &str, iid: &str) -> R<Response> {
    let a = access(w, ctx, id, true, false)?;
    let iid = parse_path_id(iid, "merge_request_iid")?;
    let p = &w.projects[a.pi];
    let mi = find_mr(p, iid)?;
    Ok(Response::json(
        200,
        &mr_json(w, p, &p.merge_requests[mi], &ctx.base),
    ))
}

fn mr_checks(w: &World, ctx: &Ctx, id: &str, iid: &str) -> R<Response> {
    let a = access(w, ctx, id, false, true)?;
    let iid = parse_path_id(iid, "merge_request_iid")?;
    let p = &w.projects[a.pi];
    let mi = find_mr(p, iid)?;
    let era = w.era();
    let mr = &p.merge_requests[mi];
    // `reporter-read-17-4`: a Reporter may read the list; before, whoever may approve.
    let may_read = if era.reporter_reads_mr_checks() {
        a.role >= Role::Reporter
    } else {
        World::may_approve(a.role, &a.token, mr)
    };
    if !may_read {
        return Err(forbidden());
    }
    let items = p
        .checks
        .iter()
        .filter(|c| w.check_applies(p, c, &mr.target_branch))
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "external_url": listed_url(w, a.role, &c.external_url),
                "status": w.read_status(mr, c.id)
            })
        })
        .collect();
    let page = paginate(w, ctx, items)?;
    // `poll-interval-15-10`: older servers send no Poll-Interval.
    Ok(if era.sends_poll_interval() {
        page.header("Poll-Interval", w.poll_interval_ms.to_string())
    } else {
        page
    })
}

/// `url-cut-16-0`: from 16.0 the MR list cuts the URL at `?` (its query may hold a
/// secret) for Developers and Maintainers, and shows nothing to lower roles; 14.x shows
/// the whole URL (15.4.2 does too).
fn listed_url(w: &World, role: Role, url: &str) -> String {
    if !w.era().cuts_urls() {
        url.to_string()
    } else if role >= Role::Developer {
        url.split('?').next().unwrap_or_default().to_string()
    } else {
        String::new()
    }
}

/// The status a response stores, by era; `Err` is the parameter error (400).
fn response_status(w: &World, given: Option<&str>) -> Result<String, String> {
    let invalid = || Err("status does not have a valid value".to_string());
    match w.era().status_param() {
        // `status-param-14`: no such parameter; Grape ignores it, the response approves.
        StatusParam::Absent => Ok("approved".to_string()),
        // `status-param-14-9`: optional, stored as given.
        StatusParam::OptionalFlagOff => match given {
            None | Some("approved" | "passed") => Ok("approved".to_string()),
            Some("failed") => Ok("failed".to_string()),
            Some(_) => invalid(),
        },
        // `status-param-15`, `pending-16-5`.
        StatusParam::Required => match given {
            None => Err("status is missing".to_string()),
            Some(s @ ("passed" | "failed")) => Ok(s.to_string()),
            Some("pending") if w.era().accepts_pending() => Ok("pending".to_string()),
            Some(_) => invalid(),
        },
    }
}

fn mr_response(w: &mut World, ctx: &Ctx, id: &str, iid: &str) -> R<Response> {
    let a = access(w, ctx, id, false, true)?;
    // `error-order`: parameters (400) before the MR (404), the role (403) and the check.
    let mut errors = Vec::new();
    let iid = parse_path_id(iid, "merge_request_iid")?;
    let sha = ctx.params.get("sha").map(str::to_string);
    if sha.is_none() {
        errors.push("sha is missing".to_string());
    }
    let check_id = match ctx.params.get("external_status_check_id") {
        None => {
            errors.push("external_status_check_id is missing".to_string());
            None
        }
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push("external_status_check_id is invalid".to_string());
                None
            }
        },
    };
    let status = response_status(w, ctx.params.get("status"))
        .map_err(|e| errors.push(e))
        .ok();
    if !errors.is_empty() {
        return Err(error(400, &errors.join(", ")));
    }
    let (sha, check_id, status) = (
        sha.unwrap_or_default(),
        check_id.unwrap_or_default(),
        status.unwrap_or_default(),
    );
    let p = &w.projects[a.pi];
    let mi = find_mr(p, iid)?;
    let mr = &p.merge_requests[mi];
    if !World::may_approve(a.role, &a.token, mr) {
        return Err(forbidden());
    }
    let checks_nothing = w.era().response_checks_nothing();
    // `response-any-project-check`: the check is looked up in the whole project, with no
    // branch filter: a check scoped to other target branches is accepted and gates nothing.
    // `response-14-0`: 14.0 looks nothing up; the record's validation fails after the SHA.
    let ci = p.checks.iter().position(|c| c.id == check_id);
    if ci.is_none() && !checks_nothing {
        return Err(not_found());
    }
    if sha != mr.sha {
        return Err(message(
            409,
            &format!("SHA does not match HEAD of source branch: {}", mr.sha),
        ));
    }
    let Some(ci) = ci else {
        return Err(message(500, "500 Internal Server Error"));
    };
    // `response-404-permission`: an approver below Developer gets this far, then a 404
    // (`response-developer-15-0`: from 15.0; 14.x answers 201).
    if a.role < Role::Developer && w.era().response_needs_developer() {
        return Err(refused_404(w.era()));
    }
    let now = w.now_ms();
    let rid = w.alloc_id();
    let p = &mut w.projects[a.pi];
    p.merge_requests[mi]
        .responses
        .push(crate::world::StatusResponse {
            id: rid,
            check_id,
            sha,
            status,
            at_ms: now,
        });
    let p = &w.projects[a.pi];
    let check = &p.checks[ci];
    // `response-entity-19-4`: the answer no longer shows the check's branches or full URL.
    let check = if w.era().reduced_response_entity() {
        json!({"id": check.id, "name": check.name, "external_url": listed_url(w, a.role, &check.external_url)})
    } else {
        check_json(w, p, check)
    };
    Ok(Response::json(
        201,
        &json!({
            "id": rid,
            "merge_request": mr_json(w, p, &p.merge_requests[mi], &ctx.base),
            "external_status_check": check
        }),
    ))
}

fn mr_retry(w: &mut World, ctx: &Ctx, id: &str, iid: &str, cid: &str) -> R<Response> {
    let a = access(w, ctx, id, false, true)?;
    let iid = parse_path_id(iid, "merge_request_iid")?;
    let cid = parse_path_id(cid, "check_id")?;
    let p = &w.projects[a.pi];
    let mi = find_mr(p, iid)?;
    let mr = &p.merge_requests[mi];
    let era = w.era();
    // `retry-permission-16-1`: the MR is looked up with `retry_failed_status_checks`
    // (Developer); before, with `approve_merge_request`, then a 404 without that permission.
    if era.retry_checks_permission_first() {
        if a.role < Role::Developer {
            return Err(forbidden());
        }
    } else if !World::may_approve(a.role, &a.token, mr) {
        return Err(forbidden());
    } else if a.role < Role::Developer {
        return Err(message(404, "404 Not Found"));
    }
    // `response-any-project-check`: any check of the project, as for a response.
    p.checks
        .iter()
        .find(|c| c.id == cid)
        .ok_or_else(not_found)?;
    if w.read_status(mr, cid) != "failed" {
        return Err(message(422, "External status check must be failed"));
    }
    // `retry-pending-16-1`: before 16.5 the retry only sends the webhook again.
    if !era.retry_resets_to_pending() {
        return Ok(Response::json(202, &json!({"message": "202 Accepted"})));
    }
    let sha = mr.sha.clone();
    let now = w.now_ms();
    let rid = w.alloc_id();
    w.projects[a.pi].merge_requests[mi]
        .responses
        .push(crate::world::StatusResponse {
            id: rid,
            check_id: cid,
            sha,
            status: "pending".into(),
            at_ms: now,
        });
    Ok(Response::json(202, &json!({"message": "202 Accepted"})))
}

fn commit_mrs(w: &World, ctx: &Ctx, id: &str, sha: &str) -> R<Response> {
    let a = access(w, ctx, id, true, false)?;
    let sha = percent_decode(sha, false);
    let p = &w.projects[a.pi];
    if !World::commit_known(p, &sha) {
        return Err(message(404, "404 Commit Not Found"));
    }
    // `commits-latest-diff`, `merged-mr-by-merge-commit`.
    let items = p
        .merge_requests
        .iter()
        .filter(|m| World::mr_has_commit(m, &sha))
        .map(|m| mr_json(w, p, m, &ctx.base))
        .collect();
    paginate(w, ctx, items)
}
