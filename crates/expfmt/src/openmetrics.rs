//! OpenMetrics parser. Placeholder: being written.
use crate::{Entry, ParseError, Parser};

/// Parser for OpenMetrics.
pub struct OpenMetricsParser<'a> {
    _input: &'a [u8],
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over `input`.
    pub fn new(input: &'a [u8]) -> Result<OpenMetricsParser<'a>, ParseError> {
        Ok(OpenMetricsParser { _input: input })
    }
}

impl Parser for OpenMetricsParser<'_> {
    fn next(&mut self) -> Option<Result<Entry<'_>, ParseError>> {
        None
    }
}
