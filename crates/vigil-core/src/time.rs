//! Times as Vigil shows them: Unix milliseconds inside, RFC 3339 UTC outside (the collector's
//! API and dashboard, evidence documents).

/// Formats Unix milliseconds as RFC 3339 UTC (`2026-12-05T00:21:36.123Z`).
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses Unix milliseconds or an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<u64> {
    if let Ok(ms) = s.parse::<u64>() {
        return Some(ms);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Milliseconds since the Unix epoch now (0 before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_894_096_123), "2025-12-05T00:21:36.123Z");
        assert_eq!(
            parse_time("2025-12-05T00:21:36.123Z"),
            Some(1_764_894_096_123)
        );
        assert_eq!(parse_time("42"), Some(42));
        assert_eq!(parse_time("yesterday"), None);
    }
}
