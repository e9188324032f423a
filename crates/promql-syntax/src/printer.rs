//! The canonical text of an expression, as Prometheus's `String()` writes
//! it: what rule files and the HTTP API show, and what parses back to the
//! same tree.

use std::fmt::{self, Write};

use crate::ast::{
    AggregateExpr, AtModifier, BinaryExpr, Cardinality, DurationArg, DurationExpr, DurationOp,
    Expr, MatrixSelector, NumberLiteral, SubqueryExpr, UnaryOp, VectorMatching, VectorSelector,
};
use crate::duration::{Duration, go_f64_to_i64};
use crate::number::{format_f, format_v};
use crate::quote::{go_quote, go_quote_bytes};

fn is_legacy_label(s: &str) -> bool {
    model::labels::is_valid_legacy_name(s)
}

/// Go writes U+FFFD as is, which PromQL's lexer rejects inside strings;
/// `\ufffd` parses back to the same character.
fn escape_replacement(quoted: String) -> String {
    if quoted.contains('\u{FFFD}') {
        quoted.replace('\u{FFFD}', "\\ufffd")
    } else {
        quoted
    }
}

/// `a, "b.c"`: names quoted unless they are legacy label names.
pub(crate) fn write_labels(f: &mut impl Write, labels: &[String]) -> fmt::Result {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if is_legacy_label(l) {
            f.write_str(l)?;
        } else {
            f.write_str(&escape_replacement(go_quote(l)))?;
        }
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Aggregate(a) => {
                write_aggregate_head(f, a)?;
                f.write_char('(')?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Binary(b) => write!(
                f,
                "{} {}{} {}",
                b.lhs,
                b.op.as_str(),
                BinaryModifiers(b),
                b.rhs
            ),
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            Expr::MatrixSelector(m) => write_matrix(f, m),
            Expr::Number(n) => write_number(f, n),
            Expr::Paren(p) => write!(f, "({})", p.expr),
            Expr::String(s) => f.write_str(&go_quote_bytes(&s.value)),
            Expr::Subquery(s) => {
                write!(f, "{}", s.expr)?;
                write_subquery_suffix(f, s)
            }
            Expr::Unary(u) => {
                f.write_str(match u.op {
                    UnaryOp::Plus => "+",
                    UnaryOp::Minus => "-",
                })?;
                write!(f, "{}", u.expr)
            }
            Expr::VectorSelector(vs) => write_vector_selector(f, vs, true),
        }
    }
}

/// `sum`, `sum by (a) `, `sum without (a) ` (Prometheus's `ShortString`).
pub(crate) fn write_aggregate_head(f: &mut impl Write, a: &AggregateExpr) -> fmt::Result {
    f.write_str(a.op.as_str())?;
    if a.without {
        f.write_str(" without (")?;
        write_labels(f, &a.grouping)?;
        f.write_str(") ")?;
    } else if !a.grouping.is_empty() {
        f.write_str(" by (")?;
        write_labels(f, &a.grouping)?;
        f.write_str(") ")?;
    }
    Ok(())
}

/// ` bool on (a) group_left (b) fill (0)` of a binary expression.
pub(crate) struct BinaryModifiers<'a>(pub(crate) &'a BinaryExpr);

impl fmt::Display for BinaryModifiers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.return_bool {
            f.write_str(" bool")?;
        }
        match &self.0.matching {
            Some(m) => write_matching(f, m),
            None => Ok(()),
        }
    }
}

fn write_matching(f: &mut impl Write, m: &VectorMatching) -> fmt::Result {
    let grouped = matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany);
    if !m.matching_labels.is_empty() || m.on || grouped {
        f.write_str(if m.on { " on (" } else { " ignoring (" })?;
        write_labels(f, &m.matching_labels)?;
        f.write_char(')')?;
    }
    if grouped {
        f.write_str(if m.card == Cardinality::ManyToOne {
            " group_left ("
        } else {
            " group_right ("
        })?;
        write_labels(f, &m.include)?;
        f.write_char(')')?;
    }
    match (m.fill_lhs, m.fill_rhs) {
        (Some(l), Some(r)) if l == r => write!(f, " fill ({})", format_v(l))?,
        (l, r) => {
            if let Some(l) = l {
                write!(f, " fill_left ({})", format_v(l))?;
            }
            if let Some(r) = r {
                write!(f, " fill_right ({})", format_v(r))?;
            }
        }
    }
    Ok(())
}

fn write_number(f: &mut impl Write, n: &NumberLiteral) -> fmt::Result {
    if n.duration {
        // Prometheus truncates the float nanoseconds, which prints
        // `3d1h9m52s420ms` (263392.42 s) as `…419ms`; rounding keeps what
        // was written.
        if n.value < 0.0 {
            write!(f, "-{}", Duration(go_f64_to_i64((-n.value * 1e9).round())))
        } else {
            write!(f, "{}", Duration(go_f64_to_i64((n.value * 1e9).round())))
        }
    } else {
        f.write_str(&format_f(n.value))
    }
}

fn write_at(f: &mut impl Write, at: Option<AtModifier>) -> fmt::Result {
    match at {
        Some(AtModifier::Timestamp(ms)) => write!(f, " @ {:.3}", ms as f64 / 1000.0),
        Some(AtModifier::Start) => f.write_str(" @ start()"),
        Some(AtModifier::End) => f.write_str(" @ end()"),
        None => Ok(()),
    }
}

fn write_offset(f: &mut impl Write, offset: &Option<DurationArg>) -> fmt::Result {
    match offset {
        // `x offset (5m) * 2` keeps `* 2` in the offset (a literal loses its
        // parentheses); Prometheus then prints `x offset 5m * 2`, which
        // reads differently. Parenthesizing keeps the meaning.
        Some(DurationArg::Expr(e @ DurationExpr::Binary { wrapped: false, .. })) => {
            write!(f, " offset ({e})")
        }
        Some(DurationArg::Expr(e)) => write!(f, " offset {e}"),
        Some(DurationArg::Fixed(d)) if d.0 > 0 => write!(f, " offset {d}"),
        Some(DurationArg::Fixed(d)) if d.0 < 0 => {
            write!(f, " offset -{}", Duration(d.0.saturating_neg()))
        }
        _ => Ok(()),
    }
}

impl fmt::Display for DurationArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationArg::Fixed(d) => write!(f, "{d}"),
            DurationArg::Expr(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for DurationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wrapped = match self {
            DurationExpr::Number(_) => false,
            DurationExpr::Step { wrapped, .. }
            | DurationExpr::Range { wrapped, .. }
            | DurationExpr::MinMax { wrapped, .. }
            | DurationExpr::Neg { wrapped, .. }
            | DurationExpr::Binary { wrapped, .. } => *wrapped,
        };
        if wrapped {
            f.write_char('(')?;
        }
        match self {
            DurationExpr::Number(n) => write_number(f, n)?,
            DurationExpr::Step { .. } => f.write_str("step()")?,
            DurationExpr::Range { .. } => f.write_str("range()")?,
            DurationExpr::MinMax { max, lhs, rhs, .. } => {
                let name = if *max { "max_of" } else { "min_of" };
                write!(f, "{name}({lhs}, {rhs})")?;
            }
            DurationExpr::Neg { expr, .. } => write!(f, "-{expr}")?,
            // `(-2) ^ 2` loses its parentheses when parsed; Prometheus then
            // prints `-2 ^ 2`, which reads as `-(2 ^ 2)`.
            DurationExpr::Binary {
                op: DurationOp::Pow,
                lhs,
                rhs,
                ..
            } if matches!(&**lhs, DurationExpr::Number(n) if n.value.is_sign_negative()) => {
                write!(f, "({lhs}) ^ {rhs}")?
            }
            DurationExpr::Binary { op, lhs, rhs, .. } => write!(f, "{lhs} {} {rhs}", op.as_str())?,
        }
        if wrapped {
            f.write_char(')')?;
        }
        Ok(())
    }
}

/// A vector selector; `modifiers == false` leaves out `@`, `anchored`,
/// `smoothed` and `offset` (a matrix selector writes them after the range).
fn write_vector_selector(f: &mut impl Write, vs: &VectorSelector, modifiers: bool) -> fmt::Result {
    let name = vs.name.as_deref().unwrap_or("");
    let mut parts: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| {
            !(m.name() == "__name__"
                && m.op() == model::matcher::MatchOp::Equal
                && m.value() == name
                && !m.value().is_empty())
        })
        .map(|m| escape_replacement(m.to_string()))
        .collect();
    f.write_str(name)?;
    if !parts.is_empty() {
        parts.sort();
        write!(f, "{{{}}}", parts.join(","))?;
    }
    if modifiers {
        write_at(f, vs.at)?;
        if vs.anchored {
            f.write_str(" anchored")?;
        } else if vs.smoothed {
            f.write_str(" smoothed")?;
        }
        write_offset(f, &vs.offset)?;
    }
    Ok(())
}

fn write_matrix(f: &mut impl Write, m: &MatrixSelector) -> fmt::Result {
    let vs = &m.vector_selector;
    write_vector_selector(f, vs, false)?;
    write!(f, "[{}]", m.range)?;
    if vs.anchored {
        f.write_str(" anchored")?;
    } else if vs.smoothed {
        f.write_str(" smoothed")?;
    }
    write_at(f, vs.at)?;
    write_offset(f, &vs.offset)
}

/// `[range:step] @ t offset d` of a subquery.
pub(crate) fn write_subquery_suffix(f: &mut impl Write, s: &SubqueryExpr) -> fmt::Result {
    write!(f, "[{}:", s.range)?;
    match &s.step {
        Some(DurationArg::Fixed(d)) if d.0 != 0 => write!(f, "{d}")?,
        Some(DurationArg::Expr(e)) => write!(f, "{e}")?,
        _ => {}
    }
    f.write_char(']')?;
    write_at(f, s.at)?;
    write_offset(f, &s.offset)
}
