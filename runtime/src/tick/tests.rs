//! Parser and formatter tests: trees printed as S-expressions, errors as `line:col: message`.

use super::ast::*;
use super::{fmt, parse};

/// A compact S-expression of an expression, for asserting structure.
fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str { value, .. } => format!("'{value}'"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Duration { nanos, .. } => format!("{nanos}ns"),
        ExprKind::Regex { pattern, .. } => format!("/{pattern}/"),
        ExprKind::Star => "*".into(),
        ExprKind::Reference(r) => format!("{r:?}"),
        ExprKind::List(items) => {
            format!("[{}]", items.iter().map(sx).collect::<Vec<_>>().join(" "))
        }
        ExprKind::Lambda(b) => format!("(lambda {})", sx(b)),
        ExprKind::Unary { op, expr } => format!("({} {})", op.operator_text(), sx(expr)),
        ExprKind::Binary { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.operator_text(), sx(lhs), sx(rhs))
        }
        ExprKind::Call {
            kind, name, args, ..
        } => {
            let k = match kind {
                CallKind::Global => "",
                CallKind::Chain => "|",
                CallKind::Property => ".",
                CallKind::Dynamic => "@",
            };
            let mut s = format!("({k}{}", name.name);
            for a in args {
                s.push(' ');
                s.push_str(&sx(a));
            }
            s.push(')');
            s
        }
        ExprKind::Chain { lhs, rhs, .. } => format!("{} {}", sx(lhs), sx(rhs)),
    }
}

fn stmts(src: &str) -> Vec<String> {
    let (p, d) = parse(src);
    assert!(d.is_empty(), "{src}: {}", d.one_line(src));
    p.statements
        .iter()
        .map(|s| match s {
            Statement::Var { name, value, .. } => format!("var {} = {}", name.name, sx(value)),
            Statement::TypeDecl { name, ty, .. } => format!("var {} {}", name.name, ty.name),
            Statement::Dbrp { db, rp, .. } => format!("dbrp {} {}", sx(db), sx(rp)),
            Statement::Expr(e) => sx(e),
        })
        .collect()
}

fn errors(src: &str) -> Vec<String> {
    let (_, d) = parse(src);
    d.0.iter().map(|d| d.one_line(src)).collect()
}

#[test]
fn pipelines_and_declarations() {
    assert_eq!(
        stmts(
            "dbrp \"telegraf\".\"autogen\"\nvar w = 10s\nvar crit float\nstream\n  |from()\n    .measurement('cpu')\n  |window().period(w)\n  @myUDF().size(3)"
        ),
        [
            "dbrp \"telegraf\" \"autogen\"",
            "var w = 10000000000ns",
            "var crit float",
            "stream (|from) (.measurement 'cpu') (|window) (.period w) (@myUDF) (.size 3)",
        ]
    );
    assert_eq!(
        stmts("var data = stream|from()\ndata|httpOut('x')"),
        ["var data = stream (|from)", "data (|httpOut 'x')"]
    );
    assert_eq!(
        stmts("a|join(b, c).as('x', 'y').tolerance(1s)"),
        ["a (|join b c) (.as 'x' 'y') (.tolerance 1000000000ns)"]
    );
}

#[test]
fn lambdas_follow_kapacitor_precedence() {
    let s = stmts("x|where(lambda: \"a\" > 1 + 2 * 3 AND \"b\" =~ /h.*/ OR !\"c\")");
    assert_eq!(
        s,
        ["x (|where (lambda (OR (AND (> \"a\" (+ 1 (* 2 3))) (=~ \"b\" /h.*/)) (! \"c\"))))"]
    );
    // Left-associative at every level.
    assert_eq!(
        stmts("x|eval(lambda: 10 - 4 - 3)"),
        ["x (|eval (lambda (- (- 10 4) 3)))"]
    );
    assert_eq!(
        stmts("x|eval(lambda: (1 + 2) * -\"v\")"),
        ["x (|eval (lambda (* (+ 1 2) (- \"v\"))))"]
    );
    assert_eq!(
        stmts("x|eval(lambda: sigma(\"v\") > 3.0, lambda: if(\"a\" == 'x', 1, 2))"),
        ["x (|eval (lambda (> (sigma \"v\") 3.0)) (lambda (if (== \"a\" 'x') 1 2)))"]
    );
    assert_eq!(
        stmts("x|eval(lambda: \"time\" - 5m <= 1h)"),
        ["x (|eval (lambda (<= (- \"time\" 300000000000ns) 3600000000000ns)))"]
    );
}

#[test]
fn literals() {
    assert_eq!(
        stmts(
            "f('a\\'b', '''multi\n'line''', \"r\\\"ef\", 010, .5, 1w, 2d, 3u, 4µ, TRUE, FALSE, *, ['a', b, *], /a\\/b/)"
        ),
        [
            "(f 'a'b' 'multi\n'line' \"r\\\"ef\" 8 0.5 604800000000000ns 172800000000000ns 3000ns 4000ns true false * ['a' b *] /a/b/)"
        ]
    );
}

#[test]
fn several_errors_are_reported() {
    let src = "stream\n    |from(\n\nvar x = )\nstream|window().period(10s))\nvar y = 1 +";
    let e = errors(src);
    let at: Vec<&str> = e.iter().map(|m| m.split(": ").next().unwrap()).collect();
    assert_eq!(at, ["4:1", "4:9", "5:28", "6:12"], "{e:#?}");
    assert!(e[0].contains("unexpected `var`"), "{}", e[0]);
    assert!(e[3].contains("unexpected end of script"), "{}", e[3]);
}

#[test]
fn error_messages() {
    for (src, want) in [
        (
            "stream|from",
            "1:12: unexpected end of script; expected `(` after `from`; nodes are created with a call: |from()",
        ),
        (
            "stream|",
            "1:8: unexpected end of script; expected a node after `|`, e.g. |window()",
        ),
        ("x|where(lambda: \"a\" = 1)", "1:21: unexpected `=`"),
        (
            "var 5 = 1",
            "1:5: unexpected `5`; expected a variable name after `var`",
        ),
        ("x|f('open)", "1:5: unterminated string"),
        ("x|f(\"open)", "1:5: unterminated field reference"),
        ("x|f(/open)", "1:5: unterminated regex"),
        (
            "x|f(lambda: 1 + lambda: 2)",
            "1:17: `lambda:` cannot appear inside an expression",
        ),
        ("x|f(1.2.3)", "1:5: multiple decimals in number"),
        ("x|f(09)", "1:5: invalid integer \"09\""),
        ("x|f(/[a/)", "1:5: invalid regex /[a/"),
        (
            "dbrp 'db'.'rp'",
            "1:6: unexpected `'db'`; expected the database as a \"reference\"",
        ),
        (
            "var x",
            "1:6: unexpected end of script; expected `=` and a value, or a type",
        ),
        (
            "x|f(a b)",
            "1:7: unexpected `b`; expected `,` or `)` in the argument list",
        ),
        ("x # y", "1:3: unexpected character '#'"),
    ] {
        let e = errors(src);
        assert!(!e.is_empty(), "{src}: no error");
        assert!(
            e[0].starts_with(want),
            "{src}:\n  got:  {}\n  want: {want}",
            e[0]
        );
    }
}

#[test]
fn formats_like_tickfmt() {
    let src = "// Alert on CPU\nvar period=10s\nstream|from().measurement('cpu')\n.groupBy('host')|window().period(period).every(5s)\n// average\n|mean('usage_idle').as('mean')|alert().crit(lambda: \"mean\" < 10.0 AND \"host\"=~/web.*/)\n";
    let (p, d) = parse(src);
    assert!(d.is_empty());
    let want = "// Alert on CPU\nvar period = 10s\n\nstream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |window()\n        .period(period)\n        .every(5s)\n    // average\n    |mean('usage_idle')\n        .as('mean')\n    |alert()\n        .crit(lambda: \"mean\" < 10.0 AND \"host\" =~ /web.*/)\n";
    assert_eq!(fmt::format(&p), want);
    // Formatting is idempotent.
    let (again, _) = parse(want);
    assert_eq!(fmt::format(&again), want);
}

#[test]
fn formats_multiline_calls_and_binaries() {
    let src = "x|eval(lambda: \"a\" +\n \"b\", lambda: (1 + 2) * 3.0)\n.as('s',\n 'p')\n";
    let (p, d) = parse(src);
    assert!(d.is_empty());
    let out = fmt::format(&p);
    // A call is multi-line when its last argument starts on a later line than its name.
    assert_eq!(
        out,
        "x\n    |eval(\n        lambda: \"a\" +\n        \"b\",\n        lambda: (1 + 2) * 3.0\n    )\n        .as(\n            's',\n            'p'\n        )\n"
    );
    // Kapacitor accepts a trailing comma in an argument list.
    assert_eq!(stmts("x|f(1,)"), ["x (|f 1)"]);
}

#[test]
fn fuzz_regressions() {
    // Parentheses around an operand after which no operator can be read must survive formatting.
    for src in [
        "(\n*)/BQ04",
        "x|f((/a/) + 1)",
        "(*) * (*)",
        "0 !~ //c\n/a/ - I",
        "x|f(a, // c\n b)",
        "a + // c\n b",
        "a =~\n// c\n/b/",
        "d%w(a2-aaa)(*)",
        "a\n(-b)",
        "a\n(/r/)",
        "a\n(-b + 1)",
    ] {
        let (p, d) = parse(src);
        assert!(d.is_empty(), "{src}: {}", d.one_line(src));
        let out = fmt::format(&p);
        let (again, d) = parse(&out);
        assert!(
            d.is_empty(),
            "{src} formatted as {out:?}: {}",
            d.one_line(&out)
        );
        assert_eq!(fmt::format(&again), out);
    }
}
