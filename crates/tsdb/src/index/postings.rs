//! The head's inverted index: for every label pair, the sorted references
//! of the series carrying it (Prometheus's `MemPostings`), and the
//! iterators that combine such lists. It is also the head's label store:
//! every distinct pair has an id, and a series keeps its labels as pair ids
//! ([`LabelRefs`], ~2 bytes a label) instead of the strings, which the index
//! holds once.
//!
//! Lists are sorted ascending without duplicates and compressed
//! ([`packed`]: one reference inline, else LEB128 deltas in blocks with a
//! skip table — ~1–2 bytes a reference). Values of a label are kept
//! sorted, so prefix regexes (`foo.*`) scan a range and label values come
//! out sorted.
//!
//! [`MemPostings::for_matchers`] evaluates a selector like Prometheus's
//! `PostingsForMatchers`: a matcher that rejects the empty value selects the
//! union of the lists of the values it accepts (an `=` is one lookup, a
//! regex alternation of literals a few, a prefix regex a range scan); a
//! matcher that accepts the empty value (it also selects series without the
//! label) subtracts the union of the values it rejects; with no selecting
//! matcher the start is every series.

mod packed;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use model::matcher::{MatchOp, Matcher};
use model::{Labels, PackedLabels};

use packed::RefList;
pub use packed::RefPostings;

/// A cursor over a sorted list of series references.
///
/// Start with [`Postings::next`] or [`Postings::seek`]; [`Postings::at`] is
/// valid only after one of them returned `true`.
pub trait Postings {
    /// Advances to the next reference; `false` at the end.
    fn next(&mut self) -> bool;
    /// Advances to the first reference at or after `v` (never backwards);
    /// `false` if there is none.
    fn seek(&mut self, v: u64) -> bool;
    /// The current reference.
    fn at(&self) -> u64;
}

/// A boxed postings cursor.
pub type BoxPostings<'a> = Box<dyn Postings + 'a>;

/// Postings over a borrowed sorted slice.
#[derive(Clone, Debug)]
pub struct ListPostings<'a> {
    list: &'a [u64],
    /// Index of the current element; `None` before the start.
    pos: Option<usize>,
}

impl<'a> ListPostings<'a> {
    /// A cursor over `list`, which must be sorted and free of duplicates.
    pub fn new(list: &'a [u64]) -> ListPostings<'a> {
        ListPostings { list, pos: None }
    }
}

impl Postings for ListPostings<'_> {
    fn next(&mut self) -> bool {
        let p = self.pos.map_or(0, |p| (p + 1).min(self.list.len()));
        self.pos = Some(p);
        p < self.list.len()
    }

    fn seek(&mut self, v: u64) -> bool {
        let from = self.pos.unwrap_or(0).min(self.list.len());
        if let Some(&cur) = self.pos.and_then(|p| self.list.get(p))
            && cur >= v
        {
            return true;
        }
        // Fast path: gallop from the current position (intersections of
        // similar lists move a few elements per seek), then binary search
        // within the last step.
        let rest = &self.list[from..];
        let mut hi = 1;
        while hi < rest.len() && rest[hi] < v {
            hi *= 2;
        }
        let lo = hi / 2;
        let end = (hi + 1).min(rest.len());
        let p = from + lo.min(end) + rest[lo.min(end)..end].partition_point(|&x| x < v);
        self.pos = Some(p);
        p < self.list.len()
    }

    fn at(&self) -> u64 {
        self.pos
            .and_then(|p| self.list.get(p))
            .copied()
            .unwrap_or(0)
    }
}

/// Postings over nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyPostings;

impl Postings for EmptyPostings {
    fn next(&mut self) -> bool {
        false
    }
    fn seek(&mut self, _v: u64) -> bool {
        false
    }
    fn at(&self) -> u64 {
        0
    }
}

/// The references present in every input.
pub struct Intersect<'a> {
    its: Vec<BoxPostings<'a>>,
    cur: u64,
    done: bool,
}

/// Intersects `its`; no inputs give an empty result.
pub fn intersect<'a>(its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    match its.len() {
        0 => Box::new(EmptyPostings),
        1 => its
            .into_iter()
            .next()
            .unwrap_or_else(|| Box::new(EmptyPostings)),
        _ => Box::new(Intersect {
            its,
            cur: 0,
            done: false,
        }),
    }
}

impl Intersect<'_> {
    /// Moves every input to the smallest common value `>= self.cur`.
    fn settle(&mut self) -> bool {
        loop {
            let mut agreed = true;
            for it in &mut self.its {
                if !it.seek(self.cur) {
                    self.done = true;
                    return false;
                }
                if it.at() > self.cur {
                    self.cur = it.at();
                    agreed = false;
                }
            }
            if agreed {
                return true;
            }
        }
    }
}

impl Postings for Intersect<'_> {
    fn next(&mut self) -> bool {
        if self.done {
            return false;
        }
        let Some(first) = self.its.first_mut() else {
            return false;
        };
        if !first.next() {
            self.done = true;
            return false;
        }
        self.cur = first.at();
        self.settle()
    }

    fn seek(&mut self, v: u64) -> bool {
        if self.done {
            return false;
        }
        self.cur = self.cur.max(v);
        self.settle()
    }

    fn at(&self) -> u64 {
        self.cur
    }
}

/// The references present in any input (a k-way merge).
pub struct Merge<'a> {
    its: Vec<BoxPostings<'a>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    started: bool,
    cur: u64,
}

/// Unions `its`.
pub fn merge<'a>(its: Vec<BoxPostings<'a>>) -> BoxPostings<'a> {
    match its.len() {
        0 => Box::new(EmptyPostings),
        1 => its
            .into_iter()
            .next()
            .unwrap_or_else(|| Box::new(EmptyPostings)),
        _ => Box::new(Merge {
            heap: BinaryHeap::with_capacity(its.len()),
            its,
            started: false,
            cur: 0,
        }),
    }
}

impl Merge<'_> {
    fn fill(&mut self, seek: Option<u64>) {
        self.heap.clear();
        for (i, it) in self.its.iter_mut().enumerate() {
            let ok = match seek {
                Some(v) => it.seek(v),
                None => it.next(),
            };
            if ok {
                self.heap.push(Reverse((it.at(), i)));
            }
        }
        self.started = true;
    }

    fn top(&mut self) -> bool {
        match self.heap.peek() {
            Some(Reverse((v, _))) => {
                self.cur = *v;
                true
            }
            None => false,
        }
    }
}

impl Postings for Merge<'_> {
    fn next(&mut self) -> bool {
        if !self.started {
            self.fill(None);
            return self.top();
        }
        // Advance every input sitting on the current value.
        while let Some(&Reverse((v, i))) = self.heap.peek() {
            if v != self.cur {
                break;
            }
            self.heap.pop();
            if let Some(it) = self.its.get_mut(i)
                && it.next()
            {
                self.heap.push(Reverse((it.at(), i)));
            }
        }
        self.top()
    }

    fn seek(&mut self, v: u64) -> bool {
        if !self.started {
            self.fill(Some(v));
            return self.top();
        }
        if self.heap.is_empty() {
            return false;
        }
        if self.cur >= v {
            return true;
        }
        while let Some(&Reverse((x, i))) = self.heap.peek() {
            if x >= v {
                break;
            }
            self.heap.pop();
            if let Some(it) = self.its.get_mut(i)
                && it.seek(v)
            {
                self.heap.push(Reverse((it.at(), i)));
            }
        }
        self.top()
    }

    fn at(&self) -> u64 {
        self.cur
    }
}

/// The references of `full` that are not in `drop`.
pub struct Without<'a> {
    full: BoxPostings<'a>,
    drop: BoxPostings<'a>,
    drop_done: bool,
}

/// `full` minus `drop`.
pub fn without<'a>(full: BoxPostings<'a>, drop: BoxPostings<'a>) -> BoxPostings<'a> {
    Box::new(Without {
        full,
        drop,
        drop_done: false,
    })
}

impl Without<'_> {
    /// Skips forward while the current value of `full` is in `drop`.
    fn skip_dropped(&mut self) -> bool {
        loop {
            let v = self.full.at();
            if self.drop_done {
                return true;
            }
            if !self.drop.seek(v) {
                self.drop_done = true;
                return true;
            }
            if self.drop.at() != v {
                return true;
            }
            if !self.full.next() {
                return false;
            }
        }
    }
}

impl Postings for Without<'_> {
    fn next(&mut self) -> bool {
        self.full.next() && self.skip_dropped()
    }

    fn seek(&mut self, v: u64) -> bool {
        self.full.seek(v) && self.skip_dropped()
    }

    fn at(&self) -> u64 {
        self.full.at()
    }
}

/// Drains a cursor into a vector.
pub fn collect(mut p: BoxPostings<'_>) -> Vec<u64> {
    let mut out = Vec::new();
    while p.next() {
        out.push(p.at());
    }
    out
}

/// Bytes of pair ids a [`LabelRefs`] holds without a heap allocation.
const INLINE_REFS: usize = 22;

/// A series' labels as references into the pair table of its
/// [`MemPostings`]: the pair ids in label order, LEB128-encoded (small ids
/// take one or two bytes), inline up to 22 bytes — ten or so labels. Only
/// meaningful with the index that made it, and only while the series is in
/// it (a removed series' pair ids may be reused).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LabelRefs(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_REFS] },
    Heap(Box<[u8]>),
}

impl std::fmt::Debug for LabelRefs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

impl LabelRefs {
    fn from_ids(ids: &[u32]) -> LabelRefs {
        let mut buf = [0u8; INLINE_REFS];
        let mut len = 0usize;
        let mut fits = true;
        for &id in ids {
            let mut v = id;
            loop {
                if len == INLINE_REFS {
                    fits = false;
                    break;
                }
                buf[len] = if v >= 0x80 { (v as u8) | 0x80 } else { v as u8 };
                len += 1;
                if v < 0x80 {
                    break;
                }
                v >>= 7;
            }
            if !fits {
                break;
            }
        }
        if fits {
            return LabelRefs(Repr::Inline {
                len: len as u8,
                buf,
            });
        }
        let mut out = Vec::with_capacity(ids.len() * 3);
        for &id in ids {
            let mut v = id;
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        LabelRefs(Repr::Heap(out.into_boxed_slice()))
    }

    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// The pair ids, in label order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        let b = self.bytes();
        let mut pos = 0;
        std::iter::from_fn(move || {
            let mut v = 0u32;
            let mut shift = 0;
            loop {
                let x = *b.get(pos)?;
                pos += 1;
                v |= u32::from(x & 0x7f) << shift;
                if x < 0x80 {
                    return Some(v);
                }
                shift += 7;
            }
        })
    }

    /// Heap bytes beyond the value itself.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }
}

/// FNV-1a for the short strings of label names and values (the index's
/// maps hash every label of every new series).
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// A label name and its values.
#[derive(Debug)]
struct NameEntry {
    name: Arc<str>,
    /// Value to pair id, sorted (prefix scans, sorted label values).
    values: BTreeMap<Arc<str>, u32>,
    /// The same, hashed (lookups while adding series).
    lookup: FnvMap<Arc<str>, u32>,
}

/// One label pair and the series carrying it.
#[derive(Debug)]
struct Pair {
    name: u32,
    value: Arc<str>,
    /// `None` until a series carrying the pair is added (a pair interned
    /// by [`MemPostings::intern`] waits for [`MemPostings::add_refs`]).
    list: Option<RefList>,
}

/// The in-memory inverted index of the head, and the head's label store.
///
/// Every distinct label pair gets a pair id; a series' labels are the list
/// of its pair ids ([`LabelRefs`]), so each name and value string is held
/// once however many series carry it. A pair lives while some series carries
/// it: its id is freed (and may be reused) when its list becomes empty.
#[derive(Debug, Default)]
pub struct MemPostings {
    name_ids: FnvMap<Arc<str>, u32>,
    names: Vec<Option<NameEntry>>,
    free_names: Vec<u32>,
    pairs: Vec<Option<Pair>>,
    free_pairs: Vec<u32>,
    num_pairs: usize,
    all: Option<RefList>,
    /// The last label set interned, with its pair ids: series are mostly
    /// added a target's scrape (or a WAL record) at a time and share most
    /// pairs with the one before, which are then found by comparing bytes
    /// rather than by two map lookups. Cleared whenever a pair id is freed.
    memo: Memo,
}

/// See [`MemPostings::memo`].
#[derive(Debug, Default)]
struct Memo {
    /// The packed label set (a copy: the buffer is reused).
    bytes: Vec<u8>,
    pairs: Vec<MemoPair>,
    /// Reused for the next label set's pairs.
    next: Vec<MemoPair>,
    /// Reused for the next label set's pair ids.
    ids: Vec<u32>,
}

/// A pair of [`Memo::bytes`]: its packed bytes (name and value with their
/// lengths) span `start..end`, the name `name_start..name_end`.
#[derive(Clone, Copy, Debug)]
struct MemoPair {
    start: u32,
    name_start: u32,
    name_end: u32,
    end: u32,
    pid: u32,
}

impl Memo {
    fn clear(&mut self) {
        self.bytes.clear();
        self.pairs.clear();
    }
}

/// The references of one list (empty when the pair is unknown).
#[derive(Clone, Copy, Debug)]
pub struct Refs<'a>(Option<&'a RefList>);

impl<'a> Refs<'a> {
    /// Number of references.
    pub fn len(&self) -> usize {
        self.0.map_or(0, RefList::len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The references, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.0.into_iter().flat_map(RefList::iter)
    }

    /// The references, ascending, in a vector.
    pub fn to_vec(&self) -> Vec<u64> {
        self.iter().collect()
    }

    /// A cursor over the references.
    pub fn postings(&self) -> BoxPostings<'a> {
        match self.0 {
            Some(l) => Box::new(l.postings()),
            None => Box::new(EmptyPostings),
        }
    }
}

impl MemPostings {
    /// An empty index.
    pub fn new() -> MemPostings {
        MemPostings::default()
    }

    /// The id of `name`, created if new.
    fn name_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(name) {
            return id;
        }
        let name: Arc<str> = Arc::from(name);
        let entry = NameEntry {
            name: Arc::clone(&name),
            values: BTreeMap::new(),
            lookup: FnvMap::default(),
        };
        let id = match self.free_names.pop() {
            Some(id) => {
                self.names[id as usize] = Some(entry);
                id
            }
            None => {
                self.names.push(Some(entry));
                (self.names.len() - 1) as u32
            }
        };
        self.name_ids.insert(name, id);
        id
    }

    /// Adds series `id` with its labels; returns the labels as pair ids.
    pub fn add(&mut self, id: u64, labels: &Labels) -> LabelRefs {
        let refs = self.intern(labels.packed());
        self.add_refs(id, &refs);
        refs
    }

    /// The labels as pair ids, creating the pairs not known yet (with no
    /// series until one is added with [`MemPostings::add_refs`]).
    pub fn intern(&mut self, labels: PackedLabels<'_>) -> LabelRefs {
        let mut memo = std::mem::take(&mut self.memo);
        memo.ids.clear();
        memo.next.clear();
        let cur = labels.as_bytes();
        // The last label set's pairs, walked alongside (both sorted by name).
        let mut j = 0;
        let mut it = labels.iter();
        loop {
            let start = it.offset();
            let Some((n, v)) = it.next() else {
                break;
            };
            let end = it.offset();
            let raw = &cur[start..end];
            // A known pair, or the id of a known name.
            let mut pid = None;
            let mut nid = None;
            while let Some(p) = memo.pairs.get(j) {
                if memo.bytes[p.start as usize..p.end as usize] == *raw {
                    pid = Some(p.pid);
                    j += 1;
                    break;
                }
                match memo.bytes[p.name_start as usize..p.name_end as usize].cmp(n.as_bytes()) {
                    std::cmp::Ordering::Less => j += 1,
                    std::cmp::Ordering::Equal => {
                        nid = self.pairs[p.pid as usize].as_ref().map(|p| p.name);
                        j += 1;
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            let pid = match pid {
                Some(pid) => pid,
                None => {
                    let nid = match nid {
                        Some(nid) => nid,
                        None => self.name_id(n),
                    };
                    self.pair_id(nid, v)
                }
            };
            memo.ids.push(pid);
            let name_start = n.as_ptr() as usize - cur.as_ptr() as usize;
            memo.next.push(MemoPair {
                start: start as u32,
                name_start: name_start as u32,
                name_end: (name_start + n.len()) as u32,
                end: end as u32,
                pid,
            });
        }
        let refs = LabelRefs::from_ids(&memo.ids);
        std::mem::swap(&mut memo.pairs, &mut memo.next);
        memo.bytes.clear();
        memo.bytes.extend_from_slice(cur);
        self.memo = memo;
        refs
    }

    /// The id of pair `name id`=`v`, created if new.
    fn pair_id(&mut self, nid: u32, v: &str) -> u32 {
        if let Some(&pid) = self.names[nid as usize]
            .as_ref()
            .and_then(|e| e.lookup.get(v))
        {
            return pid;
        }
        let value: Arc<str> = Arc::from(v);
        let pair = Pair {
            name: nid,
            value: Arc::clone(&value),
            list: None,
        };
        let pid = match self.free_pairs.pop() {
            Some(pid) => {
                self.pairs[pid as usize] = Some(pair);
                pid
            }
            None => {
                self.pairs.push(Some(pair));
                (self.pairs.len() - 1) as u32
            }
        };
        if let Some(e) = self.names[nid as usize].as_mut() {
            e.lookup.insert(Arc::clone(&value), pid);
            e.values.insert(value, pid);
        }
        self.num_pairs += 1;
        pid
    }

    /// Adds series `id` with labels `refs` from [`MemPostings::intern`] to
    /// the lists of its pairs.
    pub fn add_refs(&mut self, id: u64, refs: &LabelRefs) {
        for pid in refs.ids() {
            if let Some(p) = self.pairs.get_mut(pid as usize).and_then(Option::as_mut) {
                match p.list.as_mut() {
                    Some(l) => l.insert(id),
                    None => p.list = Some(RefList::One(id)),
                }
            }
        }
        match self.all.as_mut() {
            Some(l) => l.insert(id),
            None => self.all = Some(RefList::One(id)),
        }
    }

    /// Releases the lists' spare capacity. For replays, which intern
    /// every series as its record comes (a WAL holds series in commit
    /// order, not reference order, and inserting a reference in the middle
    /// of a compressed list re-encodes its tail) and add them all with
    /// [`MemPostings::add_refs`], in reference order (appends only), once
    /// the WAL is read.
    pub fn shrink_lists(&mut self) {
        for p in self.pairs.iter_mut().flatten() {
            if let Some(l) = p.list.as_mut() {
                l.shrink();
            }
        }
        if let Some(l) = self.all.as_mut() {
            l.shrink();
        }
    }

    /// The name and value of pair `id`.
    fn pair(&self, id: u32) -> Option<(&str, &str)> {
        let p = self.pairs.get(id as usize)?.as_ref()?;
        let n = self.names.get(p.name as usize)?.as_ref()?;
        Some((&n.name, &p.value))
    }

    /// The labels `refs` stand for (empty if they are not from this index).
    pub fn labels(&self, refs: &LabelRefs) -> Labels {
        self.labels_in(refs, &mut Vec::with_capacity(256))
    }

    /// Like [`MemPostings::labels`], encoding in a reusable `scratch`
    /// buffer (one allocation per label set).
    pub fn labels_in(&self, refs: &LabelRefs, scratch: &mut Vec<u8>) -> Labels {
        Labels::from_sorted_in(scratch, refs.ids().filter_map(|id| self.pair(id)))
    }

    /// Whether `refs` stand for `labels`.
    pub fn labels_eq(&self, refs: &LabelRefs, labels: &Labels) -> bool {
        let mut a = refs.ids();
        let mut b = labels.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(id), Some(pair)) => {
                    if self.pair(id) != Some(pair) {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    /// Removes series given by reference and label refs.
    pub fn delete_series(&mut self, dead: &[(u64, &LabelRefs)]) {
        if dead.is_empty() {
            return;
        }
        let mut ids: Vec<u64> = dead.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut pids: Vec<u32> = dead.iter().flat_map(|(_, l)| l.ids()).collect();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            let Some(slot) = self.pairs.get_mut(pid as usize) else {
                continue;
            };
            let Some(mut pair) = slot.take() else {
                continue;
            };
            match pair.list.take().and_then(|l| l.remove(&ids)) {
                Some(mut list) => {
                    list.shrink();
                    pair.list = Some(list);
                    *slot = Some(pair);
                }
                None => {
                    // The pair is gone: free its id and value.
                    self.memo.clear();
                    self.num_pairs -= 1;
                    self.free_pairs.push(pid);
                    let nid = pair.name as usize;
                    let empty = match self.names.get_mut(nid).and_then(Option::as_mut) {
                        Some(e) => {
                            e.values.remove(&pair.value);
                            e.lookup.remove(&pair.value);
                            e.values.is_empty()
                        }
                        None => false,
                    };
                    if empty && let Some(e) = self.names[nid].take() {
                        self.name_ids.remove(&e.name);
                        self.free_names.push(nid as u32);
                    }
                }
            }
        }
        self.all = self.all.take().and_then(|l| l.remove(&ids));
        if let Some(l) = self.all.as_mut() {
            l.shrink();
        }
    }

    /// The label refs of `labels` if every pair is known.
    fn lookup_refs(&self, labels: &Labels) -> Option<LabelRefs> {
        let mut ids = Vec::new();
        for (n, v) in labels.iter() {
            let nid = *self.name_ids.get(n)?;
            let e = self.names.get(nid as usize)?.as_ref()?;
            ids.push(*e.lookup.get(v)?);
        }
        Some(LabelRefs::from_ids(&ids))
    }

    /// Removes series: `dead` holds their references and labels.
    pub fn delete(&mut self, dead: &[(u64, Labels)]) {
        let refs: Vec<(u64, LabelRefs)> = dead
            .iter()
            .filter_map(|(id, l)| Some((*id, self.lookup_refs(l)?)))
            .collect();
        let refs: Vec<(u64, &LabelRefs)> = refs.iter().map(|(id, l)| (*id, l)).collect();
        self.delete_series(&refs);
    }

    fn list(&self, name: &str, value: &str) -> Option<&RefList> {
        let nid = *self.name_ids.get(name)?;
        let pid = *self.names.get(nid as usize)?.as_ref()?.lookup.get(value)?;
        self.pairs.get(pid as usize)?.as_ref()?.list.as_ref()
    }

    /// The series carrying `name="value"`.
    pub fn get(&self, name: &str, value: &str) -> Refs<'_> {
        Refs(self.list(name, value))
    }

    /// Every series.
    pub fn all(&self) -> Refs<'_> {
        Refs(self.all.as_ref())
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.all.as_ref().map_or(0, RefList::len)
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.all.is_none()
    }

    fn values_of(&self, name: &str) -> Option<&BTreeMap<Arc<str>, u32>> {
        let nid = *self.name_ids.get(name)?;
        Some(&self.names.get(nid as usize)?.as_ref()?.values)
    }

    /// Every label name, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.name_ids.keys().map(|n| n.to_string()).collect();
        out.sort_unstable();
        out
    }

    /// Every value of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.values_of(name)
            .map(|values| values.keys().map(|v| v.to_string()).collect())
            .unwrap_or_default()
    }

    /// Number of distinct label pairs (for statistics).
    pub fn num_pairs(&self) -> usize {
        self.num_pairs
    }

    /// Heap bytes of the postings lists (for statistics and benchmarks).
    pub fn list_bytes(&self) -> usize {
        self.pairs
            .iter()
            .flatten()
            .filter_map(|p| p.list.as_ref().map(RefList::heap_bytes))
            .sum::<usize>()
            + self.all.as_ref().map_or(0, RefList::heap_bytes)
    }

    /// The lists of the values of `name` that `m` accepts.
    fn matching_lists<'a>(&'a self, name: &str, m: &Matcher) -> Vec<&'a RefList> {
        let Some(values) = self.values_of(name) else {
            return Vec::new();
        };
        let list = |pid: &u32| {
            self.pairs
                .get(*pid as usize)
                .and_then(Option::as_ref)
                .and_then(|p| p.list.as_ref())
        };
        // Fast path: a literal or an alternation of literals.
        if let Some(set) = m.set_matches() {
            return set
                .iter()
                .filter_map(|v| values.get(*v))
                .filter_map(list)
                .collect();
        }
        // Fast path: a known prefix limits the scan to a range of values.
        if let Some(prefix) = m.prefix().filter(|p| !p.is_empty()) {
            return values
                .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(v, _)| v.starts_with(prefix))
                .filter(|(v, _)| m.matches(v))
                .filter_map(|(_, pid)| list(pid))
                .collect();
        }
        values
            .iter()
            .filter(|(v, _)| m.matches(v))
            .filter_map(|(_, pid)| list(pid))
            .collect()
    }

    /// The union of the lists of the values `m` accepts (non-empty values
    /// only: absent labels are the caller's business).
    fn postings_for_matcher<'a>(&'a self, m: &Matcher) -> BoxPostings<'a> {
        let lists = self.matching_lists(m.name(), m);
        merge(
            lists
                .into_iter()
                .map(|l| Box::new(l.postings()) as BoxPostings<'a>)
                .collect(),
        )
    }

    /// A cursor over the series selected by `matchers` (all must hold; an
    /// absent label matches as the empty value). No matchers select every
    /// series.
    pub fn postings_for_matchers<'a>(&'a self, matchers: &[Matcher]) -> BoxPostings<'a> {
        let mut its: Vec<BoxPostings<'a>> = Vec::new();
        let mut nots: Vec<BoxPostings<'a>> = Vec::new();
        for m in matchers {
            // `=~".*"` accepts everything, absent labels included.
            if m.op() == MatchOp::RegexMatch && m.value() == ".*" {
                continue;
            }
            if m.matches_empty() {
                // Selects series without the label too: subtract those with
                // a value the matcher rejects (its inverse accepts).
                nots.push(self.postings_for_matcher(&m.inverse()));
            } else {
                its.push(self.postings_for_matcher(m));
            }
        }
        if its.is_empty() {
            its.push(self.all().postings());
        }
        let it = intersect(its);
        if nots.is_empty() {
            it
        } else {
            without(it, merge(nots))
        }
    }

    /// The sorted references of the series selected by `matchers`.
    pub fn for_matchers(&self, matchers: &[Matcher]) -> Vec<u64> {
        collect(self.postings_for_matchers(matchers))
    }
}

#[cfg(test)]
mod tests {

    /// The last label set's pair ids are reused only while valid: a series
    /// sharing pairs with the previous one gets the same ids, and after
    /// those pairs were freed, adding the same labels again creates them
    /// anew instead of pointing at freed ids.
    #[test]
    fn consecutive_label_sets_share_pair_ids_until_pairs_are_freed() {
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
        let mut p = MemPostings::new();
        let a = l(&[("__name__", "up"), ("instance", "h1"), ("job", "j")]);
        let b = l(&[("__name__", "up"), ("instance", "h2"), ("job", "j")]);
        let c = l(&[("instance", "h2"), ("job", "k"), ("zone", "z")]);
        let ra = p.add(1, &a);
        let rb = p.add(2, &b);
        let rc = p.add(3, &c);
        let ids = |r: &LabelRefs| r.ids().collect::<Vec<u32>>();
        assert_eq!(ids(&ra)[0], ids(&rb)[0]);
        assert_eq!(ids(&ra)[2], ids(&rb)[2]);
        assert_ne!(ids(&ra)[1], ids(&rb)[1]);
        assert_eq!(ids(&rb)[1], ids(&rc)[0]);
        for (r, want) in [(&ra, &a), (&rb, &b), (&rc, &c)] {
            assert_eq!(&p.labels(r), want);
        }
        assert_eq!(p.get("instance", "h2").to_vec(), vec![2, 3]);

        // Every pair of `c` goes; `c` again must not reuse the freed ids.
        p.delete_series(&[(3, &rc), (2, &rb), (1, &ra)]);
        assert_eq!(p.num_pairs(), 0);
        let rc2 = p.add(4, &c);
        assert_eq!(p.labels(&rc2), c);
        assert_eq!(p.get("zone", "z").to_vec(), vec![4]);
        assert_eq!(p.get("instance", "h2").to_vec(), vec![4]);
    }

    use super::*;

    fn list(v: &[u64]) -> BoxPostings<'_> {
        Box::new(ListPostings::new(v))
    }

    #[test]
    fn iterators() {
        let a = [1, 3, 5, 7, 9, 11];
        let b = [3, 4, 5, 9, 12];
        let c = [5, 9, 20];
        assert_eq!(
            collect(intersect(vec![list(&a), list(&b), list(&c)])),
            [5, 9]
        );
        assert_eq!(
            collect(merge(vec![list(&a), list(&b), list(&c)])),
            [1, 3, 4, 5, 7, 9, 11, 12, 20]
        );
        assert_eq!(collect(without(list(&a), list(&b))), [1, 7, 11]);
        let mut m = merge(vec![list(&a), list(&b)]);
        assert!(m.seek(6));
        assert_eq!(m.at(), 7);
        assert!(m.seek(6));
        assert_eq!(m.at(), 7);
        assert!(m.next());
        assert_eq!(m.at(), 9);
        let mut i = intersect(vec![list(&a), list(&b)]);
        assert!(i.seek(4));
        assert_eq!(i.at(), 5);
        assert!(i.next());
        assert_eq!(i.at(), 9);
        assert!(!i.next());
        assert_eq!(collect(intersect(vec![])), Vec::<u64>::new());
    }

    #[track_caller]
    fn check(p: &MemPostings, ms: &[Matcher], want: &[u64]) {
        assert_eq!(p.for_matchers(ms), want, "{ms:?}");
    }

    fn re(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).expect("valid regex")
    }

    #[test]
    fn matchers() {
        let mut p = MemPostings::new();
        p.add(1, &Labels::from_pairs([("__name__", "up"), ("job", "a")]));
        p.add(2, &Labels::from_pairs([("__name__", "up"), ("job", "b")]));
        p.add(
            3,
            &Labels::from_pairs([("__name__", "up"), ("job", "abc"), ("x", "1")]),
        );
        p.add(4, &Labels::from_pairs([("__name__", "down")]));
        use MatchOp::*;
        check(&p, &[Matcher::equal("__name__", "up")], &[1, 2, 3]);
        check(&p, &[Matcher::equal("job", "")], &[4]);
        check(&p, &[Matcher::not_equal("job", "")], &[1, 2, 3]);
        check(&p, &[Matcher::not_equal("job", "a")], &[2, 3, 4]);
        check(&p, &[re(RegexMatch, "job", "a|b")], &[1, 2]);
        check(&p, &[re(RegexMatch, "job", "a.*")], &[1, 3]);
        check(&p, &[re(RegexMatch, "job", ".*")], &[1, 2, 3, 4]);
        check(&p, &[re(RegexMatch, "job", ".+")], &[1, 2, 3]);
        check(&p, &[re(RegexMatch, "job", "|a")], &[1, 4]);
        check(&p, &[re(RegexNoMatch, "job", "a.*")], &[2, 4]);
        check(&p, &[re(RegexNoMatch, "job", ".*")], &[]);
        check(
            &p,
            &[Matcher::equal("__name__", "up"), re(RegexNoMatch, "x", "1")],
            &[1, 2],
        );
        check(&p, &[Matcher::equal("nope", "x")], &[]);
        check(&p, &[], &[1, 2, 3, 4]);
        p.delete(&[(
            3,
            Labels::from_pairs([("__name__", "up"), ("job", "abc"), ("x", "1")]),
        )]);
        check(&p, &[Matcher::equal("__name__", "up")], &[1, 2]);
        assert_eq!(p.label_names(), ["__name__", "job"]);
        assert_eq!(p.label_values("job"), ["a", "b"]);
    }

    #[test]
    fn label_store() {
        let mut p = MemPostings::new();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a"), ("instance", "x:1")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let ra = p.add(1, &a);
        let rb = p.add(2, &b);
        assert_eq!(p.labels(&ra), a);
        assert_eq!(p.labels(&rb), b);
        assert!(p.labels_eq(&ra, &a));
        assert!(!p.labels_eq(&ra, &b));
        assert!(!p.labels_eq(&rb, &Labels::from_pairs([("__name__", "up")])));
        assert_eq!(p.num_pairs(), 4);
        p.delete_series(&[(1, &ra)]);
        assert_eq!(p.num_pairs(), 2);
        assert_eq!(p.label_names(), ["__name__", "job"]);
        assert_eq!(p.all().to_vec(), [2]);
        // Freed ids are reused; the survivors' refs still resolve.
        let c = Labels::from_pairs([("zone", "z"), ("instance", "y:2")]);
        let rc = p.add(3, &c);
        assert_eq!(p.labels(&rc), c);
        assert_eq!(p.labels(&rb), b);
        assert_eq!(p.get("instance", "y:2").to_vec(), [3]);
        assert!(p.get("instance", "x:1").is_empty());
        // Many labels: the refs spill to the heap.
        let big = Labels::from_pairs((0..40).map(|i| (format!("l{i:02}"), format!("v{i}"))));
        let rbig = p.add(4, &big);
        assert!(rbig.heap_bytes() > 0);
        assert_eq!(p.labels(&rbig), big);
        assert!(p.labels_eq(&rbig, &big));
        for (r, l) in [(&rb, &b), (&rc, &c), (&rbig, &big)] {
            assert!(p.labels_eq(r, l));
        }
    }

    #[test]
    fn lists_added_in_order_after_interning_match_direct_ones() {
        let ls: Vec<Labels> = (0..500u64)
            .map(|i| {
                Labels::from_pairs([("a", format!("{}", i % 7)), ("b", format!("{}", i % 11))])
            })
            .collect();
        let mut direct = MemPostings::new();
        let mut later = MemPostings::new();
        // References in a scrambled order, as a WAL may hold them.
        let order: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 500).collect();
        let mut refs = vec![None; 500];
        for &i in &order {
            refs[i as usize] = Some(later.intern(ls[i as usize].packed()));
        }
        assert!(later.get("a", "3").is_empty());
        for (i, r) in refs.iter().enumerate() {
            later.add_refs(i as u64 + 1, r.as_ref().unwrap());
        }
        later.shrink_lists();
        for i in 0..500u64 {
            direct.add(i + 1, &ls[i as usize]);
        }
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(later.labels(r.as_ref().unwrap()), ls[i]);
        }
        for n in ["a", "b"] {
            for v in direct.label_values(n) {
                assert_eq!(later.get(n, &v).to_vec(), direct.get(n, &v).to_vec());
            }
        }
        assert_eq!(later.all().to_vec(), direct.all().to_vec());
    }

    proptest::proptest! {
        /// Interning (with its memo of the previous label set) gives every
        /// pair one id while the pair lives, whatever the label sets
        /// before: shared pairs at other positions, same names with other
        /// values, names missing; deleting series in between frees pairs.
        #[test]
        fn interning_gives_each_pair_one_id(
            sets in proptest::collection::vec(
                (proptest::collection::btree_map(0usize..6, 0usize..3, 0..6), proptest::bool::weighted(0.1)),
                1..60,
            ),
        ) {
            let names = ["__name__", "a", "instance", "job", "le", "zone"];
            let values = ["x", "y", "a-much-longer-value-than-the-others"];
            let mut p = MemPostings::new();
            let mut ids: HashMap<(String, String), u32> = HashMap::new();
            let mut live: Vec<(u64, LabelRefs)> = Vec::new();
            for (i, (set, delete_all)) in sets.into_iter().enumerate() {
                if delete_all {
                    let dead: Vec<(u64, &LabelRefs)> = live.iter().map(|(r, l)| (*r, l)).collect();
                    p.delete_series(&dead);
                    live.clear();
                    ids.clear();
                }
                let labels = Labels::from_pairs(set.iter().map(|(&n, &v)| (names[n], values[v])));
                let refs = p.add(i as u64 + 1, &labels);
                proptest::prop_assert_eq!(p.labels(&refs), labels.clone());
                for ((n, v), id) in labels.iter().zip(refs.ids()) {
                    let want = *ids.entry((n.to_string(), v.to_string())).or_insert(id);
                    proptest::prop_assert_eq!(id, want, "{}={}", n, v);
                }
                live.push((i as u64 + 1, refs));
            }
        }

        #[test]
        fn iterators_match_set_operations(
            a in proptest::collection::btree_set(0u64..300, 0..80),
            b in proptest::collection::btree_set(0u64..300, 0..80),
            c in proptest::collection::btree_set(0u64..300, 0..80),
            seeks in proptest::collection::vec(0u64..320, 0..10),
        ) {
            let (va, vb, vc): (Vec<u64>, Vec<u64>, Vec<u64>) = (
                a.iter().copied().collect(),
                b.iter().copied().collect(),
                c.iter().copied().collect(),
            );
            let want_i: Vec<u64> = a.iter().filter(|x| b.contains(x) && c.contains(x)).copied().collect();
            let want_u: Vec<u64> = a.union(&b).chain(c.iter()).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            let want_w: Vec<u64> = a.difference(&b).copied().collect();
            proptest::prop_assert_eq!(collect(intersect(vec![list(&va), list(&vb), list(&vc)])), want_i.clone());
            proptest::prop_assert_eq!(collect(merge(vec![list(&va), list(&vb), list(&vc)])), want_u.clone());
            proptest::prop_assert_eq!(collect(without(list(&va), list(&vb))), want_w.clone());
            // Seeks (ascending) land on the first element >= target.
            let mut sorted = seeks.clone();
            sorted.sort_unstable();
            for (name, want, mut p) in [
                ("intersect", want_i, intersect(vec![list(&va), list(&vb), list(&vc)])),
                ("merge", want_u, merge(vec![list(&va), list(&vb), list(&vc)])),
                ("without", want_w, without(list(&va), list(&vb))),
            ] {
                let mut floor = 0;
                for &v in &sorted {
                    let target = v.max(floor);
                    let expect = want.iter().copied().find(|&x| x >= target);
                    let ok = p.seek(v);
                    proptest::prop_assert_eq!(ok.then(|| p.at()), expect, "{} seek {}", name, v);
                    match expect {
                        Some(x) => floor = x,
                        None => break,
                    }
                }
            }
        }
    }
}
