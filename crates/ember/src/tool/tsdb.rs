//! `ember tool tsdb …`: promtool's `tsdb` commands over a data directory in
//! Prometheus's format — `list`, `analyze`, `dump` and
//! `create-blocks-from openmetrics`.
//!
//! Output, error texts and exit codes are promtool 2.42's (0 on success, 1
//! with the error on stderr otherwise); the tests run both tools on the same
//! directories. Blocks are found as promtool's read-only database finds
//! them: every directory named by a valid ULID whose `meta.json` reads
//! (others are skipped); a block that then fails to open makes the command
//! fail (`corrupted block <ulid>: …`) unless a loaded block lists it as a
//! compaction parent; blocks are ordered by their start. Nothing here writes
//! to the directory, except `create-blocks-from`, which adds blocks.
//! Differences from promtool are listed in each command's module.

mod analyze;
mod backfill;
mod dump;
mod gofmt;
mod list;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use tsdb::block::{Block, BlockMeta, Ulid};

/// promtool's default database path.
const DEFAULT_DB_PATH: &str = "data/";

/// `ember tool tsdb` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum TsdbCommand {
    /// Analyze churn, label pair cardinality and compaction efficiency.
    Analyze(analyze::Args),
    /// List tsdb blocks.
    List(list::Args),
    /// Dump samples from a TSDB.
    Dump(dump::Args),
    /// [Experimental] Import samples from input and produce TSDB blocks.
    /// Please refer to the storage docs for more details.
    CreateBlocksFrom(backfill::Args),
}

/// Runs a `tsdb` subcommand.
pub(crate) fn run(cmd: TsdbCommand) -> ExitCode {
    let res = match cmd {
        TsdbCommand::Analyze(a) => analyze::run(a),
        TsdbCommand::List(a) => list::run(a),
        TsdbCommand::Dump(a) => dump::run(a),
        TsdbCommand::CreateBlocksFrom(a) => backfill::run(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Message(m)) => {
            eprintln!("{m}");
            ExitCode::from(super::FAILURE)
        }
        // The reader went away (`| head`): promtool dies of SIGPIPE there.
        Err(Failure::Output) => ExitCode::from(super::FAILURE),
    }
}

/// Why a command failed.
#[derive(Debug)]
enum Failure {
    /// An error, printed on stderr as promtool prints it.
    Message(String),
    /// Writing stdout failed.
    Output,
}

impl From<String> for Failure {
    fn from(m: String) -> Failure {
        Failure::Message(m)
    }
}

impl From<std::io::Error> for Failure {
    fn from(_: std::io::Error) -> Failure {
        Failure::Output
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// Buffered stdout; flushed by the caller.
fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// `tsdb.OpenDBReadOnly`'s check that the directory exists.
fn check_db_dir(dir: &Path) -> Result<()> {
    std::fs::metadata(dir).map_err(|e| {
        Failure::Message(format!(
            "opening the db dir: stat {}: {}",
            dir.display(),
            gofmt::go_errno_text(&e)
        ))
    })?;
    Ok(())
}

/// Whether `name` parses as a ULID under oklog's strict rules: 26
/// characters of Crockford's alphabet (either case), the first at most `7`.
fn is_strict_ulid(name: &str) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let b = name.as_bytes();
    b.len() == 26 && b[0] <= b'7' && b.iter().all(|c| ALPHABET.contains(&c.to_ascii_uppercase()))
}

/// The blocks of a data directory, as promtool's `DBReadOnly.Blocks`
/// returns them (see the module docs), fully opened (index and chunks
/// mapped), oldest start first.
fn open_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    let rd = std::fs::read_dir(dir).map_err(|e| read_dir_err(dir, &e))?;
    let mut names: Vec<String> = Vec::new();
    for e in rd {
        let e = e.map_err(|e| read_dir_err(dir, &e))?;
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if let Some(n) = e.file_name().to_str()
            && is_dir
            && is_strict_ulid(n)
        {
            names.push(n.to_string());
        }
    }
    names.sort();
    let mut loaded: Vec<Arc<Block>> = Vec::new();
    let mut corrupted: BTreeMap<Ulid, String> = BTreeMap::new();
    for n in names {
        let bdir = dir.join(&n);
        let Ok(meta) = BlockMeta::read(&bdir) else {
            // promtool logs and skips a block without a readable meta.json.
            continue;
        };
        match Block::open_checked(&bdir) {
            Ok(b) => loaded.push(Arc::new(b)),
            Err(e) => {
                corrupted.insert(meta.ulid, e.to_string());
            }
        }
    }
    for b in &loaded {
        for p in &b.meta().compaction.parents {
            corrupted.remove(&p.ulid);
        }
    }
    if !corrupted.is_empty() {
        let msgs: Vec<String> = corrupted
            .iter()
            .map(|(u, e)| format!("corrupted block {u}: {e}"))
            .collect();
        return Err(Failure::Message(msgs.join("; ")));
    }
    loaded.sort_by_key(|b| b.min_time());
    Ok(loaded)
}

fn read_dir_err(dir: &Path, e: &std::io::Error) -> Failure {
    let op = if e.raw_os_error() == Some(20) {
        "readdirent"
    } else {
        "open"
    };
    Failure::Message(format!(
        "find blocks: {op} {}: {}",
        dir.display(),
        gofmt::go_errno_text(e)
    ))
}

/// A block's size as promtool counts it: chunk segments, index, tombstones
/// and `meta.json`.
fn block_size(dir: &Path) -> u64 {
    let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut n = len(dir.join("index")) + len(dir.join("tombstones")) + len(dir.join("meta.json"));
    if let Ok(rd) = std::fs::read_dir(dir.join("chunks")) {
        for e in rd.flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(|s| s.parse::<u64>().is_ok())
            {
                n += e.metadata().map_or(0, |m| m.len());
            }
        }
    }
    n
}

/// Prints block rows as promtool's `printBlocks` does: one tab-aligned
/// table per call (promtool's `create-blocks-from` calls it per block).
fn print_blocks(
    out: &mut impl Write,
    blocks: &[(BlockMeta, u64)],
    header: bool,
    human: bool,
) -> std::io::Result<()> {
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(blocks.len() + 1);
    if header {
        rows.push(
            [
                "BLOCK ULID",
                "MIN TIME",
                "MAX TIME",
                "DURATION",
                "NUM SAMPLES",
                "NUM CHUNKS",
                "NUM SERIES",
                "SIZE",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        );
    }
    let time = |t: i64| {
        if human {
            gofmt::format_unix_utc(t / 1000)
        } else {
            t.to_string()
        }
    };
    for (m, size) in blocks {
        rows.push(vec![
            m.ulid.to_string(),
            time(m.min_time),
            time(m.max_time),
            gofmt::format_duration_ns(m.max_time.wrapping_sub(m.min_time).wrapping_mul(1_000_000)),
            m.stats.num_samples.to_string(),
            m.stats.num_chunks.to_string(),
            m.stats.num_series.to_string(),
            if human {
                gofmt::format_base2_bytes(*size as i64)
            } else {
                size.to_string()
            },
        ]);
    }
    out.write_all(gofmt::tabwrite(&rows, 13, 2).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_ulids() {
        assert!(is_strict_ulid("01M7ZAR4R7WMRAG3ZMZND12HE1"));
        assert!(is_strict_ulid("01m7zar4r7wmrag3zmznd12he1"));
        assert!(!is_strict_ulid("01M7ZAR4R7WMRAG3ZMZND12HEO"));
        assert!(!is_strict_ulid("81M7ZAR4R7WMRAG3ZMZND12HE1"));
        assert!(!is_strict_ulid(
            "01M7ZAR4R7WMRAG3ZMZND12HE1.tmp-for-creation"
        ));
        assert!(!is_strict_ulid("wal"));
    }
}
