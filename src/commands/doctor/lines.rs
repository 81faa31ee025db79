//! A line of doctor's checklist: which one, its verdict, its message and fix.

/// Doctor's lines, in the order they are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum LineId {
    Config,
    Pipeline,
    Project,
    Sha,
    ApiUrl,
    Connection,
    Token,
    Version,
    Role,
    Mr,
    Permissions,
    Licence,
    Checks,
    Scopes,
    Name,
    MergeGate,
    Control,
}

impl LineId {
    /// The line's id in the output (text and JSON).
    pub(super) fn as_str(self) -> &'static str {
        match self {
            LineId::Config => "config",
            LineId::Pipeline => "pipeline",
            LineId::Project => "project",
            LineId::Sha => "sha",
            LineId::ApiUrl => "api-url",
            LineId::Connection => "connection",
            LineId::Token => "token",
            LineId::Version => "version",
            LineId::Role => "role",
            LineId::Mr => "mr",
            LineId::Permissions => "permissions",
            LineId::Licence => "licence",
            LineId::Checks => "checks",
            LineId::Scopes => "scopes",
            LineId::Name => "name",
            LineId::MergeGate => "merge-gate",
            LineId::Control => "control",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Verdict {
    Ok,
    Skip,
    Warn,
    Fail,
}

impl Verdict {
    pub(super) fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Verdict::Fail => "FAIL",
            other => other.word(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Line {
    pub(super) id: LineId,
    pub(super) verdict: Verdict,
    pub(super) message: String,
    pub(super) fix: Option<String>,
}
