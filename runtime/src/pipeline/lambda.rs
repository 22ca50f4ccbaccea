//! Lambda expressions as the plan carries them: the script's variables already substituted,
//! operators and functions resolved, nothing left of the syntax tree. The engine compiles this.

use std::fmt;

use crate::tick::ast::{Expr, ExprKind};
use crate::tick::diag::{Diagnostic, Span, did_you_mean};
use crate::tick::fmt::format_expr;
use crate::tick::lexer::Tok;

/// A lambda: its expression and its text (canonically formatted, for display and JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Lambda {
    pub expr: LambdaExpr,
    pub text: String,
}

impl fmt::Display for Lambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lambda: {}", self.text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    RegexMatch,
    RegexNotMatch,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LambdaExpr {
    /// `"name"`: a field or tag of the point (or `"time"`).
    Ref(String),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    Regex(String),
    Star,
    Unary {
        op: UnaryOp,
        expr: Box<LambdaExpr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<LambdaExpr>,
        rhs: Box<LambdaExpr>,
    },
    Call {
        func: &'static str,
        args: Vec<LambdaExpr>,
    },
    /// A template variable with no value yet (only in plans checked as templates).
    Var(String),
}

/// Kapacitor's lambda functions (v1.8.3): stateful, conversions, math, strings, regex, time,
/// and the rest.
pub const FUNCTIONS: &[&str] = &[
    // Stateful.
    "sigma",
    "count",
    "spread",
    "rand",
    // Conversions.
    "bool",
    "int",
    "float",
    "string",
    "duration",
    // Math (Go's math package).
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "cos",
    "cosh",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "gamma",
    "hypot",
    "j0",
    "j1",
    "jn",
    "log",
    "log10",
    "log1p",
    "log2",
    "logb",
    "max",
    "min",
    "mod",
    "pow",
    "pow10",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    "y0",
    "y1",
    "yn",
    // Strings.
    "strContains",
    "strContainsAny",
    "strCount",
    "strHasPrefix",
    "strHasSuffix",
    "strIndex",
    "strIndexAny",
    "strLastIndex",
    "strLastIndexAny",
    "strLength",
    "strReplace",
    "strSubstring",
    "strToLower",
    "strToUpper",
    "strTrim",
    "strTrimLeft",
    "strTrimPrefix",
    "strTrimRight",
    "strTrimSpace",
    "strTrimSuffix",
    // Regex.
    "regexReplace",
    // Time.
    "unixNano",
    "minute",
    "hour",
    "weekday",
    "day",
    "month",
    "year",
    "now",
    // Other.
    "isPresent",
    "humanBytes",
    "if",
];

/// What a topic handler's `match` expression may call besides the lambda functions: facts
/// of the event (`level()` is compared with the identifiers `OK`, `INFO`, `WARNING`,
/// `CRITICAL`).
pub const EVENT_FUNCTIONS: &[&str] = &["changed", "level", "name", "taskName", "alertDuration"];

/// Lowers a lambda body whose variables are already substituted. Unknown functions and
/// constructs a lambda cannot hold become diagnostics.
pub fn lower(body: &Expr) -> Result<Lambda, Vec<Diagnostic>> {
    lower_in(body, false)
}

/// Lowers a topic handler's `match` expression: the event functions are known, and the level
/// names are integer constants as Kapacitor substitutes them.
pub fn lower_match(body: &Expr) -> Result<Lambda, Vec<Diagnostic>> {
    lower_in(body, true)
}

fn lower_in(body: &Expr, event: bool) -> Result<Lambda, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let expr = lower_expr(body, &mut diags, event);
    match expr {
        Some(expr) if diags.is_empty() => Ok(Lambda {
            expr,
            text: format_expr(body),
        }),
        _ => Err(diags),
    }
}

fn lower_expr(e: &Expr, diags: &mut Vec<Diagnostic>, event: bool) -> Option<LambdaExpr> {
    let bad = |diags: &mut Vec<Diagnostic>, span: Span, msg: &str| {
        diags.push(Diagnostic::new(span, msg.to_owned()));
        None
    };
    Some(match &e.kind {
        ExprKind::Reference(r) => LambdaExpr::Ref(r.clone()),
        ExprKind::Int(i) => LambdaExpr::Int(*i),
        ExprKind::Float(f) => LambdaExpr::Float(*f),
        ExprKind::Str { value, .. } => LambdaExpr::Str(value.clone()),
        ExprKind::Bool(b) => LambdaExpr::Bool(*b),
        ExprKind::Duration { nanos, .. } => LambdaExpr::Duration(*nanos),
        ExprKind::Regex { pattern, .. } => LambdaExpr::Regex(pattern.clone()),
        ExprKind::Star => LambdaExpr::Star,
        ExprKind::Unary { op, expr } => {
            let op = if *op == Tok::Minus {
                UnaryOp::Neg
            } else {
                UnaryOp::Not
            };
            LambdaExpr::Unary {
                op,
                expr: Box::new(lower_expr(expr, diags, event)?),
            }
        }
        ExprKind::Binary { op, lhs, rhs, .. } => {
            let op = match op {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                Tok::Mult => BinaryOp::Mul,
                Tok::Div => BinaryOp::Div,
                Tok::Mod => BinaryOp::Mod,
                Tok::And => BinaryOp::And,
                Tok::Or => BinaryOp::Or,
                Tok::Equal => BinaryOp::Eq,
                Tok::NotEqual => BinaryOp::Ne,
                Tok::Less => BinaryOp::Lt,
                Tok::LessEqual => BinaryOp::Le,
                Tok::Greater => BinaryOp::Gt,
                Tok::GreaterEqual => BinaryOp::Ge,
                Tok::RegexEqual => BinaryOp::RegexMatch,
                Tok::RegexNotEqual => BinaryOp::RegexNotMatch,
                _ => return bad(diags, e.span, "unknown operator"),
            };
            let l = lower_expr(lhs, diags, event);
            let r = lower_expr(rhs, diags, event);
            LambdaExpr::Binary {
                op,
                lhs: Box::new(l?),
                rhs: Box::new(r?),
            }
        }
        ExprKind::Call { name, args, .. } => {
            let known = FUNCTIONS
                .iter()
                .chain(if event { EVENT_FUNCTIONS } else { &[] })
                .find(|f| **f == name.name);
            let Some(&func) = known else {
                let d = Diagnostic::new(
                    name.span,
                    format!("unknown function `{}` in lambda", name.name),
                );
                diags.push(match did_you_mean(&name.name, FUNCTIONS.iter().copied()) {
                    Some(s) => d.with_hint(format!("did you mean `{s}()`?")),
                    None => d,
                });
                return None;
            };
            let lowered: Vec<Option<LambdaExpr>> =
                args.iter().map(|a| lower_expr(a, diags, event)).collect();
            LambdaExpr::Call {
                func,
                args: lowered.into_iter().collect::<Option<_>>()?,
            }
        }
        ExprKind::Ident(n) if event => match n.as_str() {
            "OK" => LambdaExpr::Int(0),
            "INFO" => LambdaExpr::Int(1),
            "WARNING" => LambdaExpr::Int(2),
            "CRITICAL" => LambdaExpr::Int(3),
            _ => return bad(diags, e.span, &format!("unknown identifier {n:?}")),
        },
        // The builder has already reported unknown names: what is left is a template variable.
        ExprKind::Ident(n) => LambdaExpr::Var(n.clone()),
        ExprKind::List(_) => return bad(diags, e.span, "a list cannot appear in a lambda"),
        ExprKind::Lambda(_) => return bad(diags, e.span, "a lambda inside a lambda"),
        ExprKind::Chain { .. } => {
            return bad(diags, e.span, "a node chain cannot appear in a lambda");
        }
    })
}
