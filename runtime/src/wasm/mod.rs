//! The Wasm host for user-defined functions: components built against the `udf` world in
//! `udf-sdk/wit/udf.wit`, run sandboxed in wasmtime.
//!
//! - [`UdfEngine`]: one per process. Compiles uploaded components once, checks them against the
//!   world, and interrupts guests that run past their deadline (epoch ticks from one thread).
//! - [`UdfModule`]: a compiled, checked component and what it declared (edges, options).
//! - [`UdfInstance`]: one running copy of a module for one task node, with its own store,
//!   memory cap and state. A trap or a timeout poisons only that instance; the caller
//!   recycles it.
//! - [`UdfRegistry`]: the modules by name; a new version replaces the old in running tasks.
//!
//! - [`plugin::HandlerPlugin`]: an alert handler built against the `handler` world.
//!
//! Data crosses as columns in micro-batches ([`convert`]), never as a record per point.

mod bindings {
    wasmtime::component::bindgen!({
        path: "../udf-sdk/wit",
        world: "udf",
    });
}

mod convert;
mod engine;
mod instance;
pub mod plugin;
mod registry;

pub use bindings::farad::udf::types as wit;
pub use convert::{Decoder, Encoder};
pub use engine::{UdfEngine, UdfError, UdfLimits, UdfModule};
pub use instance::UdfInstance;
pub use registry::{UdfRegistry, UdfSlot};
