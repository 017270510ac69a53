//! Time as text: GitHub's ISO 8601 expiries and HTTP `Date` headers read
//! into unix seconds, and unix seconds written for messages. Pure; bounded,
//! so no hostile value can overflow.

/// The years a timestamp from GitHub may name: bounded, so no arithmetic on
/// a hostile value can overflow.
const YEARS: std::ops::RangeInclusive<i64> = 1970..=9999;

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)` to unix seconds; `None` when not UTC.
pub(crate) fn parse_timestamp(s: &str) -> Option<u64> {
    let (date, time) = s.split_once('T')?;
    let time = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00"))?;
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    if d.next().is_some()
        || t.next().is_some()
        || !YEARS.contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..=60).contains(&sec) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a day count.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-24 03:00:00 UTC`, for messages.
pub(crate) fn format_utc(unix: u64) -> String {
    let secs = i64::try_from(unix).unwrap_or(i64::MAX);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", t / 3600, t % 3600 / 60, t % 60)
}

/// An HTTP `Date` (IMF-fixdate, `Tue, 24 Nov 2026 02:15:11 GMT`) to unix seconds.
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    let mut parts = s.split_whitespace();
    let (_weekday, day, month, year, time, zone) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if zone != "GMT" || parts.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year) = (day.parse::<i64>().ok()?, year.parse::<i64>().ok()?);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    if !YEARS.contains(&year)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    u64::try_from(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_timestamps_convert_to_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(parse_timestamp("2024-02-29T12:00:00.123Z"), Some(1_709_208_000));
        assert_eq!(parse_timestamp("2026-11-24T03:00:00+00:00"), Some(1_795_489_200));
        assert_eq!(parse_timestamp("2026-11-24T03:00:00+02:00"), None);
        assert_eq!(parse_timestamp("2026-13-24T03:00:00Z"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("99999999999999999-01-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("-99999999999999999-01-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_http_date("Mon, 01 Jan 99999999999999999 00:00:00 GMT"), None);
    }

    #[test]
    fn http_dates_convert_to_unix_seconds_and_back() {
        assert_eq!(parse_http_date("Mon, 11 Jul 2016 22:14:10 GMT"), Some(1_468_275_250));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Mon, 11 Jul 2016 22:14:10 CET"), None);
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(format_utc(1_468_275_250), "2016-07-11 22:14:10 UTC");
        assert_eq!(format_utc(1_709_208_000), "2024-02-29 12:00:00 UTC");
    }
}
