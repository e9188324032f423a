//! Invalid queries and Prometheus's exact error messages.
//!
//! `prometheus_3_14` holds the expectations of Prometheus v3.14.0's
//! `promql/parser/parse_test.go` (first error of each failing case, with
//! experimental functions, duration expressions and extended range
//! selectors on, fill modifiers off, as that test runs).
#![allow(clippy::unwrap_used)]

use promql_syntax::{Options, parse_with};

fn opts_3_14() -> Options {
    Options {
        binop_fill_modifiers: false,
        ..Options::all()
    }
}

#[track_caller]
fn check_with(opts: Options, input: &str, want: &str) {
    match parse_with(input, opts) {
        Ok(e) => panic!("{input:?} parsed as {e}, want error {want:?}"),
        Err(e) => assert_eq!(e.to_string(), want, "{input:?}"),
    }
}

#[test]
fn prometheus_3_14() {
    let mut n = 0;
    let mut check = |input: &str, want: &str| {
        n += 1;
        check_with(opts_3_14(), input, want)
    };
    check(
        "",
        "unknown position: parse error: no expression found in input",
    );
    check(
        "# just a comment\n\n",
        "1:1: parse error: no expression found in input",
    );
    check("1+", "1:3: parse error: unexpected end of input");
    check(".", "1:1: parse error: unexpected character: '.'");
    check(
        "2.5.",
        "1:1: parse error: bad number or duration syntax: \"2.5.\"",
    );
    check(
        "100..4",
        "1:1: parse error: bad number or duration syntax: \"100..\"",
    );
    check(
        "0deadbeef",
        "1:1: parse error: bad number or duration syntax: \"0de\"",
    );
    check("1 /", "1:4: parse error: unexpected end of input");
    check("*1", "1:1: parse error: unexpected <op:*>");
    check("(1))", "1:5: parse error: unexpected right parenthesis ')'");
    check("((1)", "1:5: parse error: unclosed left parenthesis");
    check(
        "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
        "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999\": value out of range",
    );
    check("(", "1:2: parse error: unclosed left parenthesis");
    check(
        "1 and 1",
        "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
    );
    check(
        "1 == 1",
        "1:3: parse error: comparisons between scalars must use BOOL modifier",
    );
    check(
        "1 or 1",
        "1:1: parse error: set operator \"or\" not allowed in binary scalar expression",
    );
    check(
        "1 unless 1",
        "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression",
    );
    check(
        "1 !~ 1",
        "1:3: parse error: unexpected character after '!': '~'",
    );
    check(
        "1 =~ 1",
        "1:3: parse error: unexpected character after '=': '~'",
    );
    check(
        "-\"string\"",
        "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
    );
    check(
        "-test[5m]",
        "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"",
    );
    check("*test", "1:1: parse error: unexpected <op:*>");
    check("@@", "1:1: parse error: unexpected <op:@>");
    check(
        "1 offset 1d",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    check(
        "foo offset 1s offset 2s",
        "1:1: parse error: offset may not be set multiple times",
    );
    check(
        "a - on(b) ignoring(c) d",
        "1:11: parse error: unexpected <ignoring>",
    );
    check(
        "foo and 1",
        "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
    );
    check(
        "1 and foo",
        "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
    );
    check(
        "foo or 1",
        "1:1: parse error: set operator \"or\" not allowed in binary scalar expression",
    );
    check(
        "1 or foo",
        "1:1: parse error: set operator \"or\" not allowed in binary scalar expression",
    );
    check(
        "foo unless 1",
        "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression",
    );
    check(
        "1 unless foo",
        "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression",
    );
    check(
        "1 or on(bar) foo",
        "1:1: parse error: vector matching only allowed between instant vectors",
    );
    check(
        "foo == on(bar) 10",
        "1:1: parse error: vector matching only allowed between instant vectors",
    );
    check(
        "foo + group_left(baz) bar",
        "1:7: parse error: unexpected <group_left>",
    );
    check(
        "foo and on(bar) group_left(baz) bar",
        "1:1: parse error: no grouping allowed for \"and\" operation",
    );
    check(
        "foo and on(bar) group_right(baz) bar",
        "1:1: parse error: no grouping allowed for \"and\" operation",
    );
    check(
        "foo or on(bar) group_left(baz) bar",
        "1:1: parse error: no grouping allowed for \"or\" operation",
    );
    check(
        "foo or on(bar) group_right(baz) bar",
        "1:1: parse error: no grouping allowed for \"or\" operation",
    );
    check(
        "foo unless on(bar) group_left(baz) bar",
        "1:1: parse error: no grouping allowed for \"unless\" operation",
    );
    check(
        "foo unless on(bar) group_right(baz) bar",
        "1:1: parse error: no grouping allowed for \"unless\" operation",
    );
    check(
        "http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}",
        "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once",
    );
    check(
        "foo + bool bar",
        "1:5: parse error: bool modifier can only be used on comparison operators",
    );
    check(
        "foo + bool 10",
        "1:5: parse error: bool modifier can only be used on comparison operators",
    );
    check(
        "foo and bool 10",
        "1:5: parse error: bool modifier can only be used on comparison operators",
    );
    check(
        "http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}",
        "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once",
    );
    check(
        "foo @ +Inf",
        "1:1: parse error: timestamp out of bounds for @ modifier: +Inf",
    );
    check(
        "foo @ -Inf",
        "1:1: parse error: timestamp out of bounds for @ modifier: -Inf",
    );
    check(
        "foo @ NaN",
        "1:1: parse error: timestamp out of bounds for @ modifier: NaN",
    );
    check(
        "{",
        "1:2: parse error: unexpected end of input inside braces",
    );
    check("}", "1:1: parse error: unexpected character: '}'");
    check(
        "some{",
        "1:6: parse error: unexpected end of input inside braces",
    );
    check("some}", "1:5: parse error: unexpected character: '}'");
    check(
        "some_metric{a=b}",
        "1:15: parse error: unexpected identifier \"b\" in label matching, expected string",
    );
    check(
        "some_metric{a:b=\"b\"}",
        "1:14: parse error: unexpected character inside braces: ':'",
    );
    check(
        "foo{a*\"b\"}",
        "1:6: parse error: unexpected character inside braces: '*'",
    );
    check(
        "foo{a>=\"b\"}",
        "1:6: parse error: unexpected character inside braces: '>'",
    );
    check(
        "foo{gibberish}",
        "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator",
    );
    check(
        "foo{1}",
        "1:5: parse error: unexpected character inside braces: '1'",
    );
    check(
        "{}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "{x=\"\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "{x=~\".*\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "{x!~\".+\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "{x!=\"a\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "foo{__name__=\"bar\"}",
        "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
    );
    check(
        "foo{__name__= =}",
        "1:15: parse error: unexpected \"=\" in label matching, expected string",
    );
    check(
        "foo{,}",
        "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\"",
    );
    check(
        "foo{__name__ == \"bar\"}",
        "1:15: parse error: unexpected \"=\" in label matching, expected string",
    );
    check(
        "foo{__name__=\"bar\" lol}",
        "1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or \"}\"",
    );
    check(
        "foo{\"a\"=}",
        "1:9: parse error: unexpected \"}\" in label matching, expected string",
    );
    check(
        "foo[5mm]",
        "1:5: parse error: bad number or duration syntax: \"5mm\"",
    );
    check(
        "foo[5m1]",
        "1:5: parse error: bad number or duration syntax: \"5m1\"",
    );
    check(
        "foo[5m:1m1]",
        "1:8: parse error: bad number or duration syntax: \"1m1\"",
    );
    check(
        "foo[5y1hs]",
        "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\"",
    );
    check(
        "foo[5m1h]",
        "1:5: parse error: not a valid duration string: \"5m1h\"",
    );
    check(
        "foo[5m1m]",
        "1:5: parse error: not a valid duration string: \"5m1m\"",
    );
    check(
        "foo[0m]",
        "1:5: parse error: duration must be greater than 0",
    );
    check(
        "foo[\"5m\"]",
        "1:5: parse error: unexpected character in duration expression: '\"'",
    );
    check(
        "foo[]",
        "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()",
    );
    check(
        "foo[-1]",
        "1:5: parse error: duration must be greater than 0",
    );
    check(
        "some_metric[5m] OFFSET 1mm",
        "1:24: parse error: bad number or duration syntax: \"1mm\"",
    );
    check(
        "some_metric[5m] OFFSET",
        "1:23: parse error: unexpected end of input in offset, expected number, duration, step(), or range()",
    );
    check(
        "some_metric OFFSET 1m[5m]",
        "1:22: parse error: no offset modifiers allowed before range",
    );
    check(
        "some_metric[5m] @",
        "1:18: parse error: unexpected end of input in @, expected timestamp",
    );
    check(
        "some_metric @ 1234 [5m]",
        "1:20: parse error: no @ modifiers allowed before range",
    );
    check(
        "(foo + bar)[5m]",
        "1:12: parse error: ranges only allowed for vector selectors",
    );
    check(
        "sum by (\"foo)(some_metric{})",
        "1:9: parse error: unterminated quoted string",
    );
    check(
        "sum without(==)(some_metric)",
        "1:13: parse error: unexpected <op:==> in grouping opts, expected label",
    );
    check(
        "sum without(,)(some_metric)",
        "1:13: parse error: unexpected \",\" in grouping opts, expected label",
    );
    check(
        "sum without(foo,,)(some_metric)",
        "1:17: parse error: unexpected \",\" in grouping opts, expected label",
    );
    check(
        "sum some_metric by (test)",
        "1:5: parse error: unexpected identifier \"some_metric\"",
    );
    check(
        "sum (some_metric) by test",
        "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\"",
    );
    check(
        "sum () by (test)",
        "1:1: parse error: no arguments for aggregate expression provided",
    );
    check(
        "MIN keep_common (some_metric)",
        "1:5: parse error: unexpected identifier \"keep_common\"",
    );
    check(
        "MIN (some_metric) keep_common",
        "1:19: parse error: unexpected identifier \"keep_common\"",
    );
    check(
        "sum (some_metric) without (test) by (test)",
        "1:34: parse error: unexpected <by>",
    );
    check(
        "sum without (test) (some_metric) by (test)",
        "1:34: parse error: unexpected <by>",
    );
    check(
        "topk(some_metric)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
    );
    check(
        "topk(some_metric,)",
        "1:17: parse error: trailing commas not allowed in function call args",
    );
    check(
        "topk(some_metric, other_metric)",
        "1:6: parse error: expected type scalar in aggregation parameter, got instant vector",
    );
    check(
        "count_values(5, other_metric)",
        "1:14: parse error: expected type string in aggregation parameter, got scalar",
    );
    check(
        "rate(some_metric[5m]) @ 1234",
        "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    check(
        "floor()",
        "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0",
    );
    check(
        "floor(some_metric, other_metric)",
        "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2",
    );
    check(
        "floor(some_metric, 1)",
        "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2",
    );
    check(
        "floor(1)",
        "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar",
    );
    check(
        "hour(some_metric, some_metric, some_metric)",
        "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3",
    );
    check(
        "time(some_metric)",
        "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1",
    );
    check(
        "non_existent_function_far_bar()",
        "1:1: parse error: unknown function with name \"non_existent_function_far_bar\"",
    );
    check(
        "rate(some_metric)",
        "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
    );
    check("*1", "1:1: parse error: unexpected <op:*>");
    check("-=", "1:2: parse error: unexpected \"=\"");
    check("++-++-+-+-<", "1:11: parse error: unexpected <op:<>");
    check("e-+=/(0)", "1:4: parse error: unexpected \"=\"");
    check(
        "a>b()",
        "1:3: parse error: unknown function with name \"b\"",
    );
    check(
        "rate(avg)",
        "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
    );
    check("`\\``", "1:4: parse error: unterminated raw string");
    check("\"\\", "1:1: parse error: escape sequence not terminated");
    check(
        "\"\\c\"",
        "1:1: parse error: unknown escape sequence U+0063 'c'",
    );
    check(
        "\"\\x.\"",
        "1:1: parse error: illegal character U+002E '.' in escape sequence",
    );
    check(
        "foo{bar=\"baz\"}[",
        "1:16: parse error: unexpected end of input in duration expression",
    );
    check(
        "test[5d] OFFSET 10s [10m:5s]",
        "1:1: parse error: subquery is only allowed on instant vector, got matrix instead",
    );
    check(
        "(foo + bar{nm=\"val\"})[5m:][10m:5s]",
        "1:1: parse error: subquery is only allowed on instant vector, got matrix instead",
    );
    check(
        "rate(food[1m])[1h] offset 1h",
        "1:15: parse error: ranges only allowed for vector selectors",
    );
    check(
        "rate(food[1m])[1h] @ 100",
        "1:15: parse error: ranges only allowed for vector selectors",
    );
    check(
        "info(rate(http_request_counter_total{}[5m]), target_info{foo=\"bar\"})",
        "1:46: parse error: expected label selectors only, got vector selector instead",
    );
    check(
        "info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\"} == 1)",
        "1:51: parse error: expected label selectors only",
    );
    check(
        "foo[step]",
        "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()",
    );
    check("foo[step()/0d]", "1:11: parse error: division by zero");
    check("foo[5s/0d]", "1:7: parse error: division by zero");
    check("foo offset (4d/0)", "1:15: parse error: division by zero");
    check("foo[5s%0d]", "1:7: parse error: modulo by zero");
    check(
        "foo offset 9.5e10",
        "1:12: parse error: duration out of range",
    );
    check("foo[9.5e10]", "1:5: parse error: duration out of range");
    check("sum(", "1:5: parse error: unclosed left parenthesis");
    check("sum(rate(", "1:10: parse error: unclosed left parenthesis");
    check(
        "foo[5s x 5s]",
        "1:8: parse error: unexpected character: 'x', expected ':'",
    );
    check(
        "foo[5s s 5s]",
        "1:8: parse error: unexpected character: 's', expected ':'",
    );
    check(
        "1[5m] smoothed",
        "1:2: parse error: ranges only allowed for vector selectors",
    );
    check(
        "1[5m] anchored",
        "1:2: parse error: ranges only allowed for vector selectors",
    );
    println!("{n} invalid queries from Prometheus 3.14's parse_test.go");
}

/// Queries checked against the real Prometheus 2.42 (`/api/v1/query` on
/// loopback answers `bad_data` with its parser's message) whose message
/// 2.42 shares with 3.14's grammar; default features (all off).
#[test]
fn agrees_with_prometheus_2_42() {
    let mut n = 0;
    let mut check = |input: &str, want: &str| {
        n += 1;
        check_with(Options::default(), input, want)
    };
    check(
        "sum(foo bar)",
        "1:9: parse error: unexpected identifier \"bar\" in aggregation",
    );
    check(
        "rate(foo bar)",
        "1:10: parse error: unexpected identifier \"bar\"",
    );
    check("foo bar", "1:5: parse error: unexpected identifier \"bar\"");
    check(
        "(foo bar)",
        "1:6: parse error: unexpected identifier \"bar\"",
    );
    check(
        "foo{a=\"b\" c}",
        "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
    );
    check(
        "sum by (a b) (x)",
        "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"",
    );
    check("foo[5m", "1:7: parse error: unclosed left bracket");
    check("foo + ", "1:7: parse error: unexpected end of input");
    check(
        "foo @",
        "1:6: parse error: unexpected end of input in @, expected timestamp",
    );
    check(
        "rate(foo[5m] bar)",
        "1:14: parse error: unexpected identifier \"bar\"",
    );
    check("abs(1,", "1:7: parse error: unclosed left parenthesis");
    check("1 +", "1:4: parse error: unexpected end of input");
    check(
        "sum(1,2,3)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 3",
    );
    check("foo[5m:1m:1m]", "1:10: parse error: unexpected colon ':'");
    check("a or on(x) bool b", "1:12: parse error: unexpected <bool>");
    check(")", "1:2: parse error: unexpected right parenthesis ')'");
    check("foo)", "1:5: parse error: unexpected right parenthesis ')'");
    check("1 + +", "1:6: parse error: unexpected end of input");
    check(
        "x offset 5m offset 5m",
        "1:1: parse error: offset may not be set multiple times",
    );
    check(
        "sum(rate(foo bar))",
        "1:14: parse error: unexpected identifier \"bar\" in aggregation",
    );
    check(
        "sum(x) bar",
        "1:8: parse error: unexpected identifier \"bar\"",
    );
    check(
        "sum by (a) (x) bar",
        "1:16: parse error: unexpected identifier \"bar\"",
    );
    check(
        "sum(x[5m] bar)",
        "1:11: parse error: unexpected identifier \"bar\" in aggregation",
    );
    check(
        "foo[5m] bar",
        "1:9: parse error: unexpected identifier \"bar\"",
    );
    check(
        "x + sum(y z)",
        "1:11: parse error: unexpected identifier \"z\" in aggregation",
    );
    check(
        "sum(x + )",
        "1:9: parse error: unexpected \")\" in aggregation",
    );
    check(
        "foo{a=\"b\"} bar",
        "1:12: parse error: unexpected identifier \"bar\"",
    );
    check(
        "sum(foo{a=\"b\" c})",
        "1:15: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
    );
    check(
        "sum()",
        "1:1: parse error: no arguments for aggregate expression provided",
    );
    check("sum x", "1:5: parse error: unexpected identifier \"x\"");
    check(
        "sum by x",
        "1:8: parse error: unexpected identifier \"x\" in grouping opts, expected \"(\"",
    );
    check("sum by (x", "1:10: parse error: unclosed left parenthesis");
    check("foo[5m:", "1:8: parse error: unclosed left bracket");
    check("foo[5m:1m", "1:10: parse error: unclosed left bracket");
    check(
        "sum(foo[5m)",
        "1:11: parse error: unexpected \")\" in subquery or range, expected \":\" or \"]\"",
    );
    check("foo[5m]]", "1:8: parse error: unexpected right bracket ']'");
    check(
        "foo{",
        "1:5: parse error: unexpected end of input inside braces",
    );
    check(
        "foo{a",
        "1:6: parse error: unexpected end of input inside braces",
    );
    check(
        "foo{a=",
        "1:7: parse error: unexpected end of input inside braces",
    );
    check(
        "foo{a=\"b\"",
        "1:10: parse error: unexpected end of input inside braces",
    );
    check(
        "foo{a=\"b\",",
        "1:11: parse error: unexpected end of input inside braces",
    );
    check(
        "{a!b}",
        "1:3: parse error: unexpected character after '!' inside braces: 'b'",
    );
    check(
        "foo{a=~b}",
        "1:8: parse error: unexpected identifier \"b\" in label matching, expected string",
    );
    check("foo == == bar", "1:8: parse error: unexpected <op:==>");
    check(
        "foo and on (a) group_left bar",
        "1:1: parse error: no grouping allowed for \"and\" operation",
    );
    check(
        "foo{a=~\"a**\"}",
        "1:5: parse error: error parsing regexp: invalid nested repetition operator: `**`",
    );
    check(
        "rate(foo)",
        "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
    );
    check(
        "rate(foo[5m], 1)",
        "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2",
    );
    check(
        "histogram_quantile(foo, bar)",
        "1:20: parse error: expected type scalar in call to function \"histogram_quantile\", got instant vector",
    );
    check(
        "label_replace(foo, \"a\", \"b\", \"c\")",
        "1:1: parse error: expected 5 argument(s) in call to \"label_replace\", got 4",
    );
    check(
        "label_join(foo)",
        "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1",
    );
    check(
        "round(foo, 1, 2)",
        "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3",
    );
    check(
        "time(1)",
        "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1",
    );
    check(
        "vector(\"a\")",
        "1:8: parse error: expected type scalar in call to function \"vector\", got string",
    );
    check(
        "topk(foo, bar)",
        "1:6: parse error: expected type scalar in aggregation parameter, got instant vector",
    );
    check(
        "quantile(\"a\", foo)",
        "1:10: parse error: expected type scalar in aggregation parameter, got string",
    );
    check(
        "count_values(1, foo)",
        "1:14: parse error: expected type string in aggregation parameter, got scalar",
    );
    check(
        "sum(foo[5m])",
        "1:5: parse error: expected type instant vector in aggregation expression, got range vector",
    );
    check(
        "sum(\"a\")",
        "1:5: parse error: expected type instant vector in aggregation expression, got string",
    );
    check(
        "-\"a\"",
        "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
    );
    check(
        "-foo[5m]",
        "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"",
    );
    check(
        "\"a\" + 1",
        "1:1: parse error: binary expression must contain only scalar and instant vector types",
    );
    check(
        "foo[5m] + 1",
        "1:1: parse error: binary expression must contain only scalar and instant vector types",
    );
    check(
        "1 > 2",
        "1:3: parse error: comparisons between scalars must use BOOL modifier",
    );
    check(
        "1 == bool 2 == 3",
        "1:13: parse error: comparisons between scalars must use BOOL modifier",
    );
    check(
        "foo * on(a) group_left(a) bar",
        "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once",
    );
    check(
        "foo[5m][5m]",
        "1:8: parse error: ranges only allowed for vector selectors",
    );
    check(
        "foo offset 5m[5m]",
        "1:14: parse error: no offset modifiers allowed before range",
    );
    check(
        "foo @ 5 [5m]",
        "1:9: parse error: no @ modifiers allowed before range",
    );
    check(
        "sum(foo) offset 5m",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    check(
        "(foo) @ 5",
        "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    check(
        "1 offset 5m",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    check(
        "foo[5m:1m][1m]",
        "1:11: parse error: ranges only allowed for vector selectors",
    );
    check(
        "sum(foo)[5m]",
        "1:9: parse error: ranges only allowed for vector selectors",
    );
    check(
        "sum(foo) by (a) without (b)",
        "1:17: parse error: unexpected <without>",
    );
    check(
        "{__name__=\"\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "{a=~\".*\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check(
        "{a!=\"b\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check("foo:bar()", "1:8: parse error: unexpected \"(\"");
    check(
        "unknown_fn(1)",
        "1:1: parse error: unknown function with name \"unknown_fn\"",
    );
    check(
        "sum(1) by ()",
        "1:5: parse error: expected type instant vector in aggregation expression, got scalar",
    );
    check(
        "x{a=\"\\q\"}",
        "1:5: parse error: unknown escape sequence U+0071 'q'",
    );
    check(
        "x{a=\"\\xZ\"}",
        "1:5: parse error: illegal character U+005A 'Z' in escape sequence",
    );
    check(
        "\"\\u{1}\"",
        "1:1: parse error: illegal character U+007B '{' in escape sequence",
    );
    check("'abc", "1:1: parse error: unterminated quoted string");
    check("`abc", "1:1: parse error: unterminated raw string");
    check(
        "foo{a=\"b\"}{c=\"d\"}",
        "1:11: parse error: unexpected \"{\"",
    );
    check(
        "foo @ start",
        "1:12: parse error: unexpected end of input in @, expected timestamp",
    );
    check(
        "foo @ start(",
        "1:13: parse error: unclosed left parenthesis",
    );
    check(
        "foo @ end() @ start()",
        "1:1: parse error: @ <timestamp> may not be set multiple times",
    );
    check(
        "foo offset 1h30",
        "1:12: parse error: bad number or duration syntax: \"1h30\"",
    );
    check(
        "foo offset 5x",
        "1:12: parse error: bad number or duration syntax: \"5\"",
    );
    check(
        "1e999",
        "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e999\": value out of range",
    );
    check(
        "0x",
        "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax",
    );
    check(
        "foo !~ \"a\"",
        "1:5: parse error: unexpected character after '!': '~'",
    );
    check(
        "foo !",
        "1:5: parse error: unexpected character after '!': '�'",
    );
    check("foo = bar", "1:5: parse error: unexpected \"=\"");
    check("foo ~ bar", "1:5: parse error: unexpected character: '~'");
    check("[5m]", "1:1: parse error: unexpected \"[\"");
    check(
        "foo[5m:0s]",
        "1:8: parse error: duration must be greater than 0",
    );
    check(
        "quantile(0.5)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
    );
    check(
        "topk(1, foo, bar)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 3",
    );
    check(
        "count_values()",
        "1:1: parse error: no arguments for aggregate expression provided",
    );
    check(
        "sum without (without) (x)",
        "1:14: parse error: unexpected <without> in grouping opts, expected label",
    );
    check(
        "sum by (1) (x)",
        "1:9: parse error: unexpected number \"1\" in grouping opts, expected label",
    );
    check(
        "sum by (,) (x)",
        "1:9: parse error: unexpected \",\" in grouping opts, expected label",
    );
    check(
        "foo * on(a b) bar",
        "1:12: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"",
    );
    check(
        "foo * on(a) group_left(b c) bar",
        "1:26: parse error: unexpected identifier \"c\" in grouping opts, expected \",\" or \")\"",
    );
    check(
        "foo * group_left bar",
        "1:7: parse error: unexpected <group_left>",
    );
    check(
        "foo * on(a) group_left (b)",
        "1:27: parse error: unexpected end of input",
    );
    check("1 < bool", "1:9: parse error: unexpected end of input");
    check(
        "foo @ 1e30",
        "1:1: parse error: timestamp out of bounds for @ modifier: 1000000000000000019884624838656.000000",
    );
    check(
        "rate(x[5m],)",
        "1:11: parse error: trailing commas not allowed in function call args",
    );
    check(
        "rate(x,,)",
        "1:7: parse error: trailing commas not allowed in function call args",
    );
    check("abs(", "1:5: parse error: unclosed left parenthesis");
    check(
        "abs())",
        "1:7: parse error: unexpected right parenthesis ')'",
    );
    check("]", "1:1: parse error: unexpected right bracket ']'");
    check("[", "1:1: parse error: unexpected \"[\"");
    check(
        "foo{a=\"b\" # comment",
        "1:20: parse error: unexpected end of input inside braces",
    );
    check(
        "sum(foo, )",
        "1:8: parse error: trailing commas not allowed in function call args",
    );
    check(
        "absent(nonexistent{job=\"myjob\"}[1m])",
        "1:8: parse error: expected type instant vector in call to function \"absent\", got range vector",
    );
    check(
        "foo unless bool bar",
        "1:5: parse error: bool modifier can only be used on comparison operators",
    );
    println!("{n} invalid queries with 2.42's messages");
}

/// Where 3.x words an error differently from 2.42 (3.x wins; 2.42's text
/// in the comment).
#[test]
fn differs_from_prometheus_2_42() {
    let check = |input: &str, want: &str| check_with(Options::default(), input, want);
    // 2.42: `1:11: parse error: unexpected end of input in offset, expected duration`
    check(
        "foo offset",
        "1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()",
    );
    // 2.42 quotes the wrapped pattern: ``missing closing ): `^(?:(.*)$` ``.
    check(
        r#"foo{a=~"(.*"}"#,
        "1:5: parse error: error parsing regexp: missing closing ): `(.*`",
    );
    // 2.42: `missing unit character in duration` (3.x lexes duration expressions).
    check(
        "foo[]",
        r#"1:5: parse error: unexpected "]" in subquery or range selector, expected number, duration, step(), or range()"#,
    );
    check(
        "foo[-5m]",
        "1:5: parse error: duration must be greater than 0",
    );
    // 2.42: `bad duration syntax: "5mm"`.
    check(
        "foo[5mm]",
        r#"1:5: parse error: bad number or duration syntax: "5mm""#,
    );
    // 2.42: `not a valid duration string: "5y1hs"`.
    check(
        "foo[5y1hs]",
        r#"1:5: parse error: unknown unit "hs" in duration "5y1hs""#,
    );
    // 2.42 rejected quoted names; 3.x accepts them, so these errors are new.
    check(
        r#"sum by ("") (x)"#,
        r#"1:9: parse error: invalid label name for grouping: """#,
    );
    check(
        r#"foo{"bar"}"#,
        r#"1:1: parse error: metric name must not be set twice: "foo" or "bar""#,
    );
    // 2.42: `unexpected "<Item 57385>" <op:@>`.
    check("@", "1:1: parse error: unexpected <op:@>");
    // Features that 2.42 did not have, off by default in 3.x.
    check(
        "start()",
        r#"1:1: parse error: function "start" is not enabled"#,
    );
    check(
        "limitk(1, foo)",
        "1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
    );
    check(
        "foo anchored",
        "1:1: parse error: anchored modifier is experimental and not enabled",
    );
    check(
        "foo[5m+1m]",
        "1:5: parse error: experimental duration expression is not enabled",
    );
    check(
        "foo + fill(1) bar",
        "1:1: parse error: binop fill modifiers are experimental and not enabled",
    );
    check("foo fill(1) bar", "1:5: parse error: unexpected <fill>");
}
