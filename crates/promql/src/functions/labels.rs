//! Label functions: `label_replace`, `label_join`, `sort_by_label` and
//! `sort_by_label_desc`.

use std::cmp::Ordering;

use promql_syntax::ast::{Call, Expr};

use crate::error::{Error, Result};
use crate::eval::{Evaluator, merge_same_labelset, unparen};
use crate::value::{Matrix, Vector};

use super::StepArgs;

fn string_arg(call: &Call, i: usize) -> Option<String> {
    match call.args.get(i).map(unparen) {
        Some(Expr::String(s)) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

pub(super) fn eval(ev: &mut Evaluator<'_>, call: &Call) -> Result<Matrix> {
    let name = call.func.name;
    let s = |i| string_arg(call, i).unwrap_or_default();
    let mut mat = if name == "label_replace" {
        let (dst, repl, src, re) = (s(1), s(2), s(3), s(4));
        let regex = model::regex::Regex::new_relabel(&re).map_err(|_| {
            Error::eval(format!(
                "invalid regular expression in label_replace(): {re}"
            ))
        })?;
        if dst.is_empty() {
            return Err(Error::eval(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let mut mat = ev.eval_matrix(&call.args[0])?;
        let mut locs = regex.capture_locations();
        for ser in &mut mat {
            let v = ser.metric.get(&src).unwrap_or("").to_owned();
            if regex.captures_read(&mut locs, &v) {
                let mut res = String::new();
                regex.expand(&locs, &v, &repl, &mut res);
                let mut b = ser.metric.to_builder();
                b.set(&dst, &res);
                ser.metric = b.labels();
                if dst == "__name__" {
                    ser.drop_name = false;
                }
            }
        }
        mat
    } else {
        let (dst, sep) = (s(1), s(2));
        let mut srcs = Vec::new();
        for i in 3..call.args.len() {
            let src = string_arg(call, i).unwrap_or_default();
            if src.is_empty() {
                return Err(Error::eval(format!(
                    "invalid source label name in label_join(): {src}"
                )));
            }
            srcs.push(src);
        }
        if dst.is_empty() {
            return Err(Error::eval(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        let mut mat = ev.eval_matrix(&call.args[0])?;
        for ser in &mut mat {
            let vals: Vec<&str> = srcs
                .iter()
                .map(|l| ser.metric.get(l).unwrap_or(""))
                .collect();
            let joined = vals.join(&sep);
            let mut b = ser.metric.to_builder();
            b.set(&dst, &joined);
            ser.metric = b.labels();
            if dst == "__name__" {
                ser.drop_name = false;
            }
        }
        mat
    };
    mat = merge_same_labelset(mat)?;
    Ok(mat)
}

/// Natural order: runs of digits compare as numbers.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let d = bytes[i].is_ascii_digit();
            let st = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() == d {
                i += 1;
            }
            out.push((d, &s[st..i]));
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let o = if x.0 && y.0 {
            let (xt, yt) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
            xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt))
        } else {
            x.1.cmp(y.1)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

pub(super) fn call_step(name: &str, a: &StepArgs<'_>) -> Option<Vector> {
    let desc = match name {
        "sort_by_label" => false,
        "sort_by_label_desc" => true,
        _ => return None,
    };
    let labels: Vec<String> = (1..a.call.args.len()).map(|i| a.string(i)).collect();
    let mut v = a.vecs[0].clone();
    v.sort_by(|x, y| {
        for l in &labels {
            let (lx, ly) = (x.metric.get(l).unwrap_or(""), y.metric.get(l).unwrap_or(""));
            if lx == ly {
                continue;
            }
            let o = natural_cmp(lx, ly);
            return if desc { o.reverse() } else { o };
        }
        let o = x.metric.cmp(&y.metric);
        if desc { o.reverse() } else { o }
    });
    Some(v)
}
