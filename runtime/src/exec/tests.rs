//! Whole pipelines in process: script → plan → task → points in → httpOut out.

use super::Task;
use crate::lineproto::{PointBuilder, Precision, parse as parse_lp};
use crate::model::Point;
use crate::pipeline::{BuildOptions, TaskType, compile};

fn task(script: &str) -> Task {
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let plan = compile(script, &opts).unwrap_or_else(|d| panic!("{}", d.one_line(script)));
    Task::new(&plan).unwrap()
}

fn points(lp: &str) -> Vec<Point> {
    let mut b = PointBuilder::default();
    let mut out = Vec::new();
    parse_lp(lp.as_bytes(), Precision::Seconds, 0, |l| {
        out.push(b.build(&l))
    });
    out
}

fn http(t: &Task, endpoint: &str) -> serde_json::Value {
    t.http_out(endpoint).unwrap().lock().to_json()
}

#[test]
fn where_eval_and_http_out() {
    let mut t = task(
        "stream|from().measurement('cpu')|where(lambda: \"value\" > 50.0)|eval(lambda: \"value\" * 2.0).as('v2')|httpOut('out')",
    );
    t.push(
        "db",
        "rp",
        &points("cpu value=10 1\ncpu value=60 2\nmem value=99 3\n"),
    );
    let out = http(&t, "out");
    assert_eq!(
        out,
        serde_json::json!({"series": [{"name": "cpu", "columns": ["time", "v2"], "values": [["1970-01-01T00:00:02Z", 120.0]]}]})
    );
    let stats = t.stats();
    let get = |name: &str| {
        stats
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.collected.load(std::sync::atomic::Ordering::Relaxed))
    };
    assert_eq!(get("from1"), Some(3));
    assert_eq!(get("where2"), Some(2));
    assert_eq!(get("eval3"), Some(1));
}

#[test]
fn windowed_mean_per_group() {
    let mut t = task(
        "stream|from().measurement('cpu').groupBy('host')|window().period(10s).every(10s)|mean('value')|httpOut('out')",
    );
    let mut lp = String::new();
    for s in 0..25 {
        lp.push_str(&format!(
            "cpu,host=a value={s} {s}\ncpu,host=b value={} {s}\n",
            s * 2
        ));
    }
    t.push("db", "rp", &points(&lp));
    let out = http(&t, "out");
    let series = out["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["tags"], serde_json::json!({"host": "a"}));
    // Windows are [0,10), [10,20): the second emitted at t=20.
    assert_eq!(
        series[0]["values"],
        serde_json::json!([["1970-01-01T00:00:20Z", 14.5]])
    );
    assert_eq!(
        series[1]["values"],
        serde_json::json!([["1970-01-01T00:00:20Z", 29.0]])
    );
}

#[test]
fn lambda_errors_count_and_drop() {
    let mut t = task("stream|from()|eval(lambda: \"value\" * 2).as('x')|httpOut('out')");
    // A float field times an int literal: Kapacitor's mismatched type error; ints and floats
    // only mix in comparisons.
    t.push("db", "rp", &points("cpu value=10.5 1\n"));
    let stats = t.stats();
    let eval_stats = &stats.iter().find(|(n, _)| n == "eval2").unwrap().1;
    assert_eq!(
        eval_stats.errors.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let err = t.last_error.clone().unwrap();
    assert!(
        err.contains("mismatched type to binary operator. got float * int"),
        "{err}"
    );
    assert_eq!(http(&t, "out"), serde_json::json!({"series": null}));

    let mut t = task("stream|from()|where(lambda: \"value\" > 5)|httpOut('out')");
    t.push("db", "rp", &points("cpu value=10.5 1\ncpu other=1 2\n"));
    assert_eq!(
        http(&t, "out")["series"][0]["values"],
        serde_json::json!([["1970-01-01T00:00:01Z", 10.5]])
    );
    assert!(
        t.last_error
            .clone()
            .unwrap()
            .contains("reference \"value\" is missing value"),
        "{:?}",
        t.last_error
    );
}
