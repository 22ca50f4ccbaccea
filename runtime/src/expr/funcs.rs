//! Lambda built-in functions. Stateless ones for now; the stateful `sigma`, `count`, `spread`
//! and `rand` need per-group state and arrive with the nodes that keep it.

use super::Node;
use super::eval::{EvalError, Scope, Val, eval};

#[derive(Clone, Copy, Debug)]
pub enum Func {
    Bool,
    Int,
    Float,
    String,
    Math1(fn(f64) -> f64),
    Math2(fn(f64, f64) -> f64),
    Abs,
    Min,
    Max,
    StrContains,
    StrHasPrefix,
    StrHasSuffix,
    StrLength,
    StrToLower,
    StrToUpper,
    StrTrimSpace,
    StrReplace,
    StrIndex,
    StrSubstring,
    UnixNano,
    Minute,
    Hour,
    Day,
    Weekday,
    Month,
    Year,
    IsPresent,
    If,
    Now,
    HumanBytes,
}

impl Func {
    pub fn lookup(name: &str) -> Option<Func> {
        Some(match name {
            "bool" => Func::Bool,
            "int" => Func::Int,
            "float" => Func::Float,
            "string" => Func::String,
            "abs" => Func::Abs,
            "min" => Func::Min,
            "max" => Func::Max,
            "ceil" => Func::Math1(f64::ceil),
            "floor" => Func::Math1(f64::floor),
            "trunc" => Func::Math1(f64::trunc),
            "sqrt" => Func::Math1(f64::sqrt),
            "cbrt" => Func::Math1(f64::cbrt),
            "exp" => Func::Math1(f64::exp),
            "exp2" => Func::Math1(f64::exp2),
            "expm1" => Func::Math1(f64::exp_m1),
            "log" => Func::Math1(f64::ln),
            "log10" => Func::Math1(f64::log10),
            "log2" => Func::Math1(f64::log2),
            "log1p" => Func::Math1(f64::ln_1p),
            "sin" => Func::Math1(f64::sin),
            "cos" => Func::Math1(f64::cos),
            "tan" => Func::Math1(f64::tan),
            "asin" => Func::Math1(f64::asin),
            "acos" => Func::Math1(f64::acos),
            "atan" => Func::Math1(f64::atan),
            "sinh" => Func::Math1(f64::sinh),
            "cosh" => Func::Math1(f64::cosh),
            "tanh" => Func::Math1(f64::tanh),
            "asinh" => Func::Math1(f64::asinh),
            "acosh" => Func::Math1(f64::acosh),
            "atanh" => Func::Math1(f64::atanh),
            "pow" => Func::Math2(f64::powf),
            "atan2" => Func::Math2(f64::atan2),
            "hypot" => Func::Math2(f64::hypot),
            "mod" => Func::Math2(|a, b| a % b),
            "strContains" => Func::StrContains,
            "strHasPrefix" => Func::StrHasPrefix,
            "strHasSuffix" => Func::StrHasSuffix,
            "strLength" => Func::StrLength,
            "strToLower" => Func::StrToLower,
            "strToUpper" => Func::StrToUpper,
            "strTrimSpace" => Func::StrTrimSpace,
            "strReplace" => Func::StrReplace,
            "strIndex" => Func::StrIndex,
            "strSubstring" => Func::StrSubstring,
            "unixNano" => Func::UnixNano,
            "minute" => Func::Minute,
            "hour" => Func::Hour,
            "day" => Func::Day,
            "weekday" => Func::Weekday,
            "month" => Func::Month,
            "year" => Func::Year,
            "isPresent" => Func::IsPresent,
            "now" => Func::Now,
            "if" => Func::If,
            "humanBytes" => Func::HumanBytes,
            _ => return None,
        })
    }

    pub(super) fn call(self, args: &[Node], scope: &mut Scope<'_>) -> Result<Val, EvalError> {
        // isPresent looks at its argument's name, not its value.
        if matches!(self, Func::IsPresent) {
            return match args {
                [Node::Field(name)] => Ok(Val::Bool(scope.has(*name))),
                _ => Err(EvalError(
                    "isPresent takes one field or tag reference".into(),
                )),
            };
        }
        if matches!(self, Func::Now) {
            return match args {
                [] => Ok(Val::Time(super::now())),
                _ => Err(EvalError("now takes no arguments".into())),
            };
        }
        if matches!(self, Func::If) {
            let [c, a, b] = args else {
                return Err(arity("if", 3, args.len()));
            };
            let Val::Bool(cond) = eval(c, scope)? else {
                return Err(EvalError("if's first argument must be a boolean".into()));
            };
            let (x, y) = (eval(a, scope)?, eval(b, scope)?);
            if std::mem::discriminant(&x) != std::mem::discriminant(&y) {
                return Err(EvalError(format!(
                    "if's branches differ in type: {} and {}",
                    x.type_name(),
                    y.type_name()
                )));
            }
            return Ok(if cond { x } else { y });
        }
        let vals: Vec<Val> = args
            .iter()
            .map(|a| eval(a, scope))
            .collect::<Result<_, _>>()?;
        match (self, vals.as_slice()) {
            (Func::Bool, [v]) => match v {
                Val::Bool(b) => Ok(Val::Bool(*b)),
                Val::Int(i) => Ok(Val::Bool(*i != 0)),
                Val::Float(f) => Ok(Val::Bool(*f != 0.0)),
                Val::Str(s) => match s.as_ref() {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Val::Bool(true)),
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Val::Bool(false)),
                    _ => Err(EvalError(format!("cannot convert string {s:?} to bool"))),
                },
                other => Err(EvalError(format!(
                    "cannot convert {} to bool",
                    other.type_name()
                ))),
            },
            (Func::Int, [v]) => match v {
                Val::Int(i) => Ok(Val::Int(*i)),
                Val::Float(f) => Ok(Val::Int(*f as i64)),
                Val::Bool(b) => Ok(Val::Int(*b as i64)),
                Val::Duration(d) | Val::Time(d) => Ok(Val::Int(*d)),
                Val::Str(s) => s
                    .parse()
                    .map(Val::Int)
                    .map_err(|_| EvalError(format!("cannot convert string {s:?} to int"))),
            },
            (Func::Float, [v]) => match v {
                Val::Float(f) => Ok(Val::Float(*f)),
                Val::Int(i) => Ok(Val::Float(*i as f64)),
                Val::Bool(b) => Ok(Val::Float(*b as i64 as f64)),
                Val::Duration(d) => Ok(Val::Float(*d as f64)),
                Val::Str(s) => s
                    .parse()
                    .map(Val::Float)
                    .map_err(|_| EvalError(format!("cannot convert string {s:?} to float"))),
                Val::Time(_) => Err(EvalError("cannot convert time to float".into())),
            },
            (Func::String, [v]) => Ok(Val::Str(
                match v {
                    Val::Str(s) => s.to_string(),
                    Val::Int(i) => i.to_string(),
                    Val::Float(f) => go_float(*f),
                    Val::Bool(b) => b.to_string(),
                    Val::Duration(d) => crate::duration::format_go_duration(*d),
                    Val::Time(t) => crate::time::format_rfc3339_nanos(*t),
                }
                .into(),
            )),
            (Func::Abs, [Val::Float(f)]) => Ok(Val::Float(f.abs())),
            (Func::Abs, [Val::Int(i)]) => Ok(Val::Int(i.wrapping_abs())),
            (Func::Min | Func::Max, [a, b]) => {
                let (x, y) = (float(a)?, float(b)?);
                Ok(Val::Float(if matches!(self, Func::Min) {
                    x.min(y)
                } else {
                    x.max(y)
                }))
            }
            (Func::Math1(f), [a]) => Ok(Val::Float(f(float_only(a)?))),
            (Func::Math2(f), [a, b]) => Ok(Val::Float(f(float_only(a)?, float_only(b)?))),
            (Func::StrContains, [Val::Str(a), Val::Str(b)]) => {
                Ok(Val::Bool(a.contains(b.as_ref())))
            }
            (Func::StrHasPrefix, [Val::Str(a), Val::Str(b)]) => {
                Ok(Val::Bool(a.starts_with(b.as_ref())))
            }
            (Func::StrHasSuffix, [Val::Str(a), Val::Str(b)]) => {
                Ok(Val::Bool(a.ends_with(b.as_ref())))
            }
            (Func::StrLength, [Val::Str(a)]) => Ok(Val::Int(a.chars().count() as i64)),
            (Func::StrToLower, [Val::Str(a)]) => Ok(Val::Str(a.to_lowercase().into())),
            (Func::StrToUpper, [Val::Str(a)]) => Ok(Val::Str(a.to_uppercase().into())),
            (Func::StrTrimSpace, [Val::Str(a)]) => Ok(Val::Str(a.trim().into())),
            (Func::StrIndex, [Val::Str(a), Val::Str(b)]) => {
                Ok(Val::Int(a.find(b.as_ref()).map_or(-1, |i| i as i64)))
            }
            (Func::StrReplace, [Val::Str(s), Val::Str(old), Val::Str(new), Val::Int(n)]) => {
                let out = if *n < 0 {
                    s.replace(old.as_ref(), new)
                } else {
                    s.replacen(old.as_ref(), new, *n as usize)
                };
                Ok(Val::Str(out.into()))
            }
            (Func::StrSubstring, [Val::Str(s), Val::Int(start), Val::Int(stop)]) => {
                let (a, b) = (*start as usize, *stop as usize);
                if *start < 0
                    || *stop < *start
                    || b > s.len()
                    || !s.is_char_boundary(a)
                    || !s.is_char_boundary(b)
                {
                    return Err(EvalError(format!(
                        "invalid substring bounds [{start}:{stop}] of a {}-byte string",
                        s.len()
                    )));
                }
                Ok(Val::Str(s[a..b].into()))
            }
            (Func::UnixNano, [Val::Time(t)]) => Ok(Val::Int(*t)),
            (
                Func::Minute | Func::Hour | Func::Day | Func::Weekday | Func::Month | Func::Year,
                [Val::Time(t)],
            ) => Ok(Val::Int(time_part(self, *t))),
            (Func::HumanBytes, [v]) => Ok(Val::Str(human_bytes(float(v)?).into())),
            (f, vals) => Err(EvalError(format!(
                "invalid arguments to {f:?}: {}",
                vals.iter()
                    .map(Val::type_name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

fn arity(name: &str, want: usize, got: usize) -> EvalError {
    EvalError(format!("{name} takes {want} arguments, got {got}"))
}

fn float(v: &Val) -> Result<f64, EvalError> {
    match v {
        Val::Float(f) => Ok(*f),
        Val::Int(i) => Ok(*i as f64),
        other => Err(EvalError(format!(
            "expected a number, got {}",
            other.type_name()
        ))),
    }
}

fn float_only(v: &Val) -> Result<f64, EvalError> {
    match v {
        Val::Float(f) => Ok(*f),
        other => Err(EvalError(format!(
            "cannot use type {} as float; see float()",
            other.type_name()
        ))),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
fn go_float(f: f64) -> String {
    format!("{f}")
}

fn time_part(f: Func, t: i64) -> i64 {
    let secs = t.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    match f {
        Func::Minute => (sod / 60) % 60,
        Func::Hour => sod / 3600,
        Func::Weekday => (days + 4).rem_euclid(7),
        _ => {
            let s = crate::time::format_rfc3339_nanos(t);
            let y: i64 = s[0..4].parse().unwrap_or(0);
            let m: i64 = s[5..7].parse().unwrap_or(0);
            let d: i64 = s[8..10].parse().unwrap_or(0);
            match f {
                Func::Year => y,
                Func::Month => m,
                _ => d,
            }
        }
    }
}

fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10.0 {
        return format!("{n} B");
    }
    let e = (n.ln() / 1000f64.ln()).floor() as usize;
    let e = e.min(UNITS.len() - 1);
    let v = n / 1000f64.powi(e as i32);
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[e])
    } else {
        format!("{v:.0} {}", UNITS[e])
    }
}
