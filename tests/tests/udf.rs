//! Wasm UDFs end to end: upload a component, use it in a task as `@name()`, hot-swap it, and
//! survive bad modules and misbehaving guests.

use farad_tests::{Farad, TempDir, guest_wasm};
use serde_json::{Value, json};

fn task(f: &Farad, id: &str, script: &str) -> farad_tests::Reply {
    let body = json!({
        "id": id, "type": "stream", "status": "enabled", "script": script,
        "dbrps": [{"db": "db", "rp": "rp"}],
    });
    f.post("/kapacitor/v1/tasks", body.to_string())
}

fn write(f: &Farad, lp: &str) {
    let r = f.post("/write?db=db&rp=rp&precision=s", lp);
    assert_eq!(r.status, 204, "{}", r.body);
}

/// The rows of an httpOut result (the last point of each group) of series tag `host`.
fn values(f: &Farad, task: &str, host: &str) -> Vec<Value> {
    let out = f.get(&format!("/kapacitor/v1/tasks/{task}/out")).json();
    let Some(series) = out["series"].as_array() else {
        return Vec::new();
    };
    series
        .iter()
        .filter(|s| s["tags"]["host"] == host)
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .collect()
}

const MOVING_AVG: &str = "stream|from().measurement('cpu').groupBy('host')\
    @movingAverage().field('value').size(3).as('avg')|httpOut('out')";

#[test]
fn upload_use_and_hot_swap_a_udf() {
    let wasm = guest_wasm("moving-average");
    let dir = TempDir::new("udf");
    let f = Farad::start_in(dir.path(), "");

    let r = f.post("/kapacitor/v1/udfs/movingAverage", &wasm);
    assert_eq!(r.status, 200, "{}", r.body);
    let info = r.json();
    assert_eq!(info["version"], 1);
    assert_eq!(info["wants"], "stream");
    assert_eq!(info["provides"], "stream");
    assert_eq!(info["options"][1]["name"], "size");
    assert_eq!(info["options"][1]["args"], json!(["int"]));
    let list = f.get("/kapacitor/v1/udfs").json();
    assert_eq!(list["udfs"][0]["name"], "movingAverage");

    let r = task(&f, "t", MOVING_AVG);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["executing"], true, "{}", r.body);

    let avg = |host: &str| -> Vec<f64> {
        values(&f, "t", host)
            .iter()
            .map(|v| v[1].as_f64().unwrap())
            .collect()
    };
    write(
        &f,
        "cpu,host=a value=1 1\ncpu,host=a value=2 2\ncpu,host=b value=10 2\n",
    );
    assert_eq!(avg("a"), [1.5]);
    assert_eq!(avg("b"), [10.0]);
    write(&f, "cpu,host=a value=3 3\n");
    assert_eq!(avg("a"), [2.0]);
    write(&f, "cpu,host=a value=7 4\n");
    assert_eq!(avg("a"), [4.0]);

    // A new version replaces the old one in the running task; its state comes along.
    let r = f.post("/kapacitor/v1/udfs/movingAverage", &wasm);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], 2);
    write(&f, "cpu,host=a value=11 5\n");
    assert_eq!(avg("a"), [7.0], "the window carried over: (3+7+11)/3");
    let t = f.get("/kapacitor/v1/tasks/t").json();
    let dot = t["dot"].as_str().unwrap();
    assert!(dot.contains("udf_swaps=\"1\""), "{dot}");
    assert!(dot.contains("udf_version=\"2\""), "{dot}");
    // Its calls and the time spent in them (the UDF's latency) for Prometheus.
    let metrics = f.get("/metrics").body;
    let calls = metrics
        .lines()
        .find(|l| l.starts_with("farad_node_udf_calls{") && l.contains("task=\"t\""))
        .unwrap_or_else(|| panic!("no udf_calls in {metrics}"));
    let n: f64 = calls.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1.0, "{calls}");
    assert!(metrics.contains("farad_node_udf_call_ns{"), "{metrics}");

    // Stored: the module is there again after a restart, and so is the task's UDF state
    // (saved at shutdown).
    assert!(f.terminate());
    let f = Farad::start_in(dir.path(), "");
    let list = f.get("/kapacitor/v1/udfs").json();
    assert_eq!(list["udfs"][0]["version"], 2);
    write(&f, "cpu,host=a value=13 6\n");
    let a = values(&f, "t", "a")[0][1].as_f64().unwrap();
    assert!((a - 31.0 / 3.0).abs() < 1e-9, "(7+11+13)/3, got {a}");
    write(&f, "cpu,host=c value=5 6\n");
    let c: Vec<f64> = values(&f, "t", "c")
        .iter()
        .map(|v| v[1].as_f64().unwrap())
        .collect();
    assert_eq!(c, [5.0]);

    assert_eq!(f.delete("/kapacitor/v1/udfs/movingAverage").status, 204);
    assert_eq!(f.get("/kapacitor/v1/udfs/movingAverage").status, 404);
    let r = task(&f, "t2", MOVING_AVG);
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("no UDF named `movingAverage`"),
        "{}",
        r.body
    );
}

#[test]
fn scripts_are_checked_against_the_udf_declaration() {
    let dir = TempDir::new("udf-check");
    let f = Farad::start_in(dir.path(), "");
    let r = f.post(
        "/kapacitor/v1/udfs/movingAverage",
        guest_wasm("moving-average"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cases = [
        (
            "stream|from()@movingAverage().size('x')",
            "1:31: @movingAverage(): option .size() argument 1 must be an int: .size(int)",
        ),
        (
            "stream|from()@movingAverage().sise(3)",
            "did you mean .size()?",
        ),
        (
            "stream|from()@movingAvg()",
            "did you mean @movingAverage()?",
        ),
        (
            "stream|from()|window().period(1m)@movingAverage().field('v').size(3)",
            "1:35: movingAverage wants a stream edge but window gives a batch edge",
        ),
    ];
    for (script, want) in cases {
        let r = task(&f, "bad", script);
        assert_eq!(r.status, 400, "{script}: {}", r.body);
        assert!(r.body.contains(want), "{script}: {}", r.body);
    }
    // The guest refuses options it cannot work with, and says why.
    let r = task(
        &f,
        "bad",
        "stream|from()@movingAverage().field('v').size(0)",
    );
    assert_eq!(r.json()["executing"], false, "{}", r.body);
    assert!(r.body.contains("size must be at least 1"), "{}", r.body);
}

#[test]
fn bad_modules_are_refused_with_a_reason() {
    let dir = TempDir::new("udf-bad");
    let f = Farad::start_in(dir.path(), "");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "random",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "not a valid Wasm component",
        ),
        (
            "core",
            b"\0asm\x01\0\0\0".to_vec(),
            "core Wasm module, not a component",
        ),
        (
            "empty_component",
            b"\0asm\x0d\0\x01\0".to_vec(),
            "does not export Farad's `udf` world",
        ),
        ("empty", Vec::new(), "is empty"),
        (
            "bad-name",
            b"\0asm\x0d\0\x01\0".to_vec(),
            "invalid UDF name",
        ),
    ];
    for (name, body, want) in cases {
        let r = f.post(&format!("/kapacitor/v1/udfs/{name}"), &body);
        assert_eq!(r.status, 400, "{name}: {}", r.body);
        assert!(r.body.contains(want), "{name}: {}", r.body);
    }
    // A real component of another world: a WASI command.
    let r = f.post("/kapacitor/v1/udfs/command", guest_wasm("not-a-udf"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("does not export Farad's `udf` world"),
        "{}",
        r.body
    );
    assert_eq!(f.get("/kapacitor/v1/udfs").json()["udfs"], json!([]));
}

#[test]
fn misbehaving_guests_fail_alone() {
    let dir = TempDir::new("udf-chaos");
    let f = Farad::start_in(
        dir.path(),
        "[udf]\n  memory-limit-mb = 32\n  call-timeout = \"200ms\"\n",
    );
    let r = f.post("/kapacitor/v1/udfs/chaos", guest_wasm("chaos-udf"));
    assert_eq!(r.status, 200, "{}", r.body);
    let good = "stream|from().measurement('cpu')@chaos().mode('pass')|httpOut('out')";
    assert_eq!(task(&f, "good", good).json()["executing"], true);
    for mode in ["loop", "alloc", "trap", "error"] {
        let script = format!(
            "stream|from().measurement('cpu')@chaos().mode('{mode}').after(1)|httpOut('out')"
        );
        let r = task(&f, mode, &script);
        assert_eq!(r.json()["executing"], true, "{mode}: {}", r.body);
    }
    // The first write passes (after(1)); the second makes each guest misbehave.
    write(&f, "cpu,host=a value=1 1\n");
    write(&f, "cpu,host=a value=2 2\n");
    write(&f, "cpu,host=a value=3 3\n");
    let last_time = |task: &str| values(&f, task, "a")[0][0].as_str().unwrap().to_owned();
    assert_eq!(
        last_time("good"),
        "1970-01-01T00:00:03Z",
        "the healthy task saw every point"
    );
    // A trap, a timeout or running out of memory recycles the instance: the next write meets
    // a fresh guest, which passes its first point again. A guest's error keeps the instance.
    for (mode, last, traps) in [
        ("loop", 3, 1),
        ("alloc", 3, 1),
        ("trap", 3, 1),
        ("error", 1, 0),
    ] {
        let t = f.get(&format!("/kapacitor/v1/tasks/{mode}")).json();
        assert_eq!(t["executing"], true, "{mode}");
        let dot = t["dot"].as_str().unwrap();
        let node = dot.split("\nchaos2 [").nth(1).unwrap_or_default();
        let stat = |k: &str| {
            node.split(&format!("{k}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("?")
                .to_owned()
        };
        assert_eq!(
            stat("errors"),
            if traps == 0 { "2" } else { "1" },
            "{mode}: {dot}"
        );
        assert_eq!(stat("udf_traps"), traps.to_string(), "{mode}: {dot}");
        assert_eq!(stat("udf_restarts"), traps.to_string(), "{mode}: {dot}");
        assert_eq!(
            last_time(mode),
            format!("1970-01-01T00:00:0{last}Z"),
            "{mode}"
        );
    }
    // The daemon is fine.
    assert_eq!(f.get("/kapacitor/v1/ping").status, 204);
}

#[test]
fn udf_state_survives_kill_9() {
    let dir = TempDir::new("udf-kill");
    let conf = "[task]\n  snapshot-interval = \"200ms\"\n";
    let f = Farad::start_in(dir.path(), conf);
    let r = f.post(
        "/kapacitor/v1/udfs/movingAverage",
        guest_wasm("moving-average"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(task(&f, "t", MOVING_AVG).json()["executing"], true);
    write(&f, "cpu,host=a value=2 1\ncpu,host=a value=4 2\n");
    // Two snapshot intervals: the state is in the store.
    std::thread::sleep(std::time::Duration::from_millis(600));
    f.kill9();
    let f = Farad::start_in(dir.path(), conf);
    write(&f, "cpu,host=a value=9 3\n");
    assert_eq!(values(&f, "t", "a")[0][1].as_f64(), Some(5.0), "(2+4+9)/3");
    // Deleting the task deletes its state: a new task of that id starts afresh.
    assert_eq!(f.delete("/kapacitor/v1/tasks/t").status, 204);
    assert_eq!(task(&f, "t", MOVING_AVG).json()["executing"], true);
    write(&f, "cpu,host=a value=1 4\n");
    assert_eq!(values(&f, "t", "a")[0][1].as_f64(), Some(1.0));
}

#[test]
fn cli_and_config_define_udfs() {
    let dir = TempDir::new("udf-cli");
    let wasm_file = dir.path().join("ma.wasm");
    std::fs::write(&wasm_file, guest_wasm("moving-average")).unwrap();
    let conf = format!("[udf.functions.fromConfig]\n  wasm = {:?}\n", wasm_file);
    let f = Farad::start_in(&dir.path().join("data"), &conf);
    let cli = |args: &[&str]| f.cli(args);
    let (code, out, err) = cli(&["define-udf", "ma", wasm_file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("UDF ma version 1 defined"), "{out}");
    let (code, out, _) = cli(&["list", "udfs"]);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Name        Version  Wants   Provides"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("fromConfig  1        stream  stream"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("ma          1        stream  stream"),
        "{out}"
    );
    assert!(lines[2].contains("field,size,as"), "{out}");
    let (_, out, _) = cli(&["list", "udfs", "from*"]);
    assert_eq!(out.lines().count(), 2, "{out}");

    // The configured UDF runs like an uploaded one, and cannot be deleted over the API.
    let r = task(
        &f,
        "t",
        "stream|from()@fromConfig().field('value').size(2)|httpOut('out')",
    );
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let (code, _, err) = cli(&["delete", "udfs", "fromConfig"]);
    assert_eq!(code, Some(3));
    assert!(err.contains("defined in the config file"), "{err}");

    // Errors come back with the server's reason and exit code 3.
    std::fs::write(dir.path().join("junk.wasm"), b"junk").unwrap();
    let (code, _, err) = cli(&[
        "define-udf",
        "junk",
        dir.path().join("junk.wasm").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3));
    assert!(err.contains("not a valid Wasm component"), "{err}");
    let (code, _, _) = cli(&["delete", "udfs", "ma"]);
    assert_eq!(code, Some(0));
    let (_, out, _) = cli(&["list", "udfs"]);
    assert!(!out.contains("\nma "), "{out}");
}
