//! Checker tests: plans and DOT for valid scripts; for invalid ones, the exact line:column and
//! reason of every error.

use super::build::{BuildOptions, build};
use super::plan::{TaskType, Value};
use crate::tick::parse;

fn plan(src: &str) -> super::Plan {
    let (p, d) = parse(src);
    assert!(d.is_empty(), "{}", d.one_line(src));
    let (plan, d) = build(&p, &BuildOptions::default());
    assert!(d.is_empty(), "{src}\n{}", d.one_line(src));
    plan.expect("plan")
}

fn check_errors(src: &str, opts: &BuildOptions) -> Vec<String> {
    let (p, d) = parse(src);
    if !d.is_empty() {
        return d.0.iter().map(|d| d.one_line(src)).collect();
    }
    let (_, d) = build(&p, opts);
    d.0.iter().map(|d| d.one_line(src)).collect()
}

#[test]
fn stream_pipeline_and_dot() {
    let p = plan(
        "var period = 10s\nstream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |window()\n        .period(period)\n        .every(period)\n    |mean('usage')\n        .as('mean')\n    |httpOut('out')\n",
    );
    assert_eq!(p.task_type, TaskType::Stream);
    let names: Vec<String> = p.nodes.iter().map(|n| n.name()).collect();
    assert_eq!(names, ["stream0", "from1", "window2", "mean3", "http_out4"]);
    assert_eq!(
        p.dot("cpu"),
        "digraph cpu {\nstream0 -> from1;\nfrom1 -> window2;\nwindow2 -> mean3;\nmean3 -> http_out4;\n}"
    );
    let w = &p.nodes[2];
    assert_eq!(
        w.property("period").unwrap().args,
        [Value::Duration(10_000_000_000)]
    );
    assert_eq!(p.nodes[3].args, [Value::Str("usage".into())]);
    assert_eq!(
        p.vars["period"].default,
        Some(Value::Duration(10_000_000_000))
    );
}

#[test]
fn joins_forks_and_handlers() {
    let p = plan(
        "var errors = stream|from().measurement('errors')\nvar requests = stream|from().measurement('requests')\nerrors\n    |join(requests)\n        .as('errors', 'requests')\n    |eval(lambda: \"errors.value\" / \"requests.value\")\n        .as('rate')\n    |alert()\n        .crit(lambda: \"rate\" > 0.5)\n        .slack()\n        .channel('#ops')\n        .email('a@b.c')\n",
    );
    let names: Vec<String> = p.nodes.iter().map(|n| n.name()).collect();
    assert_eq!(
        names,
        // Kapacitor assigns an id per parent link: the join takes 3 and 4 (TestStream_Cardinality
        // expects `join4`).
        ["stream0", "from1", "from2", "join4", "eval5", "alert6"]
    );
    assert_eq!(p.nodes[3].parents, [1, 2]);
    let alert = &p.nodes[5];
    let slack = alert.property("slack").unwrap();
    assert_eq!(slack.sub[0].name, "channel");
    assert!(alert.property("email").is_some());
    assert_eq!(
        p.dot("t"),
        "digraph t {\nstream0 -> from1;\nstream0 -> from2;\nfrom2 -> join4;\nfrom1 -> join4;\njoin4 -> eval5;\neval5 -> alert6;\n}"
    );
}

#[test]
fn batch_and_deadman() {
    let p = plan(
        "batch\n    |query('SELECT mean(usage) FROM cpu')\n        .period(1m)\n        .every(1m)\n        .groupBy(time(10s), 'host')\n    |deadman(1.0, 5m)\n",
    );
    assert_eq!(p.task_type, TaskType::Batch);
    let names: Vec<String> = p.nodes.iter().map(|n| n.name()).collect();
    assert_eq!(
        names,
        [
            "batch0",
            "query1",
            "noop2",
            "stats3",
            "derivative4",
            "alert5"
        ]
    );
    assert_eq!(p.nodes[3].watches, Some(1));
}

#[test]
fn template_vars() {
    let src = "var crit float\nvar field = 'usage'\nstream|from().measurement('cpu')|alert().crit(lambda: \"value\" > crit)";
    let opts = BuildOptions {
        allow_unset_vars: true,
        ..BuildOptions::default()
    };
    let (p, _) = parse(src);
    let (plan, d) = build(&p, &opts);
    assert!(d.is_empty(), "{}", d.one_line(src));
    let plan = plan.unwrap();
    assert_eq!(plan.vars.len(), 2);
    // With a value the lambda sees it.
    let mut opts = BuildOptions::default();
    opts.vars.insert("crit".into(), Value::Float(90.0));
    let (plan, d) = build(&p, &opts);
    assert!(d.is_empty(), "{}", d.one_line(src));
    let crit = &plan.unwrap().nodes[2].properties[0].args[0];
    let Value::Lambda(l) = crit else { panic!() };
    assert_eq!(l.text, "\"value\" > 90.0");
    use super::lambda::{BinaryOp, LambdaExpr};
    assert_eq!(
        l.expr,
        LambdaExpr::Binary {
            op: BinaryOp::Gt,
            lhs: Box::new(LambdaExpr::Ref("value".into())),
            rhs: Box::new(LambdaExpr::Float(90.0))
        }
    );
}

/// Expressions of values outside lambdas are evaluated where they stand, as Kapacitor does
/// (Chronograf's rules build their alert ids so).
#[test]
fn expressions_outside_lambdas_are_evaluated() {
    let src = "var name = 'cpu'\nvar idVar = name + ':{{.Group}}'\nvar every = 2 * 10s\n\
               var n = 10 / 4\nvar big = 1.5 * 2.0 > 2.0\n\
               stream|from().measurement(name)|window().period(every).every(every)\
               |alert().id(idVar).crit(lambda: big AND \"value\" > n)";
    let (p, _) = parse(src);
    let (plan, d) = build(&p, &BuildOptions::default());
    assert!(d.is_empty(), "{}", d.one_line(src));
    let plan = plan.unwrap();
    let args = |node: usize, prop: &str| {
        plan.nodes[node]
            .properties
            .iter()
            .find(|p| p.name == prop)
            .unwrap()
            .args
            .clone()
    };
    assert_eq!(args(3, "id"), [Value::Str("cpu:{{.Group}}".into())]);
    assert_eq!(args(2, "period"), [Value::Duration(20_000_000_000)]);
    let crit = args(3, "crit");
    let [Value::Lambda(crit)] = crit.as_slice() else {
        panic!()
    };
    assert_eq!(crit.text, "TRUE AND \"value\" > 2");
}

/// The table of invalid scripts: each with the exact `line:col: reason` of its first error.
#[test]
fn invalid_scripts() {
    let stream = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let cases: &[(&str, &str)] = &[
        // Syntax.
        (
            "stream|from",
            "1:12: unexpected end of script; expected `(` after `from`",
        ),
        (
            "stream|",
            "1:8: unexpected end of script; expected a node after `|`",
        ),
        (
            "stream|from().where(lambda: \"a\" = 1)",
            "1:33: unexpected `=`; expected `,` or `)` in the argument list; compare with `==`",
        ),
        (
            "var 5 = 1",
            "1:5: unexpected `5`; expected a variable name after `var`",
        ),
        (
            "stream|from().measurement('cpu)",
            "1:27: unterminated string",
        ),
        (
            "stream|from().where(lambda: \"a)",
            "1:29: unterminated field reference",
        ),
        (
            "stream|from().where(lambda: \"a\" =~ /b)",
            "1:36: unterminated regex",
        ),
        (
            "stream|from().where(lambda: 1 + lambda: 2)",
            "1:33: `lambda:` cannot appear inside an expression",
        ),
        (
            "stream|window().period(1.2.3)",
            "1:24: multiple decimals in number",
        ),
        (
            "stream|from().where(lambda: \"a\" =~ /[a/)",
            "1:36: invalid regex /[a/: unclosed character class",
        ),
        (
            "dbrp 'db'.'rp'",
            "1:6: unexpected `'db'`; expected the database as a \"reference\"",
        ),
        (
            "var x",
            "1:6: unexpected end of script; expected `=` and a value, or a type",
        ),
        (
            "stream|from(a b)",
            "1:15: unexpected `b`; expected `,` or `)` in the argument list",
        ),
        ("stream # x", "1:8: unexpected character '#'"),
        (
            "stream|from()\n    .measurement('cpu'\n",
            "3:1: unexpected end of script; expected `,` or `)` in the argument list",
        ),
        (
            "stream|from().where(lambda: \"a\" > )",
            "1:35: unexpected `)`; expected a value",
        ),
        (
            "stream|from().where(lambda: (\"a\" > 1)",
            "1:38: unexpected end of script; expected `,` or `)`",
        ),
        (
            "stream|from()|window()\n  .period(10s))",
            "2:15: unexpected `)`; expected a value",
        ),
        (
            "var x = [1, 2]",
            "1:10: unexpected `1`; expected a 'string', a variable or `*` in the list",
        ),
        (
            "stream|from().where(lambda: \"a\" > 1 AND)",
            "1:40: unexpected `)`; expected a value",
        ),
        // Chaining rules.
        (
            "stream|from().measurement('cpu')|period(10s)",
            "1:34: unknown node `|period()`",
        ),
        (
            "stream|from()|window()|period(10s)",
            "1:24: no chaining method `period` on window, but a property of that name exists; use `.` for properties: .period(...)",
        ),
        (
            "stream|from().window()",
            "1:15: no property `window` on from, but a node of that name exists; use `|` to chain a node: |window(...)",
        ),
        (
            "stream|from()|window().perod(10s)",
            "1:24: unknown property `.perod` on window; did you mean `.period`?",
        ),
        (
            "stream|from()|windw()",
            "1:15: unknown node `|windw()`; did you mean `|window()`?",
        ),
        (
            "stream|from()|mean('x').ass('y')",
            "1:25: unknown property `.ass` on mean; did you mean `.as`?",
        ),
        (
            "stream|from().measurment('cpu')",
            "1:15: unknown property `.measurment` on from; did you mean `.measurement`?",
        ),
        (
            "stream|window()",
            "1:8: `window` cannot follow stream; start with |from()",
        ),
        (
            "stream|from()|query('x')",
            "1:15: `query` cannot follow from; `query` follows batch",
        ),
        (
            "stream|query('SELECT 1')",
            "1:8: `query` cannot follow stream; start with |from()",
        ),
        (
            "stream|from()|alert().crit(lambda: TRUE).slack().chanel('#x')",
            "1:50: unknown property `.chanel` on alert",
        ),
        (
            "stream|from().measurement",
            "1:15: `.measurement` needs parentheses; write .measurement()",
        ),
        (
            "stream|from()|httpOut('x')|foo()",
            "1:28: unknown node `|foo()`",
        ),
        // Arity and argument types.
        (
            "stream|from()|window().period()",
            "1:24: .period() takes 1 argument, got 0",
        ),
        (
            "stream|from()|window().period(10s, 5s)",
            "1:24: .period() takes 1 argument, got 2",
        ),
        (
            "stream|from()|window().period(10)",
            "1:31: argument 1 of .period(): expected duration, got a int",
        ),
        (
            "stream|from()|window().period('10s')",
            "1:31: argument 1 of .period(): expected duration, got a string",
        ),
        (
            "stream|from().measurement(\"cpu\")",
            "1:27: argument 1 of .measurement(): expected string, got the reference \"cpu\"; double quotes make a field reference",
        ),
        (
            "stream|from().where('a > 1')",
            "1:21: argument 1 of .where(): expected lambda, got a string",
        ),
        (
            "stream|from()|httpOut()",
            "1:15: |httpOut() takes 1 argument, got 0",
        ),
        (
            "stream|from()|mean()",
            "1:15: |mean() takes 1 argument, got 0",
        ),
        (
            "stream|from()|mean(1)",
            "1:20: argument 1 of |mean(): expected string, got a int",
        ),
        (
            "stream|from()|window().align(TRUE)",
            "1:24: .align() takes 0 arguments, got 1",
        ),
        (
            "stream|from()|shift('1s')",
            "1:21: argument 1 of |shift(): expected duration, got a string",
        ),
        (
            "stream|from()|eval(lambda: \"a\").as(1)",
            "1:36: argument 1 of .as(): expected string, got a int",
        ),
        (
            "stream|from()|derivative('x').unit(1)",
            "1:36: argument 1 of .unit(): expected duration, got a int",
        ),
        (
            "stream|from()|window().periodCount(1.5)",
            "1:36: argument 1 of .periodCount(): expected int, got a float; write a whole number",
        ),
        (
            "stream|from()|alert().crit(\"x\" > 1)",
            "1:28: an expression outside a lambda; wrap it in a lambda",
        ),
        (
            "stream|from()|percentile('x')",
            "1:15: |percentile() takes 2 arguments, got 1",
        ),
        (
            "stream|from()|top('x', 2)",
            "1:19: argument 1 of |top(): expected int, got a string",
        ),
        // Variables.
        (
            "var x = 1\nvar x = 2",
            "2:5: attempted to redefine `x`, vars are immutable",
        ),
        (
            "var stream = 1",
            "1:5: attempted to redefine `stream`, vars are immutable",
        ),
        (
            "strem|from()",
            "1:1: undefined variable `strem`; did you mean `stream`?",
        ),
        (
            "var data = stream|from()\ndat|httpOut('x')",
            "2:1: undefined variable `dat`; did you mean `data`?",
        ),
        (
            "stream|from()|where(lambda: value > 1)",
            "1:29: undefined variable `value` in lambda; fields and tags are written in double quotes: \"value\"",
        ),
        (
            "var x floaty\nstream|from()",
            "1:7: invalid var type `floaty`; did you mean `float`?",
        ),
        (
            "var crit float\nstream|from()|alert().crit(lambda: \"v\" > crit)",
            "1:1: missing value for var `crit`",
        ),
        (
            "var n = stream|from()\nstream|from()|where(lambda: n > 1)",
            "2:29: `n` is a node; a lambda can only use values",
        ),
        (
            "var w = 5\nw|window()",
            "2:1: cannot chain on a int: only nodes have `|` methods",
        ),
        ("var x = foo()", "1:9: no global function `foo` defined"),
        (
            "var f = \"value\"\nvar y = f > 5\nstream|from()",
            "2:9: an expression outside a lambda; wrap it in a lambda",
        ),
        (
            "var x = 1 + 2.0\nstream|from()",
            "1:9: cannot evaluate `1 + 2.0`: mismatched type to binary operator. got int + float. see bool(), int(), float(), string(), duration()",
        ),
        (
            "stream|from().where(lambda: sigm(\"v\") > 3)",
            "1:29: unknown function `sigm` in lambda; did you mean `sigma()`?",
        ),
        (
            "stream|from().where(lambda: strcontains(\"h\", 'x'))",
            "1:29: unknown function `strcontains` in lambda; did you mean `strContains()`?",
        ),
        // Task type and edges.
        (
            "batch|query('SELECT 1')",
            "1:1: `batch` in a stream task; a stream task starts from `stream`",
        ),
        (
            "stream|from()\nbatch|query('x')",
            "2:1: `batch` in a stream task",
        ),
        (
            "stream|from()|window()|window()",
            "1:24: window wants a stream edge but window gives a batch edge",
        ),
        (
            "stream|from()|influxDBOut()|httpOut('x')",
            "1:29: nothing can follow influxdb_out: it has no output",
        ),
        ("var x = 1", "1:1: the script defines no pipeline"),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (src, want) in cases {
        let got = check_errors(src, &stream);
        match got.first() {
            Some(first) if first.starts_with(want) => {}
            other => failures.push(format!("{src:?}\n    want: {want}\n    got:  {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Without a task type, the source decides it, and only one source is allowed.
    let any = BuildOptions::default();
    let got = check_errors("stream|from()\nbatch|query('x')", &any);
    assert!(got[0].starts_with("2:1: a task has one source"), "{got:?}");
    let got = check_errors("batch|from()", &any);
    assert!(
        got[0].starts_with("1:7: `from` cannot follow batch; start with |query('SELECT ...')"),
        "{got:?}"
    );
}
