//! What a pipeline is, declared: node kinds, their properties and edges ([`schema`], [`nodes`]),
//! and the checked [`plan`] a script becomes ([`build`]). How nodes run lives elsewhere.

pub mod build;
pub mod lambda;
pub mod nodes;
pub mod plan;
pub mod schema;
pub mod udf;
pub mod vars;

pub use build::{BuildOptions, build};
pub use plan::{Plan, PlanNode, TaskType, Value};
pub use udf::{UdfArg, UdfOption, UdfSignature};

use crate::tick::{Diagnostics, parse};

/// Parses and checks a script: the plan, or every problem found (syntax errors first; the
/// checker runs only on a script that parsed).
pub fn compile(src: &str, opts: &BuildOptions) -> Result<Plan, Diagnostics> {
    let (program, diags) = parse(src);
    if !diags.is_empty() {
        return Err(diags);
    }
    match build(&program, opts) {
        (Some(plan), _) => Ok(plan),
        (None, diags) => Err(diags),
    }
}

#[cfg(test)]
mod tests;
