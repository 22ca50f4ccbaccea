//! The guest side of Farad's WebAssembly UDFs. The WIT contract (`wit/`) and the SDK that
//! implements it for Rust detectors land with the Wasm UDF work; this crate reserves the place.
