//! Pattern types and their compiled matchers. This module owns how a pattern is matched
//! against the text of an event (SubStr, RegExp in Perl's dialect, TValue, Cached and the
//! negations); it knows nothing about rules, operations or actions.

pub mod regex;
