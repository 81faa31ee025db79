//! The library's one surface besides `run`, for the property tests of
//! `tests/cli/fuzz.rs`: every function that turns outside text into values (what
//! GitLab sends, what the user gives), and, in `gate`, the two that turn GitLab's
//! text back out (the gate's report files and its poll delays).
//!
//! The product is the binary; this is not a stable API. It is the parsers
//! themselves, so the tests reach them without the transport.

/// What the user gives: durations, tokens, projects; and SHAs in messages.
pub use crate::config::parse_project;
pub use crate::duration::{human as human_duration, parse as duration};
pub use crate::gitlab::error::head_from_409;
pub use crate::gitlab::httpdate::parse as http_date;
pub use crate::gitlab::models::{
    CheckStatus, MergeRequest, MrCheck, PostedResponse, Project, ProjectCheck, ProtectedBranch,
    TokenInfo, User, VersionInfo, role_name,
};
pub use crate::gitlab::response::{
    Budget, decode_detail, error_message, next_page_from_link, one_line, parse_budget,
    parse_next_page, parse_poll_interval, parse_retry_after,
};
/// What GitLab sends: bodies, error bodies, headers, the 409 message, versions.
pub use crate::gitlab::version::ServerVersion;
/// The names of a list variable (`STATUS_CHECK_NAMES`): a JSON array or one name.
pub use crate::names::parse_list as name_list;
pub use crate::secret::Token;
pub use crate::sha::short as short_sha;

/// What the gate makes of GitLab's text: JUnit and dotenv files, and delays from a
/// `Poll-Interval`.
pub mod gate {
    pub use crate::commands::wait::gate::pacer::{MAX_SERVER_FLOOR, Pacer, Setback};
    pub use crate::commands::wait::reports::{CheckResult, GateReport, dotenv, junit};
}
