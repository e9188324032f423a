//! Selector evaluation shared by indexes that can fail while reading (the
//! on-disk index): Prometheus's `PostingsForMatchers`, the same algorithm
//! as [`super::postings::MemPostings::postings_for_matchers`].
//!
//! A matcher that rejects the empty value selects the union of the lists
//! of the values it accepts; a matcher that accepts the empty value also
//! selects series without the label, so it subtracts the union of the lists
//! of the values it rejects (its inverse accepts); `=~".*"` selects
//! everything and is skipped; with no selecting matcher the start is every
//! series.

use model::matcher::{MatchOp, Matcher};

use super::postings::{BoxPostings, intersect, merge, without};

/// An index the evaluation reads lists from.
pub(crate) trait PostingsSource<'a> {
    /// The error reading a list.
    type Error;
    /// Every series.
    fn all(&self) -> Result<BoxPostings<'a>, Self::Error>;
    /// The union of the lists of the (non-empty) values of `m.name()` that
    /// `m` accepts.
    fn matching(&self, m: &Matcher) -> Result<BoxPostings<'a>, Self::Error>;
}

/// A cursor over the series selected by `matchers` (all must hold; an
/// absent label matches as the empty value).
pub(crate) fn postings_for_matchers<'a, S: PostingsSource<'a>>(
    src: &S,
    matchers: &[Matcher],
) -> Result<BoxPostings<'a>, S::Error> {
    let mut its: Vec<BoxPostings<'a>> = Vec::new();
    let mut nots: Vec<BoxPostings<'a>> = Vec::new();
    for m in matchers {
        if m.op() == MatchOp::RegexMatch && m.value() == ".*" {
            continue;
        }
        if m.matches_empty() {
            nots.push(src.matching(&m.inverse())?);
        } else {
            its.push(src.matching(m)?);
        }
    }
    if its.is_empty() {
        its.push(src.all()?);
    }
    let it = intersect(its);
    Ok(if nots.is_empty() {
        it
    } else {
        without(it, merge(nots))
    })
}
