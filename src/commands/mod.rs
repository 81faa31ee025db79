//! One module per command, and the context they share.

mod doctor;
mod list;
mod report;
mod retry;
mod run;
pub(crate) mod schedule;
pub mod scope;
mod sync;
pub mod sync_file;
pub mod targets;
mod wait;

use std::cell::OnceCell;

use crate::cli::Command;
use crate::config::{Config, ProjectRef};
use crate::error::Error;
use crate::gitlab::models::VersionInfo;
use crate::gitlab::{Client, ClientSettings, Listing, MrCheck, ServerVersion};
use crate::gitlab::{paths, tls};
use crate::log::Log;
use crate::output::Outcome;
use crate::secret::Token;
use targets::Target;

pub fn dispatch(command: &Command, cfg: &Config, log: &Log) -> Result<Outcome, Error> {
    match command {
        Command::Report(args) => report::run(&Ctx::connect(cfg, log)?, args),
        Command::List => list::run(&Ctx::connect(cfg, log)?),
        Command::Retry(args) => retry::run(&Ctx::connect(cfg, log)?, args),
        Command::Wait(args) => wait::run(&Ctx::connect(cfg, log)?, args),
        Command::Run(args) => run::run(&Ctx::connect(cfg, log)?, args),
        Command::Doctor(args) => Ok(doctor::run(cfg, log, args)),
        Command::Sync(args) => sync::run(cfg, log, args, &crate::ci::shared_secret),
    }
}

/// What every API command needs: the config, a client, the log.
pub struct Ctx<'a> {
    pub cfg: &'a Config,
    pub log: &'a Log,
    pub client: Client<'a>,
    version: OnceCell<ServerVersion>,
}

impl<'a> Ctx<'a> {
    pub fn connect(cfg: &'a Config, log: &'a Log) -> Result<Ctx<'a>, Error> {
        let base_url = cfg.require_api_url()?;
        let token = cfg.require_token()?.clone();
        Ok(Ctx::with_client(
            cfg,
            log,
            client(cfg, log, base_url, Some(token))?,
        ))
    }

    /// A context around a client built by the caller (`doctor` builds its
    /// own, since a missing token or URL is a finding there, not an error).
    pub fn with_client(cfg: &'a Config, log: &'a Log, client: Client<'a>) -> Ctx<'a> {
        Ctx {
            cfg,
            log,
            client,
            version: OnceCell::new(),
        }
    }

    pub fn project(&self) -> Result<&ProjectRef, Error> {
        self.cfg.require_project()
    }

    pub fn mr_path(&self, mr: &Target) -> String {
        paths::merge_request(&mr.project.encoded, mr.iid)
    }

    /// From `CI_SERVER_VERSION_MAJOR/MINOR` when set, else `GET /version`
    /// once per run.
    pub fn server_version(&self) -> Result<ServerVersion, Error> {
        if let Some(v) = self
            .cfg
            .server_version
            .or_else(|| self.version.get().copied())
        {
            return Ok(v);
        }
        let info: VersionInfo = self.client.get("/version").map_err(|e| {
            Error::from(e).context("reading the GitLab version (set CI_SERVER_VERSION_MAJOR and CI_SERVER_VERSION_MINOR to skip this)")
        })?;
        let version = ServerVersion::parse(&info.version).ok_or_else(|| {
            Error::api(format!(
                "GET /version answered an unreadable version `{}`",
                info.version
            ))
        })?;
        Ok(*self.version.get_or_init(|| version))
    }

    /// The version only when it is already known (no request).
    pub fn known_version(&self) -> Option<ServerVersion> {
        self.cfg
            .server_version
            .or_else(|| self.version.get().copied())
    }

    /// The MR's status checks, every page.
    pub fn mr_checks(&self, mr: &Target) -> Result<Listing<MrCheck>, Error> {
        let path = paths::mr_checks(&mr.project.encoded, mr.iid);
        self.client.get_all(&path).map_err(|e| {
            Error::from(e).context(format!("listing the status checks of {}", mr.label))
        })
    }
}

/// The one place a client is built, for every command and `doctor`: `base_url` with
/// `token` (`None` for doctor's anonymous probe), and the config's timeouts, retries
/// and TLS roots. Fails only when the CA certificates cannot be read.
pub fn client<'a>(
    cfg: &Config,
    log: &'a Log,
    base_url: &str,
    token: Option<Token>,
) -> Result<Client<'a>, Error> {
    let ca_file = cfg
        .ca_file
        .as_ref()
        .map(|ca| (ca.value.as_path(), ca.source));
    let ca_certs = tls::roots(
        base_url.starts_with("https://"),
        ca_file,
        cfg.ci.ssl_cert_file.as_deref(),
    )?;
    let settings = ClientSettings {
        base_url: base_url.to_owned(),
        token,
        ca_certs,
        request_timeout: cfg.request_timeout,
        retries: cfg.retries,
        retry_delay: cfg.retry_delay,
    };
    Ok(Client::new(settings, log))
}

/// Which check a command is about.
#[derive(Clone, Debug)]
pub enum CheckRef {
    Id(u64),
    Name(String),
}

impl CheckRef {
    pub fn from_args(args: &crate::cli::CheckSelector) -> Result<CheckRef, Error> {
        if let Some(raw) = args.check_id.as_deref().filter(|s| !s.trim().is_empty()) {
            return match raw.trim().parse::<u64>() {
                Ok(id) if id > 0 => Ok(CheckRef::Id(id)),
                _ => Err(Error::usage(format!(
                    "--check-id/STATUS_CHECK_ID `{raw}` is not a positive number"
                ))
                .hint("`status-check list` shows each check's id; or name the check with --name")),
            };
        }
        match args.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => Ok(CheckRef::Name(name.to_owned())),
            None => Err(Error::usage("which check? none was named")
                .hint("give --name NAME (or STATUS_CHECK_NAME), as the check is named in Settings → Merge requests → Status checks, or --check-id ID")),
        }
    }

    pub fn matches(&self, check: &MrCheck) -> bool {
        match self {
            CheckRef::Id(id) => check.id == *id,
            CheckRef::Name(name) => check.name == *name,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            CheckRef::Id(id) => format!("check #{id}"),
            CheckRef::Name(name) => format!("check \"{name}\""),
        }
    }
}

/// The first 8 characters of a SHA, for messages. Safe on any text: a head
/// SHA read from GitLab is not validated.
pub fn short(sha: &str) -> &str {
    match sha.char_indices().nth(8) {
        Some((end, _)) => &sha[..end],
        None => sha,
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_is_safe_on_any_text() {
        assert_eq!(short("0123456789abcdef"), "01234567");
        assert_eq!(short("abc"), "abc");
        // A head SHA comes from GitLab unchecked: multi-byte text must not panic.
        assert_eq!(short("aaaaaaaéé"), "aaaaaaaé");
        assert_eq!(short("ééééééééé"), "éééééééé");
    }
}
