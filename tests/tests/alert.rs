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
        "stream|from().measurement('cpu')|alert().id('cpu').crit(lambda: \"value\" > 90.0).log('{}').tcp('{addr}').exec('/bin/sh', '-c', 'cat >> {}')",
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
