//! Log sessions: `GET /kapacitor/v1preview/logs` streams the records matching its tags as
//! they are written (JSON lines or logfmt), `farad watch TASK` and `farad logs` follow them;
//! every `/kapacitor/v1` path answers under `/kapacitor/v1preview` too.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use farad_tests::{Farad, TempDir, farad_bin};
use serde_json::{Value, json};

/// Reads a streaming GET line by line on a thread of its own.
fn follow(url: String, accept: &str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let accept = accept.to_owned();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let mut r = agent
            .get(&url)
            .header("Accept", &accept)
            .call()
            .expect("log session");
        for line in BufReader::new(r.body_mut().as_reader()).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first line within a few seconds for which `want` holds, writing a point each try.
fn wait_line(f: &Farad, rx: &mpsc::Receiver<String>, want: impl Fn(&str) -> bool) -> String {
    for t in 1..=50 {
        let r = f.post("/write?db=db&rp=rp&precision=s", format!("cpu v={t} {t}"));
        assert_eq!(r.status, 204);
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if want(&line) {
                return line;
            }
        }
    }
    panic!("no matching log line");
}

#[test]
fn log_sessions_stream_the_records_a_task_writes() {
    let dir = TempDir::new("logs");
    let f = Farad::start_in(dir.path(), "");
    // The fixture logs at WARN; the log node writes at INFO.
    let r = f.post("/kapacitor/v1/loglevel", r#"{"level":"INFO"}"#);
    assert_eq!(r.status, 204);
    let task = json!({"id": "t", "type": "stream", "status": "enabled",
        "dbrps": [{"db": "db", "rp": "rp"}],
        "script": "stream|from().measurement('cpu')|log().prefix('P')|httpOut('out')"});
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);

    let json_lines = follow(
        format!("{}/kapacitor/v1preview/logs?task=t&lvl=info", f.url()),
        "application/json",
    );
    let line = wait_line(&f, &json_lines, |l| l.contains("\"point\""));
    let rec: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(rec["msg"], "point", "{rec}");
    assert_eq!(rec["lvl"], "info");
    assert_eq!(rec["task"], "t");
    assert_eq!(rec["node"], "log2");
    assert_eq!(rec["prefix"], "P");
    assert!(rec["ts"].as_str().unwrap().ends_with('Z'), "{rec}");

    // logfmt by default; tags that match nothing get nothing.
    let logfmt = follow(
        format!("{}/kapacitor/v1preview/logs?node=log2", f.url()),
        "*/*",
    );
    let line = wait_line(&f, &logfmt, |l| l.contains("msg=point"));
    assert!(line.starts_with("ts="), "{line}");
    assert!(
        line.contains(" lvl=info ") && line.contains(" task=t "),
        "{line}"
    );
    let none = follow(
        format!("{}/kapacitor/v1preview/logs?task=other", f.url()),
        "application/json",
    );
    wait_line(&f, &json_lines, |l| l.contains("\"point\""));
    assert!(
        none.try_recv().is_err(),
        "a session for another task saw a record"
    );
    let errors_only = follow(
        format!("{}/kapacitor/v1preview/logs?lvl=error%2B", f.url()),
        "application/json",
    );
    wait_line(&f, &json_lines, |l| l.contains("\"point\""));
    assert!(errors_only.try_recv().is_err());
    // `.level('error')` (any case, as Kapacitor) logs the points at that level.
    let task = json!({"id": "e", "type": "stream", "status": "enabled",
        "dbrps": [{"db": "db", "rp": "rp"}],
        "script": "stream|from().measurement('cpu')|log().level('error')|httpOut('out')"});
    assert_eq!(f.post("/kapacitor/v1/tasks", task.to_string()).status, 200);
    let line = wait_line(&f, &errors_only, |l| l.contains("\"point\""));
    let rec: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (&rec["lvl"], &rec["task"]),
        (&json!("error"), &json!("e")),
        "{rec}"
    );

    let r = f.get("/kapacitor/v1preview/logs?task=a&task=b");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["error"],
        "query params cannot contain duplicate params"
    );

    // `farad watch` follows the task's records.
    let mut watch = Command::new(farad_bin())
        .args(["-url", &f.url(), "watch", "t", "lvl=info"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, watched) = mpsc::channel();
    let out = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = wait_line(&f, &watched, |l| l.contains("msg=point"));
    assert!(line.contains("task=t"), "{line}");
    watch.kill().unwrap();
    let _ = watch.wait();
    let (code, _, err) = f.cli(&["logs", "nonsense"]);
    assert_eq!(code, Some(3));
    assert!(err.contains("bad keyvalue pair"), "{err}");
}

#[test]
fn every_v1_path_answers_under_v1preview() {
    let dir = TempDir::new("v1preview");
    let f = Farad::start_in(dir.path(), "");
    let task = json!({"id": "p", "type": "stream", "dbrps": [{"db": "db", "rp": "rp"}],
        "script": "stream|from()|httpOut('out')"});
    let r = f.post("/kapacitor/v1preview/tasks", task.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        f.get("/kapacitor/v1preview/tasks?fields=id").json()["tasks"][0]["id"],
        "p"
    );
    assert_eq!(f.get("/kapacitor/v1preview/ping").status, 204);
    assert_eq!(f.get("/kapacitor/v1preview/nothing").status, 404);
}
