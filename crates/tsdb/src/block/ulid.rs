//! Block identifiers: ULIDs (48-bit millisecond timestamp, 80 random
//! bits), written as 26 characters of Crockford's base32, as Prometheus
//! names its block directories.

use std::fmt;
use std::str::FromStr;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID. Orders by time first, as its text does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ulid(pub u128);

impl Ulid {
    /// A new ULID for `ms` (milliseconds since the epoch) with random low
    /// bits from the operating system.
    pub fn new(ms: u64) -> Ulid {
        let mut rnd = [0u8; 10];
        if getrandom::fill(&mut rnd).is_err() {
            // No OS randomness: fall back to the hasher's per-process keys,
            // still unique within the process thanks to the counter mix.
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(ms);
            let v = h.finish();
            rnd[..8].copy_from_slice(&v.to_be_bytes());
        }
        let mut r = 0u128;
        for b in rnd {
            r = (r << 8) | u128::from(b);
        }
        Ulid((u128::from(ms & 0xFFFF_FFFF_FFFF) << 80) | r)
    }

    /// A new ULID for the current time.
    pub fn now() -> Ulid {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ulid::new(ms)
    }

    /// The timestamp part (ms).
    pub fn timestamp_ms(self) -> u64 {
        (self.0 >> 80) as u64
    }
}

impl fmt::Display for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 26];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *c = ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        // The alphabet is ASCII.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ulid({self})")
    }
}

/// Why a string is not a ULID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid ULID {0:?}")]
pub struct ParseUlidError(pub String);

impl FromStr for Ulid {
    type Err = ParseUlidError;

    fn from_str(s: &str) -> Result<Ulid, ParseUlidError> {
        let b = s.as_bytes();
        // 26 characters of 5 bits is 130 bits: the first may be at most 7.
        if b.len() != 26 || b[0] > b'7' {
            return Err(ParseUlidError(s.to_string()));
        }
        let mut v = 0u128;
        for &c in b {
            let d = match c.to_ascii_uppercase() {
                c @ b'0'..=b'9' => c - b'0',
                b'O' => 0,
                b'I' | b'L' => 1,
                c => match ALPHABET.iter().position(|&a| a == c) {
                    Some(p) => p as u8,
                    None => return Err(ParseUlidError(s.to_string())),
                },
            };
            v = (v << 5) | u128::from(d);
        }
        Ok(Ulid(v))
    }
}

impl serde::Serialize for Ulid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ulid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ulid, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_order() {
        let a = Ulid::new(1_700_000_000_000);
        let s = a.to_string();
        assert_eq!(s.len(), 26);
        assert_eq!(s.parse::<Ulid>(), Ok(a));
        assert_eq!(a.timestamp_ms(), 1_700_000_000_000);
        let b = Ulid::new(1_700_000_000_001);
        assert!(a < b && a.to_string() < b.to_string());
        // A real Prometheus block name.
        let p: Ulid = "01BKGV7JBM69T2G1BGBGM6KB12".parse().unwrap();
        assert_eq!(p.to_string(), "01BKGV7JBM69T2G1BGBGM6KB12");
        assert!("8ZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<Ulid>().is_err());
        assert!("01BKGV7JBM69T2G1BGBGM6KB1U".parse::<Ulid>().is_err());
        assert!("short".parse::<Ulid>().is_err());
    }
}
