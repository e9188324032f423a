//! Value types of expressions.

use std::fmt;

/// The type of an expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// No value (never the type of a valid expression).
    None,
    /// A scalar.
    Scalar,
    /// An instant vector.
    Vector,
    /// A range vector.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// Prometheus's internal name: `none`, `scalar`, `vector`, `matrix`,
    /// `string`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }

    /// The name used in the documentation and in most error messages:
    /// `instant vector`, `range vector`, `scalar`, `string`.
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for ValueType {
    /// The internal name (as the HTTP API's `resultType`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
