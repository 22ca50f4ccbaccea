//! The daemon's life: config, durability across `kill -9`, signals, UDP input, log level.

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use farad_tests::{Farad, TempDir, farad_bin};
use serde_json::json;

fn task(id: &str) -> String {
    json!({
        "id": id,
        "type": "stream",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": "stream|from().measurement('cpu')|httpOut('x')",
        "status": "enabled",
    })
    .to_string()
}

#[test]
fn stored_tasks_survive_kill_9() {
    let dir = TempDir::new("kill9");
    let f = Farad::start_in(dir.path(), "");
    for i in 0..20 {
        let r = f.post("/kapacitor/v1/tasks", task(&format!("t{i}")));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(f.delete("/kapacitor/v1/tasks/t3").status, 204);
    let cluster = f.vars()["cluster_id"].clone();
    f.kill9();

    let f = Farad::start_in(dir.path(), "");
    let list = f.get("/kapacitor/v1/tasks").json();
    let ids: Vec<_> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 19);
    assert!(!ids.contains(&"t3".to_owned()));
    let t = f.get("/kapacitor/v1/tasks/t7").json();
    assert_eq!(t["dbrps"], json!([{"db": "telegraf", "rp": "autogen"}]));
    assert_eq!(t["status"], "enabled");
    assert_eq!(f.vars()["num_tasks"], 19);
    assert_eq!(f.vars()["cluster_id"], cluster, "identity is kept");
}

#[test]
fn task_api_errors() {
    let dir = TempDir::new("taskerr");
    let f = Farad::start_in(dir.path(), "");
    let r = f.post("/kapacitor/v1/tasks", "{not json");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(f.post("/kapacitor/v1/tasks", task("dup")).status, 200);
    let r = f.post("/kapacitor/v1/tasks", task("dup"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "task dup already exists");
    let r = f.post("/kapacitor/v1/tasks", task("bad id!"));
    assert_eq!(r.status, 400);
    let r = f.get("/kapacitor/v1/tasks/missing");
    assert_eq!(r.status, 404);
    // Invalid scripts are refused with every problem's location; nothing is stored.
    let bad = json!({
        "id": "bad", "type": "stream", "dbrps": [{"db": "d", "rp": "r"}],
        "script": "stream\n    |from()\n    |window()\n        .perod(10s)\n    |mean(\"x\")",
    });
    let r = f.post("/kapacitor/v1/tasks", bad.to_string());
    assert_eq!(r.status, 400);
    let msg = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with("invalid TICKscript: 4:10: unknown property `.perod` on window"),
        "{msg}"
    );
    assert!(msg.contains("5:11: argument 1 of |mean()"), "{msg}");
    assert_eq!(f.get("/kapacitor/v1/tasks/bad").status, 404);
    // A template variable without a value is an error for a task.
    let tpl = json!({
        "id": "tpl", "type": "stream", "dbrps": [{"db": "d", "rp": "r"}],
        "script": "var crit float\nstream|from()|alert().crit(lambda: \"v\" > crit)",
    });
    let r = f.post("/kapacitor/v1/tasks", tpl.to_string());
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("missing value for var `crit`"),
        "{}",
        r.body
    );
    // With vars it is fine, and dbrps may come from the script.
    let with_vars = json!({
        "id": "tpl", "type": "stream",
        "script": "dbrp \"telegraf\".\"autogen\"\nvar crit float\nstream|from()|alert().crit(lambda: \"v\" > crit)",
        "vars": {"crit": {"type": "float", "value": 90.0}},
    });
    let r = f.post("/kapacitor/v1/tasks", with_vars.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let t = r.json();
    assert_eq!(t["dbrps"], json!([{"db": "telegraf", "rp": "autogen"}]));
    assert_eq!(
        t["dot"],
        "digraph tpl {\nstream0 -> from1;\nfrom1 -> alert2;\n}"
    );
}

#[test]
fn sigterm_stops_cleanly() {
    let dir = TempDir::new("term");
    let f = Farad::start_in(dir.path(), "");
    assert_eq!(f.post("/write?db=x", "cpu value=1").status, 204);
    assert!(f.terminate(), "exit status 0 after SIGTERM");
}

#[test]
fn config_command_prints_defaults_and_rejects_bad_files() {
    let out = Command::new(farad_bin()).arg("config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("bind-address = \"127.0.0.1:9092\""), "{text}");
    assert!(text.contains("data_dir = \"./data\""), "{text}");

    let out = Command::new(farad_bin())
        .arg("config")
        .env("KAPACITOR_HTTP_BIND_ADDRESS", "127.0.0.1:7777")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:7777"));

    let dir = TempDir::new("badconf");
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "[http]\nbind-address = \":9092\"\nlog-enabled = maybe\n",
    )
    .unwrap();
    let out = Command::new(farad_bin())
        .args(["serve", "-config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.conf") && err.contains("line 3"), "{err}");
}

#[test]
fn udp_listener_counts_points() {
    let dir = TempDir::new("udp");
    // Find a free UDP port, then hand it to the daemon.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = format!(
        "[[udp]]\nenabled = true\nbind-address = \"127.0.0.1:{port}\"\ndatabase = \"udpdb\"\nretention-policy = \"rp\"\nprecision = \"s\"\n"
    );
    let f = Farad::start_in(dir.path(), &extra);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = 0;
    while f.ingress_points("udpdb") < 100 {
        assert!(Instant::now() < deadline, "udp points not counted");
        if sent < 100 {
            for i in 0..10 {
                let packet = format!("cpu,host=h{i} value={i} 1\nbad line here\n");
                sock.send_to(packet.as_bytes(), ("127.0.0.1", port))
                    .unwrap();
            }
            sent += 10;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let vars = f.vars();
    let udp = vars["kapacitor"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["name"] == "udp")
        .unwrap()
        .clone();
    assert!(udp["values"]["points_parse_fail"].as_u64().unwrap() > 0);
}

#[test]
fn log_level_changes_at_run_time() {
    let dir = TempDir::new("loglevel");
    let f = Farad::start_in(dir.path(), "");
    assert_eq!(
        f.post("/kapacitor/v1/loglevel", r#"{"level":"DEBUG"}"#)
            .status,
        204
    );
    let r = f.post("/kapacitor/v1/loglevel", r#"{"level":"loud"}"#);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("invalid log level")
    );
    assert_eq!(f.post("/kapacitor/v1/loglevel", "nope").status, 400);
}

#[test]
fn metrics_in_prometheus_text_format() {
    let dir = TempDir::new("metrics");
    let f = Farad::start_in(dir.path(), "");
    let body = serde_json::json!({
        "id": "t", "type": "stream", "status": "enabled",
        "script": "stream|from().measurement('cpu')|where(lambda: \"v\" > 1)|httpOut('o')",
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    assert_eq!(f.post("/kapacitor/v1/tasks", body.to_string()).status, 200);
    let r = f.post("/write?db=db&rp=rp", "cpu v=1\ncpu v=2\ncpu v=3");
    assert_eq!(r.status, 204);
    let m = f.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain"),
        "{:?}",
        m.header("content-type")
    );
    let line = |prefix: &str| {
        m.body
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{}", m.body))
            .to_owned()
    };
    let ingress = line("farad_ingress_points_received{");
    assert!(
        ingress.contains("database=\"db\"") && ingress.contains("measurement=\"cpu\""),
        "{ingress}"
    );
    assert!(ingress.ends_with(" 3"), "{ingress}");
    assert!(
        line("farad_node_emitted{task=\"t\",node=\"where2\"}").ends_with(" 2"),
        "{}",
        m.body
    );
    assert!(
        line("farad_node_collected{task=\"t\",node=\"where2\"}").ends_with(" 3"),
        "{}",
        m.body
    );
    assert!(
        m.body.contains("# TYPE farad_httpd_write_req untyped"),
        "{}",
        m.body
    );

    // The same state through the command line.
    let ok = |args: &[&str]| {
        let (code, out, err) = f.cli(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        out
    };
    // In Kapacitor's layouts (`%-30s%-30d`; columns as wide as their cells, the count in 15).
    let general = ok(&["stats", "general"]);
    assert!(
        general.contains(&format!("{:<30}{:<30}\n", "Enabled Tasks:", 1)),
        "{general}"
    );
    assert!(
        general.contains(&format!("{:<30}{:<30}\n", "Platform:", "OSS")),
        "{general}"
    );
    let ingress = ok(&["stats", "ingress"]);
    assert_eq!(
        ingress,
        format!(
            "{:<9}{:<17}{:<12}{:>15}\n{:<9}{:<17}{:<12}{:>15}\n",
            "Database", "Retention Policy", "Measurement", "Points Received", "db", "rp", "cpu", 3
        )
    );
    let vars: serde_json::Value = serde_json::from_str(&ok(&["vars"])).unwrap();
    assert_eq!(vars["num_tasks"], 1);
    ok(&["level", "debug"]);
    let (code, _, err) = f.cli(&["level", "loud"]);
    assert_eq!(code, Some(3), "{err}");
}
