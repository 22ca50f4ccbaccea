//! Alert handlers that are not HTTP: a log file, a TCP listener and an exec'd script on this
//! machine each get every event's JSON, in order.

use std::io::Read;
use std::time::{Duration, Instant};

use farad_tests::{Farad, TempDir};
use serde_json::json;

fn wait_for_lines(read: impl Fn() -> String, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = read();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "got {} lines of {n}: {text}",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `.tcp(addr).address(other)` sends to `other`, as in Kapacitor.
#[test]
fn log_tcp_and_exec_handlers() {
    let dir = TempDir::new("alert-handlers");
    let log = dir.path().join("alerts.log");
    let exec_out = dir.path().join("exec.out");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let rec = received.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut s = String::new();
            conn.unwrap().read_to_string(&mut s).unwrap();
            rec.lock().unwrap().push_str(&s);
        }
    });
    let f = Farad::start_in(&dir.path().join("data"), "");
    let script = format!(
        "stream|from().measurement('cpu')|alert().id('cpu').crit(lambda: \"value\" > 90.0).log('{}').tcp('127.0.0.1:1').address('{addr}').exec('/bin/sh', '-c', 'cat >> {}')",
        log.display(),
        exec_out.display()
    );
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let lp = "cpu value=95 1\ncpu value=99 2\ncpu value=10 3\n";
    assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);

    let levels = |lines: &[serde_json::Value]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l["level"].as_str().unwrap().to_owned())
            .collect()
    };
    let want = ["CRITICAL", "CRITICAL", "OK"];
    let from_log = wait_for_lines(|| std::fs::read_to_string(&log).unwrap_or_default(), 3);
    assert_eq!(levels(&from_log), want);
    assert_eq!(from_log[0]["id"], "cpu");
    assert_eq!(from_log[2]["previousLevel"], "CRITICAL");
    let from_tcp = wait_for_lines(|| received.lock().unwrap().clone(), 3);
    assert_eq!(levels(&from_tcp), want);
    let from_exec = wait_for_lines(|| std::fs::read_to_string(&exec_out).unwrap_or_default(), 3);
    assert_eq!(levels(&from_exec), want);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// Topics: an alert node's `.topic()` and its own handlers' anonymous topic
/// (`main:task:node`) keep each event's latest state, listed and read as Kapacitor's API does.
/// The details call Go's methods on `.Time` and `.Duration`.
#[test]
fn topics_keep_event_state() {
    let dir = TempDir::new("alert-topics");
    let f = Farad::start_in(&dir.path().join("data"), "");
    let log = dir.path().join("alerts.log");
    let script = format!(
        "stream|from().measurement('cpu').groupBy('host')|alert().id('cpu:{{{{ index .Tags \"host\" }}}}')\
         .message('{{{{ .ID }}}} is {{{{ .Level }}}}').details('{{{{ .TaskName }}}} saw {{{{ index .Fields \"value\" }}}} at {{{{ .Time.Format \"15:04:05\" }}}} ({{{{ .Time.Unix }}}}), {{{{ .Duration.Seconds }}}}s in')\
         .warn(lambda: \"value\" > 70.0).crit(lambda: \"value\" > 90.0).topic('cpu').log('{}')",
        log.display()
    );
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let lp = "cpu,host=a value=95 1\ncpu,host=b value=75 1\ncpu,host=a value=10 61\n";
    assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);

    let list = f.get("/kapacitor/v1/alerts/topics").json();
    let ids: Vec<&str> = list["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cpu", "main:t:alert2"], "{list}");
    let cpu = f.get("/kapacitor/v1/alerts/topics/cpu").json();
    assert_eq!(cpu["level"], "WARNING", "{cpu}");
    assert_eq!(cpu["collected"], 3);
    assert_eq!(
        cpu["events-link"]["href"],
        "/kapacitor/v1/alerts/topics/cpu/events"
    );
    let warn = f
        .get("/kapacitor/v1/alerts/topics?min-level=critical")
        .json();
    assert_eq!(warn["topics"].as_array().unwrap().len(), 0, "{warn}");
    let main = f.get("/kapacitor/v1/alerts/topics?pattern=main:*").json();
    assert_eq!(main["topics"].as_array().unwrap().len(), 1, "{main}");

    let events = f.get("/kapacitor/v1/alerts/topics/cpu/events").json();
    let events = events["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["id"], "cpu:a");
    let a = &events[0]["state"];
    assert_eq!(a["level"], "OK");
    assert_eq!(a["message"], "cpu:a is OK");
    // Go's methods on `.Time` and `.Duration`.
    assert_eq!(a["details"], "t saw 10 at 00:01:01 (61), 60s in");
    assert_eq!(a["time"], "1970-01-01T00:01:01Z");
    assert_eq!(a["duration"], "1m0s");
    let b = f.get("/kapacitor/v1/alerts/topics/cpu/events/cpu:b").json();
    assert_eq!(b["state"]["level"], "WARNING", "{b}");
    assert_eq!(b["state"]["duration"], "0s");
    let warn_only = f
        .get("/kapacitor/v1/alerts/topics/cpu/events?min-level=WARNING")
        .json();
    assert_eq!(warn_only["events"].as_array().unwrap().len(), 1);

    let missing = f.get("/kapacitor/v1/alerts/topics/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(
        f.get("/kapacitor/v1/alerts/topics/cpu/events/nope").status,
        404
    );
    assert_eq!(
        f.get("/kapacitor/v1/alerts/topics?min-level=LOUD").status,
        400
    );

    // Deleting the task takes its anonymous topic; the named topic stays until deleted.
    assert_eq!(f.delete("/kapacitor/v1/tasks/t").status, 204);
    let list = f.get("/kapacitor/v1/alerts/topics").json();
    assert_eq!(list["topics"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(f.delete("/kapacitor/v1/alerts/topics/cpu").status, 204);
    assert_eq!(f.get("/kapacitor/v1/alerts/topics/cpu").status, 404);
}

/// Topic handlers: defined over the API, run on every event the topic collects (a `publish`
/// handler passes events on to another topic), stored so that they survive a restart.
#[test]
fn topic_handlers_run_and_persist() {
    let dir = TempDir::new("topic-handlers");
    let data = dir.path().join("data");
    let log = dir.path().join("ops.log");
    let f = Farad::start_in(&data, "");
    let base = "/kapacitor/v1/alerts/topics";
    let spec = json!({"id": "to-ops", "kind": "publish", "options": {"topics": ["ops"]}});
    let r = f.post(&format!("{base}/cpu/handlers"), spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["link"]["href"],
        "/kapacitor/v1/alerts/topics/cpu/handlers/to-ops"
    );
    let spec = json!({"id": "log", "kind": "log", "options": {"path": log.display().to_string()}});
    let r = f.post(&format!("{base}/ops/handlers"), spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    // Refused with the reason: a second spec with the same id, an unknown kind, a bad option.
    assert_eq!(
        f.post(&format!("{base}/ops/handlers"), spec.to_string())
            .status,
        400
    );
    let bad = f.post(
        &format!("{base}/ops/handlers"),
        json!({"id": "x", "kind": "carrier-pigeon"}).to_string(),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("carrier-pigeon")
    );
    let bad = f.post(
        &format!("{base}/ops/handlers"),
        json!({"id": "x", "kind": "log", "options": {}}).to_string(),
    );
    assert!(
        bad.json()["error"].as_str().unwrap().contains("path"),
        "{}",
        bad.body
    );
    // A topic with handlers exists before any event.
    assert_eq!(f.get(&format!("{base}/ops")).json()["level"], "OK");

    let script = "stream|from().measurement('cpu')|alert().id('cpu').crit(lambda: \"value\" > 90.0).topic('cpu')";
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", "cpu value=95 1\n")
            .status,
        204
    );
    let lines = wait_for_lines(|| std::fs::read_to_string(&log).unwrap_or_default(), 1);
    assert_eq!(lines[0]["id"], "cpu");
    assert_eq!(lines[0]["level"], "CRITICAL");
    assert_eq!(lines[0]["data"]["series"][0]["columns"][1], "value");
    assert_eq!(f.get(&format!("{base}/ops")).json()["collected"], 1);

    // Stored: after a restart the chain still runs.
    assert!(f.terminate());
    let f = Farad::start_in(&data, "");
    let list = f.get(&format!("{base}/ops/handlers")).json();
    assert_eq!(list["handlers"][0]["id"], "log", "{list}");
    assert_eq!(list["handlers"][0]["kind"], "log");
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", "cpu value=97 2\n")
            .status,
        204
    );
    let lines = wait_for_lines(|| std::fs::read_to_string(&log).unwrap_or_default(), 2);
    assert_eq!(lines[1]["time"], "1970-01-01T00:00:02Z");

    // Replaced (renamed), then deleted.
    let spec = json!({"id": "log2", "kind": "log", "options": {"path": log.display().to_string(), "mode": 384}});
    let r = f.put(&format!("{base}/ops/handlers/log"), spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(f.get(&format!("{base}/ops/handlers/log")).status, 404);
    assert_eq!(
        f.get(&format!("{base}/ops/handlers/log2")).json()["options"]["mode"],
        384
    );
    assert_eq!(
        f.put(&format!("{base}/ops/handlers/nope"), spec.to_string())
            .status,
        404
    );
    assert_eq!(f.delete(&format!("{base}/ops/handlers/log2")).status, 204);
    assert_eq!(f.delete(&format!("{base}/ops/handlers/log2")).status, 404);
    let list = f.get(&format!("{base}/ops/handlers")).json();
    assert_eq!(list["handlers"].as_array().unwrap().len(), 0);
}

/// The CLI: define a topic handler from YAML, list and show topics, delete them.
#[test]
fn topic_cli() {
    let dir = TempDir::new("topic-cli");
    let f = Farad::start_in(&dir.path().join("data"), "");
    let cli = |args: &[&str]| {
        let (code, out, err) = f.cli(args);
        (code == Some(0), out, err)
    };
    let log = dir.path().join("cpu.log");
    let spec = dir.path().join("handler.yaml");
    std::fs::write(
        &spec,
        format!(
            "topic: cpu\nid: to-log\nkind: log\noptions:\n  path: {}\n",
            log.display()
        ),
    )
    .unwrap();
    let (ok, _, err) = cli(&["define-topic-handler", spec.to_str().unwrap()]);
    assert!(ok, "{err}");
    // Again: replaces it.
    let (ok, _, err) = cli(&["define-topic-handler", spec.to_str().unwrap()]);
    assert!(ok, "{err}");
    // Kapacitor's layouts: columns of Go's `%-Nv`, trailing spaces and all; the first
    // pattern picks topics (all without one).
    let handlers = format!(
        "{:<11}{:<11}{:<11}\n{:<11}{:<11}{:<11}\n",
        "Topic", "ID", "Kind", "cpu", "to-log", "log"
    );
    for args in [
        &["list", "topic-handlers"][..],
        &["list", "topic-handlers", "c*", "to-*"],
    ] {
        let (ok, out, err) = cli(args);
        assert!(ok, "{err}");
        assert_eq!(out, handlers, "{args:?}");
    }
    let (_, out, _) = cli(&["list", "topic-handlers", "mem*"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let script = "stream|from().measurement('cpu')|alert().id('cpu').message('hot').crit(lambda: \"value\" > 90.0).topic('cpu')";
    let body = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    f.post("/write?db=db&rp=rp&precision=s", "cpu value=95 1\n");
    wait_for_lines(|| std::fs::read_to_string(&log).unwrap_or_default(), 1);
    let (ok, out, _) = cli(&["list", "topics"]);
    assert!(ok);
    assert_eq!(
        out,
        format!(
            "{:<4}{:<9}{:>10}\n{:<4}{:<9}{:>10}\n",
            "ID", "Level", "Collected", "cpu", "CRITICAL", 1
        )
    );
    let (ok, out, _) = cli(&["show-topic", "cpu"]);
    assert!(ok);
    assert!(out.contains("Handlers: [to-log]"), "{out}");
    // Kapacitor's event columns, the date in Go's RFC 822 layout.
    let event = format!(
        "{:<6}{:<9}{:<8}{:<23}\n",
        "cpu", "CRITICAL", "hot", "01 Jan 70 00:00 UTC"
    );
    assert!(out.ends_with(&event), "{out}");
    // Ids are patterns; one that matches nothing is no error, as in Kapacitor.
    let (ok, _, _) = cli(&["delete", "topic-handlers", "cpu", "to-*", "nothing*"]);
    assert!(ok);
    assert_eq!(cli(&["list", "topic-handlers"]).1.lines().count(), 1);
    let (ok, _, _) = cli(&["delete", "topics", "c?u"]);
    assert!(ok);
    let (ok, _, err) = cli(&["show-topic", "cpu"]);
    assert!(!ok);
    assert!(err.contains("unknown topic"), "{err}");
}

#[test]
fn deadman_raises_an_alert_when_points_stop() {
    let dir = TempDir::new("deadman");
    let f = Farad::start_in(dir.path(), "");
    let body = json!({
        "id": "dm", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('hb')|deadman(0.0, 1s).topic('dead')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    // Points for a while: alive; then none: dead within a couple of intervals.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        let r = f.post("/write?db=db&rp=rp", "hb v=1");
        assert_eq!(r.status, 204);
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = || f.get("/kapacitor/v1/alerts/topics/dead/events").json();
    assert!(
        events()["events"].as_array().is_none_or(Vec::is_empty),
        "{}",
        events()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = events();
        if e["events"][0]["state"]["level"] == "CRITICAL" {
            let state = &e["events"][0]["state"];
            assert_eq!(e["events"][0]["id"], "nil:from1 for task 'dm'", "{e}");
            assert_eq!(
                state["message"], "nil:from1 for task 'dm' is dead: 0.000 points/1s.",
                "{e}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no deadman alert: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn handlers_are_patched_with_json_patch() {
    let dir = TempDir::new("patch-handler");
    let f = Farad::start_in(dir.path(), "");
    let path = "/kapacitor/v1/alerts/topics/cpu/handlers";
    let spec = json!({"id": "h", "kind": "log", "options": {"path": "/tmp/a.log"}});
    assert_eq!(f.post(path, spec.to_string()).status, 200);
    let patch = json!([
        {"op": "replace", "path": "/options/path", "value": "/tmp/b.log"},
        {"op": "add", "path": "/options/mode", "value": 384},
    ]);
    let r = f.patch(&format!("{path}/h"), patch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["options"],
        json!({"path": "/tmp/b.log", "mode": 384})
    );
    assert_eq!(
        f.get(&format!("{path}/h")).json()["options"]["path"],
        "/tmp/b.log"
    );
    // A patch that leaves a bad spec, or does not apply, changes nothing.
    let r = f.patch(
        &format!("{path}/h"),
        json!([{"op": "replace", "path": "/kind", "value": "nosuch"}]).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = f.patch(
        &format!("{path}/h"),
        json!([{"op": "test", "path": "/kind", "value": "tcp"}]).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(f.get(&format!("{path}/h")).json()["kind"], "log");
    let r = f.patch(&format!("{path}/nope"), "[]");
    assert_eq!(r.status, 404);
    // Renamed by a patch of its id.
    let r = f.patch(
        &format!("{path}/h"),
        json!([{"op": "replace", "path": "/id", "value": "h2"}]).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(f.get(&format!("{path}/h")).status, 404);
    assert_eq!(f.get(&format!("{path}/h2")).json()["kind"], "log");
}

/// Alert state outlives the process: an alert at CRITICAL, `kill -9`, the same data again:
/// no second notification; then the recovery is sent, with the whole outage's duration. The
/// same holds across a task update.
#[test]
fn alert_state_survives_kill_9_and_task_updates() {
    use farad_tests::HttpSink;
    let dir = TempDir::new("alert-restart");
    let data = dir.path().join("data");
    let sink = HttpSink::start();
    let script = format!(
        "stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"value\" > 90.0).stateChangesOnly().post('{}/alert')",
        sink.url()
    );
    let task = json!({
        "id": "cpu", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let f = Farad::start_in(&data, "");
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);
    let w =
        |f: &Farad, lp: &str| assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);
    w(&f, "cpu,host=a value=95 10\ncpu,host=b value=99 10\n");
    let got = sink.wait_for(2);
    assert!(got.iter().all(|r| r.json()["level"] == "CRITICAL"));
    f.kill9();

    let f = Farad::start_in(&data, "");
    w(&f, "cpu,host=a value=96 20\n");
    // Still critical after the restart: nothing new. Host b recovers.
    w(&f, "cpu,host=b value=10 30\n");
    let got = sink.wait_for(3);
    std::thread::sleep(Duration::from_millis(300));
    let got_all = sink.received();
    assert_eq!(got_all.len(), 3, "{got_all:?}");
    let rec = got[2].json();
    assert_eq!(rec["id"], "cpu:host=b");
    assert_eq!(
        (rec["level"].as_str(), rec["previousLevel"].as_str()),
        (Some("OK"), Some("CRITICAL"))
    );
    assert_eq!(rec["duration"], 20_000_000_000i64, "from 10s to 30s");
    let topic = f
        .get("/kapacitor/v1/alerts/topics/main:cpu:alert2/events/cpu:host=a")
        .json();
    assert_eq!(topic["state"]["level"], "CRITICAL", "{topic}");

    // A task update restarts it: host a is still remembered as critical.
    let patched = script.replace("90.0", "91.0");
    let r = f.patch(
        "/kapacitor/v1/tasks/cpu",
        json!({"script": patched}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    w(&f, "cpu,host=a value=97 40\ncpu,host=a value=1 50\n");
    let got = sink.wait_for(4);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.received().len(), 4);
    let rec = got[3].json();
    assert_eq!(
        (rec["id"].as_str(), rec["level"].as_str()),
        (Some("cpu:host=a"), Some("OK"))
    );
    assert_eq!(rec["duration"], 40_000_000_000i64, "from 10s to 50s");
}

/// Handler `match` expressions pick events by tag, level, change and task; an `aggregate`
/// handler gathers a topic's events for its interval and publishes one event to another topic.
#[test]
fn match_expressions_and_aggregate_handlers() {
    use farad_tests::HttpSink;
    let dir = TempDir::new("topic-match");
    let f = Farad::start_in(&dir.path().join("data"), "");
    let sink = HttpSink::start();
    let base = "/kapacitor/v1/alerts/topics";
    let handler = |topic: &str, spec: serde_json::Value| {
        let r = f.post(&format!("{base}/{topic}/handlers"), spec.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
    };
    handler(
        "cpu",
        json!({"id": "host-a-changes", "kind": "post", "match": "\"host\" == 'a' AND changed()",
               "options": {"url": format!("{}/a", sink.url())}}),
    );
    handler(
        "cpu",
        json!({"id": "crit-of-t", "kind": "post", "match": "level() == CRITICAL AND taskName() == 't' AND name() == 'cpu'",
               "options": {"url": format!("{}/crit", sink.url())}}),
    );
    handler(
        "cpu",
        json!({"id": "agg", "kind": "aggregate",
               "options": {"interval": "500ms", "topic": "cpu-agg", "id": "cpu-summary"}}),
    );
    handler(
        "cpu-agg",
        json!({"id": "out", "kind": "post", "options": {"url": format!("{}/agg", sink.url())}}),
    );
    let bad = f.post(
        &format!("{base}/cpu/handlers"),
        json!({"id": "bad", "kind": "log", "match": "level() >", "options": {"path": "/tmp/x"}})
            .to_string(),
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("invalid match expression"),
        "{}",
        bad.body
    );

    let script = "stream|from().measurement('cpu').groupBy('host')|alert().warn(lambda: \"value\" > 70.0).crit(lambda: \"value\" > 90.0).topic('cpu')";
    let task = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);
    // a: WARNING, WARNING (no change), CRITICAL; b: CRITICAL.
    let lp = "cpu,host=a value=75 1\ncpu,host=a value=76 2\ncpu,host=a value=95 3\ncpu,host=b value=99 3\n";
    assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);
    let got = sink.wait_for(5);
    let by = |path: &str| -> Vec<serde_json::Value> {
        got.iter()
            .filter(|r| r.target == path)
            .map(|r| r.json())
            .collect()
    };
    let a: Vec<String> = by("/a").iter().map(|e| e["level"].to_string()).collect();
    assert_eq!(a, ["\"WARNING\"", "\"CRITICAL\""]);
    let crit: Vec<String> = by("/crit").iter().map(|e| e["id"].to_string()).collect();
    assert_eq!(crit, ["\"cpu:host=a\"", "\"cpu:host=b\""]);
    let agg = by("/agg");
    assert_eq!(agg.len(), 1, "{got:?}");
    assert_eq!(agg[0]["id"], "cpu-summary");
    assert_eq!(agg[0]["level"], "CRITICAL");
    assert_eq!(agg[0]["message"], "Received 4 events in the last 500ms.");
    assert_eq!(agg[0]["data"]["series"].as_array().unwrap().len(), 4);
    let topic = f.get(&format!("{base}/cpu-agg")).json();
    assert_eq!(topic["level"], "CRITICAL", "{topic}");
}

/// A silence keeps matching events out of the handlers (they still reach the topic's state)
/// until it is deleted or expires; it survives a restart. The CLI creates, lists and deletes.
#[test]
fn silences_hold_back_matching_events() {
    use farad_tests::HttpSink;
    let dir = TempDir::new("silences");
    let data = dir.path().join("data");
    let sink = HttpSink::start();
    let f = Farad::start_in(&data, "");
    let script = format!(
        "stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"value\" > 90.0).post('{}/alert')",
        sink.url()
    );
    let task = json!({
        "id": "cpu", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);
    let base = "/kapacitor/v1/alerts/silences";
    let r = f.post(
        base,
        json!({"id": "maint-a", "topic": "main:cpu:*", "tags": {"host": "a"}, "duration": "1h", "comment": "maintenance"})
            .to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["link"]["href"], format!("{base}/maint-a"));
    for (body, why) in [
        (json!({"topic": "x"}), "duration"),
        (json!({"duration": "-1s"}), "positive"),
        (json!({"expires": "2001-01-01T00:00:00Z"}), "past"),
        (json!({"id": "maint-a", "duration": "1m"}), "exists"),
        (json!({"nope": 1, "duration": "1m"}), "unknown field"),
    ] {
        let r = f.post(base, body.to_string());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains(why), "{body}: {}", r.body);
    }
    let w =
        |f: &Farad, lp: &str| assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);
    w(&f, "cpu,host=a value=95 1\ncpu,host=b value=95 1\n");
    let got = sink.wait_for(1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.received().len(), 1);
    assert_eq!(got[0].json()["id"], "cpu:host=b");
    // Silenced, but the topic knows.
    let ev = f
        .get("/kapacitor/v1/alerts/topics/main:cpu:alert2/events/cpu:host=a")
        .json();
    assert_eq!(ev["state"]["level"], "CRITICAL", "{ev}");

    // Survives a restart; the CLI lists it, deletes it.
    assert!(f.terminate());
    let f = Farad::start_in(&data, "");
    let (code, out, err) = f.cli(&["list", "silences"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("maint-a") && out.contains("host=a") && out.contains("maintenance"),
        "{out}"
    );
    w(&f, "cpu,host=a value=96 2\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sink.received().len(),
        1,
        "{:?}",
        sink.received().iter().map(|r| r.json()).collect::<Vec<_>>()
    );
    let (code, _, err) = f.cli(&["delete", "silences", "maint-a"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(f.get(&format!("{base}/maint-a")).status, 404);
    w(&f, "cpu,host=a value=97 3\n");
    let got = sink.wait_for(2);
    assert_eq!(got[1].json()["id"], "cpu:host=a");

    // A short silence from the CLI runs out by itself.
    let (code, out, err) = f.cli(&["silence", "-event", "cpu:host=b", "-duration", "1s"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("silence "), "{out}");
    w(&f, "cpu,host=b value=98 4\n");
    std::thread::sleep(Duration::from_millis(1200));
    w(&f, "cpu,host=b value=99 5\n");
    let got = sink.wait_for(3);
    assert_eq!(got[2].json()["time"], "1970-01-01T00:00:05Z");
    let list = f.get(base).json();
    assert_eq!(list["silences"].as_array().unwrap().len(), 0, "{list}");
}

/// The email handler, from an alert node and as a topic handler, through a real SMTP server
/// (aiosmtpd): the message as subject, the details as an HTML body, `[smtp] to` by default.
#[test]
fn email_handler_sends_through_smtp() {
    let dir = TempDir::new("email");
    let smtp = farad_tests::SmtpSink::start(dir.path());
    let conf = format!(
        "[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"farad@example.com\"\nto = [\"ops@example.com\"]\n",
        smtp.port
    );
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let script = "stream|from().measurement('cpu')|alert().id('cpu').message('{{ .ID }} is {{ .Level }} at {{ index .Fields \"value\" }}').details('<b>{{ .Level }}</b>').crit(lambda: \"value\" > 90.0).email('oncall@example.com').to('lead@example.com').topic('cpu')";
    let task = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", task.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    // `smtp`, Kapacitor's name of the kind (`email` is taken too).
    let spec = json!({"id": "mail", "kind": "smtp", "options": {}});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", "cpu value=95 1\n")
            .status,
        204
    );
    let mails = smtp.wait_for(2);
    let node = mails
        .iter()
        .find(|m| m.contains("oncall@example.com"))
        .unwrap_or_else(|| panic!("{mails:?}"));
    assert!(node.contains("lead@example.com"), "{node}");
    assert!(node.contains("Subject: cpu is CRITICAL at 95"), "{node}");
    assert!(node.contains("From: farad@example.com"), "{node}");
    assert!(node.contains("text/html"), "{node}");
    assert!(node.contains("<b>CRITICAL</b>"), "{node}");
    let topic = mails
        .iter()
        .find(|m| m.contains("To: ops@example.com"))
        .unwrap_or_else(|| panic!("{mails:?}"));
    assert!(topic.contains("Subject: cpu is CRITICAL at 95"), "{topic}");
}

/// `.email().toTemplates(...)` (and a topic handler's `to-field`, Kapacitor's name for it):
/// each template's result over the event's fields and tags is one more recipient, after `to`.
#[test]
fn email_to_templates_add_recipients() {
    let dir = TempDir::new("email-templates");
    let smtp = farad_tests::SmtpSink::start(dir.path());
    let conf = format!(
        "[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"farad@example.com\"\n",
        smtp.port
    );
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let script = r#"stream
        |from().measurement('cpu').groupBy('host')
        |default().field('extraemail', 'bob@example.com').tag('tagemail', 'bob2@example.com')
        |alert().id('{{ .Name }}.{{ index .Tags "host" }}').crit(lambda: "value" > 90.0)
            .email().to('user1@example.com', 'user2@example.com')
                .toTemplates('{{ index .Fields "extraemail" }}', '{{ index .Tags "tagemail" }}')
            .topic('cpu')"#;
    let task = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", task.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let spec = json!({"id": "mail", "kind": "email", "options": {
        "to": ["ops@example.com"],
        "to-field": ["{{ index .Tags \"host\" }}@hosts.example.com"],
    }});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let bad = json!({"id": "bad", "kind": "email", "options": {"to-field": ["{{ .Tags "]}});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", bad.to_string());
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("email address template"), "{}", r.body);

    let w = f.post(
        "/write?db=db&rp=rp&precision=s",
        "cpu,host=web1 value=95 1\n",
    );
    assert_eq!(w.status, 204);
    let mails = smtp.wait_for(2);
    let node = mails
        .iter()
        .find(|m| m.contains("user1@example.com"))
        .unwrap_or_else(|| panic!("{mails:?}"));
    assert!(
        node.contains(
            "To: user1@example.com, user2@example.com, bob@example.com, bob2@example.com"
        ),
        "{node}"
    );
    assert!(node.contains("Subject: cpu.web1 is CRITICAL"), "{node}");
    let topic = mails
        .iter()
        .find(|m| m.contains("ops@example.com"))
        .unwrap_or_else(|| panic!("{mails:?}"));
    assert!(
        topic.contains("To: ops@example.com, web1@hosts.example.com"),
        "{topic}"
    );
}

/// `[smtp] global` with `state-changes-only`: an alert node without `.email()` emails the
/// configured recipients, and only when its level changes (as Kapacitor does).
#[test]
fn global_email_sends_state_changes_only() {
    let dir = TempDir::new("email-global");
    let smtp = farad_tests::SmtpSink::start(dir.path());
    let conf = format!(
        "[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {}\nfrom = \"farad@example.com\"\nto = [\"ops@example.com\"]\nglobal = true\nstate-changes-only = true\n",
        smtp.port
    );
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let script = "stream|from().measurement('cpu')|alert().id('cpu').message('{{ .ID }} is {{ .Level }}').crit(lambda: \"value\" > 90.0)";
    let task = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", task.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    for line in [
        "cpu value=95 1",
        "cpu value=96 2",
        "cpu value=97 3",
        "cpu value=10 4",
    ] {
        assert_eq!(f.post("/write?db=db&rp=rp&precision=s", line).status, 204);
    }
    let mails = smtp.wait_for(2);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mails_after = smtp.messages();
    assert_eq!(
        mails_after.len(),
        2,
        "one mail per state change: {mails_after:?}"
    );
    assert!(
        mails.iter().all(|m| m.contains("To: ops@example.com")),
        "{mails:?}"
    );
    assert!(
        mails.iter().any(|m| m.contains("Subject: cpu is CRITICAL")),
        "{mails:?}"
    );
    assert!(
        mails.iter().any(|m| m.contains("Subject: cpu is OK")),
        "{mails:?}"
    );
}

/// The MQTT handler publishes an alert's message to a real broker (mosquitto), from an alert
/// node and as a topic handler, with its topic (a template), QoS and retained flag.
#[test]
fn mqtt_handler_publishes_to_the_broker() {
    let dir = TempDir::new("mqtt");
    let broker = farad_tests::Mosquitto::start(dir.path());
    let got = broker.subscribe("alerts/#");
    let conf = format!(
        "[[mqtt]]\nenabled = true\nname = \"local\"\nurl = \"tcp://127.0.0.1:{}\"\n",
        broker.port
    );
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let script = "stream|from().measurement('cpu')|alert().id('cpu').crit(lambda: \"value\" > 90.0).topic('cpu').mqtt('alerts/node/{{ .TaskName }}').qos(1).retained(TRUE)";
    let task = json!({
        "id": "t", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", task.to_string());
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    // Topics are templates over the event, as Kapacitor renders them.
    let spec = json!({"id": "m", "kind": "mqtt", "options": {"broker-name": "local",
        "topic": "alerts/topic/{{ .Level }}/{{ .ID }}"}});
    let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", spec.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    for bad in [
        json!({"id": "q", "kind": "mqtt", "options": {"topic": "x", "qos": 3}}),
        json!({"id": "q", "kind": "mqtt", "options": {"topic": "alerts/{{ .Level"}}),
    ] {
        let r = f.post("/kapacitor/v1/alerts/topics/cpu/handlers", bad.to_string());
        assert_eq!(r.status, 400, "{}", r.body);
    }
    assert_eq!(
        f.post("/write?db=db&rp=rp&precision=s", "cpu value=95 1\n")
            .status,
        204
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut msgs = got.lock().unwrap().clone();
        if msgs.len() >= 2 {
            msgs.sort();
            assert_eq!(msgs[0].0, "alerts/node/t");
            assert_eq!(msgs[0].1, "cpu is CRITICAL");
            assert_eq!(msgs[1].0, "alerts/topic/CRITICAL/cpu");
            assert_eq!(msgs[1].1, "cpu is CRITICAL");
            break;
        }
        assert!(Instant::now() < deadline, "got {msgs:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Retained: a late subscriber still gets the node's message.
    let late = broker.subscribe("alerts/node/t");
    let deadline = Instant::now() + Duration::from_secs(10);
    while late.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no retained message");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(late.lock().unwrap()[0].2, "retained flag");
}
