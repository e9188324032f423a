//! Protobuf parser. Placeholder: being written.
use crate::{Entry, ParseError, Parser};

/// Parser for delimited protobuf.
pub struct ProtobufParser<'a> {
    _input: &'a [u8],
}

impl<'a> ProtobufParser<'a> {
    /// A parser over `input`.
    pub fn new(input: &'a [u8]) -> ProtobufParser<'a> {
        ProtobufParser { _input: input }
    }
}

impl Parser for ProtobufParser<'_> {
    fn next(&mut self) -> Option<Result<Entry<'_>, ParseError>> {
        None
    }
}
