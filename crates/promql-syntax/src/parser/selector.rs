//! Vector selectors, label matchers and grouping label lists.

use model::matcher::{MatchOp, Matcher};

use super::{Catch, PResult, Parser, catch};
use crate::ast::{Expr, PosRange, VectorSelector};
use crate::lexer::Kind;
use crate::quote::{go_quote_bytes, unquote};

const MATCHING_NEXT: Catch = catch("label matching", "\",\" or \"}\"");
const MATCHING_START: Catch = catch("label matching", "identifier or \"}\"");
const MATCHING_OP: Catch = catch("label matching", "label matching operator");
const MATCHING_VALUE: Catch = catch("label matching", "string");
const GROUPING_OPEN: Catch = catch("grouping opts", "\"(\"");
const GROUPING_LABEL: Catch = catch("grouping opts", "label");
const GROUPING_NEXT: Catch = catch("grouping opts", "\",\" or \")\"");

/// Tokens that may be a label in a grouping list (`maybe_label`).
fn is_maybe_label(k: Kind) -> bool {
    use Kind::*;
    k.is_aggregator()
        || matches!(
            k,
            Bool | By
                | GroupLeft
                | GroupRight
                | Fill
                | FillLeft
                | FillRight
                | Identifier
                | Ignoring
                | And
                | Or
                | Unless
                | MetricIdentifier
                | Offset
                | On
                | Start
                | End
                | Atan2
                | Step
                | Range
                | Anchored
                | Smoothed
                | MaxOf
                | MinOf
        )
}

fn match_op(k: Kind) -> Option<MatchOp> {
    match k {
        Kind::Eql => Some(MatchOp::Equal),
        Kind::Neq => Some(MatchOp::NotEqual),
        Kind::EqlRegex => Some(MatchOp::RegexMatch),
        Kind::NeqRegex => Some(MatchOp::RegexNoMatch),
        _ => None,
    }
}

impl Parser<'_> {
    /// `name`, `name{…}` or `{…}`; the name token (if any) is consumed.
    pub(super) fn parse_vector_selector(
        &mut self,
        name: Option<crate::lexer::Token>,
    ) -> PResult<Expr> {
        let mut pos = match &name {
            Some(t) => PosRange::new(t.start, t.end),
            None => PosRange::new(self.peek().start, self.peek().end),
        };
        let mut matchers = Vec::new();
        if self.kind() == Kind::LeftBrace {
            let (m, braces) = self.parse_label_matchers()?;
            matchers = m;
            pos.end = braces.end;
        }
        let name = name.map(|t| self.text(&t).to_owned());
        if let Some(n) = &name {
            matchers.push(Matcher::equal("__name__", n.as_str()));
        }
        Ok(Expr::VectorSelector(VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            anchored: false,
            smoothed: false,
            bypass_empty_matcher_check: false,
            pos,
        }))
    }

    /// `{ matcher, … }` (a trailing comma allowed).
    fn parse_label_matchers(&mut self) -> PResult<(Vec<Matcher>, PosRange)> {
        let open = self.expect(Kind::LeftBrace)?;
        let mut matchers = Vec::new();
        if self.kind() == Kind::RightBrace {
            let close = self.bump();
            return Ok((matchers, PosRange::new(open.start, close.end)));
        }
        loop {
            if let Some(m) = self.parse_label_matcher()? {
                matchers.push(m);
            }
            match self.kind() {
                Kind::Comma => {
                    self.bump();
                    if self.kind() == Kind::RightBrace {
                        let close = self.bump();
                        return Ok((matchers, PosRange::new(open.start, close.end)));
                    }
                }
                Kind::RightBrace => {
                    let close = self.bump();
                    return Ok((matchers, PosRange::new(open.start, close.end)));
                }
                _ => return Err(self.unexpected_with(MATCHING_NEXT)),
            }
        }
    }

    /// `name op "value"`, `"name" op "value"` or `"metric name"`.
    fn parse_label_matcher(&mut self) -> PResult<Option<Matcher>> {
        let (name_tok, quoted) = match self.kind() {
            Kind::Identifier => (self.bump(), false),
            Kind::String => (self.bump(), true),
            _ => return Err(self.unexpected_with(MATCHING_START)),
        };
        let name = if quoted {
            String::from_utf8_lossy(&unquote(self.text(&name_tok))).into_owned()
        } else {
            self.text(&name_tok).to_owned()
        };
        let Some(op) = match_op(self.kind()) else {
            if quoted {
                return Ok(Some(Matcher::equal("__name__", name)));
            }
            return Err(self.unexpected_with(MATCHING_OP));
        };
        self.bump();
        if self.kind() != Kind::String {
            return Err(self.unexpected_with(MATCHING_VALUE));
        }
        let value_tok = self.bump();
        let value = String::from_utf8_lossy(&unquote(self.text(&value_tok))).into_owned();
        match Matcher::new(op, name, value) {
            Ok(m) => Ok(Some(m)),
            Err(e) => {
                self.error(PosRange::new(name_tok.start, value_tok.end), e.go_message());
                Ok(None)
            }
        }
    }

    /// `( label, … )` after `by`, `without`, `on`, `ignoring`, `group_x`.
    pub(super) fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        if self.kind() != Kind::LeftParen {
            return Err(self.unexpected_with(GROUPING_OPEN));
        }
        self.bump();
        let mut labels = Vec::new();
        if self.kind() == Kind::RightParen {
            self.bump();
            return Ok(labels);
        }
        loop {
            labels.push(self.parse_grouping_label()?);
            match self.kind() {
                Kind::Comma => {
                    self.bump();
                    if self.kind() == Kind::RightParen {
                        self.bump();
                        return Ok(labels);
                    }
                }
                Kind::RightParen => {
                    self.bump();
                    return Ok(labels);
                }
                _ => return Err(self.unexpected_with(GROUPING_NEXT)),
            }
        }
    }

    fn parse_grouping_label(&mut self) -> PResult<String> {
        let k = self.kind();
        if is_maybe_label(k) {
            let t = self.bump();
            return Ok(self.text(&t).to_owned());
        }
        if k != Kind::String {
            return Err(self.unexpected_with(GROUPING_LABEL));
        }
        let t = self.bump();
        let value = unquote(self.text(&t));
        match String::from_utf8(value) {
            Ok(s) if !s.is_empty() => Ok(s),
            Ok(s) => {
                self.error(
                    PosRange::new(t.start, t.end),
                    "invalid label name for grouping: \"\"",
                );
                Ok(s)
            }
            Err(e) => {
                let bytes = e.into_bytes();
                self.error(
                    PosRange::new(t.start, t.end),
                    format!(
                        "invalid label name for grouping: {}",
                        go_quote_bytes(&bytes)
                    ),
                );
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
        }
    }
}
