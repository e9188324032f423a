//! Running scripts: storage for `load`, evaluation, the reference runner's
//! comparison rules and its re-runs of instant evals.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use model::histogram::Span;
use model::{FloatHistogram, Labels, is_stale_nan};
use promql::{Engine, EngineOptions, QueryResult, Value};
use promql_syntax::ast::{AtModifier, Expr};
use promql_syntax::{Options, parse_with};
use storage::vec::{Value as StoredValue, VecQuerier, VecSeries};
use storage::{Querier, Queryable, StorageError};

use crate::script::{Cmd, Eval, EvalKind, ExpectKind, Load, SeqValue, parse_script};
use crate::values::compact;

/// In-memory storage for loaded series.
#[derive(Default)]
struct Store {
    series: BTreeMap<Labels, BTreeMap<i64, StoredValue>>,
    /// Start timestamps by series and sample time.
    start_timestamps: BTreeMap<Labels, BTreeMap<i64, i64>>,
    snapshot: Vec<VecSeries>,
}

impl Store {
    fn rebuild(&mut self) {
        self.snapshot = self
            .series
            .iter()
            .map(|(l, s)| {
                let mut samples: Vec<(i64, StoredValue)> =
                    s.iter().map(|(t, v)| (*t, v.clone())).collect();
                crate::hints::set_tsdb_hints(&mut samples);
                match self.start_timestamps.get(l) {
                    Some(sts) => VecSeries::with_start_timestamps(
                        l.clone(),
                        samples
                            .into_iter()
                            .map(|(t, v)| (t, sts.get(&t).copied().unwrap_or(0), v))
                            .collect(),
                    ),
                    None => VecSeries::new(l.clone(), samples),
                }
            })
            .collect();
    }
}

impl Queryable for Store {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        Ok(Box::new(VecQuerier::new(self.snapshot.clone(), mint, maxt)))
    }
}

/// The outcome of one eval.
#[derive(Clone, Debug)]
pub struct EvalOutcome {
    /// Line of the eval.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// `None` when it passed, else why it failed.
    pub error: Option<String>,
}

/// The outcomes of one file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// Every eval in order.
    pub evals: Vec<EvalOutcome>,
}

impl FileReport {
    /// How many evals passed.
    pub fn passed(&self) -> usize {
        self.evals.iter().filter(|e| e.error.is_none()).count()
    }
}

/// Runs scripts against the engine with the reference suite's settings.
pub struct Runner {
    engine: Engine,
    store: Store,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

/// Parses and runs a whole script.
pub fn run_file(input: &str) -> Result<FileReport, String> {
    let script = parse_script(input)?;
    let mut r = Runner::new();
    let mut report = FileReport::default();
    for cmd in &script.cmds {
        match cmd {
            Cmd::Clear => r.clear(),
            Cmd::Load(l) => r.load(l),
            Cmd::Eval(e) => {
                let error = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.eval(e)))
                    .unwrap_or_else(|_| Err("panic".to_owned()))
                    .err();
                report.evals.push(EvalOutcome {
                    line: e.line,
                    expr: e.expr.clone(),
                    error,
                });
            }
        }
    }
    Ok(report)
}

fn almost_equal(a: f64, b: f64) -> bool {
    const EPS: f64 = 1e-6;
    if a.is_nan() && b.is_nan() {
        if is_stale_nan(a) || is_stale_nan(b) {
            return is_stale_nan(a) && is_stale_nan(b);
        }
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPS * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPS
}

fn spans_match(a: &[Span], b: &[Span]) -> bool {
    let norm = |s: &[Span]| -> Vec<Span> {
        let mut out: Vec<Span> = Vec::new();
        let mut carry = 0;
        for sp in s {
            if sp.length == 0 {
                carry += sp.offset;
                continue;
            }
            let off = sp.offset + carry;
            carry = 0;
            match out.last_mut() {
                Some(l) if off == 0 => l.length += sp.length,
                _ => out.push(Span {
                    offset: off,
                    length: sp.length,
                }),
            }
        }
        out
    };
    norm(a) == norm(b)
}

fn buckets_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| almost_equal(*x, *y))
}

fn hist_match(exp: &FloatHistogram, cur: &FloatHistogram, hint_set: bool) -> bool {
    let (e, c) = (compact(exp), compact(cur));
    e.schema == c.schema
        && almost_equal(e.count, c.count)
        && almost_equal(e.sum, c.sum)
        && (e.schema != -53 || e.custom_values == c.custom_values)
        && e.zero_threshold == c.zero_threshold
        && almost_equal(e.zero_count, c.zero_count)
        && spans_match(&e.negative_spans, &c.negative_spans)
        && buckets_match(&e.negative_buckets, &c.negative_buckets)
        && spans_match(&e.positive_spans, &c.positive_spans)
        && buckets_match(&e.positive_buckets, &c.positive_buckets)
        && (!hint_set || e.counter_reset_hint == c.counter_reset_hint)
}

fn hist_str(h: &FloatHistogram) -> String {
    format!(
        "{{{{schema:{} count:{} sum:{} z_bucket:{} z_bucket_w:{} buckets:{:?} spans:{:?} n_buckets:{:?} n_spans:{:?} custom:{:?} hint:{:?}}}}}",
        h.schema,
        h.count,
        h.sum,
        h.zero_count,
        h.zero_threshold,
        h.positive_buckets,
        h.positive_spans,
        h.negative_buckets,
        h.negative_spans,
        h.custom_values,
        h.counter_reset_hint
    )
}

fn any_call(e: &Expr, names: &[&str]) -> bool {
    if let Expr::Call(c) = e
        && names.contains(&c.func.name)
    {
        return true;
    }
    e.children().into_iter().any(|c| any_call(c, names))
}

/// Sets `@ ts` on every selector and subquery not inside a subquery that
/// lacks one.
fn add_at(e: &mut Expr, ts: i64) {
    match e {
        Expr::VectorSelector(vs) => {
            if vs.at.is_none() {
                vs.at = Some(AtModifier::Timestamp(ts));
            }
        }
        Expr::MatrixSelector(ms) => {
            if ms.vector_selector.at.is_none() {
                ms.vector_selector.at = Some(AtModifier::Timestamp(ts));
            }
        }
        Expr::Subquery(sq) => {
            if sq.at.is_none() {
                sq.at = Some(AtModifier::Timestamp(ts));
            }
        }
        Expr::Aggregate(a) => {
            add_at(&mut a.expr, ts);
            if let Some(p) = &mut a.param {
                add_at(p, ts);
            }
        }
        Expr::Binary(b) => {
            add_at(&mut b.lhs, ts);
            add_at(&mut b.rhs, ts);
        }
        Expr::Call(c) => c.args.iter_mut().for_each(|a| add_at(a, ts)),
        Expr::Paren(p) => add_at(&mut p.expr, ts),
        Expr::Unary(u) => add_at(&mut u.expr, ts),
        Expr::Number(_) | Expr::String(_) => {}
    }
}

fn is_query_context_call(expr: &str) -> bool {
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| expr.contains(f))
}

impl Runner {
    /// A runner with the reference suite's engine settings.
    pub fn new() -> Runner {
        Runner {
            engine: Engine::new(EngineOptions {
                lookback_delta: Duration::from_secs(300),
                max_samples: 10_000,
                timeout: Duration::from_secs(100),
                default_subquery_step: Duration::from_secs(60),
                enable_at_modifier: true,
                enable_negative_offset: true,
                enable_delayed_name_removal: true,
                max_concurrency: 0,
                parser: Options::all(),
            }),
            store: Store::default(),
        }
    }

    /// The loaded data, for running an engine of the caller's over it.
    pub fn queryable(&self) -> &dyn Queryable {
        &self.store
    }

    /// Drops all data.
    pub fn clear(&mut self) {
        self.store = Store::default();
    }

    /// Adds the samples of a `load` command.
    pub fn load(&mut self, l: &Load) {
        for (labels, vals) in &l.series {
            let s = self.store.series.entry(labels.clone()).or_default();
            for (i, v) in vals.iter().enumerate() {
                let t = i as i64 * l.interval;
                let Some(v) = v else { continue };
                let sv = match v {
                    SeqValue::Float(f) => StoredValue::Float(*f),
                    SeqValue::Histogram(h, _) => StoredValue::FloatHistogram(Arc::new(h.clone())),
                };
                s.entry(t).or_insert(sv);
            }
        }
        for (labels, offsets) in &l.start_timestamps {
            let sts = self
                .store
                .start_timestamps
                .entry(labels.clone())
                .or_default();
            for (i, off) in offsets.iter().enumerate() {
                if let Some(off) = off {
                    let t = i as i64 * l.interval;
                    sts.entry(t).or_insert(t + off);
                }
            }
        }
        if l.nhcb {
            self.load_nhcb(l);
        }
        self.store.rebuild();
    }

    fn load_nhcb(&mut self, l: &Load) {
        #[derive(Default)]
        struct Temp {
            buckets: Vec<(f64, f64)>,
            count: Option<f64>,
            sum: Option<f64>,
        }
        let mut hists: BTreeMap<Labels, BTreeMap<i64, Temp>> = BTreeMap::new();
        for (labels, vals) in &l.series {
            let name = labels.get("__name__").unwrap_or("");
            let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
                (b, 0)
            } else if let Some(b) = name.strip_suffix("_count") {
                (b, 1)
            } else if let Some(b) = name.strip_suffix("_sum") {
                (b, 2)
            } else {
                continue;
            };
            let le = if kind == 0 {
                match labels.get("le").and_then(|v| {
                    v.parse::<f64>().ok().or(match v {
                        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
                        _ => None,
                    })
                }) {
                    Some(le) if !le.is_nan() => le,
                    _ => continue,
                }
            } else {
                0.0
            };
            let mut b = labels.to_builder();
            b.set("__name__", base);
            if kind == 0 {
                b.del("le");
            }
            let key = b.labels();
            for (i, v) in vals.iter().enumerate() {
                let Some(SeqValue::Float(f)) = v else {
                    continue;
                };
                let t = i as i64 * l.interval;
                let tmp = hists.entry(key.clone()).or_default().entry(t).or_default();
                match kind {
                    0 => tmp.buckets.push((le, *f)),
                    1 => tmp.count = Some(*f),
                    _ => tmp.sum = Some(*f),
                }
            }
        }
        for (labels, by_t) in hists {
            let s = self.store.series.entry(labels).or_default();
            for (t, mut tmp) in by_t {
                tmp.buckets
                    .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
                let mut h = FloatHistogram {
                    schema: -53,
                    ..Default::default()
                };
                let mut prev = 0.0;
                let mut counts = Vec::new();
                for (le, c) in &tmp.buckets {
                    if le.is_finite() {
                        h.custom_values.push(*le);
                    }
                    counts.push(c - prev);
                    prev = *c;
                }
                let inf_count = tmp
                    .buckets
                    .last()
                    .filter(|b| b.0.is_infinite())
                    .map(|b| b.1);
                if inf_count.is_none() {
                    // Without a +Inf bucket the count closes the histogram.
                    counts.push(tmp.count.unwrap_or(prev) - prev);
                }
                h.count = tmp.count.or(inf_count).unwrap_or(prev);
                h.sum = tmp.sum.unwrap_or(0.0);
                if !counts.is_empty() {
                    h.positive_spans = vec![Span {
                        offset: 0,
                        length: counts.len() as u32,
                    }];
                    h.positive_buckets = counts;
                }
                s.entry(t)
                    .or_insert(StoredValue::FloatHistogram(Arc::new(h)));
            }
        }
    }

    /// Runs one eval with all the reference runner's variants.
    pub fn eval(&self, e: &Eval) -> Result<(), String> {
        match e.kind {
            EvalKind::Range { start, end, step } => {
                let res = self
                    .engine
                    .range(&self.store, e.expr.as_str(), start, end, step);
                self.check(e, &e.expr, res, Some((start, end, step)))
            }
            EvalKind::Instant { at } => {
                self.run_instant(e, &e.expr, at)?;
                let parsed = parse_with(&e.expr, Options::all()).map_err(|x| x.to_string())?;
                if any_call(&parsed, promql::STEP_DEPENDENT) {
                    return Ok(());
                }
                let mut with_at = parsed;
                add_at(&mut with_at, at);
                let text = with_at.to_string();
                let times: Vec<i64> = if at == 0 {
                    vec![-1000, 0, 1000]
                } else {
                    vec![-10 * at, 0, at / 5, at, 10 * at]
                };
                for t in times {
                    self.run_instant(e, &text, t)?;
                }
                Ok(())
            }
        }
    }

    fn run_instant(&self, e: &Eval, expr: &str, at: i64) -> Result<(), String> {
        let res = self.engine.instant(&self.store, expr, at);
        let rv = e.range_vector;
        let was_scalar = matches!(
            res,
            Ok(QueryResult {
                value: Value::Scalar { .. },
                ..
            })
        );
        if res.is_err() || e.is_fail() {
            return self.check(e, expr, res, rv);
        }
        self.check(e, expr, res, rv)?;
        if e.range_vector.is_some() || e.string.is_some() || is_query_context_call(expr) {
            return Ok(());
        }
        let r = self
            .engine
            .range(&self.store, expr, at - 60_000, at + 60_000, 60_000)
            .map_err(|x| format!("range mode: error evaluating {expr:?}: {x}"))?;
        if e.is_ordered() {
            return Ok(());
        }
        let Value::Matrix(m) = r.value else {
            return Err("range mode: result is not a matrix".into());
        };
        if m.windows(2).any(|w| w[0].metric > w[1].metric) {
            return Err("range mode: matrix not sorted".into());
        }
        let mut vec = Vec::new();
        for s in m {
            if let Some(p) = s.floats.iter().find(|p| p.t == at) {
                vec.push(promql::Sample::float(s.metric.clone(), at, p.f));
            }
            if let Some(p) = s.histograms.iter().find(|p| p.t == at) {
                vec.push(promql::Sample {
                    metric: s.metric.clone(),
                    t: at,
                    f: 0.0,
                    h: Some(p.h.clone()),
                    drop_name: false,
                });
            }
        }
        let value = if was_scalar {
            Value::Scalar {
                t: at,
                v: vec.first().map_or(f64::NAN, |s| s.f),
            }
        } else {
            Value::Vector(vec)
        };
        self.compare(e, &value, None)
            .map_err(|x| format!("range mode: {expr}: {x}"))
    }

    fn check(
        &self,
        e: &Eval,
        expr: &str,
        res: promql::Result<QueryResult>,
        range: Option<(i64, i64, i64)>,
    ) -> Result<(), String> {
        let res = match res {
            Err(err) => {
                if !e.is_fail() {
                    return Err(format!("error evaluating {expr:?}: {err}"));
                }
                let msg = err.to_string();
                if let Some(m) = &e.fail_message
                    && *m != msg
                {
                    return Err(format!("expected error {m:?}, got {msg:?}"));
                }
                if let Some(r) = &e.fail_regexp
                    && !r.is_match(&msg)
                {
                    return Err(format!("expected error matching {r}, got {msg:?}"));
                }
                if let Some(x) = e.expects_of(ExpectKind::Fail).first()
                    && !x.matches(&msg)
                {
                    return Err(format!(
                        "expected error matching {:?}/{:?}, got {msg:?}",
                        x.msg, x.regex
                    ));
                }
                return Ok(());
            }
            Ok(r) => r,
        };
        if e.is_fail() {
            return Err(format!("expected error evaluating {expr:?} but got none"));
        }
        let warns = &res.annotations.warnings;
        let infos = &res.annotations.infos;
        if e.warn && warns.is_empty() {
            return Err("expected warnings but got none".into());
        }
        if e.info && infos.is_empty() {
            return Err("expected infos but got none".into());
        }
        for (kind, actual, what) in [
            (ExpectKind::Warn, warns, "warn"),
            (ExpectKind::Info, infos, "info"),
        ] {
            let exp = e.expects_of(kind);
            if exp.is_empty() {
                continue;
            }
            if actual.is_empty() {
                return Err(format!("expected {what} annotations but none were found"));
            }
            for x in &exp {
                if !actual.iter().any(|a| x.matches(a)) {
                    return Err(format!(
                        "expected {what} {:?}/{:?}, found {actual:?}",
                        x.msg, x.regex
                    ));
                }
            }
            for a in actual.iter() {
                if !exp.iter().any(|x| x.matches(a)) {
                    return Err(format!("unexpected {what} annotation {a:?}"));
                }
            }
        }
        if !e.expects_of(ExpectKind::NoWarn).is_empty() && !warns.is_empty() {
            return Err(format!("unexpected warnings: {warns:?}"));
        }
        if !e.expects_of(ExpectKind::NoInfo).is_empty() && !infos.is_empty() {
            return Err(format!("unexpected infos: {infos:?}"));
        }
        self.compare(e, &res.value, range)
    }

    fn compare(&self, e: &Eval, v: &Value, range: Option<(i64, i64, i64)>) -> Result<(), String> {
        match v {
            Value::Matrix(m) => {
                if e.is_ordered() {
                    return Err("expected ordered result, but query returned a matrix".into());
                }
                if e.scalar.is_some() {
                    return Err("expected scalar result, but got matrix".into());
                }
                if m.windows(2).any(|w| w[0].metric > w[1].metric) {
                    return Err("matrix results should always be sorted by labels".into());
                }
                let (start, end, step) = range.ok_or("unexpected matrix result")?;
                for s in m {
                    let Some((_, _, vals)) = e.expected.iter().find(|(_, l, _)| *l == s.metric)
                    else {
                        return Err(format!(
                            "unexpected metric {} in result: {:?}",
                            s.metric, s.floats
                        ));
                    };
                    let mut ef = Vec::new();
                    let mut eh = Vec::new();
                    for (i, val) in vals.iter().enumerate() {
                        let t = start + i as i64 * step;
                        if t > end {
                            return Err(format!(
                                "expected {} points for {}, range too short",
                                vals.len(),
                                s.metric
                            ));
                        }
                        match val {
                            Some(SeqValue::Float(f)) => ef.push((t, *f)),
                            Some(SeqValue::Histogram(h, hint)) => eh.push((t, h, *hint)),
                            None => {}
                        }
                    }
                    if ef.len() != s.floats.len() || eh.len() != s.histograms.len() {
                        return Err(format!(
                            "expected {} floats and {} histograms for {}, got {:?} and {} histograms",
                            ef.len(),
                            eh.len(),
                            s.metric,
                            s.floats.iter().map(|p| (p.t, p.f)).collect::<Vec<_>>(),
                            s.histograms.len()
                        ));
                    }
                    for ((t, f), p) in ef.iter().zip(&s.floats) {
                        if *t != p.t || !almost_equal(*f, p.f) {
                            return Err(format!(
                                "{}: expected {f} at {t}, got {} at {}",
                                s.metric, p.f, p.t
                            ));
                        }
                    }
                    for ((t, h, hint), p) in eh.iter().zip(&s.histograms) {
                        if *t != p.t || !hist_match(h, &p.h, *hint) {
                            return Err(format!(
                                "{}: expected {} at {t}, got {} at {}",
                                s.metric,
                                hist_str(h),
                                hist_str(&p.h),
                                p.t
                            ));
                        }
                    }
                }
                for (_, l, _) in &e.expected {
                    if !m.iter().any(|s| s.metric == *l) {
                        return Err(format!("expected metric {l} not found"));
                    }
                }
                Ok(())
            }
            Value::Vector(vec) => {
                if e.scalar.is_some() {
                    return Err("expected scalar result, but got vector".into());
                }
                for (i, s) in vec.iter().enumerate() {
                    let Some((pos, _, vals)) = e.expected.iter().find(|(_, l, _)| *l == s.metric)
                    else {
                        return Err(format!(
                            "unexpected metric {} in result, has value {}",
                            s.metric,
                            s.h.as_ref()
                                .map_or_else(|| s.f.to_string(), |h| hist_str(h))
                        ));
                    };
                    if e.is_ordered() && *pos != i + 1 {
                        return Err(format!(
                            "expected {} at position {pos} but was at {}",
                            s.metric,
                            i + 1
                        ));
                    }
                    match (vals.first(), &s.h) {
                        (Some(Some(SeqValue::Histogram(h, hint))), Some(got)) => {
                            if !hist_match(h, got, *hint) {
                                return Err(format!(
                                    "expected {} for {} but got {}",
                                    hist_str(h),
                                    s.metric,
                                    hist_str(got)
                                ));
                            }
                        }
                        (Some(Some(SeqValue::Float(f))), None) => {
                            if !almost_equal(*f, s.f) {
                                return Err(format!(
                                    "expected {f} for {} but got {}",
                                    s.metric, s.f
                                ));
                            }
                        }
                        (_, got) => {
                            return Err(format!(
                                "type mismatch for {}: expected {:?}, got {}",
                                s.metric,
                                vals.first(),
                                got.as_ref()
                                    .map_or_else(|| s.f.to_string(), |h| hist_str(h))
                            ));
                        }
                    }
                }
                for (_, l, _) in &e.expected {
                    if !vec.iter().any(|s| s.metric == *l) {
                        return Err(format!("expected metric {l} not found"));
                    }
                }
                Ok(())
            }
            Value::Scalar { v, .. } => {
                let Some(exp) = e.scalar else {
                    return Err(format!(
                        "expected vector or matrix result, but got scalar {v}"
                    ));
                };
                if !almost_equal(exp, *v) {
                    return Err(format!("expected scalar {exp} but got {v}"));
                }
                Ok(())
            }
            Value::String { v, .. } => {
                if e.string.as_deref() != Some(v.as_str()) {
                    return Err(format!("expected string {:?} but got {v:?}", e.string));
                }
                Ok(())
            }
        }
    }
}
