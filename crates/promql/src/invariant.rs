//! Step-invariant subexpressions, found as Prometheus's `PreprocessExpr`
//! finds them: the highest nodes whose value is the same at every step
//! (selectors and subqueries with `@`, literals, and calls, operators and
//! aggregations of those). Prometheus evaluates such a node at the first
//! step only and repeats its result at the others; the evaluator does the
//! same ([`crate::eval::Evaluator::eval`]), which is what its memory
//! accounting (`peakSamples`, the sample limit) and query statistics
//! (samples read once) follow.

use std::collections::HashSet;

use promql_syntax::ast::Expr;

/// Functions whose value depends on the step even when their arguments do
/// not, `@` or not (Prometheus's `AtModifierUnsafeFunctions`).
pub const STEP_DEPENDENT: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// The addresses of the nodes of `root` that Prometheus wraps in a
/// `StepInvariantExpr`.
pub(crate) fn nodes(root: &Expr) -> HashSet<usize> {
    let mut out = HashSet::new();
    let (_, wrap) = walk(root, &mut out);
    if wrap {
        out.insert(addr(root));
    }
    out
}

pub(crate) fn addr(e: &Expr) -> usize {
    e as *const Expr as usize
}

/// `preprocessExprHelper`: whether `e` is step-invariant, and whether it
/// is worth wrapping (literals alone are not); wraps the invariant
/// children of a node that is not.
fn walk(e: &Expr, out: &mut HashSet<usize>) -> (bool, bool) {
    match e {
        Expr::VectorSelector(vs) => (vs.at.is_some(), vs.at.is_some()),
        Expr::Aggregate(a) => walk(&a.expr, out),
        Expr::Binary(b) => {
            let (il, wl) = walk(&b.lhs, out);
            let (ir, wr) = walk(&b.rhs, out);
            if il && ir {
                return (true, true);
            }
            if wl {
                out.insert(addr(&b.lhs));
            }
            if wr {
                out.insert(addr(&b.rhs));
            }
            (false, false)
        }
        // Prometheus folds these into literals before this walk.
        Expr::Call(c)
            if c.args.is_empty() && matches!(c.func.name, "start" | "end" | "range" | "step") =>
        {
            (true, false)
        }
        Expr::Call(c) => {
            let mut invariant = !STEP_DEPENDENT.contains(&c.func.name);
            // `timestamp(x @ t)` is invariant, `timestamp(abs(x @ t))` not.
            let mut timestamp_ok = c.func.name == "timestamp";
            let mut wraps = Vec::with_capacity(c.args.len());
            for a in &c.args {
                let a = crate::eval::unparen(a);
                let (i, w) = walk(a, out);
                invariant &= i;
                if !i || !matches!(a, Expr::VectorSelector(_)) {
                    timestamp_ok = false;
                }
                wraps.push((a, w));
            }
            if invariant || timestamp_ok {
                return (true, true);
            }
            for (a, w) in wraps {
                if w {
                    out.insert(addr(a));
                }
            }
            (false, false)
        }
        Expr::MatrixSelector(ms) => (ms.vector_selector.at.is_some(), false),
        Expr::Subquery(sq) => {
            let (inner, _) = walk(&sq.expr, out);
            if inner {
                out.insert(addr(&sq.expr));
            }
            (sq.at.is_some(), sq.at.is_some())
        }
        Expr::Paren(p) => walk(&p.expr, out),
        Expr::Unary(u) => walk(&u.expr, out),
        Expr::String(_) | Expr::Number(_) => (true, false),
    }
}
