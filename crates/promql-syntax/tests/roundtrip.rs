//! Property: generated well-typed syntax trees print to text that parses
//! back to the same tree (positions and matcher order aside), and printing
//! a parsed tree is a fixpoint.
//!
//! The generator builds trees in the shape the parser produces (literals
//! folded, parentheses where precedence needs them, vector matching only
//! between instant vectors) from a seeded random source, so a failure names
//! its seed and the printed query.
#![allow(clippy::unwrap_used)]

use model::matcher::{MatchOp, Matcher};
use promql_syntax::ast::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Cardinality, DurationArg,
    DurationExpr, DurationOp, Expr, MatrixSelector, NumberLiteral, ParenExpr, PosRange,
    StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp, VectorMatching, VectorSelector,
};
use promql_syntax::duration::Duration;
use promql_syntax::{Options, functions, parse_with};
use proptest::prelude::*;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

const P: PosRange = PosRange { start: 0, end: 0 };

fn num(value: f64) -> Expr {
    Expr::Number(NumberLiteral {
        value,
        duration: false,
        pos: P,
    })
}

fn paren(e: Expr) -> Expr {
    Expr::Paren(ParenExpr {
        expr: Box::new(e),
        pos: P,
    })
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(Call {
        func: functions::lookup(name).unwrap(),
        args,
        pos: P,
    })
}

const NAMES: &[&str] = &[
    "foo",
    "http_requests_total",
    "a:b",
    "by",
    "sum",
    "offset",
    "step",
    "anchored",
];
const LABELS: &[&str] = &["job", "instance", "le", "service.name", "ünï", "_x1"];
const VALUES: &[&str] = &[
    "",
    "api",
    "a\"b",
    "back\\slash",
    "new\nline",
    "tab\t",
    "é😀",
    "\u{7f}",
    "\u{200b}",
];
const REGEXES: &[&str] = &["a.*", "x|y", "[0-9]+", "(?i)foo", "\\d\\.\\d"];

impl Gen {
    fn labels(&mut self) -> Vec<String> {
        let n = self.below(3);
        let mut v: Vec<String> = Vec::new();
        for _ in 0..n {
            let l = self.pick(LABELS).to_string();
            if !v.contains(&l) {
                v.push(l);
            }
        }
        v
    }

    fn millis(&mut self) -> i64 {
        match self.below(3) {
            0 => 1 + self.below(1000) as i64,
            1 => 1000 * (1 + self.below(100_000) as i64),
            _ => 1 + self.below(1_000_000_000) as i64,
        }
    }

    fn dur_number(&mut self) -> DurationExpr {
        let (value, duration) = if self.chance(50) {
            (Duration::from_millis(self.millis()).as_secs_f64(), true)
        } else {
            (1.0 + self.below(100) as f64, false)
        };
        DurationExpr::Number(NumberLiteral {
            value,
            duration,
            pos: P,
        })
    }

    /// A duration expression in parsed shape; `top`: not a bare literal.
    fn dur(&mut self, depth: u32, top: bool) -> DurationExpr {
        let k = if depth == 0 {
            self.below(3)
        } else {
            self.below(7)
        };
        match k {
            0 if !top => self.dur_number(),
            0 | 1 => DurationExpr::Step {
                wrapped: false,
                pos: P,
            },
            2 => DurationExpr::Range {
                wrapped: false,
                pos: P,
            },
            3 => DurationExpr::MinMax {
                max: self.chance(50),
                lhs: Box::new(self.dur(depth - 1, false)),
                rhs: Box::new(self.dur(depth - 1, false)),
                wrapped: false,
                pos: P,
            },
            4 => {
                let mut inner = self.dur(depth - 1, true);
                if matches!(inner, DurationExpr::Binary { op, .. } if op != DurationOp::Pow) {
                    set_wrapped(&mut inner);
                }
                DurationExpr::Neg {
                    expr: Box::new(inner),
                    wrapped: false,
                    start: 0,
                }
            }
            _ => {
                let op = *self.pick(&[
                    DurationOp::Add,
                    DurationOp::Sub,
                    DurationOp::Mul,
                    DurationOp::Div,
                    DurationOp::Mod,
                    DurationOp::Pow,
                ]);
                let mut lhs = self.dur(depth - 1, false);
                let mut rhs = self.dur(depth - 1, false);
                let prec = dprec(op);
                let right_assoc = op == DurationOp::Pow;
                if let DurationExpr::Binary { op: l, .. } = lhs
                    && (dprec(l) < prec || (dprec(l) == prec && right_assoc))
                {
                    set_wrapped(&mut lhs);
                }
                if matches!(lhs, DurationExpr::Neg { .. }) && right_assoc {
                    set_wrapped(&mut lhs);
                }
                if let DurationExpr::Binary { op: r, .. } = rhs
                    && (dprec(r) < prec || (dprec(r) == prec && !right_assoc))
                {
                    set_wrapped(&mut rhs);
                }
                if matches!(op, DurationOp::Div | DurationOp::Mod)
                    && matches!(&rhs, DurationExpr::Number(n) if n.value == 0.0)
                {
                    rhs = self.dur_number();
                }
                DurationExpr::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    wrapped: false,
                }
            }
        }
    }

    fn range(&mut self, depth: u32) -> DurationArg {
        if self.chance(70) {
            DurationArg::Fixed(Duration::from_millis(self.millis()))
        } else {
            DurationArg::Expr(self.dur(depth, true))
        }
    }

    fn offset(&mut self) -> Option<DurationArg> {
        match self.below(6) {
            0 => Some(DurationArg::Fixed(Duration::from_millis(self.millis()))),
            1 => Some(DurationArg::Fixed(Duration::from_millis(-self.millis()))),
            2 => {
                let d = match self.below(3) {
                    0 => DurationExpr::Step {
                        wrapped: false,
                        pos: P,
                    },
                    1 => DurationExpr::Range {
                        wrapped: false,
                        pos: P,
                    },
                    _ => DurationExpr::MinMax {
                        max: true,
                        lhs: Box::new(self.dur(1, false)),
                        rhs: Box::new(self.dur(1, false)),
                        wrapped: false,
                        pos: P,
                    },
                };
                Some(DurationArg::Expr(if self.chance(50) {
                    DurationExpr::Neg {
                        expr: Box::new(d),
                        wrapped: false,
                        start: 0,
                    }
                } else {
                    d
                }))
            }
            _ => None,
        }
    }

    fn at(&mut self) -> Option<AtModifier> {
        match self.below(8) {
            0 => Some(AtModifier::Timestamp(
                self.below(2_000_000_000_000) as i64 - 1_000_000_000_000,
            )),
            1 => Some(AtModifier::Start),
            2 => Some(AtModifier::End),
            _ => None,
        }
    }

    fn selector(&mut self) -> VectorSelector {
        let name = if self.chance(70) {
            Some(self.pick(NAMES).to_string())
        } else {
            None
        };
        let mut matchers = Vec::new();
        for _ in 0..self.below(3) {
            let l = *self.pick(LABELS);
            let m = match self.below(4) {
                0 => Matcher::equal(l, *self.pick(VALUES)),
                1 => Matcher::not_equal(l, *self.pick(VALUES)),
                2 => Matcher::new(MatchOp::RegexMatch, l, *self.pick(REGEXES)).unwrap(),
                _ => Matcher::new(MatchOp::RegexNoMatch, l, *self.pick(REGEXES)).unwrap(),
            };
            matchers.push(m);
        }
        if name.is_none() && matchers.iter().all(Matcher::matches_empty) {
            matchers.push(Matcher::equal("job", "api"));
        }
        if let Some(n) = &name {
            matchers.push(Matcher::equal("__name__", n.as_str()));
        }
        VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            pos: P,
        }
    }

    fn modifiers(&mut self, vs: &mut VectorSelector) {
        vs.offset = self.offset();
        vs.at = self.at();
        match self.below(6) {
            0 => vs.anchored = true,
            1 => vs.smoothed = true,
            _ => {}
        }
    }

    /// A vector-typed expression usable as a postfix operand.
    fn vector_primary(&mut self, depth: u32) -> Expr {
        let e = self.vector(depth);
        match e {
            Expr::Binary(_) | Expr::Unary(_) => paren(e),
            e => e,
        }
    }

    fn matrix(&mut self, depth: u32) -> Expr {
        if depth == 0 || self.chance(60) {
            let mut vs = self.selector();
            self.modifiers(&mut vs);
            if matches!(vs.at, Some(AtModifier::Timestamp(_)))
                || vs.name.as_deref() == Some("offset")
            {
                // `x @ t [r]` is an error; the modifiers go after the range.
            }
            Expr::MatrixSelector(MatrixSelector {
                vector_selector: vs,
                range: self.range(1),
                end: 0,
            })
        } else {
            let inner = self.vector_primary(depth - 1);
            // Prometheus's lexer rejects the `:` of a subquery unless a
            // digit came first (`x[step():]` does not lex), so an
            // expression range carries a number.
            let range = match self.range(1) {
                DurationArg::Expr(d) => DurationArg::Expr(DurationExpr::Binary {
                    op: DurationOp::Add,
                    lhs: Box::new(self.dur_number()),
                    rhs: Box::new(match d {
                        d @ DurationExpr::Binary { .. } => {
                            let mut d = d;
                            set_wrapped(&mut d);
                            d
                        }
                        d => d,
                    }),
                    wrapped: false,
                }),
                fixed => fixed,
            };
            Expr::Subquery(SubqueryExpr {
                expr: Box::new(inner),
                range,
                step: if self.chance(50) {
                    Some(self.range(1))
                } else {
                    None
                },
                offset: self.offset(),
                at: self.at(),
                end: 0,
            })
        }
    }

    fn scalar(&mut self, depth: u32) -> Expr {
        let k = if depth == 0 {
            self.below(2)
        } else {
            self.below(5)
        };
        match k {
            0 => num(*self.pick(&[
                0.0,
                1.0,
                2.5,
                1e-7,
                1e21,
                123456789.0,
                f64::INFINITY,
                f64::NAN,
            ])),
            1 => call("time", vec![]),
            2 => call("scalar", vec![self.vector(depth - 1)]),
            3 => paren(self.scalar(depth - 1)),
            _ => {
                let op = *self.pick(&[
                    BinaryOp::Add,
                    BinaryOp::Mul,
                    BinaryOp::Pow,
                    BinaryOp::Gtr,
                    BinaryOp::Atan2,
                ]);
                let lhs = self.scalar(depth - 1);
                let rhs = self.scalar(depth - 1);
                binary(op, lhs, rhs, op.is_comparison(), None)
            }
        }
    }

    fn vector(&mut self, depth: u32) -> Expr {
        let k = if depth == 0 { 0 } else { self.below(9) };
        match k {
            0 => {
                let mut vs = self.selector();
                self.modifiers(&mut vs);
                Expr::VectorSelector(vs)
            }
            1 => {
                let f = *self.pick(&["rate", "max_over_time", "changes"]);
                call(f, vec![self.matrix(depth - 1)])
            }
            2 => {
                let v = self.vector(depth - 1);
                if self.chance(50) {
                    call("abs", vec![v])
                } else {
                    let s = self.scalar(depth - 1);
                    call("round", vec![v, s])
                }
            }
            3 => {
                let op = *self.pick(&[
                    AggregateOp::Sum,
                    AggregateOp::Topk,
                    AggregateOp::CountValues,
                    AggregateOp::Quantile,
                    AggregateOp::Limitk,
                    AggregateOp::Group,
                ]);
                let param = match op {
                    AggregateOp::CountValues => Some(Box::new(Expr::String(StringLiteral {
                        value: b"v\xc5".to_vec(),
                        pos: P,
                    }))),
                    op if op.has_param() => Some(Box::new(self.scalar(depth - 1))),
                    _ => None,
                };
                let without = self.chance(30);
                Expr::Aggregate(AggregateExpr {
                    op,
                    expr: Box::new(self.vector(depth - 1)),
                    param,
                    grouping: self.labels(),
                    without,
                    pos: P,
                })
            }
            4 => {
                let inner = self.vector(depth - 1);
                let inner = match inner {
                    Expr::Binary(_) => paren(inner),
                    e => e,
                };
                Expr::Unary(UnaryExpr {
                    op: if self.chance(50) {
                        UnaryOp::Minus
                    } else {
                        UnaryOp::Plus
                    },
                    expr: Box::new(inner),
                    start: 0,
                })
            }
            5 => paren(self.vector(depth - 1)),
            6 => {
                // vector op scalar, either side
                let op = *self.pick(&[
                    BinaryOp::Sub,
                    BinaryOp::Div,
                    BinaryOp::Lte,
                    BinaryOp::Pow,
                    BinaryOp::TrimUpper,
                ]);
                let v = self.vector(depth - 1);
                let s = self.scalar(depth - 1);
                let bool_ = op.is_comparison() && self.chance(50);
                if self.chance(50) {
                    binary(op, v, s, bool_, None)
                } else {
                    binary(op, s, v, bool_, None)
                }
            }
            _ => {
                let op = *self.pick(&[
                    BinaryOp::Add,
                    BinaryOp::Mul,
                    BinaryOp::Eql,
                    BinaryOp::And,
                    BinaryOp::Or,
                    BinaryOp::Unless,
                    BinaryOp::Mod,
                ]);
                let lhs = self.vector(depth - 1);
                let rhs = self.vector(depth - 1);
                let mut m = VectorMatching {
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
                if self.chance(50) {
                    m.on = self.chance(50);
                    m.matching_labels = self.labels();
                }
                if !op.is_set() {
                    if self.chance(30) {
                        m.card = if self.chance(50) {
                            Cardinality::ManyToOne
                        } else {
                            Cardinality::OneToMany
                        };
                        let inc = self.labels();
                        m.include = inc
                            .into_iter()
                            .filter(|l| !m.matching_labels.contains(l))
                            .collect();
                    }
                    match self.below(5) {
                        0 => {
                            m.fill_lhs = Some(1.5);
                            m.fill_rhs = Some(1.5);
                        }
                        1 => m.fill_lhs = Some(-2.0),
                        2 => {
                            m.fill_rhs = Some(1e6);
                            m.fill_lhs = Some(0.0);
                        }
                        _ => {}
                    }
                }
                let bool_ = op.is_comparison() && self.chance(50);
                binary(op, lhs, rhs, bool_, Some(m))
            }
        }
    }
}

fn dprec(op: DurationOp) -> u8 {
    match op {
        DurationOp::Add | DurationOp::Sub => 4,
        DurationOp::Mul | DurationOp::Div | DurationOp::Mod => 5,
        DurationOp::Pow => 6,
    }
}

fn set_wrapped(d: &mut DurationExpr) {
    match d {
        DurationExpr::Number(_) => {}
        DurationExpr::Step { wrapped, .. }
        | DurationExpr::Range { wrapped, .. }
        | DurationExpr::MinMax { wrapped, .. }
        | DurationExpr::Neg { wrapped, .. }
        | DurationExpr::Binary { wrapped, .. } => *wrapped = true,
    }
}

/// A binary expression with operands parenthesized where precedence
/// requires it.
fn binary(
    op: BinaryOp,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    matching: Option<VectorMatching>,
) -> Expr {
    let prec = op.precedence();
    let right_assoc = op == BinaryOp::Pow;
    let lhs = match &lhs {
        Expr::Binary(b)
            if b.op.precedence() < prec || (b.op.precedence() == prec && right_assoc) =>
        {
            paren(lhs)
        }
        Expr::Unary(_) if right_assoc => paren(lhs),
        // `-1 ^ 2` and `+Inf ^ 2` read as `-(1 ^ 2)` and `+(Inf ^ 2)`.
        Expr::Number(n) if right_assoc && (n.value.is_sign_negative() || n.value.is_infinite()) => {
            paren(lhs)
        }
        _ => lhs,
    };
    let rhs = match &rhs {
        Expr::Binary(b)
            if b.op.precedence() < prec || (b.op.precedence() == prec && !right_assoc) =>
        {
            paren(rhs)
        }
        _ => rhs,
    };
    Expr::Binary(BinaryExpr {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
        return_bool,
        matching,
    })
}

fn normalized(e: &Expr) -> String {
    let mut e = e.clone();
    e.normalize();
    format!("{e:?}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_parse_round_trip(seed in 1u64.., depth in 0u32..5) {
        let mut g = Gen(seed);
        let generated = g.vector(depth);
        let printed = generated.to_string();
        let opts = Options::all();
        let parsed = parse_with(&printed, opts)
            .unwrap_or_else(|e| panic!("seed {seed}: {printed}\n  does not parse: {e}"));
        prop_assert_eq!(normalized(&parsed), normalized(&generated), "seed {}: {}", seed, printed);
        let again = parsed.to_string();
        prop_assert_eq!(&again, &printed);
        let pretty = promql_syntax::pretty(&parsed);
        let from_pretty = parse_with(&pretty, opts)
            .unwrap_or_else(|e| panic!("seed {seed}: pretty form\n{pretty}\n  does not parse: {e}"));
        prop_assert_eq!(normalized(&from_pretty), normalized(&parsed), "pretty {}", pretty);
    }
}
