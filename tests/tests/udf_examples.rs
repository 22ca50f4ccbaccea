//! Each detector of `guest-examples/`, built for wasm32-wasip2, uploaded to a running Farad and
//! fed data with known anomalies over HTTP.

use farad_tests::{Farad, TempDir, guest_wasm};
use serde_json::{Value, json};

/// A server with the example `krate` uploaded as `name` and one enabled task `t`.
fn serve(krate: &str, name: &str, script: &str) -> (TempDir, Farad) {
    let dir = TempDir::new(krate);
    let f = Farad::start_in(dir.path(), "");
    let r = f.post(&format!("/kapacitor/v1/udfs/{name}"), guest_wasm(krate));
    assert_eq!(r.status, 200, "{}", r.body);
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    (dir, f)
}

fn write(f: &Farad, lines: &[String]) {
    let r = f.post("/write?db=db&rp=rp&precision=s", lines.join("\n"));
    assert_eq!(r.status, 204, "{}", r.body);
}

/// The rows of the task's httpOut result as (seconds, row) with columns by name.
fn rows(f: &Farad) -> Vec<(i64, serde_json::Map<String, Value>)> {
    let out = f.get("/kapacitor/v1/tasks/t/out").json();
    let series = &out["series"][0];
    let cols: Vec<String> = series["columns"]
        .as_array()
        .map(|c| c.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    series["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|row| {
            let row = row.as_array().unwrap().clone();
            let map: serde_json::Map<String, Value> = cols.iter().cloned().zip(row).collect();
            let t = map["time"].as_str().unwrap();
            let secs = t.trim_start_matches("1970-01-01T00:").trim_end_matches('Z');
            let (m, s) = secs.split_once(':').unwrap();
            (
                m.parse::<i64>().unwrap() * 60 + s.parse::<i64>().unwrap(),
                map,
            )
        })
        .collect()
}

fn flagged(f: &Farad) -> Vec<i64> {
    rows(f)
        .into_iter()
        .filter(|(_, r)| r.get("anomaly") == Some(&Value::Bool(true)))
        .map(|(t, _)| t)
        .collect()
}

#[test]
fn zscore_flags_a_spike() {
    let (_d, f) = serve(
        "zscore",
        "zscore",
        "stream|from().measurement('cpu').groupBy('host')@zscore().field('value').size(20)\
         |window().period(100s).every(100s)|httpOut('out')",
    );
    let mut lines: Vec<String> = (0..40)
        .map(|i| {
            let v = if i == 30 { 95.0 } else { 50.0 + (i % 5) as f64 };
            format!("cpu,host=a value={v} {i}")
        })
        .collect();
    lines.push("cpu,host=a value=50 100".into());
    write(&f, &lines);
    assert_eq!(flagged(&f), [30]);
}

#[test]
fn mad_flags_repeated_outliers() {
    let (_d, f) = serve(
        "mad",
        "mad",
        "stream|from().measurement('http')@mad().field('latency').size(15)\
         |window().period(100s).every(100s)|httpOut('out')",
    );
    let mut lines: Vec<String> = (0..30)
        .map(|i| {
            let v = if i == 20 || i == 22 {
                500.0
            } else {
                100.0 + (i % 4) as f64
            };
            format!("http latency={v} {i}")
        })
        .collect();
    lines.push("http latency=100 100".into());
    write(&f, &lines);
    assert_eq!(flagged(&f), [20, 22]);
}

#[test]
fn outliers_of_each_window() {
    let (_d, f) = serve(
        "outliers",
        "outliers",
        "stream|from().measurement('cpu')|window().period(10s).every(10s)\
         @outliers().field('value').scale(1.5)|httpOut('out')",
    );
    let values = [10.0, 12.0, 11.0, 13.0, 12.0, 11.0, 40.0, 12.0, -20.0, 11.0];
    let mut lines: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("cpu,host=a value={v} {i}"))
        .collect();
    lines.push("cpu,host=a value=12 10".into());
    write(&f, &lines);
    let got: Vec<(i64, f64)> = rows(&f)
        .into_iter()
        .map(|(t, r)| (t, r["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(got, [(6, 40.0), (8, -20.0)]);
}

#[test]
fn ewma_bands_catch_a_level_shift() {
    let (_d, f) = serve(
        "ewma",
        "ewma",
        // httpOut's columns are the first point's: start after the warm-up, once the bands exist.
        "stream|from().measurement('load')@ewma().field('v').alpha(0.2)\
         |where(lambda: isPresent(\"forecast\"))|window().period(100s).every(100s)|httpOut('out')",
    );
    let mut lines: Vec<String> = (0..40)
        .map(|i| {
            let v = if i < 30 { 20.0 + (i % 3) as f64 } else { 60.0 };
            format!("load v={v} {i}")
        })
        .collect();
    // The first window starts with the first point through (10s): close it at 110s.
    lines.push("load v=60 200".into());
    write(&f, &lines);
    let first = flagged(&f);
    assert_eq!(first.first(), Some(&30), "{first:?}");
    let r = rows(&f);
    let (t, row) = &r[19];
    assert_eq!(*t, 29);
    assert!(row["upper"].as_f64().unwrap() < 30.0, "{row:?}");
}

#[test]
fn python_guest_runs_like_a_rust_one() {
    let dir = TempDir::new("python-zscore");
    let f = Farad::start_in(dir.path(), "");
    let r = f.post(
        "/kapacitor/v1/udfs/pyZscore",
        farad_tests::python_guest_wasm(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["options"][0]["name"], "field");
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu').groupBy('host')@pyZscore().field('value').size(20)\
                   |window().period(100s).every(100s)|httpOut('out')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let mut lines: Vec<String> = (0..40)
        .map(|i| {
            let v = if i == 30 { 95.0 } else { 50.0 + (i % 5) as f64 };
            format!("cpu,host=a value={v} {i}")
        })
        .collect();
    lines.push("cpu,host=a value=50 100".into());
    write(&f, &lines);
    assert_eq!(flagged(&f), [30]);
    // The guest refuses bad options with its own message.
    let body = json!({
        "id": "bad", "type": "stream", "status": "enabled",
        "script": "stream|from()@pyZscore().field('value').size(1)",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert!(
        r.body.contains("size must be at least 2, got 1"),
        "{}",
        r.body
    );
}
