//! Evaluating compiled lambdas against one point.

use std::sync::Arc;

use super::Node;
use crate::model::{Name, Series, Value};
use crate::pipeline::lambda::{BinaryOp, UnaryOp};

/// A value inside a lambda.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Float(f64),
    Int(i64),
    Str(Arc<str>),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Nanoseconds since the epoch.
    Time(i64),
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Float(_) => "float",
            Val::Int(_) => "int",
            Val::Str(_) => "string",
            Val::Bool(_) => "boolean",
            Val::Duration(_) => "duration",
            Val::Time(_) => "time",
        }
    }

    /// As a field value (durations as integer nanoseconds, times as nanoseconds, as Kapacitor).
    pub fn into_field(self) -> Value {
        match self {
            Val::Float(f) => Value::Float(f),
            Val::Int(i) => Value::Int(i),
            Val::Str(s) => Value::Str(s),
            Val::Bool(b) => Value::Bool(b),
            Val::Duration(d) => Value::Int(d),
            Val::Time(t) => Value::Int(t),
        }
    }

    fn from_field(v: &Value) -> Val {
        match v {
            Value::Float(f) => Val::Float(*f),
            Value::Int(i) => Val::Int(*i),
            Value::UInt(u) => Val::Int(*u as i64),
            Value::Str(s) => Val::Str(s.clone()),
            Value::Bool(b) => Val::Bool(*b),
        }
    }
}

/// Why evaluating a lambda failed on a point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// What a lambda sees: the point's fields and tags (a name that is both is an error) and its
/// time; `extra` holds values computed earlier in the same node (eval's previous results);
/// `state` the group's state of stateful functions.
pub struct Scope<'a> {
    pub fields: &'a [(Name, Value)],
    pub series: &'a Series,
    pub time: i64,
    pub extra: &'a [(Name, Value)],
    pub state: Option<&'a mut ExprState>,
    /// The alert event a topic handler's `match` expression is asked about.
    pub event: Option<&'a EventFacts>,
}

/// What a `match` expression's event functions return.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFacts {
    /// 0 (OK) to 3 (CRITICAL).
    pub level: i64,
    pub changed: bool,
    pub name: String,
    pub task_name: String,
    /// Nanoseconds.
    pub duration: i64,
}

/// The running state of a lambda's stateful functions, one slot per call.
#[derive(Clone, Debug, Default)]
pub struct ExprState(Vec<Slot>);

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    n: i64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl ExprState {
    pub(super) fn new(slots: usize) -> ExprState {
        ExprState(vec![
            Slot {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                ..Slot::default()
            };
            slots
        ])
    }
}

/// Functions that keep state between points.
#[derive(Clone, Copy, Debug)]
pub enum Stateful {
    /// Running z-score of the value.
    Sigma,
    /// Points seen, this one included.
    Count,
    /// Running max − min.
    Spread,
    /// A random non-negative int, below the argument when there is one.
    Rand,
}

impl Stateful {
    pub(super) fn lookup(name: &str) -> Option<Stateful> {
        Some(match name {
            "sigma" => Stateful::Sigma,
            "count" => Stateful::Count,
            "spread" => Stateful::Spread,
            "rand" => Stateful::Rand,
            _ => return None,
        })
    }

    fn call(self, slot: usize, args: &[Node], scope: &mut Scope<'_>) -> Result<Val, EvalError> {
        let vals: Vec<Val> = args
            .iter()
            .map(|a| eval(a, scope))
            .collect::<Result<_, _>>()?;
        let Some(state) = scope.state.as_deref_mut() else {
            return Err(EvalError(format!(
                "{self:?} needs per-group state, which this node does not keep"
            )));
        };
        let s = &mut state.0[slot];
        match (self, vals.as_slice()) {
            (Stateful::Count, []) => {
                s.n += 1;
                Ok(Val::Int(s.n))
            }
            (Stateful::Sigma, [Val::Float(x)]) => {
                // Welford's running mean and variance, the current value included.
                s.n += 1;
                let delta = x - s.mean;
                s.mean += delta / s.n as f64;
                s.m2 += delta * (x - s.mean);
                if s.n < 2 || s.m2 == 0.0 {
                    return Ok(Val::Float(0.0));
                }
                let stddev = (s.m2 / (s.n - 1) as f64).sqrt();
                Ok(Val::Float((x - s.mean).abs() / stddev))
            }
            (Stateful::Rand, [] | [Val::Int(_)]) => {
                // splitmix64 over the slot, seeded from the OS on first use.
                if s.n == 0 {
                    use std::hash::{BuildHasher, Hasher};
                    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                    h.write_usize(slot);
                    s.n = h.finish() as i64 | 1;
                }
                s.n = s.n.wrapping_add(0x9E37_79B9_7F4A_7C15_u64 as i64);
                let mut z = s.n as u64;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                Ok(Val::Int(match vals.as_slice() {
                    [Val::Int(n)] if *n > 0 => ((z as u128 * *n as u128) >> 64) as i64,
                    [_] => 0,
                    _ => (z & (u64::MAX >> 1)) as i64,
                }))
            }
            (Stateful::Spread, [Val::Float(x)]) => {
                s.min = s.min.min(*x);
                s.max = s.max.max(*x);
                Ok(Val::Float(s.max - s.min))
            }
            (f, vals) => Err(EvalError(format!(
                "Cannot call function \"{}\" with args ({})",
                format!("{f:?}").to_lowercase(),
                vals.iter()
                    .map(Val::type_name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

impl<'a> Scope<'a> {
    /// What a lambda sees of a point.
    pub fn of(fields: &'a [(Name, Value)], series: &'a Series, time: i64) -> Scope<'a> {
        Scope {
            fields,
            series,
            time,
            extra: &[],
            state: None,
            event: None,
        }
    }

    /// The same scope asked about an alert event.
    pub fn with_event(self, event: &'a EventFacts) -> Scope<'a> {
        Scope {
            event: Some(event),
            ..self
        }
    }

    /// The same scope with a group's function state.
    pub fn with_state(self, state: Option<&'a mut ExprState>) -> Scope<'a> {
        Scope { state, ..self }
    }

    fn lookup(&self, name: Name) -> Result<Val, EvalError> {
        if let Some((_, v)) = self.extra.iter().rev().find(|(k, _)| *k == name) {
            return Ok(Val::from_field(v));
        }
        let field = self.fields.iter().find(|(k, _)| *k == name);
        let tag = self.series.tag(name);
        match (field, tag) {
            (Some(_), Some(_)) => Err(EvalError(format!(
                "cannot have field and tags with same name {:?}",
                name.as_str()
            ))),
            (Some((_, v)), None) => Ok(Val::from_field(v)),
            (None, Some(t)) => Ok(Val::Str(t.into())),
            (None, None) => Err(EvalError(format!(
                "reference {:?} is missing value",
                name.as_str()
            ))),
        }
    }

    /// Whether the point has a field or tag of this name (for `isPresent`).
    pub(super) fn has(&self, name: Name) -> bool {
        self.lookup(name).is_ok()
    }
}

pub(super) fn eval(n: &Node, scope: &mut Scope<'_>) -> Result<Val, EvalError> {
    match n {
        Node::Field(name) => scope.lookup(*name),
        Node::Time => Ok(Val::Time(scope.time)),
        Node::Event(f) => {
            let e = scope.event.ok_or_else(|| {
                EvalError(format!(
                    "{f}() is only known in a handler's match expression"
                ))
            })?;
            Ok(match *f {
                "level" => Val::Int(e.level),
                "changed" => Val::Bool(e.changed),
                "name" => Val::Str(e.name.as_str().into()),
                "taskName" => Val::Str(e.task_name.as_str().into()),
                _ => Val::Duration(e.duration),
            })
        }
        Node::Lit(v) => Ok(v.clone()),
        Node::Regex(_) => Err(EvalError(
            "a regex can only be the right side of =~ or !~".into(),
        )),
        Node::Unary(op, inner) => match (op, eval(inner, scope)?) {
            (UnaryOp::Neg, Val::Float(f)) => Ok(Val::Float(-f)),
            (UnaryOp::Neg, Val::Int(i)) => Ok(Val::Int(i.wrapping_neg())),
            (UnaryOp::Neg, Val::Duration(d)) => Ok(Val::Duration(-d)),
            (UnaryOp::Not, Val::Bool(b)) => Ok(Val::Bool(!b)),
            (op, v) => Err(EvalError(format!(
                "invalid unary operator {} on type {}",
                if *op == UnaryOp::Neg { "-" } else { "!" },
                v.type_name()
            ))),
        },
        Node::Binary(op, lhs, rhs) => binary(*op, lhs, rhs, scope),
        Node::Call(f, args) => f.call(args, scope),
        Node::Stateful(f, slot, args) => f.call(*slot, args, scope),
    }
}

fn binary(op: BinaryOp, lhs: &Node, rhs: &Node, scope: &mut Scope<'_>) -> Result<Val, EvalError> {
    use BinaryOp::*;
    // The most common shape, `"field" <op> 1.5`, without the general path's dispatch.
    if let (Node::Field(name), Node::Lit(Val::Float(b))) = (lhs, rhs)
        && let Val::Float(a) = scope.lookup(*name)?
    {
        let (a, b) = (a, *b);
        match op {
            Add => return Ok(Val::Float(a + b)),
            Sub => return Ok(Val::Float(a - b)),
            Mul => return Ok(Val::Float(a * b)),
            Div => return Ok(Val::Float(a / b)),
            // NaN compares unequal to everything, as in Go.
            Gt => return Ok(Val::Bool(a > b)),
            Ge => return Ok(Val::Bool(a >= b)),
            Lt => return Ok(Val::Bool(a < b)),
            Le => return Ok(Val::Bool(a <= b)),
            Eq => return Ok(Val::Bool(a == b)),
            Ne => return Ok(Val::Bool(a != b)),
            _ => {}
        }
    }
    // Short-circuit logic, as Kapacitor evaluates AND and OR.
    if matches!(op, And | Or) {
        let l = eval(lhs, scope)?;
        let Val::Bool(lb) = l else {
            return Err(mismatch(&l, op, None));
        };
        if (op == And && !lb) || (op == Or && lb) {
            return Ok(Val::Bool(lb));
        }
        return match eval(rhs, scope)? {
            Val::Bool(rb) => Ok(Val::Bool(rb)),
            r => Err(mismatch(&l, op, Some(&r))),
        };
    }
    if matches!(op, RegexMatch | RegexNotMatch) {
        let l = eval(lhs, scope)?;
        let Node::Regex(re) = rhs else {
            return Err(EvalError(format!(
                "{} needs a regex on its right side",
                op_text(op)
            )));
        };
        return match l {
            Val::Str(s) => Ok(Val::Bool(re.is_match(&s) == (op == RegexMatch))),
            other => Err(mismatch(&other, op, None)),
        };
    }
    let l = eval(lhs, scope)?;
    let r = eval(rhs, scope)?;
    let cmp = |o: std::cmp::Ordering| -> Val {
        use std::cmp::Ordering::*;
        Val::Bool(match op {
            Eq => o == Equal,
            Ne => o != Equal,
            Lt => o == Less,
            Le => o != Greater,
            Gt => o == Greater,
            Ge => o != Less,
            _ => unreachable!("comparison operators only"),
        })
    };
    let is_cmp = matches!(op, Eq | Ne | Lt | Le | Gt | Ge);
    let num_cmp = |a: f64, b: f64| match a.partial_cmp(&b) {
        Some(o) => cmp(o),
        None => Val::Bool(op == Ne),
    };
    match (&l, &r) {
        // Ints and floats mix only in comparisons (the int is converted).
        (Val::Int(a), Val::Float(b)) if is_cmp => Ok(num_cmp(*a as f64, *b)),
        (Val::Float(a), Val::Int(b)) if is_cmp => Ok(num_cmp(*a, *b as f64)),
        (Val::Float(a), Val::Float(b)) => Ok(if is_cmp {
            match a.partial_cmp(b) {
                Some(o) => cmp(o),
                None => Val::Bool(op == Ne),
            }
        } else {
            match op {
                Add => Val::Float(a + b),
                Sub => Val::Float(a - b),
                Mul => Val::Float(a * b),
                Div => Val::Float(a / b),
                _ => return Err(mismatch(&l, op, Some(&r))),
            }
        }),
        (Val::Int(a), Val::Int(b)) => Ok(if is_cmp {
            cmp(a.cmp(b))
        } else {
            match op {
                Add => Val::Int(a.wrapping_add(*b)),
                Sub => Val::Int(a.wrapping_sub(*b)),
                Mul => Val::Int(a.wrapping_mul(*b)),
                Div if *b == 0 => {
                    return Err(EvalError("runtime error: integer divide by zero".into()));
                }
                Div => Val::Int(a.wrapping_div(*b)),
                Mod if *b == 0 => {
                    return Err(EvalError("runtime error: integer divide by zero".into()));
                }
                Mod => Val::Int(a.wrapping_rem(*b)),
                _ => return Err(mismatch(&l, op, Some(&r))),
            }
        }),
        (Val::Str(a), Val::Str(b)) => match op {
            Add => Ok(Val::Str(format!("{a}{b}").into())),
            _ if is_cmp => Ok(cmp(a.cmp(b))),
            _ => Err(mismatch(&l, op, Some(&r))),
        },
        (Val::Bool(a), Val::Bool(b)) => match op {
            Eq => Ok(Val::Bool(a == b)),
            Ne => Ok(Val::Bool(a != b)),
            _ => Err(mismatch(&l, op, Some(&r))),
        },
        (Val::Duration(a), Val::Duration(b)) => Ok(if is_cmp {
            cmp(a.cmp(b))
        } else {
            match op {
                Add => Val::Duration(a.wrapping_add(*b)),
                Sub => Val::Duration(a.wrapping_sub(*b)),
                Div if *b == 0 => {
                    return Err(EvalError("runtime error: integer divide by zero".into()));
                }
                Div => Val::Int(a.wrapping_div(*b)),
                _ => return Err(mismatch(&l, op, Some(&r))),
            }
        }),
        (Val::Duration(a), Val::Int(b)) if matches!(op, Mul | Div) => Ok(match op {
            Mul => Val::Duration(a.wrapping_mul(*b)),
            _ if *b == 0 => return Err(EvalError("runtime error: integer divide by zero".into())),
            _ => Val::Duration(a / b),
        }),
        (Val::Int(a), Val::Duration(b)) if op == Mul => Ok(Val::Duration(a.wrapping_mul(*b))),
        (Val::Duration(a), Val::Float(b)) if matches!(op, Mul | Div) => {
            Ok(Val::Duration(if op == Mul {
                (*a as f64 * b) as i64
            } else {
                (*a as f64 / b) as i64
            }))
        }
        (Val::Float(a), Val::Duration(b)) if op == Mul => Ok(Val::Duration((a * *b as f64) as i64)),
        _ => Err(mismatch(&l, op, Some(&r))),
    }
}

fn op_text(op: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match op {
        Add => "+",
        Sub => "-",
        Mul => "*",
        Div => "/",
        Mod => "%",
        And => "AND",
        Or => "OR",
        Eq => "==",
        Ne => "!=",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        RegexMatch => "=~",
        RegexNotMatch => "!~",
    }
}

/// Kapacitor's error for an operator its left operand's type never takes, else "mismatched".
fn mismatch(l: &Val, op: BinaryOp, r: Option<&Val>) -> EvalError {
    use BinaryOp::*;
    let known: &[BinaryOp] = match l {
        Val::Bool(_) => &[And, Or, Eq, Ne],
        Val::Int(_) => &[Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div, Mod],
        Val::Float(_) | Val::Duration(_) => &[Eq, Ne, Lt, Le, Gt, Ge, Add, Sub, Mul, Div],
        Val::Str(_) => &[Eq, Ne, Lt, Le, Gt, Ge, Add, RegexMatch, RegexNotMatch],
        Val::Time(_) => &[],
    };
    if !known.contains(&op) {
        let kind = match op {
            Add | Sub | Mul | Div | Mod => "math",
            And | Or => "logical",
            _ => "comparison",
        };
        return EvalError(format!(
            "invalid {kind} operator {} for type {}",
            op_text(op),
            l.type_name()
        ));
    }
    let right = r.map_or("?", Val::type_name);
    EvalError(format!(
        "mismatched type to binary operator. got {} {} {}. see bool(), int(), float(), string(), duration()",
        l.type_name(),
        op_text(op),
        right
    ))
}
