//! The multi-line format of `/api/v1/format_query` (Prometheus's
//! `Prettify`): a node whose one-line form is longer than 100 bytes is
//! split, its children indented by two spaces per level.

use std::fmt::Write;

use crate::ast::{Expr, UnaryOp};
use crate::printer::{BinaryModifiers, write_aggregate_head, write_subquery_suffix};

/// The longest line a node may have before it is split.
pub const MAX_LINE_WIDTH: usize = 100;

/// `e` formatted like Prometheus's `format_query`.
pub fn pretty(e: &Expr) -> String {
    pretty_at(e, 0)
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn needs_split(e: &Expr) -> bool {
    e.to_string().len() > MAX_LINE_WIDTH
}

fn pretty_at(e: &Expr, level: usize) -> String {
    let mut s = indent(level);
    match e {
        Expr::Aggregate(a) if needs_split(e) => {
            let _ = write_aggregate_head(&mut s, a);
            s.push_str("(\n");
            if let Some(p) = &a.param {
                s.push_str(&pretty_at(p, level + 1));
                s.push_str(",\n");
            }
            s.push_str(&pretty_at(&a.expr, level + 1));
            s.push('\n');
            s.push_str(&indent(level));
            s.push(')');
            s
        }
        Expr::Binary(b) if needs_split(e) => {
            let mut s = pretty_at(&b.lhs, level + 1);
            s.push('\n');
            s.push_str(&indent(level));
            let _ = write!(s, "{}{}", b.op.as_str(), BinaryModifiers(b));
            s.push('\n');
            s.push_str(&pretty_at(&b.rhs, level + 1));
            s
        }
        Expr::Call(c) if needs_split(e) => {
            s.push_str(c.func.name);
            s.push_str("(\n");
            let args: Vec<String> = c.args.iter().map(|a| pretty_at(a, level + 1)).collect();
            s.push_str(&args.join(",\n"));
            s.push('\n');
            s.push_str(&indent(level));
            s.push(')');
            s
        }
        Expr::Paren(p) if needs_split(e) => {
            s.push_str("(\n");
            s.push_str(&pretty_at(&p.expr, level + 1));
            s.push('\n');
            s.push_str(&indent(level));
            s.push(')');
            s
        }
        // Prometheus writes an unsplit subquery without indentation.
        Expr::Subquery(_) if !needs_split(e) => e.to_string(),
        Expr::Subquery(sq) => {
            let mut s = pretty_at(&sq.expr, level);
            let _ = write_subquery_suffix(&mut s, sq);
            s
        }
        Expr::Unary(u) => {
            let child = pretty_at(&u.expr, level);
            s.push(if u.op == UnaryOp::Minus { '-' } else { '+' });
            s.push_str(child.trim());
            s
        }
        _ => {
            let _ = write!(s, "{e}");
            s
        }
    }
}
