//! Projects and merge requests as the user or GitLab's variables name them.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRef {
    /// As given: `42` or `group/project`.
    pub raw: String,
    /// For URLs: `42` or `group%2Fproject`.
    pub encoded: String,
}

/// A merge request named by project and IID (an entry of `CI_OPEN_MERGE_REQUESTS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MrRef {
    pub project: ProjectRef,
    pub iid: u64,
}

pub fn parse_project(raw: &str) -> Option<ProjectRef> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return (raw.parse::<u64>().ok()? > 0).then(|| ProjectRef {
            raw: raw.to_owned(),
            encoded: raw.to_owned(),
        });
    }
    let valid_segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let segments: Vec<&str> = raw.split('/').collect();
    if segments.len() < 2 || !segments.iter().all(|s| valid_segment(s)) {
        return None;
    }
    Some(ProjectRef {
        raw: raw.to_owned(),
        encoded: segments.join("%2F"),
    })
}

/// `acme/app!7,upstream/app!12` → the two MRs; `None` when any entry is malformed.
pub(super) fn parse_open_mrs(raw: &str) -> Option<Vec<MrRef>> {
    let mut mrs = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (path, iid) = entry.rsplit_once('!')?;
        let iid = iid.parse::<u64>().ok().filter(|n| *n > 0)?;
        let project = parse_project(path)?;
        if !mrs
            .iter()
            .any(|m: &MrRef| m.project == project && m.iid == iid)
        {
            mrs.push(MrRef { project, iid });
        }
    }
    (!mrs.is_empty()).then_some(mrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_forms() {
        assert_eq!(parse_project("42").unwrap().encoded, "42");
        assert_eq!(
            parse_project("acme/sub/app").unwrap().encoded,
            "acme%2Fsub%2Fapp"
        );
        assert!(parse_project("abc").is_none());
        assert!(parse_project("0").is_none());
        assert!(parse_project("a b/c").is_none());
        assert!(parse_project("a//c").is_none());
    }

    #[test]
    fn open_merge_requests_read_as_project_and_iid() {
        let mrs = parse_open_mrs("acme/app!7, acme/app!7,acme/app!9,up/stream/app!7").unwrap();
        let pairs: Vec<(&str, u64)> = mrs
            .iter()
            .map(|m| (m.project.raw.as_str(), m.iid))
            .collect();
        // Only an exact repeat is dropped.
        assert_eq!(
            pairs,
            [("acme/app", 7), ("acme/app", 9), ("up/stream/app", 7)]
        );
        assert_eq!(mrs[2].project.encoded, "up%2Fstream%2Fapp");
        for bad in ["acme/app#7", "acme/app!0", "acme/app!x", "!7", "app!7", ""] {
            assert_eq!(parse_open_mrs(bad), None, "{bad}");
        }
    }
}
