use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Why a time or time format was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(String);

const EXPECTED: &str = "expected epoch seconds (1553714372), a date (2026-11-01), a date and \
                        time (2026-11-01T12:00:00Z) or a duration back from now (30d, 12h, 90m, 2w)";

/// Parses a duration: a number followed by `s`, `m`, `h`, `d` or `w`, into seconds.
///
/// # Errors
/// When the text is not such a duration.
pub fn parse_duration(s: &str) -> Result<i64, TimeError> {
    let s = s.trim();
    let unit = s
        .chars()
        .last()
        .ok_or_else(|| TimeError("empty duration".into()))?;
    let mult: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => {
            return Err(TimeError(format!(
                "{s:?}: a duration ends in s, m, h, d or w"
            )));
        }
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError(format!(
            "{s:?}: a duration is a number and a unit, like 30d"
        )));
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n <= 200 * 365 * 86_400)
        .ok_or_else(|| TimeError(format!("{s:?}: duration too long")))
}

/// Parses an absolute or relative time into epoch seconds. Relative times (`30d`, or
/// DNSDB's negative form `-2592000` / `-30d`) count back from `now`.
///
/// # Errors
/// When the text is none of the accepted forms.
pub fn parse_time(input: &str, now: i64) -> Result<i64, TimeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(TimeError(format!("empty time: {EXPECTED}")));
    }
    if let Some(rel) = s.strip_prefix('-') {
        if rel.bytes().all(|b| b.is_ascii_digit()) && !rel.is_empty() {
            let secs: i64 = rel
                .parse()
                .map_err(|_| TimeError(format!("{s:?}: too large")))?;
            return Ok(now.saturating_sub(secs));
        }
        return parse_duration(rel).map(|d| now - d);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| TimeError(format!("{s:?}: too large")));
    }
    if s.ends_with(['s', 'm', 'h', 'd', 'w'])
        && s.as_bytes()[0].is_ascii_digit()
        && !s.contains('-')
    {
        return parse_duration(s).map(|d| now - d);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.timestamp());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), fmt) {
            return Ok(dt.and_utc().timestamp());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .map_or(0, |dt| dt.and_utc().timestamp()));
    }
    Err(TimeError(format!("{s:?} is not a time: {EXPECTED}")))
}

/// How times are printed: ISO 8601 UTC by default, or a strftime pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeFormat(Option<String>);

impl TimeFormat {
    /// Checks a strftime pattern (the seed's is `%d/%m/%Y %H:%M:%S`).
    ///
    /// # Errors
    /// When the pattern has an unknown or incomplete specifier.
    pub fn strftime(pattern: &str) -> Result<Self, TimeError> {
        if StrftimeItems::new(pattern).any(|i| matches!(i, Item::Error)) {
            return Err(TimeError(format!(
                "{pattern:?} is not a valid strftime pattern (like %d/%m/%Y %H:%M:%S)"
            )));
        }
        Ok(Self(Some(pattern.to_owned())))
    }

    /// Epoch seconds in this format (UTC).
    #[must_use]
    pub fn format(&self, secs: i64) -> String {
        let Some(dt) = DateTime::<Utc>::from_timestamp(secs, 0) else {
            return secs.to_string();
        };
        match &self.0 {
            None => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            Some(p) => dt.format(p).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = 1_700_000_000;
        let cases = [
            ("1553714372", Ok(1_553_714_372)),
            ("2019-03-27", Ok(1_553_644_800)),
            ("2019-03-27T19:19:32Z", Ok(1_553_714_372)),
            ("2019-03-27 19:19:32", Ok(1_553_714_372)),
            ("2019-03-27T21:19:32+02:00", Ok(1_553_714_372)),
            ("30d", Ok(now - 30 * 86_400)),
            ("-30d", Ok(now - 30 * 86_400)),
            ("12h", Ok(now - 12 * 3600)),
            ("-86400", Ok(now - 86_400)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s, now).map_err(|_| ()), want, "{s}");
        }
        for bad in [
            "",
            "yesterday",
            "30x",
            "2019-13-40",
            "d",
            "-",
            "99999999999999999999999",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(
            TimeFormat::default().format(1_553_714_372),
            "2019-03-27T19:19:32Z"
        );
        let seed = TimeFormat::strftime("%d/%m/%Y %H:%M:%S").unwrap();
        assert_eq!(seed.format(1_553_714_372), "27/03/2019 19:19:32");
        assert!(TimeFormat::strftime("%Q").is_err());
        assert!(TimeFormat::strftime("%").is_err());
    }
}
