//! Shared lexing helpers. Placeholder: being written.
