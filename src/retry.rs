//! The retry policy, as the official SDKs have it: which failures are retried, and how long to
//! wait before the next attempt.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Retries made when the options set none.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
const INITIAL_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// A server's own `retry-after` is honoured only when it asks for less than this.
const MAX_SERVER_DELAY: Duration = Duration::from_secs(60);

/// True for the statuses worth another attempt: 408, 409, 429 and every 5xx.
pub(crate) fn retriable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500..=599)
}

/// The wait the server asked for in `retry-after-ms` or `retry-after` (seconds or an HTTP
/// date), when it is more than zero and under 60 s.
pub(crate) fn server_delay(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let asked = if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        Duration::try_from_secs_f64(ms / 1000.0).ok()
    } else if let Some(value) = header("retry-after") {
        match value.parse::<f64>() {
            Ok(seconds) => Duration::try_from_secs_f64(seconds).ok(),
            Err(_) => parse_http_date(value).and_then(|at| at.duration_since(now).ok()),
        }
    } else {
        None
    }?;
    (!asked.is_zero() && asked < MAX_SERVER_DELAY).then_some(asked)
}

/// The wait before retry number `retry` (1 for the first): the server's wish when it has one,
/// else 0.5 s doubling per retry, capped at 8 s, less up to 25 % jitter.
pub(crate) fn delay(retry: u32, server: Option<Duration>) -> Duration {
    if let Some(asked) = server {
        return asked;
    }
    let exponential = INITIAL_DELAY.saturating_mul(1u32 << (retry.saturating_sub(1)).min(16));
    exponential.min(MAX_DELAY).mul_f64(1.0 - 0.25 * jitter())
}

/// A number in [0, 1) that differs from call to call; retries only need spreading, not
/// cryptographic randomness, so std's randomly keyed hasher over the clock is enough.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 9110 requires of
/// senders.
fn parse_http_date(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn which_statuses_are_retried() {
        for code in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(retriable_status(code), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 422] {
            assert!(!retriable_status(code), "{code}");
        }
    }

    #[test]
    fn server_delays_are_read_and_bounded() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let d = |pairs| server_delay(&headers(pairs), now);
        assert_eq!(
            d(&[("retry-after-ms", "150")]),
            Some(Duration::from_millis(150))
        );
        assert_eq!(
            d(&[("retry-after-ms", "2.5"), ("retry-after", "9")]),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(d(&[("retry-after", "3")]), Some(Duration::from_secs(3)));
        assert_eq!(
            d(&[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")]),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            d(&[("retry-after", "Sun, 06 Nov 1994 08:50:37 GMT")]),
            None,
            "60 s is too long"
        );
        assert_eq!(
            d(&[("retry-after", "Sun, 06 Nov 1994 08:49:00 GMT")]),
            None,
            "in the past"
        );
        assert_eq!(d(&[("retry-after", "120")]), None);
        assert_eq!(d(&[("retry-after", "0")]), None);
        assert_eq!(d(&[("retry-after", "soon")]), None);
        assert_eq!(d(&[]), None);
    }

    #[test]
    fn http_dates_parse_to_the_right_instant() {
        let parsed = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parsed.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        let leap = parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").unwrap();
        assert_eq!(
            leap.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_709_164_800
        );
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC").is_none());
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
    }

    #[test]
    fn backoff_doubles_from_half_a_second_to_eight_with_jitter() {
        for (retry, full) in [
            (1, 500),
            (2, 1000),
            (3, 2000),
            (5, 8000),
            (9, 8000),
            (40, 8000),
        ] {
            let waited = delay(retry, None).as_millis();
            assert!(
                waited <= full && waited >= full * 3 / 4,
                "retry {retry}: {waited} ms"
            );
        }
        assert_eq!(
            delay(1, Some(Duration::from_millis(50))),
            Duration::from_millis(50)
        );
    }
}
