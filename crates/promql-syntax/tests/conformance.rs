//! Every `eval` expression of the PromQL conformance scripts
//! (`shared/conformance/promql/*.test`, Prometheus 3.14) parses with every
//! feature on, except where the script expects a failure (which may be a
//! parse error; its message is compared when the script gives one); and
//! every parsed expression prints to text that parses back to the same
//! tree and prints the same again.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use promql_syntax::{Expr, Options, parse_with};

struct Eval {
    file: String,
    line: usize,
    expr: String,
    fail: bool,
    msg: Option<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql")
}

/// The expression of an `eval` line, if it is one.
fn eval_expr(line: &str) -> Option<(&str, bool)> {
    let (cmd, rest) = line.split_once(' ')?;
    let fail = match cmd {
        "eval" | "eval_warn" | "eval_info" | "eval_ordered" => false,
        "eval_fail" => true,
        _ => return None,
    };
    let rest = rest.trim_start();
    let expr = if let Some(r) = rest.strip_prefix("instant ") {
        // instant at <time> <expr>
        let r = r.trim_start().strip_prefix("at ")?.trim_start();
        r.split_once(' ')?.1
    } else if let Some(r) = rest.strip_prefix("range ") {
        // range from <t0> to <t1> step <step> <expr>
        let mut it = r.trim_start().splitn(7, ' ');
        let words: Vec<&str> = it.by_ref().collect();
        words.get(6).copied()?
    } else {
        return None;
    };
    Some((expr.trim(), fail))
}

fn collect() -> Vec<Eval> {
    let dir = dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("conformance scripts missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let mut evals = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let lines: Vec<&str> = text.lines().collect();
        for (i, raw) in lines.iter().enumerate() {
            let Some((expr, mut fail)) = eval_expr(raw.trim()) else {
                continue;
            };
            let mut msg = None;
            for next in &lines[i + 1..] {
                let next = next.trim();
                if next.is_empty() || next.starts_with("eval") {
                    break;
                }
                if let Some(rest) = next.strip_prefix("expect fail") {
                    fail = true;
                    if let Some(m) = rest.trim().strip_prefix("msg:") {
                        msg = Some(m.trim().to_owned());
                    }
                }
                if let Some(m) = next.strip_prefix("expected_fail_message") {
                    msg = Some(m.trim().to_owned());
                }
            }
            evals.push(Eval {
                file: file.clone(),
                line: i + 1,
                expr: expr.to_owned(),
                fail,
                msg,
            });
        }
    }
    evals
}

fn cleared(e: &Expr) -> String {
    let mut e = e.clone();
    e.normalize();
    format!("{e:?}")
}

#[test]
fn conformance_expressions_parse_and_round_trip() {
    let evals = collect();
    let opts = Options::all();
    let (mut parsed, mut parse_failures, mut msg_checked) = (0, 0, 0);
    let expected_failures = evals.iter().filter(|e| e.fail).count();
    let mut problems = Vec::new();
    for ev in &evals {
        let at = format!("{}:{}: {}", ev.file, ev.line, ev.expr);
        match parse_with(&ev.expr, opts) {
            Ok(e) => {
                parsed += 1;
                let printed = e.to_string();
                match parse_with(&printed, opts) {
                    Ok(again) => {
                        if cleared(&e) != cleared(&again) {
                            problems.push(format!(
                                "{at}\n  printed {printed}\n  reparsed to a different tree"
                            ));
                        } else if again.to_string() != printed {
                            problems.push(format!("{at}\n  printed {printed}\n  then {again}"));
                        }
                    }
                    Err(err) => problems.push(format!(
                        "{at}\n  printed {printed}\n  does not parse: {err}"
                    )),
                }
            }
            Err(err) if ev.fail => {
                parse_failures += 1;
                if let Some(msg) = &ev.msg {
                    msg_checked += 1;
                    if err.message != *msg {
                        problems.push(format!(
                            "{at}\n  error {:?}, script expects {msg:?}",
                            err.message
                        ));
                    }
                }
            }
            Err(err) => problems.push(format!("{at}\n  does not parse: {err}")),
        }
    }
    println!(
        "{} eval expressions ({expected_failures} expect a failure): {parsed} parsed and round-tripped, {parse_failures} rejected by the parser ({msg_checked} messages compared)",
        evals.len()
    );
    assert!(evals.len() >= 2195, "only {} evals found", evals.len());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
