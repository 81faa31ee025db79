//! Values kept out of every output: the access token and the checks' shared secrets.
//!
//! `Secret<T>` has no `Display`, and its `Debug` prints `(redacted)`, so anything
//! holding one (the clap types, the CI context, the config) can derive `Debug`. A
//! value leaves it in exactly two places: the client's auth header (the token) and
//! the body of the request that sets a check's shared secret (`sync`).

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<String> {
    /// Its length in characters (GitLab limits a shared secret's), never its value.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// A validated access token: not empty, no whitespace or control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token(Secret<String>);

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
        Ok(Token(Secret::new(value.to_owned())))
    }

    /// Validates a token value not yet checked (a flag or a variable).
    pub fn validate(raw: &Secret<String>, source: &str) -> Result<Token, String> {
        Token::parse(raw.expose(), source)
    }

    /// The raw value, for the one header that carries it.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }

    /// A hash of the value, to compare tokens without keeping a second copy.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(self.expose())
    }

    /// GitLab 16.8+ prefixes CI job tokens with `glcbt-`.
    pub fn looks_like_job_token(&self) -> bool {
        self.expose().starts_with("glcbt-")
    }
}

/// A hash of a secret value (SipHash with fixed keys: stable within a run).
pub(crate) fn fingerprint(value: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let t = Token::parse("glpat-secret", "--token").unwrap();
        assert_eq!(format!("{t:?}"), "Token((redacted))");
        assert!(!format!("{:?}", Some(&t)).contains("secret"));
        let shared = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{shared:?}"), "(redacted)");
        assert_eq!(shared.chars(), 7);
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
