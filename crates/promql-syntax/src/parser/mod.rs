//! The recursive-descent parser.
//!
//! Prometheus parses with a yacc (LALR) grammar and reports a syntax error
//! as `unexpected <token> [in <context>][, expected <what>]`, where the
//! context comes from the innermost grammar rule with an `error`
//! alternative that is open at that point. This parser keeps those rules as
//! a stack of *catches* ([`Catch`]) so that messages match. As in
//! Prometheus, semantic errors found while parsing (an unknown function, a
//! second offset) are collected and parsing goes on; the first syntax or
//! lexer error ends it; only the first error is reported; type checking
//! (`check.rs`) runs only on a query that parsed cleanly.

mod duration;
mod expr;
mod selector;

use crate::ast::{Expr, PosRange};
use crate::error::ParseError;
use crate::lexer::{Kind, Lexer, Token};

/// Parser features that Prometheus keeps behind flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--enable-feature=promql-experimental-functions`: experimental
    /// functions (`info`, `sort_by_label`, …) and `limitk`/`limit_ratio`.
    pub experimental_functions: bool,
    /// `--enable-feature=promql-duration-expr`: `[5m+1s]`, `step()`, ….
    pub duration_expressions: bool,
    /// `--enable-feature=promql-extended-range-selectors`: `anchored`,
    /// `smoothed`.
    pub extended_range_selectors: bool,
    /// `--enable-feature=promql-binop-fill-modifiers`: `fill(v)`,
    /// `fill_left(v)`, `fill_right(v)`.
    pub binop_fill_modifiers: bool,
}

impl Options {
    /// Every feature on, as the conformance suite runs.
    pub fn all() -> Options {
        Options {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
        }
    }
}

/// How deep expressions may nest (parentheses, operands, arguments): deeper
/// queries are rejected so that parsing, printing and dropping the tree
/// cannot exhaust the stack. Prometheus has no such limit.
pub const MAX_DEPTH: usize = 100;

/// A syntax or lexer error has been recorded; parsing stops.
#[derive(Debug)]
pub(crate) struct Stop;

pub(crate) type PResult<T> = Result<T, Stop>;

/// An error alternative of Prometheus's grammar: the context and the
/// expectation of its `unexpected …` message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Catch {
    context: &'static str,
    expected: &'static str,
}

pub(crate) const fn catch(context: &'static str, expected: &'static str) -> Catch {
    Catch { context, expected }
}

pub(crate) struct Parser<'a> {
    pub(crate) input: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    /// End of the last consumed token (Prometheus's `lastClosing`, roughly).
    pub(crate) last_end: usize,
    pub(crate) errors: Vec<ParseError>,
    catches: Vec<Catch>,
    pub(crate) opts: Options,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str, opts: Options) -> Parser<'a> {
        Parser {
            input,
            lexer: Lexer::new(input),
            peeked: None,
            last_end: 0,
            errors: Vec::new(),
            catches: Vec::new(),
            opts,
            depth: 0,
        }
    }

    /// The next token, lexed on demand. A lexer error is recorded when it
    /// is first seen, as Prometheus does.
    pub(crate) fn peek(&mut self) -> &Token {
        if self.peeked.is_none() {
            let t = loop {
                let t = self.lexer.next_token();
                if t.kind != Kind::Comment {
                    break t;
                }
            };
            if let Some(msg) = &t.error {
                self.errors.push(ParseError::new(
                    self.input,
                    PosRange::new(t.start, self.input.len()),
                    msg.clone(),
                ));
            }
            self.peeked = Some(t);
        }
        // Just filled.
        self.peeked.get_or_insert(Token {
            kind: Kind::Eof,
            start: 0,
            end: 0,
            error: None,
        })
    }

    pub(crate) fn kind(&mut self) -> Kind {
        self.peek().kind
    }

    /// Consumes the next token.
    pub(crate) fn bump(&mut self) -> Token {
        self.peek();
        let t = self.peeked.take().unwrap_or(Token {
            kind: Kind::Eof,
            start: self.input.len(),
            end: self.input.len(),
            error: None,
        });
        if t.kind != Kind::Error && t.kind != Kind::Eof {
            self.last_end = t.end;
        }
        t
    }

    /// Consumes a token of `kind` or fails with the current catch.
    pub(crate) fn expect(&mut self, kind: Kind) -> PResult<Token> {
        if self.kind() == kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected())
        }
    }

    pub(crate) fn text(&self, t: &Token) -> &'a str {
        t.text(self.input)
    }

    /// Records a semantic error; parsing goes on.
    pub(crate) fn error(&mut self, pos: PosRange, message: impl Into<String>) {
        self.errors
            .push(ParseError::new(self.input, pos, message.into()));
    }

    /// Records `unexpected <next token>` with the innermost catch (nothing
    /// if the token is a lexer error, already recorded) and stops.
    pub(crate) fn unexpected(&mut self) -> Stop {
        let c = self.catches.last().copied().unwrap_or(catch("", ""));
        self.unexpected_with(c)
    }

    pub(crate) fn unexpected_with(&mut self, c: Catch) -> Stop {
        let t = self.peek().clone();
        if t.kind == Kind::Error {
            return Stop;
        }
        let mut msg = format!("unexpected {}", t.describe(self.input));
        if !c.context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(c.context);
        }
        if !c.expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(c.expected);
        }
        self.error(PosRange::new(t.start, t.end), msg);
        Stop
    }

    /// Runs `f` with `c` as the innermost catch.
    pub(crate) fn with_catch<T>(&mut self, c: Catch, f: impl FnOnce(&mut Self) -> T) -> T {
        self.catches.push(c);
        let r = f(self);
        self.catches.pop();
        r
    }

    /// One level deeper; fails past [`MAX_DEPTH`].
    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let t = self.peek().clone();
            self.error(
                PosRange::new(t.start, t.end),
                format!("expression nests too deeply (more than {MAX_DEPTH} levels)"),
            );
            return Err(Stop);
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self, levels: usize) {
        self.depth = self.depth.saturating_sub(levels);
    }

    /// `start: START_EXPRESSION expr EOF`.
    fn parse_start(&mut self) -> PResult<Expr> {
        if matches!(self.kind(), Kind::Eof) {
            self.error(PosRange::default(), "no expression found in input");
            return Err(Stop);
        }
        let e = self.parse_expr()?;
        match self.kind() {
            Kind::Eof | Kind::Error => Ok(e),
            _ => Err(self.unexpected()),
        }
    }
}

/// Parses and type-checks a query.
pub fn parse_with(input: &str, opts: Options) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input, opts);
    let result = p.parse_start();
    if let Some(e) = p.errors.into_iter().next() {
        return Err(e);
    }
    let mut expr = result.map_err(|Stop| {
        ParseError::new(input, PosRange::default(), "unexpected error".to_owned())
    })?;
    let mut errors = Vec::new();
    crate::check::check(&mut expr, input, &mut errors);
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(expr),
    }
}

#[cfg(test)]
mod tests;
