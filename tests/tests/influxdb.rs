//! Writes to a real InfluxDB 1.x on 127.0.0.1: influxDBOut's points arrive (with its
//! measurement, tags and created database), and an outage of InfluxDB loses none of them.

use std::time::{Duration, Instant};

use farad_tests::{Farad, Influxd, TempDir};
use serde_json::json;

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node_stat(f: &Farad, task: &str, node: &str, stat: &str) -> i64 {
    f.get(&format!("/kapacitor/v1/tasks/{task}")).json()["stats"]["node-stats"][node][stat]
        .as_i64()
        .unwrap_or(-1)
}

#[test]
fn influxdb_out_writes_and_survives_an_outage() {
    let dir = TempDir::new("influxdb-out");
    let mut influx = Influxd::start(&dir.path().join("influxd"));
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n",
            influx.url()
        ),
    );
    let script = "stream|from().measurement('cpu')\
                  |influxDBOut().create().database('out').retentionPolicy('autogen')\
                  .measurement('cpu_copy').tag('src', 'farad').buffer(10).flushInterval(200ms)";
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);

    let lines = |from: u32, n: u32| -> String {
        (from..from + n)
            .map(|i| format!("cpu,host=h{} value={i}i {}\n", i % 3, 1_000 + i))
            .collect()
    };
    // 25 points: two full buffers of 10, the last 5 on the flush interval.
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", lines(0, 25))
            .status,
        204
    );
    let count = "SELECT count(value) FROM out.autogen.cpu_copy";
    wait_for("25 points in InfluxDB", 20, || influx.count(count) == 25);
    let row = influx.query("SELECT * FROM out.autogen.cpu_copy WHERE host = 'h1' LIMIT 1");
    let series = &row["results"][0]["series"][0];
    assert_eq!(
        series["columns"],
        json!(["time", "host", "src", "value"]),
        "{row}"
    );
    assert_eq!(
        series["values"][0],
        json!(["1970-01-01T00:16:41Z", "h1", "farad", 1])
    );
    // The node's statistics follow the writes (published on the task's next tick).
    wait_for("the node's count", 10, || {
        node_stat(&f, "t", "influxdb_out2", "points_written") == 25
    });

    // InfluxDB goes away for 10 s while points keep coming: none is lost.
    influx.stop();
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", lines(25, 30))
            .status,
        204
    );
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", lines(55, 15))
            .status,
        204
    );
    std::thread::sleep(Duration::from_secs(5));
    assert!(node_stat(&f, "t", "influxdb_out2", "write_errors") >= 1);
    influx.resume();
    wait_for("70 points in InfluxDB", 30, || influx.count(count) == 70);
    wait_for("the node's count", 10, || {
        node_stat(&f, "t", "influxdb_out2", "points_written") == 70
    });
}

#[test]
fn influxdb_out_needs_a_configured_cluster() {
    let dir = TempDir::new("influxdb-none");
    let f = Farad::start_in(&dir.path().join("data"), "");
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled",
        "script": "stream|from()|influxDBOut().database('x')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    let task = r.json();
    assert_eq!(task["executing"], false, "{task}");
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("no InfluxDB cluster configured"),
        "{task}"
    );
}
