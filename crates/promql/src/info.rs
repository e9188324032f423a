//! `info()`: enriches series with the data labels of info metrics
//! (`target_info` by default) that share their identifying labels
//! (`instance`, `job`).

use std::collections::{BTreeMap, HashMap, HashSet};

use model::Labels;
use model::matcher::{MatchOp, Matcher};
use promql_syntax::ast::{Call, Expr};

use crate::error::{Error, Result};
use crate::eval::{Evaluator, unparen};
use crate::selector::{SVal, load, lookup};
use crate::value::{Matrix, Sample, Series};

const IDENTIFYING: [&str; 2] = ["instance", "job"];

fn effective_name_matchers(ms: Vec<Matcher>) -> Vec<Matcher> {
    if ms
        .iter()
        .any(|m| matches!(m.op(), MatchOp::Equal | MatchOp::RegexMatch))
    {
        return ms;
    }
    if !ms.is_empty() {
        let mut out = Matcher::new(MatchOp::RegexMatch, "__name__", ".+_info")
            .map(|m| vec![m])
            .unwrap_or_default();
        out.extend(ms);
        return out;
    }
    vec![Matcher::equal("__name__", "target_info")]
}

/// The `@` and offset of the first selector under `e`.
fn first_selector(e: &Expr) -> Option<&promql_syntax::ast::VectorSelector> {
    match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vector_selector),
        _ => e.children().into_iter().find_map(first_selector),
    }
}

fn sig(name: &str, l: &Labels) -> Labels {
    let mut b = model::LabelsBuilder::new();
    b.set("__name__", name);
    for id in IDENTIFYING {
        if let Some(v) = l.get(id) {
            b.set(id, v);
        }
    }
    b.labels()
}

pub(crate) fn eval(ev: &mut Evaluator<'_>, call: &Call) -> Result<Matrix> {
    let base = ev.eval_matrix(&call.args[0])?;
    let mut data: BTreeMap<String, Vec<Matcher>> = BTreeMap::new();
    let mut name_matchers = Vec::new();
    if let Some(Expr::VectorSelector(sel)) = call.args.get(1).map(unparen) {
        for m in &sel.matchers {
            data.entry(m.name().to_owned()).or_default().push(m.clone());
            if m.name() == "__name__" {
                name_matchers.push(m.clone());
            }
        }
    }
    let effective = effective_name_matchers(name_matchers.clone());
    let ignore: HashSet<Labels> = base
        .iter()
        .filter(|s| {
            let n = s.metric.get("__name__").unwrap_or("");
            effective.iter().all(|m| m.matches(n))
        })
        .map(|s| s.metric.clone())
        .collect();
    let mut id_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in &base {
        if ignore.contains(&s.metric) {
            continue;
        }
        for id in IDENTIFYING {
            if let Some(v) = s.metric.get(id) {
                let e = id_values.entry(id).or_default();
                if !e.iter().any(|x| x == v) {
                    e.push(v.to_owned());
                }
            }
        }
    }
    let data_matchers: BTreeMap<String, Vec<Matcher>> =
        data.into_iter().filter(|(n, _)| n != "__name__").collect();
    let mut info_series: Vec<Series> = Vec::new();
    if !id_values.is_empty() {
        let mut ms = Vec::new();
        for (name, vals) in &id_values {
            let re = vals
                .iter()
                .map(|v| quote_meta(v))
                .collect::<Vec<_>>()
                .join("|");
            ms.push(
                Matcher::new(MatchOp::RegexMatch, *name, re)
                    .map_err(|e| Error::eval(e.to_string()))?,
            );
        }
        for v in data_matchers.values() {
            ms.extend(v.iter().cloned());
        }
        ms.extend(effective_name_matchers(name_matchers));
        let (at, offset) = match first_selector(&call.args[0]) {
            Some(vs) => (ev.at_ms(vs.at), ev.offset_ms(&vs.offset)?),
            None => (None, 0),
        };
        let lb = ev.ctx.lookback;
        let (lo, hi) = match at {
            Some(a) => (a - offset, a - offset),
            None => (ev.start - offset, ev.end - offset),
        };
        let vs = promql_syntax::ast::VectorSelector {
            name: None,
            matchers: ms,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: true,
            pos: Default::default(),
        };
        for s in load(ev, &vs, lo - lb + 1, hi)? {
            let mut ser = Series {
                metric: s.labels.clone(),
                ..Default::default()
            };
            for ts in ev.steps() {
                let r = at.unwrap_or(ts) - offset;
                if let Some((t, v)) = lookup(&s.samples, r, lb) {
                    if let SVal::H(_) = v {
                        return Err(Error::eval(format!(
                            "this should be an info metric, with float samples: {}",
                            s.labels
                        )));
                    }
                    ser.floats.push(crate::value::FPoint {
                        t: ts,
                        f: *t as f64,
                    });
                }
            }
            if !ser.floats.is_empty() {
                info_series.push(ser);
            }
        }
    }
    let info_names: Vec<String> = {
        let mut v: Vec<String> = info_series
            .iter()
            .map(|s| s.metric.get("__name__").unwrap_or("").to_owned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mats = [base, info_series];
    ev.range_eval_mats(&mats, |v, _, _| {
        combine(&v[0], &v[1], &ignore, &info_names, &data_matchers)
    })
}

fn combine(
    base: &[Sample],
    info: &[Sample],
    ignore: &HashSet<Labels>,
    info_names: &[String],
    data: &BTreeMap<String, Vec<Matcher>>,
) -> Result<Vec<Sample>> {
    if base.is_empty() {
        return Ok(Vec::new());
    }
    let mut right: HashMap<Labels, &Sample> = HashMap::new();
    for s in info {
        let name = s.metric.get("__name__").unwrap_or("");
        let k = sig(name, &s.metric);
        match right.get(&k) {
            Some(e) => {
                let (eo, no) = (e.f as i64, s.f as i64);
                if eo < no {
                    right.insert(k, s);
                } else if eo == no {
                    return Err(Error::eval(format!(
                        "found duplicate series for info metric: existing {} @ {eo}, new {} @ {no}",
                        e.metric, s.metric
                    )));
                }
            }
            None => {
                right.insert(k, s);
            }
        }
    }
    let mut out = Vec::new();
    for bs in base {
        if ignore.contains(&bs.metric) {
            out.push(bs.clone());
            continue;
        }
        let mut add = model::LabelsBuilder::new();
        let mut seen = 0;
        for name in info_names {
            let Some(is) = right.get(&sig(name, &bs.metric)) else {
                continue;
            };
            for (n, v) in is.metric.iter() {
                if n == "__name__" {
                    continue;
                }
                if !data.is_empty() && !data.contains_key(n) {
                    continue;
                }
                if let Some(cur) = add.get(n)
                    && cur != v
                {
                    return Err(Error::eval(format!("conflicting label: {n}")));
                }
                if bs.metric.has(n) {
                    continue;
                }
                add.set(n, v);
            }
            seen += 1;
        }
        if seen == 0 && !data.values().flatten().all(|m| m.matches("")) {
            continue;
        }
        let mut b = bs.metric.to_builder();
        for (n, v) in add.iter() {
            b.set(n, v);
        }
        out.push(Sample {
            metric: b.labels(),
            ..bs.clone()
        });
    }
    Ok(out)
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
