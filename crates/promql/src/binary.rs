//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! vector matching (`on`, `ignoring`, `group_left/right`, `fill*`), `bool`,
//! and the set operators.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use model::{FloatHistogram, Labels};
use promql_syntax::ValueType;
use promql_syntax::ast::{BinaryExpr, BinaryOp, Cardinality, VectorMatching};

use crate::annotations::Annotations;
use crate::error::{Error, Result};
use crate::eval::{Evaluator, drop_metric_name};
use crate::histogram as hist;
use crate::value::{Matrix, Sample, Vector};

pub(crate) fn eval(ev: &mut Evaluator<'_>, e: &BinaryExpr) -> Result<Matrix> {
    let (lt, rt) = (e.lhs.value_type(), e.rhs.value_type());
    let op = e.op;
    let rb = e.return_bool;
    match (lt, rt) {
        (ValueType::Scalar, ValueType::Scalar) => ev.range_eval(&[&e.lhs, &e.rhs], |v, _, _| {
            let (a, b) = (scalar_of(&v[0]), scalar_of(&v[1]));
            Ok(vec![Sample::float(
                Labels::empty(),
                0,
                scalar_binop(op, a, b),
            )])
        }),
        (ValueType::Vector, ValueType::Vector) => {
            let default = VectorMatching {
                card: if op.is_set() {
                    Cardinality::ManyToMany
                } else {
                    Cardinality::OneToOne
                },
                matching_labels: Vec::new(),
                on: false,
                include: Vec::new(),
                fill_lhs: None,
                fill_rhs: None,
            };
            let m = e.matching.clone().unwrap_or(default);
            let delayed = ev.delayed_name_removal();
            ev.range_eval(&[&e.lhs, &e.rhs], |v, _, annos| match op {
                BinaryOp::And => Ok(vector_and(&v[0], &v[1], &m)),
                BinaryOp::Or => Ok(vector_or(&v[0], &v[1], &m)),
                BinaryOp::Unless => Ok(vector_unless(&v[0], &v[1], &m)),
                _ => vector_binop(op, &v[0], &v[1], &m, rb, delayed, annos),
            })
        }
        (ValueType::Vector, ValueType::Scalar) => {
            let delayed = ev.delayed_name_removal();
            ev.range_eval(&[&e.lhs, &e.rhs], |v, _, annos| {
                Ok(vector_scalar(
                    op,
                    &v[0],
                    scalar_of(&v[1]),
                    false,
                    rb,
                    delayed,
                    annos,
                ))
            })
        }
        (ValueType::Scalar, ValueType::Vector) => {
            let delayed = ev.delayed_name_removal();
            ev.range_eval(&[&e.lhs, &e.rhs], |v, _, annos| {
                Ok(vector_scalar(
                    op,
                    &v[1],
                    scalar_of(&v[0]),
                    true,
                    rb,
                    delayed,
                    annos,
                ))
            })
        }
        _ => Err(Error::eval(format!(
            "binary operator {} not allowed between {} and {}",
            op.as_str(),
            lt.documented(),
            rt.documented()
        ))),
    }
}

fn scalar_of(v: &Vector) -> f64 {
    v.first().map_or(f64::NAN, |s| s.f)
}

pub(crate) fn scalar_binop(op: BinaryOp, a: f64, b: f64) -> f64 {
    let btos = |x: bool| if x { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Mod => go_mod(a, b),
        BinaryOp::Eql => btos(a == b),
        BinaryOp::Neq => btos(a != b),
        BinaryOp::Gtr => btos(a > b),
        BinaryOp::Lss => btos(a < b),
        BinaryOp::Gte => btos(a >= b),
        BinaryOp::Lte => btos(a <= b),
        BinaryOp::Atan2 => a.atan2(b),
        _ => f64::NAN,
    }
}

/// Go's `math.Mod` (sign of the dividend, like Rust's `%`).
pub(crate) fn go_mod(a: f64, b: f64) -> f64 {
    a % b
}

/// The outcome of one element operation.
struct Elem {
    f: f64,
    h: Option<Arc<FloatHistogram>>,
    keep: bool,
}

fn incompatible(l: &str, op: BinaryOp, r: &str, annos: &mut Annotations) {
    annos.info(format!(
        "incompatible sample types encountered for binary operator {}: {l} {} {r}",
        crate::annotations::quote(op.as_str()),
        op.as_str()
    ));
}

fn elem_binop(
    op: BinaryOp,
    lf: f64,
    rf: f64,
    lh: Option<&Arc<FloatHistogram>>,
    rh: Option<&Arc<FloatHistogram>>,
    annos: &mut Annotations,
) -> Option<Elem> {
    let fl = |f: f64, keep: bool| Some(Elem { f, h: None, keep });
    let hs = |h: FloatHistogram| {
        Some(Elem {
            f: 0.0,
            h: Some(Arc::new(h)),
            keep: true,
        })
    };
    match (lh, rh) {
        (None, None) => match op {
            BinaryOp::Add => fl(lf + rf, true),
            BinaryOp::Sub => fl(lf - rf, true),
            BinaryOp::Mul => fl(lf * rf, true),
            BinaryOp::Div => fl(lf / rf, true),
            BinaryOp::Pow => fl(lf.powf(rf), true),
            BinaryOp::Mod => fl(go_mod(lf, rf), true),
            BinaryOp::Eql => fl(lf, lf == rf),
            BinaryOp::Neq => fl(lf, lf != rf),
            BinaryOp::Gtr => fl(lf, lf > rf),
            BinaryOp::Lss => fl(lf, lf < rf),
            BinaryOp::Gte => fl(lf, lf >= rf),
            BinaryOp::Lte => fl(lf, lf <= rf),
            BinaryOp::Atan2 => fl(lf.atan2(rf), true),
            _ => {
                incompatible("float", op, "float", annos);
                None
            }
        },
        (None, Some(h)) => match op {
            BinaryOp::Mul => {
                let mut h = (**h).clone();
                hist::mul(&mut h, lf);
                hist::compact(&mut h);
                hs(h)
            }
            _ => {
                incompatible("float", op, "histogram", annos);
                None
            }
        },
        (Some(h), None) => match op {
            BinaryOp::Mul | BinaryOp::Div => {
                let mut h = (**h).clone();
                if op == BinaryOp::Mul {
                    hist::mul(&mut h, rf);
                } else {
                    hist::div(&mut h, rf);
                }
                hist::compact(&mut h);
                hs(h)
            }
            BinaryOp::TrimUpper | BinaryOp::TrimLower => {
                let mut h = (**h).clone();
                hist::trim_buckets(&mut h, rf, op == BinaryOp::TrimUpper);
                hs(h)
            }
            _ => {
                incompatible("histogram", op, "float", annos);
                None
            }
        },
        (Some(a), Some(b)) => match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let mut r = (**a).clone();
                let sub = op == BinaryOp::Sub;
                match hist::add(&mut r, b, sub) {
                    Ok(res) => {
                        let what = if sub { "subtraction" } else { "addition" };
                        if res.collision {
                            annos.warn(format!(
                                "conflicting counter resets during histogram {what}"
                            ));
                        }
                        if res.reconciled {
                            annos.info(format!(
                                "mismatched custom buckets were reconciled during {what}"
                            ));
                        }
                        if sub {
                            r.counter_reset_hint = model::histogram::CounterResetHint::Gauge;
                        }
                        hist::compact(&mut r);
                        hs(r)
                    }
                    Err(_) => {
                        annos.warn(format!(
                            "incompatible bucket layout encountered for binary operator {}",
                            op.as_str()
                        ));
                        None
                    }
                }
            }
            BinaryOp::Eql | BinaryOp::Neq => {
                let eq = hist::equals(a, b);
                Some(Elem {
                    f: 0.0,
                    h: Some(a.clone()),
                    keep: if op == BinaryOp::Eql { eq } else { !eq },
                })
            }
            _ => {
                incompatible("histogram", op, "histogram", annos);
                None
            }
        },
    }
}

fn changes_metric_schema(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Atan2
    )
}

fn vector_scalar(
    op: BinaryOp,
    lhs: &Vector,
    s: f64,
    swap: bool,
    return_bool: bool,
    delayed: bool,
    annos: &mut Annotations,
) -> Vector {
    let mut out = Vec::with_capacity(lhs.len());
    for smp in lhs {
        let (mut lf, mut rf) = (smp.f, s);
        let (mut lh, mut rh) = (smp.h.as_ref(), None);
        if swap {
            std::mem::swap(&mut lf, &mut rf);
            std::mem::swap(&mut lh, &mut rh);
        }
        let Some(mut r) = elem_binop(op, lf, rf, lh, rh, annos) else {
            continue;
        };
        if op.is_comparison() && swap {
            r.f = rf;
            r.h = rh.cloned();
        }
        if return_bool {
            r.f = if r.keep { 1.0 } else { 0.0 };
            r.h = None;
            r.keep = true;
        }
        if r.keep {
            let mut o = smp.clone();
            o.f = r.f;
            o.h = r.h;
            if changes_metric_schema(op) || return_bool {
                if !delayed {
                    o.metric = drop_metric_name(&o.metric);
                }
                o.drop_name = true;
            }
            out.push(o);
        }
    }
    out
}

/// The labels a series is matched on.
fn signature(l: &Labels, m: &VectorMatching) -> Labels {
    if m.on {
        Labels::from_sorted(
            l.iter()
                .filter(|(n, _)| m.matching_labels.iter().any(|x| x == n)),
        )
    } else {
        Labels::from_sorted(
            l.iter()
                .filter(|(n, _)| *n != "__name__" && !m.matching_labels.iter().any(|x| x == n)),
        )
    }
}

fn vector_and(lhs: &Vector, rhs: &Vector, m: &VectorMatching) -> Vector {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, m)).collect();
    lhs.iter()
        .filter(|s| right.contains(&signature(&s.metric, m)))
        .cloned()
        .collect()
}

fn vector_or(lhs: &Vector, rhs: &Vector, m: &VectorMatching) -> Vector {
    if lhs.is_empty() {
        return rhs.clone();
    }
    if rhs.is_empty() {
        return lhs.clone();
    }
    let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.metric, m)).collect();
    let mut out = lhs.clone();
    out.extend(
        rhs.iter()
            .filter(|s| !left.contains(&signature(&s.metric, m)))
            .cloned(),
    );
    out
}

fn vector_unless(lhs: &Vector, rhs: &Vector, m: &VectorMatching) -> Vector {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs.clone();
    }
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, m)).collect();
    lhs.iter()
        .filter(|s| !right.contains(&signature(&s.metric, m)))
        .cloned()
        .collect()
}

/// `MatchLabels`: the `on` labels, or everything but the `ignoring` ones
/// and `__name__`.
fn match_labels(l: &Labels, m: &VectorMatching) -> Labels {
    signature(l, m)
}

fn result_metric(
    lhs: &Labels,
    rhs: &Labels,
    op: BinaryOp,
    m: &VectorMatching,
    drop_name: bool,
) -> Labels {
    let mut b = lhs.to_builder();
    if drop_name || changes_metric_schema(op) {
        b.del("__name__");
        b.del("__type__");
        b.del("__unit__");
    }
    if m.card == Cardinality::OneToOne {
        if m.on {
            b.retain(|n, _| m.matching_labels.iter().any(|x| x == n));
        } else {
            for n in &m.matching_labels {
                b.del(n);
            }
        }
    }
    for n in &m.include {
        match rhs.get(n) {
            Some(v) => b.set(n, v),
            None => b.del(n),
        }
    }
    b.labels()
}

fn vector_binop(
    op: BinaryOp,
    lhs: &Vector,
    rhs: &Vector,
    m: &VectorMatching,
    return_bool: bool,
    delayed: bool,
    annos: &mut Annotations,
) -> Result<Vector> {
    if (lhs.is_empty() && rhs.is_empty())
        || ((lhs.is_empty() || rhs.is_empty()) && m.fill_lhs.is_none() && m.fill_rhs.is_none())
    {
        return Ok(Vec::new());
    }
    let one_to_many = m.card == Cardinality::OneToMany;
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    // As in Prometheus, the fill values are not swapped with the sides.
    let (fill_for_missing_right, fill_for_missing_left) = (m.fill_rhs, m.fill_lhs);
    let mut right: HashMap<Labels, &Sample> = HashMap::with_capacity(rhs.len());
    for rs in rhs {
        let sig = signature(&rs.metric, m);
        if let Some(dup) = right.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let (mut d1, mut d2) = (rs.metric.to_string(), dup.metric.to_string());
            if d1 > d2 {
                std::mem::swap(&mut d1, &mut d2);
            }
            return Err(Error::eval(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
                match_labels(&rs.metric, m)
            )));
        }
        right.insert(sig, rs);
    }
    let mut matched_one: HashSet<Labels> = HashSet::new();
    let mut matched_many: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    let drop_now = !delayed && return_bool;
    let mut do_op = |ls: &Sample, rs: &Sample, sig: Labels, out: &mut Vector| -> Result<()> {
        let (mut lf, mut rf) = (ls.f, rs.f);
        let (mut lh, mut rh) = (ls.h.as_ref(), rs.h.as_ref());
        if one_to_many {
            std::mem::swap(&mut lf, &mut rf);
            std::mem::swap(&mut lh, &mut rh);
        }
        let r = elem_binop(op, lf, rf, lh, rh, annos);
        let (mut f, mut h, keep) = match r {
            Some(r) => (r.f, r.h, r.keep),
            None => return Ok(()),
        };
        if return_bool {
            h = None;
            f = if keep { 1.0 } else { 0.0 };
        }
        let metric = result_metric(&ls.metric, &rs.metric, op, m, drop_now);
        if m.card == Cardinality::OneToOne {
            if !matched_one.insert(sig) {
                return Err(Error::eval(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
        } else if !matched_many.entry(sig).or_default().insert(metric.clone()) {
            return Err(Error::eval(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
        if !keep && !return_bool {
            return Ok(());
        }
        out.push(Sample {
            metric,
            t: 0,
            f,
            h,
            drop_name: return_bool,
        });
        Ok(())
    };
    for ls in lhs {
        let sig = signature(&ls.metric, m);
        match right.get(&sig) {
            Some(rs) => do_op(ls, rs, sig, &mut out)?,
            None => {
                let Some(fill) = fill_for_missing_right else {
                    continue;
                };
                let rs = Sample::float(match_labels(&ls.metric, m), 0, fill);
                do_op(ls, &rs, sig, &mut out)?;
            }
        }
    }
    if let Some(fill) = fill_for_missing_left {
        let mut done: HashSet<Labels> = lhs.iter().map(|s| signature(&s.metric, m)).collect();
        for rs in rhs {
            let sig = signature(&rs.metric, m);
            if !done.insert(sig.clone()) {
                continue;
            }
            let ls = Sample::float(match_labels(&rs.metric, m), 0, fill);
            do_op(&ls, rs, sig, &mut out)?;
        }
    }
    Ok(out)
}
