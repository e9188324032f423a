//! `ember tool tsdb dump [--min-time=T] [--max-time=T] [--match=SELECTOR]…
//! [--sandbox-dir-root=DIR] [<db path>]`: every float sample in
//! `[min-time, max-time]` of the series matching the selector, one line
//! each, `{labels} value timestamp` — labels as Prometheus's
//! `Labels.String()`, the value as Go's `%g` — as promtool prints them.
//!
//! Reads like promtool's read-only database: the blocks overlapping the
//! range (tombstones applied) and, when the range reaches past the last
//! block's end, the head rebuilt from `wal/`, `chunks_head/` and `wbl/`,
//! without samples before that end and with the deletions logged in the
//! WAL applied. The head is replayed in a sandbox — a
//! copy of those directories in a fresh `tmp_dbro_sandbox_*` directory
//! under `--sandbox-dir-root` (default: the system's temporary directory),
//! removed afterwards — so the data directory is never written.
//!
//! Differences from promtool 2.42: a data directory without `wal/` (e.g.
//! made by `create-blocks-from`) has an empty head (promtool fails with
//! `read WAL: find last checkpoint: …`); a sample that cannot be decoded is
//! an error (promtool stops silently with exit 0); `--match` may be given
//! more than once and `--sandbox-dir-root` exists, as in 3.x. Like 2.42, a
//! series is printed up to its first native-histogram sample (3.x prints
//! histograms too). Series come sorted by labels (promtool's order is only
//! sorted when several blocks or the head are read).

use std::io::Write;
use std::path::{Path, PathBuf};

use model::matcher::Matcher;
use promql_syntax::{Expr, Options};
use storage::query::BoxedSeries;
use storage::{MergeQuerier, Querier, Queryable, ValueType};
use tsdb::head::HeadOptions;
use tsdb::{Db, DbOptions};

use super::{DEFAULT_DB_PATH, Failure, Result, check_db_dir, gofmt, open_blocks, stdout};

/// The default selector: every series.
const MATCH_ALL: &str = "{__name__=~'(?s:.*)'}";

/// Arguments of `tsdb dump`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Minimum timestamp to dump.
    #[arg(long, default_value_t = i64::MIN, allow_negative_numbers = true)]
    min_time: i64,
    /// Maximum timestamp to dump.
    #[arg(long, default_value_t = i64::MAX, allow_negative_numbers = true)]
    max_time: i64,
    /// Series selector. Can be specified multiple times.
    #[arg(long = "match", default_value = MATCH_ALL)]
    matchers: Vec<String>,
    /// Root directory where a sandbox directory will be created, this
    /// sandbox is used to replay the WAL (default is the system's
    /// temporary directory). The sandbox is cleaned up at the end.
    #[arg(long)]
    sandbox_dir_root: Option<PathBuf>,
    /// Database path (default is data/).
    #[arg(value_name = "db path", default_value = DEFAULT_DB_PATH)]
    path: PathBuf,
}

/// Dumps the samples.
pub(super) fn run(args: Args) -> Result<()> {
    let (mint, maxt) = (args.min_time, args.max_time);
    check_db_dir(&args.path)?;
    let blocks = open_blocks(&args.path)?;
    let max_block_time = blocks.last().map_or(i64::MIN, |b| b.max_time());
    let root = args.sandbox_dir_root.unwrap_or_else(std::env::temp_dir);
    let sandbox = if max_block_time <= maxt {
        Some(Sandbox::open(&args.path, &root, max_block_time)?)
    } else {
        None
    };
    let sets = args
        .matchers
        .iter()
        .map(|s| parse_selector(s))
        .collect::<std::result::Result<Vec<_>, String>>()?;

    let mut qs: Vec<Box<dyn Querier + '_>> = Vec::new();
    for b in &blocks {
        if b.meta().overlaps(mint, maxt) {
            qs.push(Box::new(b.querier(mint, maxt)));
        }
    }
    if let Some(db) = sandbox.as_ref().and_then(|s| s.db.as_ref())
        && db.head().min_time().is_some_and(|t| t <= maxt)
    {
        qs.push(
            db.querier(mint, maxt)
                .map_err(|e| Failure::Message(e.to_string()))?,
        );
    }
    if qs.is_empty() {
        return Ok(());
    }
    let q = MergeQuerier::new(qs);
    let mut out = stdout();
    if let [one] = sets.as_slice() {
        let mut set = q.select(true, None, one);
        while let Some(s) = set.next() {
            let s = s.map_err(|e| Failure::Message(e.to_string()))?;
            print_series(&mut out, &s)?;
        }
        warnings(&set.warnings())?;
    } else {
        // Several selectors: the union of their series, each once.
        let mut all: Vec<BoxedSeries> = Vec::new();
        for ms in &sets {
            let mut set = q.select(true, None, ms);
            while let Some(s) = set.next() {
                all.push(s.map_err(|e| Failure::Message(e.to_string()))?);
            }
            warnings(&set.warnings())?;
        }
        all.sort_by(|a, b| a.labels().cmp(b.labels()));
        all.dedup_by(|a, b| a.labels() == b.labels());
        for s in &all {
            print_series(&mut out, s)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// promtool returns the series set's warnings as its error.
fn warnings(ws: &[String]) -> Result<()> {
    if ws.is_empty() {
        Ok(())
    } else {
        Err(Failure::Message(ws.join("; ")))
    }
}

fn print_series(out: &mut impl Write, s: &BoxedSeries) -> Result<()> {
    let labels = s.labels().to_string();
    let mut it = s.iterator();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        writeln!(out, "{labels} {} {t}", gofmt::format_g(v))?;
    }
    if let Some(e) = it.err() {
        return Err(Failure::Message(format!("read series {labels}: {e}")));
    }
    Ok(())
}

/// Parses a series selector (`name{matchers}`, no modifiers) as
/// Prometheus's `ParseMetricSelector` does: unlike a query, it may consist
/// of matchers that all match the empty string (the default does).
fn parse_selector(s: &str) -> std::result::Result<Vec<Matcher>, String> {
    let plain = |e: Expr| match e {
        Expr::VectorSelector(vs)
            if vs.offset.is_none() && vs.at.is_none() && !vs.anchored && !vs.smoothed =>
        {
            Ok(vs.matchers)
        }
        _ => Err(format!(
            "1:1: parse error: expected a metric selector, got {}",
            model::matcher::go_quote(s)
        )),
    };
    match promql_syntax::parse(s) {
        Ok(e) => plain(e),
        Err(e) if e.to_string().contains("at least one non-empty matcher") => {
            // The only complaint is the query rule: parse the selector as
            // the second argument of info(), which waives it.
            let opts = Options {
                experimental_functions: true,
                ..Options::default()
            };
            match promql_syntax::parse_with(&format!("info(x, {s})"), opts) {
                Ok(Expr::Call(mut c)) if c.args.len() == 2 => plain(c.args.remove(1)),
                _ => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// A head replayed from copies of the data directory's logs and head
/// chunks, opened as a database without blocks so that deletions logged
/// in the WAL apply; the copies are removed on drop.
struct Sandbox {
    dir: PathBuf,
    db: Option<Db>,
}

impl Sandbox {
    /// Copies `wal/`, `wbl/` and `chunks_head/` of `db` into a new
    /// directory under `root` and opens a head there, without samples
    /// before `min_valid`.
    fn open(db: &Path, root: &Path, min_valid: i64) -> Result<Sandbox> {
        let mut rnd = [0u8; 8];
        let _ = getrandom::fill(&mut rnd);
        let name = format!("tmp_dbro_sandbox_{}", u64::from_le_bytes(rnd));
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Failure::Message(format!(
                "create sandbox dir: mkdir {}: {}",
                dir.display(),
                gofmt::go_errno_text(&e)
            ))
        })?;
        let mut sb = Sandbox { dir, db: None };
        for sub in ["wal", "wbl", "chunks_head"] {
            let from = db.join(sub);
            if from.is_dir() {
                copy_tree(&from, &sb.dir.join(sub))
                    .map_err(|e| Failure::Message(format!("copy {}: {e}", from.display())))?;
            }
        }
        let head = HeadOptions {
            // Replay the out-of-order samples too when there are any.
            out_of_order_time_window: if db.join("wbl").is_dir() {
                // Ten years.
                315_360_000_000
            } else {
                0
            },
            max_exemplars: 0,
            ..HeadOptions::default()
        };
        let opts = DbOptions {
            head,
            retention_duration: 0,
            ..DbOptions::default()
        };
        let head_db =
            Db::open(&sb.dir, opts).map_err(|e| Failure::Message(format!("read WAL: {e}")))?;
        if head_db.head().min_time().is_some_and(|t| t < min_valid) {
            head_db
                .head()
                .truncate(min_valid)
                .map_err(|e| Failure::Message(format!("read WAL: {e}")))?;
        }
        sb.db = Some(head_db);
        Ok(sb)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            let _ = db.close();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies the regular files under `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_like_parse_metric_selector() {
        let ms = parse_selector(MATCH_ALL).unwrap();
        assert_eq!(ms.len(), 1);
        assert!(ms[0].matches_empty());
        assert_eq!(parse_selector("up").unwrap().len(), 1);
        assert_eq!(parse_selector("{a=\"\"}").unwrap().len(), 1);
        assert_eq!(parse_selector("up{job=\"x\",i!=\"\"}").unwrap().len(), 3);
        assert_eq!(
            parse_selector("up{").unwrap_err(),
            "1:4: parse error: unexpected end of input inside braces"
        );
        assert!(parse_selector("rate(up[5m])").is_err());
        assert!(parse_selector("up offset 5m").is_err());
    }
}
