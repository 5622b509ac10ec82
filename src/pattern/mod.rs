//! Pattern types and their compiled matchers (filled in by the config work).
pub mod regex;
