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
        out.push(b.build(l))
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

/// `.quiet()`, as Kapacitor: a quiet node's errors are counted and not logged; a quiet
/// `eval`'s are neither.
#[test]
fn quiet_nodes_do_not_log_their_errors() {
    let errors = |t: &Task, node: &str| {
        let stats = t.stats();
        let s = &stats.iter().find(|(n, _)| n == node).unwrap().1;
        s.errors.load(std::sync::atomic::Ordering::Relaxed)
    };
    let lp = points("cpu value=10.5 1\ncpu other=1 2\n");
    let mut t = task("stream|from()|where(lambda: \"value\" > 5).quiet()|httpOut('out')");
    t.push("db", "rp", &lp);
    assert_eq!((errors(&t, "where2"), t.last_error.clone()), (1, None));
    let mut t = task("stream|from()|eval(lambda: \"value\" * 2).as('x').quiet()|httpOut('out')");
    t.push("db", "rp", &lp);
    assert_eq!((errors(&t, "eval2"), t.last_error.clone()), (0, None));
    let mut t = task("stream|from()|eval(lambda: \"value\" * 2).as('x')|httpOut('out')");
    t.push("db", "rp", &lp);
    assert_eq!(errors(&t, "eval2"), 2);
    assert!(t.last_error.is_some());
}

/// Runs `script` (whose last node is `|httpOut('out')`) on line protocol (seconds) and returns
/// the endpoint's `values` of each series, with tags.
/// One series of an httpOut result: its tags and its rows.
type Rows = Vec<(serde_json::Value, serde_json::Value)>;

fn run(script: &str, lp: &str) -> Rows {
    let mut t = task(script);
    t.push("db", "rp", &points(lp));
    let out = http(&t, "out");
    out["series"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| (s["tags"].clone(), s["values"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn ts(s: u32) -> String {
    format!("1970-01-01T00:00:{s:02}Z")
}

#[test]
fn stream_nodes() {
    use serde_json::json;
    let lp = "m,h=a v=1 1\nm,h=a v=3 2\nm,h=a v=2 4\nm,h=b v=10 5\nm,h=a v=2 6\n";
    let cases: Vec<(&str, &str, Rows)> = vec![
        (
            "derivative per second",
            "stream|from().groupBy('h')|derivative('v')|httpOut('out')",
            vec![(json!({"h": "a"}), json!([[ts(6), 0.0]]))],
        ),
        (
            "derivative non-negative with unit and as",
            "stream|from()|derivative('v').unit(2s).nonNegative().as('d')|httpOut('out')",
            // Negative rates (3 → 2, 10 → 2) are dropped: the last emitted is b's 2 → 10.
            vec![(json!({"h": "b"}), json!([[ts(5), 16.0, 10.0]]))],
        ),
        (
            "stateCount",
            "stream|from().groupBy('h')|stateCount(lambda: \"v\" > 1.5)|httpOut('out')",
            vec![
                (json!({"h": "a"}), json!([[ts(6), 3, 2.0]])),
                (json!({"h": "b"}), json!([[ts(5), 1, 10.0]])),
            ],
        ),
        (
            // a: false at 1s, true from 2s on: 4 seconds in the state at 6s.
            "stateDuration",
            "stream|from().groupBy('h')|stateDuration(lambda: \"v\" > 1.5)|httpOut('out')",
            vec![
                (json!({"h": "a"}), json!([[ts(6), 4.0, 2.0]])),
                (json!({"h": "b"}), json!([[ts(5), 0.0, 10.0]])),
            ],
        ),
        (
            "changeDetect",
            "stream|from().groupBy('h')|changeDetect('v')|httpOut('out')",
            vec![
                (json!({"h": "a"}), json!([[ts(4), 2.0]])),
                (json!({"h": "b"}), json!([[ts(5), 10.0]])),
            ],
        ),
        (
            "shift",
            "stream|from()|shift(10s)|httpOut('out')",
            vec![(json!({"h": "a"}), json!([[ts(16), 2.0]]))],
        ),
        (
            "sample every 2nd",
            "stream|from().groupBy('h')|sample(2)|httpOut('out')",
            vec![
                (json!({"h": "a"}), json!([[ts(4), 2.0]])),
                (json!({"h": "b"}), json!([[ts(5), 10.0]])),
            ],
        ),
        (
            "default and delete",
            "stream|from()|default().field('x', 7).tag('z', 'q')|delete().tag('h')|httpOut('out')",
            vec![(json!({"z": "q"}), json!([[ts(6), 2.0, 7]]))],
        ),
        (
            "eval keep and tags",
            "stream|from()|eval(lambda: \"v\" * 2.0, lambda: 'x').as('w', 'k').tags('k').keep()|httpOut('out')",
            vec![(json!({"h": "a", "k": "x"}), json!([[ts(6), "x", 2.0, 4.0]]))],
        ),
        (
            "from truncate and where",
            "stream|from().truncate(4s).where(lambda: \"h\" == 'b')|httpOut('out')",
            vec![(json!({"h": "b"}), json!([[ts(4), 10.0]]))],
        ),
    ];
    for (label, script, want) in cases {
        let got = run(script, lp);
        assert_eq!(got, want, "{label}");
    }
}

#[test]
fn windows_and_influxql() {
    use serde_json::json;
    // Two groups, one point per second each, values 0..; windows of 4s.
    let mut lp = String::new();
    for s in 0..9 {
        lp.push_str(&format!("m,h=a v={} {s}\nm,h=b v={} {s}\n", s, 10 - s));
    }
    let w = "stream|from().groupBy('h')|window().period(4s).every(4s)";
    let first = |f: &str| run(&format!("{w}|{f}|httpOut('out')"), &lp)[0].1.clone();
    // The last full window of group a is [4,8): values 4,5,6,7.
    assert_eq!(first("count('v')"), json!([[ts(8), 4]]));
    assert_eq!(first("sum('v')"), json!([[ts(8), 22.0]]));
    assert_eq!(first("mean('v')"), json!([[ts(8), 5.5]]));
    assert_eq!(first("median('v')"), json!([[ts(8), 5.5]]));
    assert_eq!(first("spread('v')"), json!([[ts(8), 3.0]]));
    assert_eq!(first("first('v')"), json!([[ts(8), 4.0]]));
    assert_eq!(first("last('v').usePointTimes()"), json!([[ts(7), 7.0]]));
    assert_eq!(first("max('v').as('top')"), json!([[ts(8), 7.0]]));
    assert_eq!(first("percentile('v', 50.0)"), json!([[ts(8), 5.0]]));
    assert_eq!(first("top(2, 'v')"), json!([[ts(8), 7.0], [ts(8), 6.0]]));
    assert_eq!(
        first("bottom(1, 'v').usePointTimes()"),
        json!([[ts(4), 4.0]])
    );
    assert_eq!(
        first("distinct('v')"),
        json!([[ts(8), 4.0], [ts(8), 5.0], [ts(8), 6.0], [ts(8), 7.0]])
    );
    assert_eq!(
        first("difference('v')"),
        json!([[ts(5), 1.0], [ts(6), 1.0], [ts(7), 1.0]])
    );
    assert_eq!(
        first("cumulativeSum('v')"),
        json!([[ts(4), 4.0], [ts(5), 9.0], [ts(6), 15.0], [ts(7), 22.0]])
    );
    assert_eq!(
        first("movingAverage('v', 3)"),
        json!([[ts(6), 5.0], [ts(7), 6.0]])
    );
    assert_eq!(
        first("elapsed('v', 1s)"),
        json!([[ts(5), 1], [ts(6), 1], [ts(7), 1]])
    );
    // Count windows: the last 3 points every 2 points.
    let got = run(
        "stream|from().groupBy('h')|window().periodCount(3).everyCount(2)|count('v')|httpOut('out')",
        &lp,
    );
    assert_eq!(got[0].1, json!([[ts(7), 3]]));
    // Every point emits (every = 0): the window (t-3s, t].
    let got = run(
        "stream|from().groupBy('h')|window().period(3s)|sum('v')|httpOut('out')",
        &lp,
    );
    assert_eq!(got[0].1, json!([[ts(8), 21.0]]));
    // Batch groupBy regroups and emits when a later batch arrives.
    let got = run(
        "stream|from()|window().period(4s).every(4s)|groupBy('h')|count('v')|httpOut('out')",
        &lp,
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, json!([[ts(4), 4]]));
}

#[test]
fn stateful_lambda_functions_keep_state_per_group() {
    use serde_json::json;
    let lp = "m,h=a v=1 1\nm,h=b v=5 2\nm,h=a v=3 3\nm,h=a v=2 4\n";
    let got = run(
        "stream|from().groupBy('h')|eval(lambda: count(), lambda: spread(\"v\"), lambda: sigma(\"v\")).as('n', 's', 'z')|httpOut('out')",
        lp,
    );
    // a: n = 3 points, spread 3 - 1, z-score of 2 among 1, 3, 2 is 0.
    assert_eq!(got[0], (json!({"h": "a"}), json!([[ts(4), 3, 2.0, 0.0]])));
    assert_eq!(got[1], (json!({"h": "b"}), json!([[ts(2), 1, 0.0, 0.0]])));
    let got = run(
        "stream|from()|where(lambda: count() > 2)|httpOut('out')",
        lp,
    );
    assert_eq!(got[0].1, json!([[ts(4), 2.0]]));
}

#[test]
fn join_pairs_points_by_group_and_time() {
    use serde_json::json;
    let script = "var e = stream|from().measurement('errors').groupBy('h')\nvar r = stream|from().measurement('requests').groupBy('h')\ne|join(r).as('e', 'r').tolerance(2s)|eval(lambda: \"e.v\" / \"r.v\").as('rate')|httpOut('out')";
    // 1s and 2s round to the same 2s bucket; the 4s error waits for a request.
    let lp = "errors,h=a,dc=x v=1 1\nrequests,h=a v=10 2\nerrors,h=a v=3 4\nrequests,h=b v=5 4\n";
    let got = run(script, lp);
    assert_eq!(got, vec![(json!({"h": "a"}), json!([[ts(2), 0.1]]))]);
    // Without a fill an incomplete set is dropped once both parents moved past it.
    let lp2 = format!(
        "{lp}errors,h=a v=1 8\nrequests,h=a v=2 8\nrequests,h=a v=4 10\nerrors,h=a v=2 10\n"
    );
    let got = run(script, &lp2);
    assert_eq!(got[0].1, json!([[ts(10), 0.5]]));
    // A fill value stands in for the missing parent's fields.
    let filled = script.replace(".tolerance(2s)", ".tolerance(2s).fill(0.0)");
    let got = run(
        &filled,
        "errors,h=a v=1 2\nerrors,h=a v=1 4\nrequests,h=a v=1 6\nerrors,h=a v=1 6\n",
    );
    assert_eq!(
        got[0].1,
        json!([[ts(6), 1.0]]),
        "the filled sets at 2s and 4s (rate 1 / 0.0) came out before"
    );
}

#[test]
fn join_on_copies_the_less_specific_point_into_each_specific_group() {
    use serde_json::json;
    // Per-disk points joined with a per-host lock count: the host point is the match side.
    let script = "var lock = stream|from().measurement('lock').groupBy('host')\nstream|from().measurement('disk').groupBy('host', 'path')|join(lock).as('disk', 'lock').on('host').streamName('d')|httpOut('out')";
    let lp = "disk,host=A,path=/ used=50 1\ndisk,host=A,path=/tmp used=40 1\nlock,host=A count=1 1\ndisk,host=A,path=/ used=60 2\nlock,host=A count=0 2\ndisk,host=B,path=/ used=1 2\n";
    let mut got = run(script, lp);
    got.sort_by_key(|(tags, _)| tags.to_string());
    assert_eq!(
        got,
        vec![
            (
                json!({"host": "A", "path": "/"}),
                json!([[ts(2), 60.0, 0.0]])
            ),
            (
                json!({"host": "A", "path": "/tmp"}),
                json!([[ts(1), 40.0, 1.0]])
            ),
        ],
        "httpOut keeps each group's last point; host B never got a lock point, so it waits"
    );
    // Joined on a dimension both sides lack beyond `on`: every point is a match, none joins.
    let same = "var a = stream|from().measurement('a').groupBy('h')\nstream|from().measurement('b').groupBy('h')|join(a).as('b', 'a').on('h')|httpOut('out')";
    assert_eq!(
        run(same, "a,h=x v=1 1\nb,h=x v=2 1\nb,h=x v=3 2\na,h=x v=4 2\n"),
        vec![]
    );
}

#[test]
fn union_merges_parents_in_time_order() {
    use serde_json::json;
    let script = "var a = stream|from().measurement('a')\nvar b = stream|from().measurement('b')\na|union(b).rename('u')|window().period(10s).every(10s)|httpOut('out')";
    // a runs ahead; nothing passes until b has shown something, then a k-way merge by time.
    let lp = "a v=1 0\na v=2 1\na v=3 2\nb v=10 0\nb v=20 2\na v=4 10\nb v=30 11\n";
    let got = run(script, lp);
    assert_eq!(
        got[0].1,
        json!([
            [ts(0), 10.0],
            [ts(0), 1.0],
            [ts(1), 2.0],
            [ts(2), 20.0],
            [ts(2), 3.0]
        ]),
        "ties go to the argument before the receiver"
    );
}

#[test]
fn flatten_folds_points_of_a_time() {
    use serde_json::json;
    let lp = "disk,host=a,dev=sda used=1 1\ndisk,host=a,dev=sdb used=2 1\ndisk,host=a,dev=sda used=3 2\n";
    let got = run(
        "stream|from().groupBy('host')|flatten().on('dev')|httpOut('out')",
        lp,
    );
    assert_eq!(
        got,
        vec![(json!({"host": "a"}), json!([[ts(1), 1.0, 2.0]]))]
    );
    let got = run(
        "stream|from().groupBy('host')|flatten().on('dev').dropOriginalFieldName()|httpOut('out')",
        lp,
    );
    assert_eq!(got[0].1, json!([[ts(1), 1.0, 2.0]]));
    let mut t =
        task("stream|from().groupBy('host')|flatten().on('dev').delimiter('_')|httpOut('out')");
    t.push("db", "rp", &points(lp));
    let cols = http(&t, "out")["series"][0]["columns"].clone();
    assert_eq!(cols, json!(["time", "sda_used", "sdb_used"]));
}

#[test]
fn combine_pairs_points_of_a_time() {
    use serde_json::json;
    let script = "stream|from()|combine(lambda: \"kind\" == 'req', lambda: \"kind\" == 'err').as('r', 'e')|httpOut('out')";
    let lp = "m,kind=req v=10 1\nm,kind=err v=1 1\nm,kind=req v=20 2\nm,kind=err v=2 3\n";
    let got = run(script, lp);
    // Time 1 pairs its req and err; time 2 has no err: nothing; time 3 waits for a later point.
    assert_eq!(
        got,
        vec![(
            json!({"e.kind": "err", "r.kind": "req"}),
            json!([[ts(1), 1.0, 10.0]])
        )]
    );
}

#[test]
fn now_is_the_time_the_host_sets() {
    use serde_json::json;
    let mut t = task("stream|from()|where(lambda: \"exp\" < unixNano(now()))|httpOut('out')");
    t.set_now(5_000_000_000);
    t.push(
        "db",
        "rp",
        &points("m exp=4000000000i 1\nm exp=6000000000i 2\n"),
    );
    assert_eq!(
        http(&t, "out")["series"][0]["values"],
        json!([[ts(1), 4_000_000_000i64]])
    );
}

const SEC: i64 = 1_000_000_000;

fn cardinality(t: &Task, node: &str) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = t.stats();
    let (_, s) = stats.iter().find(|(n, _)| n == node).unwrap();
    s.working_cardinality.load(Relaxed)
}

#[test]
fn idle_barrier_closes_a_window_on_wall_clock_time() {
    use serde_json::json;
    let script = "stream|from().groupBy('h')|barrier().idle(10s)|window().period(10s).every(10s)|httpOut('out')";
    let mut t = task(script);
    assert!(t.has_timers());
    t.set_now(0);
    t.push("db", "rp", &points("m,h=a v=1 1\nm,h=a v=2 3\n"));
    t.tick(5 * SEC);
    assert_eq!(
        http(&t, "out"),
        json!({"series": null}),
        "not idle long enough"
    );
    // Idle for 10s of wall time: a barrier at the last point's time + 10s = 13s passes the
    // window's end (11s), which emits as a point there would.
    t.tick(11 * SEC);
    assert_eq!(
        http(&t, "out")["series"][0]["values"],
        json!([[ts(1), 1.0], [ts(3), 2.0]])
    );
    // Data older than the barrier is dropped from then on.
    t.push("db", "rp", &points("m,h=a v=3 12\nm,h=a v=4 14\n"));
    assert_eq!(
        t.stats()[2]
            .1
            .collected
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
    assert_eq!(
        t.stats()[2]
            .1
            .emitted
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn barrier_delete_drops_the_group_below() {
    use serde_json::json;
    let script = "stream|from().groupBy('h')|barrier().period(1s).delete(TRUE)|window().period(10s).every(10s)|httpOut('out')";
    let mut t = task(script);
    t.set_now(0);
    t.push("db", "rp", &points("m,h=a v=1 1\nm,h=b v=2 3\n"));
    assert_eq!(cardinality(&t, "window3"), 2);
    t.tick(2 * SEC);
    assert_eq!(cardinality(&t, "window3"), 0);
    assert_eq!(cardinality(&t, "barrier2"), 0);
    assert_eq!(http(&t, "out"), json!({"series": null}));
}

#[test]
fn idle_groups_expire_in_every_node() {
    let script = "stream|from().groupBy('h')|where(lambda: sigma(\"v\") >= 0)|window().period(10s).every(10s)|mean('v')|httpOut('out')";
    let mut t = task(script);
    t.set_now(0);
    t.push(
        "db",
        "rp",
        &points("m,h=a v=1 1\nm,h=b v=2 1\nm,h=a v=1 11\nm,h=b v=2 11\n"),
    );
    t.set_now(100 * SEC);
    t.push("db", "rp", &points("m,h=c v=1 1\n"));
    assert_eq!(cardinality(&t, "window3"), 3);
    assert_eq!(cardinality(&t, "http_out5"), 2);
    // a and b were last seen at 0s, c at 100s.
    let gone = t.expire(50 * SEC);
    assert_eq!(
        gone,
        2 + 2 + 2,
        "where, window and httpOut each forget a and b"
    );
    assert_eq!(cardinality(&t, "where2"), 1);
    assert_eq!(cardinality(&t, "window3"), 1);
    assert_eq!(cardinality(&t, "http_out5"), 0);
    assert_eq!(t.expire(50 * SEC), 0);
}

#[test]
fn rand_gives_ints_in_range() {
    let script = "stream|from()|eval(lambda: rand(0), lambda: rand(1), lambda: rand(20), lambda: rand())\
        .as('r0', 'r1', 'r20', 'r')|window().period(1h).every(1h)|httpOut('out')";
    let lp: String = (0..200).map(|i| format!("m v=1 {i}\n")).collect();
    let got = run(script, &format!("{lp}m v=1 4000\n"));
    let rows = got[0].1.as_array().unwrap();
    assert_eq!(rows.len(), 200);
    let col = |i: usize| rows.iter().map(move |r| r[i].as_i64().unwrap());
    // Columns sort by name: time, r, r0, r1, r20.
    assert!(
        col(2).all(|v| v == 0) && col(3).all(|v| v == 0),
        "rand(0), rand(1)"
    );
    assert!(col(4).all(|v| (0..20).contains(&v)));
    assert!(
        (0..20).all(|k| col(4).any(|v| v == k)),
        "every value below 20 shows up"
    );
    assert!(col(1).all(|v| v >= 0));
    assert!(col(1).collect::<std::collections::HashSet<_>>().len() > 190);
}

#[test]
fn stats_counts_what_the_watched_node_emitted_per_group() {
    use serde_json::json;
    let script = "var f = stream|from().groupBy('h')\nf|window().period(1h).every(1h)|httpOut('w')\nf|stats(1s)|httpOut('out')";
    let mut t = task(script);
    t.set_now(0);
    t.push(
        "db",
        "rp",
        &points("m,h=a v=1 1\nm,h=a v=2 2\nm,h=b v=3 3\n"),
    );
    t.tick(500_000_000);
    assert_eq!(
        http(&t, "out"),
        json!({"series": null}),
        "first tick sets the clock"
    );
    t.tick(1_600_000_000);
    let mut got = run_rows(&t);
    got.sort_by_key(|(tags, _)| tags.to_string());
    assert_eq!(
        got,
        vec![
            (json!({"h": "a"}), json!([["1970-01-01T00:00:01.6Z", 2]])),
            (json!({"h": "b"}), json!([["1970-01-01T00:00:01.6Z", 1]])),
        ]
    );
}

fn run_rows(t: &Task) -> Rows {
    http(t, "out")["series"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| (s["tags"].clone(), s["values"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn trickle_turns_batches_back_into_points() {
    use serde_json::json;
    let script =
        "stream|from().groupBy('h')|window().period(10s).every(10s)|trickle()|httpOut('out')";
    let got = run(script, "m,h=a v=1 1\nm,h=a v=2 5\nm,h=a v=3 12\n");
    // Each window point goes on alone; httpOut shows the group's last one.
    assert_eq!(got, vec![(json!({"h": "a"}), json!([[ts(5), 2.0]]))]);
}

#[test]
fn loopback_writes_to_the_host_and_refuses_loops() {
    use crate::exec::{HttpRequest, Io, PostEndpoint, TaskEnv};
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, String, Vec<Point>)>>);
    impl Io for Recorder {
        fn post(&self, _: HttpRequest) {}
        fn post_and_wait(&self, _: HttpRequest) -> u16 {
            0
        }
        fn endpoint(&self, _: &str) -> Option<PostEndpoint> {
            None
        }
        fn sideload(&self, _: &str) -> Result<Arc<dyn crate::exec::SideloadSource>, String> {
            Err("none".into())
        }
        fn write_points(&self, db: &str, rp: &str, points: Vec<Point>) {
            self.0.lock().unwrap().push((db.into(), rp.into(), points));
        }
    }
    let rec = Arc::new(Recorder::default());
    let env = TaskEnv {
        io: rec.clone(),
        dbrps: vec![("db".into(), "rp".into())],
        ..TaskEnv::default()
    };
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let script = "stream|from()|kapacitorLoopback().database('other').retentionPolicy('rp').measurement('copy').tag('via', 'loop')";
    let mut t = Task::with_env(&compile(script, &opts).unwrap(), &env).unwrap();
    t.push("db", "rp", &points("m,h=a v=1 1\n"));
    let got = rec.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("other", "rp"));
    let p = &got[0].2[0];
    assert_eq!(p.name().as_str(), "copy");
    assert_eq!(p.tag(crate::model::Name::new("via")), Some("loop"));
    assert_eq!(p.tag(crate::model::Name::new("h")), Some("a"));

    let looping = script.replace("'other'", "'db'");
    let err = Task::with_env(&compile(&looping, &opts).unwrap(), &env)
        .err()
        .unwrap();
    assert!(err.reason.contains("loop detected"), "{err}");
}

/// An Io that keeps what tasks post.
#[derive(Default)]
struct Posts(std::sync::Mutex<Vec<crate::exec::HttpRequest>>);

impl crate::exec::Io for Posts {
    fn post(&self, req: crate::exec::HttpRequest) {
        self.0.lock().unwrap().push(req);
    }
    fn post_and_wait(&self, req: crate::exec::HttpRequest) -> u16 {
        self.post(req);
        200
    }
    fn endpoint(&self, _: &str) -> Option<crate::exec::PostEndpoint> {
        None
    }
    fn sideload(&self, _: &str) -> Result<std::sync::Arc<dyn crate::exec::SideloadSource>, String> {
        Err("none".into())
    }
    fn write_points(&self, _: &str, _: &str, _: Vec<Point>) {}
}

fn alert_task(script: &str) -> (Task, std::sync::Arc<Posts>) {
    let posts = std::sync::Arc::new(Posts::default());
    let env = crate::exec::TaskEnv {
        io: posts.clone(),
        task_id: "cpu_alert".into(),
        ..crate::exec::TaskEnv::default()
    };
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let plan = compile(script, &opts).unwrap_or_else(|d| panic!("{}", d.one_line(script)));
    (Task::with_env(&plan, &env).unwrap(), posts)
}

fn events(posts: &Posts) -> Vec<serde_json::Value> {
    posts
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[test]
fn alert_levels_resets_recovery_and_templates() {
    use serde_json::json;
    let script = "stream|from().measurement('cpu').groupBy('host')|alert()\
        .id('{{ .TaskName }}/{{ index .Tags \"host\" }}')\
        .message('{{ .ID }} {{ .Level }} at {{ index .Fields \"v\" }} @{{.Time}}')\
        .warn(lambda: \"v\" > 70.0).warnReset(lambda: \"v\" < 50.0)\
        .crit(lambda: \"v\" > 90.0)\
        .levelField('level').durationField('dur').idTag('alert_id')\
        .post('http://127.0.0.1:1/hook')|httpOut('out')";
    let (mut t, posts) = alert_task(script);
    // OK (no event), WARNING, still WARNING (60 is not below the reset), CRITICAL, back to
    // WARNING (reset only checked at the current level), then OK below the reset.
    t.push(
        "db",
        "rp",
        &points("cpu,host=a v=10 1\ncpu,host=a v=75 2\ncpu,host=a v=60 3\ncpu,host=a v=95 4\ncpu,host=a v=80 5\ncpu,host=a v=40 6\ncpu,host=a v=30 7\n"),
    );
    let ev = events(&posts);
    let levels: Vec<&str> = ev.iter().map(|e| e["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["WARNING", "WARNING", "CRITICAL", "WARNING", "OK"]);
    assert_eq!(ev[0]["id"], "cpu_alert/a");
    assert_eq!(
        ev[0]["message"], "cpu_alert/a WARNING at 75 @1970-01-01 00:00:02 +0000 UTC",
        "Go's time.Time.String()"
    );
    assert_eq!(ev[0]["previousLevel"], "OK");
    assert_eq!(ev[2]["previousLevel"], "WARNING");
    assert_eq!(
        ev[4]["duration"], 4_000_000_000i64,
        "from the first WARNING at 2s to 6s"
    );
    assert_eq!(ev[4]["recoverable"], true);
    assert_eq!(
        ev[1]["data"]["series"][0]["values"],
        json!([["1970-01-01T00:00:03Z", 60]]),
        "Go writes whole floats without a fraction"
    );
    let out = http(&t, "out");
    assert_eq!(
        out["series"][0]["tags"],
        json!({"alert_id": "cpu_alert/a", "host": "a"})
    );
    assert_eq!(
        out["series"][0]["values"],
        json!([["1970-01-01T00:00:06Z", 4_000_000_000i64, "OK", 40.0]])
    );
    let stats = t.stats();
    let alert = stats.iter().find(|(n, _)| n == "alert2").unwrap();
    assert!(alert.1.extra.lock().contains(&("warns_triggered", 3)));
}

#[test]
fn alert_templates_print_floats_as_go() {
    let script = "stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 90.0)\
        .message('{{ index .Fields \"v\" }} {{ .Fields }}')\
        .details('<i>{{ index .Fields \"v\" }}</i>').post('http://127.0.0.1:1/hook')";
    let (mut t, posts) = alert_task(script);
    t.push("db", "rp", &points("cpu v=2500000,n=3i 1\n"));
    let ev = events(&posts);
    assert_eq!(
        ev[0]["message"], "2.5e+06 map[n:3 v:2.5e+06]",
        "Go's fmt.Print"
    );
    assert_eq!(ev[0]["details"], "<i>2.5e&#43;06</i>");
}

#[test]
fn alert_state_changes_only_and_no_recoveries() {
    let script = "stream|from()|alert().crit(lambda: \"v\" > 1.0).stateChangesOnly(10s).noRecoveries().post('http://127.0.0.1:1/')";
    let (mut t, posts) = alert_task(script);
    let lp = "m v=2 1\nm v=3 2\nm v=3 5\nm v=3 11\nm v=0 12\nm v=5 13\n";
    t.push("db", "rp", &points(lp));
    let times: Vec<String> = events(&posts)
        .iter()
        .map(|e| format!("{} {}", e["time"], e["level"]))
        .collect();
    assert_eq!(
        times,
        [
            "\"1970-01-01T00:00:01Z\" \"CRITICAL\"",
            // 10s after the last event, the unchanged state is sent again.
            "\"1970-01-01T00:00:11Z\" \"CRITICAL\"",
            // No recovery at 12s; the change back to CRITICAL fires.
            "\"1970-01-01T00:00:13Z\" \"CRITICAL\"",
        ]
    );
}

#[test]
fn alert_flapping_suppresses_events() {
    let base = "stream|from()|alert().warn(lambda: \"v\" > 1.0).post('http://127.0.0.1:1/')";
    // Alternating levels: once enough of the history is changes, events stop.
    let lp: String = (0..20)
        .map(|i| format!("m v={} {}\n", i % 2 * 2, i + 1))
        .collect();
    let sent = |script: &str| {
        let (mut t, posts) = alert_task(script);
        t.push("db", "rp", &points(&lp));
        events(&posts).len()
    };
    let plain = sent(base);
    assert_eq!(plain, 19, "every WARNING and every recovery");
    let flapping = sent(&base.replace(".post(", ".flapping(0.25, 0.5).post("));
    assert!(
        flapping > 0 && flapping < plain,
        "flapping sent {flapping} of {plain}"
    );
}

/// As Kapacitor: `.history(n)` below 2 remembers 2 levels; flapping thresholds above 1 are
/// refused with its message; `.post()` takes several URLs and posts to the first.
#[test]
fn alert_history_flapping_and_post_bounds_are_kapacitors() {
    let lp: String = (0..6)
        .map(|i| format!("m v={} {}\n", i % 2 * 2, i + 1))
        .collect();
    let base = "stream|from()|alert().warn(lambda: \"v\" > 1.0).flapping(0.25, 0.5)";
    let sent: Vec<usize> = ["0", "1", "2", "21"]
        .iter()
        .map(|history| {
            let (mut t, posts) = alert_task(&format!(
                "{base}.history({history}).post('http://127.0.0.1:1/a', 'http://127.0.0.1:1/b')"
            ));
            t.push("db", "rp", &points(&lp));
            let posts = posts.0.lock().unwrap();
            assert!(posts.iter().all(|r| r.url == "http://127.0.0.1:1/a"));
            posts.len()
        })
        .collect();
    assert_eq!(sent[0], sent[2], "history(0) is history(2)");
    assert_eq!(sent[1], sent[2], "history(1) is history(2)");
    assert_ne!(sent[2], sent[3], "history(21) differs: {sent:?}");
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let script =
        "stream|from()|alert().warn(lambda: \"v\" > 1.0).flapping(0.5, 1.5).post('http://x/')";
    let plan = compile(script, &opts).unwrap();
    let err = Task::new(&plan).err().expect("refused");
    assert!(
        err.to_string()
            .contains("alert flap thresholds are percentages"),
        "{err}"
    );
}

#[test]
fn batch_tasks_run_replayed_batches() {
    let opts = BuildOptions {
        task_type: Some(TaskType::Batch),
        ..BuildOptions::default()
    };
    let script = "batch|query('SELECT mean(\"value\") FROM \"db\".\"rp\".\"cpu\"').period(10s).every(10s)\
                  |where(lambda: \"value\" > 1.0)|sum('value')|httpOut('out')";
    let plan = compile(script, &opts).unwrap_or_else(|d| panic!("{}", d.one_line(script)));
    let mut t = Task::new(&plan).unwrap();
    assert_eq!(t.query_count(), 1);
    let data = r#"{"name":"cpu","tags":{"host":"a"},"points":[
        {"fields":{"value":1},"time":"2015-10-18T00:00:00Z"},
        {"fields":{"value":2},"time":"2015-10-18T00:00:02Z"},
        {"fields":{"value":3},"time":"2015-10-18T00:00:04Z"}]}"#;
    let mut batches = crate::recording::parse_batches(data.as_bytes()).unwrap();
    crate::recording::rebase_batches(&mut batches, 31_536_000_000_000_000, false);
    t.push_batches(0, batches).unwrap();
    assert_eq!(
        http(&t, "out"),
        serde_json::json!({"series": [{"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "sum"],
            "values": [["1971-01-01T00:00:04Z", 5.0]]}]})
    );
    assert!(t.push_batches(1, Vec::new()).is_err());
    let stats = t.stats();
    let query = &stats.iter().find(|(n, _)| n == "query1").unwrap().1;
    assert!(
        query
            .extra
            .lock()
            .iter()
            .any(|&(k, v)| k == "points_queried" && v == 3)
    );
}

#[test]
fn batch_joins_pair_points_by_time_and_flush_at_the_end() {
    let opts = BuildOptions {
        task_type: Some(TaskType::Batch),
        ..BuildOptions::default()
    };
    let script = "var a = batch|query('SELECT v FROM \"db\".\"rp\".\"a\"').period(10s).every(10s)\n\
                  var b = batch|query('SELECT v FROM \"db\".\"rp\".\"b\"').period(10s).every(10s)\n\
                  a|join(b).as('a', 'b').fill(0)|httpOut('out')";
    let plan = compile(script, &opts).unwrap_or_else(|d| panic!("{}", d.one_line(script)));
    let mut t = Task::new(&plan).unwrap();
    assert_eq!(t.query_count(), 2);
    let batch = |name: &str, tmax: &str, points: &[(u32, f64)]| {
        let pts: Vec<String> = points
            .iter()
            .map(|(s, v)| format!(r#"{{"fields":{{"v":{v}}},"time":"1971-01-01T00:00:{s:02}Z"}}"#))
            .collect();
        let json = format!(
            r#"{{"name":"{name}","tmax":"1971-01-01T00:00:{tmax}Z","points":[{}]}}"#,
            pts.join(",")
        );
        crate::recording::parse_batches(json.as_bytes()).unwrap()
    };
    // Queries are numbered in Kapacitor's walk order: `b`'s is first here.
    t.push_batches(1, batch("a", "10", &[(1, 1.0), (2, 2.0)]))
        .unwrap();
    t.push_batches(0, batch("b", "10", &[(2, 20.0), (3, 30.0)]))
        .unwrap();
    // Both parents sent the batch at 10s: the set is complete and goes out at once.
    assert_eq!(
        http(&t, "out"),
        serde_json::json!({"series": [{"name": "a", "columns": ["time", "a.v", "b.v"], "values": [
            ["1971-01-01T00:00:01Z", 1.0, 0],
            ["1971-01-01T00:00:02Z", 2.0, 20.0],
            ["1971-01-01T00:00:03Z", 0, 30.0]]}]}),
        "an int fill stays an int"
    );
    // A lone batch waits for the other parent, until the input ends.
    t.push_batches(1, batch("a", "20", &[(15, 5.0)])).unwrap();
    assert_eq!(http(&t, "out")["series"][0]["values"][0][1], 1.0);
    t.finish();
    assert_eq!(
        http(&t, "out")["series"][0]["values"],
        serde_json::json!([["1971-01-01T00:00:15Z", 5.0, 0]])
    );
}

/// An Io whose topics remember one event's state, as a host's do across a restart.
struct Remembering {
    posts: Posts,
    topic: String,
    id: String,
    known: crate::exec::KnownEvent,
}

impl crate::exec::Io for Remembering {
    fn post(&self, req: crate::exec::HttpRequest) {
        self.posts.post(req)
    }
    fn post_and_wait(&self, req: crate::exec::HttpRequest) -> u16 {
        self.posts.post_and_wait(req)
    }
    fn endpoint(&self, _: &str) -> Option<crate::exec::PostEndpoint> {
        None
    }
    fn sideload(&self, _: &str) -> Result<std::sync::Arc<dyn crate::exec::SideloadSource>, String> {
        Err("none".into())
    }
    fn write_points(&self, _: &str, _: &str, _: Vec<Point>) {}
    fn event_state(&self, topic: &str, id: &str) -> Option<crate::exec::KnownEvent> {
        (topic == self.topic && id == self.id).then_some(self.known)
    }
}

#[test]
fn an_alert_resumes_at_the_level_its_topic_remembers() {
    let io = std::sync::Arc::new(Remembering {
        posts: Posts::default(),
        topic: "main:cpu_alert:alert2".into(),
        id: "cpu:host=a".into(),
        known: crate::exec::KnownEvent {
            level: "CRITICAL",
            time: 5_000_000_000,
            duration: 3_000_000_000,
        },
    });
    let env = crate::exec::TaskEnv {
        io: io.clone(),
        task_id: "cpu_alert".into(),
        ..crate::exec::TaskEnv::default()
    };
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let script = "stream|from().measurement('cpu').groupBy('host')|alert()\
        .crit(lambda: \"v\" > 90.0).stateChangesOnly().post('http://127.0.0.1:1/hook')";
    let mut t = Task::with_env(&compile(script, &opts).unwrap(), &env).unwrap();
    // Still critical: no second notification. Then the recovery, with the whole duration.
    t.push(
        "db",
        "rp",
        &points("cpu,host=a v=95 6\ncpu,host=a v=10 7\ncpu,host=b v=95 7\n"),
    );
    let ev = events(&io.posts);
    let summary: Vec<(&str, &str, &str)> = ev
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap(),
                e["level"].as_str().unwrap(),
                e["previousLevel"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("cpu:host=a", "OK", "CRITICAL"),
            ("cpu:host=b", "CRITICAL", "OK")
        ]
    );
    assert_eq!(
        ev[0]["duration"], 5_000_000_000i64,
        "from 2s (5s - 3s) to 7s"
    );
}

#[test]
fn an_inhibiting_alert_silences_its_category_for_equal_tags() {
    let posts = std::sync::Arc::new(Posts::default());
    let env = crate::exec::TaskEnv {
        io: posts.clone(),
        task_id: "t".into(),
        ..crate::exec::TaskEnv::default()
    };
    let opts = BuildOptions {
        task_type: Some(TaskType::Stream),
        ..BuildOptions::default()
    };
    let host_down = "stream|from().measurement('up').groupBy('host')|alert()\
        .crit(lambda: \"v\" == 0).inhibit('system', 'host').id('down:{{ index .Tags \"host\" }}')\
        .post('http://127.0.0.1:1/down')";
    let cpu = "stream|from().measurement('cpu').groupBy('host', 'cpu')|alert()\
        .crit(lambda: \"v\" > 90.0).category('system').post('http://127.0.0.1:1/cpu')|httpOut('o')";
    let mut down = Task::with_env(&compile(host_down, &opts).unwrap(), &env).unwrap();
    let mut t = Task::with_env(&compile(cpu, &opts).unwrap(), &env).unwrap();
    down.push("db", "rp", &points("up,host=a v=0 1\nup,host=b v=1 1\n"));
    t.push(
        "db",
        "rp",
        &points("cpu,host=a,cpu=0 v=95 2\ncpu,host=b,cpu=0 v=95 2\n"),
    );
    let urls: Vec<String> = posts
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    // host a is down: its cpu alert is inhibited; host b's goes out.
    assert_eq!(urls, ["http://127.0.0.1:1/down", "http://127.0.0.1:1/cpu"]);
    let ev = events(&posts);
    assert_eq!(ev[1]["id"], "cpu:cpu=0,host=b");
    let stats = t.stats();
    let alert = &stats.iter().find(|(n, _)| n == "alert2").unwrap().1;
    let extra = alert.extra.lock().clone();
    assert!(extra.contains(&("alerts_inhibited", 1)), "{extra:?}");
    assert!(extra.contains(&("alerts_triggered", 1)), "{extra:?}");
    // The host recovers: the inhibitor lets go.
    down.push("db", "rp", &points("up,host=a v=1 3\n"));
    t.push("db", "rp", &points("cpu,host=a,cpu=0 v=96 4\n"));
    let ev = events(&posts);
    assert_eq!(ev.len(), 4, "{ev:?}");
    assert_eq!(ev[3]["id"], "cpu:cpu=0,host=a");
}

#[test]
fn default_alert_templates_render_as_the_template_engine_does() {
    let data = "cpu,host=a,dc=x\\ \"y'+\" v=95,e=1e21,n=3i,s=\"q\\\"t\",b=true,u=7u 1500000000\ncpu,host=a,dc=x\\ \"y'+\" v=10,e=1e21,n=3i,s=\"\",b=false,u=7u 1600000001\n";
    let render = |extra: &str, group: &str| {
        let script = format!(
            "stream|from().measurement('cpu'){group}|alert().crit(lambda: \"v\" > 90.0){extra}.post('http://127.0.0.1:1/hook')"
        );
        let (mut t, posts) = alert_task(&script);
        t.push("db", "rp", &points(data));
        events(&posts)
            .iter()
            .map(|e| (e["message"].clone(), e["details"].clone()))
            .collect::<Vec<_>>()
    };
    for group in ["", ".groupBy('host', 'dc')"] {
        let fast = render("", group);
        let slow = render(
            ".message('{{.ID}} is {{.Level}}').details('{{json .}}')",
            group,
        );
        assert_eq!(fast.len(), 2);
        assert_eq!(fast, slow);
        // Kapacitor's details: its struct's JSON, with Go's newline, escaped as HTML text.
        let text = fast[0].1.as_str().unwrap();
        assert!(
            text.starts_with("{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:"),
            "{text}"
        );
        assert!(
            text.contains("&#34;Duration&#34;:0,&#34;Message&#34;:&#34;cpu:"),
            "{text}"
        );
        assert!(text.ends_with(" is CRITICAL&#34;}\n"), "{text}");
        assert!(text.contains("&#34;e&#34;:1e&#43;21,"), "{text}");
        assert!(text.contains("x \\&#34;y&#39;&#43;\\&#34;"), "{text}");
        let details: serde_json::Value = serde_json::from_str(
            &text
                .replace("&#34;", "\"")
                .replace("&#43;", "+")
                .replace("&#39;", "'"),
        )
        .unwrap();
        assert_eq!(details["Fields"]["s"], "q\"t");
        assert_eq!(details["Fields"]["v"], 95);
        let keys: Vec<&str> = ["Name", "TaskName", "Group", "Tags", "ServerInfo", "ID"]
            .into_iter()
            .chain(["Fields", "Level", "Time", "Duration", "Message"])
            .collect();
        let mut at = 0;
        for k in keys {
            let found = text[at..].find(&format!("&#34;{k}&#34;:")).expect(k);
            at += found;
        }
    }
}

/// A write pushed in parts (a large write letting small ones in between) ends as the whole
/// write pushed at once, for every `from` of the task, including points no `from` reads.
#[test]
fn a_write_in_parts_is_the_write_whole() {
    let script = "var a = stream|from().measurement('cpu')|window().period(100s).every(100s)|sum('value')|httpOut('a')
var b = stream|from().measurement('cpu').groupBy('host')|window().period(100s).every(100s)|count('value')|httpOut('b')";
    let mut lp = String::new();
    for s in 0..250 {
        lp.push_str(&format!(
            "cpu,host=h{} value={s} {s}\nmem value=1 {s}\n",
            s % 3
        ));
    }
    let write = points(&lp);
    let mut whole = task(script);
    whole.push_owned("db", "rp", write.clone());
    let mut parted = task(script);
    let mut rest = write.into_iter();
    for n in [0, 1, 7, 256, 100] {
        parted.push_some("db", "rp", &mut rest, n);
    }
    assert_eq!(rest.len(), 500 - 364);
    parted.push_some("db", "rp", &mut rest, usize::MAX);
    assert_eq!(rest.len(), 0);
    parted.settle();
    // Nothing past the first window yet; a point at 200 s closes it.
    let close =
        points("cpu,host=h0 value=0 200\ncpu,host=h1 value=0 200\ncpu,host=h2 value=0 200\n");
    whole.push_owned("db", "rp", close.clone());
    parted.push_owned("db", "rp", close);
    for endpoint in ["a", "b"] {
        assert_eq!(
            http(&whole, endpoint),
            http(&parted, endpoint),
            "{endpoint}"
        );
    }
    assert_eq!(
        http(&parted, "a")["series"][0]["values"][0][1],
        serde_json::json!((100..200).sum::<i64>() as f64)
    );
    let collected = |t: &Task, node: &str| {
        t.stats()
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, s)| s.collected.load(std::sync::atomic::Ordering::Relaxed))
    };
    assert_eq!(collected(&parted, "stream0"), Some(503));
    assert_eq!(collected(&parted, "from1"), collected(&whole, "from1"));
}

/// No `from` reads the db/rp: the points are taken all the same (the writer moves on).
#[test]
fn parts_no_from_reads_are_taken() {
    let mut t = task("stream|from().database('other').measurement('cpu')|httpOut('x')");
    let mut rest = points("cpu value=1 1\ncpu value=2 2\ncpu value=3 3\n").into_iter();
    t.push_some("db", "rp", &mut rest, 2);
    assert_eq!(rest.len(), 1);
    t.push_some("db", "rp", &mut rest, 0);
    assert_eq!(rest.len(), 1);
    t.push_some("db", "rp", &mut rest, 5);
    assert_eq!(rest.len(), 0);
}
