//! What a pipeline is, declared: node kinds, their properties and edges ([`schema`], [`nodes`]),
//! and the checked [`plan`] a script becomes ([`build`]). How nodes run lives elsewhere.

pub mod build;
pub mod nodes;
pub mod plan;
pub mod schema;

pub use build::{BuildOptions, build};
pub use plan::{Plan, PlanNode, TaskType, Value};

#[cfg(test)]
mod tests;
