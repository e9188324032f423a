//! Parser unit tables: tree shapes (as fully parenthesized S-expressions)
//! and canonical printing.

use super::{Options, parse_with};
use crate::ast::{AtModifier, DurationArg, DurationExpr, Expr, UnaryOp};

/// The tree as an S-expression, to check precedence and modifiers.
fn sexpr(e: &Expr) -> String {
    match e {
        Expr::Aggregate(a) => {
            let param = a
                .param
                .as_ref()
                .map(|p| format!("{} ", sexpr(p)))
                .unwrap_or_default();
            let g = if a.without { "without" } else { "by" };
            format!(
                "({} {g}{:?} {param}{})",
                a.op.as_str(),
                a.grouping,
                sexpr(&a.expr)
            )
        }
        Expr::Binary(b) => {
            let m = match &b.matching {
                Some(m) => format!(" {:?}", m.card),
                None => String::new(),
            };
            let bool_ = if b.return_bool { " bool" } else { "" };
            format!(
                "({}{bool_}{m} {} {})",
                b.op.as_str(),
                sexpr(&b.lhs),
                sexpr(&b.rhs)
            )
        }
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(sexpr).collect();
            format!("({} {})", c.func.name, args.join(" "))
        }
        Expr::MatrixSelector(m) => format!(
            "(range {} {})",
            sexpr(&Expr::VectorSelector(m.vector_selector.clone())),
            arg(&m.range)
        ),
        Expr::Number(n) => format!("{}", n.value),
        Expr::Paren(p) => format!("(paren {})", sexpr(&p.expr)),
        Expr::String(s) => format!("{:?}", s.to_string_lossy()),
        Expr::Subquery(s) => format!(
            "(subquery {} {} {}{}{})",
            sexpr(&s.expr),
            arg(&s.range),
            s.step.as_ref().map(arg).unwrap_or_default(),
            s.offset
                .as_ref()
                .map(|o| format!(" offset {}", arg(o)))
                .unwrap_or_default(),
            at(s.at)
        ),
        Expr::Unary(u) => {
            let op = if u.op == UnaryOp::Minus { "-" } else { "+" };
            format!("({op} {})", sexpr(&u.expr))
        }
        Expr::VectorSelector(vs) => {
            let mut s = vs.name.clone().unwrap_or_default();
            if let Some(o) = &vs.offset {
                s.push_str(&format!(" offset {}", arg(o)));
            }
            s.push_str(&at(vs.at));
            if vs.anchored {
                s.push_str(" anchored");
            }
            if vs.smoothed {
                s.push_str(" smoothed");
            }
            s
        }
    }
}

fn at(a: Option<AtModifier>) -> String {
    match a {
        Some(AtModifier::Timestamp(ms)) => format!(" @{ms}"),
        Some(AtModifier::Start) => " @start".into(),
        Some(AtModifier::End) => " @end".into(),
        None => String::new(),
    }
}

fn arg(a: &DurationArg) -> String {
    match a {
        DurationArg::Fixed(d) => format!("{}ms", d.millis()),
        DurationArg::Expr(e) => dexpr(e),
    }
}

fn dexpr(e: &DurationExpr) -> String {
    let (s, w) = match e {
        DurationExpr::Number(n) => (format!("{}", n.value), false),
        DurationExpr::Step { wrapped, .. } => ("step".into(), *wrapped),
        DurationExpr::Range { wrapped, .. } => ("range".into(), *wrapped),
        DurationExpr::MinMax {
            max,
            lhs,
            rhs,
            wrapped,
            ..
        } => (
            format!(
                "({} {} {})",
                if *max { "max_of" } else { "min_of" },
                dexpr(lhs),
                dexpr(rhs)
            ),
            *wrapped,
        ),
        DurationExpr::Neg { expr, wrapped, .. } => (format!("(- {})", dexpr(expr)), *wrapped),
        DurationExpr::Binary {
            op,
            lhs,
            rhs,
            wrapped,
            ..
        } => (
            format!("({} {} {})", op.as_str(), dexpr(lhs), dexpr(rhs)),
            *wrapped,
        ),
    };
    if w { format!("[{s}]") } else { s }
}

#[track_caller]
fn check(input: &str, tree: &str, printed: &str) {
    let e = parse_with(input, Options::all()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(sexpr(&e), tree, "tree of {input:?}");
    assert_eq!(e.to_string(), printed, "printing {input:?}");
}

#[test]
fn precedence_and_associativity() {
    check("1 + 2 * 3", "(+ 1 (* 2 3))", "1 + 2 * 3");
    check("1 * 2 + 3", "(+ (* 1 2) 3)", "1 * 2 + 3");
    check("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))", "2 ^ 3 ^ 2");
    check("1 - 2 - 3", "(- (- 1 2) 3)", "1 - 2 - 3");
    check("-2 ^ 2", "(- (^ 2 2))", "-2 ^ 2");
    check("-a * b", "(* OneToOne (- a) b)", "-a * b");
    check(
        "a ^ -b * c",
        "(* OneToOne (^ OneToOne a (- b)) c)",
        "a ^ -b * c",
    );
    check(
        "a or b and c unless d",
        "(or ManyToMany a (unless ManyToMany (and ManyToMany b c) d))",
        "a or b and c unless d",
    );
    check(
        "a == b + c",
        "(== OneToOne a (+ OneToOne b c))",
        "a == b + c",
    );
    check(
        "a atan2 b + c",
        "(+ OneToOne (atan2 OneToOne a b) c)",
        "a atan2 b + c",
    );
    check("a </ 5 + 1", "(</ a (+ 5 1))", "a </ 5 + 1");
    check("-1", "-1", "-1");
    check("- -1", "1", "1");
    check("+foo", "(+ foo)", "+foo");
    check(
        "-foo offset 5m",
        "(- foo offset 300000ms)",
        "-foo offset 5m",
    );
    check(
        "a + b offset 1m",
        "(+ OneToOne a b offset 60000ms)",
        "a + b offset 1m",
    );
    check("1 > bool 2", "(> bool 1 2)", "1 > bool 2");
    check("(1 + 2) * 3", "(* (paren (+ 1 2)) 3)", "(1 + 2) * 3");
}

#[test]
fn matching_and_fill() {
    check(
        "a * on(x, y) group_left(z) b",
        "(* ManyToOne a b)",
        "a * on (x, y) group_left (z) b",
    );
    check(
        "a + ignoring(x) b",
        "(+ OneToOne a b)",
        "a + ignoring (x) b",
    );
    check("a and on() b", "(and ManyToMany a b)", "a and on () b");
    check(
        "a > bool on(x) group_right b",
        "(> bool OneToMany a b)",
        "a > bool on (x) group_right () b",
    );
    check("a + fill(0) b", "(+ OneToOne a b)", "a + fill (0) b");
    check(
        "a + fill_left(-1) fill_right(2) b",
        "(+ OneToOne a b)",
        "a + fill_left (-1) fill_right (2) b",
    );
    check(
        "a + fill_right(1e6) fill_left(1e6) b",
        "(+ OneToOne a b)",
        "a + fill (1e+06) b",
    );
    check(
        "fill + fill_left",
        "(+ OneToOne fill fill_left)",
        "fill + fill_left",
    );
}

#[test]
fn selectors_and_modifiers() {
    check(r#"foo{b="2",a=~"x"}"#, "foo", r#"foo{a=~"x",b="2"}"#);
    check(
        r#"{"service.name"="a", "foo.bar"}"#,
        "",
        r#"{"service.name"="a",__name__="foo.bar"}"#,
    );
    check("foo[5m]", "(range foo 300000ms)", "foo[5m]");
    check(
        "foo[90s] offset -1h @ 1.5",
        "(range foo offset -3600000ms @1500 300000ms)"
            .replace("300000ms", "90000ms")
            .as_str(),
        "foo[1m30s] @ 1.500 offset -1h",
    );
    check(
        "foo @ start() offset 1d",
        "foo offset 86400000ms @start",
        "foo @ start() offset 1d",
    );
    check("foo[5m:]", "(subquery foo 300000ms )", "foo[5m:]");
    check(
        "rate(foo[5m])[1h:1m] @ end()",
        "(subquery (rate (range foo 300000ms)) 3600000ms 60000ms @end)",
        "rate(foo[5m])[1h:1m] @ end()",
    );
    check(
        "foo[5m] anchored",
        "(range foo anchored 300000ms)",
        "foo[5m] anchored",
    );
    check("foo smoothed", "foo smoothed", "foo smoothed");
    check("foo offset 0s", "foo", "foo");
    check(
        "by + offset + sum + step",
        "(+ OneToOne (+ OneToOne (+ OneToOne by offset) sum) step)",
        "by + offset + sum + step",
    );
    check("foo[1.5]", "(range foo 1500ms)", "foo[1s500ms]");
    check("foo # comment\n + 1", "(+ foo 1)", "foo + 1");
}

#[test]
fn duration_expressions() {
    check("foo[5m+1s]", "(range foo (+ 300 1))", "foo[5m + 1s]");
    check("foo[-2^2]", "(range foo (- (^ 2 2)))", "foo[-2 ^ 2]");
    check("foo[(5m)]", "(range foo 300000ms)", "foo[5m]");
    check(
        "foo[2m*(10+5)]",
        "(range foo (* 120 [(+ 10 5)]))",
        "foo[2m * (10 + 5)]",
    );
    check("foo[step()]", "(range foo step)", "foo[step()]");
    check("foo[STep()]", "(range foo step)", "foo[step()]");
    check(
        "foo[max_of(step(),5s)]",
        "(range foo (max_of step 5))",
        "foo[max_of(step(), 5s)]",
    );
    check(
        "foo[1h:step()*2]",
        "(subquery foo 3600000ms (* step 2))",
        "foo[1h:step() * 2]",
    );
    check(
        "foo offset 5s-8",
        "(- foo offset 5000ms 8)",
        "foo offset 5s - 8",
    );
    check(
        "foo offset -2 ^ 2",
        "(^ foo offset -2000ms 2)",
        "foo offset -2s ^ 2",
    );
    check(
        "foo offset (2 ^ 2)",
        "foo offset [(^ 2 2)]",
        "foo offset (2 ^ 2)",
    );
    check(
        "foo offset -(1^2)",
        "foo offset (- [(^ 1 2)])",
        "foo offset -(1 ^ 2)",
    );
    check("foo offset -(5)", "foo offset -5000ms", "foo offset -5s");
    check(
        "foo offset step()*0",
        "(* foo offset step 0)",
        "foo offset step() * 0",
    );
    check(
        "foo offset -min_of(step(), 1s)+8000",
        "(+ foo offset (- (min_of step 1)) 8000)",
        "foo offset -min_of(step(), 1s) + 8000",
    );
    check("foo offset +step()", "foo offset step", "foo offset step()");
    // Prometheus prints `foo offset 5m + 1`, which reads differently.
    check(
        "foo offset (5m) + 1",
        "foo offset (+ 300 1)",
        "foo offset (5m + 1)",
    );
    check("foo[(-2)^2]", "(range foo (^ -2 2))", "foo[(-2) ^ 2]");
    check("{a=\"\\ufffd\"}", "", "{a=\"\\ufffd\"}");
}

#[test]
fn aggregations_and_calls() {
    check("sum by (a) (x)", "(sum by[\"a\"] x)", "sum by (a) (x)");
    check(
        "sum(x) without (a, \"b.c\")",
        "(sum without[\"a\", \"b.c\"] x)",
        "sum without (a, \"b.c\") (x)",
    );
    check("sum by () (x)", "(sum by[] x)", "sum(x)");
    check("topk(3, x)", "(topk by[] 3 x)", "topk(3, x)");
    check(
        "count_values(\"v\", x)",
        "(count_values by[] \"v\" x)",
        "count_values(\"v\", x)",
    );
    check("limitk(2, x)", "(limitk by[] 2 x)", "limitk(2, x)");
    check(
        "SUM BY (Job) (x)",
        "(sum by[\"Job\"] x)",
        "sum by (Job) (x)",
    );
    check(
        "sum by (sum, on, bool) (x)",
        "(sum by[\"sum\", \"on\", \"bool\"] x)",
        "sum by (sum, on, bool) (x)",
    );
    check("time()", "(time )", "time()");
    check("round(x, 5)", "(round x 5)", "round(x, 5)");
    check(
        "label_join(x, \"a\", \",\", \"b\", \"c\")",
        "(label_join x \"a\" \",\" \"b\" \"c\")",
        "label_join(x, \"a\", \",\", \"b\", \"c\")",
    );
    check("info(x, {k=~\".+\"})", "(info x )", "info(x, {k=~\".+\"})");
    check(
        "start() + end() + step() + range()",
        "(+ (+ (+ (start ) (end )) (step )) (range ))",
        "start() + end() + step() + range()",
    );
    check("\"a\\xc5z\"", "\"a\u{fffd}z\"", "\"a\\xc5z\"");
    check(
        "0x1F + 010 + 1_000 + .5",
        "(+ (+ (+ 31 8) 1000) 0.5)",
        "31 + 8 + 1000 + 0.5",
    );
    check(
        "Inf + -inf + NaN",
        "(+ (+ inf -inf) NaN)",
        "+Inf + -Inf + NaN",
    );
    check("5m", "300", "5m");
    check("-5m", "-300", "-5m");
}

#[test]
fn positions() {
    let e = parse_with("sum(rate(foo{a=\"b\"}[5m] offset 1m))", Options::all())
        .unwrap_or_else(|e| panic!("{e}"));
    let Expr::Aggregate(a) = &e else {
        panic!("{e:?}")
    };
    assert_eq!((a.pos.start, a.pos.end), (0, 35));
    let Expr::Call(c) = &*a.expr else {
        panic!("{e:?}")
    };
    assert_eq!((c.pos.start, c.pos.end), (4, 34));
    assert_eq!((c.args[0].pos().start, c.args[0].pos().end), (9, 33));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    match parse_with(&deep, Options::all()) {
        Ok(e) => panic!("parsed {} levels: {}", 10_000, &e.to_string()[..20]),
        Err(e) => assert!(e.message.starts_with("expression nests too deeply"), "{e}"),
    }
    let long = vec!["1"; 10_000].join(" + ");
    assert!(parse_with(&long, Options::all()).is_err());
    // Right below the limit every kind of nesting parses, prints and
    // drops within a test thread's stack.
    let n = crate::MAX_DEPTH - 2;
    let kinds = [
        ("(", ")"),
        ("sum(", ")"),
        ("abs(", ")"),
        ("-", ""),
        ("max_over_time(", "[1m:])"),
    ];
    for (open, close) in kinds {
        let q = format!("{}vector(1){}", open.repeat(n), close.repeat(n));
        let e = parse_with(&q, Options::all()).unwrap_or_else(|e| panic!("{}: {e}", &q[..20]));
        let printed = e.to_string();
        assert!(parse_with(&printed, Options::all()).is_ok());
        let _ = crate::pretty(&e);
    }
}
