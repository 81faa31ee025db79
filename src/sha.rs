//! Commit SHAs: the validated one status-check acts on, and short forms for messages.
//!
//! Only `config.rs` makes a `Sha`, from a flag or a CI variable, and it travels as one
//! to the URL of the commit look-up and the body of every response. A head SHA that
//! GitLab sends stays plain text (`MergeRequest::sha`): it is compared, never trusted.

use std::fmt;

/// A full commit SHA: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sha(String);

impl Sha {
    /// `raw` trimmed and lowercased, when it is 40 or 64 hex digits.
    pub fn parse(raw: &str) -> Option<Sha> {
        let value = raw.trim().to_ascii_lowercase();
        let hex = value.bytes().all(|b| b.is_ascii_hexdigit());
        (hex && (value.len() == 40 || value.len() == 64)).then_some(Sha(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 digits, for messages.
    pub fn short(&self) -> &str {
        short(&self.0)
    }

    /// Is `text` (a head SHA from GitLab) this commit?
    pub fn is(&self, text: &str) -> bool {
        self.0 == text
    }
}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    use super::*;

    #[test]
    fn short_is_safe_on_any_text() {
        assert_eq!(short("0123456789abcdef"), "01234567");
        assert_eq!(short("abc"), "abc");
        // A head SHA comes from GitLab unchecked: multi-byte text must not panic.
        assert_eq!(short("aaaaaaaéé"), "aaaaaaaé");
        assert_eq!(short("ééééééééé"), "éééééééé");
    }

    #[test]
    fn only_full_hex_shas_parse() {
        let sha1 = "0123456789ABCDEF0123456789abcdef01234567";
        let parsed = Sha::parse(&format!(" {sha1}\n")).unwrap();
        assert_eq!(parsed.as_str(), sha1.to_ascii_lowercase());
        assert_eq!(parsed.short(), "01234567");
        assert!(parsed.is(&sha1.to_ascii_lowercase()));
        assert!(Sha::parse(&"a".repeat(64)).is_some());
        assert!(Sha::parse("abc123").is_none());
        assert!(Sha::parse(&"g".repeat(40)).is_none());
        assert!(Sha::parse(&"a".repeat(41)).is_none());
    }
}
