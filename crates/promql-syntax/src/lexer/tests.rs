//! Lexer tables: tokens and Prometheus's lexer errors.
use super::*;

fn lex_all(input: &str) -> Vec<(Kind, String)> {
    let mut l = Lexer::new(input);
    let mut out = Vec::new();
    loop {
        let t = l.next_token();
        let text = match &t.error {
            Some(e) => e.clone(),
            None => t.text(input).to_owned(),
        };
        out.push((t.kind, text));
        if matches!(t.kind, Kind::Eof | Kind::Error) {
            return out;
        }
    }
}

#[track_caller]
fn check(input: &str, want: &[(Kind, &str)]) {
    let got = lex_all(input);
    let want: Vec<(Kind, String)> = want.iter().map(|(k, s)| (*k, (*s).to_owned())).collect();
    assert_eq!(got, want, "{input:?}");
}

#[test]
fn tokens() {
    use Kind::*;
    check("1", &[(Number, "1"), (Eof, "")]);
    check("4.5e-3", &[(Number, "4.5e-3"), (Eof, "")]);
    check(".5", &[(Number, ".5"), (Eof, "")]);
    check("0x1F", &[(Number, "0x1F"), (Eof, "")]);
    check("1_000", &[(Number, "1_000"), (Eof, "")]);
    check("5m30s", &[(Duration, "5m30s"), (Eof, "")]);
    check("5ms", &[(Duration, "5ms"), (Eof, "")]);
    check("Inf", &[(Number, "Inf"), (Eof, "")]);
    check("nAn", &[(Number, "nAn"), (Eof, "")]);
    check("SUM", &[(Sum, "SUM"), (Eof, "")]);
    check("foo:bar", &[(MetricIdentifier, "foo:bar"), (Eof, "")]);
    check("fill", &[(Identifier, "fill"), (Eof, "")]);
    check(
        "fill (",
        &[
            (Fill, "fill"),
            (LeftParen, "("),
            (Error, "unclosed left parenthesis"),
        ],
    );
    check(
        "a </ b",
        &[
            (Identifier, "a"),
            (TrimUpper, "</"),
            (Identifier, "b"),
            (Eof, ""),
        ],
    );
    check(
        r#"{a!~"x",b="y"}"#,
        &[
            (LeftBrace, "{"),
            (Identifier, "a"),
            (NeqRegex, "!~"),
            (String, r#""x""#),
            (Comma, ","),
            (Identifier, "b"),
            (Eql, "="),
            (String, r#""y""#),
            (RightBrace, "}"),
            (Eof, ""),
        ],
    );
    check(
        "x[ step()+1m:5s]",
        &[
            (Identifier, "x"),
            (LeftBracket, "["),
            (Step, "step"),
            (LeftParen, "("),
            (RightParen, ")"),
            (Add, "+"),
            (Duration, "1m"),
            (Colon, ":"),
            (Duration, "5s"),
            (RightBracket, "]"),
            (Eof, ""),
        ],
    );
    check("# hi\n1", &[(Comment, "# hi"), (Number, "1"), (Eof, "")]);
}

#[test]
fn errors() {
    use Kind::*;
    check(")", &[(Error, "unexpected right parenthesis ')'")]);
    check("=~", &[(Error, "unexpected character after '=': '~'")]);
    check("!x", &[(Error, "unexpected character after '!': 'x'")]);
    check(
        "{a!b}",
        &[
            (LeftBrace, "{"),
            (Identifier, "a"),
            (Error, "unexpected character after '!' inside braces: 'b'"),
        ],
    );
    check("\"a", &[(Error, "unterminated quoted string")]);
    check("`a", &[(Error, "unterminated raw string")]);
    check("\"\\c\"", &[(Error, "unknown escape sequence U+0063 'c'")]);
    check(
        "\"\\xZZ\"",
        &[(Error, "illegal character U+005A 'Z' in escape sequence")],
    );
    check("\"\\u", &[(Error, "escape sequence not terminated")]);
    check(
        "\"\\ud800\"",
        &[(Error, "escape sequence is an invalid Unicode code point")],
    );
    check(
        "1h30",
        &[(Error, "bad number or duration syntax: \"1h30\"")],
    );
    check(
        "x[",
        &[
            (Identifier, "x"),
            (LeftBracket, "["),
            (Error, "unexpected end of input in duration expression"),
        ],
    );
    check(
        "x[5m",
        &[
            (Identifier, "x"),
            (LeftBracket, "["),
            (Duration, "5m"),
            (Error, "unclosed left bracket"),
        ],
    );
    check(
        "x[5m:1m:",
        &[
            (Identifier, "x"),
            (LeftBracket, "["),
            (Duration, "5m"),
            (Colon, ":"),
            (Duration, "1m"),
            (Error, "unexpected colon ':'"),
        ],
    );
    check(
        "x[a]",
        &[
            (Identifier, "x"),
            (LeftBracket, "["),
            (Error, "unexpected character in duration expression: 'a'"),
        ],
    );
    check("$", &[(Error, "unexpected character: '$'")]);
}
