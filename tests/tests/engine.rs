//! Tasks run: enabled over HTTP, fed by writes, read through httpOut and node statistics,
//! and running again after a restart.

use farad_tests::{Farad, TempDir};
use serde_json::json;

fn define(f: &Farad, id: &str, script: &str) {
    let body = json!({
        "id": id, "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["executing"], true, "{}", r.body);
}

#[test]
fn windowed_mean_through_http() {
    let dir = TempDir::new("engine");
    let f = Farad::start_in(dir.path(), "");
    define(
        &f,
        "cpu",
        "stream|from().measurement('cpu').groupBy('host')|window().period(10s).every(10s)|mean('value')|httpOut('mean')",
    );
    let mut body = String::new();
    for s in 0..21 {
        body.push_str(&format!(
            "cpu,host=a value={s} {s}\ncpu,host=b value={} {s}\nmem value=1 {s}\n",
            s * 10
        ));
    }
    let r = f.post("/write?db=db&rp=rp&precision=s", &body);
    assert_eq!(r.status, 204, "{}", r.body);
    let out = f.get("/kapacitor/v1/tasks/cpu/mean");
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(
        out.json(),
        json!({"series": [
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "mean"], "values": [["1970-01-01T00:00:20Z", 14.5]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "mean"], "values": [["1970-01-01T00:00:20Z", 145.0]]},
        ]})
    );
    let task = f.get("/kapacitor/v1/tasks/cpu").json();
    let nodes = &task["stats"]["node-stats"];
    assert_eq!(nodes["stream0"]["collected"], 63);
    assert_eq!(nodes["from1"]["emitted"], 42);
    assert_eq!(nodes["window2"]["emitted"], 4);
    assert_eq!(nodes["window2"]["working_cardinality"], 2);
    // Writes to another db/rp do not reach the task.
    f.post(
        "/write?db=other&rp=rp&precision=s",
        "cpu,host=a value=1 100",
    );
    assert_eq!(
        f.get("/kapacitor/v1/tasks/cpu").json()["stats"]["node-stats"]["stream0"]["collected"],
        63
    );
    // Unknown endpoint.
    assert_eq!(f.get("/kapacitor/v1/tasks/cpu/nope").status, 404);

    // After a restart the enabled task runs again.
    f.kill9();
    let f = Farad::start_in(dir.path(), "");
    assert_eq!(f.get("/kapacitor/v1/tasks/cpu").json()["executing"], true);
    f.post(
        "/write?db=db&rp=rp&precision=s",
        "cpu,host=a value=1 100\ncpu,host=a value=1 200",
    );
    let out = f.get("/kapacitor/v1/tasks/cpu/mean").json();
    assert_eq!(out["series"][0]["values"][0][0], "1970-01-01T00:01:50Z");
    // Deleting stops it.
    assert_eq!(f.delete("/kapacitor/v1/tasks/cpu").status, 204);
    assert_eq!(f.get("/kapacitor/v1/tasks/cpu/mean").status, 404);
}

#[test]
fn a_task_that_cannot_start_says_why() {
    let dir = TempDir::new("engine-err");
    let f = Farad::start_in(dir.path(), "");
    let body = json!({
        "id": "j", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('a')|window().period(10s).every(10s)|alert().crit(lambda: TRUE).email('ops@example.com').toTemplates('{{ .ID ')|httpOut('x')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["executing"], false);
    let error = t["error"].as_str().unwrap();
    assert!(
        error.contains("toTemplates") && error.contains("{{ .ID "),
        "{t}"
    );
}

#[test]
fn loopback_node_counters_and_the_executing_dot() {
    let dir = TempDir::new("engine-loop");
    let f = Farad::start_in(dir.path(), "");
    define(
        &f,
        "a",
        "stream|from().measurement('cpu')|default().field('extra', 1.0)|kapacitorLoopback().database('derived').retentionPolicy('autogen').measurement('cpu2')",
    );
    let body = json!({
        "id": "b", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu2')|httpOut('out')",
        "dbrps": [{"db": "derived", "rp": "autogen"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    let r = f.post("/write?db=db&rp=rp&precision=s", "cpu,host=a value=2 10\n");
    assert_eq!(r.status, 204);
    // The loopback write is queued: wait for it to arrive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let out = loop {
        let out = f.get("/kapacitor/v1/tasks/b/out").json();
        if !out["series"].is_null() || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(
        out["series"][0],
        json!({"name": "cpu2", "tags": {"host": "a"}, "columns": ["time", "extra", "value"],
            "values": [["1970-01-01T00:00:10Z", 1.0, 2.0]]})
    );
    let task = f.get("/kapacitor/v1/tasks/a").json();
    let nodes = &task["stats"]["node-stats"];
    assert_eq!(nodes["default2"]["fields_defaulted"], 1);
    assert_eq!(nodes["kapacitor_loopback3"]["points_written"], 1);
    let dot = task["dot"].as_str().unwrap();
    assert!(dot.starts_with("digraph a {\ngraph [throughput="), "{dot}");
    assert!(
        dot.contains("from1 -> default2 [processed=\"1\"];"),
        "{dot}"
    );
    assert!(dot.contains("default2 [avg_exec_time_ns="), "{dot}");
    assert!(dot.contains("fields_defaulted=\"1\""), "{dot}");
    let labels = f.get("/kapacitor/v1/tasks/a?dot-view=labels").json();
    assert!(
        labels["dot"]
            .as_str()
            .unwrap()
            .contains("[label=\"processed=1\"]"),
        "{}",
        labels["dot"]
    );
    // A loop into the task's own db/rp is refused when the task starts.
    let body = json!({
        "id": "c", "type": "stream", "status": "enabled",
        "script": "stream|from()|kapacitorLoopback().database('db').retentionPolicy('rp')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    let r = f.post("/kapacitor/v1/tasks", body.to_string()).json();
    assert_eq!(r["executing"], false);
    assert!(
        r["error"].as_str().unwrap().contains("loop detected"),
        "{r}"
    );
}

/// The scheduling policy (0 normal, 1 FIFO) and the time on a CPU (ns) of each of the
/// daemon's threads, by name.
fn thread_policies(f: &Farad) -> Vec<(String, u32, u64)> {
    let dir = format!("/proc/{}/task", f.child.id());
    let mut out = Vec::new();
    for t in std::fs::read_dir(dir).unwrap().flatten() {
        let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name; the policy is field 41 of stat.
        let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
        let policy = after.split(' ').nth(41 - 3).and_then(|p| p.parse().ok());
        let ran = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        let ran = ran
            .split(' ')
            .next()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        if let Some(p) = policy {
            out.push((name.trim().to_owned(), p, ran));
        }
    }
    out
}

/// `[http] realtime-priority`: large writes go through on threads of their own and small
/// ones go ahead between their parts; every point still reaches every task once.
#[test]
fn realtime_priority_takes_large_and_small_writes_whole() {
    let dir = TempDir::new("realtime");
    let f = Farad::start_with_env(
        dir.path(),
        "",
        &[("KAPACITOR_HTTP_REALTIME_PRIORITY", "true")],
    );
    define(
        &f,
        "alerts",
        "stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"value\" > 90.0).topic('rt')",
    );
    std::thread::scope(|s| {
        for w in 0..2 {
            let f = &f;
            s.spawn(move || {
                for i in 0..10 {
                    // 2,000 points, about 60 KB: a large write.
                    let mut body = String::new();
                    for p in 0..2_000 {
                        let t = (w * 10 + i) * 2_000 + p;
                        body.push_str(&format!("cpu,host=h{} value={} {t}\n", p % 100, p % 100));
                    }
                    let r = f.post("/write?db=db&rp=rp", &body);
                    assert_eq!(r.status, 204, "{}", r.body);
                }
            });
        }
        let f = &f;
        s.spawn(move || {
            for i in 0..200 {
                let r = f.post("/write?db=db&rp=rp", format!("cpu,host=small value=95 {i}"));
                assert_eq!(r.status, 204, "{}", r.body);
            }
        });
    });
    let task = f.get("/kapacitor/v1/tasks/alerts").json();
    assert_eq!(task["stats"]["node-stats"]["stream0"]["collected"], 40_200);
    assert_eq!(task["stats"]["node-stats"]["alert2"]["collected"], 40_200);
    // h91..h99 of each large write and every small write are critical.
    assert_eq!(
        task["stats"]["node-stats"]["alert2"]["crits_triggered"],
        20 * 2_000 / 100 * 9 + 200
    );
    let events = f.get("/kapacitor/v1/alerts/topics/rt/events").json();
    assert_eq!(events["events"].as_array().unwrap().len(), 10, "{events}");

    let policies = thread_policies(&f);
    let named = |prefix: &'static str| {
        policies
            .iter()
            .filter(move |(n, _, _)| n.starts_with(prefix))
    };
    assert!(named("farad-bulk-").count() >= 1, "{policies:?}");
    // The large writes were worked on them: 40,000 points take more than 5 ms.
    let bulk_ns: u64 = named("farad-bulk-").map(|(_, _, ran)| ran).sum();
    assert!(bulk_ns > 5_000_000, "{policies:?}");
    // Real-time priority needs CAP_SYS_NICE (or an RLIMIT_RTPRIO): with it, the output
    // workers and the request workers have it; the threads they start do not.
    let cap_sys_nice = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|c| u64::from_str_radix(c.trim(), 16).ok())
        .is_some_and(|c| c & (1 << 23) != 0);
    if cap_sys_nice {
        assert!(named("farad-out-").all(|(_, p, _)| *p == 1), "{policies:?}");
        assert!(
            named("tokio-rt-worker").any(|(_, p, _)| *p == 1),
            "{policies:?}"
        );
    }
    assert!(
        named("farad-bulk-").all(|(_, p, _)| *p == 0),
        "{policies:?}"
    );
}

/// Without it, no extra threads and normal priority everywhere.
#[test]
fn normal_priority_by_default() {
    let dir = TempDir::new("normal-priority");
    let f = Farad::start_in(dir.path(), "");
    let r = f.post("/write?db=db&rp=rp", "cpu value=1 1");
    assert_eq!(r.status, 204);
    let policies = thread_policies(&f);
    assert!(policies.iter().all(|(_, p, _)| *p == 0), "{policies:?}");
    assert!(
        !policies.iter().any(|(n, _, _)| n.starts_with("farad-bulk")),
        "{policies:?}"
    );
}
