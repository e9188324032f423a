//! Relabeling: `relabel_configs`, `metric_relabel_configs`,
//! `alert_relabel_configs` and `write_relabel_configs` all run this engine.
//!
//! A [`Config`] deserializes from Prometheus's YAML (same field names,
//! defaults and strictness), [`Config::validate`] applies Prometheus's
//! constraints with its error messages, and [`process`] /
//! [`process_builder`] apply a list of configs in order, stopping at the
//! first one that drops the label set. Semantics follow Prometheus 3.x's
//! `model/relabel/relabel.go`:
//!
//! - source values are joined with `separator` (an absent label is `""`);
//! - regexes are compiled as `^(?s:regex)$` ([`Regex::new_relabel`]);
//! - `replace` expands `$1`, `${1}`, `$name` like Go's
//!   `Regexp.ExpandString` in both `target_label` and `replacement`; a target
//!   that is not a valid label name skips the step, an empty result deletes
//!   the label;
//! - `hashmod` takes the MD5 of the joined values, reads bytes 8..16 as a
//!   big-endian `u64` and keeps it modulo `modulus`;
//! - `labelmap` renames over every label name, `labeldrop`/`labelkeep`
//!   filter names, `lowercase`/`uppercase` map per character like Go's
//!   `strings.ToLower`/`ToUpper`, `keepequal`/`dropequal` compare the joined
//!   values with the target label's value.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize};

use crate::labels::{Builder, Labels, NameValidation};
use crate::matcher::go_quote;
use crate::regex::Regex;

/// What a relabel step does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Action {
    /// Set `target_label` to `replacement` (with group references) if the
    /// joined source values match.
    #[default]
    Replace,
    /// Drop the label set unless the joined source values match.
    Keep,
    /// Drop the label set if the joined source values match.
    Drop,
    /// Drop the label set unless the joined source values equal the value
    /// of `target_label`.
    KeepEqual,
    /// Drop the label set if the joined source values equal the value of
    /// `target_label`.
    DropEqual,
    /// Set `target_label` to a hash of the joined source values modulo
    /// `modulus`.
    HashMod,
    /// Copy every label whose name matches to the name given by
    /// `replacement`.
    LabelMap,
    /// Remove every label whose name matches.
    LabelDrop,
    /// Remove every label whose name does not match.
    LabelKeep,
    /// Set `target_label` to the lower-cased joined source values.
    Lowercase,
    /// Set `target_label` to the upper-cased joined source values.
    Uppercase,
}

impl Action {
    /// Every action, in Prometheus's order of declaration.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Whether the action writes `target_label`.
    fn sets_target(self) -> bool {
        matches!(
            self,
            Action::Replace | Action::HashMod | Action::Lowercase | Action::Uppercase
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = ConfigError;

    /// Parses an action name, ignoring case, as Prometheus does.
    fn from_str(s: &str) -> Result<Action, ConfigError> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| ConfigError::UnknownAction(s.to_owned()))
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A relabel configuration Prometheus would reject.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `action:` given without a value.
    #[error("relabel action cannot be empty")]
    EmptyAction,
    /// An action name Prometheus does not know.
    #[error("unknown relabel action {}", go_quote(.0))]
    UnknownAction(String),
    /// An empty name in `source_labels`.
    #[error("{} is not a valid label name", go_quote(.0))]
    InvalidSourceLabel(String),
    /// `hashmod` with `modulus: 0`.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that needs `target_label` has none.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    /// `target_label` is not a valid label name (or template).
    #[error("{} is invalid 'target_label' for {action} action", go_quote(.target))]
    InvalidTargetLabel {
        /// The configured target label.
        target: String,
        /// The action.
        action: Action,
    },
    /// `replacement` set for an action that does not use it.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    /// `labelmap` with a replacement that is not a valid label name.
    #[error("{} is invalid 'replacement' for {action} action", go_quote(.replacement))]
    InvalidReplacement {
        /// The configured replacement.
        replacement: String,
        /// The action.
        action: Action,
    },
    /// `keepequal`/`dropequal` with fields other than `source_labels` and
    /// `target_label`.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    EqualActionFields(Action),
    /// `labeldrop`/`labelkeep` with fields other than `regex`.
    #[error("{0} action requires only 'regex', and no other fields")]
    LabelActionFields(Action),
}

/// The default separator.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default replacement.
pub const DEFAULT_REPLACEMENT: &str = "$1";
/// The default regex.
pub const DEFAULT_REGEX: &str = "(.*)";

static DEFAULT_REGEX_COMPILED: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new_relabel(DEFAULT_REGEX).expect("the default relabel regex compiles")
});

/// One relabel step, as written in YAML.
///
/// Missing fields take Prometheus's defaults; a field given as `null` takes
/// the zero value (as Go's YAML decoder does), and unknown fields are
/// rejected. Call [`Config::validate`] before use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Labels whose values are joined with `separator`.
    #[serde(
        default,
        deserialize_with = "de_source_labels",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_labels: Vec<String>,
    /// Placed between the source values (default `;`).
    #[serde(default = "default_separator", deserialize_with = "null_as_zero")]
    pub separator: String,
    /// The pattern; `None` means the default `(.*)`. Prometheus tells an
    /// explicit `(.*)` from the default (see [`ConfigError::EqualActionFields`]).
    #[serde(
        default,
        deserialize_with = "de_regex",
        skip_serializing_if = "Option::is_none"
    )]
    pub regex: Option<Regex>,
    /// For `hashmod`.
    #[serde(
        default,
        deserialize_with = "null_as_zero",
        skip_serializing_if = "is_zero"
    )]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`,
    /// or compared by `keepequal`/`dropequal`.
    #[serde(
        default,
        deserialize_with = "null_as_zero",
        skip_serializing_if = "String::is_empty"
    )]
    pub target_label: String,
    /// The value template for `replace` and `labelmap` (default `$1`).
    #[serde(default = "default_replacement", deserialize_with = "null_as_zero")]
    pub replacement: String,
    /// What the step does (default `replace`).
    #[serde(default, deserialize_with = "de_action")]
    pub action: Action,
    /// Which label names are valid targets; `None` until
    /// [`Config::validate`] fills in the global scheme. Unvalidated configs
    /// use UTF-8 rules.
    #[serde(skip)]
    pub name_validation: Option<NameValidation>,
}

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_owned()
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_owned()
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A field given as `null` takes its zero value, as in Go.
fn null_as_zero<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn de_source_labels<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names: Vec<String> = null_as_zero(d)?;
    if let Some(bad) = names.iter().find(|n| n.is_empty()) {
        return Err(serde::de::Error::custom(ConfigError::InvalidSourceLabel(
            bad.clone(),
        )));
    }
    Ok(names)
}

/// `regex: null` is the empty regex, as in Prometheus.
fn de_regex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Regex>, D::Error> {
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    Regex::new_relabel(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_action<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Err(serde::de::Error::custom(ConfigError::EmptyAction)),
        Some(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

impl Default for Config {
    /// `replace` with separator `;`, regex `(.*)`, replacement `$1`, and
    /// no source or target labels.
    fn default() -> Config {
        Config {
            source_labels: Vec::new(),
            separator: default_separator(),
            regex: None,
            modulus: 0,
            target_label: String::new(),
            replacement: default_replacement(),
            action: Action::Replace,
            name_validation: None,
        }
    }
}

/// Whether `s` is a legacy label name in which `$name` and `${name}`
/// references may stand for characters (Prometheus's `relabelTargetLegacy`:
/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`).
fn is_legacy_name_template(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty() || b[0].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            i += 1;
            let braced = b.get(i) == Some(&b'{');
            if braced {
                i += 1;
            }
            let start = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            if i == start {
                return false;
            }
            if braced {
                if b.get(i) != Some(&b'}') {
                    return false;
                }
                i += 1;
            }
        } else if word(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

impl Config {
    /// The regex, or the default `(.*)`.
    pub fn regex(&self) -> &Regex {
        self.regex.as_ref().unwrap_or(&DEFAULT_REGEX_COMPILED)
    }

    /// The naming scheme in effect for this step.
    fn scheme(&self) -> NameValidation {
        self.name_validation.unwrap_or_default()
    }

    /// Checks Prometheus's constraints (`relabel.Config.Validate`) and
    /// records `global` as the naming scheme if none is set yet.
    pub fn validate(&mut self, global: NameValidation) -> Result<(), ConfigError> {
        let action = self.action;
        if self.modulus == 0 && action == Action::HashMod {
            return Err(ConfigError::ZeroModulus);
        }
        let needs_target = action.sets_target() || self.is_equal_action();
        if needs_target && self.target_label.is_empty() {
            return Err(ConfigError::MissingTargetLabel(action));
        }
        let scheme = *self.name_validation.get_or_insert(global);
        let template_ok = |v: &str| match scheme {
            NameValidation::Utf8 => scheme.is_valid_label_name(v),
            NameValidation::Legacy => is_legacy_name_template(v),
        };
        let bad_target = || ConfigError::InvalidTargetLabel {
            target: self.target_label.clone(),
            action,
        };
        let target = self.target_label.as_str();
        if action == Action::Replace {
            let ok = if target.contains('$') {
                template_ok(target)
            } else {
                scheme.is_valid_label_name(target)
            };
            if !ok {
                return Err(bad_target());
            }
        }
        let case_or_equal =
            matches!(action, Action::Lowercase | Action::Uppercase) || self.is_equal_action();
        if case_or_equal && !scheme.is_valid_label_name(target) {
            return Err(bad_target());
        }
        if case_or_equal && self.replacement != DEFAULT_REPLACEMENT {
            return Err(ConfigError::ReplacementNotAllowed(action));
        }
        if action == Action::LabelMap && !template_ok(&self.replacement) {
            return Err(ConfigError::InvalidReplacement {
                replacement: self.replacement.clone(),
                action,
            });
        }
        if action == Action::HashMod && !scheme.is_valid_label_name(target) {
            return Err(bad_target());
        }
        if self.is_equal_action()
            && (self.regex.is_some()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(ConfigError::EqualActionFields(action));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(ConfigError::LabelActionFields(action));
        }
        Ok(())
    }

    fn is_equal_action(&self) -> bool {
        matches!(self.action, Action::KeepEqual | Action::DropEqual)
    }

    /// The source values joined with the separator.
    fn source_value<'b>(&self, b: &'b Builder) -> Cow<'b, str> {
        match self.source_labels.as_slice() {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(b.get(one).unwrap_or("")),
            many => {
                let mut out = String::new();
                for (i, name) in many.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&self.separator);
                    }
                    out.push_str(b.get(name).unwrap_or(""));
                }
                Cow::Owned(out)
            }
        }
    }

    /// Applies this step to `b`. Returns `false` if the label set is to be
    /// dropped (then `b` is left as it was).
    pub fn apply(&self, b: &mut Builder) -> bool {
        let val = self.source_value(b);
        let re = self.regex();
        match self.action {
            Action::Drop => return !re.is_match(&val),
            Action::Keep => return re.is_match(&val),
            Action::DropEqual => return b.get(&self.target_label).unwrap_or("") != val,
            Action::KeepEqual => return b.get(&self.target_label).unwrap_or("") == val,
            _ => {}
        }
        let val = val.into_owned();
        match self.action {
            Action::Replace => self.replace(b, &val),
            Action::Lowercase => b.set(&self.target_label, &go_to_lower(&val)),
            Action::Uppercase => b.set(&self.target_label, &go_to_upper(&val)),
            Action::HashMod => {
                let digest = Md5::digest(val.as_bytes());
                let mut low = [0u8; 8];
                low.copy_from_slice(&digest[8..16]);
                // An unvalidated zero modulus leaves the label untouched
                // (Prometheus would panic).
                if let Some(m) = u64::from_be_bytes(low).checked_rem(self.modulus) {
                    b.set(&self.target_label, &m.to_string());
                }
            }
            Action::LabelMap => {
                // Rename over a snapshot of the names, as Prometheus does.
                let mut renamed: Vec<(String, String)> = Vec::new();
                for (name, value) in b.iter() {
                    if let Some(new) = expand_if_match(re, name, &self.replacement) {
                        renamed.push((new.into_owned(), value.to_owned()));
                    }
                }
                for (name, value) in renamed {
                    b.set(&name, &value);
                }
            }
            Action::LabelDrop => b.retain(|name, _| !re.is_match(name)),
            Action::LabelKeep => b.retain(|name, _| re.is_match(name)),
            Action::Keep | Action::Drop | Action::KeepEqual | Action::DropEqual => {}
        }
        true
    }

    fn replace(&self, b: &mut Builder, val: &str) {
        let target = self.target_label.as_str();
        let replacement = self.replacement.as_str();
        let templated = target.contains('$') || replacement.contains('$');
        if !templated {
            // Fast path: adding or deleting a constant pair.
            if val.is_empty() && self.regex.is_none() {
                b.set(target, replacement);
                return;
            }
            if !self.regex().is_match(val) || !self.scheme().is_valid_label_name(target) {
                return;
            }
            if replacement.is_empty() {
                b.del(target);
            } else {
                b.set(target, replacement);
            }
            return;
        }
        let re = self.regex();
        let mut locs = re.capture_locations();
        if !re.captures_read(&mut locs, val) {
            return;
        }
        let mut name = String::new();
        re.expand(&locs, val, target, &mut name);
        if !self.scheme().is_valid_label_name(&name) {
            return;
        }
        let mut value = String::new();
        re.expand(&locs, val, replacement, &mut value);
        if value.is_empty() {
            b.del(&name);
        } else {
            b.set(&name, &value);
        }
    }
}

/// `template` expanded over the match of `re` on `s`, if it matches.
fn expand_if_match<'t>(re: &Regex, s: &str, template: &'t str) -> Option<Cow<'t, str>> {
    if !template.contains('$') {
        // Fast path: nothing to expand, no need for group positions.
        return re.is_match(s).then_some(Cow::Borrowed(template));
    }
    re.replace(s, template).map(Cow::Owned)
}

/// Applies `configs` in order to a copy of `labels`. `None` if a step drops
/// the label set.
pub fn process(labels: &Labels, configs: &[Config]) -> Option<Labels> {
    let mut b = labels.to_builder();
    process_builder(&mut b, configs).then(|| b.labels())
}

/// Applies `configs` in order to `b`, reusing its buffers. Returns `false`
/// (and stops) at the first step that drops the label set.
pub fn process_builder(b: &mut Builder, configs: &[Config]) -> bool {
    configs.iter().all(|c| c.apply(b))
}

/// Go's `strings.ToLower`: each character by its simple lower-case mapping
/// (no context rules: a final `Σ` becomes `σ`).
pub fn go_to_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) => out.push(l),
            // Only U+0130 'İ' has a multi-character full mapping; its
            // simple mapping is 'i'.
            _ => out.push(if c == '\u{130}' { 'i' } else { c }),
        }
    }
    out
}

/// Go's `strings.ToUpper`: each character by its simple upper-case mapping
/// (`ß` stays `ß`, `ﬁ` stays `ﬁ`).
pub fn go_to_upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(simple_upper_of_expanding(c)),
        }
    }
    out
}

/// The simple upper-case mapping of a character whose full mapping has
/// several characters (Unicode SpecialCasing): only the Greek letters with
/// ypogegrammeni have one (their title-case forms); the rest map to
/// themselves.
fn simple_upper_of_expanding(c: char) -> char {
    let u = c as u32;
    let mapped = match u {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => u + 8,
        0x1FB3 | 0x1FC3 | 0x1FF3 => u + 9,
        _ => u,
    };
    char::from_u32(mapped).unwrap_or(c)
}

#[cfg(test)]
mod tests;
