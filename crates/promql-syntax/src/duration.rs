//! Durations as PromQL writes them (`1h30m`, `500ms`).

use std::fmt;

const MS: i64 = 1_000_000;

/// A signed duration in nanoseconds, like Go's `time.Duration`; PromQL's
/// printer shows it with millisecond resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    /// From milliseconds.
    pub fn from_millis(ms: i64) -> Duration {
        Duration(ms.saturating_mul(MS))
    }

    /// From float seconds, rounded to the nearest nanosecond (saturating).
    pub fn from_secs_f64(s: f64) -> Duration {
        Duration(go_f64_to_i64((s * 1e9).round()))
    }

    /// Nanoseconds.
    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds (truncated toward zero).
    pub fn millis(self) -> i64 {
        self.0 / MS
    }

    /// Float seconds, as Go's `Duration.Seconds`.
    pub fn as_secs_f64(self) -> f64 {
        let sec = self.0 / 1_000_000_000;
        let nsec = self.0 % 1_000_000_000;
        sec as f64 + nsec as f64 / 1e9
    }
}

/// Go's float-to-int64 conversion on amd64: out-of-range values and NaN
/// become `i64::MIN`.
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    // 2^63, as Go's float64(math.MaxInt64).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

impl fmt::Display for Duration {
    /// Prometheus's `model.Duration` format: `1h30m`, `90d` (years and
    /// weeks only when exact), `0s` for zero, a leading `-` when negative.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
        }
        let mut ms = ms.unsigned_abs();
        const UNITS: [(&str, u64, bool); 7] = [
            ("y", 1000 * 60 * 60 * 24 * 365, true),
            ("w", 1000 * 60 * 60 * 24 * 7, true),
            ("d", 1000 * 60 * 60 * 24, false),
            ("h", 1000 * 60 * 60, false),
            ("m", 1000 * 60, false),
            ("s", 1000, false),
            ("ms", 1, false),
        ];
        for (unit, mult, exact) in UNITS {
            if exact && !ms.is_multiple_of(mult) {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

/// Parses a duration literal like Prometheus's `model.ParseDuration`
/// (units `y w d h m s ms`, biggest first, each at most once), with its
/// error messages.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match s {
        "0" => return Ok(Duration(0)),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", crate::quote::go_quote(s));
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut last_unit = 0;
    while i < b.len() {
        let d0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == d0 {
            return Err(invalid());
        }
        let v: u64 = s[d0..i].parse().map_err(|_| invalid())?;
        let u0 = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if i == u0 {
            return Err(invalid());
        }
        let unit = &s[u0..i];
        let (pos, mult): (u32, u64) = match unit {
            "ms" => (7, 1_000_000),
            "s" => (6, 1_000_000_000),
            "m" => (5, 60_000_000_000),
            "h" => (4, 3_600_000_000_000),
            "d" => (3, 86_400_000_000_000),
            "w" => (2, 604_800_000_000_000),
            "y" => (1, 31_536_000_000_000_000),
            _ => {
                return Err(format!(
                    "unknown unit {} in duration {}",
                    crate::quote::go_quote(unit),
                    crate::quote::go_quote(s)
                ));
            }
        };
        if pos <= last_unit {
            return Err(invalid());
        }
        last_unit = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        total += v * mult;
        if total > i64::MAX as u64 {
            return Err("duration out of range".into());
        }
    }
    Ok(Duration(total as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(s: &str, want: Result<&str, &str>) {
        let got = parse_duration(s).map(|d| d.to_string());
        assert_eq!(
            got.as_deref(),
            want.map_err(|e| e.to_owned()).as_deref(),
            "{s}"
        );
    }

    #[test]
    fn parses_and_formats() {
        check("5m", Ok("5m"));
        check("90m", Ok("1h30m"));
        check("1h30m", Ok("1h30m"));
        check("365d", Ok("1y"));
        check("366d", Ok("366d"));
        check("14d", Ok("2w"));
        check("1500ms", Ok("1s500ms"));
        check("0", Ok("0s"));
        check("1m1h", Err("not a valid duration string: \"1m1h\""));
        check("5x", Err("unknown unit \"x\" in duration \"5x\""));
        check("1.5h", Err("unknown unit \".\" in duration \"1.5h\""));
        check("300y", Err("duration out of range"));
        assert_eq!(Duration::from_secs_f64(-90.0).to_string(), "-1m30s");
    }
}
