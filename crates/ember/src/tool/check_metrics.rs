//! `ember tool check metrics`. Placeholder: being written.
use std::process::ExitCode;

/// Arguments of `check metrics`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// Runs the check.
pub(crate) fn run(_a: Args) -> ExitCode {
    ExitCode::from(1)
}
