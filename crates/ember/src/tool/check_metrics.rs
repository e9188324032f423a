//! `ember tool check metrics`: lint an exposition read from stdin.
//!
//! Same findings, output and exit codes as `promtool check metrics`:
//! findings go to stderr as `<metric> <text>`, exit 3 when there are any,
//! 1 when the input does not parse, 0 otherwise. `--extended` prints the
//! cardinality table on stdout when the input is clean.

use std::io::{Read, Write};
use std::process::ExitCode;

use expfmt::lint;

/// Arguments of `check metrics`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Print extended information related to the cardinality of the metrics.
    #[arg(long)]
    extended: bool,
}

/// Runs the check on stdin.
pub(crate) fn run(args: Args) -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("error while linting: read stdin: {e}");
        return ExitCode::from(super::FAILURE);
    }
    let families = match lint::parse_families(&input) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error while linting: {e}");
            return ExitCode::from(super::FAILURE);
        }
    };
    let problems = lint::lint(&families);
    for p in &problems {
        eprintln!("{p}");
    }
    if !problems.is_empty() {
        return ExitCode::from(super::LINT_FAILURE);
    }
    if args.extended {
        let stats = lint::cardinality(&families);
        let total: usize = stats.iter().map(|(_, c)| c).sum();
        let mut rows = vec![[
            "Metric".to_string(),
            "Cardinality".to_string(),
            "Percentage".to_string(),
        ]];
        for (name, c) in &stats {
            rows.push([
                name.clone(),
                c.to_string(),
                format!("{:.2}%", *c as f64 * 100.0 / total as f64),
            ]);
        }
        rows.push(["Total".to_string(), total.to_string(), "100%".to_string()]);
        let mut out = std::io::stdout().lock();
        if out.write_all(tabulate(&rows).as_bytes()).is_err() {
            return ExitCode::from(super::FAILURE);
        }
    }
    ExitCode::SUCCESS
}

/// Lays out rows like Go's tabwriter with minwidth 4 and padding 4: every
/// cell, the last included, is padded to its column's width plus 4.
fn tabulate(rows: &[[String; 3]]) -> String {
    let mut widths = [0usize; 3];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (w, cell) in widths.iter().zip(row) {
            let width = (*w + 4).max(4);
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_layout_matches_tabwriter() {
        let rows = [
            [
                "Metric".to_string(),
                "Cardinality".to_string(),
                "Percentage".to_string(),
            ],
            ["x".to_string(), "8".to_string(), "66.67%".to_string()],
        ];
        assert_eq!(
            tabulate(&rows),
            "Metric    Cardinality    Percentage    \nx         8              66.67%        \n"
        );
    }
}
