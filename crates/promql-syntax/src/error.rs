//! Parse errors with Prometheus's wording and positions.

use std::fmt;

use crate::ast::PosRange;

/// A query that does not parse or does not type-check.
///
/// Displays as Prometheus does: `<line>:<column>: parse error: <message>`,
/// the column counting bytes from 1 (`unknown position` for an empty query).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The byte range the error is about.
    pub pos: PosRange,
    /// Prometheus's message.
    pub message: String,
    /// Line and column of `pos.start` (1-based), `None` for an empty query.
    pub line_col: Option<(usize, usize)>,
}

impl ParseError {
    pub(crate) fn new(query: &str, pos: PosRange, message: String) -> ParseError {
        let line_col = if query.is_empty() {
            None
        } else {
            let start = pos.start.min(query.len());
            let before = query.as_bytes().get(..start).unwrap_or_default();
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let last_break = before.iter().rposition(|&b| b == b'\n');
            let col = match last_break {
                Some(i) => start - i,
                None => start + 1,
            };
            Some((line, col))
        };
        ParseError {
            pos,
            message,
            line_col,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col {
            Some((line, col)) => write!(f, "{line}:{col}: parse error: {}", self.message),
            None => write!(f, "unknown position: parse error: {}", self.message),
        }
    }
}
