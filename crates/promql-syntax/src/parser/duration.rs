//! Ranges, subqueries, `offset`, `@`, `anchored`/`smoothed`, and duration
//! expressions (`[5m + step()]`, `offset -(1h * 2)`).

use super::{Catch, PResult, Parser, catch};
use crate::ast::{
    AtModifier, DurationArg, DurationExpr, DurationOp, Expr, MatrixSelector, NumberLiteral,
    PosRange, SubqueryExpr,
};
use crate::duration::{Duration, go_f64_to_i64};
use crate::lexer::{Kind, Token};

const RANGE_START: Catch = catch(
    "subquery or range selector",
    "number, duration, step(), or range()",
);
const RANGE_NEXT: Catch = catch("subquery or range", "\":\" or \"]\"");
const STEP_START: Catch = catch(
    "subquery selector",
    "number, duration, step(), range(), or \"]\"",
);
const STEP_NEXT: Catch = catch("subquery selector", "\"]\"");
const OFFSET: Catch = catch("offset", "number, duration, step(), or range()");
const AT: Catch = catch("@", "timestamp");
/// Go's `float64(math.MaxInt64)` (2^63).
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

fn duration_op(k: Kind) -> Option<DurationOp> {
    Some(match k {
        Kind::Add => DurationOp::Add,
        Kind::Sub => DurationOp::Sub,
        Kind::Mul => DurationOp::Mul,
        Kind::Div => DurationOp::Div,
        Kind::Mod => DurationOp::Mod,
        Kind::Pow => DurationOp::Pow,
        _ => return None,
    })
}

/// Whether seconds would overflow a Go `time.Duration`.
fn out_of_range(secs: f64) -> bool {
    // Go: `val > 1<<63/1e9 || val < -(1<<63)/1e9`.
    const LIMIT: f64 = 9_223_372_036.854_776;
    !(-LIMIT..=LIMIT).contains(&secs)
}

fn zero() -> DurationExpr {
    DurationExpr::Number(NumberLiteral {
        value: 0.0,
        duration: false,
        pos: PosRange::default(),
    })
}

fn to_arg(d: DurationExpr) -> DurationArg {
    match d {
        DurationExpr::Number(n) => DurationArg::Fixed(Duration::from_secs_f64(n.value)),
        other => DurationArg::Expr(other),
    }
}

impl Parser<'_> {
    /// `[range]` or `[range:step]` after `e`.
    pub(super) fn parse_range_or_subquery(&mut self, e: Expr) -> PResult<Expr> {
        let open = self.bump();
        let range = self.with_catch(RANGE_START, |p| p.parse_positive_duration())?;
        match self.kind() {
            Kind::RightBracket => {
                let close = self.bump();
                let Expr::VectorSelector(vs) = e else {
                    self.error(
                        PosRange::new(open.start, close.end),
                        "ranges only allowed for vector selectors",
                    );
                    return Ok(e);
                };
                if matches!(vs.offset, Some(DurationArg::Fixed(d)) if d.0 != 0) {
                    self.error(
                        PosRange::new(open.start, close.end),
                        "no offset modifiers allowed before range",
                    );
                } else if matches!(vs.at, Some(AtModifier::Timestamp(_))) {
                    self.error(
                        PosRange::new(open.start, close.end),
                        "no @ modifiers allowed before range",
                    );
                }
                Ok(Expr::MatrixSelector(MatrixSelector {
                    vector_selector: vs,
                    range: to_arg(range),
                    end: close.end,
                }))
            }
            Kind::Colon => {
                self.bump();
                let step = if self.kind() == Kind::RightBracket {
                    None
                } else {
                    Some(self.with_catch(STEP_START, |p| p.parse_positive_duration())?)
                };
                if self.kind() != Kind::RightBracket {
                    return Err(self.unexpected_with(STEP_NEXT));
                }
                let close = self.bump();
                Ok(Expr::Subquery(SubqueryExpr {
                    expr: Box::new(e),
                    range: to_arg(range),
                    step: step.map(to_arg),
                    offset: None,
                    at: None,
                    end: close.start + 1,
                }))
            }
            _ => Err(self.unexpected_with(RANGE_NEXT)),
        }
    }

    /// A duration expression whose literal value must be positive.
    fn parse_positive_duration(&mut self) -> PResult<DurationExpr> {
        let d = self.parse_duration_expr(1)?;
        if let DurationExpr::Number(n) = &d
            && n.value <= 0.0
        {
            self.error(n.pos, "duration must be greater than 0");
            return Ok(zero());
        }
        Ok(d)
    }

    fn experimental_duration(&mut self, pos: PosRange) {
        if !self.opts.duration_expressions {
            self.error(pos, "experimental duration expression is not enabled");
        }
    }

    /// Duration operators binding at least as strongly as `min_prec`.
    fn parse_duration_expr(&mut self, min_prec: u8) -> PResult<DurationExpr> {
        self.enter()?;
        let mut levels = 1;
        let result = (|| {
            let mut lhs = match self.kind() {
                Kind::Add | Kind::Sub => {
                    let op = self.bump();
                    let operand = self.parse_duration_expr(DurationOp::Pow.precedence())?;
                    self.apply_unary(&op, operand, false)
                }
                _ => self.parse_duration_atom()?,
            };
            while let Some(op) = duration_op(self.kind()) {
                let prec = op.precedence();
                if prec < min_prec {
                    break;
                }
                let op_tok = self.bump();
                let next = if op == DurationOp::Pow {
                    prec
                } else {
                    prec + 1
                };
                let rhs = self.parse_duration_expr(next)?;
                levels += 1;
                self.enter()?;
                self.experimental_duration(lhs.pos());
                let zero_rhs = matches!(&rhs, DurationExpr::Number(n) if n.value == 0.0);
                if zero_rhs && matches!(op, DurationOp::Div | DurationOp::Mod) {
                    let what = if op == DurationOp::Div {
                        "division by zero"
                    } else {
                        "modulo by zero"
                    };
                    self.error(PosRange::new(op_tok.start, op_tok.end), what);
                    lhs = zero();
                    continue;
                }
                lhs = DurationExpr::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    wrapped: false,
                };
            }
            Ok(lhs)
        })();
        self.leave(levels);
        result
    }

    /// A literal, `step()`, `range()`, `min_of(…)`, `max_of(…)` or `( … )`.
    fn parse_duration_atom(&mut self) -> PResult<DurationExpr> {
        match self.kind() {
            Kind::Number | Kind::Duration => Ok(self.parse_duration_literal()),
            Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                let d = self.parse_duration_function()?;
                self.experimental_duration(d.pos());
                Ok(d)
            }
            Kind::LeftParen => {
                self.bump();
                let mut inner = self.parse_duration_expr(1)?;
                self.expect(Kind::RightParen)?;
                self.experimental_duration(inner.pos());
                inner.set_wrapped();
                Ok(inner)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn parse_duration_literal(&mut self) -> DurationExpr {
        let n = self.parse_number_literal();
        if out_of_range(n.value) {
            self.error(n.pos, "duration out of range");
            return zero();
        }
        DurationExpr::Number(n)
    }

    /// `step()`, `range()`, `min_of(a, b)`, `max_of(a, b)` (the keyword is
    /// the next token).
    fn parse_duration_function(&mut self) -> PResult<DurationExpr> {
        let kw = self.bump();
        self.expect(Kind::LeftParen)?;
        let d = match kw.kind {
            Kind::Step | Kind::Range => {
                let close = self.expect(Kind::RightParen)?;
                let pos = PosRange::new(kw.start, close.end);
                if kw.kind == Kind::Step {
                    DurationExpr::Step {
                        wrapped: false,
                        pos,
                    }
                } else {
                    DurationExpr::Range {
                        wrapped: false,
                        pos,
                    }
                }
            }
            _ => {
                let lhs = self.parse_duration_expr(1)?;
                self.expect(Kind::Comma)?;
                let rhs = self.parse_duration_expr(1)?;
                let close = self.expect(Kind::RightParen)?;
                DurationExpr::MinMax {
                    max: kw.kind == Kind::MaxOf,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    wrapped: false,
                    pos: PosRange::new(kw.start, close.end),
                }
            }
        };
        Ok(d)
    }

    /// A sign before a duration expression: negates literals, wraps other
    /// expressions (a `+` is dropped).
    fn apply_unary(&mut self, op: &Token, mut e: DurationExpr, wrapped: bool) -> DurationExpr {
        let minus = op.kind == Kind::Sub;
        match e {
            DurationExpr::Number(mut n) => {
                if minus {
                    n.value = -n.value;
                }
                if out_of_range(n.value) {
                    self.error(PosRange::new(op.start, op.end), "duration out of range");
                    return zero();
                }
                n.pos.start = op.start;
                DurationExpr::Number(n)
            }
            _ => {
                if wrapped {
                    e.set_wrapped();
                }
                if minus {
                    DurationExpr::Neg {
                        expr: Box::new(e),
                        wrapped: false,
                        start: op.start,
                    }
                } else {
                    e
                }
            }
        }
    }

    /// The duration after `offset`: a signed literal, a signed `step()`,
    /// `range()`, `min_of`/`max_of`, a signed parenthesized expression, or a
    /// parenthesized expression that operators may continue. Unparenthesized
    /// operators belong to the enclosing expression: `x offset 5m - 1` is
    /// `(x offset 5m) - 1`.
    fn parse_offset_duration(&mut self) -> PResult<DurationExpr> {
        match self.kind() {
            Kind::Number | Kind::Duration => Ok(self.parse_duration_literal()),
            Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                let d = self.parse_duration_function()?;
                self.experimental_duration(d.pos());
                Ok(d)
            }
            Kind::LeftParen => self.parse_duration_expr(1),
            Kind::Add | Kind::Sub => {
                let op = self.bump();
                match self.kind() {
                    Kind::Number | Kind::Duration => {
                        let n = self.parse_number_literal();
                        Ok(self.apply_unary(&op, DurationExpr::Number(n), false))
                    }
                    Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                        let d = self.parse_duration_function()?;
                        let d = self.apply_unary(&op, d, false);
                        self.experimental_duration(d.pos());
                        Ok(d)
                    }
                    Kind::LeftParen => {
                        self.bump();
                        let inner = self.parse_duration_expr(1)?;
                        self.expect(Kind::RightParen)?;
                        Ok(self.apply_unary(&op, inner, true))
                    }
                    _ => Err(self.unexpected()),
                }
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `offset <duration>` after `e`.
    pub(super) fn parse_offset(&mut self, e: &mut Expr) -> PResult<()> {
        self.bump();
        let d = self.with_catch(OFFSET, |p| p.parse_offset_duration())?;
        let arg = to_arg(d);
        let pos = e.pos();
        let end = self.last_end;
        let (slot, end_slot) = match e {
            Expr::VectorSelector(vs) => (&mut vs.offset, &mut vs.pos.end),
            Expr::MatrixSelector(m) => (&mut m.vector_selector.offset, &mut m.end),
            Expr::Subquery(s) => (&mut s.offset, &mut s.end),
            _ => {
                self.error(
                    pos,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                );
                return Ok(());
            }
        };
        *end_slot = end;
        if slot.is_some() {
            self.error(pos, "offset may not be set multiple times");
        } else if arg != DurationArg::Fixed(Duration(0)) {
            *slot = Some(arg);
        }
        Ok(())
    }

    /// `@ <timestamp>`, `@ start()`, `@ end()` after `e`.
    pub(super) fn parse_at(&mut self, e: &mut Expr) -> PResult<()> {
        self.bump();
        let at = self.with_catch(AT, |p| -> PResult<AtModifier> {
            let negate = match p.kind() {
                Kind::Add | Kind::Sub => p.bump().kind == Kind::Sub,
                Kind::Start | Kind::End => {
                    let kw = p.bump();
                    p.expect(Kind::LeftParen)?;
                    p.expect(Kind::RightParen)?;
                    return Ok(if kw.kind == Kind::Start {
                        AtModifier::Start
                    } else {
                        AtModifier::End
                    });
                }
                _ => false,
            };
            if !matches!(p.kind(), Kind::Number | Kind::Duration) {
                return Err(p.unexpected());
            }
            let n = p.parse_number_literal();
            let ts = if negate { -n.value } else { n.value };
            if !ts.is_finite() || ts >= I64_LIMIT || ts <= -I64_LIMIT {
                let shown = if ts.is_nan() {
                    "NaN".to_owned()
                } else if ts.is_infinite() {
                    if ts > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
                } else {
                    format!("{ts:.6}")
                };
                p.error(
                    e.pos(),
                    format!("timestamp out of bounds for @ modifier: {shown}"),
                );
            }
            Ok(AtModifier::Timestamp(go_f64_to_i64((ts * 1000.0).round())))
        })?;
        let pos = e.pos();
        let end = self.last_end;
        let (slot, end_slot) = match e {
            Expr::VectorSelector(vs) => (&mut vs.at, &mut vs.pos.end),
            Expr::MatrixSelector(m) => (&mut m.vector_selector.at, &mut m.end),
            Expr::Subquery(s) => (&mut s.at, &mut s.end),
            _ => {
                self.error(
                    pos,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                );
                return Ok(());
            }
        };
        if slot.is_some() {
            self.error(pos, "@ <timestamp> may not be set multiple times");
            return Ok(());
        }
        *slot = Some(at);
        *end_slot = end;
        Ok(())
    }

    /// `anchored` (`smoothed == false`) or `smoothed` after `e`.
    pub(super) fn set_extended(&mut self, e: &mut Expr, smoothed: bool) {
        let name = if smoothed { "smoothed" } else { "anchored" };
        let pos = e.pos();
        if !self.opts.extended_range_selectors {
            self.error(
                pos,
                format!("{name} modifier is experimental and not enabled"),
            );
            return;
        }
        let vs = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(m) => &mut m.vector_selector,
            Expr::Subquery(_) => {
                self.error(
                    pos,
                    format!("{name} modifier is not supported for subqueries"),
                );
                return;
            }
            _ => {
                self.error(pos, format!("{name} modifier not implemented"));
                return;
            }
        };
        let conflict = if smoothed {
            vs.smoothed = true;
            vs.anchored
        } else {
            vs.anchored = true;
            vs.smoothed
        };
        if conflict {
            self.error(
                pos,
                "anchored and smoothed modifiers cannot be used together",
            );
        }
    }
}
