//! Durations as users write them: `90s`, `5m`, `1h30m`, `250ms` or plain seconds.

use std::time::Duration;

/// The longest duration accepted anywhere: a week. Anything above is a typo.
const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| format!("`{text}` is too large"))?;
        return check_max(text, Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration (use e.g. 90s, 5m, 1h30m)"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "" => {
                return Err(format!(
                    "`{text}` needs a unit after {number} (ms, s, m, h)"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}` has an unknown unit `{other}` (use ms, s, m, h)"
                ));
            }
        };
        total = total.saturating_add(part);
    }
    check_max(text, total)
}

fn check_max(text: &str, d: Duration) -> Result<Duration, String> {
    if d > MAX {
        Err(format!("`{text}` is too large (at most 168h)"))
    } else {
        Ok(d)
    }
}

/// Short human form for logs: `42s`, `3m05s`, `1h02m`, `750ms`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The shortest form, as users write durations: `5m`, `1h30m`, `250ms`, `2m5s`.
pub(crate) fn short(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let parts = [
        (secs / 3600, "h"),
        (secs % 3600 / 60, "m"),
        (secs % 60, "s"),
        (u64::from(d.subsec_millis()), "ms"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert!(parse("-5s").unwrap_err().contains("negative"));
        assert!(parse("10x").unwrap_err().contains("unknown unit"));
        assert!(parse("99999999h").unwrap_err().contains("too large"));
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("5m3").unwrap_err().contains("needs a unit"));
        assert!(parse("m").is_err());
        assert!(parse("99999999999999999999999").is_err());
    }

    #[test]
    fn the_documented_maximum_is_accepted_and_no_more() {
        let week = Duration::from_secs(168 * 3600);
        assert_eq!(parse("168h"), Ok(week));
        assert_eq!(parse("604800"), Ok(week));
        assert_eq!(parse("167h60m"), Ok(week));
        assert!(parse("168h1ms").unwrap_err().contains("at most 168h"));
        assert!(parse("604801").unwrap_err().contains("at most 168h"));
    }

    #[test]
    fn short_form() {
        assert_eq!(short(Duration::from_secs(300)), "5m");
        assert_eq!(short(Duration::from_secs(5400)), "1h30m");
        assert_eq!(short(Duration::from_secs(125)), "2m5s");
        assert_eq!(short(Duration::from_millis(250)), "250ms");
        assert_eq!(short(Duration::from_millis(1500)), "1s500ms");
    }

    #[test]
    fn human_form() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(185)), "3m05s");
        assert_eq!(human(Duration::from_secs(3720)), "1h02m");
        assert_eq!(human(Duration::from_millis(750)), "750ms");
    }
}
