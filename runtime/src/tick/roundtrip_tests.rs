//! Property: formatting a script and parsing it again gives the same tree (spans aside).

use proptest::prelude::*;

use super::ast::*;
use super::diag::Span;
use super::{fmt, parse};

/// The tree with every span zeroed, so trees parsed from different texts compare.
fn strip(p: &Program) -> Program {
    let mut p = p.clone();
    for s in &mut p.statements {
        match s {
            Statement::Var {
                span,
                name,
                value,
                comment,
            } => {
                *span = Span::default();
                name.span = Span::default();
                strip_comment(comment);
                strip_expr(value);
            }
            Statement::TypeDecl {
                span,
                name,
                ty,
                comment,
            } => {
                *span = Span::default();
                name.span = Span::default();
                ty.span = Span::default();
                strip_comment(comment);
            }
            Statement::Dbrp {
                span,
                db,
                rp,
                comment,
            } => {
                *span = Span::default();
                strip_comment(comment);
                strip_expr(db);
                strip_expr(rp);
            }
            Statement::Expr(e) => strip_expr(e),
        }
    }
    strip_comment(&mut p.trailing);
    p
}

fn strip_comment(c: &mut Option<Comment>) {
    if let Some(c) = c {
        c.span = Span::default();
    }
}

fn strip_expr(e: &mut Expr) {
    e.span = Span::default();
    strip_comment(&mut e.comment);
    match &mut e.kind {
        ExprKind::List(items) => items.iter_mut().for_each(strip_expr),
        ExprKind::Lambda(b) => strip_expr(b),
        ExprKind::Unary { expr, .. } => strip_expr(expr),
        ExprKind::Binary { lhs, rhs, .. } => {
            strip_expr(lhs);
            strip_expr(rhs);
        }
        ExprKind::Call { name, args, .. } => {
            name.span = Span::default();
            args.iter_mut().for_each(strip_expr);
        }
        ExprKind::Chain { lhs, rhs, .. } => {
            strip_expr(lhs);
            strip_expr(rhs);
        }
        _ => {}
    }
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-zA-Z0-9_]{0,6}".prop_filter("not a keyword", |s| {
        !matches!(s.as_str(), "var" | "dbrp" | "lambda")
    })
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..100_000).prop_map(|i| i.to_string()),
        (0.0f64..1e6).prop_map(|f| format!("{f:?}")),
        "[a-z '\\\\]{0,8}".prop_map(|s| format!("'{}'", s.replace('\\', "").replace('\'', "\\'"))),
        (
            1i64..1000,
            prop::sample::select(vec!["u", "ms", "s", "m", "h", "d", "w"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        Just("TRUE".to_owned()),
        Just("FALSE".to_owned()),
        "[a-z_ ]{1,8}".prop_map(|r| format!("\"{r}\"")),
    ]
}

/// A regex literal: Kapacitor's lexer only reads one where an operand starts or after `=~`/`!~`,
/// and reads no operator right after one (so comparisons with it go in parentheses).
fn regex() -> impl Strategy<Value = String> {
    ("[a-z]{1,5}", any::<bool>())
        .prop_map(|(r, star)| format!("/{r}{}/", if star { ".*" } else { "" }))
}

fn lambda_expr() -> impl Strategy<Value = String> {
    let leaf = literal();
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "AND", "OR"
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            (
                "[a-z]{1,5}",
                prop::sample::select(vec!["=~", "!~"]),
                regex()
            )
                .prop_map(|(f, op, r)| format!("(\"{f}\" {op} {r})")),
            inner.clone().prop_map(|a| format!("!{a}")),
            (ident(), prop::collection::vec(inner, 0..3))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        literal(),
        regex(),
        ident(),
        Just("*".to_owned()),
        lambda_expr().prop_map(|e| format!("lambda: {e}")),
        prop::collection::vec(
            prop_oneof!["'[a-z]{1,4}'", ident(), Just("*".to_owned())],
            0..3
        )
        .prop_map(|v| format!("[{}]", v.join(", "))),
    ]
}

fn call() -> impl Strategy<Value = String> {
    (
        ident(),
        prop::collection::vec(argument(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(n, args, nl)| format!("{n}({})", args.join(if nl { ",\n  " } else { ", " })))
}

fn chain() -> impl Strategy<Value = String> {
    (
        ident(),
        prop::collection::vec(
            (
                prop::sample::select(vec!["|", ".", "@", "\n  |", "\n    ."]),
                call(),
            ),
            0..6,
        ),
    )
        .prop_map(|(root, steps)| {
            let mut s = root;
            for (op, c) in steps {
                s.push_str(op);
                s.push_str(&c);
            }
            s
        })
}

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        chain(),
        (ident(), chain()).prop_map(|(v, c)| format!("var {v} = {c}")),
        (ident(), argument()).prop_map(|(v, a)| format!("var {v} = {a}")),
        (
            ident(),
            prop::sample::select(vec!["float", "int", "string", "lambda", "duration", "list"])
        )
            .prop_map(|(v, t)| format!("var {v} {t}")),
        ("[a-z]{1,5}", "[a-z]{1,5}").prop_map(|(d, r)| format!("dbrp \"{d}\".\"{r}\"")),
    ]
}

fn script() -> impl Strategy<Value = String> {
    prop::collection::vec((statement(), prop::option::of("[a-z ]{0,12}")), 1..5).prop_map(|stmts| {
        stmts
            .into_iter()
            .map(|(s, c)| match c {
                Some(c) => format!("// {c}\n{s}"),
                None => s,
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_format_parse_is_identity(src in script()) {
        let (p1, d1) = parse(&src);
        prop_assert!(d1.is_empty(), "generated script did not parse:\n{}\n{}", src, d1.one_line(&src));
        let formatted = fmt::format(&p1);
        let (p2, d2) = parse(&formatted);
        prop_assert!(d2.is_empty(), "formatted script did not parse:\n{}\n{}", formatted, d2.one_line(&formatted));
        prop_assert_eq!(strip(&p1), strip(&p2), "\n{}\n---\n{}", src, formatted);
        prop_assert_eq!(fmt::format(&p2), formatted);
    }

    #[test]
    fn arbitrary_text_never_panics(src in "[a-z0-9|.@()\\[\\],'\"/*=!<>+ \n:-]{0,60}") {
        let (p, _) = parse(&src);
        let _ = fmt::format(&p);
    }
}
