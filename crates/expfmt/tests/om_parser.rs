//! The OpenMetrics parser, case by case, beyond the conformance suite: what
//! each input yields (entries rendered one per line) or where and why it is
//! rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use expfmt::openmetrics::OpenMetricsParser;
use expfmt::{Entry, LabelsView, ParseError, Parser};

fn labels(l: &LabelsView<'_>) -> String {
    let l: Vec<String> = l.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", l.join(","))
}

/// Renders an entry: `HELP name "text"`, `TYPE name kind`, `UNIT name
/// "unit"`, or `name{l="v",...} value [@ts_ms] [# {labels} value [@ts_ms]]`.
fn render(e: &Entry<'_>) -> String {
    match e {
        Entry::Help { metric, text } => format!("HELP {metric} {text:?}"),
        Entry::Type { metric, kind } => format!("TYPE {metric} {kind}"),
        Entry::Unit { metric, unit } => format!("UNIT {metric} {unit:?}"),
        Entry::Comment(c) => format!("COMMENT {c:?}"),
        Entry::Sample(s) => {
            let mut out = s.name.to_string();
            if !s.labels.is_empty() {
                out.push_str(&labels(&s.labels));
            }
            out.push_str(&format!(" {:?}", s.value));
            if let Some(t) = s.timestamp {
                out.push_str(&format!(" @{t}"));
            }
            if let Some(x) = &s.exemplar {
                out.push_str(&format!(" # {} {:?}", labels(&x.labels), x.value));
                if let Some(t) = x.timestamp {
                    out.push_str(&format!(" @{t}"));
                }
            }
            out
        }
        Entry::Histogram(_) => "HISTOGRAM".to_string(),
    }
}

fn parse(input: &[u8]) -> Result<Vec<String>, ParseError> {
    let mut p = OpenMetricsParser::new(input)?;
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
    match parse(input.as_bytes()) {
        Ok(got) => panic!("input {input:?}: accepted as {got:?}, want error {message:?}"),
        Err(e) => {
            assert_eq!(
                (e.message.as_str(), e.position.line, e.position.column),
                (message, line, column),
                "input {input:?}: {e}"
            );
            assert_eq!(e.format, expfmt::Format::OpenMetrics);
        }
    }
}

#[test]
fn structure() {
    good("# EOF", &[]);
    good("# EOF\n", &[]);
    good("a 1\n# EOF", &["a 1.0"]);
    good("a 1\nb 2\n# EOF\n", &["a 1.0", "b 2.0"]);
    bad("", "missing # EOF at end of input", 1, 1);
    bad("a 1\n", "missing # EOF at end of input", 2, 1);
    bad("a 1", "missing # EOF at end of input", 1, 4);
    bad("# EOF\n\n", "unexpected data after # EOF", 2, 1);
    bad("# EOF\na 1\n# EOF\n", "unexpected data after # EOF", 2, 1);
    bad("a 1\n\n# EOF", "unexpected blank line", 2, 1);
    bad(
        "# EOF ",
        "invalid line: only # HELP, # TYPE, # UNIT and # EOF lines may start with #",
        1,
        1,
    );
    bad(
        "# a comment\n# EOF",
        "invalid line: only # HELP, # TYPE, # UNIT and # EOF lines may start with #",
        1,
        1,
    );
    bad(
        "#EOF",
        "invalid line: only # HELP, # TYPE, # UNIT and # EOF lines may start with #",
        1,
        1,
    );
    bad(" a 1\n# EOF", "expected metric name", 1, 1);
    bad("a 1\r\n# EOF", "invalid value", 1, 3);
}

#[test]
fn metadata() {
    good(
        "# TYPE a_seconds counter\n# UNIT a_seconds seconds\n# HELP a_seconds Some \\\"help\\\" \\\\ \\n \\q.\n# EOF",
        &[
            "TYPE a_seconds counter",
            r#"UNIT a_seconds "seconds""#,
            r#"HELP a_seconds "Some \"help\" \\ \n \\q.""#,
        ],
    );
    good(
        "# HELP a \n# UNIT a \n# EOF",
        &[r#"HELP a """#, r#"UNIT a """#],
    );
    good(
        "# HELP a  two  spaces \n# EOF",
        &[r#"HELP a " two  spaces ""#],
    );
    good(
        "# TYPE \"a.b\" gauge\n{\"a.b\"} 1\n# EOF",
        &["TYPE a.b gauge", "a.b 1.0"],
    );
    for t in [
        "counter",
        "gauge",
        "histogram",
        "gaugehistogram",
        "summary",
        "info",
        "stateset",
        "unknown",
    ] {
        good(&format!("# TYPE a {t}\n# EOF"), &[&format!("TYPE a {t}")]);
    }
    bad(
        "# TYPE a untyped\n# EOF",
        "invalid metric type \"untyped\"",
        1,
        10,
    );
    bad(
        "# TYPE a Gauge\n# EOF",
        "invalid metric type \"Gauge\"",
        1,
        10,
    );
    bad(
        "# TYPE a\n# EOF",
        "expected a space after the metric name",
        1,
        9,
    );
    bad("# HELP  a x\n# EOF", "expected metric name", 1, 8);
    bad("# HELP 0a x\n# EOF", "expected metric name", 1, 8);
    bad(
        "# HELP \"a\nb\" x\n# EOF",
        "unterminated quoted metric name",
        1,
        8,
    );
    bad("# UNIT a_s s:x-y\n# EOF", "invalid unit \"s:x-y\"", 1, 15);
    bad(
        "# UNIT a seconds\n# EOF",
        "unit \"seconds\" is not a suffix of metric family name \"a\"",
        1,
        1,
    );
    bad(
        "# UNIT aseconds seconds\n# EOF",
        "unit \"seconds\" is not a suffix of metric family name \"aseconds\"",
        1,
        1,
    );
    bad(
        "# UNIT a_b b\n# TYPE a_b info\n# EOF",
        "info metric family \"a_b\" must not have a unit",
        2,
        1,
    );
    bad(
        "# TYPE a_b stateset\n# UNIT a_b b\n# EOF",
        "stateset metric family \"a_b\" must not have a unit",
        2,
        1,
    );
    bad(
        "# HELP a x\n# HELP a y\n# EOF",
        "duplicate HELP for \"a\"",
        2,
        1,
    );
    bad(
        "# TYPE a gauge\na 1\n# HELP a x\n# EOF",
        "metadata for \"a\" after its samples",
        3,
        1,
    );
}

#[test]
fn samples_and_timestamps() {
    good("a 1 1.5\n# EOF", &["a 1.0 @1500"]);
    good("a 1 -1.001\n# EOF", &["a 1.0 @-1001"]);
    good("a 1 1e3\n# EOF", &["a 1.0 @1000000"]);
    good("a 1 1604676851.123456789\n# EOF", &["a 1.0 @1604676851123"]);
    good("a -Inf\n# EOF", &["a -inf"]);
    good("a +inf\n# EOF", &["a inf"]);
    good("a nan\n# EOF", &["a NaN"]);
    good("a{} 1\n# EOF", &["a 1.0"]);
    good("a{b=\"c\",d=\"\"} 1\n# EOF", &[r#"a{b="c",d=""} 1.0"#]);
    good(
        "a{b=\"\\\\ \\\" \\n \\q \u{0}\"} 1\n# EOF",
        &[r#"a{b="\\ \" \n \\q \0"} 1.0"#],
    );
    good("{\"a.b\",\"c d\"=\"e\"} 1\n# EOF", &[r#"a.b{c d="e"} 1.0"#]);
    good("{c=\"e\",\"a.b\"} 1\n# EOF", &[r#"a.b{c="e"} 1.0"#]);
    // Several points of one metric, timestamps increasing or equal.
    good(
        "a 1 1\na 2 1\na 3 2\n# EOF",
        &["a 1.0 @1000", "a 2.0 @1000", "a 3.0 @2000"],
    );
    bad(
        "a 1 2\na 1 1\n# EOF",
        "timestamp went backwards within a metric",
        2,
        1,
    );
    bad(
        "a 1 1.0002\na 1 1.0001\n# EOF",
        "timestamp went backwards within a metric",
        2,
        1,
    );
    bad(
        "a 1\na 1 1\n# EOF",
        "mix of samples with and without timestamp in one metric",
        2,
        1,
    );
    bad("a 1 ", "expected timestamp", 1, 5);
    bad("a 1  2\n# EOF", "expected timestamp", 1, 5);
    bad("a  1\n# EOF", "expected value after metric", 1, 3);
    bad(
        "a\t1\n# EOF",
        "expected a space and the value after the metric",
        1,
        2,
    );
    bad("a 1e400\n# EOF", "out of range value", 1, 3);
    bad("a 1 1e400\n# EOF", "out of range timestamp", 1, 5);
    bad(
        "a 1 1 2\n# EOF",
        "expected an exemplar or the end of the line after the timestamp",
        1,
        7,
    );
    bad("a{b=\"c\",} 1\n# EOF", "expected label name", 1, 9);
    bad(
        "a{b=\"c\" ,d=\"e\"} 1\n# EOF",
        "expected comma or closing brace",
        1,
        8,
    );
    bad("a{ b=\"c\"} 1\n# EOF", "expected label name", 1, 3);
    bad("a{b =\"c\"} 1\n# EOF", "expected equal", 1, 4);
    bad("a{b=\"x\ny\"} 1\n# EOF", "unterminated label value", 1, 5);
    bad(
        "a{b=\"1\",c=\"2\",b=\"3\"} 1\n# EOF",
        "duplicate label name \"b\"",
        1,
        15,
    );
    bad("a{\"b\"} 1\n# EOF", "metric name already set", 1, 3);
    bad("{b=\"c\"} 1\n# EOF", "metric name not set", 1, 1);
    bad("{\"\"} 1\n# EOF", "invalid metric name: empty", 1, 2);
    bad("\"a\" 1\n# EOF", "expected metric name", 1, 1);
}

#[test]
fn families() {
    good(
        "# TYPE a gauge\na 1\nb 2\n# TYPE c counter\nc_total 3\nc_created 4\n# EOF",
        &[
            "TYPE a gauge",
            "a 1.0",
            "b 2.0",
            "TYPE c counter",
            "c_total 3.0",
            "c_created 4.0",
        ],
    );
    // A family's samples must follow its metadata, and no name repeats.
    bad(
        "a 1\nb 1\na 1\n# EOF",
        "name \"a\" clashes with an earlier metric family",
        3,
        1,
    );
    bad(
        "# TYPE a counter\n# TYPE a_total gauge\n# EOF",
        "name \"a_total\" clashes with an earlier metric family",
        2,
        1,
    );
    bad(
        "# TYPE a_created gauge\n# TYPE a counter\n# EOF",
        "name \"a_created\" clashes with an earlier metric family",
        3,
        1,
    );
    bad(
        "# TYPE a counter\na 1\n# EOF",
        "name \"a\" clashes with an earlier metric family",
        2,
        1,
    );
    bad(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\nb 1\na_count 1\n# EOF",
        "name \"a_count\" clashes with an earlier metric family",
        4,
        1,
    );
    // Not a histogram sample name: a new family of type unknown.
    good(
        "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_gsum 1\n# EOF",
        &[
            "TYPE a histogram",
            r#"a_bucket{le="+Inf"} 1.0"#,
            "a_gsum 1.0",
        ],
    );
}

#[test]
fn metrics_are_not_interleaved() {
    bad(
        "# TYPE a counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 1\na_total{x=\"1\"} 2\n# EOF",
        "metric interleaved in family \"a\": its label set appeared earlier, separated by other metrics",
        4,
        1,
    );
    // Label order does not matter for a metric's identity.
    bad(
        "a{x=\"1\",y=\"2\"} 1\na{z=\"3\"} 1\na{y=\"2\",x=\"1\"} 1\n# EOF",
        "metric interleaved in family \"a\": its label set appeared earlier, separated by other metrics",
        3,
        1,
    );
    // Counter _total and _created of one metric are one group.
    bad(
        "# TYPE a counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 1\na_created{x=\"1\"} 2\n# EOF",
        "metric interleaved in family \"a\": its label set appeared earlier, separated by other metrics",
        4,
        1,
    );
    good(
        "# TYPE a counter\na_total{x=\"1\"} 1\na_created{x=\"1\"} 1\na_total{x=\"2\"} 1\na_created{x=\"2\"} 1\n# EOF",
        &[
            "TYPE a counter",
            r#"a_total{x="1"} 1.0"#,
            r#"a_created{x="1"} 1.0"#,
            r#"a_total{x="2"} 1.0"#,
            r#"a_created{x="2"} 1.0"#,
        ],
    );
    // A new family starts a new set.
    good(
        "a{x=\"1\"} 1\nb{x=\"1\"} 1\n# EOF",
        &[r#"a{x="1"} 1.0"#, r#"b{x="1"} 1.0"#],
    );
}

#[test]
fn types() {
    good(
        "# TYPE s stateset\ns{s=\"a\",e=\"x\"} 1\ns{s=\"b\",e=\"x\"} 0\n# EOF",
        &[
            "TYPE s stateset",
            r#"s{s="a",e="x"} 1.0"#,
            r#"s{s="b",e="x"} 0.0"#,
        ],
    );
    bad(
        "# TYPE s stateset\ns{s=\"a\"} 0.5\n# EOF",
        "stateset value must be 0 or 1",
        2,
        1,
    );
    bad(
        "# TYPE s stateset\ns{e=\"a\"} 1\n# EOF",
        "stateset sample is missing the \"s\" label",
        2,
        1,
    );
    good(
        "# TYPE i info\ni_info{v=\"1.0\"} 1\n# EOF",
        &["TYPE i info", r#"i_info{v="1.0"} 1.0"#],
    );
    bad(
        "# TYPE i info\ni_info{v=\"1.0\"} 0\n# EOF",
        "info value must be 1",
        2,
        1,
    );
    good(
        "# TYPE q summary\nq{quantile=\"0.5\"} NaN\nq{quantile=\"1\"} 2\nq_sum 3\nq_count 4\nq_created 5\n# EOF",
        &[
            "TYPE q summary",
            r#"q{quantile="0.5"} NaN"#,
            r#"q{quantile="1.0"} 2.0"#,
            "q_sum 3.0",
            "q_count 4.0",
            "q_created 5.0",
        ],
    );
    bad(
        "# TYPE q summary\nq{quantile=\"0.5\"} -1\n# EOF",
        "quantile value must not be negative",
        2,
        1,
    );
    bad(
        "# TYPE q summary\nq_count 1.5\n# EOF",
        "_count value must be an integer",
        2,
        1,
    );
    bad(
        "# TYPE q summary\nq{quantile=\"1e1\"} 1\n# EOF",
        "invalid quantile label value \"1e1\": must be a number from 0 to 1",
        2,
        1,
    );
    bad(
        "# TYPE c counter\nc_total NaN\n# EOF",
        "_total value must not be NaN",
        2,
        1,
    );
    bad(
        "# TYPE c counter\nc_total -0.5\n# EOF",
        "_total value must not be negative",
        2,
        1,
    );
    good("# TYPE g gauge\ng -0.5\n# EOF", &["TYPE g gauge", "g -0.5"]);
}

#[test]
fn histograms() {
    good(
        "# TYPE h histogram\nh_bucket{le=\"0.5\"} 0\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1.5\nh_created 10\n# EOF",
        &[
            "TYPE h histogram",
            r#"h_bucket{le="0.5"} 0.0"#,
            r#"h_bucket{le="1.0"} 1.0"#,
            r#"h_bucket{le="+Inf"} 2.0"#,
            "h_count 2.0",
            "h_sum 1.5",
            "h_created 10.0",
        ],
    );
    // Two points of one metric, told apart by their timestamps.
    good(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 0 1\nh_bucket{le=\"+Inf\"} 1 1\nh_bucket{le=\"1\"} 1 2\nh_bucket{le=\"+Inf\"} 2 2\n# EOF",
        &[
            "TYPE h histogram",
            r#"h_bucket{le="1.0"} 0.0 @1000"#,
            r#"h_bucket{le="+Inf"} 1.0 @1000"#,
            r#"h_bucket{le="1.0"} 1.0 @2000"#,
            r#"h_bucket{le="+Inf"} 2.0 @2000"#,
        ],
    );
    good(
        "# TYPE g gaugehistogram\ng_bucket{le=\"-1\"} 1\ng_bucket{le=\"+Inf\"} 2\ng_gcount 2\ng_gsum -3\n# EOF",
        &[
            "TYPE g gaugehistogram",
            r#"g_bucket{le="-1"} 1.0"#,
            r#"g_bucket{le="+Inf"} 2.0"#,
            "g_gcount 2.0",
            "g_gsum -3.0",
        ],
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 0\n# EOF",
        "histogram \"h\" has no +Inf bucket",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nb 1\n# EOF",
        "histogram \"h\" has no +Inf bucket",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{x=\"1\",le=\"1\"} 0\nh_bucket{x=\"2\",le=\"+Inf\"} 0\n# EOF",
        "histogram \"h\" has no +Inf bucket",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"NaN\"} 0\n# EOF",
        "invalid le label value \"NaN\"",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"x\"} 0\n# EOF",
        "invalid le label value \"x\"",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"Inf\"} 0\n# EOF",
        "le label value \"Inf\" must be written \"+Inf\"",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF",
        "bucket value must be an integer",
        2,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"1\"} 0\n# EOF",
        "histogram buckets out of order: le must increase",
        3,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF",
        "histogram bucket counts must not decrease",
        3,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\nh_sum 1\n# EOF",
        "histogram \"h\" has a count that differs from its +Inf bucket",
        4,
        1,
    );
    bad(
        "# TYPE h histogram\nh_bucket{le=\"-1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n# EOF",
        "histogram \"h\" has _sum and negative buckets",
        5,
        1,
    );
}

#[test]
fn exemplars() {
    good(
        "# TYPE a counter\na_total 1 1 # {trace_id=\"x\"} 0.5 1.25\na_total{} 2 3 # {} 1\n# EOF",
        &[
            "TYPE a counter",
            r#"a_total 1.0 @1000 # {trace_id="x"} 0.5 @1250"#,
            "a_total 2.0 @3000 # {} 1.0",
        ],
    );
    good(
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 # {\"a.b\"=\"\\\"\",c=\"#\"} NaN\n# EOF",
        &[
            "TYPE h histogram",
            r##"h_bucket{le="+Inf"} 1.0 # {a.b="\"",c="#"} NaN"##,
        ],
    );
    let ok = format!(
        "# TYPE a counter\na_total 1 # {{a=\"{}\"}} 1\n# EOF",
        "x".repeat(127)
    );
    assert!(parse(ok.as_bytes()).is_ok());
    let long = format!(
        "# TYPE a counter\na_total 1 # {{a=\"{}\"}} 1\n# EOF",
        "x".repeat(128)
    );
    bad(
        &long,
        "exemplar labels have 129 characters, more than 128",
        2,
        1,
    );
    bad(
        "# TYPE a gauge\na 1 # {} 1\n# EOF",
        "exemplars are only allowed on counter _total and histogram _bucket samples",
        2,
        1,
    );
    bad(
        "# TYPE a counter\na_total 1 # {b=\"1\",b=\"2\"} 1\n# EOF",
        "duplicate label name \"b\"",
        2,
        20,
    );
    bad(
        "# TYPE a counter\na_total 1 # {\"b\"} 1\n# EOF",
        "expected equal",
        2,
        17,
    );
    bad(
        "# TYPE a counter\na_total 1 # {} 1 2 3\n# EOF",
        "unexpected text after the exemplar",
        2,
        19,
    );
    bad(
        "# TYPE a counter\na_total 1 # {}\n# EOF",
        "expected a space and the value after the exemplar labels",
        2,
        15,
    );
    bad(
        "# TYPE a counter\na_total 1 # {} x\n# EOF",
        "invalid exemplar value",
        2,
        16,
    );
    bad(
        "# TYPE a counter\na_total 1 # {} 1 x\n# EOF",
        "invalid exemplar timestamp",
        2,
        18,
    );
    bad(
        "# TYPE a counter\na_total 1 #\n# EOF",
        "expected an exemplar \"# {labels} value\"",
        2,
        11,
    );
}

#[test]
fn le_and_quantile_are_normalized_but_series_is_raw() {
    let input = b"# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n# EOF\n";
    let mut p = OpenMetricsParser::new(input).unwrap();
    let mut seen = Vec::new();
    while let Some(e) = p.next() {
        if let Entry::Sample(s) = e.unwrap() {
            seen.push((
                String::from_utf8(s.series.to_vec()).unwrap(),
                s.labels.get("le").unwrap().to_string(),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            ("h_bucket{le=\"1\"}".to_string(), "1.0".to_string()),
            ("h_bucket{le=\"+Inf\"}".to_string(), "+Inf".to_string())
        ]
    );
}

#[test]
fn invalid_utf8_is_rejected_up_front() {
    let e = OpenMetricsParser::new(b"# HELP a x\n# HELP b \xff\n# EOF\n")
        .err()
        .unwrap();
    assert_eq!(
        (e.message.as_str(), e.position.line, e.position.column),
        ("invalid UTF-8", 2, 10)
    );
}
