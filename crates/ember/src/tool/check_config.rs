//! `ember tool check config`: validate Prometheus configuration files.
//!
//! Same output and exit codes as `promtool check config` (2.42):
//! `Checking <file>` on stdout, then either `  FAILED: <error>` on stderr or
//! `  SUCCESS: N rule files found` (when there are any) and
//! ` SUCCESS: <file> is valid prometheus config file syntax` on stdout,
//! then an empty line; then each rule file found is checked. Exit 1 on any
//! error, 3 on lint findings with `--lint-fatal`, 0 otherwise.
//!
//! Rule files are only read as YAML here and their rules counted (`groups`
//! → `rules`); full rule validation belongs to the rules issue.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `check config`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Only check the config file syntax, ignoring file and content
    /// validation referenced in the config.
    #[arg(long)]
    syntax_only: bool,
    /// Linting checks to apply to the rules specified in the config:
    /// all, duplicate-rules, none.
    #[arg(long, default_value = "duplicate-rules")]
    lint: String,
    /// Make lint errors exit with exit code 3.
    #[arg(long)]
    lint_fatal: bool,
    /// The config files to check.
    #[arg(required = true, value_name = "config-files")]
    files: Vec<PathBuf>,
}

/// Runs the check on every file.
pub(crate) fn run(args: Args) -> ExitCode {
    let lint_ok = ["all", "duplicate-rules", "none"];
    for l in args.lint.split(',') {
        if !lint_ok.contains(&l) {
            eprintln!("unknown lint option \"{l}\"");
        }
    }
    for f in &args.files {
        if !f.exists() {
            eprintln!(
                "ember: error: path '{}' does not exist, try --help",
                f.display()
            );
            return ExitCode::from(super::FAILURE);
        }
    }
    let mut failed = false;
    for f in &args.files {
        println!("Checking {}", f.display());
        let mut notes = Vec::new();
        let result = config::check::check_config(f, args.syntax_only, &mut notes);
        for n in &notes {
            println!("{n}");
        }
        let rule_files = match result {
            Ok(checked) => {
                if !checked.rule_files.is_empty() {
                    println!("  SUCCESS: {} rule files found", checked.rule_files.len());
                }
                println!(
                    " SUCCESS: {} is valid prometheus config file syntax",
                    f.display()
                );
                checked.rule_files
            }
            Err(e) => {
                eprintln!("  FAILED: {e}");
                failed = true;
                Vec::new()
            }
        };
        println!();
        for rf in rule_files {
            println!("Checking {}", rf.display());
            match config::check::count_rules(&rf) {
                Ok(n) => println!("  SUCCESS: {n} rules found"),
                Err(e) => {
                    eprintln!("  FAILED:");
                    eprintln!("     {e}");
                    failed = true;
                }
            }
            println!();
        }
    }
    if failed {
        ExitCode::from(super::FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}
