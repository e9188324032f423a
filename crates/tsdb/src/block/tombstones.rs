//! Tombstones: deleted time ranges per series of a block (Prometheus's
//! `tombstones` file).
//!
//! File: magic `0x0130BA30` (4 bytes, big-endian), format version `1`
//! (1 byte), then one entry per interval — series reference (uvarint),
//! start and end (signed varints, inclusive) — then the CRC32-Castagnoli
//! of the entries (not of the version byte), big-endian. Entries are
//! written in series order; readers accept any order and merge overlaps.

use std::collections::BTreeMap;
use std::path::Path;

use super::Error;

/// File name of the tombstones.
pub const TOMBSTONES_FILENAME: &str = "tombstones";
/// The file's magic number.
pub const MAGIC_TOMBSTONES: u32 = 0x0130_BA30;
const FORMAT_V1: u8 = 1;

/// A deleted range, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// First deleted millisecond.
    pub mint: i64,
    /// Last deleted millisecond.
    pub maxt: i64,
}

impl Interval {
    /// Whether `t` is deleted.
    pub fn contains(&self, t: i64) -> bool {
        self.mint <= t && t <= self.maxt
    }

    /// Whether the interval overlaps `[mint, maxt]`.
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.mint <= maxt && mint <= self.maxt
    }
}

/// Adds `iv` to sorted, disjoint `list`, merging what it overlaps or
/// touches.
pub fn add_interval(list: &mut Vec<Interval>, iv: Interval) {
    if iv.mint > iv.maxt {
        return;
    }
    let mut merged = iv;
    list.retain(|o| {
        let touches =
            o.mint <= merged.maxt.saturating_add(1) && merged.mint <= o.maxt.saturating_add(1);
        if touches {
            merged.mint = merged.mint.min(o.mint);
            merged.maxt = merged.maxt.max(o.maxt);
        }
        !touches
    });
    let pos = list.partition_point(|o| o.mint < merged.mint);
    list.insert(pos, merged);
}

/// Whether `t` falls in any of the sorted `list`.
pub fn is_deleted(list: &[Interval], t: i64) -> bool {
    let i = list.partition_point(|iv| iv.maxt < t);
    list.get(i).is_some_and(|iv| iv.mint <= t)
}

/// Deleted intervals by series reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tombstones {
    map: BTreeMap<u64, Vec<Interval>>,
}

impl Tombstones {
    /// No tombstones.
    pub fn new() -> Tombstones {
        Tombstones::default()
    }

    /// Deletes `iv` of series `r`.
    pub fn add(&mut self, r: u64, iv: Interval) {
        add_interval(self.map.entry(r).or_default(), iv);
    }

    /// The deleted intervals of series `r` (sorted, disjoint).
    pub fn get(&self, r: u64) -> &[Interval] {
        self.map.get(&r).map_or(&[], Vec::as_slice)
    }

    /// Every series with its intervals, by reference.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[Interval])> {
        self.map.iter().map(|(r, v)| (*r, v.as_slice()))
    }

    /// Number of intervals.
    pub fn num_intervals(&self) -> u64 {
        self.map.values().map(|v| v.len() as u64).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 8 * self.map.len());
        out.extend_from_slice(&MAGIC_TOMBSTONES.to_be_bytes());
        out.push(FORMAT_V1);
        for (r, ivs) in &self.map {
            for iv in ivs {
                crate::chunks::put_uvarint(&mut out, *r);
                put_varint(&mut out, iv.mint);
                put_varint(&mut out, iv.maxt);
            }
        }
        let crc = crc32c::crc32c(&out[5..]);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Parses the file's bytes; `place` names it in errors.
    pub fn decode(b: &[u8], place: &Path) -> Result<Tombstones, Error> {
        let bad = |reason: String| Error::Corrupt {
            path: place.to_path_buf(),
            reason,
        };
        if b.len() < 9 {
            return Err(bad(format!(
                "tombstones file of {} bytes is too short",
                b.len()
            )));
        }
        let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if magic != MAGIC_TOMBSTONES {
            return Err(bad(format!("invalid magic number {magic:x}")));
        }
        if b[4] != FORMAT_V1 {
            return Err(bad(format!("invalid tombstone format {:x}", b[4])));
        }
        let body = &b[5..b.len() - 4];
        let want = u32::from_be_bytes([
            b[b.len() - 4],
            b[b.len() - 3],
            b[b.len() - 2],
            b[b.len() - 1],
        ]);
        if crc32c::crc32c(body) != want {
            return Err(bad("checksum did not match".into()));
        }
        let mut t = Tombstones::new();
        let mut p = 0;
        while p < body.len() {
            let at = 5 + p;
            let (r, n) = crate::chunks::uvarint(&body[p..])
                .ok_or_else(|| bad(format!("invalid series reference at offset {at}")))?;
            p += n;
            let (mint, n) = varint(&body[p..])
                .ok_or_else(|| bad(format!("invalid interval start at offset {}", 5 + p)))?;
            p += n;
            let (maxt, n) = varint(&body[p..])
                .ok_or_else(|| bad(format!("invalid interval end at offset {}", 5 + p)))?;
            p += n;
            t.add(r, Interval { mint, maxt });
        }
        Ok(t)
    }

    /// Reads `<dir>/tombstones`; a missing file is no tombstones.
    pub fn read(dir: &Path) -> Result<Tombstones, Error> {
        let path = dir.join(TOMBSTONES_FILENAME);
        match std::fs::read(&path) {
            Ok(b) => Tombstones::decode(&b, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Tombstones::new()),
            Err(e) => Err(Error::io("read", &path, e)),
        }
    }

    /// Writes `<dir>/tombstones` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        super::write_file_atomic(&dir.join(TOMBSTONES_FILENAME), &self.encode())
    }
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    crate::chunks::put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let (u, n) = crate::chunks::uvarint(b)?;
    Some((((u >> 1) as i64) ^ -((u & 1) as i64), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn intervals_merge() {
        let mut l = Vec::new();
        add_interval(&mut l, Interval { mint: 10, maxt: 20 });
        add_interval(&mut l, Interval { mint: 30, maxt: 40 });
        add_interval(&mut l, Interval { mint: 0, maxt: 5 });
        assert_eq!(l.len(), 3);
        add_interval(&mut l, Interval { mint: 21, maxt: 29 });
        assert_eq!(
            l,
            [
                Interval { mint: 0, maxt: 5 },
                Interval { mint: 10, maxt: 40 }
            ]
        );
        assert!(
            is_deleted(&l, 5) && !is_deleted(&l, 6) && is_deleted(&l, 40) && !is_deleted(&l, 41)
        );
    }

    proptest! {
        #[test]
        fn round_trip(entries in proptest::collection::vec((0u64..50, any::<i64>(), 0i64..1000), 0..40)) {
            let mut t = Tombstones::new();
            for (r, mint, len) in entries {
                t.add(r, Interval { mint, maxt: mint.saturating_add(len) });
            }
            let b = t.encode();
            prop_assert_eq!(Tombstones::decode(&b, Path::new("t")).unwrap(), t);
            // Any single flipped byte is an error or (in the CRC itself) detected.
            for i in 0..b.len() {
                let mut c = b.clone();
                c[i] ^= 0x40;
                prop_assert!(Tombstones::decode(&c, Path::new("t")).is_err());
            }
            for n in 0..b.len() {
                let _ = Tombstones::decode(&b[..n], Path::new("t"));
            }
        }
    }
}
