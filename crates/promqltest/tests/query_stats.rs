//! Query statistics (`stats=all`) as Prometheus 3.x counts them: the
//! cases of `TestQueryStatistics` (promql/engine_test.go, 3.14) over the
//! same data — total queryable samples and samples read, per step and in
//! all, and the peak of samples held, which must also be the smallest
//! `max_samples` the query runs under. And the cases of
//! `TestMaxQuerySamples`: the smallest `max_samples` each query runs under.

use std::time::Duration;

use promql::{Engine, EngineOptions, Error, QueryParams};
use promql_syntax::Options;
use promqltest::{Cmd, Runner, parse_script};

const LOAD_MAX: &str = "load 10s
  metric 1+1x100
  bigmetric{a=\"1\"} 1+1x100
  bigmetric{a=\"2\"} 1+1x100
  metricWith1HistogramEvery10Seconds {{schema:1 count:5 sum:20 buckets:[1 2 1 1]}}+{{schema:1 count:10 sum:5 buckets:[1 2 3 4]}}x100
";

const LOAD: &str = "load 10s
  metricWith1SampleEvery10Seconds 1+1x100
  metricWith3SampleEvery10Seconds{a=\"1\",b=\"1\"} 1+1x100
  metricWith3SampleEvery10Seconds{a=\"2\",b=\"2\"} 1+1x100
  metricWith3SampleEvery10Seconds{a=\"3\",b=\"2\"} 1+1x100
  metricWith1HistogramEvery10Seconds {{schema:1 count:5 sum:20 buckets:[1 2 1 1]}}+{{schema:1 count:10 sum:5 buckets:[1 2 3 4]}}x100
";

/// One case: the query, (start, end, step) in seconds (step 0: instant),
/// (total, total per step), (read, read per step), the peak, and whether
/// the peak is checked as the limit too.
struct Case {
    query: &'static str,
    times: (i64, i64, i64),
    total: (u64, &'static [u64]),
    read: (u64, &'static [u64]),
    peak: usize,
    limit: bool,
}

fn c(
    query: &'static str,
    times: (i64, i64, i64),
    total: (u64, &'static [u64]),
    read: (u64, &'static [u64]),
    peak: usize,
    limit: bool,
) -> Case {
    Case {
        query,
        times,
        total,
        read,
        peak,
        limit,
    }
}

fn engine(max_samples: usize) -> Engine {
    Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        max_samples,
        timeout: Duration::from_secs(100),
        default_subquery_step: Duration::from_secs(60),
        max_concurrency: 0,
        parser: Options::all(),
        ..EngineOptions::default()
    })
}

fn runner(script: &str) -> Runner {
    let mut r = Runner::new();
    for cmd in parse_script(script).expect("script").cmds {
        if let Cmd::Load(l) = cmd {
            r.load(&l);
        }
    }
    r
}

fn run(r: &Runner, e: &Engine, c: &Case) -> Result<promql::QueryResult, Error> {
    let (start, end, step) = c.times;
    e.exec(
        r.queryable(),
        promql::Query::Text(c.query),
        start * 1000,
        end * 1000,
        step * 1000,
        &QueryParams::default(),
    )
}

/// With `max_samples` one below `peak`, the query must fail with the
/// sample-limit error.
fn fails_below(r: &Runner, c: &Case, peak: usize, failures: &mut Vec<String>) {
    match run(r, &engine(peak - 1), c) {
        Err(Error::TooManySamples(_)) => {}
        other => failures.push(format!(
            "{} {:?} with max_samples {}: {:?}",
            c.query,
            c.times,
            peak - 1,
            other.map(|r| r.stats.peak_samples)
        )),
    }
}

#[test]
fn statistics_count_like_prometheus() {
    let r = runner(LOAD);
    let mut failures = Vec::new();
    for c in cases() {
        let s = match run(&r, &engine(10_000), &c) {
            Ok(res) => res.stats,
            Err(e) => {
                failures.push(format!("{}: {e}", c.query));
                continue;
            }
        };
        let got = (
            (
                s.total_queryable_samples,
                s.total_queryable_samples_per_step.as_slice(),
            ),
            (s.samples_read, s.samples_read_per_step.as_slice()),
            s.peak_samples,
        );
        if got != (c.total, c.read, c.peak) {
            failures.push(format!(
                "{} {:?}: got {got:?}, want {:?}",
                c.query,
                c.times,
                (c.total, c.read, c.peak)
            ));
            continue;
        }
        if c.limit {
            fails_below(&r, &c, c.peak, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn peak_is_the_smallest_limit_that_passes() {
    let r = runner(LOAD_MAX);
    let mut failures = Vec::new();
    #[rustfmt::skip]
    let cases: &[(&str, (i64, i64, i64), usize)] = &[
        ("1", (1, 1, 0), 1),
        ("metric", (1, 1, 0), 1),
        ("metric[20s]", (10, 10, 0), 2),
        ("rate(metric[20s])", (10, 10, 0), 3),
        ("metric[20s:5s]", (10, 10, 0), 3),
        ("metric[20s] @ 10", (0, 0, 0), 2),
        ("1", (0, 2, 1), 3),
        ("1", (0, 2, 1), 3),
        ("metric", (0, 2, 1), 3),
        ("metric", (0, 10, 5), 3),
        ("rate(bigmetric[1s])", (0, 10, 5), 1),
        ("metric @ 10", (0, 10, 5), 3),
        ("rate(bigmetric[10s:1s] @ 10)", (0, 10, 5), 32),
        ("rate(bigmetric[10s:1s] @ 10) + rate(bigmetric[10s:1s] @ 30)", (0, 10, 5), 34),
        ("rate(bigmetric[10s:1s]) + rate(bigmetric[10s:1s] @ 30)", (10, 20, 5), 56),
        ("rate(rate(bigmetric[10:1s] @ 10)[100s:25s] @ 1000)[100s:20s] @ 2000", (10, 10, 0), 32),
        ("rate(rate(bigmetric[10s:1s] @ 10)[100s:25s] @ 1000)[17s:1s] @ 2000", (10, 10, 0), 34),
        ("max_over_time(metricWith1HistogramEvery10Seconds[61s])[20s:5s]", (201, 201, 0), 91),
    ];
    for &(query, times, max) in cases {
        let c = c(query, times, (0, &[]), (0, &[]), max, true);
        match run(&r, &engine(max), &c) {
            Ok(res) if res.stats.peak_samples == max => {}
            other => {
                failures.push(format!(
                    "{query} {times:?} with max_samples {max}: {:?}",
                    other.map(|r| r.stats.peak_samples)
                ));
                continue;
            }
        }
        fails_below(&r, &c, max, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        c(r#""literal string""#, (21, 21, 0), (0, &[0]), (0, &[0]), 0, false),
        c("1", (21, 21, 0), (0, &[0]), (0, &[0]), 1, true),
        c("metricWith1SampleEvery10Seconds", (21, 21, 0), (1, &[1]), (1, &[1]), 1, true),
        c("metricWith1HistogramEvery10Seconds", (21, 21, 0), (13, &[13]), (13, &[13]), 13, true),
        c("timestamp(metricWith1SampleEvery10Seconds)", (21, 21, 0), (1, &[1]), (1, &[1]), 2, true),
        c("timestamp(metricWith1HistogramEvery10Seconds)", (21, 21, 0), (1, &[1]), (1, &[1]), 2, true),
        c("metricWith1SampleEvery10Seconds", (22, 22, 0), (1, &[1]), (1, &[1]), 1, true),
        c("metricWith1SampleEvery10Seconds offset 10s", (21, 21, 0), (1, &[1]), (1, &[1]), 1, true),
        c("metricWith1SampleEvery10Seconds @ 15", (21, 21, 0), (1, &[1]), (1, &[1]), 1, true),
        c(r#"metricWith3SampleEvery10Seconds{a="1"}"#, (21, 21, 0), (1, &[1]), (1, &[1]), 1, true),
        c(r#"metricWith3SampleEvery10Seconds{a="1"} @ 19"#, (21, 21, 0), (1, &[1]), (1, &[1]), 1, true),
        c(r#"metricWith3SampleEvery10Seconds{a="1"}[20s] @ 19"#, (21, 21, 0), (2, &[2]), (2, &[2]), 2, true),
        c("metricWith3SampleEvery10Seconds", (21, 21, 0), (3, &[3]), (3, &[3]), 3, true),
        c("metricWith1SampleEvery10Seconds[60s]", (201, 201, 0), (6, &[6]), (6, &[6]), 6, true),
        c("metricWith1HistogramEvery10Seconds[60s]", (201, 201, 0), (78, &[78]), (78, &[78]), 78, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[60s])[20s:5s]", (201, 201, 0), (24, &[24]), (8, &[8]), 10, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[61s])[20s:5s]", (201, 201, 0), (26, &[26]), (8, &[8]), 11, true),
        c("max_over_time(metricWith1HistogramEvery10Seconds[60s])[20s:5s]", (201, 201, 0), (312, &[312]), (104, &[104]), 78, true),
        c("metricWith1SampleEvery10Seconds[60s] @ 30", (201, 201, 0), (4, &[4]), (4, &[4]), 4, true),
        c("metricWith1HistogramEvery10Seconds[60s] @ 30", (201, 201, 0), (52, &[52]), (52, &[52]), 52, true),
        c("sum(max_over_time(metricWith3SampleEvery10Seconds[60s] @ 30))", (201, 201, 0), (12, &[12]), (12, &[12]), 7, true),
        c("sum by (b) (max_over_time(metricWith3SampleEvery10Seconds[60s] @ 30))", (201, 201, 0), (12, &[12]), (12, &[12]), 7, true),
        c("metricWith1SampleEvery10Seconds[60s] offset 10s", (201, 201, 0), (6, &[6]), (6, &[6]), 6, true),
        c("metricWith3SampleEvery10Seconds[60s]", (201, 201, 0), (18, &[18]), (18, &[18]), 18, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[60s])", (201, 201, 0), (6, &[6]), (6, &[6]), 7, true),
        c("absent_over_time(metricWith1SampleEvery10Seconds[60s])", (201, 201, 0), (6, &[6]), (6, &[6]), 7, true),
        c("max_over_time(metricWith3SampleEvery10Seconds[60s])", (201, 201, 0), (18, &[18]), (18, &[18]), 9, true),
        c("metricWith1SampleEvery10Seconds[60s:5s]", (201, 201, 0), (12, &[12]), (12, &[12]), 12, true),
        c("metricWith1SampleEvery10Seconds[60s:5s] offset 10s", (201, 201, 0), (12, &[12]), (12, &[12]), 12, true),
        c("max_over_time(metricWith3SampleEvery10Seconds[60s:5s])", (201, 201, 0), (36, &[36]), (36, &[36]), 51, true),
        c("sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s])) + sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s]))", (201, 201, 0), (72, &[72]), (72, &[72]), 52, true),
        c(r#"metricWith3SampleEvery10Seconds{a="1"}"#, (201, 220, 5), (4, &[1, 1, 1, 1]), (4, &[1, 1, 1, 1]), 4, true),
        c(r#"metricWith3SampleEvery10Seconds{a="1"}"#, (204, 223, 5), (4, &[1, 1, 1, 1]), (4, &[1, 1, 1, 1]), 4, true),
        c("metricWith1HistogramEvery10Seconds", (204, 223, 5), (52, &[13, 13, 13, 13]), (52, &[13, 13, 13, 13]), 52, true),
        c("timestamp(metricWith1SampleEvery10Seconds)", (201, 220, 5), (4, &[1, 1, 1, 1]), (4, &[1, 1, 1, 1]), 5, true),
        c("timestamp(metricWith1HistogramEvery10Seconds)", (201, 220, 5), (4, &[1, 1, 1, 1]), (4, &[1, 1, 1, 1]), 5, true),
        c(r#"max_over_time(metricWith3SampleEvery10Seconds{a="1"}[10s])"#, (991, 1021, 10), (2, &[1, 1, 0, 0]), (2, &[1, 1, 0, 0]), 2, true),
        c(r#"metricWith3SampleEvery10Seconds{a="1"} offset 10s"#, (201, 220, 5), (4, &[1, 1, 1, 1]), (4, &[1, 1, 1, 1]), 4, true),
        c("max_over_time(metricWith3SampleEvery10Seconds[60s] @ 30)", (201, 220, 5), (48, &[12, 12, 12, 12]), (12, &[12, 0, 0, 0]), 12, true),
        c("metricWith3SampleEvery10Seconds", (201, 220, 5), (12, &[3, 3, 3, 3]), (12, &[3, 3, 3, 3]), 12, true),
        c("max_over_time(metricWith3SampleEvery10Seconds[60s])", (201, 220, 5), (72, &[18, 18, 18, 18]), (21, &[18, 0, 3, 0]), 18, true),
        c("max_over_time(metricWith3SampleEvery10Seconds[60s:5s])", (201, 220, 5), (144, &[36, 36, 36, 36]), (45, &[36, 3, 3, 3]), 69, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[60s:5s])", (201, 220, 5), (48, &[12, 12, 12, 12]), (15, &[12, 1, 1, 1]), 31, true),
        c("sum by (b) (max_over_time(metricWith1SampleEvery10Seconds[60s:5s]))", (201, 220, 5), (48, &[12, 12, 12, 12]), (15, &[12, 1, 1, 1]), 31, true),
        c("sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s])) + sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s]))", (201, 220, 5), (288, &[72, 72, 72, 72]), (90, &[72, 6, 6, 6]), 73, true),
        c("sum(max_over_time(metricWith3SampleEvery10Seconds[60s:5s])) + sum(max_over_time(metricWith1SampleEvery10Seconds[60s:5s]))", (201, 220, 5), (192, &[48, 48, 48, 48]), (60, &[48, 4, 4, 4]), 69, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[20s:10s])", (201, 201, 0), (2, &[2]), (2, &[2]), 5, true),
        c("sum_over_time(metricWith1SampleEvery10Seconds[30s:30s])", (90, 90, 0), (1, &[1]), (1, &[1]), 3, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[30s:2m])", (240, 240, 0), (1, &[1]), (1, &[1]), 3, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[30s:10s])", (201, 231, 30), (6, &[3, 3]), (6, &[3, 3]), 11, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[20s:10s])", (201, 261, 10), (14, &[2, 2, 2, 2, 2, 2, 2]), (8, &[2, 1, 1, 1, 1, 1, 1]), 17, true),
        c("max_over_time(metricWith1SampleEvery10Seconds[30s:10s])", (201, 261, 60), (6, &[3, 3]), (6, &[3, 3]), 14, true),
        c("histogram_count(max_over_time(metricWith1HistogramEvery10Seconds[20s:10s]))", (201, 201, 0), (26, &[26]), (26, &[26]), 52, true),
        c("avg_over_time(metricWith1HistogramEvery10Seconds[2m:1m])", (120, 240, 60), (78, &[26, 26, 26]), (52, &[26, 13, 13]), 117, true),
        c("max_over_time(metricWith3SampleEvery10Seconds[60s:10s])", (200, 400, 30), (126, &[18, 18, 18, 18, 18, 18, 18]), (72, &[18, 9, 9, 9, 9, 9, 9]), 99, true),
        c("predict_linear(metricWith1SampleEvery10Seconds[60s] @ 100, 60)", (100, 300, 100), (18, &[6, 6, 6]), (6, &[6, 0, 0]), 12, true),
        c("sum_over_time(metricWith3SampleEvery10Seconds[20s:10s] @ 200)", (250, 250, 0), (6, &[6]), (6, &[6]), 11, true),
        c("sum_over_time(metricWith1SampleEvery10Seconds[20s:10s] offset 1m)", (240, 240, 0), (2, &[2]), (2, &[2]), 5, true),
        c("sum_over_time(metricWith3SampleEvery10Seconds[1m:10s] @ 200 offset 1m)", (300, 300, 0), (18, &[18]), (18, &[18]), 27, true),
        c("sum_over_time(max_over_time(metricWith3SampleEvery10Seconds[60s] @ 300)[5m:1m] @ 600)[10m:2m]", (800, 800, 0), (75, &[75]), (18, &[18]), 23, true),
        c("rate(sum_over_time(metricWith1SampleEvery10Seconds[30s])[1m:30s])", (240, 240, 0), (2, &[2]), (6, &[6]), 5, true),
    ]
}
