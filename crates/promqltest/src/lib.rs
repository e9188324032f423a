//! A runner for Prometheus's PromQL test script language (the `.test`
//! files of `promql/promqltest`), for the conformance suite and our own
//! scripts.
//!
//! Owns the script parser ([`script`]: `load`, `load_with_nhcb`, `clear`,
//! `eval instant|range`, `expect ...` lines, legacy forms, the series
//! value syntax with histogram literals) and the runner ([`run`]): it loads
//! data into an in-memory [`storage::vec::VecQuerier`], evaluates through
//! the `promql` engine and compares with the reference runner's rules,
//! including its two re-runs of every instant eval (the `@` variants
//! through the printer, and the range-mode check).
//!
//! Counter reset hints of loaded histograms are those Prometheus's TSDB
//! head would return on reading them back ([`hints`]).
//!
//! Knows nothing of the TSDB or HTTP. Test tooling only.

mod hints;
pub mod run;
pub mod script;
mod values;

pub use run::{EvalOutcome, FileReport, Runner, run_file};
pub use script::{Cmd, Eval, EvalKind, Expect, ExpectKind, Load, Script, SeqValue, parse_script};
