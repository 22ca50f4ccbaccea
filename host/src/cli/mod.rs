//! Command-line tools, one module per command group.

pub mod tick;
