//! The lines of the way to GitLab: the API URL, the connection (TLS included), the
//! token as GitLab sees it, and the version.

use serde_json::Value;

use super::lines::{LineId, Verdict};
use super::{Doctor, Found};
use crate::checks::{self, Ctx};
use crate::config::Input;
use crate::error::Error;
use crate::gitlab::error::{ApiErrorKind, Transport};
use crate::gitlab::models::{TokenInfo, User};
use crate::gitlab::version::StatusParam;
use crate::gitlab::{ApiError, Client, ServerVersion};
use crate::log::Log;

impl<'a> Doctor<'a> {
    pub(super) fn api_url(&mut self) -> Option<String> {
        if let Some(e) = self.cfg.problem(Input::ApiUrl) {
            self.fail_with(LineId::ApiUrl, e);
            return None;
        }
        let Some(url) = &self.cfg.api_url else {
            self.fail(
                LineId::ApiUrl,
                "no GitLab API URL",
                "set --api-url or STATUS_CHECK_API_URL, e.g. https://gitlab.example.com/api/v4 (GitLab jobs set CI_API_V4_URL)",
            );
            return None;
        };
        if url.value.ends_with("/api/v4") {
            self.ok(
                LineId::ApiUrl,
                format!("{} (from {})", url.value, url.source),
            );
        } else {
            self.warn(
                LineId::ApiUrl,
                format!(
                    "{} (from {}) does not end in /api/v4",
                    url.value, url.source
                ),
                "give the API base, e.g. https://gitlab.example.com/api/v4, not the instance URL",
            );
        }
        Some(url.value.clone())
    }

    pub(super) fn client(&mut self, log: &'a Log, token_usable: bool) -> Option<Client<'a>> {
        let url = self.api_url()?;
        let token = if token_usable {
            self.cfg.token.as_ref().map(|t| t.value.clone())
        } else {
            None
        };
        match checks::client(self.cfg, log, &url, token) {
            Ok(client) => Some(client),
            Err(e) => {
                self.fail_with(LineId::Connection, &e);
                None
            }
        }
    }

    /// `GET /user` with the token, or an anonymous `GET /version` without
    /// one: any answer from GitLab proves the URL and TLS.
    /// The token's user, and whether it is a fine-grained token.
    pub(super) fn connection_and_token(
        &mut self,
        ctx: &Ctx,
        token_usable: bool,
    ) -> (Option<User>, bool) {
        if !token_usable {
            match ctx.client.get::<Value>("/version") {
                Ok(_) => self.connected(),
                Err(e) if matches!(e.status(), Some(401 | 403)) => self.connected(),
                Err(e) => self.unreachable(e),
            }
            return (None, false);
        }
        let source = self.cfg.token.as_ref().map_or("", |t| t.source);
        match ctx.client.get::<User>("/user") {
            Ok(user) => {
                self.connected();
                let fine_grained = self.token_valid(ctx, &user, source);
                (Some(user), fine_grained)
            }
            Err(e) if e.missing_permission().is_some() => {
                self.connected();
                self.fail(
                    LineId::Token,
                    format!(
                        "the token from {source} is a fine-grained personal access token without `read_user`: doctor reads GET /user to check it (status-check's other commands do not)"
                    ),
                    "add `read_user` to the token's permissions to let doctor check it, or run the command itself",
                );
                (None, true)
            }
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                self.connected();
                let expired =
                    e.message().contains("invalid_token") || e.message().contains("xpired");
                let scope = e.message().contains("insufficient_scope");
                let (message, fix) = if expired {
                    (
                        format!(
                            "the token from {source} has expired or was revoked (GET /user answered {})",
                            e.status().unwrap_or(401)
                        ),
                        "create a new access token and update the CI/CD variable",
                    )
                } else if scope {
                    (
                        format!(
                            "the token from {source} lacks a scope GET /user needs (`api` or `read_api`)"
                        ),
                        "create an access token with the `api` scope",
                    )
                } else {
                    (
                        format!(
                            "GitLab does not accept the token from {source} (GET /user answered {}: {})",
                            e.status().unwrap_or(401),
                            e.message()
                        ),
                        "check the token's value (copied whole, not revoked); it must be a personal, project or group access token, not a job, deploy or trigger token",
                    )
                };
                self.fail(LineId::Token, message, fix);
                (None, false)
            }
            Err(e) => {
                self.unreachable(e);
                self.skip(LineId::Token, "not checked: GitLab did not answer");
                (None, false)
            }
        }
    }

    pub(super) fn connected(&mut self) {
        let Some(url) = self.cfg.api_url.as_ref().map(|u| u.value.clone()) else {
            return;
        };
        let host = host_of(&url);
        if url.starts_with("https://") {
            let ca = match &self.cfg.ca_file {
                Some(ca) => format!(
                    " (trusting the CA file {} from {})",
                    ca.value.display(),
                    ca.source
                ),
                None => String::new(),
            };
            self.ok(
                LineId::Connection,
                format!("GitLab answered at {host}; TLS certificate verified{ca}"),
            );
        } else if is_loopback(host) {
            self.ok(
                LineId::Connection,
                format!("GitLab answered at {host} (plain http, on this machine)"),
            );
        } else {
            self.warn(
                LineId::Connection,
                format!("GitLab answered at {host}, over plain http: the token crosses the network unencrypted"),
                "use the https:// API URL",
            );
        }
    }

    pub(super) fn unreachable(&mut self, e: ApiError) {
        let tls = matches!(
            e.kind,
            ApiErrorKind::Transport {
                kind: Transport::Tls,
                ..
            }
        );
        let not_found = e.status() == Some(404);
        let mut error = Error::from(e);
        if tls && let Some(ca) = &self.cfg.ca_file {
            error = error.hint(format!(
                "the CA file {} (from {}) does not include the issuer of the server's certificate",
                ca.value.display(),
                ca.source
            ));
        } else if tls {
            error = error.hint("in a job, GitLab sets CI_SERVER_TLS_CA_FILE when the instance has a custom CA; outside one, pass --ca-file (or STATUS_CHECK_CA_FILE, or SSL_CERT_FILE for the whole system bundle)");
        }
        if not_found {
            error = error.hint("the API URL must end in /api/v4");
        }
        self.fail_with(LineId::Connection, &error);
    }

    /// The token line of a token GitLab took; whether it is a fine-grained one.
    pub(super) fn token_valid(&mut self, ctx: &Ctx, user: &User, source: &str) -> bool {
        let kind = if user.bot && user.username.starts_with("project_") {
            "project access token"
        } else if user.bot && user.username.starts_with("group_") {
            "group access token"
        } else if user.bot {
            "bot user's token"
        } else {
            "personal access token"
        };
        let mut message = format!("{kind} of @{} (from {source})", user.username);
        // GET /personal_access_tokens/self exists from 15.5.
        let knows_self = self
            .cfg
            .server_version
            .is_none_or(|v| v >= ServerVersion::new(15, 5));
        let info = match knows_self
            .then(|| ctx.client.get::<TokenInfo>("/personal_access_tokens/self"))
        {
            Some(Ok(info)) => Some(info),
            // A fine-grained token is refused there (the route declares no permission).
            Some(Err(e)) if e.missing_permission().is_some() => {
                self.ok(
                    LineId::Token,
                    format!(
                        "fine-grained personal access token of @{} (from {source}): valid; GitLab checks its permissions route by route (the `permissions` line)",
                        user.username
                    ),
                );
                return true;
            }
            _ => None,
        };
        let Some(info) = info else {
            message.push_str(": valid; its scopes could not be read (GitLab 15.5+ shows them)");
            self.ok(LineId::Token, message);
            return false;
        };
        let scopes = if info.scopes.is_empty() {
            "none".to_owned()
        } else {
            info.scopes.join(", ")
        };
        if let Some(expires) = &info.expires_at {
            message.push_str(&format!(", expires {expires}"));
        }
        if info.scopes.iter().any(|s| s == "api") {
            message.push_str(&format!(": valid, scopes {scopes}"));
            self.ok(LineId::Token, message);
        } else {
            message.push_str(&format!(
                ": valid, but its scopes are {scopes}, without `api`"
            ));
            self.fail(
                LineId::Token,
                message,
                "reporting a status and managing checks need the `api` scope (`read_api` can only read): create a token with `api`",
            );
        }
        false
    }

    // ------------------------------------------------------------ version

    pub(super) fn version_source(&self) -> &'static str {
        let ci = &self.cfg.ci;
        if ci.server_version_major.is_some() && ci.server_version_minor.is_some() {
            "CI_SERVER_VERSION_MAJOR/_MINOR"
        } else {
            "CI_SERVER_VERSION"
        }
    }

    pub(super) fn version(&mut self, ctx: &Ctx, found: &mut Found) {
        if let Some(v) = self.cfg.server_version {
            found.version = Some(v);
            self.version_line(v, self.version_source());
            return;
        }
        if self.cfg.token.is_none() || self.verdict(LineId::Token) != Some(Verdict::Ok) {
            self.warn(
                LineId::Version,
                "unknown: no CI_SERVER_VERSION_* variables, and GET /version needs a working access token",
                "give a working access token, or set CI_SERVER_VERSION_MAJOR and CI_SERVER_VERSION_MINOR (GitLab jobs set them)",
            );
            return;
        }
        match ctx.server_version() {
            Ok(v) => {
                found.version = Some(v);
                self.version_line(v, "GET /version");
            }
            Err(e) => self.warn(
                LineId::Version,
                format!("unknown: {}", e.message),
                "set CI_SERVER_VERSION_MAJOR and CI_SERVER_VERSION_MINOR (GitLab jobs set them)",
            ),
        }
    }

    pub(super) fn version_line(&mut self, v: ServerVersion, source: &str) {
        if v < ServerVersion::new(14, 0) {
            self.fail(
                LineId::Version,
                format!("GitLab {v} (from {source}) has no external status checks (14.0+)"),
                "upgrade GitLab to 15.0 or later",
            );
            return;
        }
        let approved_era = v.status_param() == StatusParam::Absent;
        let statuses = if approved_era {
            "the `approved` era: any response means approved (14.9 and 14.10 show `failed` only behind a feature flag that is off by default), so `report failed` and `report pending` are refused and a failing check just stays pending"
        } else if !v.accepts_pending() {
            "reports passed and failed; pending cannot be reported (16.5+), but a check without a response already shows pending, and nothing times out"
        } else if !v.times_out_pending() {
            "reports passed, failed and pending; a pending status does not time out (16.6+ turns one older than 2 minutes into failed)"
        } else {
            "reports passed, failed and pending; a pending response older than 2 minutes is turned into failed, so `run` re-posts pending while its command runs (--heartbeat)"
        };
        let mut message = format!("GitLab {v} (from {source}): {statuses}");
        if v == ServerVersion::new(14, 0) {
            message.push_str("; 14.0 also needs the feature flag ff_external_status_checks, off by default (without it every status-check endpoint answers 401)");
        }
        if !v.has_retry() {
            message.push_str("; no retry endpoint (15.7+)");
        }
        if !v.has_must_succeed() {
            message.push_str("; no \"Status checks must succeed\" setting (15.9+)");
        }
        if approved_era {
            self.warn(
                LineId::Version,
                message,
                "upgrade to GitLab 15.0+ for passed/failed statuses (16.6+ for pending with a timeout)",
            );
        } else {
            self.ok(LineId::Version, message);
        }
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_loopback() {
        assert_eq!(
            host_of("https://gitlab.example.com/api/v4"),
            "gitlab.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/api/v4"), "127.0.0.1:8080");
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:3000"));
        assert!(!is_loopback("gitlab.example.com"));
        assert!(!is_loopback("127.example.com:80"));
    }
}
