//! Lint rules. Placeholder: being written.
