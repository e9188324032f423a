//! Prometheus's `<duration>` and `<size>` placeholders.
//!
//! A [`Duration`] is written `1y2w3d4h5m6s7ms` (units in that order, each at
//! most once, whole numbers only) or `0`; a year is 365 days, a week 7 days.
//! It prints the way Prometheus prints it (`1m30s`, `2w`, `0s`). A
//! [`ByteSize`] is a number with a base-2 unit (`B`, `KB`/`KiB`, `MB`/`MiB`,
//! ... `EB`/`EiB`), fractions allowed (`1.5MB`), or `0`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time with millisecond resolution, as written in
/// Prometheus's configuration files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

/// Why a duration did not parse; the text is Prometheus's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The empty string.
    #[error("empty duration string")]
    Empty,
    /// Not of the form `1y2w3d4h5m6s7ms`.
    #[error("not a valid duration string: \"{0}\"")]
    Invalid(String),
    /// More than about 292 years.
    #[error("duration out of range")]
    OutOfRange,
}

/// Units from the biggest to the smallest, with their size in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// The largest duration Go's `time.Duration` holds, in nanoseconds.
const MAX_NANOS: u64 = i64::MAX as u64;

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Duration {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }

    /// The standard library's duration.
    pub const fn as_std(self) -> std::time::Duration {
        self.0
    }

    /// Whole milliseconds.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this is zero (in configuration: "not set").
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Parses Prometheus's duration syntax.
    pub fn parse(s: &str) -> Result<Duration, DurationError> {
        match s {
            "" => return Err(DurationError::Empty),
            "0" => return Ok(Duration::ZERO),
            _ => {}
        }
        let invalid = || DurationError::Invalid(s.to_owned());
        let mut rest = s.as_bytes();
        let mut next_unit = 0;
        let mut total_ms: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(invalid());
            }
            let number = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(invalid)?;
            rest = &rest[digits..];
            let letters = rest.iter().take_while(|c| !c.is_ascii_digit()).count();
            let unit = &rest[..letters];
            rest = &rest[letters..];
            let idx = UNITS
                .iter()
                .position(|(name, _)| name.as_bytes() == unit)
                .ok_or_else(invalid)?;
            if idx < next_unit {
                return Err(invalid());
            }
            next_unit = idx + 1;
            let ms = UNITS[idx].1;
            if number > MAX_NANOS / (ms * 1_000_000) {
                return Err(DurationError::OutOfRange);
            }
            total_ms += number * ms;
            if total_ms > MAX_NANOS / 1_000_000 {
                return Err(DurationError::OutOfRange);
            }
        }
        Ok(Duration::from_millis(total_ms))
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> std::time::Duration {
        d.0
    }
}

impl fmt::Display for Duration {
    /// Prometheus's form: years and weeks only when they divide evenly,
    /// then days down to milliseconds; zero is `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (i, (name, size)) in UNITS.iter().enumerate() {
            let exact_only = i < 2;
            if exact_only && !ms.is_multiple_of(*size) {
                continue;
            }
            let v = ms / size;
            if v > 0 {
                write!(f, "{v}{name}")?;
                ms -= v * size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Duration, DurationError> {
        Duration::parse(s)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = crate::de::scalar_string(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A number of bytes written with a base-2 unit (`10MB` is 10 MiB).
///
/// Signed like Go's `units.Base2Bytes`: Prometheus accepts `-1MB` for its
/// limits (where anything not above zero means "no limit").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub i64);

/// Why a size did not parse; the texts are those of Go's `units` package.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    /// Not a number followed by a unit.
    #[error("units: invalid {0}")]
    Invalid(String),
    /// A unit that is not one of the byte units.
    #[error("units: unknown unit {unit} in {input}")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Too large for 63 bits.
    #[error("units: overflow parsing unit")]
    Overflow,
}

impl ByteSize {
    /// Parses a size: first with the `KiB` spellings (and plain `B`), then
    /// with the `KB` spellings, both meaning powers of 1024, like
    /// `units.ParseBase2Bytes`.
    pub fn parse(s: &str) -> Result<ByteSize, ByteSizeError> {
        let v = parse_units(s, "iB").or_else(|_| parse_units(s, "B"))?;
        // `parse_units` checked the range, so the cast only drops the
        // fraction of a byte, as Go's conversion does.
        #[allow(clippy::cast_possible_truncation)]
        Ok(ByteSize(v as i64))
    }

    /// The limit in bytes: `None` when zero or negative (no limit).
    pub fn limit(self) -> Option<u64> {
        u64::try_from(self.0).ok().filter(|b| *b > 0)
    }
}

/// The multiplier of `unit` when the long units end in `suffix`.
fn unit_multiplier(unit: &str, suffix: &str) -> Option<f64> {
    if unit == "B" {
        return Some(1.0);
    }
    let prefix = unit.strip_suffix(suffix)?;
    let power = ["K", "M", "G", "T", "P", "E"]
        .iter()
        .position(|p| *p == prefix)?;
    Some(1024f64.powi(i32::try_from(power).unwrap_or(0) + 1))
}

fn parse_units(orig: &str, suffix: &str) -> Result<f64, ByteSizeError> {
    let invalid = || ByteSizeError::Invalid(orig.to_owned());
    let mut s = orig;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0.0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0.0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut value: f64 = if int_len > 0 {
            s[..int_len].parse().map_err(|_| invalid())?
        } else {
            0.0
        };
        s = &s[int_len..];
        let mut frac_len = 0;
        if let Some(rest) = s.strip_prefix('.') {
            frac_len = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
            if frac_len > 0 {
                let frac: f64 = rest[..frac_len].parse().map_err(|_| invalid())?;
                value += frac / 10f64.powi(i32::try_from(frac_len).unwrap_or(i32::MAX));
            }
            s = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .take_while(|c| !(*c == b'.' || c.is_ascii_digit()))
            .count();
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let mult = unit_multiplier(unit, suffix).ok_or_else(|| ByteSizeError::UnknownUnit {
            unit: unit.to_owned(),
            input: orig.to_owned(),
        })?;
        total += value * mult;
    }
    if negative {
        total = -total;
    }
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&total) {
        return Err(ByteSizeError::Overflow);
    }
    Ok(total)
}

impl fmt::Display for ByteSize {
    /// Go's `Base2Bytes.String`: `10MiB`, `1KiB512B`, `0B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let mut n = self.0.unsigned_abs();
        if n == 0 {
            return f.write_str("0B");
        }
        let mut parts = Vec::new();
        for unit in UNITS {
            if !n.is_multiple_of(1024) {
                parts.push(format!("{}{unit}", n % 1024));
            }
            n /= 1024;
            if n == 0 {
                break;
            }
        }
        for p in parts.iter().rev() {
            f.write_str(p)?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        let s = crate::de::scalar_string(d)?;
        ByteSize::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn dur(input: &str, want: Result<&str, &str>) {
        let got = Duration::parse(input)
            .map(|d| d.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(
            got,
            want.map(str::to_owned).map_err(str::to_owned),
            "{input}"
        );
    }

    #[test]
    fn durations() {
        dur("0", Ok("0s"));
        dur("0s", Ok("0s"));
        dur("30s", Ok("30s"));
        dur("90s", Ok("1m30s"));
        dur("1m30s", Ok("1m30s"));
        dur("500ms", Ok("500ms"));
        dur("1d", Ok("1d"));
        dur("7d", Ok("1w"));
        dur("8d", Ok("8d"));
        dur("1w", Ok("1w"));
        dur("1y", Ok("1y"));
        dur("365d", Ok("1y"));
        dur("1h0m", Ok("1h"));
        dur("1y2w3d4h5m6s7ms", Ok("382d4h5m6s7ms"));
        dur("", Err("empty duration string"));
        dur("1x", Err("not a valid duration string: \"1x\""));
        dur("1h1h", Err("not a valid duration string: \"1h1h\""));
        dur("1ms1s", Err("not a valid duration string: \"1ms1s\""));
        dur("1.5s", Err("not a valid duration string: \"1.5s\""));
        dur("-1s", Err("not a valid duration string: \"-1s\""));
        dur("5", Err("not a valid duration string: \"5\""));
        dur("1S", Err("not a valid duration string: \"1S\""));
        dur("s", Err("not a valid duration string: \"s\""));
        dur("99999999999y", Err("duration out of range"));
        dur("292y", Ok("292y"));
    }

    #[track_caller]
    fn size(input: &str, want: Result<i64, &str>) {
        let got = ByteSize::parse(input)
            .map(|s| s.0)
            .map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(str::to_owned), "{input}");
    }

    #[test]
    fn sizes() {
        size("0", Ok(0));
        size("10MB", Ok(10 << 20));
        size("10MiB", Ok(10 << 20));
        size("1KB512B", Ok(1536));
        size("1KiB512B", Ok(1536));
        size("1.5MB", Ok(3 << 19));
        size("100B", Ok(100));
        size("1EB", Ok(1 << 60));
        size("10XB", Err("units: unknown unit XB in 10XB"));
        size("10", Err("units: unknown unit  in 10"));
        size("-1", Err("units: unknown unit  in -1"));
        size("10mb", Err("units: unknown unit mb in 10mb"));
        size("10kB", Err("units: unknown unit kB in 10kB"));
        size("", Err("units: invalid "));
        size("MB", Err("units: invalid MB"));
        size("-1MB", Ok(-(1 << 20)));
        size("+1MB", Ok(1 << 20));
        size(".5KB", Ok(512));
        size("1e3B", Err("units: unknown unit e in 1e3B"));
        assert_eq!(ByteSize(10 << 20).to_string(), "10MiB");
        assert_eq!(ByteSize(1536).to_string(), "1KiB512B");
    }
}
