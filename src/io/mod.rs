//! The outside world: inputs, outputs, child processes, signals. Decides no correlation.

pub mod child;
pub mod daemon;
pub mod input;
pub mod output;
pub mod signals;
pub mod statefile;
pub mod world;
