//! Time functions: `time`, `start`, `end`, `range`, `step` and the calendar
//! functions (`hour`, `day_of_week`, `days_in_month`, ...), all in UTC.

use model::Labels;
use model::time::civil_from_days;

use crate::value::{Sample, Vector};

use super::StepArgs;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

fn date_part(name: &str, secs: i64) -> f64 {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match name {
        "hour" => (rem / 3600) as f64,
        "minute" => ((rem % 3600) / 60) as f64,
        "month" => m as f64,
        "year" => y as f64,
        "day_of_month" => d as f64,
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => {
            let cum: u32 = (1..m).map(|mm| days_in_month(y, mm)).sum();
            (cum + d) as f64
        }
        "days_in_month" => days_in_month(y, m) as f64,
        _ => f64::NAN,
    }
}

pub(super) fn call(name: &str, a: &StepArgs<'_>) -> Option<Vector> {
    let scalar = |v: f64| vec![Sample::float(Labels::empty(), 0, v)];
    Some(match name {
        "time" => scalar(a.ts as f64 / 1000.0),
        "start" => scalar(a.query_start as f64 / 1000.0),
        "end" => scalar(a.query_end as f64 / 1000.0),
        "range" => scalar((a.query_end - a.query_start) as f64 / 1000.0),
        "step" => scalar(a.query_step as f64 / 1000.0),
        "hour" | "minute" | "month" | "year" | "day_of_month" | "day_of_week" | "day_of_year"
        | "days_in_month" => {
            if a.call.args.is_empty() {
                scalar(date_part(name, a.ts.div_euclid(1000)))
            } else {
                a.vecs[0]
                    .iter()
                    .filter(|s| s.h.is_none())
                    .map(|s| {
                        let secs = if s.f.is_finite() {
                            s.f as i64
                        } else {
                            i64::MIN / 2
                        };
                        a.derived(s, date_part(name, secs))
                    })
                    .collect()
            }
        }
        _ => return None,
    })
}
