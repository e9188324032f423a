//! The `ember` binary: parses flags, builds components, runs them.
//!
//! One subcommand per component. Only subcommands that work are listed;
//! the rest arrive with their issues. Owns process concerns (exit codes,
//! stdin/stdout, logging setup) and nothing else: every capability lives in
//! a library crate.

mod server;
mod tool;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ember: a Prometheus-compatible monitoring system.
#[derive(Parser, Debug)]
#[command(name = "ember", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at startup and consumed at once: size does not matter here.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run the Prometheus-compatible server: scraping, storage, PromQL, HTTP API and UI.
    Server(server::Flags),
    /// Tooling for validating and inspecting Prometheus data (promtool's equivalent).
    Tool(tool::ToolArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(flags) => server::run(flags),
        Command::Tool(args) => tool::run(args),
    }
}
