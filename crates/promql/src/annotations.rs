//! Warnings and infos attached to a query result, with Prometheus's texts
//! (`util/annotations`). Deduplicated by text, kept in insertion order.

/// Non-fatal notes gathered while evaluating.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    /// `PromQL warning: ...` texts.
    pub warnings: Vec<String>,
    /// `PromQL info: ...` texts.
    pub infos: Vec<String>,
}

impl Annotations {
    /// Adds a warning (the `PromQL warning: ` prefix is added here).
    pub fn warn(&mut self, msg: impl AsRef<str>) {
        let s = format!("PromQL warning: {}", msg.as_ref());
        if !self.warnings.contains(&s) {
            self.warnings.push(s);
        }
    }

    /// Adds an info (the `PromQL info: ` prefix is added here).
    pub fn info(&mut self, msg: impl AsRef<str>) {
        let s = format!("PromQL info: {}", msg.as_ref());
        if !self.infos.contains(&s) {
            self.infos.push(s);
        }
    }

    /// Adds everything of `other`.
    pub fn merge(&mut self, other: Annotations) {
        for w in other.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for i in other.infos {
            if !self.infos.contains(&i) {
                self.infos.push(i);
            }
        }
    }

    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

/// `" for metric name \"x\""` or nothing for an empty name.
pub(crate) fn for_metric(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" for metric name {}", quote(name))
    }
}

/// Go's `%q`.
pub(crate) fn quote(s: &str) -> String {
    model::matcher::go_quote(s)
}

/// Go's `%g` for a float.
pub(crate) fn fmt_g(v: f64) -> String {
    crate::value::format_float(v)
}
