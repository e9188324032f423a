//! `ember tool tsdb list [-r] [<db path>]`: one row per block, as promtool
//! prints it — ULID, start, end (milliseconds, or UTC times with `-r`), Go
//! duration, samples, chunks, series and size (bytes, or `2KiB3B` with
//! `-r`), aligned like Go's tabwriter. Same in 2.42 and 3.x.

use std::io::Write;
use std::path::PathBuf;

use super::{DEFAULT_DB_PATH, Result, block_size, check_db_dir, open_blocks, print_blocks, stdout};

/// Arguments of `tsdb list`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Print human readable values.
    #[arg(short = 'r', long)]
    human_readable: bool,
    /// Database path (default is data/).
    #[arg(value_name = "db path", default_value = DEFAULT_DB_PATH)]
    path: PathBuf,
}

/// Lists the blocks.
pub(super) fn run(args: Args) -> Result<()> {
    check_db_dir(&args.path)?;
    let blocks = open_blocks(&args.path)?;
    let rows: Vec<_> = blocks
        .iter()
        .map(|b| (b.meta(), block_size(b.dir())))
        .collect();
    let mut out = stdout();
    print_blocks(&mut out, &rows, true, args.human_readable)?;
    out.flush()?;
    Ok(())
}
