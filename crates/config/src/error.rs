//! [`ConfigError`]: what went wrong, in which file, at which line and column.

use std::fmt;
use std::path::PathBuf;

/// A place in a YAML file (1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl Location {
    pub(crate) fn from_saphyr(l: serde_saphyr::Location) -> Option<Location> {
        (l.line() > 0).then(|| Location {
            line: l.line(),
            column: l.column(),
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Which part of loading rejected a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// The YAML decoder's type checks: unknown or repeated fields, values
    /// of the wrong type. Go's decoder reports these as `yaml: unmarshal
    /// errors:` with one `line N: <message>` line each, and so do we (the
    /// first only: decoding stops there).
    Unmarshal,
    /// Everything else: YAML syntax and Prometheus's own rules.
    Other,
}

/// A configuration Prometheus would reject.
///
/// Messages use Prometheus's wording. The decoder's type errors read as
/// Go's (`parsing YAML file prometheus.yml: yaml: unmarshal errors:\n  line
/// 3: field bogus not found in type config.plain`); other errors name the
/// place first, line and column, where Prometheus names none (`parsing YAML
/// file prometheus.yml: line 3, column 5: found multiple scrape configs
/// with job name "node"`). [`ConfigError::location`] has the column of
/// both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is malformed, has unknown fields or wrong types, or a value
    /// breaks one of Prometheus's rules.
    #[error("parsing YAML file {}: {}{message}", file_name(.file), prefix(*.stage, .location))]
    Invalid {
        /// The file, if the configuration came from one.
        file: Option<PathBuf>,
        /// Where in the file, when known.
        location: Option<Location>,
        /// Which part of loading rejected it.
        stage: Stage,
        /// Prometheus's message (it names the field or job).
        message: String,
    },
    /// A check promtool makes beyond parsing (rule files exist, file_sd
    /// files parse, TLS files exist, static targets relabel cleanly).
    #[error("{message}")]
    Check {
        /// promtool's message.
        message: String,
    },
}

fn file_name(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map_or_else(|| "<input>".to_owned(), |f| f.display().to_string())
}

fn prefix(stage: Stage, l: &Option<Location>) -> String {
    match (stage, l) {
        (Stage::Unmarshal, Some(l)) => format!("yaml: unmarshal errors:\n  line {}: ", l.line),
        (_, Some(l)) => format!("{l}: "),
        (_, None) => String::new(),
    }
}

impl ConfigError {
    /// Where in the file, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Invalid { location, .. } => *location,
            _ => None,
        }
    }

    /// The message without the file and location.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Invalid { message, .. } | ConfigError::Check { message } => {
                message.clone()
            }
            other => other.to_string(),
        }
    }

    /// Names the file the configuration came from.
    pub(crate) fn in_file(mut self, path: PathBuf) -> ConfigError {
        if let ConfigError::Invalid { file, .. } = &mut self {
            *file = Some(path);
        }
        self
    }
}

/// A validation failure found after parsing, at the place of the section
/// it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) location: Option<Location>,
    pub(crate) message: String,
}

impl Invalid {
    pub(crate) fn new(location: Option<Location>, message: impl Into<String>) -> Invalid {
        Invalid {
            location,
            message: message.into(),
        }
    }
}

impl From<Invalid> for ConfigError {
    fn from(i: Invalid) -> ConfigError {
        ConfigError::Invalid {
            file: None,
            location: i.location,
            stage: Stage::Other,
            message: i.message,
        }
    }
}

/// Turns a serde-saphyr error into ours, rewording serde's generic texts
/// into Prometheus's (Go YAML decoder's) where there is an equivalent.
pub(crate) fn from_saphyr(err: &serde_saphyr::Error, source: &str) -> ConfigError {
    let inner = innermost(err);
    let location = inner.location().and_then(Location::from_saphyr);
    let message = go_message(inner, source).unwrap_or_else(|| {
        // serde-saphyr's own rendering ends with " at line L, column C";
        // we carry the location separately.
        let text = inner.without_snippet().to_string();
        match text.rfind(" at line ") {
            Some(i) => text[..i].to_owned(),
            None => text,
        }
    });
    // Go's decoder gathers these as type errors; custom unmarshalers
    // (durations, relabel rules, ...) fail on their own.
    let stage = if message.starts_with("cannot unmarshal ")
        || (message.starts_with("field ")
            && (message.contains(" not found in type ")
                || message.contains(" already set in type ")))
    {
        Stage::Unmarshal
    } else {
        Stage::Other
    };
    ConfigError::Invalid {
        file: None,
        location,
        stage,
        message,
    }
}

fn innermost(err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    match err {
        serde_saphyr::Error::WithSnippet { error, .. } => innermost(error),
        serde_saphyr::Error::AliasError { error, .. } => innermost(error),
        other => other,
    }
}

/// The scalar at `loc` in `source` as Go's decoder names it in type
/// errors: its tag and text (`!!str `abc``).
fn scalar_at(source: &str, loc: Option<serde_saphyr::Location>) -> String {
    let found = || -> Option<String> {
        let offset = usize::try_from(loc?.span().byte_offset()?).ok()?;
        let line = source.get(offset..)?.lines().next()?;
        Some(match line.chars().next()? {
            q @ ('"' | '\'') => format!("!!str `{}`", line[1..].split(q).next()?),
            '[' | '-' => "!!seq".to_owned(),
            '{' => "!!map".to_owned(),
            _ => {
                let text = line
                    .split(" #")
                    .next()?
                    .trim_end()
                    .trim_end_matches([',', ']', '}']);
                format!("{} `{text}`", go_tag(text))
            }
        })
    };
    found().unwrap_or_else(|| "!!str ``".to_owned())
}

/// Go's YAML tag for a plain scalar.
fn go_tag(text: &str) -> &'static str {
    if text.parse::<i64>().is_ok() {
        "!!int"
    } else if text.parse::<f64>().is_ok() {
        "!!float"
    } else if matches!(text, "true" | "false") {
        "!!bool"
    } else {
        "!!str"
    }
}

fn go_message(err: &serde_saphyr::Error, source: &str) -> Option<String> {
    use serde_saphyr::Error as E;
    match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let ty = crate::de::go_type_for_first_field(expected.first().copied().unwrap_or(""));
            Some(format!("field {field} not found in type {ty}"))
        }
        E::DuplicateMappingKey { key: Some(k), .. } => {
            Some(format!("mapping key \"{k}\" already defined"))
        }
        _ => {
            let text = err.without_snippet().to_string();
            let text = text
                .rfind(" at line ")
                .map_or(text.as_str(), |i| &text[..i]);
            let into = if text.starts_with("invalid u") {
                "uint"
            } else if text.starts_with("invalid i") {
                "int"
            } else if text.starts_with("invalid f") {
                "float64"
            } else if text.starts_with("invalid bool") {
                "bool"
            } else if text.starts_with("expected string scalar") {
                "string"
            } else if text.starts_with("expected sequence start") {
                "a list"
            } else if text.starts_with("expected mapping start") {
                "a mapping"
            } else {
                return None;
            };
            let v = scalar_at(source, err.location());
            Some(format!("cannot unmarshal {v} into {into}"))
        }
    }
}
