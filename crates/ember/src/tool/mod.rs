//! `ember tool`: the promtool equivalent.

mod check_config;
mod check_metrics;
mod tsdb;

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// promtool's exit code for errors.
const FAILURE: u8 = 1;
/// promtool's exit code for lint findings.
const LINT_FAILURE: u8 = 3;

/// Arguments of `ember tool`.
#[derive(Args, Debug)]
pub(crate) struct ToolArgs {
    #[command(subcommand)]
    command: ToolCommand,
}

#[derive(Subcommand, Debug)]
enum ToolCommand {
    /// Check the resources for validity.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Run tsdb commands.
    #[command(subcommand)]
    Tsdb(tsdb::TsdbCommand),
}

#[derive(Subcommand, Debug)]
enum CheckCommand {
    /// Pass Prometheus metrics over stdin to lint them for consistency and correctness.
    ///
    /// examples:
    ///
    /// $ cat metrics.prom | ember tool check metrics
    ///
    /// $ curl -s http://localhost:9090/metrics | ember tool check metrics
    Metrics(check_metrics::Args),
    /// Check if the config files are valid or not.
    Config(check_config::Args),
}

/// Runs `ember tool`, returning promtool's exit codes (0 ok, 1 error, 3 lint problems).
pub(crate) fn run(args: ToolArgs) -> ExitCode {
    match args.command {
        ToolCommand::Check(CheckCommand::Metrics(a)) => check_metrics::run(a),
        ToolCommand::Check(CheckCommand::Config(a)) => check_config::run(a),
        ToolCommand::Tsdb(c) => tsdb::run(c),
    }
}
