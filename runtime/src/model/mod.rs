//! The data every node sees.
//!
//! A [`Point`] is a time, a shared [`Series`] (measurement + tags, `Arc`ed so that the points of
//! one series share one allocation) and a small inline list of [`Fields`]. A [`Batch`] is a group's
//! points over a window or query, convertible to [`Columns`] for the Wasm boundary. Every name is an
//! interned [`Name`], so the hot path compares and hashes pointers, never strings.

mod batch;
mod columns;
mod group;
mod name;
mod point;
mod value;

pub use batch::{Batch, BatchPoint};
pub(crate) use columns::type_tag;
pub use columns::{Column, ColumnData, Columns};
pub use group::{BuildGroupHasher, GroupKey, GroupMap};
pub use name::Name;
pub use point::{Fields, Point, Series, Tags};
pub use value::Value;
