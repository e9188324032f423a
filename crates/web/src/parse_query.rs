//! `/api/v1/parse_query` (Prometheus 3.x): the parsed expression as a JSON
//! tree for the UI's tree view, in `translateAST`'s shape — every object's
//! keys in Go's sorted map order, durations in milliseconds, numbers as
//! `strconv.FormatFloat(v, 'f', -1, 64)` strings, `null` where Go has a nil.
//!
//! Duration expressions (experimental) are folded when constant; `step()`
//! and `range()` have no value outside a query and count as 0. The
//! subquery key `alignEvalTime` of Prometheus releases newer than the 3.14
//! language Ember parses is not written.

use promql_syntax::ast::{
    AtModifier, Cardinality, DurationArg, DurationExpr, DurationOp, Expr, UnaryOp, VectorSelector,
};

use crate::json::Writer;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// A duration expression's value in seconds, if it is constant.
fn dur_secs(e: &DurationExpr) -> f64 {
    match e {
        DurationExpr::Number(n) => n.value,
        DurationExpr::Step { .. } | DurationExpr::Range { .. } => 0.0,
        DurationExpr::MinMax { max, lhs, rhs, .. } => {
            let (a, b) = (dur_secs(lhs), dur_secs(rhs));
            if *max { a.max(b) } else { a.min(b) }
        }
        DurationExpr::Neg { expr, .. } => -dur_secs(expr),
        DurationExpr::Binary { op, lhs, rhs, .. } => {
            let (a, b) = (dur_secs(lhs), dur_secs(rhs));
            match op {
                DurationOp::Add => a + b,
                DurationOp::Sub => a - b,
                DurationOp::Mul => a * b,
                DurationOp::Div => a / b,
                DurationOp::Mod => a % b,
                DurationOp::Pow => a.powf(b),
            }
        }
    }
}

fn millis(d: Option<&DurationArg>) -> i64 {
    match d {
        None => 0,
        Some(DurationArg::Fixed(d)) => d.millis(),
        Some(DurationArg::Expr(e)) => {
            let s = dur_secs(e);
            if s.is_finite() {
                (s * 1000.0) as i64
            } else {
                0
            }
        }
    }
}

fn strings(w: &mut Writer, l: &[String]) {
    w.arr();
    for s in l {
        w.str(s);
    }
    w.end_arr();
}

fn at(w: &mut Writer, a: Option<&AtModifier>) {
    w.key("startOrEnd");
    match a {
        Some(AtModifier::Start) => w.str("start"),
        Some(AtModifier::End) => w.str("end"),
        _ => w.raw("null"),
    };
    w.key("timestamp");
    match a {
        Some(AtModifier::Timestamp(t)) => w.int(*t),
        _ => w.raw("null"),
    };
}

fn matchers(w: &mut Writer, vs: &VectorSelector) {
    w.key("matchers").arr();
    for m in &vs.matchers {
        w.obj()
            .key("name")
            .str(m.name())
            .key("type")
            .str(m.op().as_str())
            .key("value")
            .str(m.value())
            .end_obj();
    }
    w.end_arr();
}

fn name(w: &mut Writer, vs: &VectorSelector) {
    w.key("name").str(vs.name.as_deref().unwrap_or(""));
}

/// Writes `translateAST(e)`.
pub(crate) fn translate(w: &mut Writer, e: &Expr) {
    match e {
        Expr::Aggregate(a) => {
            w.obj().key("expr");
            translate(w, &a.expr);
            w.key("grouping");
            strings(w, &a.grouping);
            w.key("op").str(a.op.as_str()).key("param");
            match &a.param {
                Some(p) => translate(w, p),
                None => {
                    w.raw("null");
                }
            }
            w.key("type")
                .str("aggregation")
                .key("without")
                .bool(a.without)
                .end_obj();
        }
        Expr::Binary(b) => {
            w.obj().key("bool").bool(b.return_bool).key("lhs");
            translate(w, &b.lhs);
            w.key("matching");
            match &b.matching {
                Some(m) => {
                    let card = match m.card {
                        Cardinality::OneToOne => "one-to-one",
                        Cardinality::ManyToOne => "many-to-one",
                        Cardinality::OneToMany => "one-to-many",
                        Cardinality::ManyToMany => "many-to-many",
                    };
                    w.obj().key("card").str(card);
                    w.key("fillValues").obj();
                    for (k, v) in [("lhs", m.fill_lhs), ("rhs", m.fill_rhs)] {
                        w.key(k);
                        match v {
                            Some(v) => w.go_float(v),
                            None => w.raw("null"),
                        };
                    }
                    w.end_obj();
                    w.key("include");
                    strings(w, &m.include);
                    w.key("labels");
                    strings(w, &m.matching_labels);
                    w.key("on").bool(m.on).end_obj();
                }
                None => {
                    w.raw("null");
                }
            }
            w.key("op").str(b.op.as_str()).key("rhs");
            translate(w, &b.rhs);
            w.key("type").str("binaryExpr").end_obj();
        }
        Expr::Call(c) => {
            w.obj().key("args").arr();
            for a in &c.args {
                translate(w, a);
            }
            w.end_arr();
            w.key("func").obj().key("argTypes").arr();
            for t in c.func.arg_types {
                w.str(t.as_str());
            }
            w.end_arr();
            w.key("name")
                .str(c.func.name)
                .key("returnType")
                .str(c.func.return_type.as_str())
                .key("variadic")
                .int(i64::from(c.func.variadic))
                .end_obj();
            w.key("type").str("call").end_obj();
        }
        Expr::MatrixSelector(m) => {
            let vs = &m.vector_selector;
            w.obj().key("anchored").bool(vs.anchored);
            matchers(w, vs);
            name(w, vs);
            w.key("offset").int(millis(vs.offset.as_ref()));
            w.key("range").int(millis(Some(&m.range)));
            w.key("smoothed").bool(vs.smoothed);
            at(w, vs.at.as_ref());
            w.key("type").str("matrixSelector").end_obj();
        }
        Expr::Subquery(s) => {
            w.obj().key("expr");
            translate(w, &s.expr);
            w.key("offset").int(millis(s.offset.as_ref()));
            w.key("range").int(millis(Some(&s.range)));
            w.key("startOrEnd");
            match s.at {
                Some(AtModifier::Start) => w.str("start"),
                Some(AtModifier::End) => w.str("end"),
                _ => w.raw("null"),
            };
            w.key("step").int(millis(s.step.as_ref()));
            w.key("timestamp");
            match s.at {
                Some(AtModifier::Timestamp(t)) => w.int(t),
                _ => w.raw("null"),
            };
            w.key("type").str("subquery").end_obj();
        }
        Expr::Number(n) => {
            w.obj()
                .key("type")
                .str("numberLiteral")
                .key("val")
                .str(&format_f(n.value))
                .end_obj();
        }
        Expr::Paren(p) => {
            w.obj().key("expr");
            translate(w, &p.expr);
            w.key("type").str("parenExpr").end_obj();
        }
        Expr::String(s) => {
            w.obj()
                .key("type")
                .str("stringLiteral")
                .key("val")
                .str(&s.to_string_lossy())
                .end_obj();
        }
        Expr::Unary(u) => {
            w.obj().key("expr");
            translate(w, &u.expr);
            let op = match u.op {
                UnaryOp::Plus => "+",
                UnaryOp::Minus => "-",
            };
            w.key("op").str(op).key("type").str("unaryExpr").end_obj();
        }
        Expr::VectorSelector(vs) => {
            w.obj().key("anchored").bool(vs.anchored);
            matchers(w, vs);
            name(w, vs);
            w.key("offset").int(millis(vs.offset.as_ref()));
            w.key("smoothed").bool(vs.smoothed);
            at(w, vs.at.as_ref());
            w.key("type").str("vectorSelector").end_obj();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(q: &str, want: &str) {
        let e = promql_syntax::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut w = Writer::default();
        translate(&mut w, &e);
        assert_eq!(w.finish(), want, "{q}");
    }

    #[test]
    fn shapes() {
        check("1.5", r#"{"type":"numberLiteral","val":"1.5"}"#);
        check(
            "1e21",
            r#"{"type":"numberLiteral","val":"1000000000000000000000"}"#,
        );
        check("\"a<b\"", r#"{"type":"stringLiteral","val":"a\u003cb"}"#);
        check(
            "up{job=\"x\"} offset 5m",
            r#"{"anchored":false,"matchers":[{"name":"job","type":"=","value":"x"},{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":300000,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"}"#,
        );
        check(
            "rate(x[1m] @ 10)",
            r#"{"args":[{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"x"}],"name":"x","offset":0,"range":60000,"smoothed":false,"startOrEnd":null,"timestamp":10000,"type":"matrixSelector"}],"func":{"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0},"type":"call"}"#,
        );
        check(
            "sum by (a) (-x) / on (b) group_left (c) y",
            r#"{"bool":false,"lhs":{"expr":{"expr":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"x"}],"name":"x","offset":0,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"op":"-","type":"unaryExpr"},"grouping":["a"],"op":"sum","param":null,"type":"aggregation","without":false},"matching":{"card":"many-to-one","fillValues":{"lhs":null,"rhs":null},"include":["c"],"labels":["b"],"on":true},"op":"/","rhs":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"y"}],"name":"y","offset":0,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"type":"binaryExpr"}"#,
        );
        check(
            "1 > bool 2",
            r#"{"bool":true,"lhs":{"type":"numberLiteral","val":"1"},"matching":null,"op":"\u003e","rhs":{"type":"numberLiteral","val":"2"},"type":"binaryExpr"}"#,
        );
        check(
            "(x)[5m:1m] @ end()",
            r#"{"expr":{"expr":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"x"}],"name":"x","offset":0,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"type":"parenExpr"},"offset":0,"range":300000,"startOrEnd":"end","step":60000,"timestamp":null,"type":"subquery"}"#,
        );
    }
}
