//! Everything that knows GitLab's API: HTTP, errors, models, versions.

pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod httpdate;
pub(crate) mod models;
pub(crate) mod paths;
pub(crate) mod reply;
pub(crate) mod response;
pub(crate) mod tls;
pub(crate) mod version;

#[cfg(test)]
mod classification_tests;

pub(crate) use client::{Client, ClientSettings, Listing};
pub(crate) use error::ApiError;
pub(crate) use models::{CheckStatus, MergeRequest, MrCheck};
pub(crate) use reply::Reply;
pub(crate) use response::Budget;
pub(crate) use version::ServerVersion;
