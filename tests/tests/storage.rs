//! Storage: a backup taken while tasks run, restored into a fresh data dir with everything
//! intact; the stores list and the `rebuild` action.

use std::sync::atomic::{AtomicBool, Ordering};

use farad_tests::{Farad, TempDir, farad_bin, guest_wasm};
use serde_json::{Value, json};

const MOVING_AVG: &str = "stream|from().measurement('cpu').groupBy('host')\
    @movingAverage().field('value').size(3).as('avg')|httpOut('out')";

fn ok(r: farad_tests::Reply, status: u16) -> farad_tests::Reply {
    assert_eq!(r.status, status, "{}", r.body);
    r
}

fn ids(f: &Farad, path: &str, list: &str, key: &str) -> Vec<String> {
    f.get(path).json()[list]
        .as_array()
        .unwrap_or_else(|| panic!("{path} has no {list}"))
        .iter()
        .map(|t| t[key].as_str().unwrap().to_owned())
        .collect()
}

/// Puts one of everything a Farad keeps into `f`.
fn populate(f: &Farad) {
    ok(
        f.post(
            "/kapacitor/v1/udfs/movingAverage",
            guest_wasm("moving-average"),
        ),
        200,
    );
    let task = json!({"id": "avg", "type": "stream", "status": "enabled", "script": MOVING_AVG,
        "dbrps": [{"db": "db", "rp": "rp"}]});
    ok(f.post("/kapacitor/v1/tasks", task.to_string()), 200);
    let template = json!({"id": "threshold", "type": "stream",
        "script": "var limit float\nstream|from().measurement('cpu')|where(lambda: \"value\" > limit)|httpOut('hot')"});
    ok(f.post("/kapacitor/v1/templates", template.to_string()), 200);
    let from_template = json!({"id": "hot", "template-id": "threshold", "status": "disabled",
        "dbrps": [{"db": "db", "rp": "rp"}],
        "vars": {"limit": {"type": "float", "value": 90.0}}});
    ok(
        f.post("/kapacitor/v1/tasks", from_template.to_string()),
        200,
    );
    let handler = json!({"id": "to-log", "kind": "log", "options": {"path": "/dev/null"}});
    ok(
        f.post(
            "/kapacitor/v1/alerts/topics/cpu/handlers",
            handler.to_string(),
        ),
        200,
    );
    ok(
        f.post(
            "/kapacitor/v1/recordings/import?id=rec&db=db&rp=rp&precision=s",
            "cpu,host=a value=1 1\ncpu,host=a value=2 2\n",
        ),
        201,
    );
    ok(
        f.post(
            "/kapacitor/v1/handler-plugins/webhook",
            guest_wasm("webhook-handler"),
        ),
        200,
    );
}

#[test]
fn a_backup_taken_while_tasks_run_restores_into_a_fresh_data_dir() {
    let dir = TempDir::new("backup");
    let f = Farad::start_in(&dir.path().join("a"), "");
    populate(&f);

    // Points keep arriving while the backup is taken.
    let stop = AtomicBool::new(false);
    let file = dir.path().join("farad.backup");
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut t = 10;
            while !stop.load(Ordering::Relaxed) {
                let r = f.post(
                    "/write?db=db&rp=rp&precision=s",
                    format!("cpu,host=a value={t} {t}\n"),
                );
                assert_eq!(r.status, 204, "{}", r.body);
                t += 1;
            }
        });
        let (code, out, err) = f.cli(&["backup", file.to_str().unwrap()]);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(code, Some(0), "{out}{err}");
    });
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 1000, "backup of {size} bytes");

    // The API answers what the Go client expects: the bytes, with their length.
    let (status, bytes) = f.get_bytes("/kapacitor/v1/storage/backup");
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"PK"), "a zip archive");

    // Restore into a fresh data dir, from the CLI, offline.
    let b = dir.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let conf = dir.path().join("b.conf");
    std::fs::write(&conf, format!("data_dir = {:?}\n", b.display().to_string())).unwrap();
    let restore = |force: bool| {
        let mut cmd = std::process::Command::new(farad_bin());
        cmd.args([
            "restore",
            file.to_str().unwrap(),
            "-config",
            conf.to_str().unwrap(),
        ]);
        if force {
            cmd.arg("-force");
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = restore(false);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("restored"), "{out}");
    // A second restore would replace the store: refused without -force.
    let (code, out) = restore(false);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("-force"), "{out}");

    let g = Farad::start_in(&b, "");
    assert_eq!(
        ids(&g, "/kapacitor/v1/tasks", "tasks", "id"),
        ["avg", "hot"]
    );
    assert_eq!(
        ids(&g, "/kapacitor/v1/templates", "templates", "id"),
        ["threshold"]
    );
    assert_eq!(
        ids(&g, "/kapacitor/v1/recordings", "recordings", "id"),
        ["rec"]
    );
    assert_eq!(
        ids(&g, "/kapacitor/v1/udfs", "udfs", "name"),
        ["movingAverage"]
    );
    assert_eq!(
        ids(
            &g,
            "/kapacitor/v1/alerts/topics/cpu/handlers",
            "handlers",
            "id"
        ),
        ["to-log"]
    );
    assert_eq!(
        g.get("/kapacitor/v1/handler-plugins/webhook").status,
        200,
        "the uploaded handler plugin came back"
    );
    let hot = g.get("/kapacitor/v1/tasks/hot").json();
    assert_eq!(hot["template-id"], "threshold");
    assert_eq!(hot["vars"]["limit"]["value"], 90.0);
    assert_eq!(hot["status"], "disabled");

    // The enabled task runs, with its UDF.
    let avg = g.get("/kapacitor/v1/tasks/avg").json();
    assert_eq!(avg["executing"], true, "{avg}");
    let r = g.post(
        "/write?db=db&rp=rp&precision=s",
        "cpu,host=z value=3 100000\ncpu,host=z value=6 100001\n",
    );
    assert_eq!(r.status, 204);
    let out = g.get("/kapacitor/v1/tasks/avg/out").json();
    let z: Vec<&Value> = out["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tags"]["host"] == "z")
        .collect();
    assert_eq!(z[0]["values"][0][1], 4.5, "{out}");

    // The recording's data is the one recorded.
    let (status, restored) = g.get_bytes("/kapacitor/v1/recordings/rec/data");
    assert_eq!(status, 200);
    assert_eq!(restored, f.get_bytes("/kapacitor/v1/recordings/rec/data").1);
}

#[test]
fn stores_are_listed_and_rebuilt() {
    let dir = TempDir::new("stores");
    let f = Farad::start_in(dir.path(), "");
    let list = ok(f.get("/kapacitor/v1/storage/stores"), 200).json();
    assert_eq!(list["link"]["href"], "/kapacitor/v1/storage/stores");
    let names: Vec<&str> = list["storage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for want in [
        "tasks",
        "templates",
        "handler-specs",
        "recordings",
        "replays",
        "udfs",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert_eq!(
        list["storage"][0]["link"]["href"],
        format!("/kapacitor/v1/storage/stores/{}", names[0])
    );

    ok(
        f.post(
            "/kapacitor/v1/storage/stores/tasks",
            r#"{"action":"rebuild"}"#,
        ),
        204,
    );
    let r = ok(
        f.post(
            "/kapacitor/v1/storage/stores/nope",
            r#"{"action":"rebuild"}"#,
        ),
        404,
    );
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("unknown storage")
    );
    let r = ok(
        f.post("/kapacitor/v1/storage/stores/tasks", r#"{"action":"x"}"#),
        400,
    );
    assert!(r.body.contains("unknown storage action"), "{}", r.body);
    ok(f.post("/kapacitor/v1/storage/stores/tasks", "{"), 400);
}
