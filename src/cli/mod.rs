//! SEC's command line.
