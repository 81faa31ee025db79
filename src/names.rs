//! Check names as GitLab stores them: any text, spaces, quotes and case
//! included. Names are compared exactly (a check gates merges: a near match
//! must never pass for the check); a name that matches nothing but differs
//! from one that exists only in case or surrounding spaces earns a
//! suggestion; every message quotes a name the same unambiguous way; and the
//! lists that come from a variable (`STATUS_CHECK_NAMES`, as GitLab renders an
//! array input) are read here.

/// A name in a message: JSON-style, in double quotes, with `"`, `\` and
/// control characters escaped (`"sec/scan ✓ \"quoted\""`), so where it starts
/// and ends is never in doubt.
pub(crate) fn quote(name: &str) -> String {
    serde_json::Value::from(name).to_string()
}

/// Names quoted and joined: `"a", "b"`.
pub(crate) fn quote_all<'n>(names: impl IntoIterator<Item = &'n str>) -> String {
    names.into_iter().map(quote).collect::<Vec<_>>().join(", ")
}

/// The one of `candidates` that `name` matches but for case and surrounding
/// white space, when `name` matches none of them exactly.
pub(crate) fn near<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> Option<&'c str> {
    if candidates.clone().into_iter().any(|c| c == name) {
        return None;
    }
    let folded = fold(name);
    candidates.into_iter().find(|c| fold(c) == folded)
}

/// `did you mean "Security scan"?`, for a name that is off only in case or
/// surrounding spaces.
pub(crate) fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> Option<String> {
    near(name, candidates).map(|found| {
        format!(
            "did you mean {}? Names match exactly (case and spaces count)",
            quote(found)
        )
    })
}

fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A list of names from a variable: a JSON array of strings (`["a", "b"]`, as
/// GitLab writes an array input inside a string; Ruby's escapes `\e`, `\#`,
/// `\u{…}` are read too, for the GitLab versions that write the array as Ruby
/// prints it), or one plain name. Blank: no names. The error says what is
/// wrong, never repeating the text.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    if !text.trim_start().starts_with('[') {
        return Ok(vec![text.to_owned()]);
    }
    let mut reader = Reader {
        chars: text.trim().chars().collect(),
        at: 1,
    };
    let mut names = Vec::new();
    reader.skip_space();
    if reader.eat(']') {
        return reader.end(names);
    }
    loop {
        reader.skip_space();
        names.push(reader.string()?);
        reader.skip_space();
        if reader.eat(']') {
            return reader.end(names);
        }
        if !reader.eat(',') {
            return Err(reader.fail("expected `,` or `]` after a name"));
        }
    }
}

struct Reader {
    chars: Vec<char>,
    at: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let matched = self.peek() == Some(c);
        if matched {
            self.at += 1;
        }
        matched
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn fail(&self, what: &str) -> String {
        format!(
            "not a JSON array of names: {what} (character {})",
            self.at + 1
        )
    }

    fn end(&self, names: Vec<String>) -> Result<Vec<String>, String> {
        if self.at == self.chars.len() {
            Ok(names)
        } else {
            Err(self.fail("text after the closing `]`"))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if !self.eat('"') {
            return Err(self.fail("each name must be a string in double quotes"));
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.fail("a name has no closing quote")),
                Some('"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.at += 1;
                    out.push(self.escape()?);
                }
                Some(c) => {
                    self.at += 1;
                    out.push(c);
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        let Some(c) = self.peek() else {
            return Err(self.fail("a name ends in the middle of an escape"));
        };
        self.at += 1;
        Ok(match c {
            '"' | '\\' | '/' | '#' => c,
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'e' => '\u{1b}',
            'a' => '\u{7}',
            'v' => '\u{b}',
            's' => ' ',
            'u' if self.peek() == Some('{') => {
                self.at += 1;
                let code = self.hex_until('}')?;
                char::from_u32(code).ok_or_else(|| self.fail("not a character"))?
            }
            'u' => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) {
                    if !(self.eat('\\') && self.eat('u')) {
                        return Err(self.fail("a lone surrogate in a \\u escape"));
                    }
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.fail("a lone surrogate in a \\u escape"));
                    }
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.fail("not a character"))?
                } else {
                    char::from_u32(high)
                        .ok_or_else(|| self.fail("a lone surrogate in a \\u escape"))?
                }
            }
            _ => return Err(self.fail("an unknown escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.fail("\\u needs four hex digits"))?;
            self.at += 1;
            code = code * 16 + digit;
        }
        Ok(code)
    }

    fn hex_until(&mut self, close: char) -> Result<u32, String> {
        let mut code: u32 = 0;
        let mut digits = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(16)) {
            self.at += 1;
            digits += 1;
            code = code.saturating_mul(16).saturating_add(digit);
        }
        if digits == 0 || digits > 6 || !self.eat(close) {
            return Err(self.fail("\\u{…} needs one to six hex digits"));
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_unambiguous() {
        assert_eq!(quote("security-scan"), r#""security-scan""#);
        assert_eq!(quote("sec/scan ✓ \"quoted\""), r#""sec/scan ✓ \"quoted\"""#);
        assert_eq!(quote("  x  "), r#""  x  ""#);
        assert_eq!(quote("a\\b\n\u{1b}"), r#""a\\b\n\u001b""#);
        assert_eq!(quote_all(["a", "b c"]), r#""a", "b c""#);
    }

    #[test]
    fn near_is_only_case_and_surrounding_spaces() {
        let names = ["Security scan", "lint"];
        assert_eq!(near("security scan", names), Some("Security scan"));
        assert_eq!(near("  Security scan ", names), Some("Security scan"));
        assert_eq!(near("LINT", names), Some("lint"));
        assert_eq!(near("Security scan", names), None, "an exact match");
        assert_eq!(near("Security  scan", names), None, "inner spaces count");
        assert_eq!(near("security-scan", names), None);
        assert_eq!(near("lin", names), None);
        assert!(
            did_you_mean("security scan", names)
                .unwrap()
                .starts_with(r#"did you mean "Security scan"?"#)
        );
    }

    #[test]
    fn lists_read_json_ruby_and_plain_names() {
        assert_eq!(parse_list(r#"["a", "b"]"#).unwrap(), ["a", "b"]);
        assert_eq!(parse_list(r#"["a","b"] "#).unwrap(), ["a", "b"]);
        assert_eq!(parse_list("[]").unwrap(), Vec::<String>::new());
        assert_eq!(parse_list(" [ ] ").unwrap(), Vec::<String>::new());
        assert_eq!(parse_list("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_list("manual review").unwrap(), ["manual review"]);
        assert_eq!(parse_list(" spaced ").unwrap(), [" spaced "]);
        assert_eq!(
            parse_list(r#"["sec/scan ✓ \"q\"", "tab\there", "\u00e9\ud83d\ude00"]"#).unwrap(),
            ["sec/scan ✓ \"q\"", "tab\there", "é😀"]
        );
        // As Ruby's Array#to_s writes them (GitLab's partial interpolation).
        assert_eq!(
            parse_list(r#"["esc\e", "\#{x}", "\u{1F600}"]"#).unwrap(),
            ["esc\u{1b}", "#{x}", "😀"]
        );
        for bad in [
            "[",
            "[a]",
            r#"["a""#,
            r#"["a" "b"]"#,
            r#"["a"] x"#,
            r#"[1]"#,
            r#"["\q"]"#,
            r#"["\ud800"]"#,
            r#"["\u{110000}"]"#,
            r#"["a",]"#,
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
        assert!(
            !parse_list(r#"["glpat-secret"#)
                .unwrap_err()
                .contains("glpat")
        );
    }
}
