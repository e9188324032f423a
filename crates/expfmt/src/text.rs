//! Prometheus text format parser. Placeholder: being written.
use crate::{Entry, ParseError, Parser};

/// Parser for the Prometheus text format.
pub struct TextParser<'a> {
    _input: &'a [u8],
}

impl<'a> TextParser<'a> {
    /// A parser over `input`.
    pub fn new(input: &'a [u8]) -> Result<TextParser<'a>, ParseError> {
        Ok(TextParser { _input: input })
    }
}

impl Parser for TextParser<'_> {
    fn next(&mut self) -> Option<Result<Entry<'_>, ParseError>> {
        None
    }
}
