//! The Farad daemon as a library: configuration, the HTTP API, storage and inputs.
//! `main.rs` dispatches the command line to it; end-to-end tests drive the binary.
//!
//! Invariants: all I/O lives here, none in `farad-runtime`; [`store`] is the only module that
//! touches redb; [`http`] is the only one that knows warp.

pub mod aggregate;
pub mod allocator;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod email;
pub mod handlers;
pub mod http;
pub mod influxdb;
pub mod ingest;
pub mod kafka;
pub mod listen;
pub mod load;
pub mod log_sessions;
pub mod logfiles;
pub mod logging;
pub mod mqtt;
pub mod outputs;
pub mod overrides;
pub mod plugins;
pub mod recordings;
pub mod replays;
pub mod sched;
pub mod schedule;
pub mod server;
pub mod service_tests;
pub mod sideload;
pub mod silences;
pub mod snmptrap;
pub mod store;
pub mod subscriptions;
pub mod swap;
pub mod tasks;
pub mod testing;
pub mod tls;
pub mod topics;
pub mod udfs;

/// Version reported in `X-Kapacitor-Version` and `debug/vars`: the Kapacitor release whose
/// API Farad serves, Farad's own version as semver build metadata. Clients read the first
/// part (Chronograf turns features on by the minor version).
pub const VERSION: &str = concat!("1.8.2+farad.", env!("CARGO_PKG_VERSION"));

/// The Kapacitor release whose API and CLI Farad follows.
pub const KAPACITOR_API: &str = "1.8.2";
