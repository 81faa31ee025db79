//! Everything that knows GitLab's API: HTTP, errors, models, versions.

pub mod client;
pub mod error;
pub(crate) mod httpdate;
pub mod models;
pub mod paths;
pub mod response;
pub(crate) mod tls;
pub mod version;

pub use client::{Client, ClientSettings, Listing};
pub use error::ApiError;
pub use models::{CheckStatus, MergeRequest, MrCheck};
pub use version::ServerVersion;
