//! PromQL syntax: lexer, parser, syntax tree, type checker and printer, as
//! Prometheus 3.x defines them (`promql/parser`).
//!
//! Owns the language: [`parse`]/[`parse_with`] turn a query into an
//! [`Expr`] or a [`ParseError`] with Prometheus's wording and position
//! (`1:5: parse error: unexpected …`); [`Options`] switches the features
//! Prometheus keeps behind flags (experimental functions, duration
//! expressions, `anchored`/`smoothed`, `fill` modifiers); the function
//! table is [`functions::FUNCTIONS`]; `Display` on [`Expr`] is Prometheus's
//! canonical `String()`, and [`pretty`] is `/api/v1/format_query`.
//!
//! Deliberate differences from Prometheus, each where Prometheus's own
//! output would not parse back or would change meaning:
//! - expressions nest at most [`MAX_DEPTH`] levels (Prometheus: unbounded);
//! - matcher values and quoted names holding invalid UTF-8 (`"\xff"`)
//!   become U+FFFD (string literals keep their bytes);
//! - the printer writes U+FFFD as `\ufffd`, rounds (not truncates) duration
//!   literals to the millisecond, parenthesizes an offset's unparenthesized
//!   duration arithmetic (`offset (5m) * 2`) and a negative literal base of
//!   `^` in durations (`[(-2) ^ 2]`);
//! - a `+` before a duration expression is dropped from the tree.
//!
//! Knows nothing of evaluation, storage, time or HTTP: duration
//! expressions such as `step()` are kept as trees for the engine to
//! evaluate. Pure and synchronous.

pub mod ast;
mod check;
pub mod duration;
mod error;
pub mod functions;
mod lexer;
mod number;
mod parser;
mod pretty;
mod printer;
mod quote;
pub mod value;

pub use ast::{Expr, PosRange};
pub use error::ParseError;
pub use functions::Function;
pub use parser::{MAX_DEPTH, Options, parse_with};
pub use pretty::{MAX_LINE_WIDTH, pretty};
pub use value::ValueType;

/// Parses and type-checks a query with Prometheus's default features (all
/// experimental ones off).
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    parse_with(input, Options::default())
}
