//! Element-wise math: `abs`, `ceil`, `exp`, `ln`, trigonometry, `round`,
//! `clamp*`, `sgn`, plus `scalar`, `vector`, `pi`, `sort*`, `absent`,
//! `min_of`/`max_of`.

use crate::error::Result;
use crate::value::{Sample, Vector};
use model::Labels;

use super::StepArgs;

fn simple(a: &StepArgs<'_>, f: impl Fn(f64) -> f64) -> Vector {
    a.vecs[0]
        .iter()
        .filter(|s| s.h.is_none())
        .map(|s| a.derived(s, f(s.f)))
        .collect()
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn scalar(v: f64) -> Vector {
    vec![Sample::float(Labels::empty(), 0, v)]
}

/// Go's `math.Round`-free rounding used by `round()`.
fn round_to(f: f64, inv: f64) -> f64 {
    (f * inv + 0.5).floor() / inv
}

pub(super) fn call(name: &str, a: &StepArgs<'_>) -> Result<Option<Vector>> {
    Ok(Some(match name {
        "abs" => simple(a, f64::abs),
        "ceil" => simple(a, f64::ceil),
        "floor" => simple(a, f64::floor),
        "exp" => simple(a, f64::exp),
        "sqrt" => simple(a, f64::sqrt),
        "ln" => simple(a, f64::ln),
        "log2" => simple(a, f64::log2),
        "log10" => simple(a, f64::log10),
        "sin" => simple(a, f64::sin),
        "cos" => simple(a, f64::cos),
        "tan" => simple(a, f64::tan),
        "asin" => simple(a, f64::asin),
        "acos" => simple(a, f64::acos),
        "atan" => simple(a, f64::atan),
        "sinh" => simple(a, f64::sinh),
        "cosh" => simple(a, f64::cosh),
        "tanh" => simple(a, f64::tanh),
        "asinh" => simple(a, f64::asinh),
        "acosh" => simple(a, f64::acosh),
        "atanh" => simple(a, f64::atanh),
        "rad" => simple(a, |v| v * std::f64::consts::PI / 180.0),
        "deg" => simple(a, |v| v * 180.0 / std::f64::consts::PI),
        "sgn" => simple(a, |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        }),
        "round" => {
            let to = if a.call.args.len() >= 2 {
                a.scalar(1)
            } else {
                1.0
            };
            let inv = 1.0 / to;
            simple(a, |f| round_to(f, inv))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let (lo, hi) = match name {
                "clamp" => (a.scalar(1), a.scalar(2)),
                "clamp_min" => (a.scalar(1), f64::INFINITY),
                _ => (f64::NEG_INFINITY, a.scalar(1)),
            };
            if hi < lo {
                return Ok(Some(Vec::new()));
            }
            simple(a, |f| go_max(lo, go_min(hi, f)))
        }
        "pi" => scalar(std::f64::consts::PI),
        "vector" => scalar(a.scalar(0)),
        "scalar" => {
            let mut found = None;
            for s in &a.vecs[0] {
                if s.h.is_none() {
                    if found.is_some() {
                        return Ok(Some(scalar(f64::NAN)));
                    }
                    found = Some(s.f);
                }
            }
            scalar(found.unwrap_or(f64::NAN))
        }
        "min_of" => scalar(go_min(a.scalar(0), a.scalar(1))),
        "max_of" => scalar(go_max(a.scalar(0), a.scalar(1))),
        "sort" | "sort_desc" => {
            let mut v: Vector = a.vecs[0]
                .iter()
                .filter(|s| s.h.is_none())
                .cloned()
                .collect();
            let desc = name == "sort_desc";
            v.sort_by(|x, y| {
                use std::cmp::Ordering::*;
                match (x.f.is_nan(), y.f.is_nan()) {
                    (true, true) => Equal,
                    (true, false) => Greater,
                    (false, true) => Less,
                    _ => {
                        let o = x.f.partial_cmp(&y.f).unwrap_or(Equal);
                        if desc { o.reverse() } else { o }
                    }
                }
            });
            v
        }
        "absent" => {
            if a.vecs[0].is_empty() {
                vec![Sample {
                    metric: super::absent_labels(&a.call.args[0]),
                    t: 0,
                    f: 1.0,
                    h: None,
                    drop_name: false,
                }]
            } else {
                Vec::new()
            }
        }
        "timestamp" => a.vecs[0]
            .iter()
            .map(|s| a.derived(s, s.t as f64 / 1000.0))
            .collect(),
        "start_timestamp" => Vec::new(),
        _ => return Ok(None),
    }))
}
