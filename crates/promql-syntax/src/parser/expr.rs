//! Expressions: operators with Prometheus's precedence, unary signs,
//! postfix modifiers, aggregations, calls, parentheses and literals.

use super::{PResult, Parser, Stop, catch};
use crate::ast::{
    AggregateExpr, AggregateOp, BinaryExpr, BinaryOp, Call, Cardinality, Expr, NumberLiteral,
    ParenExpr, PosRange, StringLiteral, UnaryExpr, UnaryOp, VectorMatching,
};
use crate::duration::parse_duration;
use crate::functions;
use crate::lexer::{Kind, Token};
use crate::number::parse_number;
use crate::quote::{go_quote, unquote};

const AGGREGATION: super::Catch = catch("aggregation", "");

fn binary_op(k: Kind) -> Option<BinaryOp> {
    Some(match k {
        Kind::Add => BinaryOp::Add,
        Kind::Sub => BinaryOp::Sub,
        Kind::Mul => BinaryOp::Mul,
        Kind::Div => BinaryOp::Div,
        Kind::Mod => BinaryOp::Mod,
        Kind::Pow => BinaryOp::Pow,
        Kind::Atan2 => BinaryOp::Atan2,
        Kind::Eqlc => BinaryOp::Eql,
        Kind::Neq => BinaryOp::Neq,
        Kind::Lss => BinaryOp::Lss,
        Kind::Lte => BinaryOp::Lte,
        Kind::Gtr => BinaryOp::Gtr,
        Kind::Gte => BinaryOp::Gte,
        Kind::TrimUpper => BinaryOp::TrimUpper,
        Kind::TrimLower => BinaryOp::TrimLower,
        Kind::And => BinaryOp::And,
        Kind::Or => BinaryOp::Or,
        Kind::Unless => BinaryOp::Unless,
        _ => return None,
    })
}

fn aggregate_op(k: Kind) -> Option<AggregateOp> {
    Some(match k {
        Kind::Sum => AggregateOp::Sum,
        Kind::Avg => AggregateOp::Avg,
        Kind::Count => AggregateOp::Count,
        Kind::Min => AggregateOp::Min,
        Kind::Max => AggregateOp::Max,
        Kind::Group => AggregateOp::Group,
        Kind::Stddev => AggregateOp::Stddev,
        Kind::Stdvar => AggregateOp::Stdvar,
        Kind::Topk => AggregateOp::Topk,
        Kind::Bottomk => AggregateOp::Bottomk,
        Kind::CountValues => AggregateOp::CountValues,
        Kind::Quantile => AggregateOp::Quantile,
        Kind::Limitk => AggregateOp::Limitk,
        Kind::LimitRatio => AggregateOp::LimitRatio,
        _ => return None,
    })
}

/// Tokens that may name a metric (Prometheus's `metric_identifier`).
pub(super) fn is_metric_identifier(k: Kind) -> bool {
    use Kind::*;
    k.is_aggregator()
        || matches!(
            k,
            Identifier
                | MetricIdentifier
                | By
                | Without
                | Fill
                | FillLeft
                | FillRight
                | And
                | Or
                | Unless
                | Offset
                | Start
                | End
                | Step
                | Range
                | Anchored
                | Smoothed
                | MaxOf
                | MinOf
        )
}

/// A placeholder for a node that could not be built; an error has been
/// recorded, so it is never returned to the caller of `parse`.
fn placeholder(pos: PosRange) -> Expr {
    Expr::Number(NumberLiteral {
        value: 0.0,
        duration: false,
        pos,
    })
}

impl Parser<'_> {
    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        self.parse_binary(1)
    }

    /// Operators binding at least as strongly as `min_prec`.
    fn parse_binary(&mut self, min_prec: u8) -> PResult<Expr> {
        self.enter()?;
        let mut levels = 1;
        let result = (|| {
            let mut lhs = self.parse_unary()?;
            while let Some(op) = binary_op(self.kind()) {
                let prec = op.precedence();
                if prec < min_prec {
                    break;
                }
                self.bump();
                let (return_bool, matching) = self.parse_bin_modifiers()?;
                let next_min = if op == BinaryOp::Pow { prec } else { prec + 1 };
                let rhs = self.parse_binary(next_min)?;
                levels += 1;
                self.enter()?;
                lhs = self.new_binary(op, lhs, rhs, return_bool, matching);
            }
            Ok(lhs)
        })();
        self.leave(levels);
        result
    }

    fn new_binary(
        &mut self,
        op: BinaryOp,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        matching: VectorMatching,
    ) -> Expr {
        let fill = matching.fill_lhs.is_some() || matching.fill_rhs.is_some();
        let e = Expr::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool,
            matching: Some(matching),
        });
        if fill && !self.opts.binop_fill_modifiers {
            self.error(
                e.pos(),
                "binop fill modifiers are experimental and not enabled",
            );
        }
        e
    }

    /// `[bool] [on|ignoring (…) [group_left|group_right [(…)]]] [fill…]`.
    fn parse_bin_modifiers(&mut self) -> PResult<(bool, VectorMatching)> {
        let return_bool = self.kind() == Kind::Bool;
        if return_bool {
            self.bump();
        }
        let mut m = VectorMatching {
            card: Cardinality::OneToOne,
            matching_labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill_lhs: None,
            fill_rhs: None,
        };
        if matches!(self.kind(), Kind::On | Kind::Ignoring) {
            m.on = self.bump().kind == Kind::On;
            m.matching_labels = self.parse_grouping_labels()?;
            if matches!(self.kind(), Kind::GroupLeft | Kind::GroupRight) {
                m.card = if self.bump().kind == Kind::GroupLeft {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                if self.kind() == Kind::LeftParen {
                    m.include = self.parse_grouping_labels()?;
                }
            }
        }
        match self.kind() {
            Kind::Fill => {
                self.bump();
                let v = self.parse_fill_value()?;
                m.fill_lhs = Some(v);
                m.fill_rhs = Some(v);
            }
            Kind::FillLeft => {
                self.bump();
                m.fill_lhs = Some(self.parse_fill_value()?);
                if self.kind() == Kind::FillRight {
                    self.bump();
                    m.fill_rhs = Some(self.parse_fill_value()?);
                }
            }
            Kind::FillRight => {
                self.bump();
                m.fill_rhs = Some(self.parse_fill_value()?);
                if self.kind() == Kind::FillLeft {
                    self.bump();
                    m.fill_lhs = Some(self.parse_fill_value()?);
                }
            }
            _ => {}
        }
        Ok((return_bool, m))
    }

    /// `( [+|-] number )`.
    fn parse_fill_value(&mut self) -> PResult<f64> {
        self.expect(Kind::LeftParen)?;
        let negate = match self.kind() {
            Kind::Add => {
                self.bump();
                false
            }
            Kind::Sub => {
                self.bump();
                true
            }
            _ => false,
        };
        let n = match self.kind() {
            Kind::Number | Kind::Duration => self.parse_number_literal(),
            _ => return Err(self.unexpected()),
        };
        self.expect(Kind::RightParen)?;
        Ok(if negate { -n.value } else { n.value })
    }

    /// A sign binds like `*`: `-a ^ b` is `-(a ^ b)`, `-a * b` is `(-a) * b`.
    fn parse_unary(&mut self) -> PResult<Expr> {
        let op = match self.kind() {
            Kind::Add => UnaryOp::Plus,
            Kind::Sub => UnaryOp::Minus,
            _ => return self.parse_postfix(),
        };
        let tok = self.bump();
        let operand = self.parse_binary(BinaryOp::Pow.precedence())?;
        Ok(match operand {
            Expr::Number(mut n) => {
                if op == UnaryOp::Minus {
                    n.value = -n.value;
                }
                n.pos.start = tok.start;
                Expr::Number(n)
            }
            other => Expr::Unary(UnaryExpr {
                op,
                expr: Box::new(other),
                start: tok.start,
            }),
        })
    }

    /// A primary expression and its postfix modifiers: `[…]`, `offset`,
    /// `@`, `anchored`, `smoothed`.
    fn parse_postfix(&mut self) -> PResult<Expr> {
        let mut e = self.parse_primary()?;
        loop {
            match self.kind() {
                Kind::LeftBracket => e = self.parse_range_or_subquery(e)?,
                Kind::Offset => self.parse_offset(&mut e)?,
                Kind::At => self.parse_at(&mut e)?,
                Kind::Anchored => {
                    self.bump();
                    self.set_extended(&mut e, false);
                }
                Kind::Smoothed => {
                    self.bump();
                    self.set_extended(&mut e, true);
                }
                _ => return Ok(e),
            }
        }
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let k = self.kind();
        match k {
            Kind::Number | Kind::Duration => Ok(Expr::Number(self.parse_number_literal())),
            Kind::String => {
                let t = self.bump();
                Ok(Expr::String(StringLiteral {
                    value: unquote(self.text(&t)),
                    pos: PosRange::new(t.start, t.end),
                }))
            }
            Kind::LeftBrace => self.parse_vector_selector(None),
            Kind::LeftParen => {
                let open = self.bump();
                let inner = self.parse_expr()?;
                let close = self.expect(Kind::RightParen)?;
                Ok(Expr::Paren(ParenExpr {
                    expr: Box::new(inner),
                    pos: PosRange::new(open.start, close.end),
                }))
            }
            Kind::Identifier
            | Kind::Start
            | Kind::End
            | Kind::Step
            | Kind::Range
            | Kind::MaxOf
            | Kind::MinOf => {
                let name = self.bump();
                if self.kind() == Kind::LeftParen {
                    self.parse_call(name)
                } else {
                    self.parse_vector_selector(Some(name))
                }
            }
            k if k.is_aggregator() => {
                let op = self.bump();
                if matches!(self.kind(), Kind::LeftParen | Kind::By | Kind::Without) {
                    self.parse_aggregate(op)
                } else {
                    self.parse_vector_selector(Some(op))
                }
            }
            k if is_metric_identifier(k) => {
                let name = self.bump();
                self.parse_vector_selector(Some(name))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `NUMBER` or `DURATION` (the next token), errors recorded.
    pub(super) fn parse_number_literal(&mut self) -> NumberLiteral {
        let t = self.bump();
        let text = self.text(&t);
        let pos = PosRange::new(t.start, t.end);
        if t.kind == Kind::Duration {
            let value = match parse_duration(text) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => {
                    self.error(pos, e);
                    0.0
                }
            };
            return NumberLiteral {
                value,
                duration: true,
                pos,
            };
        }
        let value = match parse_number(text) {
            Ok(v) => v,
            Err(e) => {
                self.error(pos, e);
                0.0
            }
        };
        NumberLiteral {
            value,
            duration: false,
            pos,
        }
    }

    /// `( args )`, `()`; a trailing comma is an error that parsing survives.
    fn parse_call_body(&mut self) -> PResult<Vec<Expr>> {
        self.expect(Kind::LeftParen)?;
        let mut args = Vec::new();
        if self.kind() == Kind::RightParen {
            self.bump();
            return Ok(args);
        }
        let result = (|| {
            loop {
                args.push(self.parse_expr()?);
                loop {
                    match self.kind() {
                        Kind::Comma => {
                            let comma = self.bump();
                            match self.kind() {
                                Kind::RightParen | Kind::Comma => self.error(
                                    PosRange::new(comma.start, comma.end),
                                    "trailing commas not allowed in function call args",
                                ),
                                _ => break,
                            }
                        }
                        Kind::RightParen => {
                            self.bump();
                            return Ok(());
                        }
                        _ => return Err(self.unexpected()),
                    }
                }
            }
        })();
        result.map(|()| args)
    }

    fn parse_call(&mut self, name: Token) -> PResult<Expr> {
        let fname = self.text(&name);
        let name_pos = PosRange::new(name.start, name.end);
        let func = functions::lookup(fname);
        match func {
            None => self.error(
                name_pos,
                format!("unknown function with name {}", go_quote(fname)),
            ),
            Some(f) if f.experimental && !self.opts.experimental_functions => self.error(
                name_pos,
                format!("function {} is not enabled", go_quote(fname)),
            ),
            Some(_) => {}
        }
        let args = self.parse_call_body()?;
        let pos = PosRange::new(name.start, self.last_end);
        Ok(match func {
            Some(func) => Expr::Call(Call { func, args, pos }),
            None => placeholder(pos),
        })
    }

    fn parse_aggregate(&mut self, op_tok: Token) -> PResult<Expr> {
        let op = aggregate_op(op_tok.kind).ok_or(Stop)?;
        let (grouping, without, args) = self.with_catch(AGGREGATION, |p| {
            let mut grouping = Vec::new();
            let mut without = false;
            let mut modifier = false;
            if matches!(p.kind(), Kind::By | Kind::Without) {
                without = p.bump().kind == Kind::Without;
                grouping = p.parse_grouping_labels()?;
                modifier = true;
            }
            let args = p.parse_call_body()?;
            if !modifier && matches!(p.kind(), Kind::By | Kind::Without) {
                without = p.bump().kind == Kind::Without;
                grouping = p.parse_grouping_labels()?;
            }
            Ok((grouping, without, args))
        })?;
        let pos = PosRange::new(op_tok.start, self.last_end);
        if args.is_empty() {
            self.error(pos, "no arguments for aggregate expression provided");
            return Ok(placeholder(pos));
        }
        let mut args = args.into_iter();
        let mut param = None;
        let mut desired = 1;
        if op.has_param() {
            if op.is_experimental() && !self.opts.experimental_functions {
                self.error(
                    pos,
                    format!(
                        "{}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                        op.as_str()
                    ),
                );
                return Ok(placeholder(pos));
            }
            desired = 2;
            param = args.next().map(Box::new);
        }
        let rest: Vec<Expr> = args.collect();
        let got = rest.len() + usize::from(param.is_some());
        if got != desired {
            self.error(
                pos,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {got}"
                ),
            );
            return Ok(placeholder(pos));
        }
        let expr = rest.into_iter().next().ok_or(Stop)?;
        Ok(Expr::Aggregate(AggregateExpr {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
            pos,
        }))
    }
}
