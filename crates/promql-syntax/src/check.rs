//! Type checking of a parsed query, in Prometheus's order and wording
//! (`checkAST`). Also normalizes vector matching as Prometheus does: set
//! operators become many-to-many, and matching is dropped unless both
//! operands are instant vectors.

use crate::ast::{AggregateOp, Cardinality, Expr, PosRange, VectorSelector};
use crate::error::ParseError;
use crate::quote::go_quote;
use crate::value::ValueType;

struct Checker<'a> {
    input: &'a str,
    errors: &'a mut Vec<ParseError>,
}

/// Checks `e`, appending errors in Prometheus's order.
pub(crate) fn check(e: &mut Expr, input: &str, errors: &mut Vec<ParseError>) {
    Checker { input, errors }.check(e);
}

impl Checker<'_> {
    fn error(&mut self, pos: PosRange, msg: impl Into<String>) {
        self.errors
            .push(ParseError::new(self.input, pos, msg.into()));
    }

    fn expect_type(&mut self, e: &mut Expr, want: ValueType, context: &str) {
        let t = self.check(e);
        if t != want {
            self.error(
                e.pos(),
                format!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    t.documented()
                ),
            );
        }
    }

    /// The operator of a binary expression, spaces trimmed.
    fn op_range(&self, lhs: PosRange, rhs: PosRange) -> PosRange {
        let b = self.input.as_bytes();
        let is_space = |i: usize| matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r'));
        let mut start = lhs.end;
        while is_space(start) {
            start += 1;
        }
        let mut end = rhs.start.saturating_sub(1);
        while end > start && is_space(end) {
            end -= 1;
        }
        PosRange::new(start, end)
    }

    fn check(&mut self, e: &mut Expr) -> ValueType {
        let typ = e.value_type();
        let pos = e.pos();
        match e {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression");
                let param_type = match a.op {
                    AggregateOp::Topk
                    | AggregateOp::Bottomk
                    | AggregateOp::Quantile
                    | AggregateOp::Limitk
                    | AggregateOp::LimitRatio => Some(ValueType::Scalar),
                    AggregateOp::CountValues => Some(ValueType::String),
                    _ => None,
                };
                if let (Some(want), Some(p)) = (param_type, &mut a.param) {
                    self.expect_type(p, want, "aggregation parameter");
                }
            }
            Expr::Binary(b) => {
                let lt = self.check(&mut b.lhs);
                let rt = self.check(&mut b.rhs);
                let op_range = self.op_range(b.lhs.pos(), b.rhs.pos());
                if b.return_bool && !b.op.is_comparison() {
                    self.error(
                        op_range,
                        "bool modifier can only be used on comparison operators",
                    );
                }
                if b.op.is_comparison()
                    && !b.return_bool
                    && b.rhs.value_type() == ValueType::Scalar
                    && b.lhs.value_type() == ValueType::Scalar
                {
                    self.error(
                        op_range,
                        "comparisons between scalars must use BOOL modifier",
                    );
                }
                if let Some(m) = &mut b.matching {
                    if b.op.is_set() && m.card == Cardinality::OneToOne {
                        m.card = Cardinality::ManyToMany;
                    }
                    if m.on {
                        for l1 in &m.matching_labels {
                            if m.include.contains(l1) {
                                self.errors.push(ParseError::new(
                                    self.input,
                                    op_range,
                                    format!(
                                        "label {} must not occur in ON and GROUP clause at once",
                                        go_quote(l1)
                                    ),
                                ));
                            }
                        }
                    }
                }
                if lt != ValueType::Scalar && lt != ValueType::Vector {
                    self.error(
                        b.lhs.pos(),
                        "binary expression must contain only scalar and instant vector types",
                    );
                }
                if rt != ValueType::Scalar && rt != ValueType::Vector {
                    self.error(
                        b.rhs.pos(),
                        "binary expression must contain only scalar and instant vector types",
                    );
                }
                let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
                if let Some(m) = &b.matching {
                    let fill = m.fill_lhs.is_some() || m.fill_rhs.is_some();
                    if !both_vectors {
                        if !m.matching_labels.is_empty() {
                            self.error(pos, "vector matching only allowed between instant vectors");
                        }
                        if fill {
                            self.error(
                                pos,
                                "filling in missing series only allowed between instant vectors",
                            );
                        }
                        b.matching = None;
                    } else if b.op.is_set() {
                        if matches!(m.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                            self.error(
                                pos,
                                format!(
                                    "no grouping allowed for {} operation",
                                    go_quote(b.op.as_str())
                                ),
                            );
                        }
                        if m.card != Cardinality::ManyToMany {
                            self.error(pos, "set operations must always be many-to-many");
                        }
                        if fill {
                            self.error(
                                pos,
                                "filling in missing series not allowed for set operators",
                            );
                        }
                    }
                }
                if (lt == ValueType::Scalar || rt == ValueType::Scalar) && b.op.is_set() {
                    self.error(
                        pos,
                        format!(
                            "set operator {} not allowed in binary scalar expression",
                            go_quote(b.op.as_str())
                        ),
                    );
                }
            }
            Expr::Call(c) => {
                let f = c.func;
                let nargs = f.arg_types.len();
                let name = go_quote(f.name);
                if f.variadic == 0 {
                    if nargs != c.args.len() {
                        self.error(
                            pos,
                            format!(
                                "expected {nargs} argument(s) in call to {name}, got {}",
                                c.args.len()
                            ),
                        );
                    }
                } else {
                    let na = nargs.saturating_sub(1);
                    if na > c.args.len() {
                        self.error(
                            pos,
                            format!(
                                "expected at least {na} argument(s) in call to {name}, got {}",
                                c.args.len()
                            ),
                        );
                    } else if f.variadic > 0 && na + (f.variadic as usize) < c.args.len() {
                        self.error(
                            pos,
                            format!(
                                "expected at most {} argument(s) in call to {name}, got {}",
                                na + f.variadic as usize,
                                c.args.len()
                            ),
                        );
                    }
                }
                if f.name == "info" && c.args.len() > 1 {
                    let t = c.args[1].value_type();
                    if t != ValueType::Vector {
                        self.error(
                            pos,
                            format!(
                                "expected type instant vector in call to function {name}, got {}",
                                t.documented()
                            ),
                        );
                    }
                    let arg_pos = c.args[1].pos();
                    match &mut c.args[1] {
                        Expr::VectorSelector(vs) if vs.name.is_some() => self.error(
                            arg_pos,
                            "expected label selectors only, got vector selector instead",
                        ),
                        Expr::VectorSelector(vs) => vs.bypass_empty_matcher_check = true,
                        _ => self.error(arg_pos, "expected label selectors only"),
                    }
                }
                for (i, arg) in c.args.iter_mut().enumerate() {
                    let i = if i >= nargs {
                        if f.variadic == 0 || nargs == 0 {
                            break;
                        }
                        nargs - 1
                    } else {
                        i
                    };
                    let t = self.check(arg);
                    let want = f.arg_types[i];
                    if t != want {
                        self.error(
                            arg.pos(),
                            format!(
                                "expected type {} in call to function {name}, got {}",
                                want.documented(),
                                t.documented()
                            ),
                        );
                    }
                }
            }
            Expr::Paren(p) => {
                self.check(&mut p.expr);
            }
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr);
                if t != ValueType::Scalar && t != ValueType::Vector {
                    self.error(
                        pos,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            go_quote(t.documented())
                        ),
                    );
                }
            }
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr);
                if t != ValueType::Vector {
                    self.error(
                        pos,
                        format!("subquery is only allowed on instant vector, got {t} instead"),
                    );
                }
            }
            Expr::MatrixSelector(m) => self.check_selector(&m.vector_selector),
            Expr::VectorSelector(vs) => self.check_selector(vs),
            Expr::Number(_) | Expr::String(_) => {}
        }
        typ
    }

    fn check_selector(&mut self, vs: &VectorSelector) {
        if let Some(name) = &vs.name {
            let before_last = vs.matchers.len().saturating_sub(1);
            for m in &vs.matchers[..before_last] {
                if m.name() == "__name__" {
                    self.error(
                        vs.pos,
                        format!(
                            "metric name must not be set twice: {} or {}",
                            go_quote(name),
                            go_quote(m.value())
                        ),
                    );
                }
            }
            return;
        }
        if !vs.bypass_empty_matcher_check && vs.matchers.iter().all(|m| m.matches_empty()) {
            self.error(
                vs.pos,
                "vector selector must contain at least one non-empty matcher",
            );
        }
    }
}
