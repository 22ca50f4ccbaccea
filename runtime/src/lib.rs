//! Farad's engine library: everything that turns written points into task results, without any I/O.
//!
//! - [`model`]: the data every node sees — [`model::Point`], [`model::Batch`], [`model::GroupKey`],
//!   interned [`model::Name`]s and shared [`model::Series`].
//! - [`lineproto`]: InfluxDB line protocol in, with InfluxDB 1.x's partial-write semantics.
//! - [`duration`]: Go-style durations (`1h30m`, `10s`) as config and TICKscript use them.
//! - [`time`]: RFC 3339 timestamps as Kapacitor's JSON writes them.
//! - [`gojson`]: JSON bytes as Go writes them (event lines, handler bodies, alert details).
//! - [`tick`]: the TICKscript language front end: lexer, parser, diagnostics, formatter.
//! - [`pipeline`]: what a task is: the node table, the checker, the `Plan`.
//! - [`expr`]: lambdas compiled once per node.
//! - [`exec`]: how a task runs: the executors of every node kind.
//! - [`wasm`]: the sandbox Wasm UDFs run in (wasmtime), and their columnar data exchange.
//!
//! Invariants: this crate opens no socket, touches no file and reads no wall clock on its own
//! (a monotonic clock times nodes for their statistics, and the Wasm engine's one thread
//! advances its epoch every 10 ms to enforce call deadlines); servers, storage and clocks belong
//! to `host/`. It logs through `tracing` only.

pub mod duration;
pub mod exec;
pub mod expr;
pub mod gojson;
pub mod lineproto;
pub mod model;
pub mod pipeline;
pub mod query;
pub mod recording;
pub mod template;
pub mod tick;
pub mod time;
pub mod wasm;
