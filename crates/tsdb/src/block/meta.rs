//! `meta.json`: a block's identity, time range, statistics and compaction
//! lineage, in Prometheus's JSON shape (tab-indented as Prometheus writes
//! it). The time range is half-open: `[minTime, maxTime)`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Error;
use super::ulid::Ulid;

/// File name of the metadata.
pub const META_FILENAME: &str = "meta.json";
/// The only metadata version.
pub const META_VERSION: u32 = 1;
/// Hint of a block built from out-of-order data.
pub const HINT_FROM_OUT_OF_ORDER: &str = "from-out-of-order";

/// Statistics of a block's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Samples of any kind.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_samples: u64,
    /// Float samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_float_samples: u64,
    /// Histogram samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_histogram_samples: u64,
    /// Series.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_series: u64,
    /// Chunks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_chunks: u64,
    /// Tombstone intervals.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A parent block of a compaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockDesc {
    /// Its ULID.
    pub ulid: Ulid,
    /// Its first millisecond.
    pub min_time: i64,
    /// Its end (exclusive).
    pub max_time: i64,
}

/// What compactions produced the block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCompaction {
    /// 1 for a block cut from the head, 1 + the largest parent level after.
    #[serde(default)]
    pub level: u32,
    /// The level-1 blocks whose data it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Ulid>,
    /// The compaction produced no samples: delete on the next reload.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deletable: bool,
    /// The blocks merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    /// A compaction of this block failed: do not select it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// Free-form hints (`from-out-of-order`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// The contents of `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// The block's identity and directory name.
    pub ulid: Ulid,
    /// First millisecond covered.
    pub min_time: i64,
    /// End of the range (exclusive).
    pub max_time: i64,
    /// Contents.
    #[serde(default)]
    pub stats: BlockStats,
    /// Lineage.
    #[serde(default)]
    pub compaction: BlockCompaction,
    /// Metadata version (1).
    pub version: u32,
    /// Fields other tools add (Thanos's `thanos` section), kept as read.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl BlockMeta {
    /// A level-1 block's metadata.
    pub fn new(ulid: Ulid, min_time: i64, max_time: i64) -> BlockMeta {
        BlockMeta {
            ulid,
            min_time,
            max_time,
            stats: BlockStats::default(),
            compaction: BlockCompaction {
                level: 1,
                sources: vec![ulid],
                ..BlockCompaction::default()
            },
            version: META_VERSION,
            extra: serde_json::Map::new(),
        }
    }

    /// Whether the block overlaps `[mint, maxt]` (inclusive).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_time <= maxt && mint < self.max_time
    }

    /// Whether the block was built from out-of-order data.
    pub fn from_out_of_order(&self) -> bool {
        self.compaction
            .hints
            .iter()
            .any(|h| h == HINT_FROM_OUT_OF_ORDER)
    }

    /// Reads `<dir>/meta.json`.
    pub fn read(dir: &Path) -> Result<BlockMeta, Error> {
        let path = dir.join(META_FILENAME);
        let b = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let m: BlockMeta = serde_json::from_slice(&b).map_err(|e| Error::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if m.version != META_VERSION {
            return Err(Error::Corrupt {
                path,
                reason: format!("unexpected meta file version {}", m.version),
            });
        }
        Ok(m)
    }

    /// The JSON Prometheus writes (tab-indented).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        // Serializing plain structs into a Vec cannot fail.
        if self.serialize(&mut ser).is_err() {
            out.clear();
        }
        out
    }

    /// Writes `<dir>/meta.json` atomically (temporary file, fsync, rename).
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        let path = dir.join(META_FILENAME);
        super::write_file_atomic(&path, &self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_shape() {
        let src = r#"{
	"ulid": "01BKGV7JC0RY8A6MACW02A2PJD",
	"minTime": 1602237600000,
	"maxTime": 1602244800000,
	"stats": {
		"numSamples": 553673232,
		"numSeries": 1346066,
		"numChunks": 4440437
	},
	"compaction": {
		"level": 1,
		"sources": [
			"01BKGV7JC0RY8A6MACW02A2PJD"
		]
	},
	"version": 1,
	"thanos": {"labels": {"a": "b"}}
}"#;
        let m: BlockMeta = serde_json::from_str(src).unwrap();
        assert_eq!(m.stats.num_series, 1346066);
        assert_eq!(m.compaction.sources, vec![m.ulid]);
        assert!(m.extra.contains_key("thanos"));
        let back: BlockMeta = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let fresh = String::from_utf8(BlockMeta::new(m.ulid, 0, 10).to_json()).unwrap();
        assert!(fresh.contains("\n\t\"minTime\": 0,"), "{fresh}");
        assert!(!fresh.contains("deletable") && fresh.contains("\"stats\": {}"));
    }
}
