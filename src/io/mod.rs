//! The outside world: inputs, outputs, child processes, signals. Decides no correlation.

pub mod input;
