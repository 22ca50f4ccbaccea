//! Command-line tools, one module per command group.

pub mod client;
pub mod progress;
pub mod replay;
pub mod status;
pub mod storage;
pub mod tasks;
pub mod tick;
