//! Commit SHAs in messages.

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
