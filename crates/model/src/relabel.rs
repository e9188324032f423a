//! Relabeling. Placeholder: being written.
