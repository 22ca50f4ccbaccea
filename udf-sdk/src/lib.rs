//! Write a Farad UDF in Rust.
//!
//! A UDF is a type implementing [`Udf`], exported with [`export_udf!`] and built for
//! `wasm32-wasip2`. Farad calls it with micro-batches of points as columns; this crate hides
//! the columns behind a per-point view ([`PointRef`]) and an [`Emitter`] for results.
//!
//! ```ignore
//! use farad_udf_sdk::{Edge, Emitter, Error, Info, Options, PerGroup, PointRef, Udf, ValueType};
//!
//! struct Double { field: String }
//!
//! impl Udf for Double {
//!     fn info() -> Info {
//!         Info::new(Edge::Stream, Edge::Stream).option("field", &[ValueType::Str], "field to double")
//!     }
//!     fn new(options: &Options) -> Result<Self, Error> {
//!         Ok(Double { field: options.string("field")?.unwrap_or("value").to_owned() })
//!     }
//!     fn point(&mut self, p: &PointRef<'_>, out: &mut Emitter) -> Result<(), Error> {
//!         if let Some(v) = p.number(&self.field) {
//!             out.point(p).float(&self.field, 2.0 * v);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! farad_udf_sdk::export_udf!(Double);
//! ```
//!
//! The contract itself is `wit/udf.wit`; any language that targets that world works.

pub mod detector;
mod emit;
mod groups;
mod options;
mod point;
pub mod rolling;
#[doc(hidden)]
pub mod rt;
mod state;
pub mod testing;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "udf",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_udf_world",
        default_bindings_module: "farad_udf_sdk::bindings",
    });
}

pub use bindings::farad::udf::types::{Edge, LogLevel, ValueType};
pub use emit::{Emitter, PointBuilder};
pub use groups::{Group, PerGroup};
pub use options::{Info, Options, Value};
pub use point::{BatchRef, FieldValue, PointRef};
pub use state::{StateReader, StateWriter};

/// A UDF's error: refuses `init`, or fails the call it happened in (its output is dropped
/// and the node counts an error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_owned())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

/// A user-defined function.
pub trait Udf: Sized + 'static {
    /// The edges it takes and gives, and its options.
    fn info() -> Info;

    /// Builds the UDF from the options a task gave it (already checked against `info`).
    fn new(options: &Options) -> Result<Self, Error>;

    /// One point of a stream edge.
    fn point(&mut self, p: &PointRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        let _ = (p, out);
        Err("this UDF does not take stream points".into())
    }

    /// One whole batch of a batch edge.
    fn batch(&mut self, b: &BatchRef<'_>, out: &mut Emitter) -> Result<(), Error> {
        let _ = (b, out);
        Err("this UDF does not take batches".into())
    }

    /// The host deleted or expired a group: drop what is kept for it.
    fn forget(&mut self, group: &Group<'_>) {
        let _ = group;
    }

    /// The state to keep across restarts and upgrades.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }

    /// State from [`Udf::snapshot`], possibly written by an earlier version.
    fn restore(&mut self, state: &[u8]) -> Result<(), Error> {
        let _ = state;
        Ok(())
    }
}

/// Writes to Farad's log (tagged with the task and node).
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_family = "wasm")]
    bindings::log(level, message);
    // Natively (unit tests through `testing`) there is no host to log to.
    #[cfg(not(target_family = "wasm"))]
    eprintln!("{level:?}: {message}");
}

/// Exports a [`Udf`] type as the component's `udf` world.
#[macro_export]
macro_rules! export_udf {
    ($ty:ty) => {
        const _: () = {
            struct FaradUdfExport;

            impl $crate::bindings::Guest for FaradUdfExport {
                fn info() -> $crate::bindings::farad::udf::types::Info {
                    $crate::rt::info::<$ty>()
                }
                fn init(
                    options: ::std::vec::Vec<$crate::bindings::farad::udf::types::OptionValue>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::rt::init::<$ty>(options)
                }
                fn process(
                    input: $crate::bindings::farad::udf::types::Input,
                ) -> ::std::result::Result<
                    $crate::bindings::farad::udf::types::Output,
                    ::std::string::String,
                > {
                    $crate::rt::process::<$ty>(input)
                }
                fn snapshot() -> ::std::vec::Vec<u8> {
                    $crate::rt::snapshot::<$ty>()
                }
                fn restore(
                    state: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::rt::restore::<$ty>(state)
                }
            }

    $crate::bindings::__export_udf_world!(FaradUdfExport with_types_in $crate::bindings);
        };
    };
}
