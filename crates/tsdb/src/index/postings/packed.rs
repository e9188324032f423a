//! Compressed postings lists of the head: sorted series references stored
//! as LEB128 deltas in blocks, with a skip table for seeks.
//!
//! A list holding one reference (most values of high-cardinality labels) is
//! that reference, inline. Longer lists are blocks of up to [`BLOCK`]
//! references: a block's first reference sits in the skip table (with the
//! byte offset of the block's deltas), the others are the LEB128 deltas to
//! their predecessor. Head references are handed out in increasing order, so
//! most deltas fit one byte: a list costs ~1–2 bytes per reference plus
//! 16 bytes per block, where a `Vec<u64>` costs 8 (and up to 16 after
//! doubling).
//!
//! Appends of a larger reference are O(1). A smaller reference (a replayed
//! WAL whose series records were committed out of reference order) re-encodes
//! the list from its block on, which is cheap for the usual small inversions
//! near the end. Removal re-encodes the list.

use super::Postings;

/// References per block.
pub(crate) const BLOCK: u32 = 128;

/// The first reference of a block and where its deltas start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Skip {
    first: u64,
    offset: u32,
}

/// A list of two or more references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Packed {
    len: u32,
    /// The largest reference.
    last: u64,
    /// References in the last block.
    tail: u32,
    skips: Vec<Skip>,
    deltas: Vec<u8>,
}

/// A non-empty sorted list of distinct series references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RefList {
    /// One reference, inline.
    One(u64),
    /// Two or more, compressed.
    Packed(Box<Packed>),
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 value at `*pos` (the buffer was written by
/// [`put_uvarint`], so it is well-formed).
#[inline]
fn get_uvarint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

impl Packed {
    fn from_sorted(refs: impl IntoIterator<Item = u64>) -> Packed {
        let mut p = Packed::default();
        for r in refs {
            p.push_larger(r);
        }
        p.shrink();
        p
    }

    /// Appends `r`, larger than every reference held.
    fn push_larger(&mut self, r: u64) {
        if self.len == 0 || self.tail == BLOCK {
            self.skips.push(Skip {
                first: r,
                offset: self.deltas.len() as u32,
            });
            self.tail = 1;
        } else {
            put_uvarint(&mut self.deltas, r - self.last);
            self.tail += 1;
        }
        self.last = r;
        self.len += 1;
    }

    fn shrink(&mut self) {
        self.skips.shrink_to_fit();
        self.deltas.shrink_to_fit();
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            p: self,
            block: 0,
            pos: 0,
            end: 0,
            cur: 0,
        }
    }

    /// Byte offset where block `b`'s deltas end.
    fn block_end(&self, b: usize) -> usize {
        self.skips
            .get(b + 1)
            .map_or(self.deltas.len(), |s| s.offset as usize)
    }

    /// Inserts `r`, which is smaller than the largest reference; `false` if
    /// it is already present. Re-encodes from `r`'s block on.
    fn insert_smaller(&mut self, r: u64) -> bool {
        let b = self
            .skips
            .partition_point(|s| s.first <= r)
            .saturating_sub(1);
        let mut it = self.iter();
        it.seek_block(b);
        let mut rest: Vec<u64> = it.collect();
        match rest.binary_search(&r) {
            Ok(_) => return false,
            Err(i) => rest.insert(i, r),
        }
        // Every block but the last is full, so the blocks before `b` stay
        // as they are.
        self.deltas.truncate(self.skips[b].offset as usize);
        self.skips.truncate(b);
        self.len = (b as u32) * BLOCK;
        self.tail = if b == 0 { 0 } else { BLOCK };
        for v in rest {
            self.push_larger(v);
        }
        true
    }
}

/// Iterates a packed list.
struct PackedIter<'a> {
    p: &'a Packed,
    /// Block of the next value.
    block: usize,
    /// Position of the next delta; `end` is where the block's deltas end.
    pos: usize,
    end: usize,
    cur: u64,
}

impl PackedIter<'_> {
    /// Positions the iterator so that the next value is block `b`'s first.
    fn seek_block(&mut self, b: usize) {
        self.block = b;
        self.pos = 0;
        self.end = 0;
    }
}

impl Iterator for PackedIter<'_> {
    type Item = u64;
    #[inline]
    fn next(&mut self) -> Option<u64> {
        if self.pos < self.end {
            self.cur += get_uvarint(&self.p.deltas, &mut self.pos);
            return Some(self.cur);
        }
        let s = self.p.skips.get(self.block)?;
        self.cur = s.first;
        self.pos = s.offset as usize;
        self.end = self.p.block_end(self.block);
        self.block += 1;
        Some(self.cur)
    }
}

impl RefList {
    /// A list of `refs`, which must be sorted and distinct; `None` if empty.
    pub(crate) fn from_sorted(refs: &[u64]) -> Option<RefList> {
        match refs {
            [] => None,
            [r] => Some(RefList::One(*r)),
            _ => Some(RefList::Packed(Box::new(Packed::from_sorted(
                refs.iter().copied(),
            )))),
        }
    }

    /// Number of references.
    pub(crate) fn len(&self) -> usize {
        match self {
            RefList::One(_) => 1,
            RefList::Packed(p) => p.len as usize,
        }
    }

    /// The references in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (one, packed) = match self {
            RefList::One(r) => (Some(*r), None),
            RefList::Packed(p) => (None, Some(p.iter())),
        };
        one.into_iter().chain(packed.into_iter().flatten())
    }

    /// Adds `r` (nothing if present). Fast path: `r` larger than every
    /// reference held.
    pub(crate) fn insert(&mut self, r: u64) {
        match self {
            RefList::One(v) if *v == r => {}
            RefList::One(v) => {
                let (a, b) = if *v < r { (*v, r) } else { (r, *v) };
                let mut p = Packed::default();
                p.push_larger(a);
                p.push_larger(b);
                *self = RefList::Packed(Box::new(p));
            }
            RefList::Packed(p) => {
                if r > p.last {
                    p.push_larger(r);
                } else if r < p.last {
                    p.insert_smaller(r);
                }
            }
        }
    }

    /// Removes the references in `dead` (sorted); `None` if nothing is
    /// left.
    pub(crate) fn remove(self, dead: &[u64]) -> Option<RefList> {
        let keep: Vec<u64> = self
            .iter()
            .filter(|r| dead.binary_search(r).is_err())
            .collect();
        if keep.len() == self.len() {
            return Some(self);
        }
        RefList::from_sorted(&keep)
    }

    /// Releases spare capacity.
    pub(crate) fn shrink(&mut self) {
        if let RefList::Packed(p) = self {
            p.shrink();
        }
    }

    /// A cursor over the list.
    pub(crate) fn postings(&self) -> RefPostings<'_> {
        match self {
            RefList::One(r) => RefPostings {
                one: Some(*r),
                p: None,
                state: State::Before,
                block: 0,
                pos: 0,
                end: 0,
                cur: 0,
            },
            RefList::Packed(p) => RefPostings {
                one: None,
                p: Some(p),
                state: State::Before,
                block: 0,
                pos: 0,
                end: 0,
                cur: 0,
            },
        }
    }

    /// Heap bytes used (for statistics and tests).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            RefList::One(_) => 0,
            RefList::Packed(p) => {
                std::mem::size_of::<Packed>()
                    + p.skips.capacity() * std::mem::size_of::<Skip>()
                    + p.deltas.capacity()
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Before,
    At,
    Done,
}

/// A [`Postings`] cursor over a [`RefList`].
#[derive(Clone, Debug)]
pub struct RefPostings<'a> {
    one: Option<u64>,
    p: Option<&'a Packed>,
    state: State,
    /// Block of the current value (packed lists).
    block: usize,
    /// Next delta and end of the current block's deltas.
    pos: usize,
    end: usize,
    cur: u64,
}

impl RefPostings<'_> {
    /// Moves to the first value of block `b`.
    #[inline]
    fn enter(&mut self, p: &Packed, b: usize) -> bool {
        match p.skips.get(b) {
            Some(s) => {
                self.block = b;
                self.cur = s.first;
                self.pos = s.offset as usize;
                self.end = p.block_end(b);
                self.state = State::At;
                true
            }
            None => {
                self.state = State::Done;
                false
            }
        }
    }
}

impl Postings for RefPostings<'_> {
    #[inline]
    fn next(&mut self) -> bool {
        match self.state {
            State::Done => return false,
            State::Before => {
                if let Some(r) = self.one {
                    self.cur = r;
                    self.state = State::At;
                    return true;
                }
            }
            State::At => {}
        }
        let Some(p) = self.p else {
            self.state = State::Done;
            return false;
        };
        if self.state == State::Before {
            return self.enter(p, 0);
        }
        if self.pos < self.end {
            self.cur += get_uvarint(&p.deltas, &mut self.pos);
            return true;
        }
        self.enter(p, self.block + 1)
    }

    fn seek(&mut self, v: u64) -> bool {
        if self.state == State::At && self.cur >= v {
            return true;
        }
        let Some(p) = self.p else {
            // One inline value.
            return match (self.state, self.one) {
                (State::Done, _) | (_, None) => false,
                (_, Some(r)) if r >= v => {
                    self.cur = r;
                    self.state = State::At;
                    true
                }
                _ => {
                    self.state = State::Done;
                    false
                }
            };
        };
        if self.state == State::Done {
            return false;
        }
        // Skip whole blocks: the last block starting at or before `v`, not
        // behind the current one.
        let from = if self.state == State::Before {
            0
        } else {
            self.block
        };
        let b = from
            + p.skips[from..]
                .partition_point(|s| s.first <= v)
                .saturating_sub(1);
        if self.state == State::Before || b > self.block {
            self.enter(p, b);
        }
        while self.cur < v {
            if !self.next() {
                return false;
            }
        }
        true
    }

    fn at(&self) -> u64 {
        self.cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::postings::collect;

    fn list(refs: &[u64]) -> RefList {
        RefList::from_sorted(refs).expect("non-empty")
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_sorted_set(
            inserts in proptest::collection::vec(0u64..5000, 1..600),
            dead in proptest::collection::btree_set(0u64..5000, 0..200),
            seeks in proptest::collection::vec(0u64..5200, 0..20),
        ) {
            let mut want = std::collections::BTreeSet::new();
            let mut l: Option<RefList> = None;
            for &r in &inserts {
                want.insert(r);
                match l.as_mut() {
                    Some(l) => l.insert(r),
                    None => l = Some(RefList::One(r)),
                }
            }
            let l = l.expect("inserted");
            let w: Vec<u64> = want.iter().copied().collect();
            proptest::prop_assert_eq!(l.len(), w.len());
            proptest::prop_assert_eq!(l.iter().collect::<Vec<_>>(), w.clone());
            proptest::prop_assert_eq!(collect(Box::new(l.postings())), w.clone());
            let mut sorted = seeks.clone();
            sorted.sort_unstable();
            let mut c = l.postings();
            let mut floor = 0;
            for &v in &sorted {
                let target = v.max(floor);
                let expect = w.iter().copied().find(|&x| x >= target);
                let ok = c.seek(v);
                proptest::prop_assert_eq!(ok.then(|| c.at()), expect, "seek {}", v);
                match expect {
                    Some(x) => floor = x,
                    None => break,
                }
            }
            // Seek then next walks on from the sought value.
            if let Some(&v) = sorted.first() {
                let mut c = l.postings();
                let mut got = Vec::new();
                if c.seek(v) {
                    got.push(c.at());
                    while c.next() {
                        got.push(c.at());
                    }
                }
                let expect: Vec<u64> = w.iter().copied().filter(|&x| x >= v).collect();
                proptest::prop_assert_eq!(got, expect);
            }
            let dead: Vec<u64> = dead.into_iter().collect();
            let left: Vec<u64> = w.iter().copied().filter(|x| dead.binary_search(x).is_err()).collect();
            let after = l.remove(&dead);
            proptest::prop_assert_eq!(after.map(|l| l.iter().collect::<Vec<_>>()).unwrap_or_default(), left);
        }
    }

    #[test]
    fn compact_for_sequential_references() {
        let refs: Vec<u64> = (1..=100_000).map(|i| i * 3).collect();
        let l = list(&refs);
        // One byte per delta, 16 bytes per 128-reference block.
        assert!(
            l.heap_bytes() < 100_000 + 100_000 / 128 * 16 + 200,
            "{}",
            l.heap_bytes()
        );
        assert_eq!(l.iter().nth(99_999), Some(300_000));
    }

    #[test]
    fn inserting_out_of_order_keeps_order() {
        let mut l = RefList::One(500);
        for r in (0..400).rev() {
            l.insert(r * 2);
        }
        l.insert(500);
        l.insert(1000);
        l.insert(3);
        let got: Vec<u64> = l.iter().collect();
        let mut want: Vec<u64> = (0..400).map(|r| r * 2).collect();
        want.extend([3, 500, 1000]);
        want.sort_unstable();
        want.dedup();
        assert_eq!(got, want);
    }
}
