//! The access token, kept out of every output.
//!
//! `Token` has no `Display`, and its `Debug` prints `(redacted)`. The value
//! leaves the type in exactly one place: the client's auth header.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Validates a token read from `source` (a flag, variable or file name,
    /// used only in the error message).
    pub fn parse(raw: &str, source: &str) -> Result<Token, String> {
        let value = raw.trim_end_matches(['\n', '\r']);
        if value.trim().is_empty() {
            return Err(format!("the token from {source} is empty"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "the token from {source} contains whitespace or control characters"
            ));
        }
        Ok(Token(value.to_owned()))
    }

    /// The raw value, for the one header that carries it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// A hash of the value, to compare tokens without keeping a second copy.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.0)
    }

    /// GitLab 16.8+ prefixes CI job tokens with `glcbt-`.
    pub fn looks_like_job_token(&self) -> bool {
        self.0.starts_with("glcbt-")
    }
}

/// A hash of a secret value (SipHash with fixed keys: stable within a run).
pub fn fingerprint(value: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A check's shared secret (HMAC key), read from the variable the sync file
/// names. Like `Token`: no `Display`, a redacted `Debug`, and it leaves the
/// type only in the request body that sets it.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret(String);

impl SharedSecret {
    pub fn new(value: String) -> SharedSecret {
        SharedSecret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Its length in characters (GitLab limits it), never its value.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(redacted)")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// A token value not yet validated (read from the environment or a file).
/// Redacted like `Token`, so a context holding one can derive `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct RawToken(String);

impl RawToken {
    pub fn new(value: String) -> RawToken {
        RawToken(value)
    }

    pub fn validate(&self, source: &str) -> Result<Token, String> {
        Token::parse(&self.0, source)
    }
}

impl fmt::Debug for RawToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawToken(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let t = Token::parse("glpat-secret", "--token").unwrap();
        assert_eq!(format!("{t:?}"), "Token(redacted)");
        assert!(!format!("{:?}", Some(&t)).contains("secret"));
    }

    #[test]
    fn trailing_newline_from_a_file_is_dropped() {
        let t = Token::parse("abc\n", "file").unwrap();
        assert_eq!(t.expose(), "abc");
    }

    #[test]
    fn rejects_empty_and_inner_whitespace() {
        assert!(Token::parse("\n", "f").unwrap_err().contains("empty"));
        assert!(
            Token::parse("ab cd", "f")
                .unwrap_err()
                .contains("whitespace")
        );
        assert!(
            Token::parse("ab\ncd", "f")
                .unwrap_err()
                .contains("whitespace")
        );
    }
}
