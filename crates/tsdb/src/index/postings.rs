//! The head's inverted index: for every label pair, the sorted references
//! of the series carrying it (Prometheus's `MemPostings`), and the
//! iterators that combine such lists.
//!
//! Lists are sorted ascending without duplicates. A list with a single
//! reference (most values of high-cardinality labels such as `pod` or
//! `instance`) is stored inline, without a heap allocation. Values of a
//! label are kept sorted, so prefix regexes (`foo.*`) scan a range and label
//! values come out sorted.
//!
//! [`MemPostings::for_matchers`] evaluates a selector like Prometheus's
//! `PostingsForMatchers`: a matcher that rejects the empty value selects the
//! union of the lists of the values it accepts (an `=` is one lookup, a
//! regex alternation of literals a few, a prefix regex a range scan); a
//! matcher that accepts the empty value (it also selects series without the
//! label) subtracts the union of the values it rejects; with no selecting
//! matcher the start is every series.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::ops::Bound;

use model::Labels;
use model::matcher::{MatchOp, Matcher};

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

/// A sorted list of references, inline when it holds one.
#[derive(Clone, Debug)]
enum List {
    One(u64),
    Many(Vec<u64>),
}

impl List {
    fn as_slice(&self) -> &[u64] {
        match self {
            List::One(v) => std::slice::from_ref(v),
            List::Many(v) => v,
        }
    }

    fn insert(&mut self, id: u64) {
        match self {
            List::One(v) if *v == id => {}
            List::One(v) => {
                let v = *v;
                *self = List::Many(if v < id { vec![v, id] } else { vec![id, v] });
            }
            List::Many(l) => insert_sorted(l, id),
        }
    }

    /// Removes the references in `dead` (sorted); `true` if now empty.
    fn remove(&mut self, dead: &[u64]) -> bool {
        match self {
            List::One(v) => dead.binary_search(v).is_ok(),
            List::Many(l) => {
                l.retain(|x| dead.binary_search(x).is_err());
                match l.len() {
                    0 => true,
                    1 => {
                        *self = List::One(l[0]);
                        false
                    }
                    _ => {
                        if l.capacity() > 2 * l.len() {
                            l.shrink_to_fit();
                        }
                        false
                    }
                }
            }
        }
    }
}

fn insert_sorted(l: &mut Vec<u64>, id: u64) {
    // Fast path: references are handed out in increasing order.
    match l.last() {
        Some(&last) if last < id => l.push(id),
        None => l.push(id),
        _ => {
            if let Err(p) = l.binary_search(&id) {
                l.insert(p, id);
            }
        }
    }
}

/// The in-memory inverted index of the head.
#[derive(Debug, Default)]
pub struct MemPostings {
    names: HashMap<Box<str>, BTreeMap<Box<str>, List>>,
    all: Vec<u64>,
}

impl MemPostings {
    /// An empty index.
    pub fn new() -> MemPostings {
        MemPostings::default()
    }

    /// Adds series `id` with its labels.
    pub fn add(&mut self, id: u64, labels: &Labels) {
        for (n, v) in labels.iter() {
            let values = match self.names.get_mut(n) {
                Some(values) => values,
                None => self.names.entry(n.into()).or_default(),
            };
            match values.get_mut(v) {
                Some(list) => list.insert(id),
                None => {
                    values.insert(v.into(), List::One(id));
                }
            }
        }
        insert_sorted(&mut self.all, id);
    }

    /// Removes series: `dead` holds their references and labels.
    pub fn delete(&mut self, dead: &[(u64, Labels)]) {
        if dead.is_empty() {
            return;
        }
        let mut ids: Vec<u64> = dead.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut pairs: Vec<(&str, &str)> = dead.iter().flat_map(|(_, l)| l.iter()).collect();
        pairs.sort_unstable();
        pairs.dedup();
        for (n, v) in pairs {
            let Some(values) = self.names.get_mut(n) else {
                continue;
            };
            if values.get_mut(v).is_some_and(|list| list.remove(&ids)) {
                values.remove(v);
            }
            if values.is_empty() {
                self.names.remove(n);
            }
        }
        self.all.retain(|x| ids.binary_search(x).is_err());
        if self.all.capacity() > 2 * self.all.len() + 1024 {
            self.all.shrink_to_fit();
        }
    }

    /// The series carrying `name="value"`.
    pub fn get(&self, name: &str, value: &str) -> &[u64] {
        self.names
            .get(name)
            .and_then(|values| values.get(value))
            .map_or(&[], List::as_slice)
    }

    /// Every series.
    pub fn all(&self) -> &[u64] {
        &self.all
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Every label name, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.names.keys().map(|n| n.to_string()).collect();
        out.sort_unstable();
        out
    }

    /// Every value of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.names
            .get(name)
            .map(|values| values.keys().map(|v| v.to_string()).collect())
            .unwrap_or_default()
    }

    /// Number of distinct label pairs (for statistics).
    pub fn num_pairs(&self) -> usize {
        self.names.values().map(BTreeMap::len).sum()
    }

    /// The lists of the values of `name` that `m` accepts.
    fn matching_lists<'a>(&'a self, name: &str, m: &Matcher) -> Vec<&'a [u64]> {
        let Some(values) = self.names.get(name) else {
            return Vec::new();
        };
        // Fast path: a literal or an alternation of literals.
        if let Some(set) = m.set_matches() {
            return set
                .iter()
                .filter_map(|v| values.get(*v))
                .map(List::as_slice)
                .collect();
        }
        // Fast path: a known prefix limits the scan to a range of values.
        if let Some(prefix) = m.prefix().filter(|p| !p.is_empty()) {
            return values
                .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(v, _)| v.starts_with(prefix))
                .filter(|(v, _)| m.matches(v))
                .map(|(_, l)| l.as_slice())
                .collect();
        }
        values
            .iter()
            .filter(|(v, _)| m.matches(v))
            .map(|(_, l)| l.as_slice())
            .collect()
    }

    /// The union of the lists of the values `m` accepts (non-empty values
    /// only: absent labels are the caller's business).
    fn postings_for_matcher<'a>(&'a self, m: &Matcher) -> BoxPostings<'a> {
        let lists = self.matching_lists(m.name(), m);
        merge(
            lists
                .into_iter()
                .map(|l| Box::new(ListPostings::new(l)) as BoxPostings<'a>)
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
            its.push(Box::new(ListPostings::new(&self.all)));
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

    proptest::proptest! {
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
