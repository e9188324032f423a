//! One target's loop: at the target's offset and then every interval, fetch
//! (async), then parse and append (CPU work, in `spawn_blocking`), then
//! record health for the targets API. When the target goes away, stale
//! markers follow at the time of its next scrape, as in Prometheus.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use model::{Metadata, Timestamp};
use storage::Appendable;
use tokio::sync::watch;

use crate::append::{self, Counts, Report, Settings, State, Tally, format_for};
use crate::buffers::BufferPool;
use crate::fetch::{FetchError, Scraper};
use crate::metrics::{Metrics, inc};
use crate::target::Target;

/// Clamp for snapping scrape timestamps to the ideal grid (Prometheus's
/// `--scrape.timestamp-tolerance` default).
const TIMESTAMP_TOLERANCE: Duration = Duration::from_millis(2);

/// How a loop is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep running.
    Run,
    /// Stop and hand the state (cache) back to a successor.
    Handover,
    /// The target is gone: write stale markers at the next scrape time
    /// (`wait`) or now.
    Remove {
        /// Wait for the next scrape time, as Prometheus does for targets.
        wait: bool,
    },
    /// The process stops: no stale markers.
    Shutdown,
}

/// A target's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `up`, `down` or `unknown`, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the API shows of a target's scrapes.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub(crate) health: Health,
    pub(crate) last_error: String,
    pub(crate) last_scrape: Option<SystemTime>,
    pub(crate) last_duration: Duration,
    pub(crate) metadata: Arc<BTreeMap<String, Metadata>>,
}

impl Default for Status {
    fn default() -> Status {
        Status {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
            metadata: Arc::default(),
        }
    }
}

/// Everything a loop runs with.
pub(crate) struct LoopParams {
    pub(crate) target: Arc<Target>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) scraper: Scraper,
    pub(crate) status: Arc<Mutex<Status>>,
    /// An error every scrape reports instead of scraping (target limit).
    pub(crate) forced_error: Arc<Mutex<Option<String>>>,
    pub(crate) appendable: Arc<dyn Appendable>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) offset_seed: u64,
    pub(crate) buffers: Arc<BufferPool>,
    pub(crate) state: State,
    pub(crate) stop: watch::Receiver<Stop>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The timestamp of a scrape starting at `now`: the point of the loop's grid
/// (`grid`: its first scrape, then steps of `interval`) nearest to `now` when
/// it is within `tolerance` on either side, else `now` itself. Prometheus
/// aligns the same way, so a steady series' timestamps delta-of-delta encode
/// to one bit, but only when the timer fires late; the timer here rounds to
/// milliseconds and the first tick's lateness sets the grid, so a later tick
/// is as often a little early as late, and both must align (found in the
/// harness: ~12% of deltas were 14.999 s or 15.001 s, chunks 9% larger).
fn align(
    grid: &mut Option<SystemTime>,
    now: SystemTime,
    interval: Duration,
    tolerance: Duration,
) -> SystemTime {
    let Some(mut a) = *grid else {
        *grid = Some(now);
        return now;
    };
    if interval.is_zero() {
        return now;
    }
    if now + interval < a {
        // The wall clock went back: start a new grid.
        *grid = Some(now);
        return now;
    }
    // Move the grid to the last point at or before `now + tolerance`
    // (ticks may have been skipped).
    let reach = now + tolerance;
    if let Ok(ahead) = reach.duration_since(a)
        && ahead >= interval
    {
        let steps = ahead.as_nanos() / interval.as_nanos();
        a += interval * u32::try_from(steps).unwrap_or(u32::MAX);
    }
    *grid = Some(a);
    let off = match now.duration_since(a) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if off <= tolerance { a } else { now }
}

fn to_timestamp(t: SystemTime) -> Timestamp {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp(ms)
}

/// The outcome of one scrape's blocking part.
struct Processed {
    state: State,
    error: Option<String>,
    tally: Tally,
    metadata: Option<BTreeMap<String, Metadata>>,
}

/// Appends one scrape (or its failure) and the report series, committing
/// once. Runs on a blocking thread.
fn process(
    appendable: &dyn Appendable,
    st: &mut State,
    s: &Settings,
    fetched: Result<String, FetchError>,
    body: &[u8],
    t: Timestamp,
    started: Instant,
) -> (Option<String>, Tally) {
    let mut tally = Tally::default();
    let mut app = appendable.appender();
    let mut counts = Counts::default();
    let mut body_bytes = 0i64;
    let fallback = s.cfg.fallback_scrape_protocol.map(protocol_format);
    let error = match fetched {
        Ok(content_type) => {
            body_bytes = i64::try_from(body.len()).unwrap_or(i64::MAX);
            let format = if body.is_empty() {
                Ok(expfmt::Format::Text)
            } else {
                format_for(&content_type, fallback)
            };
            let (c, r) = match format {
                Ok(f) => append::append_scrape(&mut *app, st, s, body, f, t, &mut tally),
                Err(e) => (Counts::default(), Err(e)),
            };
            counts = c;
            match r {
                Ok(()) => None,
                Err(e) => {
                    app.rollback();
                    app = appendable.appender();
                    if let Err(x) = append::append_stale(&mut *app, st, t, true) {
                        tracing::warn!(err = %x, "append stale markers failed");
                    }
                    Some(e)
                }
            }
        }
        Err(e) => {
            if e == FetchError::BodySizeLimit {
                body_bytes = -1;
            }
            if let Err(x) = append::append_stale(&mut *app, st, t, true) {
                tracing::warn!(err = %x, "append stale markers failed");
            }
            Some(e.to_string())
        }
    };
    let report = Report {
        up: error.is_none(),
        duration: started.elapsed(),
        counts,
        body_bytes,
    };
    if let Err(e) = append::append_report(&mut *app, st, s, t, Some(report)) {
        tracing::warn!(err = %e, "appending scrape report failed");
    }
    if let Err(e) = app.commit() {
        tracing::error!(err = %e, "scrape commit failed");
    }
    (error, tally)
}

/// The expfmt format of a configured protocol.
pub(crate) fn protocol_format(p: config::global::ScrapeProtocol) -> expfmt::Format {
    use config::global::ScrapeProtocol as P;
    match p {
        P::PrometheusProto => expfmt::Format::Protobuf,
        P::PrometheusText0_0_4 => expfmt::Format::Text,
        P::PrometheusText1_0_0 => expfmt::Format::Text1,
        P::OpenMetricsText0_0_1 | P::OpenMetricsText1_0_0 => expfmt::Format::OpenMetrics,
    }
}

fn record(metrics: &Metrics, tally: &Tally, body_limit: bool) {
    inc(&metrics.sample_out_of_order, tally.out_of_order);
    inc(&metrics.sample_duplicate, tally.duplicate);
    inc(&metrics.sample_out_of_bounds, tally.out_of_bounds);
    inc(
        &metrics.exceeded_sample_limit,
        u64::from(tally.sample_limit),
    );
    inc(&metrics.exceeded_label_limits, u64::from(tally.label_limit));
    inc(&metrics.exceeded_body_size_limit, u64::from(body_limit));
}

/// Runs the loop until told to stop; returns the state on a handover.
pub(crate) async fn run(p: LoopParams) -> Option<State> {
    let LoopParams {
        target,
        settings,
        scraper,
        status,
        forced_error,
        appendable,
        metrics,
        offset_seed,
        buffers,
        state,
        mut stop,
    } = p;
    let interval = target.interval;
    let now_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let offset = target.offset(interval, offset_seed, now_nanos);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let tolerance = (interval / 100).min(TIMESTAMP_TOLERANCE);
    let mut aligned: Option<SystemTime> = None;
    // The previous body's size: the next one is likely the same.
    let mut last_len = 0usize;
    let mut state = Some(state);
    let mut scraped = false;
    loop {
        tokio::select! {
            biased;
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() != Stop::Run {
                    break;
                }
                continue;
            }
            _ = ticker.tick() => {}
        }
        let scrape_time = align(&mut aligned, SystemTime::now(), interval, tolerance);
        let started = Instant::now();
        let forced = lock(&forced_error).clone();
        // Fast path: a pooled buffer of the last body's size (plus an
        // eighth), so a steady target's body does not grow by doubling.
        let mut buf = buffers.get(last_len + last_len / 8);
        let fetched = match forced {
            Some(e) => Err(FetchError::Other(e)),
            None => scraper.fetch(&mut buf, last_len).await,
        };
        let body_limit = fetched == Err(FetchError::BodySizeLimit);
        let mut st = state.take()?;
        let t = to_timestamp(scrape_time);
        let app = appendable.clone();
        let s = settings.clone();
        last_len = buf.len();
        let pool = buffers.clone();
        let job = tokio::task::spawn_blocking(move || {
            let (error, tally) = process(&*app, &mut st, &s, fetched, &buf, t, started);
            let metadata = st.cache.take_metadata_change();
            pool.put(buf);
            Processed {
                state: st,
                error,
                tally,
                metadata,
            }
        });
        let done = match job.await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(target = %target.url, err = %e, "scrape task failed");
                return None;
            }
        };
        scraped = true;
        record(&metrics, &done.tally, body_limit);
        let mut st = done.state;
        inc(
            &metrics.cache_flush_forced,
            std::mem::take(&mut st.cache.forced_flushes),
        );
        state = Some(st);
        let mut s = lock(&status);
        s.health = if done.error.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        if let Some(e) = &done.error {
            tracing::debug!(target = %target.url, err = %e, "scrape failed");
        }
        s.last_error = done.error.unwrap_or_default();
        s.last_scrape = Some(scrape_time);
        s.last_duration = started.elapsed();
        if let Some(m) = done.metadata {
            s.metadata = Arc::new(m);
        }
    }
    let mode = *stop.borrow();
    match mode {
        Stop::Handover => state,
        Stop::Remove { wait } if scraped => {
            let st = state?;
            end_of_run(st, settings, appendable, ticker, stop, interval, wait).await;
            None
        }
        _ => None,
    }
}

/// Stale markers for a removed target: at the time its next scrape would
/// have been, written one interval (plus 10%) later so a recreated loop's
/// samples win, as Prometheus does; or now without `wait`.
async fn end_of_run(
    mut st: State,
    settings: Arc<Settings>,
    appendable: Arc<dyn Appendable>,
    mut ticker: tokio::time::Interval,
    mut stop: watch::Receiver<Stop>,
    interval: Duration,
    wait: bool,
) {
    let mut stale_time = SystemTime::now();
    if wait {
        let shutdown = |s: &watch::Receiver<Stop>| *s.borrow() == Stop::Shutdown;
        for i in 0..2 {
            tokio::select! {
                r = stop.changed() => if r.is_err() || shutdown(&stop) { return },
                _ = ticker.tick() => {}
            }
            if i == 0 {
                stale_time = SystemTime::now();
            }
        }
        tokio::select! {
            r = stop.changed() => if r.is_err() || shutdown(&stop) { return },
            _ = tokio::time::sleep(interval / 10) => {}
        }
    }
    let t = to_timestamp(stale_time);
    let r = tokio::task::spawn_blocking(move || {
        let mut app = appendable.appender();
        if let Err(e) = append::append_stale(&mut *app, &mut st, t, true) {
            tracing::warn!(err = %e, "stale append failed");
        }
        if let Err(e) = append::append_report(&mut *app, &mut st, &settings, t, None) {
            tracing::warn!(err = %e, "stale report failed");
        }
        if let Err(e) = app.commit() {
            tracing::warn!(err = %e, "stale commit failed");
        }
    })
    .await;
    if let Err(e) = r {
        tracing::error!(err = %e, "stale marker task failed");
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::align;

    fn at(ms: u64, us: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms) + Duration::from_micros(us)
    }

    /// Ticks a little early or late land on the grid; far off ones keep
    /// their time without moving the grid; skipped ticks move it along; a
    /// clock that went back starts a new grid.
    #[test]
    fn scrape_times_align_to_the_grid_on_either_side() {
        let (iv, tol) = (Duration::from_secs(15), Duration::from_millis(2));
        let mut grid = None;
        let t0 = at(1_000_000, 700);
        assert_eq!(align(&mut grid, t0, iv, tol), t0);
        let step = |n: u64| t0 + iv * u32::try_from(n).unwrap();
        // 0.9 ms early and 1.5 ms late: both on the grid.
        assert_eq!(
            align(&mut grid, step(1) - Duration::from_micros(900), iv, tol),
            step(1)
        );
        assert_eq!(
            align(&mut grid, step(2) + Duration::from_micros(1500), iv, tol),
            step(2)
        );
        // 2 ms early still aligns, 2.1 ms late does not.
        assert_eq!(align(&mut grid, step(3) - tol, iv, tol), step(3));
        let late = step(4) + Duration::from_micros(2100);
        assert_eq!(align(&mut grid, late, iv, tol), late);
        // The grid stayed: the next tick aligns again.
        assert_eq!(
            align(&mut grid, step(5) + Duration::from_micros(10), iv, tol),
            step(5)
        );
        // Two ticks skipped.
        assert_eq!(
            align(&mut grid, step(8) - Duration::from_micros(300), iv, tol),
            step(8)
        );
        // Half an interval off: not aligned, and the grid does not move.
        let mid = step(8) + iv / 2;
        assert_eq!(align(&mut grid, mid, iv, tol), mid);
        assert_eq!(align(&mut grid, step(9), iv, tol), step(9));
        // The clock went back an hour: a new grid from there.
        let back = step(9) - Duration::from_secs(3600);
        assert_eq!(align(&mut grid, back, iv, tol), back);
        assert_eq!(
            align(&mut grid, back + iv + Duration::from_micros(400), iv, tol),
            back + iv
        );
    }
}
