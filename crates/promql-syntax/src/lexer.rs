//! The PromQL lexer.
//!
//! A state machine with Prometheus's modes: statements, inside braces (label
//! matchers) and right after `[` (duration expressions). Lexing is lazy: the
//! parser pulls one token at a time, so a lexer error surfaces exactly when
//! the parser asks for the token, as in Prometheus, and its wording and
//! position are Prometheus's (`unclosed left parenthesis`, `unexpected
//! character inside braces: '!'`, …).

use crate::quote::go_quote_char;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Eof,
    /// A lexer error; the message is in [`Token::error`].
    Error,
    Comment,
    Comma,
    Colon,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    /// `=` (label matching).
    Eql,
    Number,
    Duration,
    String,
    Identifier,
    MetricIdentifier,
    // Operators.
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    At,
    And,
    Or,
    Unless,
    Atan2,
    // Aggregators.
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
    // Keywords.
    Offset,
    Smoothed,
    Anchored,
    By,
    Without,
    On,
    Ignoring,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Bool,
    // Preprocessors.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl Kind {
    pub(crate) fn is_operator(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Add | Sub
                | Mul
                | Div
                | Mod
                | Pow
                | Eqlc
                | Neq
                | Lss
                | Lte
                | Gtr
                | Gte
                | TrimUpper
                | TrimLower
                | EqlRegex
                | NeqRegex
                | At
                | And
                | Or
                | Unless
                | Atan2
        )
    }

    pub(crate) fn is_aggregator(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Sum | Avg
                | Count
                | Min
                | Max
                | Group
                | Stddev
                | Stdvar
                | Topk
                | Bottomk
                | CountValues
                | Quantile
                | Limitk
                | LimitRatio
        )
    }

    pub(crate) fn is_keyword(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Offset
                | Smoothed
                | Anchored
                | By
                | Without
                | On
                | Ignoring
                | GroupLeft
                | GroupRight
                | Fill
                | FillLeft
                | FillRight
                | Bool
        )
    }

    /// Whether Prometheus's `ItemTypeStr` has a string for the kind (then
    /// error messages show the token itself, not `<kind> "<text>"`).
    fn has_type_str(self) -> bool {
        use Kind::*;
        !matches!(
            self,
            Eof | Error | Comment | Number | Duration | String | Identifier | MetricIdentifier
        )
    }

    /// The kind's name in `unexpected <kind> "<text>"`.
    fn desc(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Eof => "end of input",
            Kind::Comment => "comment",
            Kind::Identifier => "identifier",
            Kind::MetricIdentifier => "metric identifier",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Duration => "duration",
            _ => "",
        }
    }
}

/// The keyword for a word (case-insensitive), as Prometheus's `key` map.
fn keyword(word: &str) -> Option<Kind> {
    use Kind::*;
    let lower = word.to_ascii_lowercase();
    Some(match lower.as_str() {
        "and" => And,
        "or" => Or,
        "unless" => Unless,
        "atan2" => Atan2,
        "sum" => Sum,
        "avg" => Avg,
        "count" => Count,
        "min" => Min,
        "max" => Max,
        "group" => Group,
        "stddev" => Stddev,
        "stdvar" => Stdvar,
        "topk" => Topk,
        "bottomk" => Bottomk,
        "count_values" => CountValues,
        "quantile" => Quantile,
        "limitk" => Limitk,
        "limit_ratio" => LimitRatio,
        "offset" => Offset,
        "smoothed" => Smoothed,
        "anchored" => Anchored,
        "by" => By,
        "without" => Without,
        "on" => On,
        "ignoring" => Ignoring,
        "group_left" => GroupLeft,
        "group_right" => GroupRight,
        "fill" => Fill,
        "fill_left" => FillLeft,
        "fill_right" => FillRight,
        "bool" => Bool,
        "start" => Start,
        "end" => End,
        "step" => Step,
        "range" => Range,
        "max_of" => MaxOf,
        "min_of" => MinOf,
        "inf" | "nan" => Number,
        _ => return None,
    })
}

/// The keywords allowed right after `[` (`step()`, `range()`, …).
fn duration_keyword(word: &str) -> Option<Kind> {
    match word.to_ascii_lowercase().as_str() {
        "step" => Some(Kind::Step),
        "range" => Some(Kind::Range),
        "max_of" => Some(Kind::MaxOf),
        "min_of" => Some(Kind::MinOf),
        _ => None,
    }
}

fn is_duration_keyword_start(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm')
}

/// One token: its kind and byte range in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The message of an [`Kind::Error`] token.
    pub(crate) error: Option<String>,
}

impl Token {
    /// The token's text.
    pub(crate) fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.start..self.end).unwrap_or("")
    }

    /// How Prometheus names the token in `unexpected …` messages
    /// (`Item.desc`).
    pub(crate) fn describe(&self, input: &str) -> String {
        let text = self.text(input);
        if self.kind.has_type_str() {
            return item_string(self.kind, text);
        }
        if self.kind == Kind::Eof {
            return "end of input".to_owned();
        }
        format!("{} {}", self.kind.desc(), item_string(self.kind, text))
    }
}

/// Prometheus's `Item.String`.
fn item_string(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Eof => "EOF".to_owned(),
        Kind::Identifier | Kind::MetricIdentifier => crate::quote::go_quote(text),
        k if k.is_keyword() => format!("<{text}>"),
        k if k.is_operator() => format!("<op:{text}>"),
        k if k.is_aggregator() => format!("<aggr:{text}>"),
        _ if text.chars().count() > 10 => {
            let cut: String = text.chars().take(10).collect();
            format!("{}...", crate::quote::go_quote(&cut))
        }
        _ => crate::quote::go_quote(text),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Statements,
    DurationExpr,
    Done,
}

/// The lexer; see the module docs.
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
    state: State,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || is_digit(c)
}

const DIGITS: &str = "0123456789";
const HEX_DIGITS: &str = "0123456789abcdefABCDEF";

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            width: 0,
            state: State::Statements,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            got_duration: false,
        }
    }

    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        self.width = 0;
    }

    fn accept(&mut self, valid: &str) -> bool {
        if self.next().is_some_and(|c| valid.contains(c)) {
            return true;
        }
        self.backup();
        false
    }

    fn is(&self, valid: &str) -> bool {
        self.peek().is_some_and(|c| valid.contains(c))
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn emit(&mut self, kind: Kind) -> Token {
        let t = Token {
            kind,
            start: self.start,
            end: self.pos,
            error: None,
        };
        self.start = self.pos;
        t
    }

    /// An error token at the current item start; lexing stops.
    fn error(&mut self, msg: String) -> Token {
        self.state = State::Done;
        Token {
            kind: Kind::Error,
            start: self.start,
            end: self.input.len(),
            error: Some(msg),
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.next();
        }
        self.start = self.pos;
    }

    /// The next token (comments included; the parser skips them).
    pub(crate) fn next_token(&mut self) -> Token {
        loop {
            let t = match self.state {
                State::Done => {
                    self.start = self.pos;
                    Some(self.emit(Kind::Eof))
                }
                State::Statements if self.brace_open => self.lex_inside_braces(),
                State::Statements => self.lex_statements(),
                State::DurationExpr => self.lex_duration_expr(),
            };
            if let Some(t) = t {
                return t;
            }
        }
    }

    fn lex_comment(&mut self) -> Token {
        self.pos += 1;
        loop {
            let c = self.next();
            if matches!(c, Some('\r' | '\n') | None) {
                break;
            }
        }
        self.backup();
        self.emit(Kind::Comment)
    }

    fn lex_statements(&mut self) -> Option<Token> {
        if self.input[self.pos..].starts_with('#') {
            return Some(self.lex_comment());
        }
        let Some(c) = self.next() else {
            if self.paren_depth != 0 {
                return Some(self.error("unclosed left parenthesis".into()));
            }
            if self.bracket_open {
                return Some(self.error("unclosed left bracket".into()));
            }
            self.state = State::Done;
            return Some(self.emit(Kind::Eof));
        };
        let t = match c {
            ',' => self.emit(Kind::Comma),
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            '*' => self.emit(Kind::Mul),
            '/' => self.emit(Kind::Div),
            '%' => self.emit(Kind::Mod),
            '+' => self.emit(Kind::Add),
            '-' => self.emit(Kind::Sub),
            '^' => self.emit(Kind::Pow),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Kind::Eqlc)
                }
                Some('~') => {
                    return Some(self.error("unexpected character after '=': '~'".into()));
                }
                _ => self.emit(Kind::Eql),
            },
            '!' => {
                let n = self.next();
                if n != Some('=') {
                    let q = go_quote_char(n.unwrap_or('\u{FFFD}'));
                    return Some(self.error(format!("unexpected character after '!': {q}")));
                }
                self.emit(Kind::Neq)
            }
            '<' | '>' => {
                let (eq, trim, plain) = if c == '<' {
                    (Kind::Lte, Kind::TrimUpper, Kind::Lss)
                } else {
                    (Kind::Gte, Kind::TrimLower, Kind::Gtr)
                };
                match self.peek() {
                    Some('=') => {
                        self.next();
                        self.emit(eq)
                    }
                    Some('/') => {
                        self.next();
                        self.emit(trim)
                    }
                    _ => self.emit(plain),
                }
            }
            c if is_digit(c) || (c == '.' && self.peek().is_some_and(is_digit)) => {
                self.backup();
                return Some(self.lex_number_or_duration());
            }
            '"' | '\'' => return Some(self.lex_string(c)),
            '`' => return Some(self.lex_raw_string()),
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup();
                    return Some(self.lex_keyword_or_identifier());
                }
                if c == ':' {
                    if self.got_colon {
                        return Some(self.error("unexpected colon ':'".into()));
                    }
                    self.got_colon = true;
                    self.emit(Kind::Colon)
                } else {
                    if is_duration_keyword_start(c)
                        && let Some(t) = self.scan_duration_keyword()
                    {
                        return Some(t);
                    }
                    let q = go_quote_char(c);
                    return Some(self.error(format!("unexpected character: {q}, expected ':'")));
                }
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(Kind::LeftParen)
            }
            ')' => {
                let t = self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return Some(self.error("unexpected right parenthesis ')'".into()));
                }
                t
            }
            '{' => {
                self.brace_open = true;
                self.emit(Kind::LeftBrace)
            }
            '[' => {
                if self.bracket_open {
                    return Some(self.error("unexpected left bracket '['".into()));
                }
                self.got_colon = false;
                let t = self.emit(Kind::LeftBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.state = State::DurationExpr;
                t
            }
            ']' => {
                if !self.bracket_open {
                    return Some(self.error("unexpected right bracket ']'".into()));
                }
                self.bracket_open = false;
                self.emit(Kind::RightBracket)
            }
            '@' => self.emit(Kind::At),
            c => {
                let q = go_quote_char(c);
                return Some(self.error(format!("unexpected character: {q}")));
            }
        };
        Some(t)
    }

    fn lex_inside_braces(&mut self) -> Option<Token> {
        if self.input[self.pos..].starts_with('#') {
            return Some(self.lex_comment());
        }
        let Some(c) = self.next() else {
            return Some(self.error("unexpected end of input inside braces".into()));
        };
        let t = match c {
            c if is_space(c) => {
                self.skip_spaces();
                return None;
            }
            c if is_alpha(c) => {
                while self.next().is_some_and(is_alnum) {}
                self.backup();
                self.emit(Kind::Identifier)
            }
            ',' => self.emit(Kind::Comma),
            '"' | '\'' => return Some(self.lex_string(c)),
            '`' => return Some(self.lex_raw_string()),
            '=' => {
                if self.next() == Some('~') {
                    self.emit(Kind::EqlRegex)
                } else {
                    self.backup();
                    self.emit(Kind::Eql)
                }
            }
            '!' => match self.next() {
                Some('~') => self.emit(Kind::NeqRegex),
                Some('=') => self.emit(Kind::Neq),
                n => {
                    let q = go_quote_char(n.unwrap_or('\u{FFFD}'));
                    return Some(
                        self.error(format!("unexpected character after '!' inside braces: {q}")),
                    );
                }
            },
            '{' => return Some(self.error("unexpected left brace '{'".into())),
            '}' => {
                self.brace_open = false;
                self.emit(Kind::RightBrace)
            }
            c => {
                let q = go_quote_char(c);
                return Some(self.error(format!("unexpected character inside braces: {q}")));
            }
        };
        Some(t)
    }

    fn lex_duration_expr(&mut self) -> Option<Token> {
        let Some(c) = self.next() else {
            return Some(self.error("unexpected end of input in duration expression".into()));
        };
        let t =
            match c {
                ']' => {
                    self.bracket_open = false;
                    self.got_colon = false;
                    self.state = State::Statements;
                    self.emit(Kind::RightBracket)
                }
                ':' => {
                    let t = self.emit(Kind::Colon);
                    if !self.got_duration {
                        return Some(self.error(
                            "unexpected colon before duration in duration expression".into(),
                        ));
                    }
                    if self.got_colon {
                        return Some(
                            self.error("unexpected repeated colon in duration expression".into()),
                        );
                    }
                    self.got_colon = true;
                    t
                }
                '(' => {
                    self.paren_depth += 1;
                    self.emit(Kind::LeftParen)
                }
                ')' => {
                    let t = self.emit(Kind::RightParen);
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        return Some(self.error("unexpected right parenthesis ')'".into()));
                    }
                    t
                }
                c if is_space(c) => {
                    self.skip_spaces();
                    return None;
                }
                '+' => self.emit(Kind::Add),
                '-' => self.emit(Kind::Sub),
                '*' => self.emit(Kind::Mul),
                '/' => self.emit(Kind::Div),
                '%' => self.emit(Kind::Mod),
                '^' => self.emit(Kind::Pow),
                ',' => self.emit(Kind::Comma),
                c if is_duration_keyword_start(c) => {
                    if let Some(t) = self.scan_duration_keyword() {
                        return Some(t);
                    }
                    let q = go_quote_char(c);
                    return Some(
                        self.error(format!("unexpected character in duration expression: {q}")),
                    );
                }
                c if is_digit(c) || (c == '.' && self.peek().is_some_and(is_digit)) => {
                    self.backup();
                    self.got_duration = true;
                    self.state = State::Statements;
                    return Some(self.lex_number_or_duration());
                }
                c => {
                    let q = go_quote_char(c);
                    return Some(
                        self.error(format!("unexpected character in duration expression: {q}")),
                    );
                }
            };
        Some(t)
    }

    fn scan_duration_keyword(&mut self) -> Option<Token> {
        while self.next().is_some_and(is_alpha) {}
        self.backup();
        let word = &self.input[self.start..self.pos];
        duration_keyword(word).map(|k| self.emit(k))
    }

    fn lex_escape(&mut self, quote: char) -> Result<(), String> {
        let Some(first) = self.next() else {
            return Err("escape sequence not terminated".into());
        };
        let mut c = Some(first);
        let (mut n, base, max): (u32, u32, u32) = match first {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
            c if c == quote => return Ok(()),
            '0'..='7' => (3, 8, 255),
            'x' => {
                c = self.next();
                (2, 16, 255)
            }
            'u' => {
                c = self.next();
                (4, 16, 0x10FFFF)
            }
            'U' => {
                c = self.next();
                (8, 16, 0x10FFFF)
            }
            c => return Err(format!("unknown escape sequence {}", go_sharp_u(c))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = c.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                let Some(c) = c else {
                    return Err("escape sequence not terminated".into());
                };
                return Err(format!(
                    "illegal character {} in escape sequence",
                    go_sharp_u(c)
                ));
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                c = self.next();
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    fn lex_string(&mut self, quote: char) -> Token {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Err(e) = self.lex_escape(quote) {
                        return self.error(e);
                    }
                }
                Some('\u{FFFD}') => return self.error("invalid UTF-8 rune".into()),
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some(c) if c == quote => break,
                _ => {}
            }
        }
        self.emit(Kind::String)
    }

    fn lex_raw_string(&mut self) -> Token {
        loop {
            match self.next() {
                Some('\u{FFFD}') => return self.error("invalid UTF-8 rune".into()),
                None => return self.error("unterminated raw string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(Kind::String)
    }

    fn lex_number_or_duration(&mut self) -> Token {
        if self.scan_number() {
            return self.emit(Kind::Number);
        }
        if self.accept_remaining_duration() {
            self.backup();
            return self.emit(Kind::Duration);
        }
        let text = self.input[self.start..self.pos].to_owned();
        let q = crate::quote::go_quote(&text);
        self.error(format!("bad number or duration syntax: {q}"))
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept(DIGITS) {
            while self.accept(DIGITS) {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        !self.next().is_some_and(is_alnum)
    }

    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = DIGITS;
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = HEX_DIGITS;
        }
        let hex = digits.len() > 10;
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exp = false;
        let class = if hex {
            "0123456789abcdefABCDEF._eE"
        } else {
            "0123456789._eE"
        };
        while self.is(class) {
            if self.is(".") && dot {
                self.accept(".");
                return false;
            }
            if self.is("eE") && exp {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") || hex {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            self.accept_run(digits);
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    fn lex_keyword_or_identifier(&mut self) -> Token {
        while self.next().is_some_and(|c| is_alnum(c) || c == ':') {}
        self.backup();
        let word = &self.input[self.start..self.pos];
        match keyword(word) {
            Some(Kind::Fill | Kind::FillLeft | Kind::FillRight)
                if !self.followed_by_left_paren() =>
            {
                self.emit(Kind::Identifier)
            }
            Some(k) => self.emit(k),
            None if word.contains(':') => self.emit(Kind::MetricIdentifier),
            None => self.emit(Kind::Identifier),
        }
    }

    fn followed_by_left_paren(&self) -> bool {
        self.input[self.pos..]
            .chars()
            .find(|&c| !is_space(c))
            .is_some_and(|c| c == '(')
    }
}

/// Go's `%#U`: `U+0063 'c'` (the character only if printable).
fn go_sharp_u(c: char) -> String {
    if crate::quote::is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

#[cfg(test)]
mod tests;
