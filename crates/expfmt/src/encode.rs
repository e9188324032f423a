//! Encoders from owned [`MetricFamily`]s to the three exposition formats, as
//! client_golang's `expfmt` writes them: text 0.0.4 ([`encode_text`]),
//! OpenMetrics 1.0 ([`encode_openmetrics`]) and delimited protobuf
//! ([`encode_protobuf`]).
//!
//! Output order is input order; nothing is sorted or validated (an exporter
//! builds valid families). Names that are not legacy-valid
//! (`[a-zA-Z_:][a-zA-Z0-9_:]*`) are quoted, the metric name then moving inside
//! the braces, as client_golang does for UTF-8 names.

pub(crate) mod float;
mod openmetrics;
mod protobuf;
mod text;

pub use openmetrics::encode_openmetrics;
pub use protobuf::encode_protobuf;
pub use text::encode_text;

/// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_legacy_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Appends `s` escaped: `\` and newline always, `"` when `quotes`.
fn push_escaped(out: &mut String, s: &str, quotes: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends a metric or label name, quoted and escaped unless legacy-valid.
fn push_name(out: &mut String, name: &str) {
    if is_legacy_name(name) {
        out.push_str(name);
    } else {
        out.push('"');
        push_escaped(out, name, true);
        out.push('"');
    }
}

/// The value of a label added by the encoder (`le`, `quantile`, a state).
#[derive(Clone, Copy)]
enum Extra<'a> {
    None,
    Float(&'static str, f64),
    Str(&'a str, &'a str),
}

/// Appends `name{labels,extra}` (the braces only when there are labels or
/// the name must be quoted); `om` selects OpenMetrics float formatting.
fn push_series(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    extra: Extra<'_>,
    om: bool,
) {
    let mut sep = '{';
    let mut quoted = false;
    if !name.is_empty() {
        if is_legacy_name(name) && (suffix.is_empty() || is_legacy_name(suffix)) {
            out.push_str(name);
            out.push_str(suffix);
        } else {
            out.push(sep);
            sep = ',';
            quoted = true;
            out.push('"');
            push_escaped(out, name, true);
            push_escaped(out, suffix, true);
            out.push('"');
        }
    }
    if labels.is_empty() && matches!(extra, Extra::None) {
        if quoted {
            out.push('}');
        }
        return;
    }
    for (n, v) in labels {
        out.push(sep);
        sep = ',';
        push_name(out, n);
        out.push_str("=\"");
        push_escaped(out, v, true);
        out.push('"');
    }
    match extra {
        Extra::None => {}
        Extra::Float(n, v) => {
            out.push(sep);
            out.push_str(n);
            out.push_str("=\"");
            if om {
                float::push_openmetrics(out, v);
            } else {
                float::push_text(out, v);
            }
            out.push('"');
        }
        Extra::Str(n, v) => {
            out.push(sep);
            push_name(out, n);
            out.push_str("=\"");
            push_escaped(out, v, true);
            out.push('"');
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests;
