//! Parses each line of standard input (with Prometheus's default features,
//! or all of them with `--all`) and prints the canonical form (`--pretty`:
//! the `format_query` form, newlines as `\n`) or the error, tab-separated
//! after the query: a tool for comparing with Prometheus.

use std::io::BufRead;

fn main() {
    let all = std::env::args().any(|a| a == "--all");
    let pretty = std::env::args().any(|a| a == "--pretty");
    let opts = if all {
        promql_syntax::Options::all()
    } else {
        promql_syntax::Options::default()
    };
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let out = match promql_syntax::parse_with(&line, opts) {
            Ok(e) if pretty => format!("OK\t{}", promql_syntax::pretty(&e).replace('\n', "\\n")),
            Ok(e) => format!("OK\t{e}"),
            Err(e) => format!("ERR\t{e}"),
        };
        println!("{line}\t{out}");
    }
}
