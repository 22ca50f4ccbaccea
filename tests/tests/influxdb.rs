//! Writes to a real InfluxDB 1.x on 127.0.0.1: influxDBOut's points arrive (with its
//! measurement, tags and created database), and an outage of InfluxDB loses none of them.

use base64::Engine;
use std::time::Duration;

use farad_tests::{Farad, Influxd, TempDir};
use serde_json::json;

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
    farad_tests::wait_until("25 points in InfluxDB", 20, || influx.count(count) == 25);
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
    farad_tests::wait_until("the node's count", 10, || {
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
    farad_tests::wait_until("70 points in InfluxDB", 30, || influx.count(count) == 70);
    farad_tests::wait_until("the node's count", 10, || {
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

#[test]
fn batch_task_queries_influxdb_on_its_schedule() {
    let dir = TempDir::new("influxdb-batch");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    // Two hosts, a minute of points each, ending a minute ago.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = (now_s / 60 - 2) * 60;
    let mut lp = String::new();
    for s in 0..60 {
        lp.push_str(&format!("cpu,host=a value={} {}\n", s, start + s));
        lp.push_str(&format!("cpu,host=b value={} {}\n", 100 + s, start + s));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .post(format!("{}/write?db=src&precision=s", influx.url()))
        .send(lp.as_bytes())
        .expect("writing to influxd");

    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n",
            influx.url()
        ),
    );
    // Every second, the last 10 minutes per host and per minute.
    let script = "batch|query('SELECT mean(\"value\") AS \"mean\" FROM \"src\".\"autogen\".\"cpu\"')\
                  .period(10m).every(1s).groupBy(time(1m), 'host')\
                  |httpOut('out')";
    let body = json!({
        "id": "b", "type": "batch", "status": "enabled", "script": script,
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let mut out = serde_json::Value::Null;
    farad_tests::wait_until("the batch task's result", 20, || {
        out = f.get("/kapacitor/v1/tasks/b/out").json();
        out["series"].as_array().is_some_and(|s| s.len() == 2)
    });
    // The last batch per host: its minute's mean, at the minute's time (grouped by time).
    let minute = farad_runtime::time::format_rfc3339_nanos(start as i64 * 1_000_000_000);
    assert_eq!(
        out["series"][0],
        json!({"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "mean"],
               "values": [[minute, 29.5]]}),
        "{out}"
    );
    assert_eq!(out["series"][1]["values"][0][1], 129.5);
    let stats = &f.get("/kapacitor/v1/tasks/b").json()["stats"]["node-stats"]["query1"];
    assert!(stats["batches_queried"].as_i64().unwrap() >= 2, "{stats}");

    // The same on a cron schedule: every second (seven fields, seconds first).
    let body = json!({
        "id": "c", "type": "batch", "status": "enabled",
        "script": script.replace(".every(1s)", ".cron('*/1 * * * * * *')"),
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    farad_tests::wait_until("two runs of the cron schedule", 20, || {
        f.get("/kapacitor/v1/tasks/c").json()["stats"]["node-stats"]["query1"]["batches_queried"]
            .as_i64()
            .unwrap_or(0)
            >= 4
    });
    assert_eq!(f.get("/kapacitor/v1/tasks/c/out").json(), out);
    // A bad expression is refused when the task is defined... or reported when it starts.
    let body = json!({
        "id": "bad", "type": "batch", "status": "enabled",
        "script": script.replace(".every(1s)", ".cron('61 * * * *')"),
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert!(r.body.contains("invalid cron expression"), "{}", r.body);
}

#[test]
fn record_batch_keeps_what_the_queries_returned() {
    let dir = TempDir::new("influxdb-record");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = (now_s / 60 - 2) * 60;
    let lp: String = (0..60)
        .flat_map(|s| {
            [
                format!("cpu,host=a value={s} {}\n", start + s),
                format!("cpu,host=b value={s} {}\n", start + s),
            ]
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .post(format!("{}/write?db=src&precision=s", influx.url()))
        .send(lp.as_bytes())
        .expect("writing to influxd");
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n",
            influx.url()
        ),
    );
    let body = json!({
        "id": "b", "type": "batch", "status": "disabled",
        "script": "batch|query('SELECT value FROM \"src\".\"autogen\".\"cpu\"').period(1m).every(1m).groupBy('host')\
                   |sum('value')|httpOut('out')",
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    let (code, out, err) = f.cli(&[
        "record",
        "batch",
        "-task",
        "b",
        "-past",
        "5m",
        "-recording-id",
        "rec",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "rec");
    let rec = f.get("/kapacitor/v1/recordings/rec").json();
    assert_eq!(rec["type"], "batch", "{rec}");
    assert_eq!(rec["status"], "finished", "{rec}");

    // Contiguous one-minute runs over the past five minutes: every point exactly once.
    let r = f.post(
        "/kapacitor/v1/replays",
        json!({"id": "r", "task": "b", "recording": "rec", "recording-time": true}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mut done = serde_json::Value::Null;
    farad_tests::wait_until("the replay", 20, || {
        done = f.get("/kapacitor/v1/replays/r").json();
        done["status"] != "running"
    });
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(
        done["stats"]["node-stats"]["query1"]["points_queried"], 120,
        "{done}"
    );
    let out = f.get("/kapacitor/v1/tasks/b/out").json();
    assert_eq!(out["series"].as_array().map(Vec::len), Some(2), "{out}");
}

/// Waits for replay `id` to end and returns its record.
fn finished_replay(f: &Farad, id: &str) -> serde_json::Value {
    let mut done = serde_json::Value::Null;
    farad_tests::wait_until("the replay", 20, || {
        done = f.get(&format!("/kapacitor/v1/replays/{id}")).json();
        done["status"] != "running"
    });
    assert_eq!(done["status"], "finished", "{done}");
    done
}

#[test]
fn record_query_and_replay_live_read_influxdb() {
    let dir = TempDir::new("influxdb-query");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = (now_s / 60 - 2) * 60;
    let lp: String = (0..60)
        .flat_map(|s| {
            [
                format!("cpu,host=a value={s} {}\n", start + s),
                format!("cpu,host=b value={} {}\n", 2 * s, start + s),
            ]
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .post(format!("{}/write?db=src&precision=s", influx.url()))
        .send(lp.as_bytes())
        .expect("writing to influxd");
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n",
            influx.url()
        ),
    );
    let task = |id: &str, kind: &str, script: &str| {
        let body = json!({
            "id": id, "type": kind, "status": "disabled", "script": script,
            "dbrps": [{"db": "src", "rp": "autogen"}],
        });
        let r = f.post("/kapacitor/v1/tasks", body.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
    };
    // A stream task that needs every point of each host, in time order.
    let stream = "stream|from().measurement('cpu')|groupBy('host')\
                  |window().periodCount(60).everyCount(60)|sum('value')|httpOut('out')";
    task("s", "stream", stream);
    task("s2", "stream", stream);
    let batch = |q: &str| {
        format!(
            "batch|query('{q}').period(1m).every(1m).groupBy('host')|sum('value')|httpOut('out')"
        )
    };
    let query = r#"SELECT value FROM "src"."autogen"."cpu" WHERE time > now() - 1h GROUP BY *"#;
    task(
        "b",
        "batch",
        &batch(r#"SELECT value FROM "src"."autogen"."cpu""#),
    );
    let sums = |task: &str| -> Vec<(String, f64)> {
        let out = f.get(&format!("/kapacitor/v1/tasks/{task}/out")).json();
        let mut sums: Vec<(String, f64)> = out["series"]
            .as_array()
            .unwrap_or_else(|| panic!("no series: {out}"))
            .iter()
            .map(|s| {
                (
                    s["tags"]["host"].as_str().unwrap_or("").to_owned(),
                    s["values"][0][1].as_f64().unwrap(),
                )
            })
            .collect();
        sums.sort_by(|a, b| a.0.cmp(&b.0));
        sums
    };
    let expected = vec![("a".to_owned(), 1770.0), ("b".to_owned(), 3540.0)];

    // record query, as a stream: the points of both series merged by time, to src.autogen.
    let (code, out, err) = f.cli(&[
        "record",
        "query",
        "-query",
        query,
        "-type",
        "stream",
        "-recording-id",
        "qs",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "qs");
    let r = f.post(
        "/kapacitor/v1/replays",
        json!({"id": "r1", "task": "s", "recording": "qs", "recording-time": true}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    finished_replay(&f, "r1");
    assert_eq!(sums("s"), expected);

    // ... and as a batch recording of one query, into the batch task.
    let r = f.post(
        "/kapacitor/v1/recordings/query",
        json!({"id": "qb", "type": "batch", "query": query}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    farad_tests::wait_until("the recording", 20, || {
        f.get("/kapacitor/v1/recordings/qb").json()["status"] != "running"
    });
    let r = f.post(
        "/kapacitor/v1/replays",
        json!({"id": "r2", "task": "b", "recording": "qb"}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    finished_replay(&f, "r2");
    assert_eq!(sums("b"), expected);

    // replay-live query: the same straight from InfluxDB, nothing stored.
    let (code, out, err) = f.cli(&[
        "replay-live",
        "query",
        "-task",
        "s2",
        "-query",
        query,
        "-replay-id",
        "r3",
        "-rec-time",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "r3");
    assert_eq!(sums("s2"), expected);
    let replay = f.get("/kapacitor/v1/replays/r3").json();
    assert_eq!(replay["recording"], "", "{replay}");

    // replay-live batch: the task's own query over the past five minutes.
    let (code, _, err) = f.cli(&[
        "replay-live",
        "batch",
        "-task",
        "b",
        "-past",
        "5m",
        "-replay-id",
        "r4",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let done = finished_replay(&f, "r4");
    assert_eq!(
        done["stats"]["node-stats"]["query1"]["points_queried"], 120,
        "{done}"
    );

    // A query that does not name its database and retention policy cannot be recorded.
    let r = f.post(
        "/kapacitor/v1/recordings/query",
        json!({"id": "bad", "type": "stream", "query": "SELECT value FROM cpu"}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mut rec = serde_json::Value::Null;
    farad_tests::wait_until("the failed recording", 20, || {
        rec = f.get("/kapacitor/v1/recordings/bad").json();
        rec["status"] != "running"
    });
    assert_eq!(rec["status"], "failed", "{rec}");
    assert!(
        rec["error"].as_str().unwrap().contains("fully qualified"),
        "{rec}"
    );
    let r = f.post(
        "/kapacitor/v1/replays/batch",
        json!({"task": "s", "start": "2020-01-01T00:00:00Z"}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("cannot replay batch against stream task"),
        "{}",
        r.body
    );
}

/// Our subscriptions on InfluxDB: (db, rp, destinations) of those named `kapacitor-*`.
fn our_subscriptions(influx: &Influxd) -> Vec<(String, String, String)> {
    let subs = influx.query("SHOW SUBSCRIPTIONS");
    let mut out = Vec::new();
    for s in subs["results"][0]["series"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for row in s["values"].as_array().into_iter().flatten() {
            if row[1].as_str().unwrap_or("").starts_with("kapacitor-") {
                out.push((
                    s["name"].as_str().unwrap().to_owned(),
                    row[0].as_str().unwrap().to_owned(),
                    row[3].to_string(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn subscriptions_forward_influxdb_writes_and_survive_a_crash() {
    let dir = TempDir::new("influxdb-subs");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    influx.query("CREATE DATABASE other");
    let config = |excluded: &str| {
        format!(
            "hostname = \"127.0.0.1\"\n[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n\
             subscriptions-sync-interval = \"1s\"\n{excluded}",
            influx.url()
        )
    };
    let f = Farad::start_in(&dir.path().join("data"), &config(""));
    let body = json!({
        "id": "s", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu')|httpOut('out')",
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    let port = f.url().rsplit(':').next().unwrap().to_owned();
    farad_tests::wait_until("the subscriptions", 20, || {
        our_subscriptions(&influx).len() == 2
    });
    for (_, rp, dest) in our_subscriptions(&influx) {
        assert_eq!(rp, "autogen");
        assert_eq!(dest, format!("[\"http://127.0.0.1:{port}\"]"));
    }

    // A write to InfluxDB reaches the stream task.
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let write = |v: i64| {
        agent
            .post(format!("{}/write?db=src&precision=s", influx.url()))
            .send(format!("cpu,host=a value={v} 1700000000").as_bytes())
            .expect("writing to influxd");
    };
    let value =
        |f: &Farad| f.get("/kapacitor/v1/tasks/s/out").json()["series"][0]["values"][0][1].as_f64();
    write(1);
    farad_tests::wait_until("the forwarded point", 20, || value(&f) == Some(1.0));

    // Killed, then started again on another port and without `other`: the subscription left
    // behind points at the dead port and is made anew; the one on `other` goes.
    f.kill9();
    let f = Farad::start_in(
        &dir.path().join("data"),
        &config("excluded-subscriptions = { other = [\"autogen\"] }\n"),
    );
    let port = f.url().rsplit(':').next().unwrap().to_owned();
    farad_tests::wait_until("the renewed subscription", 20, || {
        our_subscriptions(&influx)
            == vec![(
                "src".to_owned(),
                "autogen".to_owned(),
                format!("[\"http://127.0.0.1:{port}\"]"),
            )]
    });
    write(2);
    farad_tests::wait_until("the point forwarded after the restart", 20, || {
        value(&f) == Some(2.0)
    });

    // A database created later is subscribed at the next sync.
    influx.query("CREATE DATABASE later");
    farad_tests::wait_until("the new database's subscription", 20, || {
        our_subscriptions(&influx).iter().any(|s| s.0 == "later")
    });
}

#[test]
fn with_auth_enabled_subscriptions_carry_a_token() {
    let dir = TempDir::new("influxdb-subs-auth");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    let f = Farad::start_with_env(
        &dir.path().join("data"),
        &format!(
            "hostname = \"127.0.0.1\"\n[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n\
             subscriptions-sync-interval = \"1s\"\n",
            influx.url()
        ),
        &[
            ("KAPACITOR_HTTP_AUTH_ENABLED", "true"),
            ("KAPACITOR_AUTH_BCRYPT_COST", "4"),
        ],
    );
    let admin = [("Authorization", "Basic YWRtaW46cHc=")]; // admin:pw
    let user = json!({"name": "admin", "password": "pw", "type": "admin"});
    assert_eq!(f.post("/kapacitor/v1/users", user.to_string()).status, 200);
    let body = json!({
        "id": "s", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu')|httpOut('out')",
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    let r = f.request(
        "POST",
        "/kapacitor/v1/tasks",
        &admin,
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    farad_tests::wait_until("the subscription", 20, || {
        let subs = our_subscriptions(&influx);
        subs.len() == 1 && subs[0].2.starts_with("[\"http://~subscriber:")
    });
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .post(format!("{}/write?db=src&precision=s", influx.url()))
        .send(&b"cpu,host=a value=5 1700000000"[..])
        .expect("writing to influxd");
    farad_tests::wait_until("the forwarded point", 20, || {
        let out = f.request("GET", "/kapacitor/v1/tasks/s/out", &admin, b"");
        out.json()["series"][0]["values"][0][1].as_f64() == Some(5.0)
    });
    // The token is the subscription's own: it writes, and does nothing else.
    let subs = our_subscriptions(&influx);
    let creds = subs[0]
        .2
        .split("//")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(creds)
    );
    let r = f.request(
        "GET",
        "/kapacitor/v1/tasks",
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(r.status, 403, "{}", r.body);
}

#[test]
fn udp_subscriptions_forward_to_a_listener_of_their_own() {
    let dir = TempDir::new("influxdb-subs-udp");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "hostname = \"127.0.0.1\"\n[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n\
             subscription-protocol = \"udp\"\nudp-bind = \"127.0.0.1:0\"\n\
             subscriptions = {{ src = [\"autogen\"] }}\n",
            influx.url()
        ),
    );
    let body = json!({
        "id": "s", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu')|httpOut('out')",
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    farad_tests::wait_until("the subscription", 20, || {
        let subs = our_subscriptions(&influx);
        subs.len() == 1 && subs[0].2.starts_with("[\"udp://127.0.0.1:")
    });
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .post(format!("{}/write?db=src&precision=s", influx.url()))
        .send(&b"cpu,host=a value=7 1700000000"[..])
        .expect("writing to influxd");
    farad_tests::wait_until("the forwarded point", 20, || {
        f.get("/kapacitor/v1/tasks/s/out").json()["series"][0]["values"][0][1].as_f64() == Some(7.0)
    });
}

#[test]
fn https_clusters_are_verified_against_their_ca() {
    let dir = TempDir::new("influxdb-tls");
    let influx = Influxd::start_tls(&dir.path().join("influxd"));
    let ca = influx.ca.clone().unwrap();
    influx.query("CREATE DATABASE src");
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"secure\"\ndefault = true\nurls = [\"{url}\"]\n\
             ssl-ca = \"{ca}\"\ndisable-subscriptions = true\n\
             [[influxdb]]\nname = \"unverified\"\nurls = [\"{url}\"]\n\
             disable-subscriptions = true\n\
             [[influxdb]]\nname = \"skip\"\nurls = [\"{url}\"]\n\
             insecure-skip-verify = true\ndisable-subscriptions = true\n",
            url = influx.url(),
            ca = ca.display()
        ),
    );
    let task = |id: &str, cluster: &str| {
        let body = json!({
            "id": id, "type": "stream", "status": "enabled",
            "script": format!("stream|from().measurement('cpu')\
                |influxDBOut().cluster('{cluster}').database('src').retentionPolicy('autogen')\
                .measurement('{id}').buffer(1)"),
            "dbrps": [{"db": "db", "rp": "rp"}],
        });
        let r = f.post("/kapacitor/v1/tasks", body.to_string());
        assert_eq!(r.json()["executing"], true, "{}", r.body);
    };
    task("good", "secure");
    task("bad", "unverified");
    task("skipped", "skip");
    let r = f.post("/write?db=db&rp=rp&precision=s", "cpu value=1 1700000000");
    assert_eq!(r.status, 204);
    // Trusted through ssl-ca: written. Without it, the certificate is unknown: nothing is.
    farad_tests::wait_until("the write over HTTPS", 20, || {
        influx.count("SELECT count(value) FROM src.autogen.good") == 1
    });
    // insecure-skip-verify takes any certificate.
    farad_tests::wait_until("the unverified write", 20, || {
        influx.count("SELECT count(value) FROM src.autogen.skipped") == 1
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(influx.count("SELECT count(value) FROM src.autogen.bad"), 0);
    assert_eq!(node_stat(&f, "bad", "influxdb_out2", "points_written"), 0);
}

#[test]
fn answers_larger_than_a_chunk_arrive_whole() {
    let dir = TempDir::new("influxdb-chunks");
    let influx = Influxd::start(&dir.path().join("influxd"));
    influx.query("CREATE DATABASE src");
    // 25,000 points of one series: three chunks of InfluxDB's answer, one series split.
    let lp: String = (0..25_000)
        .map(|i| format!("big value={i} {}\n", 1_700_000_000 + i))
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    agent
        .post(format!("{}/write?db=src&precision=s", influx.url()))
        .send(lp.as_bytes())
        .expect("writing to influxd");
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\ndisable-subscriptions = true\n",
            influx.url()
        ),
    );
    let body = json!({
        "id": "s", "type": "stream", "status": "disabled",
        "script": "stream|from().measurement('big')|window().periodCount(25000).everyCount(25000)\
                   |count('value')|httpOut('out')",
        "dbrps": [{"db": "src", "rp": "autogen"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    let (code, _, err) = f.cli(&[
        "replay-live",
        "query",
        "-task",
        "s",
        "-query",
        r#"SELECT value FROM "src"."autogen"."big""#,
        "-rec-time",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let out = f.get("/kapacitor/v1/tasks/s/out").json();
    assert_eq!(out["series"][0]["values"][0][1], 25_000, "{out}");
}
