//! Recordings and replays over HTTP: data imported in Kapacitor's formats (or line protocol),
//! replayed into stream and batch tasks, with the task's httpOut results and the replay's
//! statistics read back, and bad input refused with where it went wrong.

use std::time::{Duration, Instant};

use farad_tests::{Farad, TempDir};
use serde_json::{Value, json};

fn create_task(f: &Farad, id: &str, kind: &str, script: &str) {
    let body = json!({
        "id": id, "type": kind, "status": "disabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Starts a replay and waits for it to end; returns its final JSON.
fn replay(f: &Farad, id: &str, task: &str, recording: &str, extra: Value) -> Value {
    let mut body = json!({"id": id, "task": task, "recording": recording});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = f.post("/kapacitor/v1/replays", body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json()["link"]["href"],
        format!("/kapacitor/v1/replays/{id}")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = f.get(&format!("/kapacitor/v1/replays/{id}"));
        match r.status {
            200 => return r.json(),
            202 => assert_eq!(r.json()["status"], "running"),
            other => panic!("replay status {other}: {}", r.body),
        }
        assert!(Instant::now() < deadline, "replay still running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn stream_recording_replays_into_a_task() {
    let dir = TempDir::new("replay-stream");
    let f = Farad::start_in(&dir.path().join("data"), "");
    create_task(
        &f,
        "t",
        "stream",
        "stream|from().measurement('cpu').groupBy('host')|window().period(10s).every(10s)|mean('value')|httpOut('out')",
    );
    // A .srpl with second timestamps; points of another db are not the task's.
    let srpl = "db\nrp\ncpu,host=a value=1 100\n\
                other\nrp\ncpu,host=a value=1000 101\n\
                db\nrp\ncpu,host=a value=3 105\n\
                db\nrp\ncpu,host=a value=5 112\n";
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=rec&type=stream&precision=s",
        srpl,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let rec = r.json();
    assert_eq!(rec["type"], "stream");
    assert_eq!(rec["status"], "finished");
    assert_eq!(rec["link"]["href"], "/kapacitor/v1/recordings/rec");

    let done = replay(&f, "r1", "t", "rec", json!({"recording-time": true}));
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["clock"], "fast");
    assert_eq!(done["stats"]["node-stats"]["from1"]["collected"], 3);
    let out = f.get("/kapacitor/v1/tasks/t/out").json();
    assert_eq!(
        out,
        json!({"series": [{"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "mean"],
            "values": [["1970-01-01T00:01:50Z", 2.0]]}]})
    );

    // Without recording-time the data moves to the replay's start.
    let done = replay(&f, "r2", "t", "rec", json!({}));
    assert_eq!(done["status"], "finished");
    let out = f.get("/kapacitor/v1/tasks/t/out").json();
    let time = out["series"][0]["values"][0][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(time.as_str() > "2026", "{out}");

    let list = f.get("/kapacitor/v1/replays").json();
    assert_eq!(list["replays"].as_array().unwrap().len(), 2);
    let list = f.get("/kapacitor/v1/replays?pattern=r1").json();
    assert_eq!(list["replays"][0]["id"], "r1");
    assert_eq!(f.delete("/kapacitor/v1/replays/r1").status, 204);
    assert_eq!(f.get("/kapacitor/v1/replays/r1").status, 404);
}

#[test]
fn batch_recording_replays_into_a_batch_task() {
    let dir = TempDir::new("replay-batch");
    let f = Farad::start_in(&dir.path().join("data"), "");
    create_task(
        &f,
        "b",
        "batch",
        "batch|query('SELECT value FROM \"db\".\"rp\".\"cpu\"').period(10s).every(10s).groupBy('host')\
         |where(lambda: \"value\" > 1.0)|sum('value')|httpOut('out')",
    );
    let batches = r#"{"name":"cpu","tags":{"host":"a"},"tmax":"2015-10-18T00:00:10Z","points":[
            {"fields":{"value":1},"time":"2015-10-18T00:00:00Z"},
            {"fields":{"value":2},"time":"2015-10-18T00:00:02Z"},
            {"fields":{"value":4},"time":"2015-10-18T00:00:04Z"}]}
        {"name":"cpu","tags":{"host":"b"},"tmax":"2015-10-18T00:00:10Z","points":[
            {"fields":{"value":10},"time":"2015-10-18T00:00:01Z"}]}"#;
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=brec&type=batch",
        batches,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["type"], "batch");
    let done = replay(&f, "rb", "b", "brec", json!({"recording-time": true}));
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["stats"]["node-stats"]["query1"]["points_queried"], 4);
    let out = f.get("/kapacitor/v1/tasks/b/out").json();
    assert_eq!(
        out,
        json!({"series": [
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "sum"],
             "values": [["2015-10-18T00:00:10Z", 6.0]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "sum"],
             "values": [["2015-10-18T00:00:10Z", 10.0]]}]}),
        "each group's sum of the points above 1"
    );

    // Export and import again: the same recording under another id.
    let (status, data) = f.get_bytes("/kapacitor/v1/recordings/brec/data");
    assert_eq!(status, 200);
    assert!(data.starts_with(b"PK"), "a zip archive");
    let r = f.post("/kapacitor/v1/recordings/import?id=copy", &data);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["type"], "batch");
    let list = f.get("/kapacitor/v1/recordings").json();
    let ids: Vec<&str> = list["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["brec", "copy"]);
    assert_eq!(f.delete("/kapacitor/v1/recordings/copy").status, 204);
    assert_eq!(f.get("/kapacitor/v1/recordings/copy").status, 404);

    // A stream recording cannot feed a batch task: the replay fails and says why.
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=lp&db=db&rp=rp",
        "cpu value=1 1\n",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let done = replay(&f, "wrong", "b", "lp", json!({}));
    assert_eq!(done["status"], "failed");
    assert!(!done["error"].as_str().unwrap().is_empty(), "{done}");
}

#[test]
fn bad_recordings_and_replays_are_refused() {
    let dir = TempDir::new("replay-errors");
    let f = Farad::start_in(&dir.path().join("data"), "");
    create_task(&f, "t", "stream", "stream|from()|httpOut('out')");

    let r = f.post(
        "/kapacitor/v1/recordings/import?type=stream&precision=s",
        "db\nrp\ncpu value=1 1\ndb\nrp\ncpu value= 2\n",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("line 6"),
        "{}",
        r.body
    );
    let r = f.post(
        "/kapacitor/v1/recordings/import?type=batch",
        "{\"name\": 3}",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("batch 1"),
        "{}",
        r.body
    );
    let r = f.post("/kapacitor/v1/recordings/import?type=wave", "x");
    assert_eq!(r.status, 400);
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=bad%20id&db=db",
        "cpu v=1 1\n",
    );
    assert_eq!(r.status, 400);
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=ok&db=db&rp=rp",
        "cpu v=1 1\n",
    );
    assert_eq!(r.status, 201);
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=ok&db=db&rp=rp",
        "cpu v=1 1\n",
    );
    assert_eq!(r.status, 409);

    let replay = |body: Value| f.post("/kapacitor/v1/replays", body.to_string());
    let r = replay(json!({"task": "nope", "recording": "ok"}));
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"].as_str().unwrap().contains("task"),
        "{}",
        r.body
    );
    let r = replay(json!({"task": "t", "recording": "nope"}));
    assert_eq!(r.status, 404);
    let r = replay(json!({"task": "t", "recording": "ok", "clock": "slow"}));
    assert_eq!(r.status, 400);
    let r = f.post("/kapacitor/v1/replays", "{not json");
    assert_eq!(r.status, 400);
    assert_eq!(f.get("/kapacitor/v1/recordings/nope").status, 404);
    assert_eq!(f.get("/kapacitor/v1/replays/nope").status, 404);
    assert_eq!(f.get("/kapacitor/v1/recordings/nope/data").status, 404);
}

#[test]
fn recordings_survive_a_restart() {
    let dir = TempDir::new("replay-restart");
    let data = dir.path().join("data");
    let f = Farad::start_in(&data, "");
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=keep&db=db&rp=rp",
        "cpu v=1 1\n",
    );
    assert_eq!(r.status, 201);
    f.kill9();
    let f = Farad::start_in(&data, "");
    let r = f.get("/kapacitor/v1/recordings/keep");
    assert_eq!(r.status, 200, "{}", r.body);
    create_task(&f, "t", "stream", "stream|from()|httpOut('out')");
    let (status, _) = f.get_bytes("/kapacitor/v1/recordings/keep/data");
    assert_eq!(status, 200);
    let r = f.post(
        "/kapacitor/v1/replays",
        json!({"id": "x", "task": "t", "recording": "keep", "recording-time": true}).to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn replay_cli() {
    let dir = TempDir::new("replay-cli");
    let f = Farad::start_in(&dir.path().join("data"), "");
    create_task(
        &f,
        "t",
        "stream",
        "stream|from().measurement('cpu')|httpOut('out')",
    );
    let file = dir.path().join("data.srpl");
    std::fs::write(&file, "db\nrp\ncpu value=2 1\ndb\nrp\ncpu value=3 2\n").unwrap();
    let file = file.to_str().unwrap();
    let (code, out, err) = f.cli(&["import-recording", "-id", "rec", "-precision", "s", file]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "rec");
    let (code, out, err) = f.cli(&[
        "replay",
        "-recording",
        "rec",
        "-task",
        "t",
        "-replay-id",
        "r",
        "-rec-time",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.trim(), "r");
    let last = &f.get("/kapacitor/v1/tasks/t/out").json()["series"][0]["values"][0];
    assert_eq!(last, &json!(["1970-01-01T00:00:02Z", 3.0]));

    let (code, out, _) = f.cli(&["list", "recordings"]);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("Type"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("rec ") && lines[1].contains("stream"),
        "{out}"
    );
    let (code, out, _) = f.cli(&["list", "replays", "r*"]);
    assert_eq!(code, Some(0));
    assert!(out.lines().nth(1).unwrap().contains("finished"), "{out}");

    // A replay into a missing task fails with Kapacitor's message and exit code 3.
    let (code, _, err) = f.cli(&["replay", "-recording", "rec", "-task", "nope"]);
    assert_eq!(code, Some(3));
    assert!(err.contains("task"), "{err}");

    let (code, _, err) = f.cli(&["delete", "replays", "r"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = f.cli(&["delete", "recordings", "rec"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, out, _) = f.cli(&["list", "recordings"]);
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
}

#[test]
fn recorded_live_stream_replays_to_the_same_result() {
    let dir = TempDir::new("record-stream");
    let f = Farad::start_in(&dir.path().join("data"), "");
    let script = "stream|from().measurement('cpu').groupBy('host')\
                  |window().period(10s).every(10s)|mean('value')|httpOut('out')";
    let body = json!({
        "id": "live", "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    create_task(&f, "copy", "stream", script);

    // Record for 2 s while points arrive; the CLI waits for the end and prints the id.
    let cli = {
        let url = f.url();
        std::thread::spawn(move || {
            std::process::Command::new(farad_tests::farad_bin())
                .args([
                    "-url",
                    &url,
                    "record",
                    "stream",
                    "-task",
                    "live",
                    "-duration",
                    "2s",
                ])
                .args(["-recording-id", "rec"])
                .output()
                .expect("running farad record")
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for batch in 0..4 {
        let lp: String = (0..10)
            .map(|i| {
                let t = batch * 10 + i;
                format!("cpu,host=h{} value={} {t}\n", t % 2, t * 3)
            })
            .collect();
        assert_eq!(f.post("/write?db=db&rp=rp&precision=s", lp).status, 204);
    }
    let out = cli.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "rec");
    let rec = f.get("/kapacitor/v1/recordings/rec").json();
    assert_eq!(rec["status"], "finished", "{rec}");

    let done = replay(&f, "rp1", "copy", "rec", json!({"recording-time": true}));
    assert_eq!(done["status"], "finished", "{done}");
    assert_eq!(done["stats"]["node-stats"]["from1"]["collected"], 40);
    let live = f.get("/kapacitor/v1/tasks/live/out").json();
    assert_eq!(live["series"].as_array().unwrap().len(), 2, "{live}");
    assert_eq!(f.get("/kapacitor/v1/tasks/copy/out").json(), live);
}

#[test]
fn a_replay_on_a_terminal_shows_its_progress() {
    let dir = TempDir::new("replay-progress");
    let f = Farad::start_in(&dir.path().join("data"), "");
    create_task(&f, "t", "stream", "stream|from()|httpOut('out')");
    // Two seconds of points, replayed on the real clock.
    let r = f.post(
        "/kapacitor/v1/recordings/import?id=slow&db=db&rp=rp&precision=s",
        "cpu v=1 1\ncpu v=2 2\ncpu v=3 3\n",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cmd = format!(
        "{} -url {} replay -recording slow -task t -real-clock",
        farad_tests::farad_bin().display(),
        f.url()
    );
    // `script` gives the CLI a terminal, as a person would have.
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("running script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("replay ["), "no progress bar: {text:?}");
    assert!(text.contains('%'), "{text:?}");
    // Without a terminal, only the id.
    let (code, out, err) = f.cli(&["replay", "-recording", "slow", "-task", "t"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(err.is_empty(), "{err}");
}
