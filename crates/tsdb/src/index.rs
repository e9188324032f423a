//! Series indexes. [`postings`] is the head's in-memory inverted index:
//! label pair → sorted series references, with the intersection, union and
//! subtraction iterators and Prometheus's matcher evaluation
//! (`PostingsForMatchers`). The on-disk block index arrives with blocks.

pub mod postings;
