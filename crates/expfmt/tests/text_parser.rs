//! The Prometheus text format parser, case by case: what each input yields
//! (entries rendered one per line) or where and why it is rejected.
//! Expectations follow Prometheus's `promparse.go` behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use expfmt::text::TextParser;
use expfmt::{Entry, ParseError, Parser};

/// Renders an entry: `HELP name "text"`, `TYPE name kind`, `COMMENT "text"`,
/// or `name{l="v",...} value [@ts]` (values and label values `{:?}`).
fn render(e: &Entry<'_>) -> String {
    match e {
        Entry::Help { metric, text } => format!("HELP {metric} {text:?}"),
        Entry::Type { metric, kind } => format!("TYPE {metric} {kind}"),
        Entry::Unit { metric, unit } => format!("UNIT {metric} {unit:?}"),
        Entry::Comment(c) => format!("COMMENT {c:?}"),
        Entry::Sample(s) => {
            let mut out = s.name.to_string();
            if !s.labels.is_empty() {
                let l: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                out.push_str(&format!("{{{}}}", l.join(",")));
            }
            out.push_str(&format!(" {:?}", s.value));
            if let Some(t) = s.timestamp {
                out.push_str(&format!(" @{t}"));
            }
            out
        }
        Entry::Histogram(_) => "HISTOGRAM".to_string(),
    }
}

/// All entries of `input`, or the first error (after which the parser
/// must return `None`).
fn parse(input: &[u8]) -> Result<Vec<String>, ParseError> {
    let mut p = TextParser::new(input)?;
    let mut out = Vec::new();
    while let Some(e) = p.next() {
        match e {
            Ok(e) => out.push(render(&e)),
            Err(e) => {
                assert!(p.next().is_none(), "parser continues after error {e}");
                return Err(e);
            }
        }
    }
    Ok(out)
}

#[track_caller]
fn good(input: &str, want: &[&str]) {
    match parse(input.as_bytes()) {
        Ok(got) => assert_eq!(got, want, "input {input:?}"),
        Err(e) => panic!("input {input:?}: unexpected error: {e}"),
    }
}

#[track_caller]
fn bad(input: &str, message: &str, line: usize, column: usize) {
    bad_bytes(input.as_bytes(), message, line, column);
}

#[track_caller]
fn bad_bytes(input: &[u8], message: &str, line: usize, column: usize) {
    match parse(input) {
        Ok(got) => panic!("input {input:?}: accepted as {got:?}, want error {message:?}"),
        Err(e) => {
            assert_eq!(
                (e.message.as_str(), e.position.line, e.position.column),
                (message, line, column),
                "input {input:?}: {e}"
            );
            assert_eq!(e.format, expfmt::Format::Text);
        }
    }
}

#[test]
fn samples() {
    good("", &[]);
    good("a 1", &["a 1.0"]);
    good("a 1\n", &["a 1.0"]);
    good("a 1 123", &["a 1.0 @123"]);
    good("a 1 0123\n", &["a 1.0 @123"]);
    good("  a  1  123  \n", &["a 1.0 @123"]);
    good("a\t1\t2\t\n", &["a 1.0 @2"]);
    good("a 1 9223372036854775807", &["a 1.0 @9223372036854775807"]);
    good("a:b_c:1 1", &["a:b_c:1 1.0"]);
    good("_a 1", &["_a 1.0"]);
    good("a 1\nb 2\n\n\n  \t\nc 3", &["a 1.0", "b 2.0", "c 3.0"]);
    // promparse lexes the value as anything up to a blank, `{` or newline.
    good("a+1", &["a 1.0"]);
    good("a-1.5e3", &["a -1500.0"]);
}

#[test]
fn values() {
    good("a NaN", &["a NaN"]);
    good("a nan", &["a NaN"]);
    good("a +Inf", &["a inf"]);
    good("a -Inf", &["a -inf"]);
    good("a Inf", &["a inf"]);
    good("a -infinity", &["a -inf"]);
    good("a 1e3", &["a 1000.0"]);
    good("a 1E-3", &["a 0.001"]);
    good("a .5", &["a 0.5"]);
    good("a 5.", &["a 5.0"]);
    good("a -0", &["a -0.0"]);
    good("a 0001.50", &["a 1.5"]);
    good("a 1e-400", &["a 0.0"]);
    good("a 9223372036854775808", &["a 9.223372036854776e18"]);
}

#[test]
fn labels() {
    good(r#"a{b="c"} 1"#, &[r#"a{b="c"} 1.0"#]);
    good(r#"a{b="c",d="e"} 1"#, &[r#"a{b="c",d="e"} 1.0"#]);
    good(r#"a{b="c",} 1"#, &[r#"a{b="c"} 1.0"#]);
    good(r#"a{b="c" d="e"} 1"#, &[r#"a{b="c",d="e"} 1.0"#]);
    good(r#"a{b="c"d="e"} 1"#, &[r#"a{b="c",d="e"} 1.0"#]);
    good(r#"a{} 1"#, &["a 1.0"]);
    good(r#"a {b="c"} 1"#, &[r#"a{b="c"} 1.0"#]);
    good("a{ b = \"c\" ,\td= \"e\" , } 1", &[r#"a{b="c",d="e"} 1.0"#]);
    good(r#"a{b="c"}1"#, &[r#"a{b="c"} 1.0"#]);
    good(r#"a{_b="c",B9="d"} 1"#, &[r#"a{_b="c",B9="d"} 1.0"#]);
    good(r#"a{b=""} 1"#, &[r#"a{b=""} 1.0"#]);
    good(r#"a{b="}{,= #"} 1"#, &[r#"a{b="}{,= #"} 1.0"#]);
    good("a{b=\"ü€\u{0}\"} 1", &["a{b=\"ü€\\0\"} 1.0"]);
}

#[test]
fn label_value_escapes() {
    good(r#"a{b="x\"y"} 1"#, &[r#"a{b="x\"y"} 1.0"#]);
    good(r#"a{b="x\\y"} 1"#, &[r#"a{b="x\\y"} 1.0"#]);
    good(r#"a{b="x\ny"} 1"#, &[r#"a{b="x\ny"} 1.0"#]);
    good(r#"a{b="x\qy"} 1"#, &[r#"a{b="x\\qy"} 1.0"#]);
    good(r#"a{b="\\n"} 1"#, &[r#"a{b="\\n"} 1.0"#]);
    good(r#"a{b="\\\""} 1"#, &[r#"a{b="\\\""} 1.0"#]);
    // promparse allows a raw line feed inside a quoted label value.
    good("a{b=\"x\ny\"} 1\nc 2", &[r#"a{b="x\ny"} 1.0"#, "c 2.0"]);
}

#[test]
fn quoted_names() {
    good(r#"{"my.metric"} 1"#, &["my.metric 1.0"]);
    good(r#"{"my.metric",} 1"#, &["my.metric 1.0"]);
    good(
        r#"{"my.metric", "label.name"="v", b="c"} 1 5"#,
        &[r#"my.metric{label.name="v",b="c"} 1.0 @5"#],
    );
    good(r#"{b="c", "my.metric"} 1"#, &[r#"my.metric{b="c"} 1.0"#]);
    good(r#"{ "a\"b" } 1"#, &["a\"b 1.0"]);
    good(
        r#"a{"quoted label"="v"} 1"#,
        &[r#"a{quoted label="v"} 1.0"#],
    );
    good(
        "# HELP \"my.metric\" Some help.",
        &[r#"HELP my.metric "Some help.""#],
    );
    good("# TYPE \"my.metric\" gauge", &["TYPE my.metric gauge"]);
}

#[test]
fn help_and_type() {
    good("# HELP a Some help.", &[r#"HELP a "Some help.""#]);
    good("# HELP a Some help.\n", &[r#"HELP a "Some help.""#]);
    good("#\tHELP\ta\tx y", &[r#"HELP a "x y""#]);
    good("#  HELP   a x", &[r#"HELP a "x""#]);
    good("# HELP a", &[r#"HELP a """#]);
    good("# HELP a   ", &[r#"HELP a """#]);
    good("# HELP a   x ", &[r#"HELP a "  x ""#]);
    good(r#"# HELP a x\\y\nz\"q\t"#, &[r#"HELP a "x\\y\nz\\\"q\\t""#]);
    good("# HELP a he\u{0}lp", &[r#"HELP a "he\0lp""#]);
    good("# HELP a ünïcödé", &[r#"HELP a "ünïcödé""#]);
    good("# TYPE a counter", &["TYPE a counter"]);
    good("# TYPE a gauge\n", &["TYPE a gauge"]);
    good("# TYPE a histogram", &["TYPE a histogram"]);
    good("# TYPE a summary", &["TYPE a summary"]);
    good("# TYPE a untyped", &["TYPE a unknown"]);
    good("# TYPE\ta\tgauge", &["TYPE a gauge"]);
}

#[test]
fn comments() {
    good("# just a comment", &[r##"COMMENT "# just a comment""##]);
    good("#comment", &[r##"COMMENT "#comment""##]);
    good("#", &[r##"COMMENT "#""##]);
    good("  # indented", &[r##"COMMENT "# indented""##]);
    good("# HELP", &[r##"COMMENT "# HELP""##]);
    good("# HELPX a b", &[r##"COMMENT "# HELPX a b""##]);
    good("#HELP a b", &[r##"COMMENT "#HELP a b""##]);
    good("# TYPE\n", &[r##"COMMENT "# TYPE""##]);
    good("# EOF", &[r##"COMMENT "# EOF""##]);
    good("# UNIT a s", &[r##"COMMENT "# UNIT a s""##]);
    good(
        "# comment with \\n and \u{0}",
        &["COMMENT \"# comment with \\\\n and \\0\""],
    );
}

#[test]
fn le_and_quantile_are_normalized_after_their_type() {
    good(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1e6\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_bucket{le=\"0.5\"} 1",
        &[
            "TYPE h histogram",
            r#"h_bucket{le="1.0"} 1.0"#,
            r#"h_bucket{le="1e+06"} 1.0"#,
            r#"h_bucket{le="+Inf"} 1.0"#,
            r#"h_bucket{le="0.5"} 1.0"#,
        ],
    );
    good(
        "# TYPE s summary\ns{quantile=\"0\"} 1\ns{quantile=\"0.99\",le=\"1\"} 1",
        &[
            "TYPE s summary",
            r#"s{quantile="0.0"} 1.0"#,
            r#"s{quantile="0.99",le="1"} 1.0"#,
        ],
    );
    // Not a number: left alone. Go's ParseFloat accepts hex and `_` here.
    good(
        "# TYPE h histogram\nh_bucket{le=\"x\"} 1\nh_bucket{le=\"0x1p-3\"} 1\nh_bucket{le=\"1_0\"} 1",
        &[
            "TYPE h histogram",
            r#"h_bucket{le="x"} 1.0"#,
            r#"h_bucket{le="0.125"} 1.0"#,
            r#"h_bucket{le="10.0"} 1.0"#,
        ],
    );
    // Without a histogram TYPE, and after another TYPE, nothing changes.
    good("h_bucket{le=\"1\"} 1", &[r#"h_bucket{le="1"} 1.0"#]);
    good(
        "# TYPE h histogram\n# TYPE c counter\nh_bucket{le=\"1\"} 1",
        &[
            "TYPE h histogram",
            "TYPE c counter",
            r#"h_bucket{le="1"} 1.0"#,
        ],
    );
    // Like Prometheus, the latest TYPE applies even to another family.
    good(
        "# TYPE h histogram\nother{le=\"2\"} 1",
        &["TYPE h histogram", r#"other{le="2.0"} 1.0"#],
    );
}

#[test]
fn series_is_the_raw_name_and_labels() {
    let check = |input: &str, want: &str| {
        let mut p = TextParser::new(input.as_bytes()).unwrap();
        match p.next() {
            Some(Ok(Entry::Sample(s))) => {
                assert_eq!(std::str::from_utf8(s.series).unwrap(), want, "{input:?}")
            }
            other => panic!("{input:?}: {other:?}"),
        }
    };
    check("a 1", "a");
    check("a 1 2", "a");
    check("  a{b=\"c\"} 1", "a{b=\"c\"}");
    check("a {b=\"c\"} 1", "a {b=\"c\"}");
    check("{\"a.b\",c=\"\\n\"} 1", "{\"a.b\",c=\"\\n\"}");
}

#[test]
fn errors() {
    bad("a", "expected value after metric", 1, 2);
    bad("a\n", "expected value after metric", 1, 2);
    bad("a{b=\"c\"}", "expected value after metric", 1, 9);
    bad(
        "a{b=\"c\"} {d=\"e\"} 1",
        "expected value after metric",
        1,
        10,
    );
    bad("a\u{0}{b=\"ddd\"} 1", "expected value after metric", 1, 2);
    bad("a{b='c'} 1\n", "expected label value", 1, 5);
    bad("a{b=\n", "expected label value", 1, 5);
    bad("a{b=\"c} 1", "expected label value", 1, 5);
    bad("a{b=\u{0}\"ssss\"} 1", "expected label value", 1, 5);
    bad("a{b} 1", "expected equal", 1, 4);
    bad("{A}0", "expected equal", 1, 3);
    bad("a{b\u{0}=\"c\"} 1", "expected equal", 1, 4);
    bad(r#"{"a", "b = "c"}"#, "expected equal", 1, 13);
    bad("a{=\"\"} 0", "expected label name", 1, 3);
    bad("a{,} 0", "expected label name", 1, 3);
    bad("a{b=\"c\",,} 0", "expected label name", 1, 9);
    bad("a{1=\"c\"} 0", "expected label name", 1, 3);
    bad("a{b=\"c\"\n} 0", "expected label name", 1, 8);
    bad("a{", "expected label name", 1, 3);
    bad("a true", "invalid float value", 1, 3);
    bad("a 1\t2x", "expected next entry after timestamp", 1, 6);
    bad("a 1_2", "unsupported character in float", 1, 3);
    bad("a 0x1p-3", "unsupported character in float", 1, 3);
    bad("a 0x1P-3", "unsupported character in float", 1, 3);
    bad("a 0x1", "invalid float value", 1, 3);
    bad("a 1e400", "value out of range", 1, 3);
    bad("a +nan", "invalid float value", 1, 3);
    bad("a 1\r\n", "invalid float value", 1, 3);
    bad("a 0 1_2", "expected next entry after timestamp", 1, 6);
    bad("a 0 1 2", "expected next entry after timestamp", 1, 7);
    bad("a 0 1\u{0}", "expected next entry after timestamp", 1, 6);
    bad("a 0 x", "expected timestamp or new record", 1, 5);
    bad("a 0 -5", "expected timestamp or new record", 1, 5);
    bad("a 0 1.5", "expected next entry after timestamp", 1, 6);
    bad("a 0 # comment", "expected timestamp or new record", 1, 5);
    bad("a 1{", "expected timestamp or new record", 1, 4);
    bad("a 0 9223372036854775808", "timestamp out of range", 1, 5);
    bad(r#"{a="ok"} 1"#, "metric name not set", 1, 1);
    bad(r#"{} 1"#, "metric name not set", 1, 1);
    bad(r#"a{"b"} 1"#, "metric name already set", 1, 3);
    bad(r#"{"a","b"} 1"#, "metric name already set", 1, 6);
    bad(r#"{""} 1"#, "invalid metric name: empty", 1, 2);
    bad(r#"a{""="v"} 1"#, "invalid label name: empty", 1, 3);
    bad(
        r#"a{b="1",c="2",b="3"} 1"#,
        "duplicate label name \"b\"",
        1,
        15,
    );
    bad("# TYPE #", "expected metric name after TYPE", 1, 8);
    bad("# HELP #", "expected metric name after HELP", 1, 8);
    bad("# HELP \n", "expected metric name after HELP", 1, 8);
    bad(
        "# HELP \"unterminated",
        "expected metric name after HELP",
        1,
        8,
    );
    bad("# HELP \"\" x", "invalid metric name: empty", 1, 8);
    bad("# TYPE a foo", "invalid metric type \"foo\"", 1, 10);
    bad(
        "# TYPE a counter ",
        "invalid metric type \"counter \"",
        1,
        10,
    );
    bad(
        "# TYPE a  counter",
        "invalid metric type \" counter\"",
        1,
        10,
    );
    bad("# TYPE a", "invalid metric type \"\"", 1, 9);
    bad(
        "# TYPE a gaugehistogram",
        "invalid metric type \"gaugehistogram\"",
        1,
        10,
    );
    bad("}", "expected a valid start token", 1, 1);
    bad("1 a", "expected a valid start token", 1, 1);
    bad("\"a\" 1", "expected a valid start token", 1, 1);
    bad("a 1\n\u{0}b 2", "unexpected NUL byte", 2, 1);
    bad("a 1\nb 2\nc\n", "expected value after metric", 3, 2);
    bad(
        "a 1\n  z{x=\"\ny\"} 1 2 3",
        "expected next entry after timestamp",
        3,
        9,
    );
}

#[test]
fn invalid_utf8_is_rejected_up_front() {
    bad_bytes(b"a 1\nb{c=\"\xff\"} 1\n", "invalid UTF-8", 2, 6);
    bad_bytes(b"\xc3", "invalid UTF-8", 1, 1);
    let e = TextParser::new(b"ok 1\n\xe2\x82").err().unwrap();
    assert_eq!(e.near, "\\xe2\\x82");
}

#[test]
fn errors_carry_the_near_text_and_display_it() {
    let e = parse(b"metric{label=\"v\"} notanumber 123\n").unwrap_err();
    assert_eq!(e.near, "notanumber 123");
    assert_eq!(e.position.offset, 18);
    assert_eq!(
        e.to_string(),
        "parse text 0.0.4 at line 1, column 19: invalid float value near \"notanumber 123\""
    );
}

#[test]
fn a_real_exposition() {
    let input = r#"# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# 	TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 4.9351e-05
go_gc_duration_seconds{quantile="0.25",} 7.424100000000001e-05
go_gc_duration_seconds_sum 0.0007
go_gc_duration_seconds_count 99
# Hrandom comment starting with prefix of HELP
#
# HELP nohelp1
wind_speed{A="2",c="3"} 12345
some:aggregate:rate5m{a_b="c"}	1
go_goroutines 33  	123123
"#;
    good(
        input,
        &[
            r#"HELP go_gc_duration_seconds "A summary of the GC invocation durations.""#,
            "TYPE go_gc_duration_seconds summary",
            r#"go_gc_duration_seconds{quantile="0.0"} 4.9351e-5"#,
            r#"go_gc_duration_seconds{quantile="0.25"} 7.424100000000001e-5"#,
            "go_gc_duration_seconds_sum 0.0007",
            "go_gc_duration_seconds_count 99.0",
            r##"COMMENT "# Hrandom comment starting with prefix of HELP""##,
            r##"COMMENT "#""##,
            r#"HELP nohelp1 """#,
            r#"wind_speed{A="2",c="3"} 12345.0"#,
            r#"some:aggregate:rate5m{a_b="c"} 1.0"#,
            "go_goroutines 33.0 @123123",
        ],
    );
}
