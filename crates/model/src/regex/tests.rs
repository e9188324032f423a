use proptest::prelude::*;

use super::{ErrorCode, Regex};

/// `pattern` compiles; it matches every string in `yes` and none in `no`,
/// with and without the fast paths.
#[track_caller]
fn check(pattern: &str, yes: &[&str], no: &[&str]) {
    let re = match Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => panic!("{pattern:?} should compile: {e}"),
    };
    for s in yes {
        assert!(re.is_match(s), "{pattern:?} should match {s:?}");
        assert!(
            re.is_match_slow(s),
            "{pattern:?} (engine) should match {s:?}"
        );
    }
    for s in no {
        assert!(!re.is_match(s), "{pattern:?} should not match {s:?}");
        assert!(
            !re.is_match_slow(s),
            "{pattern:?} (engine) should not match {s:?}"
        );
    }
}

/// `pattern` is rejected with Go's error code and offending expression.
#[track_caller]
fn check_err(pattern: &str, code: ErrorCode, expr: &str) {
    match Regex::new(pattern) {
        Ok(_) => panic!("{pattern:?} should be rejected"),
        Err(e) => {
            assert_eq!((e.code(), e.expr()), (code, expr), "{pattern:?}: {e}");
            assert_eq!(e.pattern(), pattern);
        }
    }
}

#[test]
fn anchoring_and_dot_all() {
    check("", &[""], &["a"]);
    check("abc", &["abc"], &["xabc", "abcx", "ab"]);
    check("a.c", &["abc", "a\nc"], &["ac"]);
    check("(?-s:a.c)", &["abc"], &["a\nc"]);
    check(".*", &["", "x", "\n\n"], &[]);
    check(".+", &["x", "\n"], &[""]);
    check("foo|bar", &["foo", "bar"], &["foobar", "fo"]);
    check("a|b|", &["a", "b", ""], &["ab"]);
    check("^", &[""], &["a"]);
    check("\\Aa\\z", &["a"], &["aa"]);
    check("(?m)a$\n^b", &["a\nb"], &["ab"]);
    check("a$", &["a"], &["a\n"]);
}

#[test]
fn ascii_perl_classes() {
    check("\\d+", &["0123456789"], &["١٢", "a"]);
    check("\\D", &["١", "a"], &["1"]);
    check("\\w+", &["abc_XYZ_09"], &["é", "-"]);
    check("\\W", &["é", "-"], &["a", "_"]);
    check(
        "\\s",
        &[" ", "\t", "\n", "\r", "\x0C"],
        &["\x0B", "\u{A0}", "\u{2003}"],
    );
    check("\\S", &["\x0B", "\u{A0}"], &[" "]);
    check("[[:space:]]", &["\x0B", " "], &["\u{A0}"]);
    check("[\\d\\s]", &["1", " "], &["١"]);
    check("[^\\d]", &["a", "١"], &["5"]);
    check("[[:^alpha:]]", &["1", "é"], &["a"]);
    check("[[:word:]]+", &["a_1"], &["é"]);
    check(
        ".*\\bfoo\\b.*",
        &["a foo b", "foo", "éfooé"],
        &["afoob", "foo_"],
    );
    check(".*\\Bfoo\\B.*", &["afoob"], &["foo"]);
    check("(?i)\\w", &["\u{212A}", "\u{17F}"], &["é"]);
}

#[test]
fn unicode_classes() {
    check("\\pL+", &["héllo", "Ωμέγα"], &["1"]);
    check("\\PL", &["1"], &["a"]);
    check("\\p{Greek}+", &["αβγ"], &["abc"]);
    check("\\p{^Greek}", &["a"], &["α"]);
    check("\\P{^Greek}", &["α"], &["a"]);
    check("[\\p{Lu}\\d]+", &["AB12"], &["ab"]);
    check("\\p{Any}", &["x", "\n"], &[""]);
    check("(?i)\\p{Lu}", &["a", "A"], &["1"]);
    check("\\pN", &["٣", "½"], &["a"]);
}

#[test]
fn case_folding_and_flags() {
    check("(?i)abc", &["ABC", "aBc"], &["abd"]);
    check("(?i)k", &["k", "K", "\u{212A}"], &["x"]);
    check("(?i)[[:upper:]]", &["a", "Z"], &["1"]);
    check("(?i)[^a]", &["b"], &["a", "A"]);
    check("a(?i)b|c", &["aB", "C", "c"], &["Ab"]);
    check("(?i:a)b", &["Ab"], &["AB"]);
    check("(?i)(?-i)a", &["a"], &["A"]);
    check("(?U)a+", &["aaa"], &[""]);
    check("(?)a", &["a"], &[]);
    check("(?s-s:.)", &["a"], &["\n"]);
}

#[test]
fn go_only_syntax() {
    // Go reads `[a[b]` as a class, then a literal `]`.
    check("[a[b]]", &["a]", "[]", "b]"], &["a", "b"]);
    check("[^[]+", &["abc"], &["a["]);
    // No class set operations in Go: `&`, `~` are members.
    check("[a&&b]", &["a", "&", "b"], &["c"]);
    check("[a~~b]", &["~"], &["c"]);
    // Escaped punctuation is itself: `\<` is not a word start.
    check("\\<a\\>", &["<a>"], &["a"]);
    check("\\_", &["_"], &[]);
    // `\b{start}` is a word boundary and the literal `{start}`.
    check("a\\b{start}", &["a{start}"], &["a"]);
    check("\\d-\\<", &["1-<"], &[]);
    check("\\Qa.b\\E+", &["a.b", "a.bbb"], &["axb"]);
    check("\\Qa.b", &["a.b"], &["axb"]);
    check("\\101\\0\\12", &["A\0\n"], &[]);
    check("\\x41\\x{1F600}", &["A😀"], &[]);
    check("\\a\\f\\t\\n\\r\\v", &["\x07\x0C\t\n\r\x0B"], &[]);
    check("(?P<1x>a)(?<name>b)", &["ab"], &[]);
    // `{` that is not a repetition is a literal.
    check("a{,2}", &["a{,2}"], &["aa"]);
    check("a{", &["a{"], &[]);
    check("a{01}", &["a{01}"], &["a"]);
    check("x{2}y{1,}z{0,1}", &["xxyyz", "xxy"], &["xy"]);
    check("[]a]", &["]", "a"], &["b"]);
    check("[^]a]", &["b"], &["]", "a"]);
    check("[a-]", &["-", "a"], &["b"]);
    check("[\\d-z]", &["-", "z", "5"], &["y"]);
    check("(a){0}b", &["b"], &["ab"]);
    check("\\x{D800}|a", &["a"], &[]);
    check("a*?b+?c??", &["aabbc", "b"], &[]);
    check("(a*)*", &["", "aaa"], &["b"]);
    check("^*a", &["a"], &[]);
    check("(?:)*", &[""], &["a"]);
    check("a(?i)*", &["", "a", "aa"], &["A"]);
}

#[test]
fn rejected_like_go() {
    use ErrorCode::*;
    check_err("(", MissingParen, "(");
    check_err("a(b", MissingParen, "a(b");
    check_err(")", UnexpectedParen, ")");
    check_err("a)(b", UnexpectedParen, "a)(b");
    check_err("[a", MissingBracket, "[a");
    check_err("[]", MissingBracket, "[]");
    check_err("\\", TrailingBackslash, "");
    check_err("\\C", InvalidEscape, "\\C");
    check_err("\\q", InvalidEscape, "\\q");
    check_err("\\8", InvalidEscape, "\\8");
    check_err("\\18", InvalidEscape, "\\1");
    check_err("\\x{110000}", InvalidEscape, "\\x{110000");
    check_err("\\x{}", InvalidEscape, "\\x{}");
    check_err("\\xg1", InvalidEscape, "\\xg1");
    check_err("[\\b]", InvalidEscape, "\\b");
    check_err("[a-\\d]", InvalidEscape, "\\d");
    check_err("[z-a]", InvalidCharRange, "z-a");
    check_err("[a--b]", InvalidCharRange, "a--");
    check_err("[[:foo:]]", InvalidCharRange, "[:foo:]");
    check_err("\\p{Emoji}", InvalidCharRange, "\\p{Emoji}");
    check_err("\\p{scx=Greek}", InvalidCharRange, "\\p{scx=Greek}");
    check_err("\\p{Greek", InvalidCharRange, "\\p{Greek");
    check_err("\\pX", InvalidCharRange, "\\pX");
    check_err("a**", InvalidRepeatOp, "**");
    check_err("a*??", InvalidRepeatOp, "*??");
    check_err("a+*", InvalidRepeatOp, "+*");
    check_err("x{2}{3}", InvalidRepeatOp, "{2}{3}");
    check_err("*a", MissingRepeatArgument, "*");
    check_err("a|*", MissingRepeatArgument, "*");
    check_err("(*)", MissingRepeatArgument, "*");
    check_err("(?i)+", MissingRepeatArgument, "+");
    check_err("{2}", MissingRepeatArgument, "{2}");
    check_err("a{1001}", InvalidRepeatSize, "{1001}");
    check_err("a{2,1}", InvalidRepeatSize, "{2,1}");
    check_err("a{100000000}", InvalidRepeatSize, "{100000000}");
    check_err("(a{500}){3}", InvalidRepeatSize, "{3}");
    check_err("((a{10}){10}){11}", InvalidRepeatSize, "{11}");
    check_err("(?x)a", InvalidPerlOp, "(?x");
    check_err("(?i-)a", InvalidPerlOp, "(?i-)");
    check_err("(?-)a", InvalidPerlOp, "(?-)");
    check_err("(?i-m-s)a", InvalidPerlOp, "(?i-m-");
    check_err("(?P=n)", InvalidPerlOp, "(?P");
    check_err("(?'n'a)", InvalidPerlOp, "(?'");
    check_err("(?i", InvalidPerlOp, "(?i");
    check_err("(?P<n", InvalidNamedCapture, "(?P<n");
    check_err("(?P<>a)", InvalidNamedCapture, "(?P<>");
    check_err("(?<a-b>x)", InvalidNamedCapture, "(?<a-b>");
    check_err(&"(".repeat(1100), NestingDepth, &"(".repeat(1100));
}

#[test]
fn error_message_names_pattern_and_problem() {
    let e = Regex::new("a**").err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some("parse regexp \"a**\": invalid nested repetition operator: `**`")
    );
    let e = Regex::new("(").err().map(|e| e.go_message());
    assert_eq!(
        e.as_deref(),
        Some("error parsing regexp: missing closing ): `(`")
    );
}

#[test]
fn relabel_mode_parses_the_wrapped_text() {
    // Prometheus's relabel regexes are `^(?s:` + pattern + `)$` as text.
    let re = Regex::new_relabel("a)|(b").unwrap_or_else(|e| panic!("{e}"));
    assert!(re.is_match("axyz") && re.is_match("xyzb") && !re.is_match("xbx"));
    assert_eq!(re.captures_len(), 2);
    assert!(Regex::new("a)|(b").is_err());
    let e = Regex::new_relabel("\\Qa.b").err();
    assert_eq!(
        e.as_ref().map(|e| (e.code(), e.expr())),
        Some((ErrorCode::MissingParen, "^(?s:\\Qa.b)$"))
    );
    assert!(Regex::new("\\Qa.b").is_ok());
    let e = Regex::new_relabel("(").err().map(|e| e.go_message());
    assert_eq!(
        e.as_deref(),
        Some("error parsing regexp: missing closing ): `^(?s:()$`")
    );
    let re = Regex::new_relabel("foo.*").unwrap_or_else(|e| panic!("{e}"));
    assert!(re.is_optimized() && re.is_match("foo\nbar") && !re.is_match("xfoo"));
    assert_ne!(re, Regex::new("foo.*").unwrap_or_else(|e| panic!("{e}")));
    let re = Regex::new_relabel("").unwrap_or_else(|e| panic!("{e}"));
    assert!(re.is_match("") && !re.is_match("a"));
}

#[track_caller]
fn check_expand(pattern: &str, input: &str, template: &str, want: Option<&str>) {
    let re = match Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        re.replace(input, template).as_deref(),
        want,
        "{pattern:?} on {input:?} with {template:?}"
    );
}

#[test]
fn expand_like_go() {
    check_expand(
        "(a)(b)?",
        "a",
        "$1-$2-$10-${1}x-$1x-$$-$",
        Some("a---ax--$-$"),
    );
    check_expand("(a)", "a", "${1", Some("${1"));
    check_expand("(a)", "a", "$-${}", Some("$-${}"));
    check_expand("(a)", "a", "$01|$0|${0}", Some("|a|a"));
    check_expand(
        "(?P<host>[^:]+):(?P<port>\\d+)",
        "h:80",
        "${host}/$port",
        Some("h/80"),
    );
    check_expand("(?P<1x>a)(b)", "ab", "$1x|${1}x", Some("a|ax"));
    check_expand("(?P<n>a)|(?P<n>b)", "b", "[$n]", Some("[b]"));
    check_expand("(a)", "a", "$é.", Some("."));
    check_expand("(a)", "b", "$1", None);
    check_expand("(.*)", "", "x$1", Some("x"));
    check_expand("(a){0}b", "b", "[$1]", Some("[]"));
}

#[test]
fn fast_paths_are_used() {
    #[track_caller]
    fn opt(pattern: &str, optimized: bool, set: Option<&[&str]>, prefix: Option<&str>) {
        let re = Regex::new(pattern).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(re.is_optimized(), optimized, "{pattern:?} optimized");
        assert_eq!(re.set_matches().as_deref(), set, "{pattern:?} set");
        assert_eq!(re.literal_prefix(), prefix, "{pattern:?} prefix");
    }
    opt("foo", true, Some(&["foo"]), Some("foo"));
    opt("", true, Some(&[""]), None);
    opt("foo|bar|baz", true, Some(&["bar", "baz", "foo"]), None);
    opt("(foo|bar)", true, Some(&["bar", "foo"]), None);
    opt("a(b|c)d?", true, Some(&["ab", "abd", "ac", "acd"]), None);
    opt("(?i)ab", true, Some(&["AB", "Ab", "aB", "ab"]), None);
    opt(
        "[0-9]",
        true,
        Some(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
        None,
    );
    opt("foo.*", true, None, Some("foo"));
    opt(".*foo", true, None, None);
    opt(".*foo.*bar.+", true, None, None);
    opt("(.*)", true, None, None);
    opt("(?-s:.*)", false, None, None);
    opt("a+", false, None, None);
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ab]{1,3}",
        Just(".*".to_owned()),
        Just(".+".to_owned()),
        Just("(.*)".to_owned()),
        Just(".{2,}".to_owned()),
        Just("(?:ab|b)".to_owned()),
        Just("(a|bb)".to_owned()),
        Just("[ab]".to_owned()),
        Just("a?".to_owned()),
        Just("(?i)a".to_owned()),
        Just("\\n".to_owned()),
        Just("b*".to_owned()),
        Just("(?-s:.)".to_owned()),
        Just("é".to_owned()),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(atom(), 0..5).prop_map(|v| v.concat()),
        prop::collection::vec("[ab]{0,3}", 1..5).prop_map(|v| v.join("|")),
        (
            prop::collection::vec(atom(), 0..3),
            prop::collection::vec(atom(), 0..3)
        )
            .prop_map(|(a, b)| format!("{}|{}", a.concat(), b.concat())),
    ]
}

proptest! {
    #[test]
    fn fast_path_agrees_with_engine(p in pattern(), inputs in prop::collection::vec("[abA\né]{0,7}", 1..20)) {
        let re = Regex::new(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let rl = Regex::new_relabel(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for s in &inputs {
            prop_assert_eq!(re.is_match(s), re.is_match_slow(s), "pattern {:?} input {:?}", p, s);
            prop_assert_eq!(rl.is_match(s), re.is_match(s), "relabel pattern {:?} input {:?}", p, s);
            prop_assert_eq!(rl.is_match(s), rl.is_match_slow(s), "relabel pattern {:?} input {:?}", p, s);
        }
    }

    #[test]
    fn never_panics_on_arbitrary_patterns(p in "[ab()|*+?{},0-9\\[\\]^$.\\\\:PpdDwWsSQEz<>=&~-]{0,12}") {
        if let Ok(re) = Regex::new(&p) {
            let _ = re.is_match("ab");
            let _ = re.replace("ab", "$1${2}$x");
        }
    }
}

#[test]
fn limits_like_go() {
    // Deep nesting is rejected cleanly, never with a stack overflow. Go
    // allows a tree 1000 deep; the Rust engine compiles recursively, so
    // the limit here is lower.
    let deep = format!("{}a{}", "(".repeat(90), ")".repeat(90));
    let re = Regex::new(&deep).unwrap_or_else(|e| panic!("{e}"));
    assert!(re.is_match("a") && re.captures_len() == 91);
    for depth in [30, 60, 90, 99, 100, 101, 130, 200, 260, 300, 1100] {
        for (open, close) in [
            ("(", ")"),
            ("(?:", ")*"),
            ("(?:", "){2}"),
            ("(a|", ")?"),
            ("((?:", ")*)+"),
        ] {
            let p = format!("{}a{}", open.repeat(depth), close.repeat(depth));
            if let Err(e) = Regex::new(&p) {
                assert!(
                    matches!(
                        e.code(),
                        ErrorCode::NestingDepth | ErrorCode::InvalidRepeatSize
                    ),
                    "{e}"
                );
            }
        }
    }
    // Large but shallow patterns that Go accepts still compile.
    assert!(Regex::new("\\pL{1000}").is_ok());
}
