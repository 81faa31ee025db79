//! What every API command works with: the config, a GitLab client, the log, and
//! the server's version (read at most once).

use std::cell::OnceCell;

use super::targets::Target;
use crate::config::{Config, ProjectRef};
use crate::error::Error;
use crate::gitlab::models::VersionInfo;
use crate::gitlab::{Client, ClientSettings, Listing, MrCheck, ServerVersion, paths, tls};
use crate::log::Log;
use crate::secret::Token;

/// What every API command needs: the config, a client, the log.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a Config,
    pub log: &'a Log,
    pub client: Client<'a>,
    version: OnceCell<ServerVersion>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn connect(cfg: &'a Config, log: &'a Log) -> Result<Ctx<'a>, Error> {
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
    pub(crate) fn with_client(cfg: &'a Config, log: &'a Log, client: Client<'a>) -> Ctx<'a> {
        Ctx {
            cfg,
            log,
            client,
            version: OnceCell::new(),
        }
    }

    pub(crate) fn project(&self) -> Result<&ProjectRef, Error> {
        self.cfg.require_project()
    }

    pub(crate) fn mr_path(&self, mr: &Target) -> String {
        paths::merge_request(&mr.project.encoded, mr.iid)
    }

    /// From `CI_SERVER_VERSION_MAJOR/MINOR` when set, else `GET /version`
    /// once per run.
    pub(crate) fn server_version(&self) -> Result<ServerVersion, Error> {
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
    pub(crate) fn known_version(&self) -> Option<ServerVersion> {
        self.cfg
            .server_version
            .or_else(|| self.version.get().copied())
    }

    /// The MR's status checks, every page.
    pub(crate) fn mr_checks(&self, mr: &Target) -> Result<Listing<MrCheck>, Error> {
        let path = paths::mr_checks(&mr.project.encoded, mr.iid);
        self.client.get_all(&path).map_err(|e| {
            Error::from(e).context(format!("listing the status checks of {}", mr.label))
        })
    }
}

/// The one place a client is built, for every command and `doctor`: `base_url` with
/// `token` (`None` for doctor's anonymous probe), and the config's timeouts, retries
/// and TLS roots. Fails only when the CA certificates cannot be read.
pub(crate) fn client<'a>(
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
