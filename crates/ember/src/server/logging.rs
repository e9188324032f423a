//! `--log.level` and `--log.format`: the tracing subscriber writes lines
//! the way Prometheus 3.x's slog handlers do, to stderr.
//!
//! - logfmt: `time=2024-11-14T10:04:37.347Z level=INFO source=mod.rs:120
//!   msg="server is ready to receive web requests" key=value ...`; values
//!   are quoted (Go's `strconv.Quote`) when empty or when they hold a space,
//!   `=`, `"` or a control character, as slog's text handler does.
//! - json: `{"time":"...","level":"INFO","source":"mod.rs:120","msg":"...",...}`.
//!
//! Times are UTC with milliseconds; `source` is the file's base name and
//! line (Prometheus's promslog shortens it the same way). Dependencies
//! (HTTP, TLS) log at most at `info` even with `--log.level=debug`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Logfmt,
    Json,
}

impl Format {
    pub(crate) fn parse(s: &str) -> Format {
        if s == "json" {
            Format::Json
        } else {
            Format::Logfmt
        }
    }
}

/// Installs the global subscriber (once; later calls do nothing).
pub(crate) fn init(level: &str, format: &str) {
    let quiet_deps =
        "hyper=info,hyper_util=info,rustls=info,tokio_rustls=info,reqwest=info,h2=info";
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level},{quiet_deps}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Formatter(Format::parse(format)))
        .try_init();
}

/// Formats events as Prometheus 3.x does.
pub(crate) struct Formatter(pub(crate) Format);

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        // slog has no trace level; its debug is the lowest.
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// The message and the fields of one event, in order.
#[derive(Default)]
struct Fields {
    msg: String,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_string();
        } else {
            self.pairs.push((field.name(), value.to_string()));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.pairs.push((field.name(), value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let v = format!("{value:?}");
        if field.name() == "message" {
            self.msg = v;
        } else {
            self.pairs.push((field.name(), v));
        }
    }
}

/// UTC `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch.
pub(crate) fn rfc3339_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// slog's text handler: quote when empty or holding a space, `=`, `"` or
/// a non-printable character.
fn needs_quoting(s: &str) -> bool {
    s.is_empty()
        || s.chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c.is_control() || c == '\u{fffd}')
}

/// Go's `strconv.Quote` for the characters log lines carry.
fn go_quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn logfmt_value(out: &mut String, v: &str) {
    if needs_quoting(v) {
        go_quote(out, v);
    } else {
        out.push_str(v);
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Formatter {
    /// One line (with the newline) for an event's parts.
    pub(crate) fn line(
        &self,
        time_ms: i64,
        level: &Level,
        source: Option<(&str, u32)>,
        fields: &[(&str, String)],
        msg: &str,
    ) -> String {
        let time = rfc3339_millis(time_ms);
        let source = source.map(|(file, line)| {
            let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
            format!("{base}:{line}")
        });
        let mut out = String::with_capacity(128);
        match self.0 {
            Format::Logfmt => {
                let _ = write!(out, "time={time} level={}", level_name(level));
                if let Some(s) = &source {
                    out.push_str(" source=");
                    logfmt_value(&mut out, s);
                }
                out.push_str(" msg=");
                logfmt_value(&mut out, msg);
                for (k, v) in fields {
                    out.push(' ');
                    out.push_str(k);
                    out.push('=');
                    logfmt_value(&mut out, v);
                }
            }
            Format::Json => {
                let _ = write!(
                    out,
                    "{{\"time\":\"{time}\",\"level\":\"{}\"",
                    level_name(level)
                );
                if let Some(s) = &source {
                    out.push_str(",\"source\":");
                    json_string(&mut out, s);
                }
                out.push_str(",\"msg\":");
                json_string(&mut out, msg);
                for (k, v) in fields {
                    out.push(',');
                    json_string(&mut out, k);
                    out.push(':');
                    json_string(&mut out, v);
                }
                out.push('}');
            }
        }
        out.push('\n');
        out
    }
}

impl<S, N> FormatEvent<S, N> for Formatter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let source = meta.file().zip(meta.line());
        let pairs: Vec<(&str, String)> = f.pairs.into_iter().collect();
        let line = self.line(web::now_ms(), meta.level(), source, &pairs, &f.msg);
        writer.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn logfmt_and_json_lines() {
        let f = [
            ("address", "127.0.0.1:9090".to_string()),
            ("err", "a b=\"c\"".to_string()),
            ("empty", String::new()),
        ];
        let l = Formatter(Format::Logfmt).line(
            0,
            &Level::INFO,
            Some(("crates/x/src/mod.rs", 7)),
            &f,
            "listening now",
        );
        assert_eq!(
            l,
            "time=1970-01-01T00:00:00.000Z level=INFO source=mod.rs:7 msg=\"listening now\" address=127.0.0.1:9090 err=\"a b=\\\"c\\\"\" empty=\"\"\n"
        );
        let j = Formatter(Format::Json).line(0, &Level::WARN, Some(("mod.rs", 7)), &f[..1], "x\ny");
        assert_eq!(
            j,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"level\":\"WARN\",\"source\":\"mod.rs:7\",\"msg\":\"x\\ny\",\"address\":\"127.0.0.1:9090\"}\n"
        );
    }
}
