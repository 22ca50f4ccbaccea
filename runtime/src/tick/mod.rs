//! TICKscript, the language of Kapacitor tasks: text → tokens ([`lexer`]) → syntax tree
//! ([`ast`], built by [`parser`]) with [`diag`]nostics that carry line:column, a reason and a
//! hint. The tree keeps comments so that [`fmt`] can print a script back canonically.
//!
//! Invariant: nothing here runs a script; the engine receives a checked plan, never the AST.

pub mod ast;
pub mod diag;
pub mod fmt;
pub mod lexer;
pub mod parser;

pub use diag::{Diagnostic, Diagnostics, Span};
pub use parser::{parse, parse_lambda};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod roundtrip_tests;
