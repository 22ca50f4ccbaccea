//! Lambda expressions, compiled once per node: field and tag names are interned at compile
//! time, so evaluating a lambda on a point compares pointers and never hashes a string.
//!
//! Type rules follow Kapacitor's: operands of a binary operator must have the same type
//! (int and float do not mix: "mismatched type"), strings concatenate with `+`, durations add
//! and compare, `=~`/`!~` take a regex on the right, AND/OR take booleans.

mod eval;
mod funcs;

pub use eval::{EvalError, EventFacts, ExprState, Scope, Val};

thread_local! {
    // The wall-clock time `now()` returns, set by the task for the write being processed: the
    // runtime reads no clock itself.
    static NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Sets what `now()` returns on this thread (nanoseconds since the epoch).
pub fn set_now(ns: i64) {
    NOW.with(|n| n.set(ns));
}

pub(crate) fn now() -> i64 {
    NOW.with(|n| n.get())
}

use crate::model::Name;
use crate::pipeline::lambda::{BinaryOp, LambdaExpr, UnaryOp};

/// A compiled lambda.
#[derive(Clone, Debug)]
pub struct Compiled {
    root: Node,
    /// How many stateful function calls (`sigma`, `count`, `spread`) the lambda makes.
    slots: usize,
    /// The lambda's text, for error messages.
    pub text: String,
}

#[derive(Clone, Debug)]
enum Node {
    Field(Name),
    Time,
    /// One of a `match` expression's event functions.
    Event(&'static str),
    Lit(Val),
    Regex(std::sync::Arc<regex::Regex>),
    Unary(UnaryOp, Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    Call(funcs::Func, Vec<Node>),
    /// A stateful function and its slot in the [`ExprState`].
    Stateful(eval::Stateful, usize, Vec<Node>),
}

/// Why a lambda cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(pub String);

impl Compiled {
    /// Compiles a plan's lambda.
    pub fn new(l: &crate::pipeline::lambda::Lambda) -> Result<Compiled, CompileError> {
        let mut slots = 0;
        let root = compile(&l.expr, &mut slots)?;
        Ok(Compiled {
            root,
            slots,
            text: l.text.clone(),
        })
    }

    /// Whether evaluating needs an [`ExprState`] (one per group, kept by the node).
    pub fn is_stateful(&self) -> bool {
        self.slots > 0
    }

    /// Fresh state for this lambda's stateful functions.
    pub fn new_state(&self) -> ExprState {
        ExprState::new(self.slots)
    }

    /// Evaluates against a point's fields and tags.
    pub fn eval(&self, scope: &mut Scope<'_>) -> Result<Val, EvalError> {
        eval::eval(&self.root, scope)
    }

    /// Evaluates a predicate: a non-boolean result is an error.
    pub fn eval_bool(&self, scope: &mut Scope<'_>) -> Result<bool, EvalError> {
        match self.eval(scope)? {
            Val::Bool(b) => Ok(b),
            other => Err(EvalError(format!(
                "expression returned unexpected type {}",
                other.type_name()
            ))),
        }
    }
}

fn compile(e: &LambdaExpr, slots: &mut usize) -> Result<Node, CompileError> {
    Ok(match e {
        LambdaExpr::Ref(r) if r == "time" => Node::Time,
        LambdaExpr::Ref(r) => Node::Field(Name::new(r)),
        LambdaExpr::Int(i) => Node::Lit(Val::Int(*i)),
        LambdaExpr::Float(f) => Node::Lit(Val::Float(*f)),
        LambdaExpr::Str(s) => Node::Lit(Val::Str(s.as_str().into())),
        LambdaExpr::Bool(b) => Node::Lit(Val::Bool(*b)),
        LambdaExpr::Duration(d) => Node::Lit(Val::Duration(*d)),
        LambdaExpr::Regex(r) => Node::Regex(std::sync::Arc::new(
            regex::Regex::new(r).map_err(|e| CompileError(format!("invalid regex /{r}/: {e}")))?,
        )),
        LambdaExpr::Star => return Err(CompileError("`*` cannot be evaluated in a lambda".into())),
        LambdaExpr::Unary { op, expr } => Node::Unary(*op, Box::new(compile(expr, slots)?)),
        LambdaExpr::Binary { op, lhs, rhs } => Node::Binary(
            *op,
            Box::new(compile(lhs, slots)?),
            Box::new(compile(rhs, slots)?),
        ),
        LambdaExpr::Call { func, args }
            if crate::pipeline::lambda::EVENT_FUNCTIONS.contains(func) =>
        {
            if !args.is_empty() {
                return Err(CompileError(format!("{func} takes no arguments")));
            }
            Node::Event(func)
        }
        LambdaExpr::Call { func, args } => {
            let args = args
                .iter()
                .map(|a| compile(a, slots))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(kind) = eval::Stateful::lookup(func) {
                *slots += 1;
                return Ok(Node::Stateful(kind, *slots - 1, args));
            }
            let f = funcs::Func::lookup(func)
                .ok_or_else(|| CompileError(format!("function {func}() is not supported yet")))?;
            Node::Call(f, args)
        }
        LambdaExpr::Var(v) => {
            return Err(CompileError(format!(
                "template variable `{v}` has no value"
            )));
        }
    })
}

/// A topic handler's `match` expression (Kapacitor's handler specs): a lambda over the
/// event's tags (`"host" == 'a'`) and its facts (`level() >= WARNING`, `changed()`,
/// `name()`, `taskName()`, `alertDuration()`).
#[derive(Clone, Debug)]
pub struct EventMatch {
    compiled: Compiled,
}

impl EventMatch {
    pub fn parse(text: &str) -> Result<EventMatch, String> {
        let invalid = |why: String| format!("invalid match expression: {why}");
        let e = crate::tick::parse_lambda(text).map_err(|d| invalid(d.one_line(text)))?;
        let l = crate::pipeline::lambda::lower_match(&e).map_err(|d| {
            invalid(
                d.iter()
                    .map(|d| d.one_line(text))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let compiled = Compiled::new(&l).map_err(|e| invalid(e.0))?;
        if compiled.is_stateful() {
            return Err(invalid(
                "stateful functions (sigma, count, spread, rand) have no state here".into(),
            ));
        }
        Ok(EventMatch { compiled })
    }

    /// Whether an event with these facts and tags matches. A tag the expression names but
    /// the event lacks is an error, as in Kapacitor.
    pub fn matches(&self, facts: &EventFacts, tags: &[(String, String)]) -> Result<bool, String> {
        let series = crate::model::Series::new(
            Name::new(&facts.name),
            tags.iter()
                .map(|(k, v)| (Name::new(k), v.as_str().into()))
                .collect(),
        );
        let mut scope = Scope::of(&[], &series, 0).with_event(facts);
        self.compiled
            .eval_bool(&mut scope)
            .map_err(|e| format!("match expression: {e}"))
    }
}

#[cfg(test)]
mod match_tests {
    use super::*;

    fn facts(level: i64, changed: bool) -> EventFacts {
        EventFacts {
            level,
            changed,
            name: "cpu".into(),
            task_name: "t1".into(),
            duration: 90_000_000_000,
        }
    }

    #[test]
    fn match_expressions_see_the_events_facts_and_tags() {
        let tags = [("host".to_string(), "a".to_string())];
        let m = |text: &str, f: &EventFacts| EventMatch::parse(text).unwrap().matches(f, &tags);
        let crit = facts(3, true);
        assert_eq!(m("level() >= WARNING", &crit), Ok(true));
        assert_eq!(m("level() == OK", &crit), Ok(false));
        assert_eq!(m("changed() AND \"host\" == 'a'", &crit), Ok(true));
        assert_eq!(m("changed()", &facts(3, false)), Ok(false));
        assert_eq!(m("name() == 'cpu' AND taskName() =~ /^t/", &crit), Ok(true));
        assert_eq!(m("alertDuration() > 1m", &crit), Ok(true));
        assert!(m("\"missing\" == 'x'", &crit).is_err());
        for bad in ["level( >", "UNKNOWN == 1", "nope()", "sigma(\"x\") > 1"] {
            let err = EventMatch::parse(bad).unwrap_err();
            assert!(err.starts_with("invalid match expression"), "{bad}: {err}");
        }
    }
}
