//! The syntax tree, shaped like Prometheus's `promql/parser` AST.
//!
//! Every node carries its byte range in the query ([`PosRange`]). Durations
//! are signed nanoseconds ([`Duration`]), like Go's `time.Duration`;
//! timestamps of `@` are milliseconds.

use model::matcher::Matcher;

use crate::duration::Duration;
use crate::functions::Function;
use crate::value::ValueType;

/// A byte range `[start, end)` in the query text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PosRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl PosRange {
    /// `[start, end)`.
    pub fn new(start: usize, end: usize) -> PosRange {
        PosRange { start, end }
    }
}

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `sum by (job) (x)`, `topk(3, x)`.
    Aggregate(AggregateExpr),
    /// `a + on(x) b`.
    Binary(BinaryExpr),
    /// `rate(x[5m])`.
    Call(Call),
    /// `x[5m]`.
    MatrixSelector(MatrixSelector),
    /// `1`, `2.5e3`, `5m` (a number written as a duration).
    Number(NumberLiteral),
    /// `(x)`.
    Paren(ParenExpr),
    /// `"text"`.
    String(StringLiteral),
    /// `x[5m:1m]`, `rate(x[1m])[1h:]`.
    Subquery(SubqueryExpr),
    /// `-x`.
    Unary(UnaryExpr),
    /// `x{job="a"}`.
    VectorSelector(VectorSelector),
}

/// An aggregation operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `count_values`
    CountValues,
    /// `quantile`
    Quantile,
    /// `limitk` (experimental)
    Limitk,
    /// `limit_ratio` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// The operator's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// Whether the operator takes a parameter before the vector.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }

    /// Whether the operator needs the experimental-functions feature.
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

/// `op [by|without (labels)] ([param,] expr)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated vector.
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `quantile`, `count_values`, ….
    pub param: Option<Box<Expr>>,
    /// The `by` or `without` labels.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// Position.
    pub pos: PosRange,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `<`
    Lss,
    /// `<=`
    Lte,
    /// `>`
    Gtr,
    /// `>=`
    Gte,
    /// `</` (trim upper: histogram observations above a threshold removed)
    TrimUpper,
    /// `>/` (trim lower)
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Lss => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gtr => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    /// Binding strength: `or` 1, `and`/`unless` 2, comparisons 3, `+ -` 4,
    /// `* / % atan2` 5, `^` 6 (the only right-associative one).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Lss
            | BinaryOp::Lte
            | BinaryOp::Gtr
            | BinaryOp::Gte
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// `== != < <= > >=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql
                | BinaryOp::Neq
                | BinaryOp::Lss
                | BinaryOp::Lte
                | BinaryOp::Gtr
                | BinaryOp::Gte
        )
    }

    /// `and or unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

/// How series on both sides of a binary operator are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// One-to-one (the default for arithmetic and comparisons).
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// Vector matching of a binary expression between two instant vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    /// The cardinality.
    pub card: Cardinality,
    /// The `on`/`ignoring` labels.
    pub matching_labels: Vec<String>,
    /// `on` rather than `ignoring`.
    pub on: bool,
    /// The `group_left`/`group_right` labels.
    pub include: Vec<String>,
    /// `fill(v)`/`fill_left(v)`: the value for missing left-hand series.
    pub fill_lhs: Option<f64>,
    /// `fill(v)`/`fill_right(v)`: the value for missing right-hand series.
    pub fill_rhs: Option<f64>,
}

/// `lhs op [bool] [matching] rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// The `bool` modifier.
    pub return_bool: bool,
    /// Set exactly when both operands are instant vectors (after type
    /// checking; the parser sets it always, like Prometheus).
    pub matching: Option<VectorMatching>,
}

/// A function call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The function.
    pub func: &'static Function,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Position.
    pub pos: PosRange,
}

/// A number literal. Written as a duration (`5m`) it is a number of seconds
/// that prints back as a duration.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberLiteral {
    /// The value (seconds for durations).
    pub value: f64,
    /// Written as a duration.
    pub duration: bool,
    /// Position.
    pub pos: PosRange,
}

/// A string literal. Its value is bytes: `"\xff"` is a valid PromQL string
/// that is not UTF-8.
#[derive(Clone, Debug, PartialEq)]
pub struct StringLiteral {
    /// The unquoted value.
    pub value: Vec<u8>,
    /// Position.
    pub pos: PosRange,
}

impl StringLiteral {
    /// The value if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }

    /// The value, invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// `(expr)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// Position (parentheses included).
    pub pos: PosRange,
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `+`
    Plus,
    /// `-`
    Minus,
}

/// `-expr`, `+expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Box<Expr>,
    /// Position of the operator.
    pub start: usize,
}

/// The `@` modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtModifier {
    /// `@ <seconds>`, kept in milliseconds.
    Timestamp(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// A range, step or offset: a fixed duration or a duration expression
/// evaluated per query (`step()`, `range()`, `5m + 1s`).
#[derive(Clone, Debug, PartialEq)]
pub enum DurationArg {
    /// A fixed duration.
    Fixed(Duration),
    /// A duration expression.
    Expr(DurationExpr),
}

/// An operator of a duration expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DurationOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

impl DurationOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            DurationOp::Add => "+",
            DurationOp::Sub => "-",
            DurationOp::Mul => "*",
            DurationOp::Div => "/",
            DurationOp::Mod => "%",
            DurationOp::Pow => "^",
        }
    }

    pub(crate) fn precedence(self) -> u8 {
        match self {
            DurationOp::Add | DurationOp::Sub => 4,
            DurationOp::Mul | DurationOp::Div | DurationOp::Mod => 5,
            DurationOp::Pow => 6,
        }
    }
}

/// A duration expression (experimental in Prometheus), in seconds.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationExpr {
    /// A number or duration literal.
    Number(NumberLiteral),
    /// `step()`: the query step.
    Step {
        /// Written in parentheses.
        wrapped: bool,
        /// Position.
        pos: PosRange,
    },
    /// `range()`: the query range.
    Range {
        /// Written in parentheses.
        wrapped: bool,
        /// Position.
        pos: PosRange,
    },
    /// `min_of(a, b)` or `max_of(a, b)`.
    MinMax {
        /// `max_of` rather than `min_of`.
        max: bool,
        /// First argument.
        lhs: Box<DurationExpr>,
        /// Second argument.
        rhs: Box<DurationExpr>,
        /// Written in parentheses.
        wrapped: bool,
        /// Position.
        pos: PosRange,
    },
    /// `-expr` (a `+` is dropped when parsing).
    Neg {
        /// The operand.
        expr: Box<DurationExpr>,
        /// Written in parentheses.
        wrapped: bool,
        /// Position of the `-`.
        start: usize,
    },
    /// `a op b`.
    Binary {
        /// The operator.
        op: DurationOp,
        /// Left operand.
        lhs: Box<DurationExpr>,
        /// Right operand.
        rhs: Box<DurationExpr>,
        /// Written in parentheses.
        wrapped: bool,
    },
}

impl DurationExpr {
    /// The byte range.
    pub fn pos(&self) -> PosRange {
        match self {
            DurationExpr::Number(n) => n.pos,
            DurationExpr::Step { pos, .. }
            | DurationExpr::Range { pos, .. }
            | DurationExpr::MinMax { pos, .. } => *pos,
            DurationExpr::Neg { expr, start, .. } => PosRange::new(*start, expr.pos().end),
            DurationExpr::Binary { lhs, rhs, .. } => PosRange::new(lhs.pos().start, rhs.pos().end),
        }
    }

    pub(crate) fn set_wrapped(&mut self) {
        match self {
            DurationExpr::Number(_) => {}
            DurationExpr::Step { wrapped, .. }
            | DurationExpr::Range { wrapped, .. }
            | DurationExpr::MinMax { wrapped, .. }
            | DurationExpr::Neg { wrapped, .. }
            | DurationExpr::Binary { wrapped, .. } => *wrapped = true,
        }
    }
}

/// `name{matchers}` with its modifiers.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name written before the braces (its `__name__` matcher is
    /// the last of `matchers`).
    pub name: Option<String>,
    /// All matchers, in the order written, then the name matcher.
    pub matchers: Vec<Matcher>,
    /// `offset`, as written (`None` for none or zero).
    pub offset: Option<DurationArg>,
    /// `@`.
    pub at: Option<AtModifier>,
    /// `anchored` (experimental extended range selectors).
    pub anchored: bool,
    /// `smoothed` (experimental extended range selectors).
    pub smoothed: bool,
    /// Set for the second argument of `info()`, which may match everything.
    pub bypass_empty_matcher_check: bool,
    /// Position, modifiers included.
    pub pos: PosRange,
}

/// `selector[range]`; modifiers live on the vector selector.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSelector {
    /// The selector.
    pub vector_selector: VectorSelector,
    /// The range.
    pub range: DurationArg,
    /// End of the expression, modifiers included.
    pub end: usize,
}

/// `expr[range:step]` with its modifiers.
#[derive(Clone, Debug, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// The range.
    pub range: DurationArg,
    /// The step, `None` for the default.
    pub step: Option<DurationArg>,
    /// `offset` (`None` for none or zero).
    pub offset: Option<DurationArg>,
    /// `@`.
    pub at: Option<AtModifier>,
    /// End of the expression, modifiers included.
    pub end: usize,
}

impl Expr {
    /// The byte range of the expression.
    pub fn pos(&self) -> PosRange {
        match self {
            Expr::Aggregate(e) => e.pos,
            Expr::Binary(e) => PosRange::new(e.lhs.pos().start, e.rhs.pos().end),
            Expr::Call(e) => e.pos,
            Expr::MatrixSelector(e) => PosRange::new(e.vector_selector.pos.start, e.end),
            Expr::Number(e) => e.pos,
            Expr::Paren(e) => e.pos,
            Expr::String(e) => e.pos,
            Expr::Subquery(e) => PosRange::new(e.expr.pos().start, e.end),
            Expr::Unary(e) => PosRange::new(e.start, e.expr.pos().end),
            Expr::VectorSelector(e) => e.pos,
        }
    }

    /// The static type of the expression's value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Aggregate(_) | Expr::VectorSelector(_) => ValueType::Vector,
            Expr::Binary(e) => {
                if e.lhs.value_type() == ValueType::Scalar
                    && e.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(e) => e.func.return_type,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Number(_) => ValueType::Scalar,
            Expr::Paren(e) => e.expr.value_type(),
            Expr::String(_) => ValueType::String,
            Expr::Unary(e) => e.expr.value_type(),
        }
    }

    /// The direct children, in Prometheus's order (aggregations: the
    /// vector, then the parameter).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Aggregate(e) => {
                let mut v = vec![&*e.expr];
                if let Some(p) = &e.param {
                    v.push(p);
                }
                v
            }
            Expr::Binary(e) => vec![&*e.lhs, &*e.rhs],
            Expr::Call(e) => e.args.iter().collect(),
            Expr::Paren(e) => vec![&*e.expr],
            Expr::Subquery(e) => vec![&*e.expr],
            Expr::Unary(e) => vec![&*e.expr],
            Expr::MatrixSelector(_)
            | Expr::Number(_)
            | Expr::String(_)
            | Expr::VectorSelector(_) => Vec::new(),
        }
    }

    /// Sets every position to zero and sorts each selector's matchers as
    /// the printer does, so that trees which print the same compare equal.
    pub fn normalize(&mut self) {
        match self {
            Expr::Aggregate(e) => {
                e.pos = PosRange::default();
                e.expr.normalize();
                if let Some(p) = &mut e.param {
                    p.normalize();
                }
            }
            Expr::Binary(e) => {
                e.lhs.normalize();
                e.rhs.normalize();
            }
            Expr::Call(e) => {
                e.pos = PosRange::default();
                e.args.iter_mut().for_each(Expr::normalize);
            }
            Expr::MatrixSelector(e) => {
                e.end = 0;
                e.vector_selector.normalize();
                e.range.normalize();
            }
            Expr::Number(e) => e.pos = PosRange::default(),
            Expr::Paren(e) => {
                e.pos = PosRange::default();
                e.expr.normalize();
            }
            Expr::String(e) => e.pos = PosRange::default(),
            Expr::Subquery(e) => {
                e.end = 0;
                e.expr.normalize();
                e.range.normalize();
                if let Some(s) = &mut e.step {
                    s.normalize();
                }
                if let Some(o) = &mut e.offset {
                    o.normalize();
                }
            }
            Expr::Unary(e) => {
                e.start = 0;
                e.expr.normalize();
            }
            Expr::VectorSelector(e) => e.normalize(),
        }
    }
}

impl VectorSelector {
    fn normalize(&mut self) {
        self.pos = PosRange::default();
        self.matchers.sort_by_cached_key(|m| m.to_string());
        if let Some(o) = &mut self.offset {
            o.normalize();
        }
    }
}

impl DurationArg {
    fn normalize(&mut self) {
        if let DurationArg::Expr(e) = self {
            e.normalize();
        }
    }
}

impl DurationExpr {
    fn normalize(&mut self) {
        match self {
            DurationExpr::Number(n) => n.pos = PosRange::default(),
            DurationExpr::Step { pos, .. } | DurationExpr::Range { pos, .. } => {
                *pos = PosRange::default()
            }
            DurationExpr::MinMax { lhs, rhs, pos, .. } => {
                *pos = PosRange::default();
                lhs.normalize();
                rhs.normalize();
            }
            DurationExpr::Neg { expr, start, .. } => {
                *start = 0;
                expr.normalize();
            }
            DurationExpr::Binary { lhs, rhs, .. } => {
                lhs.normalize();
                rhs.normalize();
            }
        }
    }
}
