//! Label matchers (`=`, `!=`, `=~`, `!~`). Placeholder: being written.
